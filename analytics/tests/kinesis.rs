//! The Kinesis adapter against a local Kinesis-compatible server (kinesalite, started by
//! scripts/with-kinesalite.sh): records packed exactly as the edge packs them, consumed through
//! the same consumer as the embedded log; two workers splitting the shards by lease and taking
//! over a dead worker's shards; a shard split mid-stream, read parents first.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, StreamStatus};
use vane_analytics::config::Config;
use vane_analytics::metrics::Metrics;
use vane_analytics::pipeline::consumer::{
    Clock, CommitReport, Consumer, ConsumerSettings, ManualClock,
};
use vane_analytics::pipeline::kinesis::KinesisSource;
use vane_analytics::pipeline::results;
use vane_analytics::pipeline::state::aggregate_all;
use vane_analytics::pipeline::store::Store;
use vane_analytics::pipeline::store_sql::SqlStore;
use vane_engine::event::EnrichedEvent;

fn endpoint() -> Option<String> {
    common::service_endpoint("VANE_TEST_KINESIS_ENDPOINT", "scripts/with-kinesalite.sh")
}

async fn create_stream(client: &Client, name: &str, shards: i32) {
    client
        .create_stream()
        .stream_name(name)
        .shard_count(shards)
        .send()
        .await
        .unwrap();
    wait_active(client, name).await;
}

