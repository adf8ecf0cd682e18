//! Page-table level primitives used by the VMA-level system calls (`mm/memory.c: zap_pte_range,
//! free_pgtables, exit_mmap`, `mm/mprotect.c: change_pte_range`, `mm/mremap.c: move_page_tables`,
//! `mm/gup.c: populate_vma_page_range, __get_user_pages`), the page walk `/proc` renderers use, and the
//! invariant checks of ARCHITECTURE.md.

use crate::addr::{Pfn, VirtAddr, PAGE_SIZE};
use crate::arch::pgtable::{self, leaf_tables, pte_alloc, pte_lookup, root_span, PteSlot};
use crate::arch::pte::{vma_page_prot, Pte, PteFlags, SwapEntry};
use crate::arch::Arch;
use crate::errno::Errno;
use crate::fs::InodeKind;
use crate::kernel::Kernel;
use crate::mm::vma::{VmFlags, Vma};
use crate::mm::{Mm, MmId, RssCounter};
use crate::phys::{Page, PageFlags, PhysMem, ZERO_PFN};
use crate::task::Pid;

/// What a page-table walk sees for one virtual page: the view `/proc` renderers (smaps, pagemap, mincore)
/// need. Produced by [`Kernel::walk_pages`].
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct PageStat {
    pub addr: VirtAddr,
    /// `pte_present` (a PROT_NONE entry counts as present, as in Linux).
    pub present: bool,
    /// Frame number, if present.
    pub pfn: u64,
    pub writable: bool,
    /// PTE dirty bit, or the folio is dirty.
    pub dirty: bool,
    /// PTE accessed bit, or the folio is referenced.
    pub young: bool,
    /// Maps the shared zero page.
    pub zero_page: bool,
    /// An anonymous folio (including COW copies inside file VMAs).
    pub anon: bool,
    /// A shmem folio (shared anonymous memory, memfd, SysV shm).
    pub shmem: bool,
    /// The page's map count (number of PTEs mapping it across all address spaces).
    pub mapcount: u32,
    /// A swap entry (raw Linux swap PTE value) when not present but swapped.
    pub swap: Option<u64>,
    /// MADV_FREE'd and still clean.
    pub lazyfree: bool,
    /// The raw entry value.
    pub pte: u64,
    /// `PageAnonExclusive` (pagemap's "exclusively mapped" for anon pages).
    pub anon_exclusive: bool,
    /// The page is mlocked (`PG_mlocked`).
    pub mlocked: bool,
    /// A page-cache page of a regular file.
    pub file: bool,
    /// Part of an anonymous transparent huge page mapped by a PMD (smaps `AnonHugePages`).
    pub thp: bool,
}

/// The RSS counter a mapped page is charged to (`mm_counter`): anon, shmem (swap-backed file) or file.
#[inline]
pub fn mm_counter(page: &Page) -> RssCounter {
    if page.flags.contains(PageFlags::ANON) {
        RssCounter::AnonPages
    } else if page.flags.contains(PageFlags::SWAPBACKED) {
        RssCounter::ShmemPages
    } else {
        RssCounter::FilePages
    }
}

/// `vma_wants_writenotify` for the filesystems memsim models: shared mappings of regular files (ext4-like,
/// with `page_mkwrite` and dirty accounting) map clean pages read-only; shmem does not.
pub fn vma_wants_writenotify(vma: &Vma) -> bool {
    vma.flags.contains(VmFlags::SHARED) && matches!(&vma.file, Some(f) if f.inode.kind == InodeKind::Regular)
}

/// `vma->vm_page_prot`.
pub fn vma_prot(arch: Arch, vma: &Vma) -> u64 {
    vma_page_prot(arch, vma.flags, vma_wants_writenotify(vma))
}

/// Drop one reference (`folio_put`); frees the frame when it was the last.
#[inline]
pub(crate) fn put_page(phys: &mut PhysMem, pfn: Pfn) {
    let pg = phys.page_mut(pfn);
    debug_assert!(pg.refcount > 0, "put_page on a free frame {pfn:?}");
    pg.refcount -= 1;
    if pg.refcount == 0 {
        phys.free(pfn);
    }
}

/// Change the flags that select a page's LRU list, moving it between lists if it is on one.
pub(crate) fn set_lru_flags(phys: &mut PhysMem, pfn: Pfn, set: PageFlags, clear: PageFlags) {
    let on_lru = phys.page(pfn).flags.contains(PageFlags::LRU);
    if on_lru {
        phys.lru_del(pfn);
    }
    let f = &mut phys.page_mut(pfn).flags;
    f.insert(set);
    f.remove(clear);
    if on_lru {
        phys.lru_add(pfn);
    }
}

