//! The full mode: a single-node cluster that runs pods. etcd and kube-apiserver as in the fast
//! mode, plus kube-controller-manager, kube-scheduler, containerd (with runc and the CNI
//! bridge plugin) and a kubelet, each its own process.
//!
//! Isolation and clean-up, the reasons behind the layout:
//! - containerd and the kubelet run inside a new PID and mount namespace (`unshare`), whose
//!   init is a small shell. When that init dies the kernel kills every process of the
//!   namespace, including containerd's shims and the containers, which detach from
//!   containerd's process group and would survive a plain group kill. The init dies with the
//!   test process (`PR_SET_PDEATHSIG`, through `unshare --kill-child`), so nothing is left even
//!   when the test binary is SIGKILLed.
//! - The mount namespace has its own `/run/netns` and `/run/containerd`: pod network
//!   namespaces and shim sockets live on tmpfs mounts that vanish with it, which also frees
//!   each pod's veth.
//! - The network is one Linux bridge per cluster, `tgbr<slot>`, never routed anywhere (no
//!   default route in pods, no masquerading; the host does not forward). It carries the node
//!   address `10.244.<slot>.1` (the kubelet refuses a loopback node IP) and the first service
//!   address `10.96.<slot>.1`, on which kube-apiserver listens at 443: pods reach the
//!   `kubernetes` Service's ClusterIP without a kube-proxy, because it *is* the apiserver's
//!   address. A slot is a lock file, so concurrent clusters get distinct addresses.
//! - The machine has cgroup v1 and denies lowering `oom_score_adj`: the kubelet runs with
//!   `failCgroupV1: false`, the cgroupfs driver and no QoS cgroups; containerd's CRI plugin
//!   with `restrict_oom_score_adj`.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, ServiceAccount};
use kube::api::Api;

use super::pki::ClientCert;
use super::process::{self, Lifetime, Managed};
use super::{ControlPlane, Error, Options, free_ports, write_kubeconfig_for};

/// The node's name in the API.
pub const NODE_NAME: &str = "tunegate-node";
/// Slots 0..SLOTS: at most this many full clusters at once on one machine.
const SLOTS: u8 = 64;

/// What the apiserver of a full cluster needs from this module.
pub(crate) struct ApiserverSpec {
    /// The first service address: bind and advertise address.
    pub address: String,
    pub node_ip: String,
    pub service_cidr: String,
    /// The first is the apiserver's kubelet client; the rest follow in [`CLIENTS`] order.
    pub clients: Vec<ClientCert<'static>>,
}

/// Client certificates of a full cluster, in order: (file stem, CN, O).
const CLIENTS: [(&str, &str, Option<&str>); 4] = [
    (
        "apiserver-kubelet-client",
        "kube-apiserver-kubelet-client",
        Some("system:masters"),
    ),
    ("controller-manager", "system:kube-controller-manager", None),
    ("scheduler", "system:kube-scheduler", None),
    ("node", "system:node:tunegate-node", Some("system:nodes")),
];

/// Where the node's executables are.
#[derive(Debug, Clone)]
pub struct NodeBinaries {
    pub kubelet: PathBuf,
    pub kube_controller_manager: PathBuf,
    pub kube_scheduler: PathBuf,
    pub containerd: PathBuf,
    pub ctr: PathBuf,
    /// The CNI plugins (`bridge`, `host-local`, `loopback`).
    pub cni_bin_dir: PathBuf,
    /// The pod sandbox image tarball (`hack/images/build-pause.sh`).
    pub pause_image: PathBuf,
}

