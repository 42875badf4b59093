//! The embedded path end to end: NDJSON posted to the ingest endpoint, the local log, the
//! consumer driven step by step, the database aggregates, results, and recomputation from the
//! lake.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, RwLock};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tokio::sync::Notify;
use tower::ServiceExt;
use vane_analytics::config::Config;
use vane_analytics::live::SharedConfig;
use vane_analytics::metrics::Metrics;
use vane_analytics::pipeline::consumer::{Consumer, ConsumerSettings, ManualClock};
use vane_analytics::pipeline::lake::LocalLake;
use vane_analytics::pipeline::log::{EventLog, LOG_SHARD};
use vane_analytics::pipeline::results;
use vane_analytics::pipeline::state::aggregate_all;
use vane_analytics::pipeline::store::Store;
use vane_analytics::pipeline::store_sql::SqlStore;
use vane_analytics::service::{self, AppState, Status};

struct Harness {
    _dir: tempfile::TempDir,
    config: Arc<Config>,
    log: Arc<EventLog>,
    store: Arc<SqlStore>,
    lake: Arc<LocalLake>,
    state: AppState,
}

async fn harness_with(url: Option<String>) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let config = Arc::new(Config::from_json(common::CONFIG).unwrap());
    let url =
        url.unwrap_or_else(|| format!("sqlite://{}?mode=rwc", dir.path().join("a.db").display()));
    let store = Arc::new(SqlStore::connect(&url).await.unwrap());
    let log = Arc::new(EventLog::open(&dir.path().join("log"), 1 << 16).unwrap());
    let lake = Arc::new(LocalLake::new(dir.path().join("lake")));
    let state = AppState {
        config: SharedConfig::fixed(config.clone(), "test"),
        store: store.clone(),
        log: Some(log.clone()),
        metrics: Arc::new(Metrics::new()),
        status: Arc::new(RwLock::new(Status::default())),
        wake: Arc::new(Notify::new()),
        clock: Arc::new(ManualClock::new(common::T0 + 10 * 86_400_000)),
        max_body_bytes: 1 << 20,
    };
    Harness {
        _dir: dir,
        config,
        log,
        store,
        lake,
        state,
    }
}

async fn harness() -> Harness {
    harness_with(None).await
}

impl Harness {
    fn consumer(&self, max_records: usize) -> Consumer {
        Consumer::new(
            self.config.clone(),
            Arc::new(self.log.source()),
            self.store.clone(),
            Some(self.lake.clone()),
            self.state.clock.clone(),
            self.state.metrics.clone(),
            ConsumerSettings {
                max_records,
                ..ConsumerSettings::default()
            },
        )
    }

    async fn post(&self, body: String) -> (StatusCode, String, serde_json::Value) {
        let response = service::router(self.state.clone())
            .oneshot(
                Request::post("/v1/ingest")
                    .header("content-type", "application/x-ndjson")
                    .body(Body::from(body))
                    .unwrap(),
            )
            .await
            .unwrap();
        let status = response.status();
        let kind = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            kind,
            serde_json::from_slice(&bytes).unwrap_or_default(),
        )
    }

    async fn live_results(&self, experiment: &str) -> String {
        let rows = self.store.experiment_aggregates(experiment).await.unwrap();
        serde_json::to_string(&results::compute(&self.config, experiment, &rows).unwrap()).unwrap()
    }
}

