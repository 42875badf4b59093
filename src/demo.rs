//! `vane demo traffic`: simulated users against an edge on this machine. Each user is
//! assigned by the edge (`POST /v1/assign`), sends an exposure for the variant it got, and
//! converts (a `purchase` with a value) with the control's rate, or that rate times
//! `1 + lift` in every other variant, so the results should show the lift it was given.
//!
//! Bounded: at most 1,000,000 users, at most `--max-seconds`, loopback addresses only.
//! Deterministic: a user's id, conversion and value depend only on `--seed` and its number.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Serialize;
use serde_json::{Value, json};

use crate::up::seed;

/// `vane demo ...`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    #[command(subcommand)]
    pub command: DemoCommand,
}

/// Demo helpers.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum DemoCommand {
    /// Simulate users against an edge on 127.0.0.1: assignments, exposures and conversions with
    /// a known true lift.
    Traffic(TrafficArgs),
}

/// `vane demo traffic` options.
#[derive(Debug, Clone, clap::Args)]
pub struct TrafficArgs {
    /// How many users to simulate (1 to 1,000,000).
    #[arg(long, default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub users: u64,
    /// The true relative lift of the conversion rate in every non-control variant (0.1: +10%).
    #[arg(long, default_value_t = 0.1, allow_negative_numbers = true)]
    pub lift: f64,
    /// The control variant's conversion rate.
    #[arg(long, default_value_t = 0.2)]
    pub base_rate: f64,
    /// The edge's base URL (a loopback address).
    #[arg(
        long,
        env = "VANE_DEMO_EDGE_URL",
        default_value = "http://127.0.0.1:8787"
    )]
    pub edge: String,
    /// A client key of the edge's environment (default: the one `vane up` stored under
    /// --data-dir).
    #[arg(long, env = "VANE_DEMO_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// `vane up`'s data directory, to find its client key.
    #[arg(long, env = "VANE_UP_DATA_DIR", default_value = "./.vane")]
    pub data_dir: PathBuf,
    /// `vane up`'s environment, to find its client key.
    #[arg(long, env = "VANE_UP_ENVIRONMENT", default_value = "demo")]
    pub environment: String,
    /// The experiment to send traffic to.
    #[arg(long, default_value = seed::DEMO_EXPERIMENT)]
    pub experiment: String,
    /// Seed of the simulation (default: from the clock; printed so a run can be repeated).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Simulated clients sending at the same time.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub concurrency: u64,
    /// Start no new user after this many seconds.
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub max_seconds: u64,
    /// Print the summary as one JSON object on stdout (progress goes to stderr).
    #[arg(long)]
    pub json: bool,
}

/// What was sent to one variant.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct VariantTally {
    pub key: String,
    pub variation: usize,
    pub exposed: u64,
    pub converted: u64,
    pub revenue: f64,
}

/// The run's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub experiment: String,
    pub seed: u64,
    pub lift: f64,
    pub base_rate: f64,
    /// Users simulated (assigned or not).
    pub users: u64,
    /// Users the edge put in the experiment.
    pub in_experiment: u64,
    /// Users not in it, by the edge's reason.
    pub not_in_experiment: BTreeMap<String, u64>,
    pub events_sent: u64,
    pub variants: Vec<VariantTally>,
    pub stopped_by_time_limit: bool,
}

/// Runs `vane demo ...`.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    match args.command {
        DemoCommand::Traffic(args) => {
            let summary = traffic(&args).await?;
            if args.json {
                println!("{}", serde_json::to_string(&summary)?);
            } else {
                print_summary(&summary);
            }
            anyhow::ensure!(
                summary.in_experiment > 0,
                "the edge put no user in `{}` (reasons: {:?}); is it running in this environment?",
                summary.experiment,
                summary.not_in_experiment
            );
            Ok(())
        }
    }
}

