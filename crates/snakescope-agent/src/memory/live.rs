//! The live blocks and each site's totals: what an allocation adds, what a
//! free takes away, who held what at the peak, and anonymous mappings that
//! are unmapped in parts.
//!
//! **Alive at the peak, exactly.** Copying every site's live bytes at each
//! new peak would cost a pass over all sites per allocation while the heap
//! grows. Instead every new peak starts an *epoch*, and a site remembers
//! the epoch of its last change: when a site changes for the first time
//! after a peak, its live bytes before the change are what it held at that
//! peak (it did not change in between). At the end, a site untouched since
//! the last peak holds now what it held then. One comparison per change,
//! and the figure is exact (in exact mode; the estimates' own value when
//! sampling).
//!
//! **Mappings.** A block made by `mmap` can be unmapped a page range at a
//! time: `munmap` of pages in its middle leaves two pieces. Mapped blocks
//! are kept in an ordered index by start address; an unmapping takes the
//! bytes it covers off every piece it overlaps (their site's live and
//! freed bytes, weighted in proportion when sampling), and keeps what
//! remains on either side as pieces of the same allocation. The
//! allocation counts as freed once its last piece is gone.

use super::census::note_peak;
use super::filter;
use super::state::{Live, State, STATE};
use super::Source;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

/// Estimated live bytes of tracked allocations (written under the state
/// lock; read by the timeline thread and the census).
pub(super) static LIVE: AtomicI64 = AtomicI64::new(0);

/// How many mapped pieces are tracked: `munmap` takes the state lock only
/// when there are some (the hook then cannot tell a piece's middle from
/// any other address with the filter, which knows block starts only).
pub(crate) static MAPPED_PIECES: AtomicUsize = AtomicUsize::new(0);

/// The first byte past the pages an unmapping of `len` bytes at `addr` covers.
fn unmap_end(addr: usize, len: usize) -> usize {
    let page = 4096;
    addr.saturating_add(len).saturating_add(page - 1) & !(page - 1)
}

impl State {
    /// Takes the site's live bytes at the last peak before it changes (see
    /// the module's documentation).
    fn touch(&mut self, site: u32) {
        let s = &mut self.sites[site as usize].2;
        if s.epoch != self.peak_epoch {
            s.epoch = self.peak_epoch;
            s.at_peak = s.live;
        }
    }

    pub(super) fn record(&mut self, ptr: usize, bytes: f64, count: f64, source: Source) {
        let (source, mapped) = match source {
            Source::Mapped(len) => (Source::Native, len),
            other => (other, 0),
        };
        if mapped != 0 {
            // MAP_FIXED over a mapping we track replaces its pages.
            self.unmap(ptr, mapped);
        }
        let site = self.site_of_current_stack(source);
        self.touch(site);
        let s = &mut self.sites[site as usize].2;
        s.allocations += count;
        s.bytes += bytes;
        s.live += bytes;
        let live = Live {
            site,
            bytes,
            count,
            mapped_len: 0,
        };
        match self.live.insert(ptr, live) {
            // A block we still thought live at this address was freed where
            // we could not see it (e.g. inside the C library): it is freed now
            // (one lookup for both: this runs on every allocation in exact mode).
            Some(old) => self.freed(old),
            None => filter::add(ptr),
        }
        if mapped != 0 {
            self.add_piece(ptr, mapped);
        }
        let live = LIVE.load(Ordering::Relaxed) + bytes as i64;
        LIVE.store(live, Ordering::Relaxed);
        let live = live as f64;
        if live > self.peak {
            self.peak = live;
            note_peak(live);
            self.peak_at = self.started.elapsed().as_secs_f64();
            self.peak_epoch += 1;
        }
    }

