//! `/fine_tuning/jobs`: create (validated as the real service does), list, retrieve, cancel,
//! pause, resume, events, checkpoints, and Azure's delete.

use super::*;

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
            "reasoning_effort"
                if method == MethodType::Reinforcement
                    && !matches!(v.as_str(), Some("default" | "low" | "medium" | "high")) =>
            {
                return Err(bad_hp(
                    k,
                    "expected one of 'default', 'low', 'medium', 'high'",
                ));
            }
            "compute_multiplier"
                if method == MethodType::Reinforcement
                    && !auto
                    && !v.as_f64().is_some_and(|x| (0.00001..=10.0).contains(&x)) =>
            {
                return Err(bad_hp(k, "expected 'auto' or a number in (0, 10]"));
            }
            "eval_interval" | "eval_samples"
                if method == MethodType::Reinforcement
                    && !auto
                    && v.as_u64().is_none_or(|n| n < 1) =>
            {
                return Err(bad_hp(k, "expected 'auto' or an integer of at least 1"));
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

/// Validate the job's files in the background, as the real service does in `validating_files`;
/// the job leaves that stage once the outcome is known and its time has come.
fn spawn_validation(app: &Shared, id: &str, format: LineFormat, train: Blob, val: Option<Blob>) {
    let (app, id) = (app.clone(), id.to_owned());
    tokio::spawn(async move {
        let outcome = validate_files(format, train, val).await;
        let mut st = app.lock();
        let now = st.now();
        if let Some(job) = st.jobs.get_mut(&id) {
            job.set_validation(outcome, now);
        }
    });
}

async fn validate_files(format: LineFormat, train: Blob, val: Option<Blob>) -> Validation {
    let unreadable = || FormatFailure {
        code: "invalid_file_format",
        message: "The file could not be read.".into(),
    };
    let t = match analyze_blob(train, format, validate::MIN_EXAMPLES).await {
        Ok(a) => a,
        Err(_) => return Err((unreadable(), "training_file")),
    };
    if let Some(f) = t.failure {
        return Err((f, "training_file"));
    }
    if let Some(vb) = val {
        match analyze_blob(vb, format, 1).await {
            Ok(a) => {
                if let Some(mut f) = a.failure {
                    f.message = f.message.replace("Training file", "Validation file");
                    return Err((f, "validation_file"));
                }
            }
            Err(_) => return Err((unreadable(), "validation_file")),
        }
    }
    Ok(t.examples)
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

/// The grader shapes of OpenAI's spec (`GraderStringCheck`, `GraderTextSimilarity`,
/// `GraderScoreModel`, `GraderLabelModel`, `GraderPython`, `GraderMulti`): the type, its
/// required fields, and the enums of string_check and text_similarity.
fn check_grader(g: &Value, depth: u8) -> Result<(), ApiError> {
    let bad = |m: String| ApiError::invalid(m).param("grader");
    let obj = g
        .as_object()
        .ok_or_else(|| bad("Invalid 'grader': expected an object.".into()))?;
    let kind = obj.get("type").and_then(Value::as_str).unwrap_or("");
    let required: &[&str] = match kind {
        "string_check" => &["name", "input", "reference", "operation"],
        "text_similarity" => &["name", "input", "reference", "evaluation_metric"],
        "score_model" => &["name", "input", "model"],
        "label_model" => &["name", "model", "input", "passing_labels", "labels"],
        "python" => &["name", "source"],
        "multi" if depth == 0 => &["name", "graders", "calculate_output"],
        _ => {
            return Err(bad(format!(
                "Invalid 'grader.type': '{kind}' is not a supported grader type."
            )));
        }
    };
    if let Some(f) = required.iter().find(|f| !obj.contains_key(**f)) {
        return Err(bad(format!("Missing required parameter: 'grader.{f}'.")));
    }
    let word = |k: &str, allowed: &[&str]| {
        let v = obj.get(k).and_then(Value::as_str).unwrap_or("");
        if allowed.contains(&v) {
            Ok(())
        } else {
            Err(bad(format!("Invalid 'grader.{k}': '{v}'.")))
        }
    };
    match kind {
        "string_check" => word("operation", &["eq", "ne", "like", "ilike"])?,
        "text_similarity" => word(
            "evaluation_metric",
            &[
                "cosine",
                "fuzzy_match",
                "bleu",
                "gleu",
                "meteor",
                "rouge_1",
                "rouge_2",
                "rouge_3",
                "rouge_4",
                "rouge_5",
                "rouge_l",
            ],
        )?,
        "multi" => {
            if let Some(inner) = obj.get("graders") {
                check_grader(inner, depth.saturating_add(1))?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// `POST /fine_tuning/alpha/graders/validate` (OpenAI only): echoes a valid grader.
pub async fn validate_grader(uri: OriginalUri, body: Result<Bytes, BytesRejection>) -> ApiResult {
    if flavor(&uri) == Flavor::Azure {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "Resource not found",
        )
        .azure("404"));
    }
    let m = json_body(body)?;
    reject_unknown(&m, &["grader"])?;
    let grader = m.get("grader").ok_or_else(|| missing("grader"))?;
    check_grader(grader, 0)?;
    Ok(ok(json!({ "grader": grader })))
}

/// `POST /fine_tuning/alpha/graders/run` (OpenAI only): scores a model sample (see `graders`).
pub async fn run_grader(uri: OriginalUri, body: Result<Bytes, BytesRejection>) -> ApiResult {
    if flavor(&uri) == Flavor::Azure {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "Resource not found",
        )
        .azure("404"));
    }
    let m = json_body(body)?;
    reject_unknown(&m, &["grader", "model_sample", "item"])?;
    let grader = m.get("grader").ok_or_else(|| missing("grader"))?;
    check_grader(grader, 0)?;
    let sample = m
        .get("model_sample")
        .ok_or_else(|| missing("model_sample"))?
        .as_str()
        .ok_or_else(|| {
            ApiError::invalid("Invalid 'model_sample': expected a string.").param("model_sample")
        })?;
    let item = match m.get("item") {
        None | Some(Value::Null) => json!({}),
        Some(v @ Value::Object(_)) => v.clone(),
        Some(_) => {
            return Err(ApiError::invalid("Invalid 'item': expected an object.").param("item"));
        }
    };
    Ok(ok(crate::graders::run(grader, sample, &item)))
}

/// Azure's suffix limit (its fine-tuning REST how-to).
pub const AZURE_SUFFIX_MAX: usize = 40;

/// `trainingType` is taken by the v1 data plane and by dated versions from
/// `2025-04-01-preview` on (the first to document it).
fn azure_training_type_version(uri: &Uri) -> bool {
    uri.path().starts_with("/openai/v1/")
        || query_pairs(uri)
            .into_iter()
            .any(|(k, v)| k == "api-version" && v.as_str() >= "2025-04-01-preview")
}

/// Azure's training types, case-insensitively; echoed lower-case.
fn azure_training_type(v: Option<&Value>) -> Result<Option<String>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s))
            if ["standard", "globalstandard", "developer"]
                .iter()
                .any(|t| t.eq_ignore_ascii_case(s)) =>
        {
            Ok(Some(s.to_ascii_lowercase()))
        }
        Some(_) => Err(ApiError::invalid(
            "Invalid 'trainingType': expected one of 'standard', 'globalstandard', 'developer'.",
        )
        .param("trainingType")
        .azure("invalidPayload")),
    }
}

