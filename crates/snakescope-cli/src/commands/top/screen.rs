//! What one frame of `top` shows, read from the live windows: the functions
//! by self and total share over the sliding window and since the start, the
//! threads and their state, and the sampling rate achieved. The terminal
//! view (`tui.rs`) draws it; `--once` prints it as text ([`Screen::text`]).

use super::heap::Heap;
use super::live::Live;
use snakescope_model::{FrameCounts, WindowSnapshot};
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::Ordering;

/// What the functions are sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    SelfShare,
    Total,
}

/// Which span sorts the functions (both are shown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    Window,
    SinceStart,
}

/// The view's choices.
#[derive(Debug, Clone, Copy)]
pub struct ViewState {
    pub sort: SortBy,
    pub span: Span,
    /// One thread alone, or every thread.
    pub thread: Option<u64>,
}

/// One function's row: its counts in the window and since the start.
#[derive(Debug, Clone, Default)]
pub struct Row {
    pub name: String,
    pub file: String,
    pub window: (u64, u64),
    pub since_start: (u64, u64),
}

/// One thread's row.
#[derive(Debug, Clone)]
pub struct ThreadRow {
    pub tid: u64,
    pub name: String,
    /// `active`, `idle` or `gil` (active and holding the GIL).
    pub state: &'static str,
    /// Samples in the window, and of them those holding the GIL.
    pub samples: u64,
    pub gil: u64,
}

/// One frame.
#[derive(Debug, Clone)]
pub struct Screen {
    pub title: String,
    pub elapsed_s: f64,
    pub window_s: f64,
    pub asked_hz: f64,
    pub achieved_hz: f64,
    pub window_samples: u64,
    pub since_samples: u64,
    pub rows: Vec<Row>,
    pub threads: Vec<ThreadRow>,
    pub view: ViewState,
    /// The heap panel (`run --live` with memory tracked).
    pub heap: Option<Heap>,
}

/// A thread is active when it had a sample this recently.
const ACTIVE_NS: u64 = 1_000_000_000;

impl Screen {
    pub fn read(live: &Live, view: ViewState) -> Screen {
        let snap = |reader: &snakescope_model::WindowReader| match view.thread {
            Some(tid) => reader.snapshot_thread(tid),
            None => reader.snapshot(),
        };
        let (window, since) = (snap(&live.recent), snap(&live.since_start));
        let now_ns = live.ticks.now_ns.load(Ordering::Relaxed);
        Screen {
            title: title(live),
            elapsed_s: now_ns as f64 / 1e9,
            window_s: live.window.as_secs_f64(),
            asked_hz: live.settings.rate_hz,
            achieved_hz: live.achieved_hz(),
            window_samples: window.samples,
            since_samples: since.samples,
            rows: rows(&window, &since, view),
            threads: threads(&window, &since, now_ns),
            view,
            heap: live.heap.lock().unwrap_or_else(|e| e.into_inner()).clone(),
        }
    }

    /// The frame as plain text (`--once`), with at most `top` functions.
    pub fn text(&self, top: usize) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "snakescope top: {}", self.title);
        let _ = writeln!(
            out,
            "sampled {:.1} s at {:.0} Hz (asked {:.0} Hz); window: last {:.1} s, {} samples; since start: {} samples",
            self.elapsed_s, self.achieved_hz, self.asked_hz, self.window_s,
            self.window_samples, self.since_samples
        );
        if let Some(heap) = &self.heap {
            out.push('\n');
            out.push_str(&heap.text());
        }
        let _ = writeln!(
            out,
            "\nTHREAD      NAME                 STATE   SAMPLES  GIL%"
        );
        for t in &self.threads {
            let _ = writeln!(
                out,
                "{:<11} {:<20} {:<7} {:>7} {:>5}",
                t.tid,
                clip(&t.name, 20),
                t.state,
                t.samples,
                share(t.gil, t.samples)
            );
        }
        let _ = writeln!(
            out,
            "\n{:>6} {:>7} {:>7} {:>7} | {:>6} {:>7}  FUNCTION (FILE)",
            "SELF%", "TOTAL%", "SELF", "TOTAL", "SELF%", "TOTAL%"
        );
        let _ = writeln!(
            out,
            "{:^30} | {:^15}",
            format!("last {:.1} s", self.window_s),
            "since start"
        );
        for r in self.rows.iter().take(top) {
            let (w, s) = (r.window, r.since_start);
            let _ = writeln!(
                out,
                "{:>6} {:>7} {:>7} {:>7} | {:>6} {:>7}  {} ({})",
                share(w.0, self.window_samples),
                share(w.1, self.window_samples),
                w.0,
                w.1,
                share(s.0, self.since_samples),
                share(s.1, self.since_samples),
                r.name,
                r.file
            );
        }
        out
    }
}

