//! Paging structures and the MMU's walk (Intel SDM vol. 3A ch. 4; Linux's `pgd/p4d/pud/pmd/pte` names from
//! `include/linux/pgtable.h`).
//!
//! * `x86_64`: PGD (PML4) → PUD (PDPT) → PMD (PD) → PTE (PT), 512 8-byte entries per table; P4D folded.
//! * `x86_64-la57`: PGD (PML5) → P4D (PML4) → PUD → PMD → PTE.
//! * `i386` non-PAE: PGD (PD, 1024 4-byte entries) → PTE (PT, 1024 entries); P4D, PUD and PMD folded.
//!
//! [`hw_walk`] is the MMU: it checks P, R/W, U/S and NX at every level, sets the accessed bit of every entry
//! it used and the dirty bit of the leaf on a write, and reports an x86 page-fault error code on failure.
//! Model choices: CR0.WP=1 (Linux), EFER.NXE=1 on 64-bit, CR4.PSE=1, no SMEP/SMAP/PKU, MAXPHYADDR 52.

use bitflags::bitflags;

use crate::addr::{Pfn, PhysAddr};
use crate::arch::pte::{pfn_mask, Pte, PteFlags};
use crate::arch::Arch;
use crate::phys::PhysMem;

/// A page-table level, named as Linux names it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum Level {
    Pgd,
    P4d,
    Pud,
    Pmd,
    Pte,
}

impl Level {
    /// Linux's name of the entry type.
    pub const fn name(self) -> &'static str {
        match self {
            Level::Pgd => "PGD",
            Level::P4d => "P4D",
            Level::Pud => "PUD",
            Level::Pmd => "PMD",
            Level::Pte => "PTE",
        }
    }
}

const LEVELS_4: [Level; 4] = [Level::Pgd, Level::Pud, Level::Pmd, Level::Pte];
const LEVELS_5: [Level; 5] = [Level::Pgd, Level::P4d, Level::Pud, Level::Pmd, Level::Pte];
const LEVELS_2: [Level; 2] = [Level::Pgd, Level::Pte];

impl Arch {
    /// The levels the MMU walks, root first.
    pub const fn paging_levels(self) -> &'static [Level] {
        match self {
            Arch::X86_64 => &LEVELS_4,
            Arch::X86_64La57 => &LEVELS_5,
            Arch::I386 => &LEVELS_2,
        }
    }

    /// Entries per table (`PTRS_PER_PTE` and friends).
    pub const fn ptrs_per_table(self) -> usize {
        if self.is_64bit() {
            512
        } else {
            1024
        }
    }

    /// log2 of the bytes one entry of `level` maps (`PGDIR_SHIFT`, `P4D_SHIFT`, ...).
    pub const fn level_shift(self, level: Level) -> u32 {
        match (self, level) {
            (_, Level::Pte) => 12,
            (Arch::I386, _) => 22,
            (_, Level::Pmd) => 21,
            (_, Level::Pud) => 30,
            (_, Level::P4d) => 39,
            (Arch::X86_64, Level::Pgd) => 39,
            (Arch::X86_64La57, Level::Pgd) => 48,
        }
    }

    /// The MMU's name of a level's table (Intel SDM).
    pub const fn hw_table_name(self, level: Level) -> &'static str {
        match (self, level) {
            (_, Level::Pte) => "page table",
            (Arch::I386, _) => "page directory",
            (_, Level::Pmd) => "page directory",
            (_, Level::Pud) => "page-directory-pointer table",
            (_, Level::P4d) => "PML4",
            (Arch::X86_64, Level::Pgd) => "PML4",
            (Arch::X86_64La57, Level::Pgd) => "PML5",
        }
    }

    /// The index of `addr` in a table of `level`.
    #[inline]
    pub const fn table_index(self, level: Level, addr: u64) -> usize {
        ((addr >> self.level_shift(level)) as usize) & (self.ptrs_per_table() - 1)
    }

    /// Whether Linux counts a table whose entries are of `level` in `mm->pgtables_bytes` (`mm_inc_nr_ptes`,
    /// `mm_inc_nr_pmds`, `mm_inc_nr_puds`; `__p4d_alloc` counts nothing, the PGD is not counted).
    pub const fn counts_table(self, level: Level) -> bool {
        matches!(level, Level::Pte | Level::Pmd | Level::Pud)
    }

    /// The size in bytes the walk can map with a leaf at `level` (PS set), if any.
    pub const fn large_page_at(self, level: Level) -> Option<u64> {
        match (self, level) {
            (Arch::I386, Level::Pgd) => Some(4 << 20),
            (Arch::I386, _) => None,
            (_, Level::Pmd) => Some(2 << 20),
            (_, Level::Pud) => Some(1 << 30),
            _ => None,
        }
    }
}

