//! The asyncio task table (`record --async`, `run`): per task, its time
//! running and waiting, and the `await` it waited at most, with what that
//! awaited.

use snakescope_model::{AsyncTasks, Capture};
use std::io::{self, Write};

/// Tasks shown, the most running first.
const ROWS: usize = 30;

pub(super) fn write_tasks(
    capture: &Capture,
    tasks: &AsyncTasks,
    out: &mut dyn Write,
) -> io::Result<()> {
    if tasks.tasks.is_empty() {
        return writeln!(out, "  no task seen ({} instants read)", tasks.ticks);
    }
    let period = capture.meta.sample_period_s().unwrap_or(0.0);
    let mut rows: Vec<_> = tasks.tasks.iter().collect();
    rows.sort_by_key(|t| std::cmp::Reverse((t.running, t.waiting)));
    let width = rows
        .iter()
        .map(|t| t.name.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 30);
    writeln!(
        out,
        "  {:>9}  {:>9}  {:width$}  coroutine / waits at (awaiting)",
        "running", "waiting", "task"
    )?;
    for task in rows.iter().take(ROWS) {
        let at = task.awaits.first().map(|a| {
            let place = a
                .frames
                .last()
                .and_then(|&f| capture.frames.get(f))
                .map_or_else(String::new, |f| format!("{}:{}", short(&f.file), f.line));
            match a.awaiting.as_str() {
                "" => format!("  {place}"),
                what => format!("  {place} ({what})"),
            }
        });
        writeln!(
            out,
            "  {:>8.3}s  {:>8.3}s  {:width$}  {}(){}",
            task.running as f64 * period,
            task.waiting as f64 * period,
            task.name,
            task.coroutine,
            at.unwrap_or_default(),
        )?;
    }
    if rows.len() > ROWS {
        writeln!(out, "  … and {} more tasks", rows.len() - ROWS)?;
    }
    Ok(())
}

/// A file's last component.
fn short(file: &str) -> &str {
    file.rsplit('/').next().unwrap_or(file)
}

#[cfg(test)]
mod tests {
    use super::write_tasks;
    use crate::fixture;
    use snakescope_model::{AsyncTasks, AwaitRecord, TaskRecord, TASKS_VERSION};

    #[test]
    fn a_row_per_task_the_busiest_first() {
        let mut capture = fixture::capture();
        capture.meta.requested_rate_hz = 100.0;
        let tasks = AsyncTasks {
            version: TASKS_VERSION,
            ticks: 300,
            tasks: vec![
                TaskRecord {
                    name: "idle".into(),
                    coroutine: "sleeper".into(),
                    root_frame: None,
                    running: 0,
                    waiting: 300,
                    awaits: vec![AwaitRecord {
                        frames: vec![0],
                        awaiting: "_asyncio.Future".into(),
                        count: 300,
                    }],
                },
                TaskRecord {
                    name: "busy".into(),
                    coroutine: "worker".into(),
                    root_frame: None,
                    running: 200,
                    waiting: 100,
                    awaits: vec![],
                },
            ],
        };
        let mut out = Vec::new();
        write_tasks(&capture, &tasks, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[1].contains("2.000s") && lines[1].contains("busy  worker()"),
            "{text}"
        );
        assert!(
            lines[2].contains("3.000s") && lines[2].contains("(_asyncio.Future)"),
            "{text}"
        );
    }
}
