//! The caveat under the GIL-wait shares of a wall-time capture whose
//! sampler ran at a normal priority (`Meta::sampler_priority`): shown by the
//! text and HTML reports' "Python vs native" section.

use snakescope_model::{Capture, KindSplit, SamplerPriority};

/// Why the GIL-wait shares of `capture` may be too high, when they may:
/// with `--idle`, some sample waiting for the GIL, and a sampler that was
/// refused (or gave up) real-time priority. On a busy machine such a
/// sampler is woken late, mostly right after a thread blocked — on the GIL,
/// often — and the late tick sees that thread waiting.
pub(crate) fn gil_wait_note(capture: &Capture, split: &KindSplit) -> Option<&'static str> {
    if !capture.meta.include_idle || split.total.gil_wait == 0 {
        return None;
    }
    match capture.meta.sampler_priority? {
        SamplerPriority::Realtime => None,
        SamplerPriority::Refused => Some(
            "the sampler was refused real-time priority (root, CAP_SYS_NICE or `ulimit -r 1` \
             allow it): on a busy machine its ticks run late, mostly right after a thread \
             blocked, so the GIL-wait shares may be too high",
        ),
        SamplerPriority::GaveUp => Some(
            "the sampler gave up real-time priority (its own work took more than half the \
             time: a lower --rate keeps it): on a busy machine the GIL-wait shares may be \
             too high",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::gil_wait_note;
    use snakescope_model::{
        Capture, CaptureBuilder, Frame, KindSplit, Meta, SamplerPriority, ThreadSample,
    };

    /// One thread running, one waiting for the GIL (as `--idle` records it).
    fn capture(include_idle: bool, priority: Option<SamplerPriority>) -> Capture {
        let mut b = CaptureBuilder::new();
        let spin = b.intern_frame(Frame {
            function: "spin".into(),
            qualname: Some("spin".into()),
            file: "/a.py".into(),
            line: 3,
        });
        let wait = b.intern_frame(Frame::native("take_gil".into(), "/l/libpython.so".into()));
        for (tid, gil, idle, frames) in [
            (1, true, false, vec![spin]),
            (2, false, true, vec![spin, wait]),
        ] {
            b.add(ThreadSample {
                tid,
                idle,
                gil,
                frames: &frames,
            });
        }
        b.finish(Meta {
            include_idle,
            sampler_priority: priority,
            ..Meta::default()
        })
    }

    fn note(include_idle: bool, priority: Option<SamplerPriority>) -> Option<&'static str> {
        let c = capture(include_idle, priority);
        gil_wait_note(&c, &KindSplit::of(&c))
    }

    #[test]
    fn said_only_when_gil_waits_were_sampled_late() {
        assert!(note(true, Some(SamplerPriority::Refused)).is_some_and(|n| n.contains("refused")));
        assert!(note(true, Some(SamplerPriority::GaveUp)).is_some_and(|n| n.contains("gave up")));
        assert_eq!(note(true, Some(SamplerPriority::Realtime)), None);
        assert_eq!(note(true, None), None); // not tried, or an older capture
        assert_eq!(note(false, Some(SamplerPriority::Refused)), None);
    }

    #[test]
    fn the_reports_show_it_under_the_split() {
        let c = capture(true, Some(SamplerPriority::Refused));
        let mut text = Vec::new();
        crate::write(&c, crate::Format::Text, &mut text).expect("text renders");
        let text = String::from_utf8(text).expect("utf-8");
        assert!(
            text.contains("note: the sampler was refused real-time priority"),
            "{text}"
        );
        let mut html = Vec::new();
        crate::write(&c, crate::Format::Html, &mut html).expect("html renders");
        let html = String::from_utf8(html).expect("utf-8");
        assert!(
            html.contains("Note: the sampler was refused"),
            "no note in the HTML report"
        );
    }
}
