//! `vane up`: the whole platform on one machine, on the embedded defaults: core-api (SQLite),
//! sync (a local KV directory), one native edge node reading that directory and forwarding
//! events to analytics, and analytics (embedded log, local lake), all under one data
//! directory (`./.vane`).
//!
//! # One process, one ordered shutdown
//!
//! The parts run as tasks of this process rather than as supervised child processes. Each
//! crate already offers "build, then serve until a future completes" (`vane_core::build` +
//! `Application::run_until`, `vane_sync::run_until`, `vane_edge_native::build` +
//! `Application::run_until`, `vane_analytics::Application::build` + `run_until`), so `up`
//! only composes them; there is no second copy of any part's start-up and no child process to
//! find, restart, forward signals to or leave behind. Most of all, the shutdown order is
//! explicit and awaited: on SIGINT or SIGTERM
//!
//! 1. the **edge** stops accepting and finishes the requests in flight; its sink forwards a
//!    batch to analytics before it answers 202, so every accepted event has been
//!    acknowledged by analytics' ingest, which acknowledges only after an fsync of its log;
//! 2. **sync** stops (deliveries are idempotent; the next start delivers what is current);
//! 3. **analytics** stops ingesting, lets the consumer finish and commit its batch and
//!    releases its lease; what is still in the log is consumed at the next start;
//! 4. **core-api** finishes its requests last, since the others call it.
//!
//! If any part stops on its own (an error), the others are stopped the same way and `up`
//! exits non-zero. The cost of one process is that a crash takes every part down at once; for
//! a local platform that is the behaviour one wants (nothing half-running).
//!
//! The parts need each other's addresses before they start (core forwards results to
//! analytics, analytics reads core, the edge forwards to analytics, sync watches the edge), so
//! `up` binds all four listeners first and hands each part its bound listener. Port 0 picks a
//! free port: the addresses bound are printed and written to `<data-dir>/addresses.json`
//! (removed again on a clean stop), which is how tests and scripts find a platform started on
//! `127.0.0.1:0` without reserving ports they might lose to other traffic.

mod api;
mod banner;
pub mod seed;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::Duration;

use anyhow::Context as _;
use secrecy::{ExposeSecret as _, SecretString};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use banner::{AdminPassword, Banner};

/// `vane up` options; each also reads the environment variable shown.
#[derive(Debug, Clone, clap::Args)]
pub struct UpArgs {
    /// Directory for everything: core's SQLite database, the KV directory, analytics' log,
    /// database and lake, the log file and the keys `vane up` created.
    #[arg(long, env = "VANE_UP_DATA_DIR", default_value = "./.vane")]
    pub data_dir: PathBuf,
    /// The environment the edge serves and the demo lives in.
    #[arg(long, env = "VANE_UP_ENVIRONMENT", default_value = "demo")]
    pub environment: String,
    /// The first admin's email (created on the first start).
    #[arg(long, env = "VANE_ADMIN_EMAIL", default_value = "admin@vane.local")]
    pub admin_email: String,
    /// The first admin's password (at least 12 characters; default: generated and printed
    /// once). Prefer the environment variable: command lines are visible to other users.
    #[arg(long, env = "VANE_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<SecretString>,
    /// core-api's address (port 0: a free port, see `<data-dir>/addresses.json`).
    #[arg(long, env = "VANE_UP_CORE_LISTEN", default_value = "127.0.0.1:8080")]
    pub core_listen: SocketAddr,
    /// The native edge node's address.
    #[arg(long, env = "VANE_UP_EDGE_LISTEN", default_value = "127.0.0.1:8787")]
    pub edge_listen: SocketAddr,
    /// analytics' address (ingest, results).
    #[arg(
        long,
        env = "VANE_UP_ANALYTICS_LISTEN",
        default_value = "127.0.0.1:8090"
    )]
    pub analytics_listen: SocketAddr,
    /// sync's address (/v1/edges, /metrics).
    #[arg(long, env = "VANE_UP_SYNC_LISTEN", default_value = "127.0.0.1:8091")]
    pub sync_listen: SocketAddr,
    /// Seconds between analytics' scheduled result computations.
    #[arg(long, env = "VANE_UP_RESULTS_INTERVAL_SECS", default_value_t = 10)]
    pub results_interval_secs: u64,
    /// Create only the environment and keys: no demo metrics, flags or experiment.
    #[arg(long, env = "VANE_UP_NO_DEMO")]
    pub no_demo: bool,
    /// The built admin UI that core-api serves under `/admin/` (default: `admin/dist` when it
    /// exists in the current directory; `make up` builds it).
    #[arg(long, env = "VANE_UP_ADMIN_DIR")]
    pub admin_dir: Option<PathBuf>,
}

