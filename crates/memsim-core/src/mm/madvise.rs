//! madvise (`mm/madvise.c`: `do_madvise`, `madvise_walk_vmas`, `madvise_vma_behavior`, `madvise_populate`).
//!
//! Three kinds of advice:
//! * flag advice (NORMAL, RANDOM, SEQUENTIAL, DONTFORK, DOFORK, WIPEONFORK, KEEPONFORK, DONTDUMP, DODUMP,
//!   HUGEPAGE, NOHUGEPAGE, MERGEABLE, UNMERGEABLE) changes `vm_flags` of the range through `vma_modify`
//!   (merge or split; a failed split is reported as EAGAIN);
//! * page advice (DONTNEED, DONTNEED_LOCKED, FREE, REMOVE, WILLNEED, COLD, PAGEOUT, GUARD_INSTALL,
//!   GUARD_REMOVE, COLLAPSE) acts on the page tables of each VMA in the range;
//! * POPULATE_READ / POPULATE_WRITE fault the range in (`faultin_page_range`).
//!
//! The walk processes the mapped parts of the range; a hole makes the result ENOMEM without stopping it, a
//! per-VMA error stops it with the earlier VMAs already advised.
//!
//! Model limits (documented deviations):
//! * WILLNEED reads file pages into the page cache but swaps nothing in (no swap is modelled).
//! * COLD clears accessed bits but deactivates nothing (Linux queues that on a per-CPU LRU batch).
//! * PAGEOUT reclaims what a kernel without swap can (clean file pages are dropped, shmem pages unmapped)
//!   but writes nothing back, so dirty file pages stay.
//! * FREE cleans the pages and marks them lazily freeable (smaps LazyFree) at once, as Linux does once its
//!   LRU batch drains, and leaves them mapped with their data, as Linux does until reclaim.
//! * COLLAPSE is accepted without building huge pages.
//! * GUARD_INSTALL sets `VM_MAYBE_GUARD` on the whole VMA (6.18, no split), drops what the range maps and
//!   puts a guard marker in each page (`Kernel::guard_install`): an access gets SIGSEGV (SEGV_MAPERR),
//!   pagemap shows PM_GUARD_REGION, DONTNEED and the like keep the markers, munmap drops them, fork copies
//!   them. GUARD_REMOVE clears the markers; the flag stays.
//! * REMOVE punches a hole in a shmem object (every shared mapping loses the pages) but only zaps the calling
//!   mapping of a host file, which memsim never writes.
//! * HWPOISON/SOFT_OFFLINE are invalid advice (EINVAL), as on the reference kernel (no CONFIG_MEMORY_FAILURE).

use crate::addr::{page_align, Pfn, VirtAddr, PAGE_MASK, PAGE_SHIFT};
use crate::arch::pgtable::{leaf_tables, PteSlot};
use crate::arch::pte::PteFlags;
use crate::errno::{Errno, SysResult};
use crate::filemap::size_pages;
use crate::fs::{InodeId, InodeKind};
use crate::kernel::Kernel;
use crate::mm::memory::put_page;
use crate::mm::vma::{VmFlags, Vma};
use crate::mm::vma_ops::VmaChange;
use crate::mm::MmId;
use crate::phys::PageFlags;
use crate::task::Pid;

/// `CAP_FOWNER` (`inode_owner_or_capable` for a file the task does not own).
const CAP_FOWNER: u32 = 3;
use crate::uapi::*;

/// `madvise_behavior_valid` for a kernel with KSM and THP but without CONFIG_MEMORY_FAILURE, as the reference
/// build (6.18.44: `madvise(MADV_HWPOISON)` is EINVAL even without CAP_SYS_ADMIN).
fn behavior_valid(advice: u64) -> bool {
    matches!(
        advice,
        MADV_DOFORK
            | MADV_DONTFORK
            | MADV_NORMAL
            | MADV_SEQUENTIAL
            | MADV_RANDOM
            | MADV_REMOVE
            | MADV_WILLNEED
            | MADV_DONTNEED
            | MADV_DONTNEED_LOCKED
            | MADV_FREE
            | MADV_COLD
            | MADV_PAGEOUT
            | MADV_POPULATE_READ
            | MADV_POPULATE_WRITE
            | MADV_MERGEABLE
            | MADV_UNMERGEABLE
            | MADV_HUGEPAGE
            | MADV_NOHUGEPAGE
            | MADV_COLLAPSE
            | MADV_DONTDUMP
            | MADV_DODUMP
            | MADV_WIPEONFORK
            | MADV_KEEPONFORK
            | MADV_GUARD_INSTALL
            | MADV_GUARD_REMOVE
    )
}

impl Kernel {
    /// `madvise(start, len, advice)`.
    pub fn sys_madvise(&mut self, pid: Pid, start: u64, len: u64, advice: u64) -> SysResult {
        let mm = self.mm_id(pid)?;
        // is_valid_madvise
        if !behavior_valid(advice) || start & !PAGE_MASK != 0 {
            return Err(Errno::EINVAL);
        }
        let alen = page_align(len);
        if len != 0 && alen == 0 {
            return Err(Errno::EINVAL);
        }
        let end = start.wrapping_add(alen);
        if end < start {
            return Err(Errno::EINVAL);
        }
        if end == start {
            return Ok(0);
        }
        if matches!(advice, MADV_POPULATE_READ | MADV_POPULATE_WRITE) {
            return self
                .madvise_populate(pid, mm, start, end, advice == MADV_POPULATE_WRITE)
                .map(|_| 0);
        }
        self.madvise_walk_vmas(pid, mm, start, end, advice).map(|_| 0)
    }

