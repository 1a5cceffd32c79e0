//! The headline in the text output: one line per measure (wall, CPU,
//! sampled time), before and after, with its spread and p-value over
//! several runs, and the verdict with what it rests on.

use super::measured::{Headline, Measure};
use super::text::signed_seconds;
use std::io::{self, Write};

pub(super) fn write_headline(out: &mut dyn Write, h: &Headline) -> io::Result<()> {
    if h.before_runs > 1 || h.after_runs > 1 {
        writeln!(
            out,
            "  medians of {} runs before and {} after (spread: interquartile range)",
            h.before_runs, h.after_runs
        )?;
    }
    for m in &h.measures {
        writeln!(
            out,
            "  {:<8} {:>9} -> {:<9} {:>10} {:>9}  {}{}",
            m.name,
            format!("{:.3} s", m.before_s),
            format!("{:.3} s", m.after_s),
            signed_seconds(m.change_s),
            m.change_pct
                .map_or_else(|| "new".to_owned(), |p| format!("({p:+.1}%)")),
            m.word(),
            spread(m, h.before_runs.max(h.after_runs) > 1),
        )?;
    }
    writeln!(out, "  verdict  {}: {}", h.verdict.word(), h.reason)
}

fn spread(m: &Measure, several: bool) -> String {
    if !several {
        return String::new();
    }
    let p = m.p_value.map_or_else(
        || ", too few runs for a test".to_owned(),
        |p| format!(", p={p:.3}"),
    );
    format!(
        "  (spread {:.3} s / {:.3} s{p})",
        m.before_iqr_s, m.after_iqr_s
    )
}
