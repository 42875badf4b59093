//! Edge statuses: reported by sync (a server key), served to viewers with lag recomputed from
//! core's own publication times, exported as gauges on /metrics.

use reqwest::Method;
use serde_json::{Value, json};
use time::Duration;

use crate::helpers::{Backend, T0, TestApp, flag, spawn};

both_backends!(
    a_reported_edge_is_served_with_its_lag_as_of_now_and_on_metrics,
    a_server_key_reports_only_the_edges_of_its_environment,
    a_bad_report_names_every_bad_field_and_stores_nothing,
    an_admin_forgets_an_edge_and_the_audit_log_says_who,
);

fn edge(id: &str, served: Option<u64>, stuck: bool) -> Value {
    json!({
        "id": id, "url": format!("http://127.0.0.1:9/{id}"), "environment": "production",
        "served_version": served, "latest_version": 2, "lag_seconds": 0.0, "stuck": stuck,
        "last_error": null, "checked_at": "2026-06-01T12:00:30Z"
    })
}

async fn report(app: &TestApp, key: &str, body: Value) -> crate::helpers::Reply {
    app.post("/api/v1/edges/report", key, body).await
}

async fn edges(app: &TestApp, token: &str) -> Vec<Value> {
    let reply = app.get("/api/v1/edges", token).await;
    reply.expect(200);
    reply.body["items"].as_array().unwrap().clone()
}

async fn a_reported_edge_is_served_with_its_lag_as_of_now_and_on_metrics(backend: Backend) {
    let app = spawn(backend).await;
    app.environment("production").await; // version 1, published at T0
    let server = app.api_key("production", "server").await; // version 2, at T0
    app.set_clock(T0 + Duration::seconds(10));
    app.post("/api/v1/flags", &app.admin, flag("banner", "production"))
        .await
        .expect(201); // version 3, published at T0 + 10 s

    let reply = report(
        &app,
        &server,
        json!({"stuck_after_seconds": 30, "edges": [edge("fresh", Some(3), false), edge("behind", Some(2), false)]}),
    )
    .await;
    reply.expect(200);
    assert_eq!(reply.body["recorded"], 2);

    // 25 s after version 3: "behind" lags 25 s, under the threshold.
    app.set_clock(T0 + Duration::seconds(35));
    let viewer = app.user("viewer").await;
    let listed = edges(&app, &viewer).await;
    assert_eq!(listed.len(), 2);
    let behind = &listed[0];
    assert_eq!(behind["id"], "behind");
    assert_eq!(behind["environment"], "production");
    assert_eq!(behind["served_version"], 2);
    assert_eq!(behind["latest_version"], 3);
    assert_eq!(behind["lag_seconds"], 25.0);
    assert_eq!(behind["stuck"], false);
    assert_eq!(behind["stuck_after_seconds"], 30.0);
    assert_eq!(behind["checked_at"], "2026-06-01T12:00:30Z");
    assert!(
        behind["reported_by"]
            .as_str()
            .unwrap()
            .starts_with("api-key:key_")
    );
    assert_eq!(listed[1]["id"], "fresh");
    assert_eq!(listed[1]["lag_seconds"], 0.0);

    // No new report, but time passes: "behind" keeps falling behind and becomes stuck.
    app.set_clock(T0 + Duration::seconds(70));
    let listed = edges(&app, &viewer).await;
    assert_eq!(listed[0]["lag_seconds"], 60.0);
    assert_eq!(listed[0]["stuck"], true);
    assert_eq!(listed[1]["stuck"], false);

    let metrics = reqwest::get(format!("{}/metrics", app.address))
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    for line in [
        "vane_edge_snapshot_lag_seconds{edge=\"behind\",environment=\"production\"} 60",
        "vane_edge_snapshot_lag_seconds{edge=\"fresh\",environment=\"production\"} 0",
        "vane_edge_served_version{edge=\"behind\",environment=\"production\"} 2",
        "vane_edge_stuck{edge=\"behind\",environment=\"production\"} 1",
        "vane_edge_stuck{edge=\"fresh\",environment=\"production\"} 0",
    ] {
        assert!(text.lines().any(|l| l == line), "no `{line}` in:\n{text}");
    }

    // The next report replaces the status: caught up.
    report(
        &app,
        &server,
        json!({"edges": [edge("behind", Some(3), false)]}),
    )
    .await
    .expect(200);
    let listed = edges(&app, &viewer).await;
    assert_eq!(
        (&listed[0]["lag_seconds"], &listed[0]["stuck"]),
        (&json!(0.0), &json!(false))
    );
    assert_eq!(
        listed[0]["stuck_after_seconds"], 60.0,
        "the default threshold"
    );

    // Filter by environment; pages follow the cursor.
    let page = app.get("/api/v1/edges?limit=1", &viewer).await;
    assert_eq!(page.body["items"].as_array().unwrap().len(), 1);
    let cursor = page.body["next_cursor"].as_str().unwrap();
    let next = app
        .get(&format!("/api/v1/edges?limit=1&cursor={cursor}"), &viewer)
        .await;
    assert_eq!(next.body["items"][0]["id"], "fresh");
    let none = app.get("/api/v1/edges?environment=staging", &viewer).await;
    assert_eq!(none.body["items"], json!([]));
}

