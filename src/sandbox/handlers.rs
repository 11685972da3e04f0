//! Route handlers for the OpenAI paths (and, with a few differences, the Azure ones).

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Multipart, OriginalUri, Path, State};
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::blob::{Blob, BlobWriter};
use super::error::{ApiError, Flavor};
use super::jobs::{JobRec, JobSpec, MethodType};
use super::state::{self, FileRec, MetadataFilter, PartRec, UploadRec, UploadStatus};
use super::validate::{self, FormatFailure, LineFormat};
use super::{MAX_FILE_BYTES, MAX_PART_BYTES, MAX_UPLOAD_BYTES, Shared};

type ApiResult = Result<Response, ApiError>;

const FILE_PURPOSES: &[&str] = &[
    "assistants",
    "batch",
    "fine-tune",
    "vision",
    "user_data",
    "evals",
];
const UPLOAD_PURPOSES: &[&str] = &[
    "assistants",
    "batch",
    "fine-tune",
    "vision",
    "user_data",
    "evals",
];
const EXPIRES_MIN: i64 = 3600;
const EXPIRES_MAX: i64 = 2_592_000;
const UPLOAD_TTL: i64 = 3600;

fn flavor(uri: &Uri) -> Flavor {
    if uri.path().starts_with("/openai/") {
        Flavor::Azure
    } else {
        Flavor::OpenAI
    }
}

fn created(flavor: Flavor, body: Value) -> Response {
    let status = if flavor == Flavor::Azure {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    (status, Json(body)).into_response()
}

fn ok(body: Value) -> Response {
    Json(body).into_response()
}

pub fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    axum::extract::Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map(|q| q.0)
        .unwrap_or_default()
}

fn query_get(pairs: &[(String, String)], key: &str) -> Option<String> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

fn parse_limit(pairs: &[(String, String)], default: u64, max: u64) -> Result<usize, ApiError> {
    match query_get(pairs, "limit") {
        None => Ok(default as usize),
        Some(v) => match v.parse::<u64>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n as usize),
            _ => Err(ApiError::invalid(format!(
                "Invalid 'limit': expected an integer between 1 and {max}."
            ))
            .param("limit")
            .code("integer_out_of_range")),
        },
    }
}

fn json_body(body: Result<Bytes, BytesRejection>) -> Result<Map<String, Value>, ApiError> {
    let bytes = body.map_err(|e| {
        ApiError::new(
            e.status(),
            "invalid_request_error",
            "The request body could not be read or is too large.",
        )
    })?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(ApiError::invalid(
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP \
             library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
        )),
    }
}

fn reject_unknown(m: &Map<String, Value>, allowed: &[&str]) -> Result<(), ApiError> {
    match m.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(ApiError::invalid(format!(
            "Unrecognized request argument supplied: {k}"
        ))),
        None => Ok(()),
    }
}

fn missing(param: &str) -> ApiError {
    ApiError::invalid(format!("Missing required parameter: '{param}'."))
        .param(param)
        .code("missing_required_parameter")
}

fn not_found_file(id: &str) -> ApiError {
    ApiError::not_found(format!("No such File object: {id}")).param("id")
}

fn not_found_job(id: &str) -> ApiError {
    ApiError::not_found(format!("Could not find fine-tuning job {id}.")).param("fine_tuning_job_id")
}

fn not_found_upload(id: &str) -> ApiError {
    ApiError::not_found(format!("No such Upload object: {id}")).param("upload_id")
}

fn multipart_error(e: MultipartError) -> ApiError {
    ApiError::new(
        e.status(),
        "invalid_request_error",
        "The multipart body could not be read.",
    )
}

fn multipart_rejection(_: MultipartRejection) -> ApiError {
    ApiError::invalid("Expected a multipart/form-data request body.")
}

fn io_error(_: std::io::Error) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        "The server could not store the request body.",
    )
}

/// Stream one multipart field into a blob, failing past `limit` bytes.
async fn read_field(
    app: &Shared,
    field: &mut Field<'_>,
    limit: u64,
    what: &str,
) -> Result<Blob, ApiError> {
    let mut w = BlobWriter::new(app.spool_dir(), app.cfg.spill_bytes);
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        if w.len() + chunk.len() as u64 > limit {
            return Err(ApiError::invalid(format!(
                "{what} exceeds the maximum size of {} MB.",
                limit / (1024 * 1024)
            ))
            .code("file_too_large"));
        }
        w.write(&chunk).await.map_err(io_error)?;
    }
    w.finish().await.map_err(io_error)
}

async fn field_text(field: Field<'_>) -> Result<String, ApiError> {
    field.text().await.map_err(multipart_error)
}

fn parse_expires_after(
    anchor: Option<String>,
    seconds: Option<Value>,
) -> Result<Option<i64>, ApiError> {
    match (anchor, seconds) {
        (None, None) => Ok(None),
        (Some(a), Some(s)) => {
            if a != "created_at" {
                return Err(ApiError::invalid(
                    "Invalid value for 'expires_after.anchor': only 'created_at' is supported.",
                )
                .param("expires_after.anchor"));
            }
            let secs = s
                .as_i64()
                .or_else(|| s.as_str().and_then(|x| x.trim().parse().ok()));
            match secs {
                Some(n) if (EXPIRES_MIN..=EXPIRES_MAX).contains(&n) => Ok(Some(n)),
                _ => Err(ApiError::invalid(format!(
                    "Invalid value for 'expires_after.seconds': must be an integer between {EXPIRES_MIN} and {EXPIRES_MAX}."
                ))
                .param("expires_after.seconds")),
            }
        }
        (None, Some(_)) => Err(missing("expires_after.anchor")),
        (Some(_), None) => Err(missing("expires_after.seconds")),
    }
}

