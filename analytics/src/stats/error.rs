//! The crate's error type.

/// Everything that can go wrong in `vane-analytics`.
///
/// Statistical degeneracies (no units, zero variance, a zero baseline) are *not* errors: they are
/// results ([`crate::stats::NotEnoughData`]). Errors are reserved for input that cannot describe
/// an experiment at all, and for malformed requests.
#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    /// A value is outside the domain the statistics engine accepts.
    #[error("invalid `{field}`: {reason}")]
    InvalidInput {
        /// Dotted path of the offending field, e.g. `metrics[0].variants[1].sum`.
        field: String,
        /// What is wrong with it, in words.
        reason: String,
    },
    /// The request is not valid JSON or does not have the documented shape.
    #[error("malformed request: {0}")]
    Json(#[from] serde_json::Error),
}

impl StatsError {
    /// Shorthand for [`StatsError::InvalidInput`].
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidInput {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Prefix the field path of an [`StatsError::InvalidInput`] with `prefix`, so that errors
    /// raised deep inside a request name the full path of the offending field.
    #[must_use]
    pub fn within(self, prefix: &str) -> Self {
        match self {
            Self::InvalidInput { field, reason } => Self::InvalidInput {
                field: if field.is_empty() {
                    prefix.to_owned()
                } else if field.starts_with('[') {
                    format!("{prefix}{field}")
                } else {
                    format!("{prefix}.{field}")
                },
                reason,
            },
            other => other,
        }
    }
}
