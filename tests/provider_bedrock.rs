//! The Bedrock provider against moto in server mode (loopback): S3 writes as converted by the
//! streaming converter, deterministic names, adoption by name, stop, deletion with NotFound, and
//! the exact places where moto stops short of Bedrock (asserted, so the docs stay true).

use std::collections::BTreeMap;
use std::io;

use bytes::Bytes;
use futures::stream;
use sha2::{Digest, Sha256};
use tunegate::provider::bedrock::{
    BedrockConfig, BedrockError, BedrockFormat, BedrockJobCreate, BedrockProvider, DataRole,
    Deletion, JobNames, PART_SIZE, StaticCredentials,
};
use tunegate::provider::types::ByteStream;
use tunegate_testkit::moto::Moto;

const UID: &str = "5b0c6a52-1d1e-4f3a-9c57-0e6f1d2a3b4c";
const DIGEST: &str = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn config(moto: &Moto, bucket: &str) -> BedrockConfig {
    BedrockConfig {
        region: "us-east-1".into(),
        bucket: bucket.into(),
        prefix: "tunegate/ft".into(),
        role_arn: "arn:aws:iam::123456789012:role/bedrock-ft".into(),
        base_model: "amazon.nova-micro-v1:0:128k".into(),
        format: BedrockFormat::Conversation,
        endpoint_url: Some(moto.url.clone()),
        credentials: Some(StaticCredentials {
            access_key_id: "testing".into(),
            secret_access_key: "testing".into(),
            session_token: None,
        }),
    }
}

fn chat_lines(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "{{\"messages\":[{{\"role\":\"system\",\"content\":\"Be brief.\"}},{{\"role\":\"user\",\"content\":\"Question {i} from [EMAIL_ADDRESS]\"}},{{\"role\":\"assistant\",\"content\":\"Answer {i}\"}}]}}\n"
            )
        })
        .collect()
}

fn body_of(data: String, chunk: usize) -> ByteStream {
    let bytes = data.into_bytes();
    let chunks: Vec<Result<Bytes, io::Error>> = bytes
        .chunks(chunk)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Box::pin(stream::iter(chunks))
}

async fn provider(moto: &Moto, bucket: &str) -> BedrockProvider {
    moto.create_bucket(bucket, "us-east-1");
    BedrockProvider::new(config(moto, bucket))
        .await
        .expect("provider")
}

fn job_create(
    names: &JobNames,
    training: tunegate::provider::bedrock::S3Object,
) -> BedrockJobCreate {
    BedrockJobCreate {
        names: names.clone(),
        training,
        validation: None,
        hyperparameters: BTreeMap::from([
            ("epochCount".to_owned(), "2".to_owned()),
            ("learningRate".to_owned(), "0.00001".to_owned()),
        ]),
        tags: BTreeMap::from([("tunegate-uid".to_owned(), UID.to_owned())]),
    }
}

#[tokio::test]
async fn upload_converts_streams_and_digests_the_exact_bytes_written() {
    let moto = Moto::start();
    let p = provider(&moto, "acme-train").await;
    let names = p.names(UID).unwrap();
    let key = names.data_key(DataRole::Training, DIGEST).unwrap();
    let data = chat_lines(50);
    let obj = p
        .upload(&key, body_of(data.clone(), 777), None)
        .await
        .unwrap();
    assert_eq!(obj.records, 50);
    // What S3 holds is the Converse schema, and the digest is of exactly those bytes.
    let stored_digest = p.object_digest(&key).await.unwrap().unwrap();
    assert_eq!(stored_digest, obj.digest);
    let listed = p.list_objects(&names.key_prefix).await.unwrap();
    assert_eq!(listed, vec![(key.clone(), obj.bytes)]);
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(&moto.url)
        .force_path_style(true)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .build();
    let got = aws_sdk_s3::Client::from_conf(conf)
        .get_object()
        .bucket("acme-train")
        .key(&key)
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    let text = String::from_utf8(got.to_vec()).unwrap();
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["schemaVersion"], "bedrock-conversation-2024");
    assert_eq!(first["system"][0]["text"], "Be brief.");
    assert_eq!(first["messages"][1]["content"][0]["text"], "Answer 0");
    assert_eq!(
        obj.digest,
        format!("sha256:{}", hex::encode(Sha256::digest(text.as_bytes())))
    );
    // The same key again replaces the object: still exactly one.
    let again = p.upload(&key, body_of(data, 4096), None).await.unwrap();
    assert_eq!(again.digest, obj.digest);
    assert_eq!(p.list_objects(&names.key_prefix).await.unwrap().len(), 1);
}

