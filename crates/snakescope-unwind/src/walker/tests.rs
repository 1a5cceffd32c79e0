//! The 3.8–3.10 frame-object walk over a fake address space built with
//! 3.10's generated offsets, and the live-objects-only walk over 3.12's.

use super::*;
use crate::reader::ReadError;
use snakescope_layouts::{static_layout, CurrentFrame, FrameModel, PyVersion, UnicodeState};
use std::cell::RefCell;
use std::collections::BTreeMap;

/// Sparse memory: regions by start address.
#[derive(Default)]
struct Fake(RefCell<BTreeMap<u64, Vec<u8>>>);

impl Fake {
    fn put(&self, addr: u64, bytes: &[u8]) {
        self.0.borrow_mut().insert(addr, bytes.to_vec());
    }
    fn put_u64(&self, addr: u64, v: u64) {
        self.put(addr, &v.to_le_bytes());
    }
    fn put_u32(&self, addr: u64, v: u32) {
        self.put(addr, &v.to_le_bytes());
    }
}

impl MemoryReader for Fake {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        // Byte by byte: in 0x1000..0x10_0000 a byte no region holds
        // reads as zero (untouched memory); anything else is unmapped.
        let map = self.0.borrow();
        for (i, b) in buf.iter_mut().enumerate() {
            let at = addr + i as u64;
            *b = map
                .range(..=at)
                .next_back()
                .and_then(|(&start, v)| v.get((at - start) as usize).copied())
                .unwrap_or(0);
        }
        if !(0x1000..0x10_0000).contains(&addr) {
            return Err(ReadError::Unmapped {
                addr,
                len: buf.len(),
            });
        }
        Ok(())
    }
}

/// The `state` of a compact ASCII `str`.
const ASCII_STATE: u8 = UnicodeState {
    kind: 1,
    compact: true,
    ascii: true,
}
.to_byte();

const RUNTIME: u64 = 0x1000;
const INTERP: u64 = 0x2000;
const TSTATE: u64 = 0x3000;
const PTHREAD: u64 = 0x4000;
const NAME: u64 = 0x5000;
const FILE: u64 = 0x5100;
const LNOTAB: u64 = 0x5200;
const BYTECODE: u64 = 0x5300;
const CODE: u64 = 0x6000;
const FRAMES: [u64; 3] = [0x8000, 0x9000, 0xa000];

fn ascii(mem: &Fake, o: &snakescope_layouts::Offsets, addr: u64, text: &str) {
    mem.put_u64(addr + o.unicode_length, text.len() as u64);
    // not interned, kind 1, compact, ascii
    mem.put(addr + o.unicode_state, &[ASCII_STATE]);
    mem.put(addr + o.unicode_ascii_size, text.as_bytes());
}

/// A thread three frames deep in one function (`f`, first line 10), the
/// innermost at byte offset 4 (line 12 by the table: 0..4 line 10, 4..8 +2).
fn build() -> (Fake, Layout) {
    let layout = static_layout(PyVersion::minor_only(3, 10)).unwrap();
    let FrameModel::Objects(f) = layout.frames else {
        panic!("3.10 reads frame objects")
    };
    let o = layout.offsets;
    let mem = Fake::default();
    mem.put_u64(RUNTIME + o.runtime_interpreters_head, INTERP);
    mem.put_u64(INTERP + o.interp_threads_head, TSTATE);
    mem.put_u64(TSTATE + o.thread_interp, INTERP);
    mem.put_u64(TSTATE + o.thread_thread_id, PTHREAD);
    mem.put_u32(PTHREAD + 720, 4242);
    if let CurrentFrame::Direct(off) = o.current_frame {
        mem.put_u64(TSTATE + off, FRAMES[0]);
    }
    ascii(&mem, &o, NAME, "f");
    ascii(&mem, &o, FILE, "f.py");
    mem.put_u64(LNOTAB + o.bytes_size, 4);
    mem.put(LNOTAB + o.bytes_sval, &[4, 0, 4, 2]);
    mem.put_u64(BYTECODE + o.bytes_size, 8);
    mem.put_u64(CODE + o.code_name, NAME);
    mem.put_u64(CODE + o.code_qualname, NAME);
    mem.put_u64(CODE + o.code_filename, FILE);
    mem.put_u64(CODE + o.code_linetable, LNOTAB);
    mem.put_u64(CODE + f.code_code, BYTECODE);
    mem.put_u32(CODE + o.code_firstlineno, 10);
    for (i, &frame) in FRAMES.iter().enumerate() {
        mem.put_u64(frame + o.object_type - 8, 1); // ob_refcnt: alive
        mem.put_u64(frame + o.frame_code, CODE);
        mem.put_u64(
            frame + o.frame_previous,
            FRAMES.get(i + 1).copied().unwrap_or(0),
        );
        // f_lasti in code units: 2 -> byte 4 (line 12), -1 (not started) -> line 10.
        mem.put_u32(frame + o.frame_instr, if i == 0 { 2 } else { u32::MAX });
    }
    (mem, layout)
}

