//! Prometheus metrics. Labels carry controller names, operation names, HTTP codes and provider
//! status words only: never resource names, ids or content.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ControllerLabel {
    controller: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabel {
    controller: String,
    /// The failing step's category (`Error::category`), a fixed word.
    category: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderLabel {
    operation: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: String,
}

/// Every metric the operator exports.
pub struct Metrics {
    registry: Registry,
    reconciles: Family<ControllerLabel, Counter>,
    errors: Family<ErrorLabel, Counter>,
    duration: Family<ControllerLabel, Histogram>,
    provider_requests: Family<ProviderLabel, Counter>,
    jobs: Family<StatusLabel, Gauge>,
    job_status: Mutex<HashMap<String, String>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("tunegate");
        let reconciles = Family::<ControllerLabel, Counter>::default();
        let errors = Family::<ErrorLabel, Counter>::default();
        let duration = Family::<ControllerLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.005, 2.0, 14))
        });
        let provider_requests = Family::<ProviderLabel, Counter>::default();
        let jobs = Family::<StatusLabel, Gauge>::default();
        registry.register(
            "reconciles",
            "Reconciliations per controller",
            reconciles.clone(),
        );
        registry.register(
            "reconcile_errors",
            "Failed reconciliations per controller and error category",
            errors.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Reconciliation duration per controller",
            duration.clone(),
        );
        registry.register(
            "provider_requests",
            "Outbound provider requests by operation and HTTP code",
            provider_requests.clone(),
        );
        registry.register("jobs", "FineTuneJobs by provider status", jobs.clone());
        Self {
            registry,
            reconciles,
            errors,
            duration,
            provider_requests,
            jobs,
            job_status: Mutex::new(HashMap::new()),
        }
    }

    fn label(controller: &str) -> ControllerLabel {
        ControllerLabel {
            controller: controller.to_string(),
        }
    }

    /// One reconcile; `failed` is the error's category when it failed.
    pub fn reconciled(&self, controller: &str, took: Duration, failed: Option<&'static str>) {
        let l = Self::label(controller);
        self.reconciles.get_or_create(&l).inc();
        if let Some(category) = failed {
            self.errors
                .get_or_create(&ErrorLabel {
                    controller: controller.to_string(),
                    category: category.to_string(),
                })
                .inc();
        }
        self.duration.get_or_create(&l).observe(took.as_secs_f64());
    }

    /// One outbound provider request; `code` is the HTTP status or a transport error class.
    pub fn provider_request(&self, operation: &str, code: &str) {
        self.provider_requests
            .get_or_create(&ProviderLabel {
                operation: operation.to_string(),
                code: code.to_string(),
            })
            .inc();
    }

    /// Records the provider status of one job (keyed by uid); `None` forgets the job.
    pub fn job_status(&self, uid: &str, status: Option<&str>) {
        let Ok(mut map) = self.job_status.lock() else {
            return;
        };
        let changed = match status {
            Some(s) => map.insert(uid.to_string(), s.to_string()).as_deref() != Some(s),
            None => map.remove(uid).is_some(),
        };
        if changed {
            self.jobs.clear();
            for s in map.values() {
                self.jobs
                    .get_or_create(&StatusLabel { status: s.clone() })
                    .inc();
            }
        }
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposes_counts_without_names() {
        let m = Metrics::new();
        m.reconciled("finetunejob", Duration::from_millis(3), Some("provider"));
        m.provider_request("files.create", "200");
        m.job_status("uid-1", Some("running"));
        m.job_status("uid-2", Some("running"));
        m.job_status("uid-1", Some("succeeded"));
        let text = m.encode();
        assert!(text.contains("tunegate_reconciles_total{controller=\"finetunejob\"} 1"));
        assert!(text.contains(
            "tunegate_reconcile_errors_total{controller=\"finetunejob\",category=\"provider\"} 1"
        ));
        assert!(text.contains(
            "tunegate_provider_requests_total{operation=\"files.create\",code=\"200\"} 1"
        ));
        assert!(text.contains("tunegate_jobs{status=\"running\"} 1"));
        assert!(text.contains("tunegate_jobs{status=\"succeeded\"} 1"));
        assert!(!text.contains("uid-1"));
    }
}