async fn a_server_key_reports_only_the_edges_of_its_environment(backend: Backend) {
    let app = spawn(backend).await;
    app.environment("production").await;
    app.environment("staging").await;
    let production = app.api_key("production", "server").await;
    let staging = app.api_key("staging", "server").await;

    // An edge that was never reached (no environment) is recorded in the key's environment.
    let mut unreached = edge("fra-1", None, true);
    unreached["environment"] = Value::Null;
    unreached["last_error"] = json!("connection refused");
    report(&app, &production, json!({"edges": [unreached]}))
        .await
        .expect(200);
    let listed = edges(&app, &app.admin).await;
    assert_eq!(listed[0]["environment"], "production");
    assert_eq!(listed[0]["stuck"], true);
    assert_eq!(listed[0]["last_error"], "connection refused");

    // A staging key may neither report a production edge nor take one over.
    let mut foreign = edge("iad-1", Some(1), false);
    report(&app, &staging, json!({"edges": [foreign.clone()]}))
        .await
        .expect(403);
    foreign["environment"] = json!("staging");
    let mut taken = edge("fra-1", Some(1), false);
    taken["environment"] = json!("staging");
    let reply = report(&app, &staging, json!({"edges": [foreign, taken]})).await;
    reply.expect(403);
    assert!(
        reply.body["detail"].as_str().unwrap().contains("fra-1"),
        "{}",
        reply.body
    );
    let listed = edges(&app, &app.admin).await;
    assert_eq!(listed.len(), 1, "nothing of the refused reports is stored");
    assert_eq!(listed[0]["environment"], "production");

    // An admin key may report any environment's edges.
    let admin_key = app.api_key("production", "admin").await;
    let mut moved = edge("fra-1", Some(1), false);
    moved["environment"] = json!("staging");
    report(&app, &admin_key, json!({"edges": [moved]}))
        .await
        .expect(200);
    let listed = edges(&app, &app.admin).await;
    assert_eq!(listed[0]["environment"], "staging");
}

async fn a_bad_report_names_every_bad_field_and_stores_nothing(backend: Backend) {
    let app = spawn(backend).await;
    app.environment("production").await;
    let server = app.api_key("production", "server").await;
    let mut bad = edge("ok", Some(1), false);
    bad["url"] = json!("ftp://example.com");
    bad["lag_seconds"] = json!(-1.0);
    bad["checked_at"] = json!("yesterday");
    let reply = report(
        &app,
        &server,
        json!({"stuck_after_seconds": 0, "edges": [bad, edge("ok", Some(1), false), edge("has space", Some(1), false)]}),
    )
    .await;
    reply.expect(422);
    let mut paths = reply.error_paths();
    paths.sort();
    assert_eq!(
        paths,
        [
            "edges[0].checked_at",
            "edges[0].lag_seconds",
            "edges[0].url",
            "edges[1].id",
            "edges[2].id",
            "stuck_after_seconds"
        ]
    );

    let mut unknown = edge("x", Some(1), false);
    unknown["environment"] = json!("nowhere");
    let admin_key = app.api_key("production", "admin").await;
    let reply = report(&app, &admin_key, json!({"edges": [unknown]})).await;
    reply.expect(422);
    assert_eq!(reply.error_paths(), ["edges[0].environment"]);
    assert_eq!(reply.body["errors"][0]["code"], "unknown_environment");

    let reply = report(
        &app,
        &server,
        json!({"edges": [{"id": "x", "url": "http://x", "colour": 1}]}),
    )
    .await;
    reply.expect(422);
    assert_eq!(reply.body["errors"][0]["code"], "unknown_field");

    assert!(edges(&app, &app.admin).await.is_empty());
}

async fn an_admin_forgets_an_edge_and_the_audit_log_says_who(backend: Backend) {
    let app = spawn(backend).await;
    app.environment("production").await;
    let server = app.api_key("production", "server").await;
    report(
        &app,
        &server,
        json!({"edges": [edge("old", Some(1), true)]}),
    )
    .await
    .expect(200);
    app.request(
        Method::DELETE,
        "/api/v1/edges/old",
        Some(&app.admin),
        &[],
        None,
    )
    .await
    .expect(204);
    assert!(edges(&app, &app.admin).await.is_empty());
    app.request(
        Method::DELETE,
        "/api/v1/edges/old",
        Some(&app.admin),
        &[],
        None,
    )
    .await
    .expect(404);
    let audit = app.audit("entity_type=edge&entity_key=old").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["action"], "delete");
    assert_eq!(audit[0]["actor"], "user:admin@example.com");
}
