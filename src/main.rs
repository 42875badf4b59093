//! The `vane` binary: composition only. Each subcommand lives in its own module and calls into
//! the crates that do the work.

mod eval;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Vane: experimentation and feature flags with assignment at the edge.
#[derive(Debug, Parser)]
#[command(name = "vane", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Evaluate every flag and experiment of a snapshot for one context, with reasons
    /// ("why does this user see that?").
    Eval(eval::EvalArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Eval(args) => eval::run(&args),
    }
}
