//! The free-block filter: which freed addresses may be sampled blocks.
//!
//! Every free of the program reads one counter here; only one whose slot is
//! not 0 is looked up in the table of live sampled blocks (under the state
//! lock). 32 Ki one-byte counters: small enough to stay in the CPU's caches,
//! large enough that a free wrongly taken for a sampled block stays rare
//! while the live sampled blocks number in the thousands.

use std::sync::atomic::{AtomicU8, Ordering};

const FILTER_BITS: u32 = 15;

/// How many sampled live blocks hash to each slot: a free whose slot is 0
/// is not one of ours (the common case) and takes no lock.
static FILTER: [AtomicU8; 1 << FILTER_BITS] = [const { AtomicU8::new(0) }; 1 << FILTER_BITS];

fn filter_slot(ptr: usize) -> usize {
    ((ptr as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - FILTER_BITS)) as usize
}

/// Whether a freed block may be one of the sampled ones (one load).
#[inline(always)]
pub(crate) fn maybe_sampled(ptr: usize) -> bool {
    FILTER[filter_slot(ptr)].load(Ordering::Relaxed) != 0
}

/// Counts one more live sampled block at `ptr` (see [`filter_add`]).
/// Only with the `STATE` lock held.
#[inline(always)]
pub(super) fn add(ptr: usize) {
    filter_add(&FILTER[filter_slot(ptr)]);
}

/// Counts one live sampled block fewer at `ptr` (see [`filter_remove`]).
/// Only with the `STATE` lock held.
#[inline(always)]
pub(super) fn remove(ptr: usize) {
    filter_remove(&FILTER[filter_slot(ptr)]);
}

/// Empties the filter, saturated slots included, for the next session:
/// only once no writer is left (the state is gone).
pub(super) fn clear() {
    for slot in &FILTER {
        slot.store(0, Ordering::Relaxed);
    }
}

/// Counts one more live block in a filter slot. A slot that reaches 255
/// stays there for good (a "maybe" for every free that hashes to it, looked
/// up under the lock), where a wrapping counter would come back to 0 and hide
/// live blocks: exact mode on millions of live objects puts hundreds in each
/// slot. Only ever called with the `STATE` lock held — one writer at a
/// time — so a plain load and store suffice (the hooks only read the slots);
/// a locked read-modify-write cost as much as the rest of an exact-mode
/// record. `LIVE` is updated the same way, under the same lock.
#[inline(always)]
fn filter_add(slot: &AtomicU8) {
    let n = slot.load(Ordering::Relaxed);
    if n != u8::MAX {
        slot.store(n + 1, Ordering::Relaxed);
    }
}

/// Counts one live block fewer in a filter slot (see [`filter_add`]).
#[inline(always)]
fn filter_remove(slot: &AtomicU8) {
    let n = slot.load(Ordering::Relaxed);
    if n != u8::MAX && n != 0 {
        slot.store(n - 1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_counts_up_and_down() {
        let slot = AtomicU8::new(0);
        filter_add(&slot);
        filter_add(&slot);
        assert_eq!(slot.load(Ordering::Relaxed), 2);
        filter_remove(&slot);
        assert_eq!(slot.load(Ordering::Relaxed), 1);
        filter_remove(&slot);
        assert_eq!(slot.load(Ordering::Relaxed), 0);
    }

    /// A wrapping counter would come back to 0 after 256 adds and hide the
    /// live blocks behind it; a saturated slot stays a "maybe" for good.
    #[test]
    fn a_slot_saturates_at_255_and_never_wraps() {
        let slot = AtomicU8::new(0);
        for _ in 0..1000 {
            filter_add(&slot);
        }
        assert_eq!(slot.load(Ordering::Relaxed), 255);
        // Removals cannot know how many adds it lost: it stays saturated.
        for _ in 0..1000 {
            filter_remove(&slot);
        }
        assert_eq!(slot.load(Ordering::Relaxed), 255);
    }

    #[test]
    fn an_empty_slot_does_not_go_below_zero() {
        let slot = AtomicU8::new(0);
        filter_remove(&slot);
        assert_eq!(slot.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn slots_stay_in_range_and_spread_neighbouring_blocks() {
        let slots: std::collections::HashSet<usize> = (0..1024usize)
            .map(|i| filter_slot(0x7f00_0000_0000 + i * 16))
            .inspect(|&s| assert!(s < FILTER.len()))
            .collect();
        // 1,024 blocks 16 bytes apart land on nearly as many slots.
        assert!(slots.len() > 900, "{} slots", slots.len());
    }
}
