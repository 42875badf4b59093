//! Counters and the Prometheus text exposition of an edge.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use vane_engine::Timestamp;

use crate::EdgeHandler;

/// Monotonic counters since the edge started.
#[derive(Debug, Default)]
pub struct Counters {
    pub assign: AtomicU64,
    pub evaluate: AtomicU64,
    pub config: AtomicU64,
    pub events_accepted: AtomicU64,
    pub events_rejected: AtomicU64,
    pub events_forward_failed: AtomicU64,
    pub responses_2xx: AtomicU64,
    pub responses_4xx: AtomicU64,
    pub responses_5xx: AtomicU64,
}

impl Counters {
    pub(crate) fn response(&self, status: StatusCode) {
        let counter = match status.as_u16() {
            200..=399 => &self.responses_2xx,
            400..=499 => &self.responses_4xx,
            _ => &self.responses_5xx,
        };
        counter.fetch_add(1, Relaxed);
    }

    /// The counters as `(name, value)` pairs, for JSON health output.
    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("assign", self.assign.load(Relaxed)),
            ("evaluate", self.evaluate.load(Relaxed)),
            ("config", self.config.load(Relaxed)),
            ("events_accepted", self.events_accepted.load(Relaxed)),
            ("events_rejected", self.events_rejected.load(Relaxed)),
            (
                "events_forward_failed",
                self.events_forward_failed.load(Relaxed),
            ),
            ("responses_2xx", self.responses_2xx.load(Relaxed)),
            ("responses_4xx", self.responses_4xx.load(Relaxed)),
            ("responses_5xx", self.responses_5xx.load(Relaxed)),
        ]
    }
}

/// Metric names, defined once.
const REQUESTS: &str = "vane_edge_requests_total";
const EVENTS: &str = "vane_edge_events_total";
const RESPONSES: &str = "vane_edge_responses_total";
const VERSION: &str = "vane_edge_snapshot_version";
const AGE: &str = "vane_edge_snapshot_age_seconds";
const REFRESH_ERROR: &str = "vane_edge_refresh_error";

pub(crate) fn render(edge: &EdgeHandler, now: Timestamp) -> Response<Bytes> {
    let c = &edge.counters;
    let mut out = String::new();
    let id = &edge.identity.edge_id;
    let _ = writeln!(out, "# TYPE {REQUESTS} counter");
    for (route, counter) in [
        ("assign", &c.assign),
        ("evaluate", &c.evaluate),
        ("config", &c.config),
    ] {
        let _ = writeln!(
            out,
            "{REQUESTS}{{edge=\"{id}\",route=\"{route}\"}} {}",
            counter.load(Relaxed)
        );
    }
    let _ = writeln!(out, "# TYPE {EVENTS} counter");
    for (outcome, counter) in [
        ("accepted", &c.events_accepted),
        ("rejected", &c.events_rejected),
        ("forward_failed", &c.events_forward_failed),
    ] {
        let _ = writeln!(
            out,
            "{EVENTS}{{edge=\"{id}\",outcome=\"{outcome}\"}} {}",
            counter.load(Relaxed)
        );
    }
    let _ = writeln!(out, "# TYPE {RESPONSES} counter");
    for (class, counter) in [
        ("2xx", &c.responses_2xx),
        ("4xx", &c.responses_4xx),
        ("5xx", &c.responses_5xx),
    ] {
        let _ = writeln!(
            out,
            "{RESPONSES}{{edge=\"{id}\",class=\"{class}\"}} {}",
            counter.load(Relaxed)
        );
    }
    if let Some(loaded) = edge.cache.current() {
        let _ = writeln!(out, "# TYPE {VERSION} gauge");
        let _ = writeln!(
            out,
            "{VERSION}{{edge=\"{id}\"}} {}",
            loaded.compiled.version()
        );
        let since = loaded.published_at.unwrap_or(loaded.loaded_at);
        let _ = writeln!(out, "# TYPE {AGE} gauge");
        let _ = writeln!(
            out,
            "{AGE}{{edge=\"{id}\"}} {:.3}",
            seconds_between(since, now)
        );
    }
    let _ = writeln!(out, "# TYPE {REFRESH_ERROR} gauge");
    let failing = u8::from(
        edge.cache
            .last_error()
            .is_some_and(|e| edge.cache.last_success().is_none_or(|s| e.at >= s)),
    );
    let _ = writeln!(out, "{REFRESH_ERROR}{{edge=\"{id}\"}} {failing}");
    let mut response = Response::new(Bytes::from(out));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    response
}

pub(crate) fn seconds_between(from: Timestamp, to: Timestamp) -> f64 {
    (to.unix_millis().saturating_sub(from.unix_millis())) as f64 / 1000.0
}
