//! Percentiles of repeated trials.

use std::time::Duration;

/// Median and 99th percentile of a set of durations.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Spread {
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
    pub(crate) n: usize,
}

impl Spread {
    /// The spread of `samples` (nearest-rank percentiles).
    pub(crate) fn of(samples: &[Duration]) -> Spread {
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        let pick = |p: f64| {
            if sorted.is_empty() {
                return Duration::ZERO;
            }
            let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
            sorted[rank - 1]
        };
        Spread {
            p50: pick(0.50),
            p99: pick(0.99),
            n: sorted.len(),
        }
    }
}

/// `1.23 ms`.
pub(crate) fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// Median of plain numbers.
pub(crate) fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        0.0
    } else {
        sorted[sorted.len() / 2]
    }
}
