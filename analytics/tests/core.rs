//! Analytics following core-api (`--core-url`), both services in-process: analytics loads the
//! experiments and metrics core-api defines and follows their changes (a new experiment, a
//! restart, core going away), and core-api serves the results analytics computes.
//!
//! core-api is reached through a TCP relay the test can switch off, to make it unreachable.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use secrecy::SecretString;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;
use vane_analytics::app::{AnalyticsArgs, Application, CoreConfigArgs, LakeArgs, RecomputeArgs};
use vane_analytics::live::SharedConfig;
use vane_analytics::pipeline::consumer::ManualClock;
use vane_analytics::service;
use vane_engine::event::{EnrichedEvent, Event, EventKind};
use vane_engine::time::Timestamp;

/// core-api's clock when the experiments start: 2026-11-19T00:00:00Z.
const START: OffsetDateTime = datetime!(2026-11-19 00:00:00 UTC);
const HOUR: i64 = 3_600_000;
const ADMIN: &str = "admin@example.com";
const PASSWORD: &str = "correct horse battery staple";

fn ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap()
}

/// A TCP relay to `target` that drops every connection while switched off.
async fn relay(target: SocketAddr, up: Arc<AtomicBool>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else {
                return;
            };
            if !up.load(Ordering::SeqCst) {
                drop(inbound);
                continue;
            }
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    url
}

/// Both services, and the client of each.
struct Stack {
    _dir: tempfile::TempDir,
    http: reqwest::Client,
    /// core-api itself (tests call it directly).
    core: String,
    core_clock: Arc<vane_core::ManualClock>,
    /// Whether the relay analytics reaches core-api through lets connections through.
    core_up: Arc<AtomicBool>,
    admin: String,
    /// The id of the admin API key analytics reads core-api with.
    key_id: String,
    analytics: Application,
    analytics_url: String,
    /// What analytics was started with: where it reads core-api, with which token, and where
    /// its lake is.
    core_front: String,
    token: String,
    data_dir: std::path::PathBuf,
    lake_dir: std::path::PathBuf,
}