fn check_purpose(purpose: &str, allowed: &[&str]) -> Result<(), ApiError> {
    if allowed.contains(&purpose) {
        return Ok(());
    }
    Err(
        ApiError::invalid(format!("'{purpose}' is not one of {allowed:?} - 'purpose'"))
            .param("purpose"),
    )
}

fn check_fine_tune_filename(purpose: &str, filename: &str) -> Result<(), ApiError> {
    if purpose == "fine-tune" && !filename.to_ascii_lowercase().ends_with(".jsonl") {
        return Err(
            ApiError::invalid("Invalid file format for Fine-Tuning API. Must be .jsonl")
                .param("file"),
        );
    }
    Ok(())
}

async fn azure_import_check(
    flavor: Flavor,
    purpose: &str,
    blob: &Blob,
) -> Result<Option<u64>, ApiError> {
    if flavor != Flavor::Azure || purpose != "fine-tune" {
        return Ok(None);
    }
    let blob = blob.clone();
    tokio::task::spawn_blocking(move || {
        let reader = blob.reader()?;
        validate::first_invalid_json_line(std::io::BufReader::with_capacity(1 << 16, reader))
    })
    .await
    .map_err(|_| io_error(std::io::Error::other("join")))?
    .map_err(io_error)
}

// ---------------------------------------------------------------------------------------- files

pub async fn create_file(
    State(app): State<Shared>,
    uri: OriginalUri,
    mp: Result<Multipart, MultipartRejection>,
) -> ApiResult {
    let flavor = flavor(&uri);
    let mut mp = mp.map_err(multipart_rejection)?;
    let (mut purpose, mut blob, mut filename, mut anchor, mut seconds) =
        (None, None, None, None, None);
    while let Some(mut field) = mp.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "file" => {
                filename = field.file_name().map(str::to_owned);
                blob = Some(read_field(&app, &mut field, MAX_FILE_BYTES, "File").await?);
            }
            "purpose" => purpose = Some(field_text(field).await?),
            "expires_after[anchor]" => anchor = Some(field_text(field).await?),
            "expires_after[seconds]" => seconds = Some(Value::String(field_text(field).await?)),
            other => {
                return Err(ApiError::invalid(format!(
                    "Unrecognized request argument supplied: {other}"
                )));
            }
        }
    }
    let blob = blob.ok_or_else(|| missing("file"))?;
    let purpose = purpose.ok_or_else(|| missing("purpose"))?;
    check_purpose(&purpose, FILE_PURPOSES)?;
    let filename = filename
        .filter(|f| !f.is_empty())
        .unwrap_or_else(|| "file".into());
    check_fine_tune_filename(&purpose, &filename)?;
    let expires_after = parse_expires_after(anchor, seconds)?;
    let bad_line = azure_import_check(flavor, &purpose, &blob).await?;
    let mut st = app.lock();
    let now = st.now();
    let id = st.new_file_id(flavor);
    let seq = st.ids.next_seq();
    let rec = FileRec {
        id: id.clone(),
        flavor,
        seq,
        filename,
        purpose,
        created: now,
        expires_at: expires_after.map(|s| now as i64 + s),
        blob,
        azure_bad_line: bad_line,
    };
    let body = rec.json(now, app.cfg.azure_file_seconds);
    st.insert_file(rec, Some("files"));
    Ok(created(flavor, body))
}

pub async fn list_files(State(app): State<Shared>, uri: OriginalUri) -> ApiResult {
    let flavor = flavor(&uri);
    let q = query_pairs(&uri);
    let limit = parse_limit(&q, 10_000, 10_000)?;
    let order = query_get(&q, "order").unwrap_or_else(|| "desc".into());
    if order != "asc" && order != "desc" {
        return Err(ApiError::invalid("Invalid 'order': expected 'asc' or 'desc'.").param("order"));
    }
    let purpose = query_get(&q, "purpose");
    let after = query_get(&q, "after");
    let (st, now) = app.ticked();
    let mut files: Vec<&FileRec> = st
        .files
        .values()
        .filter(|f| f.flavor == flavor && purpose.as_ref().is_none_or(|p| &f.purpose == p))
        .collect();
    files.sort_by(|a, b| a.created_at().cmp(&b.created_at()).then(a.seq.cmp(&b.seq)));
    if order == "desc" {
        files.reverse();
    }
    if let Some(after) = after {
        let pos = files.iter().position(|f| f.id == after);
        files = match pos {
            Some(p) => files.split_off(p + 1),
            None => Vec::new(),
        };
    }
    let has_more = files.len() > limit;
    files.truncate(limit);
    let data: Vec<Value> = files
        .iter()
        .map(|f| f.json(now, app.cfg.azure_file_seconds))
        .collect();
    Ok(ok(json!({
        "object": "list",
        "data": data,
        "first_id": files.first().map(|f| f.id.clone()),
        "last_id": files.last().map(|f| f.id.clone()),
        "has_more": has_more,
    })))
}

pub async fn retrieve_file(
    State(app): State<Shared>,
    uri: OriginalUri,
    Path(id): Path<String>,
) -> ApiResult {
    let flavor = flavor(&uri);
    let (st, now) = app.ticked();
    let f = st
        .files
        .get(&id)
        .filter(|f| f.flavor == flavor)
        .ok_or_else(|| not_found_file(&id))?;
    Ok(ok(f.json(now, app.cfg.azure_file_seconds)))
}

