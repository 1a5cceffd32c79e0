//! `snakescope run`: launch a Python program with the in-process agent.
//!
//! The interpreter is started as `python -m snakescope._run …`; the bootstrap
//! starts the agent's sampler inside it and then runs the program exactly as
//! `python` would (argv, `sys.path[0]`, `__main__`, exit status, tracebacks).
//! This command only passes the settings on and mirrors the child's exit.

mod handoff;

use super::interpreter::Interpreter;
use crate::args::{MemoryMode, RunArgs};
use crate::commands::output::{check_draws, check_output_path, output_format};
use crate::commands::top::live::{CaptureSource, Live};
use crate::commands::top::screen::{SortBy, Span, ViewState};
use crate::commands::top::tui;
use crate::commands::top::web::LiveWeb;
use crate::launch::{self, Signals};
use crate::UserError;
use snakescope_formats::{Format, Section};
use std::ffi::OsString;
use std::io::IsTerminal;
use std::process::ExitStatus;
use std::sync::atomic::Ordering;
use std::time::Duration;

pub fn run(args: RunArgs) -> anyhow::Result<u8> {
    let (status, interpreter) = run_status(args, |_| Ok(()))?;
    drop(interpreter); // before mirroring a death by signal, which ends this process
    Ok(launch::mirror_exit(status))
}

/// `run` until the program has ended: its exit status (not mirrored yet),
/// and the interpreter chosen (kept by the caller while it runs more of it:
/// it may lend the package from a directory removed when dropped).
/// `chosen` is called with it before the program starts (`advise` starts
/// its rules' process then; an error stops the run there).
pub(crate) fn run_status(
    mut args: RunArgs,
    chosen: impl FnOnce(&Interpreter) -> Result<(), UserError>,
) -> anyhow::Result<(ExitStatus, Interpreter)> {
    // The rate and the sort key were checked by clap (args.rs); the output
    // is checked now, since the program's interpreter writes it at its exit.
    let output = args.sampling.output.as_deref();
    if let Some(path) = output {
        check_output_path(path)?;
    }
    let format = run_format(&args)?;
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
    check_live(&args)?;
    // Checked (version, package) before anything runs; see interpreter.rs.
    let interpreter = Interpreter::choose(args.python.as_deref())?;
    let python = interpreter.python.clone();
    chosen(&interpreter)?;
    if interpreter.free_threaded && args.sampling.gil {
        return Err(UserError::new(format!(
            "`--gil` on free-threaded Python (`{python}`): there is no GIL to sample by"
        ))
        .with_hint("drop `--gil`, or pick a GIL build with `--python PATH`")
        .into());
    }
    // asyncio tasks: the interpreter is asked for its task layout while the
    // program starts (commands/tasks.rs); the agent reads the answer's file.
    let probing = (!args.no_async && !args.exact).then(|| {
        let path = temp_path("tasks");
        args.task_layout_file = Some(path.clone());
        super::tasks::probe_to_file(&python, path)
    });
    // --live, --live-web: the agent writes the capture so far to a file
    // every second, which this process shows (commands/top/).
    if args.live {
        args.messages_file = Some(temp_path("messages"));
    }
    // Child processes: sampled from outside (commands/children), merged
    // into the bootstrap's capture, which it then hands over (handoff.rs).
    if !args.no_subprocesses && !args.exact {
        args.handoff_file = Some(temp_path("handoff"));
    }
    let source = (args.live || args.live_web.is_some()).then(|| {
        let path = temp_path("live");
        args.live_snapshot_file = Some(path.clone());
        let no_objects = (args.memory == MemoryMode::Off).then_some(
            "object counts by type come with memory tracking, which is off (--memory off)",
        );
        CaptureSource::snapshots(path, no_objects)
    });
    let web = match (&args.live_web, &source) {
        (Some(addr), Some(source)) => {
            let web = LiveWeb::start(addr.as_deref(), source.clone(), super::record::LIVE_WINDOW)?;
            super::record::note(&format!("live page at {}", web.url));
            Some(web)
        }
        _ => None,
    };
    let command = bootstrap_command(&args, &python, format, target);
    let signals = Signals::install()?;
    let mut child = launch::spawn_with(&command, |c| {
        interpreter.prepare(c);
        if let Some(path) = &args.advise_operands {
            c.env(crate::run_settings::ADVISE_OPERANDS_ENV, path);
        }
    })
    .map_err(|e| {
        UserError::new(format!(
            "cannot run the interpreter `{python}`: {}",
            e.message
        ))
        .with_hint("pick one with `--python PATH`")
    })?;
    let children = args
        .handoff_file
        .as_deref()
        .map(|path| handoff::follow(child.id(), &args, path));
    if let (true, Some(source)) = (args.live, &source) {
        watch(&args, source.clone(), &mut child, &signals, web.as_ref())?;
    }
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
    if let (Some(children), Some(path)) = (children, &args.handoff_file) {
        handoff::finish(children, path, &args, format, child.id(), status);
    }
    if let Some(probing) = probing {
        probing.finish();
    }
    drop(web);
    if let Some(source) = source {
        source.remove_files();
    }
    if let Some(path) = &args.messages_file {
        // The bootstrap's messages at the end, held back while the view was up.
        if let Ok(text) = std::fs::read(path) {
            let _ = std::io::Write::write_all(&mut std::io::stderr(), &text);
        }
        let _ = std::fs::remove_file(path);
    }
    Ok((status, interpreter))
}

