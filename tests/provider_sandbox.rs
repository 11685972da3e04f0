//! The provider client against `openai-sandbox` (started in-process on a free port): the whole
//! lifecycle through the `FineTuneProvider` trait, retries and their limits, Azure paths and
//! headers, and the guarantee that an aborted upload stream never produces a file.

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use openai_sandbox::{Config, Running, start};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tunegate::provider::{
    ApiKey, ByteStream, DeleteOutcome, Dialect, Endpoint, FileUpload, FineTuneProvider,
    HttpProvider, JobCreate, JobStatus, Operation, ProviderOptions, RequestObserver,
    RequestOutcome, RetryPolicy, UploadLimits,
};

const KEY: &str = "sk-sandbox-test-key";

async fn sandbox(job_seconds: f64) -> Running {
    let mut cfg = Config::new(KEY);
    cfg.job_seconds = job_seconds;
    cfg.azure_file_seconds = 0.3;
    // Spool under target/: something on shared machines prunes /tmp/openai-sandbox-* dirs.
    cfg.spool_dir = Some(env!("CARGO_TARGET_TMPDIR").into());
    start(cfg, "127.0.0.1:0".parse().unwrap()).await.unwrap()
}

/// Fast retries so tests do not sleep for long; server hints are still honoured exactly.
fn options() -> ProviderOptions {
    ProviderOptions {
        retry: RetryPolicy {
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            ..RetryPolicy::default()
        },
        file_ready_poll: Duration::from_millis(50),
        ..ProviderOptions::default()
    }
}

fn openai_with(sb: &Running, options: ProviderOptions) -> HttpProvider {
    let endpoint = Endpoint::new(
        &format!("{}/v1", sb.base_url()),
        Dialect::OpenAi {
            organization: Some("org-tunegate".into()),
            project: Some("proj-tests".into()),
        },
    )
    .unwrap();
    HttpProvider::new(
        endpoint,
        ApiKey::from_bytes(KEY.as_bytes()).unwrap(),
        options,
    )
    .unwrap()
}

fn openai(sb: &Running) -> HttpProvider {
    openai_with(sb, options())
}

fn azure_with_key(sb: &Running, key: &str) -> HttpProvider {
    let endpoint = Endpoint::new(
        &sb.base_url(),
        Dialect::Azure {
            api_version: "2024-10-21".into(),
        },
    )
    .unwrap();
    HttpProvider::new(
        endpoint,
        ApiKey::from_bytes(key.as_bytes()).unwrap(),
        options(),
    )
    .unwrap()
}

fn chat_jsonl(examples: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..examples {
        let line = json!({"messages": [
            {"role": "system", "content": "You are a helpful support bot."},
            {"role": "user", "content": format!("How do I reset password number {i}?")},
            {"role": "assistant", "content": format!("Open settings and follow step {i}.")}
        ]});
        out.extend_from_slice(line.to_string().as_bytes());
        out.push(b'\n');
    }
    out
}

/// The bytes as a stream of `chunk`-sized pieces, optionally ending with an error after the
/// last byte (how the controller reports a digest mismatch).
fn stream_of(data: Vec<u8>, chunk: usize, fail_at_end: bool) -> ByteStream {
    let data = Bytes::from(data);
    let mut items: Vec<Result<Bytes, io::Error>> = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let end = (at + chunk).min(data.len());
        items.push(Ok(data.slice(at..end)));
        at = end;
    }
    if fail_at_end {
        items.push(Err(io::Error::other("redacted digest mismatch")));
    }
    Box::pin(futures::stream::iter(items))
}

fn upload(name: &str, data: Vec<u8>) -> FileUpload {
    FileUpload {
        filename: name.into(),
        bytes: data.len() as u64,
        expires_after: Some(Duration::from_secs(7200)),
        body: stream_of(data, 1000, false),
        on_upload_created: None,
    }
}

