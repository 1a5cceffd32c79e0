//! The advisor's findings before and after (`snakescope advise -o` on both
//! sides): which were resolved by the change, which remain, which are new.
//! A finding is the same on both sides when its rule and function match
//! and it sits in the same file, or in the two runs' matched main scripts
//! (`before.py` and `after.py`).

use std::io::{self, Write};

use serde::Serialize;
use snakescope_model::{Capture, Finding, Findings};

use super::ScriptMatch;

/// One finding on one side or both.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FindingChange {
    pub rule: String,
    pub title: String,
    pub function: String,
    /// Where it is: after, or before when it was resolved.
    pub file: String,
    pub line: u32,
    /// The hotspot's share of its resource (time or memory) on each side;
    /// `None` on the side without the finding.
    pub before_share: Option<f64>,
    pub after_share: Option<f64>,
}

/// The findings of both sides, matched.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FindingsDiff {
    /// Before only: the change removed the hotspot's cause.
    pub resolved: Vec<FindingChange>,
    /// On both sides.
    pub remaining: Vec<FindingChange>,
    /// After only.
    pub new: Vec<FindingChange>,
}

/// The findings compared, when the first capture of each side has them.
pub(super) fn findings_diff(
    before: &Capture,
    after: &Capture,
    scripts: Option<&ScriptMatch>,
) -> Option<FindingsDiff> {
    let (b, a) = (before.findings.as_ref()?, after.findings.as_ref()?);
    Some(match_findings(b, a, scripts))
}

fn match_findings(b: &Findings, a: &Findings, scripts: Option<&ScriptMatch>) -> FindingsDiff {
    let same_file =
        |fb: &str, fa: &str| fb == fa || scripts.is_some_and(|m| m.before == fb && m.after == fa);
    let mut taken = vec![false; a.items.len()];
    let (mut resolved, mut remaining) = (Vec::new(), Vec::new());
    for fb in &b.items {
        let pair = a.items.iter().enumerate().position(|(i, fa)| {
            !taken[i]
                && fa.rule == fb.rule
                && fa.function == fb.function
                && same_file(&fb.file, &fa.file)
        });
        match pair {
            Some(i) => {
                taken[i] = true;
                remaining.push(change(&a.items[i], Some(fb.share), Some(a.items[i].share)));
            }
            None => resolved.push(change(fb, Some(fb.share), None)),
        }
    }
    let new = a
        .items
        .iter()
        .zip(&taken)
        .filter(|(_, &t)| !t)
        .map(|(fa, _)| change(fa, None, Some(fa.share)))
        .collect();
    FindingsDiff {
        resolved,
        remaining,
        new,
    }
}

fn change(f: &Finding, before_share: Option<f64>, after_share: Option<f64>) -> FindingChange {
    FindingChange {
        rule: f.rule.clone(),
        title: f.title.clone(),
        function: f.function.clone(),
        file: f.file.clone(),
        line: f.line,
        before_share,
        after_share,
    }
}

impl FindingsDiff {
    /// The text section: one line per finding, under what became of it.
    pub(super) fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out)?;
        writeln!(out, "Findings (snakescope advise)")?;
        if self.resolved.is_empty() && self.remaining.is_empty() && self.new.is_empty() {
            return writeln!(out, "  none on either side");
        }
        for (what, items) in [
            ("resolved", &self.resolved),
            ("remaining", &self.remaining),
            ("new", &self.new),
        ] {
            for f in items {
                writeln!(out, "  {what:<9}  {}", describe(f))?;
            }
        }
        Ok(())
    }
}

/// `[rule] title  file:line  function  (share before -> after)`.
fn describe(f: &FindingChange) -> String {
    let shares = match (f.before_share, f.after_share) {
        (Some(b), Some(a)) => format!(
            "{:.1} % -> {:.1} % ({:+.1}pp)",
            100.0 * b,
            100.0 * a,
            100.0 * (a - b)
        ),
        (Some(b), None) => format!("{:.1} % before", 100.0 * b),
        (None, Some(a)) => format!("{:.1} % after", 100.0 * a),
        (None, None) => String::new(),
    };
    format!(
        "[{}] {}  {}:{}  {}  {shares}",
        f.rule, f.title, f.file, f.line, f.function
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(rule: &str, function: &str, file: &str, share: f64) -> Finding {
        serde_json::from_value(serde_json::json!({
            "rule": rule, "title": format!("{rule} title"), "chapter": "ch. 4",
            "file": file, "line": 12, "function": function, "resource": "time",
            "share": share, "evidence": ["e"], "remedy": "r", "before": "b", "after": "a",
            "gain": share / 2.0, "gain_text": "g",
        }))
        .unwrap()
    }

    fn findings(items: Vec<Finding>) -> Findings {
        Findings {
            threshold: 0.05,
            rules: vec![],
            samples: 1000,
            notes: vec![],
            items,
        }
    }

    #[test]
    fn findings_are_resolved_remaining_or_new_across_the_matched_scripts() {
        let b = findings(vec![
            finding("membership-list", "lookup", "/p/slow.py", 0.6),
            finding("local-alias", "norm", "/p/slow.py", 0.2),
            finding("str-concat", "render", "/p/lib.py", 0.1),
        ]);
        let a = findings(vec![
            finding("local-alias", "norm", "/p/fast.py", 0.3),
            finding("str-concat", "render", "/p/other.py", 0.1),
        ]);
        let scripts = ScriptMatch {
            before: "/p/slow.py".into(),
            after: "/p/fast.py".into(),
            lines_aligned: true,
        };
        let d = match_findings(&b, &a, Some(&scripts));
        let rules = |v: &[FindingChange]| v.iter().map(|f| f.rule.clone()).collect::<Vec<_>>();
        assert_eq!(rules(&d.resolved), ["membership-list", "str-concat"]);
        assert_eq!(rules(&d.remaining), ["local-alias"]);
        assert_eq!(d.remaining[0].file, "/p/fast.py");
        assert_eq!(
            (d.remaining[0].before_share, d.remaining[0].after_share),
            (Some(0.2), Some(0.3))
        );
        // lib.py and other.py are not the matched scripts: not the same finding.
        assert_eq!(rules(&d.new), ["str-concat"]);
        let mut text = Vec::new();
        d.write_text(&mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(text.contains("resolved   [membership-list] membership-list title  /p/slow.py:12  lookup  60.0 % before"), "{text}");
        assert!(text.contains("remaining  [local-alias]"), "{text}");
    }
}
