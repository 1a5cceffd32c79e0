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

/// One frame of a sample: code object, its load serial, instruction offset, line.
pub(crate) type InstrKey = (u64, u64, u32, u32);

/// Per instruction offset: line, self samples, total samples.
type InstrCount = (u32, u64, u64);

/// One code object's bytecode and counts.
struct CodeEntry {
    info: CodeInfo,
    bytecode: Vec<u8>,
    /// Read the bytecode again once `total` reaches this.
    next_read: u64,
    self_samples: u64,
    total: u64,
    instrs: FxHashMap<u32, InstrCount>,
}

/// What `--opcodes` counts during one sampling run.
#[derive(Default)]
pub(crate) struct InstrCounts {
    codes: FxHashMap<(u64, u64), CodeEntry>,
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
            self.codes.entry((r.code, r.serial)).or_insert_with(|| CodeEntry {
                info: info.clone(),
                bytecode: walker.bytecode(reader, r.code, r.serial).unwrap_or_default(),
                next_read: 2,
                self_samples: 0,
                total: 0,
                instrs: FxHashMap::default(),
            });
            keys.push((r.code, r.serial, r.offset, r.line));
        }
        keys
    }

    /// Counts `n` samples of the stack `keys` (innermost first).
    pub(crate) fn add(&mut self, keys: &[InstrKey], n: u64) {
        self.seen.clear();
        for (i, &(code, serial, offset, line)) in keys.iter().enumerate() {
            let Some(entry) = self.codes.get_mut(&(code, serial)) else {
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
            if offset == NOT_STARTED {
                continue;
            }
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
    pub(crate) fn into_section(self, walker: &Walker) -> Opcodes {
        let mut codes: Vec<CodeSamples> = self
            .codes
            .into_values()
            .filter(|e| e.total > 0)
            .map(|e| code_samples(walker, e))
            .collect();
        codes.sort_by(|a, b| (&a.file, a.first_line).cmp(&(&b.file, b.first_line)));
        Opcodes {
            version: OPCODES_VERSION,
            table: None,
            codes,
        }
    }
}

fn code_samples(walker: &Walker, e: CodeEntry) -> CodeSamples {
    let mut line_starts: Vec<[u32; 2]> = Vec::new();
    let len = u32::try_from(e.bytecode.len()).unwrap_or(0);
    for offset in (0..len).step_by(2) {
        let line = walker.line_at(&e.info, offset).unwrap_or(0);
        if line_starts.last().map_or(true, |&[_, l]| l != line) {
            line_starts.push([offset, line]);
        }
    }
    let mut instructions: Vec<InstructionSamples> = e
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
        self_samples: e.self_samples,
        total_samples: e.total,
        instructions,
    }
}
