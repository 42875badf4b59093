//! Redis as a KV store: the store behind Spin's key-value in self-hosted deployments.

use async_trait::async_trait;
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;

use super::{Target, TargetError};

#[derive(Debug, Clone)]
pub struct RedisTarget {
    url: String,
    client: redis::Client,
}

impl RedisTarget {
    pub fn new(url: &str) -> Result<Self, TargetError> {
        Ok(Self {
            url: url.to_owned(),
            client: redis::Client::open(url)?,
        })
    }

    async fn connection(&self) -> Result<MultiplexedConnection, TargetError> {
        Ok(self.client.get_multiplexed_async_connection().await?)
    }
}

#[async_trait]
impl Target for RedisTarget {
    fn name(&self) -> String {
        // Never log credentials that may be in the URL.
        let host = self.url.rsplit('@').next().unwrap_or(&self.url);
        format!("redis:{host}")
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, TargetError> {
        Ok(self.connection().await?.get(key).await?)
    }

    async fn put_many(&self, entries: &[(String, Vec<u8>)]) -> Result<(), TargetError> {
        // MSET is atomic: all keys of the call appear together.
        let pairs: Vec<(&str, &[u8])> = entries
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_slice()))
            .collect();
        let () = self.connection().await?.mset(&pairs).await?;
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, TargetError> {
        let mut conn = self.connection().await?;
        let pattern = format!("{}*", prefix.replace(['*', '?', '[', ']'], "\\$0"));
        let mut keys = Vec::new();
        let mut iter: redis::AsyncIter<String> = conn.scan_match(&pattern).await?;
        while let Some(key) = futures_util::StreamExt::next(&mut iter).await {
            keys.push(key?);
        }
        Ok(keys)
    }

    async fn delete_many(&self, keys: &[String]) -> Result<(), TargetError> {
        if keys.is_empty() {
            return Ok(());
        }
        let () = self.connection().await?.del(keys).await?;
        Ok(())
    }
}
