//! `tunegate run`: the operator process. Connects, checks the CRDs, elects a leader, runs both
//! controllers, serves health and metrics, and shuts down gracefully on SIGTERM.

use crate::provider::UploadLimits;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::{FutureExt, StreamExt};
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, ListParams};
use kube::runtime::controller::{Config as ControllerConfig, Controller};
use kube::runtime::utils::Predicate;
use kube::runtime::{WatchStreamExt, predicates, reflector, watcher};
use kube::{Client, ResourceExt};
use tokio::sync::watch;

use crate::cli::leader;
use crate::controller::metrics::Metrics;
use crate::controller::ports::RemoteFactory;
use crate::controller::{Config, Context, dataset, finetune};
use crate::tenancy::endpoints::EndpointPolicy;
use crate::tenancy::reconcile::{self as configs, ConfigContext, TenancySettings};
use tunegate_api::{
    ClusterProviderConfig, FineTuneJob, ProviderConfig, ProviderConfigKind, TRAINING_DATA_LABEL,
    TrainingDataset,
};

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Flags of `tunegate run`.
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Kubeconfig file; defaults to in-cluster config, then $KUBECONFIG / ~/.kube/config.
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Watch only this namespace (the chart's namespaced mode); default: cluster-wide.
    #[arg(long, env = "TUNEGATE_NAMESPACE")]
    pub namespace: Option<String>,
    /// Address for /healthz, /readyz and /metrics.
    #[arg(long, default_value = "0.0.0.0:8080")]
    pub metrics_addr: SocketAddr,
    /// Image of worker Jobs (the operator's own image).
    #[arg(
        long,
        env = "TUNEGATE_WORKER_IMAGE",
        default_value = "ghcr.io/tunegate/tunegate:latest"
    )]
    pub worker_image: String,
    /// Reconciles in flight per controller.
    #[arg(long, default_value_t = 8)]
    pub concurrency: u16,
    /// Base poll interval for running jobs, in seconds (backed off by provider status).
    #[arg(long, default_value_t = 15.0)]
    pub poll_seconds: f64,
    /// Expiry (`expires_after`) of uploaded files, in days: a backstop if cleanup never happens.
    #[arg(long, default_value_t = 30)]
    pub file_expiry_days: u64,
    /// Seconds after which finished worker Jobs are garbage-collected.
    #[arg(long, default_value_t = 600)]
    pub worker_ttl_seconds: i32,
    /// Log format.
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Disable leader election (only for a single replica, e.g. local development).
    #[arg(long)]
    pub no_leader_election: bool,
    /// Name of the Lease used for leader election.
    #[arg(long, default_value = "tunegate-leader")]
    pub lease_name: String,
    /// Namespace of the Lease; defaults to --namespace, then $POD_NAMESPACE, then `default`.
    #[arg(long, env = "TUNEGATE_LEASE_NAMESPACE")]
    pub lease_namespace: Option<String>,
    /// The operator's own namespace, where ClusterProviderConfig credentials Secrets live.
    #[arg(long, env = "POD_NAMESPACE")]
    pub operator_namespace: Option<String>,
    /// Provider endpoints any provider config may name, as `host[:port]` (`*` is one DNS label;
    /// `:*` any port; without a port the scheme's default). Repeat or comma-separate. Default: the
    /// public endpoints of the supported providers (api.openai.com, *.openai.azure.com,
    /// *.cognitiveservices.azure.com, bedrock.*.amazonaws.com, S3).
    #[arg(
        long = "allowed-endpoint",
        env = "TUNEGATE_ALLOWED_ENDPOINTS",
        value_delimiter = ','
    )]
    pub allowed_endpoints: Vec<String>,
    /// INSECURE, for local sandboxes and tests only: allow plain-http endpoints and loopback or
    /// private addresses (they must still be on the allow-list).
    #[arg(long, env = "TUNEGATE_ALLOW_INSECURE_ENDPOINTS")]
    pub allow_insecure_endpoints: bool,
    /// Memory limit of worker Jobs (a Kubernetes quantity, e.g. `256Mi`). The worker's line cap
    /// is derived from it (128 MiB + 16 x the cap); with --worker-max-line-bytes alone the limit
    /// is derived from the cap instead, and with both they must fit. Default 256Mi (8 MiB lines).
    #[arg(long, env = "TUNEGATE_WORKER_MEMORY_LIMIT")]
    pub worker_memory_limit: Option<String>,
    /// Longest line a worker Job accepts, in bytes (see --worker-memory-limit).
    #[arg(long, env = "TUNEGATE_WORKER_MAX_LINE_BYTES")]
    pub worker_max_line_bytes: Option<u64>,
    /// How long one validation run (in-process or in a worker Job) may take, in seconds; longer
    /// runs fail with PipelineTimeBudgetExceeded.
    #[arg(long, default_value_t = crate::controller::DEFAULT_PIPELINE_TIME_BUDGET.as_secs())]
    pub pipeline_time_budget_seconds: u64,
    /// Most bytes of Secret and ConfigMap sources read in-process for one dataset; more is
    /// SourcesTooLarge (use a volume source).
    #[arg(long, default_value_t = crate::controller::DEFAULT_MAX_IN_PROCESS_SOURCE_BYTES)]
    pub max_in_process_source_bytes: u64,
    /// Memory all concurrent reconciles may hold for in-process sources and their pipelines
    /// together, in bytes; a reconcile that cannot get its share waits and retries.
    #[arg(long, default_value_t = crate::controller::DEFAULT_SOURCE_MEMORY_BUDGET)]
    pub source_memory_budget_bytes: u64,
    /// Deadline of one reconcile, in seconds; a reconcile that takes longer is abandoned (at an
    /// await point, exactly like a crash there) and retried with backoff.
    #[arg(long, default_value_t = crate::controller::DEFAULT_RECONCILE_TIMEOUT.as_secs())]
    pub reconcile_timeout_seconds: u64,
    /// Largest file the operator sends to OpenAI or Azure OpenAI as one request, in bytes; larger
    /// ones go through the Uploads API in parts. Lower it when an egress proxy limits request
    /// bodies. 1 MiB to 512 MB (the API's limit, the default).
    #[arg(long, env = "TUNEGATE_UPLOAD_SINGLE_REQUEST_MAX_BYTES", default_value_t = UploadLimits::default().single_request_max)]
    pub upload_single_request_max_bytes: u64,
    /// Uploads API part size in bytes; one part is held in memory so a failed part can be
    /// retried. 1 MiB to 64 MB (the API's limit, the default).
    #[arg(long, env = "TUNEGATE_UPLOAD_PART_BYTES", default_value_t = UploadLimits::default().part_size)]
    pub upload_part_bytes: u64,
}