pub async fn delete_file(
    State(app): State<Shared>,
    uri: OriginalUri,
    Path(id): Path<String>,
) -> ApiResult {
    let flavor = flavor(&uri);
    let (mut st, now) = app.ticked();
    if !st.files.get(&id).is_some_and(|f| f.flavor == flavor) {
        return Err(not_found_file(&id));
    }
    st.remove_file(&id, now, false);
    Ok(ok(json!({"id": id, "object": "file", "deleted": true})))
}

pub async fn file_content(
    State(app): State<Shared>,
    uri: OriginalUri,
    Path(id): Path<String>,
) -> ApiResult {
    let flavor = flavor(&uri);
    let (st, _) = app.ticked();
    let f = st
        .files
        .get(&id)
        .filter(|f| f.flavor == flavor)
        .ok_or_else(|| not_found_file(&id))?;
    if flavor == Flavor::OpenAI && f.purpose == "fine-tune" {
        return Err(ApiError::invalid(
            "Not allowed to download files of purpose: fine-tune",
        ));
    }
    let body = Body::from_stream(f.blob.stream());
    let len = f.blob.len();
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (header::CONTENT_LENGTH, len.to_string()),
        ],
        body,
    )
        .into_response())
}

// -------------------------------------------------------------------------------------- uploads

pub async fn create_upload(
    State(app): State<Shared>,
    uri: OriginalUri,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let flavor = flavor(&uri);
    let m = json_body(body)?;
    reject_unknown(
        &m,
        &["filename", "purpose", "bytes", "mime_type", "expires_after"],
    )?;
    let filename = m
        .get("filename")
        .and_then(Value::as_str)
        .ok_or_else(|| missing("filename"))?
        .to_owned();
    let purpose = m
        .get("purpose")
        .and_then(Value::as_str)
        .ok_or_else(|| missing("purpose"))?
        .to_owned();
    let bytes = m.get("bytes").ok_or_else(|| missing("bytes"))?;
    let mime_type = m
        .get("mime_type")
        .and_then(Value::as_str)
        .ok_or_else(|| missing("mime_type"))?
        .to_owned();
    check_purpose(&purpose, UPLOAD_PURPOSES)?;
    let bytes = bytes.as_u64().ok_or_else(|| {
        ApiError::invalid("Invalid 'bytes': expected a non-negative integer.").param("bytes")
    })?;
    if bytes > MAX_UPLOAD_BYTES {
        return Err(
            ApiError::invalid("Invalid 'bytes': an Upload can accept at most 8 GB.").param("bytes"),
        );
    }
    check_fine_tune_filename(&purpose, &filename)?;
    if purpose == "fine-tune"
        && !matches!(
            mime_type.as_str(),
            "text/jsonl" | "application/jsonl" | "application/x-ndjson" | "application/json"
        )
    {
        return Err(ApiError::invalid(format!(
            "Invalid 'mime_type' for purpose 'fine-tune': expected 'text/jsonl', got '{mime_type}'."
        ))
        .param("mime_type"));
    }
    let file_expires_after = match m.get("expires_after") {
        None | Some(Value::Null) => None,
        Some(Value::Object(e)) => parse_expires_after(
            e.get("anchor").and_then(Value::as_str).map(str::to_owned),
            e.get("seconds").cloned(),
        )?,
        Some(_) => {
            return Err(
                ApiError::invalid("Invalid 'expires_after': expected an object.")
                    .param("expires_after"),
            );
        }
    };
    let mut st = app.lock();
    let now = st.now();
    let id = format!("upload_{}", st.ids.random(24));
    let u = UploadRec {
        id: id.clone(),
        flavor,
        filename,
        purpose,
        bytes,
        mime_type,
        created: now,
        expires_at: now as i64 + UPLOAD_TTL,
        file_expires_after,
        status: UploadStatus::Pending,
        parts: Vec::new(),
        file_id: None,
    };
    let body = st.upload_json(&u, now, app.cfg.azure_file_seconds);
    st.uploads.insert(id, u);
    Ok(created(flavor, body))
}

fn upload_not_pending(u: &UploadRec) -> ApiError {
    ApiError::invalid(format!(
        "Upload {} is {}; it no longer accepts changes.",
        u.id,
        u.status.as_str()
    ))
    .param("upload_id")
}

pub async fn add_upload_part(
    State(app): State<Shared>,
    uri: OriginalUri,
    Path(id): Path<String>,
    mp: Result<Multipart, MultipartRejection>,
) -> ApiResult {
    let flavor = flavor(&uri);
    {
        let (st, _) = app.ticked();
        let u = st
            .uploads
            .get(&id)
            .filter(|u| u.flavor == flavor)
            .ok_or_else(|| not_found_upload(&id))?;
        if u.status != UploadStatus::Pending {
            return Err(upload_not_pending(u));
        }
    }
    let mut mp = mp.map_err(multipart_rejection)?;
    let mut data = None;
    while let Some(mut field) = mp.next_field().await.map_err(multipart_error)? {
        match field.name().unwrap_or_default() {
            "data" => data = Some(read_field(&app, &mut field, MAX_PART_BYTES, "Part").await?),
            other => {
                return Err(ApiError::invalid(format!(
                    "Unrecognized request argument supplied: {other}"
                )));
            }
        }
    }
    let blob = data.ok_or_else(|| missing("data"))?;
    let (mut st, now) = app.ticked();
    let part_id = format!("part_{}", st.ids.random(24));
    let u = st
        .uploads
        .get_mut(&id)
        .ok_or_else(|| not_found_upload(&id))?;
    if u.status != UploadStatus::Pending {
        return Err(upload_not_pending(u));
    }
    if u.received_bytes() + blob.len() > MAX_UPLOAD_BYTES {
        return Err(
            ApiError::invalid("The Upload would exceed the maximum of 8 GB.").param("data"),
        );
    }
    u.parts.push(PartRec {
        id: part_id.clone(),
        blob,
    });
    Ok(created(
        flavor,
        json!({"id": part_id, "object": "upload.part", "created_at": now as i64, "upload_id": id}),
    ))
}

