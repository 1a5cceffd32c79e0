//! The memory timeline as an SVG chart (`mprof plot`'s picture).

use super::human;
use snakescope_model::{Capture, Memory};
use std::io::{self, Write};

/// The timeline as an SVG chart: tracked heap and RSS over time, labels as
/// shaded spans.
pub fn write_timeline_svg(capture: &Capture, out: &mut dyn Write) -> io::Result<()> {
    let empty = Memory::default();
    let m = capture.memory.as_ref().unwrap_or(&empty);
    let chart = Chart::of(m);
    let Chart {
        w,
        h,
        left,
        bottom,
        top,
        ..
    } = chart;
    writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">"#
    )?;
    writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#)?;
    writeln!(
        out,
        r#"<text x="{left}" y="18" font-size="14">Memory over time: tracked heap (blue) and RSS (grey)</text>"#
    )?;
    for (i, l) in m.labels.iter().enumerate() {
        let shade = if i % 2 == 0 { "#fde9c8" } else { "#e3f1dc" };
        writeln!(
            out,
            r#"<rect x="{:.1}" y="{top}" width="{:.1}" height="{:.1}" fill="{shade}"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            chart.x(l.start_s),
            (chart.x(l.end_s) - chart.x(l.start_s)).max(1.0),
            h - bottom - top,
            chart.x(l.start_s) + 3.0,
            top + 14.0,
            escape(&l.name)
        )?;
    }
    let path = |f: &dyn Fn(&snakescope_model::MemoryPoint) -> u64| -> String {
        m.timeline
            .iter()
            .map(|p| format!("{:.1},{:.1}", chart.x(p.t), chart.y(f(p) as f64)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    writeln!(
        out,
        r##"<polyline fill="none" stroke="#999" stroke-width="1.5" points="{}"/>"##,
        path(&|p| p.rss)
    )?;
    writeln!(
        out,
        r##"<polyline fill="none" stroke="#1f5fbf" stroke-width="2" points="{}"/>"##,
        path(&|p| p.heap)
    )?;
    chart.write_axes(out)?;
    writeln!(out, "</svg>")
}

/// The timeline chart's size, margins and scales.
#[derive(Debug, Clone, Copy)]
struct Chart {
    w: f64,
    h: f64,
    left: f64,
    bottom: f64,
    top: f64,
    right: f64,
    /// The last time and the largest value drawn.
    t_max: f64,
    y_max: f64,
}

impl Chart {
    fn of(m: &Memory) -> Chart {
        let (w, h, left, bottom, top, right) = (900.0, 360.0, 70.0, 40.0, 30.0, 20.0);
        let t_max = m
            .timeline
            .iter()
            .map(|p| p.t)
            .fold(0.0f64, f64::max)
            .max(1e-3);
        let y_max = m
            .timeline
            .iter()
            .map(|p| p.rss.max(p.heap))
            .max()
            .unwrap_or(1)
            .max(1) as f64;
        Chart {
            w,
            h,
            left,
            bottom,
            top,
            right,
            t_max,
            y_max,
        }
    }

    /// Where time `t` is drawn.
    fn x(&self, t: f64) -> f64 {
        self.left + (self.w - self.left - self.right) * t / self.t_max
    }

    /// Where value `v` is drawn.
    fn y(&self, v: f64) -> f64 {
        self.h - self.bottom - (self.h - self.bottom - self.top) * v / self.y_max
    }

    /// The two axes and their five ticks each.
    fn write_axes(&self, out: &mut dyn Write) -> io::Result<()> {
        let Chart {
            w,
            h,
            left,
            bottom,
            top,
            right,
            t_max,
            y_max,
        } = *self;
        writeln!(
            out,
            r#"<line x1="{left}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="black"/>"#,
            h - bottom,
            w - right,
            h - bottom
        )?;
        writeln!(
            out,
            r#"<line x1="{left}" y1="{top}" x2="{left}" y2="{:.1}" stroke="black"/>"#,
            h - bottom
        )?;
        for i in 0..=4 {
            let v = y_max * i as f64 / 4.0;
            writeln!(
                out,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                left - 5.0,
                self.y(v) + 4.0,
                human(v)
            )?;
            let t = t_max * i as f64 / 4.0;
            writeln!(
                out,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{:.2} s</text>"#,
                self.x(t),
                h - bottom + 16.0,
                t
            )?;
        }
        Ok(())
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
