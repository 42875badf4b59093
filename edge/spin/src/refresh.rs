//! Snapshot refresh for a component instance: follow the environment's pointer in the store,
//! offer the snapshot it names to the edge's cache, at most once per interval.
//!
//! Instances are short-lived (Spin may start one per request; `wasmtime serve` reuses one for a
//! bounded number of requests), so the first request of an instance always loads.

use std::sync::Mutex;

use vane_edge::{EdgeHandler, Installed, store};
use vane_engine::Timestamp;

use crate::store::{SnapshotStore, StoreError};

/// Why the store did not yield a snapshot.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no pointer at `{key}`: nothing was published for this environment yet")]
    NoPointer { key: String },
    #[error("the pointer `{key}` does not hold a version number")]
    BadPointer { key: String },
    #[error("the pointer names version {version}, but `{key}` is missing")]
    MissingSnapshot { key: String, version: u64 },
}

/// The current snapshot's bytes, or `None` when `served` is already that version.
pub fn fetch(
    store: &dyn SnapshotStore,
    environment: &str,
    served: Option<u64>,
) -> Result<Option<Vec<u8>>, RefreshError> {
    let key = store::current_key(environment);
    let pointer = store
        .get(&key)?
        .ok_or_else(|| RefreshError::NoPointer { key: key.clone() })?;
    let version = store::parse_pointer(&String::from_utf8_lossy(&pointer))
        .ok_or(RefreshError::BadPointer { key })?;
    if served == Some(version) {
        return Ok(None);
    }
    let key = store::snapshot_key(environment, version);
    match store.get(&key)? {
        Some(bytes) => Ok(Some(bytes)),
        None => Err(RefreshError::MissingSnapshot { key, version }),
    }
}

/// One refresh: fetch, verify, install. Failures are recorded in the edge's health (and
/// logged); the served snapshot stays.
pub fn refresh_once(
    edge: &EdgeHandler,
    store: &dyn SnapshotStore,
    now: Timestamp,
) -> Option<Installed> {
    let served = edge.cache.current().map(|l| l.compiled.version());
    match fetch(store, edge.cache.environment(), served) {
        Ok(None) => {
            edge.cache.record_success(now);
            None
        }
        Ok(Some(bytes)) => match edge.cache.install(&bytes, now) {
            Ok(installed) => Some(installed),
            Err(e) => {
                eprintln!("vane-edge-spin: refused snapshot; serving the last good one: {e}");
                None
            }
        },
        Err(e) => {
            eprintln!("vane-edge-spin: snapshot refresh failed; serving the last good one: {e}");
            edge.cache.record_error(e.to_string(), now);
            None
        }
    }
}

/// Lets one refresh through per interval (wall-clock milliseconds; a clock that goes back
/// counts as due).
#[derive(Debug)]
pub struct RefreshGate {
    every_ms: i64,
    last_ms: Mutex<Option<i64>>,
}

impl RefreshGate {
    pub fn new(every_ms: u64) -> Self {
        Self {
            every_ms: i64::try_from(every_ms).unwrap_or(i64::MAX),
            last_ms: Mutex::new(None),
        }
    }

    /// Whether a refresh is due at `now_ms`; if so, the attempt is recorded.
    pub fn due(&self, now_ms: i64) -> bool {
        let Ok(mut last) = self.last_ms.lock() else {
            return true;
        };
        let due = match *last {
            None => true,
            Some(at) => now_ms < at || now_ms.saturating_sub(at) >= self.every_ms,
        };
        if due {
            *last = Some(now_ms);
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use vane_edge::EdgeIdentity;
    use vane_engine::Snapshot;

    use super::*;
    use crate::store::MemoryStore;

    const NOW: Timestamp = Timestamp::from_unix_millis(1_800_000_000_000);

    fn edge() -> std::sync::Arc<EdgeHandler> {
        EdgeHandler::new(
            "spec",
            EdgeIdentity {
                edge_id: "spin-test".into(),
                runtime: "spin",
            },
        )
    }

    fn sealed(version: u64) -> Vec<u8> {
        let snapshot: Snapshot = serde_json::from_value(serde_json::json!({
            "schema_version": 1,
            "environment": "spec",
            "version": version,
        }))
        .unwrap();
        serde_json::to_vec(&snapshot.seal()).unwrap()
    }

    fn publish(store: &MemoryStore, version: u64) {
        store.set(&store::snapshot_key("spec", version), sealed(version));
        store.set(&store::current_key("spec"), version.to_string());
    }

    #[test]
    fn the_snapshot_the_pointer_names_is_installed() {
        let (edge, store) = (edge(), MemoryStore::default());
        publish(&store, 1);
        assert_eq!(
            refresh_once(&edge, &store, NOW),
            Some(Installed::Swapped { version: 1 })
        );
        publish(&store, 2);
        assert_eq!(
            refresh_once(&edge, &store, NOW),
            Some(Installed::Swapped { version: 2 })
        );
        assert!(!edge.cache.is_failing());
    }

    #[test]
    fn the_served_version_is_not_read_again() {
        let (edge, store) = (edge(), MemoryStore::default());
        publish(&store, 1);
        refresh_once(&edge, &store, NOW);
        store.set(&store::snapshot_key("spec", 1), "not read");
        assert_eq!(refresh_once(&edge, &store, NOW), None);
        assert!(!edge.cache.is_failing());
        assert_eq!(edge.cache.current().unwrap().compiled.version(), 1);
    }

    #[test]
    fn a_failing_store_keeps_the_last_good_snapshot_and_says_why() {
        let (edge, store) = (edge(), MemoryStore::default());
        publish(&store, 1);
        refresh_once(&edge, &store, NOW);
        store.fail_with(Some("store down"));
        assert_eq!(refresh_once(&edge, &store, NOW), None);
        assert!(edge.cache.is_failing());
        assert!(
            edge.cache
                .last_error()
                .unwrap()
                .message
                .contains("store down")
        );
        assert_eq!(edge.cache.current().unwrap().compiled.version(), 1);
    }

    #[test]
    fn a_pointer_to_a_missing_snapshot_is_an_error() {
        let store = MemoryStore::default();
        store.set(&store::current_key("spec"), "7");
        assert!(matches!(
            fetch(&store, "spec", None),
            Err(RefreshError::MissingSnapshot { version: 7, .. })
        ));
        store.set(&store::current_key("spec"), "seven");
        assert!(matches!(
            fetch(&store, "spec", None),
            Err(RefreshError::BadPointer { .. })
        ));
        assert!(matches!(
            fetch(&MemoryStore::default(), "spec", None),
            Err(RefreshError::NoPointer { .. })
        ));
    }

    #[test]
    fn a_snapshot_for_another_environment_is_refused() {
        let (edge, store) = (edge(), MemoryStore::default());
        store.set(&store::current_key("spec"), "1");
        let other: Snapshot = serde_json::from_value(serde_json::json!({
            "schema_version": 1, "environment": "production", "version": 1,
        }))
        .unwrap();
        store.set(
            &store::snapshot_key("spec", 1),
            serde_json::to_vec(&other.seal()).unwrap(),
        );
        assert_eq!(refresh_once(&edge, &store, NOW), None);
        assert!(edge.cache.current().is_none());
        assert!(edge.cache.is_failing());
    }

    #[test]
    fn the_gate_opens_once_per_interval() {
        let gate = RefreshGate::new(1000);
        assert!(gate.due(10_000));
        assert!(!gate.due(10_999));
        assert!(gate.due(11_000));
        assert!(!gate.due(11_500));
        assert!(gate.due(5_000), "a clock that went back counts as due");
    }
}
