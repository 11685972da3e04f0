//! `openai-sandbox`: an OpenAI-compatible local server for Files, Uploads, fine-tuning jobs and
//! models, with an Azure OpenAI flavour under `/openai/...`, fault injection and inspection
//! endpoints. It serves the demo and the tests; it is never in the operator's path.
//!
//! Inspection endpoints live under `/_sandbox/` and need no key (the sandbox binds to loopback):
//! - `GET  /_sandbox/state`                 every object that exists now, with counts
//! - `GET  /_sandbox/received`              every file body ever received (id, filename, bytes,
//!   sha256, deleted, expired)
//! - `GET  /_sandbox/files/{id}/received`   the exact bytes received for a file (kept after delete)
//! - `GET  /_sandbox/requests[?since=N]`    request log: method, path, query, status, fault; no bodies
//! - `GET|POST /_sandbox/faults`            read or replace the fault configuration (JSON)
//! - `POST /_sandbox/clock/advance`         `{"seconds": N}`: move the virtual clock forward
//! - `POST /_sandbox/reset`                 forget everything, back to the start-up configuration

mod blob;
mod error;
pub mod faults;
mod graders;
mod handlers;
mod ids;
mod inspect;
mod jobs;
mod listener;
mod state;
pub mod validate;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State as AxState};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

pub use error::{ApiError, Flavor};
use faults::{FaultConfig, FaultKind, Faults};
use jobs::JobCtx;
use listener::{ConnHandle, KillableListener};
use state::{RequestLog, State};

/// Largest body accepted by `POST /files` (OpenAI's per-file limit).
pub const MAX_FILE_BYTES: u64 = 512 * 1024 * 1024;
/// Largest Upload part.
pub const MAX_PART_BYTES: u64 = 64 * 1024 * 1024;
/// Largest Upload.
pub const MAX_UPLOAD_BYTES: u64 = 8 * 1024 * 1024 * 1024;
/// JSON request bodies.
const MAX_JSON_BYTES: usize = 2 * 1024 * 1024;

#[derive(Clone, Debug)]
pub struct Config {
    pub api_key: String,
    /// Seconds of un-paused time from job creation to a terminal state.
    pub job_seconds: f64,
    /// Organisation name used in fine-tuned model ids (`ft:<model>:<org>:<suffix>:<id>`).
    pub org_name: String,
    /// `organization_id` of jobs and `owned_by` of fine-tuned models.
    pub org_id: String,
    /// Seed for ids and job metrics.
    pub seed: u64,
    /// Azure only: time for an uploaded file to go pending -> running -> processed.
    pub azure_file_seconds: f64,
    /// OpenAI only: the organisation has lost self-serve fine-tuning (the 2026 wind-down), so
    /// every job creation answers 403.
    pub fine_tuning_refused: bool,
    pub faults: FaultConfig,
    /// Bodies larger than this spill from memory to the spool directory.
    pub spill_bytes: usize,
    /// Where spilled bodies go (a private temporary directory by default).
    pub spool_dir: Option<PathBuf>,
}

