//! The worker's configuration: `[vars]` and secrets, read once per isolate and parsed into
//! types. Parsing is pure (a lookup function in, a [`Config`] out) so it is tested natively.

use std::fmt;

/// The KV namespace binding that holds snapshots (see `vane_edge::store` for the keys).
pub const KV_BINDING: &str = "VANE_KV";

/// Why the worker cannot serve with its configuration. Reported as an opaque 500; the cause
/// goes to the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is not set")]
    Missing { name: &'static str },
    #[error("{name} = {value:?}: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: &'static str,
    },
}

/// A secret string: never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Where accepted events go (`VANE_EVENTS_MODE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventsConfig {
    /// `collector`: POST newline-delimited JSON to `VANE_COLLECTOR_URL`.
    Collector { url: String },
    /// `kinesis`: SigV4-signed `PutRecords` to a Kinesis endpoint.
    Kinesis(KinesisConfig),
    /// `discard`: accept and drop (local experiments only; say so in the log).
    Discard,
}

/// A Kinesis Data Streams destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KinesisConfig {
    /// `VANE_KINESIS_ENDPOINT`, default `https://kinesis.{region}.amazonaws.com`.
    pub endpoint: String,
    /// `VANE_KINESIS_STREAM`.
    pub stream: String,
    /// `VANE_AWS_REGION`.
    pub region: String,
    /// Secret `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// Secret `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: Secret,
    /// Secret `AWS_SESSION_TOKEN`, for temporary credentials.
    pub session_token: Option<Secret>,
}

/// Everything the worker reads from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `VANE_ENVIRONMENT`: the environment whose snapshots this worker serves.
    pub environment: String,
    /// `VANE_EDGE_ID`, default `cloudflare`.
    pub edge_id: String,
    /// `VANE_REFRESH_MS`, default 1000: how often an isolate reads the KV pointer.
    pub refresh_ms: u64,
    /// `VANE_SINK_TIMEOUT_MS`, default 10000: how long a forward may take before the request
    /// answers 503.
    pub sink_timeout_ms: u64,
    pub events: EventsConfig,
}

pub const DEFAULT_EDGE_ID: &str = "cloudflare";
pub const DEFAULT_REFRESH_MS: u64 = 1000;
pub const DEFAULT_SINK_TIMEOUT_MS: u64 = 10_000;

impl Config {
    /// Parses the configuration from `lookup(name)`, which returns a var's or secret's value.
    /// Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let required = |name: &'static str| get(name).ok_or(ConfigError::Missing { name });
        let millis = |name: &'static str, default: u64| match get(name) {
            None => Ok(default),
            Some(value) => match value.trim().parse::<u64>() {
                Ok(ms) if ms > 0 => Ok(ms),
                _ => Err(ConfigError::Invalid {
                    name,
                    value,
                    reason: "expected a positive number of milliseconds",
                }),
            },
        };
        let environment = required("VANE_ENVIRONMENT")?;
        let edge_id = get("VANE_EDGE_ID").unwrap_or_else(|| DEFAULT_EDGE_ID.to_owned());
        let refresh_ms = millis("VANE_REFRESH_MS", DEFAULT_REFRESH_MS)?;
        let sink_timeout_ms = millis("VANE_SINK_TIMEOUT_MS", DEFAULT_SINK_TIMEOUT_MS)?;
        let mode = get("VANE_EVENTS_MODE").unwrap_or_else(|| "collector".to_owned());
        let events = match mode.trim() {
            "collector" => EventsConfig::Collector {
                url: http_url("VANE_COLLECTOR_URL", required("VANE_COLLECTOR_URL")?)?,
            },
            "kinesis" => {
                let region = required("VANE_AWS_REGION")?;
                let endpoint = match get("VANE_KINESIS_ENDPOINT") {
                    Some(url) => http_url("VANE_KINESIS_ENDPOINT", url)?,
                    None => format!("https://kinesis.{region}.amazonaws.com"),
                };
                EventsConfig::Kinesis(KinesisConfig {
                    endpoint,
                    stream: required("VANE_KINESIS_STREAM")?,
                    region,
                    access_key_id: required("AWS_ACCESS_KEY_ID")?,
                    secret_access_key: Secret::new(required("AWS_SECRET_ACCESS_KEY")?),
                    session_token: get("AWS_SESSION_TOKEN").map(Secret::new),
                })
            }
            "discard" => EventsConfig::Discard,
            _ => {
                return Err(ConfigError::Invalid {
                    name: "VANE_EVENTS_MODE",
                    value: mode,
                    reason: "expected collector, kinesis or discard",
                });
            }
        };
        Ok(Self {
            environment,
            edge_id,
            refresh_ms,
            sink_timeout_ms,
            events,
        })
    }
}

