//! The Helm chart: lint, schema, rendering in both RBAC modes, the restricted Pod Security
//! Standard, and the committed copies (chart CRDs, deploy/manifests, the Argo CD snippet).
//! Helm is built from Go modules by hack/build-helm.sh on first use and cached.

use tunegate_testkit::packaging;

use std::collections::BTreeSet;

use packaging::*;
use serde_json::{Value, json};

/// (apiGroup, resource, verb) triples that a set of RBAC rules grants.
fn grants(rules: &Value) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for rule in rules.as_array().expect("rules is a list") {
        for g in rule["apiGroups"].as_array().expect("apiGroups") {
            for r in rule["resources"].as_array().expect("resources") {
                for v in rule["verbs"].as_array().expect("verbs") {
                    out.insert((
                        g.as_str().unwrap().to_string(),
                        r.as_str().unwrap().to_string(),
                        v.as_str().unwrap().to_string(),
                    ));
                }
            }
        }
    }
    out
}

fn triples(list: &[(&str, &[&str], &[&str])]) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for (group, resources, verbs) in list {
        for r in *resources {
            for v in *verbs {
                out.insert((group.to_string(), r.to_string(), v.to_string()));
            }
        }
    }
    out
}

/// What the operator needs in every namespace it reconciles, derived from the Kubernetes API calls
/// in src/controller and src/cli/run.rs (docs/operations.md, "RBAC"). Nothing more.
fn expected_namespaced_grants() -> BTreeSet<(String, String, String)> {
    triples(&[
        (
            "tunegate.dev",
            &["trainingdatasets"],
            &["get", "list", "watch"],
        ),
        (
            "tunegate.dev",
            &["finetunejobs"],
            &["get", "list", "watch", "patch"],
        ),
        (
            "tunegate.dev",
            &["providerconfigs"],
            &["get", "list", "watch", "patch"],
        ),
        (
            "tunegate.dev",
            &[
                "trainingdatasets/status",
                "finetunejobs/status",
                "providerconfigs/status",
            ],
            &["patch"],
        ),
        (
            "tunegate.dev",
            &["trainingdatasets/finalizers", "finetunejobs/finalizers"],
            &["update"],
        ),
        (
            "",
            &["secrets"],
            &["get", "list", "watch", "create", "patch"],
        ),
        (
            "",
            &["configmaps"],
            &["get", "list", "watch", "create", "patch"],
        ),
        (
            "batch",
            &["jobs"],
            &["get", "list", "watch", "create", "delete"],
        ),
        ("", &["persistentvolumeclaims"], &["get"]),
        ("", &["pods"], &["list"]),
        ("events.k8s.io", &["events"], &["create", "patch"]),
    ])
}

/// The one deletion the operator needs: its own finished upload-worker Jobs.
const ALLOWED_DELETE: (&str, &str) = ("batch", "jobs");

/// Verbs nobody should hand a controller that reads Secrets (but see `ALLOWED_DELETE`).
const NEVER: &[&str] = &[
    "*",
    "delete",
    "deletecollection",
    "escalate",
    "bind",
    "impersonate",
];

#[test]
fn chart_crds_are_identical_to_the_top_level_crds() {
    let top = std::fs::read(repo_root().join("crds/tunegate.dev.yaml")).unwrap();
    let chart = std::fs::read(chart_dir().join("crds/tunegate.dev.yaml")).unwrap();
    assert!(
        top == chart,
        "charts/tunegate/crds/tunegate.dev.yaml differs from crds/tunegate.dev.yaml: \
         cp crds/tunegate.dev.yaml charts/tunegate/crds/"
    );
    let files: Vec<_> = std::fs::read_dir(chart_dir().join("crds"))
        .unwrap()
        .collect();
    assert_eq!(
        files.len(),
        1,
        "the chart's crds/ holds exactly the generated file"
    );
}

