//! CPython memory layouts, chosen once per target.
//!
//! 3.11 and 3.12 use offsets generated from their official headers
//! (`generate/generate.sh`, one file per version); 3.13+ publish their own
//! offsets in `_Py_DebugOffsets` at the start of `_PyRuntime`, read by
//! [`debug_offsets`]. Everything else in snakescope sees only [`Layout`]:
//! version `match`es live in this crate and nowhere else.

mod debug_offsets;
mod layout;
mod objects;
mod v3_11;
mod v3_12;

pub use debug_offsets::{parse_debug_offsets, DEBUG_OFFSETS_COOKIE, DEBUG_OFFSETS_READ_LEN};
pub use layout::{
    CurrentFrame, GilBase, GilOffsets, Layout, Offsets, PyVersion, FRAME_OWNED_BY_CSTACK,
    FRAME_OWNED_BY_GENERATOR,
};
pub use objects::{InstanceValues, LongDigits, ObjectOffsets};

/// Why no layout could be chosen for an interpreter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error("Python {0} is not supported (supported: 3.11, 3.12, 3.13)")]
    Unsupported(PyVersion),
    #[error("free-threaded Python {0} is not supported yet")]
    FreeThreaded(PyVersion),
    #[error("the interpreter's debug offsets are not valid: {0}")]
    BadDebugOffsets(String),
}

/// The versions whose layout comes from generated offsets rather than from
/// the interpreter's own `_Py_DebugOffsets`.
pub fn static_layout(version: PyVersion) -> Result<Layout, LayoutError> {
    let (offsets, objects) = match (version.major, version.minor) {
        (3, 11) => (v3_11::OFFSETS, objects::V3_11),
        (3, 12) => (v3_12::OFFSETS, objects::V3_12),
        _ => return Err(LayoutError::Unsupported(version)),
    };
    Ok(Layout {
        version,
        free_threaded: false,
        offsets,
        objects: Some(objects),
    })
}

/// Whether this version publishes `_Py_DebugOffsets` (3.13 and later).
pub fn has_debug_offsets(version: PyVersion) -> bool {
    (version.major, version.minor) >= (3, 13)
}
