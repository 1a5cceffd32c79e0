//! The capture itself, as `docs/capture-format.md` describes it: the only
//! output `snakescope report` can read back.

use snakescope_model::{Capture, CaptureError};
use std::io::{self, Write};

/// Writes the capture JSON followed by a newline.
pub(crate) fn write(capture: &Capture, out: &mut dyn Write) -> io::Result<()> {
    capture.write_to(&mut *out).map_err(|e| match e {
        CaptureError::Json(e) => io::Error::from(e),
        other => io::Error::other(other),
    })?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::capture;

    #[test]
    fn reads_back_unchanged() {
        let mut out = Vec::new();
        write(&capture(), &mut out).unwrap();
        assert_eq!(Capture::read_from(&out[..]).unwrap(), capture());
    }
}
