//! Offsets for reading a few objects (dicts, modules, ints, instance
//! attributes), used to find `threading`'s thread names. 3.11 and 3.12 values
//! are checked against their headers by `generate/object_offsets.c`; 3.13
//! takes what `_Py_DebugOffsets` publishes and the rest from its headers.

/// How an `int` stores its digit count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LongDigits {
    /// `ob_size` (3.11).
    ObSize,
    /// `long_value.lv_tag` (3.12+).
    LvTag,
}

/// Where an instance of a plain class keeps its attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceValues {
    /// Values pointer at `obj - 32`, dict pointer at `obj - 24` (3.11).
    PreHeader,
    /// One tagged dict-or-values pointer at `obj - 24` (3.12).
    TaggedDictOrValues,
    /// Inline values after the object header, dict pointer at `obj - 24` (3.13).
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
};

pub(crate) const V3_12: ObjectOffsets = ObjectOffsets {
    interp_modules: 944,
    heap_type_cached_keys: 880,
    long_digits: LongDigits::LvTag,
    instance_values: InstanceValues::TaggedDictOrValues,
    ..V3_11
};

/// 3.13, given what its debug offsets publish.
pub(crate) fn v3_13(
    interp_modules: u64,
    dict_keys: u64,
    dict_values: u64,
    type_flags: u64,
) -> ObjectOffsets {
    ObjectOffsets {
        interp_modules,
        dict_keys,
        dict_values,
        type_flags,
        heap_type_cached_keys: 880,
        values_array: 8,
        long_digits: LongDigits::LvTag,
        instance_values: InstanceValues::Inline,
        ..V3_11
    }
}
