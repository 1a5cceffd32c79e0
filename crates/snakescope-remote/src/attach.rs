//! Finding the interpreter in a process and choosing its layout, once.

use crate::elf::python_symbols;
use crate::maps::{is_libpython, parse_maps, version_from_name, Mapping};
use crate::reader::RemoteReader;
use snakescope_layouts::{
    has_debug_offsets, parse_debug_offsets, static_layout, Layout, LayoutError, NativeId,
    PyVersion, DEBUG_OFFSETS_READ_LEN, SUPPORTED_FREE_THREADED, SUPPORTED_VERSIONS,
};
use snakescope_unwind::{MemoryReader, ReadError, TypeAddresses, Walker};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// Why a process could not be profiled.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error("no process with pid `{pid}`")]
    NoSuchProcess { pid: u32 },
    #[error("permission denied reading the memory of process `{pid}`")]
    PermissionDenied { pid: u32 },
    #[error("process `{pid}` (`{exe}`) is not a Python interpreter: no libpython or python binary with `_PyRuntime` is mapped")]
    NotPython { pid: u32, exe: String },
    #[error("process `{pid}` runs PyPy (`{}`), not CPython: snakescope reads CPython's own interpreter state, so none of record, dump or run works on PyPy", file.display())]
    PyPy { pid: u32, file: PathBuf },
    /// A version newer than those snakescope knows, whose table passed every
    /// check but whose interpreter state does not read back consistently.
    #[error("process `{pid}`: Python {version} is newer than snakescope knows and does not read back consistently with the newest known layout ({why})")]
    Untested {
        pid: u32,
        version: PyVersion,
        why: String,
    },
    /// `--gil` asked of an interpreter without a GIL.
    #[error("process `{pid}` runs free-threaded Python {version}, which has no GIL: `--gil` cannot select the GIL holder")]
    NoGil { pid: u32, version: PyVersion },
    /// 3.8–3.10 keep no OS thread id: it is read from the C library's thread
    /// structure, which here is not glibc's x86-64 one.
    #[error("process `{pid}` runs Python {version}, whose thread states hold no OS thread id, and the one read from its C library's thread structure (`{tid}`) is not a thread of the process: only glibc (x86-64) is supported for Python before 3.11")]
    ThreadIds {
        pid: u32,
        version: PyVersion,
        tid: u64,
    },
    /// `--native` cannot stop the target's threads.
    #[error(
        "`--native` cannot stop the threads of process `{pid}` to read their native stacks: {why}"
    )]
    NativeRefused { pid: u32, why: String },
    #[error("process `{pid}`: {source}")]
    Unsupported { pid: u32, source: LayoutError },
    #[error("cannot read the interpreter file `{}`: {source}", path.display())]
    Binary {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read the interpreter state of process `{pid}`: {source}")]
    Read { pid: u32, source: ReadError },
}

impl AttachError {
    /// What the user can do about it, when there is something.
    pub fn hint(&self) -> Option<String> {
        match self {
            AttachError::PermissionDenied { .. } => Some(
                "run snakescope as the same user as the target, as root, or with CAP_SYS_PTRACE \
                 (e.g. `sudo setcap cap_sys_ptrace+ep $(which snakescope)`, or `--cap-add SYS_PTRACE` \
                 in a container); the in-process `snakescope run` needs no such permission"
                    .into(),
            ),
            AttachError::NotPython { .. } => Some("check the pid: `ps -p PID -o pid,cmd`".into()),
            AttachError::PyPy { .. } => Some(
                "profile PyPy programs with vmprof (`pypy3 -m vmprof -o out.dat app.py`) or \
                 cProfile inside PyPy; or run the program under CPython to profile it with snakescope"
                    .into(),
            ),
            AttachError::Unsupported {
                source: LayoutError::Unsupported(_) | LayoutError::UnknownTable { .. },
                ..
            }
            | AttachError::Untested { .. } => {
                Some(format!("profile it with CPython {SUPPORTED_VERSIONS}"))
            }
            AttachError::Unsupported {
                source: LayoutError::FreeThreaded(_),
                ..
            } => Some(format!(
                "profile it with CPython built with the GIL, or with {SUPPORTED_FREE_THREADED}"
            )),
            AttachError::NativeRefused { .. } => Some(
                "allow ptrace (`/proc/sys/kernel/yama/ptrace_scope` 0, root, or CAP_SYS_PTRACE), \
                 or leave out `--native` to record the Python frames without stopping the program"
                    .into(),
            ),
            AttachError::NoGil { .. } => Some(
                "leave out `--gil`: every thread runs Python code in parallel; the default \
                 samples those that are running"
                    .into(),
            ),
            _ => None,
        }
    }