#[tokio::test]
async fn ingested_events_give_the_same_results_as_a_recomputation_from_the_lake() {
    let h = harness().await;
    let events = common::events(600, 1);
    for body in common::ndjson_batches(&events, 100) {
        let (status, _, json) = h.post(body).await;
        assert_eq!(status, StatusCode::OK, "{json}");
    }
    let mut consumer = h.consumer(7);
    let commits = consumer.run_until_idle(100_000).await.unwrap();
    assert!(commits.len() > 3);
    let checkpoint = &consumer.checkpoints()[LOG_SHARD];
    assert_eq!(checkpoint.position, Some(h.log.end().to_string()));
    // Duplicates are counted once: every copy after the first is dropped and counted.
    let distinct = common::distinct(&events);
    assert!(distinct < events.len());
    assert_eq!(checkpoint.counters.events, events.len() as i64);
    assert_eq!(
        checkpoint.counters.duplicates,
        (events.len() - distinct) as i64
    );

    let recomputed = vane_analytics::app::recompute(h.config.clone(), h.lake.as_ref(), None)
        .await
        .unwrap();
    let rows: Vec<_> = aggregate_all(h.config.clone(), &events, 1_000_000)
        .into_iter()
        .collect();
    for exp in ["checkout", "banner"] {
        let live = h.live_results(exp).await;
        assert_eq!(
            live,
            serde_json::to_string(&recomputed[exp]).unwrap(),
            "{exp}: lake"
        );
        let direct =
            serde_json::to_string(&results::compute(&h.config, exp, &rows).unwrap()).unwrap();
        assert_eq!(live, direct, "{exp}: one batch in memory");
    }
    let checkout: serde_json::Value =
        serde_json::from_str(&h.live_results("checkout").await).unwrap();
    let units: u64 = checkout["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_u64().unwrap())
        .sum();
    let excluded = checkout["excluded_units"].as_u64().unwrap();
    assert_eq!(units + excluded, 600);
    assert!(excluded > 0, "the data set has units in two variants");
    assert_eq!(checkout["metrics"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn a_bad_line_is_refused_with_problem_json_naming_it_and_nothing_is_appended() {
    let h = harness().await;
    let events = common::events(3, 2);
    let good = common::ndjson_batches(&events, 100).remove(0);
    let mut lines: Vec<&str> = good.lines().collect();
    lines.insert(2, r#"{"id": "x", "type": "track"}"#);
    let (status, kind, problem) = h.post(lines.join("\n")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(kind, "application/problem+json");
    assert_eq!(problem["line"], 3);
    assert_eq!(problem["status"], 400);
    assert!(
        problem["detail"].as_str().unwrap().starts_with("line 3:"),
        "{problem}"
    );
    assert_eq!(h.log.end(), 0);

    let mut far = events[0].clone();
    far.event.timestamp = vane_engine::time::Timestamp::from_unix_millis(
        far.received_at.unix_millis() + 3 * 3_600_000,
    );
    let (status, _, problem) = h.post(serde_json::to_string(&far).unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        (problem["line"].as_u64(), problem["field"].as_str()),
        (Some(1), Some("timestamp"))
    );

    let (status, _, problem) = h.post("\n\n".into()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    let (status, _, _) = h.post(good).await;
    assert_eq!(status, StatusCode::OK);
    assert!(h.log.end() > 0);
}

#[tokio::test]
async fn results_are_served_as_json_and_csv_with_their_computation_time() {
    let h = harness().await;
    for body in common::ndjson_batches(&common::events(200, 3), 250) {
        assert_eq!(h.post(body).await.0, StatusCode::OK);
    }
    h.consumer(100).run_until_idle(1000).await.unwrap();
    let app = service::router(h.state.clone());
    let response = app
        .clone()
        .oneshot(
            Request::post("/api/v1/experiments/checkout/results")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = String::from_utf8(
        axum::body::to_bytes(response.into_body(), 1 << 24)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["computed_at"], "2026-11-30T00:00:00Z");
    assert_eq!(body["results"]["experiment"], "checkout");
    let raw = &text[text.find("\"results\":").unwrap() + 10..text.len() - 1];
    assert_eq!(raw, h.live_results("checkout").await);
    let series = &body["results"]["series"][0];
    assert_eq!(series["metric"], "purchased");
    assert!(series["points"].as_array().unwrap().len() >= 3);

    let response = app
        .clone()
        .oneshot(
            Request::get("/api/v1/experiments/checkout/results.csv")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let csv = String::from_utf8(
        axum::body::to_bytes(response.into_body(), 1 << 24)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    assert_eq!(csv.lines().count(), 1 + 5 * 2);
    assert!(
        csv.lines()
            .nth(1)
            .unwrap()
            .starts_with("checkout,purchased,conversion,control,")
    );

    let response = app
        .clone()
        .oneshot(
            Request::get("/api/v1/experiments/nope/results")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );

    for path in ["/healthz", "/metrics", "/v1/status"] {
        let response = app
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn a_consumer_restarted_midway_rebuilds_its_state_and_ends_with_the_same_aggregates() {
    let events = common::events(300, 4);
    let batches = common::ndjson_batches(&events, 50);

    let whole = harness().await;
    for body in &batches {
        whole.post(body.clone()).await;
    }
    whole.consumer(5).run_until_idle(100_000).await.unwrap();

    let split = harness().await;
    for body in &batches {
        split.post(body.clone()).await;
    }
    let mut first = split.consumer(5);
    for _ in 0..6 {
        first.try_step().await.unwrap();
    }
    let seq = first.state().seq();
    assert!(seq > 0);
    drop(first);
    let mut second = split.consumer(3);
    second.run_until_idle(100_000).await.unwrap();
    assert!(second.state().seq() > seq);
    for exp in ["checkout", "banner"] {
        assert_eq!(
            split.live_results(exp).await,
            whole.live_results(exp).await,
            "{exp}"
        );
    }
}

#[tokio::test]
async fn the_pipeline_runs_on_postgresql() {
    let Ok(url) = std::env::var("VANE_TEST_POSTGRES_URL") else {
        eprintln!(
            "skipped: VANE_TEST_POSTGRES_URL is not set (run through scripts/with-postgres.sh)"
        );
        return;
    };
    // A fresh database per run.
    let name = format!("vane_analytics_{}", std::process::id());
    {
        use sqlx::Connection;
        let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name}"
        )))
        .execute(&mut admin)
        .await
        .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
    }
    let base = url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b);
    let pg = harness_with(Some(format!("{base}/{name}"))).await;
    let lite = harness().await;
    let events = common::events(200, 5);
    for body in common::ndjson_batches(&events, 40) {
        pg.post(body.clone()).await;
        lite.post(body).await;
    }
    pg.consumer(4).run_until_idle(100_000).await.unwrap();
    lite.consumer(9).run_until_idle(100_000).await.unwrap();
    for exp in ["checkout", "banner"] {
        assert_eq!(
            pg.live_results(exp).await,
            lite.live_results(exp).await,
            "{exp}"
        );
    }
}
