//! Decodes `str` and `bytes` objects read from the target.

use crate::reader::{u64_at, u8_at, MemoryReader, ReadError};
use snakescope_layouts::{Offsets, UnicodeState};

/// Longest string the walker will read; names and paths are far shorter, and a
/// bigger length means the object was misread.
const MAX_CHARS: u64 = 4096;
/// Longest line table the walker will read.
const MAX_BYTES: u64 = 1 << 20;

/// Why a string could not be decoded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StringError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("implausible string object")]
    Implausible,
}

/// Reads a compact `str` (every name and path in a code object is one).
pub(crate) fn read_unicode(
    r: &dyn MemoryReader,
    o: &Offsets,
    str_type: Option<u64>,
    addr: u64,
) -> Result<String, StringError> {
    // The header every compact `str` has (an ASCII one is no bigger): the
    // type, length and state are in it, and nothing past the object is read.
    let mut head = [0u8; 96];
    let head_len = (o.unicode_ascii_size as usize).min(head.len());
    r.read(addr, &mut head[..head_len])?;
    if str_type.is_some_and(|t| u64_at(&head, o.object_type) != t) {
        return Err(StringError::Implausible);
    }
    let length = u64_at(&head, o.unicode_length);
    let UnicodeState {
        kind,
        compact,
        ascii,
    } = UnicodeState::from_byte(u8_at(&head, o.unicode_state));
    let kind = u64::from(kind);
    if !compact || length > MAX_CHARS || !matches!(kind, 1 | 2 | 4) || (ascii && kind != 1) {
        return Err(StringError::Implausible);
    }
    let data = addr
        + if ascii {
            o.unicode_ascii_size
        } else {
            o.unicode_compact_size
        };
    let bytes = r.read_vec(data, (length * kind) as usize)?;
    decode(&bytes, kind).ok_or(StringError::Implausible)
}

/// A `str`'s code points (1, 2 or 4 bytes each, as its kind says). A lone
/// surrogate is a valid code point in Python (a file name that is not UTF-8
/// holds its bytes as surrogate escapes: `\xff.py` is `"\udcff.py"`) but not a
/// Rust `char`: it becomes U+FFFD. A code point beyond U+10FFFF means the
/// object was misread.
fn decode(bytes: &[u8], kind: u64) -> Option<String> {
    let point = |c: u32| match char::from_u32(c) {
        Some(ch) => Some(ch),
        None if (0xd800..=0xdfff).contains(&c) => Some(char::REPLACEMENT_CHARACTER),
        None => None,
    };
    match kind {
        1 => Some(bytes.iter().map(|&b| char::from(b)).collect()),
        2 => bytes
            .chunks_exact(2)
            .map(|c| point(u32::from(u16::from_le_bytes([c[0], c[1]]))))
            .collect(),
        4 => bytes
            .chunks_exact(4)
            .map(|c| point(u32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        _ => None,
    }
}

/// Reads the contents of a `bytes` object.
pub(crate) fn read_bytes(
    r: &dyn MemoryReader,
    o: &Offsets,
    bytes_type: Option<u64>,
    addr: u64,
) -> Result<Vec<u8>, StringError> {
    if bytes_type.is_some_and(|t| r.read_u64(addr + o.object_type).ok() != Some(t)) {
        return Err(StringError::Implausible);
    }
    let size = r.read_u64(addr + o.bytes_size)?;
    if size > MAX_BYTES {
        return Err(StringError::Implausible);
    }
    Ok(r.read_vec(addr + o.bytes_sval, size as usize)?)
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn decodes_each_kind() {
        assert_eq!(decode(b"caf\xe9", 1).unwrap(), "café");
        let ucs2: Vec<u8> = "計算".encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert_eq!(decode(&ucs2, 2).unwrap(), "計算");
        let ucs4: Vec<u8> = "🐍x"
            .chars()
            .flat_map(|c| (c as u32).to_le_bytes())
            .collect();
        assert_eq!(decode(&ucs4, 4).unwrap(), "🐍x");
        assert!(decode(&[0xff, 0xff, 0xff, 0xff], 4).is_none());
        // A surrogate escape (`\xff.py` named by bytes that are not UTF-8).
        let escaped: Vec<u8> = [0xdcff_u16, u16::from(b'.'), u16::from(b'p')]
            .iter()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        assert_eq!(decode(&escaped, 2).unwrap(), "\u{fffd}.p");
        assert_eq!(decode(&0xdcffu32.to_le_bytes(), 4).unwrap(), "\u{fffd}");
    }
}
