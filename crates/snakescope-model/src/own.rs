//! snakescope's own Python code (`python/snakescope/*.py`: the `run`
//! bootstrap, `@profile`'s wrappers, the `Profiler` API) as it shows in a
//! capture's frames. The samplers leave out the outermost of these frames;
//! one in the middle of a stack (a `@profile` wrapper in `_lines.py`) or a
//! capture written by an older build may still hold some, so every view
//! read from a capture file drops them here.

use crate::capture::{Capture, StackRecord};
use crate::memory::MemorySite;
use std::collections::HashMap;

/// The package's modules: a frame from one of these in a directory named
/// `snakescope` is snakescope's, not the program's.
const OWN_MODULES: [&str; 16] = [
    "__init__.py",
    "__main__.py",
    "_api.py",
    "_asyncprobe.py",
    "_attach.py",
    "_budget.py",
    "_exact.py",
    "_handover.py",
    "_hooks.py",
    "_ipython.py",
    "_lines.py",
    "_memory.py",
    "_opcodes.py",
    "_pytest.py",
    "_run.py",
    "_timeit.py",
];

/// Whether `file` is one of snakescope's own Python modules: one of the
/// package's, or any module of its `_advise` subpackage (the advisor's
/// operand sampler and rules, which run in the program's process).
pub fn is_own_file(file: &str) -> bool {
    let path = std::path::Path::new(file);
    let in_advisor = path.ancestors().skip(1).any(|dir| {
        dir.file_name().is_some_and(|d| d == "_advise")
            && dir
                .parent()
                .and_then(|p| p.file_name())
                .is_some_and(|p| p == "snakescope")
    });
    if in_advisor && file.ends_with(".py") {
        return true;
    }
    let in_package = path
        .parent()
        .and_then(|p| p.file_name())
        .is_some_and(|d| d == "snakescope");
    in_package
        && path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| OWN_MODULES.contains(&n))
}

impl Capture {
    /// The capture without snakescope's own frames: they are taken out of
    /// every stack and memory site (the frame table keeps them, so indices
    /// stay valid); a stack left empty was snakescope's own work and goes.
    pub fn without_own_frames(mut self) -> Capture {
        let own: Vec<bool> = self.frames.iter().map(|f| is_own_file(&f.file)).collect();
        if !own.contains(&true) {
            return self;
        }
        for stack in &mut self.stacks {
            stack.frames.retain(|&f| !own[f]);
        }
        // Per thread: the samples, idle samples and GIL samples dropped.
        let mut dropped = vec![[0u64; 3]; self.threads.len()];
        self.stacks.retain(|s| {
            let keep = !s.frames.is_empty();
            if !keep {
                let d = &mut dropped[s.thread];
                d[0] += s.count;
                d[1] += if s.idle { s.count } else { 0 };
                d[2] += if s.gil { s.count } else { 0 };
            }
            keep
        });
        for (thread, [n, idle, gil]) in self.threads.iter_mut().zip(dropped) {
            thread.samples = thread.samples.saturating_sub(n);
            thread.idle_samples = thread.idle_samples.saturating_sub(idle);
            thread.gil_samples = thread.gil_samples.saturating_sub(gil);
        }
        self.stacks = merged_stacks(std::mem::take(&mut self.stacks));
        if let Some(memory) = &mut self.memory {
            for site in &mut memory.sites {
                site.frames.retain(|&f| !own[f]);
            }
            memory.sites = merged_sites(std::mem::take(&mut memory.sites));
        }
        self
    }
}

/// Stacks that became one (they differed only by own frames) as one record,
/// in the order of their first.
fn merged_stacks(stacks: Vec<StackRecord>) -> Vec<StackRecord> {
    let mut at: HashMap<(usize, Vec<usize>, bool, bool), usize> = HashMap::new();
    let mut out: Vec<StackRecord> = Vec::with_capacity(stacks.len());
    for s in stacks {
        let key = (s.thread, s.frames.clone(), s.idle, s.gil);
        match at.get(&key) {
            Some(&i) => out[i].count += s.count,
            None => {
                at.insert(key, out.len());
                out.push(s);
            }
        }
    }
    out
}

/// Memory sites that became one, their figures added.
fn merged_sites(sites: Vec<MemorySite>) -> Vec<MemorySite> {
    let mut at: HashMap<(Vec<usize>, String), usize> = HashMap::new();
    let mut out: Vec<MemorySite> = Vec::with_capacity(sites.len());
    for s in sites {
        let key = (s.frames.clone(), s.source.clone());
        match at.get(&key) {
            Some(&i) => {
                let o = &mut out[i];
                o.allocations += s.allocations;
                o.allocated_bytes += s.allocated_bytes;
                o.frees += s.frees;
                o.freed_bytes += s.freed_bytes;
                o.peak_bytes += s.peak_bytes;
                o.end_bytes += s.end_bytes;
                o.global_bytes += s.global_bytes;
            }
            None => {
                at.insert(key, out.len());
                out.push(s);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CaptureBuilder, Frame, Meta, ThreadSample};

    #[test]
    fn package_modules_are_own_and_the_program_is_not() {
        assert!(is_own_file(
            "/venv/lib/python3.12/site-packages/snakescope/_run.py"
        ));
        assert!(is_own_file("/src/python/snakescope/_lines.py"));
        assert!(!is_own_file("/src/app/_run.py"));
        assert!(!is_own_file("/src/snakescope/tests/_run.py"));
        assert!(!is_own_file("/src/snakescope/app.py"));
        assert!(!is_own_file("_run.py"));
        assert!(is_own_file("/src/python/snakescope/_advise/_operands.py"));
        assert!(is_own_file("/src/python/snakescope/_advise/rules/slots.py"));
        assert!(!is_own_file("/src/app/_advise/_operands.py"));
    }

    #[test]
    fn every_module_of_the_package_is_own() {
        let package =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../python/snakescope");
        let entries = std::fs::read_dir(&package).expect("the package's sources");
        let mut seen = 0;
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.extension().is_some_and(|e| e == "py") {
                let file = path.display().to_string();
                assert!(is_own_file(&file), "{file} is not in OWN_MODULES");
                seen += 1;
            }
        }
        assert_eq!(
            seen,
            OWN_MODULES.len(),
            "OWN_MODULES names a module that is gone"
        );
    }

    #[test]
    fn own_frames_leave_every_stack() {
        let mut b = CaptureBuilder::new();
        let frame = |function: &str, file: &str| Frame {
            function: function.into(),
            qualname: None,
            file: file.into(),
            line: 1,
        };
        let run = b.intern_frame(frame("main", "/v/snakescope/_run.py"));
        let app = b.intern_frame(frame("work", "/p/app.py"));
        let wrap = b.intern_frame(frame("wrapper", "/v/snakescope/_lines.py"));
        let leaf = b.intern_frame(frame("leaf", "/p/app.py"));
        for (frames, n) in [
            (vec![run, app, wrap, leaf], 3),
            (vec![run], 2),
            (vec![app, leaf], 4),
        ] {
            for _ in 0..n {
                b.add(ThreadSample {
                    tid: 7,
                    idle: false,
                    gil: true,
                    frames: &frames,
                });
            }
        }
        let c = b.finish(Meta::default()).without_own_frames();
        // The stack through the wrapper and the one without it are one now.
        assert_eq!(c.stacks.len(), 1);
        assert_eq!(c.stacks[0].frames, [app, leaf]);
        assert_eq!((c.total_samples(), c.threads[0].samples), (7, 7));
        // The thread's GIL samples are its stacks' still (all held it).
        assert_eq!(c.threads[0].gil_samples, 7);
    }
}