#[test]
fn walks_frame_objects() {
    let (mem, layout) = build();
    let mut walker = Walker::new(layout, RUNTIME, TypeAddresses::default());
    let threads = walker.threads(&mem).unwrap();
    assert_eq!(threads.len(), 1);
    assert_eq!(threads[0].native_id, 4242);
    assert_eq!(threads[0].stack_chunk, 0);
    let mut out = Vec::new();
    walker.walk(&mem, &threads[0], &mut out).unwrap();
    let lines: Vec<u32> = out.iter().map(|f| f.line).collect();
    assert_eq!(lines, [12, 10, 10]);
    let code = walker.code(CODE).unwrap();
    assert_eq!((code.name.as_str(), code.filename.as_str()), ("f", "f.py"));
    assert_eq!(code.units, 4);
    // --opcodes: f_lasti 2 (code units, 3.10) is byte 4; −1 has not started.
    let offsets: Vec<u32> = out.iter().map(|f| f.offset).collect();
    assert_eq!(offsets, [4, NOT_STARTED, NOT_STARTED]);
    assert_eq!(walker.line_at(code, 4), Some(12));
    let o = walker.layout().offsets;
    mem.put(BYTECODE + o.bytes_sval, &[100, 0, 83, 0, 9, 0, 9, 0]);
    let serial = out[0].serial;
    assert_eq!(
        walker.bytecode(&mem, CODE, serial),
        Some(vec![100, 0, 83, 0, 9, 0, 9, 0])
    );
    // Another load of the code object (another serial) is not read.
    assert_eq!(walker.bytecode(&mem, CODE, serial + 1), None);
}

#[test]
fn refuses_torn_frame_objects() {
    let FrameModel::Objects(f) = build().1.frames else {
        unreachable!()
    };
    let o = build().1.offsets;
    // The outermost frame is a generator's: its f_back was just cleared.
    let (mem, layout) = build();
    mem.put_u64(FRAMES[2] + f.frame_gen, 0x7000);
    let mut walker = Walker::new(layout, RUNTIME, TypeAddresses::default());
    let thread = walker.threads(&mem).unwrap()[0];
    let err = walker.walk(&mem, &thread, &mut Vec::new()).unwrap_err();
    assert!(matches!(err, WalkError::Torn("stack cut short")), "{err}");
    // f_lasti past the end of the bytecode.
    let (mem, layout) = build();
    mem.put_u32(FRAMES[0] + o.frame_instr, 4);
    let mut walker = Walker::new(layout, RUNTIME, TypeAddresses::default());
    let thread = walker.threads(&mem).unwrap()[0];
    let err = walker.walk(&mem, &thread, &mut Vec::new()).unwrap_err();
    assert!(matches!(err, WalkError::Torn(_)), "{err}");
    // The innermost frame has returned and been freed (reference count 0):
    // its f_back is now a free-list link, not the caller.
    let (mem, layout) = build();
    mem.put_u64(FRAMES[0] + o.object_type - 8, 0);
    let mut walker = Walker::new(layout, RUNTIME, TypeAddresses::default());
    let thread = walker.threads(&mem).unwrap()[0];
    let err = walker.walk(&mem, &thread, &mut Vec::new()).unwrap_err();
    assert!(matches!(err, WalkError::Torn("a freed frame")), "{err}");
    // Not a frame object, once PyFrame_Type is known.
    let (mem, layout) = build();
    let types = TypeAddresses {
        frame: Some(0x7100),
        ..TypeAddresses::default()
    };
    let mut walker = Walker::new(layout, RUNTIME, types);
    let thread = walker.threads(&mem).unwrap()[0];
    let err = walker.walk(&mem, &thread, &mut Vec::new()).unwrap_err();
    assert!(
        matches!(err, WalkError::Torn("not a frame object")),
        "{err}"
    );
}

/// Memory made of objects only: a read must lie inside one of them,
/// whole (what plain loads of live objects may touch; anything else
/// could be unmapped in a real process). Records every refused read.
#[derive(Default)]
struct Objects {
    map: RefCell<BTreeMap<u64, Vec<u8>>>,
    refused: RefCell<Vec<(u64, usize)>>,
}