/// Drop the mapping an overwritten present PTE held (the page it mapped loses one map and one reference).
pub(crate) fn unmap_old(phys: &mut PhysMem, arch: Arch, mm: &mut Mm, pte: Pte) {
    unmap_present(phys, arch, mm, pte);
}

/// Remove one mapping of the page a present PTE maps (`zap_present_pte` → `folio_remove_rmap_pte`).
fn unmap_present(phys: &mut PhysMem, arch: Arch, mm: &mut Mm, pte: Pte) {
    if pte.special() {
        return; // the zero page: no struct page to account
    }
    let pfn = Pfn(pte.pfn(arch));
    let pg = phys.page_mut(pfn);
    mm.add_counter(mm_counter(pg), -1);
    if !pg.flags.contains(PageFlags::ANON) {
        // zap_present_folio_ptes: a dirty PTE dirties the file folio; a young one marks it accessed.
        if pte.dirty() {
            pg.flags |= PageFlags::DIRTY;
        }
        if pte.young() {
            pg.flags |= PageFlags::REFERENCED;
        }
    }
    pg.mapcount -= 1;
    if pg.mapcount == 0 && pg.flags.contains(PageFlags::MLOCKED) {
        // munlock_folio when the last mapping of a locked page goes.
        set_lru_flags(
            phys,
            pfn,
            PageFlags::empty(),
            PageFlags::MLOCKED | PageFlags::UNEVICTABLE,
        );
    }
    put_page(phys, pfn);
}

impl Kernel {
    /// Walk the page tables of `mm` over `[start, end)` and call `f` for every virtual page that has a
    /// non-empty PTE (present or swap), in address order.
    pub fn walk_pages(&self, mm: MmId, start: VirtAddr, end: VirtAddr, f: &mut dyn FnMut(&PageStat)) {
        let Some(m) = self.mms.get(&mm) else { return };
        let arch = self.cfg.arch;
        for lt in leaf_tables(&self.phys, arch, m.pgd, start.0, end.0) {
            for idx in lt.first..=lt.last {
                let pte = PteSlot { table: lt.table, idx }.read(&self.phys, arch);
                if pte.is_none() {
                    continue;
                }
                f(&self.page_stat(VirtAddr(lt.addr(idx)), pte));
            }
        }
    }

    /// The [`PageStat`] of one non-none PTE.
    pub fn page_stat(&self, addr: VirtAddr, pte: Pte) -> PageStat {
        let arch = self.cfg.arch;
        let mut s = PageStat {
            addr,
            pte: pte.0,
            ..PageStat::default()
        };
        if !pte.present() {
            s.swap = Some(pte.0);
            return s;
        }
        s.present = true;
        s.pfn = pte.pfn(arch);
        s.writable = pte.write();
        s.dirty = pte.dirty();
        s.young = pte.young();
        if pte.special() {
            s.zero_page = s.pfn == ZERO_PFN.0;
            return s;
        }
        if let Some(pg) = self.phys.get(Pfn(s.pfn)) {
            let fl = pg.flags;
            s.dirty |= fl.contains(PageFlags::DIRTY);
            s.young |= fl.contains(PageFlags::REFERENCED);
            s.anon = fl.contains(PageFlags::ANON);
            s.shmem = !s.anon && fl.contains(PageFlags::SWAPBACKED);
            s.file = !s.anon && !s.shmem;
            s.mapcount = pg.mapcount;
            // MADV_FREE clears PG_swapbacked on an anon folio (folio_mark_lazyfree).
            s.lazyfree = s.anon && !fl.contains(PageFlags::SWAPBACKED) && !s.dirty;
            s.anon_exclusive = fl.contains(PageFlags::ANON_EXCLUSIVE);
            s.mlocked = fl.contains(PageFlags::MLOCKED);
            s.thp = fl.contains(PageFlags::PMD_MAPPED);
        }
        s
    }

    /// `unmap_vmas` (munmap, exit): drop every PTE in `[start, end)`, guard markers too
    /// (`ZAP_FLAG_DROP_MARKER`), freeing or unmapping pages and updating RSS counters and hiwater_rss first.
    /// Page tables stay allocated.
    pub fn zap_range(&mut self, mm: MmId, start: VirtAddr, end: VirtAddr) {
        self.zap_ptes(mm, start, end, true);
    }

    /// `zap_page_range_single` (MADV_DONTNEED, MADV_REMOVE, reclaim): as [`Kernel::zap_range`], but guard
    /// markers stay, so a guard region survives having its memory dropped.
    pub fn zap_page_range(&mut self, mm: MmId, start: VirtAddr, end: VirtAddr) {
        self.zap_ptes(mm, start, end, false);
    }

