//! CRUD, pagination, filters and optimistic concurrency.

use serde_json::json;

use crate::helpers::{Backend, experiment, flag, spawn};

both_backends!(
    a_flag_is_created_read_listed_by_tag_updated_and_deleted,
    a_stale_if_match_gets_412_and_a_missing_one_gets_428,
    lists_paginate_with_a_cursor,
    experiments_are_filtered_by_status_and_environment,
    segments_layers_holdouts_and_metrics_round_trip,
    bad_json_is_400_and_a_wrongly_typed_field_is_named,
    an_unknown_entity_is_404_and_a_duplicate_key_409,
);

async fn a_flag_is_created_read_listed_by_tag_updated_and_deleted(backend: Backend) {
    let app = spawn(backend).await;
    app.environment("production").await;
    let created = app
        .post(
            "/api/v1/flags",
            &app.admin,
            flag("new-checkout", "production"),
        )
        .await;
    created.expect(201);
    assert_eq!(created.etag(), "\"1\"");
    assert_eq!(created.body["key"], "new-checkout");
    assert_eq!(created.body["version"], 1);
    assert_eq!(created.body["environments"]["production"]["enabled"], true);

    let mut other = flag("search-v2", "production");
    other["tags"] = json!(["search"]);
    app.post("/api/v1/flags", &app.admin, other)
        .await
        .expect(201);

    let tagged = app.get("/api/v1/flags?tag=checkout", &app.admin).await;
    tagged.expect(200);
    let keys: Vec<&str> = tagged.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["new-checkout"]);

    let read = app.get("/api/v1/flags/new-checkout", &app.admin).await;
    read.expect(200);
    assert_eq!(read.etag(), "\"1\"");

    // Turn it off in production through the per-environment route.
    let off = app
        .put(
            "/api/v1/flags/new-checkout/environments/production",
            &app.admin,
            &read.etag(),
            json!({"enabled": false}),
        )
        .await;
    off.expect(200);
    assert_eq!(off.etag(), "\"2\"");
    assert_eq!(off.body["environments"]["production"]["enabled"], false);
    let (snapshot, _) = app.snapshot("production").await;
    let in_snapshot = snapshot["flags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == "new-checkout")
        .unwrap();
    assert_eq!(in_snapshot["enabled"], false);

    let mut full = flag("new-checkout", "production");
    full["description"] = json!("changed");
    let updated = app
        .put("/api/v1/flags/new-checkout", &app.admin, "\"2\"", full)
        .await;
    updated.expect(200);
    assert_eq!(updated.body["description"], "changed");
    assert_eq!(updated.body["version"], 3);

    app.delete("/api/v1/flags/new-checkout", &app.admin, "\"3\"")
        .await
        .expect(204);
    app.get("/api/v1/flags/new-checkout", &app.admin)
        .await
        .expect(404);
}

async fn a_stale_if_match_gets_412_and_a_missing_one_gets_428(backend: Backend) {
    let app = spawn(backend).await;
    app.environment("production").await;
    app.post("/api/v1/flags", &app.admin, flag("beta", "production"))
        .await
        .expect(201);
    // Two editors read version 1; the first update wins, the second is stale.
    let first = app
        .put(
            "/api/v1/flags/beta",
            &app.admin,
            "\"1\"",
            flag("beta", "production"),
        )
        .await;
    first.expect(200);
    let stale = app
        .put(
            "/api/v1/flags/beta",
            &app.admin,
            "\"1\"",
            flag("beta", "production"),
        )
        .await;
    stale.expect(412);
    assert_eq!(stale.headers["content-type"], "application/problem+json");
    assert_eq!(stale.etag(), "\"2\"", "a 412 tells the current ETag");

    let missing = app
        .request(
            reqwest::Method::PUT,
            "/api/v1/flags/beta",
            Some(&app.admin),
            &[],
            Some(&flag("beta", "production")),
        )
        .await;
    missing.expect(428);
    app.delete("/api/v1/flags/beta", &app.admin, "\"1\"")
        .await
        .expect(412);
    let env = app.get("/api/v1/environments/production", &app.admin).await;
    app.put(
        "/api/v1/environments/production",
        &app.admin,
        "\"7\"",
        json!({"name": "Prod"}),
    )
    .await
    .expect(412);
    app.put(
        "/api/v1/environments/production",
        &app.admin,
        &env.etag(),
        json!({"name": "Prod"}),
    )
    .await
    .expect(200);
    // Nothing stale was stored.
    let current = app.get("/api/v1/flags/beta", &app.admin).await;
    assert_eq!(current.body["version"], 2);
}

