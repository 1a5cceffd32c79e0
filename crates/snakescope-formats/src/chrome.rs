//! Chrome's trace event format (JSON object form), for Perfetto
//! (<https://ui.perfetto.dev>) and `chrome://tracing`.
//!
//! A capture is aggregated: it knows how often each stack was seen, not when.
//! So this is a flame chart drawn as a trace, not a timeline: per thread, the
//! call tree (frames merged by function and file) is laid out
//! from time 0 as complete (`"ph": "X"`) events, children one after another
//! inside their parent, heaviest first, each as wide as its samples times the
//! sampling period. A function's self time is the gap after its children.
//! An event's name is the function's name alone and complete events carry
//! no `args`, so every importer shows plain names.
//! Thread names and the process name are metadata (`"ph": "M"`) events.
//! `docs/formats.md` says the same for users.

use crate::text::command_line;
use serde::Serialize;
use snakescope_model::{Capture, ThreadRecord};
use std::collections::HashMap;
use std::io::{self, Write};

/// Microseconds per sample when the capture has no sampling period.
const FALLBACK_PERIOD_US: f64 = 1000.0;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Trace {
    trace_events: Vec<Event>,
    display_time_unit: &'static str,
    other_data: OtherData,
}

#[derive(Serialize)]
struct OtherData {
    source: &'static str,
    command: String,
    layout: &'static str,
    sample_period_us: f64,
}

#[derive(Serialize)]
struct Event {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    cat: Option<&'static str>,
    ph: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    ts: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dur: Option<f64>,
    pid: u64,
    tid: u64,
    /// Metadata events' values only: importers that key frames by name and
    /// args (speedscope's names a frame `name {args JSON}`) then show
    /// complete events by their plain names.
    #[serde(skip_serializing_if = "Option::is_none")]
    args: Option<serde_json::Value>,
}

/// One node of a thread's call tree.
struct Node {
    name: String,
    file: String,
    total: u64,
    children: Vec<usize>,
}

/// Writes the trace.
pub(crate) fn write(capture: &Capture, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer(&mut *out, &trace(capture))?;
    writeln!(out)
}

fn trace(capture: &Capture) -> Trace {
    let meta = &capture.meta;
    let pid = u64::from(meta.pid.unwrap_or(0));
    let period_us = meta
        .sample_period_s()
        .map_or(FALLBACK_PERIOD_US, |p| p * 1e6);
    let mut events = vec![Event {
        name: "process_name".into(),
        cat: None,
        ph: "M",
        ts: None,
        dur: None,
        pid,
        tid: 0,
        args: Some(serde_json::json!({ "name": format!("snakescope: {}", command_line(meta)) })),
    }];
    // Busiest thread first.
    let mut order: Vec<usize> = (0..capture.threads.len()).collect();
    order.sort_by_key(|&t| std::cmp::Reverse(capture.threads[t].samples));
    for (rank, &t) in order.iter().enumerate() {
        let thread = &capture.threads[t];
        // Each process of a capture that followed children is its own track group.
        let pid = thread.pid.map_or(pid, u64::from);
        let name = serde_json::json!({ "name": thread_name(thread) });
        events.push(metadata(pid, thread.tid, "thread_name", name));
        let index = serde_json::json!({ "sort_index": rank });
        events.push(metadata(pid, thread.tid, "thread_sort_index", index));
        let (nodes, roots) = call_tree(capture, t);
        let mut start = 0;
        for &root in &roots {
            lay_out(&nodes, root, start, period_us, pid, thread.tid, &mut events);
            start += nodes[root].total;
        }
    }
    Trace {
        trace_events: events,
        display_time_unit: "ms",
        other_data: OtherData {
            source: "snakescope",
            command: command_line(meta),
            layout: "aggregated flame chart: not time-ordered; widths are samples times the sampling period",
            sample_period_us: period_us,
        },
    }
}

fn metadata(pid: u64, tid: u64, name: &str, args: serde_json::Value) -> Event {
    Event {
        name: name.into(),
        cat: None,
        ph: "M",
        ts: None,
        dur: None,
        pid,
        tid,
        args: Some(args),
    }
}

fn thread_name(thread: &ThreadRecord) -> String {
    match &thread.name {
        Some(name) => format!("{name} (tid {})", thread.tid),
        None => format!("thread (tid {})", thread.tid),
    }
}

