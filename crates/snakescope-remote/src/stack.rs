//! The one path from a thread to model frames: walk it with the [`Walker`],
//! intern each frame into a [`SampleSink`], give back the ids root first.
//!
//! Used by the sampler (`record`, `run`), `dump` and the in-process
//! agent's memory hooks (their allocation sites: the walker in its
//! live-objects-only mode over plain loads of the calling thread's own
//! stack, the thread from [`Walker::thread_at`], the frames interned into a
//! [`FrameInterner`] that is not a sink). A frame is turned into a model
//! [`Frame`] (three `String`s) only the first time its (code object, line)
//! is seen; after that it costs one hash lookup.

use rustc_hash::FxHashMap;
use snakescope_model::{Frame, FrameInterner, SampleSink};
use snakescope_unwind::{CodeInfo, FrameRef, MemoryReader, ThreadInfo, WalkError, Walker};

/// Walks threads into one sink's frame ids.
#[derive(Debug, Default)]
pub struct StackWalk {
    /// The last walk, innermost first.
    refs: Vec<FrameRef>,
    /// (code object address, its load serial, line) → the sink's frame id.
    ids: FxHashMap<(u64, u64, u32), usize>,
    /// The last interned stack, root first.
    stack: Vec<usize>,
    /// A frame id to put at the root of the next stack interned (an asyncio
    /// task's, see [`Self::reroot`]).
    root: Option<usize>,
}

impl StackWalk {
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets which frame id each frame got: to be called before frames go
    /// to another sink (ids are the sink's own).
    pub fn forget_ids(&mut self) {
        self.ids.clear();
    }

    /// Reads `thread`'s stack.
    pub fn walk(
        &mut self,
        walker: &mut Walker,
        reader: &dyn MemoryReader,
        thread: &ThreadInfo,
    ) -> Result<(), WalkError> {
        self.refs.clear();
        self.root = None;
        walker.walk(reader, thread, &mut self.refs)
    }

    /// Keeps the `innermost` frames of the last walk only, under the frame
    /// id `root` (an asyncio task's root frame above its coroutine's).
    pub fn reroot(&mut self, innermost: usize, root: usize) {
        self.refs.truncate(innermost);
        self.root = Some(root);
    }

    /// The frames of the last walk, innermost first.
    pub fn refs(&self) -> &[FrameRef] {
        &self.refs
    }

    /// Whether the stack read has no Python frame.
    pub fn is_empty(&self) -> bool {
        self.refs.is_empty()
    }

    /// The code of the stack's innermost frame.
    pub fn innermost<'w>(&self, walker: &'w Walker) -> Option<&'w CodeInfo> {
        self.refs.first().and_then(|r| walker.code(r.code))
    }

    /// Whether a frame whose code `agent` claims sits above a frame of the
    /// program: one that is not part of the root run `hidden` claims.
    pub fn agent_inside(
        &self,
        walker: &Walker,
        hidden: impl Fn(&CodeInfo) -> bool,
        agent: impl Fn(&CodeInfo) -> bool,
    ) -> bool {
        let mut codes = self.refs.iter().rev().filter_map(|r| walker.code(r.code));
        codes.by_ref().any(|c| !hidden(c)) && codes.any(agent)
    }

    /// Interns the stack read into `sink` and returns its frame ids, root
    /// first. Outermost frames whose code `hidden` says is the profiler's
    /// own (the in-process agent's bootstrap) are left out, uninterned; so
    /// is a frame whose code object the walker does not know.
    pub fn intern<S: FrameInterner + ?Sized>(
        &mut self,
        walker: &Walker,
        sink: &mut S,
        hidden: impl Fn(&CodeInfo) -> bool,
    ) -> &[usize] {
        self.stack.clear();
        let mut at_root = true;
        if let Some(root) = self.root {
            self.stack.push(root);
            at_root = false;
        }
        for r in self.refs.iter().rev() {
            // Every code object walked is cached until the next walk.
            if at_root {
                match walker.code(r.code) {
                    Some(code) if !hidden(code) => at_root = false,
                    _ => continue,
                }
            }
            let key = (r.code, r.serial, r.line);
            let id = match self.ids.get(&key) {
                Some(&id) => id,
                None => {
                    let Some(code) = walker.code(r.code) else {
                        continue;
                    };
                    let id = sink.intern_frame(model_frame(code, r.line));
                    self.ids.insert(key, id);
                    id
                }
            };
            self.stack.push(id);
        }
        &self.stack
    }

    /// [`Self::walk`] then [`Self::intern`], leaving nothing out.
    pub fn walk_into<S: SampleSink + ?Sized>(
        &mut self,
        walker: &mut Walker,
        reader: &dyn MemoryReader,
        thread: &ThreadInfo,
        sink: &mut S,
    ) -> Result<&[usize], WalkError> {
        self.walk(walker, reader, thread)?;
        Ok(self.intern(walker, sink, |_| false))
    }
}

/// The model's frame for a code object at a line.
pub fn model_frame(code: &CodeInfo, line: u32) -> Frame {
    Frame {
        function: code.name.clone(),
        qualname: Some(code.qualname.clone()),
        file: code.filename.clone(),
        line,
    }
}
