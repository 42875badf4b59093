//! Vane's native edge node (`vane edge`): the runtime-neutral edge handler behind axum, a
//! snapshot refresher (a local KV directory written by sync, or core-api directly), and an event
//! sink (the analytics ingest endpoint, Kinesis, or memory for tests).

pub mod conformance;
pub mod kinesis;
mod server;
pub mod sink;
pub mod source;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use vane_edge::{EdgeHandler, EdgeIdentity};

pub use server::router;
pub use sink::EventSink;
pub use source::{Refresher, SnapshotSource};

/// `vane edge` options. Every option also reads a `VANE_EDGE_*` environment variable.
#[derive(Debug, Clone, clap::Args)]
pub struct EdgeArgs {
    /// Address to listen on.
    #[arg(long, env = "VANE_EDGE_LISTEN", default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,
    /// The environment this edge serves.
    #[arg(long, env = "VANE_EDGE_ENVIRONMENT", default_value = "production")]
    pub environment: String,
    /// This edge's id in health, metrics and events.
    #[arg(long, env = "VANE_EDGE_ID", default_value = "native-1")]
    pub edge_id: String,
    /// Read snapshots from this KV directory (written by `vane sync`).
    #[arg(long, env = "VANE_EDGE_STORE_DIR", conflicts_with = "core_url")]
    pub store_dir: Option<PathBuf>,
    /// Read snapshots from core-api at this base URL (with `--core-key`).
    #[arg(long, env = "VANE_EDGE_CORE_URL")]
    pub core_url: Option<String>,
    /// A server API key for core-api.
    #[arg(long, env = "VANE_EDGE_CORE_KEY", hide_env_values = true)]
    pub core_key: Option<String>,
    /// The fallback poll for a new snapshot, in milliseconds. Changes are noticed at once
    /// without it (the KV directory is watched; core's server-sent announcements are followed);
    /// the poll reads the directory's pointer file, or asks core (only every 30 s while its
    /// announcements flow).
    #[arg(long, env = "VANE_EDGE_REFRESH_MS", default_value_t = 250)]
    pub refresh_ms: u64,
    /// Forward events to this analytics ingest URL (the embedded default).
    #[arg(long, env = "VANE_EDGE_INGEST_URL", conflicts_with = "kinesis_stream")]
    pub ingest_url: Option<String>,
    /// Forward events to this Amazon Kinesis stream (credentials and region from the standard
    /// AWS configuration: AWS_REGION, AWS_ACCESS_KEY_ID, ... or an instance role).
    #[arg(long, env = "VANE_EDGE_KINESIS_STREAM")]
    pub kinesis_stream: Option<String>,
    /// A Kinesis endpoint override, e.g. a local Kinesis-compatible server.
    #[arg(long, env = "VANE_EDGE_KINESIS_ENDPOINT")]
    pub kinesis_endpoint: Option<String>,
}

/// A running edge node, bound but not yet serving (see [`Application::run_until_stopped`]).
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    pub edge: Arc<EdgeHandler>,
    sink: Arc<dyn EventSink>,
    refresher: Option<Refresher>,
}

impl Application {
    /// Binds the listener (port 0 picks a free port) and prepares the parts.
    pub async fn build(
        listen: SocketAddr,
        edge: Arc<EdgeHandler>,
        sink: Arc<dyn EventSink>,
        refresher: Option<Refresher>,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("binding {listen}"))?;
        Ok(Self::on(listener, edge, sink, refresher))
    }

    /// The parts on a listener the caller bound already.
    pub fn on(
        listener: TcpListener,
        edge: Arc<EdgeHandler>,
        sink: Arc<dyn EventSink>,
        refresher: Option<Refresher>,
    ) -> Self {
        Self {
            listener,
            edge,
            sink,
            refresher,
        }
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves, refreshing the snapshot in the background.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let refresh = self.refresher.map(|r| tokio::spawn(r.run_forever()));
        let app = router(self.edge, self.sink);
        let served = axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
        if let Some(task) = refresh {
            task.abort();
        }
        served.context("serving HTTP")
    }

    /// Serves until Ctrl-C.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
    }
}

/// Builds the edge from `args` and serves until Ctrl-C.
pub async fn run(args: EdgeArgs) -> anyhow::Result<()> {
    let app = build(&args).await?;
    tracing::info!(addr = %app.local_addr()?, environment = %args.environment, "edge node listening");
    app.run_until_stopped().await
}

/// Builds the edge node `args` describe: its snapshot source (tried once now; a failure only
/// means it starts without a snapshot and keeps trying), its event sink, and the bound
/// listener. Serve it with [`Application::run_until`]; the HTTP sink forwards each batch
/// before the request answers, so a graceful stop leaves no accepted event behind.
pub async fn build(args: &EdgeArgs) -> anyhow::Result<Application> {
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    build_on(args, listener).await
}

/// [`build`] on a listener the caller bound already (`args.listen` is not used).
pub async fn build_on(args: &EdgeArgs, listener: TcpListener) -> anyhow::Result<Application> {
    let edge = EdgeHandler::new(
        args.environment.clone(),
        EdgeIdentity {
            edge_id: args.edge_id.clone(),
            runtime: "native",
        },
    );
    let source: Arc<dyn SnapshotSource> = match (&args.store_dir, &args.core_url) {
        (Some(dir), _) => Arc::new(source::DirSource::new(dir.clone(), &args.environment)),
        (None, Some(url)) => {
            let key = args
                .core_key
                .clone()
                .context("--core-url needs --core-key (a server key of the environment)")?;
            Arc::new(source::CoreSource::new(url, &args.environment, key))
        }
        (None, None) => {
            anyhow::bail!("give --store-dir or --core-url so the edge can find snapshots")
        }
    };
    let sink: Arc<dyn EventSink> = match (&args.ingest_url, &args.kinesis_stream) {
        (Some(url), _) => Arc::new(sink::HttpSink::new(url)),
        (None, Some(stream)) => {
            let client = kinesis::KinesisSink::client(args.kinesis_endpoint.as_deref()).await;
            Arc::new(kinesis::KinesisSink::new(client, stream.clone()))
        }
        (None, None) => {
            tracing::warn!(
                "no --ingest-url or --kinesis-stream: /v1/events answers 503 (events are not \
                 accepted when they could not be delivered)"
            );
            Arc::new(sink::NoSink)
        }
    };
    let refresher = Refresher::new(edge.clone(), source, Duration::from_millis(args.refresh_ms));
    refresher.refresh_once().await;
    Ok(Application::on(listener, edge, sink, Some(refresher)))
}

/// The current time as the engine's timestamp.
pub fn now() -> vane_engine::Timestamp {
    vane_engine::Timestamp::from(time::OffsetDateTime::now_utc())
}