    fn zap_ptes(&mut self, mm: MmId, start: VirtAddr, end: VirtAddr, drop_markers: bool) {
        let arch = self.cfg.arch;
        let Kernel { phys, mms, .. } = self;
        let Some(m) = mms.get_mut(&mm) else { return };
        m.update_hiwater_rss();
        split_huge_partial(phys, arch, m.pgd, start.0, end.0);
        for lt in leaf_tables(phys, arch, m.pgd, start.0, end.0) {
            for idx in lt.first..=lt.last {
                let slot = PteSlot { table: lt.table, idx };
                let pte = slot.read(phys, arch);
                if pte.is_none() || (!drop_markers && pte.is_marker(arch)) {
                    continue;
                }
                slot.write(phys, arch, Pte(0));
                if pte.present() {
                    unmap_present(phys, arch, m, pte);
                } else if !pte.is_marker(arch) {
                    // A swap entry: free_swap_and_cache (no swap device is modelled yet).
                    m.add_counter(RssCounter::SwapEnts, -1);
                }
            }
        }
    }

    /// `madvise_guard_install`: drop what `[start, end)` maps (markers stay) and put a guard marker in every
    /// page, allocating page tables as needed (they count in VmPTE).
    pub fn guard_install(&mut self, mm: MmId, start: VirtAddr, end: VirtAddr) -> Result<(), Errno> {
        self.zap_page_range(mm, start, end);
        let arch = self.cfg.arch;
        let Kernel { phys, mms, .. } = self;
        let m = mms.get_mut(&mm).ok_or(Errno::ESRCH)?;
        let marker = Pte::guard_marker(arch);
        for addr in (start.0..end.0).step_by(PAGE_SIZE as usize) {
            let slot = pte_alloc(phys, arch, m, addr).ok_or(Errno::ENOMEM)?;
            slot.write(phys, arch, marker);
        }
        Ok(())
    }

    /// `madvise_guard_remove`: clear the guard markers of `[start, end)`; nothing else changes and no page
    /// table is allocated.
    pub fn guard_remove(&mut self, mm: MmId, start: VirtAddr, end: VirtAddr) {
        let arch = self.cfg.arch;
        let Kernel { phys, mms, .. } = self;
        let Some(m) = mms.get(&mm) else { return };
        for lt in leaf_tables(phys, arch, m.pgd, start.0, end.0) {
            for idx in lt.first..=lt.last {
                let slot = PteSlot { table: lt.table, idx };
                if slot.read(phys, arch).is_guard_marker(arch) {
                    slot.write(phys, arch, Pte(0));
                }
            }
        }
    }

    /// `free_pgtables`: free page-table pages that map only `[floor, ceiling)`'s unused part after an unmap of
    /// `[start, end)`, where `floor` is the previous VMA's end (or 0) and `ceiling` the next VMA's start (or the
    /// top of user space), as Linux does (`free_pgd_range`). A ceiling at or above the top of user space is
    /// Linux's `USER_PGTABLES_CEILING` (0, no ceiling).
    pub fn free_pgtables(&mut self, mm: MmId, start: VirtAddr, end: VirtAddr, floor: u64, ceiling: u64) {
        let arch = self.cfg.arch;
        let ceiling = if ceiling >= arch.task_size_max() { 0 } else { ceiling };
        let Kernel { phys, mms, .. } = self;
        let Some(m) = mms.get_mut(&mm) else { return };
        pgtable::free_pgd_range(phys, arch, m, start.0, end.0, floor, ceiling);
    }

    /// `change_protection`: rewrite the present PTEs of `[start, end)` for their VMAs' (new) flags
    /// (`change_pte_range` with `pte_modify`): write-protect on losing VM_WRITE; when gaining it, make writable
    /// only what `can_change_pte_writable` allows (exclusive anonymous pages in private mappings, dirty pages in
    /// shared ones), so COW and write-notify still fault.
    pub fn change_protection(&mut self, mm: MmId, start: VirtAddr, end: VirtAddr) {
        let arch = self.cfg.arch;
        let Kernel { phys, mms, .. } = self;
        let Some(m) = mms.get(&mm) else { return };
        let ranges: Vec<(u64, u64, u64, bool, bool)> = m
            .vmas
            .overlapping(start, end)
            .map(|v| {
                let shared = v.flags.contains(VmFlags::SHARED);
                // vma_wants_manual_pte_write_upgrade
                let try_writable = if shared {
                    vma_wants_writenotify(v)
                } else {
                    v.flags.contains(VmFlags::WRITE)
                };
                (
                    start.0.max(v.start.0),
                    end.0.min(v.end.0),
                    vma_prot(arch, v),
                    try_writable && v.flags.contains(VmFlags::WRITE),
                    shared,
                )
            })
            .collect();
        let root = m.pgd;
        for (s, e, prot, try_writable, shared) in ranges {
            // change_pmd_range: a huge PMD only partly covered is split first.
            split_huge_partial(phys, arch, root, s, e);
            for lt in leaf_tables(phys, arch, root, s, e) {
                for idx in lt.first..=lt.last {
                    let slot = PteSlot { table: lt.table, idx };
                    let old = slot.read(phys, arch);
                    if !old.present() {
                        continue;
                    }
                    let mut new = old.modify(arch, prot);
                    if try_writable && !new.write() && can_change_pte_writable(phys, arch, new, shared) {
                        new = new.set(PteFlags::RW);
                    }
                    slot.write(phys, arch, new);
                }
            }
        }
    }

