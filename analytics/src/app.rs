//! `vane analytics` and `vane analytics recompute`: arguments, start-up (`build`), the
//! background loops and the HTTP server (`run_until`).

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context;
use secrecy::SecretString;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

use crate::config::Config;
use crate::core_config::CoreSource;
use crate::live::{SharedConfig, refresh_loop};
use crate::metrics::Metrics;
use crate::pipeline::consumer::{Clock, Consumer, ConsumerSettings, SystemClock};
use crate::pipeline::kinesis::KinesisSource;
use crate::pipeline::lake::{self, LakeSink, LocalLake};
use crate::pipeline::lake_s3::S3Lake;
use crate::pipeline::log::{EventLog, LOG_SHARD};
use crate::pipeline::results::{self, ExperimentResults};
use crate::pipeline::source::StreamSource;
use crate::pipeline::state::aggregate_all;
use crate::pipeline::store::Store;
use crate::pipeline::store_sql::SqlStore;
use crate::service::{self, AppState, ShardStatus, Status};

/// Where raw events are archived.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LakeArgs {
    /// Archive raw events to this directory (default: `DATA_DIR/lake`).
    #[arg(
        long,
        env = "VANE_ANALYTICS_LAKE_DIR",
        conflicts_with = "lake_s3_bucket"
    )]
    pub lake_dir: Option<PathBuf>,
    /// Archive raw events to this S3 bucket instead.
    #[arg(long, env = "VANE_ANALYTICS_LAKE_S3_BUCKET")]
    pub lake_s3_bucket: Option<String>,
    /// S3 endpoint override (an S3-compatible server); implies path-style addressing.
    #[arg(long, env = "VANE_ANALYTICS_LAKE_S3_ENDPOINT")]
    pub lake_s3_endpoint: Option<String>,
    /// Key prefix inside the bucket.
    #[arg(long, env = "VANE_ANALYTICS_LAKE_S3_PREFIX", default_value = "")]
    pub lake_s3_prefix: String,
    /// Do not archive raw events at all.
    #[arg(long, conflicts_with_all = ["lake_dir", "lake_s3_bucket"])]
    pub no_lake: bool,
}

impl LakeArgs {
    /// The lake these arguments name (`None` with `--no-lake`).
    pub async fn open(&self, data_dir: &Path) -> anyhow::Result<Option<Arc<dyn LakeSink>>> {
        if self.no_lake {
            return Ok(None);
        }
        if let Some(bucket) = &self.lake_s3_bucket {
            let client = S3Lake::client(self.lake_s3_endpoint.as_deref()).await;
            let lake = S3Lake::new(client, bucket, &self.lake_s3_prefix);
            if self.lake_s3_endpoint.is_some() {
                lake.ensure_bucket().await?;
            }
            return Ok(Some(Arc::new(lake)));
        }
        let dir = self
            .lake_dir
            .clone()
            .unwrap_or_else(|| data_dir.join("lake"));
        Ok(Some(Arc::new(LocalLake::new(dir))))
    }
}

/// Where experiment and metric definitions come from when core-api holds them.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CoreConfigArgs {
    /// Read experiments and metrics from core-api at this URL (e.g. `http://127.0.0.1:8080`)
    /// instead of a file.
    #[arg(long, env = "VANE_ANALYTICS_CORE_URL", requires = "core_token")]
    pub core_url: Option<String>,
    /// The token analytics reads core-api with: an admin API key or a user's session token
    /// (read access is enough).
    #[arg(
        long,
        env = "VANE_ANALYTICS_CORE_TOKEN",
        hide_env_values = true,
        requires = "core_url"
    )]
    pub core_token: Option<SecretString>,
}

impl CoreConfigArgs {
    /// core-api as a configuration source, when these arguments name it.
    pub fn source(&self) -> anyhow::Result<Option<(&str, CoreSource)>> {
        match (&self.core_url, &self.core_token) {
            (Some(url), Some(token)) => Ok(Some((url, CoreSource::new(url, token.clone())?))),
            (Some(_), None) => {
                anyhow::bail!("--core-url needs --core-token (VANE_ANALYTICS_CORE_TOKEN)")
            }
            (None, _) => Ok(None),
        }
    }
}

