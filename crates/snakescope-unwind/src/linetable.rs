//! Decodes line tables to find the line of one instruction: the 3.11+
//! location table ([`line_for_offset`]), 3.10's `co_linetable`
//! ([`line_310`]) and 3.8/3.9's `co_lnotab` ([`line_lnotab`]).
//!
//! The 3.11+ location table (`co_linetable`, PEP 626 / 657 format) to
//! find the line of one instruction.
//!
//! Each entry starts with a byte whose top bit is set: bits 3–6 are the entry
//! kind, bits 0–2 the number of code units covered minus one. Kinds 0–9 are
//! "short" (same line), 10–12 "one line" (line delta = kind − 10), 13 "no
//! column" (signed varint line delta), 14 "long" (signed varint line delta then
//! three varints) and 15 "no location".

/// The line executing at code unit `unit` (a 2-byte `_Py_CODEUNIT` index), or
/// `None` when the table gives it no location.
pub fn line_for_offset(table: &[u8], first_line: u32, unit: u64) -> Option<u32> {
    let mut pos = 0;
    let mut line = i64::from(first_line);
    let mut start = 0u64;
    while pos < table.len() {
        let head = table[pos];
        if head & 0x80 == 0 {
            return None; // Lost sync: not a table we understand.
        }
        pos += 1;
        let kind = (head >> 3) & 0x0f;
        let end = start + u64::from(head & 7) + 1;
        let mut has_line = true;
        match kind {
            15 => has_line = false,
            14 => {
                line += read_svarint(table, &mut pos)?;
                for _ in 0..3 {
                    read_varint(table, &mut pos)?;
                }
            }
            13 => line += read_svarint(table, &mut pos)?,
            10..=12 => {
                line += i64::from(kind) - 10;
                pos += 2;
            }
            _ => pos += 1,
        }
        if unit < end {
            return (has_line && line > 0).then_some(line as u32);
        }
        start = end;
    }
    None
}

/// The line executing at byte offset `addr` of `co_code` by a 3.8/3.9
/// `co_lnotab`: pairs of (unsigned byte increment, signed line increment); the
/// line of an offset is the line reached by the last pair whose address is at
/// or before it (CPython's `PyCode_Addr2Line`).
pub fn line_lnotab(table: &[u8], first_line: u32, addr: u64) -> Option<u32> {
    let mut line = i64::from(first_line);
    let mut at = 0u64;
    for pair in table.chunks_exact(2) {
        at += u64::from(pair[0]);
        if at > addr {
            break;
        }
        line += i64::from(pair[1] as i8);
    }
    (line > 0).then_some(line as u32)
}

/// The line executing at byte offset `addr` of `co_code` by a 3.10
/// `co_linetable`: pairs of (unsigned byte length, signed line delta), each
/// a range starting where the previous ended; a delta of −128 means the range
/// has no line (CPython's `_PyCode_CheckLineNumber`). `None` past the end.
pub fn line_310(table: &[u8], first_line: u32, addr: u64) -> Option<u32> {
    let mut line = i64::from(first_line);
    let mut end = 0u64;
    for pair in table.chunks_exact(2) {
        let start = end;
        end += u64::from(pair[0]);
        let delta = pair[1] as i8;
        let has_line = delta != -128;
        if has_line {
            line += i64::from(delta);
        }
        if (start..end).contains(&addr) {
            return (has_line && line > 0).then_some(line as u32);
        }
    }
    None
}

fn read_varint(table: &[u8], pos: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    let mut shift = 0;
    loop {
        let b = *table.get(*pos)?;
        *pos += 1;
        value |= u64::from(b & 0x3f) << shift;
        if b & 0x40 == 0 {
            return Some(value);
        }
        shift += 6;
        if shift > 60 {
            return None;
        }
    }
}

