//! Leader election against the real API server: replicas that race for an unheld Lease never
//! both believe they lead (the election relies on server-side-apply conflicts, which need one
//! field manager per replica; a shared one let two replicas lead at once).

use tunegate_testkit::cluster as support;

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use tunegate::cli::leader::{lease_field_manager, lease_manager};

const ROUNDS: usize = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_replicas_never_both_lead() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cp = support::control_plane();
    let ns = support::namespace("leader-race");
    let client = cp.client().await.expect("client");
    for round in 0..ROUNDS {
        let lease = format!("race-{round}");
        // Five replicas start together, so they all see the Lease unheld and try to take it;
        // the lost race needs one replica's apply to land between another's apply and re-read,
        // so each round staggers their starts by a different few milliseconds.
        let ids = [
            "replica-a",
            "replica-b",
            "replica-c",
            "replica-d",
            "replica-e",
        ];
        let mut managers = Vec::new();
        for id in ids {
            managers.push(lease_manager(client.clone(), &lease, &ns, id));
        }
        let managers = futures::future::join_all(managers).await;
        let mut watches = Vec::new();
        for m in managers {
            watches.push(m.expect("lease manager").watch().await);
            tokio::time::sleep(Duration::from_millis((round % 4) as u64 * 2)).await;
        }
        let leaders = |w: &[(tokio::sync::watch::Receiver<bool>, _)]| {
            w.iter().filter(|(rx, _)| *rx.borrow()).count()
        };
        let start = Instant::now();
        let mut first_leader: Option<Instant> = None;
        // Watch for 3 s after the first leader appears: a lost race shows up as a second
        // leader within a few hundred milliseconds (the loser's next sync), so 3 s is ample.
        while start.elapsed() < Duration::from_secs(30) {
            let n = leaders(&watches);
            assert!(n <= 1, "round {round}: {n} replicas lead at once");
            if n == 1 && first_leader.is_none() {
                first_leader = Some(Instant::now());
            }
            if first_leader.is_some_and(|t| t.elapsed() > Duration::from_secs(3)) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            first_leader.is_some(),
            "round {round}: nobody took the Lease in 30 s"
        );
        for (_, task) in watches {
            task.abort();
        }
    }
}

/// The property the election rests on, without timing luck: once one replica has applied
/// `holderIdentity`, another replica's (unforced) apply of it is a conflict, not an overwrite.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_replicas_claim_conflicts() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cp = support::control_plane();
    let ns = support::namespace("leader-claim");
    let leases: Api<Lease> = Api::namespaced(cp.client().await.expect("client"), &ns);
    let claim = |who: &str| {
        Patch::Apply(json!({
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": "claim"},
            "spec": {"holderIdentity": who, "leaseDurationSeconds": 15},
        }))
    };
    let as_replica = |who: &str| PatchParams::apply(&lease_field_manager(who));
    leases
        .patch("claim", &as_replica("replica-a"), &claim("replica-a"))
        .await
        .expect("the first claim succeeds");
    let second = leases
        .patch("claim", &as_replica("replica-b"), &claim("replica-b"))
        .await;
    match second {
        Err(kube::Error::Api(e)) => assert_eq!(e.code, 409, "{e:?}"),
        Ok(l) => panic!(
            "the second claim overwrote the first: holder {:?}",
            l.spec.and_then(|s| s.holder_identity)
        ),
        Err(e) => panic!("unexpected error: {e}"),
    }
    let lease = leases.get("claim").await.expect("lease");
    assert_eq!(
        lease.spec.and_then(|s| s.holder_identity).as_deref(),
        Some("replica-a")
    );
}
