use super::*;
use crate::fixture::{capture, empty_capture};
use flate2::read::GzDecoder;
use snakescope_model::Memory;
use std::io::Read;

/// Writes `capture` as pprof and decodes it back, as a consumer would.
pub(super) fn round_trip(capture: &Capture) -> pb::Profile {
    let mut out = Vec::new();
    write(capture, &mut out).unwrap();
    assert_eq!(&out[..2], &[0x1f, 0x8b], "gzip magic");
    let mut raw = Vec::new();
    GzDecoder::new(&out[..]).read_to_end(&mut raw).unwrap();
    pb::Profile::decode(&raw[..]).unwrap()
}

pub(super) fn string(p: &pb::Profile, i: i64) -> &str {
    &p.string_table[usize::try_from(i).unwrap()]
}

/// (type, unit) of each sample type.
pub(super) fn types(p: &pb::Profile) -> Vec<(&str, &str)> {
    p.sample_type
        .iter()
        .map(|t| (string(p, t.r#type), string(p, t.unit)))
        .collect()
}

/// Each sample's stack as function names, root first, and its values.
pub(super) fn stacks(p: &pb::Profile) -> Vec<(Vec<String>, Vec<i64>)> {
    let location = |id: u64| p.location.iter().find(|l| l.id == id).unwrap();
    let function = |id: u64| p.function.iter().find(|f| f.id == id).unwrap();
    let mut v: Vec<_> = p
        .sample
        .iter()
        .map(|s| {
            let names = s
                .location_id
                .iter()
                .rev()
                .map(|&l| {
                    let line = &location(l).line[0];
                    let f = function(line.function_id);
                    format!("{}:{}", string(p, f.name), line.line)
                })
                .collect();
            (names, s.value.clone())
        })
        .collect();
    v.sort();
    v
}

#[test]
fn decodes_with_sample_types_and_values() {
    let p = round_trip(&capture());
    assert_eq!(p.string_table[0], "");
    // The fixture records idle threads at 100 Hz: 10 ms per sample.
    assert_eq!(
        types(&p),
        [
            ("samples", "count"),
            ("cpu", "nanoseconds"),
            ("wall", "nanoseconds")
        ]
    );
    assert_eq!(string(&p, p.default_sample_type), "wall");
    assert_eq!(p.period, 10_000_000);
    assert_eq!(p.duration_nanos, 1_000_000_000);
    assert_eq!(p.time_nanos, 1_795_000_000_000_000_000);
    let ms = 1_000_000;
    let want: Vec<(Vec<String>, Vec<i64>)> = vec![
        (
            vec!["main:10".into(), "Worker.work:20".into()],
            vec![60, 600 * ms, 600 * ms],
        ),
        (
            vec!["main:10".into(), "Worker.work:20".into(), "helper:5".into()],
            vec![10, 100 * ms, 100 * ms],
        ),
        (
            vec!["main:10".into(), "Worker.work:21".into()],
            vec![20, 200 * ms, 200 * ms],
        ),
        // The idle thread: wall time, no CPU time.
        (
            vec!["run:0".into(), "helper:5".into()],
            vec![10, 0, 100 * ms],
        ),
    ];
    assert_eq!(stacks(&p), want);
    let total: i64 = p.sample.iter().map(|s| s.value[0]).sum();
    assert_eq!(total, 100);
}

#[test]
fn functions_carry_names_files_and_one_entry_per_function() {
    let p = round_trip(&capture());
    // Worker.work appears at two lines but is one function.
    let names: Vec<(&str, &str, &str)> = p
        .function
        .iter()
        .map(|f| {
            (
                string(&p, f.name),
                string(&p, f.system_name),
                string(&p, f.filename),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("main", "/src/app.py:main", "/src/app.py"),
            ("Worker.work", "/src/app.py:Worker.work", "/src/app.py"),
            ("helper", "/src/util.py:helper", "/src/util.py"),
            (
                "run",
                "/usr/lib/python3.11/threading.py:run",
                "/usr/lib/python3.11/threading.py"
            ),
        ]
    );
    assert_eq!(p.location.len(), 5);
    assert!(p.location.iter().all(|l| l.mapping_id == 1));
    assert!(p.mapping[0].has_functions && p.mapping[0].has_line_numbers);
    for (i, f) in p.function.iter().enumerate() {
        assert_eq!(f.id, i as u64 + 1);
    }
}

#[test]
fn samples_are_labelled_with_their_thread() {
    let p = round_trip(&capture());
    let mut threads: Vec<(String, i64, i64)> = p
        .sample
        .iter()
        .map(|s| {
            let label = |key: &str| {
                s.label
                    .iter()
                    .find(|l| string(&p, l.key) == key)
                    .copied()
                    .unwrap()
            };
            (
                string(&p, label("thread").str).to_owned(),
                label("thread_id").num,
                s.value[0],
            )
        })
        .collect();
    threads.sort();
    assert_eq!(
        threads,
        [
            ("MainThread".into(), 100, 10),
            ("MainThread".into(), 100, 20),
            ("MainThread".into(), 100, 60),
            ("tid 101".into(), 101, 10),
        ]
    );
}

#[test]
fn memory_sites_are_samples_with_memory_columns() {
    let mut c = capture();
    c.meta.include_idle = false;
    c.stacks.retain(|s| !s.idle);
    let site = |frames: Vec<usize>, source: &str, n: u64| MemorySite {
        global_bytes: 0,
        frames,
        source: source.into(),
        allocations: n,
        allocated_bytes: 100 * n,
        frees: n / 2,
        freed_bytes: 50 * n,
        peak_bytes: 40 * n,
        end_bytes: 10 * n,
    };
    c.memory = Some(Memory {
        mode: "exact".into(),
        sample_interval_bytes: 1,
        sites: vec![site(vec![0, 1], "python", 4), site(vec![0, 3], "native", 2)],
        peak_bytes: 220,
        end_bytes: 60,
        ..Memory::default()
    });
    let p = round_trip(&c);
    assert_eq!(
        types(&p),
        [
            ("samples", "count"),
            ("cpu", "nanoseconds"),
            ("alloc_objects", "count"),
            ("alloc_space", "bytes"),
            ("peak_space", "bytes"),
            ("inuse_objects", "count"),
            ("inuse_space", "bytes"),
        ]
    );
    // CPU stays the default view.
    assert_eq!(string(&p, p.default_sample_type), "cpu");
    let stacks = stacks(&p);
    let ms = 1_000_000;
    assert!(stacks.contains(&(
        vec!["main:10".into(), "Worker.work:20".into()],
        vec![60, 600 * ms, 0, 0, 0, 0, 0]
    )));
    assert!(stacks.contains(&(
        vec!["main:10".into(), "Worker.work:20".into()],
        vec![0, 0, 4, 400, 160, 2, 40]
    )));
    assert!(stacks.contains(&(
        vec!["main:10".into(), "helper:5".into()],
        vec![0, 0, 2, 200, 80, 1, 20]
    )));
    let allocators: Vec<&str> = p
        .sample
        .iter()
        .flat_map(|s| &s.label)
        .filter(|l| string(&p, l.key) == "allocator")
        .map(|l| string(&p, l.str))
        .collect();
    assert_eq!(allocators, ["python", "native"]);
}

/// Regression (issue 22): `report --memory peak` as pprof was labelled
/// `cpu`/`nanoseconds`, with a period from bytes per second of the run.
#[test]
fn a_memory_view_is_a_heap_profile_in_bytes() {
    let mut c = capture();
    c.memory = Some(Memory {
        mode: "exact".into(),
        sites: vec![
            MemorySite {
                frames: vec![0, 1],
                source: "python".into(),
                peak_bytes: 3 << 20,
                ..MemorySite::default()
            },
            MemorySite {
                frames: vec![0, 3],
                source: "native".into(),
                peak_bytes: 1 << 20,
                ..MemorySite::default()
            },
        ],
        ..Memory::default()
    });
    let view = crate::memory::memory_view(&c, MemoryMetric::Peak).unwrap();
    let p = round_trip(&view);
    assert_eq!(types(&p), [("peak_space", "bytes")]);
    assert_eq!(string(&p, p.default_sample_type), "peak_space");
    let period = p.period_type.as_ref().unwrap();
    assert_eq!(
        (string(&p, period.r#type), string(&p, period.unit)),
        ("space", "bytes")
    );
    assert_eq!(p.period, 1);
    let total: i64 = p.sample.iter().map(|s| s.value[0]).sum();
    assert_eq!(total, 4 << 20);
}

#[test]
fn the_cpu_period_is_the_rate_asked_for() {
    let mut c = capture();
    let p = round_trip(&c);
    assert_eq!(p.period, 10_000_000, "100 Hz");
    c.meta.duration_s *= 3.0;
    c.meta.ticks += 7;
    assert_eq!(round_trip(&c).period, p.period, "whatever the run achieved");
}

#[test]
fn without_idle_threads_there_is_no_wall_column() {
    let mut c = capture();
    c.meta.include_idle = false;
    c.stacks.retain(|s| !s.idle);
    let p = round_trip(&c);
    assert_eq!(types(&p), [("samples", "count"), ("cpu", "nanoseconds")]);
    assert_eq!(string(&p, p.default_sample_type), "cpu");
}

#[test]
fn without_a_rate_only_counts() {
    let mut c = capture();
    c.meta.requested_rate_hz = 0.0;
    c.meta.duration_s = 0.0;
    let p = round_trip(&c);
    assert_eq!(types(&p), [("samples", "count")]);
    assert_eq!(p.period, 0);
    assert!(p.sample.iter().all(|s| s.value.len() == 1));
}

#[test]
fn empty_capture_is_a_valid_empty_profile() {
    let p = round_trip(&empty_capture());
    assert!(p.sample.is_empty());
    assert_eq!(p.sample_type.len(), 3);
}

#[test]
fn generated_code_matches_proto() {
    // generate.sh stamps the FNV-1a hash of the .proto it compiled.
    let proto = include_bytes!("../../proto/profile.proto");
    let generated = include_str!("../pprof_proto.rs");
    let hash = proto.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    assert!(
        generated.contains(&format!("proto-fnv1a64: {hash:016x}")),
        "proto/profile.proto changed: run crates/snakescope-formats/proto/generate.sh"
    );
}
