//! `metav1.Condition` handling shared by both resources: pure, no I/O.
//!
//! Conditions are keyed by `type`; `lastTransitionTime` moves only when `status` changes, so that a
//! reconcile that finds nothing new produces an identical status and therefore no write.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

/// Condition types used by tunegate resources.
pub mod types {
    pub const READY: &str = "Ready";
    pub const SOURCES_RESOLVED: &str = "SourcesResolved";
    pub const VALIDATED: &str = "Validated";
    pub const REDACTED: &str = "Redacted";
    pub const DATASET_READY: &str = "DatasetReady";
    pub const UPLOADED: &str = "Uploaded";
    pub const SUBMITTED: &str = "Submitted";
    pub const SUCCEEDED: &str = "Succeeded";
    pub const REMOTE_CLEANED_UP: &str = "RemoteCleanedUp";
}

/// Tri-state condition status as Kubernetes spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    True,
    False,
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::True => "True",
            Status::False => "False",
            Status::Unknown => "Unknown",
        }
    }
}

impl From<bool> for Status {
    fn from(b: bool) -> Self {
        if b { Status::True } else { Status::False }
    }
}

/// What a reconcile wants a condition to say. `reason` must be CamelCase; `message` is for humans
/// and must never contain data content or credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConditionUpdate {
    pub type_: &'static str,
    pub status: Status,
    pub reason: String,
    pub message: String,
}

impl ConditionUpdate {
    pub fn new(
        type_: &'static str,
        status: impl Into<Status>,
        reason: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            type_,
            status: status.into(),
            reason: reason.into(),
            message: message.into(),
        }
    }
}

/// Sets (inserts or updates) one condition. `lastTransitionTime` is kept unless `status` changed.
/// Returns true when anything changed.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    update: ConditionUpdate,
    observed_generation: Option<i64>,
    now: Timestamp,
) -> bool {
    let status = update.status.as_str();
    match conditions.iter_mut().find(|c| c.type_ == update.type_) {
        Some(existing) => {
            let transition = existing.status != status;
            let changed = transition
                || existing.reason != update.reason
                || existing.message != update.message
                || existing.observed_generation != observed_generation;
            if changed {
                if transition {
                    existing.last_transition_time = Time(now);
                }
                existing.status = status.to_string();
                existing.reason = update.reason;
                existing.message = update.message;
                existing.observed_generation = observed_generation;
            }
            changed
        }
        None => {
            conditions.push(Condition {
                type_: update.type_.to_string(),
                status: status.to_string(),
                reason: update.reason,
                message: update.message,
                observed_generation,
                last_transition_time: Time(now),
            });
            true
        }
    }
}

/// Finds a condition by type.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// True when the condition exists with status "True".
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    find(conditions, type_).is_some_and(|c| c.status == "True")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).expect("valid timestamp")
    }

    #[test]
    fn inserts_then_keeps_transition_time_when_status_is_unchanged() {
        let mut c = Vec::new();
        let up = ConditionUpdate::new(types::READY, false, "Pending", "waiting");
        assert!(set_condition(&mut c, up.clone(), Some(1), ts(10)));
        assert!(!set_condition(&mut c, up, Some(1), ts(20)));
        let msg = ConditionUpdate::new(types::READY, false, "Pending", "still waiting");
        assert!(set_condition(&mut c, msg, Some(1), ts(30)));
        assert_eq!(c[0].last_transition_time, Time(ts(10)));
        assert_eq!(c[0].message, "still waiting");
    }

    #[test]
    fn status_flip_moves_transition_time() {
        let mut c = Vec::new();
        set_condition(
            &mut c,
            ConditionUpdate::new(types::READY, false, "Pending", "waiting"),
            Some(1),
            ts(10),
        );
        set_condition(
            &mut c,
            ConditionUpdate::new(types::READY, true, "Ready", "ok"),
            Some(2),
            ts(40),
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].last_transition_time, Time(ts(40)));
        assert_eq!(c[0].observed_generation, Some(2));
        assert!(is_true(&c, types::READY));
    }
}
