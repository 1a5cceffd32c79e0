//! The captures the diff tests compare.

use super::{Diff, FunctionChange};
use snakescope_model::{Capture, CaptureBuilder, Frame, Memory, MemorySite, Meta, ThreadSample};

pub(super) fn frame(name: &str, file: &str, line: u32) -> Frame {
    Frame {
        function: name.into(),
        qualname: None,
        file: file.into(),
        line,
    }
}

/// A capture at `rate` Hz from (stack of (function, line), count) on one
/// thread, all functions in `file` except `<module>` frames.
pub(super) fn capture(file: &str, rate: f64, stacks: &[(&[(&str, u32)], u64)]) -> Capture {
    let mut b = CaptureBuilder::new();
    b.name_thread(1, Some("MainThread".into()));
    for (stack, count) in stacks {
        let ids: Vec<usize> = stack
            .iter()
            .map(|&(name, line)| b.intern_frame(frame(name, file, line)))
            .collect();
        for _ in 0..*count {
            b.add(ThreadSample {
                tid: 1,
                idle: false,
                gil: true,
                frames: &ids,
            });
        }
    }
    // Launched by `record` and busy throughout: its wall time is its samples' time.
    let samples: u64 = stacks.iter().map(|s| s.1).sum();
    b.finish(Meta {
        mode: "record".into(),
        exit_code: Some(0),
        command: vec!["python3".into(), file.into()],
        requested_rate_hz: rate,
        duration_s: if samples > 0 {
            samples as f64 / rate
        } else {
            1.0
        },
        ..Meta::default()
    })
}

/// before: 1000 samples at 1 kHz (1 s): lookup 600 at line 10, parse 300, main 100.
pub(super) fn before() -> Capture {
    capture(
        "/p/app.py",
        1000.0,
        &[
            (&[("<module>", 50), ("main", 20), ("lookup", 10)], 600),
            (&[("<module>", 50), ("main", 21), ("parse", 30)], 300),
            (&[("<module>", 50), ("main", 22)], 100),
        ],
    )
}

/// after: 250 samples at 500 Hz (0.5 s): lookup 25 now at line 11, parse 150, main 50,
/// cache (new) 25.
pub(super) fn after() -> Capture {
    capture(
        "/p/app.py",
        500.0,
        &[
            (&[("<module>", 50), ("main", 20), ("lookup", 11)], 25),
            (&[("<module>", 50), ("main", 21), ("parse", 30)], 150),
            (&[("<module>", 50), ("main", 22)], 50),
            (&[("<module>", 50), ("main", 23), ("cache", 40)], 25),
        ],
    )
}

pub(super) fn function<'a>(d: &'a Diff, name: &str) -> &'a FunctionChange {
    d.functions.iter().find(|f| f.name == name).unwrap()
}

pub(super) fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

pub(super) fn with_memory(mut c: Capture, sites: &[(&str, u64)], peak: u64) -> Capture {
    let frame = |c: &Capture, name: &str| c.frames.iter().position(|f| f.function == name);
    let sites = sites
        .iter()
        .map(|&(name, bytes)| MemorySite {
            frames: frame(&c, name).map_or(Vec::new(), |f| vec![f]),
            source: "python".into(),
            allocations: bytes / 100,
            allocated_bytes: bytes,
            ..MemorySite::default()
        })
        .collect();
    c.memory = Some(Memory {
        mode: "exact".into(),
        sample_interval_bytes: 1,
        sites,
        peak_bytes: peak,
        end_bytes: peak / 2,
        ..Memory::default()
    });
    c
}
