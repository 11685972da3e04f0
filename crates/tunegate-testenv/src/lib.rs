//! A real local Kubernetes control plane (etcd + kube-apiserver, built from Go modules by
//! `hack/build-controlplane.sh`) for tests and for a person's dev cluster, the way
//! controller-runtime's envtest runs one: separate processes on free loopback ports, freshly
//! generated certificates, RBAC on, no kubelet and no controller-manager.
//!
//! ```no_run
//! # fn main() -> Result<(), tunegate_testenv::Error> {
//! let cp = tunegate_testenv::ControlPlane::start(Default::default())?;
//! println!("export KUBECONFIG={}", cp.kubeconfig().display());
//! # Ok(()) }
//! ```

mod dev;
mod node;
mod pki;
mod process;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};

pub use dev::{DevCluster, DevStatus, UpReport};
pub use node::{Cluster, ClusterOptions, NodeBinaries, NodeNetwork, Rss, remove_stale};
pub use pki::{ADMIN_USER, Pki};
pub use process::Lifetime;
use process::Managed;

/// Errors of the local control plane. Messages are one line, except that start-up failures
/// append the tail of the failing process's log, which is where the cause is.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("control plane binaries: {0}")]
    Binaries(String),
    #[error("certificate generation: {0}")]
    Pki(#[from] rcgen::Error),
    #[error(
        "{name} exited before the control plane was ready ({status}); last lines of {log}:\n{tail}"
    )]
    EarlyExit {
        name: &'static str,
        status: String,
        log: String,
        tail: String,
    },
    #[error(
        "kube-apiserver not ready after {secs} s (last /readyz result: {last}); last lines of {log}:\n{tail}"
    )]
    NotReady {
        secs: u64,
        last: String,
        log: String,
        tail: String,
    },
    #[error("CRD {name} not Established after {secs} s")]
    CrdNotEstablished { name: String, secs: u64 },
    #[error("namespace {name} did not appear after {secs} s")]
    NamespaceMissing { name: String, secs: u64 },
    #[error("kubeconfig: {0}")]
    Kubeconfig(#[from] kube::config::KubeconfigError),
    #[error("kubernetes API: {0}")]
    Kube(String),
    #[error("dev cluster state in {dir}: {msg}")]
    State { dir: String, msg: String },
    #[error("async runtime: {0}")]
    Runtime(String),
}

impl From<kube::Error> for Error {
    fn from(e: kube::Error) -> Self {
        // kube's Display of an API error embeds the whole Status in Debug form; the
        // server's message (which names the field and rule) is the useful line.
        Error::Kube(match e {
            kube::Error::Api(status) => {
                format!("{} ({} {})", status.message, status.code, status.reason)
            }
            other => other.to_string(),
        })
    }
}

impl Error {
    fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

/// Where the kube-apiserver and etcd executables are.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub kube_apiserver: PathBuf,
    pub etcd: PathBuf,
}

impl Binaries {
    /// Both binaries in `dir`, if present.
    pub fn in_dir(dir: &Path) -> Option<Self> {
        let b = Binaries {
            kube_apiserver: dir.join("kube-apiserver"),
            etcd: dir.join("etcd"),
        };
        (b.kube_apiserver.is_file() && b.etcd.is_file()).then_some(b)
    }

