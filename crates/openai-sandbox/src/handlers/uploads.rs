//! `/uploads`: create, parts, complete (parts in `part_ids` order), cancel.

use super::*;

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
    let blob = Blob::concat(&blobs);
    if let Some(expected) = md5
        && blob.digests().await.map_err(io_error)?.md5 != expected
    {
        return Err(
            ApiError::invalid("The md5 checksum does not match the uploaded bytes.").param("md5"),
        );
    }
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
    let (filename, purpose, expires_after) =
        (u.filename.clone(), u.purpose.clone(), u.file_expires_after);
    let azure_check = spawn_azure_import_check(&app, flavor, &purpose, &file_id, &blob);
    let rec = FileRec {
        id: file_id,
        flavor,
        seq,
        filename,
        purpose,
        created: now,
        expires_at: expires_after.map(|s| now as i64 + s),
        blob,
        azure_check,
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
