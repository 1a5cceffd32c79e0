//! A capture builder several threads use: the sampler counts into it while
//! another copies it (`top`'s `s` key, the live page, `run`'s live
//! snapshots).

use crate::{CaptureBuilder, Frame, FrameInterner, MemorySite, SampleSink, ThreadSample};
use std::sync::{Arc, Mutex, MutexGuard};

/// The builder behind a lock; clones share it.
#[derive(Clone, Default)]
pub struct SharedBuilder(Arc<Mutex<CaptureBuilder>>);

impl SharedBuilder {
    /// A copy of the builder as it is now.
    pub fn copy(&self) -> CaptureBuilder {
        self.lock().clone()
    }

    /// The builder, once sampling is over (an empty one is left).
    pub fn take(&self) -> CaptureBuilder {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> MutexGuard<'_, CaptureBuilder> {
        // A panic while counting leaves counts, never a broken structure.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl FrameInterner for SharedBuilder {
    fn intern_frame(&mut self, frame: Frame) -> usize {
        self.lock().intern_frame(frame)
    }
}

impl SampleSink for SharedBuilder {
    fn add_sample(&mut self, sample: ThreadSample<'_>, weight: u64, at_ns: u64) {
        self.lock().add_sample(sample, weight, at_ns);
    }

    fn name_thread(&mut self, tid: u64, name: Option<String>) {
        self.lock().name_thread(tid, name);
    }

    fn name_process(&mut self, pid: u32, command: Vec<String>) {
        self.lock().name_process(pid, command);
    }

    fn add_memory_site(&mut self, site: MemorySite) {
        self.lock().add_memory_site(site);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_sees_what_was_counted_and_take_empties_it() {
        let shared = SharedBuilder::default();
        let mut writer = shared.clone();
        let f = writer.intern_frame(Frame {
            function: "f".into(),
            qualname: None,
            file: "a.py".into(),
            line: 1,
        });
        let frames = [f];
        let sample = ThreadSample {
            tid: 1,
            idle: false,
            gil: false,
            frames: &frames,
        };
        writer.add_sample(sample, 3, 0);
        let meta = crate::Meta::default();
        assert_eq!(shared.copy().finish(meta.clone()).stacks[0].count, 3);
        assert_eq!(shared.take().finish(meta.clone()).stacks[0].count, 3);
        assert!(shared.copy().finish(meta).stacks.is_empty());
    }
}
