//! The names of the sampled threads: `threading`'s where the interpreter
//! has one, else the kernel's.

use super::{Sampler, SamplerHooks};
use crate::Tasks;
use snakescope_model::SampleSink;
use snakescope_unwind::{MemoryReader, ThreadInfo};

impl<R: MemoryReader, H: SamplerHooks> Sampler<R, H> {
    /// Names a thread the first time it has a sample.
    pub(super) fn name_once<S: SampleSink + ?Sized>(&mut self, sink: &mut S, thread: &ThreadInfo) {
        if self.named.insert(thread.native_id) {
            self.name_new_thread(sink, thread);
        }
    }

    /// Names a thread seen for the first time: its `threading` name when the
    /// interpreter has one for it, else the kernel's. A thread not yet in
    /// `threading._active` is looked up again later (see [`Self::retry_names`]).
    fn name_new_thread<S: SampleSink + ?Sized>(&mut self, sink: &mut S, thread: &ThreadInfo) {
        if !self.python_names.contains_key(&thread.thread_id) {
            self.python_names = self.target.walker.thread_names(&self.target.reader);
        }
        let name = match self.python_names.get(&thread.thread_id) {
            Some(name) => Some(name.clone()),
            None => {
                self.unnamed.insert(thread.native_id, thread.thread_id);
                thread_name(&self.tasks, self.target.pid, thread.native_id)
            }
        };
        sink.name_thread(thread.native_id, name);
    }

    /// Looks up `threading` names again for threads that had none.
    pub(super) fn retry_names<S: SampleSink + ?Sized>(&mut self, sink: &mut S) {
        if self.unnamed.is_empty() {
            return;
        }
        self.python_names = self.target.walker.thread_names(&self.target.reader);
        let names = &self.python_names;
        self.unnamed
            .retain(|&native, ident| match names.get(ident) {
                Some(name) => {
                    sink.name_thread(native, Some(name.clone()));
                    false
                }
                None => true,
            });
    }
}

/// The name to show for a thread: "MainThread" for the process's first
/// thread, else the kernel's name when the program set one that differs from
/// the process name.
pub fn thread_name(tasks: &Tasks, pid: u32, tid: u64) -> Option<String> {
    if tid == u64::from(pid) {
        return Some("MainThread".to_owned());
    }
    let name = tasks.name(tid)?;
    (Some(&name) != tasks.name(u64::from(pid)).as_ref()).then_some(name)
}
