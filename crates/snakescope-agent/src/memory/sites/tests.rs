//! Sites from a fake 3.12 thread (frames reached through `cframe`), read
//! through a reader of objects only, as the hooks read their own stack.

use super::super::state::State;
use super::super::Source;
use snakescope_layouts::{static_layout, CurrentFrame, Layout, PyVersion, UnicodeState};
use snakescope_unwind::{MemoryReader, ReadError, TypeAddresses, Walker};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

const TSTATE: u64 = 0x3000;
const CFRAME: u64 = 0x4000;
const CHUNK: u64 = 0x10000;
/// `boot` in boot.py (the outermost frame) and `f` in f.py.
const CODES: [(u64, u64, u64, &str, &str); 2] = [
    (0x20000, 0x5000, 0x5100, "boot", "boot.py"),
    (0x21000, 0x5200, 0x5300, "f", "f.py"),
];
const LINETABLE: u64 = 0x5400;

/// Memory made of objects: a read must lie inside one, whole (what plain
/// loads of live objects may touch). Counts reads.
#[derive(Default)]
struct Objects {
    map: RefCell<BTreeMap<u64, Vec<u8>>>,
    reads: Cell<usize>,
}

impl Objects {
    fn object(&self, addr: u64, size: usize) {
        self.map.borrow_mut().insert(addr, vec![0; size]);
    }
    fn set(&self, addr: u64, bytes: &[u8]) {
        let mut map = self.map.borrow_mut();
        let (&start, v) = map.range_mut(..=addr).next_back().expect("an object");
        let at = (addr - start) as usize;
        v[at..at + bytes.len()].copy_from_slice(bytes);
    }
    fn set_u64(&self, addr: u64, v: u64) {
        self.set(addr, &v.to_le_bytes());
    }
}

impl MemoryReader for Objects {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        self.reads.set(self.reads.get() + 1);
        let map = self.map.borrow();
        let inside = map.range(..=addr).next_back().and_then(|(&start, v)| {
            let at = (addr - start) as usize;
            v.get(at..at + buf.len())
        });
        let bytes = inside.unwrap_or_else(|| panic!("read outside objects at {addr:#x}"));
        buf.copy_from_slice(bytes);
        Ok(())
    }
}

/// A thread running `boot` (line 10) → `f` (line 10) → `f` (line 12 at
/// unit 2), plus the shim frame every 3.12 stack starts with; the frames,
/// innermost first.
fn thread() -> (Objects, Layout, Vec<u64>) {
    let layout = static_layout(PyVersion::minor_only(3, 12)).unwrap();
    let o = layout.offsets;
    let CurrentFrame::ViaCFrame {
        cframe,
        current_frame,
    } = o.current_frame
    else {
        panic!("3.12 reaches its frames through cframe")
    };
    let mem = Objects::default();
    mem.object(TSTATE, o.thread_size as usize);
    mem.object(CFRAME, 16);
    let state = UnicodeState {
        kind: 1,
        compact: true,
        ascii: true,
    }
    .to_byte();
    // Code units 0-1 at line 10, 2-3 at line 12.
    let table = [0x80 | (13 << 3) | 1, 0, 0x80 | (13 << 3) | 1, 4];
    mem.object(LINETABLE, o.bytes_sval as usize + table.len() + 1);
    mem.set_u64(LINETABLE + o.bytes_size, table.len() as u64);
    mem.set(LINETABLE + o.bytes_sval, &table);
    for (code, name, file, name_text, file_text) in CODES {
        for (addr, text) in [(name, name_text), (file, file_text)] {
            mem.object(addr, o.unicode_ascii_size as usize + text.len() + 1);
            mem.set_u64(addr + o.unicode_length, text.len() as u64);
            mem.set(addr + o.unicode_state, &[state]);
            mem.set(addr + o.unicode_ascii_size, text.as_bytes());
        }
        mem.object(code, (o.code_adaptive + 8) as usize);
        mem.set_u64(code + o.code_ob_size, 4);
        mem.set_u64(code + o.code_name, name);
        mem.set_u64(code + o.code_qualname, name);
        mem.set_u64(code + o.code_filename, file);
        mem.set_u64(code + o.code_linetable, LINETABLE);
        mem.set(code + o.code_firstlineno, &10u32.to_le_bytes());
    }
    let frames: Vec<u64> = (0..4).map(|i| CHUNK + 0x100 * (4 - i)).collect();
    for (i, &frame) in frames.iter().enumerate() {
        let code = if i >= 2 { CODES[0].0 } else { CODES[1].0 };
        mem.object(frame, o.frame_size as usize);
        mem.set_u64(frame + o.frame_code, code);
        let previous = frames.get(i + 1).copied().unwrap_or(0);
        mem.set_u64(frame + o.frame_previous, previous);
        let unit = if i == 0 { 2 } else { 0 };
        mem.set_u64(frame + o.frame_instr, code + o.code_adaptive + 2 * unit);
        let owner = if i == 3 { layout.owners.shim_min } else { 0 };
        mem.set(frame + o.frame_owner, &[owner]);
    }
    mem.set_u64(TSTATE + cframe, CFRAME);
    mem.set_u64(CFRAME + current_frame, frames[0]);
    (mem, layout, frames)
}

