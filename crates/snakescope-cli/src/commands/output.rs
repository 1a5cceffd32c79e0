//! Output files, checked before anything runs or is rendered: a path that
//! names a directory, lies in a directory that does not exist or cannot be
//! written, or whose format cannot be told, is refused with one line, so a
//! profile is never lost at the end of a long run (`run`'s profile is written
//! by the program's own interpreter, at its exit, where a failure could only
//! be a note) and no file of an unstated format is written.

use crate::UserError;
use snakescope_formats::{Format, Section, FORMATS};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// The format to write: `--format` when given (refused when `path`'s name
/// implies another: a file's name never says one format while it holds
/// another), else the one `path`'s name implies (refused when it implies
/// none), else `default` (no path given).
pub(crate) fn output_format(
    path: Option<&Path>,
    format: Option<Format>,
    default: Format,
) -> Result<Format, UserError> {
    match (format, path) {
        (Some(f), Some(path)) => f.fits_path(path).map(|()| f).map_err(|named| {
            let drop = format!(", or drop --format to write {named}");
            misnamed(path, f, named).with_hint(format!("{}{drop}", rename_hint(path, f)))
        }),
        (Some(f), None) => Ok(f),
        (None, Some(path)) => Format::from_path(path).ok_or_else(|| unknown_format(path)),
        (None, None) => Ok(default),
    }
}

/// Refuses to write `format` into `path` when its name implies another.
pub(crate) fn check_name_fits(path: &Path, format: Format) -> Result<(), UserError> {
    format
        .fits_path(path)
        .map_err(|named| misnamed(path, format, named).with_hint(rename_hint(path, format)))
}

fn misnamed(path: &Path, format: Format, named: Format) -> UserError {
    UserError::new(format!(
        "`{}` names a {named} file, but the output is {format}",
        path.display()
    ))
}

fn rename_hint(path: &Path, format: Format) -> String {
    format!(
        "name it for {format} (e.g. `{}`)",
        format.renamed(path).display()
    )
}

fn unknown_format(path: &Path) -> UserError {
    UserError::new(format!(
        "cannot tell the output format from the name `{}`",
        path.display()
    ))
    .with_hint(format!(
        "name it {}, or pass --format ({})",
        Format::suffixes_shown(),
        Format::names_shown()
    ))
}

/// Refuses a format that draws none of what is `held` (what the command
/// records, or what a capture holds), before anything runs: `subject` is
/// what holds it, as the error names it ("a recording", "`x.json`").
pub(crate) fn check_draws(
    format: Format,
    held: &[Section],
    subject: &str,
) -> Result<(), UserError> {
    let Err(needs) = format.can_draw(held) else {
        return Ok(());
    };
    let fits: Vec<&str> = FORMATS
        .iter()
        .filter(|s| s.format.can_draw(held).is_ok())
        .map(|s| s.name)
        .collect();
    let fits = fits.join(", ");
    if held == [Section::MemoryStacks] {
        // A memory view: what is missing is not what was recorded but a unit.
        return Err(UserError::new(format!(
            "`{format}` cannot draw {subject}: its stacks are weighted by bytes, not time"
        ))
        .with_hint(format!("{subject} can be written as {fits}")));
    }
    Err(
        UserError::new(format!("{subject} has no {}", needs.noun())).with_hint(format!(
            "{}; {subject} can be written as {fits}",
            format.needs_hint(needs),
        )),
    )
}

/// Refuses an output path that cannot be written as a file.
pub(crate) fn check_output_path(path: &Path) -> Result<(), UserError> {
    let shown = path.display();
    let bytes = path.as_os_str().as_bytes();
    if bytes.is_empty() {
        return Err(UserError::new("the output path is empty"));
    }
    if path.is_dir() || bytes.ends_with(b"/") {
        return Err(
            UserError::new(format!("output `{shown}` is a directory, not a file")).with_hint(
                format!(
                    "give a file name, e.g. `{}`",
                    path.join(format!(
                        "profile{}",
                        Format::Flamegraph.spec().default_suffix
                    ))
                    .display()
                ),
            ),
        );
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        let what = if parent.exists() {
            "is not a directory"
        } else {
            "does not exist"
        };
        return Err(UserError::new(format!(
            "cannot write `{shown}`: `{}` {what}",
            parent.display()
        ))
        .with_hint("create the directory first, or choose another path"));
    }
    let target = if path.exists() { path } else { parent };
    if !writable(target) {
        return Err(UserError::new(format!(
            "cannot write `{shown}`: permission denied on `{}`",
            target.display()
        )));
    }
    Ok(())
}

