//! Authentication, and the route × role matrix: every route of the OpenAPI document is
//! called by every kind of caller, and only the allowed ones get past authorization.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::json;

use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, TestApp, spawn};

both_backends!(
    every_route_admits_exactly_the_roles_it_should,
    login_gives_a_session_and_bad_credentials_get_401,
    api_keys_are_shown_once_stored_hashed_and_scoped_to_their_environment,
    a_password_change_ends_old_sessions,
    a_generated_bootstrap_password_is_given_once_and_works,
);

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// Anyone, even without credentials.
    Public,
    /// Any valid credential (user or key).
    Anyone,
    /// Logged-in users only.
    Session,
    /// Any user; admin keys.
    Read,
    /// Editors, admins; admin keys.
    Edit,
    /// Admins; admin keys.
    Admin,
    /// Any user; server and admin keys of the environment.
    Snapshot,
    /// Any user; every key of the environment; admin keys.
    Evaluate,
    /// Admins; admin keys; server keys of any environment (the route then confines each to
    /// its own environment's edges).
    ReportEdges,
}

/// Every route: method, path, rule. The test also checks this list is exactly the OpenAPI
/// document's operations.
const ROUTES: &[(&str, &str, Rule)] = &[
    ("GET", "/healthz", Rule::Public),
    ("GET", "/metrics", Rule::Public),
    ("GET", "/api/v1/openapi.json", Rule::Public),
    ("POST", "/api/v1/auth/login", Rule::Public),
    ("POST", "/api/v1/auth/session", Rule::Public),
    ("GET", "/api/v1/auth/session", Rule::Session),
    ("GET", "/api/v1/auth/me", Rule::Anyone),
    ("PUT", "/api/v1/auth/password", Rule::Session),
    ("GET", "/api/v1/environments", Rule::Read),
    ("POST", "/api/v1/environments", Rule::Admin),
    ("GET", "/api/v1/environments/{env}", Rule::Read),
    ("PUT", "/api/v1/environments/{env}", Rule::Admin),
    ("DELETE", "/api/v1/environments/{env}", Rule::Admin),
    ("GET", "/api/v1/flags", Rule::Read),
    ("POST", "/api/v1/flags", Rule::Edit),
    ("GET", "/api/v1/flags/{key}", Rule::Read),
    ("PUT", "/api/v1/flags/{key}", Rule::Edit),
    ("DELETE", "/api/v1/flags/{key}", Rule::Edit),
    ("PUT", "/api/v1/flags/{key}/environments/{env}", Rule::Edit),
    ("GET", "/api/v1/experiments", Rule::Read),
    ("POST", "/api/v1/experiments", Rule::Edit),
    ("GET", "/api/v1/experiments/{key}", Rule::Read),
    ("PUT", "/api/v1/experiments/{key}", Rule::Edit),
    ("DELETE", "/api/v1/experiments/{key}", Rule::Edit),
    ("POST", "/api/v1/experiments/{key}/schedule", Rule::Edit),
    ("POST", "/api/v1/experiments/{key}/unschedule", Rule::Edit),
    ("POST", "/api/v1/experiments/{key}/start", Rule::Edit),
    ("POST", "/api/v1/experiments/{key}/stop", Rule::Edit),
    ("POST", "/api/v1/experiments/{key}/conclude", Rule::Edit),
    ("POST", "/api/v1/experiments/{key}/restart", Rule::Edit),
    ("GET", "/api/v1/experiments/{key}/results", Rule::Read),
    ("POST", "/api/v1/experiments/{key}/results", Rule::Edit),
    ("GET", "/api/v1/segments", Rule::Read),
    ("POST", "/api/v1/segments", Rule::Edit),
    ("GET", "/api/v1/segments/{key}", Rule::Read),
    ("PUT", "/api/v1/segments/{key}", Rule::Edit),
    ("DELETE", "/api/v1/segments/{key}", Rule::Edit),
    ("GET", "/api/v1/layers", Rule::Read),
    ("POST", "/api/v1/layers", Rule::Edit),
    ("GET", "/api/v1/layers/{key}", Rule::Read),
    ("PUT", "/api/v1/layers/{key}", Rule::Edit),
    ("DELETE", "/api/v1/layers/{key}", Rule::Edit),
    ("GET", "/api/v1/holdouts", Rule::Read),
    ("POST", "/api/v1/holdouts", Rule::Edit),
    ("GET", "/api/v1/holdouts/{key}", Rule::Read),
    ("PUT", "/api/v1/holdouts/{key}", Rule::Edit),
    ("DELETE", "/api/v1/holdouts/{key}", Rule::Edit),
    ("GET", "/api/v1/metrics", Rule::Read),
    ("POST", "/api/v1/metrics", Rule::Edit),
    ("GET", "/api/v1/metrics/{key}", Rule::Read),
    ("PUT", "/api/v1/metrics/{key}", Rule::Edit),
    ("DELETE", "/api/v1/metrics/{key}", Rule::Edit),
    ("GET", "/api/v1/users", Rule::Admin),
    ("POST", "/api/v1/users", Rule::Admin),
    ("GET", "/api/v1/users/{id}", Rule::Admin),
    ("PUT", "/api/v1/users/{id}", Rule::Admin),
    ("DELETE", "/api/v1/users/{id}", Rule::Admin),
    ("GET", "/api/v1/environments/{env}/api-keys", Rule::Admin),
    ("POST", "/api/v1/environments/{env}/api-keys", Rule::Admin),
    ("DELETE", "/api/v1/api-keys/{id}", Rule::Admin),
    ("GET", "/api/v1/audit", Rule::Read),
    ("GET", "/api/v1/environments/{env}/snapshot", Rule::Snapshot),
    (
        "GET",
        "/api/v1/environments/{env}/snapshots/{version}",
        Rule::Snapshot,
    ),
    (
        "GET",
        "/api/v1/environments/{env}/snapshot/events",
        Rule::Snapshot,
    ),
    (
        "POST",
        "/api/v1/environments/{env}/evaluate",
        Rule::Evaluate,
    ),
    ("POST", "/api/v1/environments/{env}/rollback", Rule::Admin),
    ("POST", "/api/v1/edges/report", Rule::ReportEdges),
    ("GET", "/api/v1/edges", Rule::Read),
    ("DELETE", "/api/v1/edges/{id}", Rule::Admin),
    // Last: they end the caller's session (users get a new one in between).
    ("POST", "/api/v1/auth/logout", Rule::Session),
    ("DELETE", "/api/v1/auth/session", Rule::Session),
];

