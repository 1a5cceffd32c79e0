//! What `diff` compares: `BEFORE AFTER`; several captures per side,
//! `B1 B2 B3 -- A1 A2 A3`; or, with `--repeat N`, two commands it runs N
//! times each itself, interleaved (`-- BEFORE-CMD -- AFTER-CMD`), recording
//! every run with `snakescope record` into a temporary directory.

use crate::args::DiffArgs;
use crate::UserError;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const SHAPES: &str = "compare `diff BEFORE.json AFTER.json`, several per side as `diff B1.json B2.json -- A1.json A2.json`, or run both programs with `diff --repeat 5 -- python3 before.py -- python3 after.py`";

/// The capture files of each side (for `--repeat`, after recording them).
pub(super) struct Inputs {
    pub before: Vec<PathBuf>,
    pub after: Vec<PathBuf>,
    /// The directory `--repeat` recorded into, removed when done.
    pub _temporary: Option<TempDir>,
}

pub(super) fn inputs(args: &DiffArgs) -> Result<Inputs, UserError> {
    if let Some(n) = args.repeat {
        if !args.before.is_empty() {
            return Err(
                UserError::new("--repeat runs two commands, and takes no capture files")
                    .with_hint(SHAPES),
            );
        }
        let (b, a) = split_commands(&args.after)?;
        return repeat(n, b, a);
    }
    let (before, after) = match (args.before.len(), args.after.is_empty()) {
        (2, true) => (vec![args.before[0].clone()], vec![args.before[1].clone()]),
        (n, true) => {
            return Err(UserError::new(format!(
                "diff takes two captures, or several per side separated by `--`; got {n}"
            ))
            .with_hint(SHAPES))
        }
        (0, false) => {
            return Err(UserError::new("no before capture: they go before `--`").with_hint(SHAPES))
        }
        _ => (
            args.before.clone(),
            args.after.iter().map(PathBuf::from).collect(),
        ),
    };
    Ok(Inputs {
        before,
        after,
        _temporary: None,
    })
}

/// `BEFORE-CMD -- AFTER-CMD`, each non-empty.
fn split_commands(words: &[OsString]) -> Result<(&[OsString], &[OsString]), UserError> {
    let split = words.iter().position(|w| w == "--");
    match split {
        Some(i) if i > 0 && i + 1 < words.len() => Ok((&words[..i], &words[i + 1..])),
        _ => Err(
            UserError::new("--repeat needs two commands: `-- BEFORE-CMD -- AFTER-CMD`").with_hint(
                "e.g. `snakescope diff --repeat 5 -- python3 before.py -- python3 after.py`",
            ),
        ),
    }
}

/// A directory removed when dropped.
pub(super) struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs each command `n` times, before and after in turn (so that a change
/// in the machine's load falls on both), each under `snakescope record`.
fn repeat(n: u32, before: &[OsString], after: &[OsString]) -> Result<Inputs, UserError> {
    let dir = std::env::temp_dir().join(format!("snakescope-diff-{}", std::process::id()));
    std::fs::create_dir_all(&dir)
        .map_err(|e| UserError::new(format!("cannot create `{}`: {e}", dir.display())))?;
    let temporary = TempDir(dir);
    let exe = std::env::current_exe()
        .map_err(|e| UserError::new(format!("cannot find snakescope's own executable: {e}")))?;
    crate::stderr_line(format_args!(
        "snakescope: running each command {n} times, interleaved (their output is discarded)"
    ));
    let (mut b, mut a) = (Vec::new(), Vec::new());
    for i in 1..=n {
        for (which, command, files) in [("before", before, &mut b), ("after", after, &mut a)] {
            let path = temporary.0.join(format!("{which}-{i}.json"));
            record(&exe, command, &path, which, i)?;
            files.push(path);
        }
    }
    Ok(Inputs {
        before: b,
        after: a,
        _temporary: Some(temporary),
    })
}

/// One run of `command` under `record -q -o path`; refuses a run that
/// failed, with the end of what it wrote on stderr.
fn record(
    exe: &Path,
    command: &[OsString],
    path: &Path,
    which: &str,
    i: u32,
) -> Result<(), UserError> {
    let output = Command::new(exe)
        .args([
            OsStr::new("record"),
            OsStr::new("-q"),
            OsStr::new("-o"),
            path.as_os_str(),
        ])
        .arg("--")
        .args(command)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| UserError::new(format!("cannot run snakescope record: {e}")))?;
    if output.status.success() && path.is_file() {
        return Ok(());
    }
    let shown: Vec<String> = command
        .iter()
        .map(|w| w.to_string_lossy().into_owned())
        .collect();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(3).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    Err(UserError::new(format!(
        "run {i} of the {which} command `{}` failed ({}){}",
        shown.join(" "),
        output.status,
        if tail.is_empty() {
            String::new()
        } else {
            format!(": {}", tail.join(" / "))
        }
    ))
    .with_hint(
        "diff --repeat compares programs that succeed; run the command alone to see why it fails",
    ))
}
