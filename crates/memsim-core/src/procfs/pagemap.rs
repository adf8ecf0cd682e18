//! `/proc/PID/pagemap` (`fs/proc/task_mmu.c`: `pagemap_read`, `pte_to_pagemap_entry`, `pagemap_pte_hole`),
//! and the decoding of swap PTEs it needs (`arch/x86/include/asm/pgtable_64.h`, `pgtable-2level.h`,
//! `include/linux/swapops.h`).
//!
//! One native-endian (little-endian on x86) `u64` per virtual page, at file offset `vaddr / 4096 * 8`:
//! bits 0-54 the PFN (or swap type and offset), 56 exclusively mapped, 58 guard region, 61 file page or shared
//! anonymous, 62 swapped, 63 present. The PFN field reads 0 unless the opener has CAP_SYS_ADMIN; memsim takes
//! the target task as the opener (`cat /proc/self/pagemap`). Soft-dirty (bit 55) and uffd-wp (57) are never set:
//! the reference kernel has no `CONFIG_MEM_SOFT_DIRTY` and memsim models no userfaultfd.
//!
//! The full file is 2^35 entries on x86-64, so [`Kernel::pagemap_range`] renders a window of it.

use crate::addr::{PAGE_SHIFT, PAGE_SIZE};
use crate::arch::Arch;
use crate::errno::Errno;
use crate::kernel::Kernel;
use crate::mm::memory::PageStat;
use crate::mm::vma::VmFlags;
use crate::procfs::PageSource;
use crate::task::{Pid, CAP_SYS_ADMIN};

/// `PM_PFRAME_MASK`: bits 0-54.
pub const PM_PFRAME_MASK: u64 = (1 << 55) - 1;
pub const PM_SOFT_DIRTY: u64 = 1 << 55;
pub const PM_MMAP_EXCLUSIVE: u64 = 1 << 56;
pub const PM_UFFD_WP: u64 = 1 << 57;
pub const PM_GUARD_REGION: u64 = 1 << 58;
pub const PM_FILE: u64 = 1 << 61;
pub const PM_SWAP: u64 = 1 << 62;
pub const PM_PRESENT: u64 = 1 << 63;

/// `MAX_SWAPFILES_SHIFT`: the swap type's width in a pagemap entry.
pub const MAX_SWAPFILES_SHIFT: u32 = 5;
/// `MAX_SWAPFILES` with device-private, migration, hwpoison and PTE-marker types carved out of the 32.
pub const MAX_SWAPFILES: u64 = 32 - 3 - 3 - 1 - 1;
pub use crate::arch::pte::{PTE_MARKER_GUARD, PTE_MARKER_UFFD_WP, SWP_PTE_MARKER};

/// What a non-present, non-empty PTE holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SwapPte {
    /// A real swap entry: the page is on swap device `swap_type` at `offset`.
    Swap { swap_type: u64, offset: u64 },
    /// A PTE marker (`SWP_PTE_MARKER`); `bits` are the `PTE_MARKER_*` flags (MADV_GUARD_INSTALL sets GUARD).
    Marker { bits: u64 },
    /// Migration, device-private or hwpoison entries: not swap.
    Other { swap_type: u64, offset: u64 },
}

impl SwapPte {
    /// `swp_type(entry)` and `swp_offset(entry)`.
    pub fn type_offset(self) -> (u64, u64) {
        match self {
            SwapPte::Swap { swap_type, offset } | SwapPte::Other { swap_type, offset } => (swap_type, offset),
            SwapPte::Marker { bits } => (SWP_PTE_MARKER, bits),
        }
    }
}

