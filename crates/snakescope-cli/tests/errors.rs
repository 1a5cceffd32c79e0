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
        stderr
            .lines()
            .skip(1)
            .all(|l| l.starts_with("hint: ") && !l[6..].trim().is_empty()),
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
    // --duration 1e300 panicked (Duration overflow); --rate 1e-9 slept for a
    // period of 30 years; `--duration -1` was a usage error of clap's.
    for (option, value) in [
        ("--rate", "0"),
        ("--rate", "1e-9"),
        ("--rate", "nan"),
        ("--rate", "inf"),
        ("--duration", "-1"),
        ("--duration", "1e300"),
        ("--duration", "nan"),
    ] {
        let out = snakescope(&["record", option, value, "--", "true"]);
        assert_user_error(&out, &option[2..]);
        assert_user_error(&out, value);
    }
}

#[test]
fn an_empty_output_path_is_one_line() {
    for command in [
        &["record", "-o", "", "--", "true"][..],
        &["report", "x.json", "-o", ""],
    ] {
        assert_user_error(&snakescope(command), "--output");
    }
}

#[test]
fn report_refuses_what_is_not_a_regular_file() {
    // A FIFO made report wait for a writer for ever: checked on the open file.
    let dir = std::env::temp_dir().join(format!("snakescope-fifo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("capture.json");
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo(3) with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let mut child = Command::new(env!("CARGO_BIN_EXE_snakescope"))
        .args(["report", fifo.to_str().unwrap()])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("report waited on a FIFO");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert_user_error(&out, "is a FIFO");
    for path in ["/dev/zero", dir.to_str().unwrap()] {
        assert_user_error(&snakescope(&["report", path]), "not a capture file");
    }
    std::fs::remove_dir_all(&dir).unwrap();
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