pub async fn complete_upload(
    State(app): State<Shared>,
    uri: OriginalUri,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let flavor = flavor(&uri);
    let m = json_body(body)?;
    reject_unknown(&m, &["part_ids", "md5"])?;
    let part_ids: Vec<String> = match m.get("part_ids") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or_else(|| {
                ApiError::invalid("Invalid 'part_ids': expected an array of strings.")
                    .param("part_ids")
            })?,
        Some(_) => {
            return Err(
                ApiError::invalid("Invalid 'part_ids': expected an array of strings.")
                    .param("part_ids"),
            );
        }
        None => return Err(missing("part_ids")),
    };
    let md5 = match m.get("md5") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.to_ascii_lowercase()),
        Some(_) => return Err(ApiError::invalid("Invalid 'md5': expected a string.").param("md5")),
    };
    let (blobs, declared) = {
        let (st, _) = app.ticked();
        let u = st
            .uploads
            .get(&id)
            .filter(|u| u.flavor == flavor)
            .ok_or_else(|| not_found_upload(&id))?;
        if u.status != UploadStatus::Pending {
            return Err(upload_not_pending(u));
        }
        let mut seen = std::collections::HashSet::new();
        let mut blobs = Vec::with_capacity(part_ids.len());
        for pid in &part_ids {
            if !seen.insert(pid.as_str()) {
                return Err(
                    ApiError::invalid(format!("Part {pid} is listed more than once."))
                        .param("part_ids"),
                );
            }
            let p = u.parts.iter().find(|p| &p.id == pid).ok_or_else(|| {
                ApiError::invalid(format!("Part {pid} does not belong to upload {id}."))
                    .param("part_ids")
            })?;
            blobs.push(p.blob.clone());
        }
        (blobs, u.bytes)
    };
    let total: u64 = blobs.iter().map(Blob::len).sum();
    if total != declared {
        return Err(ApiError::invalid(format!(
            "The number of bytes uploaded upon completion ({total}) does not match the number of bytes specified \
             when the Upload was created ({declared})."
        ))
        .param("part_ids"));
    }
    let blob = tokio::task::spawn_blocking(move || Blob::concat_blocking(&blobs))
        .await
        .map_err(|_| io_error(std::io::Error::other("join")))?
        .map_err(io_error)?;
    if md5.as_deref().is_some_and(|m| m != blob.md5()) {
        return Err(
            ApiError::invalid("The md5 checksum does not match the uploaded bytes.").param("md5"),
        );
    }
    let purpose = app
        .lock()
        .uploads
        .get(&id)
        .map(|u| u.purpose.clone())
        .unwrap_or_default();
    let bad_line = azure_import_check(flavor, &purpose, &blob).await?;
    let (mut st, now) = app.ticked();
    let file_id = st.new_file_id(flavor);
    let seq = st.ids.next_seq();
    let u = st
        .uploads
        .get_mut(&id)
        .ok_or_else(|| not_found_upload(&id))?;
    if u.status != UploadStatus::Pending {
        return Err(upload_not_pending(u));
    }
    u.status = UploadStatus::Completed;
    u.file_id = Some(file_id.clone());
    u.parts.clear();
    let rec = FileRec {
        id: file_id,
        flavor,
        seq,
        filename: u.filename.clone(),
        purpose: u.purpose.clone(),
        created: now,
        expires_at: u.file_expires_after.map(|s| now as i64 + s),
        blob,
        azure_bad_line: bad_line,
    };
    st.insert_file(rec, Some("uploads"));
    let u = st.uploads.get(&id).ok_or_else(|| not_found_upload(&id))?;
    Ok(ok(st.upload_json(u, now, app.cfg.azure_file_seconds)))
}

pub async fn cancel_upload(
    State(app): State<Shared>,
    uri: OriginalUri,
    Path(id): Path<String>,
) -> ApiResult {
    let flavor = flavor(&uri);
    let (mut st, now) = app.ticked();
    let u = st
        .uploads
        .get_mut(&id)
        .filter(|u| u.flavor == flavor)
        .ok_or_else(|| not_found_upload(&id))?;
    if u.status != UploadStatus::Pending {
        return Err(upload_not_pending(u));
    }
    u.status = UploadStatus::Cancelled;
    u.parts.clear();
    let u = st.uploads.get(&id).ok_or_else(|| not_found_upload(&id))?;
    Ok(ok(st.upload_json(u, now, app.cfg.azure_file_seconds)))
}

// ----------------------------------------------------------------------------------------- jobs

fn bad_hp(name: &str, rule: &str) -> ApiError {
    ApiError::invalid(format!("Invalid hyperparameter '{name}': {rule}."))
        .param(&format!("hyperparameters.{name}"))
}