/// The kinds of caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Nobody,
    Viewer,
    Editor,
    Admin,
    ClientKey,
    ServerKey,
    AdminKey,
    /// A server key of another environment.
    OtherServerKey,
}

fn allowed(rule: Rule, who: Who) -> bool {
    use Who::*;
    match rule {
        Rule::Public => true,
        Rule::Anyone => who != Nobody,
        Rule::Session => matches!(who, Viewer | Editor | Admin),
        Rule::Read => matches!(who, Viewer | Editor | Admin | AdminKey),
        Rule::Edit => matches!(who, Editor | Admin | AdminKey),
        Rule::Admin => matches!(who, Admin | AdminKey),
        Rule::Snapshot => matches!(who, Viewer | Editor | Admin | ServerKey | AdminKey),
        Rule::Evaluate => who != Nobody && who != OtherServerKey,
        Rule::ReportEdges => matches!(who, Admin | AdminKey | ServerKey | OtherServerKey),
    }
}

async fn every_route_admits_exactly_the_roles_it_should(backend: Backend) {
    let app = spawn(backend).await;
    app.environment("production").await;
    app.environment("staging").await;

    // The table covers exactly the documented routes.
    let document = app.get("/api/v1/openapi.json", &app.admin).await;
    let mut documented = BTreeSet::new();
    for (path, item) in document.body["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    let table: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p, _)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(
        table, documented,
        "the matrix must list every documented route"
    );

    let mut callers = vec![
        (Who::Nobody, None),
        (Who::Viewer, Some(app.user("viewer").await)),
        (Who::Editor, Some(app.user("editor").await)),
        (Who::Admin, Some(app.user("admin").await)),
        (
            Who::ClientKey,
            Some(app.api_key("production", "client").await),
        ),
        (
            Who::ServerKey,
            Some(app.api_key("production", "server").await),
        ),
        (
            Who::AdminKey,
            Some(app.api_key("production", "admin").await),
        ),
        (
            Who::OtherServerKey,
            Some(app.api_key("staging", "server").await),
        ),
    ];
    let mut checked = 0;
    for (method, template, rule) in ROUTES {
        let path = template
            .replace("{env}", "production")
            .replace("{key}", "matrix-missing")
            .replace("{id}", "matrix-missing")
            .replace("{version}", "1");
        for (who, token) in &mut callers {
            let reply = call(&app, method, &path, token.as_deref()).await;
            let status = reply.status.as_u16();
            if allowed(*rule, *who) {
                assert!(
                    status != 401 && status != 403,
                    "{who:?} should pass {method} {path}, got {status}: {}",
                    reply.body
                );
                assert_ne!(status, 405, "{method} {path} is not routed");
            } else {
                let expected = if *who == Who::Nobody { 401 } else { 403 };
                assert_eq!(
                    status, expected,
                    "{who:?} must not pass {method} {path}: {}",
                    reply.body
                );
                assert_eq!(reply.headers["content-type"], "application/problem+json");
            }
            checked += 1;
        }
        if *template == "/api/v1/auth/logout" {
            for (who, token) in &mut callers {
                let role = match who {
                    Who::Viewer => "viewer",
                    Who::Editor => "editor",
                    Who::Admin => "admin",
                    _ => continue,
                };
                *token = Some(app.user(role).await);
            }
        }
    }
    assert_eq!(checked, ROUTES.len() * callers.len());
}