impl Config {
    pub fn new(api_key: impl Into<String>) -> Self {
        Self {
            api_key: api_key.into(),
            job_seconds: 10.0,
            org_name: "sandbox-org".into(),
            org_id: "org-sandbox".into(),
            seed: 0,
            azure_file_seconds: 0.5,
            fine_tuning_refused: false,
            faults: FaultConfig::default(),
            spill_bytes: 8 * 1024 * 1024,
            spool_dir: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot bind the listen address: {0}")]
    Bind(#[source] std::io::Error),
    #[error("cannot create the spool directory: {0}")]
    Spool(#[source] std::io::Error),
    #[error("server failed: {0}")]
    Serve(#[source] std::io::Error),
}

pub struct App {
    cfg: Config,
    ctx: JobCtx,
    state: Mutex<State>,
    spool: tempfile::TempDir,
}

impl App {
    fn new(cfg: Config) -> Result<Self, SandboxError> {
        let spool = match &cfg.spool_dir {
            Some(d) => tempfile::Builder::new()
                .prefix("openai-sandbox-")
                .tempdir_in(d),
            None => tempfile::Builder::new().prefix("openai-sandbox-").tempdir(),
        }
        .map_err(SandboxError::Spool)?;
        let ctx = JobCtx {
            job_seconds: cfg.job_seconds,
            org_name: cfg.org_name.clone(),
            org_id: cfg.org_id.clone(),
        };
        let state = Mutex::new(State::new(cfg.seed, Faults::new(cfg.faults.clone())));
        Ok(Self {
            cfg,
            ctx,
            state,
            spool,
        })
    }

    /// The state lock. A panic while holding it cannot leave the maps half-updated in a way that
    /// matters for a test server, so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The state with time applied: expired objects gone, jobs advanced.
    fn ticked(&self) -> (MutexGuard<'_, State>, f64) {
        let mut st = self.lock();
        let now = st.now();
        st.tick(now, &self.ctx);
        (st, now)
    }

    fn spool_dir(&self) -> PathBuf {
        self.spool.path().to_path_buf()
    }
}

pub type Shared = Arc<App>;

fn api_routes() -> Router<Shared> {
    use handlers::*;
    Router::new()
        .route(
            "/files",
            post(create_file)
                .layer(DefaultBodyLimit::disable())
                .get(list_files),
        )
        .route("/files/{id}", get(retrieve_file).delete(delete_file))
        .route("/files/{id}/content", get(file_content))
        .route("/uploads", post(create_upload))
        .route(
            "/uploads/{id}/parts",
            post(add_upload_part).layer(DefaultBodyLimit::disable()),
        )
        .route("/uploads/{id}/complete", post(complete_upload))
        .route("/uploads/{id}/cancel", post(cancel_upload))
        .route("/fine_tuning/jobs", post(create_job).get(list_jobs))
        .route(
            "/fine_tuning/jobs/{id}",
            get(retrieve_job).delete(delete_job),
        )
        .route("/fine_tuning/jobs/{id}/cancel", post(cancel_job))
        .route("/fine_tuning/jobs/{id}/pause", post(pause_job))
        .route("/fine_tuning/jobs/{id}/resume", post(resume_job))
        .route("/fine_tuning/jobs/{id}/events", get(list_events))
        .route("/fine_tuning/jobs/{id}/checkpoints", get(list_checkpoints))
        .route("/fine_tuning/alpha/graders/validate", post(validate_grader))
        .route("/fine_tuning/alpha/graders/run", post(run_grader))
        .route("/models", get(list_models))
        .route("/models/{id}", get(retrieve_model).delete(delete_model))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_JSON_BYTES))
}

/// The whole service.
pub fn router(app: Shared) -> Router {
    Router::new()
        .nest("/v1", api_routes())
        .nest("/openai/v1", api_routes())
        .nest("/openai", api_routes())
        .nest("/_sandbox", inspect::routes())
        .fallback(handlers::unknown_route)
        .layer(middleware::from_fn_with_state(app.clone(), frontdoor))
        .with_state(app)
}

fn flavor_of(path: &str) -> Option<Flavor> {
    if path.starts_with("/_sandbox/") || path == "/_sandbox" {
        None
    } else if path.starts_with("/openai/") || path == "/openai" {
        Some(Flavor::Azure)
    } else {
        Some(Flavor::OpenAI)
    }
}

fn header_str(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

fn authenticate(cfg: &Config, flavor: Flavor, req: &Request) -> Result<(), ApiError> {
    let h = req.headers();
    let bearer = header_str(h, "authorization").and_then(|a| {
        a.get(..7)
            .filter(|p| p.eq_ignore_ascii_case("bearer "))
            .map(|_| a[7..].trim().to_owned())
    });
    match flavor {
        Flavor::OpenAI => match bearer {
            None => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                "You didn't provide an API key. You need to provide your API key in an Authorization header using \
                 Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) \
                 if you're accessing the API from your browser and are prompted for a username and password. You \
                 can obtain an API key from https://platform.openai.com/account/api-keys.",
            )),
            // The real service echoes a masked key; the sandbox echoes none of it, so no key
            // fragment can end up in a client's logs.
            Some(k) if k != cfg.api_key => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
            )
            .code("invalid_api_key")),
            Some(_) => Ok(()),
        },
        Flavor::Azure => {
            let key = header_str(h, "api-key").or(bearer);
            if key.as_deref() != Some(cfg.api_key.as_str()) {
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "invalid_request_error",
                    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a \
                     valid key for an active subscription and use a correct regional API endpoint for your resource.",
                )
                .azure("401"));
            }
            // The v1 data plane (`/openai/v1/...`) takes no api-version.
            if req.uri().path().starts_with("/openai/v1/") {
                return Ok(());
            }
            let version = handlers::query_pairs(req.uri())
                .into_iter()
                .find(|(k, _)| k == "api-version")
                .map(|(_, v)| v)
                .filter(|v| !v.is_empty());
            if version.is_none() {
                return Err(ApiError::invalid("The api-version query parameter (?api-version=) is required for all requests.")
                    .azure("MissingApiVersionParameter"));
            }
            Ok(())
        }
    }
}

