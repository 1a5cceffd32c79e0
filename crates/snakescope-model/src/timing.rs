//! The figures `timeit`, `stat` and `diff` report over repeated measurements: a robust summary of one statement's times
//! (median, quartiles, outliers by Tukey's fences) and whether two
//! statements differ (a two-sided Mann–Whitney U test, which assumes no
//! distribution: timings are skewed by interruptions, rarely normal).

use serde::Serialize;

/// One statement's times per loop, in seconds.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    pub values: usize,
    pub min: f64,
    pub q1: f64,
    pub median: f64,
    pub q3: f64,
    pub mean: f64,
    pub stdev: f64,
    /// Values beyond 1.5 interquartile ranges from the quartiles.
    pub outliers: usize,
}

impl Summary {
    /// Summarises `values` (at least one).
    pub fn of(values: &[f64]) -> Summary {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let (q1, median, q3) = (
            quantile(&sorted, 0.25),
            quantile(&sorted, 0.5),
            quantile(&sorted, 0.75),
        );
        let n = sorted.len() as f64;
        let mean = sorted.iter().sum::<f64>() / n;
        let var = sorted.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
        let (low, high) = (q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1));
        Summary {
            values: sorted.len(),
            min: sorted[0],
            q1,
            median,
            q3,
            mean,
            stdev: var.sqrt(),
            outliers: sorted.iter().filter(|&&v| v < low || v > high).count(),
        }
    }

    /// Standard deviation over mean: above 0.1 the measurements are unstable.
    pub fn relative_spread(&self) -> f64 {
        self.stdev / self.mean
    }
}

/// The `q` quantile of sorted values, interpolated linearly between the
/// two nearest ranks (NumPy's default, `statistics.quantiles(method="inclusive")`).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let at = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (at.floor() as usize, at.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo as f64)
}

/// The two-sided p-value of the Mann–Whitney U test that `a` and `b` come
/// from the same distribution: the normal approximation with the tie
/// correction and a continuity correction (good from about 8 values each).
pub fn mann_whitney_p(a: &[f64], b: &[f64]) -> f64 {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let mut all: Vec<(f64, bool)> = a
        .iter()
        .map(|&v| (v, true))
        .chain(b.iter().map(|&v| (v, false)))
        .collect();
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    let (mut rank_sum_a, mut ties) = (0.0, 0.0);
    let mut i = 0;
    while i < all.len() {
        let j = (i..all.len())
            .find(|&j| all[j].0 != all[i].0)
            .unwrap_or(all.len());
        let rank = (i + j + 1) as f64 / 2.0; // mean of ranks i+1 ..= j
        rank_sum_a += rank * all[i..j].iter().filter(|x| x.1).count() as f64;
        let t = (j - i) as f64;
        ties += t * t * t - t;
        i = j;
    }
    let u = rank_sum_a - n1 * (n1 + 1.0) / 2.0;
    let n = n1 + n2;
    let sd = (n1 * n2 / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)))).sqrt();
    if sd == 0.0 {
        return 1.0; // every value equal
    }
    let z = ((u - n1 * n2 / 2.0).abs() - 0.5).max(0.0) / sd;
    libm::erfc(z / std::f64::consts::SQRT_2).min(1.0)
}

/// Values per side up to which [`mann_whitney_exact_p`] counts the exact
/// null distribution.
pub const EXACT_MAX: usize = 20;

