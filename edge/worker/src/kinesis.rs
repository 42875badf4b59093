//! Kinesis `PutRecords` over plain HTTP: the request body, its SigV4 signature (the `aws-sigv4`
//! crate, which builds for wasm32-unknown-unknown), and which records the stream refused.
//! Pure functions; the sink in `sink.rs` sends them.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use vane_edge::events::Record;

use crate::config::KinesisConfig;

pub const TARGET: &str = "Kinesis_20131202.PutRecords";
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PutRecords<'a> {
    stream_name: &'a str,
    records: Vec<PutRecord>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PutRecord {
    data: String,
    partition_key: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutRecordsOutput {
    #[serde(default)]
    failed_record_count: usize,
    #[serde(default)]
    records: Vec<PutRecordResult>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutRecordResult {
    #[serde(default)]
    error_code: Option<String>,
}

/// The JSON body of a `PutRecords` call.
pub fn put_records_body(stream: &str, records: &[Record]) -> Vec<u8> {
    let body = PutRecords {
        stream_name: stream,
        records: records
            .iter()
            .map(|r| PutRecord {
                data: BASE64.encode(&r.data),
                partition_key: r.partition_key.clone(),
            })
            .collect(),
    };
    serde_json::to_vec(&body).unwrap_or_default()
}

/// The records of `sent` that a `PutRecords` answer says failed (to retry), with the first
/// error code; `Err` when the answer is not a `PutRecords` output.
pub fn failed_records(
    answer: &[u8],
    sent: &[Record],
) -> Result<(Vec<Record>, Option<String>), String> {
    let output: PutRecordsOutput =
        serde_json::from_slice(answer).map_err(|e| format!("unreadable PutRecords answer: {e}"))?;
    if output.failed_record_count == 0 {
        return Ok((Vec::new(), None));
    }
    if output.records.len() != sent.len() {
        return Err(format!(
            "PutRecords answered {} results for {} records",
            output.records.len(),
            sent.len()
        ));
    }
    let mut first_code = None;
    let failed = output
        .records
        .iter()
        .zip(sent)
        .filter_map(|(result, record)| {
            let code = result.error_code.as_ref()?;
            first_code.get_or_insert_with(|| code.clone());
            Some(record.clone())
        })
        .collect();
    Ok((failed, first_code))
}

/// The headers of a signed `PutRecords` call to `config.endpoint` at `now_ms`, including
/// `authorization` and `x-amz-date` (and `x-amz-security-token` for temporary credentials).
pub fn signed_headers(
    config: &KinesisConfig,
    body: &[u8],
    now_ms: i64,
) -> Result<Vec<(String, String)>, String> {
    let headers = vec![
        ("content-type".to_owned(), CONTENT_TYPE.to_owned()),
        ("x-amz-target".to_owned(), TARGET.to_owned()),
    ];
    let time = SystemTime::UNIX_EPOCH + Duration::from_millis(u64::try_from(now_ms).unwrap_or(0));
    let signature = sign_v4(
        &SigningInput {
            method: "POST",
            url: &config.endpoint,
            headers: &headers,
            body,
            service: "kinesis",
            region: &config.region,
            time,
        },
        Credentials::new(
            config.access_key_id.clone(),
            config.secret_access_key.expose().to_owned(),
            config.session_token.as_ref().map(|t| t.expose().to_owned()),
            None,
            "vane-worker",
        ),
    )?;
    Ok(headers.into_iter().chain(signature).collect())
}

/// What a SigV4 signature covers.
#[derive(Debug)]
pub struct SigningInput<'a> {
    pub method: &'a str,
    pub url: &'a str,
    /// Headers sent with the request (`host` comes from the URL).
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
    pub service: &'a str,
    pub region: &'a str,
    pub time: SystemTime,
}

/// Signs a request with SigV4 (signature in headers) and returns the headers to add.
pub fn sign_v4(
    input: &SigningInput<'_>,
    credentials: Credentials,
) -> Result<Vec<(String, String)>, String> {
    let identity: Identity = credentials.into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(input.region)
        .name(input.service)
        .time(input.time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| format!("SigV4 parameters: {e}"))?
        .into();
    let request = SignableRequest::new(
        input.method,
        input.url,
        input
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str())),
        SignableBody::Bytes(input.body),
    )
    .map_err(|e| format!("SigV4 request: {e}"))?;
    let (instructions, _signature) = sign(request, &params)
        .map_err(|e| format!("SigV4 signing: {e}"))?
        .into_parts();
    Ok(instructions
        .headers()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    /// 2015-08-30T12:36:00Z, the time of the AWS SigV4 test suite.
    const SUITE_TIME_S: u64 = 1_440_938_160;

    fn suite_credentials() -> Credentials {
        Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            None,
            None,
            "test",
        )
    }

    fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {name} in {headers:?}"))
    }

    /// The published AWS SigV4 test suite cases `get-vanilla` and `post-vanilla`.
    #[test]
    fn signing_reproduces_the_aws_sigv4_test_suite() {
        for (method, signature) in [
            (
                "GET",
                "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            ),
            (
                "POST",
                "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
            ),
        ] {
            let headers = sign_v4(
                &SigningInput {
                    method,
                    url: "https://example.amazonaws.com/",
                    headers: &[],
                    body: b"",
                    service: "service",
                    region: "us-east-1",
                    time: SystemTime::UNIX_EPOCH + Duration::from_secs(SUITE_TIME_S),
                },
                suite_credentials(),
            )
            .unwrap();
            assert_eq!(header(&headers, "x-amz-date"), "20150830T123600Z");
            assert_eq!(
                header(&headers, "authorization"),
                format!(
                    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
                     SignedHeaders=host;x-amz-date, Signature={signature}"
                ),
                "{method}"
            );
        }
    }

    fn config(token: Option<&str>) -> KinesisConfig {
        KinesisConfig {
            endpoint: "http://127.0.0.1:4567".into(),
            stream: "vane-events".into(),
            region: "us-east-1".into(),
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            session_token: token.map(Secret::new),
        }
    }

    #[test]
    fn a_put_records_call_signs_its_target_content_type_and_host() {
        let headers = signed_headers(&config(None), b"{}", 1_795_521_600_000).unwrap();
        assert_eq!(header(&headers, "x-amz-target"), TARGET);
        assert_eq!(header(&headers, "content-type"), CONTENT_TYPE);
        assert_eq!(header(&headers, "x-amz-date"), "20261124T120000Z");
        let authorization = header(&headers, "authorization");
        assert!(
            authorization.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/kinesis/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature="
            ),
            "{authorization}"
        );
        let with_token = signed_headers(&config(Some("token")), b"{}", 1_795_521_600_000).unwrap();
        assert_eq!(header(&with_token, "x-amz-security-token"), "token");
        // The body is part of the signature.
        let other = signed_headers(&config(None), b"{ }", 1_795_521_600_000).unwrap();
        assert_ne!(header(&other, "authorization"), authorization);
    }

    fn record(key: &str, bytes: usize) -> Record {
        Record {
            partition_key: key.into(),
            data: vec![b'x'; bytes],
        }
    }

    #[test]
    fn the_body_names_the_stream_and_base64_encodes_data() {
        let body = put_records_body("vane-events", &[record("u1", 3)]);
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "StreamName": "vane-events",
                "Records": [{"Data": "eHh4", "PartitionKey": "u1"}]
            })
        );
    }

    #[test]
    fn failed_records_are_picked_by_position() {
        let sent = vec![record("a", 1), record("b", 1), record("c", 1)];
        let answer = br#"{"FailedRecordCount":2,"Records":[
            {"ErrorCode":"ProvisionedThroughputExceededException","ErrorMessage":"slow down"},
            {"SequenceNumber":"1","ShardId":"shardId-000000000000"},
            {"ErrorCode":"InternalFailure","ErrorMessage":"oops"}]}"#;
        let (failed, code) = failed_records(answer, &sent).unwrap();
        assert_eq!(
            failed
                .iter()
                .map(|r| r.partition_key.as_str())
                .collect::<Vec<_>>(),
            ["a", "c"]
        );
        assert_eq!(
            code.as_deref(),
            Some("ProvisionedThroughputExceededException")
        );
        let ok = br#"{"FailedRecordCount":0,"Records":[{"SequenceNumber":"1","ShardId":"s"}]}"#;
        assert!(failed_records(ok, &sent[..1]).unwrap().0.is_empty());
        assert!(failed_records(b"<html>", &sent).is_err());
    }
}