fn check_hyperparameters(hp: &Map<String, Value>, method: MethodType) -> Result<(), ApiError> {
    for (k, v) in hp {
        let auto = v.as_str() == Some("auto");
        match k.as_str() {
            "n_epochs" if !auto && !v.as_u64().is_some_and(|n| (1..=50).contains(&n)) => {
                return Err(bad_hp(k, "expected 'auto' or an integer between 1 and 50"));
            }
            "batch_size" if !auto && !v.as_u64().is_some_and(|n| (1..=256).contains(&n)) => {
                return Err(bad_hp(k, "expected 'auto' or an integer between 1 and 256"));
            }
            "learning_rate_multiplier" if !auto && !v.as_f64().is_some_and(|x| x > 0.0) => {
                return Err(bad_hp(k, "expected 'auto' or a number greater than 0"));
            }
            "beta"
                if method == MethodType::Dpo
                    && !auto
                    && !v.as_f64().is_some_and(|x| x > 0.0 && x <= 2.0) =>
            {
                return Err(bad_hp(k, "expected 'auto' or a number in (0, 2]"));
            }
            "n_epochs" | "batch_size" | "learning_rate_multiplier" => {}
            "beta" if method == MethodType::Dpo => {}
            "reasoning_effort" | "compute_multiplier" | "eval_interval" | "eval_samples"
                if method == MethodType::Reinforcement => {}
            _ => {
                return Err(
                    ApiError::invalid(format!("Unrecognized hyperparameter: {k}"))
                        .param("hyperparameters"),
                );
            }
        }
    }
    Ok(())
}

fn check_metadata(v: Option<&Value>) -> Result<Option<Map<String, Value>>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => {
            if m.len() > 16 {
                return Err(
                    ApiError::invalid("Invalid 'metadata': at most 16 key-value pairs.")
                        .param("metadata"),
                );
            }
            for (k, v) in m {
                let ok =
                    k.chars().count() <= 64 && v.as_str().is_some_and(|s| s.chars().count() <= 512);
                if !ok {
                    return Err(ApiError::invalid(
                        "Invalid 'metadata': keys are strings of at most 64 characters, values strings of at most 512.",
                    )
                    .param("metadata"));
                }
            }
            Ok(Some(m.clone()))
        }
        Some(_) => {
            Err(ApiError::invalid("Invalid 'metadata': expected an object.").param("metadata"))
        }
    }
}

/// Look up a training or validation file for a job, as the real service checks it at creation.
fn job_file(
    st: &state::State,
    id: &str,
    flavor: Flavor,
    param: &str,
    now: f64,
    azure_secs: f64,
) -> Result<(Blob, u64), ApiError> {
    let f = st
        .files
        .get(id)
        .filter(|f| f.flavor == flavor)
        .ok_or_else(|| {
            ApiError::invalid(format!("invalid {param}: {id}"))
                .param(param)
                .code("invalid_file")
        })?;
    if f.purpose != "fine-tune" {
        return Err(ApiError::invalid(format!(
            "File {id} has purpose '{}', but fine-tuning requires files with purpose 'fine-tune'.",
            f.purpose
        ))
        .param(param)
        .code("invalid_file_purpose"));
    }
    if flavor == Flavor::Azure {
        let status = f.azure_status(now, azure_secs);
        if status != "processed" {
            return Err(ApiError::invalid(format!(
                "The file '{id}' is in status '{status}'. Files must be in status 'processed' before they can be used \
                 by a fine-tuning job."
            ))
            .param(param)
            .azure("invalidPayload"));
        }
    }
    Ok((f.blob.clone(), f.blob.len()))
}

async fn analyze_blob(
    blob: Blob,
    format: LineFormat,
    min: u64,
) -> Result<validate::Analysis, ApiError> {
    tokio::task::spawn_blocking(move || {
        let reader = blob.reader()?;
        validate::analyze(
            std::io::BufReader::with_capacity(1 << 16, reader),
            format,
            min,
        )
    })
    .await
    .map_err(|_| io_error(std::io::Error::other("join")))?
    .map_err(io_error)
}

