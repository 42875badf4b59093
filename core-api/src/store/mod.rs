//! SQL, one module per kind of row. Functions take a connection so that they run inside the
//! caller's transaction; nothing here decides policy.

pub mod audit;
pub mod docs;
pub mod edges;
pub mod keys;
pub mod snapshots;
pub mod users;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Decodes a JSON document column.
pub(crate) fn decode<T: DeserializeOwned>(table: &str, text: &str) -> Result<T, ApiError> {
    serde_json::from_str(text)
        .map_err(|e| ApiError::Internal(format!("undecodable row in {table}: {e}")))
}

/// Encodes a JSON document column.
pub(crate) fn encode<T: Serialize>(value: &T) -> Result<String, ApiError> {
    serde_json::to_string(value).map_err(|e| ApiError::Internal(format!("unencodable value: {e}")))
}
