//! `--native`: C, C++ and Rust frames merged with the Python frames.
//!
//! Per sample of a thread: stop it for a moment ([`ptrace`]), read its
//! registers, read its Python stack and copy the top of its native stack
//! while it stays stopped (the two are then of one instant), let it go;
//! then unwind the copy with framehop over the target's modules
//! ([`modules`]), name each address from the module's symbol tables, and put
//! the Python frames in place of the evaluation loop's native frames
//! ([`merge`]).

mod merge;
mod modules;
mod ptrace;

use framehop::x86_64::{CacheX86_64, UnwindRegsX86_64};
use framehop::Unwinder;
use merge::{Item, NativeInfo};
use modules::Modules;
pub use ptrace::{PauseError, PauseStats};
use rustc_hash::FxHashMap;
use snakescope_model::{Frame, FrameInterner};
use snakescope_unwind::Walker;
use std::path::PathBuf;

/// How much of a stack is copied above its stack pointer.
const STACK_COPY: usize = 256 * 1024;
/// The x86-64 red zone below the stack pointer, copied too.
const RED_ZONE: u64 = 128;
/// Deeper native stacks are cut here.
const MAX_NATIVE_FRAMES: usize = 512;

/// The native side of a recording: modules, unwinder cache, buffers.
pub struct NativeStacks {
    pid: u32,
    modules: Modules,
    cache: CacheX86_64,
    regs: ptrace::Regs,
    stack: Vec<u8>,
    stack_len: usize,
    /// Innermost first: (module index, symbol index, file address).
    frames: Vec<(Option<usize>, Option<usize>, u64)>,
    infos: Vec<NativeInfo>,
    /// The Python frames' eval-entry flags, root first.
    entries: Vec<bool>,
    items: Vec<Item>,
    merged: Vec<usize>,
    ids: FxHashMap<(usize, Option<usize>, u64), usize>,
    pub stats: PauseStats,
    /// Samples whose eval calls and Python entry frames did not pair up.
    pub unpaired: u64,
}

impl std::fmt::Debug for NativeStacks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeStacks")
            .field("pid", &self.pid)
            .finish()
    }
}

impl NativeStacks {
    /// For process `pid`, whose interpreter is in the file `interpreter`.
    pub fn new(pid: u32, interpreter: PathBuf) -> Self {
        NativeStacks {
            pid,
            modules: Modules::new(pid, interpreter),
            cache: CacheX86_64::new(),
            regs: ptrace::Regs::default(),
            stack: vec![0; STACK_COPY + RED_ZONE as usize],
            stack_len: 0,
            frames: Vec::new(),
            infos: Vec::new(),
            entries: Vec::new(),
            items: Vec::new(),
            merged: Vec::new(),
            ids: FxHashMap::default(),
            stats: PauseStats::default(),
            unpaired: 0,
        }
    }

    /// Forgets the sink's frame ids (a run starts a new sink).
    pub fn forget_ids(&mut self) {
        self.ids.clear();
    }

    /// Stops thread `tid`, runs `read` (the Python stack's walk) and copies
    /// the top of its native stack while it is stopped, then lets it go and
    /// unwinds the copy.
    pub fn capture<T>(&mut self, tid: u64, read: impl FnOnce() -> T) -> Result<T, PauseError> {
        let tid = i32::try_from(tid).map_err(|_| PauseError::Gone)?;
        let (pid, stack) = (self.pid, &mut self.stack);
        let (out, regs, len) = ptrace::while_stopped(tid, &mut self.stats, |regs| {
            let out = read();
            let len = copy_stack(pid, regs.sp - RED_ZONE, stack);
            (out, regs, len)
        })?;
        self.regs = regs;
        self.stack_len = len;
        self.unwind();
        Ok(out)
    }

    fn unwind(&mut self) {
        self.frames.clear();
        let ip = self.regs.ip;
        self.modules.find(ip); // a library loaded since the last look
        let base = self.regs.sp - RED_ZONE;
        let (stack, len) = (&self.stack, self.stack_len);
        let mut read = |addr: u64| -> Result<u64, ()> {
            let at = usize::try_from(addr.checked_sub(base).ok_or(())?).map_err(|_| ())?;
            let bytes = stack.get(at..at + 8).filter(|_| at + 8 <= len).ok_or(())?;
            Ok(u64::from_le_bytes(bytes.try_into().map_err(|_| ())?))
        };
        let regs = UnwindRegsX86_64::new(ip, self.regs.sp, self.regs.bp);
        let mut iter = self
            .modules
            .unwinder
            .iter_frames(ip, regs, &mut self.cache, &mut read);
        let mut addrs = Vec::with_capacity(64);
        while let Ok(Some(frame)) = iter.next() {
            // A return address names the call before it.
            addrs.push(frame.address_for_lookup());
            if addrs.len() >= MAX_NATIVE_FRAMES {
                break;
            }
        }
        for avma in addrs {
            let entry = match self.modules.find(avma) {
                Some(m) => {
                    let module = &self.modules.list[m];
                    let svma = avma.wrapping_sub(module.bias);
                    (Some(m), module.symbol_at(svma), svma)
                }
                None => (None, None, avma),
            };
            self.frames.push(entry);
        }
    }

