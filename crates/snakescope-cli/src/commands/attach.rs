//! `snakescope attach`: the in-process agent in a running CPython for a
//! while, then out again.
//!
//! The target is found and checked as `record --pid` does; the session's
//! files go where the target reads them ([`super::attach_session`]); one line
//! of Python is handed to the interpreter's main thread through a ptrace
//! call injection (`snakescope_remote::run_python_soon`); the agent
//! (`snakescope._attach`) profiles for `--duration` seconds, stops, writes
//! its capture and ends; this command waits for that capture and writes it
//! in the format asked, as `record` writes its own.

use super::attach_session::{AgentSettings, Session};
use super::capture_file::read_capture;
use super::dis;
use super::interpreter::installed_package;
use super::output::output_format;
use crate::args::{AttachArgs, MemoryMode};
use crate::commands::attach_error;
use crate::UserError;
use snakescope_formats::Format;
use snakescope_remote::{run_python_soon, InjectError, Target};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Every refusal names this way on.
const FALLBACK: &str =
    "`snakescope record --pid PID` samples it from outside without loading anything into it";

/// How long the agent may take, beyond `--duration`, to start and write.
const GRACE: Duration = Duration::from_secs(30);

pub fn run(args: &AttachArgs) -> anyhow::Result<u8> {
    let pid = args.pid;
    let default = if args.exact {
        Format::Pstats
    } else {
        Format::Flamegraph
    };
    let format = output_format(Some(&args.output), args.format, default)?;
    let target = Target::attach(pid).map_err(|e| {
        let hint = e.hint();
        let user = attach_error(e);
        match hint {
            Some(_) => user,
            None => user.with_hint(FALLBACK),
        }
    })?;
    let version = target.version;
    refuse_opted_out(pid, (version.major, version.minor))?;
    let package = package()?;
    let mut settings = agent_settings(args);
    let session = Session::create(pid).map_err(|e| {
        UserError::new(format!(
            "cannot make a directory in process {pid}'s /tmp: {e}"
        ))
        .with_hint(FALLBACK)
    })?;
    let code = session
        .write(pid, &package, &mut settings)
        .map_err(|e| UserError::new(format!("cannot prepare the attach: {e}")))?;
    let how = hand_over(
        pid,
        &target.binary,
        (version.major, version.minor),
        &session,
        &code,
    )?;
    wait_for(pid, &session, GRACE, Session::started)?;
    if !args.quiet {
        crate::stderr_line(format_args!(
            "snakescope: attached to pid {pid} (Python {version}; {how}), profiling for {:.3} s",
            args.duration.as_secs_f64()
        ));
    }
    wait_for(pid, &session, args.duration + GRACE, |s| {
        s.capture().is_file()
    })?;
    let path = session.capture();
    let mut capture = read_capture(&path, "the agent's capture")?;
    capture.meta.mode = "attach".to_owned();
    capture.meta.command = command_of(pid);
    drop(session);
    let out = crate::write_profile::ProfileOutput {
        path: &args.output,
        format,
        quiet: args.quiet,
        summary: !args.exact,
        color: std::io::stderr().is_terminal(),
        empty_because: "no thread was running Python code while sampled",
    };
    crate::write_profile::write_profile(&capture, &out)?;
    Ok(0)
}

