//! Pure statistics: a log-linear latency histogram (HDR-style, < 1 % relative error, mergeable,
//! no per-sample allocation) and per-sender sequence tracking (lost / duplicated detection).

use serde::Serialize;
use std::collections::BTreeMap;

/// Values below `1 << SUB_BITS` get one exact bucket each; above, every power of two is split
/// into `HALF` buckets, so a bucket is at most 1/64 (1.6 %) wide relative to its value.
const SUB_BITS: u32 = 7;
const HALF: usize = 1 << (SUB_BITS - 1);

/// A histogram of `u64` samples (nanoseconds, in practice).
#[derive(Debug, Clone, Default)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
    sum: u128,
}

fn bucket_index(v: u64) -> usize {
    if v < (1 << SUB_BITS) {
        v as usize
    } else {
        let exp = 63 - v.leading_zeros(); // >= SUB_BITS
        let shift = exp - (SUB_BITS - 1); // >= 1
        let top = (v >> shift) as usize; // in [HALF, 2 * HALF)
        shift as usize * HALF + top
    }
}

/// Largest value that falls in bucket `idx`.
fn bucket_upper(idx: usize) -> u64 {
    if idx < (1 << SUB_BITS) {
        idx as u64
    } else {
        let shift = (idx / HALF - 1) as u32;
        let top = (idx % HALF + HALF) as u128;
        let upper = ((top + 1) << shift) - 1;
        u64::try_from(upper).unwrap_or(u64::MAX)
    }
}

impl Histogram {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn record(&mut self, v: u64) {
        let idx = bucket_index(v);
        if idx >= self.counts.len() {
            self.counts.resize(idx + 1, 0);
        }
        self.counts[idx] += 1;
        self.total += 1;
        self.sum += u128::from(v);
        self.max = self.max.max(v);
    }

    pub fn merge(&mut self, other: &Histogram) {
        if other.counts.len() > self.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
        self.sum += other.sum;
        self.max = self.max.max(other.max);
    }

    #[cfg(test)]
    pub fn count(&self) -> u64 {
        self.total
    }

    #[cfg(test)]
    pub fn max(&self) -> u64 {
        self.max
    }

    pub fn mean(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.sum as f64 / self.total as f64
        }
    }

    /// The value at quantile `q` (0..=1): the upper edge of the bucket holding the sample of rank
    /// ceil(q * count), never above the exact maximum. 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (idx, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return bucket_upper(idx).min(self.max);
            }
        }
        self.max
    }

    /// Summary in microseconds (samples are nanoseconds).
    pub fn summary_us(&self) -> LatencyUs {
        let us = |ns: u64| (ns as f64 / 100.0).round() / 10.0;
        LatencyUs {
            count: self.total,
            p50: us(self.quantile(0.50)),
            p99: us(self.quantile(0.99)),
            p999: us(self.quantile(0.999)),
            max: us(self.max),
            mean: (self.mean() / 100.0).round() / 10.0,
        }
    }

    /// Summary in milliseconds (samples are nanoseconds).
    pub fn summary_ms(&self) -> LatencyMs {
        let ms = |ns: u64| (ns as f64 / 10_000.0).round() / 100.0;
        LatencyMs {
            count: self.total,
            p50: ms(self.quantile(0.50)),
            p99: ms(self.quantile(0.99)),
            max: ms(self.max),
        }
    }
}

/// Latency percentiles in microseconds, 0.1 µs resolution (bucket error < 1.6 %).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LatencyUs {
    pub count: u64,
    pub p50: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
}

/// Latency percentiles in milliseconds, 0.01 ms resolution.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LatencyMs {
    pub count: u64,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

/// What one observed sequence number turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    New,
    Duplicate,
}

/// Tracks the sequence numbers one receiver got from one sender. In-order delivery (the normal
/// case) costs one comparison; gaps are kept as ranges so late arrivals are still recognised.
#[derive(Debug, Clone, Default)]
pub struct SeqTracker {
    /// One past the highest sequence number seen.
    next: u64,
    /// Missing ranges below `next`: start -> end (exclusive).
    missing: BTreeMap<u64, u64>,
    unique: u64,
    duplicates: u64,
}

impl SeqTracker {
    pub fn observe(&mut self, seq: u64) -> Seen {
        if seq == self.next {
            self.next += 1;
        } else if seq > self.next {
            self.missing.insert(self.next, seq);
            self.next = seq + 1;
        } else {
            let Some((&start, &end)) = self.missing.range(..=seq).next_back() else {
                self.duplicates += 1;
                return Seen::Duplicate;
            };
            if seq >= end {
                self.duplicates += 1;
                return Seen::Duplicate;
            }
            self.missing.remove(&start);
            if start < seq {
                self.missing.insert(start, seq);
            }
            if seq + 1 < end {
                self.missing.insert(seq + 1, end);
            }
        }
        self.unique += 1;
        Seen::New
    }