/// Smallest upload request or part the flags accept: below it a large file would need more
/// parts than is sensible, and the Uploads API's part count is not unbounded.
const MIN_UPLOAD_BYTES: u64 = 1 << 20;

/// The operator's upload limits from the flags, within the API's bounds.
pub fn upload_limits(args: &RunArgs) -> Result<UploadLimits, RunError> {
    let api = UploadLimits::default();
    let within = |v: u64, max: u64| (MIN_UPLOAD_BYTES..=max).contains(&v);
    if !within(args.upload_single_request_max_bytes, api.single_request_max) {
        return Err(RunError::Config(format!(
            "--upload-single-request-max-bytes must be between {MIN_UPLOAD_BYTES} and {}, got {}",
            api.single_request_max, args.upload_single_request_max_bytes
        )));
    }
    if !within(args.upload_part_bytes, api.part_size) {
        return Err(RunError::Config(format!(
            "--upload-part-bytes must be between {MIN_UPLOAD_BYTES} and {}, got {}",
            api.part_size, args.upload_part_bytes
        )));
    }
    Ok(UploadLimits {
        single_request_max: args.upload_single_request_max_bytes,
        part_size: args.upload_part_bytes,
        ..api
    })
}

/// The worker memory limit and line cap from the flags.
pub fn worker_memory(
    args: &RunArgs,
) -> Result<tunegate_core::dataset::memory::WorkerMemory, RunError> {
    use tunegate_core::dataset::memory::{WorkerMemory, parse_quantity};
    let limit = match &args.worker_memory_limit {
        Some(q) => Some(parse_quantity(q).ok_or_else(|| {
            RunError::Config(format!(
                "--worker-memory-limit {q:?} is not a memory quantity"
            ))
        })?),
        None => None,
    };
    WorkerMemory::resolve(limit, args.worker_max_line_bytes)
        .map_err(|e| RunError::Config(e.to_string()))
}

