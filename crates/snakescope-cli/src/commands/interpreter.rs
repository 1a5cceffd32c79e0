//! `run`'s interpreter: which one, whether snakescope supports it, and how
//! its bootstrap (`python -m snakescope._run`) gets the package.
//!
//! An interpreter other than the package's own is asked first, in one short
//! run, for its version and whether it can import `snakescope`. When it
//! cannot, and the package's location is known (`SNAKESCOPE_PACKAGE`, which
//! `python -m snakescope` sets, else the environment the wheel installed the
//! binary into: `installed_package`), the package is made importable for the
//! bootstrap only: a fresh directory holding nothing but a
//! `snakescope` link to the package goes first on `PYTHONPATH`, and the
//! bootstrap takes it off `sys.path` and restores `PYTHONPATH` before the
//! program runs (`SNAKESCOPE_RUN_PATH`, `SNAKESCOPE_RUN_PYTHONPATH`). A
//! directory of its own, rather than the package's parent, because that parent
//! is often another interpreter's site-packages, whose `sitecustomize` or
//! other modules would otherwise be imported while the interpreter starts.

use crate::installed;
use crate::launch;
use crate::UserError;
use snakescope_layouts::{
    supported_minors, FREE_THREADED_MINOR, SUPPORTED_FREE_THREADED, SUPPORTED_GIL_VERSIONS,
};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Whether the package has the module a free-threaded 3.x loads
/// (`_native.cpython-3xt-<platform>.so`; `make ft-module` builds it).
fn has_free_threaded_module(package: &Path, minor: u32) -> bool {
    let prefix = format!("_native.cpython-3{minor}t-");
    std::fs::read_dir(package).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".so"))
        })
    })
}

/// Asks an interpreter for its version, ABI flags, whether it finds the
/// package and where; valid Python 2 and 3, so that any interpreter answers.
const PROBE: &str = "import sys
v = sys.version_info
where = ''
try:
    import importlib.util, os
    spec = importlib.util.find_spec('snakescope')
    found = spec is not None
    where = os.path.dirname(spec.origin or '') if found else ''
except Exception:
    found = False
sys.stdout.write('snakescope-probe %d %d %d %s %d %s\\n' % (v[0], v[1], v[2], getattr(sys, 'abiflags', '') or '-', found, where))
";

/// The interpreter to run the bootstrap with, and what its environment needs.
pub(crate) struct Interpreter {
    pub python: String,
    /// A free-threaded build (3.13t): no `--exact` or line timing there.
    pub free_threaded: bool,
    /// The directory put on the bootstrap's `PYTHONPATH`, removed on drop.
    package_dir: Option<PackageDir>,
}

