//! The chart on a real kube-apiserver (tunegate_testenv, RBAC on, PodSecurity admission on):
//! the rendered manifests apply with server-side apply in both modes, the operator's and the
//! worker's pods pass the restricted Pod Security Standard, the chart's ServiceAccount (through a
//! TokenRequest token) may do every API call the controller makes, and in single-namespace mode it
//! cannot read Secrets anywhere else.

use tunegate_testkit::cluster as support;
use tunegate_testkit::packaging;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use packaging::{RELEASE_NS, of_kind, one, parse_docs, repo_root, template_text};
use serde_json::{Value, json};
use support::{Kubectl, control_plane, kubectl, kubectl_stdin, namespace};

/// Applies YAML with server-side apply as the admin.
fn apply(yaml: &str) -> Kubectl {
    kubectl_stdin(
        &[
            "apply",
            "--server-side",
            "--field-manager=chart-test",
            "-f",
            "-",
        ],
        yaml,
    )
}

/// Renders the chart into `release_ns`, creates that namespace (restricted PSS) and applies.
fn install(release_ns: &str, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["--namespace", release_ns];
    args.extend_from_slice(extra);
    // template_text pins --namespace tunegate-system first; a later --namespace wins.
    let text = template_text(&args);
    kubectl_stdin(
        &["apply", "--server-side", "-f", "-"],
        &restricted_namespace(release_ns),
    )
    .ok();
    apply(&text).ok();
    parse_docs(&text)
}

fn restricted_namespace(name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n  labels:\n    \
         pod-security.kubernetes.io/enforce: restricted\n    pod-security.kubernetes.io/enforce-version: latest\n"
    )
}

/// A kubeconfig that authenticates as the chart's ServiceAccount with a TokenRequest token.
fn service_account_kubeconfig(release_ns: &str, sa: &str) -> PathBuf {
    let token = kubectl(&["create", "token", sa, "-n", release_ns, "--duration=1h"])
        .ok()
        .stdout;
    let token = token.trim();
    assert!(token.len() > 100, "TokenRequest returned no token");
    let admin: Value =
        serde_yaml::from_str(&std::fs::read_to_string(control_plane().kubeconfig()).unwrap())
            .unwrap();
    let cluster = &admin["clusters"][0]["cluster"];
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "local", "cluster": cluster}],
        "users": [{"name": "sa", "user": {"token": token}}],
        "contexts": [{"name": "sa", "context": {"cluster": "local", "user": "sa", "namespace": release_ns}}],
        "current-context": "sa",
    });
    let path = control_plane()
        .dir()
        .join(format!("sa-{release_ns}-{sa}.kubeconfig"));
    std::fs::write(&path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
    path
}

