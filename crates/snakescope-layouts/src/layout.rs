//! The one description of an interpreter's memory that the stack walker uses,
//! whichever way it was obtained (generated offsets or `_Py_DebugOffsets`).

use std::fmt;

/// A CPython version as `Py_Version` / `PY_VERSION_HEX` encodes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PyVersion {
    pub major: u8,
    pub minor: u8,
    pub micro: u8,
    /// 0xA alpha, 0xB beta, 0xC candidate, 0xF final.
    pub level: u8,
    pub serial: u8,
}

impl PyVersion {
    /// Decodes a `PY_VERSION_HEX` value.
    pub fn from_hex(hex: u64) -> PyVersion {
        PyVersion {
            major: (hex >> 24) as u8,
            minor: (hex >> 16) as u8,
            micro: (hex >> 8) as u8,
            level: ((hex >> 4) & 0xf) as u8,
            serial: (hex & 0xf) as u8,
        }
    }

    /// A version known only by major and minor (e.g. from a file name).
    pub fn minor_only(major: u8, minor: u8) -> PyVersion {
        PyVersion {
            major,
            minor,
            micro: 0,
            level: 0,
            serial: 0,
        }
    }
}

impl fmt::Display for PyVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.level == 0 {
            return write!(f, "{}.{}", self.major, self.minor);
        }
        write!(f, "{}.{}.{}", self.major, self.minor, self.micro)?;
        match self.level {
            0xa => write!(f, "a{}", self.serial),
            0xb => write!(f, "b{}", self.serial),
            0xc => write!(f, "rc{}", self.serial),
            _ => Ok(()),
        }
    }
}

/// Where the GIL's state lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GilBase {
    /// In `_PyRuntime` (3.11).
    Runtime,
    /// In the interpreter state (3.12+, per-interpreter GIL).
    Interpreter,
}

/// Offsets of the GIL's `locked` flag and `last_holder` thread state, from [`GilBase`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GilOffsets {
    pub base: GilBase,
    pub locked: u64,
    pub holder: u64,
}

/// How a thread state points to its innermost Python frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CurrentFrame {
    /// `tstate->cframe->current_frame` (3.11, 3.12).
    ViaCFrame { cframe: u64, current_frame: u64 },
    /// `tstate->current_frame` (3.13+), or `tstate->frame` (3.8–3.10).
    Direct(u64),
}

/// What a frame is and how its line is found: the one place the walker's
/// frame handling branches (3.11+ vs 3.8–3.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameModel {
    /// 3.11+: `_PyInterpreterFrame`s, mostly in the thread's data stack
    /// chunks, with a pointer to the current code unit in
    /// `co_code_adaptive` and the 3.11 location table (`co_linetable`).
    Interpreter,
    /// 3.8–3.10: `PyFrameObject`s, heap objects linked by `f_back`, with
    /// `f_lasti` (an `int`) and a separate `co_code` bytes object. In
    /// [`Offsets`], `frame_previous` is `f_back`, `frame_instr` is `f_lasti`,
    /// `code_qualname` is `co_name` (no qualname before 3.11),
    /// `code_linetable` is `co_lnotab` or `co_linetable`, `code_adaptive` is
    /// `sizeof(PyCodeObject)` (the header read), and the data-stack fields,
    /// `frame_owner` and `code_ob_size` are unused.
    Objects(ObjectFrames),
}

/// What 3.8–3.10 frames and code objects need beyond [`Offsets`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectFrames {
    /// `PyFrameObject.f_gen`: the generator or coroutine a frame belongs to,
    /// which is always resumed by a caller (so never the outermost frame).
    pub frame_gen: u64,
    /// `PyCodeObject.co_code`, the bytecode (`bytes`): its size bounds `f_lasti`.
    pub code_code: u64,
    /// What `f_lasti` counts.
    pub lasti: Lasti,
    /// The format of the line table at `code_linetable`.
    pub lines: LineFormat,
}

/// What `PyFrameObject.f_lasti` counts (−1 before the first instruction).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lasti {
    /// Bytes into `co_code` (3.8, 3.9).
    Bytes,
    /// 2-byte code units (3.10).
    Units,
}