async fn lists_paginate_with_a_cursor(backend: Backend) {
    let app = spawn(backend).await;
    for key in ["seg-a", "seg-b", "seg-c", "seg-d", "seg-e"] {
        app.post(
            "/api/v1/segments",
            &app.admin,
            json!({"key": key, "condition": {"country": "DE"}}),
        )
        .await
        .expect(201);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/segments?limit=2&cursor={c}"),
            None => "/api/v1/segments?limit=2".to_owned(),
        };
        let page = app.get(&path, &app.admin).await;
        page.expect(200);
        for item in page.body["items"].as_array().unwrap() {
            seen.push(item["key"].as_str().unwrap().to_owned());
        }
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ["seg-a", "seg-b", "seg-c", "seg-d", "seg-e"]);
    app.get("/api/v1/segments?limit=lots", &app.admin)
        .await
        .expect(422);
}

async fn experiments_are_filtered_by_status_and_environment(backend: Backend) {
    let app = spawn(backend).await;
    app.environment("production").await;
    app.environment("staging").await;
    app.post(
        "/api/v1/experiments",
        &app.admin,
        experiment("exp-a", "production"),
    )
    .await
    .expect(201);
    app.post(
        "/api/v1/experiments",
        &app.admin,
        experiment("exp-b", "production"),
    )
    .await
    .expect(201);
    app.post(
        "/api/v1/experiments",
        &app.admin,
        experiment("exp-c", "staging"),
    )
    .await
    .expect(201);
    app.act("/api/v1/experiments/exp-b/start", &app.admin, "\"1\"", None)
        .await
        .expect(200);

    let keys = |reply: &crate::helpers::Reply| -> Vec<String> {
        reply.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["key"].as_str().unwrap().to_owned())
            .collect()
    };
    let running = app
        .get("/api/v1/experiments?status=running", &app.admin)
        .await;
    assert_eq!(keys(&running), ["exp-b"]);
    let drafts = app
        .get(
            "/api/v1/experiments?status=draft&environment=production",
            &app.admin,
        )
        .await;
    assert_eq!(keys(&drafts), ["exp-a"]);
    let staging = app
        .get("/api/v1/experiments?environment=staging", &app.admin)
        .await;
    assert_eq!(keys(&staging), ["exp-c"]);
    let bad = app
        .get("/api/v1/experiments?status=paused", &app.admin)
        .await;
    bad.expect(422);
    assert_eq!(bad.error_paths(), ["status"]);
}