/// kubectl with another kubeconfig (the ServiceAccount's).
fn kubectl_as(kubeconfig: &Path, args: &[&str]) -> Kubectl {
    let out = Command::new("kubectl")
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env(
            "KUBECACHEDIR",
            control_plane().dir().join("kubectl-cache-sa"),
        )
        .stdin(Stdio::null())
        .output()
        .expect("run kubectl");
    Kubectl {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `kubectl auth can-i` as the ServiceAccount: true for "yes", false for "no".
fn can_i(kubeconfig: &Path, verb: &str, resource: &str, ns: Option<&str>) -> bool {
    // "resource/subresource" is spelled with --subresource; "resource/name" stays as is.
    let (resource, sub) = match resource.split_once('/') {
        Some((r, s @ ("status" | "finalizers"))) => (r, Some(format!("--subresource={s}"))),
        _ => (resource, None),
    };
    let mut args = vec!["auth", "can-i", verb, resource];
    if let Some(sub) = &sub {
        args.push(sub);
    }
    match ns {
        Some(ns) => args.extend_from_slice(&["-n", ns]),
        None => args.push("--all-namespaces"),
    }
    let out = kubectl_as(kubeconfig, &args);
    match out.stdout.trim() {
        "yes" => true,
        "no" => false,
        other => panic!(
            "kubectl auth can-i {verb} {resource}: {other:?} {}",
            out.stderr
        ),
    }
}

/// Every (verb, resource) the controller uses in a namespace it reconciles: the API calls in
/// src/controller and src/cli/run.rs (watchers need list+watch; status by server-side apply).
const CONTROLLER_CALLS: &[(&str, &str)] = &[
    ("list", "trainingdatasets.tunegate.dev"),
    ("watch", "trainingdatasets.tunegate.dev"),
    ("get", "trainingdatasets.tunegate.dev"),
    ("patch", "trainingdatasets.tunegate.dev/status"),
    ("list", "finetunejobs.tunegate.dev"),
    ("watch", "finetunejobs.tunegate.dev"),
    ("patch", "finetunejobs.tunegate.dev"),
    ("patch", "finetunejobs.tunegate.dev/status"),
    ("update", "finetunejobs.tunegate.dev/finalizers"),
    ("update", "trainingdatasets.tunegate.dev/finalizers"),
    ("list", "secrets"),
    ("watch", "secrets"),
    ("get", "secrets"),
    ("create", "secrets"),
    ("patch", "secrets"),
    ("list", "configmaps"),
    ("watch", "configmaps"),
    ("get", "configmaps"),
    ("create", "configmaps"),
    ("patch", "configmaps"),
    ("get", "jobs.batch"),
    ("list", "jobs.batch"),
    ("watch", "jobs.batch"),
    ("create", "jobs.batch"),
    ("delete", "jobs.batch"),
    ("list", "pods"),
    ("create", "events.events.k8s.io"),
    ("patch", "events.events.k8s.io"),
];

/// Things the operator never needs, anywhere.
const NEVER: &[(&str, &str)] = &[
    ("delete", "secrets"),
    ("update", "secrets"),
    ("delete", "trainingdatasets.tunegate.dev"),
    ("create", "pods"),
    ("create", "pods/exec"),
    ("create", "rolebindings.rbac.authorization.k8s.io"),
    ("create", "serviceaccounts/token"),
    ("impersonate", "serviceaccounts"),
];

#[test]
fn plain_manifests_apply_server_side_and_the_operator_pod_passes_restricted_pss() {
    // The shipped artifact, exactly as a user applies it (CRDs included, same bytes as installed).
    let path = repo_root().join("deploy/manifests/tunegate.yaml");
    kubectl(&["apply", "--server-side", "-f", path.to_str().unwrap()]).ok();
    // Idempotent: a second apply changes nothing and conflicts with nothing.
    kubectl(&["apply", "--server-side", "-f", path.to_str().unwrap()]).ok();
    kubectl(&[
        "get",
        "deployment/tunegate",
        "serviceaccount/tunegate",
        "service/tunegate-metrics",
        "-n",
        RELEASE_NS,
    ])
    .ok();
    kubectl(&["get", "clusterrole/tunegate", "clusterrolebinding/tunegate"]).ok();

    // No kubelet or controller-manager here: admit the Deployment's pod as a Pod, through the
    // real PodSecurity admission of the restricted namespace (server-side dry run).
    let docs = parse_docs(&std::fs::read_to_string(&path).unwrap());
    let dep = one(&docs, "Deployment");
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "tunegate-pss-check", "namespace": RELEASE_NS},
        "spec": dep["spec"]["template"]["spec"],
    });
    kubectl_stdin(&["create", "--dry-run=server", "-f", "-"], &pod.to_string()).ok();

    // The check has teeth: the same pod with a capability added is refused.
    let mut weak = pod.clone();
    weak["spec"]["containers"][0]["securityContext"]["capabilities"] = json!({"add": ["NET_RAW"]});
    kubectl_stdin(
        &["create", "--dry-run=server", "-f", "-"],
        &weak.to_string(),
    )
    .fails_with("violates PodSecurity \"restricted:latest\"");
}

#[test]
fn worker_job_pods_pass_restricted_pss_in_a_tenant_namespace() {
    // The operator creates worker Jobs in tenant namespaces, which may enforce restricted too.
    let ns = namespace("tenant-pss");
    kubectl(&[
        "label",
        "namespace",
        &ns,
        "pod-security.kubernetes.io/enforce=restricted",
    ])
    .ok();
    let tds: tunegate_api::TrainingDataset = serde_yaml::from_str(&format!(
        "apiVersion: tunegate.dev/v1alpha1\nkind: TrainingDataset\nmetadata: {{name: vol, namespace: {ns}, uid: 0d6f-1, generation: 1}}\n\
         spec:\n  format: Chat\n  sources:\n    - volume: {{claimName: datasets, path: a/train.jsonl}}\n"
    ))
    .unwrap();
    let job = tunegate::controller::worker::validate_job(
        &tds,
        &tunegate::controller::Config::default(),
        None,
    )
    .expect("worker job manifest");
    let job = serde_json::to_value(&job).unwrap();
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "worker-pss-check", "namespace": ns},
        "spec": job["spec"]["template"]["spec"],
    });
    kubectl_stdin(&["create", "--dry-run=server", "-f", "-"], &pod.to_string()).ok();
}

