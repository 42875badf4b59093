//! Event sinks: the collector (NDJSON over HTTP) and Kinesis (`PutRecords`). They send through
//! an [`HttpClient`] port: the worker's `fetch` in production, a recorder in the tests.
//!
//! `forward` returns only once the destination accepted every event, so the edge answers 202
//! only for events that are safe; any failure becomes a 503 and the client retries the batch
//! (event ids make retries safe downstream).

use vane_edge::events::{KINESIS_MAX_RECORD_DATA_BYTES, pack_records, put_records_calls};
use vane_engine::event::EnrichedEvent;

use crate::config::{EventsConfig, KinesisConfig};
use crate::kinesis;

/// An HTTP answer: status and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpAnswer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Sends one POST (bounded in time by the implementation).
// Used only inside one single-threaded isolate: the futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait HttpClient {
    async fn post(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Result<HttpAnswer, String>;
}

/// Why a batch was not accepted. The cause is logged; the client only sees a 503.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    #[error("sending to {url} failed: {message}")]
    Transport { url: String, message: String },
    #[error("{url} answered {status}: {excerpt}")]
    Status {
        url: String,
        status: u16,
        excerpt: String,
    },
    #[error("Kinesis refused {failed} records after a retry (first error: {code})")]
    RecordsFailed { failed: usize, code: String },
    #[error("{0}")]
    Other(String),
}

/// Delivers `events` to the configured destination; `now_ms` dates the SigV4 signature.
pub async fn forward<C: HttpClient>(
    config: &EventsConfig,
    client: &C,
    events: &[EnrichedEvent],
    now_ms: i64,
) -> Result<(), SinkError> {
    match config {
        EventsConfig::Collector { url } => {
            let headers = [("content-type".to_owned(), "application/x-ndjson".to_owned())];
            let answer = post(client, url, &headers, ndjson(events)?).await?;
            accepted(url, answer).map(drop)
        }
        EventsConfig::Kinesis(kinesis) => put_records(kinesis, client, events, now_ms).await,
        EventsConfig::Discard => Ok(()),
    }
}

/// Newline-delimited JSON, one enriched event a line.
pub fn ndjson(events: &[EnrichedEvent]) -> Result<Vec<u8>, SinkError> {
    let mut body = Vec::new();
    for event in events {
        serde_json::to_writer(&mut body, event).map_err(|e| SinkError::Other(e.to_string()))?;
        body.push(b'\n');
    }
    Ok(body)
}

