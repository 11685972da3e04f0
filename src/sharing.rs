//! Bounded mechanisms that keep one tenant (or one misbehaving endpoint) from taking more than
//! its share of the operator: per-object exponential backoff with jitter, a fair share of the
//! concurrent reconcile slots per namespace, a process-wide byte budget, generated names that
//! always fit, and a cap on how many provider events become Kubernetes Events at once. Pure and
//! synchronous (a `Mutex` or atomics at most); the controllers hold them in their context.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};

/// Exponential backoff: `base * 2^(n-1)`, capped at `max`, with "equal jitter" (the second half
/// of each step is random), so objects that failed together do not come back together and none
/// comes back faster than half its step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Delay after the first failure (before jitter).
    pub base: Duration,
    /// Largest delay.
    pub max: Duration,
}

impl Backoff {
    /// The delay after `failures` consecutive failures (1 for the first), with `jitter` in
    /// `[0, 1)` (anything else counts as 0). Never panics, never exceeds `max`.
    pub fn delay(&self, failures: u32, jitter: f64) -> Duration {
        let exp = failures.saturating_sub(1).min(30);
        let step = self.base.saturating_mul(1u32 << exp).min(self.max);
        let jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let half = step / 2;
        half.saturating_add((step - half).mul_f64(jitter))
            .min(self.max)
    }
}

struct Failures {
    count: u32,
    fingerprint: String,
    /// Insertion order, for eviction.
    seq: u64,
}

/// Consecutive failures per object (by uid), bounded: past `capacity` objects the entry touched
/// longest ago is dropped (it then starts again from one failure, the safe direction).
pub struct FailureTracker {
    inner: Mutex<(HashMap<String, Failures>, u64)>,
    capacity: usize,
}

impl FailureTracker {
    /// A tracker for at most `capacity` objects (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new((HashMap::new(), 0)),
            capacity: capacity.max(1),
        }
    }

    /// Records one more failure of `key` and returns how many in a row. A different
    /// `fingerprint` than last time (e.g. the credentials Secret's resourceVersion) starts the
    /// count again: what failed has changed.
    pub fn failed(&self, key: &str, fingerprint: &str) -> u32 {
        let Ok(mut guard) = self.inner.lock() else {
            return 1;
        };
        let (map, seq) = &mut *guard;
        *seq = seq.wrapping_add(1);
        let now = *seq;
        if !map.contains_key(key)
            && map.len() >= self.capacity
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, f)| f.seq)
                .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
        let entry = map.entry(key.to_string()).or_insert(Failures {
            count: 0,
            fingerprint: fingerprint.to_string(),
            seq: now,
        });
        if entry.fingerprint != fingerprint {
            entry.count = 0;
            entry.fingerprint = fingerprint.to_string();
        }
        entry.count = entry.count.saturating_add(1);
        entry.seq = now;
        entry.count
    }

    /// The object succeeded (or is gone): forget its failures.
    pub fn succeeded(&self, key: &str) {
        if let Ok(mut guard) = self.inner.lock() {
            guard.0.remove(key);
        }
    }

    /// Objects tracked now (for tests and metrics).
    pub fn len(&self) -> usize {
        self.inner.lock().map(|g| g.0.len()).unwrap_or(0)
    }

    /// Whether nothing is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The concurrent reconcile slots of one controller, shared fairly among namespaces: a
/// namespace may hold at most `total / active` slots (at least one), where `active` counts the
/// namespaces holding a slot plus the one asking. A namespace with many slow objects therefore
/// cannot keep the others waiting: once another namespace shows up, it gets slots as soon as the
/// busy one's in-flight reconciles end (each bounded by the reconcile deadline).
pub struct NamespaceSlots {
    total: usize,
    held: Mutex<HashMap<String, usize>>,
}

/// One slot, released on drop.
pub struct Slot {
    slots: Arc<NamespaceSlots>,
    namespace: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut held) = self.slots.held.lock()
            && let Some(n) = held.get_mut(&self.namespace)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                held.remove(&self.namespace);
            }
        }
    }
}

