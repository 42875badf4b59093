//! The event sink: accepted events POSTed as newline-delimited JSON to the collector (the
//! analytics ingest endpoint) over outgoing `wasi:http`, awaited before the edge answers.

use bytes::Bytes;
use http_body_util::Full;
use vane_engine::event::EnrichedEvent;

/// Why the collector did not take a batch. The edge answers 503 and the client retries.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("no collector is configured (vane_collector_url / VANE_COLLECTOR_URL)")]
    NotConfigured,
    #[error("encoding events: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("building the request to {url}: {source}")]
    Request { url: String, source: http::Error },
    #[error("sending to {url} failed: {message}")]
    Send { url: String, message: String },
    #[error("{url} answered {status}")]
    Status { url: String, status: u16 },
}

/// One JSON line per event, as the native edge's HTTP sink sends them.
pub fn ndjson(events: &[EnrichedEvent]) -> Result<Vec<u8>, serde_json::Error> {
    let mut body = Vec::new();
    for event in events {
        serde_json::to_writer(&mut body, event)?;
        body.push(b'\n');
    }
    Ok(body)
}

/// The collector request for a batch.
pub fn request(
    url: &str,
    events: &[EnrichedEvent],
) -> Result<http::Request<Full<Bytes>>, SinkError> {
    let body = ndjson(events)?;
    // A known length, so collectors need not support chunked request bodies.
    http::Request::post(url)
        .header(http::header::CONTENT_TYPE, "application/x-ndjson")
        .header(http::header::CONTENT_LENGTH, body.len())
        .body(Full::new(Bytes::from(body)))
        .map_err(|source| SinkError::Request {
            url: url.to_owned(),
            source,
        })
}

/// Sends a batch and returns once the collector answered 2xx.
pub async fn send(url: Option<&str>, events: &[EnrichedEvent]) -> Result<(), SinkError> {
    let url = url.ok_or(SinkError::NotConfigured)?;
    let response = spin_sdk::http::send(request(url, events)?)
        .await
        .map_err(|e| SinkError::Send {
            url: url.to_owned(),
            message: e.to_string(),
        })?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(SinkError::Status {
            url: url.to_owned(),
            status: response.status().as_u16(),
        })
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt as _;
    use vane_engine::event::Event;

    use super::*;

    fn event(id: &str) -> EnrichedEvent {
        let event: Event = serde_json::from_value(serde_json::json!({
            "id": id,
            "type": "track",
            "units": {"user_id": "u1"},
            "timestamp": "2027-01-01T00:00:00Z",
            "event": "purchase",
        }))
        .unwrap();
        EnrichedEvent {
            event,
            received_at: vane_engine::Timestamp::from_unix_millis(1_800_000_000_000),
            environment: "spec".into(),
            snapshot_version: 1,
            edge: "spin-1".into(),
            country: None,
        }
    }

    #[test]
    fn a_batch_is_one_json_line_per_event() {
        let body = ndjson(&[event("a"), event("b")]).unwrap();
        let lines: Vec<EnrichedEvent> = body
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].event.id, "b");
    }

    #[test]
    fn the_collector_request_posts_ndjson() {
        let request = request("http://127.0.0.1:9/ingest", &[event("a")]).unwrap();
        assert_eq!(request.method(), http::Method::POST);
        assert_eq!(
            request.headers()[http::header::CONTENT_TYPE],
            "application/x-ndjson"
        );
        let length = request.headers()[http::header::CONTENT_LENGTH].clone();
        let body = ready(request.into_body().collect()).to_bytes();
        assert!(body.ends_with(b"\n"));
        assert_eq!(length, body.len().to_string().as_str());
    }

    #[test]
    fn a_bad_url_is_an_error_not_a_panic() {
        assert!(matches!(
            request("http://bad host/", &[event("a")]),
            Err(SinkError::Request { .. })
        ));
    }

    /// `Full` bodies are ready at once: poll the collect future a single time.
    fn ready<T, E: std::fmt::Debug>(future: impl std::future::Future<Output = Result<T, E>>) -> T {
        let mut future = std::pin::pin!(future);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match future.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(result) => result.unwrap(),
            std::task::Poll::Pending => panic!("a Full body is ready at once"),
        }
    }
}
