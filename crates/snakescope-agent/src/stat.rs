//! `run --stat`: the program's figures as `snakescope stat` measures them,
//! from inside. The counters are opened on the main thread once snakescope's
//! own threads are running, so they count the program's threads and
//! processes started from then on, not the sampler; the `rusage` figures are
//! the process's and its waited-for children's between the two calls, which
//! do include snakescope's threads (the scope says how much CPU the sampler
//! took). Stopped before snakescope writes anything.

use pyo3::prelude::*;
use snakescope_cli::stat_counters::Counters;
use snakescope_cli::stat_figures as figures;
use snakescope_model::Stat;
use std::sync::Mutex;
use std::time::Instant;

struct Counting {
    counters: Counters,
    started: Instant,
    /// `[self, children]` when counting started.
    before: [libc::rusage; 2],
}

enum State {
    Counting(Box<Counting>),
    Done(Stat),
}

static STATE: Mutex<Option<State>> = Mutex::new(None);

fn tree() -> [libc::rusage; 2] {
    [
        snakescope_remote::rusage(libc::RUSAGE_SELF),
        snakescope_remote::rusage(libc::RUSAGE_CHILDREN),
    ]
}

/// Starts counting the calling thread (the program's main thread) and what
/// it starts from now on.
#[pyfunction]
pub fn stat_start() {
    let mut counters = Counters::open();
    let before = tree();
    counters.enable();
    let counting = Counting {
        counters,
        started: Instant::now(),
        before,
    };
    if let Ok(mut state) = STATE.lock() {
        *state = Some(State::Counting(Box::new(counting)));
    }
}

/// Stops counting; [`take`] then gives the section. Nothing when not counting.
#[pyfunction]
pub fn stat_stop() {
    let Ok(mut state) = STATE.lock() else { return };
    let Some(State::Counting(c)) = state.take() else {
        return;
    };
    let wall_s = c.started.elapsed().as_secs_f64();
    let counters = c.counters.finish();
    let after = tree();
    let measured = figures::Measured {
        wall_s,
        usage: figures::tree_usage_between([&c.before[0], &c.before[1]], [&after[0], &after[1]]),
        counters,
    };
    let scope = match crate::sampler_cpu_s() {
        Some(s) => format!(
            "the program, from its first line to its end, and the processes it started; the \
             counters leave snakescope's threads out, the times and faults include them \
             (the sampler: {:.3} s of CPU)",
            s
        ),
        None => {
            "the program, from its first line to its end, and the processes it started".to_owned()
        }
    };
    *state = Some(State::Done(figures::section(&measured, &scope)));
}

/// The section of the last counting stopped, once.
pub(crate) fn take() -> Option<Stat> {
    match STATE.lock().ok()?.take()? {
        State::Done(stat) => Some(stat),
        State::Counting(_) => None,
    }
}