    /// `KUBEBUILDER_ASSETS` if it holds both binaries (the envtest convention), else the
    /// directory printed by `hack/build-controlplane.sh`, which builds them once into a cache
    /// keyed by version (a cold build takes many minutes; its progress goes to stderr).
    pub fn locate() -> Result<Self, Error> {
        if let Some(dir) = std::env::var_os("KUBEBUILDER_ASSETS")
            && let Some(b) = Self::in_dir(Path::new(&dir))
        {
            return Ok(b);
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../hack/build-controlplane.sh");
        let out = Command::new("bash")
            .arg(&script)
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(|e| Error::io(format!("run {}", script.display()), e))?;
        if !out.status.success() {
            return Err(Error::Binaries(format!(
                "{} failed ({}); see its output above",
                script.display(),
                out.status
            )));
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let dir = stdout
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .ok_or_else(|| Error::Binaries(format!("{} printed no directory", script.display())))?;
        Self::in_dir(Path::new(dir.trim()))
            .ok_or_else(|| Error::Binaries(format!("{dir} lacks kube-apiserver or etcd")))
    }
}

/// How to start a control plane.
#[derive(Debug, Clone)]
pub struct Options {
    /// `None`: [`Binaries::locate`].
    pub binaries: Option<Binaries>,
    /// `None`: a fresh temporary directory, removed on drop. `Some`: this directory, kept.
    pub dir: Option<PathBuf>,
    pub lifetime: Lifetime,
    /// Time allowed from spawning the processes to `/readyz` answering `ok`.
    pub ready_timeout: Duration,
    /// Installed after `/readyz`, then awaited until Established.
    pub crds: Vec<CustomResourceDefinition>,
}

impl Default for Options {
    fn default() -> Self {
        // Generous: two shared cores may be busy compiling while the apiserver starts.
        let secs = std::env::var("TUNEGATE_CONTROLPLANE_READY_TIMEOUT")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(120);
        Options {
            binaries: None,
            dir: None,
            lifetime: Lifetime::Attached,
            ready_timeout: Duration::from_secs(secs),
            crds: tunegate_api::crds(),
        }
    }
}

/// A running etcd + kube-apiserver. Dropping it stops both (SIGTERM, then SIGKILL) and
/// removes its temporary directory; attached processes also die if this process is killed.
#[derive(Debug)]
pub struct ControlPlane {
    dir: PathBuf,
    kubeconfig: PathBuf,
    server: String,
    etcd_url: String,
    pki: Pki,
    /// Full mode: the client certificates asked for (cert, key), in order.
    extra_certs: Vec<(PathBuf, PathBuf)>,
    /// Full mode: the kubelet's serving certificate and key.
    kubelet_serving: Option<(PathBuf, PathBuf)>,
    ready_after: Duration,
    // Stopped in this order: the apiserver first, so it never runs against a dead etcd.
    apiserver: Managed,
    etcd: Managed,
    // Dropped after the processes are stopped (field order), so their files outlive them.
    _tmp: Option<tempfile::TempDir>,
    armed: bool,
    at_exit: Option<u64>,
}

impl ControlPlane {
    /// Starts etcd and kube-apiserver, waits for `/readyz`, writes the kubeconfig, installs
    /// `options.crds` and waits until they are Established. Blocking; callable from a test
    /// thread or from inside an async runtime (the waiting runs on a thread of its own).
    pub fn start(options: Options) -> Result<Self, Error> {
        Self::start_with(options, None)
    }

    /// [`ControlPlane::start`], or with `full` the apiserver of a full cluster: bound to the
    /// first service address (so pods reach it as the `kubernetes` Service without a
    /// kube-proxy), Node and RBAC authorization, the ServiceAccount admission plugin on (the
    /// controller-manager creates the accounts) and a client certificate for kubelets.
    pub(crate) fn start_with(
        options: Options,
        full: Option<&node::ApiserverSpec>,
    ) -> Result<Self, Error> {
        let started = Instant::now();
        let binaries = match options.binaries {
            Some(b) => b,
            None => Binaries::locate()?,
        };
        let (tmp, dir) = match options.dir {
            Some(d) => {
                std::fs::create_dir_all(&d)
                    .map_err(|e| Error::io(format!("create {}", d.display()), e))?;
                (None, d)
            }
            None => {
                remove_stale_temp_dirs();
                let t = tempfile::Builder::new()
                    .prefix(TEMP_PREFIX)
                    .tempdir()
                    .map_err(|e| Error::io("create a temporary directory", e))?;
                let d = t.path().to_owned();
                let owner = d.join(OWNER_FILE);
                std::fs::write(&owner, std::process::id().to_string())
                    .map_err(|e| Error::io(format!("write {}", owner.display()), e))?;
                (Some(t), d)
            }
        };
        let (pki, extra_certs, kubelet_serving) = match full {
            None => (pki::generate(&dir.join("pki"))?, Vec::new(), None),
            Some(f) => pki::generate_full(
                &dir.join("pki"),
                &[f.address.as_str()],
                &f.clients,
                Some(f.node_ip.as_str()),
            )?,
        };
        let [etcd_client, etcd_peer, apiserver_port] = free_ports()?;
        let etcd_url = format!("http://127.0.0.1:{etcd_client}");
        let server = match full {
            None => format!("https://127.0.0.1:{apiserver_port}"),
            Some(f) => format!("https://{}:443", f.address),
        };

        let spawn_at = Instant::now();
        let etcd_args = vec![
            "--name=default".to_owned(),
            format!("--data-dir={}", dir.join("etcd-data").display()),
            format!("--listen-client-urls={etcd_url}"),
            format!("--advertise-client-urls={etcd_url}"),
            format!("--listen-peer-urls=http://127.0.0.1:{etcd_peer}"),
            format!("--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer}"),
            format!("--initial-cluster=default=http://127.0.0.1:{etcd_peer}"),
            // Throw-away data: durability is not worth the fsync latency on a busy disk.
            "--unsafe-no-fsync=true".to_owned(),
            "--log-level=warn".to_owned(),
        ];
        let mut etcd = process::spawn(
            "etcd",
            &binaries.etcd,
            &etcd_args,
            &dir.join("etcd.log"),
            options.lifetime,
        )?;
        let p = |f: &Path| f.display().to_string();
        let (address, port) = match full {
            None => ("127.0.0.1".to_owned(), apiserver_port),
            Some(f) => (f.address.clone(), 443),
        };
        let mut apiserver_args = vec![
            format!("--advertise-address={address}"),
            // Kubernetes 1.37 refuses a loopback advertise address for the endpoint
            // reconciler of the `kubernetes` Service; the full cluster's Service needs no
            // endpoints either (its ClusterIP is the apiserver's own address, no kube-proxy).
            "--endpoint-reconciler-type=none".to_owned(),
            format!("--bind-address={address}"),
            format!("--secure-port={port}"),
            format!("--etcd-servers={etcd_url}"),
            format!("--tls-cert-file={}", p(&pki.serving_cert)),
            format!("--tls-private-key-file={}", p(&pki.serving_key)),
            format!("--client-ca-file={}", p(&pki.ca_cert)),
            format!(
                "--authorization-mode={}",
                if full.is_some() { "Node,RBAC" } else { "RBAC" }
            ),
            "--service-account-issuer=https://kubernetes.default.svc".to_owned(),
            format!("--service-account-key-file={}", p(&pki.sa_public)),
            format!("--service-account-signing-key-file={}", p(&pki.sa_private)),
            "--allow-privileged=true".to_owned(),
            "--profiling=false".to_owned(),
        ];
        match full {
            None => apiserver_args.extend([
                "--service-cluster-ip-range=10.0.0.0/24".to_owned(),
                // No controller-manager creates the "default" ServiceAccount, so this plugin
                // would reject every Pod (envtest disables it for the same reason).
                "--disable-admission-plugins=ServiceAccount".to_owned(),
            ]),
            Some(f) => {
                apiserver_args.push(format!("--service-cluster-ip-range={}", f.service_cidr));
                if let Some((cert, key)) = extra_certs.first() {
                    apiserver_args.push(format!("--kubelet-client-certificate={}", p(cert)));
                    apiserver_args.push(format!("--kubelet-client-key={}", p(key)));
                }
                // The kubelet's serving certificate is ours: verify it.
                apiserver_args.push(format!(
                    "--kubelet-certificate-authority={}",
                    p(&pki.ca_cert)
                ));
                apiserver_args.push("--kubelet-preferred-address-types=InternalIP".to_owned());
            }
        }
        let apiserver = match process::spawn(
            "kube-apiserver",
            &binaries.kube_apiserver,
            &apiserver_args,
            &dir.join("kube-apiserver.log"),
            options.lifetime,
        ) {
            Ok(a) => a,
            Err(e) => {
                etcd.stop(Duration::from_secs(5));
                return Err(e);
            }
        };
        let kubeconfig = dir.join("kubeconfig");
        // From here on, Drop stops both processes on any error.
        let mut cp = ControlPlane {
            dir,
            kubeconfig,
            server,
            etcd_url,
            pki,
            extra_certs,
            kubelet_serving,
            ready_after: Duration::ZERO,
            apiserver,
            etcd,
            _tmp: tmp,
            armed: true,
            at_exit: None,
        };
        if options.lifetime == Lifetime::Attached {
            let temp = cp._tmp.as_ref().map(|t| t.path().to_owned());
            cp.at_exit = Some(process::register_at_exit(
                vec![cp.apiserver.pid(), cp.etcd.pid()],
                temp,
            ));
        }
        write_kubeconfig(&cp.kubeconfig, &cp.server, &cp.pki)?;
        let deadline = spawn_at + options.ready_timeout;
        let crds = options.crds;
        std::thread::scope(|s| {
            s.spawn(|| {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| Error::Runtime(e.to_string()))?;
                rt.block_on(cp.become_ready(deadline, options.ready_timeout, &crds))
            })
            .join()
            .unwrap_or_else(|_| Err(Error::Runtime("start-up thread panicked".to_owned())))
        })?;
        cp.ready_after = spawn_at.elapsed();
        tracing::debug!(
            total = ?started.elapsed(),
            ready_after = ?cp.ready_after,
            "local control plane ready"
        );
        Ok(cp)
    }

    async fn become_ready(
        &mut self,
        deadline: Instant,
        timeout: Duration,
        crds: &[CustomResourceDefinition],
    ) -> Result<(), Error> {
        let client = self.client().await?;
        let mut last: String;
        loop {
            for m in [&mut self.etcd, &mut self.apiserver] {
                if let Some(status) = m.exited() {
                    return Err(Error::EarlyExit {
                        name: m.name,
                        status: status.to_string(),
                        log: m.log.display().to_string(),
                        tail: process::log_tail(&m.log, 30),
                    });
                }
            }
            let req = http::Request::get("/readyz").body(Vec::new());
            match req {
                Ok(req) => {
                    match tokio::time::timeout(Duration::from_secs(5), client.request_text(req))
                        .await
                    {
                        Ok(Ok(body)) if body.trim() == "ok" => break,
                        Ok(Ok(body)) => last = body.trim().to_owned(),
                        Ok(Err(e)) => last = e.to_string(),
                        Err(_) => last = "timed out after 5 s".to_owned(),
                    }
                }
                Err(e) => last = e.to_string(),
            }
            if Instant::now() >= deadline {
                return Err(Error::NotReady {
                    secs: timeout.as_secs(),
                    last,
                    log: self.apiserver.log.display().to_string(),
                    tail: process::log_tail(&self.apiserver.log, 30),
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        // The "default" namespace is created by a loop inside the apiserver shortly after
        // /readyz; manifests without a namespace need it.
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let ns_deadline = Instant::now() + Duration::from_secs(60);
        while namespaces.get_opt("default").await?.is_none() {
            if Instant::now() >= ns_deadline {
                return Err(Error::NamespaceMissing {
                    name: "default".to_owned(),
                    secs: 60,
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        install_crds(&client, crds, Duration::from_secs(60)).await
    }

    /// A new client for the admin user. Create one per async runtime (per test): a client
    /// keeps connections that belong to the runtime it was first used on.
    pub async fn client(&self) -> Result<kube::Client, Error> {
        client_for(&self.kubeconfig).await
    }

    /// The kubeconfig file (admin user, `system:masters`); set `KUBECONFIG` to it for kubectl.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// `https://127.0.0.1:PORT`.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// `http://127.0.0.1:PORT`.
    pub fn etcd_url(&self) -> &str {
        &self.etcd_url
    }

    /// Directory holding the certificates, etcd data, logs and kubeconfig.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn pki(&self) -> &Pki {
        &self.pki
    }

    /// Process ids of (etcd, kube-apiserver).
    pub fn pids(&self) -> (u32, u32) {
        (self.etcd.pid(), self.apiserver.pid())
    }

    /// Time from spawning the processes to ready (`/readyz` ok and CRDs Established).
    pub fn ready_after(&self) -> Duration {
        self.ready_after
    }

    /// Current resident set sizes in KiB of (etcd, kube-apiserver).
    pub fn rss_kib(&self) -> (Option<u64>, Option<u64>) {
        (
            process::rss_kib(self.etcd.pid()),
            process::rss_kib(self.apiserver.pid()),
        )
    }

    /// Stops both processes now (also done on drop).
    pub fn stop(&mut self) {
        if let Some(key) = self.at_exit.take() {
            process::unregister_at_exit(key);
        }
        if self.armed {
            self.armed = false;
            self.apiserver.stop(Duration::from_secs(10));
            self.etcd.stop(Duration::from_secs(10));
        }
    }

    /// Leaves detached processes running after this value is gone (for `DevCluster::up`).
    fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A client for the context of the kubeconfig at `path`.
pub async fn client_for(path: &Path) -> Result<kube::Client, Error> {
    // More than one rustls backend is compiled in (through dependencies), so rustls cannot
    // pick one by itself; choose ring, as kube's features do. Fails harmlessly if already set.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let kc = Kubeconfig::read_from(path)?;
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await?;
    Ok(kube::Client::try_from(config)?)
}

/// Server-side applies `crds` and waits until each is Established.
pub async fn install_crds(
    client: &kube::Client,
    crds: &[CustomResourceDefinition],
    timeout: Duration,
) -> Result<(), Error> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = PatchParams::apply("tunegate-testenv").force();
    for crd in crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        api.patch(&name, &params, &Patch::Apply(crd)).await?;
    }
    let deadline = Instant::now() + timeout;
    for crd in crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        loop {
            let current = api.get(&name).await?;
            let established = current
                .status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True");
            if established {
                break;
            }
            if Instant::now() >= deadline {
                return Err(Error::CrdNotEstablished {
                    name,
                    secs: timeout.as_secs(),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

const TEMP_PREFIX: &str = "tunegate-cp-";
/// Pid of the process that created a temporary control-plane directory.
const OWNER_FILE: &str = "owner.pid";

/// A killed test binary cannot remove its temporary directory (its processes do die, see
/// `process`); remove such leftovers, recognised by an owner pid that no longer runs.
fn remove_stale_temp_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            continue;
        }
        let dir = entry.path();
        let Ok(owner) = std::fs::read_to_string(dir.join(OWNER_FILE)) else {
            continue;
        };
        let alive = owner
            .trim()
            .parse::<u32>()
            .is_ok_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
        if !alive {
            node::remove_stale_dir(&dir);
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

/// `N` distinct free loopback ports. All listeners are held until the end so that the
/// kernel cannot hand out the same port twice; a race with other programs remains possible.
fn free_ports<const N: usize>() -> Result<[u16; N], Error> {
    let bind =
        || TcpListener::bind("127.0.0.1:0").map_err(|e| Error::io("bind a free loopback port", e));
    let mut listeners = Vec::with_capacity(N);
    for _ in 0..N {
        listeners.push(bind()?);
    }
    let mut ports = [0u16; N];
    for (port, l) in ports.iter_mut().zip(&listeners) {
        *port = l
            .local_addr()
            .map_err(|e| Error::io("read a bound port", e))?
            .port();
    }
    Ok(ports)
}

fn write_kubeconfig(path: &Path, server: &str, pki: &Pki) -> Result<(), Error> {
    write_kubeconfig_for(
        path,
        server,
        &pki.ca_cert,
        ADMIN_USER,
        &pki.admin_cert,
        &pki.admin_key,
    )
}

/// A kubeconfig for one client certificate.
fn write_kubeconfig_for(
    path: &Path,
    server: &str,
    ca: &Path,
    user: &str,
    cert: &Path,
    key: &Path,
) -> Result<(), Error> {
    // JSON is valid YAML, and serde_json quotes the paths correctly.
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "tunegate-local", "cluster": {
            "server": server,
            "certificate-authority": ca,
        }}],
        "users": [{"name": user, "user": {
            "client-certificate": cert,
            "client-key": key,
        }}],
        "contexts": [{"name": "tunegate-local", "context": {
            "cluster": "tunegate-local",
            "user": user,
            "namespace": "default",
        }}],
        "current-context": "tunegate-local",
    });
    let text = serde_json::to_string_pretty(&config)
        .map_err(|e| Error::io("encode kubeconfig", std::io::Error::other(e)))?;
    write_private(path, &text)
}

/// Writes a file readable only by its owner (private keys, kubeconfig).
fn write_private(path: &Path, contents: &str) -> Result<(), Error> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io(format!("write {}", path.display()), e))?;
    f.write_all(contents.as_bytes())
        .map_err(|e| Error::io(format!("write {}", path.display()), e))
}
