//! Analytics benchmarks (a bench binary, not timed tests). Figures and the commands that
//! produced them are in docs/benchmarks.md.
//!
//! ```text
//! cargo bench -p vane-analytics --bench pipeline -- ingest  [EVENTS] [CLIENTS]
//! cargo bench -p vane-analytics --bench pipeline -- results [UNITS]
//! cargo bench -p vane-analytics --bench pipeline -- kinesis [EVENTS]   (needs VANE_TEST_KINESIS_ENDPOINT)
//! ```
//!
//! * `ingest`: the real service on 127.0.0.1 (embedded log, SQLite, local lake): concurrent
//!   clients post NDJSON batches of 500 events; measured from the first post until the
//!   consumer's checkpoint reaches the end of the log (every event aggregated and committed).
//! * `results`: one experiment with UNITS units × 3 variants × 10 metrics: the stages in memory,
//!   then results computed from the aggregates stored in SQLite (what the API does).
//! * `kinesis`: PutRecords throughput (records packed as the edge packs them) and consumer
//!   throughput, against a Kinesis-compatible server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use vane_analytics::app::{AnalyticsArgs, Application, LakeArgs};
use vane_analytics::config::Config;
use vane_analytics::metrics::Metrics;
use vane_analytics::pipeline::consumer::{Consumer, ConsumerSettings, SystemClock};
use vane_analytics::pipeline::kinesis::KinesisSource;
use vane_analytics::pipeline::results;
use vane_analytics::pipeline::state::PipelineState;
use vane_analytics::pipeline::store::{Checkpoint, Commit, LeaseRequest, Store};
use vane_analytics::pipeline::store_sql::SqlStore;
use vane_engine::event::{EnrichedEvent, Event, EventKind};
use vane_engine::time::Timestamp;

const T0: i64 = 1_795_132_800_000;

fn ten_metrics_config() -> String {
    r#"{
      "experiments": [{"key": "big", "variants": ["control", "b", "c"], "unit": "user_id",
        "start": "2026-11-19T00:00:00Z",
        "metrics": ["m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9"]}],
      "metrics": [
        {"key": "m0", "type": "conversion", "event": "e0", "window_hours": 72},
        {"key": "m1", "type": "conversion", "event": "e1", "cuped": {"window_hours": 168}},
        {"key": "m2", "type": "count", "event": "e2"},
        {"key": "m3", "type": "count", "event": "e3", "window_hours": 24, "cap": 5},
        {"key": "m4", "type": "sum", "event": "e4"},
        {"key": "m5", "type": "sum", "event": "e4", "cap": 100, "cuped": {"window_hours": 168}},
        {"key": "m6", "type": "mean", "event": "e5"},
        {"key": "m7", "type": "ratio", "numerator": "e4", "denominator": "e2"},
        {"key": "m8", "type": "ratio", "numerator": "e5", "denominator": "e0"},
        {"key": "m9", "type": "conversion", "event": "e6", "window_hours": 1}
      ]
    }"#
    .to_owned()
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn event(id: String, user: &str, at: i64, kind: EventKind) -> EnrichedEvent {
    EnrichedEvent {
        event: Event {
            id,
            kind,
            timestamp: Timestamp::from_unix_millis(at),
            units: BTreeMap::from([("user_id".to_owned(), user.to_owned())]),
            properties: None,
        },
        received_at: Timestamp::from_unix_millis(at + 1000),
        environment: "production".into(),
        snapshot_version: 1,
        edge: "bench".into(),
        country: None,
    }
}

/// `units` users: one exposure each and about `tracks` tracked events (events e0..e6).
fn generate(units: usize, tracks: u64, seed: u64) -> Vec<EnrichedEvent> {
    let mut rng = Rng(seed | 1);
    let mut out = Vec::with_capacity(units * (tracks as usize + 1));
    for u in 0..units {
        let user = format!("u{u}");
        let start = T0 + rng.below(3 * 86_400_000) as i64;
        let variant = ["control", "b", "c"][u % 3];
        out.push(event(
            format!("{user}-x"),
            &user,
            start,
            EventKind::Exposure {
                experiment: "big".into(),
                variant: variant.into(),
            },
        ));
        for t in 0..rng.below(2 * tracks + 1) {
            let at = start - 86_400_000 + rng.below(4 * 86_400_000) as i64;
            out.push(event(
                format!("{user}-t{t}"),
                &user,
                at,
                EventKind::Track {
                    event: format!("e{}", rng.below(7)),
                    value: Some(rng.below(10_000) as f64 / 100.0),
                },
            ));
        }
    }
    out
}