/// A controller whose cache holds objects without `managedFields`: nothing reads them, and at
/// 1,000 FineTuneJobs they were the largest item on the heap (14 MB of 62 MB at peak, heaptrack).
/// The cache sees every change, but only spec (generation) and finalizer changes trigger a
/// reconcile: the controller's own status writes must not start another one (a dataset would run
/// its whole pipeline again, a job would poll again at once). Deletion bumps the generation.
fn trimmed_controller<K>(api: Api<K>, wc: watcher::Config) -> Controller<K>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store();
    let stream = watcher(api, wc)
        .default_backoff()
        .modify(|o| o.managed_fields_mut().clear())
        .reflect(writer)
        .applied_objects()
        .predicate_filter(
            predicates::generation.combine(predicates::finalizers),
            Default::default(),
        );
    Controller::for_stream(stream, reader)
}

/// Why the operator stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot configure the Kubernetes client: {0}")]
    Config(String),
    #[error("the tunegate CRDs are not installed ({0}); install them with: kubectl apply -f crds/")]
    CrdsMissing(&'static str),
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("cannot serve metrics: {0}")]
    Serve(#[from] std::io::Error),
    #[error("leader election: {0}")]
    Lease(String),
    #[error("lost leadership")]
    LostLeadership,
}

/// Sets up tracing; JSON lines or human text, filter from RUST_LOG (default info).
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

async fn client(args: &RunArgs) -> Result<Client, RunError> {
    let config = match &args.kubeconfig {
        Some(path) => {
            let kc = kube::config::Kubeconfig::read_from(path)
                .map_err(|e| RunError::Config(e.to_string()))?;
            kube::Config::from_custom_kubeconfig(kc, &Default::default())
                .await
                .map_err(|e| RunError::Config(e.to_string()))?
        }
        None => kube::Config::infer()
            .await
            .map_err(|e| RunError::Config(e.to_string()))?,
    };
    Client::try_from(config).map_err(RunError::Kube)
}

fn api<K>(client: &Client, ns: Option<&str>) -> Api<K>
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope>,
    <K as kube::Resource>::DynamicType: Default,
{
    match ns {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Verifies both CRDs are served, with a list of at most one object (works with namespaced RBAC).
pub async fn check_crds(client: &Client, ns: Option<&str>) -> Result<(), RunError> {
    let lp = ListParams::default().limit(1);
    let missing = |e: &kube::Error| matches!(e, kube::Error::Api(s) if s.code == 404);
    if let Err(e) = api::<TrainingDataset>(client, ns).list_metadata(&lp).await {
        return Err(if missing(&e) {
            RunError::CrdsMissing("trainingdatasets.tunegate.dev")
        } else {
            e.into()
        });
    }
    if let Err(e) = api::<FineTuneJob>(client, ns).list_metadata(&lp).await {
        return Err(if missing(&e) {
            RunError::CrdsMissing("finetunejobs.tunegate.dev")
        } else {
            e.into()
        });
    }
    if let Err(e) = api::<ProviderConfig>(client, ns).list_metadata(&lp).await {
        return Err(if missing(&e) {
            RunError::CrdsMissing("providerconfigs.tunegate.dev")
        } else {
            e.into()
        });
    }
    if ns.is_none()
        && let Err(e) = Api::<ClusterProviderConfig>::all(client.clone())
            .list_metadata(&lp)
            .await
    {
        return Err(if missing(&e) {
            RunError::CrdsMissing("clusterproviderconfigs.tunegate.dev")
        } else {
            e.into()
        });
    }
    Ok(())
}

#[derive(Clone)]
struct Health {
    metrics: Arc<Metrics>,
    ready: Arc<AtomicBool>,
}

async fn serve(
    listener: tokio::net::TcpListener,
    health: Health,
    mut stop: watch::Receiver<bool>,
) -> Result<(), RunError> {
    tracing::info!(addr = %listener.local_addr()?, "serving /healthz, /readyz, /metrics");
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|v| *v) => return Ok(()),
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            // A failed accept (e.g. too many open files) must not end the health server.
            Err(e) => {
                tracing::warn!(error = %e, "accept on the health/metrics port failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let health = health.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let health = health.clone();
                async move { Ok::<_, std::convert::Infallible>(route(&health, &req)) }
            });
            // Probes and scrapes are tiny; a slow client only holds its own connection.
            // header_read_timeout needs a timer: without one hyper panics on every connection
            // (the kubelet's first probe found that).
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service);
            if let Err(e) = tokio::time::timeout(Duration::from_secs(30), conn).await {
                tracing::debug!(error = %e, "health/metrics connection timed out");
            }
        });
    }
}