impl Interpreter {
    /// Chooses the interpreter (`--python`, else `$SNAKESCOPE_PYTHON`, else
    /// the one the wheel installed the binary beside, else `python3`) and
    /// checks it can run the bootstrap.
    pub fn choose(explicit: Option<&str>) -> Result<Interpreter, UserError> {
        let from_env = std::env::var("SNAKESCOPE_PYTHON")
            .ok()
            .filter(|p| !p.is_empty());
        let python = explicit
            .map(str::to_owned)
            .or_else(|| from_env.clone())
            .or_else(|| installed::python().map(|p| p.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "python3".to_owned());
        // `python -m snakescope` runs in an interpreter that
        // has just imported the package: no need to ask it.
        if launch::set_by_command("SNAKESCOPE_PYTHON") && from_env.as_deref() == Some(&python) {
            return Ok(Interpreter {
                python,
                free_threaded: std::env::var("SNAKESCOPE_PYTHON_FREE_THREADED").as_deref()
                    == Ok("1"),
                package_dir: None,
            });
        }
        let probe = Probe::run(&python)?;
        probe.check_supported(&python)?;
        let free_threaded = probe.free_threaded;
        if probe.has_package {
            return Ok(Interpreter {
                python,
                free_threaded,
                package_dir: None,
            });
        }
        let Some(package) = std::env::var_os("SNAKESCOPE_PACKAGE")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .or_else(installed_package)
        else {
            return Err(UserError::new(format!(
                "`{python}` (Python {}) cannot import the snakescope package",
                probe.version()
            ))
            .with_hint(
                "install it there, run the `snakescope` command of a Python that has it \
                 (it lends its package), or set SNAKESCOPE_PACKAGE to the package's directory",
            ));
        };
        if !package.join("_run.py").is_file() || !package.join("__init__.py").is_file() {
            return Err(UserError::new(format!(
                "SNAKESCOPE_PACKAGE=`{}` is not the snakescope package (no `__init__.py` and `_run.py` there)",
                package.display()
            ))
            .with_hint("set it to the `snakescope` directory of a built package, or unset it"));
        }
        if free_threaded && !has_free_threaded_module(&package, probe.minor) {
            return Err(UserError::new(format!(
                "the snakescope package at `{}` has no native module for free-threaded Python {} \
                 (`_native.cpython-3{}t-*.so`; the abi3 module cannot load there)",
                package.display(),
                probe.version(),
                probe.minor
            ))
            .with_hint("build it with `make ft-module` (needs the 3.13t root: `make roots`)"));
        }
        let package_dir = PackageDir::create(&package).map_err(|e| {
            UserError::new(format!(
                "cannot lend the snakescope package at `{}` to `{python}`: {e}",
                package.display()
            ))
        })?;
        Ok(Interpreter {
            python,
            free_threaded,
            package_dir: Some(package_dir),
        })
    }

    /// Sets the bootstrap's environment: the package's directory first on
    /// `PYTHONPATH`, and what the bootstrap needs to undo that.
    pub fn prepare(&self, command: &mut Command) {
        let Some(dir) = &self.package_dir else { return };
        let original = std::env::var_os("PYTHONPATH");
        let mut path = dir.path.clone().into_os_string();
        if let Some(orig) = original.as_ref().filter(|p| !p.is_empty()) {
            path.push(":");
            path.push(orig);
        }
        command.env("PYTHONPATH", path);
        command.env("SNAKESCOPE_RUN_PATH", &dir.path);
        match original {
            Some(orig) => command.env("SNAKESCOPE_RUN_PYTHONPATH", orig),
            None => command.env_remove("SNAKESCOPE_RUN_PYTHONPATH"),
        };
    }
}

/// What the probe found.
#[derive(Debug, PartialEq, Eq)]
struct Probe {
    major: u32,
    minor: u32,
    micro: u32,
    free_threaded: bool,
    has_package: bool,
    /// The package's directory, when found (empty otherwise).
    package: Option<PathBuf>,
}

impl Probe {
    /// Refuses a version snakescope does not read (`python` names it).
    fn check_supported(&self, python: &str) -> Result<(), UserError> {
        let supported = u8::try_from(self.minor).is_ok_and(|m| supported_minors().contains(&m));
        if self.major != 3 || !supported {
            return Err(UserError::new(format!(
                "Python {} (`{python}`) is not supported (supported: {SUPPORTED_GIL_VERSIONS})",
                self.version()
            ))
            .with_hint("pick a supported interpreter with `--python PATH`"));
        }
        if self.free_threaded && self.minor != u32::from(FREE_THREADED_MINOR) {
            return Err(UserError::new(format!(
                "free-threaded Python {} (`{python}`) is not supported yet (supported: {SUPPORTED_FREE_THREADED})",
                self.version()
            ))
            .with_hint("pick an interpreter built with the GIL with `--python PATH`"));
        }
        Ok(())
    }

    fn run(python: &str) -> Result<Probe, UserError> {
        let mut command = Command::new(python);
        command
            .args(["-c", PROBE])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        launch::program_env(&mut command);
        let out = command.output().map_err(|e| {
            UserError::new(format!(
                "cannot run the interpreter `{python}`: {}",
                launch::describe(&e)
            ))
            .with_hint("pick one with `--python PATH`")
        })?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        match stdout.lines().rev().find_map(Probe::parse) {
            Some(probe) if out.status.success() => Ok(probe),
            _ => Err(UserError::new(format!(
                "`{python}` did not run as a Python interpreter (`{python} -c …` exited with status {})",
                launch::status_code(out.status)
            ))
            .with_hint("pick a Python interpreter with `--python PATH`")),
        }
    }

    /// `snakescope-probe MAJOR MINOR MICRO ABIFLAGS FOUND [WHERE]`.
    fn parse(line: &str) -> Option<Probe> {
        let mut words = line.strip_prefix("snakescope-probe ")?.splitn(6, ' ');
        let mut number = || words.next()?.parse::<u32>().ok();
        let (major, minor, micro) = (number()?, number()?, number()?);
        let abiflags = words.next()?;
        let has_package = match words.next()? {
            "1" => true,
            "0" => false,
            _ => return None,
        };
        let package = words.next().filter(|w| !w.is_empty()).map(PathBuf::from);
        Some(Probe {
            major,
            minor,
            micro,
            free_threaded: abiflags.contains('t'),
            has_package,
            package,
        })
    }

