//! `--async`: where the sampled interpreter's C `Task` keeps its fields,
//! asked of that interpreter itself (`python/snakescope/_asyncprobe.py`:
//! `TaskObj` is private to `_asynciomodule.c`, so no header says). Asked in
//! a thread of its own while sampling starts; the sampler follows tasks
//! from the moment the answer arrives.

use crate::commands::dis::table::{executable_of, interpreter_command, Executable};
use serde_json::Value;
use snakescope_model::{AsyncTasks, Capture};
use snakescope_remote::{Sampler, SamplerHooks, TaskLayout, TaskLists};
use snakescope_unwind::MemoryReader;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The probe's Python code (runs with `-I`: nothing of snakescope imported).
const PROBE_CODE: &str = include_str!("../../../../python/snakescope/_asyncprobe.py");

/// The layout as it arrives, and the thread asking (its error, if any).
pub(crate) struct Asking {
    pub layout: Receiver<TaskLayout>,
    pub thread: JoinHandle<Result<(), String>>,
}

/// Starts asking the interpreter of process `pid` (Python `version`).
pub(crate) fn ask(pid: u32, version: String) -> Asking {
    let (send, layout) = channel();
    let python = executable_of(pid);
    let thread = std::thread::spawn(move || {
        let python = python.ok_or("the target's executable cannot be read")?;
        let layout = parse(&probe(&python)?, &version)?;
        let _ = send.send(layout);
        Ok(())
    });
    Asking { layout, thread }
}

/// The probe's output (JSON) from the interpreter `python`.
fn probe(python: &Executable) -> Result<Vec<u8>, String> {
    probe_until(python, &AtomicBool::new(false)).map(Option::unwrap_or_default)
}

/// The probe's answer when it succeeded, else its last line of error.
fn checked(python: &Executable, output: Output) -> Result<Vec<u8>, String> {
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().last().unwrap_or("no message");
        return Err(format!("`{}`: {last}", python.path.display()));
    }
    Ok(output.stdout)
}

/// `run`: asks `python`, the interpreter about to run the program, in a
/// thread (the program starts meanwhile), and puts its answer at `path`
/// whole (written aside, then renamed): the probe's JSON, or
/// `{"error": …}`. The agent inside the program waits for it
/// ([`wait_for_layout`]). A probe still running when the program has
/// ended is killed ([`Probing::finish`]): its answer has no use then, and
/// waiting for it (asyncio's import, ~70 ms) would be most of a short
/// program's cost.
pub(crate) fn probe_to_file(python: &str, path: PathBuf) -> Probing {
    let python = Executable::at(python);
    let ended = Arc::new(AtomicBool::new(false));
    let thread = {
        let (ended, path) = (ended.clone(), path.clone());
        std::thread::spawn(move || {
            let answer = match probe_until(&python, &ended) {
                Ok(None) => return,
                Ok(Some(json)) => json,
                Err(why) => serde_json::json!({ "error": why }).to_string().into_bytes(),
            };
            let aside = path.with_extension("part");
            if std::fs::write(&aside, answer).is_ok() {
                let _ = std::fs::rename(&aside, &path);
            }
        })
    };
    Probing {
        thread,
        ended,
        path,
    }
}

/// [`probe_to_file`]'s probe, running.
pub(crate) struct Probing {
    thread: JoinHandle<()>,
    ended: Arc<AtomicBool>,
    path: PathBuf,
}

