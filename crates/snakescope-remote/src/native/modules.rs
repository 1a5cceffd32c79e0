//! The target's loaded code, for the unwinder and for names: every
//! executable file mapping of `/proc/PID/maps`, its unwind tables
//! (`.eh_frame`, `.eh_frame_hdr`, `.debug_frame`) handed to framehop, and its
//! function symbols (`.dynsym` and `.symtab`, through `object`). Files are
//! mapped, not read; a module is parsed once and kept for the recording. An
//! address in no known module makes the map be read again (a library
//! `dlopen`ed since, as `import numpy` does), at most every 50 ms.

use framehop::x86_64::UnwinderX86_64;
use framehop::{ExplicitModuleSectionInfo, Module, Unwinder};
use object::{Object, ObjectSection, ObjectSegment, ObjectSymbol, SymbolKind};
use std::collections::HashSet;
use std::ops::{Deref, Range};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A section of a mapped file: what framehop reads unwind data from.
#[derive(Clone)]
pub struct Section {
    map: Arc<memmap2::Mmap>,
    range: Range<usize>,
}

impl Deref for Section {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.map[self.range.clone()]
    }
}

/// What a module is to the merge of native and Python frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleKind {
    /// The file holding the interpreter (libpython or the executable).
    Interpreter,
    /// The C library and the dynamic loader.
    System,
    /// Anything else: extensions and the libraries they use.
    Other,
}

/// One loaded file.
pub struct LoadedModule {
    pub path: String,
    pub kind: ModuleKind,
    /// Where its executable mappings are.
    pub avma: Range<u64>,
    /// Load bias: a file address plus this is where it is in the target.
    pub bias: u64,
    /// Function symbols by file address: (start, end, name), sorted.
    symbols: Vec<(u64, u64, Box<str>)>,
}

impl LoadedModule {
    /// The index of the symbol covering file address `svma`.
    pub fn symbol_at(&self, svma: u64) -> Option<usize> {
        let i = self.symbols.partition_point(|s| s.0 <= svma);
        let (start, end, _) = self.symbols.get(i.checked_sub(1)?)?;
        (svma >= *start && (svma < *end || start == end)).then_some(i - 1)
    }

    pub fn symbol_name(&self, index: usize) -> &str {
        &self.symbols[index].2
    }
}

/// The target's modules and the unwinder that knows their tables.
pub struct Modules {
    pid: u32,
    interpreter: PathBuf,
    pub unwinder: UnwinderX86_64<Section>,
    pub list: Vec<LoadedModule>,
    known: HashSet<(String, u64)>,
    last_scan: Option<Instant>,
}

const RESCAN_EVERY: Duration = Duration::from_millis(50);

impl Modules {
    pub fn new(pid: u32, interpreter: PathBuf) -> Self {
        let mut m = Modules {
            pid,
            interpreter,
            unwinder: UnwinderX86_64::new(),
            list: Vec::new(),
            known: HashSet::new(),
            last_scan: None,
        };
        m.scan();
        m
    }

    /// The module holding `avma`, reading the map again if none does.
    pub fn find(&mut self, avma: u64) -> Option<usize> {
        if let Some(i) = self.lookup(avma) {
            return Some(i);
        }
        if self.last_scan.is_some_and(|t| t.elapsed() < RESCAN_EVERY) {
            return None;
        }
        self.scan();
        self.lookup(avma)
    }

    fn lookup(&self, avma: u64) -> Option<usize> {
        self.list.iter().position(|m| m.avma.contains(&avma))
    }

    /// Reads `/proc/PID/maps` and loads the files not loaded yet.
    pub fn scan(&mut self) {
        self.last_scan = Some(Instant::now());
        let Ok(text) = std::fs::read_to_string(format!("/proc/{}/maps", self.pid)) else {
            return;
        };
        for (path, start, range, offset) in executable_mappings(&text) {
            if !self.known.insert((path.clone(), start)) {
                continue;
            }
            if let Some(m) = self.load(&path, range, offset) {
                self.list.push(m);
            }
        }
    }

    fn load(&mut self, path: &str, avma: Range<u64>, offset: u64) -> Option<LoadedModule> {
        // Through the target's root, so a program in a container or chroot
        // is read from its own files.
        let rooted = format!("/proc/{}/root{}", self.pid, path);
        let file = std::fs::File::open(&rooted)
            .or_else(|_| std::fs::File::open(path))
            .ok()?;
        // SAFETY: a private read-only mapping of a loaded library, which is
        // not rewritten while in use (if it were, the worst case is wrong
        // names or a stack cut short, never a fault in snakescope: the
        // unwinder bounds-checks what it reads).
        let map = Arc::new(unsafe { memmap2::Mmap::map(&file).ok()? });
        let obj = object::File::parse(&map[..]).ok()?;
        let bias = load_bias(&obj, avma.start, offset)?;
        let section = |name: &str| {
            let s = obj.section_by_name(name)?;
            let (at, len) = s.file_range()?;
            let range = usize::try_from(at).ok()?..usize::try_from(at + len).ok()?;
            (range.end <= map.len()).then(|| {
                let svma = s.address()..s.address() + s.size();
                (
                    svma,
                    Section {
                        map: map.clone(),
                        range,
                    },
                )
            })
        };
        let text = section(".text");
        let eh_frame = section(".eh_frame");
        let eh_frame_hdr = section(".eh_frame_hdr");
        let info = ExplicitModuleSectionInfo {
            base_svma: 0,
            text_svma: text.as_ref().map(|t| t.0.clone()),
            text: text.map(|t| t.1),
            got_svma: obj
                .section_by_name(".got")
                .map(|s| s.address()..s.address() + s.size()),
            eh_frame_svma: eh_frame.as_ref().map(|t| t.0.clone()),
            eh_frame: eh_frame.map(|t| t.1),
            eh_frame_hdr_svma: eh_frame_hdr.as_ref().map(|t| t.0.clone()),
            eh_frame_hdr: eh_frame_hdr.map(|t| t.1),
            debug_frame: section(".debug_frame").map(|t| t.1),
            stubs_svma: None,
            stub_helper_svma: None,
            unwind_info: None,
            text_segment_svma: None,
            text_segment: None,
        };
        self.unwinder
            .add_module(Module::new(path.to_owned(), avma.clone(), bias, info));
        Some(LoadedModule {
            path: path.to_owned(),
            kind: self.kind_of(path),
            avma,
            bias,
            symbols: function_symbols(&obj),
        })
    }

