//! Route handlers for the OpenAI paths (and, with a few differences, the Azure ones), with the
//! request parsing and checks they share.

mod files;
mod ft_jobs;
mod models;
mod uploads;

pub use files::*;
pub use ft_jobs::*;
pub use models::*;
pub use uploads::*;

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
use super::jobs::{JobRec, JobSpec, MethodType, Validation};
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
/// Training data up to this size is validated before the create call returns; larger files in
/// the background while the job is `validating_files`.
const INLINE_VALIDATION_BYTES: u64 = 16 * 1024 * 1024;

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

/// Azure imports a fine-tune file before it is usable: check it in the background and record
/// the outcome on the file (`running` until then, `processed` or `error` after).
fn spawn_azure_import_check(
    app: &Shared,
    flavor: Flavor,
    purpose: &str,
    id: &str,
    blob: &Blob,
) -> Option<Option<u64>> {
    if flavor != Flavor::Azure || purpose != "fine-tune" {
        return Some(None);
    }
    let (app, id, blob) = (app.clone(), id.to_owned(), blob.clone());
    tokio::spawn(async move {
        let outcome = tokio::task::spawn_blocking(move || {
            let reader = blob.reader()?;
            validate::first_invalid_json_line(std::io::BufReader::with_capacity(1 << 16, reader))
        })
        .await;
        // An unreadable spool file is reported as a bad first line rather than left pending.
        let bad = match outcome {
            Ok(Ok(bad)) => bad,
            _ => Some(1),
        };
        if let Some(f) = app.lock().files.get_mut(&id) {
            f.azure_check = Some(bad);
        }
    });
    None
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
