//! The process table of a capture that followed child processes
//! (`record --subprocesses`); nothing for a capture of one process.

use super::{heading, percent};
use snakescope_model::{Capture, ROLE_MAIN};
use std::io::{self, Write};

/// Commands wider than this are cut (with `…`).
const MAX_COMMAND: usize = 60;

/// One line saying where the samples were, then a row per process: pid,
/// role, samples and their share of all samples, idle share, lifetime and
/// command.
pub(super) fn write_processes(
    capture: &Capture,
    out: &mut dyn Write,
    color: bool,
) -> io::Result<()> {
    if !capture.has_processes() {
        return Ok(());
    }
    let total: u64 = capture.processes.iter().map(|p| p.samples).sum();
    let children = capture.processes.iter().filter(|p| p.role != ROLE_MAIN);
    let (sampled, child_samples) = children
        .filter(|p| p.samples > 0)
        .fold((0, 0), |(n, s), p| (n + 1, s + p.samples));
    heading(out, color, "Processes")?;
    writeln!(
        out,
        "  work happened in {sampled} child process{} ({} of the samples) besides the main one",
        if sampled == 1 { "" } else { "es" },
        percent(child_samples, total).trim_start()
    )?;
    let role_width = capture
        .processes
        .iter()
        .map(|p| p.role.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    writeln!(
        out,
        "  {:>8}  {:role_width$}  {:>8}  {:>6}  {:>6}  {:>15}  command",
        "pid", "role", "samples", "share", "idle%", "lifetime (s)"
    )?;
    for p in &capture.processes {
        let lifetime = format!("{:.2}-{:.2}", p.start_s, p.end_s);
        writeln!(
            out,
            "  {:>8}  {:role_width$}  {:>8}  {}  {}  {lifetime:>15}  {}",
            p.pid,
            p.role,
            p.samples,
            percent(p.samples, total),
            percent(p.idle_samples, p.samples),
            shorten(&p.command.join(" ")),
        )?;
    }
    Ok(())
}

fn shorten(command: &str) -> String {
    if command.chars().count() <= MAX_COMMAND {
        return command.to_owned();
    }
    let cut: String = command.chars().take(MAX_COMMAND - 1).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use crate::fixture::capture;
    use snakescope_model::ProcessRecord;

    fn row(pid: u32, role: &str, samples: u64) -> ProcessRecord {
        ProcessRecord {
            pid,
            ppid: None,
            command: vec!["python3".into(), "x".repeat(80)],
            role: role.into(),
            start_s: 0.5,
            end_s: 1.25,
            exit_code: None,
            ticks: 10,
            lost_ticks: 0,
            samples,
            idle_samples: samples / 4,
        }
    }

    #[test]
    fn one_row_per_process_and_the_children_share() {
        let mut c = capture();
        let mut out = Vec::new();
        super::write_processes(&c, &mut out, false).unwrap();
        assert!(out.is_empty(), "one process: no table");
        c.processes = vec![
            row(1, "main", 20),
            row(2, "pool worker", 60),
            row(3, "child", 20),
        ];
        super::write_processes(&c, &mut out, false).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("in 2 child processes (80.0% of the samples)"),
            "{text}"
        );
        let worker = text.lines().find(|l| l.contains("pool worker")).unwrap();
        assert!(
            worker.contains("  60   60.0%   25.0%") && worker.contains("0.50-1.25"),
            "{worker}"
        );
        assert!(
            worker.ends_with('…') && worker.chars().count() < 160,
            "{worker}"
        );
    }
}
