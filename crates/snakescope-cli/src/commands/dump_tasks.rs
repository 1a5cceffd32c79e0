//! `dump --async`: the asyncio task tree of a running process. Each pending
//! task with its coroutine and where it is: running on a thread, or
//! suspended at an `await` line and what that awaits; a task awaited by
//! another is shown under it.

use crate::commands::tasks;
use crate::UserError;
use snakescope_formats::printable::escape_controls;
use snakescope_remote::{StackWalk, Target};
use snakescope_unwind::{type_name, FrameRef, TaskFinder, TaskInfo};
use std::io::Write;

/// One task as the tree shows it.
pub(crate) struct Row {
    task: TaskInfo,
    coroutine: String,
    /// "running on thread N" or "at FILE:LINE".
    place: String,
    /// The awaited task's index in the rows, or the awaited object's type.
    awaits: Result<usize, String>,
}

/// The task layout asked of the target's interpreter, then one read of the
/// tasks: the rows, or one line saying why there are none.
pub(crate) fn read_rows(target: &mut Target) -> anyhow::Result<Vec<Row>> {
    let asking = tasks::ask(target.pid, target.version.to_string());
    let answer = asking
        .thread
        .join()
        .unwrap_or_else(|_| Err("the probe failed".into()));
    let layout = answer.and_then(|()| {
        asking
            .layout
            .try_recv()
            .map_err(|_| "the probe gave no layout".to_owned())
    });
    let layout = layout.map_err(|why| {
        UserError::new(format!("--async: cannot read the tasks ({why})"))
            .with_hint("`snakescope dump` without --async prints the threads' stacks")
    })?;
    let threads = target.walker.threads(&target.reader)?;
    let mut finder = TaskFinder::new(layout);
    let found = finder.tasks(&target.walker, &target.reader, &threads);
    // Which thread runs which frame: the running tasks' coroutine frames.
    let mut running: Vec<(u64, u64)> = Vec::new();
    let mut walk = StackWalk::new();
    for t in threads {
        if walk.walk(&mut target.walker, &target.reader, &t).is_ok() {
            running.extend(
                walk.refs()
                    .iter()
                    .map(|f: &FrameRef| (f.frame, t.native_id)),
            );
        }
    }
    let mut rows = Vec::new();
    for task in &found {
        let on = running
            .iter()
            .find(|(f, _)| *f == task.frame)
            .map(|(_, tid)| *tid);
        let (place, line_code) = match on {
            Some(tid) => (format!("running on thread {tid}"), task.code),
            None => match target.walker.suspended_frame(&target.reader, task.frame) {
                Ok(f) => (place_of(target, &f), f.code),
                Err(_) => ("(its frame changed while read)".to_owned(), task.code),
            },
        };
        let coroutine = target
            .walker
            .code(line_code)
            .map_or_else(|| "?".to_owned(), |c| c.qualname.clone());
        let awaits = match found
            .iter()
            .position(|t| t.addr == task.waiter && task.waiter != 0)
        {
            Some(i) => Ok(i),
            None if task.waiter == 0 => Err(String::new()),
            None => Err(
                type_name(&target.reader, target.walker.layout(), task.waiter)
                    .unwrap_or_else(|| "?".to_owned()),
            ),
        };
        rows.push(Row {
            task: task.clone(),
            coroutine,
            place,
            awaits,
        });
    }
    Ok(rows)
}

fn place_of(target: &Target, f: &FrameRef) -> String {
    match target.walker.code(f.code) {
        Some(c) => format!("at {}:{}", c.filename, f.line),
        None => "at ?".to_owned(),
    }
}

/// Prints the task tree after the threads.
pub(crate) fn print(out: &mut dyn Write, rows: &[Row]) -> std::io::Result<()> {
    writeln!(out, "\nasyncio tasks ({})", rows.len())?;
    if rows.is_empty() {
        writeln!(out, "    (no pending task)")?;
    }
    // Roots: tasks no other task awaits.
    let awaited: Vec<usize> = rows.iter().filter_map(|r| r.awaits.clone().ok()).collect();
    let mut shown = vec![false; rows.len()];
    for i in (0..rows.len()).filter(|i| !awaited.contains(i)) {
        print_row(out, rows, i, 1, &mut shown)?;
    }
    // Tasks awaiting each other in a cycle have no root: shown flat.
    for i in 0..rows.len() {
        if !shown[i] {
            print_row(out, rows, i, 1, &mut shown)?;
        }
    }
    Ok(())
}

fn print_row(
    out: &mut dyn Write,
    rows: &[Row],
    i: usize,
    depth: usize,
    shown: &mut [bool],
) -> std::io::Result<()> {
    if std::mem::replace(&mut shown[i], true) {
        return Ok(());
    }
    let r = &rows[i];
    let indent = "    ".repeat(depth);
    let what = match &r.awaits {
        Ok(t) => format!(" awaiting task {}", escape_controls(&rows[*t].task.name)),
        Err(ty) if ty.is_empty() => String::new(),
        Err(ty) => format!(" awaiting {}", escape_controls(ty)),
    };
    writeln!(
        out,
        "{indent}{} {}() {}{what}",
        escape_controls(&r.task.name),
        escape_controls(&r.coroutine),
        escape_controls(&r.place)
    )?;
    // Below a task: the task it awaits.
    if let Ok(t) = r.awaits {
        print_row(out, rows, t, depth + 1, shown)?;
    }
    Ok(())
}
