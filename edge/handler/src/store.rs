//! The key layout of edge stores (a local directory, Cloudflare KV, Redis / Spin key-value),
//! shared by sync, which writes it, and every edge, which reads it.
//!
//! A snapshot is written under its version first, then the environment's pointer is moved to
//! that version, so a reader never sees a partial snapshot.

/// The key holding the current version number (decimal text) of `environment`.
pub fn current_key(environment: &str) -> String {
    format!("vane/{environment}/current")
}

/// The key holding snapshot `version` of `environment` (sealed JSON).
pub fn snapshot_key(environment: &str, version: u64) -> String {
    format!("vane/{environment}/snapshots/{version}")
}

/// Parses a pointer value.
pub fn parse_pointer(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}
