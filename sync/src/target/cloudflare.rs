//! Cloudflare Workers KV through Cloudflare's REST API (v4): bulk writes, single-key writes,
//! key listing and bulk deletes on one namespace.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{Target, TargetError};

/// The production API base.
pub const API_BASE: &str = "https://api.cloudflare.com/client/v4";

/// One namespace of Workers KV.
#[derive(Debug, Clone)]
pub struct CloudflareKv {
    base: String,
    token: String,
    client: reqwest::Client,
}

#[derive(Serialize)]
struct BulkEntry<'a> {
    key: &'a str,
    /// Snapshots and pointers are UTF-8 text, sent as is.
    value: &'a str,
}

#[derive(Deserialize)]
struct ListPage {
    result: Vec<ListedKey>,
    #[serde(default)]
    result_info: Option<ResultInfo>,
}

#[derive(Deserialize)]
struct ListedKey {
    name: String,
}

#[derive(Deserialize)]
struct ResultInfo {
    #[serde(default)]
    cursor: Option<String>,
}

impl CloudflareKv {
    /// `api_base` is [`API_BASE`] in production (a local stand-in in tests).
    pub fn new(api_base: &str, account_id: &str, namespace_id: &str, token: &str) -> Self {
        Self {
            base: format!(
                "{}/accounts/{account_id}/storage/kv/namespaces/{namespace_id}",
                api_base.trim_end_matches('/')
            ),
            token: token.to_owned(),
            client: reqwest::Client::new(),
        }
    }

    async fn check(
        &self,
        url: &str,
        response: Result<reqwest::Response, reqwest::Error>,
    ) -> Result<reqwest::Response, TargetError> {
        let response = response.map_err(|source| TargetError::Http {
            url: url.to_owned(),
            source,
        })?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        Err(TargetError::Status {
            url: url.to_owned(),
            status,
            body: body.chars().take(500).collect(),
        })
    }
}

/// Percent-encodes a path segment or query value: unreserved characters stay, the rest
/// (including '/') is escaped.
fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[async_trait]
impl Target for CloudflareKv {
    fn name(&self) -> String {
        format!(
            "cloudflare-kv:{}",
            self.base.rsplit('/').next().unwrap_or_default()
        )
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, TargetError> {
        let url = format!("{}/values/{}", self.base, encode_key(key));
        let response = self.client.get(&url).bearer_auth(&self.token).send().await;
        if let Ok(r) = &response
            && r.status() == reqwest::StatusCode::NOT_FOUND
        {
            return Ok(None);
        }
        let response = self.check(&url, response).await?;
        let bytes = response
            .bytes()
            .await
            .map_err(|source| TargetError::Http { url, source })?;
        Ok(Some(bytes.to_vec()))
    }

    async fn put_many(&self, entries: &[(String, Vec<u8>)]) -> Result<(), TargetError> {
        // The bulk endpoint takes up to 10,000 pairs per request.
        let url = format!("{}/bulk", self.base);
        for chunk in entries.chunks(10_000) {
            let body = chunk
                .iter()
                .map(|(key, value)| {
                    let value = std::str::from_utf8(value).map_err(|e| TargetError::Io {
                        path: key.clone(),
                        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
                    })?;
                    Ok(BulkEntry { key, value })
                })
                .collect::<Result<Vec<_>, TargetError>>()?;
            let response = self
                .client
                .put(&url)
                .bearer_auth(&self.token)
                .json(&body)
                .send()
                .await;
            self.check(&url, response).await?;
        }
        Ok(())
    }

    async fn put(&self, key: &str, value: &[u8]) -> Result<(), TargetError> {
        let url = format!("{}/values/{}", self.base, encode_key(key));
        let response = self
            .client
            .put(&url)
            .bearer_auth(&self.token)
            .header("content-type", "application/octet-stream")
            .body(value.to_vec())
            .send()
            .await;
        self.check(&url, response).await.map(|_| ())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, TargetError> {
        let url = format!("{}/keys", self.base);
        let mut keys = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut page_url = format!("{url}?limit=1000&prefix={}", encode_key(prefix));
            if let Some(c) = &cursor {
                page_url.push_str(&format!("&cursor={}", encode_key(c)));
            }
            let response = self
                .client
                .get(&page_url)
                .bearer_auth(&self.token)
                .send()
                .await;
            let response = self.check(&url, response).await?;
            let page: ListPage = response.json().await.map_err(|source| TargetError::Http {
                url: url.clone(),
                source,
            })?;
            keys.extend(page.result.into_iter().map(|k| k.name));
            cursor = page
                .result_info
                .and_then(|i| i.cursor)
                .filter(|c| !c.is_empty());
            if cursor.is_none() {
                return Ok(keys);
            }
        }
    }

    async fn delete_many(&self, keys: &[String]) -> Result<(), TargetError> {
        let url = format!("{}/bulk/delete", self.base);
        for chunk in keys.chunks(10_000) {
            let response = self
                .client
                .post(&url)
                .bearer_auth(&self.token)
                .json(&chunk)
                .send()
                .await;
            self.check(&url, response).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_escaped_as_one_path_segment() {
        assert_eq!(encode_key("vane/prod/current"), "vane%2Fprod%2Fcurrent");
    }
}
