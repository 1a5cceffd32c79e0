//! The capture's `stat` section (`record --stat`, `run --stat`): what
//! `snakescope stat` measures — wall and CPU time, peak RSS, page faults,
//! context switches, the kernel's performance counters — for the run the
//! profile comes from, so one run gives the profile and its coarse figures.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The figures of one run, in `snakescope stat`'s order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Stat {
    /// What the figures cover: which processes and threads, from when to when.
    pub scope: String,
    pub figures: Vec<StatFigure>,
}

/// One figure: its value, or why there is none (a counter the machine or
/// its settings refuse).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StatFigure {
    /// `wall`, `user`, `max RSS`, `cycles`, `IPC`, … (as `snakescope stat` names them).
    pub name: String,
    pub unit: StatUnit,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// Why the figure is missing, e.g. "not supported: … no PMU".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_available: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StatUnit {
    Seconds,
    Bytes,
    Count,
    Ratio,
}

impl StatFigure {
    /// A figure from a measurement that may have failed (`Err`: why).
    pub fn new(name: &str, unit: StatUnit, value: Result<f64, String>) -> StatFigure {
        let (value, not_available) = match value {
            Ok(v) => (Some(v), None),
            Err(why) => (None, Some(why)),
        };
        StatFigure {
            name: name.to_owned(),
            unit,
            value,
            not_available,
        }
    }

    /// The value in its unit, for people (`12.34 ms`, `3.0 MiB`, `1,234`).
    pub fn shown(&self, v: f64) -> String {
        match self.unit {
            StatUnit::Seconds if v < 1.0 => format!("{:.2} ms", v * 1e3),
            StatUnit::Seconds => format!("{v:.3} s"),
            StatUnit::Bytes => format!("{:.1} MiB", v / (1024.0 * 1024.0)),
            StatUnit::Count => thousands(v.round().max(0.0) as u64),
            StatUnit::Ratio => format!("{v:.2}"),
        }
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_for_people() {
        let f = |unit| StatFigure::new("x", unit, Ok(0.0));
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(12), "12");
        assert_eq!(f(StatUnit::Seconds).shown(0.01234), "12.34 ms");
        assert_eq!(f(StatUnit::Seconds).shown(2.5), "2.500 s");
        assert_eq!(f(StatUnit::Bytes).shown(3.0 * 1024.0 * 1024.0), "3.0 MiB");
        assert_eq!(f(StatUnit::Count).shown(1234.4), "1,234");
        assert_eq!(f(StatUnit::Ratio).shown(1.234), "1.23");
    }

    #[test]
    fn a_failed_measure_keeps_its_reason() {
        let f = StatFigure::new("cycles", StatUnit::Count, Err("not supported".into()));
        assert_eq!(
            (f.value, f.not_available.as_deref()),
            (None, Some("not supported"))
        );
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(
            json,
            r#"{"name":"cycles","unit":"count","not_available":"not supported"}"#
        );
    }
}
