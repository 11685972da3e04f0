//! Leader election on a Lease (kube-lease-manager).
//!
//! kube-lease-manager takes an unheld Lease with a server-side apply of `holderIdentity` and
//! relies on the apply *conflicting* when another replica already owns that field. That only
//! happens when every replica applies under its own field manager: with one shared manager the
//! second apply silently overwrites the first and, for a moment, both replicas lead. So the
//! field manager is derived from the identity, never the operator-wide `tunegate` manager.

use kube::Client;
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder};
use sha2::{Digest, Sha256};

use crate::controller::FIELD_MANAGER;

/// Seconds a Lease stays valid without renewal; a dead leader is replaced after about this long.
pub const LEASE_SECONDS: u64 = 15;
/// Seconds before expiry at which the holder renews.
pub const LEASE_GRACE_SECONDS: u64 = 5;

/// Kubernetes rejects field manager names longer than this.
const MAX_FIELD_MANAGER_LEN: usize = 128;

/// The field manager under which `identity` writes the Lease: distinct per replica.
pub fn lease_field_manager(identity: &str) -> String {
    let name = format!("{FIELD_MANAGER}-leader-{identity}");
    if name.len() <= MAX_FIELD_MANAGER_LEN {
        return name;
    }
    // Long identities (e.g. long pod names) are hashed: still unique per replica, within the limit.
    let digest = Sha256::digest(identity.as_bytes());
    format!("{FIELD_MANAGER}-leader-{}", hex::encode(&digest[..16]))
}

/// Builds the lease manager for one replica (it creates the Lease if it does not exist).
pub async fn lease_manager(
    client: Client,
    lease_name: &str,
    namespace: &str,
    identity: &str,
) -> Result<LeaseManager, kube_lease_manager::LeaseManagerError> {
    LeaseManagerBuilder::new(client, lease_name)
        .with_namespace(namespace)
        .with_identity(identity)
        .with_duration(LEASE_SECONDS)
        .with_grace(LEASE_GRACE_SECONDS)
        .with_field_manager(lease_field_manager(identity))
        .build()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_replica_has_its_own_field_manager() {
        let a = lease_field_manager("tunegate-7d9f-abcde");
        let b = lease_field_manager("tunegate-7d9f-fghij");
        assert_ne!(a, b);
        assert_ne!(a, FIELD_MANAGER, "never the shared status field manager");
        assert_eq!(a, "tunegate-leader-tunegate-7d9f-abcde");
    }

    #[test]
    fn long_identities_are_hashed_within_the_limit() {
        let long_a = "a".repeat(300);
        let long_b = format!("{}b", "a".repeat(299));
        let (a, b) = (lease_field_manager(&long_a), lease_field_manager(&long_b));
        assert!(a.len() <= MAX_FIELD_MANAGER_LEN, "{}", a.len());
        assert_ne!(a, b);
        assert_eq!(a, lease_field_manager(&long_a), "stable across restarts");
    }
}
