//! The seeded random generator that stands in for `get_random_*` (`drivers/char/random.c`), so every run with
//! the same seed gives the same layout and the same AT_RANDOM bytes.
//!
//! One ChaCha8 stream per machine, seeded from `KernelConfig::seed`. Every consumer draws from it in the order
//! the kernel would call `get_random_*` during the same operation (exec: `arch_pick_mmap_layout` for the
//! native and the compat base, `randomize_stack_top`, `arch_align_stack` twice, the PIE base, the 16
//! AT_RANDOM bytes, `arch_randomize_brk`), so adding a draw in one place changes every later value of a run
//! but never makes a run irreproducible.

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The kernel's entropy pool, deterministic.
#[derive(Clone, Debug)]
pub struct KernelRng {
    rng: ChaCha8Rng,
}

impl KernelRng {
    pub fn new(seed: u64) -> KernelRng {
        KernelRng {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// `get_random_long()` (64-bit `unsigned long`).
    pub fn get_random_long(&mut self) -> u64 {
        self.rng.next_u64()
    }

    /// `get_random_u32()`.
    pub fn get_random_u32(&mut self) -> u32 {
        self.rng.next_u32()
    }

    /// `get_random_u32_below(ceil)`: uniform in `[0, ceil)` (Lemire's multiply-shift with rejection, as the
    /// kernel does it); 0 when `ceil` is 0.
    pub fn get_random_u32_below(&mut self, ceil: u32) -> u32 {
        if ceil == 0 {
            return 0;
        }
        loop {
            let mult = u64::from(self.get_random_u32()) * u64::from(ceil);
            let low = mult as u32;
            // Reject the biased low part (threshold = 2^32 mod ceil).
            if low >= ceil.wrapping_neg() % ceil {
                return (mult >> 32) as u32;
            }
        }
    }

    /// `get_random_bytes(buf)`.
    pub fn get_random_bytes(&mut self, buf: &mut [u8]) {
        self.rng.fill_bytes(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_other_seed_other_stream() {
        let mut a = KernelRng::new(42);
        let mut b = KernelRng::new(42);
        let mut c = KernelRng::new(43);
        let va: Vec<u64> = (0..8).map(|_| a.get_random_long()).collect();
        let vb: Vec<u64> = (0..8).map(|_| b.get_random_long()).collect();
        let vc: Vec<u64> = (0..8).map(|_| c.get_random_long()).collect();
        assert_eq!(va, vb);
        assert_ne!(va, vc);
    }

    #[test]
    fn below_stays_below_and_covers_the_range() {
        let mut r = KernelRng::new(7);
        let mut seen = [false; 8];
        for _ in 0..1000 {
            let v = r.get_random_u32_below(8);
            assert!(v < 8);
            seen[v as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
        assert_eq!(r.get_random_u32_below(0), 0);
        assert_eq!(r.get_random_u32_below(1), 0);
    }
}
