//! The figures of one measured run, in the report's order: the kernel's
//! `rusage` and the wall clock, then the performance counters of
//! [`super::counters`], then IPC. One table for `stat`'s report and for the
//! capture's `stat` section (`record --stat`, `run --stat`).

use super::counters::SPECS;
use snakescope_model::{Stat, StatFigure, StatUnit};

/// What one run measured.
pub struct Measured {
    pub wall_s: f64,
    /// The run's resource usage (the children it waited for included).
    pub usage: libc::rusage,
    /// Per counter of [`SPECS`]: its count, or why there is none.
    pub counters: Vec<Result<f64, String>>,
}

/// A figure of `rusage` and the wall clock: name, unit, value of a run.
type Measure = (&'static str, StatUnit, fn(&Measured) -> f64);

fn seconds(t: libc::timeval) -> f64 {
    t.tv_sec as f64 + t.tv_usec as f64 * 1e-6
}

const USAGE: [Measure; 8] = [
    ("wall", StatUnit::Seconds, |m| m.wall_s),
    ("user", StatUnit::Seconds, |m| seconds(m.usage.ru_utime)),
    ("sys", StatUnit::Seconds, |m| seconds(m.usage.ru_stime)),
    // ru_maxrss is in KiB: the largest single process of the tree.
    ("max RSS", StatUnit::Bytes, |m| {
        m.usage.ru_maxrss as f64 * 1024.0
    }),
    ("minor faults", StatUnit::Count, |m| {
        m.usage.ru_minflt as f64
    }),
    ("major faults", StatUnit::Count, |m| {
        m.usage.ru_majflt as f64
    }),
    ("voluntary switches", StatUnit::Count, |m| {
        m.usage.ru_nvcsw as f64
    }),
    ("involuntary switches", StatUnit::Count, |m| {
        m.usage.ru_nivcsw as f64
    }),
];

/// Every figure of `m`, in the report's order.
pub fn figures(m: &Measured) -> Vec<StatFigure> {
    let mut out: Vec<StatFigure> = USAGE
        .iter()
        .map(|&(name, unit, value)| StatFigure::new(name, unit, Ok(value(m))))
        .collect();
    for (spec, count) in SPECS.iter().zip(&m.counters) {
        let (unit, scale) = if spec.name == "task-clock" {
            (StatUnit::Seconds, 1e-9)
        } else {
            (StatUnit::Count, 1.0)
        };
        out.push(StatFigure::new(
            spec.name,
            unit,
            count.clone().map(|v| v * scale),
        ));
    }
    let counter = |name: &str| {
        let i = SPECS.iter().position(|s| s.name == name);
        &m.counters[i.expect("a counter of SPECS")]
    };
    let ipc = match (counter("instructions"), counter("cycles")) {
        (Ok(i), Ok(c)) if *c > 0.0 => Ok(i / c),
        (Err(why), _) | (_, Err(why)) => Err(why.clone()),
        _ => Err("no cycles counted".to_owned()),
    };
    out.push(StatFigure::new("IPC", StatUnit::Ratio, ipc));
    out
}

/// The capture's `stat` section for `m`; `scope` says what it covers.
pub fn section(m: &Measured, scope: &str) -> Stat {
    Stat {
        scope: scope.to_owned(),
        figures: figures(m),
    }
}

/// The usage of a process tree between two readings, each `[self,
/// children]`: times, faults and switches are the differences of the sums;
/// the peak RSS is the largest process's, since the start of each.
pub fn tree_usage_between(before: [&libc::rusage; 2], after: [&libc::rusage; 2]) -> libc::rusage {
    let mut u = *after[0];
    // time_t and suseconds_t are i64 here, narrower on some targets.
    #[allow(clippy::unnecessary_cast)]
    let usec = |t: libc::timeval| t.tv_sec as i64 * 1_000_000 + t.tv_usec as i64;
    let tv = |us: i64| libc::timeval {
        tv_sec: us.div_euclid(1_000_000) as libc::time_t,
        tv_usec: us.rem_euclid(1_000_000) as libc::suseconds_t,
    };
    let time = |f: fn(&libc::rusage) -> libc::timeval| {
        tv(usec(f(after[0])) + usec(f(after[1])) - usec(f(before[0])) - usec(f(before[1])))
    };
    u.ru_utime = time(|r| r.ru_utime);
    u.ru_stime = time(|r| r.ru_stime);
    let count = |f: fn(&libc::rusage) -> libc::c_long| {
        f(after[0]) + f(after[1]) - f(before[0]) - f(before[1])
    };
    u.ru_minflt = count(|r| r.ru_minflt);
    u.ru_majflt = count(|r| r.ru_majflt);
    u.ru_nvcsw = count(|r| r.ru_nvcsw);
    u.ru_nivcsw = count(|r| r.ru_nivcsw);
    u.ru_maxrss = after[0].ru_maxrss.max(after[1].ru_maxrss);
    u
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(counters: Vec<Result<f64, String>>) -> Measured {
        // SAFETY: an all-zero rusage is a valid value of this plain C struct.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        usage.ru_utime.tv_sec = 1;
        usage.ru_utime.tv_usec = 500_000;
        usage.ru_maxrss = 2048;
        Measured {
            wall_s: 2.0,
            usage,
            counters,
        }
    }

    #[test]
    fn a_tree_between_two_readings() {
        // SAFETY: an all-zero rusage is a valid value of this plain C struct.
        let zero: libc::rusage = unsafe { std::mem::zeroed() };
        let (mut s0, mut s1, mut c1) = (zero, zero, zero);
        s0.ru_utime.tv_usec = 900_000;
        s0.ru_minflt = 100;
        s1.ru_utime = libc::timeval {
            tv_sec: 2,
            tv_usec: 100_000,
        };
        s1.ru_minflt = 150;
        s1.ru_maxrss = 10;
        c1.ru_utime.tv_usec = 500_000;
        c1.ru_minflt = 7;
        c1.ru_maxrss = 30;
        let u = tree_usage_between([&s0, &zero], [&s1, &c1]);
        assert_eq!((u.ru_utime.tv_sec, u.ru_utime.tv_usec), (1, 700_000));
        assert_eq!(u.ru_minflt, 57);
        assert_eq!(u.ru_maxrss, 30);
    }

    #[test]
    fn rusage_figures_in_their_units() {
        let f = figures(&measured(vec![Err("no".into()); SPECS.len()]));
        let get = |n: &str| f.iter().find(|f| f.name == n).unwrap().value;
        assert_eq!(get("wall"), Some(2.0));
        assert_eq!(get("user"), Some(1.5));
        assert_eq!(get("max RSS"), Some(2.0 * 1024.0 * 1024.0));
        assert_eq!(f.len(), USAGE.len() + SPECS.len() + 1);
    }

    #[test]
    fn ipc_from_the_counters_or_the_reason_there_is_none() {
        let mut counts: Vec<Result<f64, String>> = SPECS.iter().map(|_| Ok(10.0)).collect();
        let at = |n: &str| SPECS.iter().position(|s| s.name == n).unwrap();
        counts[at("instructions")] = Ok(300.0);
        counts[at("cycles")] = Ok(100.0);
        let f = figures(&measured(counts.clone()));
        assert_eq!(f.last().unwrap().value, Some(3.0));
        counts[at("cycles")] = Err("not supported: no PMU".into());
        let f = figures(&measured(counts));
        let ipc = f.last().unwrap();
        assert_eq!(ipc.not_available.as_deref(), Some("not supported: no PMU"));
        // task-clock is kept in seconds.
        let clock = f.iter().find(|f| f.name == "task-clock").unwrap();
        assert_eq!(
            (clock.unit, clock.value),
            (StatUnit::Seconds, Some(10.0 * 1e-9))
        );
    }
}