#[tokio::test]
async fn large_files_go_multipart_and_record_the_upload_id_first() {
    let moto = Moto::start();
    let p = provider(&moto, "acme-large").await;
    let names = p.names(UID).unwrap();
    let key = names.data_key(DataRole::Training, DIGEST).unwrap();
    // About 2.5 parts after conversion.
    let line_len = chat_lines(1).len();
    let n = (PART_SIZE * 5 / 2) / line_len;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let hook_seen = seen.clone();
    let hook: tunegate::provider::bedrock::MultipartCreatedHook = std::sync::Arc::new(move |id| {
        hook_seen.lock().unwrap().push(id);
        Box::pin(async {})
    });
    let obj = p
        .upload(&key, body_of(chat_lines(n), 1 << 20), Some(hook))
        .await
        .unwrap();
    assert!(obj.bytes > 2 * PART_SIZE as u64, "{} bytes", obj.bytes);
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "one multipart upload id, recorded once"
    );
    assert_eq!(p.object_digest(&key).await.unwrap().unwrap(), obj.digest);
    assert_eq!(p.abort_unfinished_uploads(&names).await.unwrap(), 0);
}

#[tokio::test]
async fn a_failing_source_leaves_no_object_and_no_open_upload() {
    let moto = Moto::start();
    let p = provider(&moto, "acme-abort").await;
    let names = p.names(UID).unwrap();
    let key = names.data_key(DataRole::Training, DIGEST).unwrap();
    let line = chat_lines(1);
    let good = line.repeat(PART_SIZE / line.len() + 10);
    let body: ByteStream = Box::pin(stream::iter(vec![
        Ok(Bytes::from(good)),
        Err(io::Error::other("source went away")),
    ]));
    let err = p.upload(&key, body, None).await.unwrap_err();
    assert!(matches!(err, BedrockError::StreamAborted(_)), "{err}");
    assert!(p.list_objects(&names.key_prefix).await.unwrap().is_empty());
    assert_eq!(
        p.abort_unfinished_uploads(&names).await.unwrap(),
        0,
        "aborted already"
    );
    // An example Bedrock cannot express stops the upload with the line and a code.
    let bad = format!(
        "{}{{\"messages\":[{{\"role\":\"user\",\"content\":\"x\"}}]}}\n",
        chat_lines(2)
    );
    let err = p.upload(&key, body_of(bad, 64), None).await.unwrap_err();
    match err {
        BedrockError::Convert(e) => assert_eq!((e.line, e.code), (3, "too_few_turns")),
        other => panic!("{other}"),
    }
    assert!(p.list_objects(&names.key_prefix).await.unwrap().is_empty());
}

#[tokio::test]
async fn create_is_adopted_by_name_and_a_foreign_job_is_not() {
    let moto = Moto::start();
    let p = provider(&moto, "acme-jobs").await;
    let names = p.names(UID).unwrap();
    assert_eq!(p.find_job(&names).await.unwrap(), None);
    let key = names.data_key(DataRole::Training, DIGEST).unwrap();
    let obj = p
        .upload(&key, body_of(chat_lines(20), 100), None)
        .await
        .unwrap();
    let created = p
        .create_job(&job_create(&names, obj.clone()))
        .await
        .unwrap();
    assert_eq!(created.name, names.job_name);
    assert_eq!(created.status, "InProgress");
    assert_eq!(created.neutral_status(), "running");
    // A retried create (a crash before the ARN was recorded) adopts the same job.
    let again = p
        .create_job(&job_create(&names, obj.clone()))
        .await
        .unwrap();
    assert_eq!(again.arn, created.arn);
    assert_eq!(p.find_job(&names).await.unwrap().unwrap().arn, created.arn);
    // A job under our name reading other data is refused, not adopted.
    let mut other = obj.clone();
    other.key = format!("{}ffffffffffff-training.jsonl", names.key_prefix);
    let err = p.create_job(&job_create(&names, other)).await.unwrap_err();
    assert!(matches!(err, BedrockError::NameTaken { .. }), "{err}");
    // Bedrock has no pause.
    assert!(matches!(
        p.pause_job(&names.job_name).await.unwrap_err(),
        BedrockError::Unsupported(_)
    ));
    // Stop, then delete everything; a second delete is NotFound, not Deleted.
    assert_eq!(
        p.stop_job(&names.job_name).await.unwrap(),
        Deletion::Deleted
    );
    let stopped = p.get_job(&names.job_name).await.unwrap();
    assert_eq!(
        (stopped.status.as_str(), stopped.is_terminal()),
        ("Stopped", true)
    );
    assert_eq!(p.delete_object(&key).await.unwrap(), Deletion::Deleted);
    assert_eq!(p.delete_object(&key).await.unwrap(), Deletion::NotFound);
    assert_eq!(
        p.delete_custom_model(&names.custom_model_name)
            .await
            .unwrap(),
        Deletion::Deleted
    );
    assert_eq!(
        p.delete_custom_model(&names.custom_model_name)
            .await
            .unwrap(),
        Deletion::NotFound
    );
    assert!(p.list_objects("").await.unwrap().is_empty());
}

