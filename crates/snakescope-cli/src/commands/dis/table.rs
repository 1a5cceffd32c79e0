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

/// A target's interpreter: its executable's path as the target sees it, and
/// the target's root directory when it is not ours (a container, a chroot),
/// held open so that it can be entered after the target ended.
pub(crate) struct Executable {
    pub path: PathBuf,
    root: Option<std::fs::File>,
}

impl Executable {
    /// An interpreter of our own root, by path (or name, looked up in `PATH`).
    pub(crate) fn at(path: impl Into<PathBuf>) -> Executable {
        Executable {
            path: path.into(),
            root: None,
        }
    }
}

/// The executable of process `pid`, read while it runs (it may be gone when
/// the table is asked for).
pub(crate) fn executable_of(pid: u32) -> Option<Executable> {
    use std::os::unix::fs::MetadataExt;
    let path = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    let theirs = format!("/proc/{pid}/root");
    let same =
        |a: &std::fs::Metadata, b: &std::fs::Metadata| a.dev() == b.dev() && a.ino() == b.ino();
    let root = match (std::fs::metadata(&theirs), std::fs::metadata("/")) {
        (Ok(t), Ok(o)) if !same(&t, &o) => std::fs::File::open(&theirs).ok(),
        _ => None,
    };
    // A chroot shows in ours as a directory: the executable's path inside
    // it is the rest (in another mount namespace it is already inside).
    let path = match std::fs::read_link(&theirs) {
        Ok(at) if root.is_some() && at != Path::new("/") => match path.strip_prefix(&at) {
            Ok(inside) => Path::new("/").join(inside),
            Err(_) => path,
        },
        _ => path,
    };
    Some(Executable { path, root })
}

/// Runs the target's interpreter (in the target's root when it has its
/// own: `chroot`, which needs root) to print its opcode table, and checks
/// it is of the version sampled (`major.minor`).
pub(crate) fn ask_interpreter(python: &Executable, version: &str) -> Result<OpcodeTable, String> {
    ask(
        interpreter_command(python, TABLE_CODE),
        &python.path,
        version,
    )
}

/// `python -I -c CODE` with the target's interpreter, in the target's root
/// when it has its own (`chroot`, which needs root); stderr captured.
pub(crate) fn interpreter_command(python: &Executable, code: &str) -> Command {
    let mut command = python.command();
    command
        .args(["-I", "-c", code])
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    command
}

impl Executable {
    /// A command that runs this interpreter in the target's root (entered
    /// with `chroot`, which needs root, when it is not ours).
    pub(crate) fn command(&self) -> Command {
        let mut command = Command::new(&self.path);
        if let Some(root) = &self.root {
            use std::os::fd::AsRawFd;
            use std::os::unix::process::CommandExt;
            let fd = root.as_raw_fd();
            // SAFETY: between fork and exec the closure makes only the
            // async-signal-safe system calls fchdir and chroot, allocating nothing.
            unsafe {
                command.pre_exec(move || {
                    if libc::fchdir(fd) != 0 || libc::chroot(c".".as_ptr()) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        command
    }
}

fn ask(mut command: Command, python: &Path, version: &str) -> Result<OpcodeTable, String> {
    let output = command
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
    use super::{ask_interpreter, Executable};

    fn at(path: &str) -> Executable {
        Executable {
            path: path.into(),
            root: None,
        }
    }

    #[test]
    fn an_interpreter_that_cannot_answer_is_one_reason() {
        let err = ask_interpreter(&at("/nonexistent/python3"), "3.11.7").unwrap_err();
        assert!(
            err.starts_with("cannot run `/nonexistent/python3`"),
            "{err}"
        );
        // `false` runs but prints nothing.
        let err = ask_interpreter(&at("/bin/false"), "3.11.7").unwrap_err();
        assert!(err.starts_with("`/bin/false` failed"), "{err}");
        // `true` exits 0 without a table.
        let err = ask_interpreter(&at("/bin/true"), "3.11.7").unwrap_err();
        assert!(err.contains("printed no opcode table"), "{err}");
    }
}