/// `pte_to_swp_entry`: decode a raw non-present PTE as the architecture lays it out. The low flag bits
/// (soft-dirty, uffd-wp, exclusive) fall outside both fields.
pub fn decode_swap_pte(arch: Arch, raw: u64) -> SwapPte {
    let (swap_type, offset) = if arch.is_64bit() {
        // pgtable_64.h: type in the top 5 bits, offset inverted (L1TF mitigation) from bit 9 up.
        (raw >> 59, (!raw << 5) >> 14)
    } else {
        // pgtable-2level.h: type in bits 1-5, offset from bit 9 (_PAGE_BIT_PROTNONE + 1).
        ((raw >> 1) & 0x1f, (raw & 0xffff_ffff) >> 9)
    };
    if swap_type < MAX_SWAPFILES {
        SwapPte::Swap { swap_type, offset }
    } else if swap_type == SWP_PTE_MARKER {
        SwapPte::Marker { bits: offset }
    } else {
        SwapPte::Other { swap_type, offset }
    }
}

/// `make_pme(frame, flags)`.
#[inline]
fn make_pme(frame: u64, flags: u64) -> u64 {
    (frame & PM_PFRAME_MASK) | flags
}

/// `pte_to_pagemap_entry` for one non-empty PTE of a VMA with flags `vm_flags`.
pub fn pagemap_entry(arch: Arch, vm_flags: VmFlags, ps: &PageStat, show_pfn: bool) -> u64 {
    let mut frame = 0;
    let mut flags = 0;
    // Whether vm_normal_page/pfn_swap_entry_to_page found a page, and whether it is anonymous.
    let mut page = false;
    if ps.present {
        if show_pfn {
            frame = ps.pfn;
        }
        flags |= PM_PRESENT;
        page = !ps.zero_page && !vm_flags.contains(VmFlags::PFNMAP);
    } else if let Some(raw) = ps.swap {
        let entry = decode_swap_pte(arch, raw);
        let (swap_type, offset) = entry.type_offset();
        if show_pfn {
            frame = swap_type | (offset << MAX_SWAPFILES_SHIFT);
        }
        flags |= PM_SWAP;
        if let SwapPte::Marker { bits } = entry {
            if bits & PTE_MARKER_UFFD_WP != 0 {
                flags |= PM_UFFD_WP;
            }
            if bits & PTE_MARKER_GUARD != 0 {
                flags |= PM_GUARD_REGION;
            }
        }
    } else {
        return 0;
    }
    if page {
        if !ps.anon {
            flags |= PM_FILE;
        }
        if flags & PM_PRESENT != 0 && ps.mapcount == 1 {
            flags |= PM_MMAP_EXCLUSIVE;
        }
    }
    make_pme(frame, flags)
}

/// The largest window [`Kernel::pagemap_range`] renders at once, in entries (256 MiB of output).
pub const PAGEMAP_MAX_ENTRIES: u64 = 1 << 25;

impl Kernel {
    /// The bytes of `/proc/PID/pagemap` for the pages of `[start, end)` (start rounded down and end rounded up
    /// to pages), as a `pread` of that window returns them: 8 bytes a page, little-endian, truncated at the
    /// end of the user address space (`mm->task_size`). ENOENT for an unknown pid; EINVAL if `start > end`;
    /// EFBIG for windows above [`PAGEMAP_MAX_ENTRIES`] pages. A task without an address space reads empty.
    pub fn pagemap_range(&self, pid: Pid, start: u64, end: u64) -> Result<Vec<u8>, Errno> {
        self.pagemap_range_with(pid, start, end, self)
    }

