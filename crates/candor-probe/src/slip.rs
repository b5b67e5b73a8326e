//! A lock-free log-linear histogram of schedule slip (actual start − planned start), in
//! microseconds, precise to 1/8 of a power of two (about 12 %), with the exact maximum.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const SUB_BITS: u32 = 3;
const SUB: u64 = 1 << SUB_BITS;
const BUCKETS: usize = ((64 - SUB_BITS as usize) + 1) * SUB as usize;

/// Percentiles of the slip recorded so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SlipSnapshot {
    /// Probes recorded.
    pub count: u64,
    /// Median (upper bound of its bucket).
    pub p50: Duration,
    /// 99th percentile (upper bound of its bucket).
    pub p99: Duration,
    /// Largest slip seen (exact).
    pub max: Duration,
}

/// The histogram.
#[derive(Debug)]
pub struct SlipHistogram {
    buckets: Vec<AtomicU64>,
    count: AtomicU64,
    max_us: AtomicU64,
}

impl Default for SlipHistogram {
    fn default() -> Self {
        SlipHistogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            max_us: AtomicU64::new(0),
        }
    }
}

fn bucket_of(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let msb = 63 - v.leading_zeros();
    let shift = msb - SUB_BITS;
    ((shift as usize + 1) << SUB_BITS) + ((v >> shift) & (SUB - 1)) as usize
}

/// The largest value that falls in bucket `i`.
fn bucket_upper(i: usize) -> u64 {
    if i < SUB as usize {
        return i as u64;
    }
    let shift = (i >> SUB_BITS) as u32 - 1;
    let lower = (SUB + (i as u64 & (SUB - 1))) << shift;
    lower.saturating_add((1u64 << shift) - 1)
}

impl SlipHistogram {
    /// Records one slip.
    pub fn record(&self, slip: Duration) {
        let us = u64::try_from(slip.as_micros()).unwrap_or(u64::MAX);
        if let Some(b) = self.buckets.get(bucket_of(us)) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.max_us.fetch_max(us, Ordering::Relaxed);
    }

    /// The percentiles so far.
    pub fn snapshot(&self) -> SlipSnapshot {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let count: u64 = counts.iter().sum();
        let max_us = self.max_us.load(Ordering::Relaxed);
        let quantile = |q: f64| -> Duration {
            if count == 0 {
                return Duration::ZERO;
            }
            let rank = ((count as f64) * q).ceil().max(1.0) as u64;
            let mut seen = 0;
            for (i, c) in counts.iter().enumerate() {
                seen += c;
                if seen >= rank {
                    return Duration::from_micros(bucket_upper(i).min(max_us));
                }
            }
            Duration::from_micros(max_us)
        };
        SlipSnapshot {
            count,
            p50: quantile(0.50),
            p99: quantile(0.99),
            max: Duration::from_micros(max_us),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_values_in_order() {
        let mut last = 0;
        for v in (0..100_000u64).chain([u64::MAX / 3, u64::MAX]) {
            let b = bucket_of(v);
            assert!(b >= last && b < BUCKETS);
            assert!(bucket_upper(b) >= v, "{v}");
            last = b;
        }
    }

    #[test]
    fn percentiles_are_within_an_eighth() {
        let h = SlipHistogram::default();
        for ms in 1..=1000u64 {
            h.record(Duration::from_millis(ms));
        }
        let s = h.snapshot();
        assert_eq!(s.count, 1000);
        assert_eq!(s.max, Duration::from_millis(1000));
        let p50 = s.p50.as_secs_f64() * 1000.0;
        let p99 = s.p99.as_secs_f64() * 1000.0;
        assert!((500.0..=500.0 * 1.13).contains(&p50), "{p50}");
        assert!((990.0..=1000.0).contains(&p99), "{p99}");
        assert_eq!(SlipHistogram::default().snapshot(), SlipSnapshot::default());
    }
}
