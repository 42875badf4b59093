//! Vane sync (`vane sync`): follows core-api's snapshot announcements, writes every new
//! snapshot to every configured edge store (local directory, Cloudflare Workers KV, Redis) so
//! that no reader sees a partial snapshot, and watches which version each edge serves.

pub mod core;
pub mod deliver;
pub mod monitor;
pub mod target;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use futures_util::StreamExt;
use vane_engine::Timestamp;

use crate::core::CoreClient;
use crate::deliver::{Delivery, deliver_with_retries};
use crate::monitor::{EdgeEndpoint, EdgeStatus, Monitor, Publications};
use crate::target::Target;

/// `vane sync` options; each also reads a `VANE_SYNC_*` environment variable.
#[derive(Debug, Clone, clap::Args)]
pub struct SyncArgs {
    /// core-api base URL.
    #[arg(
        long,
        env = "VANE_SYNC_CORE_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub core_url: String,
    /// A server (or admin) API key for core-api.
    #[arg(long, env = "VANE_SYNC_CORE_KEY", hide_env_values = true)]
    pub core_key: String,
    /// Environments to deliver (repeat, or comma-separate).
    #[arg(
        long = "environment",
        env = "VANE_SYNC_ENVIRONMENTS",
        value_delimiter = ',',
        required = true
    )]
    pub environments: Vec<String>,
    /// Write to this local KV directory (native edges read it).
    #[arg(long, env = "VANE_SYNC_DIR")]
    pub dir: Vec<PathBuf>,
    /// Write to this Redis URL (Spin key-value in self-hosted deployments).
    #[arg(long, env = "VANE_SYNC_REDIS_URL")]
    pub redis_url: Vec<String>,
    /// Cloudflare account id for Workers KV.
    #[arg(long, env = "VANE_SYNC_CF_ACCOUNT_ID", requires_all = ["cf_namespace_id", "cf_api_token"])]
    pub cf_account_id: Option<String>,
    /// Workers KV namespace id.
    #[arg(long, env = "VANE_SYNC_CF_NAMESPACE_ID")]
    pub cf_namespace_id: Option<String>,
    /// Cloudflare API token with Workers KV write access.
    #[arg(long, env = "VANE_SYNC_CF_API_TOKEN", hide_env_values = true)]
    pub cf_api_token: Option<String>,
    /// Cloudflare API base (tests point it at a local stand-in).
    #[arg(long, env = "VANE_SYNC_CF_API_BASE", default_value = target::cloudflare_api_base())]
    pub cf_api_base: String,
    /// Versions kept per environment in each store, for rollback.
    #[arg(long, env = "VANE_SYNC_KEEP", default_value_t = 10)]
    pub keep: usize,
    /// Edges to watch, as NAME=URL (repeat).
    #[arg(long = "edge", env = "VANE_SYNC_EDGES", value_delimiter = ',')]
    pub edges: Vec<EdgeEndpoint>,
    /// An edge behind for longer than this many seconds is reported stuck.
    #[arg(long, env = "VANE_SYNC_STUCK_AFTER_SECONDS", default_value_t = 60.0)]
    pub stuck_after_seconds: f64,
    /// Poll interval in milliseconds (fallback when the event stream is down, and edge health).
    #[arg(long, env = "VANE_SYNC_POLL_MS", default_value_t = 2000)]
    pub poll_ms: u64,
    /// Address for /healthz, /metrics and /v1/edges.
    #[arg(long, env = "VANE_SYNC_LISTEN", default_value = "127.0.0.1:8091")]
    pub listen: SocketAddr,
    /// Deliver what is current once, poll the edges once, and exit.
    #[arg(long)]
    pub once: bool,
}

/// One delivery result, for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub environment: String,
    pub target: String,
    pub result: Result<Delivery, String>,
}

/// Sync's state: where snapshots come from and go to, and what it has seen.
#[derive(Debug)]
pub struct Syncer {
    core: CoreClient,
    environments: Vec<String>,
    targets: Vec<Arc<dyn Target>>,
    keep: usize,
    /// Per environment: the last fetched snapshot (hash for If-None-Match, bytes to redeliver).
    fetched: Mutex<HashMap<String, core::Fetched>>,
    /// Per (target, environment): the version delivered.
    delivered: Mutex<HashMap<(String, String), u64>>,
    pub publications: Mutex<Publications>,
    pub monitor: Monitor,
}

impl Syncer {
    pub fn new(
        core: CoreClient,
        environments: Vec<String>,
        targets: Vec<Arc<dyn Target>>,
        keep: usize,
        monitor: Monitor,
    ) -> Self {
        Self {
            core,
            environments,
            targets,
            keep,
            fetched: Mutex::new(HashMap::new()),
            delivered: Mutex::new(HashMap::new()),
            publications: Mutex::new(Publications::default()),
            monitor,
        }
    }

