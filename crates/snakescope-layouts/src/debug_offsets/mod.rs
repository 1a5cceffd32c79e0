//! Reads `_Py_DebugOffsets`, the table CPython 3.13+ places at the start of
//! `_PyRuntime` so that out-of-process tools need no headers.
//!
//! The table is a sequence of `uint64_t`; which field sits at which index is
//! itself versioned (3.14 and 3.15 each inserted fields), so each known minor
//! version has its own index map, generated from its headers into
//! `debug_tables.rs`. A table whose cookie, version or offsets do not make
//! sense is refused, never used: reading garbage would produce
//! plausible-looking wrong stacks.
//!
//! A version newer than the newest known table (say 3.16) is read with that
//! newest shape only when every check passes, including fingerprints that a
//! shifted table cannot pass (the object header's size at `pyobject.size`, and
//! the fields of `int`, `bytes` and `str` that follow it); the layout is then
//! marked untested ([`Layout::tested`]) so the caller can verify it against the
//! live interpreter before use and say so.
//!
//! `checks` holds the checks every table must pass; this module picks the
//! table's shape and turns it into a [`Layout`].

mod checks;
#[cfg(test)]
mod tests;

use crate::debug_tables::{V3_13, V3_14, V3_15};
use crate::layout::{
    CurrentFrame, FrameModel, FrameOwners, GilBase, GilOffsets, Layout, NativeId, Offsets,
    PyVersion,
};
use crate::{LayoutError, FREE_THREADED_MINOR};
use checks::check_table;

/// The first eight bytes of `_PyRuntime` on 3.13+.
pub const DEBUG_OFFSETS_COOKIE: &[u8; 8] = b"xdebugpy";

/// Where the fields snakescope reads sit in one minor version's table, in
/// `u64` words, and the frame-owner values of the same headers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields {
    pub minor: u8,
    /// `sizeof(_Py_DebugOffsets) / 8`.
    pub words: usize,
    pub version: usize,
    pub free_threaded: usize,
    pub runtime_size: usize,
    pub runtime_interpreters_head: usize,
    pub interp_size: usize,
    pub interp_next: usize,
    pub interp_threads_head: usize,
    pub interp_imports_modules: usize,
    pub interp_gil_locked: usize,
    pub interp_gil_holder: usize,
    pub thread_size: usize,
    pub thread_next: usize,
    pub thread_interp: usize,
    pub thread_current_frame: usize,
    pub thread_thread_id: usize,
    pub thread_native_thread_id: usize,
    pub thread_datastack_chunk: usize,
    pub frame_size: usize,
    pub frame_previous: usize,
    pub frame_executable: usize,
    pub frame_instr_ptr: usize,
    pub frame_owner: usize,
    pub code_size: usize,
    pub code_filename: usize,
    pub code_name: usize,
    pub code_qualname: usize,
    pub code_linetable: usize,
    pub code_firstlineno: usize,
    pub code_adaptive: usize,
    pub object_size: usize,
    pub object_type: usize,
    pub type_size: usize,
    pub type_flags: usize,
    pub dict_size: usize,
    pub dict_keys: usize,
    pub dict_values: usize,
    pub long_size: usize,
    pub long_lv_tag: usize,
    pub long_digit: usize,
    pub bytes_size: usize,
    pub bytes_ob_size: usize,
    pub bytes_ob_sval: usize,
    pub unicode_size: usize,
    pub unicode_state: usize,
    pub unicode_length: usize,
    pub unicode_ascii_size: usize,
    /// `heap_type_object` (3.15+).
    pub heap_type_size: Option<usize>,
    pub heap_type_cached_keys: Option<usize>,
    pub owner_generator: u8,
    /// Owner values from this one up are frames of the interpreter's entry
    /// point or of C code (`FRAME_OWNED_BY_CSTACK` on 3.13;
    /// `FRAME_OWNED_BY_INTERPRETER` and, on 3.14, `FRAME_OWNED_BY_CSTACK`).
    pub owner_shim_min: u8,
    /// Tag bits of `f_executable` (a `_PyStackRef` on 3.14+), in the build
    /// with the GIL (the free-threaded build uses fewer).
    pub executable_tag_bits: u64,
}

/// Every known table, oldest first.
const TABLES: [Fields; 3] = [V3_13, V3_14, V3_15];

/// The word of `version` (right after the 8-byte cookie in every version).
const VERSION_WORD: usize = 1;

/// The newest minor version whose table shape is known.
pub fn newest_known_minor() -> u8 {
    TABLES[TABLES.len() - 1].minor
}

const fn max_words() -> usize {
    let mut i = 0;
    let mut max = 0;
    while i < TABLES.len() {
        if TABLES[i].words > max {
            max = TABLES[i].words;
        }
        i += 1;
    }
    max
}

/// Bytes to read from the start of `_PyRuntime` to parse any known table.
pub const DEBUG_OFFSETS_READ_LEN: usize = max_words() * 8;

