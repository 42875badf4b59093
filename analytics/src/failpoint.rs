//! Crash-test hooks. With `VANE_ANALYTICS_FAILPOINT=NAME:N` set, the N-th time the process
//! reaches the point NAME it prints `failpoint NAME reached` on standard error and stops there
//! for good, so that a test can kill it with SIGKILL at exactly that point. Without the
//! variable every hook is a no-op.
//!
//! Points: `log_before_fsync` (ingest: written, not yet durable or acknowledged), `after_lake`
//! (consumer: raw events archived, nothing committed), `before_commit` (consumer: the database
//! transaction written but not committed), `after_commit` (consumer: committed, memory not yet
//! updated).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

static POINT: OnceLock<Option<(String, u64)>> = OnceLock::new();
static HITS: AtomicU64 = AtomicU64::new(0);

fn should_stop(name: &str) -> bool {
    let point = POINT.get_or_init(|| {
        let text = std::env::var("VANE_ANALYTICS_FAILPOINT").ok()?;
        let (name, n) = text.split_once(':').unwrap_or((text.as_str(), "1"));
        Some((name.to_owned(), n.parse().unwrap_or(1)))
    });
    match point {
        Some((point, n)) if point == name => HITS.fetch_add(1, Ordering::SeqCst) + 1 == *n,
        _ => false,
    }
}

/// An async failpoint.
pub async fn point(name: &str) {
    if should_stop(name) {
        eprintln!("failpoint {name} reached");
        std::future::pending::<()>().await;
    }
}

/// A failpoint in blocking code.
pub fn point_blocking(name: &str) {
    if should_stop(name) {
        eprintln!("failpoint {name} reached");
        loop {
            std::thread::park();
        }
    }
}
