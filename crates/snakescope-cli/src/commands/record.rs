//! `snakescope record`: out-of-process sampling of a launched command or a running pid.

use crate::args::RecordArgs;
use crate::commands::feedback::{Counting, Feedback};
use crate::commands::output::{check_draws, check_output_path, output_format};
use crate::commands::stat::{counters, figures};
use crate::commands::top::live::CaptureSource;
use crate::commands::top::web::LiveWeb;
use crate::commands::{attach_error, children, dis, tasks};
use crate::launch::{self, Signals};
use crate::UserError;
use snakescope_formats::{Format, Section};
use snakescope_model::SharedBuilder;
use snakescope_model::{Capture, CaptureBuilder, Meta, SampleSink};
use snakescope_remote::{AttachError, Target};
use snakescope_remote::{NoHooks, Sampler, SamplerSettings};
use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a launched target may keep running after Ctrl-C before snakescope
/// stops sampling anyway (the terminal sent SIGINT to both; the target usually
/// exits well within this).
const INTERRUPT_GRACE: Duration = Duration::from_secs(1);

/// `record`'s arguments, checked.
struct Settings {
    sampler: SamplerSettings,
    output: Option<PathBuf>,
    format: Format,
    quiet: bool,
    /// `--stat`: the command's figures as `snakescope stat` measures them.
    stat: bool,
    /// `--subprocesses`: the descendants are sampled too.
    subprocesses: bool,
    /// `--live-web [ADDR]`: the live page's address (`None` inside: the default).
    live_web: Option<Option<String>>,
    /// `--async`: follow asyncio's tasks.
    async_tasks: bool,
}

/// The live page's "last seconds" (`--live-web`; `top --window` sets its own).
pub(crate) const LIVE_WINDOW: Duration = Duration::from_secs(10);

/// What `record --stat` measures.
const STAT_SCOPE: &str = "the command and every process it started, from launch to exit \
                          (snakescope's sampler is not counted)";

pub fn run(args: RecordArgs) -> anyhow::Result<u8> {
    let settings = resolve(&args)?;
    match (args.pid, args.command.is_empty()) {
        (Some(pid), _) => record_pid(pid, &settings),
        (None, false) => record_command(&args.command, &settings),
        (None, true) => Err(UserError::new("nothing to record")
            .with_hint("give a running process with `--pid PID`, or a command after `--`: `snakescope record -- python3 app.py`")
            .into()),
    }
}

fn resolve(args: &RecordArgs) -> Result<Settings, UserError> {
    // The rate and the duration were checked by clap (args.rs).
    let output = args.sampling.output.as_deref();
    if let Some(path) = output {
        check_output_path(path)?;
    }
    let format = output_format(output, args.sampling.format, Format::Flamegraph)?;
    check_draws(format, &[Section::Samples], "a recording")?;
    if args.sampling.stat && args.pid.is_some() {
        return Err(UserError::new(
            "`--stat` measures a command from its start: it cannot with `--pid`",
        )
        .with_hint(
            "start the program under snakescope: `snakescope record --stat -- python3 app.py`",
        ));
    }
    Ok(Settings {
        sampler: SamplerSettings {
            rate_hz: args.sampling.rate,
            include_idle: args.sampling.idle,
            gil_only: args.sampling.gil,
            duration: args.duration,
            opcodes: args.sampling.opcodes,
            native: args.sampling.native,
        },
        output: args.sampling.output.clone(),
        format,
        quiet: args.sampling.quiet,
        stat: args.sampling.stat,
        subprocesses: args.subprocesses,
        live_web: args.live_web.clone(),
        async_tasks: args.async_tasks,
    })
}

fn record_pid(pid: u32, settings: &Settings) -> anyhow::Result<u8> {
    let target = Target::attach(pid)
        .and_then(|t| check_target(t, settings))
        .map_err(attach_error)?;
    let signals = Signals::install()?;
    let started = unix_now();
    let feedback = Feedback::start(
        settings.quiet,
        &banner(&format!("pid {pid}"), settings, pid),
    );
    let python = opcode_python(settings, pid);
    let children = follow_children(settings, pid);
    // Read now: the process may be gone when the recording ends.
    let command = children.as_ref().map(|_| children::command_line(pid));
    let version = target.version.to_string();
    let mut sampler = Sampler::new(target, settings.sampler, NoHooks);
    let asking = tasks::follow(settings.async_tasks, &mut sampler, pid, version);
    let shared = SharedBuilder::default();
    let web = serve_live(settings, &shared, &mut sampler, started)?;
    let mut sink = counting(shared.clone(), feedback.as_ref());
    let never = AtomicBool::new(false);
    let elapsed = sampler.run(&mut sink, &never, || {
        feedback.iter().for_each(Feedback::tick);
        !signals.interrupted.load(Ordering::Relaxed)
            && !signals.terminated.load(Ordering::Relaxed)
            && process_alive(pid)
    });
    feedback.iter().for_each(Feedback::finish);
    drop(web);
    native_note(&sampler, settings);
    let mut capture = sink.inner.take().finish(sampler.meta(elapsed, started));
    if let Some(children) = children {
        capture.meta.command = command.unwrap_or_default();
        children.finish(&mut capture, None);
    }
    dis::add_recorded(
        &mut capture,
        sampler.take_opcodes(),
        python.as_ref(),
        settings.quiet,
    );
    tasks::add_recorded(&mut capture, asking, sampler.take_tasks(), settings.quiet);
    write_outputs(capture, settings, pid)?;
    Ok(0)
}

