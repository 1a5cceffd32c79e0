//! The sampler on a real Python child, into the capture builder and the
//! windowed sink at once (a `Tee`), then into a windowed sink alone: both
//! sinks see the same functions.

use snakescope_model::{CaptureBuilder, SampleSink, Tee, WindowedSink};
use snakescope_remote::{NoHooks, Sampler, SamplerSettings, Target};
use std::collections::BTreeSet;
use std::process::{Child, Command};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

const PROGRAM: &str = "
import time
def spin_inner(n):
    return sum(i * i for i in range(n))
def spin_outer():
    end = time.time() + 30
    while time.time() < end:
        spin_inner(2000)
spin_outer()
";

/// Kills the child however the test ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn attach(child: &Child) -> Target {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match Target::attach(child.id()) {
            Ok(t) => return t,
            Err(e) if e.may_be_transient() && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("cannot attach to python3: {e}"),
        }
    }
}

fn settings() -> SamplerSettings {
    SamplerSettings {
        native: false,
        rate_hz: 200.0,
        include_idle: true,
        gil_only: false,
        duration: Some(Duration::from_millis(1500)),
        opcodes: false,
    }
}

fn sample_into(sampler: &mut Sampler, sink: &mut impl SampleSink) {
    let stop = AtomicBool::new(false);
    sampler.run(sink, &stop, || true);
}

#[test]
fn the_windowed_sink_sees_what_the_capture_sees() {
    let child = Command::new("python3").arg("-c").arg(PROGRAM).spawn();
    let Ok(child) = child else {
        return; // no python3 here: nothing to sample
    };
    let child = Killed(child);
    let target = attach(&child.0);
    let mut sampler = Sampler::new(target, settings(), NoHooks);
    // Until the program is in its loop, its stacks are the interpreter's start.
    let mut warm = CaptureBuilder::new();
    sampler.run(&mut warm, &AtomicBool::new(false), || true);

    let window = WindowedSink::new(Duration::from_secs(60), 6);
    let reader = window.reader();
    let mut tee = Tee::new(CaptureBuilder::new(), window);
    sample_into(&mut sampler, &mut tee);
    let (builder, _) = tee.into_inner();
    let capture = builder.finish(sampler.meta(Duration::from_secs(1), 0.0));
    let snapshot = reader.snapshot();

    let in_capture: BTreeSet<&str> = capture
        .stacks
        .iter()
        .flat_map(|s| {
            s.frames
                .iter()
                .map(|&f| capture.frames[f].function.as_str())
        })
        .collect();
    let in_window: BTreeSet<&str> = snapshot
        .frames
        .iter()
        .filter(|c| c.total > 0)
        .map(|c| c.frame.function.as_str())
        .collect();
    assert!(in_capture.contains("spin_outer"), "{in_capture:?}");
    assert!(in_capture.contains("spin_inner"), "{in_capture:?}");
    assert_eq!(in_capture, in_window);
    assert_eq!(snapshot.samples, capture.total_samples());
    let outer = snapshot.function("spin_outer").unwrap();
    let self_total: u64 = snapshot.frames.iter().map(|c| c.self_count).sum();
    assert_eq!(
        self_total, snapshot.samples,
        "one innermost frame per sample"
    );
    assert!(
        outer.total * 10 >= snapshot.samples * 9,
        "{outer:?} of {}",
        snapshot.samples
    );

    // A second run, into a sink of its own: the frame ids are that sink's.
    let mut alone = WindowedSink::new(Duration::from_secs(60), 6);
    sample_into(&mut sampler, &mut alone);
    let again = alone.snapshot();
    assert!(again.samples > 0);
    let functions: BTreeSet<&str> = again
        .frames
        .iter()
        .map(|c| c.frame.function.as_str())
        .collect();
    assert!(
        functions.contains("spin_outer") && functions.contains("spin_inner"),
        "{functions:?}"
    );
    let outer = again.function("spin_outer").unwrap();
    assert!(
        outer.total * 10 >= again.samples * 9,
        "{outer:?} of {}",
        again.samples
    );
}
