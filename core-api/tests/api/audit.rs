//! Every mutation is audited with actor, time, entity, action and diff; the log cannot be
//! changed through the API or in the database.

use serde_json::json;
use time::Duration;

use crate::helpers::{ADMIN_EMAIL, Backend, T0, experiment, flag, spawn};

both_backends!(
    every_mutation_leaves_an_audit_entry_with_a_diff,
    the_audit_log_filters_by_entity_actor_and_time,
    the_audit_log_cannot_be_altered,
);

async fn every_mutation_leaves_an_audit_entry_with_a_diff(backend: Backend) {
    let app = spawn(backend).await;
    let start = app.audit("").await.len();
    app.environment("production").await;
    app.post("/api/v1/flags", &app.admin, flag("beta", "production"))
        .await
        .expect(201);
    app.put(
        "/api/v1/flags/beta/environments/production",
        &app.admin,
        "\"1\"",
        json!({"enabled": false}),
    )
    .await
    .expect(200);
    app.post(
        "/api/v1/segments",
        &app.admin,
        json!({"key": "eu", "condition": {"country": "DE"}}),
    )
    .await
    .expect(201);
    app.put(
        "/api/v1/segments/eu",
        &app.admin,
        "\"1\"",
        json!({"condition": {"country": "FR"}}),
    )
    .await
    .expect(200);
    app.delete("/api/v1/segments/eu", &app.admin, "\"2\"")
        .await
        .expect(204);
    app.post("/api/v1/layers", &app.admin, json!({"key": "l"}))
        .await
        .expect(201);
    app.post(
        "/api/v1/holdouts",
        &app.admin,
        json!({"key": "h", "share": 0.1}),
    )
    .await
    .expect(201);
    app.post(
        "/api/v1/metrics",
        &app.admin,
        json!({"key": "m", "event_name": "e", "type": "count"}),
    )
    .await
    .expect(201);
    app.post(
        "/api/v1/experiments",
        &app.admin,
        experiment("cta", "production"),
    )
    .await
    .expect(201);
    app.act("/api/v1/experiments/cta/start", &app.admin, "\"1\"", None)
        .await
        .expect(200);
    let viewer = app.user("viewer").await;
    let _ = viewer;
    let key = app.api_key("production", "client").await;
    app.delete("/api/v1/flags/beta", &app.admin, "\"2\"")
        .await
        .expect(204);

    let entries = app.audit("limit=500").await;
    let got: Vec<(String, String, String)> = entries[..entries.len() - start]
        .iter()
        .rev()
        .map(|e| {
            (
                e["entity_type"].as_str().unwrap().to_owned(),
                e["entity_key"].as_str().unwrap().to_owned(),
                e["action"].as_str().unwrap().to_owned(),
            )
        })
        .filter(|(t, _, _)| t != "user" && t != "api_key")
        .collect();
    let expected = [
        ("environment", "production", "create"),
        ("flag", "beta", "create"),
        ("flag", "beta", "update"),
        ("segment", "eu", "create"),
        ("segment", "eu", "update"),
        ("segment", "eu", "delete"),
        ("layer", "l", "create"),
        ("holdout", "h", "create"),
        ("metric", "m", "create"),
        ("experiment", "cta", "create"),
        ("experiment", "cta", "start"),
        ("flag", "beta", "delete"),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, b, c)| ((*a).into(), (*b).into(), (*c).into()))
        .collect();
    assert_eq!(got, expected);
    assert!(
        entries
            .iter()
            .any(|e| e["entity_type"] == "user" && e["action"] == "create")
    );
    assert!(
        entries
            .iter()
            .any(|e| e["entity_type"] == "api_key" && e["action"] == "create")
    );
    for entry in &entries {
        assert!(entry["actor"].as_str().unwrap().contains(':'), "{entry}");
        assert!(entry["at"].as_str().unwrap().ends_with('Z'));
        assert!(entry["request_id"].is_string() || entry["actor"] == "system:bootstrap");
        let serialized = entry.to_string();
        assert!(
            !serialized.contains("argon2"),
            "no password hash in the audit log"
        );
        assert!(!serialized.contains(&key), "no API key in the audit log");
    }

    let toggled = app.audit("entity_type=flag&entity_key=beta").await;
    let update = toggled.iter().find(|e| e["action"] == "update").unwrap();
    assert_eq!(update["actor"], format!("user:{ADMIN_EMAIL}"));
    assert_eq!(
        update["diff"],
        json!([{"path": "environments.production.enabled", "before": true, "after": false},
               {"path": "environments.production.rules", "before": [{"id": "de", "condition": {"country": "DE"}, "segments": [], "serve": {"variation": 1}}], "after": []}])
    );
    assert_eq!(
        update["before"]["environments"]["production"]["enabled"],
        true
    );
    assert_eq!(
        update["after"]["environments"]["production"]["enabled"],
        false
    );
}

