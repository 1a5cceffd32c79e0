//! The sampling maths: exponential distances between sampled bytes (a
//! Poisson process over the byte stream), each thread's random generator,
//! and the weights that make a sampled allocation stand for what it was
//! drawn from (unbiased estimates of bytes and counts).
//!
//! **Seeding.** Each thread draws from its own generator. Its seed must not
//! resemble another thread's: in a program whose threads each allocate less
//! than an interval, whether anything is sampled at all hangs on the
//! threads' first draws, and seeds that differ in a few bits (a stack
//! address, a clock read moments apart) gave nearly the same first draw to
//! every thread — one run sampled nothing, the next twice the mean. Seeds
//! come from a process-wide counter, the clock and the thread's stack,
//! mixed by splitmix64's finaliser, and the generator is splitmix64 itself.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// A countdown that has not drawn its first distance yet: far below zero,
/// so the first allocation takes the slow path, which draws it.
pub(super) const UNDRAWN: i64 = i64::MIN / 2;

/// The countdown's value while tracking is off: the sampled hooks' slow path
/// stores it when it finds tracking off, so that they then stay on their fast path.
pub(super) const IDLE: i64 = i64::MAX / 4;

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

thread_local! {
    /// The state of this thread's random generator (0: not seeded yet).
    static RNG: Cell<u64> = const { Cell::new(0) };
}

/// Seeds handed out so far (every thread's seed differs by this).
static SEEDS: AtomicU64 = AtomicU64::new(0);

/// splitmix64's output function: every input bit moves every output bit.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A fresh seed for the calling thread (never 0).
fn seed(stack: u64) -> u64 {
    let n = SEEDS.fetch_add(1, Ordering::Relaxed);
    let s = mix(n.wrapping_mul(GOLDEN) ^ mix(crate::clock::now_ticks() as u64) ^ mix(stack));
    s | 1
}

/// The next uniform number in (0, 1) from this thread's generator.
fn next_uniform() -> f64 {
    RNG.with(|rng| {
        let mut state = rng.get();
        if state == 0 {
            state = seed(&state as *const u64 as u64);
        }
        state = state.wrapping_add(GOLDEN);
        rng.set(state);
        ((mix(state) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    })
}

/// The next exponential distance between samples, mean `interval` (≥ 1).
pub(super) fn next_distance(interval: u64) -> i64 {
    (-(next_uniform().ln()) * interval as f64) as i64 + 1
}

/// For a sampling countdown that reached `left` (zero or below) with an
/// allocation of `size`: the weights the allocation stands for, or `None`
/// when the countdown's first distance, drawn now, is not reached. Stores
/// the next distance with `reset`.
pub(super) fn sample_weights(
    size: usize,
    interval: u64,
    left: i64,
    reset: &dyn Fn(i64),
) -> Option<(f64, f64)> {
    if left <= UNDRAWN / 2 {
        // The countdown's first use: draw it, then see whether this
        // allocation reaches it (so that the first one is not always sampled).
        let first = next_distance(interval) - size as i64;
        if first > 0 {
            reset(first);
            return None;
        }
    }
    reset(next_distance(interval));
    let p = -(-(size as f64) / interval as f64).exp_m1(); // 1 - exp(-s/R)
    if p <= 0.0 {
        return None;
    }
    Some((size as f64 / p, 1.0 / p))
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: u64 = 512 * 1024;

    /// The fraction of `xs` below `t`, and how far (in standard errors) it
    /// is from `p`, the probability an exponential draw of mean R is below `t`.
    fn z_below(xs: &[f64], t: f64) -> f64 {
        let n = xs.len() as f64;
        let p = 1.0 - (-t / R as f64).exp();
        let got = xs.iter().filter(|&&x| x < t).count() as f64 / n;
        (got - p) / (p * (1.0 - p) / n).sqrt()
    }

    #[test]
    fn distances_in_one_thread_are_exponential_with_the_interval_as_mean() {
        let xs: Vec<f64> = (0..20_000).map(|_| next_distance(R) as f64).collect();
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        // An exponential's standard deviation is its mean: 4 standard errors.
        assert!(
            (mean - R as f64).abs() < 4.0 * R as f64 / n.sqrt(),
            "mean {mean}"
        );
        for t in [0.1, 0.5, 1.0, 2.0, 4.0] {
            let z = z_below(&xs, t * R as f64);
            assert!(z.abs() < 4.0, "below {t} R: {z} standard errors off");
        }
    }

    /// The first draw of each of many fresh threads — what decides whether a
    /// short-lived thread is sampled at all — must be exponential across
    /// threads too, not the same number over and over.
    #[test]
    fn fresh_threads_draw_independent_first_distances() {
        let xs: Vec<f64> = (0..400)
            .map(|_| {
                std::thread::spawn(|| next_distance(R) as f64)
                    .join()
                    .unwrap()
            })
            .collect();
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        assert!(
            (mean - R as f64).abs() < 4.0 * R as f64 / n.sqrt(),
            "mean {mean}"
        );
        for t in [0.25, 0.69, 2.0] {
            let z = z_below(&xs, t * R as f64);
            assert!(z.abs() < 4.0, "below {t} R: {z} standard errors off");
        }
    }

    /// Bytes and allocation counts estimated from the samples of a stream of
    /// allocations of known sizes are unbiased: within 4 standard deviations
    /// of the truth, the deviations computed from the estimator's variance
    /// (s²(1-p)/p per allocation for bytes, (1-p)/p² for counts).
    #[test]
    fn weights_estimate_bytes_and_counts_without_bias() {
        let left = Cell::new(UNDRAWN);
        let (mut bytes, mut count) = (0.0, 0.0);
        let (mut true_bytes, mut var_bytes, mut var_count) = (0.0, 0.0, 0.0);
        let sizes = [24usize, 64, 100, 1000, 4096, 70_000, 3_000_000];
        let allocations = 400_000;
        for i in 0..allocations {
            let size = sizes[(i * 7 + i / 3) % sizes.len()];
            let s = size as f64;
            let p = -(-s / R as f64).exp_m1();
            true_bytes += s;
            var_bytes += s * s * (1.0 - p) / p;
            var_count += (1.0 - p) / (p * p);
            left.set(left.get() - size as i64);
            if left.get() > 0 {
                continue;
            }
            if let Some((b, c)) = sample_weights(size, R, left.get(), &|d| left.set(d)) {
                bytes += b;
                count += c;
            }
        }
        let n = allocations as f64;
        assert!(
            (bytes - true_bytes).abs() < 4.0 * var_bytes.sqrt(),
            "bytes {bytes} for {true_bytes} (sd {})",
            var_bytes.sqrt()
        );
        assert!(
            (count - n).abs() < 4.0 * var_count.sqrt(),
            "count {count} for {n} (sd {})",
            var_count.sqrt()
        );
    }

    #[test]
    fn an_allocation_larger_than_many_intervals_stands_for_itself() {
        let (b, c) = sample_weights(100 * R as usize, R, 0, &|_| ()).unwrap();
        assert!((b - 100.0 * R as f64).abs() < 1.0 && (c - 1.0).abs() < 1e-9);
    }
}