    /// `move_page_tables`: move the PTEs of `[old, old+len)` to `[new, new+len)` (mremap). Destination tables
    /// are allocated for every PMD-sized extent where the source has a PTE table, as Linux does; RSS does not
    /// change. Returns the bytes moved (less than `len` only when memory for tables ran out).
    ///
    /// Like Linux (`move_normal_pmd`), a whole PMD-sized extent with no destination table moves its PTE table
    /// itself. Model difference: PUD-sized extents (`move_normal_pud`) are moved table by table below them.
    pub fn move_page_tables(&mut self, mm: MmId, old: VirtAddr, new: VirtAddr, len: u64) -> u64 {
        let arch = self.cfg.arch;
        let Kernel { phys, mms, .. } = self;
        let Some(m) = mms.get_mut(&mm) else { return 0 };
        let pmd_shift = arch.level_shift(arch.paging_levels()[arch.paging_levels().len() - 2]);
        let old_end = old.0 + len;
        // move_huge_pmd needs both sides PMD aligned; otherwise the huge PMDs are split and moved as PTEs.
        if (old.0 | new.0) & (HPAGE_SIZE - 1) != 0 {
            split_huge_range(phys, arch, m.pgd, old.0, old_end);
        } else {
            split_huge_partial(phys, arch, m.pgd, old.0, old_end);
        }
        let mut moved = 0;
        let mut o = old.0;
        while o < old_end {
            let n = new.0 + (o - old.0);
            // get_extent(NORMAL_PMD): up to the next PMD boundary of either side.
            let extent =
                (pgtable::addr_end(o, old_end, pmd_shift) - o).min(pgtable::addr_end(n, u64::MAX, pmd_shift) - n);
            if pte_lookup(phys, arch, m.pgd, o).is_some() {
                // move_normal_pmd: a whole PMD-sized extent moves its PTE table in one go when the destination
                // has no table there yet (alloc_new_pmd allocates the directory levels above it).
                if extent == 1 << pmd_shift {
                    let Some(dst_dir) = pgtable::pmd_alloc(phys, arch, m, n) else {
                        return moved;
                    };
                    if let Some(src_dir) = pgtable::pmd_lookup(phys, arch, m.pgd, o) {
                        let width = arch.pte_bytes() as usize;
                        if phys.read_entry(dst_dir.table, dst_dir.idx, width) == 0 {
                            let e = phys.read_entry(src_dir.table, src_dir.idx, width);
                            phys.write_entry(src_dir.table, src_dir.idx, width, 0);
                            phys.write_entry(dst_dir.table, dst_dir.idx, width, e);
                            phys.flush_walk_cache();
                            moved += extent;
                            o += extent;
                            continue;
                        }
                    }
                }
                for i in 0..(extent >> 12) {
                    let oa = o + (i << 12);
                    let Some(src) = pte_lookup(phys, arch, m.pgd, oa) else {
                        break;
                    };
                    if i == 0 && pte_alloc(phys, arch, m, n).is_none() {
                        return moved;
                    }
                    let pte = src.read(phys, arch);
                    if pte.is_none() {
                        continue;
                    }
                    let Some(dst) = pte_alloc(phys, arch, m, n + (i << 12)) else {
                        return moved;
                    };
                    src.write(phys, arch, Pte(0));
                    dst.write(phys, arch, pte);
                }
            }
            moved += extent;
            o += extent;
        }
        moved
    }

