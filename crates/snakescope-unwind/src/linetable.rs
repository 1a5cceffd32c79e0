//! Decodes the 3.11+ location table (`co_linetable`, PEP 626 / 657 format) to
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
    fn garbage_gives_none_not_panic() {
        assert_eq!(line_for_offset(&[0x00, 0xff], 1, 0), None);
        assert_eq!(line_for_offset(&[head(14, 1), 0x40], 1, 0), None);
        assert_eq!(line_for_offset(&[], 1, 0), None);
    }
}