/// Line table formats before 3.11.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineFormat {
    /// `co_lnotab` (3.8, 3.9): (byte increment, signed line increment) pairs.
    Lnotab,
    /// `co_linetable` (3.10): (byte length, signed line delta; −128 = none) pairs.
    Lines310,
}

/// How to find a thread's OS thread id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NativeId {
    /// `tstate->native_thread_id` (3.11+): [`Offsets::thread_native_thread_id`].
    Field,
    /// No such field (3.8–3.10): the `tid` of glibc's `struct pthread`, which
    /// `tstate->thread_id` (a `pthread_t`) points to, at this offset (x86-64).
    PthreadTid(u64),
}

/// Offset of `tid` in glibc's `struct pthread` on x86-64 (unchanged since
/// glibc 2.x's NPTL; checked against the target's main thread at attach).
pub const GLIBC_PTHREAD_TID: u64 = 720;

/// Byte offsets of every field the walker reads. All offsets are from the start
/// of the named struct; sizes are what one read of that struct must cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offsets {
    pub runtime_interpreters_head: u64,
    /// `None` on free-threaded builds, which have no GIL.
    pub gil: Option<GilOffsets>,
    pub interp_next: u64,
    pub interp_threads_head: u64,
    pub thread_size: u64,
    pub thread_next: u64,
    pub thread_interp: u64,
    pub current_frame: CurrentFrame,
    pub thread_thread_id: u64,
    pub thread_native_thread_id: u64,
    /// `tstate->datastack_chunk`: the chunk of memory most frames live in.
    pub thread_datastack_chunk: u64,
    /// `tstate->datastack_top`, the end of the live part of the chunk, when
    /// the version publishes it (not in 3.13's debug offsets).
    pub thread_datastack_top: Option<u64>,
    /// Offset of the first frame slot in a `_PyStackChunk`.
    pub stack_chunk_data: u64,
    pub frame_size: u64,
    pub frame_previous: u64,
    pub frame_code: u64,
    /// `prev_instr` (3.11, 3.12) or `instr_ptr` (3.13+): both point at the
    /// code unit of the instruction being executed.
    pub frame_instr: u64,
    pub frame_owner: u64,
    /// 3.14+ stores the code object as a tagged `_PyStackRef`.
    pub frame_code_tagged: bool,
    pub code_ob_size: u64,
    pub code_filename: u64,
    pub code_name: u64,
    pub code_qualname: u64,
    pub code_linetable: u64,
    pub code_firstlineno: u64,
    pub code_adaptive: u64,
    pub object_type: u64,
    pub unicode_state: u64,
    pub unicode_length: u64,
    pub unicode_ascii_size: u64,
    pub unicode_compact_size: u64,
    pub bytes_size: u64,
    pub bytes_sval: u64,
}

/// `_PyInterpreterFrame.owner` value of the shim frames that C code pushes
/// (3.12, 3.13); they carry no Python code the user wrote and are skipped.
pub const FRAME_OWNED_BY_CSTACK: u8 = 3;

/// `_PyInterpreterFrame.owner` of a generator's or coroutine's frame. Such a
/// frame is always resumed by a caller, so it can never be a stack's root.
pub const FRAME_OWNED_BY_GENERATOR: u8 = 1;

/// What a frame's `owner` says about it, per version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameOwners {
    /// A generator's or coroutine's frame.
    pub generator: u8,
    /// This value and higher: a frame pushed by the interpreter's C entry
    /// point or by C code, with no Python code in it (`FRAME_OWNED_BY_CSTACK`
    /// = 3 on 3.12 and 3.13; on 3.14 `FRAME_OWNED_BY_INTERPRETER` = 3 and
    /// `FRAME_OWNED_BY_CSTACK` = 4; 3.15 has only the former).
    pub shim_min: u8,
}

impl FrameOwners {
    /// Whether a frame with this owner is a shim (skipped, ends a stack).
    pub fn is_shim(&self, owner: u8) -> bool {
        owner >= self.shim_min
    }
}

