//! The kernel's side of the page tables of one address space: allocating tables on the way down
//! (`__pte_alloc`, `__pmd_alloc`, `__pud_alloc`, `__p4d_alloc`, `pgd_alloc`), finding a PTE, visiting the
//! PTE tables under a range, and freeing tables (`free_pgd_range` in `mm/memory.c`).
//!
//! Tables are simulated frames whose bytes are the entries. A directory entry that points to a table holds
//! `_PAGE_TABLE` (`P|RW|USER|A|D`) and the table's frame, as `pmd_populate` writes it. `mm->pgtables_bytes`
//! counts PTE, PMD and PUD tables (4096 bytes each), never the PGD nor a P4D table, as Linux does.

use crate::addr::Pfn;
use crate::arch::paging::Level;
use crate::arch::pte::{Pte, PteFlags};
use crate::arch::Arch;
use crate::mm::Mm;
use crate::phys::PhysMem;

/// Where a PTE lives: its table frame and index.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PteSlot {
    pub table: Pfn,
    pub idx: usize,
}

impl PteSlot {
    #[inline]
    pub fn read(self, phys: &PhysMem, arch: Arch) -> Pte {
        Pte(phys.read_entry(self.table, self.idx, arch.pte_bytes() as usize))
    }
    #[inline]
    pub fn write(self, phys: &mut PhysMem, arch: Arch, pte: Pte) {
        phys.write_entry(self.table, self.idx, arch.pte_bytes() as usize, pte.0)
    }
}

/// `pgd_alloc`: the root table, allocated the first time it is needed. `None` when memory is exhausted.
pub fn pgd_alloc(phys: &mut PhysMem, mm: &mut Mm) -> Option<Pfn> {
    if let Some(p) = mm.pgd {
        return Some(p);
    }
    let p = phys.alloc_pgtable()?;
    mm.pgd = Some(p);
    Some(p)
}

/// The slot of the directory entry that points to the PTE table of `addr`, if that table exists.
pub fn pmd_lookup(phys: &PhysMem, arch: Arch, root: Option<Pfn>, addr: u64) -> Option<PteSlot> {
    let width = arch.pte_bytes() as usize;
    let mut table = root?;
    let levels = arch.paging_levels();
    let n = levels.len();
    for &level in &levels[..n - 2] {
        let e = phys.read_entry(table, arch.table_index(level, addr), width);
        if e & PteFlags::PRESENT.bits() == 0 {
            return None;
        }
        table = Pfn(Pte(e).pfn(arch));
    }
    let idx = arch.table_index(levels[n - 2], addr);
    let e = Pte(phys.read_entry(table, idx, width));
    (e.hw_present() && !e.flags().contains(PteFlags::PSE)).then_some(PteSlot { table, idx })
}

/// Find the PTE slot of `addr` without allocating (`pte_offset_map` after a walk that stops at a none entry).
#[inline]
pub fn pte_lookup(phys: &PhysMem, arch: Arch, root: Option<Pfn>, addr: u64) -> Option<PteSlot> {
    let width = arch.pte_bytes() as usize;
    let mut table = root?;
    let levels = arch.paging_levels();
    if let Some((t, _)) = phys.cached_pte_table(table, addr >> arch.level_shift(levels[levels.len() - 2])) {
        return Some(PteSlot {
            table: t,
            idx: arch.table_index(Level::Pte, addr),
        });
    }
    for &level in &levels[..levels.len() - 1] {
        let e = phys.read_entry(table, arch.table_index(level, addr), width);
        if e & PteFlags::PRESENT.bits() == 0 {
            return None;
        }
        table = Pfn(Pte(e).pfn(arch));
    }
    Some(PteSlot {
        table,
        idx: arch.table_index(Level::Pte, addr),
    })
}

/// The PTE of `addr`, or the none entry.
#[inline]
pub fn pte_get(phys: &PhysMem, arch: Arch, root: Option<Pfn>, addr: u64) -> Pte {
    pte_lookup(phys, arch, root, addr).map_or(Pte(0), |s| s.read(phys, arch))
}

/// `pmd_alloc` (with `p4d_alloc`/`pud_alloc` above it): allocate the PGD and every directory table down to
/// the entry that points to the PTE table of `addr`, and return that entry's slot. `None` when memory is
/// exhausted; tables allocated before the failure stay, as in Linux.
pub fn pmd_alloc(phys: &mut PhysMem, arch: Arch, mm: &mut Mm, addr: u64) -> Option<PteSlot> {
    let width = arch.pte_bytes() as usize;
    let mut table = pgd_alloc(phys, mm)?;
    let levels = arch.paging_levels();
    let n = levels.len();
    for (li, &level) in levels[..n - 2].iter().enumerate() {
        let idx = arch.table_index(level, addr);
        let e = phys.read_entry(table, idx, width);
        table = if e & PteFlags::PRESENT.bits() != 0 {
            Pfn(Pte(e).pfn(arch))
        } else {
            let child = phys.alloc_pgtable()?;
            if arch.counts_table(levels[li + 1]) {
                mm.pgtables_bytes += 4096;
            }
            phys.write_entry(table, idx, width, Pte::new(arch, child.0, PteFlags::TABLE.bits()).0);
            child
        };
    }
    Some(PteSlot {
        table,
        idx: arch.table_index(levels[n - 2], addr),
    })
}

