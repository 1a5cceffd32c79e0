//! The rules' process: `python -m snakescope._advise CAPTURE --findings-out
//! FILE …`, which writes CAPTURE's `findings` section to FILE.
//!
//! While the program runs, it is started early with `--wait` (with the
//! interpreter `run` chose for the program: Python's start-up and the rules'
//! imports, ~25 ms, on the other CPU, not after the program) and waits on
//! its standard input: `go` once the capture is written, anything else (or
//! end of input) and it exits without a word.

use crate::args::AdviseArgs;
use crate::commands::interpreter::Interpreter;
use crate::UserError;
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// What the rules' command says (from advise's arguments).
#[derive(Clone)]
pub(super) struct Spec {
    capture: PathBuf,
    findings: PathBuf,
    operands: Option<PathBuf>,
    threshold: f64,
    verify: Option<(u32, Option<PathBuf>, Vec<OsString>)>,
}

impl Spec {
    pub(super) fn new(
        args: &AdviseArgs,
        capture: &Path,
        findings: &Path,
        operands: Option<&Path>,
    ) -> Spec {
        Spec {
            capture: capture.to_owned(),
            findings: findings.to_owned(),
            operands: operands.map(Path::to_owned),
            threshold: args.threshold,
            verify: args
                .verify
                .then(|| (args.repeat, args.write_patch.clone(), args.args.clone())),
        }
    }

    fn command(&self, interpreter: &Interpreter, wait: bool) -> Command {
        let mut command = Command::new(&interpreter.python);
        command
            .args(["-m", "snakescope._advise"])
            .arg(&self.capture)
            .arg("--findings-out")
            .arg(&self.findings);
        command.arg("--threshold").arg(self.threshold.to_string());
        if let Some(operands) = &self.operands {
            command.arg("--operands").arg(operands);
        }
        if wait {
            command.arg("--wait").stdin(Stdio::piped());
            crate::launch::in_background(&mut command);
        }
        if let Some((repeat, patch, program)) = &self.verify {
            command.args(["--verify", "--repeat", &repeat.to_string()]);
            if let Some(patch) = patch {
                command.arg("--write-patch").arg(patch);
            }
            command.args(["--", "script"]).args(program);
        }
        interpreter.prepare(&mut command);
        command
    }
}

/// The rules' process: to start once the capture is there, or started and
/// waiting.
pub(super) enum Rules {
    Later(Spec),
    Waiting(Child),
}

impl Rules {
    /// Starts the rules waiting with the program's interpreter, or, with
    /// `--verify` (which first checks that the interpreter can rewrite),
    /// leaves them for later.
    pub(super) fn start(
        interpreter: &Interpreter,
        spec: Spec,
        verify: bool,
    ) -> Result<Rules, UserError> {
        if verify {
            check_libcst(interpreter)?;
            return Ok(Rules::Later(spec));
        }
        spec.command(interpreter, true)
            .spawn()
            .map(Rules::Waiting)
            .map_err(|e| cannot_run(interpreter, e))
    }

    /// Runs the rules on the capture (when `go`; else only ends the waiting
    /// process, quietly).
    pub(super) fn finish(self, go: bool, interpreter: &Interpreter) -> Result<(), UserError> {
        let status = match self {
            Rules::Later(_) if !go => return Ok(()),
            Rules::Later(spec) => spec
                .command(interpreter, false)
                .status()
                .map_err(|e| cannot_run(interpreter, e))?,
            Rules::Waiting(mut child) => {
                if let Some(mut stdin) = child.stdin.take() {
                    // (A failed write: the process ended; its status says how.)
                    let _ = stdin.write_all(if go { b"go\n" } else { b"stop\n" });
                }
                child
                    .wait()
                    .map_err(|e| UserError::new(format!("the advisor: {e}")))?
            }
        };
        if go && !status.success() {
            return Err(UserError::new("the advisor failed (see above)"));
        }
        Ok(())
    }
}

fn cannot_run(interpreter: &Interpreter, e: std::io::Error) -> UserError {
    UserError::new(format!("cannot run `{}`: {e}", interpreter.python))
        .with_hint("pick one with `--python PATH`")
}

/// `--verify` rewrites with libcst, an optional dependency: said before the program runs.
fn check_libcst(interpreter: &Interpreter) -> Result<(), UserError> {
    let mut command = Command::new(&interpreter.python);
    command.args(["-c", "import libcst"]);
    command.stdout(Stdio::null());
    command.stderr(Stdio::null());
    match command.status() {
        Ok(status) if status.success() => Ok(()),
        _ => Err(UserError::new(format!(
            "--verify rewrites the program with libcst, which `{}` cannot import",
            interpreter.python
        ))
        .with_hint("install it there (`pip install libcst`), or drop --verify")),
    }
}
