//! The comparison for the terminal: totals, then tables of the functions and
//! lines (and, with memory, the allocating functions) that changed most.

use super::{ByteChange, Change, Diff, FunctionBytes, FunctionChange, LineChange, MemoryDiff};
use std::io::{self, Write};

impl Diff {
    /// The comparison for the terminal: totals, then the `top` functions and
    /// lines whose time changed most.
    pub fn write_text(&self, out: &mut dyn Write, top: usize) -> io::Result<()> {
        writeln!(out, "snakescope diff")?;
        for (label, side) in [("before", &self.before), ("after", &self.after)] {
            writeln!(out, "  {label:<6}  {}", side.command)?;
            let python = side
                .python_version
                .as_deref()
                .map_or(String::new(), |v| format!(", python {v}"));
            let runs = match side.runs {
                1 => String::new(),
                n => format!("{n} runs: "),
            };
            let per_run = if side.runs > 1 { " per run" } else { "" };
            writeln!(
                out,
                "          {runs}{} samples at {} Hz = {:.3} s sampled{per_run}, {:.2} s recorded{python}",
                side.samples,
                hz(side.sample_period_s * side.runs as f64),
                side.time_s,
                side.duration_s,
            )?;
        }
        super::headline_text::write_headline(out, &self.headline)?;
        if let Some(m) = &self.matched_scripts {
            let lines = if m.lines_aligned {
                "functions paired by name, lines by content"
            } else {
                "functions paired by name; lines not aligned (a source could not be read)"
            };
            writeln!(
                out,
                "  note    {} is compared with {} (each run's main script: {lines})",
                m.before, m.after
            )?;
        }
        for caveat in &self.caveats {
            writeln!(out, "  note    {caveat}")?;
        }

        writeln!(out)?;
        writeln!(out, "Functions by change in self time")?;
        let rows: Vec<(&Change, String)> = self
            .functions
            .iter()
            .filter(|f| changed(&f.self_time))
            .map(|f| (&f.self_time, function_label(f)))
            .collect();
        write_table(out, &rows, top, "function")?;

        writeln!(out)?;
        writeln!(out, "Lines by change in time")?;
        let rows: Vec<(&Change, String)> = self
            .lines
            .iter()
            .filter(|l| changed(&l.change))
            .map(|l| {
                let at = if l.line == 0 {
                    l.file.clone()
                } else {
                    format!("{}:{}", l.file, l.line)
                };
                (&l.change, format!("{at}  {}{}", l.name, was_line(l)))
            })
            .collect();
        write_table(out, &rows, top, "line")?;
        if let Some(memory) = &self.memory {
            write_memory(out, memory, top)?;
        }
        if let Some(findings) = &self.findings {
            findings.write_text(out)?;
        }
        Ok(())
    }
}

/// `name  file`, with where a paired function was before.
pub(super) fn function_label(f: &FunctionChange) -> String {
    let mut label = format!("{}  {}", f.name, f.file);
    match (&f.renamed_from, &f.before_file) {
        (Some(old), Some(file)) => {
            label += &format!("  (guess: renamed from {old} in {file})");
        }
        (None, Some(file)) => label += &format!("  (before: {file})"),
        _ => {}
    }
    label
}

/// `  (was before.py:12, edited)` for a line aligned across the scripts.
pub(super) fn was_line(l: &LineChange) -> String {
    match (&l.before_file, l.before_line) {
        (Some(file), Some(line)) => {
            let edited = if l.edited { ", edited" } else { "" };
            format!("  (was {file}:{line}{edited})")
        }
        _ => String::new(),
    }
}

fn write_memory(out: &mut dyn Write, m: &MemoryDiff, top: usize) -> io::Result<()> {
    writeln!(out)?;
    writeln!(out, "Memory")?;
    for (label, c) in [
        ("peak", &m.peak_bytes),
        ("at end", &m.end_bytes),
        ("allocated", &m.allocated_bytes),
    ] {
        writeln!(
            out,
            "  {label:<10} {:>10} -> {:<10} {:>11} ({})",
            bytes(c.before),
            bytes(c.after),
            signed_bytes(c.change),
            byte_relative(c)
        )?;
    }
    writeln!(out)?;
    writeln!(out, "Functions by change in bytes allocated")?;
    let rows: Vec<&FunctionBytes> = m
        .functions
        .iter()
        .filter(|f| f.allocated.change != 0)
        .collect();
    if rows.is_empty() {
        return writeln!(out, "  no change");
    }
    writeln!(
        out,
        "  {:>10}  {:>10}  {:>11}  {:>7}  function",
        "before", "after", "change", "change%"
    )?;
    for f in rows.iter().take(top) {
        let c = &f.allocated;
        let name = if f.file.is_empty() {
            f.name.clone()
        } else {
            format!("{}  {}", f.name, f.file)
        };
        writeln!(
            out,
            "  {:>10}  {:>10}  {:>11}  {:>7}  {name}",
            bytes(c.before),
            bytes(c.after),
            signed_bytes(c.change),
            byte_relative(c)
        )?;
    }
    if rows.len() > top {
        writeln!(out, "  ... {} more", rows.len() - top)?;
    }
    Ok(())
}

