//! x86 page-table entries at the bit positions the hardware uses (`arch/x86/include/asm/pgtable_types.h`),
//! Linux's protection map (`arch/x86/mm/pgprot.c`) and its swap-entry encoding for non-present entries
//! (`arch/x86/include/asm/pgtable_64.h`, `pgtable-2level.h`).
//!
//! The same bit layout serves every level and both widths: i386 non-PAE entries are the low 32 bits (no NX,
//! frame number in bits 12..31); 64-bit entries carry the frame in bits 12..51 and NX in bit 63. Software
//! bits are used only where Linux uses them: `_PAGE_SPECIAL` (SOFTW1) marks zero-page and other
//! `struct page`-less mappings, and `_PAGE_PROTNONE` (the GLOBAL bit with P clear) marks PROT_NONE entries
//! that `pte_present()` still reports as present.

use bitflags::bitflags;

use crate::arch::Arch;
use crate::mm::vma::VmFlags;

bitflags! {
    /// The flag bits of a page-table entry.
    #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
    pub struct PteFlags: u64 {
        /// P: the entry maps something; the MMU faults when clear.
        const PRESENT = 1 << 0;
        /// R/W: writes allowed (user writes always, supervisor writes because Linux sets CR0.WP).
        const RW = 1 << 1;
        /// U/S: user-mode accesses allowed.
        const USER = 1 << 2;
        /// PWT: write-through caching.
        const PWT = 1 << 3;
        /// PCD: caching disabled.
        const PCD = 1 << 4;
        /// A: set by the MMU when the entry is used for a translation.
        const ACCESSED = 1 << 5;
        /// D: set by the MMU on a write through a leaf entry.
        const DIRTY = 1 << 6;
        /// PS in directory entries (a 2 MiB, 4 MiB or 1 GiB leaf); PAT in 4 KiB PTEs.
        const PSE = 1 << 7;
        /// G: global TLB entry. With P clear, Linux's `_PAGE_PROTNONE`.
        const GLOBAL = 1 << 8;
        /// SOFTW1: Linux's `_PAGE_SPECIAL` (no `struct page` to refcount, e.g. the zero page).
        const SOFTW1 = 1 << 9;
        /// SOFTW2: Linux's `_PAGE_UFFD_WP` on x86-64 (`_PAGE_SAVED_DIRTY` on i386).
        const SOFTW2 = 1 << 10;
        /// SOFTW3: Linux's `_PAGE_SOFT_DIRTY`.
        const SOFTW3 = 1 << 11;
        /// PAT bit of 2 MiB / 1 GiB leaf entries.
        const PAT_LARGE = 1 << 12;
        /// SOFTW4 (x86-64 only).
        const SOFTW4 = 1 << 57;
        /// SOFTW5: Linux's `_PAGE_SAVED_DIRTY` on x86-64 (shadow stacks).
        const SOFTW5 = 1 << 58;
        /// XD/NX: instruction fetches fault (x86-64; needs EFER.NXE, which Linux sets).
        const NX = 1 << 63;
    }
}

impl PteFlags {
    /// `_PAGE_PAT` of a 4 KiB PTE (same bit as PS).
    pub const PAT: PteFlags = PteFlags::PSE;
    /// `_PAGE_SPECIAL`.
    pub const SPECIAL: PteFlags = PteFlags::SOFTW1;
    /// `_PAGE_PROTNONE`: a PROT_NONE mapping (only meaningful with P clear).
    pub const PROTNONE: PteFlags = PteFlags::GLOBAL;
    /// `_PAGE_SOFT_DIRTY`.
    pub const SOFT_DIRTY: PteFlags = PteFlags::SOFTW3;
    /// `_PAGE_TABLE`: what Linux writes into a directory entry that points to a user page table
    /// (`pmd_populate` and friends): `P|RW|USER|A|D`.
    pub const TABLE: PteFlags = PteFlags::PRESENT
        .union(PteFlags::RW)
        .union(PteFlags::USER)
        .union(PteFlags::ACCESSED)
        .union(PteFlags::DIRTY);
    /// `_PAGE_CHG_MASK`: the bits `pte_modify` keeps (frame, caching, special, A, D, soft-dirty, uffd-wp).
    pub const CHG_MASK: u64 = PteFlags::PWT.bits()
        | PteFlags::PCD.bits()
        | PteFlags::SPECIAL.bits()
        | PteFlags::ACCESSED.bits()
        | PteFlags::DIRTY.bits()
        | PteFlags::SOFTW5.bits()
        | PteFlags::SOFT_DIRTY.bits()
        | PteFlags::SOFTW2.bits()
        | PteFlags::PAT.bits();