pub async fn create_job(
    State(app): State<Shared>,
    uri: OriginalUri,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let flavor = flavor(&uri);
    let m = json_body(body)?;
    reject_unknown(
        &m,
        &[
            "model",
            "training_file",
            "validation_file",
            "hyperparameters",
            "suffix",
            "seed",
            "method",
            "metadata",
            "integrations",
        ],
    )?;
    let model_req = m
        .get("model")
        .and_then(Value::as_str)
        .ok_or_else(|| missing("model"))?
        .to_owned();
    let training_file = m
        .get("training_file")
        .and_then(Value::as_str)
        .ok_or_else(|| missing("training_file"))?
        .to_owned();
    let validation_file = match m.get("validation_file") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(
                ApiError::invalid("Invalid 'validation_file': expected a string.")
                    .param("validation_file"),
            );
        }
    };
    let suffix = match m.get("suffix") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            let n = s.chars().count();
            if n == 0 || n > 64 {
                return Err(ApiError::invalid(format!(
                    "Invalid 'suffix': string must be between 1 and 64 characters long (got {n})."
                ))
                .param("suffix")
                .code("invalid_suffix"));
            }
            if !s
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
            {
                return Err(ApiError::invalid(
                    "Invalid 'suffix': only letters, digits, '-', '_' and '.' are allowed.",
                )
                .param("suffix")
                .code("invalid_suffix"));
            }
            Some(s.clone())
        }
        Some(_) => {
            return Err(ApiError::invalid("Invalid 'suffix': expected a string.").param("suffix"));
        }
    };
    let seed = match m.get("seed") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_i64() {
            Some(s) if (0..=2_147_483_647).contains(&s) => Some(s),
            _ => {
                return Err(ApiError::invalid(
                    "Invalid 'seed': expected an integer between 0 and 2147483647.",
                )
                .param("seed"));
            }
        },
    };
    let metadata = check_metadata(m.get("metadata"))?;
    let integrations = match m.get("integrations") {
        None | Some(Value::Null) => json!([]),
        Some(v @ Value::Array(_)) => v.clone(),
        Some(_) => {
            return Err(
                ApiError::invalid("Invalid 'integrations': expected an array.")
                    .param("integrations"),
            );
        }
    };
    let legacy_hp = match m.get("hyperparameters") {
        None | Some(Value::Null) => None,
        Some(Value::Object(h)) => Some(h.clone()),
        Some(_) => {
            return Err(
                ApiError::invalid("Invalid 'hyperparameters': expected an object.")
                    .param("hyperparameters"),
            );
        }
    };
    let (method, mut hp, method_extra) = match m.get("method") {
        None | Some(Value::Null) => (
            MethodType::Supervised,
            legacy_hp.clone().unwrap_or_default(),
            Map::new(),
        ),
        Some(Value::Object(mm)) => {
            let t = match mm.get("type").and_then(Value::as_str) {
                Some("supervised") => MethodType::Supervised,
                Some("dpo") => MethodType::Dpo,
                Some("reinforcement") => MethodType::Reinforcement,
                Some(other) => {
                    return Err(ApiError::invalid(format!(
                        "Invalid 'method.type': '{other}' is not one of ['supervised', 'dpo', 'reinforcement']."
                    ))
                    .param("method.type"));
                }
                None => return Err(missing("method.type")),
            };
            if let Some(k) = mm
                .keys()
                .find(|k| !matches!(k.as_str(), "type" | "supervised" | "dpo" | "reinforcement"))
            {
                return Err(ApiError::invalid(format!(
                    "Unrecognized request argument supplied: method.{k}"
                )));
            }
            let mut inner = match mm.get(t.as_str()) {
                None | Some(Value::Null) => Map::new(),
                Some(Value::Object(o)) => o.clone(),
                Some(_) => {
                    return Err(ApiError::invalid(format!(
                        "Invalid 'method.{}': expected an object.",
                        t.as_str()
                    ))
                    .param("method"));
                }
            };
            let hp = match inner.remove("hyperparameters") {
                None | Some(Value::Null) => None,
                Some(Value::Object(h)) => Some(h),
                Some(_) => {
                    return Err(ApiError::invalid(
                        "Invalid 'method.hyperparameters': expected an object.",
                    )
                    .param("method"));
                }
            };
            if hp.is_some() && legacy_hp.is_some() {
                return Err(ApiError::invalid(
                    "Specify hyperparameters either in 'method' or in the deprecated top-level 'hyperparameters', not both.",
                )
                .param("hyperparameters"));
            }
            if t == MethodType::Reinforcement && !inner.contains_key("grader") {
                return Err(missing("method.reinforcement.grader"));
            }
            if let Some(k) = inner
                .keys()
                .find(|k| !(t == MethodType::Reinforcement && k.as_str() == "grader"))
            {
                return Err(ApiError::invalid(format!(
                    "Unrecognized request argument supplied: method.{}.{k}",
                    t.as_str()
                )));
            }
            (
                t,
                hp.or_else(|| legacy_hp.clone()).unwrap_or_default(),
                inner,
            )
        }
        Some(_) => {
            return Err(ApiError::invalid("Invalid 'method': expected an object.").param("method"));
        }
    };
    check_hyperparameters(&hp, method)?;
    hp.retain(|_, v| !v.is_null());

    let azure_secs = app.cfg.azure_file_seconds;
    let (model, train_blob, train_bytes, val_blob) = {
        let (st, now) = app.ticked();
        let model = if let Some(snap) = state::fine_tunable_snapshot(&model_req) {
            snap.to_owned()
        } else if st
            .models
            .get(&model_req)
            .is_some_and(|mm| mm.flavor == flavor)
        {
            model_req.clone()
        } else {
            return Err(ApiError::invalid(format!(
                "Model {model_req} is not available for fine-tuning or does not exist."
            ))
            .param("model")
            .code("model_not_available"));
        };
        let base = model
            .strip_prefix("ft:")
            .and_then(|x| x.split(':').next())
            .unwrap_or(&model)
            .to_owned();
        let supports = match method {
            MethodType::Supervised => !base.starts_with("o4-mini"),
            MethodType::Dpo => base.starts_with("gpt-4o") || base.starts_with("gpt-4.1"),
            MethodType::Reinforcement => base.starts_with("o4-mini"),
        };
        if !supports {
            return Err(ApiError::invalid(format!(
                "Model {base} does not support the '{}' fine-tuning method.",
                method.as_str()
            ))
            .param("method.type")
            .code("model_not_available"));
        }
        let (tb, tbytes) = job_file(
            &st,
            &training_file,
            flavor,
            "training_file",
            now,
            azure_secs,
        )?;
        let vb = match &validation_file {
            Some(v) => Some(job_file(&st, v, flavor, "validation_file", now, azure_secs)?.0),
            None => None,
        };
        (model, tb, tbytes, vb)
    };
    let format = match method {
        MethodType::Supervised if matches!(model.as_str(), "babbage-002" | "davinci-002") => {
            LineFormat::Completion
        }
        MethodType::Supervised => LineFormat::Chat,
        MethodType::Dpo => LineFormat::Preference,
        MethodType::Reinforcement => LineFormat::Reinforcement,
    };
    let train = analyze_blob(train_blob, format, validate::MIN_EXAMPLES).await?;
    let validation: Result<u64, (FormatFailure, &'static str)> = match train.failure {
        Some(f) => Err((f, "training_file")),
        None => match val_blob {
            Some(vb) => match analyze_blob(vb, format, 1).await?.failure {
                Some(mut f) => {
                    f.message = f.message.replace("Training file", "Validation file");
                    Err((f, "validation_file"))
                }
                None => Ok(train.examples),
            },
            None => Ok(train.examples),
        },
    };

    let (mut st, now) = app.ticked();
    let force_failure = st.faults.job_must_fail(metadata.as_ref());
    let seed = seed.unwrap_or_else(|| st.ids.seed_value());
    let spec = JobSpec {
        model,
        training_file,
        training_bytes: train_bytes,
        validation_file,
        method,
        hyperparameters: hp,
        method_extra,
        suffix,
        seed,
        metadata,
        integrations,
        validation,
        force_failure,
    };
    let id = JobRec::create(&mut st, flavor, spec, now, &app.ctx);
    let body = st.jobs.get(&id).map(JobRec::json).unwrap_or(Value::Null);
    Ok(created(flavor, body))
}