/// `pte_alloc(mm, pmd)`: the PTE slot of `addr` under the directory entry `pmd`, installing a new PTE table
/// (`pmd_install`, `mm_inc_nr_ptes`) if there is none. `None` when memory is exhausted.
#[inline]
pub fn pte_table_alloc(phys: &mut PhysMem, arch: Arch, mm: &mut Mm, pmd: PteSlot, addr: u64) -> Option<PteSlot> {
    let width = arch.pte_bytes() as usize;
    let e = phys.read_entry(pmd.table, pmd.idx, width);
    let table = if e & PteFlags::PRESENT.bits() != 0 {
        Pfn(Pte(e).pfn(arch))
    } else {
        let child = phys.alloc_pgtable()?;
        mm.pgtables_bytes += 4096;
        phys.write_entry(
            pmd.table,
            pmd.idx,
            width,
            Pte::new(arch, child.0, PteFlags::TABLE.bits()).0,
        );
        child
    };
    Some(PteSlot {
        table,
        idx: arch.table_index(Level::Pte, addr),
    })
}

/// Find the PTE slot of `addr`, allocating the PGD and any missing table on the way. `None` when memory is
/// exhausted (`VM_FAULT_OOM`).
#[inline]
pub fn pte_alloc(phys: &mut PhysMem, arch: Arch, mm: &mut Mm, addr: u64) -> Option<PteSlot> {
    // Fast path: every table exists.
    if let Some(s) = pte_lookup(phys, arch, mm.pgd, addr) {
        return Some(s);
    }
    let pmd = pmd_alloc(phys, arch, mm, addr)?;
    pte_table_alloc(phys, arch, mm, pmd, addr)
}

/// The end of the entry of `shift` that contains `addr`, clipped to `end` (`pgd_addr_end` and friends; an
/// `end` of 0 means the top of the address space).
#[inline]
pub fn addr_end(addr: u64, end: u64, shift: u32) -> u64 {
    let size = 1u64 << shift;
    let boundary = (addr.wrapping_add(size)) & !(size - 1);
    if boundary.wrapping_sub(1) < end.wrapping_sub(1) {
        boundary
    } else {
        end
    }
}

/// One PTE table under a range: its frame, the virtual address its entry 0 maps, and the index range
/// `[first, last]` of entries inside the range.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct LeafTable {
    pub table: Pfn,
    pub base: u64,
    pub first: usize,
    pub last: usize,
}

impl LeafTable {
    /// The virtual address mapped by entry `idx`.
    #[inline]
    pub fn addr(&self, idx: usize) -> u64 {
        self.base + ((idx as u64) << 12)
    }
}