/// The admin UI directory: the one given, else `admin/dist` when it holds a build.
fn admin_dir(given: Option<&Path>) -> Option<PathBuf> {
    match given {
        Some(dir) => Some(dir.to_path_buf()),
        None => {
            let default = Path::new("admin").join("dist");
            default.join("index.html").is_file().then_some(default)
        }
    }
}

/// The URLs of the parts, derived from the addresses they are bound to; written to
/// [`ADDRESSES_FILE`] in the data directory once the platform is ready.
#[derive(Debug, Clone, serde::Serialize)]
struct Urls {
    core: String,
    edge: String,
    analytics: String,
    sync: String,
}

/// The file (in the data directory) naming the URL each part listens on, while `up` runs.
pub const ADDRESSES_FILE: &str = "addresses.json";

/// The four listeners, bound before any part starts.
struct Listeners {
    core: tokio::net::TcpListener,
    edge: tokio::net::TcpListener,
    analytics: tokio::net::TcpListener,
    sync: tokio::net::TcpListener,
}

impl Listeners {
    async fn bind(args: &UpArgs) -> anyhow::Result<Self> {
        async fn one(option: &str, addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding {addr} ({option})"))
        }
        Ok(Self {
            core: one("--core-listen", args.core_listen).await?,
            edge: one("--edge-listen", args.edge_listen).await?,
            analytics: one("--analytics-listen", args.analytics_listen).await?,
            sync: one("--sync-listen", args.sync_listen).await?,
        })
    }

    fn urls(&self) -> anyhow::Result<Urls> {
        let of = |l: &tokio::net::TcpListener| -> anyhow::Result<String> {
            Ok(url(l.local_addr().context("reading a bound address")?))
        };
        Ok(Urls {
            core: of(&self.core)?,
            edge: of(&self.edge)?,
            analytics: of(&self.analytics)?,
            sync: of(&self.sync)?,
        })
    }
}

/// Writes `urls` to `path` atomically (a reader sees the old file, none, or the whole new one).
fn write_addresses(path: &Path, urls: &Urls) -> anyhow::Result<()> {
    let partial = path.with_extension("json.partial");
    let body = serde_json::to_vec_pretty(urls)?;
    std::fs::write(&partial, body).with_context(|| format!("writing {}", partial.display()))?;
    std::fs::rename(&partial, path).with_context(|| format!("writing {}", path.display()))
}

fn url(addr: SocketAddr) -> String {
    let mut addr = addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    format!("http://{addr}")
}

/// A future that completes when the part should stop.
type Stop = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A running part.
#[derive(Debug)]
struct Part {
    name: &'static str,
    stop: watch::Sender<bool>,
    task: JoinHandle<anyhow::Result<()>>,
}

/// Spawns a part; `done` hears its name when it ends (by itself or when told to stop).
fn spawn_part<F>(
    name: &'static str,
    done: &mpsc::UnboundedSender<&'static str>,
    serve: impl FnOnce(Stop) -> F,
) -> Part
where
    F: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let (stop, mut told) = watch::channel(false);
    let future = serve(Box::pin(async move {
        let _ = told.wait_for(|stop| *stop).await;
    }));
    let done = done.clone();
    let task = tokio::spawn(async move {
        let result = future.await;
        let _ = done.send(name);
        result
    });
    Part { name, stop, task }
}

