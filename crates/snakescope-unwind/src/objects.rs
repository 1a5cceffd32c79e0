//! Reading a few Python objects out of the target: dicts, ints, module and
//! instance attributes — enough to find `threading`'s thread names
//! (`sys.modules["threading"]._active` maps idents to `Thread` objects).
//!
//! Everything here is best effort and bounded: a failed or implausible read
//! gives `None`, never an error for the caller to handle, because a name is a
//! nicety and the target keeps changing while it is read.

use crate::reader::{u64_at, MemoryReader};
use crate::strings::read_unicode;
use snakescope_layouts::{DictKeys, InstanceValues, Layout, LongDigits};
use std::collections::HashMap;

/// Most entries read from one dict.
const MAX_ENTRIES: u64 = 100_000;

/// `PyDictKeysObject` (3.11–3.15): `dk_log2_index_bytes` at 9, `dk_kind` at
/// 10, `dk_nentries` at 24, the index table from 32.
const DK_LOG2_INDEX_BYTES: usize = 9;
const DK_KIND: usize = 10;
const DK_NENTRIES: u64 = 24;
const DK_INDICES: u64 = 32;
/// `PyDictKeysObject` (3.8–3.10): `dk_size` at 8, `dk_nentries` at 32, the
/// index table from 40.
const DK_SIZE_OLD: usize = 8;
const DK_NENTRIES_OLD: usize = 32;
const DK_INDICES_OLD: u64 = 40;
/// Largest `dk_size` believed (a power of two).
const MAX_DK_SIZE: u64 = 1 << 24;
/// `Py_TPFLAGS_MANAGED_DICT` and (3.13) `Py_TPFLAGS_INLINE_VALUES`.
const TPFLAGS_MANAGED_DICT: u64 = 1 << 4;
const TPFLAGS_INLINE_VALUES: u64 = 1 << 2;

/// Reads objects of one interpreter.
pub struct ObjectReader<'a> {
    r: &'a dyn MemoryReader,
    layout: &'a Layout,
}

impl<'a> ObjectReader<'a> {
    pub fn new(r: &'a dyn MemoryReader, layout: &'a Layout) -> Self {
        ObjectReader { r, layout }
    }

    /// `{threading.get_ident(): Thread.name}` for the interpreter at `interp`.
    pub fn thread_names(&self, interp: u64) -> Option<HashMap<u64, String>> {
        let objects = self.layout.objects?;
        let modules = self.r.read_u64(interp + objects.interp_modules).ok()?;
        let threading = self.dict_get(modules, "threading")?;
        let module_dict = self.r.read_u64(threading + objects.module_dict).ok()?;
        let active = self.dict_get(module_dict, "_active")?;
        let mut names = HashMap::new();
        for (key, thread) in self.dict_items(active)? {
            let (Some(ident), Some(name)) = (self.int(key), self.attribute(thread, "_name")) else {
                continue;
            };
            if let Some(name) = self.string(name) {
                names.insert(ident, name);
            }
        }
        Some(names)
    }

    pub(crate) fn string(&self, addr: u64) -> Option<String> {
        read_unicode(self.r, &self.layout.offsets, None, addr).ok()
    }

    /// The value of a non-negative `int` that fits in 64 bits.
    pub(crate) fn int(&self, addr: u64) -> Option<u64> {
        let objects = self.layout.objects?;
        let head = self.r.read_u64(addr + objects.long_value).ok()?;
        let digits = match objects.long_digits {
            LongDigits::ObSize => i64::try_from(head).ok()?,
            // lv_tag: digit count << 3 | sign (0 positive, 1 zero, 2 negative).
            LongDigits::LvTag if head & 3 == 2 => return None,
            LongDigits::LvTag => (head >> 3) as i64,
        };
        if !(0..=3).contains(&digits) {
            return None;
        }
        let raw = self
            .r
            .read_vec(addr + objects.long_digit, digits as usize * 4)
            .ok()?;
        let mut value: u128 = 0;
        for (i, d) in raw.chunks_exact(4).enumerate() {
            value |=
                u128::from(u32::from_le_bytes([d[0], d[1], d[2], d[3]]) & 0x3fff_ffff) << (30 * i);
        }
        u64::try_from(value).ok()
    }

    /// `(key, value)` of every live entry of the dict at `dict`.
    fn dict_items(&self, dict: u64) -> Option<Vec<(u64, u64)>> {
        let objects = self.layout.objects?;
        let keys = self.r.read_u64(dict + objects.dict_keys).ok()?;
        let values = self.r.read_u64(dict + objects.dict_values).ok()?;
        let entries = self.keys_entries(keys)?;
        let mut items = Vec::with_capacity(entries.len());
        for (i, (key, value)) in entries.into_iter().enumerate() {
            let value = if values != 0 {
                self.split_value(values, i)?
            } else {
                value
            };
            if key != 0 && value != 0 {
                items.push((key, value));
            }
        }
        Some(items)
    }

