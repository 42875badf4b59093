//! The component's settings, read once per instance: each from the host's configuration
//! (`wasi:config`, i.e. Spin component variables) when set there, else from the environment
//! variable of the same name in upper case (Spin's component `environment`, `wasmtime --env`).

use std::path::PathBuf;

/// Where settings come from: name → value, `None` when unset.
pub trait Lookup {
    fn get(&self, name: &str) -> Option<String>;
}

/// `vane_environment`: the environment this edge serves.
pub const ENVIRONMENT: &str = "vane_environment";
/// `vane_edge_id`: this edge's id in health, metrics and events.
pub const EDGE_ID: &str = "vane_edge_id";
/// `vane_kv_store`: the key-value store (Spin label) holding snapshots.
pub const KV_STORE: &str = "vane_kv_store";
/// `vane_store_dir`: read snapshots from this (preopened) directory instead of key-value.
pub const STORE_DIR: &str = "vane_store_dir";
/// `vane_refresh_ms`: look for a new snapshot at most this often, per instance.
pub const REFRESH_MS: &str = "vane_refresh_ms";
/// `vane_collector_url`: where accepted events are POSTed (newline-delimited JSON).
pub const COLLECTOR_URL: &str = "vane_collector_url";

/// Where snapshots are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChoice {
    /// A `wasi:keyvalue` store opened by this identifier (Spin: the store's label).
    KeyValue { identifier: String },
    /// A directory laid out like a key-value store (`vane/{env}/current`, ...).
    Dir(PathBuf),
}

/// Everything the component needs to know about its deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub environment: String,
    pub edge_id: String,
    pub store: StoreChoice,
    pub refresh_ms: u64,
    pub collector_url: Option<String>,
}

/// A setting with a value the component cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("{name} must be a whole number of milliseconds, got `{value}`")]
    NotMillis { name: &'static str, value: String },
    #[error("{name} must be an http:// or https:// URL, got `{value}`")]
    NotUrl { name: &'static str, value: String },
    #[error("{name} must not be empty")]
    Empty { name: &'static str },
}

impl Settings {
    /// Reads and checks every setting. Unset settings take their defaults; an empty
    /// `vane_kv_store` is a valid identifier (wasmtime's in-memory store is named ``).
    pub fn from_lookup(lookup: &impl Lookup) -> Result<Self, SettingsError> {
        let text = |name: &'static str, default: &str| -> Result<String, SettingsError> {
            match lookup.get(name) {
                None => Ok(default.to_owned()),
                Some(v) if v.trim().is_empty() => Err(SettingsError::Empty { name }),
                Some(v) => Ok(v.trim().to_owned()),
            }
        };
        let refresh_ms = match lookup.get(REFRESH_MS) {
            None => 1000,
            Some(v) => v.trim().parse().map_err(|_| SettingsError::NotMillis {
                name: REFRESH_MS,
                value: v,
            })?,
        };
        let store = match lookup.get(STORE_DIR).filter(|d| !d.trim().is_empty()) {
            Some(dir) => StoreChoice::Dir(PathBuf::from(dir.trim())),
            None => StoreChoice::KeyValue {
                identifier: lookup.get(KV_STORE).unwrap_or_else(|| "default".into()),
            },
        };
        let collector_url = match lookup.get(COLLECTOR_URL).filter(|u| !u.trim().is_empty()) {
            None => None,
            Some(url) => {
                let url = url.trim();
                if !(url.starts_with("http://") || url.starts_with("https://"))
                    || url.parse::<http::Uri>().is_err()
                {
                    return Err(SettingsError::NotUrl {
                        name: COLLECTOR_URL,
                        value: url.to_owned(),
                    });
                }
                Some(url.to_owned())
            }
        };
        Ok(Self {
            environment: text(ENVIRONMENT, "production")?,
            edge_id: text(EDGE_ID, "spin-1")?,
            store,
            refresh_ms,
            collector_url,
        })
    }
}

/// The environment variable read for a setting: its name in upper case.
pub fn env_name(name: &str) -> String {
    name.to_ascii_uppercase()
}

/// Settings from the process environment only (hosts without `wasi:config`, and tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct EnvLookup;

impl Lookup for EnvLookup {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(env_name(name)).ok()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    struct Map(HashMap<&'static str, &'static str>);

    impl Lookup for Map {
        fn get(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|v| (*v).to_owned())
        }
    }

    fn settings(pairs: &[(&'static str, &'static str)]) -> Result<Settings, SettingsError> {
        Settings::from_lookup(&Map(pairs.iter().copied().collect()))
    }

    #[test]
    fn unset_settings_take_the_defaults() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.environment, "production");
        assert_eq!(s.edge_id, "spin-1");
        assert_eq!(
            s.store,
            StoreChoice::KeyValue {
                identifier: "default".into()
            }
        );
        assert_eq!(s.refresh_ms, 1000);
        assert_eq!(s.collector_url, None);
    }

    #[test]
    fn a_store_dir_replaces_key_value() {
        let s = settings(&[(STORE_DIR, "/store"), (KV_STORE, "edge")]).unwrap();
        assert_eq!(s.store, StoreChoice::Dir(PathBuf::from("/store")));
    }

    #[test]
    fn an_empty_kv_store_name_is_kept_for_wasmtimes_in_memory_store() {
        let s = settings(&[(KV_STORE, "")]).unwrap();
        assert_eq!(
            s.store,
            StoreChoice::KeyValue {
                identifier: String::new()
            }
        );
    }

    #[test]
    fn a_refresh_interval_that_is_not_a_number_is_refused() {
        assert_eq!(
            settings(&[(REFRESH_MS, "1s")]),
            Err(SettingsError::NotMillis {
                name: REFRESH_MS,
                value: "1s".into()
            })
        );
    }

    #[test]
    fn a_collector_url_must_be_http() {
        assert!(matches!(
            settings(&[(COLLECTOR_URL, "kinesis://stream")]),
            Err(SettingsError::NotUrl { .. })
        ));
        let s = settings(&[(COLLECTOR_URL, " http://127.0.0.1:9/ingest ")]).unwrap();
        assert_eq!(
            s.collector_url.as_deref(),
            Some("http://127.0.0.1:9/ingest")
        );
    }

    #[test]
    fn an_empty_environment_is_refused() {
        assert_eq!(
            settings(&[(ENVIRONMENT, " ")]),
            Err(SettingsError::Empty { name: ENVIRONMENT })
        );
    }

    #[test]
    fn environment_variables_are_the_upper_case_names() {
        assert_eq!(env_name(COLLECTOR_URL), "VANE_COLLECTOR_URL");
        assert_eq!(env_name(REFRESH_MS), "VANE_REFRESH_MS");
    }
}
