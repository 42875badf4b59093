//! Snapshot refresh from a key-value store: read the pointer at most every `refresh_ms` per
//! isolate, fetch and install the snapshot it names when it changed. The store is a port
//! ([`SnapshotStore`]): Workers KV in the worker, a map in the tests.
//!
//! Requests of one isolate share one refresh at a time: a request that finds no snapshot yet
//! waits for the refresh in flight instead of starting its own.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

use futures_util::FutureExt as _;
use futures_util::future::{LocalBoxFuture, Shared};
use vane_edge::{EdgeHandler, Installed, store};
use vane_engine::Timestamp;

/// Why a store could not answer (the binding's own message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

/// Read access to the keys sync writes (see `vane_edge::store`).
// Used only inside one single-threaded isolate: the futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait SnapshotStore {
    /// The text at `key`, `None` when the key does not exist.
    async fn get_text(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// The bytes at `key`, `None` when the key does not exist.
    async fn get_bytes(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
}

/// What one refresh did. Failures are also recorded in the edge's health by then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refreshed {
    /// The pointer names the served version.
    Unchanged,
    /// A new snapshot is served.
    Installed { version: u64 },
    /// The store answered, but the snapshot was not installed (the last good one stays).
    Refused(String),
    /// The store could not be read (the last good snapshot stays).
    Failed(String),
}

/// One refresh: read the pointer, and when it names another version than the served one, fetch
/// that snapshot and offer it to the cache (which verifies it and keeps the last good one).
pub async fn refresh_once<S: SnapshotStore>(
    edge: &EdgeHandler,
    store: &S,
    now: Timestamp,
) -> Refreshed {
    let environment = edge.cache.environment();
    let failed = |message: String| {
        edge.cache.record_error(message.clone(), now);
        Refreshed::Failed(message)
    };
    let pointer_key = store::current_key(environment);
    let pointer = match store.get_text(&pointer_key).await {
        Ok(Some(text)) => text,
        Ok(None) => return failed(format!("KV has no snapshot pointer at {pointer_key}")),
        Err(e) => return failed(format!("reading {pointer_key} from KV: {e}")),
    };
    let Some(version) = store::parse_pointer(&pointer) else {
        return failed(format!("{pointer_key} does not hold a version number"));
    };
    if edge
        .cache
        .current()
        .is_some_and(|served| served.compiled.version() == version)
    {
        edge.cache.record_success(now);
        return Refreshed::Unchanged;
    }
    let key = store::snapshot_key(environment, version);
    let bytes = match store.get_bytes(&key).await {
        Ok(Some(bytes)) => bytes,
        Ok(None) => {
            return failed(format!(
                "{pointer_key} names version {version} but KV has no {key}"
            ));
        }
        Err(e) => return failed(format!("reading {key} from KV: {e}")),
    };
    match edge.cache.install(&bytes, now) {
        Ok(Installed::Swapped { version }) => Refreshed::Installed { version },
        Ok(Installed::Unchanged { .. }) => Refreshed::Unchanged,
        Err(e) => Refreshed::Refused(e.to_string()),
    }
}

/// A refresh in flight, shared by every request of the isolate that waits for it.
pub type RefreshFuture = Shared<LocalBoxFuture<'static, Refreshed>>;

/// What [`Refresher::poll`] decided.
#[derive(Debug)]
pub enum Due {
    /// The last refresh is recent enough.
    NotDue,
    /// This call started a refresh: the caller must drive it (await it, or hand it to the
    /// runtime's `wait_until`).
    Started(RefreshFuture),
    /// A refresh is already running; await it only when its result is needed.
    InFlight(RefreshFuture),
}

/// The per-isolate refresh schedule: at most one refresh every `every_ms`, one at a time.
#[derive(Debug)]
pub struct Refresher {
    edge: Arc<EdgeHandler>,
    every_ms: i64,
    last_started: Cell<Option<i64>>,
    in_flight: RefCell<Option<RefreshFuture>>,
}