fn session(layout: Layout, hidden: &[&str]) -> State {
    let walker = Walker::new(layout, 0x1000, TypeAddresses::default());
    let hidden: HashSet<String> = hidden.iter().map(|s| s.to_string()).collect();
    State::new(walker, hidden, Instant::now())
}

/// A site's frames as (function, line), root first.
fn frames_of(state: &State, site: u32) -> Vec<(String, u32)> {
    let ids = &state.sites[site as usize].0;
    let frame = |&id: &usize| state.frames.get(id).expect("an interned frame");
    ids.iter()
        .map(|id| (frame(id).function.clone(), frame(id).line))
        .collect()
}

#[test]
fn a_stack_seen_before_costs_only_its_key() {
    let (mem, layout, frames) = thread();
    let mut state = session(layout, &[]);
    let site = state.site_of_thread(&mem, TSTATE, Source::Python);
    let walked = mem.reads.replace(0);
    let want = [("boot", 10), ("f", 10), ("f", 12)].map(|(f, l)| (f.to_owned(), l));
    assert_eq!(frames_of(&state, site), want);
    assert_eq!(state.site_of_thread(&mem, TSTATE, Source::Python), site);
    // The key: cframe, the innermost frame, then code, instruction and
    // previous of each frame (the shim's included); no walk.
    assert_eq!(mem.reads.get(), 2 + 3 * frames.len());
    assert!(walked > mem.reads.get());
    // Another source is another site, with the same frames.
    let native = state.site_of_thread(&mem, TSTATE, Source::Native);
    assert_ne!(native, site);
    assert_eq!(state.sites[native as usize].0, state.sites[site as usize].0);
}

#[test]
fn another_line_is_another_site_and_frames_are_interned_once() {
    let (mem, layout, frames) = thread();
    let o = layout.offsets;
    let mut state = session(layout, &[]);
    let first = state.site_of_thread(&mem, TSTATE, Source::Python);
    let f = CODES[1].0;
    mem.set_u64(frames[0] + o.frame_instr, f + o.code_adaptive);
    let second = state.site_of_thread(&mem, TSTATE, Source::Python);
    assert_ne!(first, second);
    let want = [("boot", 10), ("f", 10), ("f", 10)].map(|(f, l)| (f.to_owned(), l));
    assert_eq!(frames_of(&state, second), want);
    // boot:10, f:10, f:12: one id per distinct frame.
    assert_eq!(state.frames.len(), 3);
    let stack = &state.sites[second as usize].0;
    assert_eq!(stack[1], stack[2]);
}

#[test]
fn hidden_files_are_left_out_at_the_root_only() {
    let (mem, layout, _) = thread();
    let mut state = session(layout, &["boot.py"]);
    let site = state.site_of_thread(&mem, TSTATE, Source::Python);
    let want = [("f", 10), ("f", 12)].map(|(f, l)| (f.to_owned(), l));
    assert_eq!(frames_of(&state, site), want);
    let mut state = session(layout, &["f.py"]);
    let site = state.site_of_thread(&mem, TSTATE, Source::Python);
    assert_eq!(frames_of(&state, site).len(), 3, "f.py is not at the root");
}

#[test]
fn no_thread_state_or_an_unreadable_stack_is_an_empty_stack() {
    let (mem, layout, frames) = thread();
    let mut state = session(layout, &[]);
    let none = state.site_of_thread(&mem, 0, Source::Native);
    assert!(state.sites[none as usize].0.is_empty());
    assert_eq!(state.site_of_thread(&mem, 0, Source::Native), none);
    // A frame without a code object: the walk refuses the stack.
    mem.set_u64(frames[1] + layout.offsets.frame_code, 0);
    let torn = state.site_of_thread(&mem, TSTATE, Source::Native);
    assert_eq!(torn, none);
}
