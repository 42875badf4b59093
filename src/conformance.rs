//! `vane conformance`: check an edge against the shared vectors, or print the seed snapshot.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

#[derive(Debug, Args)]
pub struct ConformanceArgs {
    /// Base URL of the edge to check, e.g. http://127.0.0.1:8787.
    #[arg(long, required_unless_present = "print_snapshot")]
    url: Option<String>,
    /// The spec/ directory of this repository.
    #[arg(long, default_value = "spec")]
    spec_dir: PathBuf,
    /// Print the sealed conformance snapshot (environment `spec`) and exit.
    #[arg(long)]
    print_snapshot: bool,
    /// The version to give the printed snapshot.
    #[arg(long, default_value_t = 1)]
    version: u64,
}

pub fn run(args: ConformanceArgs) -> ExitCode {
    if args.print_snapshot {
        return match vane_edge_native::conformance::snapshot_json(&args.spec_dir, args.version) {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::from(2)
            }
        };
    }
    let url = args.url.unwrap_or_default();
    super::async_main(async move {
        let report = vane_edge_native::conformance::run(&url, &args.spec_dir).await?;
        for failure in &report.failures {
            eprintln!("FAIL {failure}");
        }
        println!(
            "conformance {url}: {} passed, {} failed",
            report.checks - report.failures.len(),
            report.failures.len()
        );
        anyhow::ensure!(
            report.failures.is_empty(),
            "{} conformance checks failed",
            report.failures.len()
        );
        Ok(())
    })
}