/// Where moto stops short of Bedrock, asserted so docs/operations.md stays true: a job never
/// leaves InProgress by itself, nothing is written to the output URI, and the custom model
/// exists from the moment the job is created (Bedrock creates it only on success).
#[tokio::test]
async fn where_moto_stops_short() {
    let moto = Moto::start();
    let p = provider(&moto, "acme-gaps").await;
    let names = p.names(UID).unwrap();
    let key = names.data_key(DataRole::Training, DIGEST).unwrap();
    let obj = p
        .upload(&key, body_of(chat_lines(5), 100), None)
        .await
        .unwrap();
    p.create_job(&job_create(&names, obj)).await.unwrap();
    assert!(
        p.custom_model_exists(&names.custom_model_name)
            .await
            .unwrap()
    );
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(
        p.get_job(&names.job_name).await.unwrap().status,
        "InProgress"
    );
    assert!(
        p.list_objects(&names.output_prefix)
            .await
            .unwrap()
            .is_empty()
    );
}

/// With the launcher's `--complete-after`, a job completes and leaves output metrics, which
/// cleanup deletes with the rest.
#[tokio::test]
async fn completion_shim_reaches_success_and_output_is_cleaned_up() {
    let moto = Moto::start_with(&["--complete-after", "1"]);
    let p = provider(&moto, "acme-done").await;
    let names = p.names(UID).unwrap();
    let key = names.data_key(DataRole::Training, DIGEST).unwrap();
    let obj = p
        .upload(&key, body_of(chat_lines(5), 100), None)
        .await
        .unwrap();
    p.create_job(&job_create(&names, obj)).await.unwrap();
    let mut job = p.get_job(&names.job_name).await.unwrap();
    for _ in 0..50 {
        if job.is_terminal() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        job = p.get_job(&names.job_name).await.unwrap();
    }
    assert_eq!(job.neutral_status(), "succeeded");
    assert!(job.output_model_arn.is_some());
    assert_eq!(p.list_objects(&names.output_prefix).await.unwrap().len(), 1);
    assert_eq!(p.delete_prefix(&names.output_prefix).await.unwrap(), 1);
    assert_eq!(p.delete_object(&key).await.unwrap(), Deletion::Deleted);
    assert!(p.list_objects("").await.unwrap().is_empty());
}

#[tokio::test]
async fn errors_carry_aws_codes_without_credentials() {
    let moto = Moto::start();
    // No bucket: the upload fails with S3's code, and the secret key appears nowhere.
    let mut cfg = config(&moto, "missing-bucket");
    cfg.credentials = Some(StaticCredentials {
        access_key_id: "AKIACANARY".into(),
        secret_access_key: "canary-secret-value".into(),
        session_token: None,
    });
    let p = BedrockProvider::new(cfg).await.unwrap();
    let names = p.names(UID).unwrap();
    let key = names.data_key(DataRole::Training, DIGEST).unwrap();
    let err = p
        .upload(&key, body_of(chat_lines(2), 10), None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "NoSuchBucket");
    assert!(!err.is_recoverable());
    let text = format!("{err} {err:?}");
    assert!(!text.contains("canary-secret-value"), "{text}");
    assert!(!text.contains("Answer"), "no content: {text}");
}