/// Answers one request to the health and metrics server.
fn route<B>(health: &Health, req: &Request<B>) -> Response<Full<Bytes>> {
    let (status, content_type, body): (StatusCode, &str, Bytes) =
        match (req.method(), req.uri().path()) {
            (&hyper::Method::GET, "/healthz") => (StatusCode::OK, "text/plain", "ok".into()),
            (&hyper::Method::GET, "/readyz") => {
                if health.ready.load(Ordering::Relaxed) {
                    (StatusCode::OK, "text/plain", "ready".into())
                } else {
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "text/plain",
                        "not ready".into(),
                    )
                }
            }
            (&hyper::Method::GET, "/metrics") => (
                StatusCode::OK,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                health.metrics.encode().into(),
            ),
            (_, "/healthz" | "/readyz" | "/metrics") => (
                StatusCode::METHOD_NOT_ALLOWED,
                "text/plain",
                "method not allowed".into(),
            ),
            _ => (StatusCode::NOT_FOUND, "text/plain", "not found".into()),
        };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    if let Ok(value) = hyper::header::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}

fn shutdown_signal(tx: watch::Sender<bool>) {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(_) => return,
                };
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutting down");
        let _ = tx.send(true);
    });
}

/// Runs the operator with the given provider implementation until SIGTERM.
pub async fn run_with(
    args: RunArgs,
    remotes: Arc<dyn RemoteFactory>,
    metrics: Arc<Metrics>,
) -> Result<(), RunError> {
    // reqwest and kube both use rustls; pick the ring provider once for the process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = client(&args).await?;
    let ns = args.namespace.as_deref();
    let endpoints = EndpointPolicy::new(&args.allowed_endpoints, args.allow_insecure_endpoints)
        .map_err(|e| RunError::Config(e.to_string()))?;
    if args.allow_insecure_endpoints {
        tracing::warn!(
            "--allow-insecure-endpoints: plain-http and loopback/private provider endpoints are allowed; for local sandboxes and tests only"
        );
    }
    let tenancy = Arc::new(TenancySettings {
        endpoints,
        operator_namespace: args.operator_namespace.clone(),
        single_namespace: ns.is_some(),
    });
    let worker_memory = worker_memory(&args)?;
    upload_limits(&args)?;
    let pipeline_time_budget = Duration::from_secs(args.pipeline_time_budget_seconds.max(1));
    let reconcile_timeout = Duration::from_secs(args.reconcile_timeout_seconds.max(1));
    // In-process runs: a line is never longer than the sources (at most
    // --max-in-process-source-bytes), which the source budget accounts for. A run cannot be
    // cancelled with its reconcile, so it stops at the reconcile's deadline on its own.
    crate::controller::pipeline::set_limits(crate::controller::pipeline::RunLimits {
        max_line_bytes: usize::try_from(args.max_in_process_source_bytes).unwrap_or(usize::MAX),
        time_budget: Some(pipeline_time_budget.min(reconcile_timeout)),
    });
    check_crds(&client, ns).await?;

    let (stop_tx, stop_rx) = watch::channel(false);
    shutdown_signal(stop_tx.clone());
    let ready = Arc::new(AtomicBool::new(false));
    let listener = tokio::net::TcpListener::bind(args.metrics_addr).await?;
    let server = tokio::spawn(serve(
        listener,
        Health {
            metrics: metrics.clone(),
            ready: ready.clone(),
        },
        stop_rx.clone(),
    ));

    // Leader election: standbys are ready (they serve probes) but never reconcile.
    let mut leader_rx = None;
    if !args.no_leader_election {
        let lease_ns = args
            .lease_namespace
            .clone()
            .or_else(|| args.namespace.clone())
            .or_else(|| std::env::var("POD_NAMESPACE").ok())
            .unwrap_or_else(|| "default".to_string());
        let identity = std::env::var("POD_NAME")
            .unwrap_or_else(|_| format!("{}-{}", hostname(), std::process::id()));
        let manager = leader::lease_manager(client.clone(), &args.lease_name, &lease_ns, &identity)
            .await
            .map_err(|e| RunError::Lease(e.to_string()))?;
        let (mut rx, _task) = manager.watch().await;
        ready.store(true, Ordering::Relaxed);
        let mut stop = stop_rx.clone();
        tracing::info!("waiting for leadership");
        tokio::select! {
            r = rx.wait_for(|leader| *leader) => { r.map_err(|e| RunError::Lease(e.to_string()))?; }
            _ = stop.wait_for(|v| *v) => { return Ok(()); }
        }
        tracing::info!("became the leader");
        leader_rx = Some(rx);
    }
    ready.store(true, Ordering::Relaxed);

    let config = Config {
        worker_image: args.worker_image.clone(),
        poll_interval: Duration::from_secs_f64(args.poll_seconds.max(0.1)),
        file_expiry: Duration::from_secs(args.file_expiry_days.max(1) * 24 * 3600),
        worker_ttl_seconds: args.worker_ttl_seconds,
        concurrency: args.concurrency.max(1),
        worker_memory,
        pipeline_time_budget,
        max_in_process_source_bytes: args.max_in_process_source_bytes,
        reconcile_timeout,
    };
    let wc = watcher::Config::default().any_semantic();
    let tds_ctrl = trimmed_controller(api::<TrainingDataset>(&client, ns), wc.clone());
    let ftj_ctrl = trimmed_controller(api::<FineTuneJob>(&client, ns), wc.clone());
    let ctx = Arc::new(Context {
        client: client.clone(),
        recorder: Context::new_recorder(client.clone()),
        metrics,
        remotes,
        config: config.clone(),
        datasets: tds_ctrl.store(),
        jobs: ftj_ctrl.store(),
        event_cursors: Default::default(),
        tenancy: tenancy.clone(),
        slots: Default::default(),
        failures: crate::sharing::FailureTracker::new(crate::controller::FAILURE_TRACKER_CAPACITY),
        dataset_slots: crate::sharing::NamespaceSlots::new(usize::from(config.concurrency)),
        job_slots: crate::sharing::NamespaceSlots::new(usize::from(config.concurrency)),
        source_budget: crate::sharing::ByteBudget::new(args.source_memory_budget_bytes),
    });
    let labelled = watcher::Config::default().labels(&format!("{TRAINING_DATA_LABEL}=true"));
    let ds_store = ctx.datasets.clone();
    let ds_store2 = ctx.datasets.clone();
    let job_store = ctx.jobs.clone();
    let shutdown = |rx: watch::Receiver<bool>| async move {
        let mut rx = rx;
        let _ = rx.wait_for(|v| *v).await;
    };
    let cc = ControllerConfig::default().concurrency(config.concurrency);
    let datasets = tds_ctrl
        .owns(
            api::<Job>(&client, ns),
            watcher::Config::default().labels("app.kubernetes.io/component=worker"),
        )
        .watches(
            api::<Secret>(&client, ns),
            labelled.clone(),
            move |s: Secret| {
                let ns = s.namespace().unwrap_or_default();
                dataset::datasets_referencing(&ds_store.state(), &ns, &s.name_any(), true)
            },
        )
        .watches(
            api::<ConfigMap>(&client, ns),
            labelled,
            move |c: ConfigMap| {
                let ns = c.namespace().unwrap_or_default();
                dataset::datasets_referencing(&ds_store2.state(), &ns, &c.name_any(), false)
            },
        )
        .watches(
            api::<FineTuneJob>(&client, ns),
            wc.clone(),
            |j: FineTuneJob| finetune::datasets_to_revalidate(&j),
        )
        .with_config(cc.clone())
        .graceful_shutdown_on(shutdown(stop_rx.clone()))
        .run(dataset::reconcile, dataset::error_policy, ctx.clone())
        .for_each(|_| futures::future::ready(()));
    let job_store2 = ctx.jobs.clone();
    let mut jobs = ftj_ctrl
        .owns(
            api::<Job>(&client, ns),
            watcher::Config::default().labels("app.kubernetes.io/component=worker"),
        )
        .watches(
            api::<TrainingDataset>(&client, ns),
            wc.clone(),
            move |d: TrainingDataset| {
                let ns = d.namespace().unwrap_or_default();
                finetune::jobs_using_dataset(&job_store.state(), &ns, &d.name_any())
            },
        )
        // A config that becomes usable wakes the jobs it refused, rather than their timer.
        .watches(
            api::<ProviderConfig>(&client, ns),
            wc.clone(),
            move |c: ProviderConfig| {
                let ns = c.namespace().unwrap_or_default();
                finetune::jobs_waiting_for_config(
                    &job_store2.state(),
                    ProviderConfigKind::ProviderConfig,
                    Some(&ns),
                    &c.name_any(),
                )
            },
        );
    if ns.is_none() {
        let job_store3 = ctx.jobs.clone();
        jobs = jobs.watches(
            Api::<ClusterProviderConfig>::all(client.clone()),
            wc.clone(),
            move |c: ClusterProviderConfig| {
                finetune::jobs_waiting_for_config(
                    &job_store3.state(),
                    ProviderConfigKind::ClusterProviderConfig,
                    None,
                    &c.name_any(),
                )
            },
        );
    }
    let jobs = jobs
        .with_config(cc)
        .graceful_shutdown_on(shutdown(stop_rx.clone()))
        .run(finetune::reconcile, finetune::error_policy, ctx.clone())
        .for_each(|_| futures::future::ready(()));
    let config_ctx = Arc::new(ConfigContext {
        client: client.clone(),
        jobs: ctx.jobs.clone(),
        settings: tenancy.clone(),
    });
    let namespaced_configs = Controller::new(api::<ProviderConfig>(&client, ns), wc.clone())
        .watches(
            api::<FineTuneJob>(&client, ns),
            wc.clone(),
            |j: FineTuneJob| configs::namespaced_config_of(&j),
        )
        .with_config(ControllerConfig::default().concurrency(2))
        .graceful_shutdown_on(shutdown(stop_rx.clone()))
        .run(
            configs::reconcile_namespaced,
            configs::error_policy,
            config_ctx.clone(),
        )
        .for_each(|_| futures::future::ready(()));
    // The cluster kind only when watching the whole cluster: a single-namespace operator has no
    // business with cluster-scoped configs (nor the RBAC to read its own namespace's Secrets).
    let cluster_configs = if ns.is_none() {
        Controller::new(
            Api::<ClusterProviderConfig>::all(client.clone()),
            wc.clone(),
        )
        .watches(
            api::<FineTuneJob>(&client, ns),
            wc.clone(),
            |j: FineTuneJob| configs::cluster_config_of(&j),
        )
        .with_config(ControllerConfig::default().concurrency(2))
        .graceful_shutdown_on(shutdown(stop_rx.clone()))
        .run(
            configs::reconcile_cluster,
            configs::error_policy,
            config_ctx,
        )
        .for_each(|_| futures::future::ready(()))
        .left_future()
    } else {
        futures::future::ready(()).right_future()
    };
    tracing::info!(namespace = ns.unwrap_or("<all>"), "controllers started");

    let lost = async move {
        match leader_rx {
            Some(mut rx) => {
                let _ = rx.wait_for(|leader| !*leader).await;
                true
            }
            None => futures::future::pending().await,
        }
    };
    let lost_leadership = tokio::select! {
        _ = futures::future::join4(datasets, jobs, namespaced_configs, cluster_configs) => false,
        l = lost => l,
    };
    let _ = stop_tx.send(true);
    let _ = server.await;
    if lost_leadership {
        // Stop acting at once: another replica may already be leading.
        return Err(RunError::LostLeadership);
    }
    Ok(())
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "tunegate".to_string())
}

