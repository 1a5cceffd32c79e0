//! Output files, checked before anything runs or is rendered: a path that
//! names a directory, lies in a directory that does not exist or cannot be
//! written, or whose format cannot be told, is refused with one line, so a
//! profile is never lost at the end of a long run (`run`'s profile is written
//! by the program's own interpreter, at its exit, where a failure could only
//! be a note) and no file of an unstated format is written.

use crate::args::FormatArg;
use crate::commands::format_of;
use crate::UserError;
use snakescope_formats::Format;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// The file names that imply a format, as the hints list them.
const EXTENSIONS: &str =
    ".svg, .html, .json, .speedscope.json, .txt (collapsed), .pb.gz, .trace.json";

/// The format to write: `--format` when given, else the one `path`'s name
/// implies (refused when it implies none), else `default` (no path given).
pub(crate) fn output_format(
    path: Option<&Path>,
    format: Option<FormatArg>,
    default: Format,
) -> Result<Format, UserError> {
    match (format, path) {
        (Some(f), _) => Ok(format_of(f)),
        (None, Some(path)) => Format::from_path(path).ok_or_else(|| unknown_format(path)),
        (None, None) => Ok(default),
    }
}

fn unknown_format(path: &Path) -> UserError {
    let names: Vec<&str> = Format::ALL.iter().map(Format::name).collect();
    UserError::new(format!(
        "cannot tell the output format from the name `{}`",
        path.display()
    ))
    .with_hint(format!(
        "name it {EXTENSIONS}, or pass --format ({})",
        names.join(", ")
    ))
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
                    path.join("profile.svg").display()
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
        let named = output_format(Some(xyz), Some(FormatArg::Json), Format::Text);
        assert_eq!(named.unwrap(), Format::Json);
        assert_eq!(
            output_format(None, None, Format::Text).unwrap(),
            Format::Text
        );
    }
}
