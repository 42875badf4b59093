//! Spawning the application for a test, and a small client.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};
use sqlx::Connection;
use time::OffsetDateTime;
use time::macros::datetime;
use vane_core::config::{BootstrapAdmin, Config, PasswordCost};
use vane_core::state::AppState;
use vane_core::{ManualClock, build};

/// Generates one test per backend for each async fn `name(Backend)`: `name::sqlite` and
/// `name::postgres`.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(crate::helpers::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(backend) = crate::helpers::Backend::postgres() {
                    super::$name(backend).await;
                }
            }
        }
    )*};
}

/// Which database a test runs on.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    /// PostgreSQL from `VANE_TEST_POSTGRES_URL`. Without it: a failure under CI, a skip
    /// (with a message) elsewhere.
    pub fn postgres() -> Option<Self> {
        match std::env::var("VANE_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => Some(Self::Postgres(url)),
            _ if std::env::var_os("CI").is_some() => {
                panic!(
                    "VANE_TEST_POSTGRES_URL is not set under CI: run the tests through scripts/with-postgres.sh"
                )
            }
            _ => {
                eprintln!(
                    "SKIPPED: VANE_TEST_POSTGRES_URL is not set; run `scripts/with-postgres.sh cargo test -p vane-core` for the PostgreSQL variant"
                );
                None
            }
        }
    }
}

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";
/// The manual clock's start: 2026-06-01T12:00:00Z.
pub const T0: OffsetDateTime = datetime!(2026-06-01 12:00:00 UTC);

/// A running application and an admin session.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub state: AppState,
    pub admin: String,
    _dir: Option<tempfile::TempDir>,
}

/// A response: status, headers and JSON body (`Value::Null` when empty or not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn etag(&self) -> String {
        self.headers
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }

    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.body
        );
        self
    }

    /// The paths of a problem's field errors.
    pub fn error_paths(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .map(|e| e["path"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

async fn fresh_postgres(base: &str) -> String {
    let name = format!("vane_test_{}", vane_core::auth::random_hex(8).unwrap());
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(base)
        .await
        .expect("connecting to the test PostgreSQL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("creating a test database");
    conn.close().await.ok();
    let (server, _) = base.rsplit_once('/').expect("a database URL with a path");
    format!("{server}/{name}")
}

/// A URL of a new, empty database (and the directory holding it, for SQLite).
pub async fn fresh_database(backend: Backend) -> (String, Option<tempfile::TempDir>) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("a temp dir");
            let url = format!("sqlite://{}/core.sqlite?mode=rwc", dir.path().display());
            (url, Some(dir))
        }
        Backend::Postgres(base) => (fresh_postgres(&base).await, None),
    }
}

pub async fn spawn(backend: Backend) -> TestApp {
    spawn_with(backend, |_| {}).await
}

/// [`spawn`] with changes to the configuration (e.g. an analytics URL).
pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut Config)) -> TestApp {
    let (app, _served) = spawn_until(backend, configure, std::future::pending()).await;
    app
}

