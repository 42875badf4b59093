//! The HTTP conformance run: every edge runtime (native, Cloudflare worker under workerd, Spin
//! component under wasmtime) must give the answers the shared vectors in `spec/evaluations`
//! expect, and behave the same on keys, CORS and caching. Used by `vane conformance`.

use std::path::Path;

use anyhow::Context as _;
use serde_json::Value;
use vane_edge::conformance::{self, CLIENT_KEY, SERVER_KEY};

/// The evaluation files of `spec_dir/evaluations`, in name order.
pub fn spec_files(spec_dir: &Path) -> anyhow::Result<Vec<Value>> {
    let dir = spec_dir.join("evaluations");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            serde_json::from_str(&text).with_context(|| format!("parsing {}", p.display()))
        })
        .collect()
}

/// The sealed snapshot to seed an edge's store with before a run.
pub fn snapshot_json(spec_dir: &Path, version: u64) -> anyhow::Result<String> {
    let snapshot =
        conformance::snapshot(&spec_files(spec_dir)?, version).map_err(anyhow::Error::msg)?;
    Ok(serde_json::to_string(&snapshot)?)
}

/// The outcome of a run.
#[derive(Debug, Default)]
pub struct Report {
    pub checks: usize,
    pub failures: Vec<String>,
}

/// Runs every probe and the protocol checks against the edge at `base_url`.
pub async fn run(base_url: &str, spec_dir: &Path) -> anyhow::Result<Report> {
    let base = base_url.trim_end_matches('/');
    let client = reqwest::Client::new();
    let mut report = Report::default();
    let mut check = |ok: bool, what: String| {
        report.checks += 1;
        if !ok {
            report.failures.push(what);
        }
    };
    for probe in conformance::probes(&spec_files(spec_dir)?) {
        let response = client
            .post(format!("{base}{}", probe.path))
            .bearer_auth(SERVER_KEY)
            .json(&probe.body)
            .send()
            .await
            .with_context(|| format!("POST {base}{}", probe.path))?;
        let status = response.status().as_u16();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if status != 200 {
            check(false, format!("{}: status {status}: {answer}", probe.name));
            continue;
        }
        let mismatches = conformance::check(&probe, &answer);
        check(mismatches.is_empty(), mismatches.join("\n"));
    }

    let evaluate = format!("{base}/v1/evaluate");
    let status = client
        .post(&evaluate)
        .json(&serde_json::json!({"context": {}}))
        .send()
        .await?
        .status();
    check(status == 401, format!("no key: expected 401, got {status}"));
    let response = client
        .post(&evaluate)
        .bearer_auth(CLIENT_KEY)
        .json(&serde_json::json!({"context": {}}))
        .send()
        .await?;
    let cors = response
        .headers()
        .get("access-control-allow-origin")
        .cloned();
    check(
        response.status() == 200,
        format!("client key: expected 200, got {}", response.status()),
    );
    check(
        cors.is_some_and(|v| v == "*"),
        "missing CORS header on /v1/evaluate".into(),
    );
    let status = client
        .get(format!("{base}/v1/config"))
        .bearer_auth(CLIENT_KEY)
        .send()
        .await?
        .status();
    check(
        status == 403,
        format!("client key on /v1/config: expected 403, got {status}"),
    );
    let config = client
        .get(format!("{base}/v1/config"))
        .bearer_auth(SERVER_KEY)
        .send()
        .await?;
    let etag = config.headers().get("etag").cloned();
    check(
        config.status() == 200 && etag.is_some(),
        format!("config: {} without ETag", config.status()),
    );
    if let Some(etag) = etag {
        let again = client
            .get(format!("{base}/v1/config"))
            .bearer_auth(SERVER_KEY)
            .header("if-none-match", etag)
            .send()
            .await?
            .status();
        check(
            again == 304,
            format!("config with If-None-Match: expected 304, got {again}"),
        );
    }
    let health: Value = client
        .get(format!("{base}/v1/health"))
        .send()
        .await?
        .json()
        .await?;
    check(
        health["snapshot"]["version"].is_u64() && health["environment"] == conformance::ENVIRONMENT,
        format!("health does not show the spec snapshot: {health}"),
    );
    ofrep(&client, base, &mut check).await?;
    Ok(report)
}

