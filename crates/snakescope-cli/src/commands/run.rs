//! `snakescope run`: launch a Python program with the in-process agent.
//!
//! The interpreter is started as `python -m snakescope._run …`; the bootstrap
//! starts the agent's sampler inside it and then runs the program exactly as
//! `python` would (argv, `sys.path[0]`, `__main__`, exit status, tracebacks).
//! This command only passes the settings on and mirrors the child's exit.

use crate::args::{FormatArg, MemoryMode, RunArgs};
use crate::launch::{self, Signals};
use crate::UserError;
use std::sync::atomic::Ordering;
use std::time::Duration;

pub fn run(args: RunArgs) -> anyhow::Result<u8> {
    if !(args.sampling.rate > 0.0 && args.sampling.rate <= 1_000_000.0) {
        return Err(UserError::new(format!(
            "sampling rate `{}` is out of range",
            args.sampling.rate
        ))
        .with_hint("use a rate between 1 and 1000000 Hz")
        .into());
    }
    let target = target_spec(&args)?;
    if let Some(pattern) = args.lines.iter().find(|p| p.is_empty() || p.ends_with(':')) {
        return Err(
            UserError::new(format!("line pattern `{pattern}` names no function"))
                .with_hint(
                    "write `module:function`, e.g. `--lines julia:calculate_z_serial_purepython`",
                )
                .into(),
        );
    }
    // Checked (version, package) before anything runs; see interpreter.rs.
    let interpreter = super::interpreter::Interpreter::choose(args.python.as_deref())?;
    let python = interpreter.python.clone();
    if interpreter.free_threaded && args.sampling.gil {
        return Err(UserError::new(format!(
            "`--gil` on free-threaded Python (`{python}`): there is no GIL to sample by"
        ))
        .with_hint("drop `--gil`, or pick a GIL build with `--python PATH`")
        .into());
    }
    let mut command = vec![
        python.clone(),
        "-m".into(),
        "snakescope._run".into(),
        "--rate".into(),
        args.sampling.rate.to_string(),
    ];
    if let Some(out) = &args.sampling.output {
        command.extend(["--output".into(), out.display().to_string()]);
    }
    if let Some(format) = args.sampling.format {
        command.extend(["--format".into(), format_name(format).into()]);
    }
    if args.exact {
        command.extend(["--exact".into(), "--sort".into(), args.sort.clone()]);
    }
    for pattern in &args.lines {
        command.extend(["--lines".into(), pattern.clone()]);
    }
    let memory = match args.memory {
        MemoryMode::Sampled if args.memory_interval == 0 => "exact",
        MemoryMode::Sampled => "sampled",
        MemoryMode::Exact => "exact",
        MemoryMode::Off => "off",
    };
    command.extend([
        "--memory".into(),
        memory.into(),
        "--memory-interval".into(),
        args.memory_interval.to_string(),
    ]);
    for (on, flag) in [
        (args.sampling.idle, "--idle"),
        (args.sampling.gil, "--gil"),
        (args.sampling.quiet, "--quiet"),
    ] {
        if on {
            command.push(flag.into());
        }
    }
    command.push("--".into());
    command.extend(target);
    let signals = Signals::install()?;
    let mut child = launch::spawn_with(&command, |c| interpreter.prepare(c)).map_err(|e| {
        UserError::new(format!(
            "cannot run the interpreter `{python}`: {}",
            e.message
        ))
        .with_hint("pick one with `--python PATH`")
    })?;
    let mut forwarded = false;
    let exit = launch::ExitWatch::new(&child);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if signals.terminated.load(Ordering::Relaxed) && !forwarded {
            launch::forward_sigterm(&child);
            forwarded = true;
        }
        // A SIGTERM to snakescope ends the wait early (EINTR); at worst it is
        // passed on after this limit.
        exit.wait(Duration::from_millis(100));
    };
    drop(interpreter); // before mirroring a death by signal, which ends this process
    Ok(launch::mirror_exit(status))
}

/// `script args…`, `-m module args…` or `-c code args…` as the bootstrap takes them.
fn target_spec(args: &RunArgs) -> Result<Vec<String>, UserError> {
    let mut spec = match (&args.module, &args.code, args.args.first()) {
        (Some(m), _, _) => vec!["module".to_owned(), m.clone()],
        (_, Some(c), _) => vec!["code".to_owned(), c.clone()],
        (None, None, Some(script)) => {
            if !std::path::Path::new(script).exists() {
                return Err(UserError::new(format!("script `{script}` not found"))
                    .with_hint("give the path of a Python file, or use `-m module` / `-c code`"));
            }
            vec!["script".to_owned(), script.clone()]
        }
        (None, None, None) => {
            return Err(UserError::new("nothing to run")
                .with_hint("give a script, `-m module` or `-c code`: `snakescope run app.py`"))
        }
    };
    let rest = if spec[0] == "script" {
        &args.args[1..]
    } else {
        &args.args[..]
    };
    spec.extend(rest.iter().cloned());
    Ok(spec)
}

fn format_name(format: FormatArg) -> &'static str {
    match format {
        FormatArg::Flamegraph => "flamegraph",
        FormatArg::Speedscope => "speedscope",
        FormatArg::Collapsed => "collapsed",
        FormatArg::Json => "json",
        FormatArg::Text => "text",
        FormatArg::Html => "html",
        FormatArg::Pprof => "pprof",
        FormatArg::Chrome => "chrome",
        FormatArg::Timeline => "timeline",
    }
}
