//! Event sinks: where accepted events go. One trait, one adapter per destination.

use std::sync::Mutex;

use async_trait::async_trait;
use vane_engine::event::EnrichedEvent;

/// Why a sink did not take a batch. The edge answers 503 and the client retries.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("sending to {url} failed: {source}")]
    Http { url: String, source: reqwest::Error },
    #[error("{url} answered {status}")]
    Status { url: String, status: u16 },
    #[error("{0}")]
    Other(String),
}

/// A destination for accepted events. `send` returns only once the batch is durably accepted.
#[async_trait]
pub trait EventSink: Send + Sync + std::fmt::Debug {
    async fn send(&self, events: &[EnrichedEvent]) -> Result<(), SinkError>;
}

/// Posts batches as newline-delimited JSON to the analytics ingest endpoint.
#[derive(Debug)]
pub struct HttpSink {
    url: String,
    client: reqwest::Client,
}

impl HttpSink {
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            client: reqwest::Client::new(),
        }
    }
}

#[async_trait]
impl EventSink for HttpSink {
    async fn send(&self, events: &[EnrichedEvent]) -> Result<(), SinkError> {
        let mut body = Vec::new();
        for event in events {
            serde_json::to_writer(&mut body, event).map_err(|e| SinkError::Other(e.to_string()))?;
            body.push(b'\n');
        }
        let response = self
            .client
            .post(&self.url)
            .header("content-type", "application/x-ndjson")
            .body(body)
            .send()
            .await
            .map_err(|source| SinkError::Http {
                url: self.url.clone(),
                source,
            })?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(SinkError::Status {
                url: self.url.clone(),
                status: response.status().as_u16(),
            })
        }
    }
}

/// Keeps events in memory (tests), or refuses them all when told to fail.
#[derive(Debug, Default)]
pub struct MemorySink {
    pub events: Mutex<Vec<EnrichedEvent>>,
    pub fail: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl EventSink for MemorySink {
    async fn send(&self, events: &[EnrichedEvent]) -> Result<(), SinkError> {
        if self.fail.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(SinkError::Other("memory sink told to fail".into()));
        }
        self.events
            .lock()
            .map_err(|_| SinkError::Other("poisoned".into()))?
            .extend_from_slice(events);
        Ok(())
    }
}

/// The sink of an edge run without `--ingest-url` or `--kinesis-stream`: it refuses every batch,
/// so `/v1/events` answers 503 and clients keep their events, rather than a 202 for events that
/// would go nowhere. Assignment and evaluation are unaffected.
#[derive(Debug)]
pub struct NoSink;

#[async_trait]
impl EventSink for NoSink {
    async fn send(&self, _events: &[EnrichedEvent]) -> Result<(), SinkError> {
        Err(SinkError::Other(
            "this edge has no event sink (start it with --ingest-url or --kinesis-stream)".into(),
        ))
    }
}