async fn the_audit_log_filters_by_entity_actor_and_time(backend: Backend) {
    let app = spawn(backend).await;
    app.environment("production").await;
    let editor = app.user("editor").await;
    app.set_clock(T0 + Duration::hours(1));
    app.post("/api/v1/layers", &editor, json!({"key": "late"}))
        .await
        .expect(201);
    app.post("/api/v1/layers", &app.admin, json!({"key": "by-admin"}))
        .await
        .expect(201);

    let editor_email = app.get("/api/v1/auth/me", &editor).await.body["email"]
        .as_str()
        .unwrap()
        .to_owned();
    let by_editor = app.audit(&format!("actor=user:{editor_email}")).await;
    assert_eq!(by_editor.len(), 1);
    assert_eq!(by_editor[0]["entity_key"], "late");

    let since = app.audit("since=2026-06-01T12:30:00Z").await;
    assert_eq!(since.len(), 2);
    let until = app
        .audit("until=2026-06-01T12:30:00Z&entity_type=layer")
        .await;
    assert!(until.is_empty());
    let one = app.audit("entity_type=layer&entity_key=by-admin").await;
    assert_eq!(one.len(), 1);

    // Pagination walks back through time.
    let page = app.get("/api/v1/audit?limit=1", &app.admin).await;
    let cursor = page.body["next_cursor"].as_str().unwrap().to_owned();
    let next = app
        .get(
            &format!("/api/v1/audit?limit=1&cursor={cursor}"),
            &app.admin,
        )
        .await;
    assert!(
        next.body["items"][0]["id"].as_i64().unwrap()
            < page.body["items"][0]["id"].as_i64().unwrap()
    );
    app.get("/api/v1/audit?since=yesterday", &app.admin)
        .await
        .expect(422);
}

async fn the_audit_log_cannot_be_altered(backend: Backend) {
    let app = spawn(backend).await;
    app.environment("production").await;
    let entries = app.audit("").await;
    let id = entries[0]["id"].as_i64().unwrap();

    // No route changes it.
    for method in ["POST", "PUT", "PATCH", "DELETE"] {
        let reply = app
            .request(
                method.parse().unwrap(),
                "/api/v1/audit",
                Some(&app.admin),
                &[],
                Some(&json!({})),
            )
            .await;
        assert_eq!(reply.status.as_u16(), 405, "{method} /api/v1/audit");
        let reply = app
            .request(
                method.parse().unwrap(),
                &format!("/api/v1/audit/{id}"),
                Some(&app.admin),
                &[],
                None,
            )
            .await;
        assert_eq!(reply.status.as_u16(), 404, "{method} /api/v1/audit/{id}");
    }

    // The database refuses changes too, even to the service's own connection.
    let mut conn = app.state.db().pool.acquire().await.unwrap();
    let update = sqlx::query("UPDATE audit_log SET actor = 'mallory' WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await;
    assert!(update.is_err(), "UPDATE must fail");
    let delete = sqlx::query("DELETE FROM audit_log WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await;
    assert!(delete.is_err(), "DELETE must fail");
    let snapshot_update = sqlx::query("UPDATE snapshots SET body = '{}'")
        .execute(&mut *conn)
        .await;
    assert!(
        snapshot_update.is_err(),
        "published snapshots are immutable"
    );
    drop(conn);
    let after = app.audit("").await;
    assert_eq!(after[0]["actor"], entries[0]["actor"]);
    assert_eq!(after.len(), entries.len());
}
