//! `--opcodes`: samples per instruction. The sampler hands each counted
//! sample's frames (code object, instruction offset, line) here; each code
//! object seen gets its bytecode read at once and again whenever its
//! samples double (so the last read has at least half its samples behind
//! it: 3.11+ rewrites instructions as it specialises them), and once more
//! when sampling ends while the program still runs. Off (`None` in the
//! sampler) unless asked for: the default sampling path does none of this.

use rustc_hash::FxHashMap;
use snakescope_model::{CodeSamples, InstructionSamples, Opcodes, OPCODES_VERSION};
use snakescope_unwind::{CodeInfo, FrameRef, MemoryReader, Walker, NOT_STARTED};
use std::collections::hash_map::Entry;

/// One frame of a sample: code object, its load serial, instruction offset, line.
pub(crate) type InstrKey = (u64, u64, u32, u32);

/// Per instruction offset: line, self samples, total samples.
type InstrCount = (u32, u64, u64);

/// One code object's names and bytecode.
struct CodeData {
    info: CodeInfo,
    bytecode: Vec<u8>,
}

/// One code object's samples.
#[derive(Debug, Default, PartialEq)]
struct CodeCounts {
    /// Read the bytecode again once `total` reaches this.
    next_read: u64,
    self_samples: u64,
    total: u64,
    instrs: FxHashMap<u32, InstrCount>,
}

impl CodeCounts {
    /// Before any sample: the bytecode was read when the code object was
    /// first seen, and is read again at its second sample.
    fn new() -> Self {
        CodeCounts {
            next_read: 2,
            ..CodeCounts::default()
        }
    }
}

/// What `--opcodes` counts during one sampling run.
#[derive(Default)]
pub(crate) struct InstrCounts {
    codes: FxHashMap<(u64, u64), CodeData>,
    counts: FxHashMap<(u64, u64), CodeCounts>,
    /// Code objects whose bytecode is due to be read again.
    due: Vec<(u64, u64)>,
    /// Scratch: what one sample counted already (a recursion counts once).
    seen: Vec<(u64, u64, u32)>,
}

impl InstrCounts {
    /// The keys of the frames `refs` (innermost first), leaving out those
    /// whose code `hidden` says is the profiler's own; code objects seen for
    /// the first time are noted and their bytecode read.
    pub(crate) fn keys(
        &mut self,
        walker: &Walker,
        reader: &dyn MemoryReader,
        refs: &[FrameRef],
        hidden: impl Fn(&CodeInfo) -> bool,
    ) -> Vec<InstrKey> {
        let mut keys = Vec::with_capacity(refs.len());
        for r in refs {
            let Some(info) = walker.code(r.code) else {
                continue;
            };
            if hidden(info) {
                continue;
            }
            if let Entry::Vacant(slot) = self.codes.entry((r.code, r.serial)) {
                slot.insert(CodeData {
                    info: info.clone(),
                    bytecode: walker
                        .bytecode(reader, r.code, r.serial)
                        .unwrap_or_default(),
                });
                self.counts.insert((r.code, r.serial), CodeCounts::new());
            }
            keys.push((r.code, r.serial, r.offset, r.line));
        }
        keys
    }

    /// Counts `n` samples of the stack `keys` (innermost first).
    pub(crate) fn add(&mut self, keys: &[InstrKey], n: u64) {
        self.seen.clear();
        for (i, &(code, serial, offset, line)) in keys.iter().enumerate() {
            let Some(entry) = self.counts.get_mut(&(code, serial)) else {
                continue;
            };
            let innermost = i == 0;
            if innermost {
                entry.self_samples += n;
            }
            if !self.seen.contains(&(code, serial, NOT_STARTED)) {
                self.seen.push((code, serial, NOT_STARTED));
                entry.total += n;
                if entry.total >= entry.next_read {
                    entry.next_read = entry.total.saturating_mul(2);
                    self.due.push((code, serial));
                }
            }
            // A frame not started yet is about to run its first instruction:
            // its samples go there, so a function's self samples all sit on
            // instructions (`dis` places every one).
            let offset = if offset == NOT_STARTED { 0 } else { offset };
            let counted = self.seen.contains(&(code, serial, offset));
            if innermost || !counted {
                let slot = entry.instrs.entry(offset).or_insert((line, 0, 0));
                slot.1 += if innermost { n } else { 0 };
                slot.2 += if counted { 0 } else { n };
            }
            if !counted {
                self.seen.push((code, serial, offset));
            }
        }
    }

