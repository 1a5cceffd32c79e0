//! The process tree under a pid, read from `/proc/PID/task/TID/children`
//! (every thread's: a `multiprocessing` pool starts workers from a thread).

use std::collections::HashSet;

/// Every descendant of `root` with its parent, parents before children.
pub fn descendants(root: u32) -> Vec<(u32, u32)> {
    let mut found = Vec::new();
    let mut seen = HashSet::from([root]);
    let mut queue = vec![root];
    while let Some(parent) = queue.pop() {
        for child in children(parent) {
            if seen.insert(child) {
                found.push((child, parent));
                queue.push(child);
            }
        }
    }
    found
}

/// The direct children of `pid`, started by any of its threads.
fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for task in tasks.flatten() {
        let path = task.path().join("children");
        if let Ok(text) = std::fs::read_to_string(path) {
            out.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    out
}

/// The command line of `pid`, empty when it is gone (or a zombie).
pub fn command_line(pid: u32) -> Vec<String> {
    let Ok(bytes) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return Vec::new();
    };
    bytes
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// Whether `pid` still runs (exists and is not a zombie).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_a_grandchild_and_reads_its_command() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 1 & wait"])
            .spawn()
            .unwrap();
        let me = std::process::id();
        let mut found = Vec::new();
        for _ in 0..500 {
            found = super::descendants(me);
            let sleeping = found
                .iter()
                .any(|&(p, _)| super::command_line(p).first().is_some_and(|c| c == "sleep"));
            if sleeping {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let sh = child.id();
        assert!(found.contains(&(sh, me)), "{found:?}");
        let (grandchild, _) = *found.iter().find(|&&(_, parent)| parent == sh).unwrap();
        assert_eq!(super::command_line(grandchild), ["sleep", "1"]);
        assert!(super::alive(grandchild));
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!super::alive(sh), "reaped");
    }
}
