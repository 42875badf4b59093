//! `vane eval`: evaluate a snapshot for one context and print the results with reasons.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use serde_json::Value;
use vane_engine::{Timestamp, compile_json};

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Snapshot JSON file (schema v1).
    #[arg(long, value_name = "FILE")]
    snapshot: std::path::PathBuf,
    /// The context's attributes as a JSON object, or `@FILE` to read them from a file.
    #[arg(long, value_name = "JSON")]
    context: String,
    /// Evaluate only this flag.
    #[arg(long, value_name = "KEY", conflicts_with = "experiment")]
    flag: Option<String>,
    /// Assign only this experiment.
    #[arg(long, value_name = "KEY")]
    experiment: Option<String>,
    /// Evaluate at this instant instead of now (RFC 3339, e.g. 2026-12-01T00:00:00Z).
    #[arg(long, value_name = "RFC3339")]
    at: Option<String>,
}

/// Exit codes: 0 answered, 2 invalid snapshot or arguments, 1 anything else (I/O).
pub fn run(args: &EvalArgs) -> ExitCode {
    match evaluate(args) {
        Ok(output) => {
            println!("{output}");
            ExitCode::SUCCESS
        }
        Err(Failure::Invalid(lines)) => {
            for line in &lines {
                eprintln!("{line}");
            }
            ExitCode::from(2)
        }
        Err(Failure::Other(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

enum Failure {
    /// Bad input: every problem, one line each.
    Invalid(Vec<String>),
    Other(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Self::Other(e)
    }
}

fn invalid(message: impl Into<String>) -> Failure {
    Failure::Invalid(vec![format!("error: {}", message.into())])
}

fn evaluate(args: &EvalArgs) -> Result<String, Failure> {
    let text = std::fs::read_to_string(&args.snapshot)
        .with_context(|| format!("reading {}", args.snapshot.display()))?;
    let compiled = compile_json(&text).map_err(|errors| {
        let mut lines: Vec<String> = errors.iter().map(|e| format!("error: {e}")).collect();
        lines.push(format!(
            "{}: {} validation error{}",
            args.snapshot.display(),
            errors.len(),
            if errors.len() == 1 { "" } else { "s" }
        ));
        Failure::Invalid(lines)
    })?;
    let context = parse_context(&args.context)?;
    let now = match &args.at {
        Some(at) => Timestamp::parse_rfc3339(at)
            .map_err(|e| invalid(format!("--at `{at}` is not an RFC 3339 time: {e}")))?,
        None => Timestamp::from(time::OffsetDateTime::now_utc()),
    };
    let output = match (&args.flag, &args.experiment) {
        (Some(flag), _) => {
            serde_json::to_string_pretty(&compiled.evaluate_flag(flag, &context, now))
        }
        (None, Some(exp)) => serde_json::to_string_pretty(&compiled.assign(exp, &context, now)),
        (None, None) => serde_json::to_string_pretty(&compiled.evaluate_all(&context, now)),
    };
    Ok(output.context("serializing the result")?)
}

fn parse_context(arg: &str) -> Result<Value, Failure> {
    let text = match arg.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?,
        None => arg.to_owned(),
    };
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| invalid(format!("--context is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(invalid("--context must be a JSON object of attributes"));
    }
    Ok(value)
}