/// `vane analytics`: consume events, keep aggregates, compute and serve results.
#[derive(Debug, Clone, clap::Args)]
pub struct AnalyticsArgs {
    /// Directory for the embedded event log, the default SQLite database and the default lake.
    #[arg(
        long,
        env = "VANE_ANALYTICS_DATA_DIR",
        default_value = "./.vane/analytics"
    )]
    pub data_dir: PathBuf,
    /// The analytics database: `sqlite://PATH?mode=rwc` or `postgres://...` (default: SQLite
    /// under the data directory).
    #[arg(long, env = "VANE_ANALYTICS_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Address of the ingest, results, health and metrics endpoints.
    #[arg(long, env = "VANE_ANALYTICS_LISTEN", default_value = "127.0.0.1:8090")]
    pub listen: SocketAddr,
    /// Experiments and metric definitions (JSON; see docs/analytics.md). Without it (and
    /// without `--core-url`) events are archived and deduplicated but nothing is attributed.
    #[arg(long, env = "VANE_ANALYTICS_CONFIG", conflicts_with = "core_url")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub core: CoreConfigArgs,
    /// Seconds between refreshes of the definitions from core-api.
    #[arg(long, env = "VANE_ANALYTICS_CONFIG_REFRESH_SECS", default_value_t = 10)]
    pub config_refresh_secs: u64,
    /// Consume this Kinesis stream instead of the embedded log.
    #[arg(long, env = "VANE_ANALYTICS_KINESIS_STREAM")]
    pub kinesis_stream: Option<String>,
    /// Kinesis endpoint override (a Kinesis-compatible server).
    #[arg(
        long,
        env = "VANE_ANALYTICS_KINESIS_ENDPOINT",
        requires = "kinesis_stream"
    )]
    pub kinesis_endpoint: Option<String>,
    #[command(flatten)]
    pub lake: LakeArgs,
    /// This worker's name in the shard lease table (default: `embedded` for the embedded log,
    /// otherwise host name and process id).
    #[arg(long, env = "VANE_ANALYTICS_WORKER_ID")]
    pub worker_id: Option<String>,
    /// Seconds between scheduled result computations.
    #[arg(long, env = "VANE_ANALYTICS_RESULTS_INTERVAL", default_value_t = 60)]
    pub results_interval_secs: u64,
    /// Most stream records per batch.
    #[arg(long, default_value_t = 1000)]
    pub max_records: usize,
    /// Shard lease duration in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    pub lease_ttl_ms: i64,
    /// Size at which the embedded log starts a new segment.
    #[arg(long, default_value_t = 128 << 20)]
    pub log_segment_bytes: u64,
    /// Largest ingest body accepted.
    #[arg(long, default_value_t = 8 << 20)]
    pub max_body_bytes: usize,
    /// Milliseconds the consumer waits when it has nothing to read.
    #[arg(long, default_value_t = 200)]
    pub idle_poll_ms: u64,
}

/// `vane analytics recompute`: results from the data lake alone.
#[derive(Debug, Clone, clap::Args)]
pub struct RecomputeArgs {
    /// Experiments and metric definitions (the same file the live pipeline used).
    #[arg(
        long,
        env = "VANE_ANALYTICS_CONFIG",
        conflicts_with = "core_url",
        required_unless_present = "core_url"
    )]
    pub config: Option<PathBuf>,
    /// Or read them from core-api, as a live pipeline run with `--core-url` does.
    #[command(flatten)]
    pub core: CoreConfigArgs,
    /// Data directory (locates the default lake directory).
    #[arg(
        long,
        env = "VANE_ANALYTICS_DATA_DIR",
        default_value = "./.vane/analytics"
    )]
    pub data_dir: PathBuf,
    #[command(flatten)]
    pub lake: LakeArgs,
    /// Only this experiment (default: every configured experiment).
    #[arg(long)]
    pub experiment: Option<String>,
}

/// `vane analytics [recompute]`.
#[derive(Debug, Clone, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AnalyticsCli {
    #[command(subcommand)]
    pub command: Option<AnalyticsCommand>,
    #[command(flatten)]
    pub run: AnalyticsArgs,
}

