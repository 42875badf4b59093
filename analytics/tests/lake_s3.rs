//! The S3 adapter of the data lake against a local S3-compatible server (moto, started by
//! scripts/with-moto.sh): the consumer archives to S3 while it aggregates, and recomputation
//! from the bucket alone gives the live results.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use bytes::Bytes;
use vane_analytics::config::Config;
use vane_analytics::metrics::Metrics;
use vane_analytics::pipeline::consumer::{Consumer, ConsumerSettings, ManualClock};
use vane_analytics::pipeline::lake::{LakeSink, Manifest};
use vane_analytics::pipeline::lake_s3::S3Lake;
use vane_analytics::pipeline::log::EventLog;
use vane_analytics::pipeline::results;
use vane_analytics::pipeline::store::Store;
use vane_analytics::pipeline::store_sql::SqlStore;

#[tokio::test]
async fn events_archived_to_s3_recompute_to_the_live_results() {
    let Some(endpoint) = common::service_endpoint("VANE_TEST_S3_ENDPOINT", "scripts/with-moto.sh")
    else {
        return;
    };
    let client = S3Lake::client(Some(&endpoint)).await;
    let lake = Arc::new(S3Lake::new(
        client,
        format!("vane-lake-{}", std::process::id()),
        "analytics",
    ));
    lake.ensure_bucket().await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let config = Arc::new(Config::from_json(common::CONFIG).unwrap());
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("a.db").display());
    let store = Arc::new(SqlStore::connect(&url).await.unwrap());
    let log = EventLog::open(&dir.path().join("log"), 1 << 20).unwrap();
    let events = common::events(300, 12);
    for body in common::ndjson_batches(&events, 64) {
        log.append(Bytes::from(body)).await.unwrap();
    }
    let mut consumer = Consumer::new(
        config.clone(),
        Arc::new(log.source()),
        store.clone(),
        Some(lake.clone()),
        Arc::new(ManualClock::new(0)),
        Arc::new(Metrics::new()),
        ConsumerSettings {
            max_records: 4,
            ..ConsumerSettings::default()
        },
    );
    consumer.run_until_idle(10_000).await.unwrap();

    let manifests = lake.list("manifests/").await.unwrap();
    assert!(manifests.len() > 2, "{manifests:?}");
    let manifest: Manifest =
        serde_json::from_slice(&lake.get(&manifests[0]).await.unwrap()).unwrap();
    assert!(
        manifest.objects[0].key.starts_with("events/date=2026-11-"),
        "{manifest:?}"
    );
    assert!(manifest.objects[0].key.ends_with(".ndjson.gz"));

    let recomputed = vane_analytics::app::recompute(config.clone(), lake.as_ref(), None)
        .await
        .unwrap();
    for exp in ["checkout", "banner"] {
        let rows = store.experiment_aggregates(exp).await.unwrap();
        let live = results::compute(&config, exp, &rows).unwrap();
        assert_eq!(
            serde_json::to_string(&recomputed[exp]).unwrap(),
            serde_json::to_string(&live).unwrap(),
            "{exp}"
        );
    }
}