#[test]
fn default_values_satisfy_the_schema_and_bad_values_do_not() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(chart_dir().join("values.schema.json")).unwrap(),
    )
    .unwrap();
    let values: Value =
        serde_yaml::from_str(&std::fs::read_to_string(chart_dir().join("values.yaml")).unwrap())
            .unwrap();
    let validator =
        jsonschema::validator_for(&schema).expect("values.schema.json is a valid schema");
    let errors: Vec<String> = validator
        .iter_errors(&values)
        .map(|e| e.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "values.yaml violates values.schema.json: {errors:#?}"
    );

    let bad = [
        ("/logFormat", json!("xml")),
        ("/watchNamespace", json!("Not_A_Namespace")),
        ("/replicaCount", json!(-1)),
        ("/image/pullPolicy", json!("Sometimes")),
        ("/metrics/port", json!(70000)),
        ("/image/digest", json!("latest")),
    ];
    for (pointer, value) in bad {
        let mut v = values.clone();
        *v.pointer_mut(pointer).unwrap() = value.clone();
        assert!(
            !validator.is_valid(&v),
            "schema accepted {pointer} = {value}"
        );
    }
    let mut typo = values.clone();
    typo["replicas"] = json!(2);
    assert!(
        !validator.is_valid(&typo),
        "schema accepted an unknown top-level key"
    );
}

#[test]
fn helm_lint_is_clean_in_every_mode() {
    let chart = chart_dir();
    let chart = chart.to_str().unwrap();
    let modes: [&[&str]; 3] = [
        &[],
        &["--set", "watchNamespace=team-a"],
        &[
            "--set",
            "replicaCount=3",
            "--set",
            "networkPolicy.apiServer.cidrs={10.96.0.1/32}",
            "--set",
            "networkPolicy.workers.namespaces={team-b}",
            "--set",
            "metrics.serviceMonitor.enabled=true",
        ],
    ];
    for extra in modes {
        let mut args = vec!["lint", "--strict", chart, "--kube-version", KUBE_VERSION];
        args.extend_from_slice(extra);
        let run = helm_run(&args);
        assert!(
            run.success,
            "helm lint {extra:?} failed:\n{}{}",
            run.stdout, run.stderr
        );
        assert!(run.stdout.contains("0 chart(s) failed"), "{}", run.stdout);
        for bad in ["[WARNING]", "[ERROR]"] {
            assert!(
                !run.stdout.contains(bad),
                "helm lint {extra:?}:\n{}",
                run.stdout
            );
        }
    }
}

#[test]
fn helm_rejects_values_outside_the_schema() {
    let chart = chart_dir();
    let run = helm_run(&[
        "template",
        "t",
        chart.to_str().unwrap(),
        "--kube-version",
        KUBE_VERSION,
        "--set",
        "logFormat=xml",
    ]);
    assert!(!run.success);
    assert!(run.stderr.contains("logFormat"), "{}", run.stderr);
}

#[test]
fn cluster_wide_mode_uses_a_cluster_role_with_exactly_the_needed_rules() {
    let docs = template(&[]);
    let roles = of_kind(&docs, "ClusterRole");
    let main = roles
        .iter()
        .find(|r| name(r) == "tunegate")
        .expect("ClusterRole tunegate");
    let mut want = expected_namespaced_grants();
    want.extend(triples(&[
        (
            "tunegate.dev",
            &["clusterproviderconfigs"],
            &["get", "list", "watch", "patch"],
        ),
        (
            "tunegate.dev",
            &["clusterproviderconfigs/status"],
            &["patch"],
        ),
        ("", &["namespaces"], &["get"]),
    ]));
    assert_eq!(grants(&main["rules"]), want);

    let binding = of_kind(&docs, "ClusterRoleBinding")
        .into_iter()
        .find(|b| name(b) == "tunegate")
        .expect("ClusterRoleBinding tunegate");
    assert_eq!(binding["subjects"][0]["kind"], "ServiceAccount");
    assert_eq!(binding["subjects"][0]["name"], "tunegate");
    assert_eq!(binding["subjects"][0]["namespace"], RELEASE_NS);

    // No namespaced Role for the data, and the operator is not limited to a namespace.
    assert!(
        of_kind(&docs, "Role")
            .iter()
            .all(|r| name(r) == "tunegate-leader-election")
    );
    let args = container(&docs)["args"].as_array().unwrap().clone();
    assert!(
        !args
            .iter()
            .any(|a| a.as_str().unwrap().starts_with("--namespace")),
        "{args:?}"
    );
    check_common(&docs);
}