impl NamespaceSlots {
    /// `total` slots (at least 1).
    pub fn new(total: usize) -> Arc<Self> {
        Arc::new(Self {
            total: total.max(1),
            held: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for `namespace`, or `None` when it holds its fair share already (or every slot is
    /// taken): the caller requeues shortly instead of waiting.
    pub fn try_acquire(self: &Arc<Self>, namespace: &str) -> Option<Slot> {
        let mut held = self.held.lock().ok()?;
        let in_use: usize = held.values().sum();
        let mine = held.get(namespace).copied().unwrap_or(0);
        let active = held.len() + usize::from(mine == 0);
        let share = (self.total / active.max(1)).max(1);
        if mine >= share || in_use >= self.total {
            return None;
        }
        *held.entry(namespace.to_string()).or_insert(0) += 1;
        Some(Slot {
            slots: self.clone(),
            namespace: namespace.to_string(),
        })
    }

    /// Slots `namespace` holds now.
    pub fn held_by(&self, namespace: &str) -> usize {
        self.held
            .lock()
            .ok()
            .and_then(|h| h.get(namespace).copied())
            .unwrap_or(0)
    }
}

/// A process-wide byte budget (e.g. for source bytes held in memory across concurrent
/// reconciles). Reservations are released on drop.
pub struct ByteBudget {
    limit: u64,
    used: AtomicU64,
}

/// Bytes reserved from a [`ByteBudget`], returned on drop.
pub struct Reservation {
    budget: Arc<ByteBudget>,
    bytes: u64,
}

impl Reservation {
    /// Bytes held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.bytes, Ordering::SeqCst);
    }
}

impl ByteBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: u64) -> Arc<Self> {
        Arc::new(Self {
            limit,
            used: AtomicU64::new(0),
        })
    }

    /// Reserves `bytes`, or `None` if that would pass the limit (nothing is reserved then).
    pub fn try_reserve(self: &Arc<Self>, bytes: u64) -> Option<Reservation> {
        let mut used = self.used.load(Ordering::SeqCst);
        loop {
            let next = used.checked_add(bytes).filter(|n| *n <= self.limit)?;
            match self
                .used
                .compare_exchange(used, next, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => {
                    return Some(Reservation {
                        budget: self.clone(),
                        bytes,
                    });
                }
                Err(now) => used = now,
            }
        }
    }

    /// Bytes reserved now.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::SeqCst)
    }

    /// The limit.
    pub fn limit(&self) -> u64 {
        self.limit
    }
}

/// Longest name of most objects (a DNS subdomain).
pub const MAX_NAME: usize = 253;
/// Longest name of objects whose name becomes a label value (Jobs: their pods carry
/// `job-name=<name>`) or a DNS label.
pub const MAX_LABEL_NAME: usize = 63;

/// `base` + `suffix` if that fits in `max` bytes; otherwise `base` cut short, a dash, 8 hex
/// digits of a hash of the whole `base`, and `suffix`, so that two long bases that share a
/// prefix still get different names and a name never exceeds `max` (a 422 from the API server
/// would otherwise repeat on every reconcile). Ends are trimmed of `-` and `.` after the cut.
/// `suffix` must itself be short (it is kept whole when it fits; otherwise it is cut too).
pub fn bounded_name(base: &str, suffix: &str, max: usize) -> String {
    let whole = format!("{base}{suffix}");
    if whole.len() <= max {
        return whole;
    }
    let hash = hex::encode(&Sha256::digest(base.as_bytes())[..4]);
    let tail = format!("-{hash}{suffix}");
    let room = max.saturating_sub(tail.len());
    let mut cut = base;
    while cut.len() > room {
        let mut end = room.min(cut.len());
        while !cut.is_char_boundary(end) {
            end -= 1;
        }
        cut = &cut[..end];
    }
    let cut = cut.trim_end_matches(['-', '.']);
    let name = format!("{cut}{tail}");
    if name.len() <= max {
        name
    } else {
        // Only a suffix longer than `max` gets here.
        name.chars()
            .take(max)
            .collect::<String>()
            .trim_end_matches(['-', '.'])
            .to_string()
    }
}

