//! `struct vm_area_struct` and its flags (`include/linux/mm.h`, `include/linux/mm_types.h`).
//!
//! A VMA is plain data here; the operations that split, merge and modify VMAs live in `mm/vma_ops.rs`
//! (mirroring `mm/vma.c`), and the tree that holds them in `mm/vma_tree.rs`.

use std::sync::Arc;

use bitflags::bitflags;

use crate::addr::{VirtAddr, PAGE_SHIFT};
use crate::fs::{File, InodeKind};

bitflags! {
    /// `vm_flags_t`, at the bit positions Linux 6.18 uses on x86-64 (`include/linux/mm.h`).
    #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, PartialOrd, Ord)]
    pub struct VmFlags: u64 {
        /// `rd`
        const READ = 1 << 0;
        /// `wr`
        const WRITE = 1 << 1;
        /// `ex`
        const EXEC = 1 << 2;
        /// `sh`
        const SHARED = 1 << 3;
        /// `mr`
        const MAYREAD = 1 << 4;
        /// `mw`
        const MAYWRITE = 1 << 5;
        /// `me`
        const MAYEXEC = 1 << 6;
        /// `ms`
        const MAYSHARE = 1 << 7;
        /// `gd`: the stack grows down into this VMA (`VM_STACK` on x86).
        const GROWSDOWN = 1 << 8;
        /// `um`
        const UFFD_MISSING = 1 << 9;
        /// `pf`: pure PFN mapping, no `struct page` behind it.
        const PFNMAP = 1 << 10;
        /// `gu`: guard regions were installed (sticky for merges).
        const MAYBE_GUARD = 1 << 11;
        /// `uw`
        const UFFD_WP = 1 << 12;
        /// `lo`: mlocked.
        const LOCKED = 1 << 13;
        /// `io`
        const IO = 1 << 14;
        /// `sr`: MADV_SEQUENTIAL.
        const SEQ_READ = 1 << 15;
        /// `rr`: MADV_RANDOM.
        const RAND_READ = 1 << 16;
        /// `dc`: MADV_DONTFORK.
        const DONTCOPY = 1 << 17;
        /// `de`: cannot be expanded by mremap.
        const DONTEXPAND = 1 << 18;
        /// `lf`: lock on fault (mlock2 MLOCK_ONFAULT).
        const LOCKONFAULT = 1 << 19;
        /// `ac`: charged to the commit (overcommit accounting).
        const ACCOUNT = 1 << 20;
        /// `nr`: MAP_NORESERVE.
        const NORESERVE = 1 << 21;
        /// `ht`
        const HUGETLB = 1 << 22;
        /// `sf`: MAP_SYNC.
        const SYNC = 1 << 23;
        /// `ar`
        const ARCH_1 = 1 << 24;
        /// `wf`: MADV_WIPEONFORK.
        const WIPEONFORK = 1 << 25;
        /// `dd`: MADV_DONTDUMP.
        const DONTDUMP = 1 << 26;
        /// `sd` (not printed by the reference build: no CONFIG_MEM_SOFT_DIRTY).
        const SOFTDIRTY = 1 << 27;
        /// `mm`
        const MIXEDMAP = 1 << 28;
        /// `hg`: MADV_HUGEPAGE.
        const HUGEPAGE = 1 << 29;
        /// `nh`: MADV_NOHUGEPAGE.
        const NOHUGEPAGE = 1 << 30;
        /// `mg`: MADV_MERGEABLE (KSM).
        const MERGEABLE = 1 << 31;
        /// `ss`
        const SHADOW_STACK = 1 << 37;
        /// `ui`
        const UFFD_MINOR = 1 << 38;
        /// `dp`
        const DROPPABLE = 1 << 40;
        /// `sl`: mseal.
        const SEALED = 1 << 42;
    }
}

impl VmFlags {
    /// `VM_STACK` on x86.
    pub const STACK: VmFlags = VmFlags::GROWSDOWN;
    /// `VM_SPECIAL`: never merged, never expanded.
    pub const SPECIAL: VmFlags = VmFlags::IO
        .union(VmFlags::DONTEXPAND)
        .union(VmFlags::PFNMAP)
        .union(VmFlags::MIXEDMAP);
    /// Flags a merge ignores and ORs into the result (`VM_STICKY` in `mm/vma.c`).
    pub const STICKY: VmFlags = VmFlags::SOFTDIRTY.union(VmFlags::MAYBE_GUARD);
    /// `VM_LOCKED_MASK`.
    pub const LOCKED_MASK: VmFlags = VmFlags::LOCKED.union(VmFlags::LOCKONFAULT);
    /// `VM_ACCESS_FLAGS`.
    pub const ACCESS: VmFlags = VmFlags::READ.union(VmFlags::WRITE).union(VmFlags::EXEC);

