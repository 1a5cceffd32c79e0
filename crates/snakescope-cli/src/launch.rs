//! Launching the target and keeping its behaviour intact: its stdio is
//! inherited untouched, SIGINT reaches it from the terminal as it would
//! without snakescope, SIGTERM sent to snakescope is passed on, and
//! snakescope's own exit status mirrors the target's (including death by
//! signal).

use crate::UserError;
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Signals snakescope notes instead of dying from.
pub struct Signals {
    pub interrupted: Arc<AtomicBool>,
    pub terminated: Arc<AtomicBool>,
}

impl Signals {
    pub fn install() -> anyhow::Result<Signals> {
        let interrupted = Arc::new(AtomicBool::new(false));
        let terminated = Arc::new(AtomicBool::new(false));
        // A signal snakescope was started with ignored (`nohup`, supervisors)
        // stays ignored: a handler would be reset to the default in the
        // launched program, which would then die of what it ignores without
        // snakescope.
        for (signal, flag) in [
            (signal_hook::consts::SIGINT, &interrupted),
            (signal_hook::consts::SIGTERM, &terminated),
        ] {
            if !ignored(signal) {
                signal_hook::flag::register(signal, Arc::clone(flag))?;
            }
        }
        Ok(Signals {
            interrupted,
            terminated,
        })
    }
}

/// Whether `signal`'s disposition in this process is "ignore".
fn ignored(signal: libc::c_int) -> bool {
    // SAFETY: sigaction with a null new action only reads the current one
    // into a zeroed local of the right type.
    unsafe {
        let mut current: libc::sigaction = std::mem::zeroed();
        libc::sigaction(signal, std::ptr::null(), &mut current) == 0
            && current.sa_sigaction == libc::SIG_IGN
    }
}

/// Starts the command with inherited stdio.
/// How much nicer than snakescope its helper processes run (see [`in_background`]).
const HELPER_NICENESS: libc::c_int = 10;

/// Runs `command` (a helper of snakescope's own started beside the
/// program that is needed only after it: the advisor's rules, waiting) at
/// a lower priority, so that on a busy machine it takes the CPU the program
/// and the sampler leave, instead of slowing their start. (Not the asyncio
/// probe: under load its answer would come late and tasks be missed.)
pub(crate) fn in_background(command: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: between fork and exec the closure only calls setpriority, an
    // async-signal-safe system call on the new process itself, allocating
    // nothing; its failure (a raised niceness needs no privilege) is ignored.
    unsafe {
        command.pre_exec(|| {
            libc::setpriority(libc::PRIO_PROCESS, 0, HELPER_NICENESS as _);
            Ok(())
        })
    }
}

pub fn spawn(command: &[OsString]) -> Result<Child, UserError> {
    spawn_with(command, |_| {})
}

/// Starts the command with inherited stdio, after `configure` has set more
/// of its environment.
pub fn spawn_with(
    command: &[OsString],
    configure: impl FnOnce(&mut Command),
) -> Result<Child, UserError> {
    let program = &command[0];
    let mut cmd = Command::new(program);
    cmd.args(&command[1..]);
    program_env(&mut cmd);
    configure(&mut cmd);
    cmd.spawn().map_err(|e| {
        let shown = shown(program);
        let err = UserError::new(format!("cannot run `{shown}`: {}", describe(&e)));
        if e.kind() == std::io::ErrorKind::NotFound && shown.ends_with(".py") {
            err.with_hint(format!(
                "run it with an interpreter: `snakescope record -- python3 {shown}`"
            ))
        } else if e.kind() == std::io::ErrorKind::NotFound {
            err.with_hint("check the command name and your PATH")
        } else {
            err
        }
    })
}

/// An argument as a message or a capture shows it: invalid UTF-8 as U+FFFD,
/// control characters as `\xNN`.
pub fn shown(arg: &OsStr) -> String {
    snakescope_formats::printable::escape_controls(&arg.to_string_lossy()).into_owned()
}

