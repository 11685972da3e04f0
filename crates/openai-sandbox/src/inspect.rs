//! `/_sandbox/...`: what exists now, what was received, what was asked; fault and clock control.

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Shared;
use super::faults::{FaultConfig, Faults};
use super::state::State as SandboxState;

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/state", get(state))
        .route("/received", get(received))
        .route("/files/{id}/received", get(received_bytes))
        .route("/requests", get(requests))
        .route("/faults", get(get_faults).post(set_faults))
        .route("/clock/advance", post(advance_clock))
        .route("/reset", post(reset))
}

fn plain_error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": {"message": message, "type": "sandbox_error", "param": null, "code": null}})))
        .into_response()
}

async fn state(State(app): State<Shared>) -> Response {
    let (st, now) = app.ticked();
    Json(st.snapshot(now, app.cfg.azure_file_seconds)).into_response()
}

async fn received(State(app): State<Shared>) -> Response {
    let (mut rows, blobs): (Vec<Value>, Vec<_>) = {
        let (st, _) = app.ticked();
        st.received
            .iter()
            .map(|r| {
                (
                    serde_json::to_value(r).unwrap_or(Value::Null),
                    r.blob.clone(),
                )
            })
            .unzip()
    };
    // Digests are computed on first request (off the lock, off the async threads).
    for (row, blob) in rows.iter_mut().zip(blobs) {
        row["sha256"] = match blob.digests().await {
            Ok(d) => json!(d.sha256),
            Err(_) => Value::Null,
        };
    }
    Json(json!({"object": "list", "data": rows})).into_response()
}

async fn received_bytes(State(app): State<Shared>, Path(id): Path<String>) -> Response {
    let found = {
        let (st, _) = app.ticked();
        st.received_index
            .get(&id)
            .map(|&i| (st.received[i].bytes, st.received[i].blob.clone()))
    };
    let Some((bytes, blob)) = found else {
        return plain_error(
            StatusCode::NOT_FOUND,
            "no file with this id was ever received",
        );
    };
    let sha = blob.digests().await.map(|d| d.sha256).unwrap_or_default();
    let headers = [
        (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
        (header::CONTENT_LENGTH, bytes.to_string()),
        (header::HeaderName::from_static("x-sandbox-sha256"), sha),
    ];
    (headers, Body::from_stream(blob.stream())).into_response()
}

#[derive(Deserialize)]
struct Since {
    since: Option<u64>,
}

async fn requests(State(app): State<Shared>, Query(q): Query<Since>) -> Response {
    let st = app.lock();
    let since = q.since.unwrap_or(0);
    let data: Vec<_> = st
        .requests
        .iter()
        .filter(|r| r.seq > since)
        .cloned()
        .collect();
    Json(json!({"object": "list", "data": data})).into_response()
}

async fn get_faults(State(app): State<Shared>) -> Response {
    let st = app.lock();
    Json(serde_json::to_value(&st.faults.config).unwrap_or(Value::Null)).into_response()
}

async fn set_faults(State(app): State<Shared>, body: Bytes) -> Response {
    let cfg: FaultConfig = match serde_json::from_slice(&body) {
        Ok(c) => c,
        Err(e) => {
            return plain_error(
                StatusCode::BAD_REQUEST,
                &format!("invalid fault configuration: {e}"),
            );
        }
    };
    let mut st = app.lock();
    st.faults = Faults::new(cfg);
    Json(serde_json::to_value(&st.faults.config).unwrap_or(Value::Null)).into_response()
}

#[derive(Deserialize)]
struct Advance {
    seconds: f64,
}

async fn advance_clock(State(app): State<Shared>, body: Bytes) -> Response {
    let adv: Advance = match serde_json::from_slice(&body) {
        Ok(a) => a,
        Err(e) => {
            return plain_error(
                StatusCode::BAD_REQUEST,
                &format!("expected {{\"seconds\": N}}: {e}"),
            );
        }
    };
    if !adv.seconds.is_finite() || adv.seconds < 0.0 {
        return plain_error(
            StatusCode::BAD_REQUEST,
            "seconds must be a non-negative number",
        );
    }
    let mut st = app.lock();
    st.clock_offset += adv.seconds;
    let now = st.now();
    st.tick(now, &app.ctx);
    Json(json!({"now": now, "offset": st.clock_offset})).into_response()
}

async fn reset(State(app): State<Shared>) -> Response {
    let mut st = app.lock();
    *st = SandboxState::new(app.cfg.seed, Faults::new(app.cfg.faults.clone()));
    Json(json!({"reset": true})).into_response()
}
