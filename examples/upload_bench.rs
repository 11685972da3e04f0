//! Upload benchmark client: streams a generated JSONL file of `--mb` decimal megabytes through
//! `FineTuneProvider::upload_file` (the Uploads API above 512 MB) and prints throughput.
//! Run by `bench/upload.sh` under `/usr/bin/time -v` against `openai-sandbox`.

use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tunegate::provider::{
    ApiKey, Dialect, Endpoint, FileUpload, FineTuneProvider, HttpProvider, ProviderOptions,
};

#[derive(Parser)]
struct Args {
    /// API base URL, e.g. http://127.0.0.1:8080/v1.
    #[arg(long)]
    base_url: String,
    /// API key.
    #[arg(long, env = "BENCH_API_KEY", hide_env_values = true)]
    api_key: String,
    /// Size in decimal megabytes.
    #[arg(long, default_value_t = 600)]
    mb: u64,
}

/// Exactly 1000 bytes per line: a chat example padded to length.
const LINE: usize = 1000;

fn line(i: u64, out: &mut Vec<u8>) {
    let head = format!(
        "{{\"messages\":[{{\"role\":\"user\",\"content\":\"Question {i}: how do I reset my password?\"}},{{\"role\":\"assistant\",\"content\":\"Answer {i}: "
    );
    let tail = "\"}]}\n";
    out.extend_from_slice(head.as_bytes());
    let pad = LINE - head.len() - tail.len();
    out.extend(std::iter::repeat_n(b'x', pad));
    out.extend_from_slice(tail.as_bytes());
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let bytes = args.mb * 1_000_000;
    let lines = bytes / LINE as u64;
    let endpoint = Endpoint::new(
        &args.base_url,
        Dialect::OpenAi {
            organization: None,
            project: None,
        },
    )?;
    let provider = HttpProvider::new(
        endpoint,
        ApiKey::from_bytes(args.api_key.as_bytes())?,
        ProviderOptions::default(),
    )?;

    // 64 lines (64 kB) per chunk, hashed as they stream, like the controller's pipeline.
    let hasher = std::sync::Arc::new(std::sync::Mutex::new(Sha256::new()));
    let h = hasher.clone();
    let body = futures::stream::unfold(0u64, move |next| {
        let h = h.clone();
        async move {
            if next >= lines {
                return None;
            }
            let end = (next + 64).min(lines);
            let mut buf = Vec::with_capacity(((end - next) as usize) * LINE);
            for i in next..end {
                line(i, &mut buf);
            }
            if let Ok(mut h) = h.lock() {
                h.update(&buf);
            }
            Some((Ok::<_, std::io::Error>(Bytes::from(buf)), end))
        }
    })
    .boxed();

    let started = Instant::now();
    let file = provider
        .upload_file(FileUpload {
            filename: format!("bench-{}mb.jsonl", args.mb),
            bytes: lines * LINE as u64,
            expires_after: Some(Duration::from_secs(3600)),
            body,
            on_upload_created: None,
        })
        .await?;
    let elapsed = started.elapsed().as_secs_f64();
    let digest = hex::encode(hasher.lock().map_err(|_| "hasher poisoned")?.clone().finalize());
    println!("file_id={}", file.id);
    println!("bytes={}", file.bytes.unwrap_or(0));
    println!("sha256={digest}");
    println!("seconds={elapsed:.2}");
    println!(
        "throughput_mb_s={:.1}",
        (lines * LINE as u64) as f64 / 1e6 / elapsed
    );
    Ok(())
}