    /// Fetches the latest snapshot of every environment and delivers it to every target that
    /// does not have it yet. Returns what was delivered (and failures, which are retried later).
    pub async fn run_once(&self) -> Vec<Outcome> {
        let mut outcomes = Vec::new();
        for environment in &self.environments {
            outcomes.extend(self.sync_environment(environment).await);
        }
        outcomes
    }

    async fn sync_environment(&self, environment: &str) -> Vec<Outcome> {
        let known = self
            .lock_fetched()
            .get(environment)
            .map(|f| f.content_hash.clone());
        match self.core.latest(environment, known.as_deref()).await {
            Ok(Some(fetched)) => {
                let published = fetched
                    .published_at
                    .as_deref()
                    .and_then(|t| Timestamp::parse_rfc3339(t).ok())
                    .unwrap_or_else(now);
                if let Ok(mut p) = self.publications.lock() {
                    p.record(environment, fetched.version, published);
                }
                self.lock_fetched().insert(environment.to_owned(), fetched);
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(environment, error = %e, "fetching the latest snapshot failed");
                return vec![Outcome {
                    environment: environment.to_owned(),
                    target: "core".into(),
                    result: Err(e.to_string()),
                }];
            }
        }
        let Some(fetched) = self.lock_fetched().get(environment).cloned() else {
            return Vec::new();
        };
        let mut outcomes = Vec::new();
        for target in &self.targets {
            let key = (target.name(), environment.to_owned());
            let done = self
                .delivered
                .lock()
                .ok()
                .and_then(|d| d.get(&key).copied());
            if done == Some(fetched.version) {
                continue;
            }
            let result = deliver_with_retries(
                target.as_ref(),
                environment,
                fetched.version,
                &fetched.json,
                self.keep,
                5,
            )
            .await;
            if result.is_ok()
                && let Ok(mut d) = self.delivered.lock()
            {
                d.insert(key, fetched.version);
            }
            match &result {
                Ok(Delivery::Written { version, pruned }) => {
                    tracing::info!(environment, target = %target.name(), version, pruned, "delivered snapshot");
                }
                Ok(Delivery::Unchanged { .. }) => {}
                Err(e) => {
                    tracing::error!(environment, target = %target.name(), error = %e, "delivery failed")
                }
            }
            outcomes.push(Outcome {
                environment: environment.to_owned(),
                target: target.name(),
                result: result.map_err(|e| e.to_string()),
            });
        }
        outcomes
    }

    fn lock_fetched(&self) -> std::sync::MutexGuard<'_, HashMap<String, core::Fetched>> {
        self.fetched
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Polls every watched edge once.
    pub async fn poll_edges(&self) -> Vec<EdgeStatus> {
        self.poll_edges_at(now()).await
    }

    /// Reports `statuses` to core, which serves them on `GET /api/v1/edges` and its
    /// `/metrics`. Returns how many core recorded.
    pub async fn report_edges(&self, statuses: &[EdgeStatus]) -> Result<usize, core::CoreError> {
        self.core
            .report_edges(statuses, self.monitor.stuck_after_seconds())
            .await
    }

    /// Polls every watched edge once and reports what it saw to core (a failed report is
    /// logged; the next round reports again).
    pub async fn watch_once(&self) -> Vec<EdgeStatus> {
        let statuses = self.poll_edges().await;
        if !statuses.is_empty()
            && let Err(e) = self.report_edges(&statuses).await
        {
            tracing::warn!(error = %e, "reporting edge statuses to core failed");
        }
        statuses
    }

    /// Polls every watched edge once, as of `now` (lag is measured to it).
    pub async fn poll_edges_at(&self, now: Timestamp) -> Vec<EdgeStatus> {
        // Clone the publication times out of the lock before awaiting.
        let snapshot = {
            let guard = self
                .publications
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let mut copy = Publications::default();
            for env in &self.environments {
                if let Some(latest) = guard.latest(env) {
                    for v in 0..=latest {
                        if let Some(t) = guard.published(env, v) {
                            copy.record(env, v, t);
                        }
                    }
                }
            }
            copy
        };
        self.monitor.poll_once(&snapshot, now).await
    }

    /// Follows one environment's announcements, falling back to polling while the stream is
    /// down. Never returns.
    async fn follow(self: Arc<Self>, environment: String, poll: Duration) {
        loop {
            match self.core.announcements(&environment).await {
                Ok(stream) => {
                    tracing::info!(environment, "following snapshot announcements");
                    let mut stream = std::pin::pin!(stream);
                    while let Some(announcement) = stream.next().await {
                        tracing::debug!(environment, version = announcement.version, "announced");
                        self.sync_environment(&environment).await;
                    }
                    tracing::warn!(
                        environment,
                        "announcement stream ended; polling until it is back"
                    );
                }
                Err(e) => {
                    tracing::warn!(environment, error = %e, "cannot follow announcements; polling")
                }
            }
            self.sync_environment(&environment).await;
            tokio::time::sleep(poll).await;
        }
    }
}

