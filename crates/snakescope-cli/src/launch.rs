//! Launching the target and keeping its behaviour intact: its stdio is
//! inherited untouched, SIGINT reaches it from the terminal as it would
//! without snakescope, SIGTERM sent to snakescope is passed on, and
//! snakescope's own exit status mirrors the target's (including death by
//! signal).

use crate::UserError;
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
        signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(&interrupted))?;
        signal_hook::flag::register(signal_hook::consts::SIGTERM, Arc::clone(&terminated))?;
        Ok(Signals {
            interrupted,
            terminated,
        })
    }
}

/// Starts the command with inherited stdio.
pub fn spawn(command: &[String]) -> Result<Child, UserError> {
    spawn_with(command, |_| {})
}

/// Starts the command with inherited stdio, after `configure` has set more
/// of its environment.
pub fn spawn_with(
    command: &[String],
    configure: impl FnOnce(&mut Command),
) -> Result<Child, UserError> {
    let program = &command[0];
    let mut cmd = Command::new(program);
    cmd.args(&command[1..]);
    program_env(&mut cmd);
    configure(&mut cmd);
    cmd.spawn().map_err(|e| {
        let err = UserError::new(format!("cannot run `{program}`: {}", describe(&e)));
        if e.kind() == std::io::ErrorKind::NotFound && program.ends_with(".py") {
            err.with_hint(format!(
                "run it with an interpreter: `snakescope record -- python3 {program}`"
            ))
        } else if e.kind() == std::io::ErrorKind::NotFound {
            err.with_hint("check the command name and your PATH")
        } else {
            err
        }
    })
}

/// The Python package's `snakescope` command tells the command line its
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
