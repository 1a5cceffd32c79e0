//! speedscope's JSON file format
//! (<https://www.speedscope.app/file-format-schema.json>): the capture's frames
//! shared by one "sampled" profile per thread, each distinct stack once with
//! its sample count as weight (unit `none`: a count); a memory view
//! (`report --memory peak`) weighs its stacks in `bytes`.
//!
//! An exact capture (`run --exact`, no samples) is one "sampled" profile
//! named "exact calls: self time by caller", unit `seconds`: each caller →
//! function edge (`crate::exact_edges`) is a two-frame stack [caller,
//! function] (root first) weighted by the function's own time (tottime) in
//! the calls from that caller; the outermost function (and the remainder of
//! a function whose callers' figures fall short of its own) is a one-frame
//! stack. So the left-heavy and sandwich views show each function's self time
//! as cProfile's tottime, with its callers one level up.

use crate::exact_edges::{edges, exact_of};
use crate::memory::MemoryMetric;
use crate::text::command_line;
use serde::Serialize;
use snakescope_model::{Capture, ExactStats, ThreadRecord};
use std::collections::HashMap;
use std::io::{self, Write};

const SCHEMA: &str = "https://www.speedscope.app/file-format-schema.json";

/// The name of the profile of an exact capture.
const EXACT_PROFILE: &str = "exact calls: self time by caller";

/// `W` is the weights' type: sample counts, or seconds for an exact capture.
#[derive(Serialize)]
struct File<'a, W> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    shared: Shared<'a>,
    profiles: Vec<Profile<W>>,
    name: String,
    #[serde(rename = "activeProfileIndex")]
    active_profile_index: usize,
    exporter: String,
}

#[derive(Serialize)]
struct Shared<'a> {
    frames: Vec<SharedFrame<'a>>,
}

#[derive(Serialize)]
struct SharedFrame<'a> {
    name: &'a str,
    file: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<u32>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Profile<W> {
    #[serde(rename = "type")]
    kind: &'static str,
    name: String,
    unit: &'static str,
    start_value: W,
    end_value: W,
    samples: Vec<Vec<usize>>,
    weights: Vec<W>,
}

/// Writes the speedscope file.
pub(crate) fn write(capture: &Capture, out: &mut dyn Write) -> io::Result<()> {
    match exact_of(capture) {
        Some(stats) => serde_json::to_writer(&mut *out, &exact_file(capture, stats))?,
        None => serde_json::to_writer(&mut *out, &file(capture))?,
    }
    writeln!(out)
}

fn file(capture: &Capture) -> File<'_, u64> {
    let profiles = profiles(capture);
    let active_profile_index = profiles
        .iter()
        .enumerate()
        .max_by_key(|(i, p)| (p.end_value, std::cmp::Reverse(*i)))
        .map_or(0, |(i, _)| i);
    file_of(capture, profiles, active_profile_index)
}

/// The one profile of an exact capture: an edge per stack, in seconds.
fn exact_file<'a>(capture: &'a Capture, stats: &ExactStats) -> File<'a, f64> {
    let edges = edges(stats);
    let profile = Profile {
        kind: "sampled",
        name: EXACT_PROFILE.to_owned(),
        unit: "seconds",
        start_value: 0.0,
        end_value: edges.iter().map(|e| e.tottime_s).sum(),
        samples: edges
            .iter()
            .map(|e| e.caller.into_iter().chain([e.frame]).collect())
            .collect(),
        weights: edges.iter().map(|e| e.tottime_s).collect(),
    };
    file_of(capture, vec![profile], 0)
}

/// The file around `profiles`: the capture's frames shared, its command as name.
fn file_of<W>(capture: &Capture, profiles: Vec<Profile<W>>, active: usize) -> File<'_, W> {
    let frames = capture
        .frames
        .iter()
        .map(|f| SharedFrame {
            name: f.display_name(),
            file: &f.file,
            line: (f.line != 0).then_some(f.line),
        })
        .collect();
    File {
        schema: SCHEMA,
        shared: Shared { frames },
        profiles,
        name: format!("snakescope: {}", command_line(&capture.meta)),
        active_profile_index: active,
        exporter: format!("snakescope {}", env!("CARGO_PKG_VERSION")),
    }
}

