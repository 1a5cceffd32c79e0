//! `record --subprocesses`: follows every descendant Python process of the
//! recorded one. A watcher thread polls the process tree every few
//! milliseconds; each new process gets a thread of its own that attaches
//! (retrying while a spawned interpreter comes up) and samples it with the
//! same [`Sampler`] as the main process, into a capture of its own, until it
//! exits or the recording stops. At the end those captures are merged into
//! the main one, each thread marked with its pid, with a `processes` table.
//!
//! `run` follows the descendants of its program the same way (the agent
//! samples the program itself): their samplers leave out the frames of the
//! bootstrap a forked worker inherits ([`Hide::RunBootstrap`]), and the
//! first process attached creates a file that tells the bootstrap to hand
//! its capture over to `run` for the merge.
//!
//! A process that `exec`s (a forked child becoming `python3 other.py`) is
//! attached again: its command line changes, which ends the first sampler.
//! A process that is not Python is never sampled, but its children are
//! looked for. Nothing here can stop or slow the target: it is only read.

mod tree;

pub use tree::command_line;

use snakescope_model::{is_own_file, role_of, Capture, CaptureBuilder, ProcessRecord, ROLE_MAIN};
use snakescope_remote::{Sampler, SamplerHooks, SamplerSettings, Target};
use snakescope_unwind::CodeInfo;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the process tree is read once a descendant has been seen:
/// short-lived workers live far longer.
const POLL: Duration = Duration::from_millis(5);
/// How often before: most programs start none (`run` follows children by
/// default), and the first one is an interpreter starting, or a fork of
/// the program that lives as long as its work.
const POLL_BEFORE: Duration = Duration::from_millis(20);
/// How long a process that is not (yet) Python is retried before it is
/// left alone (until it `exec`s something else).
const ATTACH_PATIENCE: Duration = Duration::from_secs(2);

/// One followed process, once its sampling ended.
struct Followed {
    pid: u32,
    ppid: u32,
    command: Vec<String>,
    start_s: f64,
    end_s: f64,
    /// `None`: it never became a Python process that could be read.
    capture: Option<Capture>,
}

/// What the followed processes' samplers leave out at the root of stacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hide {
    /// Nothing (`record`: the processes run the program's own code).
    Nothing,
    /// `run`'s bootstrap (`snakescope._run`, runpy), which a worker forked
    /// from the program inherits below the program's frames.
    RunBootstrap,
}

impl SamplerHooks for Hide {
    fn is_own_code(&self, code: &CodeInfo) -> bool {
        *self == Hide::RunBootstrap
            && (is_own_file(&code.filename)
                || code.filename == "<frozen runpy>"
                || code.filename.ends_with("/runpy.py"))
    }
}

/// How the descendants are followed.
#[derive(Debug, Clone)]
pub struct Following {
    pub settings: SamplerSettings,
    pub hide: Hide,
    /// Created when the first descendant is attached (`run`'s hand-over).
    pub seen_file: Option<PathBuf>,
}

/// The watcher of the descendants of one process.
pub struct Children {
    stop: Arc<AtomicBool>,
    watcher: JoinHandle<Vec<Followed>>,
    start: Instant,
}

impl Children {
    /// Starts following the descendants of `root`, sampling them with `settings`.
    pub fn follow(root: u32, settings: SamplerSettings) -> Children {
        Children::follow_with(
            root,
            Following {
                settings,
                hide: Hide::Nothing,
                seen_file: None,
            },
        )
    }

    /// Starts following the descendants of `root` as `how` says.
    pub fn follow_with(root: u32, how: Following) -> Children {
        let stop = Arc::new(AtomicBool::new(false));
        let start = Instant::now();
        let how = Following {
            settings: SamplerSettings {
                duration: None, // the main sampler says when to stop
                ..how.settings
            },
            ..how
        };
        let flag = Arc::clone(&stop);
        let watcher = std::thread::Builder::new()
            .name("snakescope-children".into())
            .spawn(move || watch(root, &how, &flag, start))
            .expect("a thread for following child processes");
        Children {
            stop,
            watcher,
            start,
        }
    }

    /// Stops following, leaving what was sampled aside.
    pub fn abandon(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.watcher.join();
    }