    /// `populate_vma_page_range` / `faultin_page`: fault every page of `[start, end)` in as a GUP would (write
    /// faults if `write`), counting faults on the task. Reads are forced (FOLL_FORCE: no VM_READ needed, as for
    /// mlock and MAP_POPULATE of exec-only mappings); callers that must not force (MADV_POPULATE_READ) check the
    /// VMA flags first. Returns the number of pages populated, or the errno: ENOMEM for a hole (or out of
    /// memory), EFAULT for a PROT_NONE or `VM_IO|VM_PFNMAP` VMA, a write to a VMA without VM_WRITE, or a fault
    /// that ends in SIGBUS/SIGSEGV. Pages before the failure stay populated.
    pub fn populate_range(&mut self, pid: Pid, start: VirtAddr, end: VirtAddr, write: bool) -> Result<u64, Errno> {
        let mm = self.mm_id(pid)?;
        let mut addr = start.align_down().0;
        let mut n = 0;
        while addr < end.0 {
            let Some(vma) = self.mms[&mm].vmas.lookup(VirtAddr(addr)) else {
                return Err(Errno::ENOMEM);
            };
            let (vend, flags) = (vma.end.0, vma.flags);
            // check_vma_flags with FOLL_FORCE for reads; populate_vma_page_range refuses PROT_NONE.
            if flags.intersects(VmFlags::IO | VmFlags::PFNMAP)
                || !flags.intersects(VmFlags::ACCESS)
                || (write && !flags.contains(VmFlags::WRITE))
            {
                return Err(Errno::EFAULT);
            }
            let stop = end.0.min(vend);
            while addr < stop {
                self.gup_one(pid, mm, addr, write)?;
                n += 1;
                addr += PAGE_SIZE;
            }
        }
        Ok(n)
    }

    /// One page of `__get_user_pages`: `follow_page_mask` (with FOLL_TOUCH), else `faultin_page` and retry.
    fn gup_one(&mut self, pid: Pid, mm: MmId, addr: u64, write: bool) -> Result<(), Errno> {
        let arch = self.cfg.arch;
        for _ in 0..3 {
            let m = &self.mms[&mm];
            if let Some(slot) = pte_lookup(&self.phys, arch, m.pgd, addr) {
                let pte = slot.read(&self.phys, arch);
                if pte.hw_present() && (!write || pte.write()) {
                    // FOLL_TOUCH: mark accessed (and dirty for writes).
                    let mut t = pte.set(PteFlags::ACCESSED);
                    if write {
                        t = t.set(PteFlags::DIRTY);
                    }
                    slot.write(&mut self.phys, arch, t);
                    // follow_page_pte's FOLL_TOUCH also calls folio_mark_accessed: the folio is referenced, so
                    // smaps counts it as Referenced even where a fork child's PTE is old. (A second touch would
                    // activate it; the model leaves LRU activation to reclaim, which it does not model.)
                    if !pte.special() {
                        let pfn = crate::addr::Pfn(pte.pfn(arch));
                        self.phys.page_mut(pfn).flags |= PageFlags::REFERENCED;
                    }
                    return Ok(());
                }
            }
            let kind = if write {
                crate::kernel::AccessKind::Write
            } else {
                crate::kernel::AccessKind::Read
            };
            match self.handle_mm_fault(pid, mm, addr, kind) {
                Ok(()) => {}
                Err(crate::mm::fault::FaultError::Oom) => return Err(Errno::ENOMEM),
                Err(_) => return Err(Errno::EFAULT),
            }
        }
        // A PROT_NONE page of an accessible VMA cannot happen; treat a fault loop as EFAULT.
        Err(Errno::EFAULT)
    }

    /// `exit_mmap`: release everything of an address space: zap every VMA, free every page table and the PGD,
    /// uncharge `VM_ACCOUNT` VMAs, and remove the VMAs. The `Mm` itself stays in `self.mms` (the caller drops
    /// it). Counters of mapped memory drop to zero; high-water marks stay.
    pub fn exit_mmap(&mut self, mm: MmId) {
        let arch = self.cfg.arch;
        let Some(m) = self.mms.get(&mm) else { return };
        let accounted: u64 = m
            .vmas
            .iter()
            .filter(|v| v.flags.contains(VmFlags::ACCOUNT))
            .map(|v| v.nr_pages())
            .sum();
        self.zap_range(mm, VirtAddr(0), VirtAddr(root_span(arch)));
        self.vm_unacct_memory(accounted);
        let Kernel { phys, mms, .. } = self;
        let m = mms.get_mut(&mm).expect("mm exists");
        m.update_hiwater_vm();
        pgtable::free_all(phys, arch, m);
        let shmem: Vec<std::sync::Arc<crate::fs::File>> = m
            .vmas
            .iter()
            .filter_map(|v| v.file.clone())
            .filter(|f| f.inode.kind == InodeKind::Shmem)
            .collect();
        m.vmas = crate::mm::vma_tree::VmaTree::new();
        m.total_vm = 0;
        m.locked_vm = 0;
        m.pinned_vm = 0;
        m.data_vm = 0;
        m.exec_vm = 0;
        m.stack_vm = 0;
        // A shmem object whose last reference was one of these VMAs dies with them (shmem_evict_inode).
        let mut shmem = shmem;
        shmem.sort_by_key(|f| f.id);
        shmem.dedup_by_key(|f| f.id);
        for f in shmem {
            if std::sync::Arc::strong_count(&f) == 1 {
                self.shmem_evict_inode(f.inode.id);
            }
        }
    }

