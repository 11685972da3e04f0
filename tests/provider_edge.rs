//! The provider client against real HTTP listeners on loopback that misbehave on purpose
//! (`tunegate_testkit::hostile`): whatever a server sends, the client neither panics, nor
//! follows it elsewhere with the key, nor reads more than its limit, nor lets raw provider text
//! through.

use std::time::{Duration, Instant};

use serde_json::json;
use tunegate::provider::retry::MAX_RETRY_HINT;
use tunegate::provider::sanitize::MAX_TEXT_BYTES;
use tunegate::provider::{
    ApiKey, Dialect, Endpoint, FineTuneProvider, HttpProvider, ProviderError, ProviderOptions,
    RetryPolicy,
};
use tunegate_testkit::hostile::{Listener, Reply, Request, serve};

const KEY: &str = "sk-edge-test-canary-8f3a";

fn options() -> ProviderOptions {
    ProviderOptions {
        request_timeout: Duration::from_secs(5),
        retry: RetryPolicy {
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            ..RetryPolicy::default()
        },
        ..ProviderOptions::default()
    }
}

fn openai(listener: &Listener, options: ProviderOptions) -> HttpProvider {
    let endpoint = Endpoint::new(
        &format!("{}/v1", listener.base_url()),
        Dialect::OpenAi {
            organization: None,
            project: None,
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

fn azure(listener: &Listener, options: ProviderOptions) -> HttpProvider {
    let endpoint = Endpoint::new(
        &listener.base_url(),
        Dialect::Azure {
            api_version: "2024-10-21".into(),
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

fn job_json(id: &str) -> serde_json::Value {
    json!({"id": id, "object": "fine_tuning.job", "status": "running", "model": "gpt-4o-mini"})
}

#[tokio::test]
async fn absurd_retry_hints_are_clamped_and_never_panic() {
    // Each value overflowed `Duration::from_secs_f64` (a panic that escaped the reconcile and
    // crash-looped the operator) or asked for a wait of years.
    for (header, value) in [
        ("retry-after", "1e300"),
        ("retry-after", "18446744073709551616"),
        ("retry-after-ms", "1e300"),
        (
            "retry-after-ms",
            "179769313486231570000000000000000000000000000000000000000",
        ),
        ("retry-after", "Fri, 31 Dec 9999 23:59:59 GMT"),
    ] {
        let listener = serve(move |_: &Request| {
            Reply::json(
                429,
                &json!({"error": {"message": "slow down", "code": "rate_limit_exceeded"}}),
            )
            .with_header(header, value)
        });
        let provider = openai(&listener, options());
        let err = provider.retrieve_job("ftjob-1").await.unwrap_err();
        let hint = err.retry_after().expect("the hint is kept, clamped");
        assert!(hint <= MAX_RETRY_HINT, "{header}: {value} gave {hint:?}");
        assert!(err.is_recoverable());
        // A hint longer than the in-process budget ends the retries at once.
        assert_eq!(listener.requests().len(), 1, "{header}: {value}");
    }
    for value in ["NaN", "-5", "inf", "-1e300"] {
        let listener = serve(move |_: &Request| {
            Reply::json(503, &json!({})).with_header("retry-after", value)
        });
        let provider = openai(&listener, options());
        let err = provider.retrieve_job("ftjob-1").await.unwrap_err();
        assert_eq!(err.retry_after(), None, "{value}");
    }
}

#[tokio::test]
async fn success_bodies_are_read_up_to_a_limit() {
    let limit = 256 * 1024;
    // A chunked 200 that never ends (it stops at 1 GiB only to protect the test machine).
    let endless = serve(|_: &Request| Reply::Endless {
        status: 200,
        prefix: br#"{"id":"ftjob-1","status":"running","model":""#.to_vec(),
        filler: b'a',
        limit: 1 << 30,
    });
    let provider = openai(
        &endless,
        ProviderOptions {
            max_response_bytes: limit,
            ..options()
        },
    );
    let started = Instant::now();
    let err = provider.retrieve_job("ftjob-1").await.unwrap_err();
    assert!(
        matches!(err, ProviderError::ResponseTooLarge { limit: l, .. } if l == limit),
        "{err}"
    );
    assert_eq!(err.code(), "response_too_large");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stopped at the limit, not at a timeout"
    );

    // A declared Content-Length over the limit is refused before reading.
    let declared = serve(move |_: &Request| Reply::Full {
        status: 200,
        headers: vec![],
        body: vec![b' '; 300 * 1024],
    });
    let provider = openai(
        &declared,
        ProviderOptions {
            max_response_bytes: limit,
            ..options()
        },
    );
    let err = provider
        .list_job_events("ftjob-1", None, 100)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ProviderError::ResponseTooLarge { .. }),
        "{err}"
    );

    // Under the limit, all is well.
    let fine = serve(|_: &Request| Reply::json(200, &job_json("ftjob-1")));
    let provider = openai(&fine, options());
    assert_eq!(
        provider.retrieve_job("ftjob-1").await.unwrap().id,
        "ftjob-1"
    );
}

#[tokio::test]
async fn redirects_are_refused_and_the_key_never_follows() {
    for azure_dialect in [false, true] {
        let recorder = serve(|_: &Request| Reply::json(200, &job_json("ftjob-1")));
        let target = format!("{}/v1/fine_tuning/jobs/ftjob-1", recorder.base_url());
        for status in [301u16, 302, 307, 308] {
            let target = target.clone();
            let redirector = serve(move |_: &Request| Reply::Full {
                status,
                headers: vec![("location".into(), target.clone())],
                body: vec![],
            });
            let provider = if azure_dialect {
                azure(&redirector, options())
            } else {
                openai(&redirector, options())
            };
            let err = provider.retrieve_job("ftjob-1").await.unwrap_err();
            assert_eq!(err.code(), "redirect_refused", "{status}");
            assert!(!err.is_recoverable());
            assert_eq!(redirector.requests().len(), 1);
        }
        let leaked: Vec<_> = recorder.requests();
        assert!(
            leaked.is_empty(),
            "the redirect target received {} request(s); headers: {:?}",
            leaked.len(),
            leaked
                .iter()
                .map(|r| (
                    r.header("authorization").is_some(),
                    r.header("api-key").is_some()
                ))
                .collect::<Vec<_>>()
        );
    }
}

#[tokio::test]
async fn auth_rejections_are_classified_and_not_retried() {
    for status in [401u16, 403] {
        // Even a server that says "retry" is not retried with the same refused key.
        let listener = serve(move |_: &Request| {
            Reply::json(status, &json!({"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}))
                .with_header("x-should-retry", "true")
        });
        let provider = openai(&listener, options());
        let err = provider.retrieve_job("ftjob-1").await.unwrap_err();
        assert!(err.is_auth_rejected(), "{status}");
        assert!(!err.is_recoverable());
        assert_eq!(listener.requests().len(), 1, "{status} retried");
    }
    let listener = serve(|_: &Request| Reply::json(404, &json!({})));
    let err = openai(&listener, options())
        .retrieve_job("x")
        .await
        .unwrap_err();
    assert!(!err.is_auth_rejected());
}

fn assert_clean(text: &str, max: usize) {
    assert!(text.len() <= max, "{} bytes: {text:.80}", text.len());
    assert!(
        !text.chars().any(|c| c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200B}' | '\u{2028}')),
        "control characters in {text:?}"
    );
}

#[tokio::test]
async fn provider_text_is_sanitized_at_the_edge() {
    let hostile = format!(
        "line one\r\nWarning: fake log line\x1b[31m\u{202E}desrever\u{200B}{}",
        "é".repeat(5000)
    );
    let (h1, h2, h3) = (hostile.clone(), hostile.clone(), hostile.clone());
    let listener = serve(move |r: &Request| {
        if r.path.contains("/events") {
            Reply::json(
                200,
                &json!({"object": "list", "has_more": false, "data": [
                    {"id": "ftevent-1", "level": h1.clone(), "message": h1.clone(), "type": "message",
                     "data": {"huge": "x".repeat(100_000)}}
                ]}),
            )
        } else if r.path.contains("/files") {
            Reply::json(
                400,
                &json!({"error": {"message": h2.clone(), "code": h2.clone(), "param": h2.clone()}}),
            )
            .with_header("x-request-id", &format!("req-{}", "x".repeat(5000)))
        } else {
            Reply::json(
                200,
                &json!({"id": "ftjob-1", "status": h3.clone(),
                "error": {"code": h3.clone(), "message": h3.clone()}}),
            )
        }
    });
    let provider = openai(&listener, options());

    let err = provider.retrieve_file("file-1").await.unwrap_err();
    let shown = err.to_string();
    assert!(
        !shown.contains('\n') && !shown.contains('\x1b'),
        "{shown:?}"
    );
    let api = err.api_error().unwrap();
    assert_clean(api.message.as_deref().unwrap(), MAX_TEXT_BYTES);
    assert_clean(api.code.as_deref().unwrap(), 64);
    assert_clean(api.param.as_deref().unwrap(), 64);
    assert!(
        api.message
            .as_deref()
            .unwrap()
            .starts_with("line one Warning: fake log line")
    );

    let job = provider.retrieve_job("ftjob-1").await.unwrap();
    assert_clean(job.status.as_str(), 64);
    let e = job.error.unwrap();
    assert_clean(e.message.as_deref().unwrap(), MAX_TEXT_BYTES);
    assert_clean(e.code.as_deref().unwrap(), 64);

    let events = provider.job_events_since("ftjob-1", None).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_clean(events[0].message.as_deref().unwrap(), MAX_TEXT_BYTES);
    assert_clean(events[0].level.as_deref().unwrap(), 64);
    assert_eq!(events[0].data, None, "event data is not kept");
}

#[tokio::test]
async fn malformed_identifiers_are_refused() {
    let listener = serve(|_: &Request| {
        Reply::json(
            200,
            &json!({"id": format!("ftjob-1\r\n{}", "x".repeat(1000)), "status": "running"}),
        )
    });
    let err = openai(&listener, options())
        .retrieve_job("ftjob-1")
        .await
        .unwrap_err();
    assert_eq!(err.code(), "unexpected_response", "{err}");
}

#[tokio::test]
async fn a_server_that_never_answers_costs_one_bounded_wait() {
    let listener = serve(|_: &Request| Reply::Hang);
    let provider = openai(
        &listener,
        ProviderOptions {
            request_timeout: Duration::from_millis(300),
            retry: RetryPolicy {
                max_attempts: 2,
                base_delay: Duration::from_millis(10),
                ..RetryPolicy::default()
            },
            ..options()
        },
    );
    let started = Instant::now();
    let err = provider.retrieve_job("ftjob-1").await.unwrap_err();
    assert_eq!(err.code(), "timeout", "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}