#[test]
fn single_namespace_mode_grants_data_access_in_that_namespace_only() {
    let docs = template(&["--set", "watchNamespace=team-a"]);
    let role = of_kind(&docs, "Role")
        .into_iter()
        .find(|r| name(r) == "tunegate")
        .expect("Role tunegate");
    assert_eq!(role["metadata"]["namespace"], "team-a");
    assert_eq!(grants(&role["rules"]), expected_namespaced_grants());
    let binding = of_kind(&docs, "RoleBinding")
        .into_iter()
        .find(|b| name(b) == "tunegate")
        .expect("RoleBinding tunegate");
    assert_eq!(binding["metadata"]["namespace"], "team-a");
    assert_eq!(binding["roleRef"]["kind"], "Role");
    assert_eq!(binding["subjects"][0]["namespace"], RELEASE_NS);

    // Nothing cluster-scoped at all.
    assert!(of_kind(&docs, "ClusterRole").is_empty());
    assert!(of_kind(&docs, "ClusterRoleBinding").is_empty());

    let args = container(&docs)["args"].as_array().unwrap().clone();
    assert!(args.contains(&json!("--namespace=team-a")), "{args:?}");
    check_common(&docs);
}

#[test]
fn leader_election_lease_access_is_confined_to_the_release_namespace() {
    for extra in [&[][..], &["--set", "watchNamespace=team-a"][..]] {
        let docs = template(extra);
        let role = of_kind(&docs, "Role")
            .into_iter()
            .find(|r| name(r) == "tunegate-leader-election")
            .expect("leader-election Role");
        assert_eq!(role["metadata"]["namespace"], RELEASE_NS);
        let rules = role["rules"].as_array().unwrap();
        assert_eq!(rules.len(), 2, "{rules:#?}");
        assert_eq!(rules[0]["resources"], json!(["leases"]));
        assert_eq!(rules[0]["verbs"], json!(["create"]));
        assert!(rules[0]["resourceNames"].is_null());
        assert_eq!(rules[1]["resourceNames"], json!(["tunegate-leader"]));
        assert_eq!(rules[1]["verbs"], json!(["get", "patch"]));
        let c = container(&docs);
        assert!(
            c["args"]
                .as_array()
                .unwrap()
                .contains(&json!("--lease-name=tunegate-leader"))
        );
        let lease_ns = c["env"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == "TUNEGATE_LEASE_NAMESPACE")
            .expect("TUNEGATE_LEASE_NAMESPACE");
        assert_eq!(
            lease_ns["valueFrom"]["fieldRef"]["fieldPath"],
            "metadata.namespace"
        );
        // No other role mentions leases.
        for r in of_kind(&docs, "ClusterRole") {
            assert!(!r["rules"].to_string().contains("leases"), "{}", name(r));
        }
    }
}

#[test]
fn no_role_grants_dangerous_verbs_or_wildcards() {
    for extra in [&[][..], &["--set", "watchNamespace=team-a"][..]] {
        let docs = template(extra);
        let roles = of_kind(&docs, "Role").len() + of_kind(&docs, "ClusterRole").len();
        assert!(roles > 0, "no Role or ClusterRole rendered with {extra:?}");
        for k in ["Role", "ClusterRole"] {
            // The roles for people (aggregated into view/edit/admin) are checked on their own
            // below: deleting a FineTuneJob is what a team does; the operator's role is here.
            for r in of_kind(&docs, k).into_iter().filter(|r| !is_user_role(r)) {
                for (group, resource, verb) in grants(&r["rules"]) {
                    let allowed =
                        verb == "delete" && (group.as_str(), resource.as_str()) == ALLOWED_DELETE;
                    assert!(
                        allowed || !NEVER.contains(&verb.as_str()),
                        "{k} {}: {verb} {resource}",
                        name(r)
                    );
                    assert!(group != "*" && resource != "*", "{k} {}: wildcard", name(r));
                }
            }
        }
    }
}