/// The call tree of thread `t`: nodes, and the roots sorted heaviest first.
fn call_tree(capture: &Capture, t: usize) -> (Vec<Node>, Vec<usize>) {
    let mut nodes: Vec<Node> = Vec::new();
    let mut roots: Vec<usize> = Vec::new();
    // (parent or usize::MAX for a root, function name, file) -> node
    let mut index: HashMap<(usize, &str, &str), usize> = HashMap::new();
    for stack in capture.stacks.iter().filter(|s| s.thread == t) {
        let mut parent = usize::MAX;
        for &f in &stack.frames {
            let frame = &capture.frames[f];
            let key = (parent, frame.display_name(), frame.file.as_str());
            let node = *index.entry(key).or_insert_with(|| {
                nodes.push(Node {
                    name: frame.display_name().to_owned(),
                    file: frame.file.clone(),
                    total: 0,
                    children: Vec::new(),
                });
                let id = nodes.len() - 1;
                if parent == usize::MAX {
                    roots.push(id);
                } else {
                    nodes[parent].children.push(id);
                }
                id
            });
            nodes[node].total += stack.count;
            parent = node;
        }
    }
    let heaviest_first = |nodes: &[Node], ids: &mut Vec<usize>| {
        ids.sort_by(|&a, &b| {
            (nodes[b].total, &nodes[a].name, &nodes[a].file).cmp(&(
                nodes[a].total,
                &nodes[b].name,
                &nodes[b].file,
            ))
        });
    };
    for i in 0..nodes.len() {
        let mut children = std::mem::take(&mut nodes[i].children);
        heaviest_first(&nodes, &mut children);
        nodes[i].children = children;
    }
    heaviest_first(&nodes, &mut roots);
    (nodes, roots)
}

