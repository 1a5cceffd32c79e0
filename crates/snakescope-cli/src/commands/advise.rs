//! `snakescope advise`: the remedy for each hotspot, with its evidence.
//!
//! Given a script, runs it under `snakescope run --opcodes` (this binary, so
//! the program runs exactly as under `run`: output, exit status, signals)
//! with the operand sampler on (`SNAKESCOPE_ADVISE_OPERANDS`), into a
//! temporary capture; given a capture, copies it. Then the rules (Python,
//! `python -m snakescope._advise`, which also runs `--verify`) add the
//! `findings` section to that capture, and this command prints it (and
//! renders `-o`). Ends as the program ended.

use crate::args::AdviseArgs;
use crate::commands::capture_file::read_capture;
use crate::commands::interpreter::Interpreter;
use crate::commands::output::{check_output_path, output_format};
use crate::launch;
use crate::UserError;
use snakescope_formats::Format;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

pub fn run(args: &AdviseArgs) -> anyhow::Result<u8> {
    if let Some(out) = &args.output {
        check_output_path(out)?;
        output_format(Some(out), None, Format::Json)?;
    }
    let inline = args.module.is_some() || args.code.is_some();
    if inline && args.verify {
        return Err(UserError::new(
            "--verify rewrites a copy of the program's script, and -m / -c give none",
        )
        .with_hint("give the script's path: `snakescope advise --verify path/to/app.py ARGS`")
        .into());
    }
    let first = Path::new(args.args.first().map_or("".as_ref(), |a| a.as_os_str()));
    let is_capture =
        !inline && args.args.len() == 1 && first.extension().is_some_and(|e| e == "json");
    if !inline && !first.exists() {
        return Err(UserError::new(format!("`{}` not found", first.display()))
            .with_hint("give a script and its arguments, or a capture: `snakescope advise app.py` / `snakescope advise profile.json`")
            .into());
    }
    if is_capture && args.verify {
        return Err(
            UserError::new("--verify runs the program, and a capture is not one")
                .with_hint(
                    "give the script and its arguments: `snakescope advise --verify app.py ARGS`",
                )
                .into(),
        );
    }
    let interpreter = Interpreter::choose(args.python.as_deref())?;
    if args.verify {
        check_libcst(&interpreter)?;
    }
    let dir = TempDir::create()?;
    let capture = dir.0.join("capture.json");
    let operands = dir.0.join("operands.json");
    let status = if is_capture {
        read_capture(
            first,
            "advise reads the JSON written by `snakescope run --opcodes -o FILE.json`",
        )?;
        std::fs::copy(first, &capture)
            .map_err(|e| UserError::new(format!("cannot read `{}`: {e}", first.display())))?;
        None
    } else {
        Some(run_program(args, &interpreter.python, &capture, &operands)?)
    };
    if !capture.is_file() {
        return Err(
            UserError::new("the program's run wrote no capture: nothing to advise on")
                .with_hint(
                    "see the messages above; `snakescope run --opcodes` runs it the same way",
                )
                .into(),
        );
    }
    advise(args, &interpreter, &capture, &operands, is_capture)?;
    let done = read_capture(&capture, "written by snakescope advise")?;
    let print =
        |out: &mut dyn std::io::Write| snakescope_formats::write_findings(&done, out, false);
    if status.is_some() {
        print(&mut std::io::stderr())?; // stdout is the program's
    } else {
        crate::to_stdout(print)?;
    }
    if let Some(out) = &args.output {
        let format = output_format(Some(out), None, Format::Json)?;
        let mut rendered = Vec::new();
        snakescope_formats::write(&done, format, &mut rendered)?;
        std::fs::write(out, rendered)
            .map_err(|e| UserError::new(format!("cannot write `{}`: {e}", out.display())))?;
    }
    Ok(status.map_or(0, launch::mirror_exit))
}

/// `snakescope run --opcodes -q -o CAPTURE [-m MODULE | -c CODE] [SCRIPT] ARGS…`
/// with the operand sampler.
fn run_program(
    args: &AdviseArgs,
    python: &str,
    capture: &Path,
    operands: &Path,
) -> Result<ExitStatus, UserError> {
    let exe = std::env::current_exe()
        .map_err(|e| UserError::new(format!("cannot find snakescope's own binary: {e}")))?;
    let mut command = Command::new(exe);
    command.args(["run", "--opcodes", "--quiet", "--python", python, "-o"]);
    command.arg(capture);
    if let Some(module) = &args.module {
        command.arg("-m").arg(module);
    } else if let Some(code) = &args.code {
        command.arg("-c").arg(code);
    }
    command.arg("--").args(&args.args);
    command.env("SNAKESCOPE_ADVISE_OPERANDS", operands);
    command
        .status()
        .map_err(|e| UserError::new(format!("cannot run `snakescope run`: {e}")))
}

/// `python -m snakescope._advise CAPTURE …`: adds the findings to CAPTURE.
fn advise(
    args: &AdviseArgs,
    interpreter: &Interpreter,
    capture: &Path,
    operands: &Path,
    is_capture: bool,
) -> Result<(), UserError> {
    let mut command = Command::new(&interpreter.python);
    command.args(["-m", "snakescope._advise"]).arg(capture);
    command.arg("--threshold").arg(args.threshold.to_string());
    if !is_capture {
        command.arg("--operands").arg(operands);
    }
    if args.verify {
        command.args(["--verify", "--repeat", &args.repeat.to_string()]);
        if let Some(patch) = &args.write_patch {
            command.arg("--write-patch").arg(patch);
        }
        let mut program: Vec<OsString> = vec!["--".into(), "script".into()];
        program.extend(args.args.iter().cloned());
        command.args(program);
    }
    interpreter.prepare(&mut command);
    let status = command.status().map_err(|e| {
        UserError::new(format!("cannot run `{}`: {e}", interpreter.python))
            .with_hint("pick one with `--python PATH`")
    })?;
    if !status.success() {
        return Err(UserError::new("the advisor failed (see above)"));
    }
    Ok(())
}

/// `--verify` rewrites with libcst, an optional dependency: said before the program runs.
fn check_libcst(interpreter: &Interpreter) -> Result<(), UserError> {
    let mut command = Command::new(&interpreter.python);
    command.args(["-c", "import libcst"]);
    command.stdout(std::process::Stdio::null());
    command.stderr(std::process::Stdio::null());
    match command.status() {
        Ok(status) if status.success() => Ok(()),
        _ => Err(UserError::new(format!(
            "--verify rewrites the program with libcst, which `{}` cannot import",
            interpreter.python
        ))
        .with_hint("install it there (`pip install libcst`), or drop --verify")),
    }
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn create() -> Result<TempDir, UserError> {
        let dir = std::env::temp_dir().join(format!("snakescope-advise-{}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| UserError::new(format!("cannot create `{}`: {e}", dir.display())))?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