bitflags! {
    /// The x86 page-fault error code pushed on a #PF (`enum x86_pf_error_code`).
    #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
    pub struct PfError: u32 {
        /// P: 0 = not present, 1 = protection violation.
        const PROT = 1 << 0;
        /// W/R: the access was a write.
        const WRITE = 1 << 1;
        /// U/S: the access came from user mode.
        const USER = 1 << 2;
        /// RSVD: a reserved bit was set in a paging-structure entry.
        const RSVD = 1 << 3;
        /// I/D: an instruction fetch (reported only when NX is enabled).
        const INSTR = 1 << 4;
        /// PK: protection-key violation.
        const PK = 1 << 5;
        /// SS: shadow-stack access.
        const SHSTK = 1 << 6;
    }
}

impl PfError {
    /// The bits in the kernel's spelling (`X86_PF_*`), e.g. `PROT|WRITE|USER`.
    pub fn describe(self) -> String {
        let mut v = Vec::new();
        v.push(if self.contains(PfError::PROT) {
            "PROT"
        } else {
            "NOT_PRESENT"
        });
        v.push(if self.contains(PfError::WRITE) { "WRITE" } else { "READ" });
        v.push(if self.contains(PfError::USER) { "USER" } else { "KERNEL" });
        if self.contains(PfError::RSVD) {
            v.push("RSVD");
        }
        if self.contains(PfError::INSTR) {
            v.push("INSTR");
        }
        v.join("|")
    }
}

/// The kind of access the MMU is asked to translate.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct HwAccess {
    pub write: bool,
    pub exec: bool,
    pub user: bool,
}

/// One step of a walk, for explanations.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct WalkStep {
    pub level: Level,
    pub index: usize,
    /// Physical address of the entry.
    pub entry_addr: PhysAddr,
    /// The entry as read (before A/D were set).
    pub entry: Pte,
    /// This entry is a leaf (a PTE, or a directory entry with PS).
    pub leaf: bool,
}

/// The outcome of a successful walk.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Translation {
    pub phys: PhysAddr,
    /// The leaf entry (after A/D were set) and where it lives.
    pub leaf: Pte,
    pub leaf_table: Pfn,
    pub leaf_index: usize,
    pub page_size: u64,
}

