//! Snapshot sources and the refresher that installs what they return.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use vane_edge::{EdgeHandler, Installed, store};

/// While a source's announcements flow, polling is only a safety net and runs this seldom.
pub const POLL_WHILE_ANNOUNCED: Duration = Duration::from_secs(30);

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

    /// Starts following the source's announcements of new snapshots, if it makes any, calling
    /// `wake` for each. Returns the task doing it; polling remains the fallback.
    fn watch(&self, _wake: Arc<Notify>) -> Option<JoinHandle<()>> {
        None
    }

    /// Whether announcements are flowing right now (then polling can slow down).
    fn announcing(&self) -> bool {
        false
    }
}

/// A KV directory as sync writes it: `{dir}/vane/{env}/current` holds the version, and
/// `{dir}/vane/{env}/snapshots/{version}` the sealed snapshot. The directory is watched
/// (inotify and the like) so a new pointer is read at once; polling stays as the fallback.
#[derive(Debug)]
pub struct DirSource {
    dir: PathBuf,
    environment: String,
    wakes: Arc<AtomicU64>,
}

impl DirSource {
    pub fn new(dir: PathBuf, environment: &str) -> Self {
        Self {
            dir,
            environment: environment.to_owned(),
            wakes: Arc::new(AtomicU64::new(0)),
        }
    }