/// The two-sided p-value of the Mann–Whitney U test, exact when neither
/// side has more than [`EXACT_MAX`] values: the share of all C(n1 + n2, n1)
/// ways to label n1 of the pooled values `a` whose U is at least as far
/// from its mean (n1 n2 / 2) as the observed one, ties counting half as
/// usual. The ways are counted over the groups of equal values in order: k
/// of a group of t labelled `a` (C(t, k) ways) add k times the `b`s below
/// the group, plus k (t - k) / 2 for the ties within it. Else
/// [`mann_whitney_p`]. Small samples need it: with 5 runs a side the normal
/// approximation never goes below 0.012, the exact test reaches 2/252 =
/// 0.0079; and sample counts tie often.
pub fn mann_whitney_exact_p(a: &[f64], b: &[f64]) -> f64 {
    let (n1, n2) = (a.len(), b.len());
    if n1 == 0 || n2 == 0 || n1 > EXACT_MAX || n2 > EXACT_MAX {
        return mann_whitney_p(a, b);
    }
    // Twice U, so that every value is an integer.
    let observed: usize = a
        .iter()
        .map(|x| {
            b.iter()
                .map(|y| match x.total_cmp(y) {
                    std::cmp::Ordering::Greater => 2,
                    std::cmp::Ordering::Equal => 1,
                    std::cmp::Ordering::Less => 0,
                })
                .sum::<usize>()
        })
        .sum();
    let top = 2 * n1 * n2;
    // ways[i][u]: labellings of the groups so far with i `a`s and 2U = u.
    let mut ways = vec![vec![0f64; top + 1]; n1 + 1];
    ways[0][0] = 1.0;
    let mut seen = 0usize;
    for t in tie_groups(a, b) {
        let mut next = vec![vec![0f64; top + 1]; n1 + 1];
        for (i, row) in ways.iter().enumerate() {
            let Some(bs) = seen.checked_sub(i).filter(|&bs| bs <= n2) else {
                continue;
            };
            for (u, &w) in row.iter().enumerate().filter(|(_, &w)| w > 0.0) {
                for k in 0..=t.min(n1 - i) {
                    if bs + t - k > n2 {
                        continue;
                    }
                    next[i + k][u + 2 * k * bs + k * (t - k)] += w * choose(t, k);
                }
            }
        }
        ways = next;
        seen += t;
    }
    let dev = |u: usize| u.abs_diff(n1 * n2);
    let all: f64 = ways[n1].iter().sum();
    let tail: f64 = ways[n1]
        .iter()
        .enumerate()
        .filter(|(u, _)| dev(*u) >= dev(observed))
        .map(|(_, w)| w)
        .sum();
    (tail / all).min(1.0)
}

/// The sizes of the groups of equal values among `a` and `b` pooled, in
/// increasing order of value.
fn tie_groups(a: &[f64], b: &[f64]) -> Vec<usize> {
    let mut all: Vec<f64> = a.iter().chain(b).copied().collect();
    all.sort_by(f64::total_cmp);
    let mut groups: Vec<usize> = Vec::new();
    for (i, v) in all.iter().enumerate() {
        match i.checked_sub(1).map(|j| all[j].total_cmp(v)) {
            Some(std::cmp::Ordering::Equal) => *groups.last_mut().unwrap() += 1,
            _ => groups.push(1),
        }
    }
    groups
}