    /// Translate `PROT_*` bits to `VM_READ|VM_WRITE|VM_EXEC` (`calc_vm_prot_bits`).
    pub fn from_prot(prot: u64) -> VmFlags {
        let mut f = VmFlags::empty();
        if prot & crate::uapi::PROT_READ != 0 {
            f |= VmFlags::READ;
        }
        if prot & crate::uapi::PROT_WRITE != 0 {
            f |= VmFlags::WRITE;
        }
        if prot & crate::uapi::PROT_EXEC != 0 {
            f |= VmFlags::EXEC;
        }
        f
    }

    /// `(flags & (VM_WRITE|VM_SHARED|VM_STACK)) == VM_WRITE` (`is_data_mapping`).
    pub fn is_data_mapping(self) -> bool {
        self.intersection(VmFlags::WRITE | VmFlags::SHARED | VmFlags::STACK) == VmFlags::WRITE
    }

    /// `(flags & (VM_EXEC|VM_WRITE|VM_STACK)) == VM_EXEC` (`is_exec_mapping`).
    pub fn is_exec_mapping(self) -> bool {
        self.intersection(VmFlags::EXEC | VmFlags::WRITE | VmFlags::STACK) == VmFlags::EXEC
    }

    /// `(flags & VM_STACK) == VM_STACK` (`is_stack_mapping`).
    pub fn is_stack_mapping(self) -> bool {
        self.contains(VmFlags::STACK)
    }

    /// The `VmFlags:` mnemonics of smaps, in bit order (`show_smap_vma_flags`), each followed by a space.
    pub fn mnemonics(self) -> String {
        const MN: &[(VmFlags, &str)] = &[
            (VmFlags::READ, "rd"),
            (VmFlags::WRITE, "wr"),
            (VmFlags::EXEC, "ex"),
            (VmFlags::SHARED, "sh"),
            (VmFlags::MAYREAD, "mr"),
            (VmFlags::MAYWRITE, "mw"),
            (VmFlags::MAYEXEC, "me"),
            (VmFlags::MAYSHARE, "ms"),
            (VmFlags::GROWSDOWN, "gd"),
            (VmFlags::UFFD_MISSING, "um"),
            (VmFlags::PFNMAP, "pf"),
            (VmFlags::MAYBE_GUARD, "gu"),
            (VmFlags::UFFD_WP, "uw"),
            (VmFlags::LOCKED, "lo"),
            (VmFlags::IO, "io"),
            (VmFlags::SEQ_READ, "sr"),
            (VmFlags::RAND_READ, "rr"),
            (VmFlags::DONTCOPY, "dc"),
            (VmFlags::DONTEXPAND, "de"),
            (VmFlags::LOCKONFAULT, "lf"),
            (VmFlags::ACCOUNT, "ac"),
            (VmFlags::NORESERVE, "nr"),
            (VmFlags::HUGETLB, "ht"),
            (VmFlags::SYNC, "sf"),
            (VmFlags::ARCH_1, "ar"),
            (VmFlags::WIPEONFORK, "wf"),
            (VmFlags::DONTDUMP, "dd"),
            (VmFlags::MIXEDMAP, "mm"),
            (VmFlags::HUGEPAGE, "hg"),
            (VmFlags::NOHUGEPAGE, "nh"),
            (VmFlags::MERGEABLE, "mg"),
            (VmFlags::SHADOW_STACK, "ss"),
            (VmFlags::UFFD_MINOR, "ui"),
            (VmFlags::DROPPABLE, "dp"),
            (VmFlags::SEALED, "sl"),
        ];
        let mut s = String::with_capacity(48);
        for &(f, mn) in MN {
            if self.contains(f) {
                s.push_str(mn);
                s.push(' ');
            }
        }
        s
    }
}

/// Identity of an `anon_vma` (the reverse-map root shared by a VMA and the VMAs split or forked from it).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct AnonVmaId(pub u64);

/// A VMA's link to its anon_vma: the anon_vma it allocates from, and whether its `anon_vma_chain` is singular
/// (not inherited through fork), which `is_mergeable_anon_vma` needs.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct AnonVmaRef {
    pub id: AnonVmaId,
    /// `list_is_singular(&vma->anon_vma_chain)`.
    pub chain_singular: bool,
}

/// Special mappings installed by the kernel (`_install_special_mapping`), with their `vm_ops->name`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum SpecialMapping {
    Vvar,
    VvarVclock,
    Vdso,
}