/// Parses the table read from the start of `_PyRuntime`.
pub fn parse_debug_offsets(bytes: &[u8]) -> Result<Layout, LayoutError> {
    let bad = |why: String| LayoutError::BadDebugOffsets(why);
    if bytes.len() < 16 {
        return Err(bad(format!("table is {} bytes", bytes.len())));
    }
    if &bytes[..8] != DEBUG_OFFSETS_COOKIE {
        return Err(bad("cookie is not `xdebugpy`".into()));
    }
    let raw_version = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes"));
    let version = PyVersion::from_hex(raw_version);
    if version.major != 3 || version.minor < 13 || raw_version >> 32 != 0 {
        return Err(bad(format!(
            "version field `{raw_version:#x}` is not 3.13 or later"
        )));
    }
    let (fields, tested) = match TABLES.iter().find(|t| t.minor == version.minor) {
        Some(t) => (*t, true),
        None => (TABLES[TABLES.len() - 1], false),
    };
    debug_assert_eq!(fields.version, VERSION_WORD);
    if bytes.len() < fields.words * 8 {
        return Err(bad(format!(
            "table is {} bytes, expected {}",
            bytes.len(),
            fields.words * 8
        )));
    }
    let word = |i: usize| u64::from_le_bytes(bytes[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
    // A later version's table is trusted only as far as the checks go: say
    // so when they fail, rather than report a "bad" table.
    let refuse = |why: String| {
        if tested {
            bad(why)
        } else {
            LayoutError::UnknownTable {
                version,
                newest: newest_known_minor(),
                why,
            }
        }
    };
    let free_threaded = match word(fields.free_threaded) {
        0 => false,
        1 => true,
        other => return Err(refuse(format!("free_threaded field is `{other}`"))),
    };
    if free_threaded && version.minor != FREE_THREADED_MINOR {
        return Err(LayoutError::FreeThreaded(version));
    }
    check_table(&fields, &word).map_err(refuse)?;
    let offsets = offsets(&fields, &word, free_threaded);
    let objects = crate::objects::from_debug_offsets(
        word(fields.interp_imports_modules),
        word(fields.dict_keys),
        word(fields.dict_values),
        word(fields.type_flags),
        word(fields.object_size),
        (word(fields.long_lv_tag), word(fields.long_digit)),
        fields.heap_type_cached_keys.map(word),
        free_threaded,
    );
    Ok(Layout {
        version,
        free_threaded,
        offsets,
        objects: Some(objects),
        owners: FrameOwners {
            generator: fields.owner_generator,
            shim_min: fields.owner_shim_min,
        },
        frames: FrameModel::Interpreter,
        native_id: NativeId::Field,
        tested,
    })
}

fn offsets(f: &Fields, word: &dyn Fn(usize) -> u64, free_threaded: bool) -> Offsets {
    let ascii_size = word(f.unicode_ascii_size);
    Offsets {
        runtime_interpreters_head: word(f.runtime_interpreters_head),
        // The free-threaded build has a GIL structure, disabled unless asked
        // for at start-up: snakescope treats it as having none.
        gil: (!free_threaded).then(|| GilOffsets {
            base: GilBase::Interpreter,
            locked: word(f.interp_gil_locked),
            holder: word(f.interp_gil_holder),
        }),
        interp_next: word(f.interp_next),
        interp_threads_head: word(f.interp_threads_head),
        thread_size: word(f.thread_size),
        thread_next: word(f.thread_next),
        thread_interp: word(f.thread_interp),
        current_frame: CurrentFrame::Direct(word(f.thread_current_frame)),
        thread_thread_id: word(f.thread_thread_id),
        thread_native_thread_id: word(f.thread_native_thread_id),
        thread_datastack_chunk: word(f.thread_datastack_chunk),
        thread_datastack_top: None,
        // `_PyStackChunk` is `previous`, `size`, `top`, then the data (stable since 3.11).
        stack_chunk_data: 24,
        frame_size: word(f.frame_size),
        frame_previous: word(f.frame_previous),
        frame_code: word(f.frame_executable),
        frame_instr: word(f.frame_instr_ptr),
        frame_owner: word(f.frame_owner),
        frame_code_tagged: f.executable_tag_bits != 0,
        // `ob_size` of a variable-size object follows the object header.
        code_ob_size: word(f.object_size),
        code_filename: word(f.code_filename),
        code_name: word(f.code_name),
        code_qualname: word(f.code_qualname),
        code_linetable: word(f.code_linetable),
        code_firstlineno: word(f.code_firstlineno),
        code_adaptive: word(f.code_adaptive),
        object_type: word(f.object_type),
        unicode_state: word(f.unicode_state),
        unicode_length: word(f.unicode_length),
        unicode_ascii_size: ascii_size,
        // PyCompactUnicodeObject adds `utf8_length` and `utf8` to PyASCIIObject.
        unicode_compact_size: ascii_size + 16,
        bytes_size: word(f.bytes_ob_size),
        bytes_sval: word(f.bytes_ob_sval),
    }
}
