//! The opcode table of the interpreter `record --opcodes` sampled, asked of
//! that interpreter itself: its own `dis` and `opcode` modules know its
//! names (specialised ones included on 3.11+) and inline caches, which
//! differ per version and even per build. `python/snakescope/_opcodes.py`
//! is the one definition; `run --opcodes` calls it in the program's own
//! interpreter instead.

use snakescope_model::OpcodeTable;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The table's Python code (runs with `-I`: nothing of snakescope imported).
const TABLE_CODE: &str = include_str!("../../../../../python/snakescope/_opcodes.py");

/// The executable of process `pid`, read while it runs (it may be gone when
/// the table is asked for).
pub(crate) fn executable_of(pid: u32) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/exe")).ok()
}

/// Runs `python` to print its opcode table, and checks it is of the
/// version sampled (`major.minor`).
pub(crate) fn ask_interpreter(python: &Path, version: &str) -> Result<OpcodeTable, String> {
    let output = Command::new(python)
        .args(["-I", "-c", TABLE_CODE])
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run `{}`: {e}", python.display()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().last().unwrap_or("no message");
        return Err(format!("`{}` failed: {last}", python.display()));
    }
    let table: OpcodeTable = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("`{}` printed no opcode table: {e}", python.display()))?;
    let same = table
        .python_version
        .split('.')
        .take(2)
        .eq(version.split('.').take(2));
    if !same {
        return Err(format!(
            "`{}` is Python {}, not the {version} sampled",
            python.display(),
            table.python_version
        ));
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::ask_interpreter;
    use std::path::Path;

    #[test]
    fn an_interpreter_that_cannot_answer_is_one_reason() {
        let err = ask_interpreter(Path::new("/nonexistent/python3"), "3.11.7").unwrap_err();
        assert!(
            err.starts_with("cannot run `/nonexistent/python3`"),
            "{err}"
        );
        // `false` runs but prints nothing.
        let err = ask_interpreter(Path::new("/bin/false"), "3.11.7").unwrap_err();
        assert!(err.starts_with("`/bin/false` failed"), "{err}");
        // `true` exits 0 without a table.
        let err = ask_interpreter(Path::new("/bin/true"), "3.11.7").unwrap_err();
        assert!(err.contains("printed no opcode table"), "{err}");
    }
}
