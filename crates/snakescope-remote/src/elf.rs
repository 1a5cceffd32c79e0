//! Symbol lookup in the ELF file that holds the interpreter.

use object::{Object, ObjectSection, ObjectSegment, ObjectSymbol};
use std::collections::HashMap;
use std::path::Path;

/// The interpreter symbols snakescope needs, as addresses in the file (before relocation).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct PythonSymbols {
    pub runtime: Option<u64>,
    pub code_type: Option<u64>,
    pub unicode_type: Option<u64>,
    pub bytes_type: Option<u64>,
    pub frame_type: Option<u64>,
    pub version: Option<u64>,
    /// `Py_GetVersion`: every CPython has it, including those older than
    /// `_PyRuntime` (3.6 and before, Python 2), which are refused by version.
    pub get_version: Option<u64>,
    /// `Py_GetVersion`'s static buffer (`version.0` or similar, a local
    /// symbol): where 3.8–3.10, which have no `Py_Version`, keep the text of
    /// `sys.version` once initialised.
    pub version_text: Option<u64>,
    /// Lowest virtual address of a loadable segment, page-aligned.
    pub first_load_vaddr: u64,
}

const WANTED: [&str; 7] = [
    "_PyRuntime",
    "PyCode_Type",
    "PyUnicode_Type",
    "PyBytes_Type",
    "PyFrame_Type",
    "Py_Version",
    "Py_GetVersion",
];

/// Whether `name` is the local static `version` of `Py_GetVersion`, as the
/// compiler names it (`version.0`, `version.1`, ...).
fn is_version_buffer(name: &str) -> bool {
    name.strip_prefix("version.")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Reads the symbols from the file's dynamic and static symbol tables, falling
/// back to the `.PyRuntime` section for `_PyRuntime`.
pub(crate) fn python_symbols(path: &Path) -> std::io::Result<PythonSymbols> {
    let handle = std::fs::File::open(path)?;
    // SAFETY: the mapping is read-only and private; the file is an installed
    // interpreter that is not rewritten while in use (if it were, the worst
    // case is a parse error or wrong symbols, which attach reports).
    // Mapping instead of reading keeps snakescope's memory to the pages of the
    // symbol tables instead of the whole (tens of MiB) library.
    let data = unsafe { memmap2::Mmap::map(&handle)? };
    let file = object::File::parse(&*data)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?;
    let mut found: HashMap<&str, u64> = HashMap::new();
    let mut version_text = None;
    for sym in file.dynamic_symbols().chain(file.symbols()) {
        if let Ok(name) = sym.name() {
            if version_text.is_none() && is_version_buffer(name) {
                version_text = Some(sym.address());
            }
            if let Some(w) = WANTED.iter().find(|&&w| w == name) {
                found.entry(w).or_insert(sym.address());
            }
        }
    }
    let section_runtime = file.section_by_name(".PyRuntime").map(|s| s.address());
    let first_load_vaddr = file.segments().map(|s| s.address()).min().unwrap_or(0) & !0xfff;
    Ok(PythonSymbols {
        runtime: found.get("_PyRuntime").copied().or(section_runtime),
        code_type: found.get("PyCode_Type").copied(),
        unicode_type: found.get("PyUnicode_Type").copied(),
        bytes_type: found.get("PyBytes_Type").copied(),
        frame_type: found.get("PyFrame_Type").copied(),
        version: found.get("Py_Version").copied(),
        get_version: found.get("Py_GetVersion").copied(),
        version_text,
        first_load_vaddr,
    })
}

/// Functions by name: (address, size).
pub(crate) type Functions = HashMap<String, (u64, u64)>;

/// Functions of one ELF file: each wanted name's address in the file
/// (before relocation) and size, and the file's lowest load address (see
/// [`PythonSymbols::first_load_vaddr`]). Names not found are left out.
pub(crate) fn functions(path: &Path, wanted: &[&str]) -> std::io::Result<(Functions, u64)> {
    let handle = std::fs::File::open(path)?;
    // SAFETY: as in `python_symbols`: a read-only private mapping of an
    // installed library; a file rewritten meanwhile gives a parse error or
    // wrong addresses, which the caller's call then reports as failed.
    let data = unsafe { memmap2::Mmap::map(&handle)? };
    let file = object::File::parse(&*data)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?;
    let mut found = HashMap::new();
    for sym in file.dynamic_symbols().chain(file.symbols()) {
        if let Ok(name) = sym.name() {
            if sym.address() != 0 && wanted.contains(&name) {
                found
                    .entry(name.to_owned())
                    .or_insert((sym.address(), sym.size()));
            }
        }
    }
    let first_load_vaddr = file.segments().map(|s| s.address()).min().unwrap_or(0) & !0xfff;
    Ok((found, first_load_vaddr))
}