impl Publications {
    /// When `version` was published, if seen.
    pub fn published(&self, environment: &str, version: u64) -> Option<Timestamp> {
        self.versions_of(environment)?.get(&version).copied()
    }
}

/// The current time.
pub fn now() -> Timestamp {
    Timestamp::from(time::OffsetDateTime::now_utc())
}

/// Builds the targets named in `args`.
pub fn targets(args: &SyncArgs) -> anyhow::Result<Vec<Arc<dyn Target>>> {
    let mut out: Vec<Arc<dyn Target>> = Vec::new();
    for dir in &args.dir {
        out.push(Arc::new(target::DirTarget::new(dir.clone())));
    }
    for url in &args.redis_url {
        out.push(Arc::new(
            target::RedisTarget::new(url).context("opening the Redis URL")?,
        ));
    }
    if let (Some(account), Some(namespace), Some(token)) = (
        &args.cf_account_id,
        &args.cf_namespace_id,
        &args.cf_api_token,
    ) {
        out.push(Arc::new(target::CloudflareKv::new(
            &args.cf_api_base,
            account,
            namespace,
            token,
        )));
    }
    anyhow::ensure!(
        !out.is_empty(),
        "no targets: give --dir, --redis-url or the --cf-* options"
    );
    Ok(out)
}

/// Runs `vane sync` until Ctrl-C.
pub async fn run(args: SyncArgs) -> anyhow::Result<()> {
    run_until(args, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}

/// Runs `vane sync` until `shutdown` completes (with `--once`: delivers once and returns).
/// Deliveries are idempotent (a store that has a version keeps it), so stopping between two
/// loses nothing: the next start delivers what is current.
pub async fn run_until(
    args: SyncArgs,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    run_until_on(args, None, shutdown).await
}

/// [`run_until`] on a listener the caller bound already (`args.listen` is not used), so that
/// a caller composing several services can learn every address before any of them starts.
pub async fn run_until_on(
    args: SyncArgs,
    listener: Option<tokio::net::TcpListener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let syncer = Arc::new(Syncer::new(
        CoreClient::new(&args.core_url, &args.core_key),
        args.environments.clone(),
        targets(&args)?,
        args.keep,
        Monitor::new(args.edges.clone(), args.stuck_after_seconds),
    ));
    if args.once {
        let outcomes = syncer.run_once().await;
        let failed = outcomes.iter().filter(|o| o.result.is_err()).count();
        for o in &outcomes {
            println!("{} -> {}: {:?}", o.environment, o.target, o.result);
        }
        for status in syncer.watch_once().await {
            println!("edge {}: {}", status.edge, serde_json::to_string(&status)?);
        }
        anyhow::ensure!(failed == 0, "{failed} deliveries failed");
        return Ok(());
    }
    let listener = match listener {
        Some(listener) => listener,
        None => tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("binding {}", args.listen))?,
    };
    let address = listener.local_addr()?;
    let poll = Duration::from_millis(args.poll_ms);
    let mut background = Vec::new();
    for environment in &args.environments {
        background.push(tokio::spawn(
            syncer.clone().follow(environment.clone(), poll),
        ));
    }
    let watcher = syncer.clone();
    background.push(tokio::spawn(async move {
        loop {
            watcher.watch_once().await;
            tokio::time::sleep(poll).await;
        }
    }));
    tracing::info!(addr = %address, "sync listening");
    let served = axum::serve(listener, service::router(syncer))
        .with_graceful_shutdown(shutdown)
        .await;
    for task in background {
        task.abort();
    }
    served.context("serving HTTP")
}

mod service {
    //! `/healthz`, `/metrics` and `/v1/edges` of the sync process.
    use std::sync::Arc;

    use axum::extract::State;
    use axum::routing::get;
    use axum::{Json, Router};

    use super::Syncer;
    use crate::monitor::EdgeStatus;

    pub fn router(syncer: Arc<Syncer>) -> Router {
        Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route("/metrics", get(metrics))
            .route("/v1/edges", get(edges))
            .with_state(syncer)
    }

    async fn metrics(State(syncer): State<Arc<Syncer>>) -> String {
        syncer.monitor.render_metrics()
    }

    async fn edges(State(syncer): State<Arc<Syncer>>) -> Json<Vec<EdgeStatus>> {
        Json(syncer.monitor.statuses())
    }
}
