//! Vane's edge handler: one runtime-neutral implementation of the edge HTTP API over `http`
//! types, shared by the native node (axum), the Cloudflare worker and the Spin component.
//!
//! Shells translate their runtime's request into `http::Request<Bytes>`, call
//! [`EdgeHandler::handle`] with the current time, and either return the response or, for
//! events, hand the prepared batch to their sink and then call [`EdgeHandler::finish_events`].
//! Snapshot refresh is the shell's I/O too: it offers bytes to [`SnapshotCache::install`].
//!
//! Routes: `POST /v1/assign`, `POST /v1/evaluate`, `GET /v1/config`, `POST /v1/events`,
//! `GET /v1/health`, `GET /metrics`, and OFREP (`POST /ofrep/v1/evaluate/flags[/{key}]`,
//! `GET /ofrep/v1/configuration`, see [`ofrep`]).

mod auth;
pub mod cache;
pub mod conformance;
pub mod etag;
pub mod events;
pub mod http;
mod metrics;
pub mod ofrep;
mod routes;
pub mod store;

use std::sync::Arc;

use ::http::{Method, Request, StatusCode};
use bytes::Bytes;
use vane_engine::Timestamp;
use vane_engine::model::KeyKind;

pub use cache::{InstallError, Installed, Loaded, SnapshotCache};
pub use events::PendingEvents;
pub use http::EdgeResponse;
pub use metrics::Counters;

/// Request body limits, answered with 413.
pub mod limits {
    /// Largest `/v1/assign` or `/v1/evaluate` body.
    pub const MAX_EVAL_BODY_BYTES: usize = 64 * 1024;
    /// Largest `/v1/events` body.
    pub const MAX_EVENTS_BODY_BYTES: usize = vane_engine::event::limits::MAX_BATCH_BYTES;
}

/// Who this edge is, for health, metrics and event enrichment.
#[derive(Debug, Clone)]
pub struct EdgeIdentity {
    /// A stable id, e.g. `fra-1` or the worker's name.
    pub edge_id: String,
    /// `native`, `cloudflare` or `spin`.
    pub runtime: &'static str,
}

/// What the shell must do with a request.
#[derive(Debug)]
pub enum Action {
    /// Send this response.
    Respond(EdgeResponse),
    /// Deliver these events to the sink, then call [`EdgeHandler::finish_events`].
    Forward(PendingEvents),
}

/// The edge: a snapshot cache, an identity and counters. Share it behind an `Arc`.
#[derive(Debug)]
pub struct EdgeHandler {
    pub cache: SnapshotCache,
    pub identity: EdgeIdentity,
    pub counters: Counters,
}

impl EdgeHandler {
    pub fn new(environment: impl Into<String>, identity: EdgeIdentity) -> Arc<Self> {
        Arc::new(Self {
            cache: SnapshotCache::new(environment),
            identity,
            counters: Counters::default(),
        })
    }

    /// Handles one request received at `now`.
    pub fn handle(&self, request: &Request<Bytes>, now: Timestamp) -> Action {
        let action = self.route(request, now);
        match action {
            Action::Respond(mut response) => {
                http::add_cors(&mut response);
                self.counters.response(response.status());
                Action::Respond(response)
            }
            forward => forward,
        }
    }

    fn route(&self, request: &Request<Bytes>, now: Timestamp) -> Action {
        let method = request.method();
        let path = request.uri().path();
        if method == Method::OPTIONS {
            return Action::Respond(http::preflight());
        }
        let respond = Action::Respond;
        match (path, method.clone()) {
            ("/v1/health" | "/healthz", Method::GET) => respond(routes::health(self, now)),
            ("/metrics", Method::GET) => respond(metrics::render(self, now)),
            ("/v1/assign", Method::POST) => {
                self.authorized(request, auth::Need::Client, |loaded, kind| {
                    let answer = routes::assign(self, loaded, kind, request.body(), now);
                    respond(etag::conditional(request, answer))
                })
            }
            ("/v1/evaluate", Method::POST) => {
                self.authorized(request, auth::Need::Client, |loaded, kind| {
                    let answer = routes::evaluate(self, loaded, kind, request.body(), now);
                    respond(etag::conditional(request, answer))
                })
            }
            (ofrep::BULK_PATH, Method::POST) => {
                self.authorized(request, auth::Need::Client, |loaded, _| {
                    respond(ofrep::bulk(self, loaded, request, now))
                })
            }
            (ofrep::CONFIGURATION_PATH, Method::GET) => {
                self.authorized(request, auth::Need::Client, |_, _| {
                    respond(ofrep::configuration())
                })
            }
            (p, Method::POST)
                if p.len() > ofrep::SINGLE_PREFIX.len() && p.starts_with(ofrep::SINGLE_PREFIX) =>
            {
                let key = &p[ofrep::SINGLE_PREFIX.len()..];
                self.authorized(request, auth::Need::Client, |loaded, _| {
                    respond(ofrep::single(self, loaded, key, request.body(), now))
                })
            }
            ("/v1/config", Method::GET) => {
                self.authorized(request, auth::Need::Server, |loaded, _| {
                    respond(routes::config(loaded, request))
                })
            }
            ("/v1/events", Method::POST) => {
                self.authorized(request, auth::Need::Client, |loaded, _| {
                    events::prepare(self, loaded, request, now)
                })
            }
            ("/v1/health" | "/healthz" | "/metrics" | "/v1/config", _)
            | ("/v1/assign" | "/v1/evaluate" | "/v1/events", _)
            | (ofrep::BULK_PATH | ofrep::CONFIGURATION_PATH, _) => respond(http::problem(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                &format!("{method} is not allowed on {path}"),
                None,
            )),
            _ => respond(http::problem(
                StatusCode::NOT_FOUND,
                "not-found",
                &format!("no route for {path}"),
                None,
            )),
        }
    }

    /// Runs `then` with the served snapshot when the request's key may do `need`.
    fn authorized(
        &self,
        request: &Request<Bytes>,
        need: auth::Need,
        then: impl FnOnce(&Loaded, KeyKind) -> Action,
    ) -> Action {
        let Some(loaded) = self.cache.current() else {
            let mut response = http::problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "no-snapshot",
                "this edge has not loaded a snapshot yet",
                None,
            );
            response.headers_mut().insert(
                ::http::header::RETRY_AFTER,
                ::http::HeaderValue::from_static("1"),
            );
            return Action::Respond(response);
        };
        match auth::check(request.headers(), &loaded, need) {
            Ok(kind) => then(&loaded, kind),
            Err(response) => Action::Respond(*response),
        }
    }

    /// Completes a `/v1/events` request once the sink answered: 202 when it accepted the
    /// events, 503 (retry; ids make retries safe) when it did not.
    pub fn finish_events(&self, pending: PendingEvents, sink: Result<(), String>) -> EdgeResponse {
        let mut response = events::finish(self, pending, sink);
        http::add_cors(&mut response);
        self.counters.response(response.status());
        response
    }
}
