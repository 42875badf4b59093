//! core-api as the source of snapshots: the latest with `If-None-Match`, and the server-sent
//! events that announce each new version.

use futures_util::{Stream, StreamExt};
use serde::Deserialize;

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
