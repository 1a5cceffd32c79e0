//! The line-table decoder against CPython's own `co_positions()`: for every
//! instruction of several real functions, the line we decode must be the line
//! CPython reports. Uses each 3.11+ interpreter it finds (at least `python3`),
//! including those of the root filesystems `scripts/pyroots.sh` builds
//! (3.13.5, 3.13t, 3.14, 3.15) when they are there and we are root.

use snakescope_unwind::line_for_offset;
use std::process::Command;

const DUMP: &str = r#"
import json, sys, dis
def sample(a, b):
    x = a + b
    if x > 3:
        for i in range(x):
            x += i * \
                 2
    try:
        y = [q for q in range(3)]
    except ValueError:
        y = None
    return x, y
async def coro():
    await sample(1, 2)
def gen():
    yield from range(3)
    lambda: (yield)
out = []
def visit(code):
    pos = list(code.co_positions())
    out.append({"table": code.co_linetable.hex(), "first": code.co_firstlineno,
                "lines": [p[0] for p in pos]})
    for c in code.co_consts:
        if hasattr(c, "co_linetable"):
            visit(c)
for f in (sample, coro, gen):
    visit(f.__code__)
visit(compile(open(dis.__file__).read(), dis.__file__, "exec"))
print(json.dumps(out))
"#;

fn interpreters() -> Vec<String> {
    let mut found = vec!["python3".to_owned()];
    let home = std::env::var("HOME").unwrap_or_default();
    for v in ["3.11.7", "3.12.1", "3.13.0"] {
        let minor = &v[..v.rfind('.').unwrap_or(v.len())];
        let path = format!("{home}/.pyenv/versions/{v}/bin/python{minor}");
        if std::path::Path::new(&path).exists() {
            found.push(path);
        }
    }
    // The wrappers scripts/pyroots.sh writes (they need root: chroot).
    let wrappers = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.pyroots/bin");
    let root = std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(2))
            == Some("0")
    });
    for name in [
        "trixie-python3.13",
        "trixie-python3.13t",
        "sid-python3.14",
        "sid-python3.15",
    ] {
        let path = format!("{wrappers}/{name}");
        if root && std::path::Path::new(&path).exists() {
            found.push(path);
        } else if std::env::var_os("SNAKESCOPE_REQUIRE_ROOTS").is_some_and(|v| v == "1") {
            panic!("{path} is missing (make roots) or we are not root");
        }
    }
    found
}

#[test]
#[allow(clippy::print_stderr)] // which interpreters were checked (`-- --nocapture`)
fn decoded_lines_match_co_positions() {
    for python in interpreters() {
        let out = Command::new(&python)
            .arg("-c")
            .arg(DUMP)
            .output()
            .expect("run python3");
        assert!(
            out.status.success(),
            "{python}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let codes: serde_like::Codes = serde_like::parse(&String::from_utf8(out.stdout).unwrap());
        let mut checked = 0;
        for code in codes {
            for (unit, expected) in code.lines.iter().enumerate() {
                let got = line_for_offset(&code.table, code.first, unit as u64);
                // Line 0 (the module's RESUME) is "no line" to the decoder.
                assert_eq!(
                    got,
                    expected.filter(|&l| l > 0),
                    "{python}: unit {unit} of code starting at line {}",
                    code.first
                );
                checked += 1;
            }
        }
        assert!(
            checked > 1000,
            "{python}: only {checked} instructions checked"
        );
        eprintln!("{python}: {checked} instructions agree");
    }
}

/// A tiny reader for the JSON above, to keep this crate free of a JSON dependency.
mod serde_like {
    pub struct Code {
        pub table: Vec<u8>,
        pub first: u32,
        pub lines: Vec<Option<u32>>,
    }
    pub type Codes = Vec<Code>;

    pub fn parse(text: &str) -> Codes {
        text.split("{\"table\": \"")
            .skip(1)
            .map(parse_one)
            .collect()
    }

    fn parse_one(chunk: &str) -> Code {
        let (hex, rest) = chunk.split_once('"').unwrap();
        let table = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        let first = rest
            .split("\"first\": ")
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let lines = rest
            .split("\"lines\": [")
            .nth(1)
            .unwrap()
            .split(']')
            .next()
            .unwrap();
        let lines = lines
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().ok())
            .collect();
        Code {
            table,
            first,
            lines,
        }
    }
}
