//! Address-space layout randomization (`arch/x86/mm/mmap.c`: `arch_rnd`, `arch_mmap_rnd`, `mmap_base`,
//! `arch_pick_mmap_layout`, `arch_randomize_brk`; `arch/x86/kernel/process.c`: `arch_align_stack`;
//! `mm/util.c`: `randomize_stack_top`, `randomize_page`).
//!
//! Every function takes the machine's [`KernelRng`] and draws only when Linux would (`PF_RANDOMIZE` set, or
//! `randomize_va_space` non-zero without ADDR_NO_RANDOMIZE for `arch_align_stack`), so a run with ASLR off
//! consumes no randomness for the layout and gives the kernel's fixed addresses.

use crate::addr::{page_align, PAGE_SHIFT, PAGE_SIZE};
use crate::arch::Arch;
use crate::random::KernelRng;

/// `ADDR_NO_RANDOMIZE` (`include/uapi/linux/personality.h`).
pub const ADDR_NO_RANDOMIZE: u32 = 0x0040000;
/// `ADDR_COMPAT_LAYOUT`: the legacy bottom-up mmap layout.
pub const ADDR_COMPAT_LAYOUT: u32 = 0x0200000;
/// `MMAP_PAGE_ZERO`.
pub const MMAP_PAGE_ZERO: u32 = 0x0100000;
/// `READ_IMPLIES_EXEC`.
pub const READ_IMPLIES_EXEC: u32 = 0x0400000;
/// `PF_RANDOMIZE` (`include/linux/sched.h`).
pub const PF_RANDOMIZE: u32 = 0x0040_0000;
/// `PF_FORKNOEXEC`.
pub const PF_FORKNOEXEC: u32 = 0x0000_0040;

/// `arch_rnd(rndbits)`: a random page-aligned offset below `2^(rndbits + PAGE_SHIFT)`, 0 without PF_RANDOMIZE.
pub fn arch_rnd(rng: &mut KernelRng, rndbits: u32, pf_randomize: bool) -> u64 {
    if !pf_randomize {
        return 0;
    }
    (rng.get_random_long() & ((1u64 << rndbits) - 1)) << PAGE_SHIFT
}

/// `arch_mmap_rnd()`: the offset added to ELF_ET_DYN_BASE for a PIE (`mmap_rnd_bits`: 28 on 64-bit, 8 for
/// 32-bit tasks).
pub fn arch_mmap_rnd(rng: &mut KernelRng, arch: Arch, pf_randomize: bool) -> u64 {
    arch_rnd(rng, arch.mmap_rnd_bits(), pf_randomize)
}

/// `stack_maxrandom_size(task_size)`: the largest stack randomization, 0 without PF_RANDOMIZE.
pub fn stack_maxrandom_size(arch: Arch, pf_randomize: bool) -> u64 {
    if pf_randomize {
        arch.stack_maxrandom_size()
    } else {
        0
    }
}

/// `mmap_base(rnd, task_size, rlim_stack)`: the top of the mmap area, below the stack's maximum size, its
/// randomization and the guard gap, clamped to [128 MiB, 5/6 of the task size] (`linux-mm-rules.md` §5.2).
pub fn mmap_base(task_size: u64, rlim_stack_cur: u64, stack_guard_gap: u64, maxrandom: u64, rnd: u64) -> u64 {
    let pad = maxrandom + stack_guard_gap;
    // Values close to RLIM_INFINITY can overflow: then the gap stays the limit.
    let gap = rlim_stack_cur.checked_add(pad).unwrap_or(rlim_stack_cur);
    let gap = gap.clamp(128 << 20, task_size / 6 * 5);
    page_align(task_size.wrapping_sub(gap).wrapping_sub(rnd))
}

/// The result of `arch_pick_mmap_layout` for one exec.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MmapLayout {
    pub mmap_base: u64,
    pub mmap_legacy_base: u64,
    /// Bottom-up (`!MMF_TOPDOWN`): ADDR_COMPAT_LAYOUT or `vm.legacy_va_layout`.
    pub legacy: bool,
}

/// `arch_pick_mmap_layout(mm, rlim_stack)`: the native bases, then (64-bit kernels) the compat bases, each with
/// its own random draw. The model keeps only the native pair (it has no ia32 compat tasks), but draws the
/// compat offset too so the random stream advances as Linux's does.
pub fn arch_pick_mmap_layout(
    rng: &mut KernelRng,
    arch: Arch,
    rlim_stack_cur: u64,
    stack_guard_gap: u64,
    pf_randomize: bool,
    legacy: bool,
) -> MmapLayout {
    let task_size = arch.default_map_window();
    let rnd = arch_rnd(rng, arch.mmap_rnd_bits(), pf_randomize);
    if arch.is_64bit() {
        // mmap_compat_base: drawn, not kept.
        let _ = arch_rnd(rng, Arch::I386.mmap_rnd_bits(), pf_randomize);
    }
    // mmap_legacy_base: __TASK_UNMAPPED_BASE(task_size) + rnd.
    let legacy_base = page_align(task_size / 3) + rnd;
    let base = if legacy {
        legacy_base
    } else {
        mmap_base(
            task_size,
            rlim_stack_cur,
            stack_guard_gap,
            stack_maxrandom_size(arch, pf_randomize),
            rnd,
        )
    };
    MmapLayout {
        mmap_base: base,
        mmap_legacy_base: legacy_base,
        legacy,
    }
}