/// At most `max` of `events` (oldest first) become Kubernetes Events: the newest `max`; the
/// number left out is returned so the caller can say so in one summary Event.
pub fn newest<T>(mut events: Vec<T>, max: usize) -> (Vec<T>, usize) {
    let omitted = events.len().saturating_sub(max);
    if omitted > 0 {
        events.drain(..omitted);
    }
    (events, omitted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let b = Backoff {
            base: Duration::from_secs(2),
            max: Duration::from_secs(300),
        };
        assert_eq!(b.delay(1, 0.0), Duration::from_secs(1));
        let top = b.delay(1, 0.999_999);
        assert!(
            top > Duration::from_millis(1999) && top < Duration::from_secs(2),
            "{top:?}"
        );
        assert_eq!(b.delay(2, 0.0), Duration::from_secs(2));
        assert_eq!(b.delay(5, 0.0), Duration::from_secs(16));
        assert_eq!(b.delay(40, 0.0), Duration::from_secs(150));
        assert!(b.delay(u32::MAX, 1.0) <= Duration::from_secs(300));
        assert_eq!(b.delay(3, f64::NAN), b.delay(3, 0.0));
        assert_eq!(b.delay(0, 0.5), b.delay(1, 0.5));
    }

    #[test]
    fn failures_count_reset_on_success_or_a_new_fingerprint_and_stay_bounded() {
        let t = FailureTracker::new(3);
        assert_eq!(t.failed("a", "rv1"), 1);
        assert_eq!(t.failed("a", "rv1"), 2);
        assert_eq!(t.failed("a", "rv2"), 1, "the credentials changed");
        t.succeeded("a");
        assert_eq!(t.failed("a", "rv2"), 1);
        for k in ["b", "c", "d", "e"] {
            t.failed(k, "");
        }
        assert_eq!(t.len(), 3, "bounded");
    }

    #[test]
    fn one_namespace_cannot_take_every_slot_once_another_asks() {
        let slots = NamespaceSlots::new(8);
        let mut busy: Vec<Slot> = (0..8).filter_map(|_| slots.try_acquire("busy")).collect();
        assert_eq!(busy.len(), 8, "alone, a namespace may use every slot");
        assert!(slots.try_acquire("quiet").is_none(), "all slots are in use");
        // One of the busy namespace's reconciles ends: the quiet one gets it, not the busy one.
        busy.pop();
        let quiet = slots
            .try_acquire("quiet")
            .expect("the quiet namespace gets a slot");
        assert!(
            slots.try_acquire("busy").is_none(),
            "busy holds more than its share (4)"
        );
        while busy.len() > 3 {
            busy.pop();
        }
        assert!(slots.try_acquire("busy").is_some(), "below its share again");
        drop(quiet);
        assert_eq!(slots.held_by("quiet"), 0);
        drop(busy);
        assert_eq!(slots.held_by("busy"), 0);
    }

    #[test]
    fn byte_budget_refuses_past_the_limit_and_releases_on_drop() {
        let budget = ByteBudget::new(100);
        let a = budget.try_reserve(60).unwrap();
        assert!(budget.try_reserve(41).is_none());
        let b = budget.try_reserve(40).unwrap();
        assert_eq!(budget.used(), 100);
        drop(a);
        assert_eq!(budget.used(), 40);
        assert!(budget.try_reserve(u64::MAX).is_none());
        drop(b);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn names_fit_and_stay_distinct() {
        assert_eq!(
            bounded_name("ds", "-pseudonymization-key", MAX_NAME),
            "ds-pseudonymization-key"
        );
        let long_a = format!("{}a", "x".repeat(300));
        let long_b = format!("{}b", "x".repeat(300));
        let a = bounded_name(&long_a, "-pseudonymization-key", MAX_NAME);
        let b = bounded_name(&long_b, "-pseudonymization-key", MAX_NAME);
        assert!(a.len() <= MAX_NAME && b.len() <= MAX_NAME);
        assert_ne!(a, b);
        assert!(a.ends_with("-pseudonymization-key"));
        let j = bounded_name(&"y-".repeat(40), "-validate-0a1b2c3d", MAX_LABEL_NAME);
        assert!(j.len() <= MAX_LABEL_NAME, "{j}");
        assert!(!j.contains("--"), "{j}");
        assert_eq!(bounded_name("a", &"s".repeat(100), 10).len(), 10);
    }

    #[test]
    fn newest_events_are_kept() {
        let (kept, omitted) = newest((0..10).collect(), 3);
        assert_eq!(kept, vec![7, 8, 9]);
        assert_eq!(omitted, 7);
        let (kept, omitted) = newest(vec![1, 2], 3);
        assert_eq!((kept, omitted), (vec![1, 2], 0));
    }

    proptest! {
        #[test]
        fn bounded_name_never_exceeds_max(base in "[a-z0-9.-]{0,400}", max in 1usize..300) {
            let n = bounded_name(&base, "-key", max);
            prop_assert!(n.len() <= max);
        }

        #[test]
        fn backoff_never_exceeds_max(n in any::<u32>(), j in any::<f64>(), base in 0u64..10_000, max in 0u64..100_000) {
            let b = Backoff { base: Duration::from_millis(base), max: Duration::from_millis(max) };
            prop_assert!(b.delay(n, j) <= Duration::from_millis(max));
        }
    }
}