impl NodeBinaries {
    /// The Kubernetes binaries from `TUNEGATE_NODE_ASSETS` or `hack/build-node.sh` (built once
    /// into a cache keyed by version), containerd, runc and the CNI plugins from the Debian
    /// packages (`scripts/ensure-tools.sh` installs them), the pause image from
    /// `hack/images/build-pause.sh`.
    pub fn locate() -> Result<Self, Error> {
        let dir = match std::env::var_os("TUNEGATE_NODE_ASSETS")
            .map(PathBuf::from)
            .filter(|d| {
                ["kubelet", "kube-controller-manager", "kube-scheduler"]
                    .iter()
                    .all(|b| d.join(b).is_file())
            }) {
            Some(d) => d,
            None => PathBuf::from(run_script("hack/build-node.sh")?),
        };
        let pause_image = PathBuf::from(run_script("hack/images/build-pause.sh")?);
        let b = NodeBinaries {
            kubelet: dir.join("kubelet"),
            kube_controller_manager: dir.join("kube-controller-manager"),
            kube_scheduler: dir.join("kube-scheduler"),
            containerd: which("containerd")?,
            ctr: which("ctr")?,
            cni_bin_dir: PathBuf::from("/usr/lib/cni"),
            pause_image,
        };
        which("runc")?;
        which("unshare")?;
        which("ip")?;
        for plugin in ["bridge", "host-local", "loopback"] {
            if !b.cni_bin_dir.join(plugin).is_file() {
                return Err(Error::Binaries(format!(
                    "CNI plugin {plugin} not in {}: run scripts/ensure-tools.sh (Debian package containernetworking-plugins)",
                    b.cni_bin_dir.display()
                )));
            }
        }
        for p in [&b.kubelet, &b.kube_controller_manager, &b.kube_scheduler] {
            if !p.is_file() {
                return Err(Error::Binaries(format!("{} is missing", p.display())));
            }
        }
        Ok(b)
    }
}

fn which(name: &str) -> Result<PathBuf, Error> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Error::Binaries(format!(
                "{name} not found on PATH: run scripts/ensure-tools.sh (it installs containerd, runc and the CNI plugins from Debian)"
            ))
        })
}

/// Runs a repository script and returns the last non-empty line of its stdout.
fn run_script(rel: &str) -> Result<String, Error> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel);
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
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_owned())
        .ok_or_else(|| Error::Binaries(format!("{} printed nothing", script.display())))
}

/// How to start a full cluster.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// etcd + kube-apiserver as in the fast mode (binaries, CRDs, lifetime, timeouts).
    pub control_plane: Options,
    /// `None`: [`NodeBinaries::locate`].
    pub node: Option<NodeBinaries>,
    /// Image tarballs (`docker save` or OCI archives) imported into containerd before the
    /// node is reported ready. Nothing is ever pulled: no registry is reachable.
    pub images: Vec<PathBuf>,
    /// Time allowed from the control plane being ready to the node being Ready.
    pub node_ready_timeout: Duration,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        let secs = std::env::var("TUNEGATE_NODE_READY_TIMEOUT")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(180);
        ClusterOptions {
            control_plane: Options::default(),
            node: None,
            images: Vec::new(),
            node_ready_timeout: Duration::from_secs(secs),
        }
    }
}

/// Resident set sizes in KiB, per component, once the node is Ready.
#[derive(Debug, Clone, Default)]
pub struct Rss {
    pub etcd: Option<u64>,
    pub kube_apiserver: Option<u64>,
    pub kube_controller_manager: Option<u64>,
    pub kube_scheduler: Option<u64>,
    pub containerd: Option<u64>,
    pub kubelet: Option<u64>,
    /// All containerd shims together (one per pod).
    pub shims: u64,
}

/// A held slot: its lock file stays locked as long as this value lives.
#[derive(Debug)]
struct Slot {
    index: u8,
    _lock: File,
}

impl Slot {
    fn acquire() -> Result<Slot, Error> {
        let dir = std::env::temp_dir().join("tunegate-node-slots");
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
        for index in 0..SLOTS {
            let path = dir.join(format!("slot-{index}.lock"));
            let f = File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(|e| Error::io(format!("open {}", path.display()), e))?;
            // SAFETY: flock(2) on a file descriptor we own.
            let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if rc == 0 {
                return Ok(Slot { index, _lock: f });
            }
        }
        Err(Error::Binaries(format!(
            "all {SLOTS} full-cluster slots are in use"
        )))
    }
}

/// Addresses of one slot.
#[derive(Debug, Clone)]
pub struct NodeNetwork {
    pub bridge: String,
    /// The node's InternalIP (on the bridge; also the pods' gateway).
    pub node_ip: String,
    /// The apiserver's address: the first service IP.
    pub service_ip: String,
    pub pod_cidr: String,
    pub service_cidr: String,
}