/// `512 B`, `1.5 KiB`, `12.0 MiB`, `2.00 GiB`.
fn bytes(n: u64) -> String {
    const KIB: f64 = 1024.0;
    let n = n as f64;
    if n < KIB {
        format!("{n} B")
    } else if n < KIB * KIB {
        format!("{:.1} KiB", n / KIB)
    } else if n < KIB * KIB * KIB {
        format!("{:.1} MiB", n / (KIB * KIB))
    } else {
        format!("{:.2} GiB", n / (KIB * KIB * KIB))
    }
}

fn signed_bytes(n: i64) -> String {
    let sign = if n < 0 { '-' } else { '+' };
    format!("{sign}{}", bytes(n.unsigned_abs()))
}

fn byte_relative(c: &ByteChange) -> String {
    match c.change_pct {
        Some(p) => format!("{p:+.1}%"),
        None if c.after > 0 => "new".to_owned(),
        None => "0%".to_owned(),
    }
}

fn changed(c: &Change) -> bool {
    c.before_samples != c.after_samples || c.change_s != 0.0 || c.change_share != 0.0
}

fn write_table(
    out: &mut dyn Write,
    rows: &[(&Change, String)],
    top: usize,
    what: &str,
) -> io::Result<()> {
    if rows.is_empty() {
        return writeln!(out, "  no change");
    }
    writeln!(
        out,
        "  {:>10}  {:>10}  {:>10}  {:>7}   {:>6} -> {:<6} {:>8}  {what}",
        "before", "after", "change", "change%", "share", "share", "change"
    )?;
    for (c, label) in rows.iter().take(top) {
        writeln!(
            out,
            "  {:>10}  {:>10}  {:>10}  {:>7}   {:>6} -> {:<6} {:>8}  {label}",
            format!("{:.3} s", c.before_s),
            format!("{:.3} s", c.after_s),
            signed_seconds(c.change_s),
            relative(c),
            format!("{:.1}%", 100.0 * c.before_share),
            format!("{:.1}%", 100.0 * c.after_share),
            format!("{:+.1}pp", 100.0 * c.change_share),
        )?;
    }
    if rows.len() > top {
        writeln!(out, "  ... {} more", rows.len() - top)?;
    }
    Ok(())
}

pub(super) fn signed_seconds(s: f64) -> String {
    format!("{s:+.3} s")
}

/// `+12.5%`, `-100%` ("gone" reads as -100%), or `new` when it was 0 before.
fn relative(c: &Change) -> String {
    match c.change_pct {
        Some(p) => format!("{p:+.1}%"),
        None if c.after_samples > 0 => "new".to_owned(),
        None => "0%".to_owned(),
    }
}

/// The sampling rate a period stands for, without needless decimals.
fn hz(period_s: f64) -> String {
    let rate = 1.0 / period_s;
    if (rate - rate.round()).abs() < 1e-6 {
        format!("{rate:.0}")
    } else {
        format!("{rate:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::*;
    use super::super::*;

    #[test]
    fn text_lists_the_biggest_changes_with_times_and_shares() {
        let d = diff(&before(), &after()).unwrap();
        let mut out = Vec::new();
        d.write_text(&mut out, 2).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains(
                "  wall       1.000 s -> 0.500 s     -0.500 s  (-50.0%)  faster\n\
                 \x20 sampled    1.000 s -> 0.500 s     -0.500 s  (-50.0%)  faster\n\
                 \x20 verdict  faster: wall and sampled fell\n"
            ),
            "{text}"
        );
        let section = text
            .split_once("Functions by change in self time\n")
            .unwrap()
            .1;
        let rows: Vec<Vec<&str>> = section
            .lines()
            .skip(1)
            .take(3)
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(
            rows[0],
            [
                "0.600",
                "s",
                "0.050",
                "s",
                "-0.550",
                "s",
                "-91.7%",
                "60.0%",
                "->",
                "10.0%",
                "-50.0pp",
                "lookup",
                "/p/app.py"
            ]
        );
        assert_eq!(
            rows[1],
            [
                "0.000",
                "s",
                "0.050",
                "s",
                "+0.050",
                "s",
                "new",
                "0.0%",
                "->",
                "10.0%",
                "+10.0pp",
                "cache",
                "/p/app.py"
            ]
        );
        assert_eq!(rows[2], ["...", "2", "more"]);
    }
}
