//! What users of other profilers type, and what to type here instead.
//!
//! py-spy, memray, pyinstrument and cProfile users bring their spellings:
//! `snakescope script.py`, `snakescope top`, `--html`. Where snakescope has
//! the same thing under another name, the answer is one `error:` line that
//! names the habit and a `hint:` line with the command that does it here,
//! instead of clap's generic "unrecognized subcommand". A peer's spelling of
//! something snakescope has as is (py-spy's `--format raw`) is accepted
//! instead, as an alias in the format registry.
//!
//! Every habit is one row of [`HABITS`]. Only consulted once the command
//! line was refused: never changes what a valid command line means.

use crate::UserError;
use std::ffi::OsString;
use std::path::Path;

/// What the user typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spelling {
    /// A word where a command goes (`snakescope top`).
    Command(&'static str),
    /// An option of any command (`--html`), alone or as `--html=…`.
    Option(&'static str),
    /// A Python file where a command goes (`snakescope app.py`).
    Script,
}

/// One habit: its spelling, the error line and the hint. In both texts,
/// `{prog}` is how snakescope was called and `{arg}` what the user typed.
struct Habit {
    spelling: Spelling,
    error: &'static str,
    hint: &'static str,
}

const HABITS: &[Habit] = &[
    Habit {
        spelling: Spelling::Script,
        error: "`{arg}` is not a command: a program to profile goes after `run` or `record`",
        hint: "run it with the in-process profiler: `{prog} run {arg}`, or sample it from \
               outside: `{prog} record -- python3 {arg}`",
    },
    Habit {
        spelling: Spelling::Command("flamegraph"),
        error: "`flamegraph` is not a command: a flame graph is an output of `record` and `run`",
        hint: "`{prog} record -o profile.svg -- python3 app.py`, or from a saved capture: \
               `{prog} report CAPTURE.json -o profile.svg`",
    },
    Habit {
        spelling: Spelling::Command("stats"),
        error: "`stats` is not a command: statistics of a capture are its text report",
        hint: "`{prog} report CAPTURE.json` (the text report: top functions, lines, memory)",
    },
    Habit {
        spelling: Spelling::Option("--html"),
        error: "`--html` is not an option: HTML is an output format",
        hint: "name the output `-o report.html`, or add `--format html`",
    },
];

/// The habit `argv` (program name first) shows, as the user's error; `None`
/// when it shows none. Only for a command line clap refused.
pub fn recognise(argv: &[OsString]) -> Option<UserError> {
    let prog = prog_name(argv.first()?);
    let first = argv.get(1)?.to_str();
    HABITS.iter().find_map(|habit| {
        let arg = matched(habit.spelling, first, &argv[1..])?;
        Some(answer(habit, &prog, &arg))
    })
}

/// The habit of one argument `run` took for its script (`run --html`):
/// its answer when `arg` is an option spelling of [`HABITS`].
pub fn recognise_option(arg: &OsString) -> Option<UserError> {
    HABITS.iter().find_map(|habit| {
        let arg = matched(habit.spelling, None, std::slice::from_ref(arg))?;
        Some(answer(habit, "snakescope", &arg))
    })
}

/// What the user typed that `spelling` matches, if anything: `first` is the
/// word where the command goes, `rest` every argument (until a `--`).
fn matched(spelling: Spelling, first: Option<&str>, rest: &[OsString]) -> Option<String> {
    match spelling {
        Spelling::Command(word) => (first? == word).then(|| word.to_owned()),
        Spelling::Script => first.filter(|f| is_python_file(f)).map(str::to_owned),
        Spelling::Option(option) => rest
            .iter()
            .map_while(|a| a.to_str().filter(|a| *a != "--"))
            .find(|a| *a == option || a.strip_prefix(option).is_some_and(|v| v.starts_with('=')))
            .map(|_| option.to_owned()),
    }
}

/// A word that names a Python program: `*.py` or `*.pyw`.
fn is_python_file(word: &str) -> bool {
    !word.starts_with('-')
        && Path::new(word)
            .extension()
            .is_some_and(|e| e == "py" || e == "pyw")
}

fn answer(habit: &Habit, prog: &str, arg: &str) -> UserError {
    let fill = |text: &str| text.replace("{prog}", prog).replace("{arg}", arg);
    UserError::new(fill(habit.error)).with_hint(fill(habit.hint))
}

/// How the user called snakescope, for the hint's commands: the file name
/// of `argv[0]` (`snakescope`), or `argv[0]` as is when it has spaces (the
/// Python package's `python3 -m snakescope`).
pub fn prog_name(argv0: &OsString) -> String {
    let text = argv0.to_string_lossy();
    if text.contains(' ') {
        return text.into_owned();
    }
    Path::new(&*text).file_name().map_or_else(
        || "snakescope".to_owned(),
        |n| n.to_string_lossy().into_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::recognise;
    use std::ffi::OsString;

    fn answer(line: &str) -> Option<(String, String)> {
        let argv: Vec<OsString> = line.split(' ').map(OsString::from).collect();
        recognise(&argv).map(|e| (e.message, e.hint.unwrap_or_default()))
    }

    #[test]
    fn each_habit_has_its_answer() {
        let (error, hint) = answer("/usr/bin/snakescope app.py 5").unwrap();
        assert!(error.contains("`app.py`"), "{error}");
        assert!(hint.contains("`snakescope run app.py`"), "{hint}");
        assert!(
            hint.contains("`snakescope record -- python3 app.py`"),
            "{hint}"
        );
        for word in ["flamegraph", "stats"] {
            let (error, _) = answer(&format!("snakescope {word}")).unwrap();
            assert!(error.starts_with(&format!("`{word}`")), "{error}");
        }
        let (_, hint) = answer("snakescope record --html -- python3 x.py").unwrap();
        assert!(hint.contains("-o report.html"), "{hint}");
        let (_, hint) = answer("snakescope record --html=x -- python3 x.py").unwrap();
        assert!(hint.contains("--format html"), "{hint}");
    }

    #[test]
    fn the_hint_says_how_snakescope_was_called() {
        let argv = ["python3 -m snakescope", "app.py"].map(OsString::from);
        let hint = recognise(&argv).and_then(|e| e.hint).unwrap();
        assert!(
            hint.contains("`python3 -m snakescope run app.py`"),
            "{hint}"
        );
    }

    #[test]
    fn other_mistakes_are_left_to_clap() {
        assert!(answer("snakescope recrod -- x").is_none());
        assert!(answer("snakescope record --htm -- x").is_none());
        assert!(answer("snakescope record -- python3 --html").is_none());
        assert!(answer("snakescope -v").is_none());
        assert!(answer("snakescope").is_none());
    }
}
