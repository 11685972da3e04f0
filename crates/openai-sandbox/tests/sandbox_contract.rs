//! Contract tests for `openai-sandbox`: drive every path in-process and validate every JSON
//! response against the schema the OpenAI OpenAPI spec gives for that path, method and status
//! (JSON Schema 2020-12 via the `jsonschema` crate). Error responses validate against
//! `ErrorResponse`.
//!
//! The spec is read from `$TUNEGATE_REFERENCE_DIR`, else `../shared/reference/` beside the repo
//! (CI), else `../../shared/reference/` (a worktree under /work/wt).
//!
//! Documented deviations, applied to the loaded spec before validating:
//! - `FineTuningJob.status` also allows `paused` (the real API sends it; its enum lacks it).
//! - `ListFilesResponse.first_id`/`last_id` may be null (an empty list has no first or last id).
//! - OpenAPI 3.0 leftovers in the 3.1 document (`exclusiveMinimum: true` next to `minimum`) are
//!   rewritten to their JSON Schema 2020-12 meaning.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use openai_sandbox::{Config, Running, start};
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{Value, json};

const KEY: &str = "sk-contract-test";
const JOB_SECONDS: f64 = 100.0;

/// Rewrite OpenAPI 3.0 boolean `exclusiveMinimum`/`exclusiveMaximum` into 2020-12 numbers.
fn modernise(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (flag, bound) in [
                ("exclusiveMinimum", "minimum"),
                ("exclusiveMaximum", "maximum"),
            ] {
                if let Some(Value::Bool(b)) = m.get(flag).cloned() {
                    m.remove(flag);
                    if b && let Some(n) = m.remove(bound) {
                        m.insert(flag.into(), n);
                    }
                }
            }
            m.values_mut().for_each(modernise);
        }
        Value::Array(a) => a.iter_mut().for_each(modernise),
        _ => {}
    }
}

/// YAML to JSON, keeping integers that do not fit 64 bits (the spec has one) as floats.
fn yaml_to_json(y: serde_yaml::Value) -> Value {
    use serde_yaml::Value as Y;
    match y {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                json!(i)
            } else if let Some(u) = n.as_u64() {
                json!(u)
            } else {
                json!(n.as_f64().unwrap_or(0.0))
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(v) => Value::Array(v.into_iter().map(yaml_to_json).collect()),
        Y::Mapping(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        Y::String(s) => s,
                        other => serde_yaml::to_string(&other)
                            .unwrap_or_default()
                            .trim()
                            .to_owned(),
                    };
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
        Y::Tagged(t) => yaml_to_json(t.value),
    }
}

struct Spec {
    doc: Value,
    cache: Mutex<HashMap<String, std::sync::Arc<jsonschema::Validator>>>,
}

