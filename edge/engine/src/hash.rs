//! Bucketing, exactly as DESIGN.md specifies and every SDK reproduces:
//! XXH64 (seed 0) of the UTF-8 string `"{salt}:{unit_id}"`, then
//! `bucket = ((h >> 32) * 10000) >> 32`, an integer in `[0, 10000)`.

use xxhash_rust::xxh64::{Xxh64, xxh64};

/// Number of buckets: shares are resolved to one basis point.
pub const BUCKETS: u32 = 10_000;

/// A bucket in `[0, BUCKETS)`.
pub type Bucket = u32;

/// The 64-bit hash of `"{salt}:{unit_id}"`.
pub fn hash(salt: &str, unit_id: &str) -> u64 {
    // Typical salts and ids fit a stack buffer: one-shot hashing of the joined bytes is about
    // twice as fast as streaming. Longer inputs stream rather than allocate.
    const STACK: usize = 96;
    let len = salt.len() + 1 + unit_id.len();
    if len <= STACK {
        let mut joined = [0u8; STACK];
        joined[..salt.len()].copy_from_slice(salt.as_bytes());
        joined[salt.len()] = b':';
        joined[salt.len() + 1..len].copy_from_slice(unit_id.as_bytes());
        return xxh64(&joined[..len], 0);
    }
    let mut h = Xxh64::new(0);
    h.update(salt.as_bytes());
    h.update(b":");
    h.update(unit_id.as_bytes());
    h.digest()
}

/// The bucket of a hash: the top 32 bits scaled to `[0, BUCKETS)`.
pub fn bucket_of(hash: u64) -> Bucket {
    // (h >> 32) < 2^32, times 10^4 < 2^46: no overflow; the result is < 10^4.
    (((hash >> 32) * u64::from(BUCKETS)) >> 32) as Bucket
}

/// The bucket of `unit_id` under `salt`.
pub fn bucket(salt: &str, unit_id: &str) -> Bucket {
    bucket_of(hash(salt, unit_id))
}

/// A share in `[0, 1]` as whole basis points, rounded to nearest.
pub fn basis_points(share: f64) -> u32 {
    (share.clamp(0.0, 1.0) * f64::from(BUCKETS)).round() as u32
}

/// Bucket ranges for weighted variants under a coverage, laid out so that raising coverage
/// never moves a unit: variant `i` owns `[start_i, start_i + len_i)` where `start_i` is the
/// cumulative weight before it (fixed, whatever the coverage) and `len_i` grows with coverage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranges {
    ranges: Vec<(Bucket, Bucket)>,
}

impl Ranges {
    /// `weights` in basis points must sum to [`BUCKETS`]; `coverage` is in basis points.
    pub fn new(weights_bp: &[u32], coverage_bp: u32) -> Self {
        let coverage = u64::from(coverage_bp.min(BUCKETS));
        let mut start = 0u32;
        let ranges = weights_bp
            .iter()
            .map(|&w| {
                let len = (u64::from(w) * coverage / u64::from(BUCKETS)) as u32;
                let range = (start, start + len);
                start += w;
                range
            })
            .collect();
        Self { ranges }
    }

    /// The index of the range holding `bucket`, if any.
    pub fn find(&self, bucket: Bucket) -> Option<usize> {
        self.ranges
            .iter()
            .position(|&(start, end)| bucket >= start && bucket < end)
    }

    pub fn as_slice(&self) -> &[(Bucket, Bucket)] {
        &self.ranges
    }
}

/// Converts fractional weights (summing to 1) to basis points that sum to exactly
/// [`BUCKETS`], by rounding the cumulative sums so no rounding error accumulates.
pub fn weights_to_basis_points(weights: &[f64]) -> Vec<u32> {
    let mut cumulative = 0.0;
    let mut previous = 0u32;
    let mut out = Vec::with_capacity(weights.len());
    for (i, w) in weights.iter().enumerate() {
        cumulative += w;
        let edge = if i + 1 == weights.len() {
            BUCKETS
        } else {
            basis_points(cumulative).max(previous)
        };
        out.push(edge - previous);
        previous = edge;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_equals_hash_of_the_joined_string_short_and_long() {
        let joined = xxhash_rust::xxh64::xxh64(b"exp-salt:user-42", 0);
        assert_eq!(hash("exp-salt", "user-42"), joined);
        // Both sides of the stack-buffer limit, and far past it (the streaming path).
        for len in [94, 95, 96, 97, 300] {
            let id = "u".repeat(len);
            let expected = xxhash_rust::xxh64::xxh64(format!("s:{id}").as_bytes(), 0);
            assert_eq!(hash("s", &id), expected, "id of {len} bytes");
        }
    }

    #[test]
    fn bucket_of_extremes_stays_in_range() {
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn weights_always_sum_to_all_buckets() {
        let bp = weights_to_basis_points(&[1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0]);
        assert_eq!(bp.iter().sum::<u32>(), BUCKETS);
        assert_eq!(bp, vec![3333, 3334, 3333]);
    }

    #[test]
    fn ranges_grow_in_place_with_coverage() {
        let half = Ranges::new(&[5000, 5000], 5000);
        assert_eq!(half.as_slice(), &[(0, 2500), (5000, 7500)]);
        let full = Ranges::new(&[5000, 5000], BUCKETS);
        assert_eq!(full.as_slice(), &[(0, 5000), (5000, 10000)]);
    }
}