/// One profile per thread that has samples, in capture order. Frame indices
/// are the capture's own, since its frames are the shared frames.
fn profiles(capture: &Capture) -> Vec<Profile<u64>> {
    let unit = counts_unit(capture);
    let mut profiles: Vec<Profile<u64>> = capture
        .threads
        .iter()
        .enumerate()
        .map(|(i, t)| empty_profile(t, capture.process_label(i), unit))
        .collect();
    let mut index: Vec<HashMap<&[usize], usize>> = vec![HashMap::new(); capture.threads.len()];
    for stack in &capture.stacks {
        let profile = &mut profiles[stack.thread];
        let next = profile.samples.len();
        let i = *index[stack.thread].entry(&stack.frames).or_insert(next);
        if i == next {
            profile.samples.push(stack.frames.clone());
            profile.weights.push(0);
        }
        profile.weights[i] += stack.count;
        profile.end_value += stack.count;
    }
    profiles.retain(|p| p.end_value > 0);
    profiles
}

/// What the stacks' counts are: `bytes` in a memory view
/// (`report --memory peak`), else sample counts, which speedscope calls `none`.
fn counts_unit(capture: &Capture) -> &'static str {
    match MemoryMetric::of_view(capture) {
        Some(_) => "bytes",
        None => "none",
    }
}

