//! `/v1/events`: validate each event, enrich the valid ones, hand them to the shell's sink, and
//! answer only once the sink accepted them. Also the record packing stream sinks share.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use http::{Request, StatusCode};
use serde::Serialize;
use vane_engine::Timestamp;
use vane_engine::event::{EnrichedEvent, EventBatch, EventError, limits, validate_batch};

use crate::cache::Loaded;
use crate::http::{
    EdgeResponse, FieldError, body_too_large, field_problem, json_response, problem,
};
use crate::limits::MAX_EVENTS_BODY_BYTES;
use crate::{Action, EdgeHandler};

/// Accepted events waiting for the sink, and the per-event rejections to report.
#[derive(Debug)]
pub struct PendingEvents {
    pub events: Vec<EnrichedEvent>,
    rejected: Vec<EventError>,
}

/// Headers that carry the client's country, by platform.
const COUNTRY_HEADERS: [&str; 4] = [
    "cf-ipcountry",
    "cloudfront-viewer-country",
    "x-vercel-ip-country",
    "x-vane-country",
];

pub(crate) fn prepare(
    edge: &EdgeHandler,
    loaded: &Loaded,
    request: &Request<Bytes>,
    now: Timestamp,
) -> Action {
    let body = request.body();
    if body.len() > MAX_EVENTS_BODY_BYTES {
        return Action::Respond(body_too_large(MAX_EVENTS_BODY_BYTES, Some(body.len())));
    }
    if let Some(problem) = crate::routes::not_an_object(body) {
        return Action::Respond(problem);
    }
    let batch: EventBatch = match serde_json::from_slice(body) {
        Ok(b) => b,
        Err(e) => {
            let status = if e.is_syntax() || e.is_eof() {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            return Action::Respond(field_problem(
                status,
                "invalid-body",
                "body",
                &e.to_string(),
            ));
        }
    };
    if batch.events.len() > limits::MAX_EVENTS_PER_BATCH {
        return Action::Respond(field_problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-many-events",
            "events",
            &format!(
                "{} events in one batch; the limit is {}",
                batch.events.len(),
                limits::MAX_EVENTS_PER_BATCH
            ),
        ));
    }
    let validated = validate_batch(batch, now);
    let rejected = validated.rejected;
    edge.counters
        .events_rejected
        .fetch_add(rejected.len() as u64, Relaxed);
    if validated.accepted.is_empty() {
        let errors: Vec<FieldError> = rejected
            .iter()
            .map(|e| FieldError {
                field: e.field.clone(),
                message: e.message.clone(),
            })
            .collect();
        let detail = if errors.is_empty() {
            "the batch has no events".to_owned()
        } else {
            format!("all {} events are invalid", errors.len())
        };
        return Action::Respond(problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-events",
            &detail,
            Some(&errors),
        ));
    }
    let country = COUNTRY_HEADERS.iter().find_map(|h| {
        let v = request.headers().get(*h)?.to_str().ok()?.trim();
        (v.len() == 2 && v != "XX").then(|| v.to_ascii_uppercase())
    });
    let environment = loaded.compiled.environment().to_owned();
    let version = loaded.compiled.version();
    let events = validated
        .accepted
        .into_iter()
        .map(|event| EnrichedEvent {
            event,
            received_at: now,
            environment: environment.clone(),
            snapshot_version: version,
            edge: edge.identity.edge_id.clone(),
            country: country.clone(),
        })
        .collect();
    Action::Forward(PendingEvents { events, rejected })
}

#[derive(Serialize)]
struct Accepted<'a> {
    accepted: usize,
    rejected: &'a [EventError],
}

pub(crate) fn finish(
    edge: &EdgeHandler,
    pending: PendingEvents,
    sink: Result<(), String>,
) -> EdgeResponse {
    match sink {
        Ok(()) => {
            edge.counters
                .events_accepted
                .fetch_add(pending.events.len() as u64, Relaxed);
            json_response(
                StatusCode::ACCEPTED,
                &Accepted {
                    accepted: pending.events.len(),
                    rejected: &pending.rejected,
                },
            )
        }
        Err(reason) => {
            edge.counters
                .events_forward_failed
                .fetch_add(pending.events.len() as u64, Relaxed);
            let mut response = problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "sink-unavailable",
                "the event stream did not accept the batch; retry it (event ids make retries safe)",
                None,
            );
            // The cause is for operators (logged by the shell), not for clients.
            let _ = reason;
            response.headers_mut().insert(
                http::header::RETRY_AFTER,
                http::HeaderValue::from_static("1"),
            );
            response
        }
    }
}