fn metadata_filter(q: &[(String, String)]) -> MetadataFilter {
    let mut m = Map::new();
    for (k, v) in q {
        if k == "metadata" && v == "null" {
            return MetadataFilter::Null;
        }
        if let Some(key) = k
            .strip_prefix("metadata[")
            .and_then(|r| r.strip_suffix(']'))
        {
            m.insert(key.to_owned(), Value::String(v.clone()));
        }
    }
    if m.is_empty() {
        MetadataFilter::Any
    } else {
        MetadataFilter::Match(m)
    }
}

fn metadata_matches(filter: &MetadataFilter, md: Option<&Map<String, Value>>) -> bool {
    match filter {
        MetadataFilter::Any => true,
        MetadataFilter::Null => md.is_none_or(Map::is_empty),
        MetadataFilter::Match(want) => {
            md.is_some_and(|md| want.iter().all(|(k, v)| md.get(k) == Some(v)))
        }
    }
}

/// Cursor pagination over a newest-first list: items after `after`, up to `limit`.
fn page<T>(
    items: Vec<T>,
    after: Option<&str>,
    limit: usize,
    id: impl Fn(&T) -> &str,
) -> (Vec<T>, bool) {
    let mut items = items;
    if let Some(a) = after {
        items = match items.iter().position(|x| id(x) == a) {
            Some(p) => items.split_off(p + 1),
            None => Vec::new(),
        };
    }
    let has_more = items.len() > limit;
    items.truncate(limit);
    (items, has_more)
}

pub async fn list_jobs(State(app): State<Shared>, uri: OriginalUri) -> ApiResult {
    let flavor = flavor(&uri);
    let q = query_pairs(&uri);
    let limit = parse_limit(&q, 20, 100)?;
    let after = query_get(&q, "after");
    let filter = metadata_filter(&q);
    let (st, _) = app.ticked();
    let mut jobs: Vec<&JobRec> = st
        .jobs
        .values()
        .filter(|j| j.flavor == flavor && metadata_matches(&filter, j.spec.metadata.as_ref()))
        .collect();
    jobs.sort_by_key(|j| std::cmp::Reverse(j.seq));
    let (jobs, has_more) = page(jobs, after.as_deref(), limit, |j| j.id.as_str());
    let data: Vec<Value> = jobs.iter().map(|j| j.json()).collect();
    Ok(ok(
        json!({"object": "list", "data": data, "has_more": has_more}),
    ))
}

pub async fn retrieve_job(
    State(app): State<Shared>,
    uri: OriginalUri,
    Path(id): Path<String>,
) -> ApiResult {
    let flavor = flavor(&uri);
    let (st, _) = app.ticked();
    let j = st
        .jobs
        .get(&id)
        .filter(|j| j.flavor == flavor)
        .ok_or_else(|| not_found_job(&id))?;
    Ok(ok(j.json()))
}

enum JobAction {
    Cancel,
    Pause,
    Resume,
}

fn job_action(app: &Shared, uri: &Uri, id: &str, action: JobAction) -> ApiResult {
    let flavor = flavor(uri);
    let (mut st, now) = app.ticked();
    let mut job = match st.jobs.remove(id) {
        Some(j) if j.flavor == flavor => j,
        Some(j) => {
            st.jobs.insert(id.to_owned(), j);
            return Err(not_found_job(id));
        }
        None => return Err(not_found_job(id)),
    };
    let status = job.status.clone();
    let done = match action {
        JobAction::Cancel => job.cancel(&mut st, now),
        JobAction::Pause => job.pause(&mut st, now),
        JobAction::Resume => job.resume(&mut st, now),
    };
    let body = job.json();
    st.jobs.insert(id.to_owned(), job);
    if !done {
        let msg = match action {
            JobAction::Cancel => format!("Job {id} is already {status} and cannot be cancelled."),
            JobAction::Pause => format!("Job {id} is {status}; only running jobs can be paused."),
            JobAction::Resume => format!("Job {id} is {status}; only paused jobs can be resumed."),
        };
        return Err(ApiError::invalid(msg).param("fine_tuning_job_id"));
    }
    Ok(ok(body))
}

pub async fn cancel_job(
    State(app): State<Shared>,
    uri: OriginalUri,
    Path(id): Path<String>,
) -> ApiResult {
    job_action(&app, &uri, &id, JobAction::Cancel)
}

