//! The `snakescope` command line: parses arguments, resolves them into
//! checked settings, runs one command, and is the only place that prints
//! errors or chooses an exit status. Used by the `snakescope` binary and by the
//! Python package's `snakescope` entry point (through the native extension).

mod args;
mod commands;
/// `stat`'s counters and figures, for the agent's `run --stat`.
pub use commands::stat::{counters as stat_counters, figures as stat_figures};
pub use commands::tasks::{parse as parse_task_layout, wait_for_layout};
pub mod defaults;
mod habits;
mod installed;
mod launch;
mod program_args;
pub mod run_settings;
pub mod schemas;
pub mod write_profile;

use clap::Parser;
use std::ffi::OsString;

/// An error for the user: one line, and a hint line when they can act on it.
#[derive(Debug)]
pub struct UserError {
    pub message: String,
    pub hint: Option<String>,
}

impl UserError {
    pub fn new(message: impl Into<String>) -> UserError {
        UserError {
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> UserError {
        self.hint = Some(hint.into());
        self
    }
}

impl std::fmt::Display for UserError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UserError {}

/// Runs the command line `args` (program name first) and returns the exit status.
pub fn main_with_args(args: impl IntoIterator<Item = OsString>) -> u8 {
    let argv = program_args::protect(args.into_iter().collect());
    let cli = match args::Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(err) => {
            // Help and version go to stdout with status 0; usage errors to stderr with 2.
            if !report_habit(&err, &argv) && !report_bad_value(&err) {
                let _ = err.print();
            }
            return if err.use_stderr() { 2 } else { 0 };
        }
    };
    match commands::run(cli) {
        Ok(code) => code,
        Err(err) => {
            report_error(&err);
            2
        }
    }
}

/// One line to stderr. A closed stderr (`2>&1 | head -1`) is not an error
/// of snakescope's: the line is lost, nothing panics, the exit status stays.
pub(crate) fn stderr_line(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Writes a command's output to standard output, the one place that does.
/// A reader that went away (`snakescope report x.json | head -1`) ends the
/// output, not the command: no message, no panic, and the status the command
/// has anyway (0 when it succeeds), as other tools that ignore SIGPIPE.
pub(crate) fn to_stdout<E: ToStdout>(
    write: impl FnOnce(&mut dyn std::io::Write) -> Result<(), E>,
) -> Result<(), E> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match write(&mut out).and_then(|()| out.flush().map_err(E::from)) {
        Err(e) if e.is_broken_pipe() => Ok(()),
        result => result,
    }
}

/// An error of writing to standard output.
pub(crate) trait ToStdout: From<std::io::Error> {
    /// Whether the reader went away.
    fn is_broken_pipe(&self) -> bool;
}

impl ToStdout for std::io::Error {
    fn is_broken_pipe(&self) -> bool {
        self.kind() == std::io::ErrorKind::BrokenPipe
    }
}

impl ToStdout for snakescope_formats::FormatError {
    fn is_broken_pipe(&self) -> bool {
        snakescope_formats::FormatError::is_broken_pipe(self)
    }
}

/// A command line clap refused that shows another profiler's habit
/// (`snakescope top`, `--html`): the habit's error and hint instead of
/// clap's usage text. Returns false when it shows none.
fn report_habit(err: &clap::Error, argv: &[OsString]) -> bool {
    use clap::error::ErrorKind;
    if !matches!(
        err.kind(),
        ErrorKind::InvalidSubcommand | ErrorKind::UnknownArgument
    ) {
        return false;
    }
    match habits::recognise(argv) {
        Some(user) => {
            report_user_error(&user);
            true
        }
        None => false,
    }
}

/// A value clap refused (out of range, not among the choices): one `error:`
/// line, and a `hint:` line with the accepted values when there is a list,
/// instead of clap's usage text. Returns false for other clap errors.
fn report_bad_value(err: &clap::Error) -> bool {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(
        err.kind(),
        ErrorKind::ValueValidation | ErrorKind::InvalidValue
    ) {
        return false;
    }
    let rendered = err.render().to_string();
    let Some(line) = rendered.lines().next() else {
        return false;
    };
    let message = line.strip_prefix("error: ").unwrap_or(line);
    let mut user = UserError::new(message);
    if let Some(ContextValue::Strings(values)) = err.get(ContextKind::ValidValue) {
        if !values.is_empty() {
            user = user.with_hint(format!("use one of: {}", values.join(", ")));
        }
    }
    report_user_error(&user);
    true
}

fn report_user_error(user: &UserError) {
    stderr_line(format_args!("error: {}", user.message));
    if let Some(hint) = &user.hint {
        stderr_line(format_args!("hint: {hint}"));
    }
}

fn report_error(err: &anyhow::Error) {
    if let Some(user) = err.downcast_ref::<UserError>() {
        report_user_error(user);
        return;
    }
    let chain: Vec<String> = err.chain().map(ToString::to_string).collect();
    stderr_line(format_args!("error: {}", chain.join(": ")));
}
