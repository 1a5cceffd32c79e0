//! Fuzzing of the capture reader and every writer with mutated captures: a
//! capture file is input from anyone, so whatever it holds must end in one
//! error (refused by `Capture::read_from`) or in an output, never a panic.
//!
//! Each case starts from a valid capture (with and without memory data, or
//! an exact one), applies a few mutations to its JSON — a key dropped, a
//! value of the wrong type, a huge, negative or fractional number, an index
//! out of range, deep nesting, NaN, a control character — or to its text
//! (truncation, random bytes), and runs what parses through every format,
//! the summary, the memory views and `diff` (and, for exact captures, the
//! exact comparison) against itself and the original. The budget is a
//! fixed number of cases from a fixed seed (the same every run in CI; a few
//! seconds); `PROPTEST_CASES` and `PROPTEST_RNG_SEED` explore further.

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use serde_json::{json, Value};
use snakescope_formats::diff::{self, Scale, Widths};
use snakescope_formats::dis;
use snakescope_formats::memory::{memory_view, MemoryMetric};
use snakescope_formats::Format;
use snakescope_model::Capture;

/// A valid capture: two threads, shared frames, line 0, idle and GIL samples.
fn seed() -> Value {
    json!({
        "format": "snakescope-capture", "version": 1,
        "meta": {"tool_version": "0.1.0", "mode": "run", "command": ["python3", "app.py"],
                 "pid": 7, "python_version": "3.12.1", "requested_rate_hz": 100.0,
                 "started_unix_s": 1.0, "duration_s": 2.0, "ticks": 200, "lost_ticks": 3,
                 "torn_stacks": 1, "include_idle": true, "gil_only": false, "exit_code": 0,
                 "user_s": 1.5, "sys_s": 0.1, "peak_rss_bytes": 1000000},
        "threads": [{"tid": 7, "name": "MainThread", "samples": 150, "idle_samples": 10, "gil_samples": 140},
                    {"tid": 8, "name": null, "samples": 40, "idle_samples": 40, "gil_samples": 0}],
        "frames": [{"function": "<module>", "qualname": null, "file": "app.py", "line": 30},
                   {"function": "work", "qualname": "Worker.work", "file": "app.py", "line": 12},
                   {"function": "helper", "file": "/nonexistent/util.py", "line": 0},
                   {"function": "run", "file": "<frozen threading>", "line": 5}],
        "stacks": [{"thread": 0, "frames": [0, 1], "idle": false, "gil": true, "count": 120},
                   {"thread": 0, "frames": [0, 1, 2], "idle": false, "gil": true, "count": 30},
                   {"thread": 1, "frames": [3], "idle": true, "gil": false, "count": 40},
                   {"thread": 1, "frames": [], "idle": true, "gil": false, "count": 1}]
    })
}

fn seed_with_memory() -> Value {
    let mut capture = seed();
    capture["memory"] = json!({
        "mode": "sampled", "sample_interval_bytes": 524288,
        "sites": [{"frames": [0, 1], "source": "python", "allocations": 4, "allocated_bytes": 4000000,
                   "frees": 2, "freed_bytes": 2000000, "peak_bytes": 3000000, "end_bytes": 2000000},
                  {"frames": [], "source": "native", "allocations": 1, "allocated_bytes": 100,
                   "frees": 0, "freed_bytes": 0, "peak_bytes": 100, "end_bytes": 100}],
        "peak_bytes": 3000100, "peak_at_s": 1.2, "end_bytes": 2000100,
        "timeline": [{"t": 0.0, "heap": 0, "rss": 10}, {"t": 1.2, "heap": 3000100, "rss": 5000000},
                     {"t": 2.0, "heap": 2000100, "rss": 4000000}],
        "labels": [{"name": "load", "start_s": 0.1, "end_s": 1.0}],
        "census": [{"when": "peak", "t": 1.2, "heap_bytes": 3000100,
                    "types": [{"type_name": "list", "count": 3, "bytes": 400}]}]
    });
    capture
}