/// The PTE tables that map part of `[start, end)`, in address order (only existing tables are visited, so a
/// range spanning the whole address space costs as much as the tables it finds).
pub fn leaf_tables(phys: &PhysMem, arch: Arch, root: Option<Pfn>, start: u64, end: u64) -> Vec<LeafTable> {
    let mut out = Vec::new();
    if let Some(root) = root {
        if start < end {
            collect(phys, arch, 0, root, 0, start, end, &mut out);
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn collect(
    phys: &PhysMem,
    arch: Arch,
    li: usize,
    table: Pfn,
    base: u64,
    start: u64,
    end: u64,
    out: &mut Vec<LeafTable>,
) {
    let levels = arch.paging_levels();
    let level = levels[li];
    let shift = arch.level_shift(level);
    let n = arch.ptrs_per_table();
    let width = arch.pte_bytes() as usize;
    let lo = start.max(base);
    let span_end = base + ((n as u64) << shift);
    let hi = end.min(span_end);
    if lo >= hi {
        return;
    }
    let first = ((lo - base) >> shift) as usize;
    let last = ((hi - 1 - base) >> shift) as usize;
    if level == Level::Pte {
        out.push(LeafTable {
            table,
            base,
            first,
            last,
        });
        return;
    }
    for idx in first..=last {
        let e = Pte(phys.read_entry(table, idx, width));
        if !e.hw_present() || e.flags().contains(PteFlags::PSE) {
            continue;
        }
        let child_base = base + ((idx as u64) << shift);
        collect(phys, arch, li + 1, Pfn(e.pfn(arch)), child_base, start, end, out);
    }
}

/// `free_pgd_range(tlb, addr, end, floor, ceiling)`: free the page tables that map only addresses inside
/// `[floor, ceiling)` among those under `[addr, end)` (`ceiling` 0 = no ceiling). PTE tables are freed at
/// PMD granularity after the range is shrunk to whole PMD-sized slots inside the floor and ceiling; a
/// directory table is freed only when the whole range its parent entry maps lies in `[floor, ceiling)`.
/// The PTEs must already be zapped.
pub fn free_pgd_range(phys: &mut PhysMem, arch: Arch, mm: &mut Mm, addr: u64, end: u64, floor: u64, ceiling: u64) {
    let Some(root) = mm.pgd else { return };
    let levels = arch.paging_levels();
    // The size one entry pointing to a PTE table maps: PMD_SIZE (4 MiB on i386, where the PMD is folded).
    let pmd_shift = arch.level_shift(levels[levels.len() - 2]);
    let pmd_size = 1u64 << pmd_shift;
    let pmd_mask = !(pmd_size - 1);
    let mut addr = addr & pmd_mask;
    let mut end = end;
    let mut ceiling = ceiling;
    if addr < floor {
        addr = addr.wrapping_add(pmd_size);
        if addr == 0 {
            return;
        }
    }
    if ceiling != 0 {
        ceiling &= pmd_mask;
        if ceiling == 0 {
            return;
        }
    }
    if end.wrapping_sub(1) > ceiling.wrapping_sub(1) {
        end = end.wrapping_sub(pmd_size);
    }
    if addr > end.wrapping_sub(1) {
        return;
    }
    free_level(phys, arch, mm, 0, root, addr, end, floor, ceiling);
}

/// Free the tables below the entries of `table` (whose entries are of level `li`) that cover `[addr, end)`.
#[allow(clippy::too_many_arguments)]
fn free_level(
    phys: &mut PhysMem,
    arch: Arch,
    mm: &mut Mm,
    li: usize,
    table: Pfn,
    addr: u64,
    end: u64,
    floor: u64,
    ceiling: u64,
) {
    let levels = arch.paging_levels();
    let level = levels[li];
    let child_level = levels[li + 1];
    let shift = arch.level_shift(level);
    let mask = !((1u64 << shift) - 1);
    let width = arch.pte_bytes() as usize;
    let mut a = addr;
    loop {
        let next = addr_end(a, end, shift);
        let idx = arch.table_index(level, a);
        let e = Pte(phys.read_entry(table, idx, width));
        if e.hw_present() && !e.flags().contains(PteFlags::PSE) {
            let child = Pfn(e.pfn(arch));
            let free_child = if child_level == Level::Pte {
                // free_pte_range: the PTE table goes unconditionally.
                true
            } else {
                free_level(phys, arch, mm, li + 1, child, a, next, floor, ceiling);
                // The tail of free_pmd_range / free_pud_range / free_p4d_range.
                let start = a & mask;
                let mut c = ceiling;
                let mut ok = start >= floor;
                if ok && c != 0 {
                    c &= mask;
                    ok = c != 0;
                }
                ok && next.wrapping_sub(1) <= c.wrapping_sub(1)
            };
            if free_child {
                phys.write_entry(table, idx, width, 0);
                phys.free(child);
                if arch.counts_table(child_level) {
                    mm.pgtables_bytes -= 4096;
                }
            }
        }
        a = next;
        if a == end {
            break;
        }
    }
}

/// The first address past the range the root table maps.
pub fn root_span(arch: Arch) -> u64 {
    (arch.ptrs_per_table() as u64) << arch.level_shift(Level::Pgd)
}

/// Free every table of `mm` and its PGD (`free_pgtables` over everything with no floor or ceiling, then
/// `pgd_free`, as `exit_mmap` does). The PTEs must already be zapped.
pub fn free_all(phys: &mut PhysMem, arch: Arch, mm: &mut Mm) {
    free_pgd_range(phys, arch, mm, 0, root_span(arch), 0, 0);
    if let Some(root) = mm.pgd.take() {
        phys.free(root);
    }
}

/// Every table of an address space (the PGD included) with the level of its entries, for invariant checks.
pub fn all_tables(phys: &PhysMem, arch: Arch, root: Option<Pfn>) -> Vec<(Pfn, Level)> {
    let mut out = Vec::new();
    fn rec(phys: &PhysMem, arch: Arch, li: usize, table: Pfn, out: &mut Vec<(Pfn, Level)>) {
        let levels = arch.paging_levels();
        out.push((table, levels[li]));
        if li + 1 == levels.len() {
            return;
        }
        let width = arch.pte_bytes() as usize;
        for idx in 0..arch.ptrs_per_table() {
            let e = Pte(phys.read_entry(table, idx, width));
            if e.hw_present() && !e.flags().contains(PteFlags::PSE) {
                rec(phys, arch, li + 1, Pfn(e.pfn(arch)), out);
            }
        }
    }
    if let Some(r) = root {
        rec(phys, arch, 0, r, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::MmId;

    fn mm() -> Mm {
        Mm::new(MmId(1), 0x7fff_ffff_f000, 0x7fff_f7ff_f000, 0x2aaa_aaab_0000)
    }

    #[test]
    fn pgtables_bytes_like_linux() {
        // First touch in a new 512 GiB slot: PUD + PMD + PTE tables = 12 kB; new 1 GiB slot: 8 kB;
        // new 2 MiB slot: 4 kB (linux-mm-rules.md §9).
        let mut phys = PhysMem::new(1 << 20);
        let mut m = mm();
        let a = Arch::X86_64;
        pte_alloc(&mut phys, a, &mut m, 0x1_0000_0000).unwrap();
        assert_eq!(m.pgtables_bytes, 12 << 10);
        pte_alloc(&mut phys, a, &mut m, 0x1_0000_1000).unwrap();
        assert_eq!(m.pgtables_bytes, 12 << 10);
        pte_alloc(&mut phys, a, &mut m, 0x1_0020_0000).unwrap();
        assert_eq!(m.pgtables_bytes, 16 << 10);
        pte_alloc(&mut phys, a, &mut m, 0x1_4000_0000).unwrap();
        assert_eq!(m.pgtables_bytes, 24 << 10);
        assert_eq!(phys.nr_used(), 1 + 1 + 6, "zero page, PGD, 6 tables");
        free_all(&mut phys, a, &mut m);
        assert_eq!(m.pgtables_bytes, 0);
        assert_eq!(phys.nr_used(), 1);
    }

    #[test]
    fn la57_p4d_is_not_counted_and_i386_only_ptes() {
        let mut phys = PhysMem::new(1 << 20);
        let mut m = mm();
        pte_alloc(&mut phys, Arch::X86_64La57, &mut m, 0x1_0000_0000).unwrap();
        assert_eq!(m.pgtables_bytes, 12 << 10);
        assert_eq!(phys.nr_used(), 1 + 1 + 4);
        let mut m2 = mm();
        pte_alloc(&mut phys, Arch::I386, &mut m2, 0x0804_8000).unwrap();
        assert_eq!(m2.pgtables_bytes, 4 << 10);
    }

    #[test]
    fn free_pgd_range_respects_floor_and_ceiling() {
        let mut phys = PhysMem::new(1 << 20);
        let mut m = mm();
        let a = Arch::X86_64;
        // Two PTE tables in one PMD table: [0x4000_0000, +2M) and [0x4020_0000, +2M).
        pte_alloc(&mut phys, a, &mut m, 0x4000_0000).unwrap();
        pte_alloc(&mut phys, a, &mut m, 0x4020_0000).unwrap();
        assert_eq!(m.pgtables_bytes, 16 << 10);
        // Unmap [0x4020_0000, 0x4020_1000) with a VMA ending at 0x4000_1000 below (floor) and nothing above.
        free_pgd_range(&mut phys, a, &mut m, 0x4020_0000, 0x4020_1000, 0x4000_1000, 0);
        // The second PTE table goes; the PMD/PUD tables stay because the lower VMA still needs them.
        assert_eq!(m.pgtables_bytes, 12 << 10);
        // A floor inside the first PTE table's range keeps it.
        free_pgd_range(&mut phys, a, &mut m, 0x4000_1000, 0x4000_2000, 0x4000_1000, 0);
        assert_eq!(m.pgtables_bytes, 12 << 10);
        // Nothing left below or above: everything goes.
        free_pgd_range(&mut phys, a, &mut m, 0x4000_0000, 0x4000_1000, 0, 0);
        assert_eq!(m.pgtables_bytes, 0);
        assert!(leaf_tables(&phys, a, m.pgd, 0, 1 << 47).is_empty());
    }

    #[test]
    fn leaf_tables_visit_only_existing() {
        let mut phys = PhysMem::new(1 << 20);
        let mut m = mm();
        let a = Arch::X86_64;
        pte_alloc(&mut phys, a, &mut m, 0x1000).unwrap();
        pte_alloc(&mut phys, a, &mut m, 0x7fff_ffff_e000).unwrap();
        let t = leaf_tables(&phys, a, m.pgd, 0, 1 << 47);
        assert_eq!(t.len(), 2);
        assert_eq!((t[0].base, t[0].first, t[0].last), (0, 0, 511));
        assert_eq!(t[1].base, 0x7fff_ffe0_0000);
        let t = leaf_tables(&phys, a, m.pgd, 0x3000, 0x5000);
        assert_eq!((t[0].first, t[0].last), (3, 4));
    }
}
