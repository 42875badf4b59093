//! The REST resources under `/api/v1`, one module each: types, validation, conversion to the
//! engine's snapshot model, and handlers.

pub mod api_keys;
pub mod audit;
pub mod browser_session;
pub mod edges;
pub mod environments;
pub mod experiments;
pub mod flags;
pub mod holdouts;
pub mod layers;
pub mod metrics;
pub mod segments;
pub mod session;
pub mod simple;
pub mod snapshots;
pub mod system;
pub mod users;

use serde::Serialize;
use utoipa::ToSchema;

use crate::clock::rfc3339;
use crate::store::docs::Doc;

/// Version and times of a stored entity. The version is also the entity's ETag.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Meta {
    /// Increases with every change; send it back as `If-Match: "<version>"`.
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl Meta {
    pub fn of<T>(doc: &Doc<T>) -> Self {
        Self::new(doc.version, doc.created_at, doc.updated_at)
    }

    pub fn new(version: i64, created_at: i64, updated_at: i64) -> Self {
        Self {
            version,
            created_at: rfc3339(created_at),
            updated_at: rfc3339(updated_at),
        }
    }
}

/// The JSON value of `value`, for the audit log.
pub(crate) fn audit_value<T: Serialize>(value: &T) -> Option<serde_json::Value> {
    serde_json::to_value(value).ok()
}