fn http_url(name: &'static str, value: String) -> Result<String, ConfigError> {
    let trimmed = value.trim();
    let parsed = trimmed.parse::<http::Uri>();
    match parsed {
        Ok(uri)
            if matches!(uri.scheme_str(), Some("http" | "https")) && uri.authority().is_some() =>
        {
            Ok(trimmed.to_owned())
        }
        _ => Err(ConfigError::Invalid {
            name,
            value,
            reason: "expected an absolute http(s) URL",
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_fill_in_everything_but_the_environment_and_the_collector() {
        let config = parse(&[
            ("VANE_ENVIRONMENT", "spec"),
            ("VANE_COLLECTOR_URL", "http://127.0.0.1:9000/ingest"),
        ])
        .unwrap();
        assert_eq!(config.environment, "spec");
        assert_eq!(config.edge_id, "cloudflare");
        assert_eq!(config.refresh_ms, 1000);
        assert_eq!(config.sink_timeout_ms, 10_000);
        assert_eq!(
            config.events,
            EventsConfig::Collector {
                url: "http://127.0.0.1:9000/ingest".into()
            }
        );
    }

    #[test]
    fn a_missing_environment_is_named() {
        assert_eq!(
            parse(&[("VANE_COLLECTOR_URL", "http://x/")]),
            Err(ConfigError::Missing {
                name: "VANE_ENVIRONMENT"
            })
        );
    }

    #[test]
    fn an_empty_var_counts_as_unset() {
        assert_eq!(
            parse(&[("VANE_ENVIRONMENT", "spec"), ("VANE_COLLECTOR_URL", " ")]),
            Err(ConfigError::Missing {
                name: "VANE_COLLECTOR_URL"
            })
        );
    }

    #[test]
    fn a_refresh_interval_must_be_a_positive_number() {
        for bad in ["0", "-5", "soon"] {
            let err = parse(&[
                ("VANE_ENVIRONMENT", "spec"),
                ("VANE_EVENTS_MODE", "discard"),
                ("VANE_REFRESH_MS", bad),
            ])
            .unwrap_err();
            assert!(
                matches!(
                    err,
                    ConfigError::Invalid {
                        name: "VANE_REFRESH_MS",
                        ..
                    }
                ),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn a_collector_url_must_be_absolute_http() {
        for bad in ["/ingest", "ftp://x/y", "not a url"] {
            let err =
                parse(&[("VANE_ENVIRONMENT", "spec"), ("VANE_COLLECTOR_URL", bad)]).unwrap_err();
            assert!(
                matches!(
                    err,
                    ConfigError::Invalid {
                        name: "VANE_COLLECTOR_URL",
                        ..
                    }
                ),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn kinesis_needs_a_stream_a_region_and_credentials() {
        let base = [
            ("VANE_ENVIRONMENT", "production"),
            ("VANE_EVENTS_MODE", "kinesis"),
            ("VANE_AWS_REGION", "eu-west-1"),
            ("VANE_KINESIS_STREAM", "vane-events"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ];
        let config = parse(&base).unwrap();
        let EventsConfig::Kinesis(kinesis) = config.events else {
            panic!("expected kinesis");
        };
        assert_eq!(kinesis.endpoint, "https://kinesis.eu-west-1.amazonaws.com");
        assert_eq!(kinesis.stream, "vane-events");
        assert_eq!(kinesis.secret_access_key.expose(), "secret");
        assert!(!format!("{kinesis:?}").contains("secret\""));
        for skip in [
            "VANE_AWS_REGION",
            "VANE_KINESIS_STREAM",
            "AWS_ACCESS_KEY_ID",
        ] {
            let partial: Vec<_> = base.iter().copied().filter(|(k, _)| *k != skip).collect();
            assert_eq!(parse(&partial), Err(ConfigError::Missing { name: skip }));
        }
    }

    #[test]
    fn an_unknown_events_mode_is_refused() {
        let err =
            parse(&[("VANE_ENVIRONMENT", "spec"), ("VANE_EVENTS_MODE", "kafka")]).unwrap_err();
        assert!(err.to_string().contains("VANE_EVENTS_MODE"), "{err}");
    }
}
