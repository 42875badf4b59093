//! The workers-rs glue: request and response conversion, the per-isolate state, and the
//! adapters of the ports (`SnapshotStore` over Workers KV, `HttpClient` over `fetch`).
//! No business logic: the handler decides every answer.

use std::cell::OnceCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt as _;
use futures_util::future::{Either, select};
use http::StatusCode;
use vane_edge::limits::MAX_EVENTS_BODY_BYTES;
use vane_edge::{Action, EdgeHandler, EdgeIdentity, EdgeResponse, http as edge_http};
use vane_engine::Timestamp;
use worker::js_sys::Uint8Array;
use worker::{
    AbortController, Context, Delay, Env, Fetch, Headers, KvStore, Method, Request, RequestInit,
    Response,
};

use crate::config::{Config, ConfigError, KV_BINDING};
use crate::refresh::{Due, Refreshed, Refresher, SnapshotStore, StoreError};
use crate::sink::{self, HttpAnswer, HttpClient};

/// What an isolate keeps between requests: the edge (with its snapshot cache), the parsed
/// configuration and the refresh schedule.
#[derive(Debug)]
struct Isolate {
    edge: Arc<EdgeHandler>,
    config: Config,
    refresher: Rc<Refresher>,
}

thread_local! {
    static ISOLATE: OnceCell<Rc<Isolate>> = const { OnceCell::new() };
}

/// Console logging (JSON lines, no timestamps: workerd adds them) and a panic hook.
pub fn start() {
    use tracing_subscriber::filter::LevelFilter;
    use tracing_subscriber::prelude::*;
    let console = tracing_subscriber::fmt::layer()
        .json()
        .with_ansi(false)
        .without_time()
        .with_writer(tracing_web::MakeConsoleWriter)
        .with_filter(LevelFilter::INFO);
    let _ = tracing_subscriber::registry().with(console).try_init();
    std::panic::set_hook(Box::new(|info| {
        worker::console_error!("vane-edge-worker panicked: {info}");
    }));
}

fn now_ms() -> i64 {
    i64::try_from(worker::Date::now().as_millis()).unwrap_or(i64::MAX)
}

/// Handles one request; always answers (internal failures become an opaque 500 problem).
pub async fn fetch(request: Request, env: &Env, ctx: &Context) -> Response {
    let answer = match serve(request, env, ctx).await {
        Ok(answer) => answer,
        Err(response) => response,
    };
    match into_worker(answer) {
        Ok(response) => response,
        Err(e) => {
            tracing::error!(error = %e, "could not build the response");
            Response::builder().with_status(500).fixed(Vec::new())
        }
    }
}

async fn serve(request: Request, env: &Env, ctx: &Context) -> Result<EdgeResponse, EdgeResponse> {
    let now = now_ms();
    let isolate = isolate(env).map_err(|e| {
        tracing::error!(error = %e, "the worker is misconfigured");
        internal_error()
    })?;
    let kv = env.kv(KV_BINDING).map_err(|e| {
        tracing::error!(error = %e, binding = KV_BINDING, "the KV binding is missing");
        internal_error()
    })?;
    refresh(&isolate, kv, ctx, now).await;
    let request = into_http(request).await?;
    let answer = match isolate
        .edge
        .handle(&request, Timestamp::from_unix_millis(now))
    {
        Action::Respond(response) => response,
        Action::Forward(pending) => {
            let client = FetchClient {
                timeout: Duration::from_millis(isolate.config.sink_timeout_ms),
            };
            let result = sink::forward(&isolate.config.events, &client, &pending.events, now).await;
            if let Err(e) = &result {
                tracing::warn!(error = %e, events = pending.events.len(), "event sink refused a batch");
            }
            isolate
                .edge
                .finish_events(pending, result.map_err(|e| e.to_string()))
        }
    };
    Ok(answer)
}

/// The isolate's state, built from the environment on its first request.
fn isolate(env: &Env) -> Result<Rc<Isolate>, ConfigError> {
    ISOLATE.with(|cell| {
        if let Some(isolate) = cell.get() {
            return Ok(Rc::clone(isolate));
        }
        let config = Config::from_lookup(|name| env.var(name).ok().map(|v| v.to_string()))?;
        if config.events == crate::config::EventsConfig::Discard {
            tracing::warn!("VANE_EVENTS_MODE=discard: accepted events are dropped");
        }
        let edge = EdgeHandler::new(
            config.environment.clone(),
            EdgeIdentity {
                edge_id: config.edge_id.clone(),
                runtime: "cloudflare",
            },
        );
        let refresher = Refresher::new(Arc::clone(&edge), config.refresh_ms);
        let isolate = Rc::new(Isolate {
            edge,
            config,
            refresher,
        });
        let _ = cell.set(Rc::clone(&isolate));
        Ok(isolate)
    })
}