/// OFREP on the same snapshot: single and bulk evaluation, experiments as flags, the
/// protocol's error codes and ETag / 304. The cases do not depend on the time of the run.
async fn ofrep(
    client: &reqwest::Client,
    base: &str,
    check: &mut impl FnMut(bool, String),
) -> anyhow::Result<()> {
    let single = |key: &str, context: Value| {
        client
            .post(format!("{base}/ofrep/v1/evaluate/flags/{key}"))
            .bearer_auth(CLIENT_KEY)
            .json(&serde_json::json!({ "context": context }))
            .send()
    };
    let cases = [
        (
            "targeted",
            serde_json::json!({"targetingKey": "a", "plan": "pro", "age": 30, "country": "DE"}),
            200,
            "value",
            serde_json::json!(true),
            "TARGETING_MATCH",
        ),
        (
            "half-rollout",
            serde_json::json!({"targetingKey": "roll-4"}),
            200,
            "value",
            serde_json::json!("on"),
            "SPLIT",
        ),
        (
            "killed",
            serde_json::json!({"targetingKey": "a"}),
            200,
            "value",
            serde_json::json!(false),
            "DISABLED",
        ),
        (
            "basic",
            serde_json::json!({"targetingKey": "b-2"}),
            200,
            "variant",
            serde_json::json!("control"),
            "SPLIT",
        ),
        (
            "ramp-20",
            serde_json::json!({"targetingKey": "r-9"}),
            200,
            "value",
            serde_json::json!("control"),
            "DEFAULT",
        ),
    ];
    for (key, context, status, field, want, reason) in cases {
        let response = single(key, context).await?;
        let got_status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        check(
            got_status == status && body[field] == want && body["reason"] == reason,
            format!(
                "ofrep {key}: expected {status} {field}={want} reason {reason}, got {got_status} {body}"
            ),
        );
    }
    let response = single("basic", serde_json::json!({})).await?;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    check(
        status == 400 && body["errorCode"] == "TARGETING_KEY_MISSING" && body["key"] == "basic",
        format!(
            "ofrep basic without a unit: expected 400 TARGETING_KEY_MISSING, got {status} {body}"
        ),
    );
    let response = single("no-such-flag", serde_json::json!({})).await?;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    check(
        status == 404 && body["errorCode"] == "FLAG_NOT_FOUND",
        format!("ofrep unknown key: expected 404 FLAG_NOT_FOUND, got {status} {body}"),
    );
    let response = client
        .post(format!("{base}/ofrep/v1/evaluate/flags/killed"))
        .bearer_auth(CLIENT_KEY)
        .body("{not json")
        .send()
        .await?;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    check(
        status == 400 && body["errorCode"] == "PARSE_ERROR",
        format!("ofrep bad JSON: expected 400 PARSE_ERROR, got {status} {body}"),
    );
    let bulk_url = format!("{base}/ofrep/v1/evaluate/flags");
    let bulk_body = serde_json::json!({"context": {"targetingKey": "b-2"}});
    let response = client
        .post(&bulk_url)
        .bearer_auth(CLIENT_KEY)
        .json(&bulk_body)
        .send()
        .await?;
    let etag = response.headers().get("etag").cloned();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let flags = body["flags"].as_array().cloned().unwrap_or_default();
    let basic = flags.iter().find(|f| f["key"] == "basic");
    check(
        status == 200
            && etag.is_some()
            && basic
                .is_some_and(|b| b["reason"] == "SPLIT" && b["metadata"]["experiment"] == "basic"),
        format!("ofrep bulk: expected 200 with an ETag and `basic` as SPLIT, got {status} {body}"),
    );
    if let Some(etag) = etag {
        let again = client
            .post(&bulk_url)
            .bearer_auth(CLIENT_KEY)
            .header("if-none-match", etag)
            .json(&bulk_body)
            .send()
            .await?
            .status();
        check(
            again == 304,
            format!("ofrep bulk with If-None-Match: expected 304, got {again}"),
        );
    }
    Ok(())
}
