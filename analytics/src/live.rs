//! The configuration in use ([`SharedConfig`]) and where it comes from: fixed at start-up (a
//! file, or none), or loaded from a [`ConfigSource`] (core-api, see [`crate::core_config`]) at
//! start-up and refreshed periodically.
//!
//! A refresh swaps the whole configuration at once; a failed refresh keeps the last good one and
//! records the error (served in `/v1/status`). Definitions the source could not convert are
//! skipped, reported, and logged once each.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use tokio::sync::watch;

use crate::config::Config;
use crate::error::AnalyticsError;
use crate::pipeline::consumer::Clock;

/// A definition left out (skipped) or partly ignored, and why.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Issue {
    /// `experiment` or `metric`.
    pub kind: &'static str,
    pub key: String,
    pub message: String,
}

/// What a source loaded.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    /// Definitions that could not be used at all.
    pub skipped: Vec<Issue>,
    /// Parts of definitions that are not applied (e.g. percentile capping).
    pub ignored: Vec<Issue>,
}

/// Where experiment and metric definitions come from.
#[async_trait]
pub trait ConfigSource: Send + Sync + std::fmt::Debug {
    /// For logs and the status page, e.g. `core-api at http://127.0.0.1:8080`.
    fn describe(&self) -> String;

    /// The current definitions.
    async fn load(&self) -> Result<Loaded, AnalyticsError>;
}

/// A failed refresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefreshError {
    /// When (RFC 3339).
    pub at: String,
    pub message: String,
}

/// The configuration's part of `/v1/status`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ConfigStatus {
    /// `core-api at URL`, `file PATH`, or `none`.
    pub source: String,
    /// A configuration has been loaded (always, except while core-api has not answered yet).
    pub loaded: bool,
    /// How many times a new configuration was swapped in.
    pub generation: u64,
    pub experiments: usize,
    pub metrics: usize,
    /// The last successful refresh (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refreshed_at: Option<String>,
    /// The error of the latest refresh, if it failed (the configuration in use is the last
    /// good one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The last refresh that failed, even if a later one succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<RefreshError>,
    pub skipped: Vec<Issue>,
    pub ignored: Vec<Issue>,
}

/// The configuration in use, shared by the consumer, the HTTP handlers and the refresher.
#[derive(Debug)]
pub struct SharedConfig {
    current: RwLock<Arc<Config>>,
    status: RwLock<ConfigStatus>,
    source: Option<Arc<dyn ConfigSource>>,
    /// One refresh at a time (the periodic one and those the consumer asks for).
    refreshing: tokio::sync::Mutex<()>,
    clock: Arc<dyn Clock>,
    /// Issues already logged.
    warned: Mutex<HashSet<Issue>>,
}

fn rfc3339(ms: i64) -> String {
    vane_engine::time::Timestamp::from_unix_millis(ms)
        .to_rfc3339()
        .unwrap_or_default()
}

impl SharedConfig {
    /// A configuration that never changes (a file, or none), described as `source`.
    pub fn fixed(config: Arc<Config>, source: impl Into<String>) -> Arc<Self> {
        let status = ConfigStatus {
            source: source.into(),
            loaded: true,
            experiments: config.experiments.len(),
            metrics: config.metrics.len(),
            ..ConfigStatus::default()
        };
        Arc::new(Self {
            current: RwLock::new(config),
            status: RwLock::new(status),
            source: None,
            refreshing: tokio::sync::Mutex::new(()),
            clock: Arc::new(crate::pipeline::consumer::SystemClock),
            warned: Mutex::default(),
        })
    }

    /// A configuration loaded from `source` by [`SharedConfig::refresh`]; empty, and not
    /// loaded, until the first refresh succeeds.
    pub fn live(source: Arc<dyn ConfigSource>, clock: Arc<dyn Clock>) -> Arc<Self> {
        let status = ConfigStatus {
            source: source.describe(),
            ..ConfigStatus::default()
        };
        Arc::new(Self {
            current: RwLock::new(Arc::new(Config::empty())),
            status: RwLock::new(status),
            source: Some(source),
            refreshing: tokio::sync::Mutex::new(()),
            clock,
            warned: Mutex::default(),
        })
    }

    /// The configuration in use.
    pub fn get(&self) -> Arc<Config> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether it is loaded from a source (and refreshed).
    pub fn is_live(&self) -> bool {
        self.source.is_some()
    }

    /// Whether a configuration has been loaded.
    pub fn is_loaded(&self) -> bool {
        self.status
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .loaded
    }

    /// Whether the latest refresh failed.
    pub fn failing(&self) -> bool {
        self.status
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .error
            .is_some()
    }

