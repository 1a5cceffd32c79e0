//! `snakescope record`: out-of-process sampling of a launched command or a running pid.

use crate::args::RecordArgs;
use crate::commands::{attach_error, format_of};
use crate::launch::{self, Signals};
use crate::UserError;
use snakescope_formats::{Format, FormatError};
use snakescope_model::{Capture, CaptureBuilder, Meta};
use snakescope_remote::{AttachError, Target};
use snakescope_remote::{Sampler, SamplerSettings};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Highest rate accepted; beyond it a sample cannot even be read in one period.
const MAX_RATE_HZ: f64 = 1_000_000.0;
/// How long a launched target may keep running after Ctrl-C before snakescope
/// stops sampling anyway (the terminal sent SIGINT to both; the target usually
/// exits well within this).
const INTERRUPT_GRACE: Duration = Duration::from_secs(1);

/// `record`'s arguments, checked.
struct Settings {
    sampler: SamplerSettings,
    output: Option<PathBuf>,
    format: Option<Format>,
    quiet: bool,
}

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
    if !(args.sampling.rate > 0.0 && args.sampling.rate <= MAX_RATE_HZ) {
        return Err(UserError::new(format!(
            "sampling rate `{}` is out of range",
            args.sampling.rate
        ))
        .with_hint(format!("use a rate between 1 and {MAX_RATE_HZ} Hz")));
    }
    let duration = match args.duration {
        Some(d) if !(d > 0.0 && d.is_finite()) => {
            return Err(UserError::new(format!(
                "duration `{d}` must be a positive number of seconds"
            )))
        }
        d => d.map(Duration::from_secs_f64),
    };
    let format = match (args.sampling.format, &args.sampling.output) {
        (Some(f), _) => Some(format_of(f)),
        (None, Some(path)) => Some(Format::from_path(path).ok_or_else(|| {
            UserError::new(format!(
                "cannot tell the output format from `{}`",
                path.display()
            ))
            .with_hint("use a .svg, .html, .json, .speedscope.json or .txt name, or pass --format")
        })?),
        (None, None) => None,
    };
    Ok(Settings {
        sampler: SamplerSettings {
            rate_hz: args.sampling.rate,
            include_idle: args.sampling.idle,
            gil_only: args.sampling.gil,
            duration,
        },
        output: args.sampling.output.clone(),
        format,
        quiet: args.sampling.quiet,
    })
}

fn record_pid(pid: u32, settings: &Settings) -> anyhow::Result<u8> {
    let target = Target::attach(pid)
        .and_then(|t| check_target(t, settings))
        .map_err(attach_error)?;
    let signals = Signals::install()?;
    let started = unix_now();
    let mut sampler = Sampler::new(target, settings.sampler);
    let never = AtomicBool::new(false);
    let (_, elapsed) = sampler.run(&never, || {
        !signals.interrupted.load(Ordering::Relaxed)
            && !signals.terminated.load(Ordering::Relaxed)
            && process_alive(pid)
    });
    let capture = sampler.finish(elapsed, started);
    write_outputs(capture, settings, pid)?;
    Ok(0)
}

fn record_command(command: &[String], settings: &Settings) -> anyhow::Result<u8> {
    let signals = Signals::install()?;
    let mut child = launch::spawn(command)?;
    let pid = child.id();
    let target = match wait_for_interpreter(&mut child, &signals) {
        Ok(Some(target)) => target,
        Ok(None) => return finish_without_profile(&mut child, command, settings),
        Err(err) => return fail_and_wait(&mut child, err),
    };
    let target = match check_target(target, settings) {
        Ok(target) => target,
        Err(err) => return fail_and_wait(&mut child, err),
    };
    let started = unix_now();
    let mut sampler = Sampler::new(target, settings.sampler);
    let never = AtomicBool::new(false);
    let mut interrupted_at: Option<Instant> = None;
    let mut forwarded_term = false;
    let (_, elapsed) = sampler.run(&never, || {
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
    let mut capture = sampler.finish(elapsed, started);
    capture.meta.command = command.to_vec();
    let status = child.wait()?;
    capture.meta.exit_code = Some(launch::status_code(status));
    // The only child snakescope waited for is the target.
    capture
        .meta
        .set_usage(snakescope_remote::usage(libc::RUSAGE_CHILDREN));
    write_outputs(capture, settings, pid)?;
    Ok(launch::mirror_exit(status))
}

/// Refuses what the interpreter cannot give (`--gil` without a GIL), and
/// notes a version newer than those snakescope was tested with.
fn check_target(target: Target, settings: &Settings) -> Result<Target, AttachError> {
    if settings.sampler.gil_only {
        target.require_gil()?;
    }
    if !target.tested() && !settings.quiet {
        note(&untested_note(&target));
    }
    if let Some(line) = target.reader_note().filter(|_| !settings.quiet) {
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
/// (it may be a wrapper script that `exec`s one). `None` when it exits first.
fn wait_for_interpreter(
    child: &mut Child,
    signals: &Signals,
) -> Result<Option<Target>, AttachError> {
    let start = Instant::now();
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
    command: &[String],
    settings: &Settings,
) -> anyhow::Result<u8> {
    let status = child.wait()?;
    note(&format!(
        "`{}` ended before a Python interpreter could be sampled",
        command.join(" ")
    ));
    let meta = Meta {
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        mode: "record".to_owned(),
        command: command.to_vec(),
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

/// Reports why the target cannot be profiled, lets it finish undisturbed, and fails.
fn fail_and_wait(child: &mut Child, err: AttachError) -> anyhow::Result<u8> {
    let user = attach_error(err);
    crate::report_user_error(&user);
    child.wait()?;
    Ok(2)
}

fn write_outputs(capture: Capture, settings: &Settings, pid: u32) -> anyhow::Result<()> {
    let format = settings.format.unwrap_or(Format::Flamegraph);
    let path = settings
        .output
        .clone()
        .unwrap_or_else(|| default_output(pid, format));
    if capture.total_samples() == 0 && format != Format::Json {
        note(&format!(
            "no samples were recorded (no thread was {} while sampled); no {} written",
            if settings.sampler.gil_only {
                "holding the GIL"
            } else {
                "running Python code"
            },
            path.display()
        ));
        return Ok(());
    }
    let mut rendered = Vec::new();
    snakescope_formats::write(&capture, format, &mut rendered)
        .map_err(|e| output_error(e, &path))?;
    std::fs::write(&path, rendered)
        .map_err(|e| UserError::new(format!("cannot write `{}`: {e}", path.display())))?;
    if !settings.quiet {
        let mut err = std::io::stderr().lock();
        let color = std::io::stderr().is_terminal();
        snakescope_formats::write_summary(&capture, &mut err, color)
            .map_err(|e| output_error(e, &path))?;
        writeln!(err, "wrote {} ({})", path.display(), format.name())?;
    }
    Ok(())
}

fn output_error(e: FormatError, path: &std::path::Path) -> UserError {
    UserError::new(format!("cannot write `{}`: {e}", path.display()))
}

fn default_output(pid: u32, format: Format) -> PathBuf {
    let ext = match format {
        Format::Flamegraph => "svg",
        Format::Speedscope => "speedscope.json",
        Format::Json => "json",
        Format::Collapsed | Format::Text => "txt",
        Format::Html => "html",
        Format::Pprof => "pb.gz",
        Format::Chrome => "trace.json",
        Format::Timeline => "timeline.svg",
    };
    PathBuf::from(format!("snakescope-{pid}.{ext}"))
}

#[allow(clippy::print_stderr)]
fn note(message: &str) {
    eprintln!("snakescope: {message}");
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