impl SpecialMapping {
    pub const fn name(self) -> &'static str {
        match self {
            SpecialMapping::Vvar => "[vvar]",
            SpecialMapping::VvarVclock => "[vvar_vclock]",
            SpecialMapping::Vdso => "[vdso]",
        }
    }
}

/// `struct vm_area_struct`: one contiguous range of a process's address space with uniform attributes.
#[derive(Clone, Debug)]
pub struct Vma {
    /// First address (inclusive), page aligned.
    pub start: VirtAddr,
    /// End address (exclusive), page aligned.
    pub end: VirtAddr,
    pub flags: VmFlags,
    /// Offset into the file in pages, or `start >> PAGE_SHIFT` for private anonymous memory.
    pub pgoff: u64,
    /// The open file description mapped (`vm_file`); shared anonymous memory has a shmem file here.
    pub file: Option<Arc<File>>,
    pub anon_vma: Option<AnonVmaRef>,
    /// Kernel-installed special mapping (`vm_ops` of `[vdso]`, `[vvar]`, ...).
    pub special: Option<SpecialMapping>,
    /// `PR_SET_VMA_ANON_NAME` name.
    pub anon_name: Option<Arc<str>>,
}

impl Vma {
    /// A fresh private anonymous VMA (`vma_set_anonymous`), pgoff = start page.
    pub fn new_anon(start: VirtAddr, end: VirtAddr, flags: VmFlags) -> Vma {
        Vma {
            start,
            end,
            flags,
            pgoff: start.as_u64() >> PAGE_SHIFT,
            file: None,
            anon_vma: None,
            special: None,
            anon_name: None,
        }
    }

    #[inline]
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    /// `huge_page_size(hstate_vma(vma))` of a hugetlb VMA (its hugetlbfs file's page size).
    pub fn hugetlb_page_size(&self) -> Option<u64> {
        match self.file.as_ref()?.inode.kind {
            crate::fs::InodeKind::Hugetlbfs { page_shift } => Some(1 << page_shift),
            _ => None,
        }
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    #[inline]
    pub fn nr_pages(&self) -> u64 {
        self.len() >> PAGE_SHIFT
    }

    #[inline]
    pub fn contains(&self, addr: VirtAddr) -> bool {
        self.start <= addr && addr < self.end
    }

    /// `vma_is_anonymous`: no `vm_ops`, so faults take the anonymous path. True for VMAs without a file and for
    /// MAP_PRIVATE mappings of `/dev/zero`, which keep the file but have no `vm_ops` in 6.18.
    pub fn is_anonymous(&self) -> bool {
        match &self.file {
            None => self.special.is_none(),
            Some(f) => f.inode.kind == InodeKind::DevZero,
        }
    }

    /// Backed by shmem (shared anonymous memory, `/dev/zero` MAP_SHARED, memfd, SysV shm).
    pub fn is_shmem(&self) -> bool {
        matches!(&self.file, Some(f) if f.inode.kind == InodeKind::Shmem)
    }

    /// The page offset in the backing object of `addr` (`linear_page_index`).
    #[inline]
    pub fn pgoff_of(&self, addr: VirtAddr) -> u64 {
        self.pgoff + ((addr - self.start) >> PAGE_SHIFT)
    }

    /// `vm_start_gap`: the start lowered by the stack guard gap for VMAs that grow down.
    pub fn start_gap(&self, stack_guard_gap: u64) -> VirtAddr {
        if self.flags.contains(VmFlags::GROWSDOWN) {
            VirtAddr(self.start.as_u64().saturating_sub(stack_guard_gap))
        } else {
            self.start
        }
    }

    /// Identity of the file description mapped, for merge decisions (`vma->vm_file == file`).
    pub fn file_id(&self) -> Option<crate::fs::FileId> {
        self.file.as_ref().map(|f| f.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mnemonics_in_bit_order() {
        let f = VmFlags::READ | VmFlags::WRITE | VmFlags::MAYREAD | VmFlags::MAYWRITE | VmFlags::MAYEXEC;
        assert_eq!(
            (f | VmFlags::GROWSDOWN | VmFlags::ACCOUNT).mnemonics(),
            "rd wr mr mw me gd ac "
        );
        assert_eq!(VmFlags::EXEC.mnemonics(), "ex ");
        assert_eq!(VmFlags::SOFTDIRTY.mnemonics(), "");
    }

    #[test]
    fn classification() {
        assert!((VmFlags::READ | VmFlags::WRITE).is_data_mapping());
        assert!(!(VmFlags::WRITE | VmFlags::SHARED).is_data_mapping());
        assert!((VmFlags::READ | VmFlags::EXEC).is_exec_mapping());
        assert!(!(VmFlags::WRITE | VmFlags::EXEC).is_exec_mapping());
    }
}