/// Whether this process may write `path` (a file, or a directory to create one in).
fn writable(path: &Path) -> bool {
    let Ok(c_path) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: access(2) reads a valid NUL-terminated path and has no other precondition.
    unsafe { libc::access(c_path.as_ptr(), libc::W_OK) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwritable_paths_are_refused_before_anything_runs() {
        let dir = std::env::temp_dir();
        assert!(check_output_path(&dir).is_err(), "a directory");
        assert!(check_output_path(Path::new("")).is_err(), "empty");
        assert!(check_output_path(Path::new("some-new-dir/")).is_err());
        let missing = dir.join("snakescope-no-such-dir/x.json");
        let err = check_output_path(&missing).unwrap_err();
        assert!(err.message.contains("does not exist"), "{}", err.message);
        assert!(check_output_path(&dir.join("snakescope-output-test.json")).is_ok());
        assert!(check_output_path(Path::new("relative.json")).is_ok());
    }

    #[test]
    fn a_name_without_a_known_extension_needs_a_format() {
        let xyz = Path::new("out.xyz");
        let err = output_format(Some(xyz), None, Format::Text).unwrap_err();
        assert!(err.hint.unwrap().contains("speedscope"));
        let named = output_format(Some(xyz), Some(Format::Json), Format::Text);
        assert_eq!(named.unwrap(), Format::Json);
        assert_eq!(
            output_format(None, None, Format::Text).unwrap(),
            Format::Text
        );
        let hint = unknown_format(xyz).hint.unwrap();
        assert!(
            hint.contains(".speedscope.json") && hint.contains(".pstats"),
            "{hint}"
        );
    }

    #[test]
    fn a_name_that_says_another_format_is_refused() {
        let err = output_format(
            Some(Path::new("x.pstats")),
            Some(Format::Text),
            Format::Text,
        );
        let err = err.unwrap_err();
        assert_eq!(
            err.message,
            "`x.pstats` names a pstats file, but the output is text"
        );
        let hint = err.hint.unwrap();
        assert_eq!(
            hint,
            "name it for text (e.g. `x.txt`), or drop --format to write pstats"
        );
        let diff = check_name_fits(Path::new("d.pstats"), Format::Text).unwrap_err();
        assert_eq!(diff.hint.unwrap(), "name it for text (e.g. `d.txt`)");
        let report = output_format(Some(Path::new("r.txt")), Some(Format::Text), Format::Text);
        assert_eq!(report.unwrap(), Format::Text);
    }

    #[test]
    fn a_format_that_draws_nothing_held_is_refused_with_a_hint() {
        let sampled = [Section::Samples];
        assert!(check_draws(Format::Flamegraph, &sampled, "a recording").is_ok());
        let err = check_draws(Format::Pstats, &sampled, "a recording").unwrap_err();
        assert_eq!(err.message, "a recording has no exact call counts");
        let hint = err.hint.unwrap();
        assert!(
            hint.contains("run --exact") && hint.contains("flamegraph"),
            "{hint}"
        );
        assert!(!hint.contains("timeline"), "{hint}");
        let exact = check_draws(Format::Flamegraph, &[Section::Exact], "an --exact run");
        let hint = exact.unwrap_err().hint.unwrap();
        let offered = hint.split_once("written as ").unwrap().1;
        assert_eq!(offered, "speedscope, json, text, html, pprof, pstats");
        let view = [Section::MemoryStacks];
        let err = check_draws(Format::Chrome, &view, "the view").unwrap_err();
        assert!(err.message.contains("weighted by bytes"), "{}", err.message);
        let hint = err.hint.unwrap();
        assert_eq!(
            hint,
            "the view can be written as flamegraph, speedscope, collapsed, json, pprof"
        );
    }
}