    /// Reads again the bytecode of the code objects whose samples doubled
    /// (`all`: of every code object, when sampling ends); a code object
    /// gone or changed keeps the bytecode read last.
    pub(crate) fn refresh(&mut self, walker: &Walker, reader: &dyn MemoryReader, all: bool) {
        if all {
            self.due = self.codes.keys().copied().collect();
        }
        for (code, serial) in self.due.drain(..) {
            if let Some(entry) = self.codes.get_mut(&(code, serial)) {
                if let Some(bytes) = walker.bytecode(reader, code, serial) {
                    entry.bytecode = bytes;
                }
            }
        }
    }

    /// The capture's section (without the opcode table, which the
    /// interpreter is asked for by whoever writes the capture).
    pub(crate) fn into_section(mut self, walker: &Walker) -> Opcodes {
        let mut codes: Vec<CodeSamples> = self
            .counts
            .into_iter()
            .filter(|(_, c)| c.total > 0)
            .filter_map(|(key, c)| Some(code_samples(walker, self.codes.remove(&key)?, c)))
            .collect();
        codes.sort_by(|a, b| (&a.file, a.first_line).cmp(&(&b.file, b.first_line)));
        Opcodes {
            version: OPCODES_VERSION,
            table: None,
            codes,
        }
    }
}

fn code_samples(walker: &Walker, e: CodeData, c: CodeCounts) -> CodeSamples {
    let mut line_starts: Vec<[u32; 2]> = Vec::new();
    let len = u32::try_from(e.bytecode.len()).unwrap_or(0);
    for offset in (0..len).step_by(2) {
        let line = walker.line_at(&e.info, offset).unwrap_or(0);
        if line_starts.last().map_or(true, |&[_, l]| l != line) {
            line_starts.push([offset, line]);
        }
    }
    let mut instructions: Vec<InstructionSamples> = c
        .instrs
        .into_iter()
        .map(|(offset, (line, self_samples, total))| InstructionSamples {
            offset,
            line,
            self_samples,
            total,
        })
        .collect();
    instructions.sort_by_key(|i| i.offset);
    CodeSamples {
        function: e.info.name.clone(),
        qualname: Some(e.info.qualname.clone()),
        file: e.info.filename.clone(),
        first_line: e.info.first_line,
        bytecode: CodeSamples::hex(&e.bytecode),
        line_starts,
        self_samples: c.self_samples,
        total_samples: c.total,
        instructions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Self counts the innermost frame only; total counts each code object
    /// and each instruction once per sample, however deep it recurses.
    #[test]
    fn self_and_total_per_instruction() {
        let mut counts = InstrCounts::default();
        for key in [(1, 1), (2, 1)] {
            counts.counts.insert(key, CodeCounts::new());
        }
        // f (code 1) at 10 called from f at 4, called from g (code 2) at 6.
        let stack = [(1, 1, 10, 3), (1, 1, 4, 2), (2, 1, 6, 7)];
        counts.add(&stack, 3);
        // f before its first instruction (counted at offset 0), called from g at 6.
        counts.add(&[(1, 1, NOT_STARTED, 1), (2, 1, 6, 7)], 1);
        let f = &counts.counts[&(1, 1)];
        assert_eq!((f.self_samples, f.total), (4, 4));
        assert_eq!(f.instrs[&10], (3, 3, 3));
        assert_eq!(f.instrs[&4], (2, 0, 3));
        assert_eq!(f.instrs[&0], (1, 1, 1));
        assert_eq!(f.instrs.len(), 3);
        let placed: u64 = f.instrs.values().map(|i| i.1).sum();
        assert_eq!(placed, f.self_samples);
        let g = &counts.counts[&(2, 1)];
        assert_eq!((g.self_samples, g.total), (0, 4));
        assert_eq!(g.instrs[&6], (7, 0, 4));
        // Bytecode is read again as samples double: from 3 samples on
        // (past 2), and next at 6.
        assert_eq!(counts.due, [(1, 1), (2, 1)]);
        assert_eq!(f.next_read, 6);
    }

    #[test]
    fn an_unknown_code_object_is_not_counted() {
        let mut counts = InstrCounts::default();
        counts.add(&[(9, 9, 0, 1)], 1);
        assert!(counts.counts.is_empty() && counts.due.is_empty());
    }
}
