use super::*;
use crate::fixture::{capture, empty_capture, exact_capture};

fn report(capture: &Capture, color: bool) -> String {
    let mut out = Vec::new();
    write_report(capture, &mut out, color).unwrap();
    String::from_utf8(out).unwrap()
}

fn summary(capture: &Capture, color: bool) -> String {
    let mut out = Vec::new();
    write_summary(capture, &mut out, color).unwrap();
    String::from_utf8(out).unwrap()
}

/// The line of `text` that follows the line starting with `heading` and
/// contains `needle`.
fn row<'a>(text: &'a str, heading: &str, needle: &str) -> &'a str {
    let section = text
        .split_once(&format!("\n{heading}\n"))
        .map(|(_, s)| s)
        .unwrap_or_else(|| panic!("no {heading}"));
    let section = section.split("\n\n").next().unwrap();
    section
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no {needle} under {heading}"))
}

fn columns(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

#[test]
fn header_states_what_was_recorded() {
    let text = report(&capture(), false);
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("snakescope: python3 app.py --size 'big one'")
    );
    assert_eq!(
        lines.next(),
        Some("  python 3.11.7, 1.00 s, 100 ticks (4 lost, 2 torn stacks)")
    );
    assert_eq!(
        lines.next(),
        Some("  100 thread-samples recorded, effective rate 96.0 Hz (requested 100 Hz), idle included")
    );
}

#[test]
fn self_and_total_shares_are_of_all_thread_samples() {
    let text = report(&capture(), false);
    let self_rows =
        ["Worker.work", "helper"].map(|f| columns(row(&text, "Top functions by self time", f)));
    assert_eq!(
        self_rows[0],
        ["80.0%", "90.0%", "Worker.work", "/src/app.py"]
    );
    assert_eq!(self_rows[1], ["20.0%", "20.0%", "helper", "/src/util.py"]);
    assert_eq!(
        columns(row(&text, "Top functions by total time", "main")),
        ["90.0%", "0.0%", "main", "/src/app.py"]
    );
    assert_eq!(
        columns(row(&text, "Top functions by total time", "run")),
        ["10.0%", "0.0%", "run", "/usr/lib/python3.11/threading.py"]
    );
}

#[test]
fn lines_are_ranked_by_share() {
    let text = report(&capture(), false);
    let section = text.split_once("\nTop lines\n").unwrap().1;
    let rows: Vec<Vec<&str>> = section.lines().skip(1).take(3).map(columns).collect();
    assert_eq!(rows[0], ["60.0%", "/src/app.py:20", "Worker.work"]);
    assert_eq!(rows[1], ["20.0%", "/src/app.py:21", "Worker.work"]);
    assert_eq!(rows[2], ["20.0%", "/src/util.py:5", "helper"]);
}

#[test]
fn threads_show_idle_and_gil_shares_of_their_own_samples() {
    let text = report(&capture(), false);
    assert_eq!(
        columns(row(&text, "Threads", "MainThread")),
        ["100", "MainThread", "90", "0.0%", "88.9%"]
    );
    assert_eq!(
        columns(row(&text, "Threads", "101")),
        ["101", "-", "10", "100.0%", "0.0%"]
    );
}

#[test]
fn a_free_threaded_capture_says_gil_n_a() {
    let mut c = capture();
    c.meta.free_threaded = true;
    let text = summary(&c, false);
    assert!(
        text.contains("python 3.11.7 (free-threaded, GIL: n/a), "),
        "{text}"
    );
    assert_eq!(
        columns(row(&text, "Threads", "MainThread")),
        ["100", "MainThread", "90", "0.0%", "n/a"]
    );
}

#[test]
fn report_stays_short() {
    assert!(report(&capture(), false).lines().count() <= 48);
}

#[test]
fn summary_is_the_header_top_functions_lines_and_threads() {
    let text = summary(&capture(), false);
    assert!(text.starts_with("snakescope: python3 app.py"));
    assert_eq!(
        columns(row(&text, "Top functions by self time", "Worker.work"))[..2],
        ["80.0%", "90.0%"]
    );
    assert!(text.contains("\nThreads\n"));
    let lines = text.split_once("\nTop lines\n").unwrap().1;
    assert_eq!(
        columns(lines.lines().nth(1).unwrap()),
        ["60.0%", "/src/app.py:20", "Worker.work"]
    );
    assert!(text.lines().count() <= 32);
}

