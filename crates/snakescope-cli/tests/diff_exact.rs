//! `snakescope diff` of exact captures (`run --exact`) end to end: the table
//! of calls and times, JSON, `--fail-if-slower` on measured time, and the
//! refusals (an exact capture against a sampled one, `--flamegraph`).

use snakescope_model::{
    Capture, CaptureBuilder, ExactCaller, ExactFunction, ExactStats, Frame, Meta, ThreadSample,
    SECTION_VERSION,
};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn snakescope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_snakescope"))
        .args(args)
        .output()
        .expect("run snakescope")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "snakescope-diff-exact-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn frame(b: &mut CaptureBuilder, name: &str, file: &str, line: u32) -> usize {
    b.intern_frame(Frame {
        function: name.into(),
        qualname: None,
        file: file.into(),
        line,
    })
}

fn meta(mode: &str) -> Meta {
    Meta {
        tool_version: "0.1.0".into(),
        mode: mode.into(),
        command: vec!["python3".into(), "app.py".into()],
        duration_s: 1.0,
        ..Meta::default()
    }
}

/// `main` (first line `main_line`) calls `fib` `fib_calls` times (all but
/// one recursive) for `fib_s` seconds of own time, and `len` 10 times.
fn exact(main_line: u32, fib_calls: u64, fib_s: f64) -> Capture {
    let mut b = CaptureBuilder::new();
    let main = frame(&mut b, "main", "/app/app.py", main_line);
    let fib = frame(&mut b, "fib", "/app/app.py", main_line + 4);
    let len = frame(&mut b, "<built-in method builtins.len>", "~", 0);
    let function = |frame, calls: u64, tottime_s, cumtime_s, callers| ExactFunction {
        frame,
        calls,
        primitive_calls: calls.min(1),
        tottime_s,
        cumtime_s,
        callers,
    };
    let caller = |function, calls, tottime_s| ExactCaller {
        function,
        calls,
        primitive_calls: 1,
        tottime_s,
        cumtime_s: tottime_s,
    };
    b.set_exact(ExactStats {
        version: SECTION_VERSION,
        functions: vec![
            function(main, 1, 0.1, 0.2 + fib_s, vec![]),
            function(
                fib,
                fib_calls,
                fib_s,
                fib_s,
                vec![caller(0, fib_calls, fib_s)],
            ),
            function(len, 10, 0.1, 0.1, vec![caller(0, 10, 0.1)]),
        ],
    });
    b.finish(meta("exact"))
}

fn sampled() -> Capture {
    let mut b = CaptureBuilder::new();
    let main = frame(&mut b, "main", "/app/app.py", 1);
    b.add(ThreadSample {
        tid: 7,
        idle: false,
        gil: true,
        frames: &[main],
    });
    b.finish(Meta {
        requested_rate_hz: 1000.0,
        ticks: 1,
        ..meta("record")
    })
}

fn save(dir: &Path, name: &str, capture: &Capture) -> String {
    let path = dir.join(name);
    let mut out = Vec::new();
    capture.write_to(&mut out).unwrap();
    std::fs::write(&path, out).unwrap();
    path.to_str().unwrap().to_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// One `error:` line mentioning `expect`, then one `hint:` line; status 2.
fn assert_user_error(out: &Output, expect: &str, hint: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(
        lines[0].starts_with("error: ") && lines[0].contains(expect),
        "{err}"
    );
    assert!(
        lines[1].starts_with("hint: ") && lines[1].contains(hint),
        "{err}"
    );
}

#[test]
fn exact_captures_are_compared_per_function() {
    let dir = temp_dir("table");
    // The fix: fib called once instead of 21 times; main moved down a line,
    // and fib with it, which does not keep them from matching.
    let before = save(&dir, "before.json", &exact(1, 21, 0.6));
    let after = save(&dir, "after.json", &exact(2, 1, 0.03));

    let out = snakescope(&["diff", &before, &after]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("  total   0.800 s -> 0.230 s: -0.570 s (-71.2%), faster\n"),
        "{text}"
    );
    assert!(
        text.contains("  calls   32 -> 12: -20 (-62.5%)\n"),
        "{text}"
    );
    let fib = text
        .lines()
        .find(|l| l.ends_with("fib  /app/app.py"))
        .unwrap();
    let fib: Vec<&str> = fib.split_whitespace().take(17).collect();
    assert_eq!(
        fib.join(" "),
        "21 -> 1 -20 0.600 s -> 0.030 s -0.570 s -95.0% 0.600 s -> 0.030 s"
    );
    // main's cumtime changed too; len did not change at all.
    assert!(text.contains(" main  /app/app.py\n"), "{text}");
    assert!(!text.contains("builtins.len"), "{text}");

    let out = snakescope(&["diff", &before, &after, "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kind"], "exact");
    assert_eq!(v["functions"][0]["name"], "fib");
    assert_eq!(v["functions"][0]["calls"]["change"], -20);
    assert_eq!(v["functions"].as_array().unwrap().len(), 3);

    // Measured time fell: --fail-if-slower passes; the other way it fails.
    let out = snakescope(&["diff", &before, &after, "--fail-if-slower", "5"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = snakescope(&["diff", &after, &before, "--fail-if-slower", "5"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("slower: total measured time 0.230 s -> 0.800 s (+247.8%)"),
        "{}",
        stderr(&out)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn exact_and_sampled_captures_are_refused() {
    let dir = temp_dir("mixed");
    let exact = save(&dir, "exact.json", &exact(1, 21, 0.6));
    let sampled = save(&dir, "sampled.json", &sampled());
    assert_user_error(
        &snakescope(&["diff", &exact, &sampled]),
        "the before capture holds exact calls (`run --exact`) and the after capture sampled stacks",
        "record both runs the same way",
    );
    assert_user_error(
        &snakescope(&["diff", &sampled, &exact]),
        "the after capture holds exact calls",
        "both with `snakescope run --exact`",
    );
    let svg = dir.join("d.svg");
    assert_user_error(
        &snakescope(&[
            "diff",
            &exact,
            &exact,
            "--flamegraph",
            svg.to_str().unwrap(),
        ]),
        "--flamegraph draws sampled stacks",
        "leave out --flamegraph",
    );
    assert!(!svg.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