pub async fn create_job(
    State(app): State<Shared>,
    uri: OriginalUri,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let flavor = flavor(&uri);
    let m = json_body(body)?;
    let training_type_allowed = flavor == Flavor::Azure && azure_training_type_version(&uri);
    let known: &[&str] = &[
        "model",
        "training_file",
        "validation_file",
        "hyperparameters",
        "suffix",
        "seed",
        "method",
        "metadata",
        "integrations",
        "trainingType",
    ];
    reject_unknown(
        &m,
        if training_type_allowed {
            known
        } else {
            &known[..known.len() - 1]
        },
    )?;
    let training_type = azure_training_type(m.get("trainingType"))?;
    if flavor == Flavor::OpenAI && app.cfg.fine_tuning_refused {
        // The body OpenAI sends here is not published; the status is (403 on job creation).
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "invalid_request_error",
            "Fine-tuning is not available for your organization.",
        ));
    }
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
            // Azure: "up to 40 characters (a-z, A-Z, 0-9, - and _)".
            let (max, dot_ok) = match flavor {
                Flavor::OpenAI => (64, true),
                Flavor::Azure => (AZURE_SUFFIX_MAX, false),
            };
            if n == 0 || n > max {
                return Err(ApiError::invalid(format!(
                    "Invalid 'suffix': string must be between 1 and {max} characters long (got {n})."
                ))
                .param("suffix")
                .code("invalid_suffix")
                .azure("invalidPayload"));
            }
            if !s
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || (dot_ok && c == '.'))
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
            if t == MethodType::Reinforcement {
                let grader = inner
                    .get("grader")
                    .ok_or_else(|| missing("method.reinforcement.grader"))?;
                check_grader(grader, 0)?;
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
    // Small files are validated before the call returns, so their timeline depends only on the
    // clock; larger ones in the background while the job is `validating_files`.
    let total = train_blob.len() + val_blob.as_ref().map_or(0, Blob::len);
    let inline = if total <= INLINE_VALIDATION_BYTES {
        Some(validate_files(format, train_blob.clone(), val_blob.clone()).await)
    } else {
        None
    };
    let background = inline.is_none();
    let (id, body) = {
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
            force_failure,
            training_type,
        };
        let id = JobRec::create(&mut st, flavor, spec, now, &app.ctx);
        if let (Some(job), Some(v)) = (st.jobs.get_mut(&id), inline) {
            job.set_validation(v, now);
        }
        let body = st.jobs.get(&id).map(JobRec::json).unwrap_or(Value::Null);
        (id, body)
    };
    if background {
        spawn_validation(&app, &id, format, train_blob, val_blob);
    }
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
    let limit = parse_limit(&q, 20, 10_000)?;
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
    let limit = parse_limit(&q, 20, 10_000)?;
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
    let limit = parse_limit(&q, 10, 10_000)?;
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
