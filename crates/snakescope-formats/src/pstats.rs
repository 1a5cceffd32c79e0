//! cProfile's statistics file (what `pstats.Stats(path)` and snakeviz read),
//! from a capture's exact section: Python's `marshal` of the dictionary
//! `{(file, line, name): (primitive calls, calls, tottime, cumtime,
//! {caller: (calls, primitive calls, tottime, cumtime)})}`.
//!
//! Functions with the same key (two code objects pstats cannot tell apart)
//! are added together, as are their callers.

use snakescope_model::{Capture, ExactFunction, ExactTotals};
use std::collections::BTreeMap;
use std::io::{self, Write};

/// pstats' key of a function: file, first line, name.
type Key = (String, u32, String);

#[derive(Default)]
struct Entry {
    own: ExactTotals,
    callers: BTreeMap<Key, ExactTotals>,
}

/// Writes the capture's exact statistics (none: an empty dictionary).
pub fn write(capture: &Capture, out: &mut dyn Write) -> io::Result<()> {
    let mut m = Marshal { out };
    let entries = entries(capture);
    m.out.write_all(b"{")?;
    for (key, entry) in &entries {
        m.key(key)?;
        let own = &entry.own;
        m.out.write_all(&[b')', 5])?;
        m.int(own.primitive_calls)?;
        m.int(own.calls)?;
        m.float(own.tottime_s)?;
        m.float(own.cumtime_s)?;
        m.out.write_all(b"{")?;
        for (caller, f) in &entry.callers {
            m.key(caller)?;
            m.out.write_all(&[b')', 4])?;
            m.int(f.calls)?;
            m.int(f.primitive_calls)?;
            m.float(f.tottime_s)?;
            m.float(f.cumtime_s)?;
        }
        m.out.write_all(b"0")?;
    }
    m.out.write_all(b"0")
}

fn entries(capture: &Capture) -> BTreeMap<Key, Entry> {
    let mut entries: BTreeMap<Key, Entry> = BTreeMap::new();
    let Some(exact) = &capture.exact else {
        return entries;
    };
    let key = |f: &ExactFunction| {
        let frame = &capture.frames[f.frame];
        (frame.file.clone(), frame.line, frame.function.clone())
    };
    for f in &exact.functions {
        let entry = entries.entry(key(f)).or_default();
        entry.own.add_function(f);
        for c in &f.callers {
            let caller = key(&exact.functions[c.function]);
            entry.callers.entry(caller).or_default().add_caller(c);
        }
    }
    entries
}

/// The few `marshal` types the dictionary needs (marshal version 2+).
struct Marshal<'a> {
    out: &'a mut dyn Write,
}

impl Marshal<'_> {
    fn key(&mut self, (file, line, name): &Key) -> io::Result<()> {
        self.out.write_all(&[b')', 3])?;
        self.str(file)?;
        self.int(u64::from(*line))?;
        self.str(name)
    }

    fn str(&mut self, s: &str) -> io::Result<()> {
        self.out.write_all(b"u")?;
        self.len(s.len())?;
        self.out.write_all(s.as_bytes())
    }

    fn len(&mut self, n: usize) -> io::Result<()> {
        let n = i32::try_from(n).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidData, "string too long for pstats")
        })?;
        self.out.write_all(&n.to_le_bytes())
    }

    /// `i` (32 bits) when it fits, else `l`: base-2^15 digits, least first.
    fn int(&mut self, v: u64) -> io::Result<()> {
        if let Ok(small) = i32::try_from(v) {
            self.out.write_all(b"i")?;
            return self.out.write_all(&small.to_le_bytes());
        }
        let mut digits = Vec::new();
        let mut rest = v;
        while rest > 0 {
            digits.push((rest & 0x7fff) as u16);
            rest >>= 15;
        }
        self.out.write_all(b"l")?;
        self.len(digits.len())?;
        for d in digits {
            self.out.write_all(&d.to_le_bytes())?;
        }
        Ok(())
    }

    fn float(&mut self, v: f64) -> io::Result<()> {
        self.out.write_all(b"g")?;
        self.out.write_all(&v.to_le_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marshalled(f: impl FnOnce(&mut Marshal<'_>) -> io::Result<()>) -> Vec<u8> {
        let mut out = Vec::new();
        f(&mut Marshal { out: &mut out }).unwrap();
        out
    }

    /// The bytes `marshal.dumps` gives for these values (without its
    /// reference flag): 7 → `i`, 2**40 → `l` with three 15-bit digits.
    #[test]
    fn integers_as_marshal_writes_them() {
        assert_eq!(marshalled(|m| m.int(7)), b"i\x07\x00\x00\x00");
        let big = marshalled(|m| m.int(1 << 40));
        assert_eq!(big, b"l\x03\x00\x00\x00\x00\x00\x00\x00\x00\x04");
        assert_eq!(marshalled(|m| m.str("é")), b"u\x02\x00\x00\x00\xc3\xa9");
        assert_eq!(
            marshalled(|m| m.float(1.5)),
            b"g\x00\x00\x00\x00\x00\x00\xf8\x3f"
        );
    }

    /// The fixture's three functions, with fib's callers (main and fib).
    #[test]
    fn fixture_entries_and_callers() {
        let capture = crate::fixture::exact_capture();
        let entries = entries(&capture);
        assert_eq!(entries.len(), 3);
        let fib = &entries[&("/src/app.py".into(), 5, "fib".into())];
        assert_eq!((fib.own.calls, fib.own.primitive_calls), (21, 1));
        let by_main = &fib.callers[&("/src/app.py".into(), 1, "main".into())];
        assert_eq!((by_main.calls, by_main.primitive_calls), (1, 1));
        let len = &entries[&("~".into(), 0, "<built-in method builtins.len>".into())];
        assert_eq!(len.own.calls, 100);
        let mut out = Vec::new();
        write(&capture, &mut out).unwrap();
        assert_eq!((out[0], *out.last().unwrap()), (b'{', b'0'));
    }

    /// Two functions pstats cannot tell apart are added together.
    #[test]
    fn same_key_is_merged() {
        let mut capture = crate::fixture::exact_capture();
        let exact = capture.exact.as_mut().unwrap();
        let mut twin = exact.functions[2].clone();
        twin.callers.clear();
        exact.functions.push(twin);
        let entries = entries(&capture);
        let len = &entries[&("~".into(), 0, "<built-in method builtins.len>".into())];
        assert_eq!(len.own.calls, 200);
    }
}