impl Refresher {
    pub fn new(edge: Arc<EdgeHandler>, every_ms: u64) -> Rc<Self> {
        Rc::new(Self {
            edge,
            every_ms: i64::try_from(every_ms).unwrap_or(i64::MAX),
            last_started: Cell::new(None),
            in_flight: RefCell::new(None),
        })
    }

    /// Starts a refresh from `store` when one is due at `now_ms`, or returns the one in flight.
    pub fn poll<S: SnapshotStore + 'static>(self: &Rc<Self>, store: S, now_ms: i64) -> Due {
        if let Some(running) = self.in_flight.borrow().as_ref() {
            return Due::InFlight(running.clone());
        }
        let due = match self.last_started.get() {
            None => true,
            // A clock that went backwards also allows a refresh.
            Some(last) => now_ms.saturating_sub(last) >= self.every_ms || now_ms < last,
        };
        if !due {
            return Due::NotDue;
        }
        self.last_started.set(Some(now_ms));
        let this = Rc::clone(self);
        let refresh = async move {
            let outcome =
                refresh_once(&this.edge, &store, Timestamp::from_unix_millis(now_ms)).await;
            this.in_flight.borrow_mut().take();
            outcome
        }
        .boxed_local()
        .shared();
        *self.in_flight.borrow_mut() = Some(refresh.clone());
        Due::Started(refresh)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::Path;

    use futures_executor::block_on;
    use serde_json::Value;
    use vane_edge::{EdgeIdentity, conformance};

    use super::*;

    const NOW_MS: i64 = 1_795_521_600_000;

