//! A small client for core-api's JSON API, as `vane up` uses it to bootstrap: bearer token,
//! problem+json bodies in errors, ETags for `If-Match`.

use anyhow::Context as _;
use reqwest::StatusCode;
use serde_json::Value;

/// One answer: status, JSON body (`Null` when empty or not JSON) and ETag.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub etag: Option<String>,
}

impl Answer {
    /// The body when the status is `expected`, else an error naming the call and the problem.
    pub fn expect(self, expected: StatusCode, what: &str) -> anyhow::Result<Value> {
        if self.status == expected {
            Ok(self.body)
        } else {
            anyhow::bail!("{what}: core-api answered {} {}", self.status, self.body)
        }
    }
}

/// core-api at `base` (e.g. `http://127.0.0.1:8080`), called with a bearer token.
#[derive(Debug, Clone)]
pub struct CoreApi {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl CoreApi {
    pub fn new(base: &str, token: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    /// The same API with another token.
    pub fn with_token(&self, token: &str) -> Self {
        Self {
            token: token.to_owned(),
            ..self.clone()
        }
    }

    /// Logs in and returns a client holding the session token.
    pub async fn login(base: &str, email: &str, password: &str) -> anyhow::Result<Self> {
        let anonymous = Self::new(base, "");
        let answer = anonymous
            .call(
                reqwest::Method::POST,
                "/auth/login",
                Some(&serde_json::json!({"email": email, "password": password})),
                None,
            )
            .await?;
        if answer.status == StatusCode::UNAUTHORIZED {
            anyhow::bail!("core-api refused the password of {email}");
        }
        let body = answer.expect(StatusCode::OK, "logging in")?;
        let token = body["token"]
            .as_str()
            .context("the login answer has no token")?;
        Ok(anonymous.with_token(token))
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Answer> {
        self.call(reqwest::Method::GET, path, None, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Answer> {
        self.call(reqwest::Method::POST, path, Some(body), None)
            .await
    }

    /// `POST` with `If-Match` (lifecycle actions).
    pub async fn post_if_match(&self, path: &str, etag: &str) -> anyhow::Result<Answer> {
        self.call(reqwest::Method::POST, path, None, Some(etag))
            .await
    }

    /// Creates `path/{key}` from `body` unless it exists. Returns whether it was created.
    pub async fn ensure(&self, collection: &str, key: &str, body: &Value) -> anyhow::Result<bool> {
        let existing = self.get(&format!("{collection}/{key}")).await?;
        match existing.status {
            StatusCode::OK => Ok(false),
            StatusCode::NOT_FOUND => {
                self.post(collection, body)
                    .await?
                    .expect(StatusCode::CREATED, &format!("creating {collection}/{key}"))?;
                Ok(true)
            }
            _ => {
                existing.expect(StatusCode::OK, &format!("reading {collection}/{key}"))?;
                Ok(false)
            }
        }
    }

    /// `path` is relative to `/api/v1`.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> anyhow::Result<Answer> {
        let url = format!("{}/api/v1{path}", self.base);
        let mut request = self.http.request(method.clone(), &url);
        if !self.token.is_empty() {
            request = request.bearer_auth(&self.token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(etag) = if_match {
            request = request.header("if-match", etag);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {url}"))?;
        let status = response.status();
        let etag = response
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response
            .bytes()
            .await
            .with_context(|| format!("reading the answer of {method} {url}"))?;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(Answer { status, body, etag })
    }
}