fn record_command(command: &[OsString], settings: &Settings) -> anyhow::Result<u8> {
    let signals = Signals::install()?;
    let (mut child, counted) = if settings.stat {
        let (child, counted) = counters::spawn_counted(command)?;
        (child, Some(counted))
    } else {
        (launch::spawn(command)?, None)
    };
    let launched = Instant::now();
    let pid = child.id();
    let mut last_exe = None;
    let target = match wait_for_interpreter(&mut child, &signals, &mut last_exe) {
        Ok(Some(target)) => target,
        Ok(None) if signals.terminated.load(Ordering::Relaxed) => {
            return finish_without_profile(&mut child, command, settings)
        }
        Ok(None) => {
            return match not_python(command, last_exe) {
                Some(program) => fail_not_python(&mut child, command, &program),
                None => finish_without_profile(&mut child, command, settings),
            };
        }
        Err(err) => return fail_and_wait(&mut child, err),
    };
    let target = match check_target(target, settings) {
        Ok(target) => target,
        Err(err) => return fail_and_wait(&mut child, err),
    };
    let started = unix_now();
    let what = format!("`{}` (pid {pid})", command_line(command));
    let feedback = Feedback::start(settings.quiet, &banner(&what, settings, pid));
    let python = opcode_python(settings, pid);
    let children = follow_children(settings, pid);
    let version = target.version.to_string();
    let mut sampler = Sampler::new(target, settings.sampler, NoHooks);
    let asking = tasks::follow(settings.async_tasks, &mut sampler, pid, version);
    let shared = SharedBuilder::default();
    let web = serve_live(settings, &shared, &mut sampler, started)?;
    let mut sink = counting(shared.clone(), feedback.as_ref());
    let never = AtomicBool::new(false);
    let mut interrupted_at: Option<Instant> = None;
    let mut forwarded_term = false;
    let elapsed = sampler.run(&mut sink, &never, || {
        feedback.iter().for_each(Feedback::tick);
        if signals.terminated.load(Ordering::Relaxed) && !forwarded_term {
            launch::forward_sigterm(&child);
            forwarded_term = true;
        }
        if signals.interrupted.load(Ordering::Relaxed) {
            let at = *interrupted_at.get_or_insert_with(Instant::now);
            if at.elapsed() > INTERRUPT_GRACE {
                return false;
            }
        }
        matches!(child.try_wait(), Ok(None))
    });
    feedback.iter().for_each(Feedback::finish);
    drop(web);
    native_note(&sampler, settings);
    let mut builder = sink.inner.take();
    builder.name_process(pid, launch::recorded(command));
    let mut capture = builder.finish(sampler.meta(elapsed, started));
    let status = child.wait()?;
    capture.meta.wall_s = Some(launched.elapsed().as_secs_f64());
    capture.meta.exit_code = Some(launch::status_code(status));
    if let Some(children) = children {
        let exit_code = capture.meta.exit_code;
        children.finish(&mut capture, exit_code);
    }
    // The only child snakescope waited for is the target.
    capture
        .meta
        .set_usage(snakescope_remote::usage(libc::RUSAGE_CHILDREN));
    if let Some(counted) = counted {
        let measured = figures::Measured {
            wall_s: launched.elapsed().as_secs_f64(),
            usage: snakescope_remote::rusage(libc::RUSAGE_CHILDREN),
            counters: counted.finish(),
        };
        capture.stat = Some(figures::section(&measured, STAT_SCOPE));
    }
    // After the wall time and the stat figures: asking the interpreter is not the program's time.
    dis::add_recorded(
        &mut capture,
        sampler.take_opcodes(),
        python.as_ref(),
        settings.quiet,
    );
    tasks::add_recorded(&mut capture, asking, sampler.take_tasks(), settings.quiet);
    write_outputs(capture, settings, pid)?;
    Ok(launch::mirror_exit(status))
}

