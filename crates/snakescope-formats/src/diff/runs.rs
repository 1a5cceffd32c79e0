//! Several captures of one side (`diff B1 B2 B3 -- A1 A2 A3`, `--repeat`):
//! they must have been taken the same way, and their samples are pooled
//! into one capture whose sample stands for its period divided by the number
//! of runs, so that its times are the mean per run.

use super::DiffError;
use snakescope_model::Capture;

/// What two captures of one side must share to be pooled.
fn settings(c: &Capture) -> (String, bool, bool, u64, Option<i32>) {
    (
        c.meta.mode.clone(),
        c.meta.include_idle,
        c.meta.gil_only,
        c.meta.requested_rate_hz.to_bits(),
        c.meta.exit_code.map(|_| 0),
    )
}

/// Refuses a side whose captures were taken differently, naming the side.
pub(super) fn check_side(runs: &[&Capture], which: &'static str) -> Result<(), DiffError> {
    let first = settings(runs[0]);
    match runs.iter().position(|c| settings(c) != first) {
        None => Ok(()),
        Some(i) => Err(DiffError::MixedRuns {
            which,
            index: i + 1,
        }),
    }
}

/// The runs' samples in one capture; a single run is returned as it is.
/// Memory is kept only for a single run (peaks do not add up).
pub fn pool(runs: &[&Capture]) -> Capture {
    let mut pooled = runs[0].clone();
    if runs.len() == 1 {
        return pooled;
    }
    pooled.memory = None;
    pooled.exact = None;
    pooled.lines = None;
    for run in &runs[1..] {
        let (frames, threads) = (pooled.frames.len(), pooled.threads.len());
        pooled.frames.extend(run.frames.iter().cloned());
        pooled.threads.extend(run.threads.iter().cloned());
        pooled.stacks.extend(run.stacks.iter().map(|s| {
            let mut s = s.clone();
            s.thread += threads;
            s.frames.iter_mut().for_each(|f| *f += frames);
            s
        }));
        pooled.meta.ticks += run.meta.ticks;
        pooled.meta.lost_ticks += run.meta.lost_ticks;
        pooled.meta.duration_s += run.meta.duration_s;
    }
    let n = runs.len() as f64;
    // Each sample is 1/n of a period of one run: times are means per run.
    pooled.meta.requested_rate_hz *= n;
    pooled.meta.duration_s /= n;
    pooled
}

#[cfg(test)]
mod tests {
    use super::super::fixture::*;
    use super::*;

    #[test]
    fn pooled_times_are_means_per_run() {
        let (b1, b2) = (before(), before());
        let pooled = pool(&[&b1, &b2]);
        assert_eq!(pooled.total_samples(), 2000);
        assert_eq!(pooled.meta.sample_period_s(), Some(0.0005));
        assert_eq!(pooled.meta.duration_s, 1.0);
        let stats = snakescope_model::Stats::of(&pooled);
        let lookup = stats.functions.iter().find(|f| f.name == "lookup").unwrap();
        assert_eq!(lookup.self_samples, 1200);
    }

    #[test]
    fn a_side_taken_two_ways_is_refused() {
        let b1 = before();
        let mut b2 = before();
        b2.meta.include_idle = true;
        assert!(check_side(&[&b1, &b1], "before").is_ok());
        assert!(matches!(
            check_side(&[&b1, &b2], "before"),
            Err(DiffError::MixedRuns {
                which: "before",
                index: 2
            })
        ));
    }
}
