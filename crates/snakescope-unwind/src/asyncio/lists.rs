//! 3.14+: the C tasks are on circular doubly linked lists, through a
//! `struct llist_node` (next, previous) inside each task. Each thread state
//! (`_PyThreadStateImpl.asyncio_tasks_head`) heads the list of the tasks
//! its thread made, and the interpreter state (`asyncio_tasks_head`) the
//! tasks of threads that have ended. A task leaves its list when it is done.
//!
//! The lists are walked from their heads, one task read per node (the
//! task's bytes hold its next node); the tasks found at one walk are read
//! again first at the next, in vectored reads, so a steady list costs a few
//! system calls however long it is. A walk stops at its head, at a node
//! that cannot be read or is seen twice (the target changed the list while
//! read), or after [`MAX_TASKS`] tasks: never a loop.

use super::read_each;
use crate::reader::{u64_at, MemoryReader};
use rustc_hash::{FxHashMap, FxHashSet};

/// Most tasks read from all the lists at one walk.
pub(super) const MAX_TASKS: usize = 1 << 16;

/// Where the lists are, in bytes (found by `_asyncprobe.py`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskLists {
    /// The node (next, previous) inside each task.
    pub node: u64,
    /// The list's head in each thread state.
    pub thread_head: u64,
    /// The head in the interpreter state: the tasks of threads that ended.
    pub interp_head: u64,
}

/// Walks the lists, remembering the tasks of the last walk.
#[derive(Debug, Default)]
pub(super) struct ListWalk {
    last: Vec<u64>,
}

impl ListWalk {
    /// Every task on the lists headed at `heads` (addresses of head nodes),
    /// with its first `size` bytes (which hold its node).
    pub(super) fn tasks(
        &mut self,
        r: &dyn MemoryReader,
        node: u64,
        heads: &[u64],
        size: usize,
    ) -> Vec<(u64, Vec<u8>)> {
        let mut known: FxHashMap<u64, Vec<u8>> = self
            .last
            .iter()
            .zip(read_each(r, &self.last, size))
            .filter_map(|(&a, buf)| Some((a, buf?)))
            .collect();
        let mut seen = FxHashSet::default();
        let mut out = Vec::new();
        for (&head, first) in heads.iter().zip(read_each(r, heads, 8)) {
            let Some(first) = first else { continue };
            let mut next = u64_at(&first, 0);
            while next != head && out.len() < MAX_TASKS {
                let Some(task) = next.checked_sub(node).filter(|&t| t != 0 && t % 8 == 0) else {
                    break;
                };
                if !seen.insert(task) {
                    break;
                }
                let Some(buf) = known.remove(&task).or_else(|| r.read_vec(task, size).ok()) else {
                    break;
                };
                next = u64_at(&buf, node);
                out.push((task, buf));
            }
        }
        self.last = out.iter().map(|(a, _)| *a).collect();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reader::ReadError;
    use std::cell::{Cell, RefCell};

    /// Tasks of 32 bytes with their node at 16, in memory from 0x1000 on.
    const SIZE: usize = 32;
    const NODE: u64 = 16;

    #[derive(Default)]
    struct Memory {
        words: RefCell<FxHashMap<u64, u64>>,
        reads: Cell<usize>,
    }

    impl Memory {
        fn set(&self, addr: u64, v: u64) {
            self.words.borrow_mut().insert(addr, v);
        }
        /// A list headed at `head` through the tasks at `tasks`, in order.
        fn list(&self, head: u64, tasks: &[u64]) {
            let nodes: Vec<u64> = std::iter::once(head)
                .chain(tasks.iter().map(|t| t + NODE))
                .collect();
            for (i, &n) in nodes.iter().enumerate() {
                self.set(n, nodes[(i + 1) % nodes.len()]);
                self.set(n + 8, nodes[(i + nodes.len() - 1) % nodes.len()]);
            }
        }
    }

    impl MemoryReader for Memory {
        fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
            self.reads.set(self.reads.get() + 1);
            if addr < 0x1000 {
                return Err(ReadError::Unmapped {
                    addr,
                    len: buf.len(),
                });
            }
            for (i, chunk) in buf.chunks_mut(8).enumerate() {
                let v = self.words.borrow().get(&(addr + 8 * i as u64)).copied();
                chunk.copy_from_slice(&v.unwrap_or(0).to_le_bytes()[..chunk.len()]);
            }
            Ok(())
        }
    }

    fn addrs(found: &[(u64, Vec<u8>)]) -> Vec<u64> {
        found.iter().map(|(a, _)| *a).collect()
    }

    #[test]
    fn walks_every_list_in_order_and_stops_at_the_head() {
        let m = Memory::default();
        m.list(0x9000, &[0x1000, 0x2000, 0x3000]);
        m.list(0xa000, &[]);
        m.list(0xb000, &[0x4000]);
        let mut walk = ListWalk::default();
        let found = walk.tasks(&m, NODE, &[0x9000, 0xa000, 0xb000, 0x10], SIZE);
        assert_eq!(addrs(&found), [0x1000, 0x2000, 0x3000, 0x4000]);
        // The next walk reads the known tasks together, then only the new one.
        m.list(0x9000, &[0x1000, 0x3000, 0x5000]);
        m.reads.set(0);
        let found = walk.tasks(&m, NODE, &[0x9000, 0xb000], SIZE);
        assert_eq!(addrs(&found), [0x1000, 0x3000, 0x5000, 0x4000]);
        assert_eq!(
            m.reads.get(),
            4 + 2 + 1,
            "each known task, each head, the new task"
        );
    }

    #[test]
    fn a_torn_list_ends_the_walk_never_loops() {
        let m = Memory::default();
        // 0x2000's next goes back to 0x1000: a cycle that misses the head.
        m.list(0x9000, &[0x1000, 0x2000]);
        m.set(0x2000 + NODE, 0x1000 + NODE);
        // A next pointing at nothing readable, or unaligned.
        m.list(0xa000, &[0x3000]);
        m.set(0x3000 + NODE, 0x10);
        m.list(0xb000, &[0x4000]);
        m.set(0x4000 + NODE, 0x5003 + NODE);
        let found = ListWalk::default().tasks(&m, NODE, &[0x9000, 0xa000, 0xb000], SIZE);
        assert_eq!(addrs(&found), [0x1000, 0x2000, 0x3000, 0x4000]);
    }

    #[test]
    fn a_list_longer_than_the_cap_is_cut() {
        let m = Memory::default();
        let tasks: Vec<u64> = (0..MAX_TASKS as u64 + 10)
            .map(|i| 0x1_0000 + 64 * i)
            .collect();
        m.list(0x9000, &tasks);
        let found = ListWalk::default().tasks(&m, NODE, &[0x9000], SIZE);
        assert_eq!(found.len(), MAX_TASKS);
    }
}
