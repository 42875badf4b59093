//! The Amazon Kinesis event sink: events packed several to a record (partition key from the
//! unit id), PutRecords batches within the API's limits, failed records retried with backoff.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use vane_edge::events::{Record, pack_records, put_records_calls};
use vane_engine::event::EnrichedEvent;

use crate::sink::{EventSink, SinkError};

/// Each record is kept well under Kinesis' 1 MiB limit; 64 KiB packs many events per record
/// while leaving room to spread units across shards.
pub const MAX_RECORD_BYTES: usize = 64 * 1024;
/// Attempts per batch before the sink gives up and the edge answers 503.
const ATTEMPTS: u32 = 6;

/// Sends events to one Kinesis stream.
#[derive(Debug, Clone)]
pub struct KinesisSink {
    client: Client,
    stream: String,
}

impl KinesisSink {
    pub fn new(client: Client, stream: impl Into<String>) -> Self {
        Self {
            client,
            stream: stream.into(),
        }
    }

    /// A client from the standard AWS configuration chain, with an optional endpoint override
    /// (e.g. a local Kinesis-compatible server).
    pub async fn client(endpoint: Option<&str>) -> Client {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(endpoint) = endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        Client::new(&loader.load().await)
    }

    /// Sends one PutRecords call's worth of records, retrying only the records that failed.
    async fn put(&self, mut pending: Vec<Record>) -> Result<(), SinkError> {
        let mut delay = Duration::from_millis(50);
        for attempt in 1..=ATTEMPTS {
            let entries = pending
                .iter()
                .map(|r| {
                    PutRecordsRequestEntry::builder()
                        .partition_key(&r.partition_key)
                        .data(Blob::new(r.data.clone()))
                        .build()
                        .map_err(|e| SinkError::Other(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let outcome = self
                .client
                .put_records()
                .stream_name(&self.stream)
                .set_records(Some(entries))
                .send()
                .await;
            match outcome {
                Ok(output) if output.failed_record_count().unwrap_or(0) == 0 => return Ok(()),
                Ok(output) => {
                    // Keep the records whose result carries an error code, in order.
                    let failed: Vec<Record> = output
                        .records()
                        .iter()
                        .zip(pending)
                        .filter(|(result, _)| result.error_code().is_some())
                        .map(|(_, record)| record)
                        .collect();
                    tracing::warn!(
                        attempt,
                        failed = failed.len(),
                        "PutRecords partially failed; retrying"
                    );
                    pending = failed;
                }
                Err(e) if attempt == ATTEMPTS => {
                    return Err(SinkError::Other(format!(
                        "PutRecords to {} failed: {}",
                        self.stream,
                        aws_sdk_kinesis::error::DisplayErrorContext(&e)
                    )));
                }
                Err(e) => {
                    tracing::warn!(attempt, error = %aws_sdk_kinesis::error::DisplayErrorContext(&e), "PutRecords failed; retrying");
                }
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(2));
        }
        Err(SinkError::Other(format!(
            "{} records still failing after {ATTEMPTS} attempts",
            pending.len()
        )))
    }
}

#[async_trait]
impl EventSink for KinesisSink {
    async fn send(&self, events: &[EnrichedEvent]) -> Result<(), SinkError> {
        for batch in put_records_calls(pack_records(events, MAX_RECORD_BYTES)) {
            self.put(batch).await?;
        }
        Ok(())
    }
}