/// An interpreter's version and the offsets to read it with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub version: PyVersion,
    /// A free-threaded build (3.13t): no GIL, so no GIL holder to report.
    pub free_threaded: bool,
    pub offsets: Offsets,
    /// For reading objects (thread names); `None` where not known.
    pub objects: Option<crate::ObjectOffsets>,
    pub owners: FrameOwners,
    /// Interpreter frames (3.11+) or frame objects (3.8–3.10).
    pub frames: FrameModel,
    /// Where a thread's OS id comes from.
    pub native_id: NativeId,
    /// False for a version newer than every one snakescope knows, read with
    /// the newest known table shape because every check passed: the caller
    /// should verify it against the live interpreter, and say it is untested.
    pub tested: bool,
}

impl Layout {
    /// Whether every complete stack ends in a shim frame pushed by the C entry
    /// point of the evaluation loop (3.12+). A chain that ends elsewhere was
    /// cut short by a read racing the interpreter.
    pub fn stacks_end_in_shim(&self) -> bool {
        self.frames == FrameModel::Interpreter
            && (self.version.major, self.version.minor) >= (3, 12)
    }

    /// 3.11's `_PyInterpreterFrame.is_entry` (the `bool` just before
    /// `owner`): set on the first frame of each call of the evaluation loop.
    /// 3.12+ push a shim frame instead; 3.8–3.10 have one call per frame.
    pub fn eval_entry_flag(&self) -> Option<u64> {
        (self.frames == FrameModel::Interpreter
            && (self.version.major, self.version.minor) == (3, 11))
            .then(|| self.offsets.frame_owner - 1)
    }
}

/// The low bits of a tagged `f_executable` (`_PyStackRef`, 3.14+) cleared to
/// find the code object: CPython's `Py_TAG_BITS` (3 on 3.14 and 3.15, in the
/// generated tables) and the bit above it, which an 8-byte-aligned object
/// never has set.
pub const FRAME_CODE_TAG_MASK: u64 = 7;

impl Offsets {
    /// Bytes to read from a code object to see every field the walker uses.
    pub fn code_header_len(&self) -> u64 {
        self.code_adaptive
    }

    /// The code object's address in `raw`, the value of a frame's code field
    /// (at [`Offsets::frame_code`]): its tag bits cleared where it is tagged.
    pub fn frame_code_object(&self, raw: u64) -> u64 {
        if self.frame_code_tagged {
            raw & !FRAME_CODE_TAG_MASK
        } else {
            raw
        }
    }
}

/// A `str`'s `state` bitfield (the byte at [`Offsets::unicode_state`]):
/// `interned:2, kind:3, compact:1, ascii:1` in `PyASCIIObject`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnicodeState {
    /// Bytes per code point: 1, 2 or 4 (anything else is a misread).
    pub kind: u8,
    /// The characters follow the object header.
    pub compact: bool,
    /// Every character is ASCII (then `kind` is 1).
    pub ascii: bool,
}

impl UnicodeState {
    /// Decodes the `state` byte.
    pub const fn from_byte(state: u8) -> UnicodeState {
        UnicodeState {
            kind: (state >> 2) & 7,
            compact: (state >> 5) & 1 == 1,
            ascii: (state >> 6) & 1 == 1,
        }
    }

    /// The `state` byte of a string that is not interned.
    pub const fn to_byte(self) -> u8 {
        ((self.kind & 7) << 2) | ((self.compact as u8) << 5) | ((self.ascii as u8) << 6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::static_layout;

    #[test]
    fn unicode_state_round_trips() {
        for kind in [1, 2, 4] {
            for (compact, ascii) in [(true, true), (true, false), (false, false)] {
                let state = UnicodeState {
                    kind,
                    compact,
                    ascii,
                };
                assert_eq!(UnicodeState::from_byte(state.to_byte()), state);
            }
        }
        // interned (2 bits) does not disturb the fields above it.
        let ascii = UnicodeState::from_byte(0b0110_0111);
        assert_eq!((ascii.kind, ascii.compact, ascii.ascii), (1, true, true));
    }

    #[test]
    fn frame_code_tags_are_cleared_only_where_tagged() {
        let mut o = static_layout(PyVersion::minor_only(3, 12)).unwrap().offsets;
        assert_eq!(o.frame_code_object(0x1003), 0x1003);
        o.frame_code_tagged = true;
        assert_eq!(o.frame_code_object(0x1003), 0x1000);
    }
}