#[test]
fn color_only_bolds_headings() {
    let plain = summary(&capture(), false);
    let colored = summary(&capture(), true);
    assert!(!plain.contains('\x1b'));
    assert!(colored.contains("\x1b[1mTop functions by self time\x1b[0m\n"));
    assert_eq!(colored.replace("\x1b[1m", "").replace("\x1b[0m", ""), plain);
}

#[test]
fn empty_capture_says_so() {
    for text in [
        report(&empty_capture(), false),
        summary(&empty_capture(), false),
    ] {
        assert!(text.ends_with("  no samples recorded\n"), "{text}");
    }
    // A program too quick for a sample, advised: its findings still show.
    let mut advised = empty_capture();
    advised.findings = Some(
        serde_json::from_value(serde_json::json!({
            "threshold": 0.05, "rules": ["membership-list"], "samples": 0, "items": [],
        }))
        .unwrap(),
    );
    let text = report(&advised, false);
    assert!(text.contains("  no samples recorded\n"), "{text}");
    assert!(
        text.contains("\nFindings\n  no finding above 5 %"),
        "{text}"
    );
}

#[test]
fn an_exact_capture_shows_pstats_and_kernprof_tables_not_samples() {
    let text = report(&exact_capture(), false);
    let mut lines = text.lines().skip(1);
    assert_eq!(lines.next(), Some("  python 3.11.7, 1.00 s"));
    assert_eq!(
        lines.next(),
        Some("  no stacks sampled: every call counted and timed (exact), and line timings")
    );
    assert!(!text.contains("no samples recorded"), "{text}");
    assert!(!text.contains("thread-samples") && !text.contains("Top functions"));
    assert!(text.contains(
        "\nExact calls\n         122 function calls (102 primitive calls) in 1.000 seconds\n"
    ));
    let fib = text.lines().find(|l| l.ends_with("(fib)")).unwrap();
    assert_eq!(
        columns(fib),
        [
            "21/1",
            "0.600",
            "0.029",
            "0.600",
            "0.600",
            "/src/app.py:5(fib)"
        ]
    );
    assert!(text.contains("{built-in method builtins.len}"));
    let line3 = text.lines().find(|l| l.starts_with("     3 ")).unwrap();
    assert_eq!(
        columns(line3)[..5],
        ["3", "100", "900000.0", "9000.0", "90.0"]
    );
    assert!(text.contains("\nLine timings\nTimer unit: 1e-06 s\n"));
    assert!(text.contains("Function: main at line 1\n"));
}

#[test]
fn the_summary_of_an_exact_capture_is_short() {
    let mut c = exact_capture();
    let exact = c.exact.as_mut().unwrap();
    for i in 0..20 {
        let mut f = exact.functions[2].clone();
        f.cumtime_s = 0.001 * f64::from(i);
        f.tottime_s = 0.0;
        f.calls = 1;
        f.primitive_calls = 1;
        exact.functions.push(f);
    }
    let text = summary(&c, false);
    assert!(text.contains("   List reduced from 23 to 10 due to restriction <10>"));
    assert!(text.contains("     21/1    0.600    0.029    0.600    0.600 /src/app.py:5(fib)\n"));
    assert!(text.contains("\nLine timings\n"));
    assert!(!text.contains("no samples recorded"));
    let full = report(&c, false);
    assert!(!full.contains("List reduced"));
    assert_eq!(
        full.lines()
            .filter(|l| l.ends_with("builtins.len}"))
            .count(),
        21
    );
}

#[test]
fn a_sampling_capture_with_line_timings_adds_them_after_the_threads() {
    let mut c = capture();
    c.lines = exact_capture().lines;
    let text = report(&c, false);
    let plain = report(&capture(), false);
    assert!(text.starts_with(&plain), "the sampling report is unchanged");
    assert_eq!(
        &text[plain.len()..plain.len() + 34],
        "\nLine timings\nTimer unit: 1e-06 s\n"
    );
    assert!(!text.contains("Exact calls"));
    assert!(summary(&c, false).contains("\nLine timings\n"));
}

#[test]
fn commands_are_shell_quoted_and_attach_shows_the_pid() {
    let mut meta = Meta {
        command: vec!["python3".into(), "it's.py".into(), "".into()],
        ..Meta::default()
    };
    assert_eq!(command_line(&meta), r"python3 'it'\''s.py' ''");
    meta.command.clear();
    meta.pid = Some(7);
    assert_eq!(command_line(&meta), "pid 7");
}
