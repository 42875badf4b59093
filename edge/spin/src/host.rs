//! Host imports beyond wasi:http: `wasi:keyvalue` (snapshots) and `wasi:config` (settings).
//!
//! Spin 3 and wasmtime 49 implement different drafts of both proposals (Spin:
//! wasi:keyvalue@0.2.0-draft2 and wasi:config@0.2.0-draft-2024-09-27; wasmtime:
//! wasi:keyvalue@0.2.0-draft and wasi:config@0.2.0-rc.1). The functions used here have the same
//! shape in both, so one adapter serves both and the `host-wasmtime` feature only picks the WIT.
#![allow(unsafe_code)] // generated bindings

use crate::settings::{Lookup, env_name};
use crate::store::{SnapshotStore, StoreError};

#[cfg(not(feature = "host-wasmtime"))]
mod bindings {
    spin_sdk::wit_bindgen::generate!({
        runtime_path: "::spin_sdk::wit_bindgen::rt",
        path: "wit/spin",
        world: "vane:edge-host/host",
        generate_all,
    });
}

#[cfg(feature = "host-wasmtime")]
mod bindings {
    spin_sdk::wit_bindgen::generate!({
        runtime_path: "::spin_sdk::wit_bindgen::rt",
        path: "wit/wasmtime",
        world: "vane:edge-host/host",
        generate_all,
    });
}

use bindings::wasi::config::store as config;
use bindings::wasi::keyvalue::store as keyvalue;

/// A `wasi:keyvalue` store, opened by identifier on every read (a bucket handle cannot outlive
/// the request that opened it on every host, and opening is a cheap host call).
#[derive(Debug)]
pub struct WasiKeyValueStore {
    identifier: String,
}

impl WasiKeyValueStore {
    pub fn new(identifier: String) -> Self {
        Self { identifier }
    }
}

fn kv_message(error: keyvalue::Error) -> String {
    match error {
        keyvalue::Error::NoSuchStore => "no such store".into(),
        keyvalue::Error::AccessDenied => "access denied".into(),
        keyvalue::Error::Other(message) => message,
    }
}

impl SnapshotStore for WasiKeyValueStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let bucket = keyvalue::open(&self.identifier).map_err(|e| StoreError::Open {
            identifier: self.identifier.clone(),
            message: kv_message(e),
        })?;
        bucket.get(key).map_err(|e| StoreError::Read {
            key: key.to_owned(),
            message: kv_message(e),
        })
    }
}

/// Settings from `wasi:config` (Spin component variables; `wasmtime serve -Sconfig-var`),
/// falling back to the environment variable of the same name in upper case.
#[derive(Debug, Clone, Copy, Default)]
pub struct HostLookup;

impl Lookup for HostLookup {
    fn get(&self, name: &str) -> Option<String> {
        match config::get(name) {
            Ok(Some(value)) => return Some(value),
            Ok(None) => {}
            Err(config::Error::Upstream(e) | config::Error::Io(e)) => {
                eprintln!(
                    "vane-edge-spin: wasi:config get `{name}` failed ({e}); trying the environment"
                );
            }
        }
        std::env::var(env_name(name)).ok()
    }
}