/// A valid capture with an `opcodes` section (`--opcodes`): a 3.11-like
/// opcode table (one specialised opcode with a cache entry, an
/// `EXTENDED_ARG`) and the bytecode of `Worker.work` with samples.
fn seed_with_opcodes() -> Value {
    let mut capture = seed();
    let mut names: Vec<String> = (0..256).map(|op| format!("<{op}>")).collect();
    let mut caches = vec![0u32; 256];
    let mut generic: Vec<u32> = (0..256).collect();
    names[124] = "LOAD_FAST".into();
    names[122] = "BINARY_OP".into();
    names[3] = "BINARY_OP_ADD_FLOAT".into();
    names[144] = "EXTENDED_ARG".into();
    caches[122] = 1;
    caches[3] = 1;
    generic[3] = 122;
    capture["opcodes"] = json!({
        "version": 1,
        "table": {"python_version": "3.12.1", "names": names, "caches": caches,
                  "generic": generic, "have_argument": 90, "extended_arg": 144},
        "codes": [{"function": "work", "qualname": "Worker.work", "file": "app.py", "first_line": 10,
                   "bytecode": "7c007c01030000009001", "line_starts": [[0, 10], [4, 12]],
                   "self_samples": 150, "total_samples": 150,
                   "instructions": [{"offset": 4, "line": 12, "self": 140, "total": 140},
                                    {"offset": 2, "line": 10, "self": 10, "total": 10}]}]
    });
    capture
}

/// A valid exact capture (`run --exact`): no samples, cProfile's figures
/// with callers (a recursive one among them) and a built-in.
fn seed_exact() -> Value {
    let mut capture = seed();
    capture["meta"]["mode"] = json!("exact");
    capture["meta"]["requested_rate_hz"] = json!(0.0);
    capture["meta"]["ticks"] = json!(0);
    capture["threads"] = json!([]);
    capture["stacks"] = json!([]);
    capture["frames"] = json!([
        {"function": "main", "qualname": null, "file": "app.py", "line": 1},
        {"function": "fib", "qualname": "Worker.fib", "file": "app.py", "line": 5},
        {"function": "<built-in method builtins.len>", "file": "~", "line": 0}]);
    capture["exact"] = json!({
        "version": 1,
        "functions": [
            {"frame": 0, "calls": 1, "primitive_calls": 1, "tottime_s": 0.1, "cumtime_s": 1.0,
             "callers": []},
            {"frame": 1, "calls": 21, "primitive_calls": 1, "tottime_s": 0.6, "cumtime_s": 0.6,
             "callers": [{"function": 0, "calls": 1, "primitive_calls": 1, "tottime_s": 0.03, "cumtime_s": 0.6},
                         {"function": 1, "calls": 20, "primitive_calls": 0, "tottime_s": 0.57, "cumtime_s": 0.55}]},
            {"frame": 2, "calls": 100, "primitive_calls": 100, "tottime_s": 0.3, "cumtime_s": 0.3,
             "callers": [{"function": 0, "calls": 100, "primitive_calls": 100, "tottime_s": 0.3, "cumtime_s": 0.3}]}]
    });
    capture
}

/// One change to a capture's JSON; `at` picks the value (every value of the
/// document is numbered in a fixed order) and `n` parameterises the change.
#[derive(Debug, Clone)]
enum Mutation {
    DropKey {
        at: usize,
    },
    /// A number replaced by another (most often still of the right type).
    Renumber {
        at: usize,
        with: Bad,
    },
    Replace {
        at: usize,
        with: Bad,
    },
    Truncate {
        n: usize,
    },
    Garble {
        n: usize,
        byte: u8,
    },
}

/// Values that do not belong where they land.
#[derive(Debug, Clone)]
enum Bad {
    Null,
    Bool,
    Int(i64),
    Huge,
    Float(f64),
    Text(String),
    EmptyArray,
    EmptyObject,
    Deep(usize),
}

fn bad() -> impl Strategy<Value = Bad> {
    prop_oneof![
        Just(Bad::Null),
        Just(Bad::Bool),
        prop_oneof![
            Just(-1i64),
            Just(0),
            Just(1),
            Just(5),
            Just(1 << 40),
            Just(i64::MAX),
            Just(i64::MIN)
        ]
        .prop_map(Bad::Int),
        Just(Bad::Huge),
        prop_oneof![
            Just(-1.5f64),
            Just(1e308),
            Just(-1e308),
            Just(0.5),
            Just(5e-324)
        ]
        .prop_map(Bad::Float),
        prop_oneof![
            Just(String::new()),
            Just("\u{1b}[2J\u{1b}]0;x\u{7}".to_owned()),
            Just("a;b c\nd\re\0".to_owned()),
            Just("/dev/zero".to_owned()),
            "\\PC{0,12}",
        ]
        .prop_map(Bad::Text),
        Just(Bad::EmptyArray),
        Just(Bad::EmptyObject),
        (1usize..200).prop_map(Bad::Deep),
    ]
}

