//! Reading a capture file for `report` and `diff`: only a regular file is
//! read. The file is opened without blocking and its type checked on the
//! open file, so a FIFO (which would wait for a writer forever), a directory
//! or a device (`/dev/zero` never ends) is refused with one line.

use crate::UserError;
use snakescope_model::Capture;
use std::fs::{File, FileType};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Reads and validates the capture at `path`; `hint` says what the command reads.
pub(crate) fn read_capture(path: &Path, hint: &str) -> Result<Capture, UserError> {
    let shown = path.display();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| UserError::new(format!("cannot open `{shown}`: {e}")))?;
    let kind = file
        .metadata()
        .map_err(|e| UserError::new(format!("cannot open `{shown}`: {e}")))?
        .file_type();
    if !kind.is_file() {
        return Err(UserError::new(format!(
            "`{shown}` is {}, not a capture file",
            describe(kind)
        ))
        .with_hint(hint.to_owned()));
    }
    // snakescope's own frames are never part of a view (model/own.rs).
    Capture::read_from(std::io::BufReader::new(blocking(file)))
        .map(Capture::without_own_frames)
        .map_err(|e| {
            UserError::new(format!("`{shown}` is not a readable capture: {e}"))
                .with_hint(hint.to_owned())
        })
}

/// The file with `O_NONBLOCK` cleared again (for a regular file it changes
/// nothing, but reads should not depend on that).
fn blocking(file: File) -> File {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a file descriptor this function owns through `file`;
    // F_GETFL/F_SETFL take and return plain flags.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
    }
    file
}

fn describe(kind: FileType) -> &'static str {
    if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO (named pipe)"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else {
        "not a regular file"
    }
}
