//! The `vane` binary: composition only. Each subcommand lives in its own module and calls into
//! the crates that do the work.

#[cfg(test)]
mod config_reference;
mod conformance;
mod demo;
mod eval;
mod up;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Vane: experimentation and feature flags with assignment at the edge.
#[derive(Debug, Parser)]
#[command(name = "vane", version, about)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole platform locally: core-api, sync, a native edge and analytics on the
    /// embedded defaults under ./.vane, with an admin, keys and a running demo experiment.
    Up(up::UpArgs),
    /// Demo helpers: `vane demo traffic` simulates users with a known true lift.
    Demo(demo::DemoArgs),
    /// Evaluate every flag and experiment of a snapshot for one context, with reasons
    /// ("why does this user see that?").
    Eval(eval::EvalArgs),
    /// Run core-api: configuration, users, API keys, audit log, snapshot publishing.
    Core(vane_core::CoreArgs),
    /// Run a native edge node: assignment, flag evaluation and event forwarding over HTTP.
    Edge(vane_edge_native::EdgeArgs),
    /// Deliver published snapshots to edge stores and watch which version each edge serves.
    Sync(vane_sync::SyncArgs),
    /// Run the analytics pipeline: event ingest (embedded log or Kinesis), dedup, exposure join,
    /// exact aggregates, the data lake and experiment results; or recompute from the lake.
    Analytics(vane_analytics::AnalyticsCli),
    /// Compute experiment results from summary statistics: JSON request on stdin, JSON results
    /// on stdout (schema: docs/stats.md).
    Stats,
    /// Check that an edge (native, Cloudflare worker, Spin component) answers the shared
    /// vectors in spec/ correctly; or print the snapshot to seed it with.
    Conformance(conformance::ConformanceArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Up(args) => runtime(up::run(args)),
        Command::Demo(args) => runtime(demo::run(args)),
        Command::Eval(args) => eval::run(&args),
        Command::Core(args) => async_main(vane_core::run(args)),
        Command::Edge(args) => async_main(vane_edge_native::run(args)),
        Command::Sync(args) => async_main(vane_sync::run(args)),
        Command::Conformance(args) => conformance::run(args),
        Command::Analytics(cli) => async_main(vane_analytics::run_cli(cli)),
        Command::Stats => stats(),
    }
}

fn stats() -> ExitCode {
    use std::io::Read;
    let mut input = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut input) {
        eprintln!("error: reading standard input: {e}");
        return ExitCode::from(1);
    }
    match vane_analytics::cli::run_stats(&input) {
        Ok(output) => {
            println!("{output}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Runs a service on a multi-threaded runtime with logs to stderr (`RUST_LOG` filters them).
fn async_main(service: impl Future<Output = anyhow::Result<()>>) -> ExitCode {
    init_tracing();
    runtime(async { service.await.inspect_err(|e| tracing::error!("{e:#}")) })
}

/// Runs `service` on a multi-threaded runtime; the service sets up its own logging.
fn runtime(service: impl Future<Output = anyhow::Result<()>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(service) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("VANE_LOG_FORMAT").is_ok_and(|f| f == "json");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