impl NodeNetwork {
    fn for_slot(i: u8) -> Self {
        NodeNetwork {
            bridge: format!("tgbr{i}"),
            node_ip: format!("10.244.{i}.1"),
            service_ip: format!("10.96.{i}.1"),
            pod_cidr: format!("10.244.{i}.0/24"),
            service_cidr: format!("10.96.{i}.0/24"),
        }
    }

    fn create(&self) -> Result<(), Error> {
        // A previous owner of this slot that was killed cannot have removed its bridge.
        delete_link(&self.bridge);
        ip(&["link", "add", &self.bridge, "type", "bridge"])?;
        ip(&[
            "addr",
            "add",
            &format!("{}/24", self.node_ip),
            "dev",
            &self.bridge,
        ])?;
        ip(&[
            "addr",
            "add",
            &format!("{}/32", self.service_ip),
            "dev",
            &self.bridge,
        ])?;
        ip(&["link", "set", &self.bridge, "up"])
    }
}

fn ip(args: &[&str]) -> Result<(), Error> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| Error::io("run ip", e))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::Binaries(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

fn delete_link(name: &str) {
    let _ = Command::new("ip")
        .args(["link", "del", name])
        .stderr(std::process::Stdio::null())
        .status();
}

/// A running single-node cluster. Dropping it stops every component, kills every pod and
/// removes the bridge and the temporary directory.
pub struct Cluster {
    net: NodeNetwork,
    ready_after: Duration,
    containerd_sock: PathBuf,
    ctr: PathBuf,
    // Stop order (see `stop`): node, scheduler, controller-manager, then the control plane.
    node: Managed,
    node_init: Option<u32>,
    scheduler: Managed,
    controller_manager: Managed,
    /// containerd's task state: one directory per sandbox or container not yet deleted.
    task_dir: PathBuf,
    cp: ControlPlane,
    at_exit: Option<u64>,
    armed: bool,
    _slot: Slot,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("server", &self.cp.server())
            .field("net", &self.net)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// Starts every component, imports the images and waits until the node is Ready and the
    /// `default` ServiceAccount exists. Blocking.
    pub fn start(options: ClusterOptions) -> Result<Self, Error> {
        let spawned = Instant::now();
        let node_bins = match options.node {
            Some(b) => b,
            None => NodeBinaries::locate()?,
        };
        let lifetime = options.control_plane.lifetime;
        let slot = Slot::acquire()?;
        let net = NodeNetwork::for_slot(slot.index);
        net.create()?;
        let spec = ApiserverSpec {
            address: net.service_ip.clone(),
            node_ip: net.node_ip.clone(),
            service_cidr: net.service_cidr.clone(),
            clients: CLIENTS
                .iter()
                .map(|(stem, cn, o)| ClientCert {
                    stem,
                    common_name: cn,
                    organization: *o,
                })
                .collect(),
        };
        let cp = match ControlPlane::start_with(options.control_plane, Some(&spec)) {
            Ok(cp) => cp,
            Err(e) => {
                delete_link(&net.bridge);
                return Err(e);
            }
        };
        let cp_ready = Instant::now();
        let dir = cp.dir().to_owned();
        let certs = cp.extra_certs.clone();
        let cert = |i: usize| {
            certs
                .get(i)
                .cloned()
                .ok_or_else(|| Error::Binaries("missing client certificate".to_owned()))
        };
        let ca = cp.pki().ca_cert.clone();
        let server = cp.server().to_owned();
        let kubeconfig = |name: &str, user: &str, (c, k): (PathBuf, PathBuf)| {
            let path = dir.join(format!("{name}.kubeconfig"));
            write_kubeconfig_for(&path, &server, &ca, user, &c, &k).map(|()| path)
        };
        let cm_kc = kubeconfig(
            "controller-manager",
            "system:kube-controller-manager",
            cert(1)?,
        )?;
        let sched_kc = kubeconfig("scheduler", "system:kube-scheduler", cert(2)?)?;
        let node_kc = kubeconfig("kubelet", "system:node:tunegate-node", cert(3)?)?;
        let [cm_port, sched_port, healthz_port] = free_ports()?;
        let p = |f: &Path| f.display().to_string();
        let pki = cp.pki().clone();
        let cm_args = vec![
            format!("--kubeconfig={}", p(&cm_kc)),
            format!("--authentication-kubeconfig={}", p(&cm_kc)),
            format!("--authorization-kubeconfig={}", p(&cm_kc)),
            "--bind-address=127.0.0.1".to_owned(),
            format!("--secure-port={cm_port}"),
            format!("--service-account-private-key-file={}", p(&pki.sa_private)),
            format!("--root-ca-file={}", p(&pki.ca_cert)),
            // Each controller with its own ServiceAccount, as in a kubeadm cluster.
            "--use-service-account-credentials=true".to_owned(),
            format!("--service-cluster-ip-range={}", net.service_cidr),
            "--leader-elect=false".to_owned(),
            "--profiling=false".to_owned(),
        ];
        let mut cluster_parts = Vec::new();
        let cm = process::spawn(
            "kube-controller-manager",
            &node_bins.kube_controller_manager,
            &cm_args,
            &dir.join("kube-controller-manager.log"),
            lifetime,
        );
        let sched_args = vec![
            format!("--kubeconfig={}", p(&sched_kc)),
            format!("--authentication-kubeconfig={}", p(&sched_kc)),
            format!("--authorization-kubeconfig={}", p(&sched_kc)),
            "--bind-address=127.0.0.1".to_owned(),
            format!("--secure-port={sched_port}"),
            "--leader-elect=false".to_owned(),
            "--profiling=false".to_owned(),
        ];
        let sched = process::spawn(
            "kube-scheduler",
            &node_bins.kube_scheduler,
            &sched_args,
            &dir.join("kube-scheduler.log"),
            lifetime,
        );
        let (mut cm, mut sched) = match (cm, sched) {
            (Ok(a), Ok(b)) => (a, b),
            (a, b) => {
                for m in [a, b].into_iter().flatten() {
                    cluster_parts.push(m);
                }
                for m in &mut cluster_parts {
                    m.stop(Duration::from_secs(5));
                }
                delete_link(&net.bridge);
                return Err(Error::Binaries(
                    "cannot start kube-controller-manager or kube-scheduler".to_owned(),
                ));
            }
        };

        let task_dir = dir
            .join("node")
            .join("containerd")
            .join("state")
            .join("io.containerd.runtime.v2.task")
            .join("k8s.io");
        let node_dir = dir.join("node");
        let files = NodeFiles::write(
            &node_dir,
            &net,
            &node_bins,
            &pki.ca_cert,
            cp.kubelet_serving.clone(),
            healthz_port,
        )?;
        for d in ["/run/netns", "/run/containerd"] {
            // Mount points for the namespace's private tmpfs mounts.
            std::fs::create_dir_all(d).map_err(|e| Error::io(format!("create {d}"), e))?;
        }
        let node_args = vec![
            "--pid".to_owned(),
            "--fork".to_owned(),
            "--mount".to_owned(),
            "--propagation=private".to_owned(),
            "--mount-proc".to_owned(),
            "--kill-child".to_owned(),
            "bash".to_owned(),
            "-c".to_owned(),
            NODE_INIT.to_owned(),
            "node-init".to_owned(),
            p(&node_bins.containerd),
            p(&files.containerd_config),
            p(&dir.join("containerd.log")),
            p(&files.socket),
            p(&node_bins.kubelet),
            p(&dir.join("kubelet.log")),
            format!("--config={}", p(&files.kubelet_config)),
            format!("--kubeconfig={}", p(&node_kc)),
            format!("--root-dir={}", p(&node_dir.join("kubelet"))),
            format!("--cert-dir={}", p(&node_dir.join("kubelet-pki"))),
            format!("--hostname-override={NODE_NAME}"),
            format!("--node-ip={}", net.node_ip),
        ];
        let node = match process::spawn(
            "node",
            Path::new("unshare"),
            &node_args,
            &dir.join("node.log"),
            lifetime,
        ) {
            Ok(n) => n,
            Err(e) => {
                cm.stop(Duration::from_secs(5));
                sched.stop(Duration::from_secs(5));
                delete_link(&net.bridge);
                return Err(e);
            }
        };
        let mut cluster = Cluster {
            net,
            ready_after: Duration::ZERO,
            containerd_sock: files.socket.clone(),
            ctr: node_bins.ctr.clone(),
            node_init: None,
            node,
            scheduler: sched,
            controller_manager: cm,
            task_dir,
            cp,
            at_exit: None,
            armed: true,
            _slot: slot,
        };
        if lifetime == Lifetime::Attached {
            let bridge = cluster.net.bridge.clone();
            let tasks = cluster.task_dir.clone();
            let mut pgids = vec![
                cluster.node.pid(),
                cluster.scheduler.pid(),
                cluster.controller_manager.pid(),
            ];
            let (etcd, apiserver) = cluster.cp.pids();
            pgids.extend([apiserver, etcd]);
            // The control plane's own hook would race this one; one hook for everything.
            if let Some(key) = cluster.cp.at_exit.take() {
                process::unregister_at_exit(key);
            }
            let temp = cluster.cp._tmp.as_ref().map(|t| t.path().to_owned());
            cluster.at_exit = Some(process::register_at_exit_with(
                pgids,
                temp,
                Some(Box::new(move || {
                    delete_link(&bridge);
                    remove_task_cgroups(&tasks);
                })),
            ));
        }
        let deadline = Instant::now() + options.node_ready_timeout;
        cluster.wait_for_socket(deadline)?;
        cluster.node_init = process::children(cluster.node.pid()).first().copied();
        let mut images = vec![node_bins.pause_image.clone()];
        images.extend(options.images);
        for image in &images {
            cluster.import_image(image)?;
        }
        let timeout = options.node_ready_timeout;
        std::thread::scope(|s| {
            s.spawn(|| {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| Error::Runtime(e.to_string()))?;
                rt.block_on(cluster.wait_ready(deadline, timeout))
            })
            .join()
            .unwrap_or_else(|_| Err(Error::Runtime("start-up thread panicked".to_owned())))
        })?;
        cluster.ready_after = spawned.elapsed();
        tracing::debug!(
            control_plane = ?cluster.cp.ready_after(),
            node_after_control_plane = ?cp_ready.elapsed(),
            "full cluster ready"
        );
        Ok(cluster)
    }

    fn check_alive(&mut self) -> Result<(), Error> {
        let dir = self.cp.dir().to_owned();
        for m in [
            &mut self.node,
            &mut self.scheduler,
            &mut self.controller_manager,
        ] {
            if let Some(status) = m.exited() {
                // The node's own log says which of containerd and the kubelet exited.
                let log = if m.name == "node" {
                    let mut tail = process::log_tail(&m.log, 5);
                    for l in ["containerd.log", "kubelet.log"] {
                        tail.push_str(&format!(
                            "\n--- {l}:\n{}",
                            process::log_tail(&dir.join(l), 15)
                        ));
                    }
                    tail
                } else {
                    process::log_tail(&m.log, 30)
                };
                return Err(Error::EarlyExit {
                    name: m.name,
                    status: status.to_string(),
                    log: m.log.display().to_string(),
                    tail: log,
                });
            }
        }
        Ok(())
    }

    fn wait_for_socket(&mut self, deadline: Instant) -> Result<(), Error> {
        while !self.containerd_sock.exists() {
            self.check_alive()?;
            if Instant::now() >= deadline {
                return Err(Error::Binaries(format!(
                    "containerd socket {} did not appear; last lines of containerd.log:\n{}",
                    self.containerd_sock.display(),
                    process::log_tail(&self.cp.dir().join("containerd.log"), 20)
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    async fn wait_ready(&mut self, deadline: Instant, timeout: Duration) -> Result<(), Error> {
        let client = self.cp.client().await?;
        let nodes: Api<Node> = Api::all(client.clone());
        let accounts: Api<ServiceAccount> = Api::namespaced(client, "default");
        loop {
            self.check_alive()?;
            let ready = nodes.get_opt(NODE_NAME).await?.is_some_and(|n| {
                n.status
                    .and_then(|s| s.conditions)
                    .unwrap_or_default()
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True")
            });
            if ready && accounts.get_opt("default").await?.is_some() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::Binaries(format!(
                    "node {NODE_NAME} not Ready after {} s; last lines of kubelet.log:\n{}",
                    timeout.as_secs(),
                    process::log_tail(&self.cp.dir().join("kubelet.log"), 30)
                )));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Imports an image tarball into containerd's `k8s.io` namespace (the CRI's).
    pub fn import_image(&self, tarball: &Path) -> Result<(), Error> {
        let out = Command::new(&self.ctr)
            .arg("--address")
            .arg(&self.containerd_sock)
            .args(["-n", "k8s.io", "images", "import"])
            .arg(tarball)
            .output()
            .map_err(|e| Error::io(format!("run {}", self.ctr.display()), e))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(Error::Binaries(format!(
                "ctr images import {}: {}",
                tarball.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    }

    /// The control plane (kubeconfig, client, pki, etcd/apiserver pids).
    pub fn control_plane(&self) -> &ControlPlane {
        &self.cp
    }

    pub fn kubeconfig(&self) -> &Path {
        self.cp.kubeconfig()
    }

    pub async fn client(&self) -> Result<kube::Client, Error> {
        self.cp.client().await
    }

    pub fn network(&self) -> &NodeNetwork {
        &self.net
    }

    /// containerd's socket (for `ctr --address`).
    pub fn containerd_socket(&self) -> &Path {
        &self.containerd_sock
    }

    /// Where the kubelet writes pod logs (`<namespace>_<pod>_<uid>/<container>/0.log`).
    pub fn pod_logs_dir(&self) -> PathBuf {
        self.cp.dir().join("node").join("pod-logs")
    }

    /// Spawn of the first process to node Ready (and the default ServiceAccount present).
    pub fn ready_after(&self) -> Duration {
        self.ready_after
    }

    /// Host pids of every process inside the node's PID namespace (containerd, kubelet,
    /// shims, containers), the init included.
    pub fn node_pids(&self) -> Vec<u32> {
        match self.node_init {
            Some(init) => {
                let mut all = vec![init];
                all.extend(process::descendants(init));
                all
            }
            None => Vec::new(),
        }
    }

    /// The node's init process (host pid), whose death ends the whole node.
    pub fn node_init_pid(&self) -> Option<u32> {
        self.node_init
    }

    /// Current RSS of each component.
    pub fn rss(&self) -> Rss {
        let (etcd, kube_apiserver) = self.cp.rss_kib();
        let mut rss = Rss {
            etcd,
            kube_apiserver,
            kube_controller_manager: process::rss_kib(self.controller_manager.pid()),
            kube_scheduler: process::rss_kib(self.scheduler.pid()),
            ..Rss::default()
        };
        for pid in self.node_pids() {
            match process::comm(pid).as_deref() {
                Some("containerd") => rss.containerd = process::rss_kib(pid),
                Some("kubelet") => rss.kubelet = process::rss_kib(pid),
                Some(c) if c.starts_with("containerd-shim") => {
                    rss.shims = rss.shims.saturating_add(process::rss_kib(pid).unwrap_or(0))
                }
                _ => {}
            }
        }
        rss
    }

    /// Stops everything now (also done on drop): the node first (its init's death kills
    /// containerd, the kubelet, the shims and the containers), then the controllers, the
    /// control plane, the bridge and the pods' cgroups.
    pub fn stop(&mut self) {
        if let Some(key) = self.at_exit.take() {
            process::unregister_at_exit(key);
        }
        if !self.armed {
            return;
        }
        self.armed = false;
        if let Some(init) = self.node_init
            && let Ok(pid) = libc::pid_t::try_from(init)
        {
            // SAFETY: kill(2) on the namespace init we started (our grandchild).
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        self.node.stop(Duration::from_secs(10));
        self.scheduler.stop(Duration::from_secs(10));
        self.controller_manager.stop(Duration::from_secs(10));
        remove_task_cgroups(&self.task_dir);
        self.cp.stop();
        delete_link(&self.net.bridge);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Removes the cgroups of containers that were killed rather than deleted. With
/// `cgroupsPerQOS: false` the kubelet gives sandboxes no cgroup parent, so runc puts each
/// sandbox and container at `/k8s.io/<id>` in every v1 hierarchy; a SIGKILLed namespace
/// leaves those (empty) directories, and containerd's task state names them.
pub(crate) fn remove_task_cgroups(task_dir: &Path) {
    let Ok(tasks) = std::fs::read_dir(task_dir) else {
        return;
    };
    let ids: Vec<String> = tasks
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        // Container ids are 64 hex digits; never let a stray name reach a path.
        .filter(|id| id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        .collect();
    if ids.is_empty() {
        return;
    }
    let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    let hierarchies: Vec<PathBuf> = hierarchies.flatten().map(|h| h.path()).collect();
    // The processes die asynchronously after the namespace init; an occupied cgroup refuses
    // rmdir (EBUSY), so retry briefly.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut busy = false;
        for h in &hierarchies {
            for id in &ids {
                let d = h.join("k8s.io").join(id);
                if d.exists() && std::fs::remove_dir(&d).is_err() {
                    busy = true;
                }
            }
        }
        if !busy || Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // The shared parent goes too once empty (rmdir refuses while another runtime uses it).
    for h in &hierarchies {
        let _ = std::fs::remove_dir(h.join("k8s.io"));
    }
}

/// Removes what killed clusters could not: their temporary directories with their pods' cgroups
/// (as every start does) and the bridges of slots nobody holds. Returns the bridges removed.
pub fn remove_stale() -> Vec<String> {
    super::remove_stale_temp_dirs();
    let mut removed = Vec::new();
    let dir = std::env::temp_dir().join("tunegate-node-slots");
    for index in 0..SLOTS {
        let bridge = NodeNetwork::for_slot(index).bridge;
        if !Path::new("/sys/class/net").join(&bridge).exists() {
            continue;
        }
        let Ok(f) = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(format!("slot-{index}.lock")))
        else {
            continue;
        };
        // SAFETY: flock(2) on a file descriptor we own; released when `f` closes.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            delete_link(&bridge);
            removed.push(bridge);
        }
    }
    removed
}

/// A killed test binary leaves its temporary directory (removed by the next start): remove
/// its pods' cgroups first.
pub(crate) fn remove_stale_dir(dir: &Path) {
    remove_task_cgroups(
        &dir.join("node")
            .join("containerd")
            .join("state")
            .join("io.containerd.runtime.v2.task")
            .join("k8s.io"),
    );
}

/// The PID namespace's init: mounts the private tmpfs, starts containerd, waits for its
/// socket, starts the kubelet and ends (killing the namespace) when either exits.
/// Arguments: containerd, its config, its log, its socket, kubelet, its log, kubelet args...
const NODE_INIT: &str = r#"set -u
containerd="$1" config="$2" clog="$3" sock="$4" kubelet="$5" klog="$6"
shift 6
mount -t tmpfs -o mode=0755 tunegate-netns /run/netns || exit 1
mount -t tmpfs -o mode=0711 tunegate-containerd /run/containerd || exit 1
"$containerd" --config "$config" >>"$clog" 2>&1 &
n=0
while [ ! -S "$sock" ]; do
  n=$((n + 1))
  if [ "$n" -gt 1200 ]; then echo "node-init: no containerd socket after 120 s" >&2; exit 1; fi
  sleep 0.1
done
"$kubelet" "$@" >>"$klog" 2>&1 &
wait -n
echo "node-init: containerd or the kubelet exited ($?)" >&2
exit 1
"#;

struct NodeFiles {
    containerd_config: PathBuf,
    kubelet_config: PathBuf,
    socket: PathBuf,
}

impl NodeFiles {
    #[allow(clippy::too_many_arguments)]
    fn write(
        dir: &Path,
        net: &NodeNetwork,
        bins: &NodeBinaries,
        ca: &Path,
        serving: Option<(PathBuf, PathBuf)>,
        healthz_port: u16,
    ) -> Result<Self, Error> {
        let mk = |d: &Path| {
            std::fs::create_dir_all(d).map_err(|e| Error::io(format!("create {}", d.display()), e))
        };
        let cni_conf = dir.join("cni").join("net.d");
        mk(&cni_conf)?;
        mk(&dir.join("pod-logs"))?;
        mk(&dir.join("volume-plugins"))?;
        let socket = dir.join("containerd").join("containerd.sock");
        mk(&dir.join("containerd"))?;
        let pause = pause_image_name(&bins.pause_image)?;
        let q = |p: &Path| toml_string(&p.display().to_string());
        let containerd_config = dir.join("containerd.toml");
        let config = format!(
            r#"version = 2
root = {root}
state = {state}
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.internal.v1.tracing", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = {socket}

[plugins."io.containerd.internal.v1.opt"]
  path = {opt}

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = {pause}
  # This machine denies lowering oom_score_adj: without this every sandbox fails.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_cdi = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = {cni_bin}
    conf_dir = {cni_conf}
    max_conf_num = 1
"#,
            root = q(&dir.join("containerd").join("root")),
            state = q(&dir.join("containerd").join("state")),
            socket = q(&socket),
            opt = q(&dir.join("containerd").join("opt")),
            pause = toml_string(&pause),
            cni_bin = q(&bins.cni_bin_dir),
            cni_conf = q(&cni_conf),
        );
        write(&containerd_config, &config)?;
        // No default route: a pod can reach the node's addresses (the apiserver, a sandbox
        // on the node IP) and other pods, nothing else.
        let cni = serde_json::json!({
            "cniVersion": "1.0.0",
            "name": "tunegate",
            "plugins": [{
                "type": "bridge",
                "bridge": net.bridge,
                // The bridge already has the gateway address (created before the
                // apiserver); isGateway would also switch on IP forwarding host-wide.
                "isGateway": false,
                "ipMasq": false,
                "hairpinMode": true,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": net.pod_cidr, "gateway": net.node_ip}]],
                    "routes": [{"dst": net.service_cidr}],
                    "dataDir": dir.join("cni").join("ipam"),
                },
            }],
        });
        write(&cni_conf.join("10-tunegate.conflist"), &cni.to_string())?;
        let (tls_cert, tls_key) =
            serving.ok_or_else(|| Error::Binaries("no kubelet serving certificate".to_owned()))?;
        let kubelet = serde_json::json!({
            "kind": "KubeletConfiguration",
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "address": net.node_ip,
            "port": 10250,
            "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1",
            "healthzPort": healthz_port,
            "tlsCertFile": tls_cert,
            "tlsPrivateKeyFile": tls_key,
            "authentication": {
                "x509": {"clientCAFile": ca},
                "webhook": {"enabled": false},
                "anonymous": {"enabled": false},
            },
            // Only holders of a certificate from this cluster's CA get through authentication.
            "authorization": {"mode": "AlwaysAllow"},
            "containerRuntimeEndpoint": format!("unix://{}", socket.display()),
            "imageServiceEndpoint": format!("unix://{}", socket.display()),
            // cgroup v1 on this machine (see the module comment).
            "failCgroupV1": false,
            "cgroupDriver": "cgroupfs",
            "cgroupsPerQOS": false,
            // The kubelet would otherwise add KUBE-* chains to the host's iptables, which
            // outlive the cluster; nothing here needs them (no kube-proxy).
            "makeIPTablesUtilChains": false,
            "enforceNodeAllocatable": [],
            "failSwapOn": false,
            "podLogsDir": dir.join("pod-logs"),
            "volumePluginDir": dir.join("volume-plugins"),
            // The imported images cannot be pulled again: never garbage-collect them.
            "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 99,
            // A shared CI disk must not make the node evict test pods.
            "evictionHard": {"memory.available": "50Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
            "resolvConf": "",
            "clusterDomain": "cluster.local",
            "serializeImagePulls": false,
            "shutdownGracePeriod": "0s",
            "syncFrequency": "10s",
        });
        let kubelet_config = dir.join("kubelet.json");
        write(&kubelet_config, &kubelet.to_string())?;
        Ok(NodeFiles {
            containerd_config,
            kubelet_config,
            socket,
        })
    }
}

fn write(path: &Path, text: &str) -> Result<(), Error> {
    std::fs::write(path, text).map_err(|e| Error::io(format!("write {}", path.display()), e))
}

/// A TOML basic string (JSON string escaping is valid TOML for these paths and names).
fn toml_string(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// The `RepoTags[0]` of a `docker save` archive, so that containerd's `sandbox_image` names
/// exactly what was imported.
fn pause_image_name(tarball: &Path) -> Result<String, Error> {
    let out = Command::new("tar")
        .arg("-xOf")
        .arg(tarball)
        .arg("./manifest.json")
        .output()
        .map_err(|e| Error::io("run tar", e))?;
    let manifest: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| Error::Binaries(format!("{}: no manifest.json ({e})", tarball.display())))?;
    manifest
        .get(0)
        .and_then(|m| m.get("RepoTags"))
        .and_then(|t| t.get(0))
        .and_then(|t| t.as_str())
        .map(str::to_owned)
        .ok_or_else(|| Error::Binaries(format!("{}: no RepoTags", tarball.display())))
}
