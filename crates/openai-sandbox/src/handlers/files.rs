//! `/files`: multipart upload, list, retrieve, delete, content.

use super::*;

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
    let mut st = app.lock();
    let now = st.now();
    let id = st.new_file_id(flavor);
    let seq = st.ids.next_seq();
    let azure_check = spawn_azure_import_check(&app, flavor, &purpose, &id, &blob);
    let rec = FileRec {
        id: id.clone(),
        flavor,
        seq,
        filename,
        purpose,
        created: now,
        expires_at: expires_after.map(|s| now as i64 + s),
        blob,
        azure_check,
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
