//! The comparison as a short Markdown summary (`diff --markdown`), for a
//! pull request comment or a CI job summary: the headline, the verdict, the
//! notes, the advisor's findings when both sides have them, and the
//! functions whose self time changed most.

use super::text::function_label;
use super::Diff;
use std::io::{self, Write};

impl Diff {
    /// The Markdown summary, with at most `top` functions.
    pub fn write_markdown(&self, out: &mut dyn Write, top: usize) -> io::Result<()> {
        let h = &self.headline;
        writeln!(out, "### snakescope diff: {}", h.verdict.word())?;
        writeln!(out)?;
        writeln!(
            out,
            "before `{}`, after `{}`{}",
            code(&self.before.command),
            code(&self.after.command),
            match (h.before_runs, h.after_runs) {
                (1, 1) => String::new(),
                (b, a) => format!(" (medians of {b} and {a} runs)"),
            }
        )?;
        writeln!(out)?;
        writeln!(out, "| | before | after | change | |")?;
        writeln!(out, "|---|---:|---:|---:|---|")?;
        for m in &h.measures {
            let pct = m
                .change_pct
                .map_or_else(|| "new".to_owned(), |p| format!("{p:+.1}%"));
            let word = m.word();
            let p = m.p_value.map_or(String::new(), |p| format!(" (p={p:.3})"));
            writeln!(
                out,
                "| {} time | {:.3} s | {:.3} s | {:+.3} s ({pct}) | {word}{p} |",
                m.name, m.before_s, m.after_s, m.change_s
            )?;
        }
        writeln!(out)?;
        writeln!(out, "**{}**: {}", h.verdict.word(), cell(&h.reason))?;
        if !self.caveats.is_empty() {
            writeln!(out)?;
            for caveat in &self.caveats {
                writeln!(out, "- {}", cell(caveat))?;
            }
        }
        if let Some(f) = &self.findings {
            writeln!(out)?;
            writeln!(out, "Findings (snakescope advise):")?;
            for (what, items) in [
                ("resolved", &f.resolved),
                ("remaining", &f.remaining),
                ("new", &f.new),
            ] {
                for i in items {
                    let at = format!("{}:{} {}", i.file, i.line, i.function);
                    writeln!(
                        out,
                        "- {what}: **{}** {} (`{}`)",
                        i.rule,
                        cell(&i.title),
                        code(&at)
                    )?;
                }
            }
        }
        let rows: Vec<_> = self
            .functions
            .iter()
            .filter(|f| f.self_time.change_s != 0.0)
            .take(top)
            .collect();
        if rows.is_empty() {
            return Ok(());
        }
        writeln!(out)?;
        writeln!(out, "| self time before | after | change | function |")?;
        writeln!(out, "|---:|---:|---:|---|")?;
        for f in rows {
            let c = &f.self_time;
            let pct = c
                .change_pct
                .map_or_else(|| "new".to_owned(), |p| format!("{p:+.1}%"));
            writeln!(
                out,
                "| {:.3} s | {:.3} s | {:+.3} s ({pct}) | {} |",
                c.before_s,
                c.after_s,
                c.change_s,
                cell(&function_label(f))
            )?;
        }
        Ok(())
    }
}

/// Text safe in a table cell: `|` escaped, `<` and `>` as entities (a
/// `<frozen importlib._bootstrap>` would be an HTML tag, and vanish), no
/// line breaks.
fn cell(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

/// Text safe inside a code span (where entities are not decoded).
fn code(text: &str) -> String {
    text.replace('`', "'")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::super::fixture::*;
    use super::super::*;
    use super::{cell, code};

    #[test]
    fn markdown_has_the_verdict_the_measures_and_the_top_function() {
        let d = diff(&before(), &after()).unwrap();
        let mut out = Vec::new();
        d.write_markdown(&mut out, 1).unwrap();
        let md = String::from_utf8(out).unwrap();
        assert!(md.starts_with("### snakescope diff: faster\n"), "{md}");
        assert!(
            md.contains("| wall time | 1.000 s | 0.500 s | -0.500 s (-50.0%) | faster |"),
            "{md}"
        );
        assert!(
            md.contains("| 0.600 s | 0.050 s | -0.550 s (-91.7%) | lookup  /p/app.py |"),
            "{md}"
        );
        assert!(!md.contains("cache"), "only the top function: {md}");
    }

    #[test]
    fn cells_escape_what_markdown_would_read() {
        assert_eq!(
            cell("<module>  a|b\nc & d"),
            "&lt;module&gt;  a\\|b c &amp; d"
        );
        assert_eq!(code("python3 -c `x` | y"), "python3 -c 'x' \\| y");
    }
}
