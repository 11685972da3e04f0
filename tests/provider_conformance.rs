//! One provider-level lifecycle, run against every backend: the OpenAI sandbox, the sandbox's
//! Azure flavour, and Amazon Bedrock on moto (server mode, loopback).
//!
//! Each backend implements [`Backend`] with the real provider client; the table in
//! [`conformance`] runs the same steps on each: upload (or adopt), a simulated crash after the
//! upload (a new client with no memory) that must adopt the same file, create (or adopt), a crash
//! after the create that must adopt the same job, pause/resume where the provider has them,
//! poll to success, delete per retention, a second resource cancelled mid-run, and finally zero
//! remote objects left that the policy says to delete.

use std::collections::BTreeMap;
use std::io;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream;
use openai_sandbox::{Config, Running, start};
use serde_json::Value;
use tunegate::provider::bedrock::{
    BedrockConfig, BedrockFormat, BedrockJobCreate, BedrockProvider, DataRole, Deletion, JobNames,
    S3Object, StaticCredentials,
};
use tunegate::provider::{
    ApiKey, ByteStream, DeleteOutcome, Dialect, Endpoint, FileUpload, FineTuneProvider,
    HttpProvider, JobCreate, ProviderError, ProviderOptions, RetryPolicy,
};
use tunegate_testkit::moto::Moto;

const KEY: &str = "sk-conformance";
const DIGEST: &str = "sha256:4c1f0e9a7d2b3c5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6";

fn chat_jsonl(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "{{\"messages\":[{{\"role\":\"user\",\"content\":\"q{i}\"}},{{\"role\":\"assistant\",\"content\":\"a{i}\"}}]}}\n"
            )
        })
        .collect()
}

fn body(data: &str) -> ByteStream {
    let chunks: Vec<Result<Bytes, io::Error>> = data
        .as_bytes()
        .chunks(97)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Box::pin(stream::iter(chunks))
}

/// What each backend supports, so the suite asserts the refusals too.
struct Caps {
    pause: bool,
    delete_model: bool,
}

/// The provider-level operations of the lifecycle, on one backend. `reconnect` is the crash:
/// a new client that remembers nothing.
#[async_trait]
trait Backend: Send + Sync {
    fn name(&self) -> &'static str;
    fn caps(&self) -> Caps;
    async fn reconnect(&mut self);
    /// Upload the training data for `uid`, or adopt what a previous run uploaded; returns the
    /// remote id and how many matching objects existed before (0 or 1 after adoption).
    async fn upload_or_adopt(&self, uid: &str, data: &str) -> (String, usize);
    async fn create_or_adopt(&self, uid: &str, file: &str) -> (String, usize);
    async fn status(&self, job: &str) -> String;
    async fn pause(&self, job: &str) -> Result<(), String>;
    async fn resume(&self, job: &str) -> Result<(), String>;
    async fn cancel(&self, job: &str);
    /// Let time pass (the sandbox's clock; moto completes on wall time).
    async fn advance(&self, seconds: f64);
    /// Delete the data, the provider's own copies (result files, checkpoints, output metrics)
    /// and, when asked, the model. Returns whether the model could be deleted.
    async fn cleanup(&self, uid: &str, job: &str, file: &str, delete_model: bool) -> bool;
    /// Remote objects still there that belong to `uid` and that policy says to delete.
    async fn leftovers(&self, uid: &str) -> Vec<String>;
}

// ---------- OpenAI and Azure: the HTTP provider against the in-process sandbox ----------

struct Sandbox {
    sb: Running,
    azure: bool,
    client: HttpProvider,
}