fn print_summary(s: &Summary) {
    println!(
        "simulated {} users (seed {}): {} in `{}`, {} events sent{}",
        s.users,
        s.seed,
        s.in_experiment,
        s.experiment,
        s.events_sent,
        if s.stopped_by_time_limit {
            " (stopped by --max-seconds)"
        } else {
            ""
        }
    );
    for v in &s.variants {
        let rate = if v.exposed == 0 {
            0.0
        } else {
            v.converted as f64 / v.exposed as f64
        };
        println!(
            "  {:<12} {:>7} exposed {:>7} converted ({:.1}%)  revenue {:.2}",
            v.key,
            v.exposed,
            v.converted,
            rate * 100.0,
            v.revenue
        );
    }
    if !s.not_in_experiment.is_empty() {
        println!("  not in the experiment: {:?}", s.not_in_experiment);
    }
    println!(
        "true lift {:+.0}% over a {:.0}% base rate; analytics shows it once it has consumed the events",
        s.lift * 100.0,
        s.base_rate * 100.0
    );
}

/// Only loopback edges: demo traffic never leaves the machine.
fn check_loopback(edge: &str) -> anyhow::Result<String> {
    let url = reqwest::Url::parse(edge).with_context(|| format!("--edge `{edge}` is not a URL"))?;
    let host = url.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    anyhow::ensure!(
        loopback && url.scheme() == "http",
        "--edge must be an http:// URL on this machine (127.0.0.1, ::1 or localhost), not `{edge}`"
    );
    Ok(edge.trim_end_matches('/').to_owned())
}

/// splitmix64: a well-mixed 64-bit function of its input.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform number in [0, 1) that depends only on the seed, the user and the draw.
fn uniform(seed: u64, user: u64, draw: u64) -> f64 {
    let bits = mix(seed ^ mix(user.wrapping_mul(8).wrapping_add(draw)));
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// Shared by the simulated clients.
#[derive(Debug)]
struct Run {
    args: TrafficArgs,
    edge: String,
    key: String,
    seed: u64,
    http: reqwest::Client,
    next_user: AtomicU64,
    done: AtomicU64,
    events: AtomicU64,
    deadline: Instant,
    timed_out: AtomicBool,
}

/// Simulates the users; returns what was sent.
pub async fn traffic(args: &TrafficArgs) -> anyhow::Result<Summary> {
    let edge = check_loopback(&args.edge)?;
    anyhow::ensure!(
        (0.0..=1.0).contains(&args.base_rate),
        "--base-rate must be in [0, 1]"
    );
    let treated = args.base_rate * (1.0 + args.lift);
    anyhow::ensure!(
        args.lift > -1.0 && treated <= 1.0,
        "--lift must keep the treatment's rate {} within (0, 1]",
        treated
    );
    let key = match &args.key {
        Some(key) => key.clone(),
        None => {
            let path = seed::credentials_path(&args.data_dir, &args.environment);
            seed::read_keys(&path)?
                .client
                .map(|k| k.key)
                .with_context(|| {
                    format!(
                        "no --key, and no client key in {} (run `vane up` first)",
                        path.display()
                    )
                })?
        }
    };
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    });
    eprintln!(
        "sending {} users to `{}` on {edge} (seed {seed}, true lift {:+}%)",
        args.users,
        args.experiment,
        args.lift * 100.0
    );
    let run = Arc::new(Run {
        args: args.clone(),
        edge,
        key,
        seed,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?,
        next_user: AtomicU64::new(0),
        done: AtomicU64::new(0),
        events: AtomicU64::new(0),
        deadline: Instant::now() + Duration::from_secs(args.max_seconds),
        timed_out: AtomicBool::new(false),
    });
    let progress = tokio::spawn(report_progress(run.clone()));
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..args.concurrency {
        clients.spawn(client(run.clone()));
    }
    let mut tallies: BTreeMap<usize, VariantTally> = BTreeMap::new();
    let mut not_in = BTreeMap::new();
    let mut first_error = None;
    while let Some(joined) = clients.join_next().await {
        match joined.context("a simulated client failed").and_then(|r| r) {
            Ok(tally) => {
                for (variation, t) in tally.variants {
                    let total = tallies.entry(variation).or_insert_with(|| VariantTally {
                        key: t.key.clone(),
                        variation,
                        ..VariantTally::default()
                    });
                    total.exposed += t.exposed;
                    total.converted += t.converted;
                    total.revenue += t.revenue;
                }
                for (reason, n) in tally.not_in {
                    *not_in.entry(reason).or_insert(0) += n;
                }
            }
            Err(e) => {
                // Stop the others at their next user; keep the first error.
                run.next_user.store(u64::MAX / 2, Ordering::Relaxed);
                first_error.get_or_insert(e);
            }
        }
    }
    progress.abort();
    if let Some(e) = first_error {
        return Err(e);
    }
    let in_experiment = tallies.values().map(|t| t.exposed).sum();
    Ok(Summary {
        experiment: args.experiment.clone(),
        seed,
        lift: args.lift,
        base_rate: args.base_rate,
        users: run.done.load(Ordering::Relaxed),
        in_experiment,
        not_in_experiment: not_in,
        events_sent: run.events.load(Ordering::Relaxed),
        variants: tallies.into_values().collect(),
        stopped_by_time_limit: run.timed_out.load(Ordering::Relaxed),
    })
}