    /// Whether the target may still become profilable (e.g. it has not
    /// finished `exec`ing the interpreter yet).
    pub fn may_be_transient(&self) -> bool {
        matches!(
            self,
            AttachError::NotPython { .. } | AttachError::Read { .. }
        )
    }
}

/// Files that show a process runs PyPy: its shared library (`libpypy3.11-c.so`)
/// or its executable (`pypy3.11`).
fn is_pypy(path: &Path, exe: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("libpypy") || (path == exe && n.starts_with("pypy")))
}

/// A Python process ready to be sampled, read through `R` (by default
/// `process_vm_readv`, as [`Target::attach`] chooses).
#[derive(Debug)]
pub struct Target<R = RemoteReader> {
    pub pid: u32,
    pub version: PyVersion,
    /// The file that holds the interpreter (libpython or the executable).
    pub binary: PathBuf,
    pub reader: R,
    pub walker: Walker,
}

impl<R> Target<R> {
    /// The same target read through `reader` (which must read the same process).
    pub fn with_reader<R2>(self, reader: R2) -> Target<R2> {
        Target {
            pid: self.pid,
            version: self.version,
            binary: self.binary,
            reader,
            walker: self.walker,
        }
    }
}

impl Target {
    /// Finds the interpreter in process `pid` and chooses its layout.
    pub fn attach(pid: u32) -> Result<Target, AttachError> {
        let maps = read_maps(pid)?;
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
        // What is not CPython may be PyPy, which deserves its own answer.
        let pypy = maps.iter().map(|m| &m.path).find(|p| is_pypy(p, &exe));
        let not_python = || match pypy {
            Some(file) => AttachError::PyPy {
                pid,
                file: file.clone(),
            },
            None => AttachError::NotPython {
                pid,
                exe: exe.display().to_string(),
            },
        };
        let binary = find_interpreter_file(&maps, &exe).ok_or_else(not_python)?;
        let symbols =
            python_symbols(&in_root(pid, &binary)).map_err(|source| AttachError::Binary {
                path: binary.clone(),
                source,
            })?;
        let base = maps
            .iter()
            .filter(|m| m.path == binary)
            .map(|m| m.start - m.offset)
            .min()
            .ok_or_else(not_python)?;
        let bias = base.wrapping_sub(symbols.first_load_vaddr);
        let Some(runtime_sym) = symbols.runtime else {
            return Err(older_than_runtime(pid, &binary, &symbols, bias).unwrap_or_else(not_python));
        };
        let read_err = |source| match source {
            ReadError::PermissionDenied => AttachError::PermissionDenied { pid },
            ReadError::Gone => AttachError::NoSuchProcess { pid },
            source => AttachError::Read { pid, source },
        };
        let reader = choose_reader(pid, runtime_sym + bias).map_err(read_err)?;
        let version = match symbols.version {
            Some(sym) => PyVersion::from_hex(reader.read_u64(sym + bias).map_err(read_err)?),
            None => {
                let (major, minor) = version_from_name(&binary).ok_or_else(not_python)?;
                // 3.8–3.10: the full version from `sys.version`'s text, which
                // the interpreter writes early in its initialisation (until
                // then, try again: the interpreter is not ready to be read).
                let read_text = |sym: u64| reader.read_vec(sym + bias, 24).map_err(read_err);
                let text = match symbols.version_text {
                    Some(sym) => Some((read_text(sym)?, read_text(sym)?)),
                    None => None,
                };
                // The text is written by one `snprintf`: until the space
                // after the version is there, it may be half written
                // (`3.8` of `3.8.18 (default…`), and a read while it is
                // written may be torn (`3.8.1\0(default, …`, whose first
                // space is past the hole): two reads must agree.
                if text
                    .as_ref()
                    .is_some_and(|(t, again)| t[0] == 0 || !t.contains(&b' ') || t != again)
                {
                    return Err(AttachError::Read {
                        pid,
                        source: ReadError::Other("the interpreter is not initialised yet".into()),
                    });
                }
                text.and_then(|(t, _)| parse_version_text(&t))
                    .filter(|v| (v.major, v.minor) == (major, minor))
                    .unwrap_or_else(|| PyVersion::minor_only(major, minor))
            }
        };
        let runtime = runtime_sym + bias;
        let unsupported = |source| AttachError::Unsupported { pid, source };
        let layout = if has_debug_offsets(version) {
            let table = reader
                .read_vec(runtime, DEBUG_OFFSETS_READ_LEN)
                .map_err(read_err)?;
            let layout = parse_debug_offsets(&table).map_err(unsupported)?;
            if (layout.version.major, layout.version.minor) != (version.major, version.minor) {
                return Err(unsupported(LayoutError::BadDebugOffsets(format!(
                    "the table says Python {}, `Py_Version` says {version}",
                    layout.version
                ))));
            }
            if !layout.tested {
                verify_untested(&reader, runtime, &layout).map_err(|why| match why {
                    Verify::NotReady(source) => read_err(source),
                    Verify::Wrong(why) => AttachError::Untested { pid, version, why },
                })?;
            }
            layout
        } else {
            static_layout(version).map_err(unsupported)?
        };
        let types = TypeAddresses {
            code: symbols.code_type.map(|a| a + bias),
            unicode: symbols.unicode_type.map(|a| a + bias),
            bytes: symbols.bytes_type.map(|a| a + bias),
            frame: symbols.frame_type.map(|a| a + bias),
        };
        let mut walker = Walker::new(layout, runtime, types);
        if let NativeId::PthreadTid(_) = layout.native_id {
            // The oldest thread state (the list's last) must name one of the
            // process's threads; before the interpreter has one, nothing to check.
            let oldest = walker.threads(&reader).ok().and_then(|t| t.last().copied());
            if let Some(t) = oldest {
                if !Path::new(&format!("/proc/{pid}/task/{}", t.native_id)).exists() {
                    return Err(AttachError::ThreadIds {
                        pid,
                        version: layout.version,
                        tid: t.native_id,
                    });
                }
            }
        }
        Ok(Target {
            pid,
            version: layout.version,
            binary,
            reader,
            walker,
        })
    }
}

