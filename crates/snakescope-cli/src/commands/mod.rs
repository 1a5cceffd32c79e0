//! One module per subcommand.

mod advise;
mod attach;
mod attach_session;
mod capture_file;
mod children;
mod diff;
mod dis;
mod dump;
mod dump_tasks;
mod feedback;
mod interpreter;
mod output;
mod record;
mod report;
mod run;
pub(crate) mod stat;
pub(crate) mod tasks;
mod timeit;
pub(crate) mod top;

use crate::args::{Cli, Command};

pub(crate) use dump::json_schema as dump_schema;

/// Runs the chosen command; the exit code is the command's own.
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Record(args) => record::run(args),
        Command::Dump(args) => dump::run(&args),
        Command::Report(args) => report::run(&args),
        Command::Run(args) => run::run(args),
        Command::Diff(args) => diff::run(&args),
        Command::Timeit(args) => timeit::run(&args),
        Command::Stat(args) => stat::run(&args),
        Command::Dis(args) => dis::run(&args),
        Command::Attach(args) => attach::run(&args),
        Command::Advise(args) => advise::run(&args),
        Command::Top(args) => top::run(args),
    }
}

/// Turns a failure to attach into the user's error line and hint.
pub(crate) fn attach_error(err: snakescope_remote::AttachError) -> crate::UserError {
    let user = crate::UserError::new(err.to_string());
    match err.hint() {
        Some(h) => user.with_hint(h),
        None => user,
    }
}
