//! The walker reads a process that keeps running, so any value it reads may
//! be garbage: a torn read, a freed frame, a pointer half-written. Whatever
//! the target's memory holds, a walk must end in a sample or an error, never
//! a panic (a panic on the sampling thread loses the whole capture; a CI run
//! found one: a torn `previous` pointer near the top of the address space
//! overflowed the frame-window arithmetic).
//!
//! The address space here is noise: every 8-byte word is a function of its
//! address and a seed, and is (by weight) a pointer into a small "heap"
//! region, so that chains go on for a while, zero, a small integer, or raw
//! random bits (near-`u64::MAX` values included). Reads below the first page
//! or past user space fail as unmapped; zero-length reads succeed, as
//! `process_vm_readv` does. Each case walks every static layout from the
//! runtime's threads and from thread records made of noise. The budget is a
//! fixed number of cases from a fixed seed; `PROPTEST_CASES` and
//! `PROPTEST_RNG_SEED` explore further.

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use snakescope_layouts::{static_layout, PyVersion};
use snakescope_unwind::{MemoryReader, ReadError, ThreadInfo, TypeAddresses, Walker};

const HEAP: u64 = 0x10_0000;
const HEAP_LEN: u64 = 0x4_0000;
const USER_END: u64 = 1 << 47;

struct Noise {
    seed: u64,
    /// Out of 16: how many words are heap pointers, zeros, small integers;
    /// the rest are raw bits.
    weights: (u64, u64, u64),
    /// When set, every word holds this value instead.
    fill: Option<u64>,
}

fn mix(mut x: u64) -> u64 {
    // splitmix64's finaliser: every input bit reaches every output bit.
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

impl Noise {
    fn word(&self, addr: u64) -> u64 {
        if let Some(v) = self.fill {
            return v;
        }
        let h = mix(addr ^ self.seed);
        let (ptr, zero, small) = self.weights;
        let pick = h & 15;
        let r = mix(h);
        if pick < ptr {
            (HEAP + (r % HEAP_LEN)) & !7
        } else if pick < ptr + zero {
            0
        } else if pick < ptr + zero + small {
            r % 64
        } else {
            r
        }
    }
}

impl MemoryReader for Noise {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        if buf.is_empty() {
            return Ok(());
        }
        let end = addr.checked_add(buf.len() as u64);
        if addr < 0x1000 || end.map_or(true, |e| e > USER_END) {
            return Err(ReadError::Unmapped {
                addr,
                len: buf.len(),
            });
        }
        for (i, b) in buf.iter_mut().enumerate() {
            let at = addr + i as u64;
            *b = self.word(at & !7).to_le_bytes()[(at & 7) as usize];
        }
        Ok(())
    }
}

fn config() -> Config {
    let from_env = Config::default();
    let set = |name| std::env::var_os(name).is_some();
    Config {
        cases: if set("PROPTEST_CASES") {
            from_env.cases
        } else {
            300
        },
        rng_seed: if set("PROPTEST_RNG_SEED") {
            from_env.rng_seed
        } else {
            RngSeed::Fixed(0x0f0f_5eed)
        },
        failure_persistence: None,
        ..from_env
    }
}

fn noise_thread(mem: &Noise, at: u64) -> ThreadInfo {
    ThreadInfo {
        addr: mem.word(at),
        native_id: 1,
        thread_id: 1,
        cframe: mem.word(at + 8),
        top_frame: mem.word(at + 16),
        stack_chunk: mem.word(at + 24),
        stack_top: mem.word(at + 32),
        holds_gil: Some(true),
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_walk_over_noise_never_panics(seed: u64, ptr in 4u64..13, zero in 0u64..3, small in 0u64..2) {
        let mem = Noise { seed, weights: (ptr, zero, small), fill: None };
        for minor in 8..=12 {
            let layout = static_layout(PyVersion::minor_only(3, minor)).unwrap();
            let mut walker = Walker::new(layout, HEAP, TypeAddresses::default());
            let mut threads = walker.threads(&mem).unwrap_or_default();
            threads.truncate(8);
            threads.extend((0..8).map(|i| noise_thread(&mem, HEAP + i * 64)));
            let mut out = Vec::new();
            for thread in &threads {
                out.clear();
                let _ = walker.walk(&mem, thread, &mut out);
            }
        }
    }
}

/// The case CI found: a frame whose `previous` points 72 bytes below the end
/// of the address space, read through a reader that accepts an empty read.
/// Every word of memory holds the bad address, so the thread's frame pointer
/// (direct on 3.13+, through `cframe` on 3.11–3.12) and each `previous` do.
#[test]
fn a_frame_address_at_the_top_of_the_address_space_is_torn() {
    for bad in [u64::MAX - 71, u64::MAX - 7, !7, 1 << 60] {
        let mem = Noise {
            seed: 1,
            weights: (0, 0, 0),
            fill: Some(bad),
        };
        for minor in [11, 12] {
            let layout = static_layout(PyVersion::minor_only(3, minor)).unwrap();
            let mut walker = Walker::new(layout, HEAP, TypeAddresses::default());
            for (chunk, top) in [(0, 0), (HEAP, HEAP + 0x100)] {
                let thread = ThreadInfo {
                    addr: HEAP,
                    native_id: 1,
                    thread_id: 1,
                    cframe: HEAP,
                    top_frame: bad,
                    stack_chunk: chunk,
                    stack_top: top,
                    holds_gil: Some(true),
                };
                let mut out = Vec::new();
                let got = walker.walk(&mem, &thread, &mut out);
                assert!(got.is_err(), "3.{minor} frame at {bad:#x}: {got:?} {out:?}");
            }
        }
    }
}