fn bad_number() -> impl Strategy<Value = Bad> {
    prop_oneof![
        prop_oneof![
            Just(0i64),
            Just(1),
            Just(2),
            Just(4),
            Just(9),
            Just(1 << 53),
            Just(i64::MAX),
            Just(-1)
        ]
        .prop_map(Bad::Int),
        Just(Bad::Huge),
        prop_oneof![Just(1e308f64), Just(5e-324), Just(0.25)].prop_map(Bad::Float),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => any::<usize>().prop_map(|at| Mutation::DropKey { at }),
        6 => (any::<usize>(), bad_number()).prop_map(|(at, with)| Mutation::Renumber { at, with }),
        6 => (any::<usize>(), bad()).prop_map(|(at, with)| Mutation::Replace { at, with }),
        1 => any::<usize>().prop_map(|n| Mutation::Truncate { n }),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(n, byte)| Mutation::Garble { n, byte }),
    ]
}

impl Bad {
    /// The JSON text of the value (NaN and numbers beyond i64 are written as text).
    fn text(&self) -> String {
        match self {
            Bad::Null => "null".into(),
            Bad::Bool => "true".into(),
            Bad::Int(i) => i.to_string(),
            Bad::Huge => "18446744073709551616".into(),
            Bad::Float(f) => format!("{f:e}"),
            Bad::Text(s) => serde_json::to_string(s).unwrap(),
            Bad::EmptyArray => "[]".into(),
            Bad::EmptyObject => "{}".into(),
            Bad::Deep(depth) => format!("{}{}", "[".repeat(*depth), "]".repeat(*depth)),
        }
    }
}

/// Paths of every value in `v`, in document order.
fn paths(v: &Value, here: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(here.clone());
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                here.push(Step::Key(k.clone()));
                paths(child, here, out);
                here.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                here.push(Step::Index(i));
                paths(child, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

fn value_at<'a>(v: &'a Value, path: &[Step]) -> &'a Value {
    path.iter().fold(v, |v, step| match step {
        Step::Key(k) => &v[k.as_str()],
        Step::Index(i) => &v[*i],
    })
}

fn at_mut<'a>(v: &'a mut Value, path: &[Step]) -> &'a mut Value {
    path.iter().fold(v, |v, step| match step {
        Step::Key(k) => &mut v[k.as_str()],
        Step::Index(i) => &mut v[*i],
    })
}

/// A placeholder for a value whose text is spliced in after serialising.
const HOLE: &str = "\u{1}snakescope-fuzz-hole\u{1}";

/// Applies the mutations; returns the document's bytes.
fn mutate(mut doc: Value, mutations: &[Mutation]) -> Vec<u8> {
    let mut splices = Vec::new();
    let mut text_edits = Vec::new();
    for m in mutations {
        let mut all = Vec::new();
        paths(&doc, &mut Vec::new(), &mut all);
        match m {
            Mutation::DropKey { at } => {
                let path = &all[at % all.len()];
                if let Some((Step::Key(k), parent)) = path.split_last() {
                    if let Value::Object(map) = at_mut(&mut doc, parent) {
                        map.remove(k);
                    }
                }
            }
            Mutation::Replace { at, with } => {
                let path = all[at % all.len()].clone();
                *at_mut(&mut doc, &path) = Value::String(HOLE.to_owned());
                splices.push(with.text());
            }
            Mutation::Renumber { at, with } => {
                let numbers: Vec<&Vec<Step>> = all
                    .iter()
                    .filter(|p| value_at(&doc, p).is_number())
                    .collect();
                if let Some(path) = numbers.get(at % numbers.len().max(1)).map(|p| (*p).clone()) {
                    *at_mut(&mut doc, &path) = Value::String(HOLE.to_owned());
                    splices.push(with.text());
                }
            }
            edit => text_edits.push(edit.clone()),
        }
    }
    let mut text = serde_json::to_string(&doc).unwrap();
    let hole = serde_json::to_string(HOLE).unwrap();
    for splice in splices {
        text = text.replacen(&hole, &splice, 1);
    }
    let mut bytes = text.into_bytes();
    for edit in text_edits {
        match edit {
            Mutation::Truncate { n } => bytes.truncate(n % (bytes.len() + 1)),
            Mutation::Garble { n, byte } if !bytes.is_empty() => {
                let i = n % bytes.len();
                bytes[i] = byte;
            }
            _ => {}
        }
    }
    bytes
}

