//! The S3 adapter of the data lake (`aws-sdk-s3`), with an optional endpoint override and
//! path-style addressing for S3-compatible servers.

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;

use crate::error::AnalyticsError;

use super::lake::LakeSink;

/// A lake in an S3 bucket, under an optional key prefix.
#[derive(Debug, Clone)]
pub struct S3Lake {
    client: Client,
    bucket: String,
    prefix: String,
}

fn err(what: &str, e: impl std::error::Error) -> AnalyticsError {
    AnalyticsError::Lake(format!(
        "{what}: {}",
        aws_sdk_s3::error::DisplayErrorContext(e)
    ))
}

impl S3Lake {
    pub fn new(client: Client, bucket: impl Into<String>, prefix: impl Into<String>) -> Self {
        let mut prefix = prefix.into();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        Self {
            client,
            bucket: bucket.into(),
            prefix,
        }
    }

    /// A client from the standard AWS configuration chain; with an endpoint (an S3-compatible
    /// server), path-style addressing.
    pub async fn client(endpoint: Option<&str>) -> Client {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(endpoint) = endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let shared = loader.load().await;
        let config = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(endpoint.is_some())
            .build();
        Client::from_conf(config)
    }

    /// Creates the bucket unless it exists (tests and local set-ups).
    pub async fn ensure_bucket(&self) -> Result<(), AnalyticsError> {
        if self
            .client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .is_ok()
        {
            return Ok(());
        }
        self.client
            .create_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| err("creating the bucket", e))
    }
}

#[async_trait]
impl LakeSink for S3Lake {
    async fn put(&self, key: &str, body: Bytes) -> Result<(), AnalyticsError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(format!("{}{key}", self.prefix))
            .body(ByteStream::from(body))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| err(&format!("putting {key}"), e))
    }

    async fn get(&self, key: &str) -> Result<Bytes, AnalyticsError> {
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(format!("{}{key}", self.prefix))
            .send()
            .await
            .map_err(|e| err(&format!("getting {key}"), e))?;
        out.body
            .collect()
            .await
            .map(|b| b.into_bytes())
            .map_err(|e| AnalyticsError::Lake(format!("reading {key}: {e}")))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, AnalyticsError> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(format!("{}{prefix}", self.prefix))
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| err("listing objects", e))?;
            for object in out.contents() {
                if let Some(key) = object.key().and_then(|k| k.strip_prefix(&self.prefix)) {
                    keys.push(key.to_owned());
                }
            }
            match out.next_continuation_token() {
                Some(t) if out.is_truncated() == Some(true) => token = Some(t.to_owned()),
                _ => break,
            }
        }
        keys.sort();
        Ok(keys)
    }

    fn describe(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }
}
