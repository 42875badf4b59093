//! Prometheus metrics of the analytics service, with their names defined once.

use prometheus::{Encoder, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};

/// Every metric the service exports.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// Ingest requests by outcome (`accepted`, `rejected`, `failed`).
    pub ingest_requests: IntCounterVec,
    pub ingest_events: IntCounter,
    pub ingest_bytes: IntCounter,
    /// Events the consumer read (kept and duplicates).
    pub consumed_events: IntCounter,
    pub duplicate_events: IntCounter,
    pub invalid_lines: IntCounter,
    pub commits: IntCounter,
    pub commit_conflicts: IntCounter,
    pub leases_lost: IntCounter,
    pub leased_shards: IntGauge,
    pub units: IntGauge,
    pub remembered_ids: IntGauge,
    pub commit_seq: IntGauge,
    pub results_computed: IntCounter,
    /// Per-unit metric values clamped to the bound (`pipeline::join::MAX_UNIT_MICROS`).
    pub clamped_values: IntCounter,
    /// Aggregate sums saturated instead of overflowing.
    pub saturated_sums: IntCounter,
}

fn counter(registry: &Registry, name: &str, help: &str) -> IntCounter {
    let c = IntCounter::new(name, help).unwrap_or_else(|_| unreachable!("valid metric name"));
    let _ = registry.register(Box::new(c.clone()));
    c
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).unwrap_or_else(|_| unreachable!("valid metric name"));
    let _ = registry.register(Box::new(g.clone()));
    g
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let ingest_requests = IntCounterVec::new(
            Opts::new(
                "vane_analytics_ingest_requests_total",
                "Ingest requests by outcome",
            ),
            &["outcome"],
        )
        .unwrap_or_else(|_| unreachable!("valid metric name"));
        let _ = registry.register(Box::new(ingest_requests.clone()));
        Self {
            ingest_requests,
            ingest_events: counter(
                &registry,
                "vane_analytics_ingest_events_total",
                "Events appended to the embedded log",
            ),
            ingest_bytes: counter(
                &registry,
                "vane_analytics_ingest_bytes_total",
                "Bytes appended to the embedded log",
            ),
            consumed_events: counter(
                &registry,
                "vane_analytics_consumed_events_total",
                "Valid events consumed (kept and duplicates)",
            ),
            duplicate_events: counter(
                &registry,
                "vane_analytics_duplicate_events_total",
                "Events dropped as duplicates",
            ),
            invalid_lines: counter(
                &registry,
                "vane_analytics_invalid_lines_total",
                "Stream lines dropped as invalid",
            ),
            commits: counter(
                &registry,
                "vane_analytics_commits_total",
                "Batches committed",
            ),
            commit_conflicts: counter(
                &registry,
                "vane_analytics_commit_conflicts_total",
                "Commits retried because another worker committed first",
            ),
            leases_lost: counter(
                &registry,
                "vane_analytics_leases_lost_total",
                "Shards lost to another worker",
            ),
            leased_shards: gauge(
                &registry,
                "vane_analytics_leased_shards",
                "Shards this worker holds",
            ),
            units: gauge(&registry, "vane_analytics_units", "Units held in memory"),
            remembered_ids: gauge(
                &registry,
                "vane_analytics_dedup_ids",
                "Event ids remembered for dedup",
            ),
            commit_seq: gauge(
                &registry,
                "vane_analytics_commit_seq",
                "Last commit sequence folded in",
            ),
            results_computed: counter(
                &registry,
                "vane_analytics_results_computed_total",
                "Experiment results computed",
            ),
            clamped_values: counter(
                &registry,
                "vane_analytics_clamped_values_total",
                "Per-unit metric values outside +-1e9 clamped to the bound",
            ),
            saturated_sums: counter(
                &registry,
                "vane_analytics_saturated_sums_total",
                "Aggregate sums that would have overflowed 128 bits, saturated",
            ),
            registry,
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        use std::sync::atomic::Ordering;
        for (counter, total) in [
            (&self.clamped_values, &crate::pipeline::join::CLAMPED_VALUES),
            (
                &self.saturated_sums,
                &crate::pipeline::aggregate::SATURATED_SUMS,
            ),
        ] {
            let total = total.load(Ordering::Relaxed);
            counter.inc_by(total.saturating_sub(counter.get()));
        }
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
