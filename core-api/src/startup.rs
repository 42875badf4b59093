//! `build()` then `run_until_stopped()`: build connects and migrates the database, creates the
//! bootstrap admin, binds the listener (port 0 picks a free one) and returns the address.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::http::HeaderName;
use secrecy::{ExposeSecret, SecretString};
use tokio::net::TcpListener;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;

use crate::auth::{Role, new_password};
use crate::config::Config;
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::metrics::Metrics;
use crate::resources::users::{check_email, check_password, insert_user};
use crate::state::AppState;
use crate::store::users;
use crate::telemetry::{MakeRandomRequestId, request_span};
use crate::write::Writer;

/// A built, bound, not yet serving core API.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    address: SocketAddr,
    router: Router,
    state: AppState,
    scheduler_interval: Option<Duration>,
    generated_admin_password: Option<SecretString>,
}

/// Connects, migrates, bootstraps the admin, binds. Fails early on bad configuration.
pub async fn build(config: Config) -> ApiResult<Application> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| ApiError::Internal(format!("binding {}: {e}", config.listen)))?;
    build_on(config, listener).await
}

/// [`build`] on a listener the caller bound already (`config.listen` is not used), so that a
/// caller composing several services can learn every address before any of them starts.
pub async fn build_on(config: Config, listener: TcpListener) -> ApiResult<Application> {
    let db = Db::connect(config.database_url.expose_secret()).await?;
    db.migrate().await?;
    let metrics =
        Metrics::new().map_err(|e| ApiError::Internal(format!("registering metrics: {e}")))?;
    let state = AppState::new(
        db,
        config.clock.clone(),
        metrics,
        config.session_ttl,
        config.password_cost,
    )
    .with_web_policy(
        config.login_limits,
        config.secure_cookies,
        config.admin_dir.clone(),
    );
    if let Some(url) = &config.analytics_url {
        let client = crate::analytics::AnalyticsClient::new(url)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let _ = state.inner.analytics.set(client);
    }
    let generated_admin_password = match &config.bootstrap_admin {
        Some(admin) => bootstrap_admin(&state, &admin.email, admin.password.clone()).await?,
        None => None,
    };
    let router = router(state.clone());
    let address = listener
        .local_addr()
        .map_err(|e| ApiError::Internal(format!("reading the bound address: {e}")))?;
    Ok(Application {
        listener,
        address,
        router,
        state,
        scheduler_interval: config.scheduler_interval,
        generated_admin_password,
    })
}

/// Creates admin `email` unless a user with that email exists. Returns the generated password
/// when none was given.
async fn bootstrap_admin(
    state: &AppState,
    email: &str,
    password: Option<SecretString>,
) -> ApiResult<Option<SecretString>> {
    let mut conn = state.db().pool.acquire().await?;
    if users::by_email(&mut conn, email).await?.is_some() {
        tracing::info!(email, "bootstrap admin already exists");
        return Ok(None);
    }
    drop(conn);
    let generated = password.is_none();
    let password = match password {
        Some(p) => p,
        None => new_password()?,
    };
    let mut errors = Vec::new();
    check_email(email, &mut errors);
    check_password("VANE_BOOTSTRAP_ADMIN_PASSWORD", &password, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let mut writer = Writer::begin(state, "system:bootstrap".to_owned(), None).await?;
    insert_user(
        &mut writer,
        email,
        "Administrator",
        Role::Admin,
        password.clone(),
        state.inner.password_cost,
    )
    .await?;
    writer.commit().await?;
    tracing::info!(email, "created the bootstrap admin");
    Ok(generated.then_some(password))
}

/// The service's router with its middleware.
pub fn router(state: AppState) -> Router {
    let (api, openapi) = crate::openapi::router().split_for_parts();
    let document = openapi.to_pretty_json().unwrap_or_default();
    let _ = state.inner.openapi.set(document);
    let request_id = HeaderName::from_static("x-request-id");
    api.fallback(no_route)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::metrics::track,
        ))
        .with_state(state)
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRandomRequestId))
        .layer(SetSensitiveRequestHeadersLayer::new([
            axum::http::header::AUTHORIZATION,
            axum::http::header::COOKIE,
        ]))
}

/// Every path the router does not know: the admin UI's when it is served, else a 404.
async fn no_route(
    axum::extract::State(state): axum::extract::State<AppState>,
    method: axum::http::Method,
    uri: axum::http::Uri,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    if let Some(dir) = &state.inner.admin_dir
        && let Some(response) = crate::admin_ui::serve(dir, &method, &uri).await
    {
        return response;
    }
    ApiError::not_found("route", uri.path()).into_response()
}

impl Application {
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// The bootstrap admin's generated password, when one was generated (show it once).
    pub fn generated_admin_password(&self) -> Option<&SecretString> {
        self.generated_admin_password.as_ref()
    }

    /// The shared state (tests use it to drive the scheduler and reach the database).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until Ctrl-C, with the background scheduler when configured.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
    }

    /// Serves until `shutdown` completes (then finishes the requests in flight), with the
    /// background scheduler when configured; the scheduler stops with the server.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let scheduler = self
            .scheduler_interval
            .map(|interval| tokio::spawn(crate::scheduler::run(self.state.clone(), interval)));
        let stopping = self.state.inner.stopping.clone();
        let shutdown = async move {
            shutdown.await;
            // Ends the announcement streams, which would otherwise hold the shutdown forever.
            stopping.send_replace(true);
        };
        // The peer address feeds the login throttle's per-address counts.
        let app = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
        if let Some(task) = scheduler {
            task.abort();
        }
        served
    }

    /// Keeps the state handle and serves in the background; for tests.
    pub fn spawn(self) -> (SocketAddr, AppState) {
        let address = self.address;
        let state = self.state.clone();
        tokio::spawn(self.run_until_stopped());
        (address, state)
    }
}
