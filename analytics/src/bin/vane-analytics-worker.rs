//! `vane-analytics-worker`: `vane analytics` as a stand-alone binary (the crash tests spawn and
//! kill it). Logs go to standard error, filtered by `RUST_LOG` (default `info`).

use clap::Parser;

/// Consume events, keep aggregates, compute and serve experiment results.
#[derive(Debug, Parser)]
#[command(name = "vane-analytics-worker", version)]
struct Cli {
    #[command(flatten)]
    analytics: vane_analytics::AnalyticsCli,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    match runtime.block_on(vane_analytics::run_cli(cli.analytics)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}
