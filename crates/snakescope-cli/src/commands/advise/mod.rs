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
use rules::Rules;

mod rules;
use snakescope_formats::Format;
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
    let dir = TempDir::create()?;
    let capture = dir.0.join("capture.json");
    let operands = dir.0.join("operands.json");
    let spec = rules::Spec::new(args, &capture, (!is_capture).then_some(operands.as_path()));
    // The rules' process starts while the program runs (see `rules`),
    // unless --verify must say first that it cannot rewrite.
    let rules = if args.verify || is_capture {
        let interpreter = Interpreter::choose(args.python.as_deref())?;
        if args.verify {
            rules::check_libcst(&interpreter)?;
        }
        Rules::Later(interpreter, spec)
    } else {
        Rules::start_waiting(args.python.clone(), spec)
    };
    let status = if is_capture {
        read_capture(
            first,
            "advise reads the JSON written by `snakescope run --opcodes -o FILE.json`",
        )?;
        std::fs::copy(first, &capture)
            .map_err(|e| UserError::new(format!("cannot read `{}`: {e}", first.display())))?;
        None
    } else {
        Some(run_program(args, &capture, &operands)?)
    };
    if !capture.is_file() {
        let refused = status.is_some_and(|s| s.code() == Some(2));
        let _ = rules.finish(false);
        if refused {
            // `run` itself refused (a bad --python, a missing package): it
            // said why, in one line, as advise's own check would have.
            return Ok(2);
        }
        return Err(
            UserError::new("the program's run wrote no capture: nothing to advise on")
                .with_hint(
                    "see the messages above; `snakescope run --opcodes` runs it the same way",
                )
                .into(),
        );
    }
    rules.finish(true)?;
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

/// `snakescope run --opcodes -q [--python P] -o CAPTURE [-m MODULE | -c CODE]
/// [SCRIPT] ARGS…` with the operand sampler.
fn run_program(
    args: &AdviseArgs,
    capture: &Path,
    operands: &Path,
) -> Result<ExitStatus, UserError> {
    let exe = std::env::current_exe()
        .map_err(|e| UserError::new(format!("cannot find snakescope's own binary: {e}")))?;
    let mut command = Command::new(exe);
    command.args(["run", "--opcodes", "--quiet"]);
    if let Some(python) = &args.python {
        command.arg("--python").arg(python);
    }
    command.arg("-o").arg(capture);
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
