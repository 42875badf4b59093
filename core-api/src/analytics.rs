//! The analytics service, as core-api reaches it: experiment results are computed and stored
//! by `vane analytics`; core-api forwards the results routes to it (`--analytics-url`) and
//! passes its answers through unchanged.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

use crate::error::{ApiError, ApiResult};

/// How long analytics may take to answer (computing results reads every aggregate row of the
/// experiment).
const TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A client of the analytics service's results API.
#[derive(Debug, Clone)]
pub struct AnalyticsClient {
    /// `http://host:port`, without a trailing slash.
    base: String,
    http: reqwest::Client,
}

/// What to ask analytics for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultsRequest {
    /// The latest stored results as JSON (computed if there are none yet).
    Latest,
    /// The latest stored results as CSV.
    LatestCsv,
    /// Compute now, store, and return them as JSON.
    ComputeNow,
}

impl AnalyticsClient {
    /// A client of the analytics service at `url` (`http://host:port`; analytics serves plain
    /// HTTP on a private address).
    pub fn new(url: &str) -> anyhow::Result<Self> {
        let base = url.trim_end_matches('/').to_owned();
        anyhow::ensure!(
            base.starts_with("http://") && base.len() > "http://".len(),
            "--analytics-url must be an http:// URL of the analytics service (got `{url}`)"
        );
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()?;
        Ok(Self { base, http })
    }

    /// The analytics service's address.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// Asks analytics for an experiment's results and returns its answer as it is: status,
    /// content type and body (JSON, CSV, or analytics' own problem+json).
    pub async fn results(
        &self,
        experiment: &str,
        request: ResultsRequest,
        request_id: Option<&str>,
    ) -> ApiResult<Response> {
        // Experiment keys are `A-Z a-z 0-9 _ - . :`: nothing to escape in a path segment.
        let url = format!("{}/api/v1/experiments/{experiment}/results", self.base);
        let mut call = match request {
            ResultsRequest::Latest => self.http.get(url),
            ResultsRequest::LatestCsv => self.http.get(format!("{url}?format=csv")),
            ResultsRequest::ComputeNow => self.http.post(url),
        };
        if let Some(id) = request_id {
            call = call.header("x-request-id", id);
        }
        let unreachable = |e: reqwest::Error| ApiError::AnalyticsUnreachable {
            url: self.base.clone(),
            cause: e.to_string(),
        };
        let answer = call.send().await.map_err(unreachable)?;
        let status = StatusCode::from_u16(answer.status().as_u16())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let content_type = answer
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok());
        let body = answer.bytes().await.map_err(unreachable)?;
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = status;
        if let Some(content_type) = content_type {
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, content_type);
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_must_be_plain_http() {
        assert_eq!(
            AnalyticsClient::new("http://127.0.0.1:8090/")
                .unwrap()
                .url(),
            "http://127.0.0.1:8090"
        );
        for bad in ["https://analytics.example", "127.0.0.1:8090", "http://"] {
            let err = AnalyticsClient::new(bad).unwrap_err().to_string();
            assert!(err.contains("--analytics-url"), "{bad}: {err}");
        }
    }
}