    fn snapshot(version: u64) -> Vec<u8> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spec/evaluations");
        let mut files: Vec<_> = std::fs::read_dir(path)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        let files: Vec<Value> = files
            .iter()
            .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
            .collect();
        serde_json::to_vec(&conformance::snapshot(&files, version).unwrap()).unwrap()
    }

    /// A store in memory that counts reads and can be told to fail.
    #[derive(Debug, Default, Clone)]
    struct MemoryStore {
        keys: Rc<RefCell<HashMap<String, Vec<u8>>>>,
        reads: Rc<Cell<usize>>,
        fail: Rc<Cell<bool>>,
    }

    impl MemoryStore {
        fn publish(&self, version: u64, bytes: Vec<u8>) {
            let mut keys = self.keys.borrow_mut();
            keys.insert(store::snapshot_key("spec", version), bytes);
            keys.insert(store::current_key("spec"), version.to_string().into_bytes());
        }

        fn read(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
            self.reads.set(self.reads.get() + 1);
            if self.fail.get() {
                return Err(StoreError("KV GET failed: 500".into()));
            }
            Ok(self.keys.borrow().get(key).cloned())
        }
    }

    impl SnapshotStore for MemoryStore {
        async fn get_text(&self, key: &str) -> Result<Option<String>, StoreError> {
            Ok(self
                .read(key)?
                .map(|b| String::from_utf8_lossy(&b).into_owned()))
        }

        async fn get_bytes(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
            self.read(key)
        }
    }

    fn edge() -> Arc<EdgeHandler> {
        EdgeHandler::new(
            "spec",
            EdgeIdentity {
                edge_id: "test".into(),
                runtime: "cloudflare",
            },
        )
    }

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_unix_millis(ms)
    }

    #[test]
    fn a_new_pointer_installs_the_snapshot_it_names() {
        let (edge, store) = (edge(), MemoryStore::default());
        store.publish(1, snapshot(1));
        assert_eq!(
            block_on(refresh_once(&edge, &store, at(NOW_MS))),
            Refreshed::Installed { version: 1 }
        );
        store.publish(2, snapshot(2));
        assert_eq!(
            block_on(refresh_once(&edge, &store, at(NOW_MS + 1))),
            Refreshed::Installed { version: 2 }
        );
        assert_eq!(edge.cache.current().unwrap().compiled.version(), 2);
    }

    #[test]
    fn an_unchanged_pointer_reads_only_the_pointer() {
        let (edge, store) = (edge(), MemoryStore::default());
        store.publish(1, snapshot(1));
        block_on(refresh_once(&edge, &store, at(NOW_MS)));
        let reads = store.reads.get();
        assert_eq!(
            block_on(refresh_once(&edge, &store, at(NOW_MS + 1))),
            Refreshed::Unchanged
        );
        assert_eq!(store.reads.get(), reads + 1);
        assert!(!edge.cache.is_failing());
    }

    #[test]
    fn a_failing_store_keeps_the_last_good_snapshot_and_says_so() {
        let (edge, store) = (edge(), MemoryStore::default());
        store.publish(1, snapshot(1));
        block_on(refresh_once(&edge, &store, at(NOW_MS)));
        store.fail.set(true);
        let outcome = block_on(refresh_once(&edge, &store, at(NOW_MS + 5)));
        assert!(matches!(outcome, Refreshed::Failed(ref m) if m.contains("KV GET failed")));
        assert_eq!(edge.cache.current().unwrap().compiled.version(), 1);
        assert!(edge.cache.is_failing());
        assert_eq!(edge.cache.last_error().unwrap().at, at(NOW_MS + 5));
    }

    #[test]
    fn a_missing_pointer_or_snapshot_is_an_error_not_a_panic() {
        let (edge, store) = (edge(), MemoryStore::default());
        assert!(matches!(
            block_on(refresh_once(&edge, &store, at(NOW_MS))),
            Refreshed::Failed(ref m) if m.contains("vane/spec/current")
        ));
        store
            .keys
            .borrow_mut()
            .insert(store::current_key("spec"), b"7".to_vec());
        assert!(matches!(
            block_on(refresh_once(&edge, &store, at(NOW_MS))),
            Refreshed::Failed(ref m) if m.contains("vane/spec/snapshots/7")
        ));
        store
            .keys
            .borrow_mut()
            .insert(store::current_key("spec"), b"seven".to_vec());
        assert!(matches!(
            block_on(refresh_once(&edge, &store, at(NOW_MS))),
            Refreshed::Failed(ref m) if m.contains("version number")
        ));
        assert!(edge.cache.current().is_none());
    }

    #[test]
    fn a_tampered_snapshot_is_refused_and_the_last_good_one_served() {
        let (edge, store) = (edge(), MemoryStore::default());
        store.publish(1, snapshot(1));
        block_on(refresh_once(&edge, &store, at(NOW_MS)));
        let mut tampered: Value = serde_json::from_slice(&snapshot(2)).unwrap();
        tampered["version"] = Value::from(3);
        store.publish(3, serde_json::to_vec(&tampered).unwrap());
        let outcome = block_on(refresh_once(&edge, &store, at(NOW_MS + 1)));
        assert!(matches!(outcome, Refreshed::Refused(_)), "{outcome:?}");
        assert_eq!(edge.cache.current().unwrap().compiled.version(), 1);
        assert!(edge.cache.is_failing());
    }

    #[test]
    fn the_pointer_is_read_at_most_once_per_interval() {
        let store = MemoryStore::default();
        store.publish(1, snapshot(1));
        let refresher = Refresher::new(edge(), 1000);
        let Due::Started(first) = refresher.poll(store.clone(), NOW_MS) else {
            panic!("the first poll starts a refresh");
        };
        assert!(matches!(
            refresher.poll(store.clone(), NOW_MS + 1),
            Due::InFlight(_)
        ));
        assert_eq!(block_on(first), Refreshed::Installed { version: 1 });
        assert!(matches!(
            refresher.poll(store.clone(), NOW_MS + 999),
            Due::NotDue
        ));
        let Due::Started(second) = refresher.poll(store.clone(), NOW_MS + 1000) else {
            panic!("a refresh is due after the interval");
        };
        assert_eq!(block_on(second), Refreshed::Unchanged);
    }
}
