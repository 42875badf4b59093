//! The experiment lifecycle, the running-experiment guard, restarts, and scheduled starts and
//! stops under an injected clock.

use serde_json::{Value, json};
use time::Duration;
use vane_engine::Timestamp;

use crate::helpers::{Backend, T0, TestApp, experiment, spawn};

both_backends!(
    an_experiment_goes_from_draft_to_concluded_and_illegal_steps_get_409,
    a_running_experiment_changes_variants_only_through_an_audited_restart,
    a_scheduled_experiment_starts_and_stops_on_time_without_a_request,
);

async fn act(app: &TestApp, key: &str, action: &str, body: Option<Value>) -> crate::helpers::Reply {
    let current = app
        .get(&format!("/api/v1/experiments/{key}"), &app.admin)
        .await;
    app.act(
        &format!("/api/v1/experiments/{key}/{action}"),
        &app.admin,
        &current.etag(),
        body,
    )
    .await
}

async fn an_experiment_goes_from_draft_to_concluded_and_illegal_steps_get_409(backend: Backend) {
    let app = spawn(backend).await;
    app.environment("production").await;
    app.post(
        "/api/v1/experiments",
        &app.admin,
        experiment("cta", "production"),
    )
    .await
    .expect(201);

    let stop_draft = act(&app, "cta", "stop", None).await;
    stop_draft.expect(409);
    assert!(
        stop_draft.body["detail"]
            .as_str()
            .unwrap()
            .contains("cannot stop an experiment that is draft"),
        "{}",
        stop_draft.body
    );
    act(
        &app,
        "cta",
        "conclude",
        Some(json!({"decision": "ship", "winner": "treatment"})),
    )
    .await
    .expect(409);

    let start = act(
        &app,
        "cta",
        "schedule",
        Some(json!({"start": "2026-06-02T00:00:00Z"})),
    )
    .await;
    start.expect(200);
    assert_eq!(start.body["status"], "scheduled");
    act(
        &app,
        "cta",
        "schedule",
        Some(json!({"start": "2026-06-03T00:00:00Z"})),
    )
    .await
    .expect(409);
    let running = act(&app, "cta", "start", None).await;
    running.expect(200);
    assert_eq!(running.body["status"], "running");
    assert_eq!(running.body["schedule"]["start"], "2026-06-01T12:00:00Z");
    act(&app, "cta", "start", None).await.expect(409);
    app.delete("/api/v1/experiments/cta", &app.admin, &running.etag())
        .await
        .expect(409);

    app.set_clock(T0 + Duration::hours(3));
    let stopped = act(&app, "cta", "stop", None).await;
    stopped.expect(200);
    assert_eq!(stopped.body["status"], "stopped");
    let no_winner = act(&app, "cta", "conclude", Some(json!({"decision": "ship"}))).await;
    no_winner.expect(422);
    assert_eq!(no_winner.error_paths(), ["winner"]);
    let concluded = act(
        &app,
        "cta",
        "conclude",
        Some(json!({"decision": "ship", "winner": "treatment", "conclusion": "+3% conversion"})),
    )
    .await;
    concluded.expect(200);
    assert_eq!(concluded.body["status"], "concluded");
    assert_eq!(concluded.body["decision"], "ship");
    assert_eq!(concluded.body["winner"], "treatment");
    act(&app, "cta", "start", None).await.expect(409);
    app.put(
        "/api/v1/experiments/cta",
        &app.admin,
        &concluded.etag(),
        experiment("cta", "production"),
    )
    .await
    .expect(409);
    let (snapshot, _) = app.snapshot("production").await;
    assert_eq!(
        snapshot["experiments"],
        json!([]),
        "concluded experiments leave the snapshot"
    );

    let actions: Vec<String> = app
        .audit("entity_type=experiment&entity_key=cta")
        .await
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(actions, ["conclude", "stop", "start", "schedule", "create"]);
}