async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> crate::helpers::Reply {
    let method: Method = method.parse().unwrap();
    let body = (method == Method::POST || method == Method::PUT).then(|| json!({}));
    if path.ends_with("/snapshot/events") {
        // A stream: read only the status and headers.
        let mut request = app.client.get(format!("{}{path}", app.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        return crate::helpers::Reply {
            status: response.status(),
            headers: response.headers().clone(),
            body: serde_json::Value::Null,
        };
    }
    app.request(method, path, token, &[("if-match", "\"1\"")], body.as_ref())
        .await
}

async fn login_gives_a_session_and_bad_credentials_get_401(backend: Backend) {
    let app = spawn(backend).await;
    let me = app.get("/api/v1/auth/me", &app.admin).await;
    me.expect(200);
    assert_eq!(me.body["email"], ADMIN_EMAIL);
    assert_eq!(me.body["role"], "admin");

    for (email, password) in [
        (ADMIN_EMAIL, "wrong password!"),
        ("nobody@example.com", ADMIN_PASSWORD),
    ] {
        let reply = app
            .request(
                Method::POST,
                "/api/v1/auth/login",
                None,
                &[],
                Some(&json!({"email": email, "password": password})),
            )
            .await;
        reply.expect(401);
        assert!(reply.headers.contains_key("www-authenticate"));
    }
    app.get("/api/v1/flags", "vane_session_forged")
        .await
        .expect(401);

    // Logout ends the session.
    let token = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    app.request(Method::POST, "/api/v1/auth/logout", Some(&token), &[], None)
        .await
        .expect(204);
    app.get("/api/v1/flags", &token).await.expect(401);

    // Passwords are stored as argon2id hashes, never in clear.
    let mut conn = app.state.db().pool.acquire().await.unwrap();
    let hash: String = sqlx::Row::get(
        &sqlx::query("SELECT password_hash FROM users WHERE email = $1")
            .bind(ADMIN_EMAIL)
            .fetch_one(&mut *conn)
            .await
            .unwrap(),
        "password_hash",
    );
    assert!(hash.starts_with("$argon2id$"));
    assert!(!hash.contains(ADMIN_PASSWORD));

    // Short passwords are refused.
    let short = app
        .post(
            "/api/v1/users",
            &app.admin,
            json!({"email": "x@example.com", "role": "viewer", "password": "short"}),
        )
        .await;
    short.expect(422);
    assert_eq!(short.error_paths(), ["password"]);

    // Sessions expire (12 hours by default).
    app.set_clock(crate::helpers::T0 + time::Duration::hours(13));
    app.get("/api/v1/flags", &app.admin).await.expect(401);
}

async fn api_keys_are_shown_once_stored_hashed_and_scoped_to_their_environment(backend: Backend) {
    let app = spawn(backend).await;
    app.environment("production").await;
    app.environment("staging").await;
    let created = app
        .post(
            "/api/v1/environments/production/api-keys",
            &app.admin,
            json!({"kind": "server", "name": "edge sync"}),
        )
        .await;
    created.expect(201);
    let key = created.body["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("vane_server_"));
    let id = created.body["id"].as_str().unwrap().to_owned();

    let listed = app
        .get("/api/v1/environments/production/api-keys", &app.admin)
        .await;
    assert_eq!(listed.body["items"][0]["id"], id.as_str());
    assert!(
        listed.body["items"][0].get("key").is_none(),
        "a key is shown only once"
    );
    let mut conn = app.state.db().pool.acquire().await.unwrap();
    let stored: String = sqlx::Row::get(
        &sqlx::query("SELECT key_hash FROM api_keys WHERE id = $1")
            .bind(&id)
            .fetch_one(&mut *conn)
            .await
            .unwrap(),
        "key_hash",
    );
    assert_eq!(stored, vane_core::auth::sha256_hex(&key));
    drop(conn);

    app.get("/api/v1/environments/production/snapshot", &key)
        .await
        .expect(200);
    app.get("/api/v1/environments/staging/snapshot", &key)
        .await
        .expect(403);
    let me = app.get("/api/v1/auth/me", &key).await;
    assert_eq!(me.body["kind"], "api_key");
    assert_eq!(me.body["environment"], "production");

    app.delete(&format!("/api/v1/api-keys/{id}"), &app.admin, "\"1\"")
        .await
        .expect(204);
    app.get("/api/v1/environments/production/snapshot", &key)
        .await
        .expect(401);
}

async fn a_password_change_ends_old_sessions(backend: Backend) {
    let app = spawn(backend).await;
    let wrong = app
        .put(
            "/api/v1/auth/password",
            &app.admin,
            "",
            json!({"current_password": "not it at all", "new_password": "a brand new password"}),
        )
        .await;
    wrong.expect(422);
    assert_eq!(wrong.error_paths(), ["current_password"]);
    app.put(
        "/api/v1/auth/password",
        &app.admin,
        "",
        json!({"current_password": ADMIN_PASSWORD, "new_password": "a brand new password"}),
    )
    .await
    .expect(204);
    app.get("/api/v1/flags", &app.admin).await.expect(401);
    app.login(ADMIN_EMAIL, "a brand new password").await;
}

async fn a_generated_bootstrap_password_is_given_once_and_works(backend: Backend) {
    use secrecy::{ExposeSecret, SecretString};
    use vane_core::config::{BootstrapAdmin, Config, PasswordCost};

    let (url, _dir) = crate::helpers::fresh_database(backend).await;
    let config = || {
        let mut config = Config::new(
            SecretString::from(url.clone()),
            "127.0.0.1:0".parse().unwrap(),
        );
        config.password_cost = PasswordCost::Fast;
        config.scheduler_interval = None;
        config.bootstrap_admin = Some(BootstrapAdmin {
            email: "root@example.com".into(),
            password: None,
        });
        config
    };
    let app = vane_core::build(config()).await.unwrap();
    let password = app
        .generated_admin_password()
        .expect("a generated password")
        .expose_secret()
        .to_owned();
    assert!(password.len() >= 12);
    let (address, _state) = app.spawn();
    let login = reqwest::Client::new()
        .post(format!("http://{address}/api/v1/auth/login"))
        .json(&json!({"email": "root@example.com", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);

    // A second start finds the admin and generates nothing.
    let again = vane_core::build(config()).await.unwrap();
    assert!(again.generated_admin_password().is_none());
}
