//! Prometheus metrics, with their names defined once here. Each application has its own
//! registry (several run side by side in tests).

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use crate::state::AppState;

pub const HTTP_REQUESTS: &str = "vane_core_http_requests_total";
pub const HTTP_DURATION: &str = "vane_core_http_request_duration_seconds";
pub const SNAPSHOTS_PUBLISHED: &str = "vane_core_snapshots_published_total";
pub const SNAPSHOT_VERSION: &str = "vane_core_snapshot_version";
pub const SCHEDULER_TRANSITIONS: &str = "vane_core_scheduler_transitions_total";
/// Failed logins by outcome (`wrong_credentials`, `throttled`).
pub const LOGIN_FAILURES: &str = "vane_core_login_failures_total";
/// Per reported edge (`edge`, `environment`), from the stored statuses at scrape time.
pub const EDGE_LAG: &str = "vane_edge_snapshot_lag_seconds";
pub const EDGE_SERVED_VERSION: &str = "vane_edge_served_version";
pub const EDGE_STUCK: &str = "vane_edge_stuck";

/// The service's metrics.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
    published: IntCounterVec,
    version: IntGaugeVec,
    transitions: IntCounterVec,
    login_failures: IntCounterVec,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(HTTP_REQUESTS, "HTTP requests by method, route and status"),
            &["method", "route", "status"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(HTTP_DURATION, "HTTP request latency by method and route"),
            &["method", "route"],
        )?;
        let published = IntCounterVec::new(
            Opts::new(SNAPSHOTS_PUBLISHED, "Snapshots published by environment"),
            &["environment"],
        )?;
        let version = IntGaugeVec::new(
            Opts::new(
                SNAPSHOT_VERSION,
                "Latest published snapshot version by environment",
            ),
            &["environment"],
        )?;
        let transitions = IntCounterVec::new(
            Opts::new(
                SCHEDULER_TRANSITIONS,
                "Scheduled experiment starts and stops recorded",
            ),
            &[],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(published.clone()))?;
        registry.register(Box::new(version.clone()))?;
        let login_failures = IntCounterVec::new(
            Opts::new(LOGIN_FAILURES, "Failed logins by outcome"),
            &["outcome"],
        )?;
        registry.register(Box::new(transitions.clone()))?;
        registry.register(Box::new(login_failures.clone()))?;
        Ok(Self {
            registry,
            requests,
            duration,
            published,
            version,
            transitions,
            login_failures,
        })
    }

    /// A failed login: `wrong_credentials` or `throttled`.
    pub fn login_failed(&self, outcome: &str) {
        self.login_failures.with_label_values(&[outcome]).inc();
    }

    pub fn snapshot_published(&self, environment: &str, version: i64) {
        self.published.with_label_values(&[environment]).inc();
        self.version.with_label_values(&[environment]).set(version);
    }

    pub fn scheduler_transitions(&self, count: usize) {
        self.transitions
            .with_label_values::<&str>(&[])
            .inc_by(u64::try_from(count).unwrap_or(0));
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buffer) {
            tracing::error!(error = %e, "encoding metrics");
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}

/// The gauges of every reported edge, as Prometheus text. Built per scrape from the stored
/// statuses (not kept in the registry), so every core instance sharing the database reports
/// the same edges, and a forgotten edge disappears.
pub fn render_edges(edges: &[crate::resources::edges::Edge]) -> String {
    let render = || -> Result<String, prometheus::Error> {
        let registry = Registry::new();
        let labels = &["edge", "environment"];
        let lag = GaugeVec::new(
            Opts::new(
                EDGE_LAG,
                "Seconds since the first snapshot version an edge does not serve was published",
            ),
            labels,
        )?;
        let served = IntGaugeVec::new(
            Opts::new(EDGE_SERVED_VERSION, "Snapshot version an edge serves"),
            labels,
        )?;
        let stuck = IntGaugeVec::new(
            Opts::new(
                EDGE_STUCK,
                "1 when an edge is stuck (behind too long, or unreachable)",
            ),
            labels,
        )?;
        registry.register(Box::new(lag.clone()))?;
        registry.register(Box::new(served.clone()))?;
        registry.register(Box::new(stuck.clone()))?;
        for edge in edges {
            let values = [edge.id.as_str(), edge.environment.as_deref().unwrap_or("")];
            lag.with_label_values(&values).set(edge.lag_seconds);
            if let Some(v) = edge.served_version {
                served.with_label_values(&values).set(v);
            }
            stuck.with_label_values(&values).set(i64::from(edge.stuck));
        }
        let mut buffer = Vec::new();
        TextEncoder::new().encode(&registry.gather(), &mut buffer)?;
        Ok(String::from_utf8(buffer).unwrap_or_default())
    };
    render().unwrap_or_else(|e| {
        tracing::error!(error = %e, "encoding edge metrics");
        String::new()
    })
}

/// Middleware counting and timing every request by its route template.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let response = next.run(request).await;
    let metrics = &state.inner.metrics;
    metrics
        .requests
        .with_label_values(&[method.as_str(), route.as_str(), response.status().as_str()])
        .inc();
    metrics
        .duration
        .with_label_values(&[method.as_str(), route.as_str()])
        .observe(started.elapsed().as_secs_f64());
    response
}
