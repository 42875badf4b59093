//! The propagation monitor's statuses reach core: sync (with a server key) delivers a real
//! core's snapshots to two native edges, one of which stops refreshing; the monitor finds it
//! stuck, reports it, and core's `GET /api/v1/edges` and `/metrics` show it so.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use serde_json::{Value, json};
use time::macros::datetime;
use vane_core::config::{BootstrapAdmin, Config, PasswordCost};
use vane_core::{ManualClock, build};
use vane_edge::{EdgeHandler, EdgeIdentity};
use vane_edge_native::sink::MemorySink;
use vane_edge_native::source::DirSource;
use vane_edge_native::{Application, Refresher};
use vane_engine::Timestamp;
use vane_sync::Syncer;
use vane_sync::core::CoreClient;
use vane_sync::monitor::{EdgeEndpoint, Monitor};
use vane_sync::target::{DirTarget, Target};

const T0: time::OffsetDateTime = datetime!(2026-06-01 12:00:00 UTC);
const PASSWORD: &str = "correct horse battery staple";

struct Core {
    url: String,
    clock: Arc<ManualClock>,
    client: reqwest::Client,
    admin: String,
    _dir: tempfile::TempDir,
}

impl Core {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(T0));
        let mut config = Config::new(
            SecretString::from(format!(
                "sqlite://{}/core.sqlite?mode=rwc",
                dir.path().display()
            )),
            "127.0.0.1:0".parse().unwrap(),
        );
        config.clock = clock.clone();
        config.scheduler_interval = None;
        config.password_cost = PasswordCost::Fast;
        config.bootstrap_admin = Some(BootstrapAdmin {
            email: "admin@example.com".into(),
            password: Some(SecretString::from(PASSWORD)),
        });
        let (address, _state) = build(config).await.unwrap().spawn();
        let mut core = Self {
            url: format!("http://{address}"),
            clock,
            client: reqwest::Client::new(),
            admin: String::new(),
            _dir: dir,
        };
        let login = core
            .call(
                "POST",
                "/api/v1/auth/login",
                None,
                Some(json!({"email": "admin@example.com", "password": PASSWORD})),
                200,
            )
            .await;
        core.admin = login.1["token"].as_str().unwrap().to_owned();
        core
    }

    /// Calls core as the admin, checks the status, returns the ETag and the JSON body.
    async fn call(
        &self,
        method: &str,
        path: &str,
        if_match: Option<&str>,
        body: Option<Value>,
        status: u16,
    ) -> (String, Value) {
        let mut request = self
            .client
            .request(method.parse().unwrap(), format!("{}{path}", self.url))
            .bearer_auth(&self.admin);
        if let Some(tag) = if_match {
            request = request.header("if-match", tag);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let etag = response
            .headers()
            .get("etag")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let got = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(got, status, "{method} {path}: {body}");
        (etag, body)
    }
}

async fn start_edge(name: &str, dir: &std::path::Path) -> (String, Refresher) {
    let edge = EdgeHandler::new(
        "production",
        EdgeIdentity {
            edge_id: name.into(),
            runtime: "native",
        },
    );
    let refresher = Refresher::new(
        edge.clone(),
        Arc::new(DirSource::new(dir.to_owned(), "production")),
        Duration::from_secs(3600),
    );
    let app = Application::build(
        "127.0.0.1:0".parse().unwrap(),
        edge,
        Arc::new(MemorySink::default()),
        None,
    )
    .await
    .unwrap();
    let url = format!("http://{}", app.local_addr().unwrap());
    tokio::spawn(app.run_until(std::future::pending()));
    (url, refresher)
}

fn at(offset_seconds: i64) -> time::OffsetDateTime {
    T0 + time::Duration::seconds(offset_seconds)
}

