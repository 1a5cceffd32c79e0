//! `/proc/PID/maps`: which files a process has mapped, and where.

use std::path::PathBuf;

/// One file-backed mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mapping {
    pub start: u64,
    pub offset: u64,
    pub path: PathBuf,
}

/// Parses the text of `/proc/PID/maps`, keeping file-backed mappings.
pub(crate) fn parse_maps(text: &str) -> Vec<Mapping> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Mapping> {
    let mut fields = line.split_whitespace();
    let range = fields.next()?;
    let _perms = fields.next()?;
    let offset = u64::from_str_radix(fields.next()?, 16).ok()?;
    let _dev = fields.next()?;
    let _inode = fields.next()?;
    let path: String = fields.collect::<Vec<_>>().join(" ");
    if !path.starts_with('/') {
        return None;
    }
    let start = u64::from_str_radix(range.split('-').next()?, 16).ok()?;
    Some(Mapping {
        start,
        offset,
        path: PathBuf::from(path.trim_end_matches(" (deleted)")),
    })
}

/// Whether a file name looks like a CPython shared library (`libpython3.12.so.1.0`).
pub(crate) fn is_libpython(path: &std::path::Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("libpython") && n.contains(".so"))
}

/// `(major, minor)` from a name such as `python3.10`, `libpython3.10.so.1.0`.
pub(crate) fn version_from_name(path: &std::path::Path) -> Option<(u8, u8)> {
    let name = path.file_name()?.to_str()?;
    let at = name.find("python")? + "python".len();
    let mut parts = name[at..].split('.');
    let major = parts.next()?.parse().ok()?;
    let minor: String = parts
        .next()?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    Some((major, minor.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn parses_file_mappings_only() {
        let text = "\
55d0c0a00000-55d0c0a01000 r--p 00000000 fe:01 123 /usr/bin/python3.11
7f00aa000000-7f00aa100000 r-xp 00021000 fe:01 456 /opt/py/lib/libpython3.12.so.1.0
7ffd0000-7ffd1000 rw-p 00000000 00:00 0 [stack]
7f00bb000000-7f00bb001000 rw-p 00000000 00:00 0
";
        let maps = parse_maps(text);
        assert_eq!(maps.len(), 2);
        assert_eq!(maps[1].start, 0x7f00aa000000);
        assert_eq!(maps[1].offset, 0x21000);
        assert!(is_libpython(&maps[1].path));
        assert!(!is_libpython(&maps[0].path));
    }

    #[test]
    fn versions_from_names() {
        assert_eq!(
            version_from_name(Path::new("/usr/bin/python3.10")),
            Some((3, 10))
        );
        assert_eq!(
            version_from_name(Path::new("libpython3.12.so.1.0")),
            Some((3, 12))
        );
        assert_eq!(version_from_name(Path::new("python3.13t")), Some((3, 13)));
        assert_eq!(version_from_name(Path::new("python")), None);
    }
}