fn is_user_role(r: &Value) -> bool {
    r["metadata"]["labels"].as_object().is_some_and(|l| {
        l.keys()
            .any(|k| k.starts_with("rbac.authorization.k8s.io/aggregate-to-"))
    })
}

#[test]
fn user_roles_aggregate_into_edit_and_grant_no_status() {
    let docs = template(&[]);
    let users: Vec<_> = of_kind(&docs, "ClusterRole")
        .into_iter()
        .filter(|r| is_user_role(r))
        .collect();
    let names: BTreeSet<String> = users.iter().map(|r| name(r).to_string()).collect();
    assert_eq!(
        names,
        ["tunegate-admin", "tunegate-edit", "tunegate-view"]
            .map(String::from)
            .into()
    );
    for r in &users {
        for (group, resource, verb) in grants(&r["rules"]) {
            assert_eq!(group, "tunegate.dev", "{}: {resource}", name(r));
            assert!(
                !resource.contains('/'),
                "{}: subresource {resource}",
                name(r)
            );
            assert!(
                !["*", "escalate", "bind", "impersonate"].contains(&verb.as_str()),
                "{}: {verb}",
                name(r)
            );
        }
    }
    let edit = users.iter().find(|r| name(r) == "tunegate-edit").unwrap();
    assert_eq!(
        edit["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"],
        "true"
    );
    // Application teams do not choose where data goes.
    assert!(!edit["rules"].to_string().contains("providerconfigs"));
    // Single-namespace mode stays free of cluster-scoped objects; the flag turns them off.
    for extra in [
        &["--set", "watchNamespace=team-a"][..],
        &["--set", "rbac.userRoles=false"][..],
    ] {
        let docs = template(extra);
        assert!(
            of_kind(&docs, "ClusterRole")
                .iter()
                .all(|r| !is_user_role(r)),
            "user roles rendered with {extra:?}"
        );
    }
}

#[test]
fn leader_election_can_be_turned_off_only_for_one_replica() {
    let docs = template(&["--set", "leaderElection.enabled=false"]);
    let args = container(&docs)["args"].as_array().unwrap().clone();
    assert!(args.contains(&json!("--no-leader-election")), "{args:?}");
    let chart = chart_dir();
    let run = helm_run(&[
        "template",
        "t",
        chart.to_str().unwrap(),
        "--kube-version",
        KUBE_VERSION,
        "--set",
        "leaderElection.enabled=false",
        "--set",
        "replicaCount=2",
    ]);
    assert!(!run.success);
    assert!(
        run.stderr
            .contains("leaderElection.enabled=false needs replicaCount <= 1"),
        "{}",
        run.stderr
    );
}

#[test]
fn rbac_can_be_left_to_the_cluster_admin() {
    let docs = template(&["--set", "rbac.create=false"]);
    one(&docs, "Deployment");
    for k in ["Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"] {
        assert!(
            of_kind(&docs, k).is_empty(),
            "{k} rendered with rbac.create=false"
        );
    }
}

fn container(docs: &[Value]) -> Value {
    let dep = one(docs, "Deployment");
    let containers = dep["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    assert_eq!(containers.len(), 1);
    containers[0].clone()
}

/// What every rendering must have: restricted PSS, probes, resources, metrics Service.
fn check_common(docs: &[Value]) {
    let dep = one(docs, "Deployment");
    let pod = &dep["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "tunegate");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    assert!(pod["hostNetwork"].is_null() && pod["hostPID"].is_null());
    let c = container(docs);
    let sc = &c["securityContext"];
    assert_eq!(sc["runAsNonRoot"], true);
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));
    assert!(sc["capabilities"]["add"].is_null());
    assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert!(c["resources"]["requests"]["memory"].is_string());
    assert!(c["resources"]["limits"]["memory"].is_string());
    let args: Vec<&str> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(args[0], "run");
    assert!(args.contains(&"--metrics-addr=0.0.0.0:8080"), "{args:?}");
    assert!(args.contains(&"--log-format=json"), "{args:?}");
    assert!(
        args.contains(&"--worker-image=tunegate/tunegate:0.1.0"),
        "{args:?}"
    );
    assert_eq!(c["image"], "tunegate/tunegate:0.1.0");

    let svc = one(docs, "Service");
    assert_eq!(svc["spec"]["ports"][0]["name"], "metrics");
    assert_eq!(
        svc["spec"]["selector"], dep["spec"]["selector"]["matchLabels"],
        "the metrics Service selects the operator pods"
    );
    assert!(of_kind(docs, "ServiceMonitor").is_empty());
    // On by default: the operator's policy, and the worker policies where workers run.
    assert!(
        of_kind(docs, "NetworkPolicy")
            .iter()
            .any(|np| np["spec"]["podSelector"]["matchLabels"]
                == dep["spec"]["selector"]["matchLabels"]),
        "the operator's NetworkPolicy"
    );
    assert_eq!(of_kind(docs, "ValidatingAdmissionPolicy").len(), 2);
    assert_eq!(
        one(docs, "ServiceAccount")["metadata"]["namespace"],
        RELEASE_NS
    );
    // Helm installs CRDs from crds/; templates must not carry them too.
    assert!(of_kind(docs, "CustomResourceDefinition").is_empty());
}