async fn report_progress(run: Arc<Run>) {
    let mut last = u64::MAX;
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let done = run.done.load(Ordering::Relaxed);
        if done != last {
            eprintln!(
                "  {done}/{} users, {} events sent",
                run.args.users,
                run.events.load(Ordering::Relaxed)
            );
            last = done;
        }
    }
}

/// One client's share of the tallies.
#[derive(Debug, Default)]
struct ClientTally {
    variants: BTreeMap<usize, VariantTally>,
    not_in: BTreeMap<String, u64>,
}

/// Most events per request (the edge accepts up to 500).
const BATCH: usize = 400;

async fn client(run: Arc<Run>) -> anyhow::Result<ClientTally> {
    let mut tally = ClientTally::default();
    let mut batch = Vec::new();
    loop {
        let user = run.next_user.fetch_add(1, Ordering::Relaxed);
        if user >= run.args.users {
            break;
        }
        if Instant::now() >= run.deadline {
            run.timed_out.store(true, Ordering::Relaxed);
            break;
        }
        simulate(&run, user, &mut tally, &mut batch).await?;
        run.done.fetch_add(1, Ordering::Relaxed);
        if batch.len() >= BATCH {
            send(&run, std::mem::take(&mut batch)).await?;
        }
    }
    if !batch.is_empty() {
        send(&run, batch).await?;
    }
    Ok(tally)
}

