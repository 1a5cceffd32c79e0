//! Everything after the program belongs to the program.
//!
//! `snakescope run [OPTIONS] script.py ARGS`, `run [OPTIONS] -m module ARGS`
//! and `run [OPTIONS] -c code ARGS` pass ARGS to the program untouched, as
//! `python` does: `run -m pytest -q` gives pytest its `-q`, not snakescope.
//! clap would go on parsing snakescope's own flags after the program, so
//! before it parses, an `--` is put where the program starts: right after
//! `-m MODULE` / `-c CODE`, or before the first argument that is not one of
//! `run`'s options or their values. Which options take a value is read from
//! the clap definition itself (one place).

use crate::args::Cli;
use clap::CommandFactory;
use std::ffi::OsString;

/// `argv` (program name first) with `--` inserted where `run`'s program starts.
pub fn protect(argv: Vec<OsString>) -> Vec<OsString> {
    if argv.get(1).and_then(|a| a.to_str()) != Some("run") {
        return argv;
    }
    let cli = Cli::command();
    let Some(run) = cli.find_subcommand("run") else {
        return argv;
    };
    let split = program_start(run, &argv[2..]).map(|i| i + 2);
    match split {
        Some(at) if at < argv.len() && argv[at] != "--" => {
            let mut out = argv[..at].to_vec();
            out.push("--".into());
            out.extend_from_slice(&argv[at..]);
            out
        }
        _ => argv,
    }
}

/// Where the program's own arguments start in `args` (those after `run`).
fn program_start(run: &clap::Command, args: &[OsString]) -> Option<usize> {
    let mut i = 0;
    while i < args.len() {
        let Some(token) = args[i].to_str() else {
            return Some(i); // not UTF-8: no option of ours; the script
        };
        if token == "--" {
            return Some(i);
        }
        if !token.starts_with('-') || token == "-" {
            return Some(i); // the script
        }
        match option(run, token) {
            Parsed::Program { value_follows } => {
                let end = i + 1 + usize::from(value_follows);
                return Some(end.min(args.len()));
            }
            Parsed::Option { value_follows } => i += 1 + usize::from(value_follows),
        }
    }
    None
}

enum Parsed {
    /// One of `run`'s options; whether its value is the next argument.
    Option { value_follows: bool },
    /// `-m` / `-c`: the program's arguments start after the value.
    Program { value_follows: bool },
}

fn option(run: &clap::Command, token: &str) -> Parsed {
    if let Some(long) = token.strip_prefix("--") {
        // (`--live-web`'s value is given with `=` only: the script follows it.)
        let value_follows = !long.contains('=')
            && run
                .get_arguments()
                .find(|a| a.get_long() == Some(long))
                .is_some_and(|a| a.get_action().takes_values() && !a.is_require_equals_set());
        return Parsed::Option { value_follows };
    }
    // Short flags, possibly combined (`-qi`, `-qr500`, `-qm pytest`).
    let shorts = &token[1..];
    for (at, c) in shorts.char_indices() {
        let takes_value = run
            .get_arguments()
            .find(|a| a.get_short() == Some(c))
            .is_some_and(|a| a.get_action().takes_values());
        if takes_value {
            let value_follows = at + c.len_utf8() == shorts.len();
            return if c == 'm' || c == 'c' {
                Parsed::Program { value_follows }
            } else {
                Parsed::Option { value_follows }
            };
        }
    }
    Parsed::Option {
        value_follows: false,
    }
}

#[cfg(test)]
mod tests {
    use super::protect;
    use std::ffi::OsString;

    fn words(line: &str) -> Vec<OsString> {
        line.split(' ').map(OsString::from).collect()
    }

    fn check(given: &str, expected: &str) {
        assert_eq!(protect(words(given)), words(expected), "{given}");
    }

    #[test]
    fn the_program_keeps_its_flags() {
        check("s run -m pytest -q -s", "s run -m pytest -- -q -s");
        check("s run -c code -s x -r 5", "s run -c code -- -s x -r 5");
        check(
            "s run -q -r 500 app.py -q -o x",
            "s run -q -r 500 -- app.py -q -o x",
        );
        check(
            "s run --rate=5 --output o.json app.py",
            "s run --rate=5 --output o.json -- app.py",
        );
        check("s run -qr500 -mpytest -x", "s run -qr500 -mpytest -- -x");
        check("s run -qm pytest -x", "s run -qm pytest -- -x");
        check(
            "s run --exact --lines m:f app.py",
            "s run --exact --lines m:f -- app.py",
        );
        check("s run --live-web app.py a", "s run --live-web -- app.py a");
        check(
            "s run --live-web=:8123 app.py a",
            "s run --live-web=:8123 -- app.py a",
        );
    }

    #[test]
    fn what_needs_no_change_is_left_alone() {
        check(
            "s run -o x.json -- app.py -q",
            "s run -o x.json -- app.py -q",
        );
        check("s run --help", "s run --help");
        check(
            "s record -q -- python3 app.py",
            "s record -q -- python3 app.py",
        );
        check("s run -m", "s run -m");
    }
}