async fn wait_active(client: &Client, name: &str) {
    for _ in 0..200 {
        let d = client
            .describe_stream_summary()
            .stream_name(name)
            .send()
            .await
            .unwrap();
        if d.stream_description_summary().map(|s| s.stream_status()) == Some(&StreamStatus::Active)
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("stream {name} did not become active");
}

/// Puts events the way the edge's Kinesis sink does (NDJSON records, partition key from the
/// unit id), in order.
async fn put(client: &Client, stream: &str, events: &[EnrichedEvent]) {
    for chunk in events.chunks(400) {
        let records = vane_edge::events::pack_records(chunk, 16 * 1024);
        for batch in records.chunks(500) {
            let mut pending: Vec<_> = batch.to_vec();
            for _ in 0..20 {
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
                    .stream_name(stream)
                    .set_records(Some(entries))
                    .send()
                    .await
                    .unwrap();
                if out.failed_record_count().unwrap_or(0) == 0 {
                    pending.clear();
                    break;
                }
                pending = out
                    .records()
                    .iter()
                    .zip(pending)
                    .filter(|(r, _)| r.error_code().is_some())
                    .map(|(_, p)| p)
                    .collect();
            }
            assert!(pending.is_empty(), "PutRecords kept failing");
        }
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    config: Arc<Config>,
    store: Arc<SqlStore>,
    client: Client,
    stream: String,
    clock: Arc<ManualClock>,
}

async fn setup(name: &str, shards: i32) -> Option<Setup> {
    let endpoint = endpoint()?;
    let client = KinesisSource::client(Some(&endpoint)).await;
    let stream = format!("{name}-{}", std::process::id());
    create_stream(&client, &stream, shards).await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("a.db").display());
    Some(Setup {
        config: Arc::new(Config::from_json(common::CONFIG).unwrap()),
        store: Arc::new(SqlStore::connect(&url).await.unwrap()),
        _dir: dir,
        client,
        stream,
        clock: Arc::new(ManualClock::new(1_000_000)),
    })
}

impl Setup {
    fn consumer(&self, worker: &str, max_records: usize) -> Consumer {
        Consumer::new(
            self.config.clone(),
            Arc::new(KinesisSource::new(self.client.clone(), &self.stream)),
            self.store.clone(),
            None,
            self.clock.clone(),
            Arc::new(Metrics::new()),
            ConsumerSettings {
                worker: worker.into(),
                max_records,
                lease_ttl_ms: 3000,
            },
        )
    }

    async fn assert_results(&self, events: &[EnrichedEvent]) {
        let rows: Vec<_> = aggregate_all(self.config.clone(), events, 1 << 20)
            .into_iter()
            .collect();
        for exp in ["checkout", "banner"] {
            let live = self.store.experiment_aggregates(exp).await.unwrap();
            assert_eq!(
                serde_json::to_string(&results::compute(&self.config, exp, &live).unwrap())
                    .unwrap(),
                serde_json::to_string(&results::compute(&self.config, exp, &rows).unwrap())
                    .unwrap(),
                "{exp}"
            );
        }
    }
}

#[tokio::test]
async fn a_kinesis_stream_gives_the_same_results_as_the_events_themselves() {
    let Some(s) = setup("vane-an-basic", 3).await else {
        return;
    };
    let events = common::events(500, 7);
    put(&s.client, &s.stream, &events).await;
    let mut consumer = s.consumer("w1", 25);
    let commits = consumer.run_until_idle(10_000).await.unwrap();
    let shards: BTreeSet<&str> = commits.iter().map(|c| c.shard.as_str()).collect();
    assert_eq!(shards.len(), 3, "every shard was read");
    let read: usize = commits.iter().map(|c| c.events).sum();
    assert_eq!(read, events.len());
    let duplicates: u64 = commits.iter().map(|c| c.duplicates).sum();
    assert_eq!(
        duplicates as usize,
        events.len() - common::distinct(&events)
    );
    s.assert_results(&events).await;
}

#[tokio::test]
async fn two_workers_split_the_shards_by_lease_and_one_takes_over_when_the_other_dies() {
    let Some(s) = setup("vane-an-lease", 4).await else {
        return;
    };
    let events = common::events(400, 8);
    let (first, second) = events.split_at(events.len() / 2);
    put(&s.client, &s.stream, first).await;
    let mut a = s.consumer("worker-a", 10);
    let mut b = s.consumer("worker-b", 10);
    // Both alive; step them in turn until both are idle.
    for round in 0.. {
        assert!(round < 2000, "the workers never settled");
        let ra = a.try_step().await.unwrap();
        let rb = b.try_step().await.unwrap();
        s.clock.advance(500);
        if ra.idle() && rb.idle() && ra.shards.len() == 2 && rb.shards.len() == 2 {
            let all: BTreeSet<_> = ra.shards.iter().chain(&rb.shards).collect();
            assert_eq!(
                all.len(),
                4,
                "the workers hold disjoint halves: {ra:?} {rb:?}"
            );
            break;
        }
    }
    s.assert_results(first).await;

    // Worker a dies without releasing its leases; b takes its shards once they expire.
    drop(a);
    put(&s.client, &s.stream, second).await;
    b.run_until_idle(10_000).await.unwrap();
    s.clock.advance(3500);
    let commits = b.run_until_idle(10_000).await.unwrap();
    assert!(!commits.is_empty());
    assert_eq!(b.try_step().await.unwrap().shards.len(), 4);
    s.assert_results(&events).await;
}

#[tokio::test]
async fn a_split_shard_is_read_to_its_end_before_its_children() {
    let Some(s) = setup("vane-an-split", 1).await else {
        return;
    };
    let events = common::events(400, 9);
    let (before, after) = events.split_at(events.len() / 2);
    put(&s.client, &s.stream, before).await;
    let mut consumer = s.consumer("w", 5);
    let mut commits: Vec<CommitReport> = Vec::new();
    for _ in 0..3 {
        commits.extend(consumer.try_step().await.unwrap().commits);
    }
    let parent = commits[0].shard.clone();

    // Split the shard in the middle of its hash key range, then keep writing.
    s.client
        .split_shard()
        .stream_name(&s.stream)
        .shard_to_split(&parent)
        .new_starting_hash_key("170141183460469231731687303715884105728")
        .send()
        .await
        .unwrap();
    wait_active(&s.client, &s.stream).await;
    put(&s.client, &s.stream, after).await;
    for round in 0.. {
        assert!(round < 5000, "never caught up");
        let report = consumer.try_step().await.unwrap();
        s.clock.advance(1100);
        let done = report.idle() && report.shards.len() == 2;
        commits.extend(report.commits);
        if done {
            break;
        }
    }
    let parent_end = commits
        .iter()
        .position(|c| c.shard == parent && c.finished)
        .expect("the parent was read to its end");
    let first_child = commits
        .iter()
        .position(|c| c.shard != parent)
        .expect("children were read");
    assert!(
        parent_end < first_child,
        "parent finished at {parent_end}, child started at {first_child}"
    );
    assert!(
        commits[parent_end..]
            .iter()
            .all(|c| c.shard != parent || c.finished)
    );
    let children: BTreeSet<&str> = commits
        .iter()
        .filter(|c| c.shard != parent)
        .map(|c| c.shard.as_str())
        .collect();
    assert_eq!(children.len(), 2);
    s.assert_results(&events).await;
    let _ = s.clock.now_ms();
}