/// `--live` and `--live-web` show the sampled profile as it grows: not with
/// `--exact` (which shows its counts at the end); `--live` needs a terminal.
fn check_live(args: &RunArgs) -> Result<(), UserError> {
    let live = match (args.live, args.live_web.is_some()) {
        (true, _) => "--live",
        (false, true) => "--live-web",
        (false, false) => return Ok(()),
    };
    if args.exact {
        return Err(UserError::new(format!(
            "{live} shows the sampled profile as it grows; --exact counts calls and shows them at the end"
        ))
        .with_hint("drop one of them"));
    }
    let terminal = std::io::stdout().is_terminal() && std::io::stdin().is_terminal();
    if args.live && !terminal {
        return Err(
            UserError::new("`run --live` is a live view: it needs a terminal")
                .with_hint("for a live view from a script or over the network, use `--live-web`"),
        );
    }
    Ok(())
}

/// `--live`: the full-screen view (as `top`'s) of the captures the agent
/// writes, until the user quits (the program is then sent SIGINT if it
/// still runs) or quits after it ended.
fn watch(
    args: &RunArgs,
    source: CaptureSource,
    child: &mut std::process::Child,
    signals: &Signals,
    web: Option<&LiveWeb>,
) -> anyhow::Result<()> {
    let settings = snakescope_remote::SamplerSettings {
        rate_hz: args.sampling.rate,
        include_idle: args.sampling.idle,
        gil_only: args.sampling.gil,
        duration: None,
        opcodes: false,
        native: false,
    };
    let mut command: Vec<String> = match (&args.module, &args.code) {
        (Some(m), _) => vec!["-m".into(), m.clone()],
        (_, Some(_)) => vec!["-c".into(), "…".into()],
        _ => Vec::new(),
    };
    command.extend(args.args.iter().map(|a| a.to_string_lossy().into_owned()));
    let mut live = Live::follow(
        source,
        child.id(),
        settings,
        super::record::LIVE_WINDOW,
        command,
    )?;
    let mut output = tui::Output::new(None, child.id())?;
    let view = ViewState {
        sort: SortBy::Total,
        span: Span::Window,
        thread: None,
    };
    tui::run(
        &mut live,
        view,
        &mut output,
        Some(child),
        signals,
        web.map(|w| w.url.as_str()),
    )?;
    live.stop();
    Ok(())
}

/// A file name of our own for the task layout, in the temporary directory.
fn temp_path(what: &str) -> std::path::PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    std::env::temp_dir().join(format!(
        "snakescope-{what}-{}-{nanos}.json",
        std::process::id()
    ))
}

/// `python -m snakescope._run OPTIONS -- KIND TARGET ARGS…`: the bootstrap's
/// command line (its options: [`crate::run_settings`]).
fn bootstrap_command(
    args: &RunArgs,
    python: &str,
    format: Format,
    target: Vec<OsString>,
) -> Vec<OsString> {
    let mut command: Vec<OsString> = vec![python.into(), "-m".into(), "snakescope._run".into()];
    command.extend(crate::run_settings::bootstrap_options(args, format));
    command.push("--".into());
    command.extend(target);
    command
}

/// The format of the profile (named, else implied by the output's name,
/// else a flame graph; pstats with --exact), refused before anything runs
/// when it draws nothing the run records.
fn run_format(args: &RunArgs) -> Result<Format, UserError> {
    let output = args.sampling.output.as_deref();
    if args.sampling.native {
        return Err(UserError::new(
            "`run --native` is not available: stopping a thread to read its native stack \
             from inside the program would interrupt its system calls (EINTR)",
        )
        .with_hint("record from outside instead: `snakescope record --native -- python3 app.py`"));
    }
    if args.exact && args.sampling.opcodes {
        return Err(
            UserError::new("--opcodes counts samples, and an --exact run takes none")
                .with_hint("drop --exact to sample with --opcodes"),
        );
    }
    if args.exact {
        let format = output_format(output, args.sampling.format, Format::Pstats)?;
        check_draws(format, &[Section::Exact], "an --exact run")?;
        return Ok(format);
    }
    let format = output_format(output, args.sampling.format, Format::Flamegraph)?;
    let held: &[Section] = match args.memory {
        MemoryMode::Off => &[Section::Samples],
        MemoryMode::Sampled | MemoryMode::Exact => &[Section::Samples, Section::Memory],
    };
    check_draws(format, held, "a sampling run")?;
    Ok(format)
}

/// `script args…`, `-m module args…` or `-c code args…` as the bootstrap takes them.
fn target_spec(args: &RunArgs) -> Result<Vec<OsString>, UserError> {
    let mut spec: Vec<OsString> = match (&args.module, &args.code, args.args.first()) {
        (Some(m), _, _) => vec!["module".into(), m.into()],
        (_, Some(c), _) => vec!["code".into(), c.into()],
        (None, None, Some(script)) => {
            if !std::path::Path::new(script).exists() {
                if let Some(habit) = crate::habits::recognise_option(script) {
                    return Err(habit); // `run --html app.py`
                }
                return Err(UserError::new(format!(
                    "script `{}` not found",
                    launch::shown(script)
                ))
                .with_hint("give the path of a Python file, or use `-m module` / `-c code`"));
            }
            vec!["script".into(), script.clone()]
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