    /// `shmem_fallocate(FALLOC_FL_PUNCH_HOLE)` (MADV_REMOVE): unmap pages `[lo, hi)` of the object from every
    /// mapping (`unmap_mapping_range` without `even_cows`: private COW copies stay) and drop them from the page
    /// cache (`shmem_truncate_range`).
    pub fn punch_hole(&mut self, inode: crate::fs::InodeId, lo: u64, hi: u64) {
        let arch = self.cfg.arch;
        let Kernel {
            phys, mms, page_cache, ..
        } = self;
        for m in mms.values_mut() {
            let ranges: Vec<(u64, u64)> = m
                .vmas
                .iter()
                .filter(|v| v.file.as_ref().is_some_and(|f| f.inode.id == inode))
                .filter_map(|v| {
                    let (vlo, vhi) = (v.pgoff, v.pgoff + v.nr_pages());
                    let (a, b) = (lo.max(vlo), hi.min(vhi));
                    (a < b).then(|| (v.start.0 + ((a - vlo) << 12), v.start.0 + ((b - vlo) << 12)))
                })
                .collect();
            m.update_hiwater_rss();
            for (s, e) in ranges {
                for lt in leaf_tables(phys, arch, m.pgd, s, e) {
                    for idx in lt.first..=lt.last {
                        let slot = PteSlot { table: lt.table, idx };
                        let pte = slot.read(phys, arch);
                        if !pte.present() || pte.special() {
                            continue;
                        }
                        if phys.page(Pfn(pte.pfn(arch))).flags.contains(PageFlags::ANON) {
                            continue;
                        }
                        slot.write(phys, arch, Pte(0));
                        unmap_present(phys, arch, m, pte);
                    }
                }
            }
        }
        let pages: Vec<(u64, Pfn)> = page_cache.range(inode, lo, hi.saturating_sub(1)).collect();
        for (i, pfn) in pages {
            page_cache.remove(inode, i);
            put_page(phys, pfn);
        }
    }

    /// Read every page of a regular file into the page cache (`force_page_cache_readahead` over the whole
    /// file), as if it had been read before: later faults on it are minor. For scenario runners that mirror a
    /// host whose page cache already holds the file. Read errors are ignored.
    pub fn page_cache_read_all(&mut self, inode: &crate::fs::Inode) {
        if inode.kind != InodeKind::Regular {
            return;
        }
        for index in 0..crate::filemap::size_pages(inode) {
            if self.page_cache.find(inode.id, index).is_none() && self.filemap_get_page(inode, index, true).is_err() {
                break;
            }
        }
    }

    /// Install a swap entry at `addr` (for reclaim and tests): the PTE must be none. Counts MM_SWAPENTS.
    pub fn set_swap_pte(&mut self, mm: MmId, addr: VirtAddr, entry: SwapEntry, exclusive: bool) -> Result<(), Errno> {
        let arch = self.cfg.arch;
        let Kernel { phys, mms, .. } = self;
        let m = mms.get_mut(&mm).ok_or(Errno::ESRCH)?;
        let slot = pte_alloc(phys, arch, m, addr.0).ok_or(Errno::ENOMEM)?;
        if !slot.read(phys, arch).is_none() {
            return Err(Errno::EEXIST);
        }
        slot.write(phys, arch, entry.to_pte(arch, exclusive));
        m.add_counter(RssCounter::SwapEnts, 1);
        Ok(())
    }

    /// The PTE currently mapping `addr` in `mm` (none if no table).
    pub fn pte_at(&self, mm: MmId, addr: VirtAddr) -> Pte {
        let Some(m) = self.mms.get(&mm) else { return Pte(0) };
        pgtable::pte_get(&self.phys, self.cfg.arch, m.pgd, addr.0)
    }

    // ---- invariants (ARCHITECTURE.md) ----

