//! The write protocol: snapshot under its version first, then the pointer, then pruning of old
//! versions. Idempotent: delivering the same version again changes nothing.

use std::time::Duration;

use vane_edge::store;

use crate::target::{Target, TargetError};

/// What a delivery did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The snapshot was written and the pointer moved to it.
    Written { version: u64, pruned: usize },
    /// The target already served exactly this version.
    Unchanged { version: u64 },
}

/// Delivers snapshot `version` of `environment` (sealed JSON) to `target`, keeping the newest
/// `keep` versions (at least the current one) for rollback.
pub async fn deliver(
    target: &dyn Target,
    environment: &str,
    version: u64,
    json: &[u8],
    keep: usize,
) -> Result<Delivery, TargetError> {
    let pointer_key = store::current_key(environment);
    let snapshot_key = store::snapshot_key(environment, version);
    let pointer = target.get(&pointer_key).await?;
    let current = pointer
        .as_deref()
        .and_then(|p| store::parse_pointer(&String::from_utf8_lossy(p)));
    if current == Some(version) && target.get(&snapshot_key).await?.as_deref() == Some(json) {
        return Ok(Delivery::Unchanged { version });
    }
    target.put_many(&[(snapshot_key, json.to_vec())]).await?;
    target
        .put(&pointer_key, version.to_string().as_bytes())
        .await?;
    let pruned = prune(target, environment, version, keep).await?;
    Ok(Delivery::Written { version, pruned })
}

/// Deletes snapshot versions beyond the newest `keep`, never the one the pointer names.
async fn prune(
    target: &dyn Target,
    environment: &str,
    current: u64,
    keep: usize,
) -> Result<usize, TargetError> {
    let prefix = format!(
        "{}/",
        store::snapshot_key(environment, 0).trim_end_matches("/0")
    );
    let mut versions: Vec<u64> = target
        .list(&prefix)
        .await?
        .iter()
        .filter_map(|k| k.strip_prefix(&prefix)?.parse().ok())
        .collect();
    versions.sort_unstable_by(|a, b| b.cmp(a));
    let stale: Vec<String> = versions
        .iter()
        .skip(keep.max(1))
        .filter(|&&v| v != current)
        .map(|&v| store::snapshot_key(environment, v))
        .collect();
    target.delete_many(&stale).await?;
    Ok(stale.len())
}

/// Retries `deliver` with exponential backoff (50 ms doubling, at most `attempts` tries).
pub async fn deliver_with_retries(
    target: &dyn Target,
    environment: &str,
    version: u64,
    json: &[u8],
    keep: usize,
    attempts: u32,
) -> Result<Delivery, TargetError> {
    let mut delay = Duration::from_millis(50);
    let mut attempt = 1;
    loop {
        match deliver(target, environment, version, json, keep).await {
            Ok(done) => return Ok(done),
            Err(e) if attempt >= attempts => return Err(e),
            Err(e) => {
                tracing::warn!(target = %target.name(), attempt, error = %e, "delivery failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
                attempt += 1;
            }
        }
    }
}
