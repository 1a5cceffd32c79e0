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

use crate::debug_tables::{V3_13, V3_14, V3_15};
use crate::layout::{
    CurrentFrame, FrameModel, FrameOwners, GilBase, GilOffsets, Layout, NativeId, Offsets,
    PyVersion,
};
use crate::LayoutError;

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

/// Largest struct size believed; a bigger one means a misread table.
const MAX_STRUCT: u64 = 1 << 24;

/// `PyObject`'s size with the GIL and in the free-threaded build.
const OBJECT_HEADER_SIZES: [u64; 2] = [16, 32];

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
    if free_threaded && version.minor != 13 {
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

/// A struct's name, its size, and the (offset, width) of the fields read from it.
type Group = (&'static str, u64, Vec<(u64, u64)>);

/// Every struct has a plausible size, every field read lies wholly inside its
/// struct (and inside what the walker reads of it), and the fields whose place
/// follows from the object header's size are where it puts them.
fn check_table(f: &Fields, word: &dyn Fn(usize) -> u64) -> Result<(), String> {
    let object = word(f.object_size);
    if !OBJECT_HEADER_SIZES.contains(&object) || word(f.object_type) != object - 8 {
        return Err(format!(
            "object header is `{object}` bytes with its type at `{}`",
            word(f.object_type)
        ));
    }
    // (field, width): a field of `width` bytes must end inside its struct.
    let p = |i: usize| (word(i), 8);
    let code_header = word(f.code_adaptive);
    let unicode_head = word(f.unicode_ascii_size);
    let groups: [Group; 9] = [
        (
            "runtime",
            word(f.runtime_size),
            vec![p(f.runtime_interpreters_head)],
        ),
        (
            "interpreter",
            word(f.interp_size),
            vec![
                p(f.interp_next),
                p(f.interp_threads_head),
                p(f.interp_imports_modules),
                (word(f.interp_gil_locked), 4),
                p(f.interp_gil_holder),
            ],
        ),
        (
            "thread",
            word(f.thread_size),
            vec![
                p(f.thread_next),
                p(f.thread_interp),
                p(f.thread_current_frame),
                p(f.thread_thread_id),
                p(f.thread_native_thread_id),
                p(f.thread_datastack_chunk),
            ],
        ),
        (
            "frame",
            word(f.frame_size),
            vec![
                p(f.frame_previous),
                p(f.frame_executable),
                p(f.frame_instr_ptr),
                (word(f.frame_owner), 1),
            ],
        ),
        ("code", word(f.code_size), vec![(code_header, 2)]),
        // What the walker reads of a code object: everything before the bytecode.
        (
            "code object header",
            code_header,
            vec![
                (object, 8),
                p(f.object_type),
                p(f.code_filename),
                p(f.code_name),
                p(f.code_qualname),
                p(f.code_linetable),
                (word(f.code_firstlineno), 4),
            ],
        ),
        (
            "dict",
            word(f.dict_size),
            vec![p(f.dict_keys), p(f.dict_values)],
        ),
        ("type", word(f.type_size), vec![p(f.type_flags)]),
        (
            "str",
            word(f.unicode_size),
            vec![
                (unicode_head, 16),
                p(f.unicode_length),
                (word(f.unicode_state), 1),
            ],
        ),
    ];
    for (name, size, fields) in groups {
        if size == 0 || size > MAX_STRUCT {
            return Err(format!("{name} struct size `{size}` is implausible"));
        }
        if let Some((at, _)) = fields
            .iter()
            .find(|&&(at, width)| at.saturating_add(width) > size)
        {
            return Err(format!(
                "{name} field offset `{at}` is outside its {size}-byte struct"
            ));
        }
    }
    // The walker reads a string's header in one 96-byte read.
    if unicode_head + 16 > 96 || word(f.unicode_length) + 8 > unicode_head {
        return Err(format!(
            "str header of `{unicode_head}` bytes is implausible"
        ));
    }
    // Fingerprints: these follow the object header in every version; a table
    // read with the wrong shape has other numbers here.
    let expect = [
        ("int lv_tag", word(f.long_lv_tag), object),
        ("int ob_digit", word(f.long_digit), object + 8),
        ("bytes ob_size", word(f.bytes_ob_size), object),
        ("bytes ob_sval", word(f.bytes_ob_sval), object + 16),
        ("str length", word(f.unicode_length), object),
        ("str state", word(f.unicode_state), object + 16),
    ];
    for (name, got, want) in expect {
        if got != want {
            return Err(format!("{name} offset is `{got}`, expected `{want}`"));
        }
    }
    if word(f.long_size) < object + 8 || word(f.bytes_size) < object + 16 {
        return Err("int or bytes struct size is implausible".into());
    }
    if let (Some(size), Some(keys)) = (f.heap_type_size, f.heap_type_cached_keys) {
        let (size, keys) = (word(size), word(keys));
        if keys.saturating_add(8) > size || size > MAX_STRUCT || keys < word(f.type_size) {
            return Err(format!(
                "heap type field offset `{keys}` is outside its {size}-byte struct"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table shaped like `fields`, with offsets from that version's headers
    /// (as the interpreter publishes them, GIL build).
    fn table(fields: &Fields, version: u64) -> Vec<u8> {
        let f = fields;
        let mut words = vec![0u64; f.words];
        let mut set = |i: usize, v: u64| words[i] = v;
        set(f.version, version);
        set(f.runtime_size, 100_000);
        set(f.runtime_interpreters_head, 632);
        set(f.interp_size, 400_000);
        set(f.interp_next, 8);
        set(f.interp_threads_head, 7200);
        set(f.interp_imports_modules, 7656);
        set(f.interp_gil_locked, 8000);
        set(f.interp_gil_holder, 8008);
        set(f.thread_size, 320);
        set(f.thread_next, 8);
        set(f.thread_interp, 16);
        set(f.thread_current_frame, 72);
        set(f.thread_thread_id, 152);
        set(f.thread_native_thread_id, 160);
        set(f.thread_datastack_chunk, 200);
        set(f.frame_size, 80);
        set(f.frame_previous, 8);
        set(f.frame_executable, 0);
        set(f.frame_instr_ptr, 56);
        set(f.frame_owner, 70);
        set(f.code_size, 208);
        set(f.code_filename, 112);
        set(f.code_name, 120);
        set(f.code_qualname, 128);
        set(f.code_linetable, 136);
        set(f.code_firstlineno, 68);
        set(f.code_adaptive, 200);
        set(f.object_size, 16);
        set(f.object_type, 8);
        set(f.type_size, 416);
        set(f.type_flags, 168);
        set(f.dict_size, 48);
        set(f.dict_keys, 32);
        set(f.dict_values, 40);
        set(f.long_size, 32);
        set(f.long_lv_tag, 16);
        set(f.long_digit, 24);
        set(f.bytes_size, 40);
        set(f.bytes_ob_size, 16);
        set(f.bytes_ob_sval, 32);
        set(f.unicode_size, 72);
        set(f.unicode_state, 32);
        set(f.unicode_length, 16);
        set(f.unicode_ascii_size, 40);
        if let (Some(size), Some(keys)) = (f.heap_type_size, f.heap_type_cached_keys) {
            set(size, 944);
            set(keys, 888);
        }
        let mut bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        bytes[..8].copy_from_slice(DEBUG_OFFSETS_COOKIE);
        bytes
    }

    fn put(t: &mut [u8], index: usize, value: u64) {
        t[index * 8..index * 8 + 8].copy_from_slice(&value.to_le_bytes());
    }

    #[test]
    fn accepts_each_known_table() {
        for (f, hex, name) in [
            (V3_13, 0x030d00f0, "3.13.0"),
            (V3_14, 0x030e0af0, "3.14.10"),
            (V3_15, 0x030f02f0, "3.15.2"),
        ] {
            let layout = parse_debug_offsets(&table(&f, hex)).unwrap();
            assert_eq!(layout.version.to_string(), name);
            assert!(layout.tested && !layout.free_threaded);
            assert_eq!(layout.offsets.frame_instr, 56);
            assert_eq!(layout.offsets.unicode_compact_size, 56);
            assert_eq!(layout.offsets.code_ob_size, 16);
            assert_eq!(layout.offsets.frame_code_tagged, f.minor >= 14);
            assert!(layout.offsets.gil.is_some());
            assert_eq!(layout.owners.shim_min, 3);
        }
        let l = parse_debug_offsets(&table(&V3_15, 0x030f02f0)).unwrap();
        assert_eq!(l.objects.unwrap().heap_type_cached_keys, 888);
    }

    #[test]
    fn the_read_covers_every_table() {
        assert!(TABLES.iter().all(|t| t.words * 8 <= DEBUG_OFFSETS_READ_LEN));
        assert!(TABLES.windows(2).all(|w| w[0].minor + 1 == w[1].minor));
    }

    #[test]
    fn refuses_a_wrong_cookie() {
        let mut t = table(&V3_14, 0x030e00f0);
        t[0] = b'X';
        assert!(matches!(
            parse_debug_offsets(&t),
            Err(LayoutError::BadDebugOffsets(_))
        ));
    }

    #[test]
    fn refuses_a_truncated_table() {
        let t = table(&V3_14, 0x030e00f0);
        for len in [0, 12, 100, t.len() - 1] {
            assert!(matches!(
                parse_debug_offsets(&t[..len]),
                Err(LayoutError::BadDebugOffsets(_))
            ));
        }
    }

    #[test]
    fn refuses_a_version_that_is_not_3_13_or_later() {
        for v in [0x030c01f0u64, 0x020d00f0, 0xffff_ffff_030d_00f0, 0] {
            let mut t = table(&V3_13, 0x030d00f0);
            put(&mut t, VERSION_WORD, v);
            let err = parse_debug_offsets(&t).unwrap_err();
            assert!(matches!(err, LayoutError::BadDebugOffsets(_)), "{err}");
        }
    }

    #[test]
    fn refuses_offsets_outside_their_struct() {
        let cases: [(usize, u64); 5] = [
            (V3_14.frame_previous, 4096),
            (V3_14.frame_owner, 80),
            (V3_14.thread_datastack_chunk, 316),
            (V3_14.code_name, 200),
            (V3_14.frame_size, 0),
        ];
        for (i, v) in cases {
            let mut t = table(&V3_14, 0x030e00f0);
            put(&mut t, i, v);
            let err = parse_debug_offsets(&t).unwrap_err();
            assert!(matches!(err, LayoutError::BadDebugOffsets(_)), "{err}");
        }
    }

    /// A corrupted table (random words where offsets should be) is refused
    /// with an error, whatever the corruption, and never panics.
    #[test]
    fn refuses_corrupted_tables_without_panicking() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for f in TABLES {
            for _ in 0..2000 {
                let mut t = table(&f, 0x030d00f0 | (u64::from(f.minor) << 16));
                let i = 2 + (next() % (f.words as u64 - 2)) as usize;
                let v = match next() % 4 {
                    0 => next(),
                    1 => next() % 1024,
                    2 => u64::MAX - next() % 16,
                    _ => 1 << (next() % 64),
                };
                put(&mut t, i, v);
                // Many words are not read at all; those that are must be
                // either still consistent or refused.
                if let Ok(l) = parse_debug_offsets(&t) {
                    let o = l.offsets;
                    assert!(o.frame_previous + 8 <= o.frame_size);
                    assert!(o.code_name + 8 <= o.code_adaptive);
                    assert!(o.thread_next + 8 <= o.thread_size);
                }
            }
        }
    }

    #[test]
    fn a_later_version_with_a_compatible_table_is_read_untested() {
        let layout = parse_debug_offsets(&table(&V3_15, 0x031000a1)).unwrap();
        assert_eq!(layout.version.to_string(), "3.16.0a1");
        assert!(!layout.tested);
    }

    #[test]
    fn a_later_version_with_a_moved_table_is_refused_with_one_message() {
        // 3.16 inserts a word in the thread state: everything after shifts.
        let good = table(&V3_15, 0x031000f0);
        let at = V3_15.thread_next * 8;
        let mut t = good[..at].to_vec();
        t.extend_from_slice(&24u64.to_le_bytes());
        t.extend_from_slice(&good[at..good.len() - 8]);
        let err = parse_debug_offsets(&t).unwrap_err();
        assert!(matches!(err, LayoutError::UnknownTable { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.starts_with("Python 3.16.0 is newer than snakescope knows (3.8 to 3.15)"),
            "{text}"
        );
        assert!(!text.contains('\n'));
        // Shifted anywhere before the fingerprints, the same.
        for at in [
            V3_15.runtime_size,
            V3_15.interp_next,
            V3_15.code_size,
            V3_15.dict_keys,
        ] {
            let mut t = good[..at * 8].to_vec();
            t.extend_from_slice(&0u64.to_le_bytes());
            t.extend_from_slice(&good[at * 8..good.len() - 8]);
            assert!(parse_debug_offsets(&t).is_err(), "inserted at word {at}");
        }
    }

    #[test]
    fn free_threaded_3_13_is_read_without_a_gil() {
        let mut t = table(&V3_13, 0x030d05f0);
        put(&mut t, V3_13.free_threaded, 1);
        // The free-threaded object header is 32 bytes; everything after it moves.
        put(&mut t, V3_13.object_size, 32);
        put(&mut t, V3_13.object_type, 24);
        put(&mut t, V3_13.long_lv_tag, 32);
        put(&mut t, V3_13.long_digit, 40);
        put(&mut t, V3_13.long_size, 48);
        put(&mut t, V3_13.bytes_ob_size, 32);
        put(&mut t, V3_13.bytes_ob_sval, 48);
        put(&mut t, V3_13.bytes_size, 56);
        put(&mut t, V3_13.unicode_length, 32);
        put(&mut t, V3_13.unicode_state, 48);
        put(&mut t, V3_13.unicode_ascii_size, 56);
        put(&mut t, V3_13.unicode_size, 88);
        let layout = parse_debug_offsets(&t).unwrap();
        assert!(layout.free_threaded);
        assert_eq!(layout.offsets.gil, None);
        assert_eq!(layout.offsets.code_ob_size, 32);
        let objects = layout.objects.unwrap();
        assert_eq!(objects.object_header, 32);
        assert_eq!(objects.managed_dict, 8);
        // Not 0 or 1: refused.
        put(&mut t, V3_13.free_threaded, 7);
        assert!(parse_debug_offsets(&t).is_err());
    }

    #[test]
    fn free_threaded_3_14_is_refused() {
        let mut t = table(&V3_14, 0x030e00f0);
        put(&mut t, V3_14.free_threaded, 1);
        assert_eq!(
            parse_debug_offsets(&t).unwrap_err().to_string(),
            "free-threaded Python 3.14.0 is not supported (of the free-threaded builds, only 3.13t is)"
        );
    }
}