/// A thread's profile, named after the thread (and its process, when the
/// capture holds several).
fn empty_profile(
    thread: &ThreadRecord,
    process: Option<String>,
    unit: &'static str,
) -> Profile<u64> {
    let name = thread.name.as_deref().unwrap_or("thread");
    let name = format!("{name} (tid {})", thread.tid);
    Profile {
        kind: "sampled",
        name: process.map_or_else(|| name.clone(), |p| format!("{p}: {name}")),
        unit,
        start_value: 0,
        end_value: 0,
        samples: Vec::new(),
        weights: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{capture, empty_capture, exact_capture};
    use serde_json::{json, Value};

    fn speedscope(capture: &Capture) -> Value {
        let mut out = Vec::new();
        write(capture, &mut out).unwrap();
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn one_profile_per_thread_with_merged_weights() {
        let v = speedscope(&capture());
        let profiles = v["profiles"].as_array().unwrap();
        assert_eq!(profiles.len(), 2);
        assert_eq!(profiles[0]["name"], "MainThread (tid 100)");
        assert_eq!(profiles[0]["samples"], json!([[0, 1], [0, 2], [0, 1, 3]]));
        assert_eq!(profiles[0]["weights"], json!([60, 20, 10]));
        assert_eq!(profiles[0]["endValue"], 90);
        assert_eq!(profiles[1]["name"], "thread (tid 101)");
        assert_eq!(profiles[1]["samples"], json!([[4, 3]]));
        assert_eq!(v["activeProfileIndex"], 0);
        assert_eq!(v["name"], "snakescope: python3 app.py --size 'big one'");
        assert_eq!(
            v["exporter"],
            format!("snakescope {}", env!("CARGO_PKG_VERSION"))
        );
    }

    #[test]
    fn weights_sum_to_total_samples() {
        let c = capture();
        let v = speedscope(&c);
        let sum: u64 = v["profiles"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p["weights"].as_array().unwrap())
            .map(|w| w.as_u64().unwrap())
            .sum();
        assert_eq!(sum, c.total_samples());
    }

    #[test]
    fn an_exact_capture_is_one_profile_of_caller_edges_in_seconds() {
        let v = speedscope(&exact_capture());
        let profiles = v["profiles"].as_array().unwrap();
        assert_eq!(profiles.len(), 1);
        let p = &profiles[0];
        assert_eq!(p["name"], EXACT_PROFILE);
        assert_eq!(p["unit"], "seconds");
        // main (root), main -> fib, fib -> fib, main -> len; root first.
        assert_eq!(p["samples"], json!([[0], [0, 1], [1, 1], [0, 2]]));
        assert_eq!(p["weights"], json!([0.1, 0.03, 0.57, 0.3]));
        let sum: f64 = p["weights"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_f64().unwrap())
            .sum();
        assert!((sum - 1.0).abs() < 1e-12, "{sum}");
        assert!((p["endValue"].as_f64().unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(
            v["shared"]["frames"][2],
            json!({"name": "<built-in method builtins.len>", "file": "~"})
        );
        assert_eq!(v["activeProfileIndex"], 0);
    }

    #[test]
    fn frames_carry_names_files_and_known_lines() {
        let v = speedscope(&capture());
        let frames = &v["shared"]["frames"];
        assert_eq!(
            frames[1],
            json!({"name": "Worker.work", "file": "/src/app.py", "line": 20})
        );
        assert_eq!(
            frames[4],
            json!({"name": "run", "file": "/usr/lib/python3.11/threading.py"})
        );
    }

    /// Regression (issue 22): a memory view's weights were bytes in unit `none`.
    #[test]
    fn a_memory_view_weighs_in_bytes() {
        let mut c = capture();
        c.memory = Some(snakescope_model::Memory {
            sites: vec![snakescope_model::MemorySite {
                frames: vec![0, 1],
                source: "python".into(),
                allocated_bytes: 4096,
                ..Default::default()
            }],
            ..Default::default()
        });
        let view = crate::memory::memory_view(&c, MemoryMetric::Allocated).unwrap();
        let v = speedscope(&view);
        let profile = &v["profiles"][0];
        assert_eq!(profile["unit"], "bytes");
        assert_eq!(profile["endValue"], 4096);
        assert!(
            speedscope(&c)["profiles"][0]["unit"] == "none",
            "samples are counts"
        );
    }

    #[test]
    fn output_matches_the_speedscope_schema() {
        for c in [capture(), empty_capture(), exact_capture()] {
            let v = speedscope(&c);
            schema::check_file(&v).unwrap();
            let frames = v["shared"]["frames"].as_array().unwrap().len();
            for p in v["profiles"].as_array().unwrap() {
                let samples = p["samples"].as_array().unwrap();
                assert_eq!(samples.len(), p["weights"].as_array().unwrap().len());
                assert!(p["endValue"].as_f64() >= p["startValue"].as_f64());
                let indices = samples.iter().flat_map(|s| s.as_array().unwrap());
                assert!(indices
                    .map(|i| i.as_u64().unwrap())
                    .all(|i| (i as usize) < frames));
            }
        }
    }

    /// The constraints of speedscope's published JSON schema
    /// (`file-format-schema.json`) that apply to sampled profiles: required
    /// properties, their JSON types and enumerated values.
    mod schema {
        use serde_json::Value;

        const UNITS: [&str; 6] = [
            "bytes",
            "microseconds",
            "milliseconds",
            "nanoseconds",
            "none",
            "seconds",
        ];

        pub(super) fn check_file(v: &Value) -> Result<(), String> {
            object(v, "file", &["$schema", "profiles", "shared"])?;
            if v["$schema"] != super::SCHEMA {
                return Err(format!("$schema is {}", v["$schema"]));
            }
            optional(v, "name", Value::is_string)?;
            optional(v, "exporter", Value::is_string)?;
            optional(v, "activeProfileIndex", |x| x.is_number() || x.is_null())?;
            object(&v["shared"], "shared", &["frames"])?;
            for frame in array(&v["shared"]["frames"], "shared.frames")? {
                check_frame(frame)?;
            }
            for profile in array(&v["profiles"], "profiles")? {
                check_sampled_profile(profile)?;
            }
            Ok(())
        }

        fn check_frame(v: &Value) -> Result<(), String> {
            object(v, "frame", &["name"])?;
            is(v, "name", Value::is_string)?;
            optional(v, "file", Value::is_string)?;
            optional(v, "line", Value::is_number)?;
            optional(v, "col", |x| x.is_number() || x.is_null())
        }

        fn check_sampled_profile(v: &Value) -> Result<(), String> {
            object(
                v,
                "profile",
                &[
                    "endValue",
                    "name",
                    "samples",
                    "startValue",
                    "type",
                    "unit",
                    "weights",
                ],
            )?;
            if v["type"] != "sampled" {
                return Err(format!("profile type is {}", v["type"]));
            }
            if !UNITS.iter().any(|u| v["unit"] == *u) {
                return Err(format!("unit is {}", v["unit"]));
            }
            is(v, "name", Value::is_string)?;
            is(v, "startValue", Value::is_number)?;
            is(v, "endValue", Value::is_number)?;
            for stack in array(&v["samples"], "samples")? {
                if !array(stack, "sample")?.iter().all(Value::is_number) {
                    return Err(format!("sample {stack} holds a non-number"));
                }
            }
            if !array(&v["weights"], "weights")?
                .iter()
                .all(Value::is_number)
            {
                return Err("weights hold a non-number".into());
            }
            Ok(())
        }

        fn object(v: &Value, what: &str, required: &[&str]) -> Result<(), String> {
            let map = v
                .as_object()
                .ok_or_else(|| format!("{what} is not an object"))?;
            match required.iter().find(|k| !map.contains_key(**k)) {
                Some(missing) => Err(format!("{what} lacks `{missing}`")),
                None => Ok(()),
            }
        }

        fn array<'a>(v: &'a Value, what: &str) -> Result<&'a Vec<Value>, String> {
            v.as_array()
                .ok_or_else(|| format!("{what} is not an array"))
        }

        fn is(v: &Value, key: &str, test: fn(&Value) -> bool) -> Result<(), String> {
            if test(&v[key]) {
                Ok(())
            } else {
                Err(format!("`{key}` has the wrong type: {}", v[key]))
            }
        }

        fn optional(v: &Value, key: &str, test: fn(&Value) -> bool) -> Result<(), String> {
            match v.get(key) {
                Some(_) => is(v, key, test),
                None => Ok(()),
            }
        }
    }
}