/// Runs a due refresh: inline while the isolate has no snapshot yet (the request needs it),
/// otherwise after the answer through `wait_until`.
async fn refresh(isolate: &Isolate, kv: KvStore, ctx: &Context, now: i64) {
    let has_snapshot = isolate.edge.cache.current().is_some();
    match isolate.refresher.poll(Kv(kv), now) {
        Due::NotDue => {}
        Due::Started(refresh) | Due::InFlight(refresh) if !has_snapshot => {
            log(&refresh.await);
        }
        Due::Started(refresh) => ctx.wait_until(async move { log(&refresh.await) }),
        Due::InFlight(_) => {}
    }
}

fn log(outcome: &Refreshed) {
    match outcome {
        Refreshed::Unchanged => {}
        Refreshed::Installed { version } => tracing::info!(version, "installed snapshot"),
        Refreshed::Refused(e) => {
            tracing::warn!(error = %e, "refused a snapshot; serving the last good one")
        }
        Refreshed::Failed(e) => {
            tracing::warn!(error = %e, "snapshot refresh failed; serving the last good one")
        }
    }
}

/// An opaque 500 problem; the cause is logged by the caller.
fn internal_error() -> EdgeResponse {
    let mut response = edge_http::problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal-error",
        "the edge cannot serve this request; operators have been told why",
        None,
    );
    edge_http::add_cors(&mut response);
    response
}

fn too_large() -> EdgeResponse {
    let mut response = edge_http::body_too_large(MAX_EVENTS_BODY_BYTES, None);
    edge_http::add_cors(&mut response);
    response
}

/// `worker::Request` → `http::Request<Bytes>` (path and query, method, headers, body). The
/// body read stops past the largest limit of any route; the handler enforces per-route limits.
async fn into_http(mut request: Request) -> Result<http::Request<Bytes>, EdgeResponse> {
    let url = request.url().map_err(|e| {
        tracing::warn!(error = %e, "unparsable request URL");
        internal_error()
    })?;
    let target = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    };
    let mut builder = http::Request::builder()
        .method(request.method().as_ref())
        .uri(target);
    for (name, value) in request.headers().entries() {
        builder = builder.header(name, value);
    }
    let declared = request
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_EVENTS_BODY_BYTES) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    if request.inner().body().is_some() {
        let mut stream = request.stream().map_err(|e| {
            tracing::warn!(error = %e, "cannot read the request body");
            internal_error()
        })?;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                tracing::warn!(error = %e, "the request body broke off");
                internal_error()
            })?;
            if body.len() + chunk.len() > MAX_EVENTS_BODY_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
    }
    builder.body(Bytes::from(body)).map_err(|e| {
        // Method, path and headers came from a valid HTTP request; this is a bug if it happens.
        tracing::error!(error = %e, "could not rebuild the request");
        internal_error()
    })
}

/// `http::Response<Bytes>` → `worker::Response`. Statuses that forbid a body get none.
fn into_worker(response: EdgeResponse) -> worker::Result<Response> {
    let (parts, body) = response.into_parts();
    let headers = Headers::new();
    for (name, value) in &parts.headers {
        if let Ok(value) = value.to_str() {
            headers.append(name.as_str(), value)?;
        }
    }
    let builder = Response::builder()
        .with_status(parts.status.as_u16())
        .with_headers(headers);
    let null_body = matches!(parts.status.as_u16(), 101 | 103 | 204 | 205 | 304);
    Ok(if null_body {
        builder.empty()
    } else {
        builder.fixed(body.to_vec())
    })
}

/// Workers KV as a snapshot store.
#[derive(Debug)]
struct Kv(KvStore);

impl SnapshotStore for Kv {
    async fn get_text(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.0
            .get(key)
            .text()
            .await
            .map_err(|e| StoreError(e.to_string()))
    }

    async fn get_bytes(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.0
            .get(key)
            .bytes()
            .await
            .map_err(|e| StoreError(e.to_string()))
    }
}

/// The runtime's `fetch`, aborted after `timeout` (the answer's body included).
#[derive(Debug)]
struct FetchClient {
    timeout: Duration,
}

impl HttpClient for FetchClient {
    async fn post(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Result<HttpAnswer, String> {
        let request_headers = Headers::new();
        for (name, value) in headers {
            request_headers
                .set(name, value)
                .map_err(|e| format!("header {name}: {e}"))?;
        }
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_headers(request_headers)
            .with_body(Some(Uint8Array::from(body.as_slice()).into()));
        let request = Request::new_with_init(url, &init).map_err(|e| e.to_string())?;
        let controller = AbortController::default();
        let signal = controller.signal();
        let exchange = async {
            let mut response = Fetch::Request(request)
                .send_with_signal(&signal)
                .await
                .map_err(|e| e.to_string())?;
            let status = response.status_code();
            let body = response.bytes().await.map_err(|e| e.to_string())?;
            Ok::<_, String>(HttpAnswer { status, body })
        };
        let deadline = Delay::from(self.timeout);
        let exchange = std::pin::pin!(exchange);
        match select(exchange, deadline).await {
            Either::Left((answer, _)) => answer,
            Either::Right(((), _)) => {
                controller.abort();
                Err(format!("no answer within {} ms", self.timeout.as_millis()))
            }
        }
    }
}