impl Objects {
    fn object(&self, addr: u64, size: usize) {
        self.map.borrow_mut().insert(addr, vec![0; size]);
    }
    fn set(&self, addr: u64, bytes: &[u8]) {
        let mut map = self.map.borrow_mut();
        let (&start, v) = map
            .range_mut(..=addr)
            .next_back()
            .expect("inside an object");
        let at = (addr - start) as usize;
        v[at..at + bytes.len()].copy_from_slice(bytes);
    }
    fn set_u64(&self, addr: u64, v: u64) {
        self.set(addr, &v.to_le_bytes());
    }
}

impl MemoryReader for Objects {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        let map = self.map.borrow();
        let inside = map.range(..=addr).next_back().and_then(|(&start, v)| {
            let at = (addr - start) as usize;
            v.get(at..at + buf.len())
        });
        match inside {
            Some(bytes) => {
                buf.copy_from_slice(bytes);
                Ok(())
            }
            None => {
                self.refused.borrow_mut().push((addr, buf.len()));
                Err(ReadError::Unmapped {
                    addr,
                    len: buf.len(),
                })
            }
        }
    }
}

/// A thread of 3.12 (frames in a data-stack chunk, reached through
/// `cframe`) as live objects only: three frames of `f` (lines 12, 10, 10)
/// and the shim frame every 3.12 stack starts with, innermost first.
fn own_stack_312() -> (Objects, Layout, Vec<u64>) {
    let layout = static_layout(PyVersion::minor_only(3, 12)).unwrap();
    let o = layout.offsets;
    let CurrentFrame::ViaCFrame {
        cframe,
        current_frame,
    } = o.current_frame
    else {
        panic!("3.12 reaches its frames through cframe")
    };
    const CFRAME: u64 = 0x4000;
    const CHUNK: u64 = 0x10000;
    const CODE: u64 = 0x20000;
    let mem = Objects::default();
    mem.object(TSTATE, o.thread_size as usize);
    mem.object(CFRAME, 16);
    let str_size = |text: &str| o.unicode_ascii_size as usize + text.len() + 1;
    for (addr, text) in [(NAME, "f"), (FILE, "f.py")] {
        mem.object(addr, str_size(text));
        mem.set_u64(addr + o.unicode_length, text.len() as u64);
        mem.set(addr + o.unicode_state, &[ASCII_STATE]);
        mem.set(addr + o.unicode_ascii_size, text.as_bytes());
    }
    // Line table: code units 0-1 at line 10, 2-3 at line 12 (entries
    // "no column", length 2, line delta as a signed varint: 0, then +2).
    let table = [0x80 | (13 << 3) | 1, 0, 0x80 | (13 << 3) | 1, 4];
    mem.object(LNOTAB, (o.bytes_sval as usize) + table.len() + 1);
    mem.set_u64(LNOTAB + o.bytes_size, table.len() as u64);
    mem.set(LNOTAB + o.bytes_sval, &table);
    mem.object(CODE, (o.code_adaptive + 8) as usize);
    mem.set_u64(CODE + o.code_ob_size, 4);
    mem.set_u64(CODE + o.code_name, NAME);
    mem.set_u64(CODE + o.code_qualname, NAME);
    mem.set_u64(CODE + o.code_filename, FILE);
    mem.set_u64(CODE + o.code_linetable, LNOTAB);
    mem.set(CODE + o.code_firstlineno, &10u32.to_le_bytes());
    // Three frames of `f` on one chunk, the innermost first, then the
    // shim frame every 3.12 stack starts with; each frame one object,
    // with room between them (locals) that is not.
    let frames: Vec<u64> = (0..4)
        .map(|i| CHUNK + o.stack_chunk_data + 0x100 * (3 - i))
        .collect();
    for (i, &frame) in frames.iter().enumerate() {
        mem.object(frame, o.frame_size as usize);
        mem.set_u64(frame + o.frame_code, CODE);
        mem.set_u64(
            frame + o.frame_previous,
            frames.get(i + 1).copied().unwrap_or(0),
        );
        // The innermost at unit 2 (line 12), the others at unit 0 (line 10).
        let unit = if i == 0 { 2 } else { 0 };
        mem.set_u64(frame + o.frame_instr, CODE + o.code_adaptive + 2 * unit);
        let owner = if i == 3 { layout.owners.shim_min } else { 0 };
        mem.set(frame + o.frame_owner, &[owner]);
    }
    mem.set_u64(TSTATE + cframe, CFRAME);
    mem.set_u64(CFRAME + current_frame, frames[0]);
    mem.set_u64(TSTATE + o.thread_datastack_chunk, CHUNK);
    mem.set_u64(TSTATE + o.thread_datastack_top.unwrap(), frames[0] + 0x80);
    (mem, layout, frames)
}