    /// How many times the directory watch has woken the refresher so far.
    pub fn wake_ups(&self) -> u64 {
        self.wakes.load(Ordering::Relaxed)
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

/// Whether a watch event on the environment's directory can mean a new pointer: the pointer
/// file (`pointer_name`) created, renamed into place or closed after writing. Everything else
/// is ignored, above all the open, read and close events of the refresher's own reads, which
/// would otherwise wake it again at once, forever (an idle edge spinning a core).
fn announces_new_pointer(event: &notify::Event, pointer_name: &std::ffi::OsStr) -> bool {
    use notify::EventKind;
    use notify::event::{AccessKind, AccessMode, ModifyKind};
    let relevant_kind = matches!(
        event.kind,
        EventKind::Create(_)
            | EventKind::Modify(ModifyKind::Name(_))
            | EventKind::Access(AccessKind::Close(AccessMode::Write))
    );
    relevant_kind
        && event
            .paths
            .iter()
            .any(|path| path.file_name() == Some(pointer_name))
}

/// Watches the environment's directory (where sync renames the pointer into place) and wakes
/// the refresher when the pointer may have changed ([`announces_new_pointer`]). A directory
/// that does not exist yet is retried with backoff; polling goes on regardless, so a watch that
/// is lost (the directory replaced) costs only speed. `wakes` counts the wake-ups sent.
async fn watch_dir(pointer: PathBuf, wake: Arc<Notify>, wakes: Arc<AtomicU64>) {
    use notify::Watcher as _;
    let mut backoff = Duration::from_secs(1);
    let (Some(dir), Some(name)) = (pointer.parent(), pointer.file_name()) else {
        return;
    };
    let (dir, name) = (dir.to_owned(), name.to_owned());
    loop {
        let waker = wake.clone();
        let counter = wakes.clone();
        let pointer_name = name.clone();
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if event.is_ok_and(|e| announces_new_pointer(&e, &pointer_name)) {
                counter.fetch_add(1, Ordering::Relaxed);
                waker.notify_one();
            }
        })
        .and_then(|mut watcher| {
            watcher.watch(&dir, notify::RecursiveMode::NonRecursive)?;
            Ok(watcher)
        });
        match watcher {
            Ok(_watcher) => {
                tracing::info!(dir = %dir.display(), "watching the KV directory for new snapshots");
                // Anything written before the watch began is picked up at once.
                wake.notify_one();
                std::future::pending::<()>().await;
            }
            Err(e) => {
                tracing::debug!(dir = %dir.display(), error = %e, "cannot watch yet; polling");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}

#[async_trait]
impl SnapshotSource for DirSource {
    fn watch(&self, wake: Arc<Notify>) -> Option<JoinHandle<()>> {
        let pointer = self.dir.join(store::current_key(&self.environment));
        Some(tokio::spawn(watch_dir(pointer, wake, self.wakes.clone())))
    }

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

/// core-api's snapshot endpoint, fetched with `If-None-Match` whenever core announces a new
/// snapshot on its server-sent events stream, and polled as a fallback.
#[derive(Debug)]
pub struct CoreSource {
    url: String,
    key: String,
    client: reqwest::Client,
    connected: Arc<AtomicBool>,
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
            connected: Arc::new(AtomicBool::new(false)),
        }
    }
}

/// Follows `{snapshot url}/events` until the process ends: every announcement wakes the
/// refresher; a dropped or refused stream is retried with backoff (1 s doubling to 30 s) while
/// polling carries on.
async fn follow_announcements(
    client: reqwest::Client,
    url: String,
    key: String,
    connected: Arc<AtomicBool>,
    wake: Arc<Notify>,
) {
    use eventsource_stream::Eventsource as _;
    use futures_util::StreamExt as _;
    let mut backoff = Duration::from_secs(1);
    loop {
        let answer = client
            .get(&url)
            .bearer_auth(&key)
            .header("accept", "text/event-stream")
            .send()
            .await;
        match answer {
            Ok(response) if response.status().is_success() => {
                // Cleared when the stream ends, and when the task is aborted mid-stream.
                let _flag = Flag::raise(&connected);
                backoff = Duration::from_secs(1);
                tracing::info!(%url, "following core's snapshot announcements");
                // Anything published while the stream was down is picked up at once.
                wake.notify_one();
                let mut events = response.bytes_stream().eventsource();
                while let Some(event) = events.next().await {
                    match event {
                        Ok(_) => wake.notify_one(),
                        Err(e) => {
                            tracing::warn!(%url, error = %e, "announcement stream broke");
                            break;
                        }
                    }
                }
            }
            Ok(response) => {
                tracing::warn!(%url, status = response.status().as_u16(), "announcements refused");
            }
            Err(e) => tracing::warn!(%url, error = %e, "announcements unreachable"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(30));
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

    fn watch(&self, wake: Arc<Notify>) -> Option<JoinHandle<()>> {
        Some(tokio::spawn(follow_announcements(
            self.client.clone(),
            format!("{}/events", self.url),
            self.key.clone(),
            self.connected.clone(),
            wake,
        )))
    }

    fn announcing(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }
}

/// Installs new snapshots from a source into an edge, on a timer or one step at a time.
#[derive(Debug, Clone)]
pub struct Refresher {
    edge: Arc<EdgeHandler>,
    source: Arc<dyn SnapshotSource>,
    every: Duration,
    last_problem: Arc<Mutex<Option<String>>>,
}

impl Refresher {
    pub fn new(edge: Arc<EdgeHandler>, source: Arc<dyn SnapshotSource>, every: Duration) -> Self {
        Self {
            edge,
            source,
            every,
            last_problem: Arc::new(Mutex::new(None)),
        }
    }

    /// Logs a refresh problem at `warn` when it differs from the last one, and at `debug` while
    /// it repeats (a refused snapshot is refused again at every poll until a new one comes);
    /// `None` (a good refresh) resets it, so a problem that comes back is logged again.
    /// Returns whether it was logged at `warn`.
    fn note_problem(&self, problem: Option<String>) -> bool {
        let mut last = self
            .last_problem
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(message) = problem else {
            *last = None;
            return false;
        };
        if last.as_deref() == Some(message.as_str()) {
            tracing::debug!(problem = %message, "snapshot problem persists; serving the last good one");
            return false;
        }
        tracing::warn!(problem = %message, "serving the last good snapshot");
        *last = Some(message);
        true
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
                self.note_problem(None);
                None
            }
            Ok(Some(bytes)) => match self.edge.cache.install(&bytes, now) {
                Ok(installed) => {
                    if let Installed::Swapped { version } = installed {
                        tracing::info!(version, "installed snapshot");
                    }
                    self.note_problem(None);
                    Some(installed)
                }
                Err(e) => {
                    self.note_problem(Some(format!("refused snapshot: {e}")));
                    None
                }
            },
            Err(e) => {
                self.note_problem(Some(format!("snapshot refresh failed: {e}")));
                self.edge.cache.record_error(e.to_string(), now);
                None
            }
        }
    }

    /// Refreshes at once on every announcement of the source, and otherwise every interval
    /// (every [`POLL_WHILE_ANNOUNCED`] while announcements flow), forever. Dropping the future
    /// stops the announcement watcher too.
    pub async fn run_forever(self) {
        let wake = Arc::new(Notify::new());
        let _watcher = self.source.watch(wake.clone()).map(AbortOnDrop);
        loop {
            let every = if self.source.announcing() {
                self.every.max(POLL_WHILE_ANNOUNCED)
            } else {
                self.every
            };
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = wake.notified() => {}
            }
            self.refresh_once().await;
        }
    }
}

/// Holds a flag up while alive.
struct Flag<'a>(&'a AtomicBool);

impl<'a> Flag<'a> {
    fn raise(flag: &'a AtomicBool) -> Self {
        flag.store(true, Ordering::Relaxed);
        Self(flag)
    }
}

impl Drop for Flag<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

/// Aborts a background task when dropped.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