async fn segments_layers_holdouts_and_metrics_round_trip(backend: Backend) {
    let app = spawn(backend).await;
    app.environment("production").await;
    app.post(
        "/api/v1/segments",
        &app.admin,
        json!({"key": "internal", "id_list": {"attribute": "user_id", "ids": ["alice"]}}),
    )
    .await
    .expect(201);
    app.post(
        "/api/v1/layers",
        &app.admin,
        json!({"key": "checkout", "name": "Checkout"}),
    )
    .await
    .expect(201);
    app.post(
        "/api/v1/holdouts",
        &app.admin,
        json!({"key": "global", "share": 0.05}),
    )
    .await
    .expect(201);
    let metric = app
        .post(
            "/api/v1/metrics",
            &app.admin,
            json!({"key": "revenue", "name": "Revenue", "event_name": "purchase", "type": "sum",
                   "window_hours": 72, "capping": {"type": "percentile", "value": 0.99}}),
        )
        .await;
    metric.expect(201);
    assert_eq!(metric.body["capping"]["type"], "percentile");
    let ratio = app
        .post(
            "/api/v1/metrics",
            &app.admin,
            json!({"key": "aov", "event_name": "purchase", "type": "ratio"}),
        )
        .await;
    ratio.expect(422);
    assert_eq!(ratio.error_paths(), ["denominator_event"]);

    let mut e = experiment("cta", "production");
    e["layer"] = json!({"key": "checkout", "start": 0.0, "end": 0.5});
    e["holdouts"] = json!(["global"]);
    e["segments"] = json!(["internal"]);
    e["metrics"] = json!({"primary": ["revenue"], "guardrail": ["nope"]});
    let unknown_metric = app.post("/api/v1/experiments", &app.admin, e.clone()).await;
    unknown_metric.expect(422);
    assert_eq!(unknown_metric.error_paths(), ["metrics.guardrail[0]"]);
    e["metrics"] = json!({"primary": ["revenue"]});
    app.post("/api/v1/experiments", &app.admin, e)
        .await
        .expect(201);

    let (snapshot, _) = app.snapshot("production").await;
    assert_eq!(snapshot["segments"][0]["key"], "internal");
    assert_eq!(snapshot["layers"][0]["salt"], "checkout");
    assert_eq!(snapshot["holdouts"][0]["share"], 0.05);
    let exp = &snapshot["experiments"][0];
    assert_eq!(exp["layer"]["key"], "checkout");
    assert!(
        exp.get("hypothesis").is_none(),
        "snapshots carry only what edges need"
    );
    assert!(exp.get("metrics").is_none());

    // A metric in use cannot be deleted.
    app.delete("/api/v1/metrics/revenue", &app.admin, "\"1\"")
        .await
        .expect(409);
}

async fn bad_json_is_400_and_a_wrongly_typed_field_is_named(backend: Backend) {
    let app = spawn(backend).await;
    app.environment("production").await;
    let broken = app
        .client
        .post(format!("{}/api/v1/flags", app.address))
        .bearer_auth(&app.admin)
        .header("content-type", "application/json")
        .body("{\"key\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), 400);
    assert_eq!(broken.headers()["content-type"], "application/problem+json");

    let mut e = experiment("cta", "production");
    e["variants"][1]["weight"] = json!("half");
    let typed = app.post("/api/v1/experiments", &app.admin, e).await;
    typed.expect(422);
    assert_eq!(typed.error_paths(), ["variants[1].weight"]);

    let unknown = app
        .post(
            "/api/v1/segments",
            &app.admin,
            json!({"key": "x", "conditon": {}}),
        )
        .await;
    unknown.expect(422);
    assert_eq!(unknown.body["errors"][0]["code"], "unknown_field");

    let not_json = app
        .client
        .post(format!("{}/api/v1/segments", app.address))
        .bearer_auth(&app.admin)
        .body("key=x")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 415);
}

async fn an_unknown_entity_is_404_and_a_duplicate_key_409(backend: Backend) {
    let app = spawn(backend).await;
    app.environment("production").await;
    let missing = app.get("/api/v1/experiments/nope", &app.admin).await;
    missing.expect(404);
    assert_eq!(missing.body["status"], 404);
    assert!(missing.body["detail"].as_str().unwrap().contains("nope"));
    app.post(
        "/api/v1/environments",
        &app.admin,
        json!({"key": "production"}),
    )
    .await
    .expect(409);
    app.put(
        "/api/v1/flags/nope/environments/production",
        &app.admin,
        "\"1\"",
        json!({}),
    )
    .await
    .expect(404);
}
