//! The headline of a comparison: the program's measured wall and CPU time
//! (the captures' own clock and `getrusage`) next to the sampled time, each
//! before and after (medians over several runs), and the verdict they
//! support together: `faster` or `slower` only when every measure that
//! moved beyond its noise moved the same way, `within noise` otherwise.
//!
//! One run per side gives no spread, so a change smaller than
//! [`NOISE_SHARE`] of the run's wall time (plus [`NOISE_FLOOR_S`]) is taken
//! as noise; so is a change of medians over fewer than [`MIN_RUNS_FOR_TEST`]
//! runs a side. With that many or more, a measure moves only when the
//! (exact) Mann–Whitney test says its two sides differ (p <
//! [`SIGNIFICANCE`]) and its median moved beyond that floor too.

use serde::Serialize;
use snakescope_model::timing::{mann_whitney_exact_p, Summary};
use snakescope_model::Capture;

/// A change below this share of the run's wall time is noise.
pub const NOISE_SHARE: f64 = 0.05;
/// ... and below this many seconds, whatever the run's length (the clocks'
/// and the interpreter's start-up jitter).
pub const NOISE_FLOOR_S: f64 = 0.01;
/// Runs per side from which the rank test decides: with 5 a side its exact
/// p-value can go below [`SIGNIFICANCE`] (2/252 at best), with 4 it cannot.
pub const MIN_RUNS_FOR_TEST: usize = 5;
/// The p-value below which two sides differ: 1%, so that two runs of one
/// program are called different about once in a hundred diffs per measure.
pub const SIGNIFICANCE: f64 = 0.01;

/// Which way a measure moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Faster,
    Slower,
    WithinNoise,
}

/// One measure (wall, CPU or sampled time) before and after.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measure {
    /// `wall`, `cpu` or `sampled`.
    pub name: &'static str,
    /// Medians over the runs of each side.
    pub before_s: f64,
    pub after_s: f64,
    pub change_s: f64,
    /// `None` when it was 0 before.
    pub change_pct: Option<f64>,
    /// Interquartile range of each side's runs (0 with one run).
    pub before_iqr_s: f64,
    pub after_iqr_s: f64,
    /// Two-sided Mann–Whitney p-value, with enough runs per side.
    pub p_value: Option<f64>,
    pub direction: Direction,
    /// Whether it takes part in the verdict (false: the two sides measured
    /// different things, and a flag says why).
    pub compared: bool,
}

impl Measure {
    /// Which way it moved, as the text and Markdown say it.
    pub fn word(&self) -> &'static str {
        match (self.compared, self.direction) {
            (false, _) => "not compared",
            (true, Direction::Faster) => "faster",
            (true, Direction::Slower) => "slower",
            (true, Direction::WithinNoise) => "within noise",
        }
    }
}

/// The verdict over the compared measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Faster,
    Slower,
    WithinNoise,
    /// No measure could be compared (the flags say why).
    NotComparable,
}

impl Verdict {
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Faster => "faster",
            Verdict::Slower => "slower",
            Verdict::WithinNoise => "within noise",
            Verdict::NotComparable => "not comparable",
        }
    }
}

/// The measures, the verdict and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Headline {
    pub before_runs: usize,
    pub after_runs: usize,
    pub measures: Vec<Measure>,
    pub verdict: Verdict,
    /// One line saying what the verdict rests on.
    pub reason: String,
}

impl Headline {
    /// The measure called `name`.
    pub fn measure(&self, name: &str) -> Option<&Measure> {
        self.measures.iter().find(|m| m.name == name)
    }

    /// The smallest relative change among the measures that moved the
    /// verdict's way: what `--fail-if-slower` checks (0 when none moved).
    pub fn least_moved_pct(&self) -> f64 {
        self.measures
            .iter()
            .filter(|m| m.compared && m.direction != Direction::WithinNoise)
            .filter_map(|m| m.change_pct)
            .min_by(f64::total_cmp)
            .unwrap_or(0.0)
    }
}

/// How a capture covers its program: what its wall and CPU times span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Coverage {
    /// `record` launched the program: its whole run, children's CPU included.
    Launched,
    /// `record --pid`: a window of a run.
    Attached,
    /// `run`: the program's own process, from inside (its CPU includes the
    /// profiler's thread; no child's).
    InProcess,
    /// A `Profiler` block, or a capture of unknown origin.
    Other,
}

impl Coverage {
    pub(super) fn of(c: &Capture) -> Coverage {
        match (c.meta.mode.as_str(), c.meta.exit_code) {
            ("record", Some(_)) => Coverage::Launched,
            ("record", None) => Coverage::Attached,
            ("run", _) => Coverage::InProcess,
            _ => Coverage::Other,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Coverage::Launched => "launched its program (`record -- CMD`)",
            Coverage::Attached => "attached to a running process (`record --pid`)",
            Coverage::InProcess => "profiled from inside (`run`)",
            Coverage::Other => "profiled a block of a program (`Profiler`)",
        }
    }