    fn kind_of(&self, path: &str) -> ModuleKind {
        if Path::new(path) == self.interpreter {
            return ModuleKind::Interpreter;
        }
        let name = Path::new(path)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("");
        let system = [
            "libc.so",
            "libc-",
            "ld-linux",
            "ld-musl",
            "libpthread",
            "libm.so",
        ];
        if system.iter().any(|s| name.starts_with(s)) {
            ModuleKind::System
        } else {
            ModuleKind::Other
        }
    }
}

/// Each file's executable mappings, merged: (path, first start, address
/// range, file offset of the first).
fn executable_mappings(text: &str) -> Vec<(String, u64, Range<u64>, u64)> {
    let mut out: Vec<(String, u64, Range<u64>, u64)> = Vec::new();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let (Some(range), Some(perms), Some(offset)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let path: String = f.skip(2).collect::<Vec<_>>().join(" ");
        if !perms.contains('x') || !path.starts_with('/') {
            continue;
        }
        let mut ends = range.split('-').map(|n| u64::from_str_radix(n, 16));
        let (Some(Ok(start)), Some(Ok(end))) = (ends.next(), ends.next()) else {
            continue;
        };
        let Ok(offset) = u64::from_str_radix(offset, 16) else {
            continue;
        };
        match out.last_mut() {
            Some(last) if last.0 == path && last.2.end == start => last.2.end = end,
            _ => out.push((path, start, start..end, offset)),
        }
    }
    out
}

/// The load bias of a file whose bytes at `offset` are mapped at `start`:
/// found through the loadable segment holding that offset.
fn load_bias(obj: &object::File, start: u64, offset: u64) -> Option<u64> {
    // The segment mapped at that offset (its page): two segments can share
    // a page of the file, so containment alone could pick the wrong one.
    let seg = obj
        .segments()
        .find(|s| s.file_range().0 & !0xfff == offset)
        .or_else(|| {
            obj.segments().find(|s| {
                let (at, len) = s.file_range();
                at & !0xfff <= offset && offset < at + len.max(1)
            })
        })?;
    let (file_at, _) = seg.file_range();
    Some(
        start
            .wrapping_sub(offset)
            .wrapping_sub(seg.address().wrapping_sub(file_at)),
    )
}

/// The file's function symbols, both tables, sorted by address; a symbol
/// without a size ends where the next begins.
fn function_symbols(obj: &object::File) -> Vec<(u64, u64, Box<str>)> {
    let mut syms: Vec<(u64, u64, Box<str>)> = obj
        .dynamic_symbols()
        .chain(obj.symbols())
        .filter(|s| s.kind() == SymbolKind::Text && s.address() != 0)
        .filter_map(|s| {
            let name = s.name().ok()?;
            Some((s.address(), s.address() + s.size(), name.into()))
        })
        .collect();
    syms.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    syms.dedup_by_key(|s| s.0);
    syms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_a_files_executable_mappings() {
        let text = "\
7f00aa000000-7f00aa001000 r--p 00000000 fe:01 456 /lib/libx.so
7f00aa001000-7f00aa003000 r-xp 00001000 fe:01 456 /lib/libx.so
7f00aa003000-7f00aa004000 r-xp 00003000 fe:01 456 /lib/libx.so
7f00bb000000-7f00bb001000 r-xp 00000000 00:00 0 [vdso]
";
        let maps = executable_mappings(text);
        assert_eq!(maps.len(), 1);
        assert_eq!(maps[0].2, 0x7f00aa001000..0x7f00aa004000);
        assert_eq!(maps[0].3, 0x1000);
    }

    #[test]
    fn finds_this_test_binarys_own_function() {
        let pid = std::process::id();
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        let mut modules = Modules::new(pid, exe);
        let addr = finds_this_test_binarys_own_function as *const () as usize as u64;
        let i = modules.find(addr).expect("a module");
        let m = &modules.list[i];
        assert_eq!(m.kind, ModuleKind::Interpreter);
        let sym = m.symbol_at(addr - m.bias).expect("a symbol");
        let name = m.symbol_name(sym);
        assert!(
            name.contains("finds_this_test_binarys_own_function"),
            "{name} at {addr:#x}, bias {:#x}",
            m.bias
        );
    }
}
