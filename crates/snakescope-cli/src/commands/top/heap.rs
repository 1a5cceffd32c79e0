//! The heap panel of the live view (`run --live`, where the agent tracks
//! memory): the heap now and at its peak, its last minute as a sparkline,
//! and the allocation sites holding the most live memory.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Sparkline};
use ratatui::Frame;
use snakescope_model::Capture;
use std::fmt::Write;

/// Seconds of timeline the sparkline shows, one bar each.
const SPARK_SECONDS: usize = 60;
/// Allocation sites shown.
const SITES: usize = 4;

/// What the panel shows, read from a capture with memory.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Heap {
    pub now: u64,
    pub peak: u64,
    pub peak_at_s: f64,
    /// The highest heap of each second, over the last [`SPARK_SECONDS`].
    pub seconds: Vec<u64>,
    /// `(live bytes, function (file:line))`, most first.
    pub sites: Vec<(u64, String)>,
}

impl Heap {
    /// The heap panel of `capture`, when it tracked memory.
    pub fn of(capture: &Capture) -> Option<Heap> {
        let memory = capture.memory.as_ref()?;
        let now = memory.timeline.last().map_or(memory.end_bytes, |p| p.heap);
        let end_s = memory.timeline.last().map_or(0.0, |p| p.t);
        let mut seconds = vec![0u64; SPARK_SECONDS];
        for p in &memory.timeline {
            let ago = (end_s - p.t).max(0.0) as usize;
            if ago < SPARK_SECONDS {
                let slot = &mut seconds[SPARK_SECONDS - 1 - ago];
                *slot = (*slot).max(p.heap);
            }
        }
        let first = memory.timeline.first().map_or(end_s, |p| p.t);
        let shown = ((end_s - first) as usize + 1).min(SPARK_SECONDS);
        seconds.drain(..SPARK_SECONDS - shown);
        let mut sites: Vec<(u64, String)> = memory
            .sites
            .iter()
            .filter(|s| s.end_bytes > 0)
            .map(|s| {
                let place = s
                    .frames
                    .last()
                    .and_then(|&f| capture.frames.get(f))
                    .map_or_else(
                        || "?".to_owned(),
                        |f| format!("{} ({}:{})", f.display_name(), f.file, f.line),
                    );
                (s.end_bytes, place)
            })
            .collect();
        sites.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        sites.truncate(SITES);
        Some(Heap {
            now,
            peak: memory.peak_bytes,
            peak_at_s: memory.peak_at_s,
            seconds,
            sites,
        })
    }

    /// Lines the panel takes on screen.
    pub fn height(&self) -> u16 {
        2 + self.sites.len() as u16
    }

    /// The panel as text.
    pub fn text(&self) -> String {
        let mut out = format!(
            "heap {} now, peak {} at {:.1} s\n",
            bytes(self.now),
            bytes(self.peak),
            self.peak_at_s
        );
        for (live, place) in &self.sites {
            let _ = writeln!(out, "{:>10}  {place}", bytes(*live));
        }
        out
    }

    pub fn draw(&self, f: &mut Frame<'_>, area: Rect) {
        let [words, spark] = Layout::horizontal([
            Constraint::Min(30),
            Constraint::Length(SPARK_SECONDS as u16),
        ])
        .areas(area);
        let mut lines = vec![Line::from(format!(
            "HEAP  {} now, peak {} at {:.1} s   (the last minute: right)",
            bytes(self.now),
            bytes(self.peak),
            self.peak_at_s
        ))];
        lines.extend(
            self.sites
                .iter()
                .map(|(live, place)| Line::from(format!("{:>10} live  {place}", bytes(*live)))),
        );
        f.render_widget(Paragraph::new(lines), words);
        f.render_widget(Sparkline::default().data(&self.seconds), spark);
    }
}

/// Bytes in binary units, one decimal.
fn bytes(n: u64) -> String {
    let mut v = n as f64;
    for unit in ["B", "KiB", "MiB", "GiB"] {
        if v < 1024.0 || unit == "GiB" {
            return if unit == "B" {
                format!("{n} B")
            } else {
                format!("{v:.1} {unit}")
            };
        }
        v /= 1024.0;
    }
    unreachable!("the loop returns at GiB")
}

#[cfg(test)]
mod tests {
    use super::*;
    use snakescope_model::{CaptureBuilder, Frame, Memory, MemoryPoint, MemorySite, Meta};

    fn site(b: &mut CaptureBuilder, name: &str, end_bytes: u64) -> MemorySite {
        let f = b.intern_frame(Frame {
            function: name.into(),
            qualname: None,
            file: "m.py".into(),
            line: 3,
        });
        MemorySite {
            frames: vec![f],
            end_bytes,
            ..MemorySite::default()
        }
    }

    #[test]
    fn the_panel_reads_the_heap_the_peak_and_the_biggest_live_sites() {
        let mut b = CaptureBuilder::new();
        let sites = vec![
            site(&mut b, "small", 10),
            site(&mut b, "big", 5 << 20),
            site(&mut b, "gone", 0),
        ];
        b.set_memory(Memory {
            peak_bytes: 9 << 20,
            peak_at_s: 1.5,
            timeline: (0..30)
                .map(|i| MemoryPoint {
                    t: f64::from(i) * 0.1,
                    heap: if i == 15 { 9 << 20 } else { 1 << 20 },
                    rss: 0,
                })
                .collect(),
            ..Memory::default()
        });
        for s in sites {
            b.add_memory_site(s);
        }
        let heap = Heap::of(&b.finish(Meta::default())).unwrap();
        assert_eq!((heap.now, heap.peak), (1 << 20, 9 << 20));
        // 0.0 to 2.9 s: three seconds, the peak in the second.
        assert_eq!(heap.seconds, [1 << 20, 9 << 20, 1 << 20]);
        let names: Vec<&str> = heap.sites.iter().map(|s| s.1.as_str()).collect();
        assert_eq!(names, ["big (m.py:3)", "small (m.py:3)"]);
        assert_eq!(bytes(5 << 20), "5.0 MiB");
        assert_eq!(bytes(10), "10 B");
    }

    #[test]
    fn no_memory_no_panel() {
        assert!(Heap::of(&CaptureBuilder::new().finish(Meta::default())).is_none());
    }
}
