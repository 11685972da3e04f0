//! Leader election: two replicas on one Lease, exactly one acts; when it dies, the other takes
//! over and finishes the work.

use tunegate_testkit::cluster as support;
use tunegate_testkit::e2e as e2e_support;

use std::time::Duration;

use e2e_support::*;

fn leads(op: &Operator) -> bool {
    op.logs().contains("became the leader")
}

#[test]
fn two_replicas_never_both_act() {
    let ns = support::namespace("e2e-leader");
    let sandbox = Sandbox::start(&["--job-seconds", "2"]);
    let a = Operator::start(&ns, &[]);
    let b = Operator::start(&ns, &[]);
    wait_for("a leader", 60, || (leads(&a) || leads(&b)).then_some(()));
    // Give the standby every chance to (wrongly) take the lease too.
    std::thread::sleep(Duration::from_secs(5));
    assert!(leads(&a) != leads(&b), "exactly one replica leads");
    let (leader, standby) = if leads(&a) { (a, b) } else { (b, a) };
    wait_for("the standby to wait for leadership", 60, || {
        standby
            .logs()
            .contains("waiting for leadership")
            .then_some(())
    });
    assert!(!leads(&standby), "the standby never led");

    apply(&scenario(
        &ns,
        "first",
        &sandbox.base_url(),
        &chat_lines(10, ""),
        "",
    ));
    wait_condition(&ns, "ftj", "first", "Ready", "True", Some("Succeeded"), 90);
    assert!(leader.logs().contains("controllers started"));
    assert!(
        !standby.logs().contains("controllers started"),
        "the standby did not act"
    );

    // The leader dies without releasing the Lease; the standby takes over once it expires.
    drop(leader);
    wait_for("the standby to lead", 60, || leads(&standby).then_some(()));
    apply(&scenario(
        &ns,
        "second",
        &sandbox.base_url(),
        &chat_lines(10, "2"),
        "",
    ));
    wait_condition(&ns, "ftj", "second", "Ready", "True", Some("Succeeded"), 90);
    let uid = uid(&ns, "ftj", "second");
    assert_eq!(sandbox.jobs_for(&uid).len(), 1);
}
