//! `/proc/PID/smaps` and `/proc/PID/smaps_rollup` (`fs/proc/task_mmu.c`: `smaps_account`,
//! `smaps_page_accumulate`, `smaps_pte_entry`, `smap_gather_stats`, `__show_smap`, `show_smap`,
//! `show_smaps_rollup`, `show_smap_vma_flags`).
//!
//! Statistics come from a page-table walk ([`Kernel::walk_pages`]). Proportional sizes are accumulated in
//! fixed point (`<< PSS_SHIFT`) and only truncated when printed, so the rollup, which sums across VMAs before
//! the shift, can exceed the sum of the per-VMA values.
//!
//! `AnonHugePages` counts pages the walk reports as PMD-mapped anonymous THP ([`PageStat::thp`]).
//! Not modelled (always 0): KSM, shmem and file THPs (`ShmemPmdMapped`, `FilePmdMapped`),
//! hugetlb pages (the hugetlb pool is empty), and swapped-out shmem pages (`shmem_partial_swap_usage`).
//! A swap entry counts as mapped once for `SwapPss` (`swp_swapcount` 1): the model has no swap-count table.

use std::io::Write;

use crate::addr::PAGE_SIZE;
use crate::arch::Arch;
use crate::errno::Errno;
use crate::kernel::Kernel;
use crate::mm::memory::PageStat;
use crate::mm::vma::{VmFlags, Vma};
use crate::mm::Mm;
use crate::procfs::maps::{seq_pad, show_map_vma, show_vma_header_prefix};
use crate::procfs::pagemap::{decode_swap_pte, SwapPte};
use crate::procfs::{gate_vma, proc_vmas, put_dec_width, PageSource, ProcVma};

/// `PSS_SHIFT`: the fixed-point shift of the proportional counters.
pub const PSS_SHIFT: u32 = 12;

/// The size of a PMD-mapped transparent huge page on x86-64.
const HPAGE_PMD_SIZE: u64 = 2 << 20;

/// `struct mem_size_stats`: byte counts, and fixed-point (`<< PSS_SHIFT`) byte counts for the `pss*` fields.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct MemSizeStats {
    pub resident: u64,
    pub shared_clean: u64,
    pub shared_dirty: u64,
    pub private_clean: u64,
    pub private_dirty: u64,
    pub referenced: u64,
    pub anonymous: u64,
    pub lazyfree: u64,
    pub anonymous_thp: u64,
    pub shmem_thp: u64,
    pub file_thp: u64,
    pub swap: u64,
    pub shared_hugetlb: u64,
    pub private_hugetlb: u64,
    pub ksm: u64,
    pub pss: u64,
    pub pss_anon: u64,
    pub pss_file: u64,
    pub pss_shmem: u64,
    pub pss_dirty: u64,
    pub pss_locked: u64,
    pub swap_pss: u64,
}

impl MemSizeStats {
    /// `smaps_page_accumulate`: add one page's contribution, split by sharing, dirtiness and folio type.
    fn page_accumulate(&mut self, ps: &PageStat, size: u64, pss: u64, locked: bool, private: bool) {
        self.pss += pss;
        if ps.anon {
            self.pss_anon += pss;
        } else if ps.shmem {
            self.pss_shmem += pss;
        } else {
            self.pss_file += pss;
        }
        if locked {
            self.pss_locked += pss;
        }
        if ps.dirty {
            self.pss_dirty += pss;
            if private {
                self.private_dirty += size;
            } else {
                self.shared_dirty += size;
            }
        } else if private {
            self.private_clean += size;
        } else {
            self.shared_clean += size;
        }
    }

    /// `smaps_account` for one present 4 KiB page. A page is private when mapped once (`mapcount < 2`; a
    /// folio with refcount 1 takes the same branch), and then counts fully toward Pss.
    fn account(&mut self, ps: &PageStat, locked: bool) {
        let size = PAGE_SIZE;
        if ps.anon {
            self.anonymous += size;
            // smaps_pmd_entry: a PMD-mapped anonymous THP (the model keeps its 512 PTEs, see PageStat::thp).
            if ps.thp {
                self.anonymous_thp += size;
            }
            // A MADV_FREE'd folio loses its swap-backing until written again; only clean ones are lazy.
            if ps.lazyfree && !ps.dirty {
                self.lazyfree += size;
            }
        }
        self.resident += size;
        if ps.young {
            self.referenced += size;
        }
        let mut pss = size << PSS_SHIFT;
        let private = ps.mapcount < 2;
        if !private {
            pss /= u64::from(ps.mapcount);
        }
        self.page_accumulate(ps, size, pss, locked, private);
    }

    /// `smaps_pte_entry`: one non-empty PTE of `vma`.
    fn pte_entry(&mut self, arch: Arch, vma: &Vma, ps: &PageStat) {
        let locked = vma.flags.contains(VmFlags::LOCKED);
        if ps.present {
            // vm_normal_page: the zero page and raw PFN mappings have no page to account.
            if ps.zero_page || vma.flags.contains(VmFlags::PFNMAP) {
                return;
            }
            self.account(ps, locked);
        } else if let Some(raw) = ps.swap {
            // Only real swap entries count; PTE markers (guard regions) and migration entries do not.
            if let SwapPte::Swap { .. } = decode_swap_pte(arch, raw) {
                self.swap += PAGE_SIZE;
                self.swap_pss += PAGE_SIZE << PSS_SHIFT;
            }
        }
    }

