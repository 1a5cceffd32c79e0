//! Offsets for reading a few objects (dicts, modules, ints, instance
//! attributes), used to find `threading`'s thread names. 3.11 and 3.12 values
//! are checked against their headers by `generate/object_offsets.c`; 3.13+
//! take what `_Py_DebugOffsets` publishes and the rest from their headers
//! (the same program, run on the 3.13, 3.13t, 3.14 and 3.15 headers).

/// How an `int` stores its digit count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LongDigits {
    /// `ob_size` (3.11).
    ObSize,
    /// `long_value.lv_tag` (3.12+).
    LvTag,
}

/// The layout of a dict's keys object (`PyDictKeysObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DictKeys {
    /// 3.11+: `dk_log2_index_bytes` at 9, `dk_kind` at 10, `dk_nentries` at
    /// 24, the index table from 32; 16-byte entries in unicode-keyed tables.
    Log2,
    /// 3.8–3.10 (`Objects/dict-common.h`): `dk_size` at 8 (the index width
    /// follows from it), `dk_nentries` at 32, the index table from 40;
    /// 24-byte entries (hash, key, value).
    Sized,
}

/// Where an instance of a plain class keeps its attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceValues {
    /// A `__dict__` pointer at `obj + tp_dictoffset` (3.8–3.10).
    DictOffset,
    /// Values pointer at `obj - 32`, dict pointer at `obj - 24` (3.11).
    PreHeader,
    /// One tagged dict-or-values pointer at `obj - 24` (3.12).
    TaggedDictOrValues,
    /// Inline values after the object header, dict pointer at
    /// `obj - managed_dict` (3.13+).
    Inline,
}

/// Offsets for object reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectOffsets {
    /// `PyInterpreterState.modules` / `.imports.modules` (`sys.modules`).
    pub interp_modules: u64,
    pub dict_keys: u64,
    pub dict_values: u64,
    /// `PyModuleObject.md_dict`.
    pub module_dict: u64,
    pub type_flags: u64,
    /// `PyHeapTypeObject.ht_cached_keys`: the shared keys of instances' values.
    pub heap_type_cached_keys: u64,
    /// Offset of the pointer array in `PyDictValues`.
    pub values_array: u64,
    pub long_digits: LongDigits,
    pub instance_values: InstanceValues,
    /// `sizeof(PyObject)`: 16, or 32 in the free-threaded build. Where a
    /// module's dict and a plain instance's inline values start.
    pub object_header: u64,
    /// Offset of an `int`'s size or tag, and of its digits.
    pub long_value: u64,
    pub long_digit: u64,
    /// The managed dict pointer is this many bytes before the object
    /// (`-MANAGED_DICT_OFFSET`: 24, or 8 in the free-threaded build).
    pub managed_dict: u64,
    pub dict_keys_layout: DictKeys,
    /// `PyTypeObject.tp_dictoffset` (read with [`InstanceValues::DictOffset`]).
    pub type_dictoffset: u64,
}

pub(crate) const V3_11: ObjectOffsets = ObjectOffsets {
    interp_modules: 888,
    dict_keys: 32,
    dict_values: 40,
    module_dict: 16,
    type_flags: 168,
    heap_type_cached_keys: 872,
    values_array: 0,
    long_digits: LongDigits::ObSize,
    instance_values: InstanceValues::PreHeader,
    object_header: 16,
    long_value: 16,
    long_digit: 24,
    managed_dict: 24,
    dict_keys_layout: DictKeys::Log2,
    type_dictoffset: 288,
};

/// 3.8–3.10: the same dict, module, type and `int` offsets; `sys.modules`
/// is `interp->modules`; instances keep a `__dict__` at `tp_dictoffset`.
pub(crate) const V3_8: ObjectOffsets = ObjectOffsets {
    interp_modules: 56,
    heap_type_cached_keys: 872,
    instance_values: InstanceValues::DictOffset,
    dict_keys_layout: DictKeys::Sized,
    ..V3_11
};

pub(crate) const V3_9: ObjectOffsets = ObjectOffsets {
    interp_modules: 856,
    heap_type_cached_keys: 864,
    ..V3_8
};

pub(crate) const V3_10: ObjectOffsets = ObjectOffsets {
    interp_modules: 856,
    heap_type_cached_keys: 872,
    ..V3_8
};

pub(crate) const V3_12: ObjectOffsets = ObjectOffsets {
    interp_modules: 944,
    heap_type_cached_keys: 880,
    long_digits: LongDigits::LvTag,
    instance_values: InstanceValues::TaggedDictOrValues,
    ..V3_11
};

/// `PyHeapTypeObject.ht_cached_keys` on 3.13 and 3.14 (3.15 publishes it):
/// with the GIL, and in the free-threaded build (whose object header is 16
/// bytes longer).
const HEAP_TYPE_CACHED_KEYS: u64 = 880;
const HEAP_TYPE_CACHED_KEYS_FT: u64 = 896;

/// 3.13+, given what their debug offsets publish.
#[allow(clippy::too_many_arguments)]
pub(crate) fn from_debug_offsets(
    interp_modules: u64,
    dict_keys: u64,
    dict_values: u64,
    type_flags: u64,
    object_header: u64,
    (long_value, long_digit): (u64, u64),
    heap_type_cached_keys: Option<u64>,
    free_threaded: bool,
) -> ObjectOffsets {
    ObjectOffsets {
        interp_modules,
        dict_keys,
        dict_values,
        module_dict: object_header,
        type_flags,
        heap_type_cached_keys: heap_type_cached_keys.unwrap_or(if free_threaded {
            HEAP_TYPE_CACHED_KEYS_FT
        } else {
            HEAP_TYPE_CACHED_KEYS
        }),
        values_array: 8,
        long_digits: LongDigits::LvTag,
        instance_values: InstanceValues::Inline,
        object_header,
        long_value,
        long_digit,
        managed_dict: if free_threaded { 8 } else { 24 },
        dict_keys_layout: DictKeys::Log2,
        // Unused: instances keep their values inline or in a managed dict.
        type_dictoffset: 0,
    }
}