    /// `madvise_walk_vmas`: advise each VMA piece of `[start, end)`; holes give ENOMEM at the end.
    fn madvise_walk_vmas(&mut self, pid: Pid, mm: MmId, start: u64, end: u64, advice: u64) -> Result<(), Errno> {
        let mut unmapped_error = Ok(());
        let mut start = start;
        loop {
            let Some(vma) = self.mms[&mm].vmas.find(VirtAddr(start)).cloned() else {
                return Err(Errno::ENOMEM);
            };
            if start < vma.start.as_u64() {
                unmapped_error = Err(Errno::ENOMEM);
                start = vma.start.as_u64();
                if start >= end {
                    break;
                }
            }
            let piece_end = vma.end.as_u64().min(end);
            let next = self.madvise_vma_behavior(pid, mm, &vma, VirtAddr(start), VirtAddr(piece_end), advice)?;
            start = next.as_u64().max(piece_end);
            if start >= end {
                break;
            }
        }
        unmapped_error
    }

    /// `madvise_vma_behavior`: one VMA, `[start, end)` inside it. Returns where the walk continues (the end of
    /// the VMA that now holds the range).
    fn madvise_vma_behavior(
        &mut self,
        pid: Pid,
        mm: MmId,
        vma: &Vma,
        start: VirtAddr,
        end: VirtAddr,
        advice: u64,
    ) -> Result<VirtAddr, Errno> {
        // mm/mseal.c can_madvise_modify: discarding advice on a sealed read-only anonymous VMA is refused.
        if vma.flags.contains(VmFlags::SEALED)
            && matches!(
                advice,
                MADV_FREE
                    | MADV_DONTNEED
                    | MADV_DONTNEED_LOCKED
                    | MADV_REMOVE
                    | MADV_DONTFORK
                    | MADV_WIPEONFORK
                    | MADV_GUARD_INSTALL
            )
            && vma.is_anonymous()
            && !vma.flags.contains(VmFlags::WRITE)
        {
            return Err(Errno::EPERM);
        }
        let mut new_flags = vma.flags;
        match advice {
            MADV_REMOVE => {
                // madvise_remove
                if vma.flags.contains(VmFlags::LOCKED) {
                    return Err(Errno::EINVAL);
                }
                if vma.file.is_none() {
                    return Err(Errno::EINVAL);
                }
                if !vma.flags.contains(VmFlags::SHARED | VmFlags::MAYWRITE) {
                    return Err(Errno::EACCES);
                }
                // vfs_fallocate(PUNCH_HOLE | KEEP_SIZE) over the file range this piece maps.
                let file = vma.file.clone().ok_or(Errno::EINVAL)?;
                if file.inode.kind == InodeKind::Shmem {
                    self.shmem_punch_hole(file.inode.id, vma.pgoff_of(start), vma.pgoff_of(end));
                } else {
                    // A host file is never written: only this mapping's pages go (a deviation, see above).
                    self.zap_page_range(mm, start, end);
                }
                return Ok(end);
            }
            MADV_WILLNEED => {
                // madvise_willneed: anonymous and shmem memory would be swapped in (no swap is modelled);
                // a regular file gets `vfs_fadvise(POSIX_FADV_WILLNEED)`, which reads every page of the range
                // (up to the end of the file) into the page cache without mapping it (observed on 6.18.44:
                // 1000 of 1000 pages cached). Read errors are ignored, as the kernel ignores fadvise's result.
                if let Some(f) = vma.file.as_ref().filter(|f| f.inode.kind == InodeKind::Regular) {
                    let inode = f.inode.clone();
                    let (first, last) = (vma.pgoff_of(start), vma.pgoff_of(end).min(size_pages(&inode)));
                    for index in first..last {
                        let _ = self.filemap_get_page(&inode, index, true);
                    }
                }
                return Ok(end);
            }
            MADV_COLD | MADV_PAGEOUT => {
                // can_madv_lru_vma
                if vma
                    .flags
                    .intersects(VmFlags::LOCKED | VmFlags::PFNMAP | VmFlags::HUGETLB)
                {
                    return Err(Errno::EINVAL);
                }
                if advice == MADV_COLD {
                    self.madvise_cold_range(mm, start, end);
                } else {
                    // can_do_file_pageout: file pages only for the file's owner (here: CAP_FOWNER) or a writer.
                    let file_ok = match &vma.file {
                        None => false,
                        Some(f) => self.task(pid)?.capable(CAP_FOWNER) || f.writable(),
                    };
                    self.madvise_pageout_range(mm, start, end, file_ok);
                }
                return Ok(end);
            }
            MADV_FREE | MADV_DONTNEED | MADV_DONTNEED_LOCKED => {
                // madvise_dontneed_free_valid_vma
                if let Some(size) = vma.hugetlb_page_size() {
                    // Huge pages are only dropped whole (the end is rounded down), never lazily freed. The
                    // model's hugetlb VMAs have no pages to drop.
                    if advice == MADV_FREE || start.0 & (size - 1) != 0 {
                        return Err(Errno::EINVAL);
                    }
                    return Ok(end);
                }
                let mut forbidden = VmFlags::PFNMAP;
                if advice != MADV_DONTNEED_LOCKED {
                    forbidden |= VmFlags::LOCKED;
                }
                if vma.flags.intersects(forbidden) {
                    return Err(Errno::EINVAL);
                }
                // madvise_free_single_vma: only anonymous memory can be lazily freed.
                if advice == MADV_FREE {
                    if !vma.is_anonymous() {
                        return Err(Errno::EINVAL);
                    }
                    self.madvise_free_range(mm, start, end);
                    return Ok(end);
                }
                self.zap_page_range(mm, start, end);
                return Ok(end);
            }
            MADV_COLLAPSE => return Ok(end),
            MADV_GUARD_INSTALL => {
                // is_valid_guard_vma(vma, allow_locked = false)
                if vma
                    .flags
                    .intersects(VmFlags::SPECIAL | VmFlags::HUGETLB | VmFlags::LOCKED)
                {
                    return Err(Errno::EINVAL);
                }
                // The flag goes on the whole VMA without a split, and an anonymous VMA gets its anon_vma.
                let m = self.mms.get_mut(&mm).ok_or(Errno::ESRCH)?;
                if let Some(v) = m.vmas.get_mut(vma.start) {
                    v.flags |= VmFlags::MAYBE_GUARD;
                }
                if vma.is_anonymous() {
                    self.anon_vma_prepare(mm, vma.start.0);
                }
                self.guard_install(mm, start, end)?;
                return Ok(end);
            }
            MADV_GUARD_REMOVE => {
                if vma.flags.intersects(VmFlags::SPECIAL | VmFlags::HUGETLB) {
                    return Err(Errno::EINVAL);
                }
                // The flag stays (sticky).
                self.guard_remove(mm, start, end);
                return Ok(end);
            }
            MADV_NORMAL => new_flags -= VmFlags::RAND_READ | VmFlags::SEQ_READ,
            MADV_SEQUENTIAL => new_flags = (new_flags - VmFlags::RAND_READ) | VmFlags::SEQ_READ,
            MADV_RANDOM => new_flags = (new_flags - VmFlags::SEQ_READ) | VmFlags::RAND_READ,
            MADV_DONTFORK => new_flags |= VmFlags::DONTCOPY,
            MADV_DOFORK => {
                if new_flags.intersects(VmFlags::SPECIAL) {
                    return Err(Errno::EINVAL);
                }
                new_flags -= VmFlags::DONTCOPY;
            }
            MADV_WIPEONFORK => {
                // Anonymous private memory only.
                if vma.file.is_some() || new_flags.contains(VmFlags::SHARED) {
                    return Err(Errno::EINVAL);
                }
                new_flags |= VmFlags::WIPEONFORK;
            }
            MADV_KEEPONFORK => {
                if new_flags.contains(VmFlags::DROPPABLE) {
                    return Err(Errno::EINVAL);
                }
                new_flags -= VmFlags::WIPEONFORK;
            }
            MADV_DONTDUMP => new_flags |= VmFlags::DONTDUMP,
            MADV_DODUMP => {
                if (!new_flags.contains(VmFlags::HUGETLB) && new_flags.intersects(VmFlags::SPECIAL))
                    || new_flags.contains(VmFlags::DROPPABLE)
                {
                    return Err(Errno::EINVAL);
                }
                new_flags -= VmFlags::DONTDUMP;
            }
            MADV_MERGEABLE => {
                // ksm_madvise: VMAs KSM cannot handle are left as they are, without error.
                let unsuitable = VmFlags::MERGEABLE
                    | VmFlags::SHARED
                    | VmFlags::MAYSHARE
                    | VmFlags::PFNMAP
                    | VmFlags::IO
                    | VmFlags::DONTEXPAND
                    | VmFlags::HUGETLB
                    | VmFlags::MIXEDMAP
                    | VmFlags::DROPPABLE;
                if !new_flags.intersects(unsuitable) {
                    new_flags |= VmFlags::MERGEABLE;
                }
            }
            MADV_UNMERGEABLE => new_flags -= VmFlags::MERGEABLE,
            // hugepage_madvise
            MADV_HUGEPAGE => new_flags = (new_flags - VmFlags::NOHUGEPAGE) | VmFlags::HUGEPAGE,
            MADV_NOHUGEPAGE => new_flags = (new_flags - VmFlags::HUGEPAGE) | VmFlags::NOHUGEPAGE,
            _ => return Err(Errno::EINVAL),
        }
        // madvise_update_vma; "kernel resources temporarily unavailable" is EAGAIN.
        if new_flags == vma.flags {
            return Ok(vma.end);
        }
        match self.vma_modify(mm, vma.start, start, end, VmaChange::Flags(new_flags)) {
            Ok(s) => Ok(self.mms[&mm].vmas.get(s).map_or(end, |v| v.end)),
            Err(Errno::ENOMEM) => Err(Errno::EAGAIN),
            Err(e) => Err(e),
        }
    }