/// `n` of `of` in percent, one decimal.
pub fn share(n: u64, of: u64) -> String {
    if of == 0 {
        return "-".to_owned();
    }
    format!("{:.1}", 100.0 * n as f64 / of as f64)
}

fn clip(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_owned();
    }
    let mut clipped: String = s.chars().take(width.saturating_sub(1)).collect();
    clipped.push('…');
    clipped
}

fn title(live: &Live) -> String {
    let what = if live.command.is_empty() {
        format!("pid {}", live.pid)
    } else {
        format!("`{}` (pid {})", live.command.join(" "), live.pid)
    };
    let state = if super::process_alive(live.pid) {
        "running"
    } else {
        "ended"
    };
    let version = live.python_version.get().map_or("?", String::as_str);
    format!("{what}, Python {version}, {state}")
}

type Key = (String, String);

fn key(c: &FrameCounts) -> Key {
    (c.frame.display_name().to_owned(), c.frame.file.clone())
}

/// Every function of either span, sorted as the view asks.
fn rows(window: &WindowSnapshot, since: &WindowSnapshot, view: ViewState) -> Vec<Row> {
    let mut by_key: HashMap<Key, Row> = HashMap::new();
    for (snap, in_window) in [(window, true), (since, false)] {
        for c in &snap.frames {
            let (name, file) = key(c);
            let row = by_key.entry((name.clone(), file.clone())).or_insert(Row {
                name,
                file,
                ..Row::default()
            });
            let counts = if in_window {
                &mut row.window
            } else {
                &mut row.since_start
            };
            counts.0 += c.self_count;
            counts.1 += c.total;
        }
    }
    let mut rows: Vec<Row> = by_key.into_values().collect();
    let sort_key = |r: &Row| {
        let (s, t) = match view.span {
            Span::Window => r.window,
            Span::SinceStart => r.since_start,
        };
        match view.sort {
            SortBy::SelfShare => (s, t),
            SortBy::Total => (t, s),
        }
    };
    rows.sort_by(|a, b| {
        sort_key(b)
            .cmp(&sort_key(a))
            .then_with(|| (&a.name, &a.file).cmp(&(&b.name, &b.file)))
    });
    rows
}

/// Every thread seen, with its state now and its samples in the window.
fn threads(window: &WindowSnapshot, since: &WindowSnapshot, now_ns: u64) -> Vec<ThreadRow> {
    let names: HashMap<u64, &String> = since.threads.iter().map(|(t, n)| (*t, n)).collect();
    since
        .activity
        .iter()
        .map(|a| {
            let in_window = window.activity.iter().find(|w| w.tid == a.tid);
            let recent = now_ns.saturating_sub(a.last_ns) <= ACTIVE_NS;
            let state = match (recent && !a.last_idle, a.last_gil) {
                (false, _) => "idle",
                (true, true) => "gil",
                (true, false) => "active",
            };
            ThreadRow {
                tid: a.tid,
                name: names.get(&a.tid).map_or_else(String::new, |n| (*n).clone()),
                state,
                samples: in_window.map_or(0, |w| w.samples),
                gil: in_window.map_or(0, |w| w.gil),
            }
        })
        .collect()
}