async fn post<C: HttpClient>(
    client: &C,
    url: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> Result<HttpAnswer, SinkError> {
    client
        .post(url, headers, body)
        .await
        .map_err(|message| SinkError::Transport {
            url: url.to_owned(),
            message,
        })
}

fn accepted(url: &str, answer: HttpAnswer) -> Result<HttpAnswer, SinkError> {
    if (200..300).contains(&answer.status) {
        return Ok(answer);
    }
    let text = String::from_utf8_lossy(&answer.body);
    Err(SinkError::Status {
        url: url.to_owned(),
        status: answer.status,
        excerpt: text.chars().take(200).collect(),
    })
}

/// Packs the events into records, sends them in `PutRecords` calls, and retries the records a
/// call reports as failed once.
async fn put_records<C: HttpClient>(
    config: &KinesisConfig,
    client: &C,
    events: &[EnrichedEvent],
    now_ms: i64,
) -> Result<(), SinkError> {
    let records = pack_records(events, KINESIS_MAX_RECORD_DATA_BYTES);
    for mut pending in put_records_calls(records) {
        for attempt in 0..2 {
            let body = kinesis::put_records_body(&config.stream, &pending);
            let headers =
                kinesis::signed_headers(config, &body, now_ms).map_err(SinkError::Other)?;
            let answer = accepted(
                &config.endpoint,
                post(client, &config.endpoint, &headers, body).await?,
            )?;
            let (failed, code) =
                kinesis::failed_records(&answer.body, &pending).map_err(SinkError::Other)?;
            if failed.is_empty() {
                break;
            }
            if attempt == 1 {
                return Err(SinkError::RecordsFailed {
                    failed: failed.len(),
                    code: code.unwrap_or_default(),
                });
            }
            pending = failed;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    use futures_executor::block_on;
    use serde_json::Value;
    use vane_engine::Timestamp;
    use vane_engine::event::{Event, EventKind};

    use super::*;
    use crate::config::Secret;

    /// One recorded POST: URL, headers, body.
    type Sent = (String, Vec<(String, String)>, Vec<u8>);

    /// Records every POST and answers from a script (then an empty success).
    #[derive(Debug, Default)]
    struct Recorder {
        sent: RefCell<Vec<Sent>>,
        answers: RefCell<Vec<Result<HttpAnswer, String>>>,
    }

    impl HttpClient for Recorder {
        async fn post(
            &self,
            url: &str,
            headers: &[(String, String)],
            body: Vec<u8>,
        ) -> Result<HttpAnswer, String> {
            self.sent
                .borrow_mut()
                .push((url.to_owned(), headers.to_vec(), body));
            let mut answers = self.answers.borrow_mut();
            if answers.is_empty() {
                Ok(HttpAnswer {
                    status: 200,
                    body: br#"{"FailedRecordCount":0,"Records":[]}"#.to_vec(),
                })
            } else {
                answers.remove(0)
            }
        }
    }

    fn event(id: &str, user: &str) -> EnrichedEvent {
        let raw = serde_json::json!({
            "id": id, "type": "track", "event": "purchase",
            "units": {"user_id": user}, "timestamp": "2026-11-24T11:59:00Z"
        });
        let event: Event = vane_engine::event::validate_event(
            0,
            raw,
            Timestamp::from_unix_millis(1_795_521_600_000),
        )
        .unwrap();
        assert!(matches!(event.kind, EventKind::Track { .. }));
        EnrichedEvent {
            event,
            received_at: Timestamp::from_unix_millis(1_795_521_600_000),
            environment: "spec".into(),
            snapshot_version: 1,
            edge: "cloudflare".into(),
            country: Some("DE".into()),
        }
    }

    fn kinesis_config() -> EventsConfig {
        EventsConfig::Kinesis(KinesisConfig {
            endpoint: "http://127.0.0.1:4567".into(),
            stream: "vane-events".into(),
            region: "us-east-1".into(),
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: Secret::new("secret"),
            session_token: None,
        })
    }

    #[test]
    fn the_collector_gets_one_enriched_event_a_line() {
        let client = Recorder::default();
        let config = EventsConfig::Collector {
            url: "http://127.0.0.1:9/ingest".into(),
        };
        let events = [event("e1", "u1"), event("e2", "u2")];
        block_on(forward(&config, &client, &events, 0)).unwrap();
        let sent = client.sent.borrow();
        let (url, headers, body) = &sent[0];
        assert_eq!(url, "http://127.0.0.1:9/ingest");
        assert!(headers.contains(&("content-type".into(), "application/x-ndjson".into())));
        let lines: Vec<Value> = body
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["id"], "e1");
        assert_eq!(lines[0]["edge"], "cloudflare");
        assert_eq!(lines[0]["country"], "DE");
    }

    #[test]
    fn a_collector_error_status_or_transport_failure_is_an_error() {
        let config = EventsConfig::Collector {
            url: "http://127.0.0.1:9/ingest".into(),
        };
        let client = Recorder::default();
        client.answers.borrow_mut().push(Ok(HttpAnswer {
            status: 500,
            body: b"down".to_vec(),
        }));
        client
            .answers
            .borrow_mut()
            .push(Err("connection refused".into()));
        let events = [event("e1", "u1")];
        assert!(matches!(
            block_on(forward(&config, &client, &events, 0)),
            Err(SinkError::Status { status: 500, .. })
        ));
        assert!(matches!(
            block_on(forward(&config, &client, &events, 0)),
            Err(SinkError::Transport { .. })
        ));
    }

    #[test]
    fn kinesis_gets_signed_put_records_with_one_record_per_unit() {
        let client = Recorder::default();
        let events = [event("e1", "u1"), event("e2", "u2"), event("e3", "u1")];
        block_on(forward(
            &kinesis_config(),
            &client,
            &events,
            1_795_521_600_000,
        ))
        .unwrap();
        let sent = client.sent.borrow();
        assert_eq!(sent.len(), 1);
        let (url, headers, body) = &sent[0];
        assert_eq!(url, "http://127.0.0.1:4567");
        assert!(
            headers
                .iter()
                .any(|(n, v)| n == "authorization" && v.starts_with("AWS4-HMAC-SHA256 "))
        );
        let body: Value = serde_json::from_slice(body).unwrap();
        let keys: BTreeMap<String, usize> = body["Records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["PartitionKey"].as_str().unwrap().to_owned(), 1))
            .collect();
        assert_eq!(keys.keys().collect::<Vec<_>>(), ["u1", "u2"]);
    }

    #[test]
    fn kinesis_retries_only_the_failed_records_once() {
        let client = Recorder::default();
        client.answers.borrow_mut().push(Ok(HttpAnswer {
            status: 200,
            body: br#"{"FailedRecordCount":1,"Records":[{"SequenceNumber":"1"},{"ErrorCode":"InternalFailure"}]}"#
                .to_vec(),
        }));
        let events = [event("e1", "u1"), event("e2", "u2")];
        block_on(forward(&kinesis_config(), &client, &events, 1)).unwrap();
        let sent = client.sent.borrow();
        assert_eq!(sent.len(), 2);
        let retry: Value = serde_json::from_slice(&sent[1].2).unwrap();
        assert_eq!(retry["Records"].as_array().unwrap().len(), 1);
        assert_eq!(retry["Records"][0]["PartitionKey"], "u2");
    }

    #[test]
    fn kinesis_records_that_fail_twice_fail_the_batch() {
        let client = Recorder::default();
        let failing = br#"{"FailedRecordCount":1,"Records":[{"ErrorCode":"ProvisionedThroughputExceededException"}]}"#;
        for _ in 0..2 {
            client.answers.borrow_mut().push(Ok(HttpAnswer {
                status: 200,
                body: failing.to_vec(),
            }));
        }
        let events = [event("e1", "u1")];
        assert_eq!(
            block_on(forward(&kinesis_config(), &client, &events, 1)),
            Err(SinkError::RecordsFailed {
                failed: 1,
                code: "ProvisionedThroughputExceededException".into()
            })
        );
    }

    #[test]
    fn discard_sends_nothing() {
        let client = Recorder::default();
        block_on(forward(
            &EventsConfig::Discard,
            &client,
            &[event("e1", "u1")],
            0,
        ))
        .unwrap();
        assert!(client.sent.borrow().is_empty());
    }
}
