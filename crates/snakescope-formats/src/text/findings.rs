//! The capture's `findings` section (`snakescope advise`) as text: ranked,
//! each with where, the evidence, the remedy with its before/after, the
//! chapter, the bounded gain and, after `--verify`, what was measured.

use snakescope_model::{Finding, Findings};
use std::io::{self, Write};

pub(crate) fn write_findings(findings: &Findings, out: &mut dyn Write) -> io::Result<()> {
    let threshold = findings.threshold * 100.0;
    if findings.items.is_empty() {
        writeln!(
            out,
            "  no finding above {threshold:.0} % ({} rules checked)",
            findings.rules.len()
        )?;
    }
    for (i, f) in findings.items.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        write_finding(i + 1, f, out)?;
    }
    for note in &findings.notes {
        writeln!(out, "  note: {note}")?;
    }
    Ok(())
}

fn write_finding(rank: usize, f: &Finding, out: &mut dyn Write) -> io::Result<()> {
    let of = if f.resource == "memory" {
        "of the peak heap"
    } else {
        "of the samples"
    };
    writeln!(out, "  {rank}. {}  [{}]", f.title, f.rule)?;
    writeln!(
        out,
        "     {}:{} in {}: {:.1} % {of}",
        f.file,
        f.line,
        f.function,
        f.share * 100.0
    )?;
    for fact in &f.evidence {
        writeln!(out, "     evidence: {fact}")?;
    }
    writeln!(out, "     remedy: {}", f.remedy)?;
    write_snippet("before", &f.before, out)?;
    write_snippet("after ", &f.after, out)?;
    writeln!(out, "     gain: {}", f.gain_text)?;
    writeln!(out, "     see: High Performance Python, {}", f.chapter)?;
    if let Some(v) = &f.verified {
        writeln!(out, "     verified: {}: {}", v.status, v.detail)?;
    } else if f.mechanical {
        writeln!(
            out,
            "     verify: mechanical rewrite (`advise --verify` measures it)"
        )?;
    }
    Ok(())
}

/// A snippet under its label, its own indentation kept relative to its
/// least indented line.
fn write_snippet(label: &str, code: &str, out: &mut dyn Write) -> io::Result<()> {
    let margin = code
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    for (i, line) in code.lines().enumerate() {
        let head = if i == 0 { label } else { "      " };
        let body = line.get(margin..).unwrap_or(line.trim_start());
        writeln!(out, "     {head}  {body}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding() -> Finding {
        Finding {
            rule: "membership-list".into(),
            title: "membership test on a list: use a set".into(),
            chapter: "ch. 4, Dictionaries and Sets".into(),
            file: "app.py".into(),
            line: 12,
            function: "count".into(),
            resource: "time".into(),
            share: 0.8,
            evidence: vec!["`known` was a list of 4,000 items".into()],
            remedy: "Use a set.".into(),
            before: "        if w in known:".into(),
            after: "    known_set = set(known)\n        if w in known_set:".into(),
            gain: 0.7,
            gain_text: "up to 70.0 % of the run time".into(),
            mechanical: true,
            verified: None,
        }
    }

    fn text(findings: &Findings) -> String {
        let mut out = Vec::new();
        write_findings(findings, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_finding_with_its_snippets_indented_relative_to_each_other() {
        let findings = Findings {
            threshold: 0.05,
            rules: vec!["membership-list".into()],
            samples: 100,
            notes: vec![],
            items: vec![finding()],
        };
        let text = text(&findings);
        assert!(text.contains("  1. membership test on a list: use a set  [membership-list]"));
        assert!(text.contains("     app.py:12 in count: 80.0 % of the samples"));
        assert!(text.contains("     before  if w in known:\n"), "{text}");
        assert!(
            text.contains("     after   known_set = set(known)\n"),
            "{text}"
        );
        assert!(
            text.contains("                 if w in known_set:"),
            "{text}"
        );
    }

    #[test]
    fn none_above_the_threshold_says_so() {
        let findings = Findings {
            threshold: 0.05,
            rules: vec!["a".into(), "b".into()],
            samples: 100,
            notes: vec!["no memory section".into()],
            items: vec![],
        };
        assert_eq!(
            text(&findings),
            "  no finding above 5 % (2 rules checked)\n  note: no memory section\n"
        );
    }
}