/// Hands the agent's line to the target: through PEP 768's
/// `sys.remote_exec`, run by the target's own interpreter in the target's
/// root, on 3.14+ (an embedded interpreter, whose executable is not a
/// `python`, excepted); through a ptrace call injection before. Returns
/// how, for the banner.
fn hand_over(
    pid: u32,
    interpreter: &std::path::Path,
    version: (u8, u8),
    session: &Session,
    code: &str,
) -> Result<String, UserError> {
    let python = (version >= (3, 14))
        .then(|| dis::table::executable_of(pid))
        .flatten()
        .filter(|p| {
            p.path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("python"))
        });
    let Some(python) = python else {
        let injected = run_python_soon(pid, interpreter, code).map_err(inject_error)?;
        return Ok(format!(
            "its main thread held for {:.1} ms",
            injected.paused.as_secs_f64() * 1000.0
        ));
    };
    let script = session
        .write_script(pid, "remote_exec.py", code)
        .map_err(|e| UserError::new(format!("cannot prepare the attach: {e}")))?;
    let output = python
        .command()
        .args(["-I", "-c", REMOTE_EXEC, &pid.to_string(), &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| {
            UserError::new(format!("cannot run `{}`: {e}", python.path.display()))
                .with_hint(FALLBACK)
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().last().unwrap_or("no message");
        return Err(UserError::new(format!(
            "sys.remote_exec (PEP 768) cannot run code in process {pid}: {last}"
        ))
        .with_hint(FALLBACK));
    }
    Ok("through sys.remote_exec, PEP 768".to_owned())
}

/// Run by the target's interpreter: `python -I -c REMOTE_EXEC PID SCRIPT`.
const REMOTE_EXEC: &str = "import sys; sys.remote_exec(int(sys.argv[1]), sys.argv[2])";

fn agent_settings(args: &AttachArgs) -> AgentSettings {
    let memory = match args.memory {
        None | Some(MemoryMode::Off) => serde_json::Value::Bool(false),
        Some(MemoryMode::Sampled) => serde_json::Value::Bool(true),
        Some(MemoryMode::Exact) => serde_json::Value::from("exact"),
    };
    AgentSettings {
        duration: args.duration.as_secs_f64(),
        rate: args.rate,
        idle: args.idle,
        gil: args.gil,
        memory,
        memory_interval: args.memory_interval,
        exact: args.exact,
        lines: args.lines.clone(),
        output: String::new(),
        boot: String::new(),
    }
}

/// The target's command line, for the capture.
fn command_of(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| {
            raw.split(|&b| b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// PEP 768's opt-outs (3.14+): `PYTHON_DISABLE_REMOTE_DEBUG` in the
/// target's environment, or `-X disable_remote_debug` on its command line.
/// The process said no to debuggers running code in it; snakescope does
/// not go round that with ptrace.
fn refuse_opted_out(pid: u32, version: (u8, u8)) -> Result<(), UserError> {
    if version < (3, 14) {
        return Ok(());
    }
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    let env_says = environ.split(|&b| b == 0).any(|v| {
        v.strip_prefix(b"PYTHON_DISABLE_REMOTE_DEBUG=")
            .is_some_and(|value| !value.is_empty())
    });
    let args = command_of(pid);
    let flag_says = args
        .windows(2)
        .any(|w| w[0] == "-X" && w[1] == "disable_remote_debug")
        || args.iter().any(|a| a == "-Xdisable_remote_debug");
    let why = match (env_says, flag_says) {
        (true, _) => "PYTHON_DISABLE_REMOTE_DEBUG is set in its environment",
        (_, true) => "it runs with -X disable_remote_debug",
        _ => return Ok(()),
    };
    Err(UserError::new(format!(
        "process {pid} does not allow debuggers to run code in it: {why}"
    ))
    .with_hint(FALLBACK))
}

/// The package to load into the target: `$SNAKESCOPE_PACKAGE` (set by
/// `python -m snakescope`), else the one installed with this binary.
fn package() -> Result<PathBuf, UserError> {
    let found = std::env::var_os("SNAKESCOPE_PACKAGE")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(installed_package);
    match found {
        Some(p) if p.join("_attach.py").is_file() => Ok(p),
        Some(p) => Err(UserError::new(format!(
            "`{}` is not a snakescope package with the attach agent (no `_attach.py`)",
            p.display()
        ))
        .with_hint("set SNAKESCOPE_PACKAGE to the `snakescope` directory of a built package")),
        None => Err(UserError::new("attach cannot find the snakescope package to load")
            .with_hint("run the `snakescope` command installed by the wheel, `python -m snakescope`, or set SNAKESCOPE_PACKAGE")),
    }
}

fn inject_error(e: InjectError) -> UserError {
    let hint = match &e {
        InjectError::Permission { .. } => format!(
            "ptrace needs the same user and kernel.yama.ptrace_scope 0 (or root / CAP_SYS_PTRACE); else {FALLBACK}"
        ),
        _ => FALLBACK.to_owned(),
    };
    UserError::new(format!("cannot attach: {e}")).with_hint(hint)
}

/// Waits until `ready(session)`, the agent's error line, the target's
/// exit or the end of `limit`, whichever comes first.
fn wait_for(
    pid: u32,
    session: &Session,
    limit: Duration,
    ready: impl Fn(&Session) -> bool,
) -> Result<(), UserError> {
    let deadline = Instant::now() + limit;
    loop {
        if ready(session) {
            return Ok(());
        }
        if let Some(line) = session.agent_error() {
            return Err(
                UserError::new(format!("the agent failed in process {pid}: {line}"))
                    .with_hint(FALLBACK),
            );
        }
        if !alive(pid) {
            return Err(UserError::new(format!(
                "process {pid} exited before the agent wrote its capture"
            ))
            .with_hint("attach for a --duration shorter than the time the program has left"));
        }
        if Instant::now() > deadline {
            let what = if session.started() {
                "no capture"
            } else {
                "the agent did not start"
            };
            return Err(UserError::new(format!(
                "{what} in process {pid} within {:.0} s",
                limit.as_secs_f64()
            ))
            .with_hint(format!(
                "the agent starts when the main thread next runs Python code (not while it waits in a \
                 long C call); else {FALLBACK}"
            )));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}