/// Everything a capture can be rendered into; errors are fine, panics are not.
fn render_everything(capture: &Capture, other: &Capture) {
    let mut sink = Vec::new();
    if let Some(opcodes) = &capture.opcodes {
        for code in &opcodes.codes {
            let view = dis::function_view(code, opcodes.table.as_ref());
            let mut sources = dis::SourceLines::default();
            let _ = dis::write_function(&mut sink, &view, &code.file, &mut sources, "");
        }
    }
    for format in Format::ALL {
        sink.clear();
        let _ = snakescope_formats::write(capture, format, &mut sink);
    }
    let _ = snakescope_formats::write_summary(capture, &mut sink, true);
    for metric in [
        MemoryMetric::Allocated,
        MemoryMetric::Peak,
        MemoryMetric::Leaked,
    ] {
        if let Some(view) = memory_view(capture, metric) {
            for format in [
                Format::Flamegraph,
                Format::Text,
                Format::Pprof,
                Format::Collapsed,
            ] {
                let _ = snakescope_formats::write(&view, format, &mut sink);
            }
        }
    }
    for (before, after) in [(capture, capture), (other, capture), (capture, other)] {
        if let Ok(diff::Comparison::Exact(d)) = diff::compare(before, after) {
            let _ = d.write_text(&mut sink, 10);
            let _ = d.write_json(&mut sink);
            let _ = d.total_change_pct();
        }
        if let Ok(d) = diff::diff(before, after) {
            let _ = d.write_text(&mut sink, 10);
            let _ = d.write_json(&mut sink);
            let _ = d.total_change_pct();
        }
        for scale in [Scale::Time, Scale::Share] {
            for widths in [Widths::Before, Widths::After] {
                let _ =
                    diff::write_differential_flamegraph(before, after, scale, widths, &mut sink);
            }
        }
    }
}

fn check(doc: Value, mutations: &[Mutation]) {
    let original = Capture::read_from(doc.to_string().as_bytes()).expect("the seed is valid");
    let bytes = mutate(doc, mutations);
    if let Ok(capture) = Capture::read_from(bytes.as_slice()) {
        render_everything(&capture, &original);
    }
}

/// 400 cases from a fixed seed, unless `PROPTEST_CASES` / `PROPTEST_RNG_SEED` say otherwise.
fn config() -> Config {
    let from_env = Config::default();
    let set = |name| std::env::var_os(name).is_some();
    Config {
        cases: if set("PROPTEST_CASES") {
            from_env.cases
        } else {
            400
        },
        rng_seed: if set("PROPTEST_RNG_SEED") {
            from_env.rng_seed
        } else {
            RngSeed::Fixed(0x5eed_caf7)
        },
        failure_persistence: None,
        ..from_env
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn mutated_captures_never_panic(mutations in prop::collection::vec(mutation(), 1..4)) {
        check(seed(), &mutations);
    }

    #[test]
    fn mutated_memory_captures_never_panic(mutations in prop::collection::vec(mutation(), 1..4)) {
        check(seed_with_memory(), &mutations);
    }

    #[test]
    fn mutated_opcode_captures_never_panic(mutations in prop::collection::vec(mutation(), 1..4)) {
        check(seed_with_opcodes(), &mutations);
    }

    #[test]
    fn mutated_exact_captures_never_panic(mutations in prop::collection::vec(mutation(), 1..4)) {
        check(seed_exact(), &mutations);
    }
}

#[test]
fn the_seeds_render() {
    for seed in [
        seed(),
        seed_with_memory(),
        seed_with_opcodes(),
        seed_exact(),
    ] {
        let capture = Capture::read_from(seed.to_string().as_bytes()).unwrap();
        render_everything(&capture, &capture);
    }
}

#[test]
fn source_files_named_by_a_capture_are_read_only_when_regular() {
    // The text report quotes source lines of memory sites; a capture naming
    // /dev/zero made it read for ever. Rendered on a thread, so that a hang
    // fails the test instead of stalling the suite.
    let mut doc = seed_with_memory();
    doc["frames"][1]["file"] = json!("/dev/zero");
    doc["frames"][0]["file"] = json!("/dev/zero");
    let capture = Capture::read_from(doc.to_string().as_bytes()).unwrap();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = snakescope_formats::write(&capture, Format::Text, &mut out);
        let _ = done.send(out);
    });
    let out = finished
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("the text report did not finish: it read /dev/zero");
    assert!(String::from_utf8_lossy(&out).contains("/dev/zero:12"));
}