#[test]
fn a_pod_disruption_budget_exists_only_with_more_than_one_replica() {
    assert!(of_kind(&template(&[]), "PodDisruptionBudget").is_empty());
    let docs = template(&["--set", "replicaCount=2"]);
    let pdb = one(&docs, "PodDisruptionBudget");
    assert_eq!(pdb["spec"]["minAvailable"], 1);
    let dep = one(&docs, "Deployment");
    assert_eq!(dep["spec"]["replicas"], 2);
    assert_eq!(
        pdb["spec"]["selector"]["matchLabels"],
        dep["spec"]["selector"]["matchLabels"]
    );
    assert!(dep["spec"]["template"]["spec"]["topologySpreadConstraints"].is_array());
}

fn ports(rule: &Value) -> Vec<i64> {
    rule["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["port"].as_i64().unwrap())
        .collect()
}

fn policy<'a>(docs: &'a [Value], name_suffix: &str) -> &'a Value {
    of_kind(docs, "NetworkPolicy")
        .into_iter()
        .find(|d| name(d).ends_with(name_suffix))
        .unwrap_or_else(|| panic!("no NetworkPolicy *{name_suffix}"))
}

/// An egress rule's peers are "any address except link-local and cloud metadata".
fn is_anywhere_but_metadata(rule: &Value) -> bool {
    rule["to"]
        == json!([
            {"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.0.0/16"]}},
            {"ipBlock": {"cidr": "::/0", "except": ["fe80::/10", "fd00:ec2::254/128"]}}
        ])
}

fn check_no_open_rules(np: &Value) {
    for rule in np["spec"]["egress"].as_array().unwrap() {
        assert!(
            !rule["to"].as_array().unwrap().is_empty(),
            "an egress rule to anywhere: {rule}"
        );
        assert!(
            !rule["ports"].as_array().unwrap().is_empty(),
            "an egress rule on every port: {rule}"
        );
    }
}