    /// `shmem_fallocate(FALLOC_FL_PUNCH_HOLE)`: unmap file pages `[first, last)` of the shmem object from every
    /// shared mapping of it in every address space (`unmap_mapping_range`), then drop them from the object
    /// (`shmem_truncate_range`). Private mappings of a shmem file keep their pages (the model zaps only shared
    /// ones; Linux would also unmap the unCOWed page-cache pages of private mappings).
    fn shmem_punch_hole(&mut self, inode: InodeId, first: u64, last: u64) {
        let mut victims = Vec::new();
        for (&id, m) in &self.mms {
            for v in m.vmas.iter() {
                let Some(f) = &v.file else { continue };
                if f.inode.id != inode || !v.flags.contains(VmFlags::SHARED) {
                    continue;
                }
                let (lo, hi) = (first.max(v.pgoff), last.min(v.pgoff + v.nr_pages()));
                if lo < hi {
                    let s = v.start + ((lo - v.pgoff) << PAGE_SHIFT);
                    victims.push((id, s, s + ((hi - lo) << PAGE_SHIFT)));
                }
            }
        }
        for (id, s, e) in victims {
            self.zap_page_range(id, s, e);
        }
        let pages: Vec<(u64, Pfn)> = self.page_cache.range(inode, first, last).collect();
        for (index, pfn) in pages {
            self.page_cache.remove(inode, index);
            put_page(&mut self.phys, pfn);
        }
    }