/// `tunegate run`: builds the runtime and the real providers; returns the exit code.
pub fn main(args: RunArgs) -> u8 {
    init_logging(args.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tunegate: cannot start the async runtime: {e}");
            return 2;
        }
    };
    let limits = match upload_limits(&args) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("tunegate: {e}");
            return 2;
        }
    };
    let metrics = Arc::new(Metrics::new());
    let remotes = Arc::new(
        crate::controller::adapters::HttpRemotes::new(metrics.clone()).with_upload_limits(limits),
    );
    match runtime.block_on(run_with(args, remotes, metrics)) {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!(error = %e, "tunegate run stopped");
            eprintln!("tunegate: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        args: RunArgs,
    }

    fn limits(flags: &[&str]) -> Result<UploadLimits, RunError> {
        upload_limits(&Wrap::parse_from(std::iter::once("run").chain(flags.iter().copied())).args)
    }

    #[test]
    fn upload_limits_default_to_the_api_and_stay_within_it() {
        assert_eq!(limits(&[]).expect("defaults"), UploadLimits::default());
        let proxy = limits(&[
            "--upload-single-request-max-bytes",
            "10000000",
            "--upload-part-bytes",
            "8000000",
        ])
        .expect("within bounds");
        assert_eq!(
            (proxy.single_request_max, proxy.part_size),
            (10_000_000, 8_000_000)
        );
        for flags in [
            ["--upload-single-request-max-bytes", "512000001"],
            ["--upload-single-request-max-bytes", "1000"],
            ["--upload-part-bytes", "64000001"],
            ["--upload-part-bytes", "0"],
        ] {
            let e = limits(&flags).expect_err("out of bounds").to_string();
            assert!(e.contains(flags[0]), "{e}");
        }
    }

    async fn get(addr: SocketAddr, path: &str) -> String {
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let req = format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.expect("write");
        let mut out = String::new();
        s.read_to_string(&mut out).await.expect("read");
        out
    }

    #[tokio::test]
    async fn health_server_answers_probes_and_metrics() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let ready = Arc::new(AtomicBool::new(false));
        let (stop_tx, stop_rx) = watch::channel(false);
        let health = Health {
            metrics: Arc::new(Metrics::new()),
            ready: ready.clone(),
        };
        let server = tokio::spawn(serve(listener, health, stop_rx));
        assert!(get(addr, "/healthz").await.starts_with("HTTP/1.1 200"));
        assert!(get(addr, "/readyz").await.starts_with("HTTP/1.1 503"));
        ready.store(true, Ordering::Relaxed);
        assert!(get(addr, "/readyz").await.starts_with("HTTP/1.1 200"));
        let metrics = get(addr, "/metrics").await;
        assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
        assert!(
            metrics.contains("application/openmetrics-text"),
            "{metrics}"
        );
        assert!(get(addr, "/nope").await.starts_with("HTTP/1.1 404"));
        let _ = stop_tx.send(true);
        let ended = tokio::time::timeout(Duration::from_secs(5), server).await;
        assert!(
            matches!(ended, Ok(Ok(Ok(())))),
            "the server stops on the signal"
        );
    }
}
