//! A local stand-in for Cloudflare's Workers KV REST API (v4) that stores values in memory and
//! checks each request has the shape Cloudflare documents: bearer token, account and namespace
//! in the path, bulk bodies as JSON arrays of `{key, value}` strings (at most 10,000, keys at
//! most 512 bytes, values at most 25 MiB), cursor-paginated key listing, bulk delete as a JSON
//! array of key names. Anything else is answered 400 and logged as rejected.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::result_large_err
)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

#[derive(Default)]
struct Inner {
    values: BTreeMap<String, Vec<u8>>,
    log: Vec<String>,
    rejected: Vec<String>,
}

#[derive(Clone)]
struct Shared {
    inner: Arc<Mutex<Inner>>,
    account: String,
    namespace: String,
    token: String,
}

pub struct StandIn {
    pub base: String,
    shared: Shared,
}

impl StandIn {
    pub fn log(&self) -> Vec<String> {
        self.shared.inner.lock().unwrap().log.clone()
    }
    pub fn rejected(&self) -> Vec<String> {
        self.shared.inner.lock().unwrap().rejected.clone()
    }
    pub fn value(&self, key: &str) -> Option<Vec<u8>> {
        self.shared.inner.lock().unwrap().values.get(key).cloned()
    }
}

pub async fn start(account: &str, namespace: &str, token: &str) -> StandIn {
    let shared = Shared {
        inner: Arc::default(),
        account: account.into(),
        namespace: namespace.into(),
        token: token.into(),
    };
    let app = Router::new()
        .route(
            "/client/v4/accounts/{account}/storage/kv/namespaces/{ns}/bulk",
            axum::routing::put(bulk_put),
        )
        .route(
            "/client/v4/accounts/{account}/storage/kv/namespaces/{ns}/bulk/delete",
            axum::routing::post(bulk_delete),
        )
        .route(
            "/client/v4/accounts/{account}/storage/kv/namespaces/{ns}/keys",
            axum::routing::get(list),
        )
        .route(
            "/client/v4/accounts/{account}/storage/kv/namespaces/{ns}/values/{key}",
            axum::routing::get(get_value).put(put_value),
        )
        .fallback(|method: Method, uri: Uri| async move {
            (StatusCode::NOT_FOUND, format!("no route {method} {uri}"))
        })
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/client/v4", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    StandIn { base, shared }
}

fn envelope(result: Value) -> Response {
    axum::Json(json!({"success": true, "errors": [], "messages": [], "result": result}))
        .into_response()
}

fn reject(s: &Shared, why: String) -> Response {
    s.inner.lock().unwrap().rejected.push(why.clone());
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"success": false, "errors": [{"code": 10000, "message": why}]})),
    )
        .into_response()
}

/// Checks the token and the path's account and namespace; logs the request.
fn admit(
    s: &Shared,
    method: &str,
    uri: &Uri,
    headers: &HeaderMap,
    account: &str,
    ns: &str,
) -> Result<(), Response> {
    s.inner.lock().unwrap().log.push(format!("{method} {uri}"));
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if auth != format!("Bearer {}", s.token) {
        return Err((StatusCode::FORBIDDEN, axum::Json(json!({"success": false, "errors": [{"code": 10000, "message": "Authentication error"}]}))).into_response());
    }
    if account != s.account || ns != s.namespace {
        return Err(reject(s, format!("unknown account or namespace in {uri}")));
    }
    Ok(())
}

async fn bulk_put(
    State(s): State<Shared>,
    Path((account, ns)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = admit(&s, "PUT", &uri, &headers, &account, &ns) {
        return r;
    }
    if headers.get("content-type").and_then(|v| v.to_str().ok()) != Some("application/json") {
        return reject(
            &s,
            "bulk write without Content-Type: application/json".into(),
        );
    }
    let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(&body) else {
        return reject(&s, "bulk write body is not a JSON array".into());
    };
    if items.is_empty() || items.len() > 10_000 {
        return reject(
            &s,
            format!("bulk write of {} pairs (1..=10000 allowed)", items.len()),
        );
    }
    let mut pairs = Vec::new();
    for item in &items {
        let (Some(key), Some(value)) = (item["key"].as_str(), item["value"].as_str()) else {
            return reject(
                &s,
                format!("bulk item without string key and value: {item}"),
            );
        };
        if key.is_empty() || key.len() > 512 || value.len() > 25 * 1024 * 1024 {
            return reject(&s, format!("key or value out of limits: {key}"));
        }
        pairs.push((key.to_owned(), value.as_bytes().to_vec()));
    }
    s.inner.lock().unwrap().values.extend(pairs);
    envelope(json!({"successful_key_count": items.len(), "unsuccessful_keys": []}))
}

async fn put_value(
    State(s): State<Shared>,
    Path((account, ns, key)): Path<(String, String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = admit(&s, "PUT", &uri, &headers, &account, &ns) {
        return r;
    }
    if key.len() > 512 || key.is_empty() {
        return reject(&s, format!("bad key {key}"));
    }
    s.inner.lock().unwrap().values.insert(key, body.to_vec());
    envelope(Value::Null)
}

async fn get_value(
    State(s): State<Shared>,
    Path((account, ns, key)): Path<(String, String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = admit(&s, "GET", &uri, &headers, &account, &ns) {
        return r;
    }
    match s.inner.lock().unwrap().values.get(&key) {
        Some(v) => v.clone().into_response(),
        None => (StatusCode::NOT_FOUND, axum::Json(json!({"success": false, "errors": [{"code": 10009, "message": "get: 'key not found'"}]}))).into_response(),
    }
}

async fn list(
    State(s): State<Shared>,
    Path((account, ns)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    if let Err(r) = admit(&s, "GET", &uri, &headers, &account, &ns) {
        return r;
    }
    // Small pages so that clients must follow the cursor.
    let page = 2usize;
    let prefix = q.get("prefix").cloned().unwrap_or_default();
    let start: usize = q.get("cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
    let names: Vec<String> = s
        .inner
        .lock()
        .unwrap()
        .values
        .keys()
        .filter(|k| k.starts_with(&prefix))
        .cloned()
        .collect();
    let slice: Vec<Value> = names
        .iter()
        .skip(start)
        .take(page)
        .map(|n| json!({"name": n}))
        .collect();
    let next = if start + page < names.len() {
        (start + page).to_string()
    } else {
        String::new()
    };
    axum::Json(
        json!({"success": true, "errors": [], "messages": [], "result": slice,
                      "result_info": {"count": slice.len(), "cursor": next}}),
    )
    .into_response()
}

async fn bulk_delete(
    State(s): State<Shared>,
    Path((account, ns)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = admit(&s, "POST", &uri, &headers, &account, &ns) {
        return r;
    }
    let Ok(keys) = serde_json::from_slice::<Vec<String>>(&body) else {
        return reject(
            &s,
            "bulk delete body is not a JSON array of key names".into(),
        );
    };
    let mut inner = s.inner.lock().unwrap();
    for k in &keys {
        inner.values.remove(k);
    }
    drop(inner);
    envelope(json!({"successful_key_count": keys.len(), "unsuccessful_keys": []}))
}