/// The file `program` names, as `execvp` finds it: a path when it has a
/// `/`, else the first executable file of that name on `$PATH`.
pub fn resolve(program: &OsStr) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    if program.as_encoded_bytes().contains(&b'/') {
        return Some(PathBuf::from(program));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|f| {
            std::fs::metadata(f).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// The command line as the capture records it (text: invalid UTF-8 as U+FFFD).
pub fn recorded(command: &[OsString]) -> Vec<String> {
    command
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

/// The Python package's command line (`python -m snakescope`) tells it its
/// interpreter and package through the environment (`SNAKESCOPE_PYTHON`,
/// `SNAKESCOPE_PACKAGE`) and lists the variables it added in
/// `SNAKESCOPE_SET_BY_COMMAND`: those are not passed on to the program, whose
/// environment stays the one snakescope was started with.
const SET_BY_COMMAND: &str = "SNAKESCOPE_SET_BY_COMMAND";

/// Whether the package's command, not the user, set this variable.
pub fn set_by_command(name: &str) -> bool {
    std::env::var(SET_BY_COMMAND).is_ok_and(|names| names.split(',').any(|n| n == name))
}

/// Removes from a command's environment what the package's command added.
pub fn program_env(cmd: &mut Command) {
    if let Ok(names) = std::env::var(SET_BY_COMMAND) {
        for name in names.split(',').filter(|n| n.starts_with("SNAKESCOPE_")) {
            cmd.env_remove(name);
        }
        cmd.env_remove(SET_BY_COMMAND);
    }
}

pub(crate) fn describe(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "command not found".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Waits for a child to exit without polling on a timer: a pidfd (Linux
/// 5.3+) becomes readable when the child exits, so `run` returns as soon as
/// the program does (a 10 ms sleep between checks added 5 ms to every run on
/// average). Without pidfds it sleeps 10 ms between checks, as before.
pub struct ExitWatch(Option<std::os::fd::OwnedFd>);

impl ExitWatch {
    pub fn new(child: &Child) -> ExitWatch {
        // SAFETY: pidfd_open(2) takes a pid and flags and returns a new fd or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, child.id() as libc::pid_t, 0) };
        if fd < 0 {
            return ExitWatch(None);
        }
        // SAFETY: a file descriptor just returned to us and owned by nobody else.
        ExitWatch(Some(unsafe {
            <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd as i32)
        }))
    }

    /// Returns when the child may have exited, a signal arrived, or at most
    /// `limit` later; the caller then checks with `try_wait`.
    pub fn wait(&self, limit: std::time::Duration) {
        let Some(fd) = &self.0 else {
            std::thread::sleep(limit.min(std::time::Duration::from_millis(10)));
            return;
        };
        let mut pfd = libc::pollfd {
            fd: std::os::fd::AsRawFd::as_raw_fd(fd),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = limit.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd; poll returns on readiness, a signal (EINTR) or the timeout.
        unsafe { libc::poll(&mut pfd, 1, ms) };
    }
}

/// Sends SIGTERM to the child (when snakescope itself was asked to terminate).
pub fn forward_sigterm(child: &Child) {
    // SAFETY: kill(2) with a pid we spawned and a valid signal number has no
    // memory-safety preconditions.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
}

/// The child's status as the capture records it: the exit code, or `-N` for death by signal N.
pub fn status_code(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| -status.signal().unwrap_or(0))
}

/// Ends snakescope the way the child ended: same exit code, or death by the same signal.
pub fn mirror_exit(status: ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    if let Some(signal) = status.signal() {
        // SAFETY: restoring the default disposition and raising a signal are
        // async-signal-safe calls with no memory-safety preconditions.
        unsafe {
            libc::signal(signal, libc::SIG_DFL);
            libc::raise(signal);
        }
        return 128 + signal as u8;
    }
    status.code().unwrap_or(1) as u8
}
