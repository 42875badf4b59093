//! The in-memory snapshot: compiled once when it arrives, swapped atomically, and kept when a
//! refresh fails so the edge goes on serving the last good configuration.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use vane_engine::model::KeyKind;
use vane_engine::{CompileError, CompiledSnapshot, Snapshot, Timestamp, compile};

/// A snapshot ready to serve, with what the edge precomputes from it.
#[derive(Debug)]
pub struct Loaded {
    pub compiled: CompiledSnapshot,
    /// When this edge installed it.
    pub loaded_at: Timestamp,
    /// When core published it, if the snapshot says.
    pub published_at: Option<Timestamp>,
    /// The `/v1/config` body: the snapshot without its key digests, sealed again so that its
    /// `content_hash` matches what it contains.
    pub config_body: Bytes,
    /// The `content_hash` of `config_body` (its ETag).
    pub config_hash: String,
    /// `(sha256 digest, kind)` of the accepted API keys.
    pub keys: Vec<(String, KeyKind)>,
}

/// Why a snapshot was not installed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("snapshot is not valid JSON for schema v1: {0}")]
    Malformed(String),
    #[error("snapshot has no content_hash; edges only install sealed snapshots")]
    Unsealed,
    #[error("snapshot is invalid ({} errors), first: {}", .0.len(), .0.first().map(ToString::to_string).unwrap_or_default())]
    Invalid(Vec<CompileError>),
    #[error("snapshot is for environment `{found}`, this edge serves `{expected}`")]
    WrongEnvironment { expected: String, found: String },
    #[error("snapshot version {offered} is older than the served version {served}")]
    Older { offered: u64, served: u64 },
}

/// What happened to an offered snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Installed {
    /// It replaced the served snapshot (or was the first).
    Swapped { version: u64 },
    /// The same version and content were already served.
    Unchanged { version: u64 },
}

/// The last refresh failure, for `/v1/health`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RefreshError {
    pub at: Timestamp,
    pub message: String,
}

/// The served snapshot of one environment plus the refresh status.
#[derive(Debug)]
pub struct SnapshotCache {
    environment: String,
    current: ArcSwapOption<Loaded>,
    last_error: Mutex<Option<RefreshError>>,
    last_success: Mutex<Option<Timestamp>>,
    /// Whether the most recent refresh attempt failed.
    failing: AtomicBool,
}

impl SnapshotCache {
    pub fn new(environment: impl Into<String>) -> Self {
        Self {
            environment: environment.into(),
            current: ArcSwapOption::empty(),
            last_error: Mutex::new(None),
            last_success: Mutex::new(None),
            failing: AtomicBool::new(false),
        }
    }

    pub fn environment(&self) -> &str {
        &self.environment
    }

    /// The served snapshot, if any arrived yet.
    pub fn current(&self) -> Option<Arc<Loaded>> {
        self.current.load_full()
    }

    /// Validates `json` (schema, content hash, every engine rule) and swaps it in when it is
    /// newer than the served one. On any error the served snapshot stays, and the error is
    /// recorded for `/v1/health`.
    pub fn install(&self, json: &[u8], now: Timestamp) -> Result<Installed, InstallError> {
        let result = self.try_install(json, now);
        match &result {
            Ok(_) => self.record_success(now),
            Err(e) => self.record_error(e.to_string(), now),
        }
        result
    }

    fn try_install(&self, json: &[u8], now: Timestamp) -> Result<Installed, InstallError> {
        let snapshot: Snapshot =
            serde_json::from_slice(json).map_err(|e| InstallError::Malformed(e.to_string()))?;
        if snapshot.content_hash.is_none() {
            return Err(InstallError::Unsealed);
        }
        if snapshot.environment != self.environment {
            return Err(InstallError::WrongEnvironment {
                expected: self.environment.clone(),
                found: snapshot.environment,
            });
        }
        if let Some(served) = self.current() {
            let version = served.compiled.version();
            if snapshot.version < version {
                return Err(InstallError::Older {
                    offered: snapshot.version,
                    served: version,
                });
            }
            if snapshot.version == version
                && snapshot.content_hash.as_deref() == Some(served.compiled.content_hash())
            {
                return Ok(Installed::Unchanged { version });
            }
        }
        let published_at = snapshot
            .published_at
            .as_deref()
            .and_then(|t| Timestamp::parse_rfc3339(t).ok());
        let keys = snapshot
            .api_keys
            .iter()
            .map(|k| (k.sha256.clone(), k.kind))
            .collect();
        let mut public = snapshot.clone();
        public.api_keys.clear();
        let public = public.seal();
        let config_hash = public.content_hash.clone().unwrap_or_default();
        let config_body = Bytes::from(serde_json::to_vec(&public).unwrap_or_default());
        let compiled = compile(snapshot).map_err(InstallError::Invalid)?;
        let version = compiled.version();
        self.current.store(Some(Arc::new(Loaded {
            compiled,
            loaded_at: now,
            published_at,
            config_body,
            config_hash,
            keys,
        })));
        Ok(Installed::Swapped { version })
    }

    /// Records a failure to reach the store or core; the served snapshot is unaffected.
    pub fn record_error(&self, message: String, now: Timestamp) {
        self.failing.store(true, Ordering::Relaxed);
        if let Ok(mut slot) = self.last_error.lock() {
            *slot = Some(RefreshError { at: now, message });
        }
    }

    /// Records a successful refresh (whether or not the version changed).
    pub fn record_success(&self, now: Timestamp) {
        self.failing.store(false, Ordering::Relaxed);
        if let Ok(mut slot) = self.last_success.lock() {
            *slot = Some(now);
        }
    }

    /// Whether the most recent refresh attempt failed (the edge serves its last good snapshot).
    pub fn is_failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
    }

    /// The most recent refresh failure, even if later refreshes succeeded.
    pub fn last_error(&self) -> Option<RefreshError> {
        self.last_error.lock().ok().and_then(|e| e.clone())
    }

    pub fn last_success(&self) -> Option<Timestamp> {
        self.last_success.lock().ok().and_then(|t| *t)
    }
}