    /// Stops following and merges what was sampled into `capture` (the
    /// main process's), which gains its `processes` table.
    pub fn finish(self, capture: &mut Capture, exit_code: Option<i32>) {
        let end_s = self.start.elapsed().as_secs_f64();
        self.stop.store(true, Ordering::Relaxed);
        let followed = self.watcher.join().unwrap_or_default();
        let root = capture.meta.pid.unwrap_or(0);
        capture.set_thread_pids(root);
        let mut processes = vec![ProcessRecord {
            pid: root,
            ppid: None,
            command: capture.meta.command.clone(),
            role: ROLE_MAIN.to_owned(),
            start_s: 0.0,
            end_s,
            exit_code,
            ticks: capture.meta.ticks,
            lost_ticks: capture.meta.lost_ticks,
            samples: 0,
            idle_samples: 0,
        }];
        // A process whose last program was not Python (a forked Python
        // process that `exec`ed `sleep`) has a row only if it has samples.
        let mut not_python = Vec::new();
        for f in followed {
            let Some(mut child) = f.capture else {
                not_python.push(f.pid);
                continue;
            };
            not_python.retain(|&pid| pid != f.pid);
            child.set_thread_pids(f.pid);
            let (ticks, lost_ticks) = (child.meta.ticks, child.meta.lost_ticks);
            capture.merge_samples(child);
            let role = role_of(capture, f.pid, &f.command).to_owned();
            // A process attached twice (it `exec`ed): one row.
            if let Some(row) = processes.iter_mut().find(|p| p.pid == f.pid) {
                row.end_s = f.end_s;
                row.ticks += ticks;
                row.lost_ticks += lost_ticks;
                row.command = f.command;
                row.role = role;
                continue;
            }
            processes.push(ProcessRecord {
                pid: f.pid,
                ppid: Some(f.ppid),
                command: f.command,
                role,
                start_s: f.start_s,
                end_s: f.end_s,
                exit_code: None,
                ticks,
                lost_ticks,
                samples: 0,
                idle_samples: 0,
            });
        }
        capture.processes = processes;
        capture.count_process_samples();
        capture
            .processes
            .retain(|p| p.samples > 0 || !not_python.contains(&p.pid));
    }
}

/// A process being followed: its command line when attached, and its thread.
struct Active {
    command: Vec<String>,
    thread: JoinHandle<Followed>,
}

fn watch(root: u32, how: &Following, stop: &Arc<AtomicBool>, start: Instant) -> Vec<Followed> {
    let mut active: HashMap<u32, Active> = HashMap::new();
    // Processes done with (exited, not Python, or `exec`ed): their command
    // line then, so that one that `exec`s later is followed again.
    let mut done: HashMap<u32, Vec<String>> = HashMap::new();
    let mut followed = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        for (pid, ppid) in tree::descendants(root) {
            if active.contains_key(&pid) {
                continue;
            }
            let command = tree::command_line(pid);
            if command.is_empty() || done.get(&pid) == Some(&command) {
                continue;
            }
            done.remove(&pid);
            let thread = spawn_follower(pid, ppid, command.clone(), how, stop, start);
            active.insert(pid, Active { command, thread });
        }
        let finished: Vec<u32> = active
            .iter()
            .filter(|(_, a)| a.thread.is_finished())
            .map(|(&pid, _)| pid)
            .collect();
        for pid in finished {
            let a = active.remove(&pid).expect("listed above");
            done.insert(pid, a.command);
            followed.extend(a.thread.join().ok());
        }
        let seen_any = !active.is_empty() || !done.is_empty();
        std::thread::sleep(if seen_any { POLL } else { POLL_BEFORE });
    }
    followed.extend(active.into_values().filter_map(|a| a.thread.join().ok()));
    followed
}

fn spawn_follower(
    pid: u32,
    ppid: u32,
    command: Vec<String>,
    how: &Following,
    stop: &Arc<AtomicBool>,
    start: Instant,
) -> JoinHandle<Followed> {
    let stop = Arc::clone(stop);
    let (settings, hide, seen_file) = (how.settings, how.hide, how.seen_file.clone());
    let run = move || {
        let mut start_s = start.elapsed().as_secs_f64();
        let capture = attach(pid, &command, &stop).map(|target| {
            start_s = start.elapsed().as_secs_f64();
            if let Some(path) = &seen_file {
                let _ = std::fs::write(path, b"");
            }
            let mut sampler = Sampler::new(target, settings, hide);
            let mut builder = CaptureBuilder::new();
            let elapsed = sampler.run(&mut builder, &stop, || {
                tree::alive(pid) && tree::command_line(pid) == command
            });
            builder.finish(sampler.meta(elapsed, 0.0))
        });
        Followed {
            pid,
            ppid,
            command,
            start_s,
            end_s: start.elapsed().as_secs_f64(),
            capture,
        }
    };
    std::thread::Builder::new()
        .name(format!("snakescope-{pid}"))
        .spawn(run)
        .expect("a thread for sampling a child process")
}

/// Attaches to `pid` once its interpreter can be read: at once for a
/// forked Python process, after some retries for a spawned one. `None`
/// when it exits, `exec`s, is not Python, or the recording stops first.
fn attach(pid: u32, command: &[String], stop: &AtomicBool) -> Option<Target> {
    let first = Instant::now();
    loop {
        match Target::attach(pid) {
            Ok(target) => return Some(target),
            Err(e) if !e.may_be_transient() => return None,
            Err(_) => {}
        }
        let waited = first.elapsed();
        if stop.load(Ordering::Relaxed)
            || waited > ATTACH_PATIENCE
            || !tree::alive(pid)
            || tree::command_line(pid) != command
        {
            return None;
        }
        let pause = if waited < Duration::from_millis(300) {
            1
        } else {
            20
        };
        std::thread::sleep(Duration::from_millis(pause));
    }
}
