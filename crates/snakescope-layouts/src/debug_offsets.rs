//! Reads `_Py_DebugOffsets`, the table CPython 3.13+ places at the start of
//! `_PyRuntime` so that out-of-process tools need no headers.
//!
//! The table is a sequence of `uint64_t`; which field sits at which index is
//! itself versioned, so each supported minor version has its own index map
//! here. A table whose cookie, version or offsets do not make sense is refused,
//! never used: reading garbage would produce plausible-looking wrong stacks.

use crate::layout::{CurrentFrame, GilBase, GilOffsets, Layout, Offsets, PyVersion};
use crate::LayoutError;

/// The first eight bytes of `_PyRuntime` on 3.13+.
pub const DEBUG_OFFSETS_COOKIE: &[u8; 8] = b"xdebugpy";

/// Bytes to read from the start of `_PyRuntime` to parse the table.
pub const DEBUG_OFFSETS_READ_LEN: usize = 73 * 8;

/// Index (in `u64` words) of each field of the 3.13 table, as declared in
/// `Include/internal/pycore_runtime.h`.
mod v3_13 {
    pub const VERSION: usize = 1;
    pub const FREE_THREADED: usize = 2;
    pub const RUNTIME_SIZE: usize = 3;
    pub const RUNTIME_INTERPRETERS_HEAD: usize = 5;
    pub const INTERP_SIZE: usize = 6;
    pub const INTERP_NEXT: usize = 8;
    pub const INTERP_THREADS_HEAD: usize = 9;
    pub const INTERP_IMPORTS_MODULES: usize = 11;
    pub const INTERP_GIL_LOCKED: usize = 17;
    pub const INTERP_GIL_HOLDER: usize = 18;
    pub const THREAD_SIZE: usize = 19;
    pub const THREAD_NEXT: usize = 21;
    pub const THREAD_INTERP: usize = 22;
    pub const THREAD_CURRENT_FRAME: usize = 23;
    pub const THREAD_THREAD_ID: usize = 24;
    pub const THREAD_NATIVE_THREAD_ID: usize = 25;
    pub const THREAD_DATASTACK_CHUNK: usize = 26;
    pub const FRAME_SIZE: usize = 28;
    pub const FRAME_PREVIOUS: usize = 29;
    pub const FRAME_EXECUTABLE: usize = 30;
    pub const FRAME_INSTR_PTR: usize = 31;
    pub const FRAME_OWNER: usize = 33;
    pub const CODE_SIZE: usize = 34;
    pub const CODE_FILENAME: usize = 35;
    pub const CODE_NAME: usize = 36;
    pub const CODE_QUALNAME: usize = 37;
    pub const CODE_LINETABLE: usize = 38;
    pub const CODE_FIRSTLINENO: usize = 39;
    pub const CODE_ADAPTIVE: usize = 43;
    pub const OBJECT_TYPE: usize = 45;
    pub const TYPE_FLAGS: usize = 49;
    pub const DICT_KEYS: usize = 57;
    pub const DICT_VALUES: usize = 58;
    pub const BYTES_OB_SIZE: usize = 65;
    pub const BYTES_OB_SVAL: usize = 66;
    pub const UNICODE_STATE: usize = 68;
    pub const UNICODE_LENGTH: usize = 69;
    pub const UNICODE_ASCII_SIZE: usize = 70;
}

