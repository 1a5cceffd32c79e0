//! Whether a program file can be a Python interpreter, from the file alone:
//! how `record -- COMMAND` tells a Python program that ended before its first
//! sample (not an error) from a command that is not Python at all (`sleep 2`:
//! an error, since nothing could ever be sampled).
//!
//! Given the benefit of the doubt: anything that cannot be read or parsed
//! counts as possibly Python.

use object::{Object, ObjectSymbol};
use std::io::Read;
use std::path::Path;

/// Whether `path` may run Python: an ELF file that defines or imports a
/// CPython symbol (`Py…`, `_Py…`: the interpreter linked in, or
/// `libpython` linked against), a file named `python…` or `pypy…`, or a
/// script whose `#!` line names Python. `false` only when the file was read
/// and is none of these.
pub fn may_run_python(path: &Path) -> bool {
    let named_python = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("python") || n.starts_with("pypy"));
    if named_python {
        return true;
    }
    let Ok(mut file) = std::fs::File::open(path) else {
        return true;
    };
    let mut head = [0u8; 256];
    let Ok(n) = file.read(&mut head) else {
        return true;
    };
    let head = &head[..n];
    if let Some(script) = head.strip_prefix(b"#!") {
        let line = script.split(|&b| b == b'\n').next().unwrap_or_default();
        return String::from_utf8_lossy(line).contains("python");
    }
    if head.starts_with(b"\x7fELF") {
        return elf_mentions_python(path).unwrap_or(true);
    }
    // Neither a script nor ELF: whatever it is, the kernel ran it somehow.
    true
}

/// Whether the ELF file's dynamic symbols (defined or imported) include a
/// CPython one, or it has CPython's `.PyRuntime` section.
fn elf_mentions_python(path: &Path) -> Option<bool> {
    let handle = std::fs::File::open(path).ok()?;
    // SAFETY: a read-only private mapping of a program file; were it
    // rewritten meanwhile, the worst case is a parse error or wrong symbols,
    // which only decide between an error line and a note.
    let data = unsafe { memmap2::Mmap::map(&handle).ok()? };
    let file = object::File::parse(&*data).ok()?;
    let python_symbol = file
        .dynamic_symbols()
        .chain(file.symbols())
        .filter_map(|s| s.name().ok())
        .any(|n| n.starts_with("Py") || n.starts_with("_Py"));
    Some(python_symbol || file.section_by_name(".PyRuntime").is_some())
}

#[cfg(test)]
mod tests {
    use super::may_run_python;
    use std::path::Path;

    #[test]
    fn coreutils_are_not_python() {
        for tool in ["/bin/sleep", "/bin/true", "/usr/bin/env"] {
            if Path::new(tool).exists() {
                assert!(!may_run_python(Path::new(tool)), "{tool}");
            }
        }
    }

    #[test]
    fn interpreters_and_python_scripts_may_be() {
        let dir = std::env::temp_dir().join(format!("snakescope-program-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("tool");
        std::fs::write(&script, "#!/usr/bin/env python3\nprint(1)\n").unwrap();
        assert!(may_run_python(&script));
        std::fs::write(&script, "#!/bin/sh\necho 1\n").unwrap();
        assert!(!may_run_python(&script));
        assert!(
            may_run_python(&dir.join("missing")),
            "unreadable: benefit of the doubt"
        );
        // Interpreters under another name: Debian's (CPython linked in) and
        // pyenv's (linked against libpython).
        let pyenv = std::fs::read_dir("/root/.pyenv/versions")
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join("bin/python3"));
        for python in std::iter::once("/usr/bin/python3".into())
            .chain(pyenv)
            .take(2)
        {
            let Ok(real) = std::fs::canonicalize(&python) else {
                continue;
            };
            std::fs::copy(&real, &script).unwrap();
            assert!(may_run_python(&script), "{}", real.display());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