impl Target {
    /// A line for the user when memory is read the slower way, through
    /// `/proc/PID/mem`, because `process_vm_readv` was refused.
    pub fn reader_note(&self) -> Option<&'static str> {
        self.reader.uses_proc_mem().then_some(
            "process_vm_readv is refused here (a seccomp policy, as in containers); \
             reading memory through /proc/PID/mem instead, which costs more per sample \
             (allow the system call, e.g. `--cap-add SYS_PTRACE`, for the faster path)",
        )
    }
}

impl<R> Target<R> {
    /// Refuses `--gil` (sampling only the GIL holder) on an interpreter without a GIL.
    pub fn require_gil(&self) -> Result<(), AttachError> {
        if self.walker.layout().offsets.gil.is_none() {
            return Err(AttachError::NoGil {
                pid: self.pid,
                version: self.version,
            });
        }
        Ok(())
    }

    /// Whether the interpreter has a GIL (false on free-threaded builds).
    pub fn has_gil(&self) -> bool {
        self.walker.layout().offsets.gil.is_some()
    }

    /// Whether snakescope was tested with this version (false for a later
    /// version read with the newest known layout; see [`Layout::tested`]).
    pub fn tested(&self) -> bool {
        self.walker.layout().tested
    }
}

/// `process_vm_readv`, or `/proc/PID/mem` where that system call is refused
/// (a seccomp policy answers EPERM or ENOSYS before any permission check)
/// and the file opens: tried on `probe`, an address that must be mapped.
fn choose_reader(pid: u32, probe: u64) -> Result<RemoteReader, ReadError> {
    let direct = RemoteReader::new(pid);
    let mut word = [0u8; 8];
    match direct.read(probe, &mut word) {
        Ok(()) => Ok(direct),
        Err(e @ (ReadError::Gone | ReadError::Unmapped { .. } | ReadError::Short { .. })) => Err(e),
        Err(e) => match RemoteReader::proc_mem(pid) {
            Ok(file) if file.read(probe, &mut word).is_ok() => Ok(file),
            _ => Err(e),
        },
    }
}

/// Why a layout read with an unknown version's table was not verified.
enum Verify {
    /// The interpreter is not initialised yet (or could not be read): try later.
    NotReady(ReadError),
    /// It reads back inconsistently: the layout is wrong.
    Wrong(String),
}

/// Checks a layout that passed every static check, for a version snakescope
/// does not know, against the live interpreter: the first thread of the first
/// interpreter must point back at that interpreter.
fn verify_untested(r: &RemoteReader, runtime: u64, layout: &Layout) -> Result<(), Verify> {
    let o = &layout.offsets;
    let read = |addr: u64| r.read_u64(addr).map_err(Verify::NotReady);
    let interp = read(runtime + o.runtime_interpreters_head)?;
    let not_yet = || Verify::NotReady(ReadError::Other("the interpreter has no thread yet".into()));
    if interp == 0 {
        return Err(not_yet());
    }
    let thread = read(interp + o.interp_threads_head)?;
    if thread == 0 {
        return Err(not_yet());
    }
    let back = read(thread + o.thread_interp)?;
    if back != interp {
        return Err(Verify::Wrong(format!(
            "thread state `{thread:#x}` names interpreter `{back:#x}`, not `{interp:#x}`"
        )));
    }
    Ok(())
}