fn fault_error(kind: FaultKind, retry_after_ms: u64, flavor: Flavor, org: &str) -> ApiError {
    let secs = retry_after_ms.div_ceil(1000).max(1);
    let retry = |e: ApiError| {
        e.header("retry-after", secs.to_string())
            .header("retry-after-ms", retry_after_ms.to_string())
            .header("x-should-retry", "true".into())
    };
    match kind {
        FaultKind::RateLimited => {
            let msg = match flavor {
                Flavor::OpenAI => format!(
                    "Rate limit reached for requests in organization {org} on requests per min (RPM): Limit 10000, \
                     Used 10000, Requested 1. Please try again in {}ms. Visit https://platform.openai.com/account/rate-limits to learn more.",
                    retry_after_ms
                ),
                Flavor::Azure => format!(
                    "Requests to the Fine-tuning API have exceeded call rate limit of your current pricing tier. \
                     Please retry after {secs} seconds."
                ),
            };
            retry(
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "requests", msg)
                    .code("rate_limit_exceeded"),
            )
            .header("x-ratelimit-remaining-requests", "0".into())
        }
        FaultKind::Internal => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "The server had an error while processing your request. Sorry about that!",
        )
        .header("x-should-retry", "true".into()),
        FaultKind::BadGateway => {
            ApiError::new(StatusCode::BAD_GATEWAY, "server_error", "Bad gateway.")
                .header("x-should-retry", "true".into())
        }
        FaultKind::Unavailable => retry(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            "The server is overloaded or not ready yet.",
        )),
        // Never rendered: the connection is cut instead.
        FaultKind::Drop | FaultKind::DropAfter => {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "dropped")
        }
    }
}

