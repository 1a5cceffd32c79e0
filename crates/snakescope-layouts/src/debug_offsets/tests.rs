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
