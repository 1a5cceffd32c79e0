//! The one frame interner: every sink (the capture builder, the windowed
//! sink) and every reader that keeps frames (`dump`) numbers them here.

use crate::capture::Frame;
use std::collections::HashMap;

/// Frames numbered 0, 1, 2… in the order they were first interned.
#[derive(Debug, Default, Clone)]
pub struct FrameTable {
    frames: Vec<Frame>,
    ids: HashMap<Frame, usize>,
}

impl FrameTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// The id of `frame`, adding it if it is new.
    pub fn intern(&mut self, frame: Frame) -> usize {
        if let Some(&id) = self.ids.get(&frame) {
            return id;
        }
        let id = self.frames.len();
        self.frames.push(frame.clone());
        self.ids.insert(frame, id);
        id
    }

    /// The frame with id `id`.
    pub fn get(&self, id: usize) -> Option<&Frame> {
        self.frames.get(id)
    }

    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// The frames, indexed by id.
    pub fn into_frames(self) -> Vec<Frame> {
        self.frames
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_frames_get_one_id_in_first_seen_order() {
        let f = |name: &str, line| Frame {
            function: name.into(),
            qualname: None,
            file: "a.py".into(),
            line,
        };
        let mut t = FrameTable::new();
        assert_eq!(t.intern(f("a", 1)), 0);
        assert_eq!(t.intern(f("b", 1)), 1);
        assert_eq!(t.intern(f("a", 2)), 2);
        assert_eq!(t.intern(f("b", 1)), 1);
        assert_eq!(t.len(), 3);
        assert_eq!(t.get(2), Some(&f("a", 2)));
        assert_eq!(t.into_frames().len(), 3);
    }
}
