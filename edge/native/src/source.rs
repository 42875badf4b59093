//! Snapshot sources and the refresher that installs what they return.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use vane_edge::{EdgeHandler, Installed, store};

/// Why a source could not answer. The edge keeps serving its last good snapshot.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("reading {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("the pointer {path} does not hold a version number")]
    BadPointer { path: String },
    #[error("fetching {url}: {source}")]
    Http { url: String, source: reqwest::Error },
    #[error("{url} answered {status}")]
    Status { url: String, status: u16 },
}

/// Where snapshots come from. `fetch` returns the current snapshot's bytes, or `None` when it
/// is the version (and hash) the edge already serves.
#[async_trait]
pub trait SnapshotSource: Send + Sync + std::fmt::Debug {
    async fn fetch(&self, served: Option<(u64, String)>) -> Result<Option<Vec<u8>>, SourceError>;
}

/// A KV directory as sync writes it: `{dir}/vane/{env}/current` holds the version, and
/// `{dir}/vane/{env}/snapshots/{version}` the sealed snapshot.
#[derive(Debug)]
pub struct DirSource {
    dir: PathBuf,
    environment: String,
}

impl DirSource {
    pub fn new(dir: PathBuf, environment: &str) -> Self {
        Self {
            dir,
            environment: environment.to_owned(),
        }
    }

    async fn read(&self, key: &str) -> Result<Vec<u8>, SourceError> {
        let path = self.dir.join(key);
        tokio::fs::read(&path)
            .await
            .map_err(|source| SourceError::Io {
                path: path.display().to_string(),
                source,
            })
    }
}

#[async_trait]
impl SnapshotSource for DirSource {
    async fn fetch(&self, served: Option<(u64, String)>) -> Result<Option<Vec<u8>>, SourceError> {
        let key = store::current_key(&self.environment);
        let pointer = self.read(&key).await?;
        let version = store::parse_pointer(&String::from_utf8_lossy(&pointer))
            .ok_or_else(|| SourceError::BadPointer { path: key.clone() })?;
        if served.as_ref().is_some_and(|(v, _)| *v == version) {
            return Ok(None);
        }
        Ok(Some(
            self.read(&store::snapshot_key(&self.environment, version))
                .await?,
        ))
    }
}

/// core-api's snapshot endpoint, polled with `If-None-Match`.
#[derive(Debug)]
pub struct CoreSource {
    url: String,
    key: String,
    client: reqwest::Client,
}

impl CoreSource {
    pub fn new(base_url: &str, environment: &str, key: String) -> Self {
        Self {
            url: format!(
                "{}/api/v1/environments/{environment}/snapshot",
                base_url.trim_end_matches('/')
            ),
            key,
            client: reqwest::Client::new(),
        }
    }
}

#[async_trait]
impl SnapshotSource for CoreSource {
    async fn fetch(&self, served: Option<(u64, String)>) -> Result<Option<Vec<u8>>, SourceError> {
        let mut request = self.client.get(&self.url).bearer_auth(&self.key);
        if let Some((_, hash)) = &served {
            request = request.header("if-none-match", format!("\"{hash}\""));
        }
        let http_error = |source| SourceError::Http {
            url: self.url.clone(),
            source,
        };
        let response = request.send().await.map_err(http_error)?;
        match response.status().as_u16() {
            304 => Ok(None),
            200 => Ok(Some(response.bytes().await.map_err(http_error)?.to_vec())),
            status => Err(SourceError::Status {
                url: self.url.clone(),
                status,
            }),
        }
    }
}

/// Installs new snapshots from a source into an edge, on a timer or one step at a time.
#[derive(Debug, Clone)]
pub struct Refresher {
    edge: Arc<EdgeHandler>,
    source: Arc<dyn SnapshotSource>,
    every: Duration,
}

impl Refresher {
    pub fn new(edge: Arc<EdgeHandler>, source: Arc<dyn SnapshotSource>, every: Duration) -> Self {
        Self {
            edge,
            source,
            every,
        }
    }

    /// One refresh: fetch, verify, install. Failures are recorded in the edge's health and the
    /// served snapshot stays.
    pub async fn refresh_once(&self) -> Option<Installed> {
        let now = crate::now();
        let served = self
            .edge
            .cache
            .current()
            .map(|l| (l.compiled.version(), l.compiled.content_hash().to_owned()));
        match self.source.fetch(served).await {
            Ok(None) => {
                self.edge.cache.record_success(now);
                None
            }
            Ok(Some(bytes)) => match self.edge.cache.install(&bytes, now) {
                Ok(installed) => {
                    if let Installed::Swapped { version } = installed {
                        tracing::info!(version, "installed snapshot");
                    }
                    Some(installed)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "refused snapshot; serving the last good one");
                    None
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, "snapshot refresh failed; serving the last good one");
                self.edge.cache.record_error(e.to_string(), now);
                None
            }
        }
    }

    /// Refreshes every interval, forever.
    pub async fn run_forever(self) {
        let mut tick = tokio::time::interval(self.every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            self.refresh_once().await;
        }
    }
}