    /// `smap_gather_stats`: walk one VMA's page tables. The gate VMA is never walked (it has no user PTEs).
    pub fn gather(&mut self, arch: Arch, pages: &dyn PageSource, mm: &Mm, pv: ProcVma<'_>) {
        if pv.is_gate {
            return;
        }
        let vma = pv.vma;
        pages.walk(mm.id, vma.start, vma.end, &mut |ps: &PageStat| {
            self.pte_entry(arch, vma, ps);
        });
    }
}

/// The statistics of one VMA (`smap_gather_stats` on a zeroed `mem_size_stats`).
pub fn vma_stats(kernel: &Kernel, mm: &Mm, vma: &Vma) -> MemSizeStats {
    let mut mss = MemSizeStats::default();
    mss.gather(kernel.cfg.arch, kernel, mm, ProcVma { vma, is_gate: false });
    mss
}

/// `SEQ_PUT_DEC(label, bytes)`: the value in kB, 8 wide.
fn put_kb(out: &mut Vec<u8>, label: &str, bytes: u64) {
    put_dec_width(out, label, bytes >> 10, 8);
}

/// `__show_smap`: the statistics lines shared by smaps and smaps_rollup (with the `Pss_*` split in rollup).
fn show_smap_stats(out: &mut Vec<u8>, mss: &MemSizeStats, rollup: bool) {
    put_kb(out, "Rss:            ", mss.resident);
    put_kb(out, " kB\nPss:            ", mss.pss >> PSS_SHIFT);
    put_kb(out, " kB\nPss_Dirty:      ", mss.pss_dirty >> PSS_SHIFT);
    if rollup {
        put_kb(out, " kB\nPss_Anon:       ", mss.pss_anon >> PSS_SHIFT);
        put_kb(out, " kB\nPss_File:       ", mss.pss_file >> PSS_SHIFT);
        put_kb(out, " kB\nPss_Shmem:      ", mss.pss_shmem >> PSS_SHIFT);
    }
    put_kb(out, " kB\nShared_Clean:   ", mss.shared_clean);
    put_kb(out, " kB\nShared_Dirty:   ", mss.shared_dirty);
    put_kb(out, " kB\nPrivate_Clean:  ", mss.private_clean);
    put_kb(out, " kB\nPrivate_Dirty:  ", mss.private_dirty);
    put_kb(out, " kB\nReferenced:     ", mss.referenced);
    put_kb(out, " kB\nAnonymous:      ", mss.anonymous);
    put_kb(out, " kB\nKSM:            ", mss.ksm);
    put_kb(out, " kB\nLazyFree:       ", mss.lazyfree);
    put_kb(out, " kB\nAnonHugePages:  ", mss.anonymous_thp);
    put_kb(out, " kB\nShmemPmdMapped: ", mss.shmem_thp);
    put_kb(out, " kB\nFilePmdMapped:  ", mss.file_thp);
    put_kb(out, " kB\nShared_Hugetlb: ", mss.shared_hugetlb);
    // One byte longer label, one column narrower value: the same end column.
    put_dec_width(out, " kB\nPrivate_Hugetlb: ", mss.private_hugetlb >> 10, 7);
    put_kb(out, " kB\nSwap:           ", mss.swap);
    put_kb(out, " kB\nSwapPss:        ", mss.swap_pss >> PSS_SHIFT);
    put_kb(out, " kB\nLocked:         ", mss.pss_locked >> PSS_SHIFT);
    out.extend_from_slice(b" kB\n");
}

/// `vma_kernel_pagesize`: the huge page size for hugetlb VMAs (that of their hugetlbfs file: 2 MiB or 1 GiB on
/// x86-64, 4 MiB on non-PAE i386).
fn kernel_pagesize(arch: Arch, vma: &Vma) -> u64 {
    if let Some(size) = vma.hugetlb_page_size() {
        size
    } else if vma.flags.contains(VmFlags::HUGETLB) {
        if arch.is_64bit() {
            2 << 20
        } else {
            4 << 20
        }
    } else {
        PAGE_SIZE
    }
}

/// `thp_vma_suitable_order(vma, vm_end - PMD_SIZE, PMD_ORDER)`: does an aligned 2 MiB block fit (and, for
/// file VMAs, line up with the file)? The subtraction wraps for VMAs ending below 2 MiB, as in C.
fn thp_suitable_pmd(vma: &Vma) -> bool {
    let nr = HPAGE_PMD_SIZE >> 12;
    if !vma.is_anonymous() && !((vma.start.as_u64() >> 12).wrapping_sub(vma.pgoff)).is_multiple_of(nr) {
        return false;
    }
    let addr = vma.end.as_u64().wrapping_sub(HPAGE_PMD_SIZE);
    let haddr = addr & !(HPAGE_PMD_SIZE - 1);
    !(haddr < vma.start.as_u64() || haddr.wrapping_add(HPAGE_PMD_SIZE) > vma.end.as_u64())
}

