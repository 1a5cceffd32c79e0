//! Where the standalone binary finds its Python when the wheel installed it.
//!
//! The wheel puts the binary into the environment's `bin/` (its
//! `.data/scripts/`), beside that environment's `python3` and with the
//! package in `../lib/python3.X/site-packages/snakescope`. Installed there,
//! the binary behaves as the package's Python command did: `run` and `timeit`
//! default to that interpreter (not to whichever `python3` comes first on
//! `PATH`, which, with the environment not activated, lacks the package), and
//! the package is lent from there to another interpreter (`run --python`).
//! The cargo-built binary (`target/release/`) has neither beside it, so
//! nothing changes for it.

use std::path::{Path, PathBuf};

/// The interpreter beside the binary (`bin/python3`, else `bin/python`).
pub(crate) fn python() -> Option<PathBuf> {
    let bin = bin_dir()?;
    ["python3", "python"]
        .iter()
        .map(|name| bin.join(name))
        .find(|p| is_executable(p))
}

/// The package installed with the binary: `<prefix>/lib/python3.X/site-packages/snakescope`
/// (or `dist-packages`, or `lib64`), the highest version when there are several
/// (a `pip install --user` for two versions shares `~/.local/bin`).
pub(crate) fn package() -> Option<PathBuf> {
    package_under(bin_dir()?.parent()?)
}

fn package_under(prefix: &Path) -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = Vec::new();
    for lib in ["lib", "lib64"] {
        let Ok(entries) = std::fs::read_dir(prefix.join(lib)) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(minor) = name.to_str().and_then(python_minor) else {
                continue;
            };
            for site in ["site-packages", "dist-packages"] {
                let package = entry.path().join(site).join("snakescope");
                if package.join("__init__.py").is_file() && package.join("_run.py").is_file() {
                    found.push((minor, package));
                }
            }
        }
    }
    found
        .into_iter()
        .max_by_key(|(minor, _)| *minor)
        .map(|(_, p)| p)
}

/// `python3.11` → 11, `python3.13t` → 13.
fn python_minor(dir: &str) -> Option<u32> {
    let rest = dir.strip_prefix("python3.")?;
    rest.trim_end_matches('t').parse().ok()
}

fn bin_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.to_path_buf())
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minors_of_lib_directories() {
        assert_eq!(python_minor("python3.8"), Some(8));
        assert_eq!(python_minor("python3.13t"), Some(13));
        assert_eq!(python_minor("python2.7"), None);
        assert_eq!(python_minor("pkgconfig"), None);
    }

    #[test]
    fn the_highest_version_with_the_package_wins() {
        let prefix =
            std::env::temp_dir().join(format!("snakescope-installed-{}", std::process::id()));
        let make = |rel: &str| {
            let p = prefix.join(rel);
            std::fs::create_dir_all(&p).unwrap();
            std::fs::write(p.join("__init__.py"), b"").unwrap();
            std::fs::write(p.join("_run.py"), b"").unwrap();
            p
        };
        assert_eq!(package_under(&prefix), None);
        let older = make("lib/python3.9/site-packages/snakescope");
        assert_eq!(package_under(&prefix), Some(older));
        let newer = make("lib/python3.11/dist-packages/snakescope");
        // Not a package: no _run.py.
        std::fs::create_dir_all(prefix.join("lib/python3.12/site-packages/snakescope")).unwrap();
        assert_eq!(package_under(&prefix), Some(newer));
        std::fs::remove_dir_all(&prefix).unwrap();
    }
}
