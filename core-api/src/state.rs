//! Application state shared by every request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde::Serialize;
use tokio::sync::broadcast;
use utoipa::ToSchema;
use vane_engine::CompiledSnapshot;

use crate::clock::Clock;
use crate::config::PasswordCost;
use crate::db::Db;
use crate::metrics::Metrics;

/// A new snapshot version, as announced to server-sent-event subscribers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Announcement {
    pub environment: String,
    pub version: i64,
    pub content_hash: String,
    pub published_at: String,
}

/// Shared state; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    pub inner: Arc<Inner>,
}

#[derive(Debug)]
pub struct Inner {
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    /// Serializes every write: changes are validated against the whole configuration, and
    /// snapshot versions are monotonic per environment.
    pub write_lock: tokio::sync::Mutex<()>,
    /// Raised when the server begins to stop: long-lived responses (server-sent events) end
    /// then, so that a graceful shutdown does not wait for clients that never hang up.
    pub stopping: tokio::sync::watch::Sender<bool>,
    pub announcements: broadcast::Sender<Announcement>,
    pub metrics: Metrics,
    pub session_ttl: time::Duration,
    pub password_cost: PasswordCost,
    /// The latest compiled snapshot per environment, for previews (`evaluate`).
    pub compiled: Mutex<HashMap<String, Arc<CompiledSnapshot>>>,
    /// The OpenAPI document, set once the router is built.
    pub openapi: OnceLock<String>,
    /// The analytics service the results routes forward to, set at start-up when configured.
    pub analytics: OnceLock<crate::analytics::AnalyticsClient>,
    /// Failed logins per account and per address.
    pub login_throttle: crate::throttle::LoginThrottle,
    /// Mark the session cookie `Secure` on every response (core is reached over HTTPS through
    /// a proxy that does not say so); it is also marked when `X-Forwarded-Proto: https`.
    pub secure_cookies: bool,
    /// The built admin UI served under `/admin/`, when configured.
    pub admin_dir: Option<std::path::PathBuf>,
}

impl AppState {
    pub fn new(
        db: Db,
        clock: Arc<dyn Clock>,
        metrics: Metrics,
        session_ttl: time::Duration,
        password_cost: PasswordCost,
    ) -> Self {
        let (announcements, _) = broadcast::channel(256);
        Self {
            inner: Arc::new(Inner {
                db,
                clock,
                write_lock: tokio::sync::Mutex::new(()),
                announcements,
                stopping: tokio::sync::watch::Sender::new(false),
                metrics,
                session_ttl,
                password_cost,
                compiled: Mutex::new(HashMap::new()),
                openapi: OnceLock::new(),
                analytics: OnceLock::new(),
                login_throttle: crate::throttle::LoginThrottle::default(),
                secure_cookies: false,
                admin_dir: None,
            }),
        }
    }

    /// Sets the login throttle's limits, the cookies' `Secure` policy and the admin UI
    /// directory; before the state is shared (at build time).
    pub fn with_web_policy(
        mut self,
        limits: crate::throttle::ThrottleLimits,
        secure_cookies: bool,
        admin_dir: Option<std::path::PathBuf>,
    ) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.login_throttle = crate::throttle::LoginThrottle::new(limits);
            inner.secure_cookies = secure_cookies;
            inner.admin_dir = admin_dir;
        }
        self
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// Now, in Unix milliseconds, from the injected clock.
    pub fn now_millis(&self) -> i64 {
        crate::clock::millis(self.inner.clock.now())
    }
}