fn read_svarint(table: &[u8], pos: &mut usize) -> Option<i64> {
    let v = read_varint(table, pos)?;
    Some(if v & 1 == 1 {
        -((v >> 1) as i64)
    } else {
        (v >> 1) as i64
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds an entry header byte.
    fn head(kind: u8, units: u8) -> u8 {
        0x80 | (kind << 3) | (units - 1)
    }

    #[test]
    fn walks_short_one_line_and_long_forms() {
        let table = [
            head(0, 2),
            0x05, // units 0..2: first line (short form)
            head(11, 3),
            4,
            9, // units 2..5: line + 1 (one-line form)
            head(13, 1),
            0x06, // unit 5: line + 3 (no-column, svarint 6 -> +3)
            head(14, 2),
            0x03,
            0,
            1,
            2,           // units 6..8: line - 1 (long form, svarint 3 -> -1)
            head(15, 1), // unit 8: no location
        ];
        assert_eq!(line_for_offset(&table, 10, 0), Some(10));
        assert_eq!(line_for_offset(&table, 10, 1), Some(10));
        assert_eq!(line_for_offset(&table, 10, 2), Some(11));
        assert_eq!(line_for_offset(&table, 10, 4), Some(11));
        assert_eq!(line_for_offset(&table, 10, 5), Some(14));
        assert_eq!(line_for_offset(&table, 10, 7), Some(13));
        assert_eq!(line_for_offset(&table, 10, 8), None);
        assert_eq!(line_for_offset(&table, 10, 99), None);
    }

    #[test]
    fn multi_byte_varints() {
        // svarint 200 -> +100 needs two 6-bit chunks: 200 = 0b11_001000.
        let table = [head(13, 1), 0x40 | 0x08, 0x03];
        assert_eq!(line_for_offset(&table, 1, 0), Some(101));
    }

    #[test]
    fn lnotab_pairs() {
        // offsets 0..6 line 10; 6..20 line 12; big jump split over two pairs
        // (255 + 5 bytes, +0 then +3): 20..280 line 12, 280.. line 15; then a
        // backwards step (-2 as 0xfe) at 290.
        let table = [6, 2, 255, 0, 19, 3, 10, 0xfe];
        assert_eq!(line_lnotab(&table, 10, 0), Some(10));
        assert_eq!(line_lnotab(&table, 10, 5), Some(10));
        assert_eq!(line_lnotab(&table, 10, 6), Some(12));
        assert_eq!(line_lnotab(&table, 10, 279), Some(12));
        assert_eq!(line_lnotab(&table, 10, 280), Some(15));
        assert_eq!(line_lnotab(&table, 10, 290), Some(13));
        assert_eq!(line_lnotab(&table, 10, 10_000), Some(13));
        assert_eq!(line_lnotab(&[], 7, 4), Some(7));
        assert_eq!(line_lnotab(&[1], 7, 4), Some(7)); // odd byte ignored
    }

    #[test]
    fn linetable_310_ranges() {
        // 0..4 line 5 (+0 from 5); 4..4 empty (+1); 4..10 line 7 (+1);
        // 10..12 no line (-128); 12..20 line 4 (-3).
        let table = [4, 0, 0, 1, 6, 1, 2, 0x80, 8, 0xfd];
        assert_eq!(line_310(&table, 5, 0), Some(5));
        assert_eq!(line_310(&table, 5, 3), Some(5));
        assert_eq!(line_310(&table, 5, 4), Some(7));
        assert_eq!(line_310(&table, 5, 9), Some(7));
        assert_eq!(line_310(&table, 5, 10), None);
        assert_eq!(line_310(&table, 5, 12), Some(4));
        assert_eq!(line_310(&table, 5, 19), Some(4));
        assert_eq!(line_310(&table, 5, 20), None);
        assert_eq!(line_310(&[], 5, 0), None);
    }

    #[test]
    fn garbage_gives_none_not_panic() {
        assert_eq!(line_for_offset(&[0x00, 0xff], 1, 0), None);
        assert_eq!(line_for_offset(&[head(14, 1), 0x40], 1, 0), None);
        assert_eq!(line_for_offset(&[], 1, 0), None);
    }
}