    /// The flags printed by `memsim translate`, hardware names first.
    pub fn describe(self, arch: Arch, leaf_4k: bool) -> String {
        let mut out: Vec<&str> = Vec::new();
        let present = self.contains(PteFlags::PRESENT);
        out.push(if present { "P" } else { "!P" });
        out.push(if self.contains(PteFlags::RW) { "RW" } else { "RO" });
        out.push(if self.contains(PteFlags::USER) { "U" } else { "S" });
        if self.contains(PteFlags::PWT) {
            out.push("PWT");
        }
        if self.contains(PteFlags::PCD) {
            out.push("PCD");
        }
        if self.contains(PteFlags::ACCESSED) {
            out.push("A");
        }
        if self.contains(PteFlags::DIRTY) {
            out.push("D");
        }
        if self.contains(PteFlags::PSE) {
            out.push(if leaf_4k { "PAT" } else { "PS" });
        }
        if self.contains(PteFlags::GLOBAL) {
            out.push(if present { "G" } else { "PROTNONE" });
        }
        if self.contains(PteFlags::SPECIAL) {
            out.push("SPECIAL");
        }
        if arch.is_64bit() && self.contains(PteFlags::NX) {
            out.push("NX");
        }
        out.join(" ")
    }
}

/// The frame-number mask of an entry (`PTE_PFN_MASK`): bits 12..51 on x86-64 (MAXPHYADDR 52), 12..31 on i386.
#[inline]
pub const fn pfn_mask(arch: Arch) -> u64 {
    if arch.is_64bit() {
        0x000f_ffff_ffff_f000
    } else {
        0xffff_f000
    }
}

/// A page-table entry value (`pte_t`; the same layout serves `pmd_t`, `pud_t`, `p4d_t` and `pgd_t`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Pte(pub u64);

impl std::fmt::Debug for Pte {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pte({:#x})", self.0)
    }
}

impl Pte {
    /// `pfn_pte(pfn, prot)`.
    #[inline]
    pub const fn new(arch: Arch, pfn: u64, flags: u64) -> Pte {
        Pte(((pfn << 12) & pfn_mask(arch)) | flags)
    }
    #[inline]
    pub const fn flags(self) -> PteFlags {
        PteFlags::from_bits_retain(self.0)
    }
    #[inline]
    pub const fn pfn(self, arch: Arch) -> u64 {
        (self.0 & pfn_mask(arch)) >> 12
    }
    /// `pte_none`.
    #[inline]
    pub const fn is_none(self) -> bool {
        self.0 == 0
    }
    /// The hardware P bit.
    #[inline]
    pub const fn hw_present(self) -> bool {
        self.0 & PteFlags::PRESENT.bits() != 0
    }
    /// `pte_present`: P, or a PROT_NONE entry (P clear, PROTNONE set).
    #[inline]
    pub const fn present(self) -> bool {
        self.0 & (PteFlags::PRESENT.bits() | PteFlags::PROTNONE.bits()) != 0
    }
    /// `pte_protnone`.
    #[inline]
    pub const fn protnone(self) -> bool {
        self.0 & (PteFlags::PRESENT.bits() | PteFlags::PROTNONE.bits()) == PteFlags::PROTNONE.bits()
    }
    /// A swap (or other non-present, non-none) entry: `is_swap_pte`.
    #[inline]
    pub const fn is_swap(self) -> bool {
        !self.is_none() && !self.present()
    }
    #[inline]
    pub const fn write(self) -> bool {
        self.0 & PteFlags::RW.bits() != 0
    }
    #[inline]
    pub const fn dirty(self) -> bool {
        self.0 & PteFlags::DIRTY.bits() != 0
    }
    #[inline]
    pub const fn young(self) -> bool {
        self.0 & PteFlags::ACCESSED.bits() != 0
    }
    #[inline]
    pub const fn special(self) -> bool {
        self.0 & PteFlags::SPECIAL.bits() != 0
    }
    #[inline]
    pub const fn set(self, f: PteFlags) -> Pte {
        Pte(self.0 | f.bits())
    }
    #[inline]
    pub const fn clear(self, f: PteFlags) -> Pte {
        Pte(self.0 & !f.bits())
    }
    /// `pte_modify(pte, newprot)`: keep the frame and `_PAGE_CHG_MASK` bits, take the rest from `prot`.
    #[inline]
    pub const fn modify(self, arch: Arch, prot: u64) -> Pte {
        let keep = pfn_mask(arch) | PteFlags::CHG_MASK;
        Pte((self.0 & keep) | (prot & !keep))
    }
}

/// `vm_get_page_prot(vm_flags)`: the `protection_map` of `arch/x86/mm/pgprot.c`, masked by what the CPU supports
/// (no NX on i386 non-PAE). Every entry has `_PAGE_ACCESSED` preset, as Linux's `PAGE_*` constants do.
pub fn vm_get_page_prot(arch: Arch, flags: VmFlags) -> u64 {
    use PteFlags as F;
    let a = F::ACCESSED.bits();
    let p = F::PRESENT.bits();
    let rw = F::RW.bits();
    let u = F::USER.bits();
    let nx = if arch.is_64bit() { F::NX.bits() } else { 0 };
    let page_none = a | F::PROTNONE.bits();
    let readonly = p | u | a | nx; // PAGE_READONLY == PAGE_COPY == PAGE_COPY_NOEXEC
    let readonly_exec = p | u | a; // PAGE_READONLY_EXEC == PAGE_COPY_EXEC
    let shared = p | rw | u | a | nx;
    let shared_exec = p | rw | u | a;
    let r = flags.contains(VmFlags::READ);
    let w = flags.contains(VmFlags::WRITE);
    let x = flags.contains(VmFlags::EXEC);
    let sh = flags.contains(VmFlags::SHARED);
    match (sh, x, w, r) {
        (_, false, false, false) => page_none,
        (false, false, _, _) => readonly,
        (false, true, _, _) => readonly_exec,
        (true, false, false, true) => readonly,
        (true, false, true, _) => shared,
        (true, true, false, _) => readonly_exec,
        (true, true, true, _) => shared_exec,
    }
}

/// `vm_pgprot_modify(prot, flags)` with write-notify: the page protection a VMA's PTEs get. Shared mappings of
/// files whose filesystem wants to hear about the first write (`vma_wants_writenotify`: regular files with
/// `page_mkwrite` or dirty accounting) are mapped read-only so that the first write faults.
pub fn vma_page_prot(arch: Arch, flags: VmFlags, writenotify: bool) -> u64 {
    let prot = vm_get_page_prot(arch, flags);
    if writenotify && flags.contains(VmFlags::SHARED) {
        vm_get_page_prot(arch, flags - VmFlags::SHARED)
    } else {
        prot
    }
}

/// A swap entry (`swp_entry_t`): swap device type and page offset on it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct SwapEntry {
    pub type_: u32,
    pub offset: u64,
}