    /// Marks the block at `ptr` (just inserted) as a mapped piece of `len` bytes.
    fn add_piece(&mut self, ptr: usize, len: usize) {
        if let Some(l) = self.live.get_mut(&ptr) {
            l.mapped_len = len;
            self.mapped.insert(ptr, len);
            MAPPED_PIECES.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(super) fn forget(&mut self, ptr: usize) {
        if let Some(l) = self.live.remove(&ptr) {
            filter::remove(ptr);
            if l.mapped_len != 0 {
                // `free` of a mapped address: not ours to split; gone whole.
                self.mapped.remove(&ptr);
                MAPPED_PIECES.fetch_sub(1, Ordering::Relaxed);
            }
            self.freed(l);
        }
    }

    /// Counts a tracked block as freed (it has left `live` already).
    pub(super) fn freed(&mut self, l: Live) {
        self.take_live(l.site, l.bytes, l.count);
    }

    /// Takes `bytes` (and `count` allocations) off a site's live total.
    fn take_live(&mut self, site: u32, bytes: f64, count: f64) {
        self.touch(site);
        let s = &mut self.sites[site as usize].2;
        s.frees += count;
        s.freed += bytes;
        s.live -= bytes;
        LIVE.store(
            LIVE.load(Ordering::Relaxed) - bytes as i64,
            Ordering::Relaxed,
        );
    }

    /// `munmap(addr, len)`: every tracked mapped piece it overlaps loses the
    /// bytes it covers; what is left on either side stays a live piece.
    pub(super) fn unmap(&mut self, addr: usize, len: usize) {
        let end = unmap_end(addr, len);
        // Pieces starting before `end` whose end is past `addr`.
        let hit: Vec<(usize, usize)> = self
            .mapped
            .range(..end)
            .rev()
            // Pieces are disjoint: the first that ends before `addr`, the rest too.
            .take_while(|&(&start, &plen)| start + plen > addr)
            .map(|(&s, &l)| (s, l))
            .collect();
        for (start, plen) in hit {
            self.unmap_piece(start, plen, addr, end);
        }
    }

    /// Takes `[addr, end)` out of the piece `[start, start + plen)`.
    fn unmap_piece(&mut self, start: usize, plen: usize, addr: usize, end: usize) {
        let Some(l) = self.live.remove(&start) else {
            self.mapped.remove(&start);
            return;
        };
        self.mapped.remove(&start);
        MAPPED_PIECES.fetch_sub(1, Ordering::Relaxed);
        filter::remove(start);
        let piece_end = start + plen;
        let cut = (addr.max(start), end.min(piece_end));
        let per_byte = l.bytes / plen as f64;
        let left = (start, cut.0 - start);
        let right = (cut.1, piece_end - cut.1);
        let gone = left.1 == 0 && right.1 == 0;
        // The allocation counts as freed with its last piece.
        let count = if gone { l.count } else { 0.0 };
        self.take_live(l.site, per_byte * (cut.1 - cut.0) as f64, count);
        // The pieces left keep the allocation's count on the first of them.
        let mut count_left = l.count;
        for (piece, piece_len) in [left, right] {
            if piece_len == 0 {
                continue;
            }
            let kept = Live {
                site: l.site,
                bytes: per_byte * piece_len as f64,
                count: std::mem::take(&mut count_left),
                mapped_len: piece_len,
            };
            self.live.insert(piece, kept);
            filter::add(piece);
            self.mapped.insert(piece, piece_len);
            MAPPED_PIECES.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Every site's live bytes at the last peak, for the capture.
    pub(super) fn settle_peak(&mut self) {
        for (_, _, s) in &mut self.sites {
            if s.epoch != self.peak_epoch {
                s.epoch = self.peak_epoch;
                s.at_peak = s.live;
            }
        }
    }
}

/// Records `munmap(addr, len)` (from the hook, tracking on).
pub(crate) fn on_unmap(addr: usize, len: usize) {
    if MAPPED_PIECES.load(Ordering::Relaxed) == 0 {
        return;
    }
    super::guarded(|| {
        let Ok(mut guard) = STATE.lock() else {
            return;
        };
        if let Some(state) = guard.as_mut() {
            state.unmap(addr, len);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::unmap_end;

    #[test]
    fn an_unmapping_covers_whole_pages() {
        // The kernel unmaps every page the range touches.
        assert_eq!(unmap_end(0x10000, 1), 0x11000);
        assert_eq!(unmap_end(0x10000, 4096), 0x11000);
        assert_eq!(unmap_end(0x10000, 4097), 0x12000);
        assert_eq!(unmap_end(0x10000, 0), 0x10000);
        // An unaligned length from an aligned start, as munmap allows.
        assert_eq!(
            unmap_end(0x7f00_0000_0000, 3 * 4096 - 100),
            0x7f00_0000_3000
        );
    }

    #[test]
    fn an_unmapping_near_the_top_of_the_address_space_does_not_wrap() {
        let top = usize::MAX & !4095;
        assert!(unmap_end(top, 8192) >= top);
        assert!(unmap_end(usize::MAX - 10, 100) >= usize::MAX - 10 - 4095);
    }
}
