//! Which code object `dis FUNCTION` names: a qualified name (`Class.method`),
//! a plain name, or `FILE:LINE` (the innermost function whose lines hold
//! LINE; FILE as recorded or any ending of it after a `/`). Several code
//! objects of one function (reloaded, or read twice) count as one: the one
//! with the most samples is shown. Missing or ambiguous: one error line and
//! a hint with the candidates.

use crate::UserError;
use snakescope_model::{CodeSamples, Opcodes};
use std::path::Path;

/// Candidates listed in a hint.
const SHOWN: usize = 6;

pub(super) fn function<'a>(
    opcodes: &'a Opcodes,
    wanted: &str,
    path: &Path,
) -> Result<&'a CodeSamples, UserError> {
    let candidates: Vec<&CodeSamples> = match file_and_line(wanted) {
        Some((file, line)) => innermost_at(&opcodes.codes, file, line),
        None => {
            let by_qualname: Vec<&CodeSamples> = opcodes
                .codes
                .iter()
                .filter(|c| c.qualname.as_deref() == Some(wanted))
                .collect();
            if by_qualname.is_empty() {
                opcodes
                    .codes
                    .iter()
                    .filter(|c| c.function == wanted)
                    .collect()
            } else {
                by_qualname
            }
        }
    };
    let mut functions: Vec<&CodeSamples> = Vec::new();
    for c in candidates {
        match functions.iter_mut().find(|f| same_function(f, c)) {
            Some(f) if c.total_samples > f.total_samples => *f = c,
            Some(_) => {}
            None => functions.push(c),
        }
    }
    match functions.as_slice() {
        [one] => Ok(one),
        [] => Err(UserError::new(format!(
            "no function `{wanted}` has samples in `{}`",
            path.display()
        ))
        .with_hint(close_matches(&opcodes.codes, wanted))),
        many => {
            let listed: Vec<String> = many.iter().take(SHOWN).map(|c| label(c)).collect();
            Err(
                UserError::new(format!("`{wanted}` names {} functions", many.len()))
                    .with_hint(format!("name one by FILE:LINE: {}", listed.join(", "))),
            )
        }
    }
}

/// `FILE:LINE` when `wanted` ends in `:` and a number.
fn file_and_line(wanted: &str) -> Option<(&str, u32)> {
    let (file, line) = wanted.rsplit_once(':')?;
    let line = line.parse().ok()?;
    (!file.is_empty()).then_some((file, line))
}

/// The code objects of `file` whose lines hold `line`, the innermost
/// (latest first line) only.
fn innermost_at<'a>(codes: &'a [CodeSamples], file: &str, line: u32) -> Vec<&'a CodeSamples> {
    let file = file.strip_prefix("./").unwrap_or(file);
    let holding: Vec<&CodeSamples> = codes
        .iter()
        .filter(|c| {
            let recorded = c.file.as_str();
            let same_file = recorded == file || recorded.ends_with(&format!("/{file}"));
            same_file && c.first_line <= line && line <= last_line(c)
        })
        .collect();
    let innermost = holding.iter().map(|c| c.first_line).max();
    holding
        .into_iter()
        .filter(|c| Some(c.first_line) == innermost)
        .collect()
}

fn last_line(code: &CodeSamples) -> u32 {
    code.line_starts
        .iter()
        .map(|s| s[1])
        .chain(code.instructions.iter().map(|i| i.line))
        .max()
        .unwrap_or(code.first_line)
}

fn same_function(a: &CodeSamples, b: &CodeSamples) -> bool {
    (&a.file, a.first_line, &a.qualname, &a.function)
        == (&b.file, b.first_line, &b.qualname, &b.function)
}

/// `qualname (file:line)`.
fn label(code: &CodeSamples) -> String {
    let name = code.qualname.as_deref().unwrap_or(&code.function);
    snakescope_formats::printable::escape_controls(&format!(
        "{name} ({}:{})",
        code.file, code.first_line
    ))
    .into_owned()
}

/// The hint for a name not found: names like it, else the functions with
/// the most samples.
fn close_matches(codes: &[CodeSamples], wanted: &str) -> String {
    let mut by_samples: Vec<&CodeSamples> = codes.iter().collect();
    by_samples.sort_by_key(|c| std::cmp::Reverse(c.total_samples));
    let lower = wanted.to_lowercase();
    let mut close: Vec<String> = Vec::new();
    for c in &by_samples {
        let name = c.qualname.as_deref().unwrap_or(&c.function).to_lowercase();
        let like =
            name.contains(&lower) || lower.contains(&name) || edit_distance(&name, &lower) <= 2;
        let shown = label(c);
        if like && close.len() < SHOWN && !close.contains(&shown) {
            close.push(shown);
        }
    }
    if !close.is_empty() {
        return format!("did you mean: {}", close.join(", "));
    }
    if codes.is_empty() {
        return "the capture has no instructions with samples".to_owned();
    }
    let mut top: Vec<String> = by_samples.iter().map(|c| label(c)).collect();
    top.dedup();
    top.truncate(SHOWN);
    format!("functions with the most samples: {}", top.join(", "))
}

/// Levenshtein distance (names are short).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let next = (diagonal + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(qualname: &str, file: &str, first: u32, last: u32, total: u64) -> CodeSamples {
        CodeSamples {
            function: qualname.rsplit('.').next().unwrap().to_owned(),
            qualname: Some(qualname.to_owned()),
            file: file.to_owned(),
            first_line: first,
            line_starts: vec![[0, first], [2, last]],
            total_samples: total,
            ..CodeSamples::default()
        }
    }

    fn opcodes() -> Opcodes {
        Opcodes {
            codes: vec![
                code("outer", "/src/app.py", 1, 20, 10),
                code("outer.<locals>.inner", "/src/app.py", 5, 8, 4),
                code("A.run", "/src/app.py", 30, 40, 3),
                code("B.run", "/src/b.py", 1, 9, 2),
                code("outer", "/src/app.py", 1, 20, 30),
            ],
            ..Opcodes::default()
        }
    }

    #[test]
    fn finds_by_qualname_name_and_file_line() {
        let o = opcodes();
        let p = Path::new("c.json");
        assert_eq!(function(&o, "A.run", p).unwrap().first_line, 30);
        assert_eq!(function(&o, "inner", p).unwrap().first_line, 5);
        assert_eq!(function(&o, "app.py:6", p).unwrap().first_line, 5);
        assert_eq!(function(&o, "src/app.py:12", p).unwrap().first_line, 1);
        // Two code objects of one function: the one with the most samples.
        assert_eq!(function(&o, "outer", p).unwrap().total_samples, 30);
    }

    #[test]
    fn ambiguous_and_missing_names_say_what_there_is() {
        let o = opcodes();
        let p = Path::new("c.json");
        let err = function(&o, "run", p).unwrap_err();
        assert_eq!(err.message, "`run` names 2 functions");
        assert!(err.hint.unwrap().contains("B.run (/src/b.py:1)"));
        let err = function(&o, "outr", p).unwrap_err();
        assert_eq!(err.message, "no function `outr` has samples in `c.json`");
        assert!(err.hint.unwrap().starts_with("did you mean: outer"));
        let err = function(&o, "zzz", p).unwrap_err();
        assert!(err
            .hint
            .unwrap()
            .starts_with("functions with the most samples: outer"));
        assert!(function(&o, "app.py:99", p).is_err());
    }
}