/// Assigns one user and queues its events.
async fn simulate(
    run: &Run,
    user: u64,
    tally: &mut ClientTally,
    batch: &mut Vec<Value>,
) -> anyhow::Result<()> {
    let unit = format!("demo-{:x}-{user}", run.seed);
    let url = format!("{}/v1/assign", run.edge);
    let response = run
        .http
        .post(&url)
        .bearer_auth(&run.key)
        .json(&json!({"context": {"user_id": unit}, "experiments": [run.args.experiment]}))
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    anyhow::ensure!(status.is_success(), "POST {url} answered {status}: {body}");
    let assignment = &body["assignments"][0];
    if assignment["in_experiment"].as_bool() != Some(true) {
        let reason = assignment["reason"]["kind"]
            .as_str()
            .unwrap_or("unknown")
            .to_owned();
        *tally.not_in.entry(reason).or_insert(0) += 1;
        return Ok(());
    }
    let variant = assignment["variant"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let variation = assignment["variation"].as_u64().unwrap_or(0) as usize;
    let rate = if variation == 0 {
        run.args.base_rate
    } else {
        run.args.base_rate * (1.0 + run.args.lift)
    };
    let now = time::OffsetDateTime::now_utc();
    let stamp = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    batch.push(json!({"id": format!("{unit}-exposure"), "type": "exposure",
        "experiment": run.args.experiment, "variant": variant,
        "units": {"user_id": unit}, "timestamp": stamp(now)}));
    let entry = tally
        .variants
        .entry(variation)
        .or_insert_with(|| VariantTally {
            key: variant.clone(),
            variation,
            ..VariantTally::default()
        });
    entry.exposed += 1;
    if uniform(run.seed, user, 1) < rate {
        let value = (1000.0 + 4000.0 * uniform(run.seed, user, 2)).round() / 100.0;
        batch.push(json!({"id": format!("{unit}-purchase"), "type": "track",
            "event": seed::DEMO_EVENT, "value": value, "units": {"user_id": unit},
            "timestamp": stamp(now + time::Duration::milliseconds(1))}));
        entry.converted += 1;
        entry.revenue += value;
    }
    Ok(())
}

/// Sends one batch; retries while the edge answers 503 (event ids make retries safe).
async fn send(run: &Run, events: Vec<Value>) -> anyhow::Result<()> {
    let url = format!("{}/v1/events", run.edge);
    let body = json!({ "events": events });
    let mut wait = Duration::from_millis(200);
    for attempt in 1..=6 {
        let sent = run
            .http
            .post(&url)
            .bearer_auth(&run.key)
            .json(&body)
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) if attempt < 6 => {
                tracing::debug!(error = %e, "sending events; retrying");
                tokio::time::sleep(wait).await;
                wait *= 2;
                continue;
            }
            Err(e) => return Err(e).with_context(|| format!("POST {url}")),
        };
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if status == reqwest::StatusCode::SERVICE_UNAVAILABLE && attempt < 6 {
            tokio::time::sleep(wait).await;
            wait *= 2;
            continue;
        }
        anyhow::ensure!(
            status == reqwest::StatusCode::ACCEPTED,
            "POST {url} answered {status}: {answer}"
        );
        let accepted = answer["accepted"].as_u64().unwrap_or(0);
        anyhow::ensure!(
            accepted == events.len() as u64,
            "the edge accepted {accepted} of {} events: {answer}",
            events.len()
        );
        run.events.fetch_add(accepted, Ordering::Relaxed);
        return Ok(());
    }
    anyhow::bail!("POST {url}: the edge kept answering 503")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_edges_are_accepted() {
        assert_eq!(
            check_loopback("http://127.0.0.1:8787/").unwrap(),
            "http://127.0.0.1:8787"
        );
        assert!(check_loopback("http://localhost:8787").is_ok());
        assert!(check_loopback("http://[::1]:8787").is_ok());
        for remote in [
            "http://10.0.0.5:8787",
            "http://example.com",
            "https://127.0.0.1:1",
        ] {
            let error = check_loopback(remote).unwrap_err().to_string();
            assert!(error.contains("on this machine"), "{remote}: {error}");
        }
    }

    #[test]
    fn draws_are_uniform_and_depend_only_on_seed_user_and_draw() {
        assert_eq!(uniform(7, 42, 1), uniform(7, 42, 1));
        assert_ne!(uniform(7, 42, 1), uniform(7, 42, 2));
        assert_ne!(uniform(7, 42, 1), uniform(8, 42, 1));
        let n = 100_000;
        let below: usize = (0..n).filter(|&u| uniform(3, u, 1) < 0.25).count();
        // 0.25 ± 5 standard deviations (0.0014 each).
        let share = below as f64 / n as f64;
        assert!((share - 0.25).abs() < 0.007, "share {share}");
        assert!((0..n).all(|u| (0.0..1.0).contains(&uniform(3, u, 2))));
    }
}
