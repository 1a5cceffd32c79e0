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
    pub version: Option<u64>,
    /// Lowest virtual address of a loadable segment, page-aligned.
    pub first_load_vaddr: u64,
}

const WANTED: [&str; 5] = [
    "_PyRuntime",
    "PyCode_Type",
    "PyUnicode_Type",
    "PyBytes_Type",
    "Py_Version",
];

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
    for sym in file.dynamic_symbols().chain(file.symbols()) {
        if let Ok(name) = sym.name() {
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
        version: found.get("Py_Version").copied(),
        first_load_vaddr,
    })
}