async fn a_running_experiment_changes_variants_only_through_an_audited_restart(backend: Backend) {
    let app = spawn(backend).await;
    app.environment("production").await;
    app.post(
        "/api/v1/experiments",
        &app.admin,
        experiment("cta", "production"),
    )
    .await
    .expect(201);
    let running = act(&app, "cta", "start", None).await;
    running.expect(200);
    let salt = running.body["salt"].as_str().unwrap().to_owned();

    let mut reweighted = experiment("cta", "production");
    reweighted["variants"][0]["weight"] = json!(0.8);
    reweighted["variants"][1]["weight"] = json!(0.2);
    let refused = app
        .put(
            "/api/v1/experiments/cta",
            &app.admin,
            &running.etag(),
            reweighted.clone(),
        )
        .await;
    refused.expect(409);
    assert!(refused.body["detail"].as_str().unwrap().contains("restart"));
    let mut resalted = experiment("cta", "production");
    resalted["salt"] = json!("another-salt");
    app.put(
        "/api/v1/experiments/cta",
        &app.admin,
        &running.etag(),
        resalted,
    )
    .await
    .expect(409);

    // Safe changes are fine while running: coverage, hypothesis.
    let mut safe = experiment("cta", "production");
    safe["coverage"] = json!(0.5);
    safe["schedule"] = running.body["schedule"].clone();
    let changed = app
        .put("/api/v1/experiments/cta", &app.admin, &running.etag(), safe)
        .await;
    changed.expect(200);
    assert_eq!(changed.body["coverage"], 0.5);
    assert_eq!(changed.body["salt"], salt.as_str());

    let restarted = app
        .act(
            "/api/v1/experiments/cta/restart",
            &app.admin,
            &changed.etag(),
            Some(json!({"variants": reweighted["variants"]})),
        )
        .await;
    restarted.expect(200);
    assert_eq!(restarted.body["status"], "running");
    assert_eq!(restarted.body["restarts"], 1);
    assert_eq!(restarted.body["variants"][0]["weight"], 0.8);
    assert_ne!(
        restarted.body["salt"],
        salt.as_str(),
        "a restart re-randomizes"
    );
    let (snapshot, _) = app.snapshot("production").await;
    assert_eq!(snapshot["experiments"][0]["salt"], restarted.body["salt"]);

    let audit = app.audit("entity_type=experiment&entity_key=cta").await;
    let restart = &audit[0];
    assert_eq!(restart["action"], "restart");
    let diff_paths: Vec<&str> = restart["diff"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"].as_str().unwrap())
        .collect();
    assert!(diff_paths.contains(&"state.salt"), "{diff_paths:?}");
    assert!(
        diff_paths.contains(&"spec.variants[0].weight"),
        "{diff_paths:?}"
    );
}

fn assigns(snapshot: &Value, at: &str) -> bool {
    let compiled = vane_engine::compile_json(&snapshot.to_string()).expect("a valid snapshot");
    let at = Timestamp::parse_rfc3339(at).unwrap();
    compiled
        .assign("cta", &json!({"user_id": "user-1"}), at)
        .in_experiment
}

async fn a_scheduled_experiment_starts_and_stops_on_time_without_a_request(backend: Backend) {
    let app = spawn(backend).await;
    app.environment("production").await;
    app.post(
        "/api/v1/experiments",
        &app.admin,
        experiment("cta", "production"),
    )
    .await
    .expect(201);
    let scheduled = act(
        &app,
        "cta",
        "schedule",
        Some(json!({"start": "2026-06-01T13:00:00Z", "end": "2026-06-01T14:00:00Z"})),
    )
    .await;
    scheduled.expect(200);
    assert_eq!(scheduled.body["status"], "scheduled");

    // The published snapshot carries the window: edges flip on time on their own.
    let (snapshot, _) = app.snapshot("production").await;
    assert_eq!(
        snapshot["experiments"][0]["schedule"]["start"],
        "2026-06-01T13:00:00Z"
    );
    assert!(!assigns(&snapshot, "2026-06-01T12:59:59Z"));
    assert!(assigns(&snapshot, "2026-06-01T13:00:00Z"));
    assert!(!assigns(&snapshot, "2026-06-01T14:00:00Z"));

    // Nothing is due yet.
    assert_eq!(vane_core::scheduler::run_once(&app.state).await.unwrap(), 0);

    // At the start, core reports running at once and the scheduler records it.
    app.set_clock(T0 + Duration::hours(1));
    let read = app.get("/api/v1/experiments/cta", &app.admin).await;
    assert_eq!(read.body["status"], "running");
    let running = app
        .get("/api/v1/experiments?status=running", &app.admin)
        .await;
    assert_eq!(running.body["items"][0]["key"], "cta");
    let version_before = app.snapshot("production").await.0["version"].clone();
    assert_eq!(vane_core::scheduler::run_once(&app.state).await.unwrap(), 1);
    let (snapshot, _) = app.snapshot("production").await;
    assert_eq!(snapshot["experiments"][0]["status"], "running");
    assert_eq!(snapshot["version"], version_before.as_i64().unwrap() + 1);
    let entry = &app.audit("entity_key=cta").await[0];
    assert_eq!(entry["action"], "start");
    assert_eq!(entry["actor"], "system:scheduler");
    assert_eq!(entry["at"], "2026-06-01T13:00:00Z");

    // At the end it stops.
    app.set_clock(T0 + Duration::hours(2));
    assert_eq!(
        app.get("/api/v1/experiments/cta", &app.admin).await.body["status"],
        "stopped"
    );
    assert_eq!(vane_core::scheduler::run_once(&app.state).await.unwrap(), 1);
    assert_eq!(vane_core::scheduler::run_once(&app.state).await.unwrap(), 0);
    let (snapshot, _) = app.snapshot("production").await;
    assert_eq!(snapshot["experiments"][0]["status"], "stopped");
    let entry = &app.audit("entity_key=cta").await[0];
    assert_eq!(entry["action"], "stop");
}
