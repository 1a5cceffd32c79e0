//! The "Python vs native" section (captures with native frames: `--native`,
//! or GIL waits found with `--idle`):
//! drawn here rather than by the page's script, from the model's one
//! classification ([`KindSplit`]): per Python line and function, the shares
//! of all samples that ran Python, native code, or waited for the GIL.

use super::escape_html;
use snakescope_model::{Capture, KindRow, KindSplit};
use std::fmt::Write;

/// Rows per table.
const ROWS: usize = 30;

/// The section's id and heading.
pub(super) const SECTION: (&str, &str) = ("native", "Python vs native");

/// The section's body, when the capture has native frames.
pub(super) fn body(capture: &Capture) -> Option<String> {
    let split = KindSplit::of(capture);
    if !split.has_native {
        return None;
    }
    let all = split.total.total();
    let t = split.total;
    let mut html = format!(
        "<p>Each sample counts at its innermost Python line: Python when that line was \
         running, native when a C/C++/Rust function below it was. Overall: python {}, \
         native {}, GIL wait {}, idle {}.</p>",
        pct(t.python, all),
        pct(t.native, all),
        pct(t.gil_wait, all),
        pct(t.idle, all)
    );
    threads(&mut html, capture, &split);
    if let Some(note) = crate::gil_note::gil_wait_note(capture, &split) {
        let _ = write!(html, "<p class=\"note\">Note: {}.</p>", escape_html(note));
    }
    table(&mut html, "line", &split.lines, all);
    table(&mut html, "function", &split.functions, all);
    Some(html)
}

/// With more than one thread: each one's split, of its own samples.
fn threads(html: &mut String, capture: &Capture, split: &KindSplit) {
    if capture.threads.len() < 2 {
        return;
    }
    html.push_str(
        "<table class=\"data narrow\"><thead><tr><th>thread</th><th class=\"num\">python</th>\
         <th class=\"num\">native</th><th class=\"num\">GIL wait</th><th class=\"num\">idle</th>\
         <th class=\"num\">GIL held</th></tr></thead><tbody>",
    );
    for (t, c) in capture.threads.iter().zip(&split.threads) {
        let all = c.total();
        if all == 0 {
            continue;
        }
        let _ = write!(
            html,
            "<tr><td>{} ({})</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            escape_html(t.name.as_deref().unwrap_or("-")),
            t.tid,
            pct(c.python, all),
            pct(c.native, all),
            pct(c.gil_wait, all),
            pct(c.idle, all),
            pct(c.gil_held, all)
        );
    }
    html.push_str("</tbody></table>");
}

fn table(html: &mut String, what: &str, rows: &[KindRow], all: u64) {
    html.push_str(
        "<table class=\"data narrow\"><thead><tr><th class=\"num\">python</th>\
         <th class=\"num\">native</th><th class=\"num\">GIL wait</th>",
    );
    let _ = write!(html, "<th>{what}</th><th>file</th></tr></thead><tbody>");
    for r in rows.iter().take(ROWS) {
        let name = if r.line == 0 {
            escape_html(&r.name)
        } else {
            format!("{}:{}", escape_html(&r.name), r.line)
        };
        let _ = write!(
            html,
            "<tr><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td>{name}</td><td class=\"file\">{}</td></tr>",
            pct(r.counts.python, all),
            pct(r.counts.native, all),
            pct(r.counts.gil_wait, all),
            escape_html(&r.file)
        );
    }
    html.push_str("</tbody></table>");
}

fn pct(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "0.0%".into();
    }
    format!("{:.1}%", 100.0 * part as f64 / whole as f64)
}

#[cfg(test)]
mod tests {
    use snakescope_model::{CaptureBuilder, Frame, Meta, ThreadSample};

    #[test]
    fn the_section_is_drawn_only_with_native_frames() {
        let mut b = CaptureBuilder::new();
        let main = b.intern_frame(Frame {
            function: "main".into(),
            qualname: Some("main".into()),
            file: "/a.py".into(),
            line: 7,
        });
        let stack = [main];
        b.add(ThreadSample {
            tid: 1,
            idle: false,
            gil: true,
            frames: &stack,
        });
        assert_eq!(super::body(&b.finish(Meta::default())), None);

        let mut b = CaptureBuilder::new();
        let main = b.intern_frame(Frame {
            function: "main".into(),
            qualname: Some("main".into()),
            file: "/a.py".into(),
            line: 7,
        });
        let blas = b.intern_frame(Frame::native("dgemm<".into(), "/l/libblas.so".into()));
        let stack = [main, blas];
        b.add(ThreadSample {
            tid: 1,
            idle: false,
            gil: true,
            frames: &stack,
        });
        let html = super::body(&b.finish(Meta::default())).unwrap();
        assert!(html.contains("native 100.0%"), "{html}");
        assert!(html.contains("<td>main:7</td>"), "{html}");
    }
}