impl Probing {
    /// The program has ended: stops the probe if it still runs, and removes its answer.
    pub(crate) fn finish(self) {
        self.ended.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// How often [`probe_until`] looks whether the probe or the program ended.
const PROBE_POLL: Duration = Duration::from_millis(5);

/// [`probe`], given up (the probe killed, `None`) once `ended` is set.
fn probe_until(python: &Executable, ended: &AtomicBool) -> Result<Option<Vec<u8>>, String> {
    let cannot = |e: std::io::Error| format!("cannot run `{}`: {e}", python.path.display());
    let mut child = interpreter_command(python, PROBE_CODE)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(cannot)?;
    loop {
        if child.try_wait().map_err(cannot)?.is_some() {
            // (Its answer is a few hundred bytes: it fits the pipe, so it
            // could end without being read.)
            return checked(python, child.wait_with_output().map_err(cannot)?).map(Some);
        }
        if ended.load(Ordering::Relaxed) {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(PROBE_POLL);
    }
}

/// How long the agent waits for `run`'s probe.
const LAYOUT_WAIT: Duration = Duration::from_secs(30);

/// The agent's side of [`probe_to_file`]: the layout once the file is
/// there (polled every 20 ms, for at most 30 s), checked against the
/// `version` running.
pub fn wait_for_layout(path: &Path, version: &str) -> Result<TaskLayout, String> {
    let start = Instant::now();
    loop {
        if let Ok(json) = std::fs::read(path) {
            let v: Value = serde_json::from_slice(&json).map_err(|e| e.to_string())?;
            if let Some(why) = v["error"].as_str() {
                return Err(why.to_owned());
            }
            return parse(&json, version);
        }
        if start.elapsed() > LAYOUT_WAIT {
            return Err("the probe did not answer".to_owned());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts asking when `on`, and has the sampler follow tasks once answered.
pub(crate) fn follow<R: MemoryReader, H: SamplerHooks>(
    on: bool,
    sampler: &mut Sampler<R, H>,
    pid: u32,
    version: String,
) -> Option<JoinHandle<Result<(), String>>> {
    if !on {
        return None;
    }
    let asking = ask(pid, version);
    sampler.follow_tasks_from(asking.layout);
    Some(asking.thread)
}

/// Puts the task table into the capture, or says in one line why there is none.
pub(crate) fn add_recorded(
    capture: &mut Capture,
    asking: Option<JoinHandle<Result<(), String>>>,
    tasks: Option<AsyncTasks>,
    quiet: bool,
) {
    let Some(asking) = asking else { return };
    let why = match asking.join() {
        Ok(Err(why)) => Some(why),
        Err(_) => Some("the probe failed".to_owned()),
        Ok(Ok(())) => None,
    };
    if let Some(why) = why {
        crate::stderr_line(format_args!(
            "snakescope: --async: no task table ({why}); the stacks are the threads' own"
        ));
        return;
    }
    match tasks {
        Some(mut tasks) => {
            tasks.count_running(&capture.stacks);
            capture.tasks = Some(tasks);
        }
        None if !quiet => crate::stderr_line(format_args!(
            "snakescope: --async: the program ended before its tasks could be read"
        )),
        None => {}
    }
}

/// The probe's JSON, checked: the version sampled, every offset inside
/// the task, the fields at distinct offsets.
pub fn parse(json: &[u8], version: &str) -> Result<TaskLayout, String> {
    let v: Value = serde_json::from_slice(json).map_err(|e| format!("no task layout: {e}"))?;
    let probed = v["python_version"].as_str().unwrap_or("");
    if !probed.split('.').take(2).eq(version.split('.').take(2)) {
        return Err(format!(
            "the probe ran Python {probed}, not the {version} sampled"
        ));
    }
    let num = |key: &str| -> Result<u64, String> {
        v[key]
            .as_u64()
            .ok_or(format!("the task layout has no `{key}`"))
    };
    let size = num("task_size")?;
    let fields = [num("coro")?, num("waiter")?, num("loop")?, num("name")?];
    let state = num("state")?;
    let mut distinct = fields.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    if size > 4096
        || distinct.len() != fields.len()
        || fields.iter().any(|&f| f < 16 || f % 8 != 0 || f + 8 > size)
        || state + 4 > size
    {
        return Err(format!("an implausible task layout: {v}"));
    }
    let frame = &v["frame"];
    let registries: Vec<(String, bool)> = v["registries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| Some((e["name"].as_str()?.to_owned(), e["weak"].as_bool()?)))
        .collect();
    let lists = task_lists(&v["lists"], size, &fields, state)?;
    if registries.is_empty() && lists.is_none() {
        return Err("the probe found no task registry nor task list".to_owned());
    }
    Ok(TaskLayout {
        size,
        coro: fields[0],
        waiter: fields[1],
        event_loop: fields[2],
        name: fields[3],
        state,
        frame_embedded: frame["embedded"].as_bool().ok_or("no frame field")?,
        frame: frame["offset"].as_u64().ok_or("no frame offset")?,
        registries,
        lists,
    })
}

/// Farthest a list's head may be from the start of a thread state, and of
/// an interpreter state (as the probe checks).
const THREAD_SPAN: u64 = 1 << 16;
const INTERP_SPAN: u64 = 1 << 20;

/// 3.14+: the probe's `lists` (absent before), checked: the node (two
/// words) inside the task and clear of the other fields, the heads aligned
/// and within their states.
fn task_lists(
    v: &Value,
    size: u64,
    fields: &[u64],
    state: u64,
) -> Result<Option<TaskLists>, String> {
    if v.is_null() {
        return Ok(None);
    }
    let num = |key: &str| {
        v[key]
            .as_u64()
            .ok_or(format!("the task lists have no `{key}`"))
    };
    let lists = TaskLists {
        node: num("node")?,
        thread_head: num("thread_head")?,
        interp_head: num("interp_head")?,
    };
    let node = lists.node..lists.node.saturating_add(16);
    let aligned = [lists.node, lists.thread_head, lists.interp_head]
        .iter()
        .all(|o| o % 8 == 0);
    if !aligned
        || lists.node < 16
        || node.end > size
        || fields.iter().any(|f| node.contains(f))
        || node.contains(&state)
        || !(1..THREAD_SPAN).contains(&lists.thread_head)
        || !(1..INTERP_SPAN).contains(&lists.interp_head)
    {
        return Err(format!("implausible task lists: {v}"));
    }
    Ok(Some(lists))
}

#[cfg(test)]
mod tests {
    use super::parse;

    const PROBED: &str = r#"{"python_version": "3.12.1", "task_type": "_asyncio.Task", "task_size": 176, "coro": 136, "waiter": 128, "loop": 16, "name": 144, "state": 88, "frame": {"embedded": true, "offset": 72}, "registries": [{"name": "_scheduled_tasks", "weak": true}, {"name": "_eager_tasks", "weak": false}]}"#;

    #[test]
    fn a_probed_layout_is_read_and_checked() {
        let layout = parse(PROBED.as_bytes(), "3.12.9").unwrap();
        assert_eq!((layout.coro, layout.waiter, layout.state), (136, 128, 88));
        assert_eq!(layout.registries.len(), 2);
        let err = parse(PROBED.as_bytes(), "3.11.7").unwrap_err();
        assert!(err.contains("not the 3.11.7 sampled"), "{err}");
        let clash = PROBED.replace("\"name\": 144", "\"name\": 136");
        assert!(parse(clash.as_bytes(), "3.12.1")
            .unwrap_err()
            .contains("implausible"));
        let outside = PROBED.replace("\"coro\": 136", "\"coro\": 176");
        assert!(parse(outside.as_bytes(), "3.12.1")
            .unwrap_err()
            .contains("implausible"));
        let none = PROBED.replace("\"registries\": [", "\"registries\": [], \"other\": [");
        assert!(parse(none.as_bytes(), "3.12.1")
            .unwrap_err()
            .contains("no task registry nor task list"));
    }

    /// 3.14.10's answer (Debian's build): what its `_AsyncioDebug` section says too.
    const LISTED: &str = r#"{"python_version": "3.14.10", "task_type": "_asyncio.Task", "task_size": 168, "coro": 128, "waiter": 120, "loop": 16, "name": 136, "state": 104, "frame": {"embedded": true, "offset": 72}, "registries": [], "lists": {"node": 152, "thread_head": 880, "interp_head": 10880}}"#;

    #[test]
    fn task_lists_are_read_and_checked() {
        let layout = parse(LISTED.as_bytes(), "3.14.0").unwrap();
        let lists = layout.lists.unwrap();
        assert_eq!(
            (lists.node, lists.thread_head, lists.interp_head),
            (152, 880, 10880)
        );
        assert!(layout.registries.is_empty());
        for (from, to) in [
            ("\"node\": 152", "\"node\": 160"), // past the task's end
            ("\"node\": 152", "\"node\": 120"), // over the awaited future
            ("\"node\": 152", "\"node\": 148"), // unaligned
            ("\"thread_head\": 880", "\"thread_head\": 0"),
            ("\"interp_head\": 10880", "\"interp_head\": 2000000"),
        ] {
            let bad = LISTED.replace(from, to);
            let err = parse(bad.as_bytes(), "3.14.0").unwrap_err();
            assert!(err.contains("implausible task lists"), "{to}: {err}");
        }
        let partial = LISTED.replace(", \"interp_head\": 10880", "");
        let err = parse(partial.as_bytes(), "3.14.0").unwrap_err();
        assert!(err.contains("no `interp_head`"), "{err}");
    }
}