    /// `madvise_free_pte_range`: every present anonymous page mapped only here is cleaned (folio dirty flag
    /// and PTE dirty/accessed bits cleared), so smaps shows it clean and unreferenced, stays mapped with its
    /// data, and is marked lazily freeable (`folio_mark_lazyfree`; Linux applies that when its per-CPU LRU
    /// batch drains, the model at once). Shared (COW) pages, the zero page and swap entries are left alone.
    fn madvise_free_range(&mut self, mm: MmId, start: VirtAddr, end: VirtAddr) {
        let arch = self.cfg.arch;
        let Kernel { phys, mms, .. } = self;
        let Some(m) = mms.get(&mm) else { return };
        for lt in leaf_tables(phys, arch, m.pgd, start.0, end.0) {
            for idx in lt.first..=lt.last {
                let slot = PteSlot { table: lt.table, idx };
                let pte = slot.read(phys, arch);
                if !pte.present() || pte.special() {
                    continue;
                }
                let pfn = Pfn(pte.pfn(arch));
                let pg = phys.page_mut(pfn);
                // folio_maybe_mapped_shared: a page another process maps too is skipped.
                if !pg.flags.contains(PageFlags::ANON) || pg.mapcount > 1 {
                    continue;
                }
                pg.flags.remove(PageFlags::DIRTY);
                if pte.young() || pte.dirty() {
                    slot.write(phys, arch, pte.clear(PteFlags::ACCESSED | PteFlags::DIRTY));
                }
                // folio_mark_lazyfree (lru_lazyfree): no longer swap-backed, moved to the inactive file list, so
                // smaps counts it as LazyFree until it is written again.
                if phys.page(pfn).flags.contains(PageFlags::SWAPBACKED)
                    && !phys.page(pfn).flags.contains(PageFlags::SWAPCACHE)
                {
                    crate::mm::memory::set_lru_flags(
                        phys,
                        pfn,
                        PageFlags::empty(),
                        PageFlags::SWAPBACKED | PageFlags::ACTIVE | PageFlags::REFERENCED,
                    );
                }
            }
        }
    }

    /// `madvise_cold_or_pageout_pte_range` for MADV_COLD: every present page on an LRU list and mapped only
    /// here loses its PTE accessed bit and `PG_referenced`, so smaps stops counting it as Referenced. The
    /// deactivation itself (`folio_deactivate`) goes through a per-CPU batch in Linux and is not modelled.
    fn madvise_cold_range(&mut self, mm: MmId, start: VirtAddr, end: VirtAddr) {
        let arch = self.cfg.arch;
        let Kernel { phys, mms, .. } = self;
        let Some(m) = mms.get(&mm) else { return };
        for lt in leaf_tables(phys, arch, m.pgd, start.0, end.0) {
            for idx in lt.first..=lt.last {
                let slot = PteSlot { table: lt.table, idx };
                let pte = slot.read(phys, arch);
                if !pte.present() || pte.special() {
                    continue;
                }
                let pg = phys.page_mut(Pfn(pte.pfn(arch)));
                // Do not interfere with other mappings of the page, nor with pages off the LRU.
                if !pg.flags.contains(PageFlags::LRU) || pg.mapcount != 1 {
                    continue;
                }
                pg.flags.remove(PageFlags::REFERENCED);
                if pte.young() {
                    slot.write(phys, arch, pte.clear(PteFlags::ACCESSED));
                }
            }
        }
    }

