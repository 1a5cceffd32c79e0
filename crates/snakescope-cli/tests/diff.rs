//! `snakescope diff` end to end on synthetic captures: exit statuses of
//! `--fail-if-slower`, the outputs, and the error contract for bad inputs
//! (one `error:` line, an optional `hint:` line, status 2, never a panic).

use snakescope_model::{Capture, CaptureBuilder, Frame, Meta, ThreadSample};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn snakescope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_snakescope"))
        .args(args)
        .output()
        .expect("run snakescope")
}

/// A fresh directory for one test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("snakescope-diff-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A capture at 1 kHz of `app.py`: `slow` for `slow` samples, `fast` for `fast`.
fn capture(slow: u64, fast: u64) -> Capture {
    let mut b = CaptureBuilder::new();
    b.name_thread(7, Some("MainThread".into()));
    let frame = |b: &mut CaptureBuilder, name: &str, line| {
        b.intern_frame(Frame {
            function: name.into(),
            qualname: None,
            file: "/app/app.py".into(),
            line,
        })
    };
    let module = frame(&mut b, "<module>", 30);
    let slow_frame = frame(&mut b, "slow", 10);
    let fast_frame = frame(&mut b, "fast", 20);
    for (f, n) in [(slow_frame, slow), (fast_frame, fast)] {
        for _ in 0..n {
            b.add(ThreadSample {
                tid: 7,
                idle: false,
                gil: true,
                frames: &[module, f],
            });
        }
    }
    b.finish(Meta {
        tool_version: "0.1.0".into(),
        mode: "record".into(),
        command: vec!["python3".into(), "app.py".into()],
        requested_rate_hz: 1000.0,
        duration_s: (slow + fast) as f64 / 1000.0,
        ticks: slow + fast,
        ..Meta::default()
    })
}