/// Bits of a swap type (`SWP_TYPE_BITS`).
pub const SWP_TYPE_BITS: u32 = 5;
/// `SWP_PTE_MARKER`: the swap type of PTE markers, the last of the 32.
pub const SWP_PTE_MARKER: u64 = 31;
/// `PTE_MARKER_GUARD` (`include/linux/swapops.h`): a guard region's page (MADV_GUARD_INSTALL).
pub const PTE_MARKER_GUARD: u64 = 1 << 2;
/// `PTE_MARKER_UFFD_WP`.
pub const PTE_MARKER_UFFD_WP: u64 = 1 << 0;

impl Pte {
    /// `make_pte_marker(PTE_MARKER_GUARD)`: the entry MADV_GUARD_INSTALL leaves in each page of the range.
    pub fn guard_marker(arch: Arch) -> Pte {
        SwapEntry {
            type_: SWP_PTE_MARKER as u32,
            offset: PTE_MARKER_GUARD,
        }
        .to_pte(arch, false)
    }

    /// `is_pte_marker`: a non-present entry of the marker swap type (not a page on swap, not counted in
    /// MM_SWAPENTS).
    pub fn is_marker(self, arch: Arch) -> bool {
        self.is_swap() && u64::from(SwapEntry::from_pte(arch, self).0.type_) == SWP_PTE_MARKER
    }

    /// `is_guard_pte_marker`.
    pub fn is_guard_marker(self, arch: Arch) -> bool {
        self.is_marker(arch) && SwapEntry::from_pte(arch, self).0.offset & PTE_MARKER_GUARD != 0
    }
}

impl SwapEntry {
    /// `__swp_entry_to_pte(__swp_entry(type, offset))`, with the exclusive marker (`_PAGE_SWP_EXCLUSIVE`).
    ///
    /// * x86-64: type in bits 59..63, the offset *inverted* in bits 9..58 (so a stale entry never points into
    ///   real memory: the L1TF mitigation), exclusive = PWT (bit 3).
    /// * i386 non-PAE: type in bits 1..5, offset from bit 9 up, exclusive = PSE (bit 7), not inverted.
    pub fn to_pte(self, arch: Arch, exclusive: bool) -> Pte {
        let t = u64::from(self.type_) & ((1 << SWP_TYPE_BITS) - 1);
        if arch.is_64bit() {
            const SHIFT: u32 = 9 + SWP_TYPE_BITS; // SWP_OFFSET_FIRST_BIT + SWP_TYPE_BITS
            let v = ((!self.offset) << SHIFT >> SWP_TYPE_BITS) | (t << (64 - SWP_TYPE_BITS));
            Pte(v | if exclusive { PteFlags::PWT.bits() } else { 0 })
        } else {
            let v = (t << 1) | ((self.offset << 9) & 0xffff_fe00);
            Pte(v | if exclusive { PteFlags::PSE.bits() } else { 0 })
        }
    }

