//! Changes that would make an invalid snapshot are refused with field paths, and nothing of
//! them is stored, audited or published.

use serde_json::json;

use crate::helpers::{Backend, experiment, flag, spawn};

both_backends!(
    an_invalid_experiment_is_rejected_with_every_field_path_and_nothing_is_stored,
    a_change_that_breaks_another_entity_names_that_entity,
    errors_in_a_per_environment_body_are_relative_to_it,
    a_value_no_edge_could_parse_is_refused_naming_the_field,
    an_oversized_body_is_413_and_dot_keys_are_refused,
);

async fn an_oversized_body_is_413_and_dot_keys_are_refused(backend: Backend) {
    let app = spawn(backend).await;
    app.environment("production").await;
    let mut big = flag("big", "production");
    big["description"] = json!("x".repeat(vane_core::http::MAX_BODY_BYTES + 1));
    let reply = app.post("/api/v1/flags", &app.admin, big).await;
    reply.expect(413);
    assert!(
        reply.body["type"]
            .as_str()
            .unwrap()
            .ends_with("body-too-large"),
        "{}",
        reply.body
    );
    for key in [".", ".."] {
        let reply = app
            .post("/api/v1/flags", &app.admin, flag(key, "production"))
            .await;
        reply.expect(422);
        assert_eq!(reply.error_paths(), ["key"], "{}", reply.body);
    }
    // A dot inside a key stays fine.
    app.post(
        "/api/v1/flags",
        &app.admin,
        flag("checkout.v2", "production"),
    )
    .await
    .expect(201);
}

/// What core publishes every edge must read: a variation nested deeper than the snapshot
/// limit (here the 125 levels that once froze every edge) is refused at the API.
async fn a_value_no_edge_could_parse_is_refused_naming_the_field(backend: Backend) {
    let app = spawn(backend).await;
    app.environment("production").await;
    let (_, before_etag) = app.snapshot("production").await;
    let deep = (0..125).fold(json!(1), |inner, _| json!([inner]));
    let mut bad = flag("deep-json", "production");
    bad["type"] = json!("json");
    bad["variations"] = json!([{}, deep]);
    let reply = app.post("/api/v1/flags", &app.admin, bad).await;
    reply.expect(422);
    assert_eq!(reply.error_paths(), ["variations[1]"], "{}", reply.body);
    assert_eq!(
        reply.body["errors"][0]["code"], "too_deep",
        "{}",
        reply.body
    );
    let (_, after_etag) = app.snapshot("production").await;
    assert_eq!(before_etag, after_etag, "no snapshot was published");
    // At the limit it is accepted, and the published snapshot parses.
    let at_limit =
        (0..vane_engine::limits::MAX_VALUE_DEPTH).fold(json!(1), |inner, _| json!([inner]));
    let mut good = flag("deep-json", "production");
    good["type"] = json!("json");
    good["variations"] = json!([{}, at_limit]);
    app.post("/api/v1/flags", &app.admin, good)
        .await
        .expect(201);
    let (snapshot, _) = app.snapshot("production").await;
    vane_engine::compile_json(&snapshot.to_string()).expect("the edge parses what core published");
}

