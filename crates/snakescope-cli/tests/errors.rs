//! The binary's error contract: one `error:` line (and a `hint:` line when the
//! user can act), exit status 2, never a panic. End-to-end profiling tests
//! against real interpreters live in `tests/python/`.

use std::process::{Command, Output};

fn snakescope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_snakescope"))
        .args(args)
        .output()
        .expect("run snakescope")
}

fn assert_user_error(out: &Output, expect: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    let first = stderr.lines().next().unwrap_or_default();
    assert!(first.starts_with("error: "), "first line: {first}");
    assert!(
        first.contains(expect),
        "`{first}` should mention `{expect}`"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.lines().skip(1).all(|l| l.starts_with("hint: ")),
        "extra lines: {stderr}"
    );
}

#[test]
fn report_refuses_a_file_that_is_not_json() {
    let dir = std::env::temp_dir().join(format!("snakescope-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("garbage.json");
    std::fs::write(&bad, b"\x00\x01 not json").unwrap();
    assert_user_error(
        &snakescope(&["report", bad.to_str().unwrap()]),
        "not a readable capture",
    );
    std::fs::write(&bad, br#"{"format": "pprof"}"#).unwrap();
    assert_user_error(
        &snakescope(&["report", bad.to_str().unwrap()]),
        "not a snakescope capture",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn report_of_a_missing_file() {
    assert_user_error(
        &snakescope(&["report", "/nonexistent/capture.json"]),
        "cannot open",
    );
}

#[test]
fn record_needs_a_target() {
    let out = snakescope(&["record", "-o", "x.json"]);
    assert_user_error(&out, "nothing to record");
    assert!(String::from_utf8_lossy(&out.stderr).contains("hint: "));
}

#[test]
fn record_refuses_a_bad_rate_and_duration() {
    assert_user_error(
        &snakescope(&["record", "--rate", "0", "--", "true"]),
        "rate",
    );
    assert_user_error(
        &snakescope(&["record", "--duration=-1", "--", "true"]),
        "duration",
    );
}

#[test]
fn record_of_a_missing_command_hints_at_the_interpreter() {
    let out = snakescope(&["record", "--", "no_such_script.py"]);
    assert_user_error(&out, "command not found");
    assert!(String::from_utf8_lossy(&out.stderr).contains("python3 no_such_script.py"));
}

#[test]
fn a_pid_that_does_not_exist() {
    // Pids above the kernel's pid_max cannot exist.
    let max: u32 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let pid = (max + 1).to_string();
    assert_user_error(&snakescope(&["dump", "--pid", &pid]), "no process");
    assert_user_error(&snakescope(&["record", "--pid", &pid]), "no process");
}

#[test]
fn a_process_that_is_not_python() {
    let mut child = Command::new("sleep").arg("30").spawn().unwrap();
    let out = snakescope(&["dump", "--pid", &child.id().to_string()]);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_user_error(&out, "is not a Python interpreter");
}

#[test]
fn run_checks_the_interpreter_before_running_anything() {
    let out = snakescope(&["run", "--python", "/nonexistent/python3", "-c", "pass"]);
    assert_user_error(&out, "cannot run the interpreter `/nonexistent/python3`");
    // Something that runs but is not Python: asked for its version, it fails.
    let out = snakescope(&["run", "--python", "/bin/sh", "-c", "echo ran"]);
    assert_user_error(&out, "did not run as a Python interpreter");
    assert!(out.stdout.is_empty(), "the program ran anyway");
}
