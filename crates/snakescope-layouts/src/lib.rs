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

/// The CPython versions snakescope reads, as error messages word them.
pub const SUPPORTED_VERSIONS: &str = "3.8 to 3.15, and free-threaded 3.13t";

/// Why no layout could be chosen for an interpreter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error("Python {0} is not supported (supported: {SUPPORTED_VERSIONS})")]
    Unsupported(PyVersion),
    #[error(
        "free-threaded Python {0} is not supported (of the free-threaded builds, only 3.13t is)"
    )]
    FreeThreaded(PyVersion),
    #[error("the interpreter's debug offsets are not valid: {0}")]
    BadDebugOffsets(String),
    /// A version newer than every known table whose table does not pass the
    /// checks when read with the newest known shape.
    #[error("Python {version} is newer than snakescope knows (3.8 to 3.{newest}) and its debug offsets table has changed ({why})")]
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