impl Spec {
    fn load() -> Spec {
        let path = tunegate_testkit::reference_dir().join("openai-openapi.yaml");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        // serde_yaml rejects integers beyond 64 bits (the spec bounds a seed with one): make them floats.
        let text: String = text
            .lines()
            .map(|line| match line.rsplit_once(": ") {
                Some((head, num))
                    if num.trim_start_matches('-').len() >= 19
                        && num
                            .trim_start_matches('-')
                            .bytes()
                            .all(|b| b.is_ascii_digit())
                        && num.parse::<i64>().is_err()
                        && num.parse::<u64>().is_err() =>
                {
                    format!("{head}: {num}.0\n")
                }
                _ => format!("{line}\n"),
            })
            .collect();
        let yaml: serde_yaml::Value = serde_yaml::from_str(&text).expect("spec parses as YAML");
        let mut doc = yaml_to_json(yaml);
        modernise(&mut doc);
        let schemas = &mut doc["components"]["schemas"];
        schemas["FineTuningJob"]["properties"]["status"]["enum"]
            .as_array_mut()
            .expect("FineTuningJob.status enum")
            .push(json!("paused"));
        for k in ["first_id", "last_id"] {
            schemas["ListFilesResponse"]["properties"][k] =
                json!({"anyOf": [{"type": "string"}, {"type": "null"}]});
        }
        Spec {
            doc,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The response schema for `method path` (spec path template) and status.
    fn response_schema(&self, method: &str, path: &str, status: u16) -> Value {
        if status >= 400 {
            return json!({"$ref": "#/components/schemas/ErrorResponse"});
        }
        let op = &self.doc["paths"][path][method.to_ascii_lowercase()];
        assert!(op.is_object(), "spec has no {method} {path}");
        let schema = &op["responses"][status.to_string()]["content"]["application/json"]["schema"];
        assert!(
            schema.is_object(),
            "spec has no JSON schema for {method} {path} {status}"
        );
        schema.clone()
    }

    fn validator(&self, key: &str, schema: Value) -> std::sync::Arc<jsonschema::Validator> {
        let mut cache = self.cache.lock().unwrap();
        if let Some(v) = cache.get(key) {
            return v.clone();
        }
        let mut root = schema;
        root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
        root["components"] = self.doc["components"].clone();
        let v = std::sync::Arc::new(
            jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                .build(&root)
                .unwrap_or_else(|e| panic!("schema for {key} compiles: {e}")),
        );
        cache.insert(key.to_owned(), v.clone());
        v
    }

    fn check(&self, method: &str, path: &str, status: u16, body: &Value) {
        let key = if status >= 400 {
            "error".to_owned()
        } else {
            format!("{method} {path} {status}")
        };
        let v = self.validator(&key, self.response_schema(method, path, status));
        let errors: Vec<String> = v
            .iter_errors(body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{method} {path} {status} does not match the spec:\n{}\nbody: {body:#}",
            errors.join("\n")
        );
    }
}

fn spec() -> &'static Spec {
    static SPEC: std::sync::OnceLock<Spec> = std::sync::OnceLock::new();
    SPEC.get_or_init(Spec::load)
}

struct Harness {
    sandbox: Running,
    http: Client,
    spec: &'static Spec,
}

impl Harness {
    async fn new() -> Harness {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut cfg = Config::new(KEY);
        cfg.job_seconds = JOB_SECONDS;
        cfg.org_name = "contract-org".into();
        cfg.seed = 5;
        cfg.azure_file_seconds = 30.0;
        let sandbox = start(cfg, SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("sandbox starts");
        Harness {
            sandbox,
            http: Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            spec: spec(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sandbox.base_url())
    }

    fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, self.url(path)).bearer_auth(KEY)
    }

    /// Send, expect `status`, validate the body against the spec for `template`.
    async fn call(&self, rb: reqwest::RequestBuilder, template: &str, status: u16) -> Value {
        let req = rb.build().unwrap();
        let method = req.method().as_str().to_owned();
        let resp = self.http.execute(req).await.expect("request");
        check_headers(&resp);
        assert_eq!(
            resp.status().as_u16(),
            status,
            "{method} {template}: {:?}",
            resp.text().await
        );
        let body: Value = resp.json().await.expect("JSON body");
        self.spec.check(&method, template, status, &body);
        body
    }

    async fn advance(&self, seconds: f64) {
        let r = self
            .http
            .post(self.url("/_sandbox/clock/advance"))
            .json(&json!({"seconds": seconds}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }

    /// DELETE answers 200 with `deleted: true`; afterwards the object is gone: GET and a second
    /// DELETE both answer 404 (each response schema-checked by `call`).
    async fn delete_then_gone(&self, path: &str, template: &str) {
        let d = self
            .call(self.req(Method::DELETE, path), template, 200)
            .await;
        assert_eq!(d["deleted"], json!(true));
        for method in [Method::GET, Method::DELETE] {
            self.call(self.req(method, path), template, 404).await;
        }
    }

    async fn inspect(&self, path: &str) -> Value {
        self.http
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn upload_file(&self, name: &str, data: Vec<u8>, extra: &[(&str, &str)]) -> Value {
        let mut form = reqwest::multipart::Form::new()
            .text("purpose", "fine-tune")
            .part(
                "file",
                reqwest::multipart::Part::bytes(data).file_name(name.to_owned()),
            );
        for (k, v) in extra {
            form = form.text(k.to_string(), v.to_string());
        }
        self.call(
            self.req(Method::POST, "/v1/files").multipart(form),
            "/files",
            200,
        )
        .await
    }
}

fn check_headers(resp: &Response) {
    if resp.status() == StatusCode::NO_CONTENT {
        return;
    }
    let h = resp.headers();
    for name in [
        "x-request-id",
        "openai-processing-ms",
        "x-ratelimit-limit-requests",
        "x-ratelimit-remaining-requests",
    ] {
        assert!(h.contains_key(name), "missing header {name}");
    }
    assert!(h["x-request-id"].to_str().unwrap().starts_with("req_"));
}

fn chat_jsonl(n: usize) -> Vec<u8> {
    let mut s = String::new();
    for i in 0..n {
        s.push_str(
            &json!({"messages": [
                {"role": "user", "content": format!("q{i}")},
                {"role": "assistant", "content": format!("a{i}")},
            ]})
            .to_string(),
        );
        s.push('\n');
    }
    s.into_bytes()
}

fn s(v: &Value, k: &str) -> String {
    v[k].as_str()
        .unwrap_or_else(|| panic!("{k} in {v}"))
        .to_owned()
}

/// The validation is not vacuous: bodies that break the spec are caught.
#[test]
fn spec_validation_rejects_wrong_bodies() {
    let spec = spec();
    let good = json!({"object": "file", "id": "file-1", "bytes": 1, "created_at": 1, "filename": "a.jsonl",
        "purpose": "fine-tune", "status": "processed"});
    spec.check("GET", "/files/{file_id}", 200, &good);
    for broken in [
        json!({"object": "file", "id": "file-1", "created_at": 1, "filename": "a", "purpose": "fine-tune", "status": "processed"}),
        json!({"object": "file", "id": "file-1", "bytes": "1", "created_at": 1, "filename": "a", "purpose": "fine-tune", "status": "processed"}),
        json!({"object": "file", "id": "file-1", "bytes": 1, "created_at": 1, "filename": "a", "purpose": "nope", "status": "processed"}),
    ] {
        let r = std::panic::catch_unwind(|| spec.check("GET", "/files/{file_id}", 200, &broken));
        assert!(r.is_err(), "accepted {broken}");
    }
    let job_missing_seed = json!({"object": "fine_tuning.job", "id": "ftjob-1", "created_at": 1, "error": null,
        "finished_at": null, "fine_tuned_model": null, "hyperparameters": {}, "model": "m", "organization_id": "o",
        "result_files": [], "status": "running", "trained_tokens": null, "training_file": "f", "validation_file": null});
    let r = std::panic::catch_unwind(|| {
        spec.check(
            "GET",
            "/fine_tuning/jobs/{fine_tuning_job_id}",
            200,
            &job_missing_seed,
        )
    });
    assert!(r.is_err());
    let r = std::panic::catch_unwind(|| {
        spec.check("GET", "/files", 404, &json!({"error": {"message": "x"}}))
    });
    assert!(r.is_err(), "error bodies need type, param and code");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_and_errors_match_the_spec() {
    let h = Harness::new().await;
    // Empty list, then uploads.
    let empty = h.call(h.req(Method::GET, "/v1/files"), "/files", 200).await;
    assert_eq!(empty["data"], json!([]));
    let data = chat_jsonl(12);
    let f = h
        .upload_file(
            "train.jsonl",
            data.clone(),
            &[
                ("expires_after[anchor]", "created_at"),
                ("expires_after[seconds]", "3600"),
            ],
        )
        .await;
    let id = s(&f, "id");
    assert_eq!(f["bytes"], json!(data.len()));
    assert_eq!(
        f["expires_at"].as_i64().unwrap(),
        f["created_at"].as_i64().unwrap() + 3600
    );
    let g = h.upload_file("other.jsonl", chat_jsonl(3), &[]).await;
    h.call(
        h.req(Method::GET, &format!("/v1/files/{id}")),
        "/files/{file_id}",
        200,
    )
    .await;
    let page1 = h
        .call(
            h.req(Method::GET, "/v1/files?limit=1&order=asc"),
            "/files",
            200,
        )
        .await;
    assert_eq!(page1["data"][0]["id"], json!(id));
    assert_eq!(page1["has_more"], json!(true));
    let page2 = h
        .call(
            h.req(
                Method::GET,
                &format!("/v1/files?limit=1&order=asc&after={id}"),
            ),
            "/files",
            200,
        )
        .await;
    assert_eq!(page2["data"][0]["id"], g["id"]);
    assert_eq!(page2["has_more"], json!(false));
    let filtered = h
        .call(h.req(Method::GET, "/v1/files?purpose=batch"), "/files", 200)
        .await;
    assert_eq!(filtered["data"], json!([]));

    // The exact bytes are kept, also after deletion.
    let received = h
        .http
        .get(h.url(&format!("/_sandbox/files/{id}/received")))
        .send()
        .await
        .unwrap();
    assert_eq!(received.bytes().await.unwrap().to_vec(), data);
    h.delete_then_gone(&format!("/v1/files/{id}"), "/files/{file_id}")
        .await;
    let rec = h.inspect("/_sandbox/received").await;
    let entry = rec["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == json!(id))
        .unwrap()
        .clone();
    assert_eq!(entry["deleted"], json!(true));
    assert_eq!(entry["bytes"], json!(data.len()));
    let received = h
        .http
        .get(h.url(&format!("/_sandbox/files/{id}/received")))
        .send()
        .await
        .unwrap();
    assert_eq!(received.bytes().await.unwrap().to_vec(), data);

    // Expiry: a file with expires_after disappears once the clock passes expires_at.
    let e = h
        .upload_file(
            "exp.jsonl",
            chat_jsonl(10),
            &[
                ("expires_after[anchor]", "created_at"),
                ("expires_after[seconds]", "3600"),
            ],
        )
        .await;
    h.advance(3601.0).await;
    h.call(
        h.req(Method::GET, &format!("/v1/files/{}", s(&e, "id"))),
        "/files/{file_id}",
        404,
    )
    .await;
    let rec = h.inspect("/_sandbox/received").await;
    assert!(
        rec["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == e["id"] && r["expired"] == json!(true))
    );

    // Bad requests.
    let bad_purpose = reqwest::multipart::Form::new()
        .text("purpose", "nonsense")
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"{}".to_vec()).file_name("x.jsonl"),
        );
    h.call(
        h.req(Method::POST, "/v1/files").multipart(bad_purpose),
        "/files",
        400,
    )
    .await;
    let not_jsonl = reqwest::multipart::Form::new()
        .text("purpose", "fine-tune")
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"{}".to_vec()).file_name("x.txt"),
        );
    h.call(
        h.req(Method::POST, "/v1/files").multipart(not_jsonl),
        "/files",
        400,
    )
    .await;
    let short_expiry = reqwest::multipart::Form::new()
        .text("purpose", "fine-tune")
        .text("expires_after[anchor]", "created_at")
        .text("expires_after[seconds]", "60")
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"{}".to_vec()).file_name("x.jsonl"),
        );
    h.call(
        h.req(Method::POST, "/v1/files").multipart(short_expiry),
        "/files",
        400,
    )
    .await;
    h.call(
        h.req(Method::GET, &format!("/v1/files/{}/content", s(&g, "id"))),
        "/files/{file_id}/content",
        400,
    )
    .await;

    // Auth.
    let r = h.http.get(h.url("/v1/files")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    h.spec.check("GET", "/files", 401, &body);
    let r = h
        .http
        .get(h.url("/v1/files"))
        .bearer_auth("sk-wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    h.spec.check("GET", "/files", 401, &body);
    assert_eq!(body["error"]["code"], json!("invalid_api_key"));
    assert!(
        !body.to_string().contains("sk-wrong"),
        "the key is never echoed"
    );
    let r = h.req(Method::GET, "/v1/nothing-here").send().await.unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_match_the_spec_and_enforce_limits() {
    let h = Harness::new().await;
    let data = chat_jsonl(300);
    let create = |bytes: usize| {
        h.req(Method::POST, "/v1/uploads").json(&json!({
            "filename": "big.jsonl", "purpose": "fine-tune", "bytes": bytes, "mime_type": "text/jsonl",
            "expires_after": {"anchor": "created_at", "seconds": 7200},
        }))
    };
    let up = h.call(create(data.len()), "/uploads", 200).await;
    assert_eq!(up["status"], json!("pending"));
    let uid = s(&up, "id");
    let mut part_ids = Vec::new();
    let chunks: Vec<&[u8]> = data.chunks(data.len() / 3 + 1).collect();
    // Parts are added in reverse and put in order by `part_ids` on completion.
    for chunk in chunks.iter().rev() {
        let form = reqwest::multipart::Form::new()
            .part("data", reqwest::multipart::Part::bytes(chunk.to_vec()));
        let p = h
            .call(
                h.req(Method::POST, &format!("/v1/uploads/{uid}/parts"))
                    .multipart(form),
                "/uploads/{upload_id}/parts",
                200,
            )
            .await;
        part_ids.insert(0, s(&p, "id"));
    }
    let wrong_md5 = h
        .req(Method::POST, &format!("/v1/uploads/{uid}/complete"))
        .json(&json!({"part_ids": part_ids, "md5": "00"}));
    h.call(wrong_md5, "/uploads/{upload_id}/complete", 400)
        .await;
    let missing_part = h
        .req(Method::POST, &format!("/v1/uploads/{uid}/complete"))
        .json(&json!({"part_ids": &part_ids[..2]}));
    h.call(missing_part, "/uploads/{upload_id}/complete", 400)
        .await;
    let done = h
        .call(
            h.req(Method::POST, &format!("/v1/uploads/{uid}/complete"))
                .json(&json!({"part_ids": part_ids})),
            "/uploads/{upload_id}/complete",
            200,
        )
        .await;
    assert_eq!(done["status"], json!("completed"));
    let fid = s(&done["file"], "id");
    assert_eq!(done["file"]["bytes"], json!(data.len()));
    assert!(done["file"]["expires_at"].is_i64());
    let got = h
        .http
        .get(h.url(&format!("/_sandbox/files/{fid}/received")))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(got.to_vec(), data, "parts concatenated in part_ids order");
    let form = reqwest::multipart::Form::new()
        .part("data", reqwest::multipart::Part::bytes(b"late".to_vec()));
    h.call(
        h.req(Method::POST, &format!("/v1/uploads/{uid}/parts"))
            .multipart(form),
        "/uploads/{upload_id}/parts",
        400,
    )
    .await;
    h.call(
        h.req(Method::POST, &format!("/v1/uploads/{uid}/cancel")),
        "/uploads/{upload_id}/cancel",
        400,
    )
    .await;

    // Cancel, unknown ids, the 8 GB and 64 MB limits.
    let c = h.call(create(10), "/uploads", 200).await;
    let cancelled = h
        .call(
            h.req(Method::POST, &format!("/v1/uploads/{}/cancel", s(&c, "id"))),
            "/uploads/{upload_id}/cancel",
            200,
        )
        .await;
    assert_eq!(cancelled["status"], json!("cancelled"));
    h.call(
        h.req(Method::POST, "/v1/uploads/upload_nope/cancel"),
        "/uploads/{upload_id}/cancel",
        404,
    )
    .await;
    h.call(create(8 * 1024 * 1024 * 1024 + 1), "/uploads", 400)
        .await;
    let big = h.call(create(100 * 1024 * 1024), "/uploads", 200).await;
    let form = reqwest::multipart::Form::new().part(
        "data",
        reqwest::multipart::Part::bytes(vec![b'x'; 64 * 1024 * 1024 + 1]),
    );
    h.call(
        h.req(
            Method::POST,
            &format!("/v1/uploads/{}/parts", s(&big, "id")),
        )
        .multipart(form),
        "/uploads/{upload_id}/parts",
        400,
    )
    .await;
    let state = h.inspect("/_sandbox/state").await;
    assert_eq!(state["counts"]["pending_uploads"], json!(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fine_tuning_jobs_and_models_match_the_spec() {
    let h = Harness::new().await;
    let f = h.upload_file("train.jsonl", chat_jsonl(20), &[]).await;
    let fid = s(&f, "id");
    let create = |extra: Value| {
        let mut body = json!({"model": "gpt-4o-mini", "training_file": fid});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        h.req(Method::POST, "/v1/fine_tuning/jobs").json(&body)
    };
    let job = h
        .call(
            create(json!({
                "suffix": "contract", "seed": 42, "metadata": {"tunegate-uid": "u-1"},
                "method": {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 3, "batch_size": "auto"}}},
            })),
            "/fine_tuning/jobs",
            200,
        )
        .await;
    let jid = s(&job, "id");
    let get = |id: &str| h.req(Method::GET, &format!("/v1/fine_tuning/jobs/{id}"));
    assert_eq!(job["status"], json!("validating_files"));
    assert_eq!(job["model"], json!("gpt-4o-mini-2024-07-18"));
    // Queued from 15% to 25% of the job's time; the clock also moves with wall time, so land
    // early in that span (16%) to leave a slow machine 9 s.
    h.advance(JOB_SECONDS * 0.16).await;
    let j = h
        .call(get(&jid), "/fine_tuning/jobs/{fine_tuning_job_id}", 200)
        .await;
    assert_eq!(j["status"], json!("queued"));
    h.advance(JOB_SECONDS * 0.1).await;
    let j = h
        .call(get(&jid), "/fine_tuning/jobs/{fine_tuning_job_id}", 200)
        .await;
    assert_eq!(j["status"], json!("running"));
    assert_eq!(j["hyperparameters"]["n_epochs"], json!(3));
    assert!(j["hyperparameters"]["batch_size"].is_u64());

    // Pause: time stops for the job; resume picks up where it was.
    let p = h
        .call(
            h.req(Method::POST, &format!("/v1/fine_tuning/jobs/{jid}/pause")),
            "/fine_tuning/jobs/{fine_tuning_job_id}/pause",
            200,
        )
        .await;
    assert_eq!(p["status"], json!("paused"));
    h.call(
        h.req(Method::POST, &format!("/v1/fine_tuning/jobs/{jid}/pause")),
        "/fine_tuning/jobs/{fine_tuning_job_id}/pause",
        400,
    )
    .await;
    h.advance(JOB_SECONDS * 5.0).await;
    assert_eq!(
        h.call(get(&jid), "/fine_tuning/jobs/{fine_tuning_job_id}", 200)
            .await["status"],
        json!("paused")
    );
    let r = h
        .call(
            h.req(Method::POST, &format!("/v1/fine_tuning/jobs/{jid}/resume")),
            "/fine_tuning/jobs/{fine_tuning_job_id}/resume",
            200,
        )
        .await;
    assert_eq!(r["status"], json!("running"));
    h.advance(JOB_SECONDS).await;
    let done = h
        .call(get(&jid), "/fine_tuning/jobs/{fine_tuning_job_id}", 200)
        .await;
    assert_eq!(done["status"], json!("succeeded"));
    let model = s(&done, "fine_tuned_model");
    assert!(
        model.starts_with("ft:gpt-4o-mini-2024-07-18:contract-org:contract:"),
        "{model}"
    );
    assert!(done["trained_tokens"].as_u64().unwrap() > 0);
    assert!(done["finished_at"].is_i64());
    let result = done["result_files"][0].as_str().unwrap().to_owned();
    let rf = h
        .call(
            h.req(Method::GET, &format!("/v1/files/{result}")),
            "/files/{file_id}",
            200,
        )
        .await;
    assert_eq!(rf["purpose"], json!("fine-tune-results"));
    let csv = h
        .req(Method::GET, &format!("/v1/files/{result}/content"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.starts_with("step,train_loss"));

    // Events: newest first, increasing ids, `after` pages towards older ones.
    let ev = h
        .call(
            h.req(
                Method::GET,
                &format!("/v1/fine_tuning/jobs/{jid}/events?limit=100"),
            ),
            "/fine_tuning/jobs/{fine_tuning_job_id}/events",
            200,
        )
        .await;
    let all: Vec<Value> = ev["data"].as_array().unwrap().clone();
    let ids: Vec<String> = all.iter().map(|e| s(e, "id")).collect();
    let mut sorted = ids.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(ids, sorted, "newest first, ids increase with time");
    assert_eq!(
        all[0]["message"],
        json!("The job has successfully completed")
    );
    assert!(all.iter().any(|e| e["type"] == json!("metrics")));
    assert!(
        all.iter()
            .any(|e| e["message"] == json!("Fine-tuning job paused"))
    );
    let first = h
        .call(
            h.req(
                Method::GET,
                &format!("/v1/fine_tuning/jobs/{jid}/events?limit=3"),
            ),
            "/fine_tuning/jobs/{fine_tuning_job_id}/events",
            200,
        )
        .await;
    assert_eq!(first["has_more"], json!(true));
    let after = s(&first["data"][2], "id");
    let next = h
        .call(
            h.req(
                Method::GET,
                &format!("/v1/fine_tuning/jobs/{jid}/events?limit=3&after={after}"),
            ),
            "/fine_tuning/jobs/{fine_tuning_job_id}/events",
            200,
        )
        .await;
    assert_eq!(next["data"][0]["id"], json!(ids[3]));

    let ck = h
        .call(
            h.req(
                Method::GET,
                &format!("/v1/fine_tuning/jobs/{jid}/checkpoints"),
            ),
            "/fine_tuning/jobs/{fine_tuning_job_id}/checkpoints",
            200,
        )
        .await;
    assert_eq!(ck["data"].as_array().unwrap().len(), 3, "last three epochs");

    // Failures: too few examples, bad format, forced failure; cancel.
    let small = h.upload_file("small.jsonl", chat_jsonl(5), &[]).await;
    let mut broken = chat_jsonl(12);
    broken.extend_from_slice(b"{\"messages\": [\n");
    let broken = h.upload_file("broken.jsonl", broken, &[]).await;
    let few = h
        .call(
            h.req(Method::POST, "/v1/fine_tuning/jobs")
                .json(&json!({"model": "gpt-4o-mini", "training_file": small["id"]})),
            "/fine_tuning/jobs",
            200,
        )
        .await;
    let bad = h
        .call(
            h.req(Method::POST, "/v1/fine_tuning/jobs")
                .json(&json!({"model": "gpt-4o-mini", "training_file": broken["id"]})),
            "/fine_tuning/jobs",
            200,
        )
        .await;
    let cancel_me = h
        .call(
            create(json!({"metadata": {"tunegate-uid": "u-2"}})),
            "/fine_tuning/jobs",
            200,
        )
        .await;
    let c = h
        .call(
            h.req(
                Method::POST,
                &format!("/v1/fine_tuning/jobs/{}/cancel", s(&cancel_me, "id")),
            ),
            "/fine_tuning/jobs/{fine_tuning_job_id}/cancel",
            200,
        )
        .await;
    assert_eq!(c["status"], json!("cancelled"));
    h.call(
        h.req(
            Method::POST,
            &format!("/v1/fine_tuning/jobs/{}/cancel", s(&cancel_me, "id")),
        ),
        "/fine_tuning/jobs/{fine_tuning_job_id}/cancel",
        400,
    )
    .await;
    h.call(
        h.req(
            Method::POST,
            &format!("/v1/fine_tuning/jobs/{}/resume", s(&cancel_me, "id")),
        ),
        "/fine_tuning/jobs/{fine_tuning_job_id}/resume",
        400,
    )
    .await;
    h.http
        .post(h.url("/_sandbox/faults"))
        .json(&json!({"fail_next_jobs": 1}))
        .send()
        .await
        .unwrap();
    let doomed = h.call(create(json!({})), "/fine_tuning/jobs", 200).await;
    h.advance(JOB_SECONDS).await;
    let few = h
        .call(
            get(&s(&few, "id")),
            "/fine_tuning/jobs/{fine_tuning_job_id}",
            200,
        )
        .await;
    assert_eq!(few["status"], json!("failed"));
    assert_eq!(few["error"]["code"], json!("invalid_n_examples"));
    assert_eq!(few["error"]["param"], json!("training_file"));
    let bad = h
        .call(
            get(&s(&bad, "id")),
            "/fine_tuning/jobs/{fine_tuning_job_id}",
            200,
        )
        .await;
    assert_eq!(bad["error"]["code"], json!("invalid_file_format"));
    assert!(s(&bad["error"], "message").contains("Line 13"), "{bad}");
    let doomed = h
        .call(
            get(&s(&doomed, "id")),
            "/fine_tuning/jobs/{fine_tuning_job_id}",
            200,
        )
        .await;
    assert_eq!(doomed["status"], json!("failed"));
    assert!(doomed["fine_tuned_model"].is_null());

    // Listing: newest first, cursor, metadata filter.
    let list = h
        .call(
            h.req(Method::GET, "/v1/fine_tuning/jobs?limit=2"),
            "/fine_tuning/jobs",
            200,
        )
        .await;
    assert_eq!(list["has_more"], json!(true));
    let by_md = h
        .call(
            h.req(
                Method::GET,
                "/v1/fine_tuning/jobs?metadata[tunegate-uid]=u-1",
            ),
            "/fine_tuning/jobs",
            200,
        )
        .await;
    assert_eq!(by_md["data"].as_array().unwrap().len(), 1);
    assert_eq!(by_md["data"][0]["id"], json!(jid));
    let no_md = h
        .call(
            h.req(Method::GET, "/v1/fine_tuning/jobs?metadata=null"),
            "/fine_tuning/jobs",
            200,
        )
        .await;
    assert_eq!(no_md["data"].as_array().unwrap().len(), 3);
    h.call(
        get("ftjob-nope"),
        "/fine_tuning/jobs/{fine_tuning_job_id}",
        404,
    )
    .await;

    // Invalid creations.
    for body in [
        json!({"model": "gpt-unknown", "training_file": fid}),
        json!({"model": "gpt-4o-mini", "training_file": "file-missing"}),
        json!({"model": "gpt-4o-mini", "training_file": result}),
        json!({"model": "gpt-4o-mini", "training_file": fid, "suffix": "x".repeat(65)}),
        json!({"model": "gpt-4o-mini", "training_file": fid, "hyperparameters": {"n_epochs": 0}}),
        json!({"model": "gpt-4o-mini", "training_file": fid, "method": {"type": "dpo", "dpo": {"hyperparameters": {"beta": 3}}}}),
        json!({"model": "gpt-4o-mini", "training_file": fid, "surprise": true}),
        json!({"training_file": fid}),
    ] {
        h.call(
            h.req(Method::POST, "/v1/fine_tuning/jobs").json(&body),
            "/fine_tuning/jobs",
            400,
        )
        .await;
    }

    // Models.
    let models = h
        .call(h.req(Method::GET, "/v1/models"), "/models", 200)
        .await;
    assert!(
        models["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == json!(model))
    );
    h.call(
        h.req(Method::GET, &format!("/v1/models/{model}")),
        "/models/{model}",
        200,
    )
    .await;
    h.call(
        h.req(Method::GET, "/v1/models/gpt-4o-mini"),
        "/models/{model}",
        200,
    )
    .await;
    h.call(
        h.req(Method::DELETE, "/v1/models/gpt-4o-mini"),
        "/models/{model}",
        403,
    )
    .await;
    h.delete_then_gone(&format!("/v1/models/{model}"), "/models/{model}")
        .await;
    let state = h.inspect("/_sandbox/state").await;
    assert_eq!(state["counts"]["models"], json!(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_are_injected_as_configured() {
    let h = Harness::new().await;
    h.http
        .post(h.url("/_sandbox/faults"))
        .json(&json!({"rules": [
            {"route": "GET /v1/models", "count": 3, "kinds": ["429", "503", "500"], "retry_after_ms": 1500},
            {"route": "GET /v1/files", "count": 1, "kinds": ["drop"]},
            {"route": "GET /v1/models/*", "latency_ms": 200},
        ]}))
        .send()
        .await
        .unwrap();
    let r = h.req(Method::GET, "/v1/models").send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "2");
    assert_eq!(r.headers()["retry-after-ms"], "1500");
    let body: Value = r.json().await.unwrap();
    h.spec.check("GET", "/models", 429, &body);
    assert_eq!(body["error"]["code"], json!("rate_limit_exceeded"));
    let r = h.req(Method::GET, "/v1/models").send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    let r = h.req(Method::GET, "/v1/models").send().await.unwrap();
    assert_eq!(r.status(), 500);
    h.call(h.req(Method::GET, "/v1/models"), "/models", 200)
        .await;

    let dropped = h.req(Method::GET, "/v1/files").send().await;
    assert!(dropped.is_err(), "connection dropped without a response");
    h.call(h.req(Method::GET, "/v1/files"), "/files", 200).await;

    let t = std::time::Instant::now();
    h.call(
        h.req(Method::GET, "/v1/models/gpt-4o"),
        "/models/{model}",
        200,
    )
    .await;
    assert!(t.elapsed() >= Duration::from_millis(200));

    let log = h.inspect("/_sandbox/requests").await;
    let faults: Vec<Value> = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["fault"].clone())
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(
        faults,
        vec![json!("429"), json!("503"), json!("500"), json!("drop")]
    );
    let cfg = h.inspect("/_sandbox/faults").await;
    assert_eq!(cfg["rules"][0]["injected"], json!(3));

    // drop_after: the job is created but the response is lost; the client finds it by metadata.
    let f = h.upload_file("t.jsonl", chat_jsonl(10), &[]).await;
    h.http
        .post(h.url("/_sandbox/faults"))
        .json(&json!({"rules": [{"route": "POST /v1/fine_tuning/jobs", "count": 1, "kinds": ["drop_after"]}]}))
        .send()
        .await
        .unwrap();
    let lost = h
        .req(Method::POST, "/v1/fine_tuning/jobs")
        .json(&json!({"model": "gpt-4o-mini", "training_file": f["id"], "metadata": {"tunegate-uid": "lost"}}))
        .send()
        .await;
    assert!(lost.is_err(), "response lost");
    let found = h
        .call(
            h.req(
                Method::GET,
                "/v1/fine_tuning/jobs?metadata[tunegate-uid]=lost",
            ),
            "/fine_tuning/jobs",
            200,
        )
        .await;
    assert_eq!(
        found["data"].as_array().unwrap().len(),
        1,
        "the job was created"
    );

    // Reset forgets everything.
    h.upload_file("t.jsonl", chat_jsonl(10), &[]).await;
    h.http.post(h.url("/_sandbox/reset")).send().await.unwrap();
    let state = h.inspect("/_sandbox/state").await;
    assert_eq!(state["counts"]["files"], json!(0));
    assert_eq!(state["counts"]["received"], json!(0));
}

/// An Azure file once its import check ran. The check is real work on a background task, so
/// past its (virtual) processing time the file says `running` until that task has finished
/// reading it: wait for it in real time, briefly.
async fn imported(az: &impl Fn(Method, &str) -> reqwest::RequestBuilder, id: &str) -> Value {
    for _ in 0..600 {
        let f: Value = az(Method::GET, &format!("/files/{id}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if f["status"] != json!("running") {
            return f;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the import check of {id} did not finish in 30 s");
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_flavour_differs_where_azure_does() {
    let h = Harness::new().await;
    let az = |m: Method, p: &str| {
        let sep = if p.contains('?') { '&' } else { '?' };
        h.http
            .request(m, h.url(&format!("/openai{p}{sep}api-version=2024-10-21")))
            .header("api-key", KEY)
    };
    let azure_error = |v: &Value| {
        assert!(
            v["error"]["code"].is_string() && v["error"]["message"].is_string(),
            "Azure error shape: {v}"
        );
    };
    // No api-version: 400. Wrong key: 401.
    let r = h
        .http
        .get(h.url("/openai/files"))
        .header("api-key", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    azure_error(&r.json().await.unwrap());
    let r = h
        .http
        .get(h.url("/openai/files?api-version=2024-10-21"))
        .header("api-key", "nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    azure_error(&r.json().await.unwrap());
    // Bearer auth for OpenAI paths does not open Azure ones without the key, and vice versa.
    let r = h
        .http
        .get(h.url("/v1/files"))
        .header("api-key", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let form = reqwest::multipart::Form::new()
        .text("purpose", "fine-tune")
        .part(
            "file",
            reqwest::multipart::Part::bytes(chat_jsonl(10)).file_name("az.jsonl"),
        );
    let r = az(Method::POST, "/files")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let f: Value = r.json().await.unwrap();
    assert_eq!(f["status"], json!("pending"));
    let fid = s(&f, "id");
    let r = az(Method::POST, "/fine_tuning/jobs")
        .json(&json!({"model": "gpt-4o-mini", "training_file": fid}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    azure_error(&r.json().await.unwrap());
    h.advance(11.0).await;
    let f: Value = az(Method::GET, &format!("/files/{fid}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(f["status"], json!("running"));
    h.advance(20.0).await;
    let f = imported(&az, &fid).await;
    assert_eq!(f["status"], json!("processed"));
    // Not JSON lines: Azure's import puts the file in `error`.
    let form = reqwest::multipart::Form::new()
        .text("purpose", "fine-tune")
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"not json\n".to_vec()).file_name("bad.jsonl"),
        );
    let bad: Value = az(Method::POST, "/files")
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    h.advance(31.0).await;
    let bad = imported(&az, &s(&bad, "id")).await;
    assert_eq!(bad["status"], json!("error"));

    let r = az(Method::POST, "/fine_tuning/jobs")
        .json(&json!({"model": "gpt-4o-mini", "training_file": fid, "suffix": "az"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let job: Value = r.json().await.unwrap();
    let jid = s(&job, "id");
    // Azure objects are not visible through the OpenAI paths.
    let r = h
        .req(Method::GET, &format!("/v1/fine_tuning/jobs/{jid}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    h.advance(JOB_SECONDS).await;
    let job: Value = az(Method::GET, &format!("/fine_tuning/jobs/{jid}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(job["status"], json!("succeeded"));
    let model = s(&job, "fine_tuned_model");
    assert!(
        model.starts_with("gpt-4o-mini-2024-07-18.ft-") && model.ends_with("-az"),
        "{model}"
    );
    let r = az(Method::DELETE, &format!("/models/{model}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    azure_error(&r.json().await.unwrap());
    let r = az(Method::DELETE, &format!("/fine_tuning/jobs/{jid}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = az(Method::GET, &format!("/fine_tuning/jobs/{jid}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    azure_error(&r.json().await.unwrap());
    let r = h
        .req(Method::DELETE, "/v1/fine_tuning/jobs/ftjob-x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "OpenAI has no job deletion");
    let r = az(Method::DELETE, &format!("/files/{fid}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = az(Method::GET, &format!("/files/{fid}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

/// Azure's v1 data plane (`/openai/v1/...`, no api-version), `trainingType`, Azure's 40-character
/// suffix, and the grader validation call (OpenAI only).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_v1_training_type_suffix_and_graders() {
    let h = Harness::new().await;
    let v1 = |m: Method, p: &str| {
        h.http
            .request(m, h.url(&format!("/openai/v1{p}")))
            .header("api-key", KEY)
    };
    let dated = |m: Method, p: &str, version: &str| {
        h.http
            .request(m, h.url(&format!("/openai{p}?api-version={version}")))
            .header("api-key", KEY)
    };
    let form = reqwest::multipart::Form::new()
        .text("purpose", "fine-tune")
        .part(
            "file",
            reqwest::multipart::Part::bytes(chat_jsonl(10)).file_name("v1.jsonl"),
        );
    let r = v1(Method::POST, "/files")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "v1 needs no api-version");
    let f: Value = r.json().await.unwrap();
    let fid = s(&f, "id");
    // The same file through the dated paths: one Azure resource, two path styles.
    let r = dated(Method::GET, &format!("/files/{fid}"), "2024-10-21")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Pending: 400, on the v1 plane as well.
    let r = v1(Method::POST, "/fine_tuning/jobs")
        .json(&json!({"model": "gpt-4.1-mini", "training_file": fid}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    h.advance(31.0).await;
    assert_eq!(
        imported(&|m, p| v1(m, p), &fid).await["status"],
        "processed"
    );
    let job = |body: Value| v1(Method::POST, "/fine_tuning/jobs").json(&body).send();
    // Azure's suffix: at most 40 characters, no dots.
    for suffix in ["x".repeat(41), "with.dot".into()] {
        let r = job(json!({"model": "gpt-4.1-mini", "training_file": fid, "suffix": suffix}))
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{suffix}");
    }
    // trainingType: known words only; echoed back.
    let r = job(json!({"model": "gpt-4.1-mini", "training_file": fid, "trainingType": "premium"}))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = job(json!({
        "model": "gpt-4.1-mini", "training_file": fid, "suffix": "x".repeat(40),
        "trainingType": "GlobalStandard"
    }))
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["trainingType"], "globalstandard");
    // A dated version before 2025-04-01-preview does not know trainingType.
    let r = dated(Method::POST, "/fine_tuning/jobs", "2024-10-21")
        .json(&json!({"model": "gpt-4.1-mini", "training_file": fid, "trainingType": "developer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = dated(Method::POST, "/fine_tuning/jobs", "2025-04-01-preview")
        .json(&json!({"model": "gpt-4.1-mini", "training_file": fid, "trainingType": "developer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // OpenAI takes no trainingType.
    let r = h
        .req(Method::POST, "/v1/fine_tuning/jobs")
        .json(&json!({"model": "gpt-4.1-mini", "training_file": "file-x", "trainingType": "standard"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // Grader validation: OpenAI echoes a valid grader, names the missing field otherwise.
    let grader = json!({
        "type": "string_check", "name": "exact", "input": "{{sample.output_text}}",
        "reference": "{{item.label}}", "operation": "eq"
    });
    let ok = h
        .call(
            h.req(Method::POST, "/v1/fine_tuning/alpha/graders/validate")
                .json(&json!({"grader": grader})),
            "/fine_tuning/alpha/graders/validate",
            200,
        )
        .await;
    assert_eq!(ok["grader"], grader);
    for bad in [
        json!({"type": "string_check", "name": "n", "input": "i", "reference": "r", "operation": "contains"}),
        json!({"type": "score_model", "name": "n", "input": []}),
        json!({"type": "multi", "name": "m", "calculate_output": "a", "graders": {"type": "nope"}}),
    ] {
        h.call(
            h.req(Method::POST, "/v1/fine_tuning/alpha/graders/validate")
                .json(&json!({"grader": bad})),
            "/fine_tuning/alpha/graders/validate",
            400,
        )
        .await;
    }
    let r = v1(Method::POST, "/fine_tuning/alpha/graders/validate")
        .json(&json!({"grader": grader}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "Azure documents no grader validation call");

    // Running a grader: the response matches RunGraderResponse, the reward follows the grader.
    for (sample, want) in [("billing", 1.0), ("outage", 0.0)] {
        let run = h
            .call(
                h.req(Method::POST, "/v1/fine_tuning/alpha/graders/run").json(
                    &json!({"grader": grader, "model_sample": sample, "item": {"label": "billing"}}),
                ),
                "/fine_tuning/alpha/graders/run",
                200,
            )
            .await;
        assert_eq!(run["reward"], want, "{run}");
    }
    let missing_var = h
        .call(
            h.req(Method::POST, "/v1/fine_tuning/alpha/graders/run")
                .json(&json!({"grader": grader, "model_sample": "billing"})),
            "/fine_tuning/alpha/graders/run",
            200,
        )
        .await;
    assert_eq!(
        missing_var["metadata"]["errors"]["invalid_variable_error"],
        true
    );
    for bad in [
        json!({"grader": grader}),
        json!({"grader": grader, "model_sample": 3}),
        json!({"grader": {"type": "nope"}, "model_sample": "x"}),
    ] {
        h.call(
            h.req(Method::POST, "/v1/fine_tuning/alpha/graders/run")
                .json(&bad),
            "/fine_tuning/alpha/graders/run",
            400,
        )
        .await;
    }
}

/// An organisation without self-serve fine-tuning (OpenAI's 2026 wind-down) gets 403 on job
/// creation; everything else still works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_organisation_gets_403_on_job_creation() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut cfg = Config::new(KEY);
    cfg.fine_tuning_refused = true;
    let sandbox = start(cfg, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("sandbox starts");
    let h = Harness {
        sandbox,
        http: Client::new(),
        spec: spec(),
    };
    let f = h.upload_file("r.jsonl", chat_jsonl(10), &[]).await;
    let e = h
        .call(
            h.req(Method::POST, "/v1/fine_tuning/jobs")
                .json(&json!({"model": "gpt-4o-mini", "training_file": s(&f, "id")})),
            "/fine_tuning/jobs",
            403,
        )
        .await;
    assert_eq!(e["error"]["type"], "invalid_request_error");
}
