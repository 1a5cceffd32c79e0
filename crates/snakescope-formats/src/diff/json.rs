//! The comparison as JSON (`docs/commands/diff.md`).

use super::Diff;
use serde::Serialize;
use std::io::{self, Write};

#[derive(Serialize)]
struct JsonDiff<'a> {
    format: &'static str,
    version: u32,
    #[serde(flatten)]
    diff: &'a Diff,
}

impl Diff {
    /// The comparison as JSON (`docs/commands/diff.md`).
    pub fn write_json(&self, out: &mut dyn Write) -> io::Result<()> {
        let doc = JsonDiff {
            format: "snakescope-diff",
            version: 1,
            diff: self,
        };
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        writeln!(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::*;
    use super::super::*;

    #[test]
    fn json_has_every_function_and_line() {
        let d = diff(&before(), &after()).unwrap();
        let mut out = Vec::new();
        d.write_json(&mut out).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["format"], "snakescope-diff");
        assert_eq!(v["version"], 1);
        assert_eq!(v["functions"].as_array().unwrap().len(), 5);
        assert_eq!(v["lines"].as_array().unwrap().len(), 5);
        let lookup = &v["functions"][0];
        assert_eq!(lookup["name"], "lookup");
        assert_eq!(lookup["self"]["before_samples"], 600);
        assert_eq!(lookup["total"]["after_samples"], 25);
        assert_eq!(
            v["functions"][1]["self"]["change_pct"],
            serde_json::Value::Null
        );
        assert_eq!(v["lines"][0]["line"], 10);
        assert_eq!(v["total"]["after_s"], 0.5);
        assert_eq!(v["before"]["samples"], 1000);
    }
}