/// Subcommands of `vane analytics`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum AnalyticsCommand {
    /// Recompute experiment results from the data lake alone; prints them as JSON.
    Recompute(RecomputeArgs),
}

/// Runs `vane analytics [recompute]`.
pub async fn run_cli(cli: AnalyticsCli) -> anyhow::Result<()> {
    match cli.command {
        Some(AnalyticsCommand::Recompute(args)) => {
            let results = recompute_from_lake(&args).await?;
            println!("{}", serde_json::to_string_pretty(&results)?);
            Ok(())
        }
        None => run(cli.run).await,
    }
}

fn load_config(path: Option<&Path>) -> anyhow::Result<Config> {
    match path {
        None => Ok(Config::empty()),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Config::from_json(&text).with_context(|| format!("in {}", path.display()))
        }
    }
}

/// Recomputes results from the lake: every event the manifests list, deduplicated by id,
/// through the same stages as the live pipeline.
pub async fn recompute_from_lake(
    args: &RecomputeArgs,
) -> anyhow::Result<BTreeMap<String, ExperimentResults>> {
    let config = match args.core.source()? {
        Some((url, source)) => {
            use crate::live::ConfigSource as _;
            let loaded = source
                .load()
                .await
                .with_context(|| format!("reading experiments and metrics from {url}"))?;
            Arc::new(loaded.config)
        }
        _ => Arc::new(load_config(args.config.as_deref())?),
    };
    let lake = args
        .lake
        .open(&args.data_dir)
        .await?
        .context("recompute needs a lake (drop --no-lake)")?;
    recompute(config, lake.as_ref(), args.experiment.as_deref()).await
}

/// [`recompute_from_lake`] over an open lake.
pub async fn recompute(
    config: Arc<Config>,
    lake: &dyn LakeSink,
    only: Option<&str>,
) -> anyhow::Result<BTreeMap<String, ExperimentResults>> {
    let events = lake::read_all(lake).await?;
    tracing::info!(events = events.len(), lake = %lake.describe(), "recomputing from the lake");
    let rows: Vec<_> = aggregate_all(config.clone(), &events, 8192)
        .into_iter()
        .collect();
    let mut out = BTreeMap::new();
    for exp in &config.experiments {
        if only.is_some_and(|o| o != exp.key) {
            continue;
        }
        out.insert(exp.key.clone(), results::compute(&config, &exp.key, &rows)?);
    }
    if let Some(only) = only {
        anyhow::ensure!(
            out.contains_key(only),
            "experiment `{only}` is not configured"
        );
    }
    Ok(out)
}

/// A built service: bound, connected, migrated, not yet running.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    state: AppState,
    consumer: Consumer,
    results_interval: Duration,
    idle_poll: Duration,
    /// Refresh period of a live configuration (core-api).
    config_refresh: Option<Duration>,
}