/// Request id, auth, faults, flavour-specific error rendering, OpenAI's response headers and the
/// request log, around every request.
async fn frontdoor(AxState(app): AxState<Shared>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().map(str::to_owned);
    let flavor = flavor_of(&path);
    let request_id = format!("req_{}", uuid::Uuid::new_v4().simple());
    let org_header = header_str(req.headers(), "openai-organization");
    let project_header = header_str(req.headers(), "openai-project");
    let conn = req
        .extensions()
        .get::<ConnectInfo<ConnHandle>>()
        .map(|c| c.0.clone());
    let mut fault_label = None;

    let mut resp = match flavor {
        None => next.run(req).await,
        Some(flavor) => match authenticate(&app.cfg, flavor, &req) {
            Err(e) => e.render(flavor),
            Ok(()) => {
                let decision = app.lock().faults.decide(&method, &path);
                if decision.latency_ms > 0 {
                    tokio::time::sleep(Duration::from_millis(decision.latency_ms)).await;
                }
                match decision.fault {
                    Some((FaultKind::Drop, _)) => {
                        fault_label = Some(FaultKind::Drop.label());
                        if let Some(c) = &conn {
                            c.kill();
                        }
                        StatusCode::INTERNAL_SERVER_ERROR.into_response()
                    }
                    Some((FaultKind::DropAfter, _)) => {
                        fault_label = Some(FaultKind::DropAfter.label());
                        let r = next.run(req).await;
                        if let Some(c) = &conn {
                            c.kill();
                        }
                        drop(r);
                        StatusCode::INTERNAL_SERVER_ERROR.into_response()
                    }
                    Some((kind, retry_ms)) => {
                        fault_label = Some(kind.label());
                        fault_error(kind, retry_ms, flavor, &app.cfg.org_name).render(flavor)
                    }
                    None => {
                        let r = next.run(req).await;
                        match r.extensions().get::<ApiError>() {
                            Some(e) if flavor == Flavor::Azure => e.render(flavor),
                            _ => r,
                        }
                    }
                }
            }
        },
    };

    let elapsed = started.elapsed();
    let mut st = app.lock();
    let now = st.now();
    if let Some(flavor) = flavor {
        let minute = (now / 60.0) as i64;
        if st.rl_window.0 != minute {
            st.rl_window = (minute, 0);
        }
        st.rl_window.1 += 1;
        let remaining = 10_000u64.saturating_sub(st.rl_window.1);
        let reset_ms = ((minute + 1) as f64 * 60.0 - now).max(0.0) * 1000.0;
        let h = resp.headers_mut();
        let mut set = |name: &'static str, value: String| {
            if let Ok(v) = HeaderValue::from_str(&value) {
                h.entry(name).or_insert(v);
            }
        };
        set("x-request-id", request_id.clone());
        set("openai-processing-ms", elapsed.as_millis().to_string());
        set("x-ratelimit-limit-requests", "10000".into());
        set("x-ratelimit-remaining-requests", remaining.to_string());
        set(
            "x-ratelimit-reset-requests",
            format!("{}ms", reset_ms as u64),
        );
        set("x-ratelimit-limit-tokens", "2000000".into());
        set("x-ratelimit-remaining-tokens", "2000000".into());
        set("x-ratelimit-reset-tokens", "0s".into());
        match flavor {
            Flavor::OpenAI => {
                set("openai-version", "2020-10-01".into());
                set("openai-organization", app.cfg.org_name.clone());
            }
            Flavor::Azure => {
                set("apim-request-id", uuid::Uuid::new_v4().to_string());
                set("x-ms-region", "Sandbox".into());
            }
        }
    }
    st.log_request(RequestLog {
        seq: 0,
        at: now,
        request_id,
        method,
        path,
        query,
        status: if matches!(fault_label, Some("drop" | "drop_after")) {
            0
        } else {
            resp.status().as_u16()
        },
        flavor,
        fault: fault_label,
        duration_ms: elapsed.as_millis() as u64,
        openai_organization: org_header,
        openai_project: project_header,
    });
    resp
}

/// A sandbox bound to an address and serving in the background; stops and removes its spool
/// directory when dropped.
pub struct Running {
    pub addr: SocketAddr,
    pub app: Shared,
    spool: PathBuf,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Serve until the server fails.
    pub async fn wait(&mut self) -> Result<(), SandboxError> {
        match (&mut self.task).await {
            Ok(r) => r.map_err(SandboxError::Serve),
            Err(e) => Err(SandboxError::Serve(std::io::Error::other(e))),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
        // Connection tasks may still hold the app (and its TempDir) for a moment; the spool is
        // removed here so that nothing received outlives the sandbox.
        let _ = std::fs::remove_dir_all(&self.spool);
    }
}

/// Bind `addr` (port 0 picks a free port) and serve in a background task.
pub async fn start(cfg: Config, addr: SocketAddr) -> Result<Running, SandboxError> {
    let app = Arc::new(App::new(cfg)?);
    let spool = app.spool_dir();
    let tcp = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(SandboxError::Bind)?;
    let addr = tcp.local_addr().map_err(SandboxError::Bind)?;
    let service = router(app.clone()).into_make_service_with_connect_info::<ConnHandle>();
    let task = tokio::spawn(async move { axum::serve(KillableListener::new(tcp), service).await });
    Ok(Running {
        addr,
        app,
        spool,
        task,
    })
}