async fn get_json(sb: &Running, path: &str) -> Value {
    reqwest::get(format!("{}{path}", sb.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn post_json(sb: &Running, path: &str, body: Value) -> Value {
    reqwest::Client::new()
        .post(format!("{}{path}", sb.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn requests(sb: &Running) -> Vec<Value> {
    get_json(sb, "/_sandbox/requests").await["data"]
        .as_array()
        .unwrap()
        .clone()
}

async fn count_requests(sb: &Running, method: &str, path: &str) -> usize {
    requests(sb)
        .await
        .iter()
        .filter(|r| r["method"] == method && r["path"] == path)
        .count()
}

async fn state(sb: &Running) -> Value {
    get_json(sb, "/_sandbox/state").await
}

async fn wait_for_status(
    p: &dyn FineTuneProvider,
    job_id: &str,
    want: impl Fn(&JobStatus) -> bool,
) -> tunegate::provider::FineTuningJob {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let job = p.retrieve_job(job_id).await.unwrap();
        if want(&job.status) {
            return job;
        }
        assert!(Instant::now() < deadline, "job stuck in {}", job.status);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn job_request(file: &str, uid: &str) -> JobCreate {
    JobCreate {
        model: "gpt-4o-mini-2024-07-18".into(),
        training_file: file.into(),
        suffix: Some("support-bot".into()),
        seed: Some(42),
        metadata: BTreeMap::from([("tunegate-uid".into(), uid.into())]),
        ..JobCreate::default()
    }
}

#[derive(Default)]
struct Counter(Mutex<Vec<(Operation, RequestOutcome)>>);

impl RequestObserver for Counter {
    fn observe(&self, operation: Operation, outcome: RequestOutcome, _: Duration) {
        self.0.lock().unwrap().push((operation, outcome));
    }
}

#[tokio::test]
async fn openai_full_lifecycle() {
    // A 60 s job driven by the sandbox clock: the pause below must land while it runs, which a
    // short wall-clock job on a busy machine can miss.
    let sb = sandbox(60.0).await;
    let counter = Arc::new(Counter::default());
    let p: Arc<dyn FineTuneProvider> = Arc::new(openai_with(
        &sb,
        ProviderOptions {
            observer: counter.clone(),
            ..options()
        },
    ));

    // Upload: exactly these bytes arrive.
    let data = chat_jsonl(20);
    let file = p
        .upload_file(upload("tunegate-uid1-training.jsonl", data.clone()))
        .await
        .unwrap();
    assert_eq!(file.bytes, Some(data.len() as u64));
    assert!(file.expires_at.is_some(), "expires_after was sent");
    let received = reqwest::get(format!(
        "{}/_sandbox/files/{}/received",
        sb.base_url(),
        file.id
    ))
    .await
    .unwrap()
    .bytes()
    .await
    .unwrap();
    assert_eq!(received.as_ref(), data.as_slice());
    assert_eq!(p.wait_file_ready(&file.id).await.unwrap().id, file.id);
    assert_eq!(p.retrieve_file(&file.id).await.unwrap().id, file.id);
    let found = p
        .find_files_by_filename("tunegate-uid1-training.jsonl")
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert!(
        p.find_files_by_filename("nope.jsonl")
            .await
            .unwrap()
            .is_empty()
    );

    // Create, adopt by metadata, pause and resume, run to success.
    let job = p.create_job(&job_request(&file.id, "uid1")).await.unwrap();
    let adopted = p
        .find_jobs_by_metadata("tunegate-uid", "uid1")
        .await
        .unwrap();
    assert_eq!(
        adopted.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
        [job.id.as_str()]
    );
    assert!(
        p.find_jobs_by_metadata("tunegate-uid", "other")
            .await
            .unwrap()
            .is_empty()
    );
    post_json(&sb, "/_sandbox/clock/advance", json!({"seconds": 16})).await;
    wait_for_status(p.as_ref(), &job.id, |s| *s == JobStatus::Running).await;
    let paused = p.pause_job(&job.id).await.unwrap();
    assert_eq!(paused.status, JobStatus::Paused);
    assert!(paused.status.is_paused() && !paused.status.is_terminal());
    assert!(!p.resume_job(&job.id).await.unwrap().status.is_paused());
    post_json(&sb, "/_sandbox/clock/advance", json!({"seconds": 60})).await;
    let done = wait_for_status(p.as_ref(), &job.id, JobStatus::is_terminal).await;
    assert_eq!(done.status, JobStatus::Succeeded);
    let model = done.fine_tuned_model.clone().expect("fine-tuned model");
    assert!(model.starts_with("ft:gpt-4o-mini-2024-07-18:"), "{model}");
    assert!(done.trained_tokens.unwrap_or(0) > 0);
    assert!(done.finished_at.is_some());

    // Events: oldest first; after a cursor, only newer ones.
    let events = p.job_events_since(&job.id, None).await.unwrap();
    assert!(events.len() >= 3, "{events:?}");
    let created: Vec<i64> = events.iter().filter_map(|e| e.created_at).collect();
    assert!(created.windows(2).all(|w| w[0] <= w[1]), "{created:?}");
    let cursor = events[events.len() / 2].id.clone();
    let newer = p.job_events_since(&job.id, Some(&cursor)).await.unwrap();
    assert_eq!(
        newer.iter().map(|e| &e.id).collect::<Vec<_>>(),
        events[events.len() / 2 + 1..]
            .iter()
            .map(|e| &e.id)
            .collect::<Vec<_>>()
    );
    let last = events.last().unwrap().id.clone();
    assert!(
        p.job_events_since(&job.id, Some(&last))
            .await
            .unwrap()
            .is_empty()
    );
    let checkpoints = p.list_job_checkpoints(&job.id, None, 10).await.unwrap();
    assert!(!checkpoints.data.is_empty());

    // A second job, cancelled.
    let other = p.create_job(&job_request(&file.id, "uid2")).await.unwrap();
    let cancelled = p.cancel_job(&other.id).await.unwrap();
    assert_eq!(cancelled.status, JobStatus::Cancelled);
    // OpenAI has no job deletion.
    assert_eq!(
        p.delete_job(&other.id).await.unwrap_err().code(),
        "unsupported_operation"
    );

    // Cleanup: model and file, then 404s are AlreadyGone.
    assert_eq!(
        p.delete_model(&model).await.unwrap(),
        DeleteOutcome::Deleted
    );
    assert_eq!(
        p.delete_model(&model).await.unwrap(),
        DeleteOutcome::AlreadyGone
    );
    assert_eq!(
        p.delete_file(&file.id).await.unwrap(),
        DeleteOutcome::Deleted
    );
    assert_eq!(
        p.delete_file(&file.id).await.unwrap(),
        DeleteOutcome::AlreadyGone
    );
    let err = p.retrieve_file(&file.id).await.unwrap_err();
    assert_eq!((err.status(), err.is_recoverable()), (Some(404), false));
    assert_eq!(state(&sb).await["counts"]["client_files"], 0);

    // Organization and project headers went out on every request.
    let api_requests: Vec<Value> = requests(&sb)
        .await
        .into_iter()
        .filter(|r| r["path"].as_str().unwrap().starts_with("/v1/"))
        .collect();
    assert!(!api_requests.is_empty());
    for r in &api_requests {
        assert_eq!(r["openai_organization"], "org-tunegate", "{r}");
        assert_eq!(r["openai_project"], "proj-tests", "{r}");
    }
    // The observer saw every attempt.
    let seen = counter.0.lock().unwrap();
    assert!(seen.contains(&(Operation::UploadFile, RequestOutcome::Status(200))));
    assert!(seen.contains(&(Operation::DeleteModel, RequestOutcome::Status(404))));
}

#[tokio::test]
async fn a_five_example_job_fails_with_the_provider_error() {
    let sb = sandbox(1.0).await;
    let p = openai(&sb);
    let file = p
        .upload_file(upload("five.jsonl", chat_jsonl(5)))
        .await
        .unwrap();
    let job = p.create_job(&job_request(&file.id, "uid5")).await.unwrap();
    let done = wait_for_status(&p, &job.id, JobStatus::is_terminal).await;
    assert_eq!(done.status, JobStatus::Failed);
    let failure = done.failure().expect("error set");
    assert_eq!(failure.code.as_deref(), Some("invalid_n_examples"));
}

#[tokio::test]
async fn retries_429_and_5xx_honouring_retry_after() {
    let sb = sandbox(30.0).await;
    let counter = Arc::new(Counter::default());
    let p = openai_with(
        &sb,
        ProviderOptions {
            observer: counter.clone(),
            ..options()
        },
    );
    let file = p
        .upload_file(upload("r.jsonl", chat_jsonl(10)))
        .await
        .unwrap();
    let path = format!("/v1/files/{}", file.id);
    post_json(
        &sb,
        "/_sandbox/faults",
        json!({"rules": [{"route": format!("GET {path}"), "count": 3,
                          "kinds": ["429", "503", "500"], "retry_after_ms": 400}]}),
    )
    .await;
    let started = Instant::now();
    let got = p.retrieve_file(&file.id).await.unwrap();
    let took = started.elapsed();
    assert_eq!(got.id, file.id);
    // 429 and 503 carried retry-after-ms 400: both waits honoured.
    assert!(took >= Duration::from_millis(800), "{took:?}");
    assert_eq!(count_requests(&sb, "GET", &path).await, 4);
    let statuses: Vec<RequestOutcome> = counter
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|(op, _)| *op == Operation::RetrieveFile)
        .map(|(_, o)| *o)
        .collect();
    assert_eq!(
        statuses,
        [429, 503, 500, 200].map(RequestOutcome::Status).to_vec()
    );

    // A dropped connection is retried too.
    post_json(
        &sb,
        "/_sandbox/faults",
        json!({"rules": [{"route": format!("GET {path}"), "count": 1, "kinds": ["drop"]}]}),
    )
    .await;
    assert_eq!(p.retrieve_file(&file.id).await.unwrap().id, file.id);

    // Bounded: a route that always fails gives up after max_attempts with the last error.
    post_json(
        &sb,
        "/_sandbox/faults",
        json!({"rules": [{"route": format!("GET {path}"), "rate": 1.0, "kinds": ["502"]}]}),
    )
    .await;
    let before = count_requests(&sb, "GET", &path).await;
    let err = p.retrieve_file(&file.id).await.unwrap_err();
    assert_eq!(err.status(), Some(502));
    assert!(err.is_recoverable());
    assert_eq!(count_requests(&sb, "GET", &path).await - before, 5);

    // A server hint longer than we wait in-process ends the retries and is handed back.
    post_json(
        &sb,
        "/_sandbox/faults",
        json!({"rules": [{"route": format!("GET {path}"), "rate": 1.0, "kinds": ["429"],
                          "retry_after_ms": 120000}]}),
    )
    .await;
    let err = p.retrieve_file(&file.id).await.unwrap_err();
    assert_eq!(err.code(), "rate_limited");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(120)));
}

#[tokio::test]
async fn never_retries_a_400_and_creates_only_when_safe() {
    let sb = sandbox(30.0).await;
    let p = openai(&sb);
    let err = p
        .create_job(&job_request("file-does-not-exist", "uid"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400), "{err}");
    assert!(!err.is_recoverable());
    assert_eq!(count_requests(&sb, "POST", "/v1/fine_tuning/jobs").await, 1);

    // 429 on create: the server did nothing, so it is retried.
    let file = p
        .upload_file(upload("c.jsonl", chat_jsonl(10)))
        .await
        .unwrap();
    post_json(
        &sb,
        "/_sandbox/faults",
        json!({"rules": [{"route": "POST /v1/fine_tuning/jobs", "count": 1, "kinds": ["429"],
                          "retry_after_ms": 50}]}),
    )
    .await;
    p.create_job(&job_request(&file.id, "a")).await.unwrap();
    assert_eq!(count_requests(&sb, "POST", "/v1/fine_tuning/jobs").await, 3);
    assert_eq!(
        p.find_jobs_by_metadata("tunegate-uid", "a")
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn azure_paths_headers_and_differences() {
    let sb = sandbox(2.0).await;
    let p = azure_with_key(&sb, KEY);
    let file = p
        .upload_file(upload("az.jsonl", chat_jsonl(12)))
        .await
        .unwrap();
    let ready = p.wait_file_ready(&file.id).await.unwrap();
    assert_eq!(
        ready.status.map(|s| s.as_str().to_owned()).as_deref(),
        Some("processed")
    );
    let job = p.create_job(&job_request(&file.id, "az1")).await.unwrap();
    assert_eq!(
        p.find_jobs_by_metadata("tunegate-uid", "az1")
            .await
            .unwrap()
            .len(),
        1
    );
    let done = wait_for_status(&p, &job.id, JobStatus::is_terminal).await;
    assert_eq!(done.status, JobStatus::Succeeded);
    let model = done.fine_tuned_model.unwrap();
    let err = p.delete_model(&model).await.unwrap_err();
    assert_eq!(err.code(), "model_deletion_unsupported");
    assert!(err.to_string().contains("Azure"));
    assert_eq!(p.delete_job(&job.id).await.unwrap(), DeleteOutcome::Deleted);
    assert_eq!(
        p.delete_job(&job.id).await.unwrap(),
        DeleteOutcome::AlreadyGone
    );
    assert_eq!(
        p.delete_file(&file.id).await.unwrap(),
        DeleteOutcome::Deleted
    );

    let log = requests(&sb).await;
    let api_requests: Vec<&Value> = log
        .iter()
        .filter(|r| !r["path"].as_str().unwrap().starts_with("/_sandbox"))
        .collect();
    assert!(!api_requests.is_empty());
    for r in api_requests {
        let path = r["path"].as_str().unwrap();
        assert!(path.starts_with("/openai/"), "{r}");
        assert!(
            r["query"]
                .as_str()
                .unwrap_or("")
                .contains("api-version=2024-10-21"),
            "{r}"
        );
        assert_ne!(r["status"], 401, "{r}");
    }

    // A wrong key is terminal, and the error names no key.
    let bad = azure_with_key(&sb, "wrong-key");
    let err = bad.retrieve_file(&file.id).await.unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(401), "authentication_failed")
    );
    assert!(!err.is_recoverable());
    assert!(!err.to_string().contains(KEY));
}

#[tokio::test]
async fn an_aborted_stream_never_produces_a_file() {
    let sb = sandbox(30.0).await;
    // Single request: the stream fails after its last byte.
    let p = openai(&sb);
    let data = chat_jsonl(50);
    let err = p
        .upload_file(FileUpload {
            filename: "aborted.jsonl".into(),
            bytes: data.len() as u64,
            expires_after: None,
            body: stream_of(data.clone(), 700, true),
            on_upload_created: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), "upload_stream_aborted", "{err}");
    // Too short and too long streams are refused the same way.
    for (declared, code) in [
        (data.len() + 1, "upload_length_mismatch"),
        (data.len() - 1, "upload_length_mismatch"),
    ] {
        let err = p
            .upload_file(FileUpload {
                filename: "mismatch.jsonl".into(),
                bytes: declared as u64,
                expires_after: None,
                body: stream_of(data.clone(), 700, false),
                on_upload_created: None,
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), code);
    }

    // Uploads API (small limits so parts are small): cancelled, never completed.
    let small = openai_with(
        &sb,
        ProviderOptions {
            upload: UploadLimits {
                single_request_max: 4096,
                part_size: 4096,
                max_bytes: 1 << 30,
            },
            ..options()
        },
    );
    let hook_calls = Arc::new(AtomicU32::new(0));
    let calls = hook_calls.clone();
    let err = small
        .upload_file(FileUpload {
            filename: "aborted-parts.jsonl".into(),
            bytes: data.len() as u64,
            expires_after: None,
            body: stream_of(data.clone(), 1500, true),
            on_upload_created: Some(Arc::new(move |_id| {
                calls.fetch_add(1, Ordering::SeqCst);
                Box::pin(async {})
            })),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), "upload_stream_aborted");
    assert_eq!(hook_calls.load(Ordering::SeqCst), 1);

    let st = state(&sb).await;
    assert_eq!(st["counts"]["files"], 0, "{st}");
    assert_eq!(st["counts"]["pending_uploads"], 0, "{st}");
    let uploads = st["uploads"].as_array().unwrap();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0]["status"], "cancelled");
    let upload_id = uploads[0]["id"].as_str().unwrap();
    let parts_path = format!("/v1/uploads/{upload_id}/parts");
    assert_eq!(
        count_requests(&sb, "POST", &parts_path).await,
        2,
        "the two full parts went out before the failure"
    );
    let complete_path = format!("/v1/uploads/{upload_id}/complete");
    assert_eq!(count_requests(&sb, "POST", &complete_path).await, 0);
    let cancel_path = format!("/v1/uploads/{upload_id}/cancel");
    assert_eq!(count_requests(&sb, "POST", &cancel_path).await, 1);
    let received = get_json(&sb, "/_sandbox/received").await;
    assert_eq!(received["data"].as_array().unwrap().len(), 0, "{received}");
    assert!(
        p.find_files_by_filename("aborted.jsonl")
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn uploads_api_in_parts_keeps_bytes_and_order() {
    let sb = sandbox(30.0).await;
    let p = openai_with(
        &sb,
        ProviderOptions {
            upload: UploadLimits {
                single_request_max: 10_000,
                part_size: 3_000,
                max_bytes: 1 << 30,
            },
            ..options()
        },
    );
    let data = chat_jsonl(200);
    // A 5xx on one part is retried (parts are buffered, so replayable).
    post_json(
        &sb,
        "/_sandbox/faults",
        json!({"rules": [{"route": "POST /v1/uploads/*/parts", "count": 1, "kinds": ["500"]}]}),
    )
    .await;
    let file = p
        .upload_file(FileUpload {
            filename: "parts.jsonl".into(),
            bytes: data.len() as u64,
            expires_after: Some(Duration::from_secs(3600)),
            body: stream_of(data.clone(), 1234, false),
            on_upload_created: None,
        })
        .await
        .unwrap();
    let received = get_json(&sb, "/_sandbox/received").await;
    let rec = &received["data"][0];
    assert_eq!(rec["id"], file.id.as_str());
    assert_eq!(rec["via"], "uploads");
    assert_eq!(rec["sha256"], hex::encode(Sha256::digest(&data)));
    // Too large: refused before anything is sent.
    let err = p
        .upload_file(FileUpload {
            filename: "huge.jsonl".into(),
            bytes: 2 << 30,
            expires_after: None,
            body: stream_of(Vec::new(), 1, false),
            on_upload_created: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), "file_too_large");
}

/// Exactly 1000 bytes per line, generated on the fly.
fn generated(lines: u64) -> ByteStream {
    futures::stream::unfold(0u64, move |next| async move {
        if next >= lines {
            return None;
        }
        let end = (next + 64).min(lines);
        let mut buf = Vec::with_capacity(((end - next) * 1000) as usize);
        for i in next..end {
            let head = format!(
                "{{\"messages\":[{{\"role\":\"user\",\"content\":\"q{i}\"}},{{\"role\":\"assistant\",\"content\":\"a{i} "
            );
            let tail = "\"}]}\n";
            buf.extend_from_slice(head.as_bytes());
            buf.extend(std::iter::repeat_n(b'x', 1000 - head.len() - tail.len()));
            buf.extend_from_slice(tail.as_bytes());
        }
        Some((Ok(Bytes::from(buf)), end))
    })
    .boxed()
}

fn peak_rss_mb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}

/// 600 MB through the Uploads API with the production limits (10 parts of 64 MB). The sandbox
/// runs in this process and spools to disk, so the peak RSS bounds client and server together;
/// `bench/upload.sh` measures the client alone.
#[tokio::test]
async fn six_hundred_megabytes_go_through_the_uploads_api_with_bounded_memory() {
    let sb = sandbox(30.0).await;
    let p = openai(&sb);
    let lines = 600_000u64;
    let file = p
        .upload_file(FileUpload {
            filename: "big.jsonl".into(),
            bytes: lines * 1000,
            expires_after: None,
            body: generated(lines),
            on_upload_created: None,
        })
        .await
        .unwrap();
    assert_eq!(file.bytes, Some(600_000_000));
    let received = get_json(&sb, "/_sandbox/received").await;
    assert_eq!(received["data"][0]["via"], "uploads");
    let part_posts = requests(&sb)
        .await
        .iter()
        .filter(|r| r["method"] == "POST" && r["path"].as_str().unwrap().ends_with("/parts"))
        .count();
    assert_eq!(part_posts, 10);
    let peak = peak_rss_mb();
    assert!(peak > 0, "VmHWM was not read");
    eprintln!("peak RSS (client + in-process sandbox) after a 600 MB upload: {peak} MB");
    assert!(peak < 450, "peak RSS {peak} MB for a 600 MB upload");
}

/// If the controller's task is aborted mid-upload, the Uploads-API upload is cancelled in the
/// background, never completed.
#[tokio::test]
async fn a_dropped_upload_future_cancels_the_upload() {
    let sb = sandbox(30.0).await;
    let p = openai_with(
        &sb,
        ProviderOptions {
            upload: UploadLimits {
                single_request_max: 1000,
                part_size: 1000,
                max_bytes: 1 << 30,
            },
            ..options()
        },
    );
    // Two parts' worth of bytes, then a stream that never ends.
    let head = futures::stream::iter(vec![Ok::<_, io::Error>(Bytes::from(vec![b'x'; 2500]))]);
    let body: ByteStream = Box::pin(head.chain(futures::stream::pending()));
    let task = tokio::spawn(async move {
        p.upload_file(FileUpload {
            filename: "dropped.jsonl".into(),
            bytes: 10_000,
            expires_after: None,
            body,
            on_upload_created: None,
        })
        .await
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let st = state(&sb).await;
        if st["uploads"][0]["parts"].as_u64() == Some(2) {
            break;
        }
        assert!(Instant::now() < deadline, "parts never arrived: {st}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    task.abort();
    let _ = task.await;
    loop {
        let st = state(&sb).await;
        if st["uploads"][0]["status"] == "cancelled" {
            assert_eq!(st["counts"]["files"], 0);
            break;
        }
        assert!(Instant::now() < deadline, "upload not cancelled: {st}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
