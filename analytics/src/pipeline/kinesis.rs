//! The Amazon Kinesis adapter of [`StreamSource`]: shards from `ListShards` (with their parents,
//! so resharded streams are read parents first), records from `GetRecords` through shard
//! iterators. A record's position is its sequence number; reads resume with
//! `AFTER_SEQUENCE_NUMBER`, or `TRIM_HORIZON` for a shard never read. The iterator each read
//! returns is kept for the next read from the same position.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::error::DisplayErrorContext;
use aws_sdk_kinesis::types::ShardIteratorType;
use bytes::Bytes;

use crate::error::AnalyticsError;

use super::source::{ReadBatch, ShardInfo, SourceRecord, StreamSource};

/// GetRecords returns at most this many records.
pub const MAX_GET_RECORDS: usize = 10_000;
/// Empty GetRecords calls tolerated while the stream says records lie ahead.
const EMPTY_READS: usize = 5;

/// Reads one Kinesis stream.
#[derive(Debug)]
pub struct KinesisSource {
    client: Client,
    stream: String,
    /// Per shard: (position the iterator reads after, the iterator).
    iterators: Mutex<HashMap<String, (Option<String>, String)>>,
}

fn err(what: &str, e: impl std::error::Error) -> AnalyticsError {
    AnalyticsError::Source(format!("{what}: {}", DisplayErrorContext(e)))
}

impl KinesisSource {
    pub fn new(client: Client, stream: impl Into<String>) -> Self {
        Self {
            client,
            stream: stream.into(),
            iterators: Mutex::new(HashMap::new()),
        }
    }

    /// A client from the standard AWS configuration chain, with an optional endpoint override
    /// (a local Kinesis-compatible server).
    pub async fn client(endpoint: Option<&str>) -> Client {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(endpoint) = endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        Client::new(&loader.load().await)
    }

    async fn iterator(&self, shard: &str, after: Option<&str>) -> Result<String, AnalyticsError> {
        let cached = self
            .iterators
            .lock()
            .ok()
            .and_then(|mut m| match m.get(shard) {
                Some((pos, _)) if pos.as_deref() == after => m.remove(shard).map(|(_, it)| it),
                _ => None,
            });
        if let Some(it) = cached {
            return Ok(it);
        }
        let mut request = self
            .client
            .get_shard_iterator()
            .stream_name(&self.stream)
            .shard_id(shard);
        request = match after {
            Some(seq) => request
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .starting_sequence_number(seq),
            None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
        };
        let out = request
            .send()
            .await
            .map_err(|e| err(&format!("GetShardIterator {}/{shard}", self.stream), e))?;
        out.shard_iterator()
            .map(str::to_owned)
            .ok_or_else(|| AnalyticsError::Source(format!("no iterator for shard {shard}")))
    }
}

#[async_trait]
impl StreamSource for KinesisSource {
    fn stream(&self) -> &str {
        &self.stream
    }

    async fn shards(&self) -> Result<Vec<ShardInfo>, AnalyticsError> {
        let mut shards = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let request = match &token {
                Some(t) => self.client.list_shards().next_token(t),
                None => self.client.list_shards().stream_name(&self.stream),
            };
            let out = request
                .send()
                .await
                .map_err(|e| err(&format!("ListShards {}", self.stream), e))?;
            for s in out.shards() {
                let parents = s
                    .parent_shard_id()
                    .into_iter()
                    .chain(s.adjacent_parent_shard_id())
                    .map(str::to_owned)
                    .collect();
                shards.push(ShardInfo {
                    id: s.shard_id().to_owned(),
                    parents,
                });
            }
            match out.next_token() {
                Some(t) => token = Some(t.to_owned()),
                None => break,
            }
        }
        Ok(shards)
    }

    async fn read(
        &self,
        shard: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<ReadBatch, AnalyticsError> {
        let mut iterator = self.iterator(shard, after).await?;
        let mut batch = ReadBatch::default();
        for _ in 0..EMPTY_READS {
            let out = self
                .client
                .get_records()
                .shard_iterator(&iterator)
                .limit(i32::try_from(limit.clamp(1, MAX_GET_RECORDS)).unwrap_or(1))
                .send()
                .await
                .map_err(|e| err(&format!("GetRecords {}/{shard}", self.stream), e))?;
            for r in out.records() {
                batch.records.push(SourceRecord {
                    position: r.sequence_number().to_owned(),
                    data: Bytes::copy_from_slice(r.data().as_ref()),
                });
            }
            let position = batch
                .records
                .last()
                .map(|r| r.position.clone())
                .or_else(|| after.map(str::to_owned));
            match out.next_shard_iterator() {
                None => {
                    batch.shard_end = true;
                    break;
                }
                Some(next) => {
                    iterator = next.to_owned();
                    if let Ok(mut m) = self.iterators.lock() {
                        m.insert(shard.to_owned(), (position, iterator.clone()));
                    }
                }
            }
            if !batch.records.is_empty() || out.millis_behind_latest().unwrap_or(0) == 0 {
                break;
            }
        }
        if batch.shard_end
            && let Ok(mut m) = self.iterators.lock()
        {
            m.remove(shard);
        }
        Ok(batch)
    }
}
