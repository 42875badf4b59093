//! Snapshot stores: one small trait, one adapter per kind of store. The `wasi:keyvalue` adapter
//! lives in `host` (it needs the host bindings); the directory and memory adapters are here.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

/// Why a store could not answer. The edge keeps serving its last good snapshot.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("opening key-value store `{identifier}`: {message}")]
    Open { identifier: String, message: String },
    #[error("reading key `{key}`: {message}")]
    Read { key: String, message: String },
    #[error("reading {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// A read-only view of a key-value store laid out as `vane_edge::store` describes.
pub trait SnapshotStore: Send + Sync + std::fmt::Debug {
    /// The value under `key`, `None` when there is none.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
}

/// A directory holding one file per key (`{dir}/vane/{env}/current`, ...), as `vane sync`
/// writes for native edges. Under wasmtime it is a directory preopened with `--dir`.
#[derive(Debug)]
pub struct DirStore {
    dir: PathBuf,
}

impl DirStore {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }
}

impl SnapshotStore for DirStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.dir.join(key);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StoreError::Io {
                path: path.display().to_string(),
                source,
            }),
        }
    }
}

/// Keys in memory (tests), or a store that fails every read when told to.
#[derive(Debug, Default)]
pub struct MemoryStore {
    entries: Mutex<HashMap<String, Vec<u8>>>,
    failing: Mutex<Option<String>>,
}

impl MemoryStore {
    pub fn set(&self, key: &str, value: impl Into<Vec<u8>>) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.insert(key.to_owned(), value.into());
        }
    }

    /// Makes every read fail with `message` (`None`: answer again).
    pub fn fail_with(&self, message: Option<&str>) {
        if let Ok(mut failing) = self.failing.lock() {
            *failing = message.map(str::to_owned);
        }
    }
}

impl SnapshotStore for MemoryStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let read_error = |message: String| StoreError::Read {
            key: key.to_owned(),
            message,
        };
        if let Some(message) = self.failing.lock().ok().and_then(|f| f.clone()) {
            return Err(read_error(message));
        }
        let entries = self
            .entries
            .lock()
            .map_err(|_| read_error("poisoned".into()))?;
        Ok(entries.get(key).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_store_reads_keys_as_relative_paths() {
        let dir = std::env::temp_dir().join(format!("vane-spin-dirstore-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("vane/spec")).unwrap();
        std::fs::write(dir.join("vane/spec/current"), "3\n").unwrap();
        let store = DirStore::new(dir.clone());
        assert_eq!(
            store.get("vane/spec/current").unwrap().as_deref(),
            Some(&b"3\n"[..])
        );
        assert_eq!(store.get("vane/spec/snapshots/3").unwrap(), None);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_memory_store_fails_only_while_told_to() {
        let store = MemoryStore::default();
        store.set("k", "v");
        store.fail_with(Some("down"));
        assert!(store.get("k").is_err());
        store.fail_with(None);
        assert_eq!(store.get("k").unwrap().as_deref(), Some(&b"v"[..]));
    }
}