    /// Whether the capture's wall and CPU times are the program's whole run.
    fn whole_run(self) -> bool {
        matches!(self, Coverage::Launched | Coverage::InProcess)
    }
}

/// Each side's runs, one value per run (`None`: not known for some run).
type PerRun = Option<Vec<f64>>;

/// From launch to exit when `record` launched the program, else the
/// recording's length (`run` records from start to exit).
fn wall(runs: &[&Capture]) -> PerRun {
    Some(
        runs.iter()
            .map(|c| c.meta.wall_s.unwrap_or(c.meta.duration_s))
            .collect(),
    )
}

fn cpu(runs: &[&Capture]) -> PerRun {
    runs.iter()
        .map(|c| Some(c.meta.user_s? + c.meta.sys_s?))
        .collect()
}

fn sampled(runs: &[&Capture]) -> PerRun {
    runs.iter()
        .map(|c| Some(c.total_samples() as f64 * c.meta.sample_period_s()?))
        .collect()
}

/// The headline of `before` against `after` (one capture or several per
/// side, taken the same way within a side), and the flags on what differs
/// between the sides.
pub(super) fn headline(before: &[&Capture], after: &[&Capture]) -> (Headline, Vec<String>) {
    let (b, a) = (before[0], after[0]);
    let mut flags = Vec::new();
    let (cb, ca) = (Coverage::of(b), Coverage::of(a));
    let clocks_compared = cb == ca && cb.whole_run();
    if cb != ca {
        flags.push(format!(
            "the before capture {} and the after capture {}: their wall and CPU times span \
             different things and are not compared (record both the same way)",
            cb.describe(),
            ca.describe()
        ));
    } else if !cb.whole_run() {
        flags.push(format!(
            "both captures {}: their wall and CPU times are the recording's, not the \
             program's, and are not compared",
            cb.describe()
        ));
    }
    let sampled_compared =
        b.meta.include_idle == a.meta.include_idle && b.meta.gil_only == a.meta.gil_only;
    flags.extend(setting_flags(b, a));
    let scale = median(&wall(before).unwrap_or_default()).max(0.0);
    let measures: Vec<Measure> = [
        ("wall", wall as fn(&[&Capture]) -> PerRun, clocks_compared),
        ("cpu", cpu, clocks_compared),
        ("sampled", sampled, sampled_compared),
    ]
    .into_iter()
    .filter_map(|(name, of, compared)| {
        let values = (of(before)?, of(after)?);
        Some(measure(name, &values.0, &values.1, compared, scale))
    })
    .collect();
    let (verdict, reason) = verdict(&measures);
    let headline = Headline {
        before_runs: before.len(),
        after_runs: after.len(),
        measures,
        verdict,
        reason,
    };
    (headline, flags)
}

/// Differences in how the two sides were sampled: idle threads, the GIL
/// holder only, the rate.
fn setting_flags(b: &Capture, a: &Capture) -> Vec<String> {
    let mut flags = Vec::new();
    let which = |before: bool| if before { "before" } else { "after" };
    if b.meta.include_idle != a.meta.include_idle {
        flags.push(format!(
            "only the {} capture includes idle threads (--idle): its sampled time counts \
             waiting too, so sampled time is not compared (record both with --idle, or both without)",
            which(b.meta.include_idle)
        ));
    }
    if b.meta.gil_only != a.meta.gil_only {
        flags.push(format!(
            "only the {} capture was limited to the GIL holder (--gil): sampled time is not \
             compared (record both with --gil, or both without)",
            which(b.meta.gil_only)
        ));
    }
    let (rb, ra) = (b.meta.requested_rate_hz, a.meta.requested_rate_hz);
    if rb > 0.0 && ra > 0.0 && (rb - ra).abs() > 1e-9 * rb.max(ra) {
        flags.push(format!(
            "sampled at different rates ({rb} Hz and {ra} Hz): times are scaled by each \
             period, but the slower rate's figures are coarser (record both with the same --rate)"
        ));
    }
    flags
}

fn measure(name: &'static str, b: &[f64], a: &[f64], compared: bool, scale: f64) -> Measure {
    let (sb, sa) = (Summary::of(b), Summary::of(a));
    let change_s = sa.median - sb.median;
    let floor = NOISE_SHARE * scale.max(sb.median) + NOISE_FLOOR_S;
    let p_value = (b.len() >= MIN_RUNS_FOR_TEST && a.len() >= MIN_RUNS_FOR_TEST)
        .then(|| mann_whitney_exact_p(b, a));
    let moved = change_s.abs() > floor && p_value.map_or(true, |p| p < SIGNIFICANCE);
    let direction = match (moved, change_s > 0.0) {
        (false, _) => Direction::WithinNoise,
        (true, true) => Direction::Slower,
        (true, false) => Direction::Faster,
    };
    Measure {
        name,
        before_s: sb.median,
        after_s: sa.median,
        change_s,
        change_pct: (sb.median > 0.0).then(|| 100.0 * change_s / sb.median),
        before_iqr_s: sb.q3 - sb.q1,
        after_iqr_s: sa.q3 - sa.q1,
        p_value,
        direction,
        compared,
    }
}

fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    Summary::of(values).median
}

/// `faster`/`slower` when the compared measures that moved agree, `within
/// noise` when none moved or they disagree.
fn verdict(measures: &[Measure]) -> (Verdict, String) {
    let compared: Vec<&Measure> = measures.iter().filter(|m| m.compared).collect();
    if compared.is_empty() {
        return (
            Verdict::NotComparable,
            "no measure was taken the same way on both sides".to_owned(),
        );
    }
    let moved = |d: Direction| -> Vec<&str> {
        compared
            .iter()
            .filter(|m| m.direction == d)
            .map(|m| m.name)
            .collect()
    };
    let (faster, slower) = (moved(Direction::Faster), moved(Direction::Slower));
    let still = moved(Direction::WithinNoise);
    let tail = if still.is_empty() {
        String::new()
    } else {
        format!("; {} within noise", and_list(&still))
    };
    match (faster.is_empty(), slower.is_empty()) {
        (true, true) => (
            Verdict::WithinNoise,
            format!("no change beyond the noise in {}", still.join(", ")),
        ),
        (false, false) => (
            Verdict::WithinNoise,
            format!(
                "the measures disagree: {} fell, {} grew",
                and_list(&faster),
                and_list(&slower)
            ),
        ),
        (false, true) => (Verdict::Faster, format!("{} fell{tail}", and_list(&faster))),
        (true, false) => (Verdict::Slower, format!("{} grew{tail}", and_list(&slower))),
    }
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(values: &[f64]) -> Vec<f64> {
        values.to_vec()
    }

    #[test]
    fn one_run_moves_beyond_the_floor_only() {
        // 1 s run: floor 0.05 * 1 + 0.01 = 0.06 s.
        let m = measure("wall", &[1.0], &[0.5], true, 1.0);
        assert_eq!(m.direction, Direction::Faster);
        assert!((m.change_pct.unwrap() + 50.0).abs() < 1e-9);
        let m = measure("cpu", &[0.05], &[0.10], true, 1.0);
        assert_eq!(m.direction, Direction::WithinNoise, "{m:?}");
        let m = measure("wall", &[1.0], &[1.07], true, 1.0);
        assert_eq!(m.direction, Direction::Slower);
        assert_eq!(m.p_value, None);
    }

    #[test]
    fn several_runs_move_only_when_significant() {
        let b = runs(&[1.00, 1.02, 0.98, 1.01, 0.99]);
        let a = runs(&[0.50, 0.52, 0.49, 0.51, 0.53]);
        let m = measure("wall", &b, &a, true, 1.0);
        assert_eq!(m.direction, Direction::Faster);
        assert!((m.p_value.unwrap() - 2.0 / 252.0).abs() < 1e-12);
        assert!((m.before_s - 1.0).abs() < 1e-12 && (m.after_s - 0.51).abs() < 1e-12);
        // Four runs a side: no test, the medians against the floor.
        let m = measure("wall", &b[..4], &a[..4], true, 1.0);
        assert_eq!((m.p_value, m.direction), (None, Direction::Faster));
        // Interleaved: a big median change is not enough.
        let b = runs(&[1.0, 2.0, 1.0, 2.0, 1.0]);
        let a = runs(&[2.0, 1.0, 2.0, 1.0, 2.0]);
        let m = measure("wall", &b, &a, true, 1.0);
        assert_eq!(m.direction, Direction::WithinNoise, "{m:?}");
    }

    fn named(name: &'static str, direction: Direction, compared: bool) -> Measure {
        Measure {
            name,
            before_s: 1.0,
            after_s: 1.0,
            change_s: 0.0,
            change_pct: Some(0.0),
            before_iqr_s: 0.0,
            after_iqr_s: 0.0,
            p_value: None,
            direction,
            compared,
        }
    }

    #[test]
    fn verdicts() {
        use Direction::*;
        let v = |ms: &[Measure]| verdict(ms).0;
        assert_eq!(
            v(&[named("wall", Faster, true), named("cpu", WithinNoise, true)]),
            Verdict::Faster
        );
        assert_eq!(
            v(&[named("cpu", Faster, true), named("sampled", Slower, true)]),
            Verdict::WithinNoise
        );
        // A measure not compared does not vote.
        assert_eq!(
            v(&[named("wall", Slower, true), named("sampled", Faster, false)]),
            Verdict::Slower
        );
        assert_eq!(
            v(&[named("sampled", Faster, false)]),
            Verdict::NotComparable
        );
        let (_, reason) = verdict(&[named("wall", Faster, true), named("cpu", Slower, true)]);
        assert_eq!(reason, "the measures disagree: wall fell, cpu grew");
    }
}
