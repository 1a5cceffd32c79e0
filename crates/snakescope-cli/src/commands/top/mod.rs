//! `snakescope top`: a live view of a running Python program (`--pid`) or
//! of a command it starts: the functions by self and total share over the
//! last seconds and since the start, the threads, the sampling rate
//! achieved. Full-screen in a terminal (`tui.rs`), or one frame as text with
//! `--once` (for scripts).

mod follow;
mod heap;
pub(crate) mod live;
pub(crate) mod screen;
pub(crate) mod tui;
pub(crate) mod web;

use crate::args::TopArgs;
use crate::commands::{attach_error, record};
use crate::launch::{self, Signals};
use crate::UserError;
use live::Live;
use screen::{Screen, SortBy, Span, ViewState};
use snakescope_remote::{SamplerSettings, Target};
use std::io::IsTerminal;
use std::process::Child;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How long `--once` samples when `--duration` is not given.
const ONCE_DEFAULT: Duration = Duration::from_secs(2);
/// Functions `--once` prints when `-n` is not given.
const ONCE_ROWS: usize = 20;

pub fn run(args: TopArgs) -> anyhow::Result<u8> {
    let terminal = std::io::stdout().is_terminal() && std::io::stdin().is_terminal();
    if !args.once && !terminal {
        return Err(
            UserError::new("`snakescope top` is a live view: it needs a terminal")
                .with_hint(
                    "for scripts, print one frame as text: `snakescope top --once --pid PID`, \
                 or the stacks now: `snakescope dump --pid PID`",
                )
                .into(),
        );
    }
    let settings = SamplerSettings {
        rate_hz: args.rate,
        include_idle: args.idle,
        gil_only: args.gil,
        duration: None,
        opcodes: false,
        native: false,
    };
    let signals = Signals::install()?;
    match (args.pid, args.command.is_empty()) {
        (Some(pid), _) => {
            let target = Target::attach(pid)
                .and_then(|t| record::check_target_with(t, settings.gil_only, false))
                .map_err(attach_error)?;
            let live = Live::start(target, settings, args.window, Vec::new())?;
            show(live, &args, None, &signals)
        }
        (None, false) => {
            let mut child = launch::spawn(&args.command)?;
            let target = match start_target(&mut child, &args.command, &signals, settings.gil_only)? {
                Ok(target) => target,
                Err(code) => return Ok(code),
            };
            let command = launch::recorded(&args.command);
            let live = Live::start(target, settings, args.window, command)?;
            show(live, &args, Some(child), &signals)
        }
        (None, true) => Err(UserError::new("nothing to show")
            .with_hint("give a running process with `--pid PID`, or a command after `--`: `snakescope top -- python3 app.py`")
            .into()),
    }
}

/// Shows the live session until the user quits (or, with `--once`, prints
/// one frame); then waits for a command it started and ends as it did.
fn show(
    mut live: Live,
    args: &TopArgs,
    mut child: Option<Child>,
    signals: &Signals,
) -> anyhow::Result<u8> {
    let web = match &args.live_web {
        Some(addr) => {
            let web = web::LiveWeb::start(addr.as_deref(), live.source.clone(), live.window)?;
            crate::stderr_line(format_args!("snakescope: live page at {}", web.url));
            Some(web)
        }
        None => None,
    };
    let view = ViewState {
        sort: SortBy::Total,
        span: Span::Window,
        thread: None,
    };
    if args.once {
        let until = Instant::now() + args.duration.unwrap_or(ONCE_DEFAULT);
        let interrupted = || {
            signals.interrupted.load(Ordering::Relaxed)
                || signals.terminated.load(Ordering::Relaxed)
        };
        while Instant::now() < until && !live.finished() && !interrupted() {
            std::thread::sleep(Duration::from_millis(20));
        }
        live.stop();
        let text = Screen::read(&live, view).text(args.top.unwrap_or(ONCE_ROWS));
        crate::to_stdout(|out| std::io::Write::write_all(out, text.as_bytes()))?;
    } else {
        let mut output = tui::Output::new(args.output.clone(), live.pid)?;
        let url = web.as_ref().map(|w| w.url.as_str());
        tui::run(&mut live, view, &mut output, child.as_mut(), signals, url)?;
        live.stop();
    }
    drop(web);
    match child {
        Some(mut child) => {
            let status = child.wait()?;
            Ok(launch::mirror_exit(status))
        }
        None => Ok(0),
    }
}

/// Whether `pid` is still a live process (not gone, not a zombie).
pub(crate) fn process_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

/// Sends SIGINT to a command `top` started (quitting the view in raw mode,
/// where the terminal sends none): as Ctrl-C would have without snakescope.
pub(crate) fn interrupt(pid: u32) {
    // SAFETY: kill(2) with a pid we spawned and a valid signal number has no
    // memory-safety preconditions.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGINT);
    }
}

/// The interpreter of a command just started, or (when there is none to
/// show: it ended first, it is not Python, it cannot be read) the exit
/// status to end with, once the command has run its course.
fn start_target(
    child: &mut Child,
    command: &[std::ffi::OsString],
    signals: &Signals,
    gil_only: bool,
) -> anyhow::Result<Result<Target, u8>> {
    let mut last_exe = None;
    let target = match record::wait_for_interpreter(child, signals, &mut last_exe) {
        Ok(Some(target)) => target,
        Ok(None) => {
            if let Some(program) = record::not_python(command, last_exe) {
                return record::fail_not_python(child, command, &program).map(Err);
            }
            let status = child.wait()?;
            record::note(&format!(
                "`{}` ended before a Python interpreter could be sampled",
                record::command_line(command)
            ));
            return Ok(Err(launch::mirror_exit(status)));
        }
        Err(err) => return record::fail_and_wait(child, err).map(Err),
    };
    match record::check_target_with(target, gil_only, false) {
        Ok(target) => Ok(Ok(target)),
        Err(err) => record::fail_and_wait(child, err).map(Err),
    }
}
