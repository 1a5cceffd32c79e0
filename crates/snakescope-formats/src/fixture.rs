//! A hand-built capture with round counts, shared by the tests of every format.
//!
//! 100 thread-samples: MainThread (tid 100) has 90, all busy, 80 holding the
//! GIL; an unnamed thread (tid 101) has 10, all idle.
//!
//! | thread | stack (root first)                     | count |
//! |--------|----------------------------------------|-------|
//! | 100    | main:10, Worker.work:20 (GIL)          | 50    |
//! | 100    | main:10, Worker.work:20 (no GIL)       | 10    |
//! | 100    | main:10, Worker.work:21 (GIL)          | 20    |
//! | 100    | main:10, Worker.work:20, helper:5 (GIL)| 10    |
//! | 101    | run:?, helper:5 (idle)                 | 10    |
//!
//! So: self Worker.work 80 %, helper 20 %; total main 90 %, Worker.work 90 %,
//! helper 20 %, run 10 %; lines app.py:20 60 %, app.py:21 20 %, util.py:5 20 %.

use snakescope_model::{
    Capture, Frame, Meta, StackRecord, ThreadRecord, FORMAT_NAME, FORMAT_VERSION,
};

fn frame(function: &str, qualname: Option<&str>, file: &str, line: u32) -> Frame {
    Frame {
        function: function.into(),
        qualname: qualname.map(Into::into),
        file: file.into(),
        line,
    }
}

fn stack(thread: usize, frames: &[usize], idle: bool, gil: bool, count: u64) -> StackRecord {
    StackRecord {
        thread,
        frames: frames.to_vec(),
        idle,
        gil,
        count,
    }
}

pub(crate) fn capture() -> Capture {
    Capture {
        format: FORMAT_NAME.into(),
        version: FORMAT_VERSION,
        meta: Meta {
            tool_version: "0.1.0".into(),
            mode: "record".into(),
            command: vec![
                "python3".into(),
                "app.py".into(),
                "--size".into(),
                "big one".into(),
            ],
            pid: Some(100),
            python_version: Some("3.11.7".into()),
            requested_rate_hz: 100.0,
            started_unix_s: 1_795_000_000.0,
            duration_s: 1.0,
            ticks: 100,
            lost_ticks: 4,
            torn_stacks: 2,
            include_idle: true,
            gil_only: false,
            exit_code: Some(0),
            free_threaded: false,
            wall_s: None,
            user_s: None,
            sys_s: None,
            peak_rss_bytes: None,
            sampler_priority: None,
        },
        threads: vec![
            ThreadRecord {
                tid: 100,
                name: Some("MainThread".into()),
                samples: 90,
                idle_samples: 0,
                gil_samples: 80,
                pid: None,
            },
            ThreadRecord {
                tid: 101,
                name: None,
                samples: 10,
                idle_samples: 10,
                gil_samples: 0,
                pid: None,
            },
        ],
        frames: vec![
            frame("main", None, "/src/app.py", 10),
            frame("work", Some("Worker.work"), "/src/app.py", 20),
            frame("work", Some("Worker.work"), "/src/app.py", 21),
            frame("helper", None, "/src/util.py", 5),
            frame("run", None, "/usr/lib/python3.11/threading.py", 0),
        ],
        stacks: vec![
            stack(0, &[0, 1], false, true, 50),
            stack(0, &[0, 1], false, false, 10),
            stack(0, &[0, 2], false, true, 20),
            stack(0, &[0, 1, 3], false, true, 10),
            stack(1, &[4, 3], true, false, 10),
        ],
        memory: None,
        exact: None,
        lines: None,
        opcodes: None,
        stat: None,
        processes: Vec::new(),
        findings: None,
        tasks: None,
    }
}

pub(crate) fn empty_capture() -> Capture {
    Capture {
        threads: Vec::new(),
        frames: Vec::new(),
        stacks: Vec::new(),
        memory: None,
        exact: None,
        lines: None,
        opcodes: None,
        stat: None,
        processes: Vec::new(),
        findings: None,
        tasks: None,
        ..capture()
    }
}

/// An exact capture (`run --exact` with `@profile` on `main`), with round figures:
///
/// | frame | function                         | calls | primitive | tottime | cumtime |
/// |-------|----------------------------------|-------|-----------|---------|---------|
/// | 0     | main (/src/app.py:1)             | 1     | 1         | 0.1     | 1.0     |
/// | 1     | Worker.fib (/src/app.py:5)       | 21    | 1         | 0.6     | 0.6     |
/// | 2     | `<built-in method builtins.len>` | 100   | 100       | 0.3     | 0.3     |
///
/// fib is called once by main (tottime 0.03, cumtime 0.6) and 20 times by
/// itself (0.57, 0.55); len 100 times by main. So 122 calls, 102 primitive,
/// in 1.0 s. Lines of main: line 2 once in 0.1 s, line 3 100 times in 0.9 s.
pub(crate) fn exact_capture() -> Capture {
    use snakescope_model::{
        ExactCaller, ExactFunction, ExactStats, LineFunction, LineTiming, LineTimings,
        SECTION_VERSION,
    };
    let caller = |function, calls, primitive_calls, tottime_s, cumtime_s| ExactCaller {
        function,
        calls,
        primitive_calls,
        tottime_s,
        cumtime_s,
    };
    let function = |frame, calls, primitive_calls, tottime_s, cumtime_s, callers| ExactFunction {
        frame,
        calls,
        primitive_calls,
        tottime_s,
        cumtime_s,
        callers,
    };
    let line = |line, hits, time_s| LineTiming { line, hits, time_s };
    Capture {
        meta: Meta {
            mode: "exact".into(),
            requested_rate_hz: 0.0,
            ticks: 0,
            lost_ticks: 0,
            torn_stacks: 0,
            include_idle: false,
            ..capture().meta
        },
        frames: vec![
            frame("main", None, "/src/app.py", 1),
            frame("fib", Some("Worker.fib"), "/src/app.py", 5),
            frame("<built-in method builtins.len>", None, "~", 0),
        ],
        exact: Some(ExactStats {
            version: SECTION_VERSION,
            functions: vec![
                function(0, 1, 1, 0.1, 1.0, vec![]),
                function(
                    1,
                    21,
                    1,
                    0.6,
                    0.6,
                    vec![caller(0, 1, 1, 0.03, 0.6), caller(1, 20, 0, 0.57, 0.55)],
                ),
                function(2, 100, 100, 0.3, 0.3, vec![caller(0, 100, 100, 0.3, 0.3)]),
            ],
        }),
        opcodes: None,
        lines: Some(LineTimings {
            version: SECTION_VERSION,
            functions: vec![LineFunction {
                frame: 0,
                lines: vec![line(2, 1, 0.1), line(3, 100, 0.9)],
                source: vec![
                    "def main():".into(),
                    "    w = Worker(); w.fib(20)".into(),
                    "    for i in range(100): len(\"x\")".into(),
                ],
            }],
        }),
        ..empty_capture()
    }
}