    fn version(&self) -> String {
        format!("{}.{}.{}", self.major, self.minor, self.micro)
    }
}

/// The package of the environment the wheel installed the binary into, to
/// lend: its `site-packages/snakescope`, else wherever that environment's
/// interpreter finds it (an editable install, `maturin develop`).
pub(crate) fn installed_package() -> Option<PathBuf> {
    installed::package().or_else(|| {
        let python = installed::python()?;
        Probe::run(&python.to_string_lossy()).ok()?.package
    })
}

/// A new directory whose only entry, `snakescope`, links to the package.
struct PackageDir {
    path: PathBuf,
}

impl PackageDir {
    fn create(package: &Path) -> std::io::Result<PackageDir> {
        let package = std::fs::canonicalize(package)?;
        let base = std::env::temp_dir();
        let base = std::fs::canonicalize(&base).unwrap_or(base);
        for attempt in 0.. {
            let path = base.join(format!("snakescope-run-{}-{attempt}", std::process::id()));
            match std::fs::create_dir(&path) {
                Ok(()) => {
                    let dir = PackageDir { path };
                    std::os::unix::fs::symlink(&package, dir.path.join("snakescope"))?;
                    return Ok(dir);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => {}
                Err(e) => return Err(e),
            }
        }
        unreachable!("the loop returns")
    }
}

impl Drop for PackageDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.path.join("snakescope"));
        let _ = std::fs::remove_dir(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    /// `PYTHONPATH` as the bootstrap got it, for tests of `prepare`.
    fn bootstrap_env(interp: &Interpreter) -> Vec<(OsString, Option<OsString>)> {
        let mut command = Command::new("true");
        interp.prepare(&mut command);
        command
            .get_envs()
            .map(|(k, v)| (k.to_owned(), v.map(ToOwned::to_owned)))
            .collect()
    }

    #[test]
    fn free_threaded_module_is_looked_for_by_version() {
        let dir = std::env::temp_dir().join(format!("snakescope-ft-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("_native.abi3.so"), b"").unwrap();
        assert!(
            !has_free_threaded_module(&dir, 13),
            "the abi3 module does not load on 3.13t"
        );
        std::fs::write(dir.join("_native.cpython-313t-x86_64-linux-gnu.so"), b"").unwrap();
        assert!(has_free_threaded_module(&dir, 13));
        assert!(!has_free_threaded_module(&dir, 14));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn probe_lines() {
        assert_eq!(
            Probe::parse("snakescope-probe 3 12 1 - 0"),
            Some(Probe {
                major: 3,
                minor: 12,
                micro: 1,
                free_threaded: false,
                has_package: false,
                package: None,
            })
        );
        let found =
            Probe::parse("snakescope-probe 3 11 7 - 1 /a b/site-packages/snakescope").unwrap();
        assert_eq!(
            found.package,
            Some(PathBuf::from("/a b/site-packages/snakescope"))
        );
        let ft = Probe::parse("snakescope-probe 3 13 0 t 1").unwrap();
        assert!(ft.free_threaded && ft.has_package);
        assert_eq!(ft.version(), "3.13.0");
        assert_eq!(Probe::parse("snakescope-probe 3 12"), None);
        assert_eq!(Probe::parse("snakescope-probe 3 12 1 - yes"), None);
        assert_eq!(Probe::parse("Python 3.12.1"), None);
    }

    #[test]
    fn package_dir_holds_only_a_link_and_goes() {
        let package =
            std::env::temp_dir().join(format!("snakescope-pkg-test-{}", std::process::id()));
        std::fs::create_dir_all(&package).unwrap();
        let dir = PackageDir::create(&package).unwrap();
        let path = dir.path.clone();
        let entries: Vec<_> = std::fs::read_dir(&path)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(entries, vec![OsString::from("snakescope")]);
        assert_eq!(
            std::fs::read_link(path.join("snakescope")).unwrap(),
            std::fs::canonicalize(&package).unwrap()
        );
        let interp = Interpreter {
            python: "python3".into(),
            free_threaded: false,
            package_dir: Some(dir),
        };
        let env = bootstrap_env(&interp);
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(
            get("SNAKESCOPE_RUN_PATH"),
            Some(Some(path.clone().into_os_string()))
        );
        let pythonpath = get("PYTHONPATH").unwrap().unwrap();
        assert!(pythonpath
            .to_string_lossy()
            .starts_with(&*path.to_string_lossy()));
        drop(interp);
        assert!(!path.exists());
        assert!(
            package.exists(),
            "removing the link must not touch the package"
        );
        std::fs::remove_dir(&package).unwrap();
    }
}