fn save(dir: &Path, name: &str, capture: &Capture) -> String {
    let path = dir.join(name);
    let mut out = Vec::new();
    capture.write_to(&mut out).unwrap();
    std::fs::write(&path, out).unwrap();
    path.to_str().unwrap().to_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_user_error(out: &Output, expect: &str) {
    let stderr = stderr(out);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    let first = stderr.lines().next().unwrap_or_default();
    assert!(first.starts_with("error: "), "first line: {first}");
    assert!(
        first.contains(expect),
        "`{first}` should mention `{expect}`"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let rest: Vec<&str> = stderr.lines().skip(1).collect();
    assert!(
        rest.len() <= 1 && rest.iter().all(|l| l.starts_with("hint: ")),
        "extra lines: {stderr}"
    );
}

#[test]
fn fail_if_slower_sets_the_exit_status() {
    let dir = temp_dir("slower");
    // 1.0 s -> 1.2 s: 20% slower.
    let before = save(&dir, "before.json", &capture(600, 400));
    let after = save(&dir, "after.json", &capture(800, 400));

    let out = snakescope(&["diff", &before, &after, "--fail-if-slower", "10"]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "one clear line: {err}");
    assert!(
        err.contains("slower") && err.contains("+20.0%") && err.contains("10%"),
        "{err}"
    );
    // The comparison is still printed.
    assert!(String::from_utf8_lossy(&out.stdout).contains("slow  /app/app.py"));

    for pct in ["20", "25"] {
        let out = snakescope(&["diff", &before, &after, "--fail-if-slower", pct]);
        assert_eq!(out.status.code(), Some(0), "{pct}%: {}", stderr(&out));
        assert!(out.stderr.is_empty(), "{}", stderr(&out));
    }
    // Faster, or unchanged, passes even at 0%.
    let out = snakescope(&["diff", &after, &before, "--fail-if-slower", "0"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = snakescope(&["diff", &before, &before, "--fail-if-slower", "0"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Without the option a slower run is not a failure.
    let out = snakescope(&["diff", &before, &after]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn text_and_json_report_the_known_change() {
    let dir = temp_dir("outputs");
    let before = save(&dir, "before.json", &capture(600, 400));
    let after = save(&dir, "after.json", &capture(100, 400));

    let out = snakescope(&["diff", &before, &after]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    // Attached captures (no exit status): their clocks are the recording
    // window's, not compared; the sampled time decides.
    assert!(
        text.contains("  sampled    1.000 s -> 0.500 s     -0.500 s  (-50.0%)  faster\n"),
        "{text}"
    );
    assert!(text.contains("  wall       1.000 s -> 0.500 s     -0.500 s  (-50.0%)  not compared\n"));
    assert!(text.contains("  verdict  faster: sampled fell\n"), "{text}");
    let first_row: Vec<&str> = text
        .split_once("Functions by change in self time\n")
        .unwrap()
        .1
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(
        first_row,
        [
            "0.600",
            "s",
            "0.100",
            "s",
            "-0.500",
            "s",
            "-83.3%",
            "60.0%",
            "->",
            "20.0%",
            "-40.0pp",
            "slow",
            "/app/app.py"
        ]
    );

    let json_path = dir.join("diff.json");
    let out = snakescope(&[
        "diff",
        &before,
        &after,
        "--format",
        "json",
        "-o",
        json_path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    assert_eq!(v["format"], "snakescope-diff");
    let slow = &v["functions"][0];
    assert_eq!(slow["name"], "slow");
    assert_eq!(slow["self"]["before_samples"], 600);
    assert_eq!(slow["self"]["after_samples"], 100);
    let fast = v["functions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "fast")
        .unwrap();
    assert_eq!(fast["self"]["change_s"], 0.0);
    assert_eq!(fast["self"]["change_pct"], 0.0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn flamegraph_option_writes_an_svg() {
    let dir = temp_dir("svg");
    let before = save(&dir, "before.json", &capture(600, 400));
    let after = save(&dir, "after.json", &capture(100, 400));
    let svg = dir.join("diff.svg");
    for widths in ["after", "before"] {
        let out = snakescope(&[
            "diff",
            &before,
            &after,
            "--flamegraph",
            svg.to_str().unwrap(),
            "--flamegraph-widths",
            widths,
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let text = std::fs::read_to_string(&svg).unwrap();
        assert!(text.trim_end().ends_with("</svg>"));
        assert!(text.contains("slow (/app/app.py)"));
        assert!(text.contains(&format!("widths: {widths}")));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_inputs_follow_the_error_contract() {
    let dir = temp_dir("errors");
    let good = save(&dir, "good.json", &capture(10, 10));
    let empty = save(&dir, "empty.json", &capture(0, 0));
    let garbage = dir.join("garbage.json");
    std::fs::write(&garbage, b"\x00 not json").unwrap();
    let garbage = garbage.to_str().unwrap();

    assert_user_error(
        &snakescope(&["diff", "/nonexistent/before.json", &good]),
        "cannot open",
    );
    assert_user_error(
        &snakescope(&["diff", &good, garbage]),
        "not a readable capture",
    );
    assert_user_error(&snakescope(&["diff", &empty, &good]), "no samples");
    assert_user_error(
        &snakescope(&["diff", &good, &good, "--fail-if-slower=-5"]),
        "--fail-if-slower",
    );
    assert_user_error(
        &snakescope(&["diff", &good, &good, "--fail-if-slower", "NaN"]),
        "--fail-if-slower",
    );
    assert_user_error(
        &snakescope(&["diff", &good, &good, "--flamegraph", "/nonexistent/d.svg"]),
        "cannot write",
    );
    // Usage errors are clap's: status 2, an `error:` line first.
    let out = snakescope(&["diff", &good]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).starts_with("error:"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn nothing_measured_alike_is_not_judged() {
    let dir = temp_dir("incomparable");
    // Two `record --pid` windows (their clocks are the windows'), one with
    // --idle (its samples count waiting): no measure compares.
    let before = save(&dir, "before.json", &capture(600, 400));
    let mut idle = capture(600, 400);
    idle.meta.include_idle = true;
    let after = save(&dir, "after.json", &idle);
    let out = snakescope(&["diff", &before, &after]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(
            "  verdict  not comparable: no measure was taken the same way on both sides\n"
        ),
        "{text}"
    );
    assert!(text.contains("only the after capture includes idle threads (--idle)"));
    assert_user_error(
        &snakescope(&["diff", &before, &after, "--fail-if-slower", "5%"]),
        "nothing to check",
    );
    // `5%` is a percentage as `5` is.
    let out = snakescope(&["diff", &before, &before, "--fail-if-slower", "5%"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    std::fs::remove_dir_all(&dir).unwrap();
}
