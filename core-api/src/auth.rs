//! Authentication and authorization: sessions and API keys behind `Authorization: Bearer`,
//! roles, and the access each route requires.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
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
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::Unauthenticated)?;
        let hash = sha256_hex(token);
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

/// Hashes a password with argon2id, off the async threads.
pub async fn hash_password(password: SecretString, cost: PasswordCost) -> ApiResult<String> {
    tokio::task::spawn_blocking(move || {
        argon2(cost)?
            .hash_password(password.expose_secret().as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| ApiError::Internal(format!("hashing a password: {e}")))
    })
    .await
    .map_err(|e| ApiError::Internal(format!("hashing task: {e}")))?
}

/// Whether `password` matches the stored PHC string. Also spends the time when there is no
/// stored hash, so that unknown emails take as long as wrong passwords.
pub async fn verify_password(
    password: SecretString,
    stored: Option<String>,
    cost: PasswordCost,
) -> ApiResult<bool> {
    tokio::task::spawn_blocking(move || {
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
    .map_err(|e| ApiError::Internal(format!("verifying task: {e}")))?
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
