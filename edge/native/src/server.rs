//! The axum shell: translate requests to the handler's `http` types and back. No logic here.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::response::Response;
use vane_edge::limits::MAX_EVENTS_BODY_BYTES;
use vane_edge::{Action, EdgeHandler, http as edge_http};

use crate::sink::EventSink;

#[derive(Clone)]
struct Shell {
    edge: Arc<EdgeHandler>,
    sink: Arc<dyn EventSink>,
}

/// Every path goes to the edge handler.
pub fn router(edge: Arc<EdgeHandler>, sink: Arc<dyn EventSink>) -> Router {
    Router::new()
        .fallback(handle)
        .with_state(Shell { edge, sink })
}

async fn handle(State(shell): State<Shell>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    // The handler enforces the per-route limits; this only stops unbounded reads.
    let bytes = match to_bytes(body, MAX_EVENTS_BODY_BYTES + 1).await {
        Ok(bytes) => bytes,
        Err(_) => {
            let mut response = edge_http::body_too_large(MAX_EVENTS_BODY_BYTES, None);
            edge_http::add_cors(&mut response);
            return response.map(Body::from);
        }
    };
    let request = http::Request::from_parts(parts, bytes);
    let response = match shell.edge.handle(&request, crate::now()) {
        Action::Respond(response) => response,
        Action::Forward(pending) => {
            let result = shell.sink.send(&pending.events).await;
            if let Err(e) = &result {
                tracing::warn!(error = %e, events = pending.events.len(), "event sink refused a batch");
            }
            shell
                .edge
                .finish_events(pending, result.map_err(|e| e.to_string()))
        }
    };
    response.map(Body::from)
}
