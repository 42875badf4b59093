//! Events through a native edge node into a Kinesis stream (a local Kinesis-compatible server,
//! kinesalite, started by scripts/with-kinesalite.sh), read back from every shard.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_kinesis::types::{ShardIteratorType, StreamStatus};
use serde_json::json;
use vane_edge::conformance::{CLIENT_KEY, ENVIRONMENT};
use vane_edge::{EdgeHandler, EdgeIdentity};
use vane_edge_native::kinesis::KinesisSink;
use vane_edge_native::{Application, conformance};

fn endpoint() -> Option<String> {
    match std::env::var("VANE_TEST_KINESIS_ENDPOINT") {
        Ok(url) => Some(url),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!(
                "CI must run this test through scripts/with-kinesalite.sh (VANE_TEST_KINESIS_ENDPOINT unset)"
            )
        }
        Err(_) => {
            eprintln!(
                "skipped: VANE_TEST_KINESIS_ENDPOINT is not set (run through scripts/with-kinesalite.sh)"
            );
            None
        }
    }
}

#[tokio::test]
async fn events_posted_to_the_edge_are_readable_from_every_shard_of_the_stream() {
    let Some(endpoint) = endpoint() else { return };
    let client = KinesisSink::client(Some(&endpoint)).await;
    let stream = format!("vane-events-{}", std::process::id());
    client
        .create_stream()
        .stream_name(&stream)
        .shard_count(3)
        .send()
        .await
        .unwrap();
    for _ in 0..100 {
        let d = client
            .describe_stream()
            .stream_name(&stream)
            .send()
            .await
            .unwrap();
        if d.stream_description().map(|s| s.stream_status()) == Some(&StreamStatus::Active) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let edge = EdgeHandler::new(
        ENVIRONMENT,
        EdgeIdentity {
            edge_id: "k-1".into(),
            runtime: "native",
        },
    );
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spec");
    edge.cache
        .install(
            conformance::snapshot_json(&spec, 1).unwrap().as_bytes(),
            vane_edge_native::now(),
        )
        .unwrap();
    let sink = Arc::new(KinesisSink::new(client.clone(), stream.clone()));
    let app = Application::build("127.0.0.1:0".parse().unwrap(), edge, sink, None)
        .await
        .unwrap();
    let base = format!("http://{}", app.local_addr().unwrap());
    tokio::spawn(app.run_until(std::future::pending()));

    let now = vane_edge_native::now().to_rfc3339().unwrap();
    let http = reqwest::Client::new();
    let mut sent = BTreeSet::new();
    for batch in 0..3 {
        let events: Vec<_> = (0..400)
            .map(|i| {
                let id = format!("b{batch}-e{i}");
                sent.insert(id.clone());
                json!({"id": id, "type": "track", "timestamp": now, "event": "purchase", "value": i,
                       "units": {"user_id": format!("user-{}", i % 97)}})
            })
            .collect();
        let r = http
            .post(format!("{base}/v1/events"))
            .bearer_auth(CLIENT_KEY)
            .json(&json!({"events": events}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    }

    let shards = client
        .list_shards()
        .stream_name(&stream)
        .send()
        .await
        .unwrap();
    let mut received = Vec::new();
    let mut records = 0;
    for shard in shards.shards() {
        let mut iterator = client
            .get_shard_iterator()
            .stream_name(&stream)
            .shard_id(shard.shard_id())
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap()
            .shard_iterator()
            .map(str::to_owned);
        while let Some(it) = iterator {
            let out = client
                .get_records()
                .shard_iterator(it)
                .send()
                .await
                .unwrap();
            for record in out.records() {
                records += 1;
                for event in vane_edge::events::unpack_record(record.data().as_ref()) {
                    let event = event.unwrap();
                    assert_eq!(
                        vane_edge::events::partition_key(&event),
                        record.partition_key()
                    );
                    received.push(event.event.id);
                }
            }
            iterator = if out.records().is_empty() {
                None
            } else {
                out.next_shard_iterator().map(str::to_owned)
            };
        }
    }
    let unique: BTreeSet<_> = received.iter().cloned().collect();
    assert_eq!(received.len(), sent.len(), "every event exactly once");
    assert_eq!(unique, sent);
    // Several events travel per record: 1,200 events, 97 units, 3 batches.
    assert!(records < 400, "{records} records for 1200 events");
}
