//! `snakescope dump`: the current Python stack of every thread of a process.

use crate::args::DumpArgs;
use crate::commands::attach_error;
use crate::UserError;
use schemars::JsonSchema;
use serde::Serialize;
use snakescope_formats::printable::escape_controls;
use snakescope_model::{CaptureBuilder, Frame};
use snakescope_remote::{thread_name, StackWalk, Target, TaskState, Tasks};
use snakescope_unwind::WalkError;
use std::io::Write;

/// Attempts at reading a consistent set of stacks while the target runs on.
const ATTEMPTS: usize = 20;

/// One thread of `dump --json`'s array (`docs/dump.schema.json`).
#[derive(Serialize, JsonSchema)]
pub(crate) struct ThreadStack {
    /// The OS thread id (what `ps -L` shows).
    tid: u64,
    /// The Python `threading` name when known, else the OS name, else null.
    name: Option<String>,
    /// Not on a CPU and not holding the GIL.
    idle: bool,
    /// Holds the GIL; null on a free-threaded build, which has none.
    gil: Option<bool>,
    /// The thread's Python stack, innermost first.
    frames: Vec<Frame>,
}

pub fn run(args: &DumpArgs) -> anyhow::Result<u8> {
    if args.async_tasks && args.json {
        return Err(
            UserError::new("`--async` prints the task tree as text: not with --json")
                .with_hint("drop --json to see the tasks: `snakescope dump --async --pid PID`")
                .into(),
        );
    }
    let mut target = Target::attach(args.pid).map_err(attach_error)?;
    if !target.tested() {
        note(&super::record::untested_note(&target));
    }
    let stacks = read_consistent(&mut target)?;
    let tasks = match args.async_tasks {
        true => Some(super::dump_tasks::read_rows(&mut target)?),
        false => None,
    };
    crate::to_stdout(|out| match args.json {
        true => print_json(out, &stacks),
        false => {
            print_text(out, &target, &stacks)?;
            match &tasks {
                Some(rows) => super::dump_tasks::print(out, rows),
                None => Ok(()),
            }
        }
    })?;
    Ok(0)
}

fn read_consistent(target: &mut Target) -> anyhow::Result<Vec<ThreadStack>> {
    let mut last = None;
    for _ in 0..ATTEMPTS {
        match read_once(target) {
            Ok(stacks) => return Ok(stacks),
            Err(e) => last = Some(e),
        }
    }
    let why = last.map_or_else(String::new, |e| e.to_string());
    Err(UserError::new(format!(
        "could not read a consistent stack from process `{}`: {why}",
        target.pid
    ))
    .into())
}

fn read_once(target: &mut Target) -> Result<Vec<ThreadStack>, WalkError> {
    let tasks = &mut Tasks::new(target.pid);
    let threads = target.walker.threads(&target.reader)?;
    let python_names = target.walker.thread_names(&target.reader);
    let mut stacks = Vec::new();
    // The frames go through the same path as the sampler's, into a sink
    // that only keeps them.
    let mut sink = CaptureBuilder::new();
    let mut walk = StackWalk::new();
    for t in threads {
        let ids = walk.walk_into(&mut target.walker, &target.reader, &t, &mut sink)?;
        let frames = ids
            .iter()
            .rev()
            .filter_map(|&id| sink.frame(id).cloned())
            .collect();
        let idle = t.holds_gil != Some(true) && tasks.state(t.native_id) != TaskState::Running;
        let name = python_names
            .get(&t.thread_id)
            .cloned()
            .or_else(|| thread_name(tasks, target.pid, t.native_id));
        stacks.push(ThreadStack {
            tid: t.native_id,
            name,
            idle,
            gil: t.holds_gil,
            frames,
        });
    }
    Ok(stacks)
}

fn print_json(out: &mut dyn Write, stacks: &[ThreadStack]) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, stacks)?;
    writeln!(out)
}

fn print_text(out: &mut dyn Write, target: &Target, stacks: &[ThreadStack]) -> std::io::Result<()> {
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", target.pid)).unwrap_or_default();
    let cmdline: Vec<String> = cmdline
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    writeln!(
        out,
        "Process {}: {}",
        target.pid,
        escape_controls(&cmdline.join(" "))
    )?;
    writeln!(
        out,
        "Python {}{} ({})",
        target.version,
        if target.has_gil() {
            ""
        } else {
            ", free-threaded"
        },
        target.binary.display()
    )?;
    for s in stacks {
        let gil = match s.gil {
            Some(true) => ", holds GIL",
            Some(false) => "",
            None => ", GIL: n/a",
        };
        let name = s
            .name
            .as_deref()
            .map(|n| format!(" \"{}\"", escape_controls(n)))
            .unwrap_or_default();
        writeln!(
            out,
            "\nThread {}{name} ({}{gil})",
            s.tid,
            if s.idle { "idle" } else { "active" }
        )?;
        if s.frames.is_empty() {
            writeln!(out, "    (no Python frames)")?;
        }
        for f in &s.frames {
            writeln!(
                out,
                "    {} ({}:{})",
                escape_controls(f.qualname.as_deref().unwrap_or("?")),
                escape_controls(&f.file),
                f.line
            )?;
        }
    }
    Ok(())
}

fn note(message: &str) {
    crate::stderr_line(format_args!("snakescope: {message}"));
}

/// The JSON Schema of `dump --json`'s output (`docs/dump.schema.json`).
pub(crate) fn json_schema() -> serde_json::Value {
    let mut schema = snakescope_model::written_schema::<Vec<ThreadStack>>();
    schema["title"] = "snakescope dump --json".into();
    schema["description"] = "One entry per thread, frames innermost first \
        (docs/commands/dump.md). Generated from crates/snakescope-cli by `make schema`: \
        do not edit by hand. tests/python/test_dump.py validates every dump against it \
        (and that no tid appears twice, which a schema cannot say)."
        .into();
    // A process with an interpreter has at least its main thread.
    schema["minItems"] = 1.into();
    schema
}