impl Sandbox {
    async fn start(azure: bool) -> Sandbox {
        let mut cfg = Config::new(KEY);
        cfg.job_seconds = 40.0;
        cfg.azure_file_seconds = 0.3;
        cfg.spool_dir = Some(env!("CARGO_TARGET_TMPDIR").into());
        let sb = start(cfg, "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let client = Self::client(&sb, azure);
        Sandbox { sb, azure, client }
    }

    fn client(sb: &Running, azure: bool) -> HttpProvider {
        let endpoint = if azure {
            // The v1 data plane: the dated paths are covered by tests/provider_sandbox.rs.
            Endpoint::new(
                &sb.base_url(),
                Dialect::Azure {
                    api_version: "v1".into(),
                },
            )
        } else {
            Endpoint::new(
                &format!("{}/v1", sb.base_url()),
                Dialect::OpenAi {
                    organization: None,
                    project: None,
                },
            )
        }
        .unwrap();
        let options = ProviderOptions {
            retry: RetryPolicy {
                base_delay: Duration::from_millis(20),
                max_delay: Duration::from_millis(200),
                ..RetryPolicy::default()
            },
            file_ready_poll: Duration::from_millis(50),
            file_ready_timeout: Duration::from_secs(30),
            ..ProviderOptions::default()
        };
        HttpProvider::new(
            endpoint,
            ApiKey::from_bytes(KEY.as_bytes()).unwrap(),
            options,
        )
        .unwrap()
    }

    fn filename(uid: &str) -> String {
        format!("tunegate-{uid}-{}-training.jsonl", &DIGEST[7..19])
    }

    async fn state(&self) -> Value {
        reqwest::get(format!("{}/_sandbox/state", self.sb.base_url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

fn err(e: ProviderError) -> String {
    e.code().to_owned()
}

#[async_trait]
impl Backend for Sandbox {
    fn name(&self) -> &'static str {
        if self.azure { "azure" } else { "openai" }
    }

    fn caps(&self) -> Caps {
        Caps {
            pause: true,
            // Azure's data plane cannot delete a fine-tuned model (control plane only).
            delete_model: !self.azure,
        }
    }

    async fn reconnect(&mut self) {
        self.client = Self::client(&self.sb, self.azure);
    }

    async fn upload_or_adopt(&self, uid: &str, data: &str) -> (String, usize) {
        let name = Self::filename(uid);
        let found = self.client.find_files_by_filename(&name).await.unwrap();
        let before = found.len();
        let id = match found.split_first() {
            Some((keep, extras)) => {
                for extra in extras {
                    self.client.delete_file(&extra.id).await.unwrap();
                }
                keep.id.clone()
            }
            None => {
                let f = self
                    .client
                    .upload_file(FileUpload {
                        filename: name,
                        bytes: data.len() as u64,
                        expires_after: None,
                        body: body(data),
                        on_upload_created: None,
                    })
                    .await
                    .unwrap();
                f.id
            }
        };
        // Azure imports asynchronously: a job may use the file only once it is processed.
        let ready = self.client.wait_file_ready(&id).await.unwrap();
        assert!(ready.is_ready(), "{}: {ready:?}", self.name());
        (id, before)
    }

    async fn create_or_adopt(&self, uid: &str, file: &str) -> (String, usize) {
        let found = self
            .client
            .find_jobs_by_metadata("tunegate-uid", uid)
            .await
            .unwrap();
        if let Some(j) = found.first() {
            return (j.id.clone(), found.len());
        }
        let job = self
            .client
            .create_job(&JobCreate {
                model: "gpt-4.1-mini-2025-04-14".into(),
                training_file: file.into(),
                suffix: Some("conformance".into()),
                metadata: BTreeMap::from([("tunegate-uid".into(), uid.into())]),
                ..JobCreate::default()
            })
            .await
            .unwrap();
        (job.id, 0)
    }

    async fn status(&self, job: &str) -> String {
        self.client
            .retrieve_job(job)
            .await
            .unwrap()
            .status
            .as_str()
            .to_owned()
    }

    async fn pause(&self, job: &str) -> Result<(), String> {
        self.client.pause_job(job).await.map(|_| ()).map_err(err)
    }

    async fn resume(&self, job: &str) -> Result<(), String> {
        self.client.resume_job(job).await.map(|_| ()).map_err(err)
    }

    async fn cancel(&self, job: &str) {
        self.client.cancel_job(job).await.unwrap();
    }

    async fn advance(&self, seconds: f64) {
        let r = reqwest::Client::new()
            .post(format!("{}/_sandbox/clock/advance", self.sb.base_url()))
            .json(&serde_json::json!({ "seconds": seconds }))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }

    async fn cleanup(&self, _uid: &str, job: &str, file: &str, delete_model: bool) -> bool {
        let j = self.client.retrieve_job(job).await.unwrap();
        self.client.delete_file(file).await.unwrap();
        // The provider's own copies: result files, and checkpoint models trained on our data.
        for rf in &j.result_files {
            self.client.delete_file(rf).await.unwrap();
        }
        let checkpoints = self
            .client
            .list_job_checkpoints(job, None, 100)
            .await
            .unwrap();
        let mut model_deleted = true;
        if delete_model {
            let models = j.fine_tuned_model.iter().cloned().chain(
                checkpoints
                    .data
                    .iter()
                    .filter_map(|c| c.fine_tuned_model_checkpoint.clone()),
            );
            for m in models {
                match self.client.delete_model(&m).await {
                    Ok(DeleteOutcome::Deleted | DeleteOutcome::AlreadyGone) => {}
                    Err(ProviderError::ModelDeletionUnsupported { .. }) => model_deleted = false,
                    Err(e) => panic!("{}: delete model: {e}", self.name()),
                }
            }
        }
        if self.azure {
            // Azure keeps job records until deleted.
            self.client.delete_job(job).await.unwrap();
        }
        // A second delete is a 404: "already gone", not an error.
        assert_eq!(
            self.client.delete_file(file).await.unwrap(),
            DeleteOutcome::AlreadyGone
        );
        model_deleted
    }

    async fn leftovers(&self, uid: &str) -> Vec<String> {
        let state = self.state().await;
        let flavor = if self.azure { "azure" } else { "openai" };
        let mine = |v: &Value| {
            v["flavor"]
                .as_str()
                .is_some_and(|f| f.eq_ignore_ascii_case(flavor))
        };
        let mut left = Vec::new();
        for f in state["files"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|v| mine(v))
        {
            left.push(format!("file {}", f["id"]));
        }
        for u in state["uploads"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|v| mine(v))
        {
            if u["status"] == "pending" {
                left.push(format!("upload {}", u["id"]));
            }
        }
        for j in state["jobs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|v| mine(v))
        {
            if self.azure && j["metadata"]["tunegate-uid"] == uid {
                left.push(format!("job {}", j["id"]));
            }
        }
        if !self.azure {
            for m in state["models"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|v| mine(v))
            {
                left.push(format!("model {}", m["id"]));
            }
        }
        left
    }
}

// ---------- Bedrock on moto ----------

struct Bedrock {
    moto: Moto,
    client: BedrockProvider,
    objects: std::sync::Mutex<BTreeMap<String, S3Object>>,
}

impl Bedrock {
    async fn start() -> Bedrock {
        // moto never finishes a job; the launcher's completion shim does, after 1 s.
        let moto = Moto::start_with(&["--complete-after", "1"]);
        moto.create_bucket("conformance", "eu-west-1");
        let client = Self::client(&moto).await;
        Bedrock {
            moto,
            client,
            objects: Default::default(),
        }
    }

    async fn client(moto: &Moto) -> BedrockProvider {
        BedrockProvider::new(BedrockConfig {
            region: "eu-west-1".into(),
            bucket: "conformance".into(),
            prefix: "ft".into(),
            role_arn: "arn:aws:iam::123456789012:role/bedrock-ft".into(),
            base_model: "amazon.nova-micro-v1:0:128k".into(),
            format: BedrockFormat::Conversation,
            endpoint_url: Some(moto.url.clone()),
            credentials: Some(StaticCredentials {
                access_key_id: "testing".into(),
                secret_access_key: "testing".into(),
                session_token: None,
            }),
        })
        .await
        .unwrap()
    }

    fn names(&self, uid: &str) -> JobNames {
        self.client.names(uid).unwrap()
    }
}

#[async_trait]
impl Backend for Bedrock {
    fn name(&self) -> &'static str {
        "bedrock"
    }

    fn caps(&self) -> Caps {
        Caps {
            pause: false,
            delete_model: true,
        }
    }

    async fn reconnect(&mut self) {
        self.client = Self::client(&self.moto).await;
    }

    async fn upload_or_adopt(&self, uid: &str, data: &str) -> (String, usize) {
        let names = self.names(uid);
        let key = names.data_key(DataRole::Training, DIGEST).unwrap();
        let before = self
            .client
            .list_objects(&names.key_prefix)
            .await
            .unwrap()
            .into_iter()
            .filter(|(k, _)| !k.starts_with(&names.output_prefix))
            .count();
        // The key is deterministic: writing again replaces the object, so "adopt" and
        // "upload" both leave exactly one.
        let obj = self.client.upload(&key, body(data), None).await.unwrap();
        self.objects.lock().unwrap().insert(uid.to_owned(), obj);
        (key, before)
    }

    async fn create_or_adopt(&self, uid: &str, _file: &str) -> (String, usize) {
        let names = self.names(uid);
        let before = usize::from(self.client.find_job(&names).await.unwrap().is_some());
        let training = self.objects.lock().unwrap().get(uid).cloned().unwrap();
        let job = self
            .client
            .create_job(&BedrockJobCreate {
                names: names.clone(),
                training,
                validation: None,
                hyperparameters: BTreeMap::from([("epochCount".into(), "1".into())]),
                tags: BTreeMap::from([("tunegate-uid".into(), uid.into())]),
            })
            .await
            .unwrap();
        (job.name, before)
    }

    async fn status(&self, job: &str) -> String {
        self.client
            .get_job(job)
            .await
            .unwrap()
            .neutral_status()
            .to_owned()
    }

    async fn pause(&self, job: &str) -> Result<(), String> {
        self.client
            .pause_job(job)
            .await
            .map_err(|e| e.code().to_owned())
    }

    async fn resume(&self, job: &str) -> Result<(), String> {
        self.client
            .resume_job(job)
            .await
            .map_err(|e| e.code().to_owned())
    }

    async fn cancel(&self, job: &str) {
        self.client.stop_job(job).await.unwrap();
    }

    async fn advance(&self, seconds: f64) {
        tokio::time::sleep(Duration::from_secs_f64(seconds.min(1.5))).await;
    }

    async fn cleanup(&self, uid: &str, job: &str, file: &str, delete_model: bool) -> bool {
        let names = self.names(uid);
        let j = self.client.get_job(job).await.unwrap();
        assert_eq!(
            self.client.delete_object(file).await.unwrap(),
            Deletion::Deleted
        );
        self.client
            .delete_prefix(&names.output_prefix)
            .await
            .unwrap();
        self.client.abort_unfinished_uploads(&names).await.unwrap();
        if delete_model {
            let model = j
                .output_model_name
                .clone()
                .unwrap_or(names.custom_model_name.clone());
            // moto keys custom models by the customModelName it was given.
            let model = if self.client.custom_model_exists(&model).await.unwrap() {
                model
            } else {
                names.custom_model_name.clone()
            };
            assert_eq!(
                self.client.delete_custom_model(&model).await.unwrap(),
                Deletion::Deleted
            );
        }
        assert_eq!(
            self.client.delete_object(file).await.unwrap(),
            Deletion::NotFound
        );
        true
    }

    async fn leftovers(&self, uid: &str) -> Vec<String> {
        let names = self.names(uid);
        let mut left: Vec<String> = self
            .client
            .list_objects(&names.key_prefix)
            .await
            .unwrap()
            .into_iter()
            .map(|(k, _)| format!("object {k}"))
            .collect();
        if self
            .client
            .custom_model_exists(&names.custom_model_name)
            .await
            .unwrap()
        {
            left.push(format!("model {}", names.custom_model_name));
        }
        left
    }
}

// ---------- The lifecycle ----------

async fn poll_until(b: &dyn Backend, job: &str, want: &str) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        last = b.status(job).await;
        if last == want || ["succeeded", "failed", "cancelled"].contains(&last.as_str()) {
            return last;
        }
        b.advance(5.0).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    last
}

async fn lifecycle(mut b: Box<dyn Backend>) {
    let name = b.name();
    let uid = "0b9a3c1e-7f2d-4e5a-9b8c-1d2e3f4a5b6c";
    let data = chat_jsonl(12);

    let (file, before) = b.upload_or_adopt(uid, &data).await;
    assert_eq!(before, 0, "{name}: nothing before the first upload");
    // Crash after the upload: a new client finds exactly the one file.
    b.reconnect().await;
    let (adopted, before) = b.upload_or_adopt(uid, &data).await;
    assert_eq!(
        (adopted.as_str(), before),
        (file.as_str(), 1),
        "{name}: one file after a crash"
    );

    let (job, before) = b.create_or_adopt(uid, &file).await;
    assert_eq!(before, 0, "{name}");
    // Crash after the create: the same job is adopted, no second one.
    b.reconnect().await;
    let (again, before) = b.create_or_adopt(uid, &file).await;
    assert_eq!(
        (again.as_str(), before),
        (job.as_str(), 1),
        "{name}: one job after a crash"
    );

    if b.caps().pause {
        // Pause needs a running job (past validation).
        assert_eq!(
            poll_until(b.as_ref(), &job, "running").await,
            "running",
            "{name}"
        );
        b.pause(&job)
            .await
            .unwrap_or_else(|e| panic!("{name}: pause: {e}"));
        assert_eq!(b.status(&job).await, "paused", "{name}");
        b.resume(&job)
            .await
            .unwrap_or_else(|e| panic!("{name}: resume: {e}"));
    } else {
        assert_eq!(
            b.pause(&job).await,
            Err("unsupported_operation".into()),
            "{name}"
        );
        assert_eq!(
            b.resume(&job).await,
            Err("unsupported_operation".into()),
            "{name}"
        );
    }
    assert_eq!(
        poll_until(b.as_ref(), &job, "succeeded").await,
        "succeeded",
        "{name}"
    );

    // Retention: files DeleteWhenFinished, model DeleteWithResource where the provider can.
    // Positive control: before cleanup the check does see remote objects.
    let before_cleanup = b.leftovers(uid).await;
    assert!(
        before_cleanup.len() >= 2,
        "{name}: the leftover check sees nothing: {before_cleanup:?}"
    );
    let want_model_deleted = b.caps().delete_model;
    let model_deleted = b.cleanup(uid, &job, &file, true).await;
    assert_eq!(model_deleted, want_model_deleted, "{name}: model deletion");
    assert_eq!(
        b.leftovers(uid).await,
        Vec::<String>::new(),
        "{name}: leftovers"
    );

    // A second resource, cancelled while it runs, then cleaned up with the model retained
    // (a cancelled job has none, except on moto, whose model exists from the start).
    let uid2 = "9d8c7b6a-5f4e-4d3c-8b2a-19f0e1d2c3b4";
    let (file2, _) = b.upload_or_adopt(uid2, &data).await;
    let (job2, _) = b.create_or_adopt(uid2, &file2).await;
    b.cancel(&job2).await;
    assert_eq!(b.status(&job2).await, "cancelled", "{name}");
    b.cleanup(uid2, &job2, &file2, name == "bedrock").await;
    assert_eq!(
        b.leftovers(uid2).await,
        Vec::<String>::new(),
        "{name}: leftovers after cancel"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let backends: Vec<Box<dyn Backend>> = vec![
        Box::new(Sandbox::start(false).await),
        Box::new(Sandbox::start(true).await),
        Box::new(Bedrock::start().await),
    ];
    let mut ran = Vec::new();
    for b in backends {
        let name = b.name();
        lifecycle(b).await;
        ran.push(name);
    }
    assert_eq!(ran, ["openai", "azure", "bedrock"]);
}
