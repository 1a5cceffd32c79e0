//! The full-screen view (ratatui on crossterm), redrawn about once a second.
//!
//! Keys: `1` sort by self, `2` by total, `w` the sliding window or since the
//! start, `p` (or space) pause, `t` the next thread alone (then every thread
//! again), `s` write the capture so far, `q` (Esc, Ctrl-C) quit. No mouse.
//! The terminal is restored on every way out: quitting, a signal, an error,
//! a panic (a hook restores it before the panic message).

use super::live::Live;
use super::screen::{share, Screen, SortBy, Span, ViewState};
use crate::commands::output::{check_output_path, output_format};
use crate::launch::Signals;
use crate::UserError;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::crossterm::{cursor, execute, terminal};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Paragraph, Row, Table};
use ratatui::{Frame, Terminal};
use snakescope_formats::Format;
use std::path::PathBuf;
use std::process::Child;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How often the view reads the windows again.
const REFRESH: Duration = Duration::from_secs(1);

/// Where `s` writes.
pub struct Output {
    path: Option<PathBuf>,
    format: Format,
    pid: u32,
    written: u32,
}

impl Output {
    pub fn new(path: Option<PathBuf>, pid: u32) -> Result<Output, UserError> {
        if let Some(p) = &path {
            check_output_path(p)?;
        }
        let format = output_format(path.as_deref(), None, Format::Json)?;
        Ok(Output {
            path,
            format,
            pid,
            written: 0,
        })
    }

    /// The next file: the one given, else a fresh numbered name.
    fn next_path(&mut self) -> PathBuf {
        if let Some(p) = &self.path {
            return p.clone();
        }
        loop {
            self.written += 1;
            let p = PathBuf::from(format!("snakescope-top-{}-{}.json", self.pid, self.written));
            if !p.exists() {
                return p;
            }
        }
    }

    /// Writes the capture so far; the line to show.
    fn save(&mut self, live: &Live) -> String {
        let capture = live.capture_now();
        let path = self.next_path();
        let out = crate::write_profile::ProfileOutput {
            path: &path,
            format: self.format,
            quiet: true,
            summary: false,
            color: false,
            empty_because: "no thread was running Python code while sampled",
        };
        match crate::write_profile::write_profile(&capture, &out) {
            Ok(()) if path.exists() => format!(
                "wrote {} ({} samples)",
                path.display(),
                capture.total_samples()
            ),
            Ok(()) => "no samples yet: nothing written".to_owned(),
            Err(e) => format!("could not write {}: {e}", path.display()),
        }
    }
}

/// Leaves the terminal as it found it when dropped.
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        restore();
    }
}

fn restore() {
    let _ = terminal::disable_raw_mode();
    let _ = execute!(
        std::io::stdout(),
        terminal::LeaveAlternateScreen,
        cursor::Show
    );
}

/// Runs the view until the user quits (or a signal asks to); a command `top`
/// started that is still running is then sent SIGINT, as Ctrl-C would have.
pub fn run(
    live: &mut Live,
    mut view: ViewState,
    output: &mut Output,
    mut child: Option<&mut Child>,
    signals: &Signals,
    url: Option<&str>,
) -> anyhow::Result<()> {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
    }));
    terminal::enable_raw_mode()?;
    let _restore = Restore;
    execute!(
        std::io::stdout(),
        terminal::EnterAlternateScreen,
        cursor::Hide
    )?;
    let mut term = Terminal::new(CrosstermBackend::new(std::io::stdout()))?;
    let mut paused = false;
    let mut status = url.map_or_else(String::new, |u| format!("live page: {u}"));
    let mut screen = Screen::read(live, view);
    let mut last_read = Instant::now();
    let mut ended: Option<String> = None;
    loop {
        if ended.is_none() {
            ended = ended_note(live, child.as_deref_mut());
        }
        let message = ended.as_deref().unwrap_or(&status);
        term.draw(|f| draw(f, &screen, paused, message))?;
        if signals.interrupted.load(Ordering::Relaxed) || signals.terminated.load(Ordering::Relaxed)
        {
            break;
        }
        if event::poll(Duration::from_millis(100))? {
            if let Event::Key(key) = event::read()? {
                if key.kind != KeyEventKind::Press {
                    continue;
                }
                let ctrl_c =
                    key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c');
                match key.code {
                    _ if ctrl_c => break,
                    KeyCode::Char('q') | KeyCode::Esc => break,
                    KeyCode::Char('1') => view.sort = SortBy::SelfShare,
                    KeyCode::Char('2') => view.sort = SortBy::Total,
                    KeyCode::Char('w') => {
                        view.span = match view.span {
                            Span::Window => Span::SinceStart,
                            Span::SinceStart => Span::Window,
                        }
                    }
                    KeyCode::Char('p') | KeyCode::Char(' ') => paused = !paused,
                    KeyCode::Char('t') => view.thread = next_thread(&screen, view.thread),
                    KeyCode::Char('s') => status = output.save(live),
                    _ => {}
                }
                if !paused {
                    screen = Screen::read(live, view);
                    last_read = Instant::now();
                }
                continue;
            }
        }
        if !paused && last_read.elapsed() >= REFRESH {
            screen = Screen::read(live, view);
            last_read = Instant::now();
        }
    }
    drop(term);
    if let Some(child) = child {
        if matches!(child.try_wait(), Ok(None)) {
            if signals.terminated.load(Ordering::Relaxed) {
                crate::launch::forward_sigterm(child);
            } else {
                super::interrupt(child.id());
            }
        }
    }
    Ok(())
}

