//! The stream port: where the consumer reads records from. Two adapters sit beside it, the
//! embedded log ([`super::log::LogSource`]) and Amazon Kinesis ([`super::kinesis::KinesisSource`]);
//! the consumer does not know which one it reads.
//!
//! A stream has shards; a shard is an ordered sequence of records, each with an opaque
//! *position* that the consumer checkpoints and later reads *after*. A shard may end (Kinesis
//! resharding closes it); its children list it as a parent and are read only once every parent
//! has been read to its end.

use async_trait::async_trait;
use bytes::Bytes;

use crate::error::AnalyticsError;

/// One shard of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardInfo {
    pub id: String,
    /// Shards that must be read to their end before this one.
    pub parents: Vec<String>,
}

/// One record: NDJSON of enriched events.
#[derive(Debug, Clone)]
pub struct SourceRecord {
    /// Checkpoint after this record.
    pub position: String,
    pub data: Bytes,
}

/// The outcome of a read.
#[derive(Debug, Clone, Default)]
pub struct ReadBatch {
    pub records: Vec<SourceRecord>,
    /// The shard is closed and nothing remains after the last record returned.
    pub shard_end: bool,
}

/// A stream of event records.
#[async_trait]
pub trait StreamSource: Send + Sync + std::fmt::Debug {
    /// The stream's name, under which checkpoints and leases are stored.
    fn stream(&self) -> &str;

    /// Every shard that currently exists.
    async fn shards(&self) -> Result<Vec<ShardInfo>, AnalyticsError>;

    /// Up to `limit` records of `shard` after `after` (from the oldest record when `None`).
    async fn read(
        &self,
        shard: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<ReadBatch, AnalyticsError>;
}
