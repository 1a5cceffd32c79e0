//! What the walker remembers about one code object.

use crate::reader::{u32_at, u64_at, MemoryReader};
use crate::strings::{read_bytes, read_unicode, StringError};
use crate::walker::TypeAddresses;
use snakescope_layouts::{FrameModel, Offsets};

/// A code object's names and line table, decoded once and reused while the
/// code object at that address stays the same.
#[derive(Debug, Clone)]
pub struct CodeInfo {
    pub name: String,
    pub qualname: String,
    pub filename: String,
    pub first_line: u32,
    pub linetable: Vec<u8>,
    /// Number of 2-byte code units (`Py_SIZE(code)`; 3.8–3.10: the size of
    /// `co_code` over 2).
    pub units: u64,
    /// Unique per load; see [`crate::FrameRef::serial`].
    pub serial: u64,
    /// 3.8–3.10: the address of the `co_code` bytes object (the bytecode);
    /// 0 on 3.11+, where the bytecode is inside the code object.
    pub(crate) co_code: u64,
    /// The fields that identify this code object, to notice when the address is reused.
    identity: [u64; 5],
}

impl CodeInfo {
    /// Decodes a code object whose header (the first `code_header_len` bytes) is `header`.
    pub(crate) fn load(
        r: &dyn MemoryReader,
        o: &Offsets,
        frames: &FrameModel,
        types: &TypeAddresses,
        header: &[u8],
    ) -> Result<CodeInfo, StringError> {
        let mut co_code = 0;
        let units = match frames {
            FrameModel::Interpreter => u64_at(header, o.code_ob_size),
            FrameModel::Objects(f) => {
                let code = u64_at(header, f.code_code);
                co_code = code;
                if types
                    .bytes
                    .is_some_and(|t| r.read_u64(code + o.object_type).ok() != Some(t))
                {
                    return Err(StringError::Implausible);
                }
                r.read_u64(code + o.bytes_size)? / 2
            }
        };
        let name = read_unicode(r, o, types.unicode, u64_at(header, o.code_name))?;
        let qualname = read_unicode(r, o, types.unicode, u64_at(header, o.code_qualname))?;
        let filename = read_unicode(r, o, types.unicode, u64_at(header, o.code_filename))?;
        let linetable = read_bytes(r, o, types.bytes, u64_at(header, o.code_linetable))?;
        Ok(CodeInfo {
            name,
            qualname,
            filename,
            first_line: u32_at(header, o.code_firstlineno),
            linetable,
            units,
            serial: 0,
            co_code,
            identity: Self::identity_of(o, frames, header),
        })
    }

    /// Whether `header` still describes this code object.
    pub(crate) fn matches(&self, o: &Offsets, frames: &FrameModel, header: &[u8]) -> bool {
        self.identity == Self::identity_of(o, frames, header)
    }

    fn identity_of(o: &Offsets, frames: &FrameModel, header: &[u8]) -> [u64; 5] {
        // The size of the bytecode: the code object's own (3.11+), or which
        // `co_code` bytes object it has (3.8–3.10).
        let size = match frames {
            FrameModel::Interpreter => u64_at(header, o.code_ob_size),
            FrameModel::Objects(f) => u64_at(header, f.code_code),
        };
        [
            u64_at(header, o.code_name),
            u64_at(header, o.code_qualname),
            u64_at(header, o.code_filename),
            u64_at(header, o.code_linetable),
            u64::from(u32_at(header, o.code_firstlineno)) ^ size.rotate_left(32),
        ]
    }
}