    /// `madvise_cold_or_pageout_pte_range` for MADV_PAGEOUT, then `reclaim_pages` without a swap device
    /// (checked on 6.18.44): exclusively mapped LRU pages are isolated and reclaimed where reclaim can succeed.
    /// Private anonymous pages cannot be swapped out and stay; shmem pages are unmapped but stay in the shmem
    /// object (their write-out fails); clean page-cache pages of a regular file are unmapped and dropped from
    /// the cache. File pages are only considered when `file_ok` (`pageout_anon_only_filter`). Model
    /// difference: a dirty page-cache page would be written back and freed; memsim never writes a host file,
    /// so it stays mapped.
    fn madvise_pageout_range(&mut self, mm: MmId, start: VirtAddr, end: VirtAddr, file_ok: bool) {
        let arch = self.cfg.arch;
        let mut unmap = Vec::new();
        {
            let Kernel { phys, mms, .. } = &mut *self;
            let Some(m) = mms.get(&mm) else { return };
            for lt in leaf_tables(phys, arch, m.pgd, start.0, end.0) {
                for idx in lt.first..=lt.last {
                    let pte = PteSlot { table: lt.table, idx }.read(phys, arch);
                    if !pte.present() || pte.special() {
                        continue;
                    }
                    let pfn = Pfn(pte.pfn(arch));
                    let pg = phys.page_mut(pfn);
                    if !pg.flags.contains(PageFlags::LRU) || pg.mapcount != 1 {
                        continue;
                    }
                    let anon = pg.flags.contains(PageFlags::ANON);
                    if !anon && !file_ok {
                        continue;
                    }
                    pg.flags.remove(PageFlags::REFERENCED);
                    if anon || pg.flags.contains(PageFlags::UNEVICTABLE) {
                        continue;
                    }
                    let shmem = pg.flags.contains(PageFlags::SWAPBACKED);
                    let dirty = pte.dirty() || pg.flags.contains(PageFlags::DIRTY);
                    if !shmem && dirty {
                        continue;
                    }
                    let addr = lt.addr(idx);
                    // mm/vmscan.c: shrink_folio_list: a clean folio (a shmem one never written, too) is
                    // removed from its mapping and freed; a dirty shmem folio without swap stays in the object.
                    unmap.push((VirtAddr(addr), pfn, !dirty, InodeId(pg.mapping), pg.index));
                }
            }
        }
        for (addr, pfn, clean, inode, index) in unmap {
            self.zap_page_range(mm, addr, addr + (1 << PAGE_SHIFT));
            if clean && self.page_cache.find(inode, index) == Some(pfn) {
                // __remove_mapping: the clean page leaves the page cache and is freed.
                self.page_cache.remove(inode, index);
                put_page(&mut self.phys, pfn);
            }
        }
    }