/// Refuses what the interpreter cannot give (`--gil` without a GIL), and
/// notes a version newer than those snakescope was tested with.
fn check_target(target: Target, settings: &Settings) -> Result<Target, AttachError> {
    let target = check_target_with(target, settings.sampler.gil_only, settings.quiet)?;
    if settings.sampler.native {
        target.require_native()?;
    }
    Ok(target)
}

/// [`check_target`] for `top` too.
pub(crate) fn check_target_with(
    target: Target,
    gil_only: bool,
    quiet: bool,
) -> Result<Target, AttachError> {
    if gil_only {
        target.require_gil()?;
    }
    if !target.tested() && !quiet {
        note(&untested_note(&target));
    }
    if let Some(line) = target.reader_note().filter(|_| !quiet) {
        note(line);
    }
    Ok(target)
}

/// The note for a version read with the newest known layout.
pub(crate) fn untested_note(target: &Target) -> String {
    format!(
        "Python {} is newer than the versions snakescope was tested with (up to 3.{}); \
         its debug offsets passed every check, so it is read with the 3.{} layout",
        target.version,
        snakescope_layouts::newest_known_minor(),
        snakescope_layouts::newest_known_minor(),
    )
}

/// Polls a freshly started command until it has mapped a Python interpreter
/// (it may be a wrapper script that `exec`s one). `None` when it exits first;
/// `last_exe` is then the program it was last seen running (after its `exec`).
pub(crate) fn wait_for_interpreter(
    child: &mut Child,
    signals: &Signals,
    last_exe: &mut Option<PathBuf>,
) -> Result<Option<Target>, AttachError> {
    let start = Instant::now();
    let own_exe = std::env::current_exe().ok();
    loop {
        if !matches!(child.try_wait(), Ok(None)) || signals.terminated.load(Ordering::Relaxed) {
            return Ok(None);
        }
        match Target::attach(child.id()) {
            Ok(target) => return Ok(Some(target)),
            // Whatever went wrong, a child that has exited was simply quick.
            Err(_) if !matches!(child.try_wait(), Ok(None)) => return Ok(None),
            Err(e) if e.may_be_transient() => {}
            Err(e) => return Err(e),
        }
        let exe = std::fs::read_link(format!("/proc/{}/exe", child.id())).ok();
        if exe.is_some() && exe != own_exe {
            *last_exe = exe;
        }
        // Poll fast while the interpreter is starting, then back off.
        let pause = if start.elapsed() < Duration::from_millis(200) {
            1
        } else {
            20
        };
        std::thread::sleep(Duration::from_millis(pause));
    }
}

/// The command ended before an interpreter could be found in it: an empty
/// capture (with its exit status) is still written when JSON was asked for.
fn finish_without_profile(
    child: &mut Child,
    command: &[OsString],
    settings: &Settings,
) -> anyhow::Result<u8> {
    let status = child.wait()?;
    note(&format!(
        "`{}` ended before a Python interpreter could be sampled",
        command_line(command)
    ));
    let meta = Meta {
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        mode: "record".to_owned(),
        command: launch::recorded(command),
        pid: Some(child.id()),
        requested_rate_hz: settings.sampler.rate_hz,
        started_unix_s: unix_now(),
        include_idle: settings.sampler.include_idle,
        gil_only: settings.sampler.gil_only,
        exit_code: Some(launch::status_code(status)),
        ..Meta::default()
    };
    write_outputs(CaptureBuilder::new().finish(meta), settings, child.id())?;
    Ok(launch::mirror_exit(status))
}

/// For a command that ended before an interpreter was found: the program
/// it ran, when neither that (as last seen) nor the command's own file can
/// be Python. `None` (a Python program that was quick) whenever either may be.
pub(crate) fn not_python(command: &[OsString], last_exe: Option<PathBuf>) -> Option<PathBuf> {
    let files = [launch::resolve(&command[0]), last_exe];
    let mut seen = files.into_iter().flatten().peekable();
    seen.peek()?;
    let files: Vec<PathBuf> = seen.collect();
    if files.iter().any(|f| snakescope_remote::may_run_python(f)) {
        return None;
    }
    files.into_iter().last()
}

/// The command ended, and what it ran was not Python (`sleep 2`, a shell
/// script that starts Python as a child instead of `exec`ing it): nothing
/// could have been sampled, which is an error, not an empty profile. The
/// program ran to its end undisturbed; no output is written.
pub(crate) fn fail_not_python(
    child: &mut Child,
    command: &[OsString],
    program: &Path,
) -> anyhow::Result<u8> {
    child.wait()?;
    let user = UserError::new(format!(
        "`{}` ran no Python interpreter: `{}` is not Python",
        command_line(command),
        launch::shown(program.as_os_str())
    ))
    .with_hint(
        "record samples the process it starts, which must be Python or exec it: \
         `snakescope record -- python3 app.py`",
    );
    crate::report_user_error(&user);
    Ok(2)
}