async fn an_invalid_experiment_is_rejected_with_every_field_path_and_nothing_is_stored(
    backend: Backend,
) {
    let app = spawn(backend).await;
    app.environment("production").await;
    let (_, before_etag) = app.snapshot("production").await;
    let audit_before = app.audit("").await.len();

    let mut bad = experiment("checkout-cta", "production");
    bad["variants"][0]["weight"] = json!(0.7);
    bad["coverage"] = json!(1.5);
    bad["overrides"] = json!({"alice": "no-such-variant"});
    bad["condition"] = json!({"email": {"$regex": "(unclosed"}});
    let reply = app.post("/api/v1/experiments", &app.admin, bad).await;
    reply.expect(422);
    assert_eq!(reply.headers["content-type"], "application/problem+json");
    assert_eq!(reply.body["status"], 422);
    assert!(
        reply.body["type"]
            .as_str()
            .unwrap()
            .ends_with("validation-failed")
    );
    let mut paths = reply.error_paths();
    paths.sort();
    assert_eq!(
        paths,
        [
            "condition.email.$regex",
            "coverage",
            "overrides.alice",
            "variants"
        ],
        "body: {}",
        reply.body
    );
    let codes: Vec<&str> = reply.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"weights_do_not_sum_to_one"), "{codes:?}");
    assert!(codes.contains(&"invalid_regex"), "{codes:?}");

    app.get("/api/v1/experiments/checkout-cta", &app.admin)
        .await
        .expect(404);
    let (_, after_etag) = app.snapshot("production").await;
    assert_eq!(before_etag, after_etag, "no snapshot was published");
    assert_eq!(
        app.audit("").await.len(),
        audit_before,
        "nothing was audited"
    );

    // The same experiment, fixed, is accepted.
    app.post(
        "/api/v1/experiments",
        &app.admin,
        experiment("checkout-cta", "production"),
    )
    .await
    .expect(201);
}

async fn a_change_that_breaks_another_entity_names_that_entity(backend: Backend) {
    let app = spawn(backend).await;
    app.environment("production").await;
    app.post(
        "/api/v1/segments",
        &app.admin,
        json!({"key": "eu", "condition": {"country": {"$in": ["DE", "FR"]}}}),
    )
    .await
    .expect(201);
    let mut f = flag("eu-banner", "production");
    f["environments"]["production"]["rules"] =
        json!([{"segments": ["eu"], "serve": {"variation": 1}}]);
    app.post("/api/v1/flags", &app.admin, f).await.expect(201);

    let reply = app.delete("/api/v1/segments/eu", &app.admin, "\"1\"").await;
    reply.expect(422);
    let error = &reply.body["errors"][0];
    assert_eq!(error["entity"], "flag:eu-banner");
    assert_eq!(
        error["path"],
        "environments.production.rules[0].segments[0]"
    );
    assert_eq!(error["code"], "unknown_segment");
    app.get("/api/v1/segments/eu", &app.admin).await.expect(200);

    // A prerequisite on a flag that does not exist.
    let mut child = flag("child", "production");
    child["prerequisites"] = json!([{"flag": "ghost", "condition": {"value": true}}]);
    let reply = app.post("/api/v1/flags", &app.admin, child).await;
    reply.expect(422);
    assert_eq!(reply.error_paths(), ["prerequisites[0].flag"]);
    assert!(reply.body["errors"][0].get("entity").is_none());
}

async fn errors_in_a_per_environment_body_are_relative_to_it(backend: Backend) {
    let app = spawn(backend).await;
    app.environment("production").await;
    app.post("/api/v1/flags", &app.admin, flag("beta", "production"))
        .await
        .expect(201);
    let reply = app
        .put(
            "/api/v1/flags/beta/environments/production",
            &app.admin,
            "\"1\"",
            json!({"enabled": true, "default_variation": 5,
                   "rules": [{"serve": {"rollout": {"weights": [0.5, 0.6]}}}]}),
        )
        .await;
    reply.expect(422);
    let mut paths = reply.error_paths();
    paths.sort();
    assert_eq!(
        paths,
        ["default_variation", "rules[0].serve.rollout.weights"]
    );
    let flag = app.get("/api/v1/flags/beta", &app.admin).await;
    assert_eq!(flag.body["version"], 1, "nothing was stored");
    let unknown_env = app
        .put(
            "/api/v1/flags/beta",
            &app.admin,
            "\"1\"",
            crate::helpers::flag("beta", "mars"),
        )
        .await;
    unknown_env.expect(422);
    assert_eq!(unknown_env.error_paths(), ["environments.mars"]);
}