/// A CPython older than `_PyRuntime` (3.6 and before, Python 2.7): it
/// has `Py_GetVersion` but no `_PyRuntime`. Refused at once, by version:
/// the text of `sys.version` in `Py_GetVersion`'s buffer when the
/// interpreter has written it (and the file keeps the buffer's symbol),
/// else `major.minor` from the file's name (`python2.7`,
/// `libpython2.7.so.1.0`). `None` when it is not such an interpreter.
fn older_than_runtime(
    pid: u32,
    binary: &Path,
    symbols: &crate::elf::PythonSymbols,
    bias: u64,
) -> Option<AttachError> {
    symbols.get_version?;
    let text = symbols
        .version_text
        .and_then(|sym| RemoteReader::new(pid).read_vec(sym + bias, 24).ok());
    let version = text
        .and_then(|t| parse_version_text(&t))
        .or_else(|| version_from_name(binary).map(|(a, b)| PyVersion::minor_only(a, b)))
        .filter(|v| (v.major, v.minor) < (3, 7))?;
    Some(AttachError::Unsupported {
        pid,
        source: LayoutError::Unsupported(version),
    })
}

/// `3.8.18` (or `3.10.0rc1`) from the start of `sys.version`'s text
/// (`3.8.18 (default, ...`); `None` for text of another shape.
fn parse_version_text(text: &[u8]) -> Option<PyVersion> {
    let end = text.iter().position(|&b| b == b' ')?;
    let text = std::str::from_utf8(&text[..end]).ok()?;
    let mut parts = text.splitn(3, '.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let rest = parts.next()?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let micro = rest[..digits].parse().ok()?;
    let (level, serial) = match &rest[digits..] {
        "" | "+" => (0xf, 0),
        tail => {
            let (level, serial) = if let Some(n) = tail.strip_prefix("rc") {
                (0xc, n)
            } else if let Some(n) = tail.strip_prefix('a') {
                (0xa, n)
            } else {
                (0xb, tail.strip_prefix('b')?)
            };
            (level, serial.trim_end_matches('+').parse().ok()?)
        }
    };
    Some(PyVersion {
        major,
        minor,
        micro,
        level,
        serial,
    })
}

fn read_maps(pid: u32) -> Result<Vec<Mapping>, AttachError> {
    match std::fs::read_to_string(format!("/proc/{pid}/maps")) {
        Ok(text) => Ok(parse_maps(&text)),
        Err(e) if e.kind() == ErrorKind::NotFound => Err(AttachError::NoSuchProcess { pid }),
        Err(e) if e.kind() == ErrorKind::PermissionDenied => {
            Err(AttachError::PermissionDenied { pid })
        }
        Err(e) => Err(AttachError::Binary {
            path: format!("/proc/{pid}/maps").into(),
            source: e,
        }),
    }
}

/// The mapped libpython if there is one, else the executable itself.
fn find_interpreter_file(maps: &[Mapping], exe: &Path) -> Option<PathBuf> {
    if let Some(lib) = maps.iter().find(|m| is_libpython(&m.path)) {
        return Some(lib.path.clone());
    }
    maps.iter().find(|m| m.path == exe).map(|m| m.path.clone())
}

/// The path of a target's file as seen from our mount namespace.
pub(crate) fn in_root(pid: u32, path: &Path) -> PathBuf {
    let rooted =
        Path::new(&format!("/proc/{pid}/root")).join(path.strip_prefix("/").unwrap_or(path));
    if rooted.exists() {
        rooted
    } else {
        path.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::parse_version_text;

    #[test]
    fn version_text() {
        let v = parse_version_text(b"3.8.18 (default, May  9 2026").unwrap();
        assert_eq!((v.major, v.minor, v.micro), (3, 8, 18));
        assert_eq!(v.to_string(), "3.8.18");
        let rc = parse_version_text(b"3.10.0rc1 (x)").unwrap();
        assert_eq!(rc.to_string(), "3.10.0rc1");
        assert!(parse_version_text(b"3.9.1x2 (x)").is_none());
        assert!(parse_version_text(&[0; 16]).is_none());
        // Half written: no space after the version yet.
        assert!(parse_version_text(b"3.8.1\0\0\0").is_none());
        assert!(parse_version_text(b"3.8\0\0\0\0\0").is_none());
        assert!(parse_version_text(b"garbage text here").is_none());
    }
}