    /// `(key, value)` of each slot of a keys object (values are 0 in split keys).
    fn keys_entries(&self, keys: u64) -> Option<Vec<(u64, u64)>> {
        if self.layout.objects?.dict_keys_layout == DictKeys::Sized {
            return self.keys_entries_sized(keys);
        }
        let head = self.r.read_vec(keys, DK_INDICES as usize).ok()?;
        let index_bytes = 1u64 << head[DK_LOG2_INDEX_BYTES].min(40);
        let general = head[DK_KIND] == 0;
        let count = u64_at(&head, DK_NENTRIES);
        if count > MAX_ENTRIES {
            return None;
        }
        let size = if general { 24 } else { 16 };
        let raw = self
            .r
            .read_vec(keys + DK_INDICES + index_bytes, (count * size) as usize)
            .ok()?;
        let skip = if general { 8 } else { 0 }; // general entries start with the hash
        Some(
            raw.chunks_exact(size as usize)
                .map(|e| (u64_at(e, skip), u64_at(e, skip + 8)))
                .collect(),
        )
    }

    /// [`Self::keys_entries`] for 3.8–3.10's keys objects: the index width
    /// follows from `dk_size`, every entry is (hash, key, value).
    fn keys_entries_sized(&self, keys: u64) -> Option<Vec<(u64, u64)>> {
        let head = self.r.read_vec(keys, DK_INDICES_OLD as usize).ok()?;
        let size = u64_at(&head, DK_SIZE_OLD as u64);
        let count = u64_at(&head, DK_NENTRIES_OLD as u64);
        if !size.is_power_of_two() || size > MAX_DK_SIZE || count > size {
            return None;
        }
        let width = match size {
            0..=0xff => 1,
            0x100..=0xffff => 2,
            _ => 4,
        };
        let raw = self
            .r
            .read_vec(keys + DK_INDICES_OLD + size * width, (count * 24) as usize)
            .ok()?;
        Some(
            raw.chunks_exact(24)
                .map(|e| (u64_at(e, 8), u64_at(e, 16)))
                .collect(),
        )
    }

    fn split_value(&self, values: u64, index: usize) -> Option<u64> {
        let objects = self.layout.objects?;
        self.r
            .read_u64(values + objects.values_array + 8 * index as u64)
            .ok()
    }

    pub(crate) fn dict_get(&self, dict: u64, name: &str) -> Option<u64> {
        self.dict_items(dict)?
            .into_iter()
            .find(|&(k, _)| self.string(k).as_deref() == Some(name))
            .map(|(_, v)| v)
    }

    /// An attribute stored in an instance's `__dict__` (managed or inline).
    pub(crate) fn attribute(&self, obj: u64, name: &str) -> Option<u64> {
        let objects = self.layout.objects?;
        let ty = self
            .r
            .read_u64(obj + self.layout.offsets.object_type)
            .ok()?;
        if objects.instance_values == InstanceValues::DictOffset {
            let offset = self.r.read_u64(ty + objects.type_dictoffset).ok()? as i64;
            if offset <= 0 {
                return None; // no `__dict__`, or at the end of a var-sized object
            }
            let dict = self.r.read_u64(obj + offset as u64).ok()?;
            return (dict != 0).then(|| self.dict_get(dict, name)).flatten();
        }
        let flags = self.r.read_u64(ty + objects.type_flags).ok()?;
        if flags & TPFLAGS_MANAGED_DICT == 0 {
            return None;
        }
        let in_values = |values: u64| -> Option<u64> {
            let keys = self.r.read_u64(ty + objects.heap_type_cached_keys).ok()?;
            let index = self
                .keys_entries(keys)?
                .iter()
                .position(|&(k, _)| self.string(k).as_deref() == Some(name))?;
            self.split_value(values, index).filter(|&v| v != 0)
        };
        let dict_at = |offset: u64| -> Option<u64> {
            let dict = self.r.read_u64(obj.checked_sub(offset)?).ok()?;
            (dict != 0).then(|| self.dict_get(dict, name)).flatten()
        };
        match objects.instance_values {
            InstanceValues::DictOffset => None, // handled above
            InstanceValues::PreHeader => {
                // ((PyDictValues **)obj)[-4], ((PyObject **)obj)[-3]
                let values = self.r.read_u64(obj.checked_sub(32)?).ok()?;
                if values != 0 {
                    in_values(values)
                } else {
                    dict_at(24)
                }
            }
            InstanceValues::TaggedDictOrValues => {
                let dorv = self.r.read_u64(obj.checked_sub(24)?).ok()?;
                if dorv & 1 == 1 {
                    in_values(dorv + 1)
                } else {
                    (dorv != 0).then(|| self.dict_get(dorv, name)).flatten()
                }
            }
            InstanceValues::Inline => {
                // Values follow the object header (a plain class's instances
                // are no bigger); byte 3 of their prefix is `valid`.
                let values = obj + objects.object_header;
                let valid = flags & TPFLAGS_INLINE_VALUES != 0
                    && self.r.read_vec(values, 4).ok().is_some_and(|p| p[3] != 0);
                if valid {
                    in_values(values)
                } else {
                    dict_at(objects.managed_dict)
                }
            }
        }
    }
}
