//! Configuration: the `vane core` command line ([`CoreArgs`]) and the typed [`Config`] that
//! [`crate::build`] takes. Secrets are `secrecy` types; everything is checked at start-up.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};

use crate::clock::{Clock, SystemClock};

/// `vane core`: run the core API.
#[derive(Debug, Clone, clap::Args)]
pub struct CoreArgs {
    /// Directory for the embedded SQLite database (used when no database URL is given).
    #[arg(long, env = "VANE_DATA_DIR", default_value = "./.vane")]
    pub data_dir: PathBuf,
    /// Database URL: `postgres://...` for PostgreSQL or `sqlite://...`; default: a SQLite file
    /// under the data directory.
    #[arg(long, env = "VANE_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<SecretString>,
    /// Address to listen on.
    #[arg(long, env = "VANE_CORE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Create this admin user if it does not exist. Its password comes from
    /// `VANE_BOOTSTRAP_ADMIN_PASSWORD`, or is generated and printed once.
    #[arg(long, env = "VANE_BOOTSTRAP_ADMIN_EMAIL")]
    pub bootstrap_admin: Option<String>,
    /// How often the scheduler applies due experiment starts and stops, in seconds.
    #[arg(long, env = "VANE_CORE_SCHEDULER_INTERVAL_SECS", default_value_t = 5)]
    pub scheduler_interval_secs: u64,
    /// How long a login session lasts, in hours.
    #[arg(long, env = "VANE_CORE_SESSION_TTL_HOURS", default_value_t = 12)]
    pub session_ttl_hours: u64,
    /// Log as JSON lines instead of human-readable text.
    #[arg(long, env = "VANE_LOG_JSON")]
    pub log_json: bool,
    /// The analytics service (`vane analytics`, e.g. `http://127.0.0.1:8090`) that computes
    /// the experiment results served at `/api/v1/experiments/{key}/results`. Without it those
    /// routes answer 503.
    #[arg(long, env = "VANE_CORE_ANALYTICS_URL")]
    pub analytics_url: Option<String>,
    /// Directory of the built admin UI (`admin/dist`), served under `/admin/`. Without it
    /// the UI is not served.
    #[arg(long, env = "VANE_CORE_ADMIN_DIR")]
    pub admin_dir: Option<PathBuf>,
    /// Always mark the session cookie `Secure` (it is also marked when a proxy sends
    /// `X-Forwarded-Proto: https`). Set this when browsers reach core over HTTPS.
    #[arg(long, env = "VANE_CORE_SECURE_COOKIES")]
    pub secure_cookies: bool,
}

/// The first admin user, created at start-up when missing.
#[derive(Debug, Clone)]
pub struct BootstrapAdmin {
    pub email: String,
    /// `None`: generate one (returned once by [`crate::Application::generated_admin_password`]).
    pub password: Option<SecretString>,
}

/// Argon2id cost. `Production` follows OWASP's recommendation (19 MiB, 2 passes); `Fast` is for
/// tests only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordCost {
    Production,
    Fast,
}

/// Everything [`crate::build`] needs.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: SecretString,
    /// Where to listen; port 0 picks a free port (see [`crate::Application::port`]).
    pub listen: SocketAddr,
    pub clock: Arc<dyn Clock>,
    pub bootstrap_admin: Option<BootstrapAdmin>,
    /// Interval of the background scheduler; `None` disables it (tests drive
    /// [`crate::Application::run_scheduler_once`] instead).
    pub scheduler_interval: Option<Duration>,
    pub session_ttl: time::Duration,
    pub password_cost: PasswordCost,
    /// The analytics service the results routes forward to (`http://host:port`); `None`:
    /// they answer 503.
    pub analytics_url: Option<String>,
    /// The built admin UI served under `/admin/`; `None`: not served.
    pub admin_dir: Option<PathBuf>,
    /// Always mark the session cookie `Secure`.
    pub secure_cookies: bool,
    /// Failed-login limits per account and per address.
    pub login_limits: crate::throttle::ThrottleLimits,
}

