//! The comparison of two exact captures for the terminal (totals, then the
//! functions whose own time changed most) and as JSON
//! (`docs/commands/diff.md`).

use super::{CallChange, ExactDiff, ExactFunctionChange, TimeChange};
use serde::Serialize;
use std::io::{self, Write};

#[derive(Serialize)]
struct JsonExactDiff<'a> {
    format: &'static str,
    version: u32,
    /// Tells this document from a comparison of samples (which has no `kind`).
    kind: &'static str,
    #[serde(flatten)]
    diff: &'a ExactDiff,
}

impl ExactDiff {
    /// The comparison as JSON: every function.
    pub fn write_json(&self, out: &mut dyn Write) -> io::Result<()> {
        let doc = JsonExactDiff {
            format: "snakescope-diff",
            version: 1,
            kind: "exact",
            diff: self,
        };
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        writeln!(out)
    }

    /// The comparison for the terminal: totals, then the `top` functions
    /// whose own time (then cumtime, then calls) changed most.
    pub fn write_text(&self, out: &mut dyn Write, top: usize) -> io::Result<()> {
        writeln!(out, "snakescope diff (exact calls)")?;
        for (label, side) in [("before", &self.before), ("after", &self.after)] {
            writeln!(out, "  {label:<6}  {}", side.command)?;
            let python = side
                .python_version
                .as_deref()
                .map_or(String::new(), |v| format!(", python {v}"));
            writeln!(
                out,
                "          {} calls ({} primitive) in {:.3} s, {:.2} s recorded{python}",
                side.calls, side.primitive_calls, side.time_s, side.duration_s,
            )?;
        }
        let t = &self.total;
        let verdict = if t.change_s > 0.0 {
            "slower"
        } else if t.change_s < 0.0 {
            "faster"
        } else {
            "unchanged"
        };
        writeln!(
            out,
            "  total   {:.3} s -> {:.3} s: {:+.3} s ({}), {verdict}",
            t.before_s,
            t.after_s,
            t.change_s,
            time_relative(t)
        )?;
        let c = &self.calls;
        writeln!(
            out,
            "  calls   {} -> {}: {:+} ({})",
            c.before,
            c.after,
            c.change,
            call_relative(c)
        )?;
        for caveat in &self.caveats {
            writeln!(out, "  note    {caveat}")?;
        }
        writeln!(out)?;
        writeln!(out, "Functions by change in own time (tottime)")?;
        write_functions(out, &self.functions, top)
    }
}

fn write_functions(
    out: &mut dyn Write,
    functions: &[ExactFunctionChange],
    top: usize,
) -> io::Result<()> {
    let rows: Vec<&ExactFunctionChange> = functions
        .iter()
        .filter(|f| f.calls.change != 0 || f.tottime.change_s != 0.0 || f.cumtime.change_s != 0.0)
        .collect();
    if rows.is_empty() {
        return writeln!(out, "  no change");
    }
    let groups = format!(
        "  {:<28}  {:<40}  {}",
        "calls", "tottime (own time)", "cumtime (with callees)"
    );
    writeln!(out, "{}", groups.trim_end())?;
    writeln!(
        out,
        "  {:>8}    {:<8} {:>7}  {:>9}    {:<9} {:>9} {:>7}  {:>9}    {:<9} {:>9}  function",
        "before",
        "after",
        "change",
        "before",
        "after",
        "change",
        "change%",
        "before",
        "after",
        "change"
    )?;
    for f in rows.iter().take(top) {
        let (c, t, m) = (&f.calls, &f.tottime, &f.cumtime);
        let name = if f.file == "~" {
            f.name.clone()
        } else {
            format!("{}  {}", f.name, f.file)
        };
        writeln!(
            out,
            "  {:>8} -> {:<8} {:>7}  {:>9} -> {:<9} {:>9} {:>7}  {:>9} -> {:<9} {:>9}  {name}",
            c.before,
            c.after,
            format!("{:+}", c.change),
            seconds(t.before_s),
            seconds(t.after_s),
            format!("{:+.3} s", t.change_s),
            time_relative(t),
            seconds(m.before_s),
            seconds(m.after_s),
            format!("{:+.3} s", m.change_s),
        )?;
    }
    if rows.len() > top {
        writeln!(out, "  ... {} more", rows.len() - top)?;
    }
    Ok(())
}

fn seconds(s: f64) -> String {
    format!("{s:.3} s")
}

/// `+12.5%`, `-100%`, or `new` when it was 0 before.
fn time_relative(t: &TimeChange) -> String {
    match t.change_pct {
        Some(p) => format!("{p:+.1}%"),
        None if t.after_s > 0.0 => "new".to_owned(),
        None => "0%".to_owned(),
    }
}

fn call_relative(c: &CallChange) -> String {
    match c.change_pct {
        Some(p) => format!("{p:+.1}%"),
        None if c.after > 0 => "new".to_owned(),
        None => "0%".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::exact::tests::exact_pair;

    fn text(top: usize) -> String {
        let mut out = Vec::new();
        exact_pair().write_text(&mut out, top).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// The table's rows, split at white space.
    fn rows(text: &str) -> Vec<Vec<String>> {
        let table = text
            .split_once("Functions by change in own time (tottime)\n")
            .unwrap()
            .1;
        table
            .lines()
            .skip(2)
            .map(|l| l.split_whitespace().map(str::to_owned).collect())
            .collect()
    }

    #[test]
    fn text_shows_totals_and_calls() {
        let text = text(10);
        assert!(
            text.starts_with("snakescope diff (exact calls)\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "          122 calls (102 primitive) in 1.000 s, 1.00 s recorded, python 3.11.7\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("  total   1.000 s -> 0.450 s: -0.550 s (-55.0%), faster\n"),
            "{text}"
        );
        assert!(
            text.contains("  calls   122 -> 103: -19 (-15.6%)\n"),
            "{text}"
        );
    }

    #[test]
    fn text_ranks_functions_by_change_in_own_time() {
        let rows = rows(&text(2));
        let fib = "21 -> 1 -20 0.600 s -> 0.030 s -0.570 s -95.0% 0.600 s -> 0.050 s -0.550 s Worker.fib /src/app.py";
        assert_eq!(rows[0].join(" "), fib);
        let cached = "0 -> 1 +1 0.000 s -> 0.020 s +0.020 s new 0.000 s -> 0.020 s +0.020 s Worker.cached /src/app.py";
        assert_eq!(rows[1].join(" "), cached);
        // main changed (cumtime); len did not and is left out.
        assert_eq!(rows[2].join(" "), "... 1 more");
        assert_eq!(rows.len(), 3);
    }

    #[test]
    fn json_has_every_function_with_its_figures() {
        let mut out = Vec::new();
        exact_pair().write_json(&mut out).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["format"], "snakescope-diff");
        assert_eq!(v["kind"], "exact");
        assert_eq!(v["functions"].as_array().unwrap().len(), 4);
        let fib = &v["functions"][0];
        assert_eq!(fib["name"], "Worker.fib");
        assert_eq!(fib["calls"]["before"], 21);
        assert_eq!(fib["calls"]["after"], 1);
        assert_eq!(fib["calls"]["change"], -20);
        assert_eq!(fib["tottime"]["before_s"], 0.6);
        assert_eq!(fib["cumtime"]["after_s"], 0.05);
        assert_eq!(v["functions"][3]["file"], "~");
        assert_eq!(v["calls"]["before"], 122);
        assert_eq!(v["before"]["time_s"], 1.0);
    }
}