/// The configuration `args` name: from core-api (first load attempted now; on failure the
/// service starts with none and retries), from a file, or none.
async fn open_config(
    args: &AnalyticsArgs,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Arc<SharedConfig>> {
    match args.core.source()? {
        Some((url, source)) => {
            let shared = SharedConfig::live(Arc::new(source), clock);
            match shared.refresh().await {
                Ok(_) => {
                    let config = shared.get();
                    tracing::info!(
                        core = %url,
                        experiments = config.experiments.len(),
                        metrics = config.metrics.len(),
                        "loaded experiments and metrics from core-api"
                    );
                }
                Err(e) => tracing::warn!(
                    core = %url,
                    error = %e,
                    retry_secs = args.config_refresh_secs.max(1),
                    "core-api is unreachable: starting without a configuration and retrying; events wait until it answers"
                ),
            }
            Ok(shared)
        }
        None => {
            let source = args
                .config
                .as_ref()
                .map_or_else(|| "none".to_owned(), |p| format!("file {}", p.display()));
            Ok(SharedConfig::fixed(
                Arc::new(load_config(args.config.as_deref())?),
                source,
            ))
        }
    }
}

impl Application {
    /// Binds the listener (port 0 for tests), opens the database, the source and the lake.
    pub async fn build(args: &AnalyticsArgs) -> anyhow::Result<Self> {
        Self::build_with_clock(args, Arc::new(SystemClock)).await
    }

    pub async fn build_with_clock(
        args: &AnalyticsArgs,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        Self::build_inner(args, clock, None).await
    }

    /// [`Application::build`] on a listener the caller bound already (`args.listen` is not
    /// used), so that a caller composing several services can learn every address before any
    /// of them starts.
    pub async fn build_on(args: &AnalyticsArgs, listener: TcpListener) -> anyhow::Result<Self> {
        Self::build_inner(args, Arc::new(SystemClock), Some(listener)).await
    }

    async fn build_inner(
        args: &AnalyticsArgs,
        clock: Arc<dyn Clock>,
        listener: Option<TcpListener>,
    ) -> anyhow::Result<Self> {
        let shared = open_config(args, clock.clone()).await?;
        std::fs::create_dir_all(&args.data_dir)
            .with_context(|| format!("creating {}", args.data_dir.display()))?;
        let url = args.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                args.data_dir.join("analytics.db").display()
            )
        });
        let store: Arc<dyn Store> = Arc::new(
            SqlStore::connect(&url)
                .await
                .context("opening the analytics database")?,
        );
        let (source, log): (Arc<dyn StreamSource>, Option<Arc<EventLog>>) =
            match &args.kinesis_stream {
                Some(stream) => {
                    let client = KinesisSource::client(args.kinesis_endpoint.as_deref()).await;
                    (Arc::new(KinesisSource::new(client, stream)), None)
                }
                None => {
                    let log = Arc::new(EventLog::open(
                        &args.data_dir.join("log"),
                        args.log_segment_bytes,
                    )?);
                    (Arc::new(log.source()), Some(log))
                }
            };
        let worker = args.worker_id.clone().unwrap_or_else(|| {
            if log.is_some() {
                "embedded".to_owned()
            } else {
                let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".into());
                format!("{host}-{}", std::process::id())
            }
        });
        let lake = args.lake.open(&args.data_dir).await?;
        let metrics = Arc::new(Metrics::new());
        // Following core-api, the consumer starts from nothing and adopts the configuration on
        // its first step (rebasing every experiment's aggregates onto it).
        let initial = if shared.is_live() {
            Arc::new(Config::empty())
        } else {
            shared.get()
        };
        let consumer = Consumer::new(
            initial,
            source.clone(),
            store.clone(),
            lake.clone(),
            clock.clone(),
            metrics.clone(),
            ConsumerSettings {
                worker: worker.clone(),
                max_records: args.max_records.max(1),
                lease_ttl_ms: args.lease_ttl_ms.max(100),
            },
        );
        let consumer = if shared.is_live() {
            consumer.follow(shared.clone())
        } else {
            consumer
        };
        let listener = match listener {
            Some(listener) => listener,
            None => TcpListener::bind(args.listen)
                .await
                .with_context(|| format!("binding {}", args.listen))?,
        };
        tracing::info!(
            address = %listener.local_addr()?,
            stream = source.stream(),
            worker = %worker,
            lake = %lake.as_ref().map_or("none".to_owned(), |l| l.describe()),
            "vane analytics ready"
        );
        let config_refresh = shared
            .is_live()
            .then(|| Duration::from_secs(args.config_refresh_secs.max(1)));
        let state = AppState {
            config: shared,
            store,
            log,
            metrics,
            status: Arc::new(RwLock::new(Status {
                stream: source.stream().to_owned(),
                worker,
                ..Status::default()
            })),
            wake: Arc::new(Notify::new()),
            clock,
            max_body_bytes: args.max_body_bytes,
        };
        Ok(Self {
            listener,
            state,
            consumer,
            results_interval: Duration::from_secs(args.results_interval_secs.max(1)),
            idle_poll: Duration::from_millis(args.idle_poll_ms.max(1)),
            config_refresh,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The state the HTTP handlers share (tests serve [`service::router`] over it).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The consumer, for tests that step it by hand instead of [`Application::run_until`].
    pub fn consumer_mut(&mut self) -> &mut Consumer {
        &mut self.consumer
    }

    /// Serves until `shutdown` completes, consuming in the background and computing results on
    /// schedule; on shutdown the leases are released.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self {
            listener,
            state,
            consumer,
            results_interval,
            idle_poll,
            config_refresh,
        } = self;
        let (stop_tx, stop_rx) = watch::channel(false);
        let refreshing = config_refresh
            .map(|every| tokio::spawn(refresh_loop(state.config.clone(), every, stop_rx.clone())));
        let consuming = tokio::spawn(consume(consumer, state.clone(), idle_poll, stop_rx.clone()));
        let scheduling = tokio::spawn(schedule_results(state.clone(), results_interval, stop_rx));
        let app = service::router(state);
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
        let _ = stop_tx.send(true);
        let _ = scheduling.await;
        if let Some(task) = refreshing {
            let _ = task.await;
        }
        match consuming.await {
            Ok(mut consumer) => {
                if let Err(e) = consumer.release().await {
                    tracing::warn!(error = %e, "releasing shard leases");
                }
            }
            Err(e) => tracing::error!(error = %e, "the consumer task failed"),
        }
        served.context("serving HTTP")
    }
}