    /// Check one address space: every non-none PTE lies inside a VMA; every present PTE maps an allocated frame
    /// whose map and reference counts include it (special PTEs map only the zero page); writable PTEs only in
    /// VM_WRITE VMAs; anonymous pages belong to their VMA's anon_vma; RSS counters equal what the walk counts;
    /// `pgtables_bytes` equals the tables found.
    pub fn check_page_invariants(&self, mm: MmId) -> Result<(), String> {
        let m = self.mms.get(&mm).ok_or("no such mm")?;
        let arch = self.cfg.arch;
        let mut rss = [0i64; 4];
        for lt in leaf_tables(&self.phys, arch, m.pgd, 0, root_span(arch)) {
            for idx in lt.first..=lt.last {
                let pte = PteSlot { table: lt.table, idx }.read(&self.phys, arch);
                if pte.is_none() {
                    continue;
                }
                let addr = lt.addr(idx);
                let vma = m
                    .vmas
                    .lookup(VirtAddr(addr))
                    .ok_or_else(|| format!("PTE {pte:?} at {addr:#x} outside every VMA"))?;
                if !pte.present() {
                    rss[RssCounter::SwapEnts as usize] += i64::from(!pte.is_marker(arch));
                    continue;
                }
                if pte.write() && !vma.flags.contains(VmFlags::WRITE) {
                    return Err(format!("writable PTE at {addr:#x} in a VMA without VM_WRITE"));
                }
                let pfn = Pfn(pte.pfn(arch));
                if pte.special() {
                    if pfn != ZERO_PFN {
                        return Err(format!("special PTE at {addr:#x} maps {pfn:?}, not the zero page"));
                    }
                    if pte.write() {
                        return Err(format!("zero page mapped writable at {addr:#x}"));
                    }
                    continue;
                }
                if !self.phys.is_allocated(pfn) || pfn == ZERO_PFN {
                    return Err(format!("PTE at {addr:#x} maps free or reserved frame {pfn:?}"));
                }
                let pg = self.phys.page(pfn);
                if pg.flags.contains(PageFlags::PGTABLE) {
                    return Err(format!("PTE at {addr:#x} maps page-table frame {pfn:?}"));
                }
                if pg.mapcount == 0 || pg.refcount < pg.mapcount {
                    return Err(format!(
                        "frame {pfn:?} mapped at {addr:#x} has mapcount {} refcount {}",
                        pg.mapcount, pg.refcount
                    ));
                }
                if pg.flags.contains(PageFlags::ANON) {
                    // The page's anon_vma is the VMA's or, after fork, one of its ancestors (the anon_vma chain).
                    let av = vma.anon_vma.map(|a| a.id.0);
                    if !vma.anon_vma.is_some_and(|a| self.anon_vma_in_chain(a.id, pg.mapping)) {
                        return Err(format!(
                            "anon page {pfn:?} at {addr:#x} belongs to anon_vma {} but its VMA has {av:?}",
                            pg.mapping
                        ));
                    }
                }
                rss[mm_counter(pg) as usize] += 1;
            }
        }
        if rss != m.rss {
            return Err(format!("RSS counters {:?} but the page tables hold {rss:?}", m.rss));
        }
        let counted: u64 = pgtable::all_tables(&self.phys, arch, m.pgd)
            .iter()
            .filter(|(_, l)| arch.counts_table(*l))
            .count() as u64
            * 4096;
        // all_tables lists each table with the level of its entries; the PGD (level Pgd) is never counted.
        if counted != m.pgtables_bytes {
            return Err(format!(
                "pgtables_bytes {} but {} bytes of counted tables exist",
                m.pgtables_bytes, counted
            ));
        }
        Ok(())
    }

    /// Check every address space and the frame table as a whole: each data page's map count equals the PTEs
    /// that map it, its reference count equals that plus one if it is in the page cache, page-table frames are
    /// referenced by exactly one table, and no frame is allocated that nothing uses (no leak).
    pub fn check_all_page_invariants(&self) -> Result<(), String> {
        let arch = self.cfg.arch;
        let mut maps: std::collections::BTreeMap<u64, u32> = std::collections::BTreeMap::new();
        let mut tables = 0u64;
        for (&id, m) in &self.mms {
            self.check_page_invariants(id)?;
            tables += pgtable::all_tables(&self.phys, arch, m.pgd).len() as u64;
            for lt in leaf_tables(&self.phys, arch, m.pgd, 0, root_span(arch)) {
                for idx in lt.first..=lt.last {
                    let pte = PteSlot { table: lt.table, idx }.read(&self.phys, arch);
                    if pte.present() && !pte.special() {
                        *maps.entry(pte.pfn(arch)).or_default() += 1;
                    }
                }
            }
        }
        let mut cached = std::collections::BTreeSet::new();
        for (ino, idx, pfn) in self.page_cache.iter() {
            let pg = self.phys.page(pfn);
            if pg.mapping != ino.0 || pg.index != idx || pg.flags.contains(PageFlags::ANON) {
                return Err(format!(
                    "page cache ({ino:?}, {idx}) -> {pfn:?} has owner {}/{}",
                    pg.mapping, pg.index
                ));
            }
            cached.insert(pfn.0);
        }
        let mut data = 0u64;
        for (pfn, pg) in self.phys.iter() {
            if pfn == ZERO_PFN || pg.flags.contains(PageFlags::BUDDY) || pg.flags.contains(PageFlags::PGTABLE) {
                continue;
            }
            data += 1;
            let mapped = maps.get(&pfn.0).copied().unwrap_or(0);
            let in_cache = u32::from(cached.contains(&pfn.0));
            if pg.mapcount != mapped {
                return Err(format!("{pfn:?}: mapcount {} but {mapped} PTEs map it", pg.mapcount));
            }
            if pg.refcount != mapped + in_cache {
                return Err(format!(
                    "{pfn:?}: refcount {} but {mapped} mappings and {in_cache} cache reference",
                    pg.refcount
                ));
            }
            if pg.refcount == 0 {
                return Err(format!("{pfn:?} is allocated but unreferenced (leak)"));
            }
        }
        let expected = 1 + tables + data;
        if self.phys.nr_used() != expected {
            return Err(format!(
                "{} frames in use, but zero page + {tables} tables + {data} data pages = {expected}",
                self.phys.nr_used()
            ));
        }
        Ok(())
    }
}