#[test]
fn operator_network_policy_is_on_by_default_and_port_limited() {
    let docs = template(&[]);
    let np = policy(&docs, "tunegate");
    assert_eq!(np["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
    let dep = one(&docs, "Deployment");
    assert_eq!(
        np["spec"]["podSelector"]["matchLabels"],
        dep["spec"]["selector"]["matchLabels"]
    );
    let egress = np["spec"]["egress"].as_array().unwrap();
    assert_eq!(egress.len(), 3, "DNS, API server, providers: {egress:#?}");
    assert_eq!(ports(&egress[0]), vec![53, 53]);
    assert_eq!(ports(&egress[1]), vec![443, 6443]);
    assert!(is_anywhere_but_metadata(&egress[1]), "{}", egress[1]);
    assert_eq!(ports(&egress[2]), vec![443]);
    assert!(is_anywhere_but_metadata(&egress[2]), "{}", egress[2]);
    check_no_open_rules(np);
    let ingress = np["spec"]["ingress"].as_array().unwrap();
    assert_eq!(ingress.len(), 1);
    assert_eq!(
        ingress[0]["ports"],
        json!([{"port": 8080, "protocol": "TCP"}])
    );
    // Cluster-wide with no tenant namespaces listed: no worker policies.
    assert_eq!(of_kind(&docs, "NetworkPolicy").len(), 1);
    // It can be turned off.
    let docs = template(&[
        "--set",
        "networkPolicy.enabled=false",
        "--set",
        "networkPolicy.workers.enabled=false",
        "--set",
        "watchNamespace=team-a",
    ]);
    assert!(of_kind(&docs, "NetworkPolicy").is_empty());
}

#[test]
fn network_policy_narrows_to_the_listed_api_server_and_providers() {
    let docs = template(&[
        "--set",
        "networkPolicy.apiServer.cidrs={10.96.0.1/32,172.18.0.2/32}",
        "--set",
        "networkPolicy.providers[0].cidr=203.0.113.0/24",
        "--set",
        "networkPolicy.providers[1].cidr=198.51.100.7/32",
        "--set",
        "networkPolicy.providers[1].ports={8443}",
    ]);
    let np = policy(&docs, "tunegate");
    let egress = np["spec"]["egress"].as_array().unwrap();
    assert_eq!(
        egress.len(),
        4,
        "DNS, API server, two providers: {egress:#?}"
    );
    assert_eq!(ports(&egress[0]), vec![53, 53]);
    assert_eq!(egress[1]["to"][0]["ipBlock"]["cidr"], "10.96.0.1/32");
    assert_eq!(egress[1]["to"][1]["ipBlock"]["cidr"], "172.18.0.2/32");
    assert_eq!(
        egress[2]["to"],
        json!([{"ipBlock": {"cidr": "203.0.113.0/24"}}])
    );
    assert_eq!(ports(&egress[2]), vec![443]);
    assert_eq!(
        egress[3]["to"],
        json!([{"ipBlock": {"cidr": "198.51.100.7/32"}}])
    );
    assert_eq!(ports(&egress[3]), vec![8443]);
    check_no_open_rules(np);
}

#[test]
fn worker_network_policies_cut_validation_workers_off_and_limit_upload_workers() {
    let docs = template(&[
        "--set",
        "watchNamespace=team-a",
        "--set",
        "networkPolicy.workers.namespaces={team-b,team-a}",
        "--set",
        "networkPolicy.providers[0].cidr=203.0.113.0/24",
    ]);
    let workers: Vec<&Value> = of_kind(&docs, "NetworkPolicy")
        .into_iter()
        .filter(|d| name(d).contains("workers"))
        .collect();
    let mut placed: Vec<(String, String)> = workers
        .iter()
        .map(|d| {
            (
                d["metadata"]["namespace"].as_str().unwrap().to_string(),
                name(d).to_string(),
            )
        })
        .collect();
    placed.sort();
    assert_eq!(
        placed,
        [
            ("team-a", "tunegate-upload-workers"),
            ("team-a", "tunegate-validation-workers"),
            ("team-b", "tunegate-upload-workers"),
            ("team-b", "tunegate-validation-workers"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    for np in workers {
        let selector = &np["spec"]["podSelector"]["matchLabels"];
        assert_eq!(selector["app.kubernetes.io/component"], "worker");
        assert_eq!(selector["app.kubernetes.io/managed-by"], "tunegate");
        assert_eq!(np["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
        assert_eq!(np["spec"]["ingress"], json!([]));
        if name(np).ends_with("validation-workers") {
            assert_eq!(selector["tunegate.dev/worker-role"], "validate");
            assert_eq!(
                np["spec"]["egress"],
                json!([]),
                "validation workers: no egress"
            );
        } else {
            assert_eq!(selector["tunegate.dev/worker-role"], "upload");
            let egress = np["spec"]["egress"].as_array().unwrap();
            assert_eq!(egress.len(), 2, "DNS and the provider only: {egress:#?}");
            assert_eq!(ports(&egress[0]), vec![53, 53]);
            assert_eq!(
                egress[1]["to"],
                json!([{"ipBlock": {"cidr": "203.0.113.0/24"}}])
            );
            assert_eq!(ports(&egress[1]), vec![443]);
            check_no_open_rules(np);
        }
    }
}

#[test]
fn admission_policies_bind_the_operator_service_account_and_its_worker_image() {
    let docs = template(&["--set", "workerImage=registry.example/tg-worker:9"]);
    let policies = of_kind(&docs, "ValidatingAdmissionPolicy");
    let bindings = of_kind(&docs, "ValidatingAdmissionPolicyBinding");
    assert_eq!(policies.len(), 2);
    assert_eq!(bindings.len(), 2);
    let sa = one(&docs, "ServiceAccount");
    let user = format!(
        "system:serviceaccount:{}:{}",
        sa["metadata"]["namespace"].as_str().unwrap(),
        name(sa)
    );
    for p in &policies {
        assert_eq!(p["spec"]["failurePolicy"], "Fail");
        assert_eq!(
            p["spec"]["matchConditions"][0]["expression"],
            format!("request.userInfo.username == {user:?}")
        );
        assert!(
            bindings.iter().any(|b| b["spec"]["policyName"] == name(p)
                && b["spec"]["validationActions"] == json!(["Deny"])),
            "no Deny binding for {}",
            name(p)
        );
    }
    let jobs = policies
        .iter()
        .find(|p| name(p).ends_with("operator-jobs"))
        .unwrap();
    let text = jobs["spec"]["validations"].to_string();
    assert!(
        text.contains("c.image == 'registry.example/tg-worker:9'"),
        "{text}"
    );
    let dep = one(&docs, "Deployment");
    assert!(
        dep["spec"]["template"]["spec"]["containers"][0]["args"]
            .as_array()
            .unwrap()
            .contains(&json!("--worker-image=registry.example/tg-worker:9"))
    );
    assert!(
        of_kind(
            &template(&["--set", "admissionPolicy.enabled=false"]),
            "ValidatingAdmissionPolicy"
        )
        .is_empty()
    );
}

#[test]
fn service_monitor_and_image_settings_render() {
    let docs = template(&[
        "--set",
        "metrics.serviceMonitor.enabled=true",
        "--set",
        "image.repository=registry.example/platform/tunegate",
        "--set",
        "image.digest=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "--set",
        "workerImage=registry.example/platform/tunegate-worker:1",
        "--set",
        "imagePullSecrets[0].name=regcred",
    ]);
    let sm = one(&docs, "ServiceMonitor");
    assert_eq!(sm["spec"]["endpoints"][0]["port"], "metrics");
    assert_eq!(sm["spec"]["endpoints"][0]["path"], "/metrics");
    let dep = one(&docs, "Deployment");
    let c = &dep["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        c["image"],
        "registry.example/platform/tunegate@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    );
    assert!(c["args"].as_array().unwrap().contains(&json!(
        "--worker-image=registry.example/platform/tunegate-worker:1"
    )));
    assert_eq!(
        dep["spec"]["template"]["spec"]["imagePullSecrets"],
        json!([{"name": "regcred"}])
    );
}

#[test]
fn committed_plain_manifests_and_argocd_snippet_are_up_to_date() {
    let out = std::process::Command::new(repo_root().join("hack/render-manifests.sh"))
        .arg("--check")
        .output()
        .expect("run hack/render-manifests.sh --check");
    assert!(
        out.status.success(),
        "deploy/ is stale: run hack/render-manifests.sh\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The plain manifests carry the CRDs exactly as generated.
    let text = std::fs::read_to_string(repo_root().join("deploy/manifests/tunegate.yaml")).unwrap();
    let docs = parse_docs(&text);
    let crds = of_kind(&docs, "CustomResourceDefinition");
    let expected: Vec<Value> =
        parse_docs(&std::fs::read_to_string(repo_root().join("crds/tunegate.dev.yaml")).unwrap());
    assert_eq!(crds.len(), expected.len());
    for (got, want) in crds.iter().zip(&expected) {
        assert_eq!(*got, want);
    }
    assert_eq!(kind(&docs[0]), "Namespace");
    assert_eq!(name(&docs[0]), RELEASE_NS);
}
