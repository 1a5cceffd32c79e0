//! Which file is a run's main script: the one its command line names
//! (`python3 before.py`, `python3 -X dev after.py ARGS`), found among the
//! capture's frames; failing that (`-m`, `-c`, a launcher script), the
//! innermost `<module>` frame most samples ran under.

use super::pairing::Pairing;
use super::ScriptMatch;
use snakescope_model::Capture;
use std::collections::HashMap;
use std::path::Path;

/// The script the command line names: the first argument ending in `.py`
/// that is not the code of `-c`; none with `-m` or `-c` before it.
fn script_argument(command: &[String]) -> Option<&str> {
    for (i, arg) in command.iter().enumerate() {
        if i > 0 && (arg == "-m" || arg == "-c") {
            return None;
        }
        if arg.ends_with(".py") && !arg.starts_with('-') {
            return Some(arg);
        }
    }
    None
}

/// The frame file that is the script `arg`: the same path, else the one
/// path that ends with it, else the one file of the same name.
fn frame_file_of(capture: &Capture, arg: &str) -> Option<String> {
    let arg = arg.trim_start_matches("./");
    let mut files: Vec<&str> = capture.frames.iter().map(|f| f.file.as_str()).collect();
    files.sort_unstable();
    files.dedup();
    if files.contains(&arg) {
        return Some(arg.to_owned());
    }
    let unique = |found: Vec<&&str>| (found.len() == 1).then(|| found[0].to_string());
    let suffix = format!("/{arg}");
    unique(files.iter().filter(|f| f.ends_with(&suffix)).collect()).or_else(|| {
        let name = Path::new(arg).file_name()?;
        unique(
            files
                .iter()
                .filter(|f| Path::new(f).file_name() == Some(name))
                .collect(),
        )
    })
}

/// The file of a capture's main script.
pub(crate) fn main_script(capture: &Capture) -> Option<String> {
    script_argument(&capture.meta.command)
        .and_then(|arg| frame_file_of(capture, arg))
        .or_else(|| busiest_module(capture))
}

/// Per stack the innermost `<module>` frame (imports aside, the script's
/// own top level), weighted by samples.
fn busiest_module(capture: &Capture) -> Option<String> {
    let mut counts: HashMap<&str, u64> = HashMap::new();
    for stack in &capture.stacks {
        let module = stack
            .frames
            .iter()
            .rev()
            .map(|&f| &capture.frames[f])
            .find(|f| f.function == "<module>");
        if let Some(frame) = module {
            *counts.entry(frame.file.as_str()).or_default() += stack.count;
        }
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
        .map(|(file, _)| file.to_owned())
}

/// The scripts to match, when the two runs' main scripts differ and neither
/// also appears as an ordinary file of the other run.
pub(super) fn script_match(before: &Capture, after: &Capture) -> Option<ScriptMatch> {
    let (b, a) = (main_script(before)?, main_script(after)?);
    let in_capture = |c: &Capture, file: &str| c.frames.iter().any(|f| f.file == file);
    if b == a || in_capture(after, &b) || in_capture(before, &a) {
        return None;
    }
    Some(ScriptMatch {
        before: b,
        after: a,
        lines_aligned: false,
    })
}

/// `capture` (the before run) with its paired functions named as their
/// after counterparts, in the after script; the rest keep their names and
/// files (a vanished function stays in the before script).
pub(super) fn apply_pairing(capture: &Capture, pairing: &Pairing) -> Capture {
    let mut c = capture.clone();
    for frame in &mut c.frames {
        let (name, file) = pairing.function(frame.display_name(), &frame.file);
        if file != frame.file {
            frame.file = file;
            if name != frame.display_name() {
                frame.function = name.rsplit('.').next().unwrap_or(&name).to_owned();
                frame.qualname = Some(name);
            }
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_names_the_script() {
        let cmd = |args: &[&str]| args.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            script_argument(&cmd(&["python3", "before.py", "x.py"])),
            Some("before.py")
        );
        assert_eq!(
            script_argument(&cmd(&["python3", "-X", "dev", "a/b.py"])),
            Some("a/b.py")
        );
        assert_eq!(
            script_argument(&cmd(&["./tool.py", "arg"])),
            Some("./tool.py")
        );
        assert_eq!(script_argument(&cmd(&["python3", "-m", "pkg.py"])), None);
        assert_eq!(
            script_argument(&cmd(&["python3", "-c", "import a.py"])),
            None
        );
        assert_eq!(script_argument(&cmd(&["python3"])), None);
    }
}