/// Reports why the target cannot be profiled, lets it finish undisturbed, and fails.
pub(crate) fn fail_and_wait(child: &mut Child, err: AttachError) -> anyhow::Result<u8> {
    let user = attach_error(err);
    crate::report_user_error(&user);
    child.wait()?;
    Ok(2)
}

fn write_outputs(capture: Capture, settings: &Settings, pid: u32) -> anyhow::Result<()> {
    let path = settings
        .output
        .clone()
        .unwrap_or_else(|| settings.format.default_file_name(pid).into());
    let out = crate::write_profile::ProfileOutput {
        path: &path,
        format: settings.format,
        quiet: settings.quiet,
        summary: true,
        color: std::io::stderr().is_terminal(),
        empty_because: if settings.sampler.gil_only {
            "no thread was holding the GIL while sampled"
        } else {
            "no thread was running Python code while sampled"
        },
    };
    crate::write_profile::write_profile(&capture, &out)?;
    Ok(())
}

/// The banner of a recording on a terminal: what, how, and how it ends.
fn banner(what: &str, settings: &Settings, pid: u32) -> String {
    let s = &settings.sampler;
    let counts = match (s.include_idle, s.gil_only) {
        (_, true) => "the GIL holder",
        (true, false) => "wall time (--idle)",
        (false, false) => "CPU time",
    };
    let path = settings
        .output
        .clone()
        .unwrap_or_else(|| settings.format.default_file_name(pid).into());
    let end = match s.duration {
        Some(d) => format!(
            "for {:.3} s or until it ends (Ctrl-C stops sooner)",
            d.as_secs_f64()
        ),
        None => "until it ends (Ctrl-C to stop)".to_owned(),
    };
    format!(
        "snakescope: recording {what} at {} Hz, {counts}, {end}, then writing {}",
        s.rate_hz,
        path.display()
    )
}

/// The capture builder, counting samples for the progress line when there is one.
fn counting(builder: SharedBuilder, feedback: Option<&Feedback>) -> Counting<'_, SharedBuilder> {
    Counting {
        inner: builder,
        count: feedback.map(|f| &f.samples),
    }
}

/// With `--live-web`: the live page, served while sampling (as `top`'s).
fn serve_live(
    settings: &Settings,
    shared: &SharedBuilder,
    sampler: &mut Sampler,
    started: f64,
) -> anyhow::Result<Option<LiveWeb>> {
    let Some(addr) = &settings.live_web else {
        return Ok(None);
    };
    let meta = sampler.meta(Duration::ZERO, started);
    let source = CaptureSource::new(shared, sampler.publish_ticks(), meta);
    let web = LiveWeb::start(addr.as_deref(), source, LIVE_WINDOW)?;
    note(&format!("live page at {}", web.url));
    Ok(Some(web))
}

/// The command as messages show it.
pub(crate) fn command_line(command: &[OsString]) -> String {
    let shown: Vec<String> = command.iter().map(|a| launch::shown(a)).collect();
    shown.join(" ")
}

/// With `--opcodes`: the target's executable, read while it runs (the
/// interpreter asked for its opcode table at the end).
fn opcode_python(settings: &Settings, pid: u32) -> Option<dis::table::Executable> {
    settings
        .sampler
        .opcodes
        .then(|| dis::table::executable_of(pid))
        .flatten()
}

/// With `--subprocesses`: starts following `pid`'s descendants.
fn follow_children(settings: &Settings, pid: u32) -> Option<children::Children> {
    settings
        .subprocesses
        .then(|| children::Children::follow(pid, settings.sampler))
}

/// With `--native`: how long the threads were stopped, so the cost is seen.
fn native_note(sampler: &Sampler, settings: &Settings) {
    let Some((stats, unpaired)) = sampler.native_stats().filter(|_| !settings.quiet) else {
        return;
    };
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    let share = |d: Duration| 100.0 * d.as_secs_f64() / stats.total().as_secs_f64().max(1e-9);
    note(&format!(
        "--native stopped a thread {} times, for {:.0} µs on average (longest {:.0} µs), \
         {:.0} % of it stopping the thread, {:.0} % reading, {:.0} % letting it go; \
         {unpaired} stacks kept their Python frames unmerged",
        stats.pauses,
        micros(stats.mean()),
        micros(stats.longest),
        share(stats.stopping),
        share(stats.reading),
        share(stats.releasing),
    ));
}

pub(crate) fn note(message: &str) {
    crate::stderr_line(format_args!("snakescope: {message}"));
}

fn process_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}/stat")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
