//! The checks a `_Py_DebugOffsets` table must pass before it is used: a
//! plausible object header, every struct of a plausible size with the fields
//! read wholly inside it, a `str` header the walker can read in one go, and
//! fingerprints that a table read with the wrong shape cannot pass.

use super::Fields;

/// Largest struct size believed; a bigger one means a misread table.
const MAX_STRUCT: u64 = 1 << 24;

/// `PyObject`'s size with the GIL and in the free-threaded build.
const OBJECT_HEADER_SIZES: [u64; 2] = [16, 32];

/// A struct's name, its size, and the (offset, width) of the fields read from it.
type Group = (&'static str, u64, Vec<(u64, u64)>);

/// Every struct has a plausible size, every field read lies wholly inside its
/// struct (and inside what the walker reads of it), and the fields whose place
/// follows from the object header's size are where it puts them.
pub(super) fn check_table(f: &Fields, word: &dyn Fn(usize) -> u64) -> Result<(), String> {
    let object = check_object_header(f, word)?;
    check_groups(struct_groups(f, word, object))?;
    check_str_header(f, word)?;
    check_fingerprints(f, word, object)?;
    check_heap_type(f, word)
}

/// The object header's size, when it is one `PyObject` can have and its
/// type pointer is its last word.
fn check_object_header(f: &Fields, word: &dyn Fn(usize) -> u64) -> Result<u64, String> {
    let object = word(f.object_size);
    if !OBJECT_HEADER_SIZES.contains(&object) || word(f.object_type) != object - 8 {
        return Err(format!(
            "object header is `{object}` bytes with its type at `{}`",
            word(f.object_type)
        ));
    }
    Ok(object)
}

/// Each struct the walker reads, with the (offset, width) of the fields it
/// reads of it: a field of `width` bytes must end inside its struct.
fn struct_groups(f: &Fields, word: &dyn Fn(usize) -> u64, object: u64) -> [Group; 9] {
    let p = |i: usize| (word(i), 8);
    let code_header = word(f.code_adaptive);
    let unicode_head = word(f.unicode_ascii_size);
    [
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
    ]
}

/// Every struct of a plausible size, with its fields wholly inside it.
fn check_groups(groups: [Group; 9]) -> Result<(), String> {
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
    Ok(())
}

/// The walker reads a string's header in one 96-byte read.
fn check_str_header(f: &Fields, word: &dyn Fn(usize) -> u64) -> Result<(), String> {
    let unicode_head = word(f.unicode_ascii_size);
    if unicode_head + 16 > 96 || word(f.unicode_length) + 8 > unicode_head {
        return Err(format!(
            "str header of `{unicode_head}` bytes is implausible"
        ));
    }
    Ok(())
}

/// Fingerprints: these follow the object header in every version; a table
/// read with the wrong shape has other numbers here.
fn check_fingerprints(f: &Fields, word: &dyn Fn(usize) -> u64, object: u64) -> Result<(), String> {
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
    Ok(())
}

/// The heap type's cached keys, when the table has them, inside the heap
/// type and past the type it extends.
fn check_heap_type(f: &Fields, word: &dyn Fn(usize) -> u64) -> Result<(), String> {
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
