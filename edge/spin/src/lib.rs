//! Vane's Spin component: the runtime-neutral edge handler (`vane-edge`) as a `wasi:http`
//! service built with spin-sdk 7 (WASIp3, `wasm32-wasip2`). No business logic here: the shell
//! reads the request body, refreshes the snapshot from its store when due, calls
//! [`EdgeHandler::handle`], and forwards events to the collector before answering.
//!
//! The component imports only `wasi:*` interfaces (http, cli, clocks, keyvalue, config), so
//! Spin and `wasmtime serve` both run it; see README.md for what each host exercises.

mod entry;
mod host;
pub mod refresh;
pub mod settings;
pub mod sink;
pub mod store;

use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::StatusCode;
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use vane_edge::limits::MAX_EVENTS_BODY_BYTES;
use vane_edge::{Action, EdgeHandler, EdgeIdentity, EdgeResponse, http as edge_http};
use vane_engine::Timestamp;

use crate::refresh::RefreshGate;
use crate::settings::{Settings, SettingsError, StoreChoice};
use crate::store::{DirStore, SnapshotStore};

/// The edge of one component instance: built on its first request, kept while the host
/// reuses the instance.
#[derive(Debug)]
struct Shell {
    settings: Settings,
    edge: Arc<EdgeHandler>,
    store: Box<dyn SnapshotStore>,
    gate: RefreshGate,
}

impl Shell {
    fn new(settings: Settings, store: Box<dyn SnapshotStore>) -> Self {
        let edge = EdgeHandler::new(
            settings.environment.clone(),
            EdgeIdentity {
                edge_id: settings.edge_id.clone(),
                runtime: "spin",
            },
        );
        Self {
            gate: RefreshGate::new(settings.refresh_ms),
            settings,
            edge,
            store,
        }
    }

    /// Reads the settings from the host and opens the configured store.
    fn from_host() -> Result<Self, SettingsError> {
        let settings = Settings::from_lookup(&host::HostLookup)?;
        let store: Box<dyn SnapshotStore> = match &settings.store {
            StoreChoice::Dir(dir) => Box::new(DirStore::new(dir.clone())),
            StoreChoice::KeyValue { identifier } => {
                Box::new(host::WasiKeyValueStore::new(identifier.clone()))
            }
        };
        if settings.collector_url.is_none() {
            eprintln!("vane-edge-spin: no collector URL: /v1/events answers 503 until one is set");
        }
        Ok(Self::new(settings, store))
    }
}

static SHELL: OnceLock<Result<Shell, SettingsError>> = OnceLock::new();

fn shell() -> Result<&'static Shell, &'static SettingsError> {
    SHELL
        .get_or_init(|| {
            Shell::from_host().inspect_err(|e| eprintln!("vane-edge-spin: bad settings: {e}"))
        })
        .as_ref()
}

/// Handles one request: the whole shell.
async fn serve<B>(request: http::Request<B>) -> EdgeResponse
where
    B: http_body::Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let Ok(shell) = shell() else {
        return misconfigured();
    };
    let now_ms = unix_millis();
    let now = Timestamp::from_unix_millis(now_ms);
    if shell.gate.due(now_ms) {
        refresh::refresh_once(&shell.edge, shell.store.as_ref(), now);
    }
    let (parts, body) = request.into_parts();
    let bytes = match read_body(body).await {
        Ok(bytes) => bytes,
        Err(response) => return response,
    };
    let request = http::Request::from_parts(parts, bytes);
    match shell.edge.handle(&request, now) {
        Action::Respond(response) => response,
        Action::Forward(pending) => {
            let url = shell.settings.collector_url.as_deref();
            let result = sink::send(url, &pending.events).await;
            if let Err(e) = &result {
                eprintln!(
                    "vane-edge-spin: collector refused {} events: {e}",
                    pending.events.len()
                );
            }
            shell
                .edge
                .finish_events(pending, result.map_err(|e| e.to_string()))
        }
    }
}

/// Reads the whole body; the handler enforces the per-route limits, this only stops
/// unbounded reads.
async fn read_body<B>(body: B) -> Result<Bytes, EdgeResponse>
where
    B: http_body::Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    match Limited::new(body, MAX_EVENTS_BODY_BYTES + 1)
        .collect()
        .await
    {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) => {
            let mut response = if e.is::<LengthLimitError>() {
                edge_http::body_too_large(MAX_EVENTS_BODY_BYTES, None)
            } else {
                eprintln!("vane-edge-spin: reading the request body failed: {e}");
                edge_http::problem(
                    StatusCode::BAD_REQUEST,
                    "unreadable-body",
                    "the request body could not be read",
                    None,
                )
            };
            edge_http::add_cors(&mut response);
            Err(response)
        }
    }
}

/// The answer to every request while the settings are unusable (the cause is logged once).
fn misconfigured() -> EdgeResponse {
    let mut response = edge_http::problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "edge-misconfigured",
        "this edge is misconfigured; its operators have the details in its logs",
        None,
    );
    edge_http::add_cors(&mut response);
    response
}

fn unix_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use http_body_util::Full;

    use super::*;

    fn ready<T>(future: impl std::future::Future<Output = T>) -> T {
        let mut future = std::pin::pin!(future);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match future.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("an in-memory body is ready at once"),
        }
    }

    #[test]
    fn a_body_within_the_limit_is_read_whole() {
        let body = Full::new(Bytes::from_static(b"{\"events\":[]}"));
        assert_eq!(ready(read_body(body)).unwrap(), "{\"events\":[]}");
    }

    #[test]
    fn an_oversized_body_is_a_413_problem_with_cors() {
        let body = Full::new(Bytes::from(vec![b' '; MAX_EVENTS_BODY_BYTES + 2]));
        let response = ready(read_body(body)).unwrap_err();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(
            response
                .headers()
                .contains_key("access-control-allow-origin")
        );
    }

    #[test]
    fn a_shell_serves_the_runtime_name_spin() {
        let settings = Settings {
            environment: "spec".into(),
            edge_id: "spin-test".into(),
            store: StoreChoice::KeyValue {
                identifier: "default".into(),
            },
            refresh_ms: 1000,
            collector_url: None,
        };
        let shell = Shell::new(settings, Box::new(store::MemoryStore::default()));
        assert_eq!(shell.edge.identity.runtime, "spin");
        assert_eq!(shell.edge.cache.environment(), "spec");
    }
}
