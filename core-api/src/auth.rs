//! Authentication and authorization: sessions and API keys behind `Authorization: Bearer`,
//! browser sessions in the `vane_session` cookie (writes through the cookie need the session's
//! CSRF token in `X-CSRF-Token`), roles, and the access each route requires. Password hashing
//! runs on the blocking pool, at most [`hashing_permits`] at a time.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::extract::FromRequestParts;
use axum::http::Method;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::config::PasswordCost;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store;

/// A user's role. Each includes the rights of the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads configuration, snapshots and the audit log.
    Viewer,
    /// Also changes configuration (flags, experiments, segments, ...).
    Editor,
    /// Also manages environments, users and API keys.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Editor => "editor",
            Self::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "viewer" => Some(Self::Viewer),
            "editor" => Some(Self::Editor),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

/// The kind of an API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// Evaluate and send events only; safe to ship in a browser or app.
    Client,
    /// Also reads snapshots (sync, edges, server SDKs).
    Server,
    /// Automation: the rights of the admin role.
    Admin,
}

impl KeyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Server => "server",
            Self::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "client" => Some(Self::Client),
            "server" => Some(Self::Server),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    User {
        id: String,
        email: String,
        role: Role,
        /// SHA-256 of the session token, to end this session on logout.
        session: String,
    },
    Key {
        id: String,
        environment: String,
        kind: KeyKind,
    },
}