fn publish(state: &AppState, consumer: &Consumer) {
    if let Ok(mut status) = state.status.write() {
        status.commit_seq = consumer.state().seq();
        status.units = consumer.state().units();
        status.remembered_ids = consumer.state().remembered_ids();
        status.shards = consumer
            .checkpoints()
            .iter()
            .map(|(s, c)| (s.clone(), ShardStatus::from(c)))
            .collect();
    }
}

async fn consume(
    mut consumer: Consumer,
    state: AppState,
    idle_poll: Duration,
    mut stop: watch::Receiver<bool>,
) -> Consumer {
    let mut backoff = idle_poll;
    while !*stop.borrow() {
        let idle = match consumer.try_step().await {
            Ok(report) => {
                publish(&state, &consumer);
                backoff = idle_poll;
                let checkpoints = consumer.checkpoints();
                let consumed = checkpoints
                    .get(LOG_SHARD)
                    .and_then(|cp| cp.position.as_deref())
                    .and_then(|p| p.parse::<u64>().ok());
                if let (Some(log), Some(pos)) = (&state.log, consumed)
                    && let Err(e) = log.truncate_before(pos)
                {
                    tracing::warn!(error = %e, "deleting consumed log segments");
                }
                report.idle()
            }
            Err(e) => {
                tracing::error!(error = %e, "consumer step failed; retrying");
                backoff = (backoff * 2).min(Duration::from_secs(10));
                true
            }
        };
        if idle {
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = state.wake.notified() => {}
                _ = stop.changed() => {}
            }
        }
    }
    consumer
}

async fn schedule_results(state: AppState, every: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        let config = state.config.get();
        for exp in &config.experiments {
            if let Err(e) = service::compute_and_store(&state, &exp.key).await {
                tracing::warn!(experiment = %exp.key, error = %e, "scheduled results failed");
            }
        }
    }
}

/// Runs `vane analytics` until Ctrl-C or SIGTERM.
pub async fn run(args: AnalyticsArgs) -> anyhow::Result<()> {
    let app = Application::build(&args).await?;
    app.run_until(shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        analytics: AnalyticsCli,
    }

    fn parse(args: &[&str]) -> Result<AnalyticsArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("vane").chain(args.iter().copied()))
            .map(|c| c.analytics.run)
    }

    #[test]
    fn core_url_needs_a_token_and_excludes_a_config_file() {
        let args = parse(&["--core-url", "http://127.0.0.1:8080", "--core-token", "k"]).unwrap();
        assert_eq!(args.core.core_url.as_deref(), Some("http://127.0.0.1:8080"));
        assert_eq!(args.config_refresh_secs, 10);
        assert!(
            !format!("{args:?}").contains("\"k\""),
            "the token is not printed"
        );
        let err = parse(&["--core-url", "http://127.0.0.1:8080"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::MissingRequiredArgument);
        let err = parse(&[
            "--core-url",
            "http://127.0.0.1:8080",
            "--core-token",
            "k",
            "--config",
            "a.json",
        ])
        .unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
        let args = parse(&["--config", "a.json", "--config-refresh-secs", "3"]).unwrap();
        assert_eq!((args.core.core_url, args.config_refresh_secs), (None, 3));
    }
}
