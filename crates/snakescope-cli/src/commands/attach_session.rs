//! The files of one `snakescope attach` session, in a directory the target
//! can read: the package (a link when the target sees it at the same path,
//! else a copy, as in a container or chroot), the bootstrap the injected
//! line runs, the settings, and where the agent writes the capture.
//!
//! The directory is made in the target's own root (`/proc/PID/root/tmp/…`),
//! owned by the target's user, so a process in another root or running as
//! another user reads and writes it; it is removed when the session ends.

use serde::Serialize;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// What the agent's `_attach.begin` reads (JSON).
#[derive(Debug, Serialize)]
pub(crate) struct AgentSettings {
    pub duration: f64,
    pub rate: f64,
    pub idle: bool,
    pub gil: bool,
    /// `false`, `true` (sampled) or `"exact"`.
    pub memory: serde_json::Value,
    pub memory_interval: u64,
    pub exact: bool,
    pub lines: Vec<String>,
    /// Set by [`Session::write`]: paths as the target sees them.
    pub output: String,
    pub boot: String,
}

pub(crate) struct Session {
    /// The directory as this process reaches it.
    here: PathBuf,
    /// The same directory as the target sees it.
    there: PathBuf,
}

impl Session {
    /// A new, empty directory in the target's `/tmp`, owned by its user.
    pub fn create(pid: u32) -> std::io::Result<Session> {
        let root = PathBuf::from(format!("/proc/{pid}/root"));
        let owner = std::fs::metadata(format!("/proc/{pid}"))?;
        for attempt in 0..100 {
            let there = PathBuf::from(format!(
                "/tmp/snakescope-attach-{}-{attempt}",
                std::process::id()
            ));
            let here = root.join(there.strip_prefix("/").unwrap_or(&there));
            match std::fs::create_dir(&here) {
                Ok(()) => {
                    let session = Session { here, there };
                    if owner.uid() != unsafe_geteuid() || owner.gid() != unsafe_getegid() {
                        std::os::unix::fs::chown(
                            &session.here,
                            Some(owner.uid()),
                            Some(owner.gid()),
                        )?;
                    }
                    return Ok(session);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
        Err(std::io::Error::other("no free name in the target's /tmp"))
    }

    /// Puts the package, the settings and the bootstrap in place; returns
    /// the Python line to inject (it binds no name in `__main__` and lets
    /// nothing escape into the program).
    pub fn write(
        &self,
        pid: u32,
        package: &Path,
        settings: &mut AgentSettings,
    ) -> std::io::Result<String> {
        self.place_package(pid, package)?;
        settings.output = self.there.join("capture.json").display().to_string();
        settings.boot = self.there.join("boot.py").display().to_string();
        let settings_path = self.there.join("settings.json").display().to_string();
        std::fs::write(
            self.here.join("settings.json"),
            serde_json::to_vec(settings).map_err(std::io::Error::other)?,
        )?;
        let dir = python_str(&self.there.display().to_string());
        let boot = BOOT
            .replace("{DIR}", &dir)
            .replace("{SETTINGS}", &python_str(&settings_path));
        std::fs::write(self.here.join("boot.py"), boot)?;
        self.give_to_target(pid)?;
        let path = python_str(&settings.boot);
        Ok(format!(
            "try:\n    exec(compile(open({path}, 'rb').read(), {path}, 'exec'), \
             {{'__name__': '__snakescope_attach__', '__builtins__': __builtins__}})\n\
             except BaseException:\n    pass\n"
        ))
    }

    /// The package as the target sees it: a link when the target reaches
    /// the same directory at the same path, else a copy.
    fn place_package(&self, pid: u32, package: &Path) -> std::io::Result<()> {
        let package = std::fs::canonicalize(package)?;
        let seen = Path::new(&format!("/proc/{pid}/root"))
            .join(package.strip_prefix("/").unwrap_or(&package));
        let same = match (std::fs::metadata(&package), std::fs::metadata(&seen)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        };
        let link = self.here.join("snakescope");
        if same {
            return std::os::unix::fs::symlink(&package, link);
        }
        std::fs::create_dir(&link)?;
        for entry in std::fs::read_dir(&package)?.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                std::fs::copy(entry.path(), link.join(entry.file_name()))?;
            }
        }
        Ok(())
    }

    /// Everything made here readable by the target, the directory writable.
    fn give_to_target(&self, pid: u32) -> std::io::Result<()> {
        let owner = std::fs::metadata(format!("/proc/{pid}"))?;
        if owner.uid() == unsafe_geteuid() {
            return Ok(());
        }
        let mut paths = vec![self.here.join("settings.json"), self.here.join("boot.py")];
        let copy = self.here.join("snakescope");
        if !copy.is_symlink() {
            paths.push(copy.clone());
            paths.extend(std::fs::read_dir(&copy)?.flatten().map(|e| e.path()));
        }
        for path in paths {
            std::os::unix::fs::chown(&path, Some(owner.uid()), Some(owner.gid()))?;
        }
        Ok(())
    }

    /// Writes `text` into the directory as `name`, readable by the target;
    /// returns its path as the target sees it.
    pub fn write_script(&self, pid: u32, name: &str, text: &str) -> std::io::Result<String> {
        let here = self.here.join(name);
        std::fs::write(&here, text)?;
        let owner = std::fs::metadata(format!("/proc/{pid}"))?;
        if owner.uid() != unsafe_geteuid() {
            std::os::unix::fs::chown(&here, Some(owner.uid()), Some(owner.gid()))?;
        }
        Ok(self.there.join(name).display().to_string())
    }

    /// The agent's capture, as this process reaches it.
    pub fn capture(&self) -> PathBuf {
        self.here.join("capture.json")
    }

    /// Whether the agent has started profiling.
    pub fn started(&self) -> bool {
        self.here.join("capture.json.started").is_file()
    }

    /// The agent's one-line failure, when it wrote one.
    pub fn agent_error(&self) -> Option<String> {
        std::fs::read_to_string(self.here.join("capture.json.error"))
            .ok()
            .map(|s| s.trim().to_owned())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.here);
    }
}

/// The bootstrap: the package importable for the import only, then the
/// session. A package a previous attach left imported (its directory gone)
/// is pointed at this session's copy, so its modules not yet imported are
/// found.
const BOOT: &str = "import sys
_dir = {DIR}
_pkg = sys.modules.get('snakescope')
if _pkg is not None and not all(__import__('os').path.isdir(p) for p in _pkg.__path__):
    _pkg.__path__[:] = [_dir + '/snakescope']
sys.path.insert(0, _dir)
try:
    from snakescope import _attach
finally:
    sys.path[:] = [p for p in sys.path if p != _dir]
    sys.path_importer_cache.pop(_dir, None)
_attach.begin({SETTINGS})
";

/// A Python string literal for `s` (JSON's escapes are Python's too).
fn python_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "''".to_owned())
}

fn unsafe_geteuid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

fn unsafe_getegid() -> u32 {
    // SAFETY: getegid has no preconditions and cannot fail.
    unsafe { libc::getegid() }
}
