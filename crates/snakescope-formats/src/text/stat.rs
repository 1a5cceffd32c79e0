//! The capture's `stat` section as text (`record --stat`, `run --stat`):
//! what it covers, each figure with a value, then the missing ones grouped
//! by the reason they are missing (a machine without a PMU refuses all its
//! hardware counters for one reason: one line, not six).

use snakescope_model::Stat;
use std::io::{self, Write};

pub(super) fn write_stat(stat: &Stat, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "  {}", stat.scope)?;
    let mut missing: Vec<(&str, Vec<&str>)> = Vec::new();
    for f in &stat.figures {
        match (f.value, f.not_available.as_deref()) {
            (Some(v), _) => writeln!(out, "  {:<22}{:>16}", f.name, f.shown(v))?,
            (None, why) => {
                let why = why.unwrap_or("not available");
                match missing.iter_mut().find(|(w, _)| *w == why) {
                    Some((_, names)) => names.push(&f.name),
                    None => missing.push((why, vec![&f.name])),
                }
            }
        }
    }
    for (why, names) in missing {
        writeln!(out, "  {}: {why}", names.join(", "))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use snakescope_model::{StatFigure, StatUnit};

    #[test]
    fn values_then_the_missing_grouped_by_reason() {
        let no_pmu = || Err("not supported: no PMU".to_owned());
        let stat = Stat {
            scope: "the command".into(),
            figures: vec![
                StatFigure::new("wall", StatUnit::Seconds, Ok(1.5)),
                StatFigure::new("minor faults", StatUnit::Count, Ok(12345.0)),
                StatFigure::new("cycles", StatUnit::Count, no_pmu()),
                StatFigure::new("instructions", StatUnit::Count, no_pmu()),
                StatFigure::new("odd", StatUnit::Count, Err("not allowed".into())),
            ],
        };
        let mut out = Vec::new();
        write_stat(&stat, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "  the command");
        assert!(
            lines[1].starts_with("  wall") && lines[1].ends_with("1.500 s"),
            "{text}"
        );
        assert!(lines[2].ends_with("12,345"), "{text}");
        assert_eq!(lines[3], "  cycles, instructions: not supported: no PMU");
        assert_eq!(lines[4], "  odd: not allowed");
        assert_eq!(lines.len(), 5);
    }
}