/// How long a part may take to stop before it is aborted.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Stops the parts, last started first; returns the first error.
async fn stop_all(parts: Vec<Part>) -> anyhow::Result<()> {
    let mut first_error = None;
    for mut part in parts.into_iter().rev() {
        step(&format!("stopping {}", part.name));
        let _ = part.stop.send(true);
        let result = match tokio::time::timeout(STOP_TIMEOUT, &mut part.task).await {
            Ok(Ok(result)) => result,
            Ok(Err(join)) => Err(anyhow::anyhow!(
                "{} panicked or was cancelled: {join}",
                part.name
            )),
            Err(_) => {
                part.task.abort();
                Err(anyhow::anyhow!(
                    "{} did not stop within {STOP_TIMEOUT:?}",
                    part.name
                ))
            }
        };
        if let Err(e) = result {
            tracing::error!(part = part.name, error = %format!("{e:#}"), "stopping failed");
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

fn step(message: &str) {
    println!("==> {message}");
}

/// Runs `vane up` until SIGINT/SIGTERM or until a part fails.
pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let log_file = args.data_dir.join("vane.log");
    init_logging(&log_file)?;
    step(&format!(
        "vane up: data in {}, logs in {}",
        args.data_dir.display(),
        log_file.display()
    ));
    let addresses = args.data_dir.join(ADDRESSES_FILE);
    // A file left by an earlier run that did not stop cleanly names ports nobody serves.
    let _ = std::fs::remove_file(&addresses);
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let mut parts = Vec::new();
    let signal = shutdown_signal();
    tokio::pin!(signal);
    let started = tokio::select! {
        started = start(&args, &log_file, &done_tx, &mut parts) => started,
        () = &mut signal => Err(anyhow::anyhow!("interrupted while starting")),
        Some(name) = done_rx.recv() => Err(anyhow::anyhow!("{name} stopped while starting")),
    };
    let outcome = match started {
        Ok(banner) => {
            println!("{banner}");
            tokio::select! {
                () = &mut signal => Ok(()),
                Some(name) = done_rx.recv() => Err(anyhow::anyhow!("{name} stopped unexpectedly; stopping the others")),
            }
        }
        Err(e) => Err(e),
    };
    if let Err(e) = &outcome {
        tracing::error!("{e:#}");
    }
    let stopped = stop_all(parts).await;
    let _ = std::fs::remove_file(&addresses);
    outcome?;
    stopped?;
    step("stopped cleanly");
    Ok(())
}

/// Starts every part in dependency order and seeds core-api; returns the banner to print.
async fn start(
    args: &UpArgs,
    log_file: &Path,
    done: &mpsc::UnboundedSender<&'static str>,
    parts: &mut Vec<Part>,
) -> anyhow::Result<String> {
    let listeners = Listeners::bind(args).await?;
    let urls = listeners.urls()?;
    let data = args.data_dir.display().to_string();
    let env = args.environment.as_str();

    // core-api (it serves experiment results from analytics)
    let words = vec![
        "--data-dir".to_owned(),
        data.clone(),
        "--listen".to_owned(),
        args.core_listen.to_string(),
        "--analytics-url".to_owned(),
        urls.analytics.clone(),
    ];
    let admin_dir = admin_dir(args.admin_dir.as_deref());
    let mut words = words;
    if let Some(dir) = &admin_dir {
        words.extend(["--admin-dir".to_owned(), dir.display().to_string()]);
    }
    let core_args: vane_core::CoreArgs = parse_args("core", &words)?;
    let mut config = vane_core::Config::from_args(&core_args)?;
    config.bootstrap_admin = Some(vane_core::BootstrapAdmin {
        email: args.admin_email.clone(),
        password: args.admin_password.clone(),
    });
    let core = vane_core::build_on(config, listeners.core)
        .await
        .context("starting core-api")?;
    let generated = core
        .generated_admin_password()
        .map(|p| p.expose_secret().to_owned());
    parts.push(spawn_part("core-api", done, |stop| async move {
        core.run_until(stop).await.context("core-api")
    }));
    step(&format!("core-api on {} (SQLite in {data})", urls.core));

    // Admin, keys and demo data.
    let admin_password = match (&generated, &args.admin_password) {
        (Some(p), _) => AdminPassword::Generated(p.clone()),
        (None, Some(_)) => AdminPassword::Configured,
        (None, None) => AdminPassword::Earlier,
    };
    let seeded = seed::bootstrap(&seed::SeedOptions {
        core_url: urls.core.clone(),
        environment: env.to_owned(),
        admin_email: args.admin_email.clone(),
        admin_password: generated.clone().or_else(|| {
            args.admin_password
                .as_ref()
                .map(|p| p.expose_secret().to_owned())
        }),
        credentials: seed::credentials_path(&args.data_dir, env),
        demo: !args.no_demo,
    })
    .await
    .context("bootstrapping core-api")?;
    if seeded.created.is_empty() {
        step("bootstrap: everything exists already (nothing created)");
    } else {
        step(&format!("bootstrap: created {}", seeded.created.join(", ")));
    }

    // analytics (experiments and metrics from core-api)
    let analytics_dir = args.data_dir.join("analytics").display().to_string();
    let words = vec![
        "--data-dir".to_owned(),
        analytics_dir.clone(),
        "--listen".to_owned(),
        args.analytics_listen.to_string(),
        "--results-interval-secs".to_owned(),
        args.results_interval_secs.to_string(),
        "--core-url".to_owned(),
        urls.core.clone(),
        "--core-token".to_owned(),
        seeded.analytics_key.key.clone(),
    ];
    let analytics_args: vane_analytics::AnalyticsArgs = parse_args("analytics", &words)?;
    let analytics = vane_analytics::Application::build_on(&analytics_args, listeners.analytics)
        .await
        .context("starting analytics")?;
    parts.push(spawn_part("analytics", done, |stop| async move {
        analytics.run_until(stop).await.context("analytics")
    }));
    step(&format!(
        "analytics on {} (embedded log and lake in {analytics_dir})",
        urls.analytics
    ));

    // sync
    let kv = args.data_dir.join("kv");
    let words = vec![
        "--core-url".to_owned(),
        urls.core.clone(),
        "--core-key".to_owned(),
        seeded.server_key.key.clone(),
        "--environment".to_owned(),
        env.to_owned(),
        "--dir".to_owned(),
        kv.display().to_string(),
        "--edge".to_owned(),
        format!("native-1={}", urls.edge),
        "--listen".to_owned(),
        args.sync_listen.to_string(),
        "--poll-ms".to_owned(),
        "1000".to_owned(),
    ];
    let sync_args: vane_sync::SyncArgs = parse_args("sync", &words)?;
    let sync_listener = listeners.sync;
    parts.push(spawn_part("sync", done, |stop| {
        vane_sync::run_until_on(sync_args, Some(sync_listener), stop)
    }));
    let pointer = &kv.join(vane_edge::store::current_key(env));
    wait_until("sync to write the first snapshot", || async move {
        Ok(tokio::fs::try_exists(pointer).await.unwrap_or(false))
    })
    .await?;
    step(&format!(
        "sync on {} (KV directory {})",
        urls.sync,
        kv.display()
    ));

    // edge
    let words = vec![
        "--listen".to_owned(),
        args.edge_listen.to_string(),
        "--environment".to_owned(),
        env.to_owned(),
        "--edge-id".to_owned(),
        "native-1".to_owned(),
        "--store-dir".to_owned(),
        kv.display().to_string(),
        "--ingest-url".to_owned(),
        format!("{}/v1/ingest", urls.analytics),
    ];
    let edge_args: vane_edge_native::EdgeArgs = parse_args("edge", &words)?;
    let edge = vane_edge_native::build_on(&edge_args, listeners.edge)
        .await
        .context("starting the edge node")?;
    parts.push(spawn_part("edge", done, |stop| async move {
        edge.run_until(stop).await.context("edge")
    }));

    // Ready when the edge serves what core published last (with the keys just created).
    let latest = latest_version(&urls.core, env, &seeded.server_key.key).await?;
    let http = &reqwest::Client::new();
    let health = &format!("{}/v1/health", urls.edge);
    wait_until("the edge to serve the latest snapshot", || async move {
        let served = match http.get(health).send().await {
            Ok(r) => r.json::<serde_json::Value>().await.ok(),
            Err(_) => None,
        };
        Ok(served
            .and_then(|h| h["snapshot"]["version"].as_u64())
            .is_some_and(|v| v >= latest))
    })
    .await?;
    step(&format!("edge on {} serving snapshot v{latest}", urls.edge));
    let addresses = args.data_dir.join(ADDRESSES_FILE);
    write_addresses(&addresses, &urls)?;
    step(&format!("addresses in {}", addresses.display()));
    let example_variant = example_variant(&urls.edge, &seeded.client_key.key).await;

    let admin_ui = admin_dir.map(|_| format!("{}{}", urls.core, vane_core::admin_ui::MOUNT));
    let banner = Banner {
        admin_ui: admin_ui.as_deref(),
        core: &urls.core,
        edge: &urls.edge,
        analytics: &urls.analytics,
        sync: &urls.sync,
        environment: env,
        data_dir: &data,
        log_file: &log_file.display().to_string(),
        admin_email: &args.admin_email,
        admin_password: &admin_password,
        seeded: &seeded,
        snapshot_version: latest,
        example_variant: &example_variant,
        vane: &std::env::current_exe()
            .map_or_else(|_| "vane".to_owned(), |p| p.display().to_string()),
    };
    Ok(banner.render())
}

/// The demo experiment's variant for the examples' user, so that the example exposure matches
/// what the edge assigns (`control` when it cannot tell).
async fn example_variant(edge: &str, client_key: &str) -> String {
    let answer = reqwest::Client::new()
        .post(format!("{edge}/v1/assign"))
        .bearer_auth(client_key)
        .json(
            &serde_json::json!({"context": {"user_id": banner::EXAMPLE_USER},
                                  "experiments": [seed::DEMO_EXPERIMENT]}),
        )
        .send()
        .await;
    let body = match answer {
        Ok(r) => r.json::<serde_json::Value>().await.ok(),
        Err(_) => None,
    };
    body.and_then(|b| b["assignments"][0]["variant"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "control".to_owned())
}

/// The latest snapshot version core-api published for `environment`.
async fn latest_version(core: &str, environment: &str, server_key: &str) -> anyhow::Result<u64> {
    let url = format!("{core}/api/v1/environments/{environment}/snapshot");
    let response = reqwest::Client::new()
        .get(&url)
        .bearer_auth(server_key)
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    anyhow::ensure!(
        response.status().is_success(),
        "GET {url} answered {}",
        response.status()
    );
    response
        .headers()
        .get("x-vane-snapshot-version")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .context("the snapshot answer has no x-vane-snapshot-version")
}

/// Polls `check` every 100 ms for up to 60 s.
async fn wait_until<F, Fut>(what: &str, mut check: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<bool>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if check().await? {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!("gave up waiting for {what} after 60 s (see the log file)");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Parses a part's arguments as its own subcommand would: defaults and environment variables
/// apply to everything `words` does not set.
fn parse_args<T: clap::Args + clap::FromArgMatches>(
    name: &'static str,
    words: &[String],
) -> anyhow::Result<T> {
    let command = T::augment_args(clap::Command::new(name).no_binary_name(true));
    let matches = command
        .try_get_matches_from(words)
        .with_context(|| format!("configuring {name}"))?;
    T::from_arg_matches(&matches).with_context(|| format!("configuring {name}"))
}

/// Logs at `RUST_LOG` (default `info`) to `file`, and warnings and errors also to stderr.
fn init_logging(file: &Path) -> anyhow::Result<()> {
    use std::io::IsTerminal as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::{EnvFilter, Layer as _, fmt};
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .with_context(|| format!("opening {}", file.display()))?;
    let level = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::registry()
        .with(
            fmt::layer()
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(log))
                .with_filter(level),
        )
        .with(
            fmt::layer()
                .with_ansi(std::io::stderr().is_terminal())
                .with_writer(std::io::stderr)
                .with_filter(EnvFilter::new("warn")),
        )
        .try_init()
        .context("installing the log subscriber")
}

/// Completes on SIGINT or SIGTERM; a second signal exits at once.
async fn shutdown_signal() {
    wait_for_signal().await;
    println!();
    step("shutting down (press Ctrl-C again to exit at once)");
    tokio::spawn(async {
        wait_for_signal().await;
        eprintln!("second signal: exiting without a clean stop");
        std::process::exit(130);
    });
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_part_is_configured_from_words_with_its_own_defaults() {
        let words = ["--listen".to_owned(), "127.0.0.1:9999".to_owned()];
        let edge: vane_edge_native::EdgeArgs = parse_args("edge", &words).unwrap();
        assert_eq!(edge.listen.to_string(), "127.0.0.1:9999");
        assert_eq!(edge.refresh_ms, 250, "the edge's own default");
        let error =
            parse_args::<vane_edge_native::EdgeArgs>("edge", &["--nope".to_owned()]).unwrap_err();
        assert!(format!("{error:#}").contains("--nope"), "{error:#}");
    }

    #[test]
    fn unspecified_listen_addresses_print_as_loopback_urls() {
        assert_eq!(
            url("0.0.0.0:8080".parse().unwrap()),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            url("127.0.0.1:8787".parse().unwrap()),
            "http://127.0.0.1:8787"
        );
    }
}