/// `randomize_stack_top(stack_top)`: up to STACK_RND_MASK pages (22 bits on 64-bit, 0x7ff for 32-bit tasks)
/// below the page-aligned top.
pub fn randomize_stack_top(rng: &mut KernelRng, arch: Arch, stack_top: u64, pf_randomize: bool) -> u64 {
    let mut random = 0;
    if pf_randomize {
        let mask = arch.stack_maxrandom_size() >> PAGE_SHIFT;
        random = (rng.get_random_long() & mask) << PAGE_SHIFT;
    }
    page_align(stack_top) - random
}

/// `arch_align_stack(sp)`: with randomization, lower the stack pointer by up to 8 KiB; always 16-byte align.
pub fn arch_align_stack(rng: &mut KernelRng, sp: u64, randomize: bool) -> u64 {
    let mut sp = sp;
    if randomize {
        sp -= u64::from(rng.get_random_u32_below(8192));
    }
    sp & !0xf
}

/// `randomize_page(start, range)`: a random page-aligned address in `[start, start + range)`.
pub fn randomize_page(rng: &mut KernelRng, start: u64, range: u64) -> u64 {
    let (mut start, mut range) = (start, range);
    if start & (PAGE_SIZE - 1) != 0 {
        range -= page_align(start) - start;
        start = page_align(start);
    }
    if start > u64::MAX - range {
        range = u64::MAX - start;
    }
    range >>= PAGE_SHIFT;
    if range == 0 {
        return start;
    }
    start + ((rng.get_random_long() % range) << PAGE_SHIFT)
}

/// `arch_randomize_brk(mm)`: the break anywhere in the next 1 GiB (32 MiB for 32-bit tasks).
pub fn arch_randomize_brk(rng: &mut KernelRng, arch: Arch, brk: u64) -> u64 {
    randomize_page(rng, brk, arch.brk_rnd_range())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_randomization_gives_the_fixed_bases() {
        let mut rng = KernelRng::new(1);
        let l = arch_pick_mmap_layout(&mut rng, Arch::X86_64, 8 << 20, 256 << 12, false, false);
        // Verified with setarch -R (linux-mm-rules.md §5.2).
        assert_eq!(l.mmap_base, 0x7fff_f7ff_f000);
        assert_eq!(l.mmap_legacy_base, 0x2aaa_aaaa_b000);
        let l = arch_pick_mmap_layout(&mut rng, Arch::X86_64, 1_000_000 << 10, 256 << 12, false, false);
        assert_eq!(l.mmap_base, 0x7fff_c2e6_f000);
        let l = arch_pick_mmap_layout(&mut rng, Arch::X86_64, u64::MAX, 256 << 12, false, false);
        assert_eq!(l.mmap_base, 0x1555_5555_6000);
        assert_eq!(
            randomize_stack_top(&mut rng, Arch::X86_64, 0x7fff_ffff_f000, false),
            0x7fff_ffff_f000
        );
        assert_eq!(arch_align_stack(&mut rng, 0x7fff_ffff_effb, false), 0x7fff_ffff_eff0);
        // Nothing was drawn: the stream is where a fresh one starts.
        assert_eq!(rng.get_random_long(), KernelRng::new(1).get_random_long());
    }

    #[test]
    fn randomized_values_stay_in_linux_ranges() {
        let mut rng = KernelRng::new(9);
        let (mut lo, mut hi) = (u64::MAX, 0);
        for _ in 0..2000 {
            let l = arch_pick_mmap_layout(&mut rng, Arch::X86_64, 8 << 20, 256 << 12, true, false);
            lo = lo.min(l.mmap_base);
            hi = hi.max(l.mmap_base);
            let s = randomize_stack_top(&mut rng, Arch::X86_64, 0x7fff_ffff_f000, true);
            assert!(s <= 0x7fff_ffff_f000 && s > 0x7fff_ffff_f000 - (16 << 30));
            let b = arch_randomize_brk(&mut rng, Arch::X86_64, 0x5555_5556_0000);
            assert!((0x5555_5556_0000..0x5555_5556_0000 + (1 << 30)).contains(&b) && b.is_multiple_of(4096));
            let sp = arch_align_stack(&mut rng, 0x7fff_ffff_e000, true);
            assert!(sp.is_multiple_of(16) && sp >= 0x7fff_ffff_e000 - 8192);
        }
        // linux-mm-rules.md §5.2: [0x7efbff701000, 0x7ffbff700000] with 8 MiB stacks.
        assert!(lo >= 0x7efb_ff70_1000 && hi <= 0x7ffb_ff70_0000, "{lo:#x}..{hi:#x}");
        assert!(hi - lo > (1 << 38), "28 bits of entropy spread the base over ~1 TiB");
        let mut rng = KernelRng::new(9);
        for _ in 0..500 {
            let l = arch_pick_mmap_layout(&mut rng, Arch::I386, 8 << 20, 256 << 12, true, false);
            assert!(l.mmap_base.is_multiple_of(4096) && l.mmap_base <= 0xc000_0000 - (128 << 20));
        }
    }

    #[test]
    fn randomize_page_handles_unaligned_and_overflowing_ranges() {
        let mut rng = KernelRng::new(3);
        let v = randomize_page(&mut rng, 0x1001, 0x3000);
        assert!(v == 0x2000 || v == 0x3000, "{v:#x}");
        assert_eq!(randomize_page(&mut rng, !0xfff, 1 << 30), !0xfff);
    }
}