#[tokio::test]
async fn a_stuck_edge_found_by_the_monitor_is_visible_through_core() {
    let core = Core::start().await;
    core.call(
        "POST",
        "/api/v1/environments",
        None,
        Some(json!({"key": "production", "name": "Production"})),
        201,
    )
    .await;
    let (_, key) = core
        .call(
            "POST",
            "/api/v1/environments/production/api-keys",
            None,
            Some(json!({"kind": "server", "name": "sync"})),
            201,
        )
        .await;
    let server_key = key["key"].as_str().unwrap().to_owned();
    let (etag, _) = core
        .call(
            "POST",
            "/api/v1/flags",
            None,
            Some(
                json!({"key": "banner", "type": "bool", "variations": [false, true],
                "environments": {"production": {"enabled": true, "default_variation": 0}}}),
            ),
            201,
        )
        .await; // snapshot version 3, published at T0

    let fresh_dir = tempfile::tempdir().unwrap();
    let stuck_dir = tempfile::tempdir().unwrap();
    let (fresh_url, fresh) = start_edge("fresh", fresh_dir.path()).await;
    let (stuck_url, stuck) = start_edge("stuck", stuck_dir.path()).await;
    let targets: Vec<Arc<dyn Target>> = vec![
        Arc::new(DirTarget::new(fresh_dir.path())),
        Arc::new(DirTarget::new(stuck_dir.path())),
    ];
    let monitor = Monitor::new(
        vec![
            EdgeEndpoint {
                name: "fresh".into(),
                url: fresh_url,
            },
            EdgeEndpoint {
                name: "stuck".into(),
                url: stuck_url,
            },
            EdgeEndpoint {
                name: "gone".into(),
                url: "http://127.0.0.1:9".into(),
            },
        ],
        30.0,
    );
    let syncer = Syncer::new(
        CoreClient::new(&core.url, &server_key),
        vec!["production".into()],
        targets,
        5,
        monitor,
    );
    let outcomes = syncer.run_once().await;
    assert!(outcomes.iter().all(|o| o.result.is_ok()), "{outcomes:?}");
    fresh.refresh_once().await;
    stuck.refresh_once().await;

    // The flag is toggled 10 s later: version 4. Both stores get it, one edge never reads it.
    core.clock.set(at(10));
    core.call(
        "PUT",
        "/api/v1/flags/banner/environments/production",
        Some(&etag),
        Some(json!({"enabled": false})),
        200,
    )
    .await;
    let outcomes = syncer.run_once().await;
    assert_eq!(outcomes.len(), 2);
    assert!(outcomes.iter().all(|o| o.result.is_ok()), "{outcomes:?}");
    fresh.refresh_once().await;

    // The monitor looks 100 s after the toggle and reports to core.
    let statuses = syncer.poll_edges_at(Timestamp::from(at(110))).await;
    let by_name = |n: &str| statuses.iter().find(|s| s.edge == n).unwrap().clone();
    assert_eq!(
        (by_name("stuck").served_version, by_name("stuck").stuck),
        (Some(3), true)
    );
    assert_eq!(syncer.report_edges(&statuses).await.unwrap(), 3);

    // What an SRE sees in core at that moment.
    core.clock.set(at(110));
    let (_, listed) = core.call("GET", "/api/v1/edges", None, None, 200).await;
    let items = listed["items"].as_array().unwrap();
    let edge = |id: &str| {
        items
            .iter()
            .find(|e| e["id"] == id)
            .unwrap_or_else(|| panic!("no edge {id} in {listed}"))
            .clone()
    };
    let stuck_edge = edge("stuck");
    assert_eq!(stuck_edge["environment"], "production");
    assert_eq!(stuck_edge["served_version"], 3);
    assert_eq!(stuck_edge["latest_version"], 4);
    assert_eq!(stuck_edge["lag_seconds"], 100.0);
    assert_eq!(stuck_edge["stuck"], true);
    assert_eq!(stuck_edge["stuck_after_seconds"], 30.0);
    assert_eq!(stuck_edge["checked_at"], "2026-06-01T12:01:50Z");
    assert!(
        stuck_edge["reported_by"]
            .as_str()
            .unwrap()
            .starts_with("api-key:")
    );
    let fresh_edge = edge("fresh");
    assert_eq!(
        (
            &fresh_edge["served_version"],
            &fresh_edge["lag_seconds"],
            &fresh_edge["stuck"]
        ),
        (&json!(4), &json!(0.0), &json!(false))
    );
    let gone = edge("gone");
    assert_eq!(gone["stuck"], true);
    assert_eq!(
        gone["environment"], "production",
        "the server key's environment"
    );
    assert!(gone["last_error"].as_str().is_some_and(|e| !e.is_empty()));

    let metrics = reqwest::get(format!("{}/metrics", core.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "vane_edge_stuck{edge=\"stuck\",environment=\"production\"} 1",
        "vane_edge_stuck{edge=\"fresh\",environment=\"production\"} 0",
        "vane_edge_snapshot_lag_seconds{edge=\"stuck\",environment=\"production\"} 100",
        "vane_edge_served_version{edge=\"fresh\",environment=\"production\"} 4",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "no `{line}` in:\n{metrics}"
        );
    }

    // The stuck edge reads its store at last; the next report clears it.
    stuck.refresh_once().await;
    let statuses = syncer.poll_edges_at(Timestamp::from(at(111))).await;
    syncer.report_edges(&statuses).await.unwrap();
    let (_, listed) = core.call("GET", "/api/v1/edges", None, None, 200).await;
    let stuck_edge = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == "stuck")
        .unwrap()
        .clone();
    assert_eq!(
        (&stuck_edge["served_version"], &stuck_edge["stuck"]),
        (&json!(4), &json!(false))
    );
}