    pub fn status(&self) -> ConfigStatus {
        self.status
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Loads the definitions from the source and swaps them in if they changed; returns
    /// whether they did. On failure the configuration in use stays, and the error is recorded.
    /// A fixed configuration never changes.
    pub async fn refresh(&self) -> Result<bool, AnalyticsError> {
        let Some(source) = &self.source else {
            return Ok(false);
        };
        let _one_at_a_time = self.refreshing.lock().await;
        let outcome = source.load().await;
        let now = rfc3339(self.clock.now_ms());
        match outcome {
            Ok(loaded) => {
                self.warn_once(&loaded);
                let config = Arc::new(loaded.config);
                let changed = {
                    let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
                    let changed = **current != *config;
                    if changed {
                        *current = config.clone();
                    }
                    changed
                };
                let mut status = self.status.write().unwrap_or_else(PoisonError::into_inner);
                if status.error.is_some() {
                    tracing::info!(source = %status.source, "configuration source answers again");
                }
                if changed {
                    status.generation += 1;
                    tracing::info!(
                        source = %status.source,
                        generation = status.generation,
                        experiments = config.experiments.len(),
                        metrics = config.metrics.len(),
                        "new configuration in use"
                    );
                }
                status.loaded = true;
                status.experiments = config.experiments.len();
                status.metrics = config.metrics.len();
                status.refreshed_at = Some(now);
                status.error = None;
                status.skipped = loaded.skipped;
                status.ignored = loaded.ignored;
                Ok(changed)
            }
            Err(e) => {
                let message = e.to_string();
                let mut status = self.status.write().unwrap_or_else(PoisonError::into_inner);
                if status.error.as_deref() == Some(message.as_str()) {
                    tracing::debug!(source = %status.source, error = %message, "configuration refresh failed again");
                } else if status.loaded {
                    tracing::warn!(source = %status.source, error = %message, "configuration refresh failed; keeping the last good configuration");
                } else {
                    tracing::warn!(source = %status.source, error = %message, "no configuration yet: events wait (nothing is lost) until the source answers");
                }
                status.error = Some(message.clone());
                status.last_error = Some(RefreshError { at: now, message });
                Err(e)
            }
        }
    }

    fn warn_once(&self, loaded: &Loaded) {
        let mut warned = self.warned.lock().unwrap_or_else(PoisonError::into_inner);
        for issue in &loaded.skipped {
            if warned.insert(issue.clone()) {
                tracing::warn!(kind = issue.kind, key = %issue.key, reason = %issue.message, "skipped a definition analytics cannot use");
            }
        }
        for issue in &loaded.ignored {
            if warned.insert(issue.clone()) {
                tracing::warn!(kind = issue.kind, key = %issue.key, reason = %issue.message, "part of a definition is ignored");
            }
        }
    }
}

/// Refreshes `shared` every `every` until `stop` turns true.
pub async fn refresh_loop(
    shared: Arc<SharedConfig>,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        // Failures are recorded in the status and logged by `refresh`.
        let _ = shared.refresh().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::consumer::ManualClock;

    /// A source answering from a queue of outcomes.
    #[derive(Debug, Default)]
    struct Scripted(Mutex<Vec<Result<&'static str, &'static str>>>);

    #[async_trait]
    impl ConfigSource for Scripted {
        fn describe(&self) -> String {
            "scripted".into()
        }

        async fn load(&self) -> Result<Loaded, AnalyticsError> {
            let next = self.0.lock().unwrap().remove(0);
            match next {
                Ok(json) => Ok(Loaded {
                    config: Config::from_json(json)?,
                    skipped: vec![Issue {
                        kind: "metric",
                        key: "$x".into(),
                        message: "reserved".into(),
                    }],
                    ignored: Vec::new(),
                }),
                Err(message) => Err(AnalyticsError::Unavailable(message.into())),
            }
        }
    }

    const ONE: &str = r#"{"experiments": [{"key": "a", "variants": ["c", "t"],
        "start": "2026-11-01T00:00:00Z", "metrics": []}]}"#;
    const TWO: &str = r#"{"experiments": [{"key": "a", "variants": ["c", "t"],
        "start": "2026-11-01T00:00:00Z", "metrics": []},
        {"key": "b", "variants": ["c", "t"], "start": "2026-11-01T00:00:00Z", "metrics": []}]}"#;

    #[tokio::test]
    async fn a_failed_refresh_keeps_the_last_good_configuration_and_reports_its_error() {
        let source = Arc::new(Scripted(Mutex::new(vec![
            Err("connection refused"),
            Ok(ONE),
            Ok(ONE),
            Err("503 Service Unavailable"),
            Ok(TWO),
        ])));
        let shared = SharedConfig::live(source, Arc::new(ManualClock::new(1_795_132_800_000)));
        assert!(!shared.is_loaded());

        // Unreachable at first: empty, not loaded, the error reported.
        assert!(shared.refresh().await.is_err());
        assert!(!shared.is_loaded() && shared.failing());
        assert!(shared.get().experiments.is_empty());
        let status = shared.status();
        assert_eq!(status.error.as_deref(), Some("connection refused"));
        assert_eq!(
            status.last_error.map(|e| e.at).as_deref(),
            Some("2026-11-20T00:00:00Z")
        );

        assert!(
            shared.refresh().await.unwrap(),
            "the first load is a change"
        );
        let first = shared.get();
        assert_eq!(first.experiments[0].key, "a");
        assert!(
            !shared.refresh().await.unwrap(),
            "the same definitions change nothing"
        );
        assert!(Arc::ptr_eq(&first, &shared.get()));

        // A later failure keeps the configuration in use.
        assert!(shared.refresh().await.is_err());
        assert!(Arc::ptr_eq(&first, &shared.get()));
        let status = shared.status();
        assert!(status.loaded);
        assert_eq!(status.error.as_deref(), Some("503 Service Unavailable"));
        assert_eq!(status.experiments, 1);
        assert_eq!(status.skipped[0].key, "$x");

        assert!(shared.refresh().await.unwrap());
        assert_eq!(shared.get().experiments.len(), 2);
        let status = shared.status();
        assert_eq!((status.generation, status.error), (2, None));
        assert_eq!(
            status.last_error.map(|e| e.message).as_deref(),
            Some("503 Service Unavailable")
        );
    }

    #[tokio::test]
    async fn a_fixed_configuration_is_loaded_and_never_refreshes() {
        let shared = SharedConfig::fixed(Arc::new(Config::from_json(ONE).unwrap()), "file x");
        assert!(shared.is_loaded() && !shared.is_live());
        assert!(!shared.refresh().await.unwrap());
        assert_eq!(shared.status().source, "file x");
        assert_eq!(shared.status().experiments, 1);
    }
}
