//! Edge key-value stores sync writes to. One small trait; one module per adapter.

mod cloudflare;
mod dir;
mod redis;

pub use cloudflare::{API_BASE, CloudflareKv};

/// The Cloudflare API base, as a `&'static str` for clap defaults.
pub const fn cloudflare_api_base() -> &'static str {
    API_BASE
}
pub use dir::DirTarget;
pub use redis::RedisTarget;

use async_trait::async_trait;

/// Why a store operation failed. Sync retries with backoff; nothing is half-applied because
/// the pointer moves only after the snapshot is written.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{url}: {source}")]
    Http { url: String, source: reqwest::Error },
    #[error("{url} answered {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("redis: {0}")]
    Redis(#[from] ::redis::RedisError),
}

/// A key-value store an edge reads snapshots from.
#[async_trait]
pub trait Target: Send + Sync + std::fmt::Debug {
    /// A short name for logs and metrics, e.g. `dir:/var/lib/vane/kv`.
    fn name(&self) -> String;
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, TargetError>;
    /// Writes several keys; adapters use their bulk API where there is one.
    async fn put_many(&self, entries: &[(String, Vec<u8>)]) -> Result<(), TargetError>;
    async fn put(&self, key: &str, value: &[u8]) -> Result<(), TargetError> {
        self.put_many(&[(key.to_owned(), value.to_vec())]).await
    }
    /// Keys starting with `prefix`, in any order.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, TargetError>;
    async fn delete_many(&self, keys: &[String]) -> Result<(), TargetError>;
}