/// Once the program has ended: the line that says so.
fn ended_note(live: &Live, child: Option<&mut Child>) -> Option<String> {
    let code = match child {
        Some(child) => match child.try_wait() {
            Ok(Some(status)) => Some(crate::launch::status_code(status)),
            _ => return None,
        },
        None if live.finished() => None,
        None => return None,
    };
    let how = code.map_or(String::new(), |c| format!(" (exit status {c})"));
    Some(format!(
        "the program ended{how}: the view stays as it was; q quits"
    ))
}

/// The thread after `current` among those shown (after the last: every thread).
fn next_thread(screen: &Screen, current: Option<u64>) -> Option<u64> {
    let tids: Vec<u64> = screen.threads.iter().map(|t| t.tid).collect();
    match current.and_then(|c| tids.iter().position(|&t| t == c)) {
        None if current.is_none() => tids.first().copied(),
        None => None,
        Some(i) => tids.get(i + 1).copied(),
    }
}

fn draw(f: &mut Frame<'_>, screen: &Screen, paused: bool, message: &str) {
    let threads_height = (screen.threads.len() as u16).min(6) + 1;
    let heap_height = screen.heap.as_ref().map_or(0, |h| h.height() + 1);
    let [head, heap, threads, functions, foot] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(heap_height),
        Constraint::Length(threads_height + 1),
        Constraint::Min(3),
        Constraint::Length(2),
    ])
    .areas(f.area());
    f.render_widget(Paragraph::new(header(screen, paused)), head);
    if let Some(h) = &screen.heap {
        h.draw(f, heap);
    }
    f.render_widget(thread_table(screen), threads);
    f.render_widget(function_table(screen), functions);
    let keys =
        "1 sort by self  2 by total  w window/since start  p pause  t thread  s save  q quit";
    let footer = vec![Line::from(message.to_owned()), Line::from(keys)];
    f.render_widget(Paragraph::new(footer), foot);
}

fn header(screen: &Screen, paused: bool) -> Vec<Line<'static>> {
    let sort = match screen.view.sort {
        SortBy::SelfShare => "self",
        SortBy::Total => "total",
    };
    let span = match screen.view.span {
        Span::Window => format!("last {:.0} s", screen.window_s),
        Span::SinceStart => "since start".to_owned(),
    };
    let thread = screen
        .view
        .thread
        .map_or_else(|| "all threads".to_owned(), |t| format!("thread {t}"));
    let pause = if paused { "  [PAUSED]" } else { "" };
    vec![
        Line::from(format!("snakescope top: {}{pause}", screen.title)),
        Line::from(format!(
            "{:.0} Hz achieved (asked {:.0})  {:.0} s  samples: {} in the last {:.0} s, {} since start  sorted by {sort}, {span}, {thread}",
            screen.achieved_hz, screen.asked_hz, screen.elapsed_s, screen.window_samples,
            screen.window_s, screen.since_samples
        )),
    ]
}

fn bold() -> Style {
    Style::default().add_modifier(Modifier::BOLD)
}

fn thread_table(screen: &Screen) -> Table<'static> {
    let rows = screen.threads.iter().map(|t| {
        let marked = if screen.view.thread == Some(t.tid) {
            "> "
        } else {
            "  "
        };
        Row::new(vec![
            format!("{marked}{}", t.tid),
            t.name.clone(),
            t.state.to_owned(),
            t.samples.to_string(),
            share(t.gil, t.samples),
        ])
    });
    let widths = [
        Constraint::Length(12),
        Constraint::Length(24),
        Constraint::Length(7),
        Constraint::Length(9),
        Constraint::Length(6),
    ];
    Table::new(rows, widths)
        .header(Row::new(["  THREAD", "NAME", "STATE", "SAMPLES", "GIL%"]).style(bold()))
}

fn function_table(screen: &Screen) -> Table<'static> {
    let (w, s) = (screen.window_samples, screen.since_samples);
    let rows = screen.rows.iter().map(|r| {
        Row::new(vec![
            Cell::from(share(r.window.0, w)),
            Cell::from(share(r.window.1, w)),
            Cell::from(share(r.since_start.0, s)),
            Cell::from(share(r.since_start.1, s)),
            Cell::from(format!("{} ({})", r.name, r.file)),
        ])
    });
    let sorted = |sort: SortBy, span: Span| {
        if screen.view.sort == sort && screen.view.span == span {
            bold().add_modifier(Modifier::REVERSED)
        } else {
            bold()
        }
    };
    let header = Row::new(vec![
        Cell::from("SELF%").style(sorted(SortBy::SelfShare, Span::Window)),
        Cell::from("TOTAL%").style(sorted(SortBy::Total, Span::Window)),
        Cell::from("SELF%*").style(sorted(SortBy::SelfShare, Span::SinceStart)),
        Cell::from("TOTAL%*").style(sorted(SortBy::Total, Span::SinceStart)),
        Cell::from("FUNCTION (FILE)   * since start").style(bold()),
    ]);
    let widths = [
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(8),
        Constraint::Min(20),
    ];
    Table::new(rows, widths).header(header)
}