fn choose(n: usize, k: usize) -> f64 {
    (0..k).fold(1.0, |c, i| c * (n - i) as f64 / (i + 1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_known_values() {
        // 1..=9 and one far outlier: quartiles by linear interpolation.
        let values = [5.0, 1.0, 9.0, 3.0, 7.0, 2.0, 8.0, 4.0, 6.0, 100.0];
        let s = Summary::of(&values);
        assert_eq!((s.values, s.min, s.median), (10, 1.0, 5.5));
        assert_eq!((s.q1, s.q3), (3.25, 7.75));
        assert_eq!(s.outliers, 1);
        assert!((s.mean - 14.5).abs() < 1e-12);
    }

    #[test]
    fn one_value_has_no_spread() {
        let s = Summary::of(&[2.0]);
        assert_eq!(
            (s.min, s.q1, s.median, s.q3, s.stdev, s.outliers),
            (2.0, 2.0, 2.0, 2.0, 0.0, 0)
        );
    }

    #[test]
    fn separated_samples_differ() {
        // Every a below every b: U = 0. For 10 and 10, the exact two-sided
        // p is 2 / C(20, 10) = 1.08e-5; the normal approximation gives 1.8e-4.
        let a: Vec<f64> = (0..10).map(f64::from).collect();
        let b: Vec<f64> = (10..20).map(f64::from).collect();
        let p = mann_whitney_p(&a, &b);
        assert!(p < 5e-4 && p > 1e-6, "{p}");
        assert_eq!(p, mann_whitney_p(&b, &a));
    }

    #[test]
    fn interleaved_samples_do_not() {
        let a: Vec<f64> = (0..20).map(|i| f64::from(2 * i)).collect();
        let b: Vec<f64> = (0..20).map(|i| f64::from(2 * i + 1)).collect();
        assert!(mann_whitney_p(&a, &b) > 0.5);
        assert_eq!(mann_whitney_p(&[1.0; 5], &[1.0; 5]), 1.0);
    }

    #[test]
    fn a_known_textbook_value() {
        // a's ranks are 1-4 and 9-12: U = 52 - 36 = 16 against a mean of
        // 32 and a sd of sqrt(8 * 8 / 12 * 17) = 9.522, so z = (16 - 0.5) /
        // 9.522 = 1.6278 and p = erfc(z / sqrt 2) = 0.10356 (by hand).
        let a = [1.1, 2.2, 3.3, 4.4, 9.1, 9.2, 9.3, 9.4];
        let b = [5.0, 6.0, 7.0, 8.0, 10.0, 11.0, 12.0, 13.0];
        let p = mann_whitney_p(&a, &b);
        assert!((p - 0.10356).abs() < 1e-4, "{p}");
    }

    #[test]
    fn exact_p_values_count_the_arrangements() {
        // Complete separation of 5 and 5: 2 of C(10, 5) = 252 arrangements.
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let b = [6.0, 7.0, 8.0, 9.0, 10.0];
        assert!((mann_whitney_exact_p(&a, &b) - 2.0 / 252.0).abs() < 1e-12);
        // U = 1 (one swap at the boundary): U <= 1 has 2 arrangements a side.
        let a = [1.0, 2.0, 3.0, 4.0, 6.0];
        let b = [5.0, 7.0, 8.0, 9.0, 10.0];
        assert!((mann_whitney_exact_p(&a, &b) - 4.0 / 252.0).abs() < 1e-12);
        // 3 and 3 separated: 2 / 20.
        assert!((mann_whitney_exact_p(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]) - 0.1).abs() < 1e-12);
        // Interleaved: the middle of the distribution.
        let a: Vec<f64> = (0..8).map(|i| f64::from(2 * i)).collect();
        let b: Vec<f64> = (0..8).map(|i| f64::from(2 * i + 1)).collect();
        assert!(mann_whitney_exact_p(&a, &b) > 0.5);
        // Every value equal: every labelling has the same U.
        assert_eq!(mann_whitney_exact_p(&[1.0; 5], &[1.0; 5]), 1.0);
        // Ties, counted by hand: a = {1, 2}, b = {2, 3}. Of the C(4, 2) = 6
        // labellings of {1, 2, 2', 3}, 2U (ties 1, wins 2) is 0 for {1, 2}
        // and {1, 2'}, 2 for {1, 3}, 2 for {2, 2'}, 4 for {2, 3} and
        // {2', 3}: the observed 2U = 0 is 2 from the mean 2, as are 4 of 6.
        let p = mann_whitney_exact_p(&[1.0, 2.0], &[2.0, 3.0]);
        assert!((p - 4.0 / 6.0).abs() < 1e-12, "{p}");
        // Five and five sample counts, separated but for a tie at the
        // boundary: 2U = 1, 24 below the mean 25. As far: the 4 lowest and
        // either 14 as `a` (2U = 1, 2 ways), or either 14 and the 4 highest
        // (2U = 49, 2 ways): 4 of 252.
        let a = [10.0, 11.0, 12.0, 13.0, 14.0];
        let b = [14.0, 15.0, 16.0, 17.0, 18.0];
        let p = mann_whitney_exact_p(&a, &b);
        assert!((p - 4.0 / 252.0).abs() < 1e-12, "{p}");
    }
}
