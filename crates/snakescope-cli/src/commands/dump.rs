//! `snakescope dump`: the current Python stack of every thread of a process.

use crate::args::DumpArgs;
use crate::commands::attach_error;
use crate::UserError;
use serde_json::json;
use snakescope_formats::printable::escape_controls;
use snakescope_model::CaptureBuilder;
use snakescope_remote::{thread_name, StackWalk, Target, TaskState, Tasks};
use snakescope_unwind::WalkError;
use std::io::Write;

/// Attempts at reading a consistent set of stacks while the target runs on.
const ATTEMPTS: usize = 20;

struct ThreadStack {
    tid: u64,
    name: Option<String>,
    idle: bool,
    gil: Option<bool>,
    frames: Vec<serde_json::Value>,
}

pub fn run(args: &DumpArgs) -> anyhow::Result<u8> {
    let mut target = Target::attach(args.pid).map_err(attach_error)?;
    if !target.tested() {
        note(&super::record::untested_note(&target));
    }
    let stacks = read_consistent(&mut target)?;
    crate::to_stdout(|out| match args.json {
        true => print_json(out, &stacks),
        false => print_text(out, &target, &stacks),
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
            .filter_map(|&id| sink.frame(id))
            .map(|f| json!({"function": f.function, "qualname": f.qualname, "file": f.file, "line": f.line}))
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
    let value: Vec<_> = stacks
        .iter()
        .map(|s| json!({"tid": s.tid, "name": s.name, "idle": s.idle, "gil": s.gil, "frames": s.frames}))
        .collect();
    serde_json::to_writer_pretty(&mut *out, &value)?;
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
            let line = f["line"].as_u64().unwrap_or(0);
            writeln!(
                out,
                "    {} ({}:{line})",
                escape_controls(f["qualname"].as_str().unwrap_or("?")),
                escape_controls(f["file"].as_str().unwrap_or("?"))
            )?;
        }
    }
    Ok(())
}

fn note(message: &str) {
    crate::stderr_line(format_args!("snakescope: {message}"));
}