/// The walk `memory` does of the calling thread's own stack with plain
/// loads: with `read_live_objects_only` every read lies inside a live
/// object — thread state, cframe, frames, code, strings, line table —
/// and the stack comes out whole; the default walk reads a range of the
/// chunk (and then objects remembered from its previous walk), which
/// plain loads must never do.
#[test]
fn live_objects_only_reads_inside_objects() {
    let (mem, layout, _) = own_stack_312();
    let mut walker = Walker::new(layout, RUNTIME, TypeAddresses::default());
    walker.read_live_objects_only(true);
    for _ in 0..2 {
        let thread = walker.thread_at(&mem, TSTATE).unwrap();
        let mut out = Vec::new();
        walker.walk(&mem, &thread, &mut out).unwrap();
        let lines: Vec<u32> = out.iter().map(|f| f.line).collect();
        assert_eq!(lines, [12, 10, 10]);
        assert!(
            mem.refused.borrow().is_empty(),
            "{:x?}",
            mem.refused.borrow()
        );
    }
    // --opcodes: the instruction's byte offset, and the bytecode inside
    // the code object (`co_code_adaptive`), as it is now.
    let thread = walker.thread_at(&mem, TSTATE).unwrap();
    let mut out = Vec::new();
    walker.walk(&mem, &thread, &mut out).unwrap();
    let offsets: Vec<u32> = out.iter().map(|f| f.offset).collect();
    assert_eq!(offsets, [4, 0, 0]);
    let code = out[0].code; // own_stack_312's
    mem.set(
        code + layout.offsets.code_adaptive,
        &[151, 0, 124, 1, 3, 0, 0, 0],
    );
    assert_eq!(
        walker.bytecode(&mem, code, out[0].serial),
        Some(vec![151, 0, 124, 1, 3, 0, 0, 0])
    );
    // The default walk snapshots the chunk's live range in one read.
    let mut walker = Walker::new(layout, RUNTIME, TypeAddresses::default());
    let thread = walker.thread_at(&mem, TSTATE).unwrap();
    let _ = walker.walk(&mem, &thread, &mut Vec::new());
    assert!(!mem.refused.borrow().is_empty());
}

/// The stack key reads only inside live objects, gives the same key for
/// the same stack, and another once a frame runs another instruction or
/// the stack is shorter — all without decoding a code object.
#[test]
fn stack_key_follows_what_frames_run() {
    let (mem, layout, frames) = own_stack_312();
    let o = layout.offsets;
    let walker = Walker::new(layout, RUNTIME, TypeAddresses::default());
    let key = walker.stack_key(&mem, TSTATE).unwrap();
    assert_eq!(walker.stack_key(&mem, TSTATE).unwrap(), key);
    assert!(
        mem.refused.borrow().is_empty(),
        "{:x?}",
        mem.refused.borrow()
    );
    // The innermost frame moves to another instruction.
    mem.set_u64(frames[0] + o.frame_instr, 0x20000 + o.code_adaptive);
    let moved = walker.stack_key(&mem, TSTATE).unwrap();
    assert_ne!(moved, key);
    // The innermost frame returns.
    let CurrentFrame::ViaCFrame { current_frame, .. } = o.current_frame else {
        unreachable!()
    };
    mem.set_u64(0x4000 + current_frame, frames[1]);
    let shorter = walker.stack_key(&mem, TSTATE).unwrap();
    assert!(shorter != key && shorter != moved);
    // No frame at all.
    mem.set_u64(0x4000 + current_frame, 0);
    let empty = walker.stack_key(&mem, TSTATE).unwrap();
    assert!(![key, moved, shorter].contains(&empty));
    assert!(
        mem.refused.borrow().is_empty(),
        "{:x?}",
        mem.refused.borrow()
    );
}

/// On 3.8–3.10 the key reads frame objects (`f_lasti` an `int`); a cycle
/// from a torn read ends in an error, not a hang.
#[test]
fn stack_key_of_frame_objects() {
    let (mem, layout) = build();
    let o = layout.offsets;
    let walker = Walker::new(layout, RUNTIME, TypeAddresses::default());
    let key = walker.stack_key(&mem, TSTATE).unwrap();
    assert_eq!(walker.stack_key(&mem, TSTATE).unwrap(), key);
    // f_lasti is an int: what follows it (f_lineno) is not part of the key.
    mem.put_u32(FRAMES[0] + o.frame_instr + 4, 77);
    assert_eq!(walker.stack_key(&mem, TSTATE).unwrap(), key);
    mem.put_u32(FRAMES[0] + o.frame_instr, 0);
    assert_ne!(walker.stack_key(&mem, TSTATE).unwrap(), key);
    mem.put_u64(FRAMES[2] + o.frame_previous, FRAMES[0]);
    let err = walker.stack_key(&mem, TSTATE).unwrap_err();
    assert!(matches!(err, WalkError::Torn(_)), "{err}");
}