/// `HPAGE_PMD_SIZE` on x86-64.
pub const HPAGE_SIZE: u64 = 2 << 20;

/// `split_huge_pmd` of the blocks containing `start` and `end` when the range only partly covers them.
pub(crate) fn split_huge_partial(phys: &mut PhysMem, arch: Arch, root: Option<Pfn>, start: u64, end: u64) {
    if start & (HPAGE_SIZE - 1) != 0 {
        split_huge_block(phys, arch, root, start & !(HPAGE_SIZE - 1));
    }
    if end & (HPAGE_SIZE - 1) != 0 {
        split_huge_block(phys, arch, root, end & !(HPAGE_SIZE - 1));
    }
}

/// Split every huge block that intersects `[start, end)`.
fn split_huge_range(phys: &mut PhysMem, arch: Arch, root: Option<Pfn>, start: u64, end: u64) {
    let mut b = start & !(HPAGE_SIZE - 1);
    while b < end {
        split_huge_block(phys, arch, root, b);
        b += HPAGE_SIZE;
    }
}

/// `__split_huge_pmd` for the model's representation: the block's pages stop being PMD-mapped (the PTEs
/// stay: they are what the deposited table holds after a split).
pub(crate) fn split_huge_block(phys: &mut PhysMem, arch: Arch, root: Option<Pfn>, block: u64) {
    if !arch.is_64bit() {
        return;
    }
    let Some(first) = pte_lookup(phys, arch, root, block) else {
        return;
    };
    let p0 = first.read(phys, arch);
    if !p0.present() || p0.special() || !phys.page(Pfn(p0.pfn(arch))).flags.contains(PageFlags::PMD_MAPPED) {
        return;
    }
    for idx in 0..arch.ptrs_per_table() {
        let pte = PteSlot {
            table: first.table,
            idx,
        }
        .read(phys, arch);
        if pte.present() && !pte.special() {
            phys.page_mut(Pfn(pte.pfn(arch))).flags.remove(PageFlags::PMD_MAPPED);
        }
    }
}

impl Kernel {
    /// `vma_adjust_trans_huge`: a VMA boundary at `addr` inside a huge block splits it (call after splitting or
    /// resizing a VMA).
    pub fn vma_adjust_trans_huge(&mut self, mm: MmId, addr: VirtAddr) {
        let arch = self.cfg.arch;
        if addr.0 & (HPAGE_SIZE - 1) == 0 {
            return;
        }
        let Some(m) = self.mms.get(&mm) else { return };
        split_huge_block(&mut self.phys, arch, m.pgd, addr.0 & !(HPAGE_SIZE - 1));
    }
}

/// `can_change_pte_writable` (`mm/mprotect.c`) for a PTE already given the new protection.
fn can_change_pte_writable(phys: &PhysMem, arch: Arch, pte: Pte, shared: bool) -> bool {
    if pte.protnone() {
        return false;
    }
    if !shared {
        // Only exclusive anonymous pages: the write fault would map them writable without further checks.
        if pte.special() {
            return false;
        }
        return phys
            .get(Pfn(pte.pfn(arch)))
            .is_some_and(|p| p.flags.contains(PageFlags::ANON | PageFlags::ANON_EXCLUSIVE));
    }
    // MAP_SHARED: a dirty PTE means the filesystem already heard about the write.
    pte.dirty()
}