    /// Decode a swap PTE (`__pte_to_swp_entry`, `__swp_type`, `__swp_offset`) and its exclusive marker.
    pub fn from_pte(arch: Arch, pte: Pte) -> (SwapEntry, bool) {
        if arch.is_64bit() {
            let excl = pte.0 & PteFlags::PWT.bits() != 0;
            let v = pte.0 & !PteFlags::PWT.bits();
            let type_ = (v >> (64 - SWP_TYPE_BITS)) as u32;
            let offset = (!v) << SWP_TYPE_BITS >> (9 + SWP_TYPE_BITS);
            (SwapEntry { type_, offset }, excl)
        } else {
            let v = pte.0 & 0xffff_ffff;
            let excl = v & PteFlags::PSE.bits() != 0;
            let type_ = ((v >> 1) & ((1 << SWP_TYPE_BITS) - 1)) as u32;
            let offset = v >> 9;
            (SwapEntry { type_, offset }, excl)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protection_map_matches_x86() {
        let rw = VmFlags::READ | VmFlags::WRITE;
        // PAGE_COPY: P|U|A|NX, no RW even for a writable private mapping (COW happens in the fault).
        assert_eq!(vm_get_page_prot(Arch::X86_64, rw), 0x8000_0000_0000_0025);
        // PAGE_SHARED: P|RW|U|A|NX.
        assert_eq!(
            vm_get_page_prot(Arch::X86_64, rw | VmFlags::SHARED),
            0x8000_0000_0000_0027
        );
        // PAGE_READONLY_EXEC.
        assert_eq!(vm_get_page_prot(Arch::X86_64, VmFlags::READ | VmFlags::EXEC), 0x25);
        // PAGE_NONE: A|PROTNONE, not present.
        assert_eq!(vm_get_page_prot(Arch::X86_64, VmFlags::empty()), 0x120);
        assert_eq!(vm_get_page_prot(Arch::X86_64, VmFlags::SHARED), 0x120);
        // i386 without PAE has no NX.
        assert_eq!(vm_get_page_prot(Arch::I386, rw | VmFlags::SHARED), 0x27);
        // Write-only shared is PAGE_SHARED; write-notify drops RW.
        assert_eq!(vma_page_prot(Arch::I386, VmFlags::WRITE | VmFlags::SHARED, true), 0x25);
    }

    #[test]
    fn present_protnone_swap() {
        let none = Pte(0x120);
        assert!(none.present() && none.protnone() && !none.hw_present() && !none.is_swap());
        let p = Pte::new(Arch::X86_64, 0x1234, 0x8000_0000_0000_0067);
        assert!(p.present() && !p.protnone());
        assert_eq!(p.pfn(Arch::X86_64), 0x1234);
        let m = p.modify(Arch::X86_64, vm_get_page_prot(Arch::X86_64, VmFlags::empty()));
        assert!(m.protnone() && m.dirty() && m.young() && m.pfn(Arch::X86_64) == 0x1234);
        assert!(!m.flags().contains(PteFlags::NX));
    }

    #[test]
    fn swap_entry_encoding_x86_64_inverts_offset() {
        let e = SwapEntry {
            type_: 3,
            offset: 0x1234,
        };
        let pte = e.to_pte(Arch::X86_64, false);
        // type 3 in bits 59..63; ~offset in bits 9..58; low 9 bits clear (not present, not PROTNONE).
        assert_eq!(pte.0 >> 59, 3);
        assert_eq!(pte.0 & 0x1ff, 0);
        assert_eq!((pte.0 >> 9) & ((1 << 50) - 1), (!0x1234u64) & ((1 << 50) - 1));
        assert!(pte.is_swap());
        assert_eq!(SwapEntry::from_pte(Arch::X86_64, pte), (e, false));
        let x = e.to_pte(Arch::X86_64, true);
        assert_eq!(x.0 & 0x1ff, PteFlags::PWT.bits());
        assert_eq!(SwapEntry::from_pte(Arch::X86_64, x), (e, true));
    }

    #[test]
    fn swap_entry_encoding_i386() {
        let e = SwapEntry { type_: 1, offset: 0x5 };
        let pte = e.to_pte(Arch::I386, true);
        assert_eq!(pte.0, (1 << 1) | (0x5 << 9) | 0x80);
        assert!(pte.is_swap());
        assert_eq!(SwapEntry::from_pte(Arch::I386, pte), (e, true));
    }
}