/// What a route requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access<'a> {
    /// Read configuration: any user, admin keys.
    Read,
    /// Change configuration: editors, admins, admin keys.
    Edit,
    /// Environments, users, API keys: admins and admin keys.
    Admin,
    /// Read `environment`'s snapshots: any user, its server keys, admin keys.
    Snapshot(&'a str),
    /// Evaluate in `environment`: any user, any of its keys, admin keys.
    Evaluate(&'a str),
    /// Routes about the logged-in user's own session.
    Session,
    /// Report edge statuses (sync's propagation monitor): server keys (each for the edges of
    /// its own environment, checked by the route), admins, admin keys.
    ReportEdges,
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub request_id: Option<String>,
}

impl Caller {
    /// The actor name recorded in the audit log.
    pub fn actor(&self) -> String {
        match &self.principal {
            Principal::User { email, .. } => format!("user:{email}"),
            Principal::Key { id, .. } => format!("api-key:{id}"),
        }
    }

    /// Refuses with 403 unless the caller has `access`.
    pub fn require(&self, access: Access<'_>) -> ApiResult<()> {
        let allowed = match (&self.principal, access) {
            (Principal::User { .. }, Access::Session) => true,
            (Principal::Key { .. }, Access::Session) => false,
            (Principal::User { role, .. }, Access::Read) => *role >= Role::Viewer,
            (Principal::User { role, .. }, Access::Edit) => *role >= Role::Editor,
            (Principal::User { role, .. }, Access::Admin) => *role >= Role::Admin,
            (Principal::User { .. }, Access::Snapshot(_) | Access::Evaluate(_)) => true,
            (Principal::User { role, .. }, Access::ReportEdges) => *role >= Role::Admin,
            (Principal::Key { kind, .. }, Access::ReportEdges) => {
                matches!(kind, KeyKind::Server | KeyKind::Admin)
            }
            (Principal::Key { kind, .. }, Access::Read | Access::Edit | Access::Admin) => {
                *kind == KeyKind::Admin
            }
            (
                Principal::Key {
                    kind, environment, ..
                },
                Access::Snapshot(env),
            ) => *kind == KeyKind::Admin || (*kind == KeyKind::Server && environment == env),
            (
                Principal::Key {
                    kind, environment, ..
                },
                Access::Evaluate(env),
            ) => *kind == KeyKind::Admin || environment == env,
        };
        if allowed {
            Ok(())
        } else {
            Err(ApiError::Forbidden(match access {
                Access::Read => "reading configuration requires a user or an admin key".into(),
                Access::Edit => "changing configuration requires the editor role".into(),
                Access::Admin => "this route requires the admin role".into(),
                Access::Snapshot(env) => {
                    format!("reading `{env}` snapshots requires a user or a server key of `{env}`")
                }
                Access::Evaluate(env) => format!("evaluating in `{env}` requires a key of `{env}`"),
                Access::Session => "this route is for logged-in users".into(),
                Access::ReportEdges => {
                    "reporting edge statuses requires a server key, an admin key or the admin role"
                        .into()
                }
            }))
        }
    }

    /// The user id, for session routes.
    pub fn user_id(&self) -> Option<&str> {
        match &self.principal {
            Principal::User { id, .. } => Some(id),
            Principal::Key { .. } => None,
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let request_id = parts
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bearer = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let (token, from_cookie) = match bearer {
            Some(token) => (token.to_owned(), false),
            None => (
                session_cookie(&parts.headers).ok_or(ApiError::Unauthenticated)?,
                true,
            ),
        };
        let token = token.as_str();
        if from_cookie && !token.starts_with("vane_session_") {
            return Err(ApiError::Unauthenticated);
        }
        let hash = sha256_hex(token);
        if from_cookie && !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if sent != csrf_token(&hash) {
                return Err(ApiError::Forbidden(
                    "a cookie-authenticated write needs the session's X-CSRF-Token header".into(),
                ));
            }
        }
        let mut conn = state.db().pool.acquire().await?;
        let principal = if token.starts_with("vane_session_") {
            let user = store::users::by_session(&mut conn, &hash, state.now_millis())
                .await?
                .ok_or(ApiError::Unauthenticated)?;
            Principal::User {
                id: user.id,
                email: user.email,
                role: user.role,
                session: hash,
            }
        } else {
            let key = store::keys::by_hash(&mut conn, &hash)
                .await?
                .ok_or(ApiError::Unauthenticated)?;
            Principal::Key {
                id: key.id,
                environment: key.environment,
                kind: key.kind,
            }
        };
        Ok(Self {
            principal,
            request_id,
        })
    }
}

/// The cookie that carries a browser session's token.
pub const SESSION_COOKIE: &str = "vane_session";
/// The header a cookie-authenticated write must carry, with [`csrf_token`] of its session.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The session token in the request's `vane_session` cookie.
pub fn session_cookie(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

/// The CSRF token of a session, derived from its stored hash: a page on another origin can
/// make the browser send the cookie but cannot read this value.
pub fn csrf_token(session_hash: &str) -> String {
    sha256_hex(&format!("csrf:{session_hash}"))
}

/// An email as accounts are keyed by: trimmed, ASCII letters lowercased (one account per
/// address whatever its capitalization).
pub fn normalize_email(email: &str) -> String {
    email.trim().to_ascii_lowercase()
}

/// Lowercase hex SHA-256 of `text`.
pub fn sha256_hex(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `bytes` random bytes from the operating system, as hex.
pub fn random_hex(bytes: usize) -> ApiResult<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)
        .map_err(|e| ApiError::Internal(format!("no randomness available: {e}")))?;
    Ok(hex(&buf))
}

/// A new session token.
pub fn new_session_token() -> ApiResult<String> {
    Ok(format!("vane_session_{}", random_hex(32)?))
}

/// A new API key: `vane_{kind}_{random}`.
pub fn new_api_key(kind: KeyKind) -> ApiResult<String> {
    Ok(format!("vane_{}_{}", kind.as_str(), random_hex(24)?))
}

/// A random password for the bootstrap admin.
pub fn new_password() -> ApiResult<SecretString> {
    Ok(SecretString::from(random_hex(16)?))
}

fn argon2(cost: PasswordCost) -> ApiResult<Argon2<'static>> {
    let params = match cost {
        PasswordCost::Production => Params::new(19 * 1024, 2, 1, None),
        PasswordCost::Fast => Params::new(256, 1, 1, None),
    }
    .map_err(|e| ApiError::Internal(format!("argon2 parameters: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// How many password hashes may run at once: half the processors (at least one), so that a
/// burst of logins cannot take every core from the other parts sharing the process.
pub fn hashing_permits() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

static HASHING: std::sync::LazyLock<tokio::sync::Semaphore> =
    std::sync::LazyLock::new(|| tokio::sync::Semaphore::new(hashing_permits()));
static HASHING_NOW: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static HASHING_PEAK: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The most password hashes that ran at the same time in this process.
pub fn hashing_peak() -> usize {
    HASHING_PEAK.load(std::sync::atomic::Ordering::Relaxed)
}

/// Runs `work` on the blocking pool once a hashing permit is free.
async fn bounded_hashing<T: Send + 'static>(
    work: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    use std::sync::atomic::Ordering;
    let _permit = HASHING
        .acquire()
        .await
        .map_err(|e| ApiError::Internal(format!("hashing pool closed: {e}")))?;
    tokio::task::spawn_blocking(move || {
        let now = HASHING_NOW.fetch_add(1, Ordering::SeqCst) + 1;
        HASHING_PEAK.fetch_max(now, Ordering::SeqCst);
        let result = work();
        HASHING_NOW.fetch_sub(1, Ordering::SeqCst);
        result
    })
    .await
    .map_err(|e| ApiError::Internal(format!("hashing task: {e}")))?
}

/// Hashes a password with argon2id, off the async threads, on the bounded hashing pool.
pub async fn hash_password(password: SecretString, cost: PasswordCost) -> ApiResult<String> {
    bounded_hashing(move || {
        argon2(cost)?
            .hash_password(password.expose_secret().as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| ApiError::Internal(format!("hashing a password: {e}")))
    })
    .await
}

/// Whether `password` matches the stored PHC string. Also spends the time when there is no
/// stored hash, so that unknown emails take as long as wrong passwords.
pub async fn verify_password(
    password: SecretString,
    stored: Option<String>,
    cost: PasswordCost,
) -> ApiResult<bool> {
    bounded_hashing(move || {
        let argon = argon2(cost)?;
        let Some(stored) = stored else {
            let _ = argon.hash_password(password.expose_secret().as_bytes());
            return Ok(false);
        };
        let parsed = PasswordHash::new(&stored)
            .map_err(|e| ApiError::Internal(format!("stored password hash: {e}")))?;
        Ok(argon
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .is_ok())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_password_verifies_against_its_hash_and_nothing_else() {
        let hash = hash_password(SecretString::from("correct horse"), PasswordCost::Fast)
            .await
            .unwrap();
        assert!(hash.starts_with("$argon2id$"));
        let ok = verify_password(
            "correct horse".into(),
            Some(hash.clone()),
            PasswordCost::Fast,
        );
        assert!(ok.await.unwrap());
        let bad = verify_password("wrong".into(), Some(hash), PasswordCost::Fast);
        assert!(!bad.await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn password_hashing_never_runs_more_than_its_permits_at_once() {
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                tokio::spawn(hash_password(
                    SecretString::from(format!("password number {i}")),
                    PasswordCost::Fast,
                ))
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert!(hashing_peak() >= 1);
        assert!(
            hashing_peak() <= hashing_permits(),
            "{} hashes ran at once, the pool allows {}",
            hashing_peak(),
            hashing_permits()
        );
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(
            COOKIE,
            "theme=dark; vane_session=vane_session_abc ; x=1"
                .parse()
                .unwrap(),
        );
        assert_eq!(
            session_cookie(&headers).as_deref(),
            Some("vane_session_abc")
        );
        headers.insert(COOKIE, "vane_session=".parse().unwrap());
        assert_eq!(session_cookie(&headers), None);
    }

    #[test]
    fn emails_are_keyed_without_case() {
        assert_eq!(
            normalize_email(" Ann.Lee@Example.COM "),
            "ann.lee@example.com"
        );
    }

    #[test]
    fn api_keys_name_their_kind() {
        let key = new_api_key(KeyKind::Client).unwrap();
        assert!(key.starts_with("vane_client_"));
        assert_eq!(key.len(), "vane_client_".len() + 48);
    }

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Admin > Role::Editor && Role::Editor > Role::Viewer);
    }
}