/// A stream record: several events for one partition key, as newline-delimited JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub partition_key: String,
    pub data: Vec<u8>,
}

/// The partition key of an event: its `user_id` when present, else its first unit id, so all
/// events of a unit land on one shard in order.
pub fn partition_key(event: &EnrichedEvent) -> String {
    let units = &event.event.units;
    units
        .get("user_id")
        .or_else(|| units.values().next())
        .cloned()
        .unwrap_or_else(|| event.event.id.clone())
}

/// Packs events into records of at most `max_record_bytes` each, grouping events of the same
/// partition key so one shard's records/s limit does not cap events/s.
pub fn pack_records(events: &[EnrichedEvent], max_record_bytes: usize) -> Vec<Record> {
    let mut by_key: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
    for event in events {
        if let Ok(line) = serde_json::to_vec(event) {
            by_key.entry(partition_key(event)).or_default().push(line);
        }
    }
    let mut records = Vec::new();
    for (key, lines) in by_key {
        let mut data: Vec<u8> = Vec::new();
        for line in lines {
            if !data.is_empty() && data.len() + line.len() + 1 > max_record_bytes {
                records.push(Record {
                    partition_key: key.clone(),
                    data: std::mem::take(&mut data),
                });
            }
            data.extend_from_slice(&line);
            data.push(b'\n');
        }
        if !data.is_empty() {
            records.push(Record {
                partition_key: key,
                data,
            });
        }
    }
    records
}

/// Kinesis `PutRecords` accepts at most this many records per call.
pub const PUT_RECORDS_MAX_RECORDS: usize = 500;
/// Kinesis `PutRecords` accepts at most this many bytes (data plus partition keys) per call.
pub const PUT_RECORDS_MAX_BYTES: usize = 5 * 1024 * 1024;
/// The largest data blob of one Kinesis record: 1 MiB for data plus partition key, and a
/// partition key has at most 256 characters (1 KiB of UTF-8).
pub const KINESIS_MAX_RECORD_DATA_BYTES: usize = 1024 * 1024 - 1024;

/// Splits records into `PutRecords` calls within the per-call limits, keeping their order (so a
/// unit's events stay in order on its shard). The native node (AWS SDK) and the Cloudflare
/// worker (signed fetch) both send exactly these calls.
pub fn put_records_calls(records: Vec<Record>) -> Vec<Vec<Record>> {
    let mut calls = Vec::new();
    let mut current: Vec<Record> = Vec::new();
    let mut bytes = 0;
    for record in records {
        let size = record.data.len() + record.partition_key.len();
        if !current.is_empty()
            && (current.len() == PUT_RECORDS_MAX_RECORDS || bytes + size > PUT_RECORDS_MAX_BYTES)
        {
            calls.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += size;
        current.push(record);
    }
    if !current.is_empty() {
        calls.push(current);
    }
    calls
}

/// Parses a record's data back into events (the consumer side).
pub fn unpack_record(data: &[u8]) -> Vec<Result<EnrichedEvent, serde_json::Error>> {
    data.split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(serde_json::from_slice)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: &str, bytes: usize) -> Record {
        Record {
            partition_key: key.into(),
            data: vec![b'x'; bytes],
        }
    }

    #[test]
    fn put_records_calls_respect_the_record_count_limit() {
        let records: Vec<Record> = (0..1201).map(|i| record(&format!("u{i}"), 10)).collect();
        let calls = put_records_calls(records);
        let sizes: Vec<usize> = calls.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![500, 500, 201]);
        // Order is kept: the first call starts with the first record, the last ends with the last.
        assert_eq!(calls[0][0].partition_key, "u0");
        assert_eq!(calls[2][200].partition_key, "u1200");
    }

    #[test]
    fn put_records_calls_respect_the_byte_limit() {
        let big: Vec<Record> = (0..6)
            .map(|i| record(&format!("u{i}"), 1_000_000))
            .collect();
        let sizes: Vec<usize> = put_records_calls(big).iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![5, 1]);
        let records: Vec<Record> = (0..100)
            .map(|i| record(&i.to_string(), 200 * 1024))
            .collect();
        let calls = put_records_calls(records);
        for call in &calls {
            let bytes: usize = call
                .iter()
                .map(|r| r.data.len() + r.partition_key.len())
                .sum();
            assert!(bytes <= PUT_RECORDS_MAX_BYTES, "{bytes}");
        }
        assert_eq!(calls.iter().map(Vec::len).sum::<usize>(), 100);
        assert!(put_records_calls(Vec::new()).is_empty());
    }
}