#[test]
fn both_modes_install_side_by_side_and_examples_apply() {
    let cluster_ns = format!("{}-cluster", namespace("tg"));
    let docs = install(
        &cluster_ns,
        &["--set", &format!("fullnameOverride={cluster_ns}")],
    );
    // The operator's ClusterRole, and the three roles for people (view/edit/admin).
    let roles = of_kind(&docs, "ClusterRole");
    assert_eq!(roles.len(), 4, "{roles:?}");
    let user_roles = roles
        .iter()
        .filter(|r| {
            r["metadata"]["labels"]
                .to_string()
                .contains("aggregate-to-")
        })
        .count();
    assert_eq!(user_roles, 3);

    let team = namespace("team");
    let release = format!("{team}-op");
    let docs = install(&release, &["--set", &format!("watchNamespace={team}")]);
    assert!(of_kind(&docs, "ClusterRole").is_empty());
    kubectl(&["get", "role/tunegate", "rolebinding/tunegate", "-n", &team]).ok();
    kubectl(&["get", "role/tunegate-leader-election", "-n", &release]).ok();

    // Every example, as users apply them (server-side dry run: the CRDs' CEL rules run too).
    for dir in ["deploy/examples", "deploy/examples/more"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(repo_root().join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        // In order, as kubectl does: 00-namespace.yaml first.
        files.sort();
        for path in files {
            if path.extension().is_none_or(|e| e != "yaml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            // Namespaces for real (the other files need them), everything else as a dry run.
            for doc in parse_docs(&text) {
                let yaml = doc.to_string();
                if doc["kind"] == "Namespace" {
                    kubectl_stdin(&["apply", "--server-side", "-f", "-"], &yaml).ok();
                } else {
                    let out = kubectl_stdin(
                        &["apply", "--server-side", "--dry-run=server", "-f", "-"],
                        &yaml,
                    );
                    assert!(out.success, "{}: {}", path.display(), out.stderr);
                }
            }
        }
    }
}

#[test]
fn chart_rbac_allows_every_call_the_controller_makes() {
    let team = namespace("suff");
    let release = format!("{team}-op");
    install(&release, &["--set", &format!("watchNamespace={team}")]);
    let sa = service_account_kubeconfig(&release, "tunegate");
    for (verb, resource) in CONTROLLER_CALLS {
        assert!(
            can_i(&sa, verb, resource, Some(&team)),
            "cannot {verb} {resource} in {team}"
        );
    }
    // Leader election in the release namespace, on its own Lease only.
    assert!(can_i(
        &sa,
        "create",
        "leases.coordination.k8s.io",
        Some(&release)
    ));
    assert!(can_i(
        &sa,
        "get",
        "leases.coordination.k8s.io/tunegate-leader",
        Some(&release)
    ));
    assert!(can_i(
        &sa,
        "patch",
        "leases.coordination.k8s.io/tunegate-leader",
        Some(&release)
    ));
    assert!(!can_i(
        &sa,
        "patch",
        "leases.coordination.k8s.io/someone-else",
        Some(&release)
    ));
    assert!(!can_i(
        &sa,
        "create",
        "leases.coordination.k8s.io",
        Some(&team)
    ));

    // Cluster-wide mode grants the same calls in any namespace.
    let cluster_release = format!("{team}-cw");
    install(
        &cluster_release,
        &["--set", &format!("fullnameOverride={cluster_release}")],
    );
    let cw = service_account_kubeconfig(&cluster_release, &cluster_release);
    for (verb, resource) in CONTROLLER_CALLS {
        assert!(
            can_i(&cw, verb, resource, None),
            "cluster-wide: cannot {verb} {resource}"
        );
    }
    for (verb, resource) in NEVER {
        assert!(
            !can_i(&cw, verb, resource, None),
            "cluster-wide may {verb} {resource}"
        );
    }
}

#[test]
fn single_namespace_rbac_cannot_read_secrets_elsewhere() {
    let team = namespace("tight");
    let other = namespace("other");
    kubectl(&[
        "create",
        "secret",
        "generic",
        "payroll",
        "-n",
        &other,
        "--from-literal=k=v",
    ])
    .ok();
    kubectl(&[
        "label",
        "secret",
        "payroll",
        "-n",
        &other,
        "tunegate.dev/training-data=true",
    ])
    .ok();
    kubectl(&[
        "create",
        "secret",
        "generic",
        "mine",
        "-n",
        &team,
        "--from-literal=k=v",
    ])
    .ok();
    let release = format!("{team}-op");
    install(&release, &["--set", &format!("watchNamespace={team}")]);
    let sa = service_account_kubeconfig(&release, "tunegate");

    // Positive control: the same identity reads Secrets in its own namespace.
    kubectl_as(&sa, &["get", "secret", "mine", "-n", &team]).ok();
    assert!(can_i(&sa, "get", "secrets", Some(&team)));

    // Elsewhere: asked, and actually denied by the API server.
    for verb in ["get", "list", "watch"] {
        assert!(
            !can_i(&sa, verb, "secrets", Some(&other)),
            "{verb} secrets in {other}"
        );
        assert!(
            !can_i(&sa, verb, "secrets", None),
            "{verb} secrets cluster-wide"
        );
        assert!(
            !can_i(&sa, verb, "configmaps", Some(&other)),
            "{verb} configmaps in {other}"
        );
    }
    kubectl_as(&sa, &["get", "secret", "payroll", "-n", &other]).fails_with("Forbidden");
    kubectl_as(&sa, &["get", "secrets", "--all-namespaces"]).fails_with("Forbidden");
    // Nor the release namespace, nor anything cluster-scoped.
    assert!(!can_i(&sa, "get", "secrets", Some(&release)));
    assert!(!can_i(&sa, "list", "namespaces", None));
    assert!(!can_i(
        &sa,
        "get",
        "customresourcedefinitions.apiextensions.k8s.io",
        None
    ));
    assert!(!can_i(
        &sa,
        "list",
        "trainingdatasets.tunegate.dev",
        Some(&other)
    ));
    for (verb, resource) in NEVER {
        assert!(
            !can_i(&sa, verb, resource, Some(&team)),
            "may {verb} {resource} in {team}"
        );
    }
}

/// Helm itself against the real API server, as a platform team runs it.
fn helm_cluster(args: &[&str]) -> packaging::Run {
    let out = Command::new(packaging::helm())
        .args(args)
        .env("KUBECONFIG", control_plane().kubeconfig())
        .env("HELM_CACHE_HOME", control_plane().dir().join("helm-cache"))
        .env(
            "HELM_CONFIG_HOME",
            control_plane().dir().join("helm-config"),
        )
        .env("HELM_DATA_HOME", control_plane().dir().join("helm-data"))
        .stdin(Stdio::null())
        .output()
        .expect("run helm");
    packaging::Run {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn helm_install_upgrade_and_uninstall() {
    let release_ns = format!("{}-helm", namespace("h"));
    let chart = packaging::chart_dir();
    let chart = chart.to_str().unwrap();
    let ok = |r: packaging::Run| {
        assert!(r.success, "helm failed:\n{}{}", r.stdout, r.stderr);
        r
    };
    ok(helm_cluster(&[
        "install",
        "tg",
        chart,
        "-n",
        &release_ns,
        "--create-namespace",
    ]));
    kubectl(&[
        "get",
        "deployment/tg-tunegate",
        "clusterrole/tg-tunegate",
        "-n",
        &release_ns,
    ])
    .ok();
    // An upgrade to two replicas adds the PodDisruptionBudget; to single-namespace mode swaps
    // the ClusterRole for a Role.
    let team = namespace("h-team");
    ok(helm_cluster(&[
        "upgrade",
        "tg",
        chart,
        "-n",
        &release_ns,
        "--set",
        "replicaCount=2",
        "--set",
        &format!("watchNamespace={team}"),
    ]));
    kubectl(&["get", "poddisruptionbudget/tg-tunegate", "-n", &release_ns]).ok();
    kubectl(&["get", "role/tg-tunegate", "-n", &team]).ok();
    kubectl(&["get", "clusterrole/tg-tunegate"]).fails_with("NotFound");
    ok(helm_cluster(&["uninstall", "tg", "-n", &release_ns]));
    kubectl(&["get", "deployment/tg-tunegate", "-n", &release_ns]).fails_with("NotFound");
    // Helm never deletes CRDs: the resources and their ledgers survive an uninstall.
    kubectl(&["get", "crd", "finetunejobs.tunegate.dev"]).ok();
}
