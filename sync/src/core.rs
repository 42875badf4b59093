//! core-api as the source of snapshots: the latest with `If-None-Match`, and the server-sent
//! events that announce each new version; and as the place edge statuses are reported to.

use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};

use crate::monitor::EdgeStatus;

/// A snapshot as fetched from core.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub version: u64,
    pub content_hash: String,
    pub published_at: Option<String>,
    pub json: Vec<u8>,
}

/// An announcement from core's snapshot event stream.
#[derive(Debug, Clone, Deserialize)]
pub struct Announcement {
    pub environment: String,
    pub version: u64,
    pub content_hash: String,
    #[serde(default)]
    pub published_at: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("{url}: {source}")]
    Http { url: String, source: reqwest::Error },
    #[error("{url} answered {status}")]
    Status { url: String, status: u16 },
    #[error("{url} returned a snapshot that is not valid JSON: {reason}")]
    Malformed { url: String, reason: String },
}

#[derive(Debug, Deserialize)]
struct Head {
    version: u64,
    #[serde(default)]
    content_hash: Option<String>,
    #[serde(default)]
    published_at: Option<String>,
}

/// One edge in a report to core: the monitor's status under core's field names.
#[derive(Debug, Serialize)]
struct ReportedEdge<'a> {
    id: &'a str,
    url: &'a str,
    environment: Option<&'a str>,
    served_version: Option<u64>,
    latest_version: Option<u64>,
    lag_seconds: f64,
    stuck: bool,
    last_error: Option<&'a str>,
    checked_at: Option<&'a str>,
}

impl<'a> From<&'a EdgeStatus> for ReportedEdge<'a> {
    fn from(s: &'a EdgeStatus) -> Self {
        Self {
            id: &s.edge,
            url: &s.url,
            environment: s.environment.as_deref(),
            served_version: s.served_version,
            latest_version: s.latest_version,
            lag_seconds: s.lag_seconds,
            stuck: s.stuck,
            last_error: s.last_error.as_deref(),
            checked_at: s.checked_at.as_deref(),
        }
    }
}

/// A client of core-api's snapshot endpoints.
#[derive(Debug, Clone)]
pub struct CoreClient {
    base: String,
    key: String,
    client: reqwest::Client,
}

impl CoreClient {
    pub fn new(base_url: &str, key: &str) -> Self {
        Self {
            base: base_url.trim_end_matches('/').to_owned(),
            key: key.to_owned(),
            client: reqwest::Client::new(),
        }
    }

    /// The latest snapshot, or `None` when its hash is `known_hash` (304).
    pub async fn latest(
        &self,
        environment: &str,
        known_hash: Option<&str>,
    ) -> Result<Option<Fetched>, CoreError> {
        let url = format!("{}/api/v1/environments/{environment}/snapshot", self.base);
        let mut request = self.client.get(&url).bearer_auth(&self.key);
        if let Some(hash) = known_hash {
            request = request.header("if-none-match", format!("\"{hash}\""));
        }
        let http = |source| CoreError::Http {
            url: url.clone(),
            source,
        };
        let response = request.send().await.map_err(http)?;
        match response.status().as_u16() {
            304 => return Ok(None),
            200 => {}
            status => return Err(CoreError::Status { url, status }),
        }
        let json = response.bytes().await.map_err(http)?.to_vec();
        let head: Head = serde_json::from_slice(&json).map_err(|e| CoreError::Malformed {
            url: url.clone(),
            reason: e.to_string(),
        })?;
        Ok(Some(Fetched {
            version: head.version,
            content_hash: head.content_hash.unwrap_or_default(),
            published_at: head.published_at,
            json,
        }))
    }

    /// Reports the monitor's edge statuses to core (`POST /api/v1/edges/report`), which keeps
    /// the latest per edge for `GET /api/v1/edges` and its `/metrics`. Returns how many core
    /// recorded.
    pub async fn report_edges(
        &self,
        statuses: &[EdgeStatus],
        stuck_after_seconds: f64,
    ) -> Result<usize, CoreError> {
        let url = format!("{}/api/v1/edges/report", self.base);
        let edges: Vec<ReportedEdge<'_>> = statuses.iter().map(ReportedEdge::from).collect();
        let body = serde_json::json!({
            "stuck_after_seconds": stuck_after_seconds,
            "edges": edges,
        });
        let http = |source| CoreError::Http {
            url: url.clone(),
            source,
        };
        let response = self
            .client
            .post(&url)
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await
            .map_err(http)?;
        if !response.status().is_success() {
            return Err(CoreError::Status {
                url,
                status: response.status().as_u16(),
            });
        }
        #[derive(Deserialize)]
        struct Answer {
            recorded: usize,
        }
        let answer: Answer = response.json().await.map_err(http)?;
        Ok(answer.recorded)
    }

    /// Follows the announcements of `environment` until the connection ends.
    pub async fn announcements(
        &self,
        environment: &str,
    ) -> Result<impl Stream<Item = Announcement> + use<>, CoreError> {
        use eventsource_stream::Eventsource as _;
        let url = format!(
            "{}/api/v1/environments/{environment}/snapshot/events",
            self.base
        );
        let response = self
            .client
            .get(&url)
            .bearer_auth(&self.key)
            .header("accept", "text/event-stream")
            .send()
            .await
            .map_err(|source| CoreError::Http {
                url: url.clone(),
                source,
            })?;
        if !response.status().is_success() {
            return Err(CoreError::Status {
                url,
                status: response.status().as_u16(),
            });
        }
        Ok(response
            .bytes_stream()
            .eventsource()
            .take_while(|event| std::future::ready(event.is_ok()))
            .filter_map(|event| {
                std::future::ready(
                    event
                        .ok()
                        .filter(|e| e.event == "snapshot")
                        .and_then(|e| serde_json::from_str::<Announcement>(&e.data).ok()),
                )
            }))
    }
}