/// Emits `node` starting at sample position `start`, then its children
/// inside it, one after another (iteratively: stacks can be deep).
fn lay_out(
    nodes: &[Node],
    node: usize,
    start: u64,
    period_us: f64,
    pid: u64,
    tid: u64,
    events: &mut Vec<Event>,
) {
    let mut work = vec![(node, start)];
    while let Some((id, start)) = work.pop() {
        let n = &nodes[id];
        let ts = start as f64 * period_us;
        let end = (start + n.total) as f64 * period_us;
        events.push(Event {
            name: n.name.clone(),
            cat: Some("python"),
            ph: "X",
            ts: Some(ts),
            dur: Some(end - ts),
            pid,
            tid,
            args: None,
        });
        let mut child_start = start;
        for &c in &n.children {
            work.push((c, child_start));
            child_start += nodes[c].total;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{capture, empty_capture};
    use serde_json::Value;

    fn parse(capture: &Capture) -> Value {
        let mut out = Vec::new();
        write(capture, &mut out).unwrap();
        serde_json::from_slice(&out).unwrap()
    }

    fn complete_events(trace: &Value) -> Vec<&Value> {
        trace["traceEvents"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["ph"] == "X")
            .collect()
    }

    #[test]
    fn every_event_has_the_required_fields() {
        let trace = parse(&capture());
        for e in trace["traceEvents"].as_array().unwrap() {
            assert!(e["name"].is_string(), "{e}");
            assert!(e["pid"].is_u64() && e["tid"].is_u64(), "{e}");
            match e["ph"].as_str().unwrap() {
                "X" => {
                    assert!(e["ts"].as_f64().unwrap() >= 0.0, "{e}");
                    assert!(e["dur"].as_f64().unwrap() > 0.0, "{e}");
                    assert!(e["cat"].is_string(), "{e}");
                }
                "M" => assert!(e["args"].is_object(), "{e}"),
                ph => panic!("unexpected phase {ph}"),
            }
        }
        assert_eq!(trace["displayTimeUnit"], "ms");
    }

    #[test]
    fn threads_are_named_tracks() {
        let trace = parse(&capture());
        let names: Vec<(u64, &str)> = trace["traceEvents"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["name"] == "thread_name")
            .map(|e| {
                (
                    e["tid"].as_u64().unwrap(),
                    e["args"]["name"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            names,
            [(100, "MainThread (tid 100)"), (101, "thread (tid 101)")]
        );
    }

    #[test]
    fn widths_are_samples_times_the_period() {
        // 100 Hz: 10 ms = 10,000 us per sample.
        let trace = parse(&capture());
        let dur = |tid: u64, name: &str| -> Vec<f64> {
            complete_events(&trace)
                .into_iter()
                .filter(|e| e["tid"] == tid && e["name"] == name)
                .map(|e| e["dur"].as_f64().unwrap())
                .collect()
        };
        assert_eq!(dur(100, "main"), [900_000.0]);
        // Worker.work merges its two lines: 90 samples.
        assert_eq!(dur(100, "Worker.work"), [900_000.0]);
        assert_eq!(dur(100, "helper"), [100_000.0]);
        assert_eq!(dur(101, "run"), [100_000.0]);
        assert_eq!(dur(101, "helper"), [100_000.0]);
        let work = complete_events(&trace)
            .into_iter()
            .find(|e| e["name"] == "Worker.work")
            .unwrap();
        assert!(work.get("args").is_none(), "{work}");
    }

    /// Regression (issue 22): speedscope's importer names a frame by its
    /// event's name and args JSON, so args on complete events made names
    /// like `main {"file":…,"samples":90}`.
    #[test]
    fn complete_events_have_plain_names_and_no_args() {
        let trace = parse(&capture());
        for e in complete_events(&trace) {
            // serde_json sorts the keys.
            let keys: Vec<&String> = e.as_object().unwrap().keys().collect();
            assert_eq!(
                keys,
                ["cat", "dur", "name", "ph", "pid", "tid", "ts"],
                "{e}"
            );
            let name = e["name"].as_str().unwrap();
            assert!(!name.contains(['{', '(']), "{name}");
        }
    }

    #[test]
    fn children_nest_inside_their_parents_without_overlap() {
        let mut c = capture();
        // A wider tree: main calls a, b and c; a calls b.
        let f = |name: &str| snakescope_model::Frame {
            function: name.into(),
            qualname: None,
            file: "/src/t.py".into(),
            line: 1,
        };
        let base = c.frames.len();
        c.frames.extend([f("a"), f("b"), f("c")]);
        for (frames, count) in [
            (vec![0, base], 7),
            (vec![0, base, base + 1], 3),
            (vec![0, base + 1], 5),
            (vec![0, base + 2], 1),
        ] {
            c.stacks.push(snakescope_model::StackRecord {
                thread: 0,
                frames,
                idle: false,
                gil: true,
                count,
            });
        }
        let trace = parse(&c);
        check_nesting(&complete_events(&trace));
    }

    /// Per thread: any two events are either nested or disjoint (the
    /// trace-event model of a stack), siblings are laid out in order, and
    /// every thread starts at 0.
    fn check_nesting(events: &[&Value]) {
        const EPS: f64 = 1e-6;
        let mut by_tid: HashMap<u64, Vec<(f64, f64)>> = HashMap::new();
        for e in events {
            let ts = e["ts"].as_f64().unwrap();
            by_tid
                .entry(e["tid"].as_u64().unwrap())
                .or_default()
                .push((ts, ts + e["dur"].as_f64().unwrap()));
        }
        for (tid, spans) in by_tid {
            assert!(spans.iter().any(|s| s.0 == 0.0), "tid {tid} starts at 0");
            for (i, a) in spans.iter().enumerate() {
                for b in &spans[i + 1..] {
                    let disjoint = a.1 <= b.0 + EPS || b.1 <= a.0 + EPS;
                    let a_in_b = b.0 <= a.0 + EPS && a.1 <= b.1 + EPS;
                    let b_in_a = a.0 <= b.0 + EPS && b.1 <= a.1 + EPS;
                    assert!(
                        disjoint || a_in_b || b_in_a,
                        "tid {tid}: {a:?} and {b:?} overlap"
                    );
                }
            }
        }
    }

    #[test]
    fn empty_capture_has_only_metadata() {
        let trace = parse(&empty_capture());
        assert!(complete_events(&trace).is_empty());
        assert_eq!(trace["traceEvents"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn a_deep_stack_does_not_overflow() {
        let mut c = capture();
        let deep: Vec<usize> = std::iter::repeat(1).take(20_000).collect();
        c.stacks.push(snakescope_model::StackRecord {
            thread: 0,
            frames: deep,
            idle: false,
            gil: true,
            count: 1,
        });
        let trace = parse(&c);
        assert!(complete_events(&trace).len() > 20_000);
    }
}