    /// `madvise_populate`: fault `[start, end)` in page by page, VMA by VMA, without forcing: a hole is
    /// ENOMEM, a VMA that does not allow the access EINVAL, a fault that would raise SIGSEGV/SIGBUS EFAULT.
    /// Pages populated before the error stay populated.
    fn madvise_populate(&mut self, pid: Pid, mm: MmId, start: u64, end: u64, write: bool) -> Result<(), Errno> {
        let mut start = start;
        while start < end {
            let Some(vma) = self.mms[&mm].vmas.lookup(VirtAddr(start)).cloned() else {
                return Err(Errno::ENOMEM);
            };
            // check_vma_flags without FOLL_FORCE.
            let needed = if write { VmFlags::WRITE } else { VmFlags::READ };
            if vma.flags.intersects(VmFlags::IO | VmFlags::PFNMAP) || !vma.flags.contains(needed) {
                return Err(Errno::EINVAL);
            }
            let piece_end = vma.end.as_u64().min(end);
            match self.populate_range(pid, VirtAddr(start), VirtAddr(piece_end), write) {
                Ok(_) => {}
                Err(Errno::EFAULT) => return Err(Errno::EFAULT),
                Err(Errno::EINVAL) => return Err(Errno::EINVAL),
                Err(Errno::EINTR) => return Err(Errno::EINTR),
                Err(_) => return Err(Errno::ENOMEM),
            }
            start = piece_end;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::INIT_PID;
    use crate::mm::mprotect::testkit::*;
    use crate::task::Cred;

    fn madvise(k: &mut Kernel, a: u64, n: u64, advice: u64) -> SysResult {
        k.sys_madvise(INIT_PID, page(a), n * P, advice)
    }

    /// `D` dontfork, `S` sequential, `R` random, `H` hugepage, `W` plain (rw), `L` locked, `G` guard flag.
    fn adv_kind(v: &Vma) -> char {
        let f = v.flags;
        if f.contains(VmFlags::LOCKED) {
            'L'
        } else if f.contains(VmFlags::DONTCOPY) {
            'D'
        } else if f.contains(VmFlags::SEQ_READ) {
            'S'
        } else if f.contains(VmFlags::RAND_READ) {
            'R'
        } else if f.contains(VmFlags::HUGEPAGE) {
            'H'
        } else if f.contains(VmFlags::WIPEONFORK) {
            'F'
        } else if f.contains(VmFlags::MAYBE_GUARD) {
            'G'
        } else {
            'W'
        }
    }

    fn check(before: &str, a: u64, n: u64, advice: u64, res: SysResult, after: &str) {
        let mut k = build(before);
        assert_eq!(
            madvise(&mut k, a, n, advice),
            res,
            "{before:?} madvise({a}, {n}, {advice})"
        );
        assert_eq!(draw_with(&k, adv_kind), after, "{before:?} madvise({a}, {n}, {advice})");
    }

    #[test]
    fn argument_errors_in_order() {
        let mut k = build("WWWW");
        // Invalid advice: EINVAL even with len 0 and an unaligned start.
        assert_eq!(k.sys_madvise(INIT_PID, page(0), 0, 99), Err(Errno::EINVAL));
        assert_eq!(k.sys_madvise(INIT_PID, page(0) + 1, 0, 999), Err(Errno::EINVAL));
        assert_eq!(k.sys_madvise(INIT_PID, page(0) + 1, P, MADV_NORMAL), Err(Errno::EINVAL));
        // len rounding up from a small negative number to 0; an end that wraps.
        assert_eq!(
            k.sys_madvise(INIT_PID, page(0), u64::MAX, MADV_NORMAL),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            k.sys_madvise(INIT_PID, page(0), 0u64.wrapping_sub(8192), MADV_NORMAL),
            Err(Errno::EINVAL)
        );
        // len 0: success, even unmapped.
        assert_eq!(k.sys_madvise(INIT_PID, 0x7000_0000, 0, MADV_DONTNEED), Ok(0));
        // No CONFIG_MEMORY_FAILURE: memory failure injection is invalid advice, for root too (checked on 6.18.44).
        assert_eq!(madvise(&mut k, 0, 1, MADV_HWPOISON), Err(Errno::EINVAL));
        k.task_mut(INIT_PID).unwrap().cred = Cred::for_uid(1000);
        assert_eq!(madvise(&mut k, 0, 1, MADV_SOFT_OFFLINE), Err(Errno::EINVAL));
    }

    #[test]
    fn flag_advice_splits_and_merges() {
        check("WWWWWW", 2, 2, MADV_DONTFORK, Ok(0), "WWDDWW");
        check("WWWWWW", 0, 6, MADV_SEQUENTIAL, Ok(0), "SSSSSS");
        check("WWWWWW", 4, 2, MADV_RANDOM, Ok(0), "WWWWRR");
        check("WWWWWW", 0, 3, MADV_HUGEPAGE, Ok(0), "HHHWWW");
        check("WWWWWW", 1, 1, MADV_WIPEONFORK, Ok(0), "WFWWWW");
        // Advice that changes nothing splits nothing.
        check("WWWWWW", 2, 2, MADV_DOFORK, Ok(0), "WWWWWW");
        check("WWWWWW", 2, 2, MADV_NORMAL, Ok(0), "WWWWWW");
        // Undoing advice merges back.
        let mut k = build("WWWWWW");
        madvise(&mut k, 2, 2, MADV_DONTFORK).unwrap();
        assert_eq!(madvise(&mut k, 2, 2, MADV_DOFORK), Ok(0));
        assert_eq!(draw_with(&k, adv_kind), "WWWWWW");
        assert_eq!(mm(&k).map_count(), 1);
        // RANDOM replaces SEQUENTIAL and vice versa.
        madvise(&mut k, 0, 6, MADV_SEQUENTIAL).unwrap();
        madvise(&mut k, 0, 3, MADV_RANDOM).unwrap();
        assert_eq!(draw_with(&k, adv_kind), "RRRSSS");
        madvise(&mut k, 0, 6, MADV_NORMAL).unwrap();
        assert_eq!(draw_with(&k, adv_kind), "WWWWWW");
    }

    #[test]
    fn holes_process_mapped_parts_then_enomem() {
        check("WW WW", 0, 5, MADV_DONTFORK, Err(Errno::ENOMEM), "DD DD");
        check(" WW", 0, 3, MADV_DONTFORK, Err(Errno::ENOMEM), " DD");
        check("WW", 0, 3, MADV_DONTFORK, Err(Errno::ENOMEM), "DD");
        check("WW", 3, 1, MADV_NORMAL, Err(Errno::ENOMEM), "WW");
        check("WW ", 1, 2, MADV_WILLNEED, Err(Errno::ENOMEM), "WW");
        // A hole followed by nothing: ENOMEM, nothing to do.
        check("WW", 2, 2, MADV_DONTNEED, Err(Errno::ENOMEM), "WW");
    }

    #[test]
    fn per_vma_errors_stop_the_walk() {
        // DONTNEED/FREE on a locked VMA: EINVAL after the first VMA was advised.
        check("WWLL", 0, 4, MADV_DONTNEED, Err(Errno::EINVAL), "WWLL");
        check("WWLL", 0, 4, MADV_FREE, Err(Errno::EINVAL), "WWLL");
        check("WWLL", 0, 4, MADV_DONTNEED_LOCKED, Ok(0), "WWLL");
        check("WWLL", 0, 4, MADV_COLD, Err(Errno::EINVAL), "WWLL");
        check("WWLL", 0, 4, MADV_PAGEOUT, Err(Errno::EINVAL), "WWLL");
        check("WWLL", 0, 4, MADV_GUARD_INSTALL, Err(Errno::EINVAL), "GGLL");
        check("WWLL", 0, 4, MADV_GUARD_REMOVE, Ok(0), "WWLL");
        // REMOVE: locked EINVAL, anonymous (no file) EINVAL.
        check("LLWW", 0, 4, MADV_REMOVE, Err(Errno::EINVAL), "LLWW");
        check("WW", 0, 2, MADV_REMOVE, Err(Errno::EINVAL), "WW");
    }

    #[test]
    fn dofork_on_special_and_dodump() {
        let mut k = build("WWWW");
        k.mm_mut(INIT_PID)
            .unwrap()
            .vmas
            .lookup_mut(VirtAddr(page(0)))
            .unwrap()
            .flags |= VmFlags::DONTEXPAND | VmFlags::DONTDUMP;
        assert_eq!(madvise(&mut k, 0, 4, MADV_DOFORK), Err(Errno::EINVAL));
        assert_eq!(madvise(&mut k, 0, 4, MADV_DODUMP), Err(Errno::EINVAL));
        // DONTFORK and DONTDUMP are fine on it (no split needed).
        assert_eq!(madvise(&mut k, 0, 4, MADV_DONTFORK), Ok(0));
    }

    #[test]
    fn guard_install_is_sticky_on_the_whole_vma() {
        let mut k = build("WWWWWW");
        assert_eq!(madvise(&mut k, 2, 1, MADV_GUARD_INSTALL), Ok(0));
        assert_eq!(draw_with(&k, adv_kind), "GGGGGG", "no split, the whole VMA is flagged");
        assert!(mm(&k).vmas.first().unwrap().anon_vma.is_some(), "anon_vma_prepare");
        assert_eq!(madvise(&mut k, 2, 1, MADV_GUARD_REMOVE), Ok(0));
        assert_eq!(draw_with(&k, adv_kind), "GGGGGG", "GUARD_REMOVE does not clear it");
        // The flag is ignored by merges: a DONTFORK range that is undone merges back.
        madvise(&mut k, 0, 2, MADV_DONTFORK).unwrap();
        madvise(&mut k, 0, 2, MADV_DOFORK).unwrap();
        assert_eq!(mm(&k).map_count(), 1);
    }

    #[test]
    fn guard_markers_fault_show_in_pagemap_and_survive_dontneed_and_fork() {
        // Checked with a C program on 6.18 (as root, so pagemap shows the frame field): a guard page reads as
        // 0x440000000000009f (PM_SWAP | PM_GUARD_REGION, swap type 31 = SWP_PTE_MARKER, offset 4 =
        // PTE_MARKER_GUARD); touching it is SIGSEGV/SEGV_MAPERR; installing in an empty 1 GiB region allocates
        // a PMD table and a PTE table.
        let mut k = build("WWWW");
        let a = page(0);
        k.poke(INIT_PID, a + P, b"x").unwrap();
        assert_eq!(madvise(&mut k, 0, 3, MADV_GUARD_INSTALL), Ok(0));
        let pm = k.pagemap_range(INIT_PID, a, a + 4 * P).unwrap();
        let entries: Vec<u64> = pm
            .chunks(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(
            entries,
            [0x4400_0000_0000_009f, 0x4400_0000_0000_009f, 0x4400_0000_0000_009f, 0]
        );
        assert_eq!(mm(&k).rss_pages(), 0, "the populated page went");
        let sig = k
            .access(INIT_PID, a + P + 5, 1, crate::kernel::AccessKind::Read)
            .unwrap_err();
        assert_eq!((sig.signo, sig.code, sig.addr), (SIGSEGV, SEGV_MAPERR, a + P + 5));
        k.check_all_page_invariants().unwrap();
        // DONTNEED keeps them; a forked child gets them too; GUARD_REMOVE clears one page.
        let mut k = build("WWWW");
        assert_eq!(madvise(&mut k, 0, 2, MADV_GUARD_INSTALL), Ok(0));
        assert_eq!(madvise(&mut k, 0, 4, MADV_DONTNEED), Ok(0));
        let child = crate::task::Pid(k.sys_fork(INIT_PID).unwrap() as u32);
        for pid in [INIT_PID, child] {
            // (A fault through MADV_POPULATE_* is an error, not a signal that would end the process.)
            assert_eq!(
                k.sys_madvise(pid, a, P, MADV_POPULATE_WRITE),
                Err(Errno::EFAULT),
                "{pid:?}"
            );
            assert_eq!(k.sys_madvise(pid, a + 2 * P, P, MADV_POPULATE_WRITE), Ok(0), "{pid:?}");
        }
        assert_eq!(madvise(&mut k, 1, 1, MADV_GUARD_REMOVE), Ok(0));
        assert_eq!(k.sys_madvise(INIT_PID, a + P, P, MADV_POPULATE_WRITE), Ok(0));
        assert_eq!(k.sys_madvise(INIT_PID, a, P, MADV_POPULATE_READ), Err(Errno::EFAULT));
        assert_eq!(
            mm(&k).counter(crate::mm::RssCounter::SwapEnts),
            0,
            "markers are not swap entries"
        );
        k.check_all_page_invariants().unwrap();
        // In an empty 1 GiB region (of a 512 GiB one already in use): a PMD table and a PTE table.
        let mut k = build("WWWW");
        k.poke(INIT_PID, a, b"x").unwrap();
        let far = 0x1_4000_0000u64;
        let map_far = |k: &mut Kernel| {
            let flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
            k.sys_mmap(INIT_PID, far, 4 * P, PROT_READ | PROT_WRITE, flags, -1, 0)
                .unwrap();
        };
        map_far(&mut k);
        let before = mm(&k).pgtables_bytes;
        assert_eq!(k.sys_madvise(INIT_PID, far, P, MADV_GUARD_INSTALL), Ok(0));
        assert_eq!(mm(&k).pgtables_bytes - before, 8192);
        // munmap drops the markers: mapped again, the page faults in.
        assert_eq!(k.sys_munmap(INIT_PID, far, 4 * P), Ok(0));
        map_far(&mut k);
        assert!(k.access(INIT_PID, far, 1, crate::kernel::AccessKind::Write).is_ok());
        k.check_all_page_invariants().unwrap();
    }

    #[test]
    fn split_failure_is_eagain() {
        let mut k = build("WWW");
        k.cfg.max_map_count = 1;
        assert_eq!(madvise(&mut k, 1, 1, MADV_DONTFORK), Err(Errno::EAGAIN));
        assert_eq!(madvise(&mut k, 1, 1, MADV_DONTNEED), Ok(0), "no split needed");
        // At N = M-1 the first split succeeds and the second fails: the split stays.
        k.cfg.max_map_count = 2;
        assert_eq!(madvise(&mut k, 1, 1, MADV_DONTFORK), Err(Errno::EAGAIN));
        assert_eq!(draw_with(&k, adv_kind), "Www");
    }

    #[test]
    fn populate_checks() {
        let mut k = build("RRWW NN");
        assert_eq!(madvise(&mut k, 0, 4, MADV_POPULATE_READ), Ok(0));
        assert_eq!(madvise(&mut k, 0, 4, MADV_POPULATE_WRITE), Err(Errno::EINVAL));
        assert_eq!(madvise(&mut k, 2, 2, MADV_POPULATE_WRITE), Ok(0));
        assert_eq!(madvise(&mut k, 2, 3, MADV_POPULATE_WRITE), Err(Errno::ENOMEM));
        assert_eq!(madvise(&mut k, 4, 1, MADV_POPULATE_READ), Err(Errno::ENOMEM));
        assert_eq!(madvise(&mut k, 5, 1, MADV_POPULATE_READ), Err(Errno::EINVAL));
    }

    #[test]
    fn mergeable_skips_shared() {
        let mut k = build("WWWW");
        assert_eq!(madvise(&mut k, 0, 2, MADV_MERGEABLE), Ok(0));
        assert_eq!(mm(&k).map_count(), 2);
        assert_eq!(madvise(&mut k, 0, 2, MADV_UNMERGEABLE), Ok(0));
        assert_eq!(mm(&k).map_count(), 1);
        k.mm_mut(INIT_PID)
            .unwrap()
            .vmas
            .lookup_mut(VirtAddr(page(0)))
            .unwrap()
            .flags |= VmFlags::SHARED;
        assert_eq!(madvise(&mut k, 0, 2, MADV_MERGEABLE), Ok(0));
        assert_eq!(mm(&k).map_count(), 1, "shared VMAs are left alone");
        assert_eq!(madvise(&mut k, 0, 2, MADV_WIPEONFORK), Err(Errno::EINVAL));
    }

    #[test]
    fn free_keeps_data_dontneed_drops_it() {
        let mut k = kernel();
        let flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
        k.sys_mmap(INIT_PID, page(0), 2 * P, PROT_READ | PROT_WRITE, flags, -1, 0)
            .unwrap();
        k.poke(INIT_PID, page(0), b"free").unwrap();
        k.poke(INIT_PID, page(1), b"gone").unwrap();
        let rss = |k: &Kernel| mm(k).rss_pages();
        assert_eq!(rss(&k), 2);
        assert_eq!(madvise(&mut k, 0, 1, MADV_FREE), Ok(0));
        assert_eq!(rss(&k), 2, "MADV_FREE leaves the page mapped");
        let mut dirty = Vec::new();
        let mmid = k.mm_id(INIT_PID).unwrap();
        k.walk_pages(mmid, VirtAddr(page(0)), VirtAddr(page(2)), &mut |s| {
            dirty.push((s.dirty, s.young))
        });
        assert_eq!(
            dirty,
            vec![(false, false), (true, true)],
            "the freed page is clean and old"
        );
        assert_eq!(k.peek(INIT_PID, page(0), 4).unwrap(), b"free");
        assert_eq!(madvise(&mut k, 1, 1, MADV_DONTNEED), Ok(0));
        assert_eq!(rss(&k), 1);
        assert_eq!(k.peek(INIT_PID, page(1), 4).unwrap(), vec![0; 4]);
        // FREE on a file mapping or a shared mapping: EINVAL.
        k.sys_mmap(
            INIT_PID,
            page(4),
            P,
            PROT_READ | PROT_WRITE,
            MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED,
            -1,
            0,
        )
        .unwrap();
        assert_eq!(madvise(&mut k, 4, 1, MADV_FREE), Err(Errno::EINVAL));
    }

    #[test]
    fn willneed_reads_file_pages_into_the_cache() {
        let mut fs = crate::fs::MemFs::new();
        fs.add_file("/data", vec![7u8; 10 * 4096 + 100]);
        let mut k = Kernel::new(crate::kernel::KernelConfig::default(), Box::new(fs));
        let fd = k.sys_openat(INIT_PID, AT_FDCWD, "/data", O_RDONLY, 0).unwrap();
        // Pages 2.. of the file at picture pages 0..16 (the mapping runs past the end of the file).
        k.sys_mmap(
            INIT_PID,
            page(0),
            16 * P,
            PROT_READ,
            MAP_PRIVATE | MAP_FIXED,
            fd as i64,
            2 * P,
        )
        .unwrap();
        assert_eq!(k.page_cache.len(), 0);
        assert_eq!(k.sys_mincore(INIT_PID, page(0), 4 * P).unwrap(), vec![0; 4]);
        assert_eq!(madvise(&mut k, 1, 2, MADV_WILLNEED), Ok(0));
        assert_eq!(k.page_cache.len(), 2, "file pages 3 and 4");
        assert_eq!(k.sys_mincore(INIT_PID, page(0), 4 * P).unwrap(), vec![0, 1, 1, 0]);
        assert_eq!(mm(&k).rss_pages(), 0, "nothing is mapped");
        // Clipped at the end of the file (11 pages: file pages 2..=10 are pages 0..=8 here).
        assert_eq!(madvise(&mut k, 0, 16, MADV_WILLNEED), Ok(0));
        assert_eq!(k.page_cache.len(), 9);
    }
}
