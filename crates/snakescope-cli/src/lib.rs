//! The `snakescope` command line: parses arguments, resolves them into
//! checked settings, runs one command, and is the only place that prints
//! errors or chooses an exit status. Used by the `snakescope` binary and by the
//! Python package's `snakescope` entry point (through the native extension).

mod args;
mod commands;
mod launch;

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
    let cli = match args::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            // Help and version go to stdout with status 0; usage errors to stderr with 2.
            let _ = err.print();
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

#[allow(clippy::print_stderr)]
fn report_user_error(user: &UserError) {
    eprintln!("error: {}", user.message);
    if let Some(hint) = &user.hint {
        eprintln!("hint: {hint}");
    }
}

#[allow(clippy::print_stderr)]
fn report_error(err: &anyhow::Error) {
    if let Some(user) = err.downcast_ref::<UserError>() {
        report_user_error(user);
        return;
    }
    let chain: Vec<String> = err.chain().map(ToString::to_string).collect();
    eprintln!("error: {}", chain.join(": "));
}