/// Parses the table read from the start of `_PyRuntime`.
pub fn parse_debug_offsets(bytes: &[u8]) -> Result<Layout, LayoutError> {
    let bad = |why: String| LayoutError::BadDebugOffsets(why);
    if bytes.len() < DEBUG_OFFSETS_READ_LEN {
        return Err(bad(format!(
            "table is {} bytes, expected {DEBUG_OFFSETS_READ_LEN}",
            bytes.len()
        )));
    }
    if &bytes[..8] != DEBUG_OFFSETS_COOKIE {
        return Err(bad("cookie is not `xdebugpy`".into()));
    }
    let word = |i: usize| u64::from_le_bytes(bytes[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
    let version = PyVersion::from_hex(word(v3_13::VERSION));
    if version.major != 3 || version.minor < 13 {
        return Err(bad(format!(
            "version field `{:#x}` is not 3.13 or later",
            word(v3_13::VERSION)
        )));
    }
    if version.minor != 13 {
        // A later table may have moved fields: refuse rather than misread it.
        return Err(LayoutError::Unsupported(version));
    }
    if word(v3_13::FREE_THREADED) != 0 {
        return Err(LayoutError::FreeThreaded(version));
    }
    let offsets = offsets_3_13(&word);
    check_within(&word, &offsets).map_err(bad)?;
    let objects = crate::objects::v3_13(
        word(v3_13::INTERP_IMPORTS_MODULES),
        word(v3_13::DICT_KEYS),
        word(v3_13::DICT_VALUES),
        word(v3_13::TYPE_FLAGS),
    );
    Ok(Layout {
        version,
        free_threaded: false,
        offsets,
        objects: Some(objects),
    })
}

fn offsets_3_13(word: &dyn Fn(usize) -> u64) -> Offsets {
    use v3_13::*;
    let ascii_size = word(UNICODE_ASCII_SIZE);
    Offsets {
        runtime_interpreters_head: word(RUNTIME_INTERPRETERS_HEAD),
        gil: Some(GilOffsets {
            base: GilBase::Interpreter,
            locked: word(INTERP_GIL_LOCKED),
            holder: word(INTERP_GIL_HOLDER),
        }),
        interp_next: word(INTERP_NEXT),
        interp_threads_head: word(INTERP_THREADS_HEAD),
        thread_size: word(THREAD_SIZE),
        thread_next: word(THREAD_NEXT),
        thread_interp: word(THREAD_INTERP),
        current_frame: CurrentFrame::Direct(word(THREAD_CURRENT_FRAME)),
        thread_thread_id: word(THREAD_THREAD_ID),
        thread_native_thread_id: word(THREAD_NATIVE_THREAD_ID),
        thread_datastack_chunk: word(THREAD_DATASTACK_CHUNK),
        thread_datastack_top: None,
        // `_PyStackChunk` is `previous`, `size`, `top`, then the data (stable since 3.11).
        stack_chunk_data: 24,
        frame_size: word(FRAME_SIZE),
        frame_previous: word(FRAME_PREVIOUS),
        frame_code: word(FRAME_EXECUTABLE),
        frame_instr: word(FRAME_INSTR_PTR),
        frame_owner: word(FRAME_OWNER),
        frame_code_tagged: false,
        code_ob_size: 16,
        code_filename: word(CODE_FILENAME),
        code_name: word(CODE_NAME),
        code_qualname: word(CODE_QUALNAME),
        code_linetable: word(CODE_LINETABLE),
        code_firstlineno: word(CODE_FIRSTLINENO),
        code_adaptive: word(CODE_ADAPTIVE),
        object_type: word(OBJECT_TYPE),
        unicode_state: word(UNICODE_STATE),
        unicode_length: word(UNICODE_LENGTH),
        unicode_ascii_size: ascii_size,
        // PyCompactUnicodeObject adds `utf8_length` and `utf8` to PyASCIIObject.
        unicode_compact_size: ascii_size + 16,
        bytes_size: word(BYTES_OB_SIZE),
        bytes_sval: word(BYTES_OB_SVAL),
    }
}

/// Every field offset must fall inside its struct, and structs must have sane sizes.
fn check_within(word: &dyn Fn(usize) -> u64, o: &Offsets) -> Result<(), String> {
    use v3_13::*;
    let groups: [(&str, u64, &[u64]); 5] = [
        (
            "runtime",
            word(RUNTIME_SIZE),
            &[o.runtime_interpreters_head],
        ),
        (
            "interpreter",
            word(INTERP_SIZE),
            &[o.interp_next, o.interp_threads_head],
        ),
        (
            "thread",
            o.thread_size,
            &[o.thread_next, o.thread_interp, o.thread_native_thread_id],
        ),
        (
            "frame",
            o.frame_size,
            &[o.frame_previous, o.frame_code, o.frame_instr, o.frame_owner],
        ),
        (
            "code",
            word(CODE_SIZE),
            &[
                o.code_filename,
                o.code_name,
                o.code_linetable,
                o.code_adaptive,
            ],
        ),
    ];
    for (name, size, fields) in groups {
        if size == 0 || size > (1 << 24) {
            return Err(format!("{name} struct size `{size}` is implausible"));
        }
        if let Some(f) = fields.iter().find(|&&f| f >= size) {
            return Err(format!(
                "{name} field offset `{f}` is outside its {size}-byte struct"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table shaped like 3.13.0's, with the offsets its headers give.
    fn table_3_13() -> Vec<u8> {
        let mut words = vec![0u64; DEBUG_OFFSETS_READ_LEN / 8];
        words[v3_13::VERSION] = 0x030d00f0;
        words[v3_13::RUNTIME_SIZE] = 100_000;
        words[v3_13::RUNTIME_INTERPRETERS_HEAD] = 632;
        words[v3_13::INTERP_SIZE] = 400_000;
        words[v3_13::INTERP_THREADS_HEAD] = 7200;
        words[v3_13::THREAD_SIZE] = 320;
        words[v3_13::THREAD_NEXT] = 8;
        words[v3_13::THREAD_INTERP] = 16;
        words[v3_13::THREAD_NATIVE_THREAD_ID] = 160;
        words[v3_13::FRAME_SIZE] = 80;
        words[v3_13::FRAME_PREVIOUS] = 8;
        words[v3_13::FRAME_INSTR_PTR] = 56;
        words[v3_13::FRAME_OWNER] = 70;
        words[v3_13::CODE_SIZE] = 208;
        words[v3_13::CODE_ADAPTIVE] = 200;
        words[v3_13::UNICODE_ASCII_SIZE] = 40;
        let mut bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        bytes[..8].copy_from_slice(DEBUG_OFFSETS_COOKIE);
        bytes
    }

    #[test]
    fn accepts_a_3_13_table() {
        let layout = parse_debug_offsets(&table_3_13()).unwrap();
        assert_eq!(layout.version.to_string(), "3.13.0");
        assert_eq!(layout.offsets.frame_instr, 56);
        assert_eq!(layout.offsets.unicode_compact_size, 56);
    }

    #[test]
    fn refuses_a_wrong_cookie() {
        let mut t = table_3_13();
        t[0] = b'X';
        assert!(matches!(
            parse_debug_offsets(&t),
            Err(LayoutError::BadDebugOffsets(_))
        ));
    }

    #[test]
    fn refuses_a_truncated_table() {
        let t = table_3_13();
        assert!(matches!(
            parse_debug_offsets(&t[..100]),
            Err(LayoutError::BadDebugOffsets(_))
        ));
    }

    #[test]
    fn refuses_offsets_outside_their_struct() {
        let mut t = table_3_13();
        let i = v3_13::FRAME_PREVIOUS * 8;
        t[i..i + 8].copy_from_slice(&4096u64.to_le_bytes());
        let err = parse_debug_offsets(&t).unwrap_err();
        assert!(err.to_string().contains("outside"), "{err}");
    }

    #[test]
    fn refuses_an_unknown_later_table_and_free_threading() {
        let mut t = table_3_13();
        t[8..16].copy_from_slice(&0x031000f0u64.to_le_bytes());
        assert_eq!(
            parse_debug_offsets(&t).unwrap_err().to_string(),
            "Python 3.16.0 is not supported (supported: 3.11, 3.12, 3.13)"
        );
        let mut t = table_3_13();
        t[16] = 1;
        assert!(matches!(
            parse_debug_offsets(&t),
            Err(LayoutError::FreeThreaded(_))
        ));
    }
}