fn ndjson(events: &[EnrichedEvent], per_batch: usize) -> Vec<bytes::Bytes> {
    events
        .chunks(per_batch)
        .map(|chunk| {
            let mut body = Vec::new();
            for e in chunk {
                serde_json::to_writer(&mut body, e).unwrap();
                body.push(b'\n');
            }
            bytes::Bytes::from(body)
        })
        .collect()
}

fn rate(n: usize, d: Duration) -> String {
    format!("{:.0}/s", n as f64 / d.as_secs_f64())
}

async fn ingest(events_total: usize, clients: usize) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    std::fs::write(&config, ten_metrics_config()).unwrap();
    let args = AnalyticsArgs {
        data_dir: dir.path().to_owned(),
        database_url: None,
        listen: "127.0.0.1:0".parse().unwrap(),
        config: Some(config),
        core: Default::default(),
        config_refresh_secs: 10,
        kinesis_stream: None,
        kinesis_endpoint: None,
        lake: LakeArgs {
            no_lake: std::env::var("VANE_BENCH_NO_LAKE").is_ok(),
            ..LakeArgs::default()
        },
        worker_id: None,
        results_interval_secs: 3600,
        max_records: 200,
        lease_ttl_ms: 10_000,
        log_segment_bytes: 128 << 20,
        max_body_bytes: 8 << 20,
        idle_poll_ms: 5,
    };
    let units = events_total / 4;
    let events = generate(units, 3, 7);
    let n = events.len();
    let batches = Arc::new(ndjson(&events, 500));
    drop(events);
    let bytes: usize = batches.iter().map(|b| b.len()).sum();
    let app = Application::build(&args).await.unwrap();
    let base = format!("http://{}", app.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, base, batches, next) =
            (client.clone(), base.clone(), batches.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(body) = batches.get(i) else { return };
                let r = client
                    .post(format!("{base}/v1/ingest"))
                    .header("content-type", "application/x-ndjson")
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                assert!(
                    r.status().is_success(),
                    "{}",
                    r.text().await.unwrap_or_default()
                );
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let ingested = start.elapsed();
    loop {
        let s: serde_json::Value = client
            .get(format!("{base}/v1/status"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let end = s["log_end"].as_u64().unwrap_or(0);
        if s["shards"]["log-0"]["position"].as_str() == Some(end.to_string().as_str()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let total = start.elapsed();
    println!(
        "ingest: {n} events ({} MB NDJSON, {units} units, {} batches of 500, {clients} clients)",
        bytes / 1_000_000,
        batches.len()
    );
    println!(
        "  acknowledged (fsynced) in {:.2} s: {} events",
        ingested.as_secs_f64(),
        rate(n, ingested)
    );
    println!(
        "  ingest -> aggregates committed in {:.2} s: {} events",
        total.as_secs_f64(),
        rate(n, total)
    );
    let t = Instant::now();
    let r = client
        .post(format!("{base}/api/v1/experiments/big/results"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    println!(
        "  results (10 metrics, 3 variants) in {:.0} ms",
        t.elapsed().as_secs_f64() * 1000.0
    );
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

async fn results_bench(units: usize) {
    let config = Arc::new(Config::from_json(&ten_metrics_config()).unwrap());
    let events = generate(units, 3, 11);
    let n = events.len();
    let start = Instant::now();
    let mut state = PipelineState::new(config.clone(), false);
    let mut totals = vane_analytics::pipeline::aggregate::Deltas::default();
    for chunk in events.chunks(50_000) {
        let plan = state.plan(chunk);
        for (slot, d) in &plan.deltas {
            totals.entry(*slot).or_default().add(d);
        }
        state.apply(plan, 0);
    }
    let staged = start.elapsed();
    println!("results: {units} units x 3 variants x 10 metrics ({n} events)");
    println!(
        "  dedup + join + aggregate in memory: {:.2} s, {} events",
        staged.as_secs_f64(),
        rate(n, staged)
    );
    drop(events);
    let rows: Vec<_> = vane_analytics::pipeline::state::by_key(&config, &totals)
        .into_iter()
        .collect();

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("a.db").display());
    let store = SqlStore::connect(&url).await.unwrap();
    store
        .balance_leases(&LeaseRequest {
            stream: "bench".into(),
            worker: "w".into(),
            now: 0,
            ttl_ms: 1_000_000,
            eligible: vec!["0".into()],
        })
        .await
        .unwrap();
    store
        .commit(&Commit {
            expected_seq: 0,
            stream: "bench".into(),
            shard: "0".into(),
            worker: "w".into(),
            previous_position: None,
            checkpoint: Checkpoint::default(),
            facts: None,
            dedup: Vec::new(),
            prune_dedup_before_hour: None,
            aggregates: rows.clone(),
            lease_until: 1_000_000,
        })
        .await
        .unwrap();
    let start = Instant::now();
    let stored = store.experiment_aggregates("big").await.unwrap();
    let computed = results::compute(&config, "big", &stored).unwrap();
    let body = serde_json::to_string(&computed).unwrap();
    let took = start.elapsed();
    println!(
        "  results from the stored aggregates ({} rows, {} days of series): {:.0} ms, {} KB JSON",
        stored.len(),
        computed.series[0].points.len(),
        took.as_secs_f64() * 1000.0,
        body.len() / 1000
    );
    assert_eq!(computed.units.iter().sum::<u64>() as usize, units);
    let start = Instant::now();
    let fresh = state.totals();
    let fresh_rows: Vec<_> = fresh.into_iter().collect();
    let again = results::compute(&config, "big", &fresh_rows).unwrap();
    println!(
        "  full recomputation from the {units} units' state + results: {:.0} ms",
        start.elapsed().as_secs_f64() * 1000.0
    );
    assert_eq!(serde_json::to_string(&again).unwrap(), body);
}

async fn kinesis(events_total: usize) {
    let Ok(endpoint) = std::env::var("VANE_TEST_KINESIS_ENDPOINT") else {
        eprintln!(
            "kinesis: set VANE_TEST_KINESIS_ENDPOINT (run through scripts/with-kinesalite.sh)"
        );
        return;
    };
    use aws_sdk_kinesis::primitives::Blob;
    use aws_sdk_kinesis::types::PutRecordsRequestEntry;
    let client = KinesisSource::client(Some(&endpoint)).await;
    let stream = format!("bench-{}", std::process::id());
    client
        .create_stream()
        .stream_name(&stream)
        .shard_count(4)
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let events = generate(events_total / 4, 3, 5);
    let n = events.len();
    let records = vane_edge::events::pack_records(&events, 64 * 1024);
    let record_count = records.len();
    let start = Instant::now();
    for batch in records.chunks(500) {
        let mut pending = batch.to_vec();
        while !pending.is_empty() {
            let entries = pending
                .iter()
                .map(|r| {
                    PutRecordsRequestEntry::builder()
                        .partition_key(&r.partition_key)
                        .data(Blob::new(r.data.clone()))
                        .build()
                        .unwrap()
                })
                .collect();
            let out = client
                .put_records()
                .stream_name(&stream)
                .set_records(Some(entries))
                .send()
                .await
                .unwrap();
            pending = out
                .records()
                .iter()
                .zip(pending)
                .filter(|(r, _)| r.error_code().is_some())
                .map(|(_, p)| p)
                .collect();
        }
    }
    let put = start.elapsed();
    println!("kinesis: {n} events packed into {record_count} records (4 shards)");
    println!(
        "  producer (PutRecords, 500 records per call): {:.2} s, {} records, {} events",
        put.as_secs_f64(),
        rate(record_count, put),
        rate(n, put)
    );
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("a.db").display());
    let store = Arc::new(SqlStore::connect(&url).await.unwrap());
    let mut consumer = Consumer::new(
        Arc::new(Config::from_json(&ten_metrics_config()).unwrap()),
        Arc::new(KinesisSource::new(client.clone(), &stream)),
        store,
        None,
        Arc::new(SystemClock),
        Arc::new(Metrics::new()),
        ConsumerSettings {
            worker: "bench".into(),
            max_records: 10_000,
            lease_ttl_ms: 60_000,
        },
    );
    let start = Instant::now();
    let commits = consumer.run_until_idle(1_000_000).await.unwrap();
    let took = start.elapsed();
    let consumed: usize = commits.iter().map(|c| c.events).sum();
    assert_eq!(consumed, n);
    println!(
        "  consumer (GetRecords -> aggregates committed): {:.2} s, {} records, {} events",
        took.as_secs_f64(),
        rate(record_count, took),
        rate(n, took)
    );
}

async fn lake_bench(events_total: usize) {
    use vane_analytics::pipeline::lake::{LocalLake, archive, encode_batch};
    let events = generate(events_total / 4, 3, 3);
    let refs: Vec<&EnrichedEvent> = events.iter().collect();
    let start = Instant::now();
    let (objects, _) = encode_batch("b", &refs).unwrap();
    let encoded = start.elapsed();
    let bytes: usize = objects.iter().map(|(_, b)| b.len()).sum();
    println!(
        "lake: {} events -> {} objects, {} MB gzip: encode {:.2} s ({})",
        events.len(),
        objects.len(),
        bytes / 1_000_000,
        encoded.as_secs_f64(),
        rate(events.len(), encoded)
    );
    let dir = tempfile::tempdir().unwrap();
    let lake = LocalLake::new(dir.path());
    let start = Instant::now();
    archive(&lake, "b", &refs).await.unwrap();
    println!(
        "  archive to a directory (encode + write + fsync): {:.2} s",
        start.elapsed().as_secs_f64()
    );
}

/// Per-stage cost of one consumer batch (after a warm-up of the same size).
fn stages_bench(events_total: usize) {
    use vane_analytics::pipeline::{codec, lake, validate};
    let config = Arc::new(Config::from_json(&ten_metrics_config()).unwrap());
    let all = generate(events_total / 2, 3, 9);
    let (warm, batch) = all.split_at(all.len() / 2);
    let mut state = PipelineState::new(config.clone(), false);
    let plan = state.plan(warm);
    state.apply(plan, 1);
    let text = ndjson(batch, 500);
    let n = batch.len();
    let t = Instant::now();
    let (mut events, mut lines) = (Vec::new(), Vec::new());
    for body in &text {
        validate::parse_record_lines(body, &mut events, &mut lines);
    }
    let parse = t.elapsed();
    let t = Instant::now();
    let filtered = state.filter(&events);
    let filter = t.elapsed();
    let kept: Vec<(i64, &[u8])> = filtered
        .kept
        .iter()
        .map(|&i| (events[i].event.timestamp.unix_millis(), &lines[i][..]))
        .collect();
    let t = Instant::now();
    let encoded = lake::encode_lines("b", &kept).unwrap();
    let lake_time = t.elapsed();
    let t = Instant::now();
    let plan = state.plan_filtered(&events, filtered.clone());
    let plan_time = t.elapsed();
    let t = Instant::now();
    let facts = codec::encode_facts(&config, &plan.facts);
    let facts_time = t.elapsed();
    let t = Instant::now();
    state.apply(plan, 2);
    let apply = t.elapsed();
    println!(
        "stages: one batch of {n} events ({} objects, {} KB of facts)",
        encoded.0.len(),
        facts.len() / 1000
    );
    for (name, d) in [
        ("parse + validate", parse),
        ("dedup", filter),
        ("lake encode", lake_time),
        ("facts + join + deltas", plan_time),
        ("facts encode", facts_time),
        ("apply", apply),
    ] {
        println!(
            "  {name:>22}: {:>6.0} ms  {:>9}",
            d.as_secs_f64() * 1000.0,
            rate(n, d)
        );
    }
}

fn main() {
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let arg =
        |i: usize, default: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    match args.first().map(String::as_str) {
        Some("ingest") => runtime.block_on(ingest(arg(1, 1_000_000), arg(2, 8))),
        Some("results") => runtime.block_on(results_bench(arg(1, 1_000_000))),
        Some("kinesis") => runtime.block_on(kinesis(arg(1, 200_000))),
        Some("lake") => runtime.block_on(lake_bench(arg(1, 200_000))),
        Some("stages") => stages_bench(arg(1, 270_000)),
        _ => {
            runtime.block_on(ingest(1_000_000, 8));
            runtime.block_on(results_bench(1_000_000));
            runtime.block_on(kinesis(200_000));
        }
    }
}