    /// The merged stack of the last capture, root first, as frame ids of
    /// `sink`: `python` are the Python frames' ids (root first), the
    /// innermost of the frames `walker` read last (whose eval-entry flags it
    /// keeps; outermost frames left out of `python` are the profiler's own).
    pub fn merge<S: FrameInterner + ?Sized>(
        &mut self,
        walker: &Walker,
        python: &[usize],
        sink: &mut S,
    ) -> &[usize] {
        let flags = walker.eval_entries();
        self.entries.clear();
        self.entries
            .extend(flags.iter().take(python.len()).rev().copied());
        if self.entries.len() < python.len() {
            // Frames the walk did not flag (never so today): one call each.
            self.entries.resize(python.len(), true);
        }
        self.infos.clear();
        for &(m, sym, _) in &self.frames {
            let info = match m.map(|m| &self.modules.list[m]) {
                Some(module) => {
                    let name = sym.map_or("", |s| module.symbol_name(s));
                    let interp = module.kind == modules::ModuleKind::Interpreter;
                    NativeInfo {
                        kind: module.kind,
                        eval: interp && merge::is_eval(name),
                        gil_wait: interp && merge::is_gil_wait(name),
                    }
                }
                // Code in no file (the vDSO's clock_gettime, a JIT): as the
                // C library, so the interpreter's calls into it are Python time.
                None => NativeInfo {
                    kind: modules::ModuleKind::System,
                    eval: false,
                    gil_wait: false,
                },
            };
            self.infos.push(info);
        }
        if !merge::merge(&self.infos, &self.entries, &mut self.items) {
            self.unpaired += 1;
        }
        self.merged.clear();
        for i in 0..self.items.len() {
            let id = match self.items[i] {
                Item::Python(p) => python[p],
                Item::Native(n) => self.native_id(n, sink),
            };
            self.merged.push(id);
        }
        &self.merged
    }

    fn native_id<S: FrameInterner + ?Sized>(&mut self, n: usize, sink: &mut S) -> usize {
        let (m, sym, addr) = self.frames[n];
        let key = match (m, sym) {
            (Some(m), Some(s)) => (m, Some(s), 0),
            (m, None) => (m.unwrap_or(usize::MAX), None, addr),
            (None, Some(_)) => (usize::MAX, None, addr),
        };
        if let Some(&id) = self.ids.get(&key) {
            return id;
        }
        let frame = match m.map(|m| &self.modules.list[m]) {
            Some(module) => {
                let function = match sym {
                    Some(s) => module.symbol_name(s).to_owned(),
                    None => format!("{addr:#x}"),
                };
                Frame::native(function, module.path.clone())
            }
            None => Frame::native(format!("{addr:#x}"), "/[anonymous]".to_owned()),
        };
        let id = sink.intern_frame(frame);
        self.ids.insert(key, id);
        id
    }
}

impl<R> crate::Target<R> {
    /// Refuses `--native` where the target's threads cannot be stopped
    /// (ptrace refused, or not x86-64), trying once on its main thread.
    pub fn require_native(&self) -> Result<(), crate::AttachError> {
        let mut stats = PauseStats::default();
        let why = match ptrace::while_stopped(self.pid as i32, &mut stats, |_| ()) {
            Ok(()) | Err(PauseError::Gone) => return Ok(()),
            Err(PauseError::Refused(errno)) => std::io::Error::from_raw_os_error(errno).to_string(),
            Err(PauseError::Unsupported) => "only x86-64 registers are read".to_owned(),
        };
        Err(crate::AttachError::NativeRefused { pid: self.pid, why })
    }
}

/// Copies the target's memory from `at` into `buf`; how many bytes were
/// read (a stack's end cuts the copy short).
fn copy_stack(pid: u32, at: u64, buf: &mut [u8]) -> usize {
    let local = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let remote = libc::iovec {
        iov_base: at as *mut libc::c_void,
        iov_len: buf.len(),
    };
    // SAFETY: `local` describes `buf`, valid for writing its length; the
    // remote range is only read by the kernel, which fails cleanly on
    // unmapped memory (returning the bytes read before it).
    let n = unsafe { libc::process_vm_readv(pid as libc::pid_t, &local, 1, &remote, 1, 0) };
    usize::try_from(n).unwrap_or(0)
}