impl Config {
    /// A configuration with production defaults for `database_url`.
    pub fn new(database_url: SecretString, listen: SocketAddr) -> Self {
        Self {
            database_url,
            listen,
            clock: Arc::new(SystemClock),
            bootstrap_admin: None,
            scheduler_interval: Some(Duration::from_secs(5)),
            session_ttl: time::Duration::hours(12),
            password_cost: PasswordCost::Production,
            analytics_url: None,
            admin_dir: None,
            secure_cookies: false,
            login_limits: crate::throttle::ThrottleLimits::default(),
        }
    }

    /// Turns command-line arguments into a configuration, creating the data directory for the
    /// embedded SQLite database when it is used.
    pub fn from_args(args: &CoreArgs) -> anyhow::Result<Self> {
        let database_url = match &args.database_url {
            Some(url) => url.clone(),
            None => {
                std::fs::create_dir_all(&args.data_dir).with_context(|| {
                    format!("creating the data directory {}", args.data_dir.display())
                })?;
                let path = args.data_dir.join("core.sqlite");
                SecretString::from(format!("sqlite://{}?mode=rwc", path.display()))
            }
        };
        let url = database_url.expose_secret();
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            anyhow::bail!("--database-url must start with postgres://, postgresql:// or sqlite:");
        }
        let mut config = Self::new(database_url, args.listen);
        config.scheduler_interval = Some(Duration::from_secs(args.scheduler_interval_secs.max(1)));
        config.session_ttl = time::Duration::hours(
            i64::try_from(args.session_ttl_hours.clamp(1, 24 * 365)).unwrap_or(12),
        );
        if let Some(url) = &args.analytics_url {
            crate::analytics::AnalyticsClient::new(url)?;
        }
        config.analytics_url = args.analytics_url.clone();
        if let Some(dir) = &args.admin_dir {
            anyhow::ensure!(
                dir.join("index.html").is_file(),
                "--admin-dir {}: no index.html there (build the UI with `npm run build` in admin/)",
                dir.display()
            );
        }
        config.admin_dir = args.admin_dir.clone();
        config.secure_cookies = args.secure_cookies;
        config.bootstrap_admin = args.bootstrap_admin.as_ref().map(|email| BootstrapAdmin {
            email: email.clone(),
            password: std::env::var("VANE_BOOTSTRAP_ADMIN_PASSWORD")
                .ok()
                .filter(|p| !p.is_empty())
                .map(SecretString::from),
        });
        Ok(config)
    }
}

/// `vane core`: set up logging, build the application, print a generated bootstrap password
/// once, and serve until Ctrl-C.
pub async fn run(args: CoreArgs) -> anyhow::Result<()> {
    crate::telemetry::init(args.log_json);
    let config = Config::from_args(&args)?;
    let app = crate::build(config).await.context("starting core-api")?;
    if let (Some(admin), Some(password)) = (&args.bootstrap_admin, app.generated_admin_password()) {
        println!(
            "created admin {admin} with generated password: {}\n(shown once; change it with PUT /api/v1/auth/password)",
            password.expose_secret()
        );
    }
    tracing::info!(address = %app.address(), "core-api listening");
    app.run_until_stopped().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        core: CoreArgs,
    }

    #[test]
    fn defaults_use_sqlite_under_the_data_directory() {
        let cli = Cli::try_parse_from(["vane", "--data-dir", "/tmp/vane-config-test"]).unwrap();
        assert_eq!(cli.core.listen.to_string(), "127.0.0.1:8080");
        let config = Config::from_args(&cli.core).unwrap();
        assert_eq!(
            config.database_url.expose_secret(),
            "sqlite:///tmp/vane-config-test/core.sqlite?mode=rwc"
        );
        assert!(config.bootstrap_admin.is_none());
    }

    #[test]
    fn a_database_url_must_name_a_supported_backend() {
        let cli = Cli::try_parse_from(["vane", "--database-url", "mysql://x/y"]).unwrap();
        assert!(Config::from_args(&cli.core).is_err());
        let cli = Cli::try_parse_from([
            "vane",
            "--database-url",
            "postgres://u@127.0.0.1/vane",
            "--bootstrap-admin",
            "root@example.com",
        ])
        .unwrap();
        let config = Config::from_args(&cli.core).unwrap();
        assert_eq!(
            config.bootstrap_admin.map(|a| a.email).as_deref(),
            Some("root@example.com")
        );
    }
}
