//! CPython's instruction format, per the interpreter's own opcode table:
//! 2-byte code units (opcode, argument byte); `EXTENDED_ARG` prefixes give
//! the following instruction's argument its high bytes; 3.11+ follows
//! instructions by inline `CACHE` units (how many depends on the opcode and
//! the version), which are skipped as `dis` skips them.

use snakescope_model::OpcodeTable;

/// One decoded instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// Byte offset in the bytecode (as `dis` numbers them).
    pub offset: u32,
    /// Bytes it spans, its inline caches included.
    pub len: u32,
    pub opcode: u8,
    /// The name the interpreter gives it (specialised on 3.11+), or `<N>`
    /// without an opcode table.
    pub name: String,
    /// The name of its generic form (the same when not specialised).
    pub generic: String,
    /// Its argument (with `EXTENDED_ARG` prefixes applied), when the opcode
    /// takes one; without a table, the raw argument byte.
    pub arg: Option<u32>,
}

/// Decodes `bytecode` with `table`; without one, every code unit is shown
/// as an instruction (3.11+ caches cannot be told apart then).
pub fn decode(bytecode: &[u8], table: Option<&OpcodeTable>) -> Vec<Instruction> {
    let mut out = Vec::new();
    let mut at = 0usize;
    let mut extended: u32 = 0;
    while at + 1 < bytecode.len() {
        let (op, raw) = (bytecode[at], u32::from(bytecode[at + 1]));
        let Some(t) = table else {
            out.push(Instruction {
                offset: at as u32,
                len: 2,
                opcode: op,
                name: format!("<{op}>"),
                generic: format!("<{op}>"),
                arg: Some(raw),
            });
            at += 2;
            continue;
        };
        let index = usize::from(op);
        let generic = t.generic.get(index).copied().unwrap_or(u32::from(op));
        let arg = raw | extended.checked_shl(8).unwrap_or(0);
        extended = if generic == t.extended_arg { arg } else { 0 };
        let caches = t.caches.get(index).copied().unwrap_or(0) as usize;
        let len = 2 * (1 + caches);
        out.push(Instruction {
            offset: at as u32,
            len: u32::try_from(len).unwrap_or(u32::MAX),
            opcode: op,
            name: name_of(t, u32::from(op)),
            generic: name_of(t, generic),
            arg: (generic >= t.have_argument).then_some(arg),
        });
        at += len;
    }
    out
}

fn name_of(t: &OpcodeTable, op: u32) -> String {
    t.names
        .get(op as usize)
        .cloned()
        .unwrap_or_else(|| format!("<{op}>"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table shaped like 3.11's for the opcodes used: RESUME (151, no
    /// cache), LOAD_FAST (124), BINARY_OP (122, one cache) and its
    /// specialisation BINARY_OP_ADD_FLOAT (3), EXTENDED_ARG (144),
    /// RETURN_VALUE (83, no argument).
    fn table() -> OpcodeTable {
        let mut names: Vec<String> = (0..256).map(|op| format!("<{op}>")).collect();
        let mut caches = vec![0u32; 256];
        let mut generic: Vec<u32> = (0..256).collect();
        for (op, name, cache) in [
            (151, "RESUME", 0),
            (124, "LOAD_FAST", 0),
            (122, "BINARY_OP", 1),
            (3, "BINARY_OP_ADD_FLOAT", 1),
            (144, "EXTENDED_ARG", 0),
            (83, "RETURN_VALUE", 0),
        ] {
            names[op] = name.to_owned();
            caches[op] = cache;
        }
        generic[3] = 122;
        OpcodeTable {
            python_version: "3.11.7".into(),
            names,
            caches,
            generic,
            have_argument: 90,
            extended_arg: 144,
        }
    }

    #[test]
    fn skips_caches_and_names_specialised_instructions() {
        // RESUME 0; LOAD_FAST 1; LOAD_FAST 2; BINARY_OP_ADD_FLOAT 0 + cache; RETURN_VALUE
        let code = [151, 0, 124, 1, 124, 2, 3, 0, 0, 0, 83, 0];
        let got = decode(&code, Some(&table()));
        let shown: Vec<(u32, &str, &str, Option<u32>)> = got
            .iter()
            .map(|i| (i.offset, i.name.as_str(), i.generic.as_str(), i.arg))
            .collect();
        assert_eq!(
            shown,
            [
                (0, "RESUME", "RESUME", Some(0)),
                (2, "LOAD_FAST", "LOAD_FAST", Some(1)),
                (4, "LOAD_FAST", "LOAD_FAST", Some(2)),
                (6, "BINARY_OP_ADD_FLOAT", "BINARY_OP", Some(0)),
                (10, "RETURN_VALUE", "RETURN_VALUE", None),
            ]
        );
        assert_eq!(got[3].len, 4);
    }

    #[test]
    fn extended_arg_gives_the_next_argument_its_high_bytes() {
        let code = [144, 1, 144, 2, 124, 3, 124, 4];
        let got = decode(&code, Some(&table()));
        let args: Vec<Option<u32>> = got.iter().map(|i| i.arg).collect();
        assert_eq!(args, [Some(1), Some(0x102), Some(0x10203), Some(4)]);
    }

    #[test]
    fn without_a_table_every_unit_is_shown_raw() {
        let got = decode(&[151, 0, 3, 7, 1], None);
        let names: Vec<&str> = got.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["<151>", "<3>"]);
        assert_eq!(got[1].arg, Some(7));
    }

    #[test]
    fn a_cache_running_past_the_end_ends_the_code() {
        let got = decode(&[124, 0, 122, 0], Some(&table()));
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].len, 4);
    }
}