/// [`spawn_with`] serving until `shutdown` completes; the handle ends when the server has
/// stopped (graceful: after the requests in flight).
pub async fn spawn_until(
    backend: Backend,
    configure: impl FnOnce(&mut Config),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> (TestApp, tokio::task::JoinHandle<std::io::Result<()>>) {
    if std::env::var_os("TEST_LOG").is_some() {
        vane_core::telemetry::init(false);
    }
    let (database_url, dir) = fresh_database(backend).await;
    let clock = Arc::new(ManualClock::new(T0));
    let mut config = Config::new(
        SecretString::from(database_url.clone()),
        "127.0.0.1:0".parse().unwrap(),
    );
    config.clock = clock.clone();
    config.scheduler_interval = None;
    config.password_cost = PasswordCost::Fast;
    config.bootstrap_admin = Some(BootstrapAdmin {
        email: ADMIN_EMAIL.into(),
        password: Some(SecretString::from(ADMIN_PASSWORD)),
    });
    configure(&mut config);
    let app = build(config).await.expect("building the app");
    let (address, state) = (app.address(), app.state().clone());
    let served = tokio::spawn(app.run_until(shutdown));
    let mut test = TestApp {
        address: format!("http://{address}"),
        client: reqwest::Client::new(),
        clock,
        state,
        admin: String::new(),
        _dir: dir,
    };
    test.admin = test.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    (test, served)
}

impl TestApp {
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Reply {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("sending a request");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap_or_default();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.request(Method::GET, path, Some(token), &[], None)
            .await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.request(Method::POST, path, Some(token), &[], Some(&body))
            .await
    }

    /// POST with `If-Match` (lifecycle actions).
    pub async fn act(&self, path: &str, token: &str, etag: &str, body: Option<Value>) -> Reply {
        self.request(
            Method::POST,
            path,
            Some(token),
            &[("if-match", etag)],
            body.as_ref(),
        )
        .await
    }

    pub async fn put(&self, path: &str, token: &str, etag: &str, body: Value) -> Reply {
        self.request(
            Method::PUT,
            path,
            Some(token),
            &[("if-match", etag)],
            Some(&body),
        )
        .await
    }

    pub async fn delete(&self, path: &str, token: &str, etag: &str) -> Reply {
        self.request(
            Method::DELETE,
            path,
            Some(token),
            &[("if-match", etag)],
            None,
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> String {
        let reply = self
            .request(
                Method::POST,
                "/api/v1/auth/login",
                None,
                &[],
                Some(&json!({"email": email, "password": password})),
            )
            .await;
        reply.expect(200);
        reply.body["token"].as_str().unwrap().to_owned()
    }

    /// Creates a user with `role` and returns a session token for it.
    pub async fn user(&self, role: &str) -> String {
        let email = format!(
            "{role}-{}@example.com",
            vane_core::auth::random_hex(3).unwrap()
        );
        self.post(
            "/api/v1/users",
            &self.admin,
            json!({"email": email, "name": role, "role": role, "password": "a long enough password"}),
        )
        .await
        .expect(201);
        self.login(&email, "a long enough password").await
    }

    pub async fn environment(&self, key: &str) {
        self.post(
            "/api/v1/environments",
            &self.admin,
            json!({"key": key, "name": key}),
        )
        .await
        .expect(201);
    }

    /// Creates an API key and returns it.
    pub async fn api_key(&self, env: &str, kind: &str) -> String {
        let reply = self
            .post(
                &format!("/api/v1/environments/{env}/api-keys"),
                &self.admin,
                json!({"kind": kind, "name": format!("{kind} key")}),
            )
            .await;
        reply.expect(201);
        reply.body["key"].as_str().unwrap().to_owned()
    }

    /// The latest snapshot of `env` as JSON, and its ETag.
    pub async fn snapshot(&self, env: &str) -> (Value, String) {
        let reply = self
            .get(&format!("/api/v1/environments/{env}/snapshot"), &self.admin)
            .await;
        reply.expect(200);
        let etag = reply.etag();
        (reply.body, etag)
    }

    /// The audit entries matching `query` (e.g. `entity_type=flag`), newest first.
    pub async fn audit(&self, query: &str) -> Vec<Value> {
        let reply = self
            .get(&format!("/api/v1/audit?{query}"), &self.admin)
            .await;
        reply.expect(200);
        reply.body["items"].as_array().cloned().unwrap_or_default()
    }

    pub fn set_clock(&self, at: OffsetDateTime) {
        self.clock.set(at);
    }
}

/// A two-variant experiment body.
pub fn experiment(key: &str, env: &str) -> Value {
    json!({
        "key": key,
        "environment": env,
        "name": format!("Experiment {key}"),
        "hypothesis": "The new button converts better",
        "owner": "pm@example.com",
        "variants": [
            {"key": "control", "weight": 0.5},
            {"key": "treatment", "weight": 0.5, "payload": {"color": "green"}}
        ]
    })
}

/// A boolean flag body, on in `env` with one rule.
pub fn flag(key: &str, env: &str) -> Value {
    json!({
        "key": key,
        "type": "bool",
        "description": "a test flag",
        "tags": ["checkout"],
        "variations": [false, true],
        "environments": {env: {
            "enabled": true, "off_variation": 0, "default_variation": 0,
            "rules": [{"id": "de", "condition": {"country": "DE"}, "serve": {"variation": 1}}]
        }}
    })
}
