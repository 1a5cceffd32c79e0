//! CPython memory layouts, chosen once per target.
//!
//! 3.8 to 3.12 use offsets generated from their official headers
//! (`generate/generate.sh`, one file per version); 3.13+ publish their own
//! offsets in `_Py_DebugOffsets` at the start of `_PyRuntime`, read by
//! [`debug_offsets`] with the table shape of each minor version
//! (`generate/debug_tables.sh`). Everything else in snakescope sees only
//! [`Layout`]: version `match`es live in this crate and nowhere else.

mod debug_offsets;
mod debug_tables;
mod layout;
mod objects;
mod v3_10;
mod v3_11;
mod v3_12;
mod v3_8;
mod v3_9;

pub use debug_offsets::{
    newest_known_minor, parse_debug_offsets, DEBUG_OFFSETS_COOKIE, DEBUG_OFFSETS_READ_LEN,
};
pub use layout::{
    CurrentFrame, FrameModel, FrameOwners, GilBase, GilOffsets, Lasti, Layout, LineFormat,
    NativeId, ObjectFrames, Offsets, PyVersion, UnicodeState, FRAME_CODE_TAG_MASK,
    FRAME_OWNED_BY_CSTACK, FRAME_OWNED_BY_GENERATOR, GLIBC_PTHREAD_TID,
};
pub use objects::{DictKeys, InstanceValues, LongDigits, ObjectOffsets};

/// The oldest minor version of CPython 3 snakescope reads; older ones are
/// refused.
pub const OLDEST_MINOR: u8 = 8;

/// The one free-threaded minor version snakescope reads (3.13t; the walker
/// does not follow 3.14t's per-thread bytecode copies yet).
pub const FREE_THREADED_MINOR: u8 = 13;

/// The minor versions of CPython 3 snakescope reads: [`OLDEST_MINOR`] to the
/// newest known `_Py_DebugOffsets` table.
pub fn supported_minors() -> std::ops::RangeInclusive<u8> {
    OLDEST_MINOR..=newest_known_minor()
}

// The words of the messages, as literals so that `concat!` can join them;
// a unit test holds them to the numbers above.
macro_rules! gil_versions {
    () => {
        "3.8 to 3.15"
    };
}
macro_rules! free_threaded_versions {
    () => {
        "3.13t"
    };
}

/// The CPython versions with a GIL snakescope reads, as messages word them.
pub const SUPPORTED_GIL_VERSIONS: &str = gil_versions!();

/// The free-threaded builds snakescope reads, as messages word them.
pub const SUPPORTED_FREE_THREADED: &str = free_threaded_versions!();

/// The CPython versions snakescope reads, as error messages word them.
pub const SUPPORTED_VERSIONS: &str = concat!(
    gil_versions!(),
    ", and free-threaded ",
    free_threaded_versions!()
);

/// Why no layout could be chosen for an interpreter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error("Python {0} is not supported (supported: {SUPPORTED_VERSIONS})")]
    Unsupported(PyVersion),
    #[error(
        "free-threaded Python {0} is not supported (of the free-threaded builds, only {SUPPORTED_FREE_THREADED} is)"
    )]
    FreeThreaded(PyVersion),
    #[error("the interpreter's debug offsets are not valid: {0}")]
    BadDebugOffsets(String),
    /// A version newer than every known table whose table does not pass the
    /// checks when read with the newest known shape.
    #[error("Python {version} is newer than snakescope knows (3.{OLDEST_MINOR} to 3.{newest}) and its debug offsets table has changed ({why})")]
    UnknownTable {
        version: PyVersion,
        newest: u8,
        why: String,
    },
}

/// The versions whose layout comes from generated offsets rather than from
/// the interpreter's own `_Py_DebugOffsets`.
pub fn static_layout(version: PyVersion) -> Result<Layout, LayoutError> {
    let legacy = |frames| {
        (
            FrameModel::Objects(frames),
            NativeId::PthreadTid(GLIBC_PTHREAD_TID),
        )
    };
    let modern = (FrameModel::Interpreter, NativeId::Field);
    let (offsets, objects, (frames, native_id)) = match (version.major, version.minor) {
        (3, 8) => (v3_8::OFFSETS, Some(objects::V3_8), legacy(v3_8::FRAMES)),
        (3, 9) => (v3_9::OFFSETS, Some(objects::V3_9), legacy(v3_9::FRAMES)),
        (3, 10) => (v3_10::OFFSETS, Some(objects::V3_10), legacy(v3_10::FRAMES)),
        (3, 11) => (v3_11::OFFSETS, Some(objects::V3_11), modern),
        (3, 12) => (v3_12::OFFSETS, Some(objects::V3_12), modern),
        _ => return Err(LayoutError::Unsupported(version)),
    };
    Ok(Layout {
        version,
        free_threaded: false,
        offsets,
        objects,
        frames,
        native_id,
        owners: FrameOwners {
            generator: FRAME_OWNED_BY_GENERATOR,
            // 3.12's shim frames (3.11 has none).
            shim_min: FRAME_OWNED_BY_CSTACK,
        },
        tested: true,
    })
}

/// Whether this version publishes `_Py_DebugOffsets` (3.13 and later).
pub fn has_debug_offsets(version: PyVersion) -> bool {
    (version.major, version.minor) >= (3, 13)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_supported_versions_say_what_the_tables_read() {
        let newest = newest_known_minor();
        assert_eq!(
            SUPPORTED_GIL_VERSIONS,
            format!("3.{OLDEST_MINOR} to 3.{newest}")
        );
        assert_eq!(SUPPORTED_FREE_THREADED, format!("3.{FREE_THREADED_MINOR}t"));
        assert_eq!(
            SUPPORTED_VERSIONS,
            format!("{SUPPORTED_GIL_VERSIONS}, and free-threaded {SUPPORTED_FREE_THREADED}")
        );
        let oldest = PyVersion::minor_only(3, OLDEST_MINOR);
        assert!(static_layout(oldest).is_ok());
        let older = PyVersion::minor_only(3, OLDEST_MINOR - 1);
        assert_eq!(static_layout(older), Err(LayoutError::Unsupported(older)));
        assert_eq!(supported_minors(), OLDEST_MINOR..=newest);
    }

    #[test]
    fn messages_name_the_supported_versions() {
        let v = PyVersion::minor_only(3, 14);
        assert_eq!(
            LayoutError::FreeThreaded(v).to_string(),
            "free-threaded Python 3.14 is not supported (of the free-threaded builds, only 3.13t is)"
        );
        let unknown = LayoutError::UnknownTable {
            version: PyVersion::minor_only(3, 16),
            newest: 15,
            why: "x".into(),
        };
        assert_eq!(
            unknown.to_string(),
            "Python 3.16 is newer than snakescope knows (3.8 to 3.15) and its debug offsets table has changed (x)"
        );
        assert_eq!(
            LayoutError::Unsupported(PyVersion::minor_only(3, 7)).to_string(),
            "Python 3.7 is not supported (supported: 3.8 to 3.15, and free-threaded 3.13t)"
        );
    }
}