/// Walk the paging structures rooted at `root` for `vaddr` as the MMU does. On success the accessed bits of
/// all used entries and, for writes, the leaf's dirty bit are set. `steps` receives each entry read.
pub fn hw_walk(
    phys: &mut PhysMem,
    arch: Arch,
    root: Pfn,
    vaddr: u64,
    acc: HwAccess,
    mut steps: Option<&mut Vec<WalkStep>>,
) -> Result<Translation, PfError> {
    let width = arch.pte_bytes() as usize;
    let levels = arch.paging_levels();
    let mut base = PfError::empty();
    if acc.write {
        base |= PfError::WRITE;
    }
    if acc.user {
        base |= PfError::USER;
    }
    let nx_enabled = arch.is_64bit();
    if acc.exec && nx_enabled {
        base |= PfError::INSTR;
    }
    let mut table = root;
    let mut rw = true;
    let mut us = true;
    let mut nx = false;
    // Entries used so far (table, index, value), to set their accessed bits once the walk succeeds.
    let mut used: [(Pfn, usize, u64); 5] = [(Pfn(0), 0, 0); 5];
    let n = levels.len();
    let tag = vaddr >> arch.level_shift(levels[n - 2]);
    let mut first = 0;
    // The paging-structure cache: skip the directory levels when the PTE table of this slot is known. Their
    // entries' accessed bits are already set (Linux writes them with A set, and a cached walk set the rest).
    if steps.is_none() {
        if let Some((t, bits)) = phys.cached_pte_table(root, tag) {
            table = t;
            rw = bits & 1 != 0;
            us = bits & 2 != 0;
            nx = bits & 4 != 0;
            first = n - 1;
        }
    }
    for (li, &level) in levels.iter().enumerate().skip(first) {
        if level == Level::Pte && first == 0 {
            let bits = u8::from(rw) | (u8::from(us) << 1) | (u8::from(nx) << 2);
            phys.cache_pte_table(root, tag, table, bits);
        }
        let idx = arch.table_index(level, vaddr);
        let Some(raw) = phys.try_read_entry(table, idx, width) else {
            // A frame outside the table: the model treats it as a reserved-bit violation.
            return Err(base | PfError::RSVD | PfError::PROT);
        };
        let e = Pte(raw);
        let ps = e.flags().contains(PteFlags::PSE);
        let leaf = level == Level::Pte || (ps && arch.large_page_at(level).is_some());
        if let Some(s) = steps.as_deref_mut() {
            s.push(WalkStep {
                level,
                index: idx,
                entry_addr: PhysAddr((table.0 << 12) + (idx * width) as u64),
                entry: e,
                leaf,
            });
        }
        if !e.hw_present() {
            return Err(base);
        }
        // Reserved bits: PS in the root of a 64-bit walk (and in a P4D), a large frame that is not aligned.
        if ps && level != Level::Pte && arch.large_page_at(level).is_none() {
            return Err(base | PfError::RSVD | PfError::PROT);
        }
        rw &= e.write();
        us &= e.flags().contains(PteFlags::USER);
        nx |= nx_enabled && e.flags().contains(PteFlags::NX);
        used[li] = (table, idx, raw);
        if leaf {
            let size = if level == Level::Pte {
                4096
            } else {
                arch.large_page_at(level).unwrap_or(4096)
            };
            let frame = if level == Level::Pte {
                e.0 & pfn_mask(arch)
            } else {
                // PAT_LARGE (bit 12) is not part of a large page's frame number.
                let f = e.0 & pfn_mask(arch) & !PteFlags::PAT_LARGE.bits();
                if f & (size - 1) != 0 {
                    return Err(base | PfError::RSVD | PfError::PROT);
                }
                f
            };
            let denied = (acc.user && !us) || (acc.write && !rw) || (acc.exec && nx);
            if denied {
                return Err(base | PfError::PROT);
            }
            // Set A in every entry used (only where it is clear, as the locked RMW of the MMU would), and D in
            // the leaf on a write.
            for &(t, i, v) in &used[first..li] {
                if v & PteFlags::ACCESSED.bits() == 0 {
                    phys.write_entry(t, i, width, v | PteFlags::ACCESSED.bits());
                }
            }
            let mut leaf_val = raw | PteFlags::ACCESSED.bits();
            if acc.write {
                leaf_val |= PteFlags::DIRTY.bits();
            }
            if leaf_val != raw {
                phys.write_entry(table, idx, width, leaf_val);
            }
            return Ok(Translation {
                phys: PhysAddr(frame | (vaddr & (size - 1))),
                leaf: Pte(leaf_val),
                leaf_table: table,
                leaf_index: idx,
                page_size: size,
            });
        }
        if li + 1 == levels.len() {
            break;
        }
        table = Pfn(e.pfn(arch));
    }
    Err(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_and_shifts() {
        let a = 0x7fff_ffff_f123u64;
        assert_eq!(Arch::X86_64.table_index(Level::Pgd, a), 255);
        assert_eq!(Arch::X86_64.table_index(Level::Pte, a), 511);
        assert_eq!(Arch::I386.table_index(Level::Pgd, 0x1234_ffff), 0x48);
        assert_eq!(Arch::I386.table_index(Level::Pte, 0x1234_ffff), 0x34f);
        assert_eq!(Arch::X86_64La57.table_index(Level::Pgd, 1 << 48), 1);
        assert!(!Arch::X86_64La57.counts_table(Level::P4d));
    }
}