    /// One past the highest sequence number seen (what a windowed sender may rely on).
    pub fn next(&self) -> u64 {
        self.next
    }

    #[cfg(test)]
    pub fn unique(&self) -> u64 {
        self.unique
    }

    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// Messages this receiver should have got out of `sent` but did not.
    pub fn lost(&self, sent: u64) -> u64 {
        sent.saturating_sub(self.unique)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_tight() {
        let mut prev_upper = None;
        for idx in 0..bucket_index(u64::MAX) {
            let up = bucket_upper(idx);
            if let Some(p) = prev_upper {
                assert!(up > p, "bucket {idx} upper {up} <= {p}");
            }
            prev_upper = Some(up);
        }
        for v in [0u64, 1, 127, 128, 129, 1000, 65_535, 1 << 40, u64::MAX] {
            let idx = bucket_index(v);
            assert!(bucket_upper(idx) >= v);
            if idx > 0 {
                assert!(bucket_upper(idx - 1) < v, "value {v} in wrong bucket");
            }
            assert!((bucket_upper(idx) - v) as f64 <= v as f64 / 60.0 + 1.0);
        }
    }

    #[test]
    fn quantiles_of_uniform_samples() {
        let mut h = Histogram::new();
        for v in 1..=10_000u64 {
            h.record(v * 1000);
        }
        let p50 = h.quantile(0.5) as f64;
        let p99 = h.quantile(0.99) as f64;
        assert!((p50 - 5_000_000.0).abs() / 5_000_000.0 < 0.02, "p50 {p50}");
        assert!((p99 - 9_900_000.0).abs() / 9_900_000.0 < 0.02, "p99 {p99}");
        assert_eq!(h.quantile(1.0), 10_000_000);
        assert_eq!(h.max(), 10_000_000);
        assert_eq!(h.count(), 10_000);
    }

    #[test]
    fn small_values_are_exact_and_empty_is_zero() {
        let mut h = Histogram::new();
        assert_eq!(h.quantile(0.5), 0);
        for v in [3, 1, 2] {
            h.record(v);
        }
        assert_eq!(h.quantile(0.0), 1);
        assert_eq!(h.quantile(0.5), 2);
        assert_eq!(h.quantile(1.0), 3);
    }

    #[test]
    fn merge_equals_recording_everything() {
        let (mut a, mut b, mut all) = (Histogram::new(), Histogram::new(), Histogram::new());
        for v in 0..5000u64 {
            let x = v * v;
            let h = if v % 3 == 0 { &mut a } else { &mut b };
            h.record(x);
            all.record(x);
        }
        a.merge(&b);
        for q in [0.1, 0.5, 0.9, 0.99, 0.999] {
            assert_eq!(a.quantile(q), all.quantile(q));
        }
        assert_eq!(a.count(), all.count());
        assert_eq!(a.max(), all.max());
    }

    #[test]
    fn summary_units() {
        let mut h = Histogram::new();
        h.record(1_500); // 1.5 us
        let s = h.summary_us();
        assert_eq!(s.p50, 1.5);
        assert_eq!(s.max, 1.5);
        let mut h = Histogram::new();
        h.record(2_000_000); // 2 ms
        assert_eq!(h.summary_ms().max, 2.0);
    }

    #[test]
    fn seq_in_order() {
        let mut t = SeqTracker::default();
        for s in 0..100 {
            assert_eq!(t.observe(s), Seen::New);
        }
        assert_eq!(t.unique(), 100);
        assert_eq!(t.lost(100), 0);
        assert_eq!(t.lost(103), 3);
        assert_eq!(t.next(), 100);
    }

    #[test]
    fn seq_gaps_late_arrivals_and_duplicates() {
        let mut t = SeqTracker::default();
        assert_eq!(t.observe(0), Seen::New);
        assert_eq!(t.observe(5), Seen::New); // 1..5 missing
        assert_eq!(t.observe(0), Seen::Duplicate);
        assert_eq!(t.observe(5), Seen::Duplicate);
        assert_eq!(t.observe(3), Seen::New); // late
        assert_eq!(t.observe(3), Seen::Duplicate);
        assert_eq!(t.observe(1), Seen::New);
        assert_eq!(t.observe(4), Seen::New);
        assert_eq!(t.observe(6), Seen::New);
        assert_eq!(t.unique(), 6);
        assert_eq!(t.duplicates(), 3);
        assert_eq!(t.lost(7), 1); // seq 2
        assert_eq!(t.observe(2), Seen::New);
        assert_eq!(t.lost(7), 0);
        assert!(t.missing.is_empty());
    }

    #[test]
    fn seq_huge_gap_is_cheap() {
        let mut t = SeqTracker::default();
        t.observe(u64::MAX - 1);
        assert_eq!(t.missing.len(), 1);
        assert_eq!(t.observe(12345), Seen::New);
        assert_eq!(t.missing.len(), 2);
    }
}