pub async fn pause_job(
    State(app): State<Shared>,
    uri: OriginalUri,
    Path(id): Path<String>,
) -> ApiResult {
    job_action(&app, &uri, &id, JobAction::Pause)
}

pub async fn resume_job(
    State(app): State<Shared>,
    uri: OriginalUri,
    Path(id): Path<String>,
) -> ApiResult {
    job_action(&app, &uri, &id, JobAction::Resume)
}

/// Azure only: delete a job (cancelling it first if it is still active). 204 No Content.
pub async fn delete_job(
    State(app): State<Shared>,
    uri: OriginalUri,
    Path(id): Path<String>,
) -> ApiResult {
    if flavor(&uri) == Flavor::OpenAI {
        return Err(invalid_url(&Method::DELETE, uri.path()));
    }
    let (mut st, _) = app.ticked();
    match st.jobs.get(&id) {
        Some(j) if j.flavor == Flavor::Azure => {
            st.jobs.remove(&id);
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        _ => Err(not_found_job(&id)),
    }
}

pub async fn list_events(
    State(app): State<Shared>,
    uri: OriginalUri,
    Path(id): Path<String>,
) -> ApiResult {
    let flavor = flavor(&uri);
    let q = query_pairs(&uri);
    let limit = parse_limit(&q, 20, 100)?;
    let after = query_get(&q, "after");
    let (st, _) = app.ticked();
    let j = st
        .jobs
        .get(&id)
        .filter(|j| j.flavor == flavor)
        .ok_or_else(|| not_found_job(&id))?;
    let newest_first: Vec<_> = j.events.iter().rev().collect();
    let (events, has_more) = page(newest_first, after.as_deref(), limit, |e| e.id.as_str());
    let data: Vec<Value> = events.iter().map(|e| e.json()).collect();
    Ok(ok(
        json!({"object": "list", "data": data, "has_more": has_more}),
    ))
}

pub async fn list_checkpoints(
    State(app): State<Shared>,
    uri: OriginalUri,
    Path(id): Path<String>,
) -> ApiResult {
    let flavor = flavor(&uri);
    let q = query_pairs(&uri);
    let limit = parse_limit(&q, 10, 100)?;
    let after = query_get(&q, "after");
    let (st, _) = app.ticked();
    let j = st
        .jobs
        .get(&id)
        .filter(|j| j.flavor == flavor)
        .ok_or_else(|| not_found_job(&id))?;
    let newest_first: Vec<_> = j.checkpoints.iter().rev().collect();
    let (cks, has_more) = page(newest_first, after.as_deref(), limit, |c| c.id.as_str());
    let data: Vec<Value> = cks.iter().map(|c| c.json()).collect();
    Ok(ok(json!({
        "object": "list",
        "data": data,
        "first_id": cks.first().map(|c| c.id.clone()),
        "last_id": cks.last().map(|c| c.id.clone()),
        "has_more": has_more,
    })))
}

// --------------------------------------------------------------------------------------- models

fn model_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("The model '{id}' does not exist"))
        .param("model")
        .code("model_not_found")
}

pub async fn list_models(State(app): State<Shared>, uri: OriginalUri) -> ApiResult {
    let flavor = flavor(&uri);
    let (st, _) = app.ticked();
    let mut data: Vec<Value> = state::BASE_MODELS
        .iter()
        .filter_map(|(m, _, _)| state::base_model_json(m))
        .collect();
    data.extend(
        st.models
            .values()
            .filter(|m| m.flavor == flavor)
            .map(|m| m.json()),
    );
    Ok(ok(json!({"object": "list", "data": data})))
}

pub async fn retrieve_model(
    State(app): State<Shared>,
    uri: OriginalUri,
    Path(id): Path<String>,
) -> ApiResult {
    let flavor = flavor(&uri);
    let (st, _) = app.ticked();
    if let Some(m) = st.models.get(&id).filter(|m| m.flavor == flavor) {
        return Ok(ok(m.json()));
    }
    state::base_model_json(&id)
        .map(ok)
        .ok_or_else(|| model_not_found(&id))
}

pub async fn delete_model(
    State(app): State<Shared>,
    uri: OriginalUri,
    Path(id): Path<String>,
) -> ApiResult {
    if flavor(&uri) == Flavor::Azure {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request_error",
            "Models cannot be deleted through the data plane. Delete the deployment and the model with the Azure \
             management API (Azure Resource Manager) instead.",
        )
        .azure("MethodNotAllowed"));
    }
    let (mut st, _) = app.ticked();
    if st
        .models
        .get(&id)
        .is_some_and(|m| m.flavor == Flavor::OpenAI)
    {
        st.models.remove(&id);
        return Ok(ok(json!({"id": id, "object": "model", "deleted": true})));
    }
    if state::base_model_json(&id).is_some() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "invalid_request_error",
            format!(
                "You do not have permission to delete model '{id}'. Only fine-tuned models owned by your organization can be deleted."
            ),
        ));
    }
    Err(model_not_found(&id))
}

// -------------------------------------------------------------------------------------- fallbacks

fn invalid_url(method: &Method, path: &str) -> ApiError {
    ApiError::not_found(format!("Invalid URL ({method} {path})")).azure("404")
}

pub async fn unknown_route(method: Method, uri: Uri) -> Response {
    invalid_url(&method, uri.path()).into_response()
}

pub async fn method_not_allowed(method: Method, uri: OriginalUri) -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request_error",
        format!("Method not allowed ({method} {})", uri.path()),
    )
    .into_response()
}