impl Stack {
    /// core-api with its first definitions (`seed`), then analytics pointed at it.
    async fn start(core_reachable: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        // Analytics' address first: core-api is configured with it.
        let analytics_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let analytics_url = format!("http://{}", analytics_listener.local_addr().unwrap());

        let core_clock = Arc::new(vane_core::ManualClock::new(START));
        let mut config = vane_core::Config::new(
            SecretString::from(format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("core.sqlite").display()
            )),
            "127.0.0.1:0".parse().unwrap(),
        );
        config.clock = core_clock.clone();
        config.scheduler_interval = None;
        config.password_cost = vane_core::PasswordCost::Fast;
        config.bootstrap_admin = Some(vane_core::BootstrapAdmin {
            email: ADMIN.into(),
            password: Some(SecretString::from(PASSWORD)),
        });
        config.analytics_url = Some(analytics_url.clone());
        let (core_address, _) = vane_core::build(config).await.unwrap().spawn();
        let core = format!("http://{core_address}");
        let http = reqwest::Client::new();
        let login: Value = http
            .post(format!("{core}/api/v1/auth/login"))
            .json(&json!({"email": ADMIN, "password": PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let admin = login["token"].as_str().unwrap().to_owned();
        let stack0 = Stack0 {
            http: http.clone(),
            core: core.clone(),
            admin: admin.clone(),
        };
        stack0
            .call(
                "POST",
                "/api/v1/environments",
                None,
                Some(json!({"key": "production", "name": "Production"})),
            )
            .await;
        let key = stack0
            .call(
                "POST",
                "/api/v1/environments/production/api-keys",
                None,
                Some(json!({"kind": "admin", "name": "analytics"})),
            )
            .await;
        seed(&stack0).await;

        let core_up = Arc::new(AtomicBool::new(core_reachable));
        let core_front = relay(core_address, core_up.clone()).await;
        let token = key["key"].as_str().unwrap().to_owned();
        let data_dir = dir.path().join("analytics");
        let lake_dir = dir.path().join("lake");
        let args = AnalyticsArgs {
            data_dir: data_dir.clone(),
            database_url: None,
            listen: "127.0.0.1:0".parse().unwrap(),
            config: None,
            core: CoreConfigArgs {
                core_url: Some(core_front.clone()),
                core_token: Some(SecretString::from(token.clone())),
            },
            config_refresh_secs: 3600,
            kinesis_stream: None,
            kinesis_endpoint: None,
            lake: LakeArgs {
                lake_dir: Some(lake_dir.clone()),
                ..LakeArgs::default()
            },
            worker_id: None,
            results_interval_secs: 3600,
            max_records: 100,
            lease_ttl_ms: 10_000,
            log_segment_bytes: 1 << 20,
            max_body_bytes: 1 << 20,
            idle_poll_ms: 10,
        };
        let clock = Arc::new(ManualClock::new(ms(START) + 30 * 24 * HOUR));
        let analytics = Application::build_with_clock(&args, clock).await.unwrap();
        // Served by the test; the consumer is stepped by hand.
        let router = service::router(analytics.state().clone());
        tokio::spawn(async move { axum::serve(analytics_listener, router).await });
        Self {
            _dir: dir,
            http,
            core,
            core_clock,
            core_up,
            admin,
            key_id: key["id"].as_str().unwrap().to_owned(),
            analytics,
            analytics_url,
            core_front,
            token,
            data_dir,
            lake_dir,
        }
    }

    fn shared(&self) -> Arc<SharedConfig> {
        self.analytics.state().config.clone()
    }

    fn stack0(&self) -> Stack0 {
        Stack0 {
            http: self.http.clone(),
            core: self.core.clone(),
            admin: self.admin.clone(),
        }
    }

    /// Posts events to analytics' ingest endpoint and consumes until idle.
    async fn ingest(&mut self, events: &[EnrichedEvent]) {
        let body: String = events
            .iter()
            .map(|e| serde_json::to_string(e).unwrap() + "\n")
            .collect();
        let response = self
            .http
            .post(format!("{}/v1/ingest", self.analytics_url))
            .header("content-type", "application/x-ndjson")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
        self.analytics
            .consumer_mut()
            .run_until_idle(100)
            .await
            .unwrap();
    }

    async fn analytics_status(&self) -> Value {
        self.http
            .get(format!("{}/v1/status", self.analytics_url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// A core-api route: status, content type, body.
    async fn results(
        &self,
        method: &str,
        key: &str,
        query: &str,
        token: &str,
    ) -> (u16, String, String) {
        let url = format!("{}/api/v1/experiments/{key}/results{query}", self.core);
        let response = self
            .http
            .request(method.parse().unwrap(), url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let kind = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, kind, response.text().await.unwrap())
    }

    /// Results computed now, through core-api: `results` of the answer.
    async fn computed(&self, key: &str) -> Value {
        let (status, _, body) = self.results("POST", key, "", &self.admin).await;
        assert_eq!(status, 200, "{body}");
        let value: Value = serde_json::from_str(&body).unwrap();
        value["results"].clone()
    }
}

/// core-api's client, before analytics exists.
struct Stack0 {
    http: reqwest::Client,
    core: String,
    admin: String,
}

impl Stack0 {
    /// Calls core-api, asserting success; `version` goes in `If-Match`.
    async fn call(
        &self,
        method: &str,
        path: &str,
        version: Option<i64>,
        body: Option<Value>,
    ) -> Value {
        let mut request = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.core))
            .bearer_auth(&self.admin);
        if let Some(version) = version {
            request = request.header("if-match", format!("\"{version}\""));
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    async fn metric(&self, body: Value) {
        self.call("POST", "/api/v1/metrics", None, Some(body)).await;
    }

    async fn experiment(&self, key: &str, metrics: Value) {
        self.call(
            "POST",
            "/api/v1/experiments",
            None,
            Some(json!({
                "key": key, "environment": "production", "name": key,
                "variants": [{"key": "control", "weight": 0.5}, {"key": "treatment", "weight": 0.5}],
                "metrics": metrics
            })),
        )
        .await;
    }

    /// A lifecycle action on the experiment's current version.
    async fn act(&self, key: &str, action: &str) -> Value {
        let current = self
            .call("GET", &format!("/api/v1/experiments/{key}"), None, None)
            .await;
        self.call(
            "POST",
            &format!("/api/v1/experiments/{key}/{action}"),
            current["version"].as_i64(),
            None,
        )
        .await
    }
}

fn event(id: String, unit: &str, at: i64, kind: EventKind) -> EnrichedEvent {
    EnrichedEvent {
        event: Event {
            id,
            kind,
            timestamp: Timestamp::from_unix_millis(at),
            units: BTreeMap::from([("user_id".to_owned(), unit.to_owned())]),
            properties: None,
        },
        received_at: Timestamp::from_unix_millis(at + 1000),
        environment: "production".into(),
        snapshot_version: 3,
        edge: "test-edge".into(),
        country: None,
    }
}

fn exposure(experiment: &str, unit: &str, variant: &str, at: i64) -> EnrichedEvent {
    event(
        format!("x-{experiment}-{unit}-{at}"),
        unit,
        at,
        EventKind::Exposure {
            experiment: experiment.into(),
            variant: variant.into(),
        },
    )
}

fn purchase(unit: &str, value: f64, at: i64) -> EnrichedEvent {
    event(
        format!("p-{unit}-{at}"),
        unit,
        at,
        EventKind::Track {
            event: "purchase".into(),
            value: Some(value),
        },
    )
}

/// The first definitions: four metrics (one analytics cannot use, one with percentile capping)
/// and a running experiment using all of them, plus a draft.
async fn seed(core: &Stack0) {
    core.metric(json!({"key": "purchased", "event_name": "purchase", "type": "conversion", "window_hours": 48}))
        .await;
    core.metric(
        json!({"key": "revenue", "event_name": "purchase", "type": "sum",
                       "capping": {"type": "absolute", "value": 100}}),
    )
    .await;
    core.metric(
        json!({"key": "revenue_p95", "event_name": "purchase", "type": "sum",
                       "capping": {"type": "percentile", "value": 0.95}}),
    )
    .await;
    core.metric(
        json!({"key": "forever", "event_name": "purchase", "type": "count",
                       "window_hours": 1.0e9}),
    )
    .await;
    core.experiment(
        "checkout",
        json!({"primary": ["purchased"], "secondary": ["revenue", "forever"], "guardrail": ["revenue_p95"]}),
    )
    .await;
    core.experiment("sketch", json!({"primary": ["purchased"]}))
        .await;
    let started = core.act("checkout", "start").await;
    assert_eq!(started["started_at"], "2026-11-19T00:00:00Z");
}

fn variant_means(results: &Value, metric: &str) -> Vec<(u64, f64)> {
    results["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["key"] == metric)
        .unwrap_or_else(|| panic!("no metric {metric} in {results}"))["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["n"].as_u64().unwrap(), v["mean"].as_f64().unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analytics_follows_core_definitions_and_core_serves_the_results() {
    let mut stack = Stack::start(true).await;
    let t0 = ms(START);

    // The configuration analytics loaded from core-api.
    let config = stack.shared().get();
    let keys: Vec<&str> = config.experiments.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["checkout"], "drafts are left out");
    let (_, checkout) = config.experiment("checkout").unwrap();
    assert_eq!((checkout.start, checkout.end), (t0, None));
    assert_eq!(checkout.variants, ["control", "treatment"]);
    let metrics: Vec<&str> = checkout
        .metrics
        .iter()
        .map(|&m| config.metrics[m].key.as_str())
        .collect();
    assert_eq!(metrics, ["purchased", "revenue", "revenue_p95"]);
    assert_eq!(config.metrics[1].cap, Some(100_000_000));
    assert_eq!(config.metrics[2].cap, None);
    let status = stack.analytics_status().await;
    let config_status = &status["config"];
    assert_eq!(config_status["loaded"], true);
    assert!(
        config_status["source"]
            .as_str()
            .unwrap()
            .starts_with("core-api at http://127.0.0.1:")
    );
    assert_eq!(config_status["experiments"], 1);
    assert_eq!(config_status["skipped"][0]["key"], "forever");
    assert!(
        config_status["skipped"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("window_hours:")
    );
    assert_eq!(config_status["ignored"][0]["key"], "revenue_p95");
    assert!(config_status.get("error").is_none(), "{config_status}");

    // Ten users exposed an hour after the start, one before it (ignored); purchases.
    let mut events = vec![exposure("checkout", "early", "control", t0 - HOUR)];
    for u in 0..10 {
        let variant = if u % 2 == 0 { "control" } else { "treatment" };
        events.push(exposure("checkout", &format!("u{u}"), variant, t0 + HOUR));
    }
    events.push(purchase("u1", 250.0, t0 + 2 * HOUR)); // capped at 100
    events.push(purchase("u3", 20.0, t0 + 2 * HOUR));
    events.push(purchase("u2", 10.0, t0 + 3 * HOUR));
    stack.ingest(&events).await;

    let viewer = stack.admin.clone();
    let (status, kind, body) = stack.results("GET", "checkout", "", &viewer).await;
    assert_eq!((status, kind.as_str()), (200, "application/json"), "{body}");
    let results: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(results["results"]["units"], json!([5, 5]));
    assert_eq!(
        variant_means(&results["results"], "purchased"),
        [(5, 0.2), (5, 0.4)]
    );
    assert_eq!(
        variant_means(&results["results"], "revenue"),
        [(5, 2.0), (5, 24.0)]
    );
    // Percentile capping is ignored: 250 counts in full.
    assert_eq!(
        variant_means(&results["results"], "revenue_p95"),
        [(5, 2.0), (5, 54.0)]
    );
    // Exactly what analytics itself serves.
    let direct = stack
        .http
        .get(format!(
            "{}/api/v1/experiments/checkout/results",
            stack.analytics_url
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, direct);
    // The lake alone, with the definitions read from core-api, gives the same results.
    let recomputed = vane_analytics::recompute_from_lake(&RecomputeArgs {
        config: None,
        core: CoreConfigArgs {
            core_url: Some(stack.core_front.clone()),
            core_token: Some(SecretString::from(stack.token.clone())),
        },
        data_dir: stack.data_dir.clone(),
        lake: LakeArgs {
            lake_dir: Some(stack.lake_dir.clone()),
            ..LakeArgs::default()
        },
        experiment: Some("checkout".into()),
    })
    .await
    .unwrap();
    assert_eq!(
        serde_json::to_value(&recomputed["checkout"]).unwrap(),
        results["results"],
        "recomputed from the lake with core's definitions"
    );
    let (status, kind, csv) = stack
        .results("GET", "checkout", "?format=csv", &viewer)
        .await;
    assert_eq!((status, kind.as_str()), (200, "text/csv; charset=utf-8"));
    assert_eq!(csv.lines().count(), 1 + 3 * 2, "{csv}");
    // A draft exists in core-api but not in analytics: analytics' 404 passes through.
    let (status, kind, body) = stack.results("GET", "sketch", "", &viewer).await;
    assert_eq!((status, kind.as_str()), (404, "application/problem+json"));
    assert!(
        body.contains("experiment `sketch` is not configured"),
        "{body}"
    );
    assert_eq!(stack.results("GET", "nope", "", &viewer).await.0, 404);

    // A new experiment starts in core-api; its exposures arrive before any scheduled refresh:
    // the consumer refreshes on seeing them, and keeps them.
    let core = stack.stack0();
    core.experiment("banner", json!({"primary": ["purchased"]}))
        .await;
    stack.core_clock.set(START + time::Duration::hours(2));
    core.act("banner", "start").await;
    let banner: Vec<EnrichedEvent> = (0..4)
        .map(|u| {
            let variant = if u < 2 { "control" } else { "treatment" };
            exposure("banner", &format!("u{u}"), variant, t0 + 3 * HOUR)
        })
        .collect();
    stack.ingest(&banner).await;
    assert_eq!(stack.computed("banner").await["units"], json!([2, 2]));
    assert_eq!(stack.shared().status().generation, 2);

    // A restart re-randomizes: analytics starts the experiment over at the new start (the
    // stored aggregates are rebased onto it), and units exposed before do not count.
    stack.core_clock.set(START + time::Duration::hours(4));
    let restarted = core.act("checkout", "restart").await;
    assert_eq!(restarted["started_at"], "2026-11-19T04:00:00Z");
    assert!(stack.shared().refresh().await.unwrap());
    stack.analytics.consumer_mut().try_step().await.unwrap();
    let fresh = stack.computed("checkout").await;
    assert_eq!(fresh["units"], json!([0, 0]));
    assert_eq!(fresh["excluded_units"], 0);
    // u0 was in control before the restart and is in treatment now: not excluded.
    let again = vec![
        exposure("checkout", "u0", "treatment", t0 + 5 * HOUR),
        exposure("checkout", "u4", "control", t0 + 5 * HOUR),
        purchase("u0", 30.0, t0 + 6 * HOUR),
    ];
    stack.ingest(&again).await;
    let after = stack.computed("checkout").await;
    assert_eq!(after["units"], json!([1, 1]));
    assert_eq!(after["excluded_units"], 0);
    assert_eq!(variant_means(&after, "revenue"), [(1, 0.0), (1, 30.0)]);

    // Stopped: the end follows.
    stack.core_clock.set(START + time::Duration::hours(7));
    core.act("checkout", "stop").await;
    assert!(stack.shared().refresh().await.unwrap());
    let config = stack.shared().get();
    assert_eq!(
        config.experiment("checkout").unwrap().1.end,
        Some(t0 + 7 * HOUR)
    );

    // core-api refuses the key: the last good configuration stays, the error is reported.
    stack
        .stack0()
        .call(
            "DELETE",
            &format!("/api/v1/api-keys/{}", stack.key_id),
            Some(1),
            None,
        )
        .await;
    assert!(stack.shared().refresh().await.is_err());
    assert!(Arc::ptr_eq(&config, &stack.shared().get()));
    let status = stack.analytics_status().await;
    let error = status["config"]["error"].as_str().unwrap();
    assert!(error.contains("401"), "{error}");
    assert_eq!(status["config"]["experiments"], 2);
    // core-api unreachable: the same.
    stack.core_up.store(false, Ordering::SeqCst);
    assert!(stack.shared().refresh().await.is_err());
    assert!(Arc::ptr_eq(&config, &stack.shared().get()));
    let status = stack.analytics_status().await;
    assert!(
        status["config"]["error"]
            .as_str()
            .unwrap()
            .contains("GET /api/v1/metrics"),
        "{status}"
    );
    assert_eq!(
        stack.results("GET", "banner", "", &viewer).await.0,
        200,
        "results are still served"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analytics_started_while_core_is_unreachable_waits_for_it_and_loses_nothing() {
    let mut stack = Stack::start(false).await;
    let t0 = ms(START);

    // Started anyway, with nothing configured, saying why.
    let status = stack.analytics_status().await;
    assert_eq!(status["config"]["loaded"], false);
    assert_eq!(status["config"]["experiments"], 0);
    let error = status["config"]["error"].as_str().unwrap();
    assert!(
        error.starts_with("core-api at http://127.0.0.1:"),
        "{error}"
    );
    assert_eq!(
        status["config"]["last_error"]["message"].as_str(),
        Some(error)
    );

    // Events are accepted and wait: nothing is consumed without a configuration.
    let events = vec![
        exposure("checkout", "u1", "treatment", t0 + HOUR),
        purchase("u1", 12.5, t0 + 2 * HOUR),
        exposure("checkout", "u2", "control", t0 + HOUR),
    ];
    stack.ingest(&events).await;
    assert_eq!(stack.analytics.consumer_mut().state().seq(), 0);

    // core-api answers: the configuration loads, and the waiting events count.
    stack.core_up.store(true, Ordering::SeqCst);
    assert!(stack.shared().refresh().await.unwrap());
    stack
        .analytics
        .consumer_mut()
        .run_until_idle(100)
        .await
        .unwrap();
    let results = stack.computed("checkout").await;
    assert_eq!(results["units"], json!([1, 1]));
    assert_eq!(variant_means(&results, "revenue"), [(1, 0.0), (1, 12.5)]);
    let status = stack.analytics_status().await;
    assert_eq!(status["config"]["loaded"], true);
    assert!(status["config"].get("error").is_none(), "{status}");
    assert!(status["config"]["last_error"].is_object());
}