    /// [`Kernel::pagemap_range`] with page-table contents from `pages`.
    pub fn pagemap_range_with(&self, pid: Pid, start: u64, end: u64, pages: &dyn PageSource) -> Result<Vec<u8>, Errno> {
        let task = self.tasks.get(&pid).ok_or(Errno::ENOENT)?;
        if start > end {
            return Err(Errno::EINVAL);
        }
        let Some(mm) = self.proc_mm(task) else {
            return Ok(Vec::new());
        };
        let arch = self.cfg.arch;
        let first = start >> PAGE_SHIFT;
        let last = end.div_ceil(PAGE_SIZE).min(mm.task_size >> PAGE_SHIFT);
        if first >= last {
            return Ok(Vec::new());
        }
        let n = last - first;
        if n > PAGEMAP_MAX_ENTRIES {
            return Err(Errno::EFBIG);
        }
        let show_pfn = task.capable(CAP_SYS_ADMIN);
        let mut entries = vec![0u64; n as usize];
        let (lo, hi) = (
            crate::addr::VirtAddr(first << PAGE_SHIFT),
            crate::addr::VirtAddr(last << PAGE_SHIFT),
        );
        for vma in mm.vmas.overlapping(lo, hi) {
            let s = vma.start.max(lo);
            let e = vma.end.min(hi);
            let vm_flags = vma.flags;
            // walk_page_test: a VM_PFNMAP VMA ([vvar]) is not walked; its entries stay holes (0).
            if vm_flags.contains(VmFlags::PFNMAP) {
                continue;
            }
            pages.walk(mm.id, s, e, &mut |ps: &PageStat| {
                let idx = (ps.addr.as_u64() >> PAGE_SHIFT).wrapping_sub(first);
                if let Some(slot) = entries.get_mut(idx as usize) {
                    *slot = pagemap_entry(arch, vm_flags, ps, show_pfn);
                }
            });
        }
        let mut out = Vec::with_capacity(entries.len() * 8);
        for e in entries {
            out.extend_from_slice(&e.to_le_bytes());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `__swp_entry(type, offset)` on x86-64, to build raw PTEs the decoder must invert.
    fn x86_64_swp(ty: u64, off: u64) -> u64 {
        ((!off) << 14 >> 5) | (ty << 59)
    }

    #[test]
    fn decodes_x86_64_swap_and_markers() {
        assert_eq!(
            decode_swap_pte(Arch::X86_64, x86_64_swp(0, 0x1234)),
            SwapPte::Swap {
                swap_type: 0,
                offset: 0x1234
            }
        );
        // Low flag bits (exclusive = bit 1, soft-dirty) must not leak into the fields.
        assert_eq!(
            decode_swap_pte(Arch::X86_64, x86_64_swp(3, 77) | 0b10),
            SwapPte::Swap {
                swap_type: 3,
                offset: 77
            }
        );
        let guard = x86_64_swp(SWP_PTE_MARKER, PTE_MARKER_GUARD);
        assert_eq!(decode_swap_pte(Arch::X86_64, guard), SwapPte::Marker { bits: 4 });
        let ps = PageStat {
            swap: Some(guard),
            ..PageStat::default()
        };
        // The verbatim guard-page value of the reference machine.
        assert_eq!(
            pagemap_entry(Arch::X86_64, VmFlags::READ, &ps, true),
            0x440000000000009f
        );
    }

    #[test]
    fn present_entries_match_reference_values() {
        let anon = PageStat {
            present: true,
            pfn: 0x1f81de,
            anon: true,
            mapcount: 1,
            ..PageStat::default()
        };
        assert_eq!(
            pagemap_entry(Arch::X86_64, VmFlags::READ, &anon, true),
            0x81000000001f81de
        );
        assert_eq!(
            pagemap_entry(Arch::X86_64, VmFlags::READ, &anon, false),
            0x8100000000000000
        );
        let zero = PageStat {
            present: true,
            pfn: 0x3b34,
            zero_page: true,
            mapcount: 1,
            ..PageStat::default()
        };
        assert_eq!(
            pagemap_entry(Arch::X86_64, VmFlags::READ, &zero, true),
            0x8000000000003b34
        );
        let shmem = PageStat {
            present: true,
            pfn: 0x21e87d,
            shmem: true,
            mapcount: 1,
            ..PageStat::default()
        };
        assert_eq!(
            pagemap_entry(Arch::X86_64, VmFlags::READ, &shmem, true),
            0xa10000000021e87d
        );
        let shared_file = PageStat {
            present: true,
            pfn: 0x20587b,
            mapcount: 2,
            ..PageStat::default()
        };
        assert_eq!(
            pagemap_entry(Arch::X86_64, VmFlags::READ, &shared_file, true),
            0xa00000000020587b
        );
    }
}
