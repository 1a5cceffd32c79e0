//! `snakescope advise`: the remedy for each hotspot, with its evidence.
//!
//! Given a script, runs it as `snakescope run --opcodes` does (`run`'s own
//! code, in this process, so the program runs exactly as under `run`:
//! output, exit status, signals) with the operand sampler on
//! (`--advise-operands`), into a temporary capture; given a capture,
//! copies it. Then the rules (Python,
//! `python -m snakescope._advise`, which also runs `--verify`) add the
//! `findings` section to that capture, and this command prints it (and
//! renders `-o`). Ends as the program ended.

use crate::args::AdviseArgs;
use crate::args::RunArgs;
use crate::commands::capture_file::read_capture;
use crate::commands::interpreter::Interpreter;
use crate::commands::output::{check_output_path, output_format};
use crate::commands::run::run_status;
use crate::launch;
use crate::UserError;
use rules::Rules;

mod rules;
use snakescope_formats::Format;
use snakescope_model::Findings;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

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
    let operands = dir.0.join("operands.marshal");
    let findings = dir.0.join("findings.json");
    let spec = rules::Spec::new(
        args,
        &capture,
        &findings,
        (!is_capture).then_some(operands.as_path()),
    );
    let (status, interpreter, rules) = if is_capture {
        read_capture(
            first,
            "advise reads the JSON written by `snakescope run --opcodes -o FILE.json`",
        )?;
        std::fs::copy(first, &capture)
            .map_err(|e| UserError::new(format!("cannot read `{}`: {e}", first.display())))?;
        let interpreter = Interpreter::choose(args.python.as_deref())?;
        (None, interpreter, Rules::Later(spec))
    } else {
        // The rules' process starts while the program runs (see `rules`),
        // unless --verify must say first that it cannot rewrite.
        let mut rules = None;
        let (status, interpreter) = run_status(run_args(args, &capture, &operands)?, |i| {
            rules = Some(Rules::start(i, spec, args.verify)?);
            Ok(())
        })?;
        let rules = rules.expect("the rules start before the program");
        (Some(status), interpreter, rules)
    };
    if !capture.is_file() {
        let refused = status.is_some_and(|s| s.code() == Some(2));
        let _ = rules.finish(false, &interpreter);
        if refused {
            // The bootstrap refused (a script it cannot open): it said
            // why, in one line, as advise's own check would have.
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
    // The capture is read here while the rules' process reads it too.
    let reading = {
        let capture = capture.clone();
        std::thread::spawn(move || read_capture(&capture, "written by snakescope advise"))
    };
    rules.finish(true, &interpreter)?;
    let mut done = reading
        .join()
        .map_err(|_| UserError::new("reading the capture failed"))??;
    done.findings = Some(read_findings(&findings)?);
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
    drop(interpreter); // before mirroring a death by signal, which ends this process
    Ok(status.map_or(0, launch::mirror_exit))
}

/// `snakescope run --opcodes -q [--python P] -o CAPTURE [-m MODULE | -c CODE]
/// [SCRIPT] ARGS…` with the operand sampler, as `run` reads it.
fn run_args(args: &AdviseArgs, capture: &Path, operands: &Path) -> Result<RunArgs, UserError> {
    let mut line: Vec<OsString> = vec!["--opcodes".into(), "--quiet".into()];
    if let Some(python) = &args.python {
        line.extend(["--python".into(), python.into()]);
    }
    line.extend(["-o".into(), capture.into()]);
    line.extend(["--advise-operands".into(), operands.into()]);
    if let Some(module) = &args.module {
        line.extend(["-m".into(), module.into()]);
    } else if let Some(code) = &args.code {
        line.extend(["-c".into(), code.into()]);
    }
    line.push("--".into());
    line.extend(args.args.iter().cloned());
    crate::run_settings::parse_run_line(line)
        .map_err(|e| UserError::new(format!("cannot run the program: {e}")))
}

/// The section the rules' process wrote.
fn read_findings(path: &Path) -> Result<Findings, UserError> {
    let bad = |e: &dyn std::fmt::Display| UserError::new(format!("the advisor's findings: {e}"));
    let json = std::fs::read(path).map_err(|e| bad(&e))?;
    serde_json::from_slice(&json).map_err(|e| bad(&e))
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