/// `THPeligible` (`thp_vma_allowable_orders(vma, vm_flags, TVA_SMAPS, THP_ORDERS_ALL)`), for the reference
/// machine's settings: `transparent_hugepage/enabled` = `madvise`, `shmem_enabled` = `never`, default mTHP
/// orders (PMD only, `inherit`). So anonymous VMAs qualify after MADV_HUGEPAGE when a 2 MiB block fits; shmem
/// never does; other file VMAs would need `CONFIG_READ_ONLY_THP_FOR_FS` and no writer, which the model does
/// not track, so they are reported ineligible. A native i386 kernel (non-PAE) has no THP at all.
pub fn thp_eligible(arch: Arch, pv: ProcVma<'_>) -> bool {
    let vma = pv.vma;
    if !arch.is_64bit() || pv.is_gate {
        return false;
    }
    // vma_thp_disabled: MADV_NOHUGEPAGE (prctl PR_SET_THP_DISABLE is not modelled).
    if vma.flags.contains(VmFlags::NOHUGEPAGE) {
        return false;
    }
    if !vma.is_anonymous() {
        return false;
    }
    // thp_vma_allowable_orders: in madvise mode only VM_HUGEPAGE VMAs get the inherited PMD order.
    if !vma.flags.contains(VmFlags::HUGEPAGE) {
        return false;
    }
    thp_suitable_pmd(vma)
}

/// `show_smap`: the maps line, the statistics, `THPeligible` and `VmFlags` of one VMA.
fn show_smap(out: &mut Vec<u8>, arch: Arch, pages: &dyn PageSource, mm: &Mm, pv: ProcVma<'_>) {
    let mut mss = MemSizeStats::default();
    mss.gather(arch, pages, mm, pv);
    show_map_vma(out, arch, mm, pv);
    let vma = pv.vma;
    let page = kernel_pagesize(arch, vma);
    put_kb(out, "Size:           ", vma.len());
    put_kb(out, " kB\nKernelPageSize: ", page);
    put_kb(out, " kB\nMMUPageSize:    ", page);
    out.extend_from_slice(b" kB\n");
    show_smap_stats(out, &mss, false);
    let _ = writeln!(out, "THPeligible:    {:>8}", u32::from(thp_eligible(arch, pv)));
    // ProtectionKey: only with PKU enabled; the reference machine has none.
    out.extend_from_slice(b"VmFlags: ");
    out.extend_from_slice(vma.flags.mnemonics().as_bytes());
    out.push(b'\n');
}

/// The whole of `/proc/PID/smaps` (empty without an address space), with page-table contents from `pages`
/// (the kernel itself, or a synthetic source in tests).
pub fn render_smaps(kernel: &Kernel, pages: &dyn PageSource, mm: Option<&Mm>) -> Vec<u8> {
    let Some(mm) = mm else { return Vec::new() };
    let arch = kernel.cfg.arch;
    let gate = gate_vma(arch);
    let mut out = Vec::with_capacity((mm.vmas.len() + 1) * 1100);
    for pv in proc_vmas(mm, gate.as_ref()) {
        show_smap(&mut out, arch, pages, mm, pv);
    }
    out
}

/// The smaps block of one VMA of `mm`, for callers that compare single VMAs.
pub fn render_smaps_vma(kernel: &Kernel, pages: &dyn PageSource, mm: &Mm, vma: &Vma) -> Vec<u8> {
    let mut out = Vec::with_capacity(1100);
    show_smap(&mut out, kernel.cfg.arch, pages, mm, ProcVma { vma, is_gate: false });
    out
}

/// The rollup statistics of an address space: every VMA summed (the gate excluded), Pss in fixed point.
pub fn rollup_stats(arch: Arch, pages: &dyn PageSource, mm: &Mm) -> MemSizeStats {
    let mut mss = MemSizeStats::default();
    for vma in mm.vmas.iter() {
        mss.gather(arch, pages, mm, ProcVma { vma, is_gate: false });
    }
    mss
}

/// `show_smaps_rollup`: a header spanning first VMA start to last VMA end, then the summed statistics.
/// Without an address space the read fails with ESRCH.
pub fn render_rollup(kernel: &Kernel, pages: &dyn PageSource, mm: Option<&Mm>) -> Result<Vec<u8>, Errno> {
    let mm = mm.ok_or(Errno::ESRCH)?;
    let arch = kernel.cfg.arch;
    let mss = rollup_stats(arch, pages, mm);
    let start = mm.vmas.first().map_or(0, |v| v.start.as_u64());
    let end = mm.vmas.last().map_or(0, |v| v.end.as_u64());
    let mut out = Vec::with_capacity(1024);
    let pad = show_vma_header_prefix(&mut out, arch, (start, end), VmFlags::empty(), 0, (0, 0), 0);
    seq_pad(&mut out, pad);
    out.extend_from_slice(b"[rollup]\n");
    show_smap_stats(&mut out, &mss, true);
    Ok(out)
}
