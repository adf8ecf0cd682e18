//! mlock, mlock2, munlock, mlockall, munlockall (`mm/mlock.c`), and the population of locked ranges
//! (`mm/gup.c: __mm_populate, populate_vma_page_range`), which mprotect and mremap share.
//!
//! Locking is a VMA flag change through `vma_modify` (merge or split) plus `locked_vm` accounting; the pages
//! are then faulted in. Errors follow Linux: a hole stops the walk with ENOMEM after the preceding VMAs were
//! locked; `VM_SPECIAL` and hugetlb VMAs are silently left alone; population errors are reported with the
//! POSIX mapping EFAULT→ENOMEM, ENOMEM→EAGAIN (`__mlock_posix_error_return`), after the flags were set.
//!
//! Pages already mapped get `PG_mlocked` and move to the unevictable LRU (`mlock_vma_pages_range`); pages
//! faulted later in a locked VMA are mlocked by the fault path. smaps' `Locked:` follows the VMA flag.

use crate::addr::{page_align, Pfn, VirtAddr, PAGE_MASK, PAGE_SHIFT};
use crate::arch::pgtable::{leaf_tables, PteSlot};
use crate::errno::{Errno, SysResult};
use crate::kernel::Kernel;
use crate::mm::memory::set_lru_flags;
use crate::mm::vma::VmFlags;
use crate::mm::vma_ops::VmaChange;
use crate::mm::MmId;
use crate::phys::PageFlags;
use crate::task::{Pid, CAP_IPC_LOCK};
use crate::uapi::{MCL_CURRENT, MCL_FUTURE, MCL_ONFAULT, MLOCK_ONFAULT, RLIMIT_MEMLOCK};

/// `__mlock_posix_error_return`: GUP's errors as mlock reports them.
fn mlock_posix_error(e: Errno) -> Errno {
    match e {
        Errno::EFAULT => Errno::ENOMEM,
        Errno::ENOMEM => Errno::EAGAIN,
        e => e,
    }
}

impl Kernel {
    pub fn sys_mlock(&mut self, pid: Pid, start: u64, len: u64) -> SysResult {
        self.do_mlock(pid, start, len, VmFlags::LOCKED)
    }

    /// `mlock2(start, len, flags)`: only MLOCK_ONFAULT is a valid flag.
    pub fn sys_mlock2(&mut self, pid: Pid, start: u64, len: u64, flags: u64) -> SysResult {
        if flags & !MLOCK_ONFAULT != 0 {
            return Err(Errno::EINVAL);
        }
        let mut vm_flags = VmFlags::LOCKED;
        if flags & MLOCK_ONFAULT != 0 {
            vm_flags |= VmFlags::LOCKONFAULT;
        }
        self.do_mlock(pid, start, len, vm_flags)
    }

    /// `do_mlock`.
    fn do_mlock(&mut self, pid: Pid, start: u64, len: u64, flags: VmFlags) -> SysResult {
        let mm = self.mm_id(pid)?;
        if !self.can_do_mlock(pid) {
            return Err(Errno::EPERM);
        }
        // An unaligned start is allowed: the range is the page-aligned cover of [start, start+len).
        let len = page_align(len.wrapping_add(start & !PAGE_MASK));
        let start = start & PAGE_MASK;
        let task = self.task(pid)?;
        let lock_limit = task.rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
        let capable = task.capable(CAP_IPC_LOCK);
        let mut locked = (len >> PAGE_SHIFT).wrapping_add(self.mms[&mm].locked_vm);
        if locked > lock_limit && !capable {
            // Pages of the range that are already locked are not counted twice.
            locked = locked.wrapping_sub(self.count_mm_mlocked_page_nr(mm, start, len));
        }
        if locked > lock_limit && !capable {
            return Err(Errno::ENOMEM);
        }
        self.apply_vma_lock_flags(pid, mm, start, len, flags)?;
        self.mm_populate(pid, mm, start, len, false)
            .map_err(mlock_posix_error)?;
        Ok(0)
    }

    /// `munlock(start, len)`: no permission or limit checks.
    pub fn sys_munlock(&mut self, pid: Pid, start: u64, len: u64) -> SysResult {
        let mm = self.mm_id(pid)?;
        let len = page_align(len.wrapping_add(start & !PAGE_MASK));
        let start = start & PAGE_MASK;
        self.apply_vma_lock_flags(pid, mm, start, len, VmFlags::empty())?;
        Ok(0)
    }

    /// `mlockall(flags)`.
    pub fn sys_mlockall(&mut self, pid: Pid, flags: u64) -> SysResult {
        let mm = self.mm_id(pid)?;
        if flags == 0 || flags & !(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0 || flags == MCL_ONFAULT {
            return Err(Errno::EINVAL);
        }
        if !self.can_do_mlock(pid) {
            return Err(Errno::EPERM);
        }
        let task = self.task(pid)?;
        let lock_limit = task.rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
        if flags & MCL_CURRENT != 0 && self.mms[&mm].total_vm > lock_limit && !task.capable(CAP_IPC_LOCK) {
            return Err(Errno::ENOMEM);
        }
        self.apply_mlockall_flags(pid, mm, flags);
        if flags & MCL_CURRENT != 0 {
            // mm_populate(0, TASK_SIZE): errors are ignored.
            let task_size = self.mms[&mm].task_size;
            let _ = self.mm_populate(pid, mm, 0, task_size, true);
        }
        Ok(0)
    }

    /// `munlockall()`: always succeeds.
    pub fn sys_munlockall(&mut self, pid: Pid) -> SysResult {
        let mm = self.mm_id(pid)?;
        self.apply_mlockall_flags(pid, mm, 0);
        Ok(0)
    }

    /// `apply_mlockall_flags`: set `def_flags` for MCL_FUTURE and (un)lock every VMA for MCL_CURRENT (or for
    /// munlockall, `flags == 0`). Errors of individual VMAs are ignored.
    fn apply_mlockall_flags(&mut self, pid: Pid, mm: MmId, flags: u64) {
        let Some(m) = self.mms.get_mut(&mm) else { return };
        m.def_flags -= VmFlags::LOCKED_MASK;
        if flags & MCL_FUTURE != 0 {
            m.def_flags |= VmFlags::LOCKED;
            if flags & MCL_ONFAULT != 0 {
                m.def_flags |= VmFlags::LOCKONFAULT;
            }
            if flags & MCL_CURRENT == 0 {
                return;
            }
        }
        let mut to_add = VmFlags::empty();
        if flags & MCL_CURRENT != 0 {
            to_add |= VmFlags::LOCKED;
            if flags & MCL_ONFAULT != 0 {
                to_add |= VmFlags::LOCKONFAULT;
            }
        }
        let mut addr = 0u64;
        while let Some(v) = self.mms[&mm].vmas.find(VirtAddr(addr)).cloned() {
            let newflags = (v.flags - VmFlags::LOCKED_MASK) | to_add;
            addr = match self.mlock_fixup(pid, mm, v.start, v.start, v.end, newflags) {
                Ok(end) => end.as_u64(),
                Err(_) => v.end.as_u64(),
            };
        }
    }

    /// `apply_vma_lock_flags`: set `VM_LOCKED[|VM_LOCKONFAULT]` (or clear them, `flags` empty) on the page
    /// aligned range `[start, start+len)`.
    fn apply_vma_lock_flags(&mut self, pid: Pid, mm: MmId, start: u64, len: u64, flags: VmFlags) -> Result<(), Errno> {
        let end = start.wrapping_add(len);
        if end < start {
            return Err(Errno::EINVAL);
        }
        if end == start {
            return Ok(());
        }
        let Some(first) = self.mms[&mm].vmas.lookup(VirtAddr(start)) else {
            return Err(Errno::ENOMEM);
        };
        let mut tmp = first.start.as_u64();
        let mut nstart = start;
        while let Some(v) = self.mms[&mm].vmas.find(VirtAddr(nstart)).cloned() {
            if v.start.as_u64() >= end {
                break;
            }
            if v.start.as_u64() != tmp {
                return Err(Errno::ENOMEM);
            }
            let newflags = (v.flags - VmFlags::LOCKED_MASK) | flags;
            tmp = v.end.as_u64().min(end);
            tmp = self
                .mlock_fixup(pid, mm, v.start, VirtAddr(nstart), VirtAddr(tmp), newflags)?
                .as_u64();
            nstart = tmp;
            if nstart >= end {
                break;
            }
        }
        if tmp < end {
            return Err(Errno::ENOMEM);
        }
        Ok(())
    }

    /// `mlock_fixup`: give `[start, end)` of the VMA at `vma_start` the lock flags of `newflags` and account
    /// `locked_vm`. Returns the end of the VMA that now holds the range.
    fn mlock_fixup(
        &mut self,
        _pid: Pid,
        mm: MmId,
        vma_start: VirtAddr,
        start: VirtAddr,
        end: VirtAddr,
        newflags: VmFlags,
    ) -> Result<VirtAddr, Errno> {
        let vma = self.mms[&mm].vmas.get(vma_start).cloned().ok_or(Errno::ENOMEM)?;
        let oldflags = vma.flags;
        // vma_supports_mlock: VM_SPECIAL and hugetlb VMAs are never locked (nor counted).
        if newflags == oldflags || oldflags.intersects(VmFlags::SPECIAL | VmFlags::HUGETLB) {
            return Ok(vma.end);
        }
        let res_start = self.vma_modify(mm, vma_start, start, end, VmaChange::Flags(newflags))?;
        let m = self.mms.get_mut(&mm).ok_or(Errno::ESRCH)?;
        let nr_pages = ((end - start) >> PAGE_SHIFT) as i64;
        let delta = if !newflags.contains(VmFlags::LOCKED) {
            -nr_pages
        } else if oldflags.contains(VmFlags::LOCKED) {
            0
        } else {
            nr_pages
        };
        m.locked_vm = m.locked_vm.wrapping_add_signed(delta);
        let res_end = m.vmas.get(res_start).map_or(end, |v| v.end);
        // Locking twice is a no-op for the pages; otherwise the present pages follow the new state.
        if !(newflags.contains(VmFlags::LOCKED) && oldflags.contains(VmFlags::LOCKED)) {
            self.mlock_vma_pages_range(mm, start, end, newflags.contains(VmFlags::LOCKED));
        }
        Ok(res_end)
    }

    /// `mlock_vma_pages_range` (`mlock_pte_range`): the pages already mapped in `[start, end)` become
    /// mlocked (`PG_mlocked`, unevictable LRU) or are released from it. The zero page is skipped. Linux counts
    /// mlocked mappings per folio (`mlock_count`); the model releases a page on munlock only when no other
    /// mapping could hold it locked (map count 1).
    fn mlock_vma_pages_range(&mut self, mm: MmId, start: VirtAddr, end: VirtAddr, lock: bool) {
        let arch = self.cfg.arch;
        let Kernel { phys, mms, .. } = self;
        let Some(m) = mms.get(&mm) else { return };
        for lt in leaf_tables(phys, arch, m.pgd, start.0, end.0) {
            for idx in lt.first..=lt.last {
                let pte = PteSlot { table: lt.table, idx }.read(phys, arch);
                if !pte.present() || pte.special() {
                    continue;
                }
                let pfn = Pfn(pte.pfn(arch));
                let pg = phys.page(pfn);
                let mlocked = pg.flags.contains(PageFlags::MLOCKED);
                let both = PageFlags::MLOCKED | PageFlags::UNEVICTABLE;
                if lock && !mlocked {
                    set_lru_flags(phys, pfn, both, PageFlags::empty());
                } else if !lock && mlocked && pg.mapcount <= 1 {
                    set_lru_flags(phys, pfn, PageFlags::empty(), both);
                }
            }
        }
    }

    /// `count_mm_mlocked_page_nr`: pages of `[start, start+len)` already in VM_LOCKED VMAs.
    fn count_mm_mlocked_page_nr(&self, mm: MmId, start: u64, len: u64) -> u64 {
        let end = start.saturating_add(len);
        let mut count: i64 = 0;
        for v in self.mms[&mm].vmas.overlapping(VirtAddr(start), VirtAddr(end)) {
            if v.flags.contains(VmFlags::LOCKED) {
                if start > v.start.as_u64() {
                    count -= (start - v.start.as_u64()) as i64;
                }
                if end < v.end.as_u64() {
                    count += (end - v.start.as_u64()) as i64;
                    break;
                }
                count += v.len() as i64;
            }
        }
        (count >> PAGE_SHIFT) as u64
    }

    /// `__mm_populate(start, len, ignore_errors)`: fault in every VMA intersecting the range, skipping holes
    /// and `VM_IO|VM_PFNMAP` VMAs. The first error stops the walk unless errors are ignored.
    pub(crate) fn mm_populate(
        &mut self,
        pid: Pid,
        mm: MmId,
        start: u64,
        len: u64,
        ignore_errors: bool,
    ) -> Result<(), Errno> {
        let end = start.saturating_add(len);
        let mut nstart = start;
        while nstart < end {
            let Some(v) = self.mms[&mm].vmas.find(VirtAddr(nstart)).cloned() else {
                break;
            };
            if v.start.as_u64() >= end {
                break;
            }
            let nend = end.min(v.end.as_u64());
            if !v.flags.intersects(VmFlags::IO | VmFlags::PFNMAP) {
                let s = nstart.max(v.start.as_u64());
                if let Err(e) = self.populate_vma_range(pid, mm, VirtAddr(s), VirtAddr(nend)) {
                    if !ignore_errors {
                        return Err(e);
                    }
                }
            }
            nstart = nend;
        }
        Ok(())
    }

    /// `populate_vma_page_range`: fault in `[start, end)`, which lies inside one VMA, as GUP does for mlock:
    /// write faults on private writable VMAs (to break COW), read faults otherwise; nothing for
    /// `VM_LOCKONFAULT`; EFAULT for an inaccessible (PROT_NONE) VMA, which is not forced.
    pub(crate) fn populate_vma_range(
        &mut self,
        pid: Pid,
        mm: MmId,
        start: VirtAddr,
        end: VirtAddr,
    ) -> Result<u64, Errno> {
        let vma = self.mms[&mm].vmas.lookup(start).cloned().ok_or(Errno::ENOMEM)?;
        let nr_pages = (end - start) >> PAGE_SHIFT;
        if vma.flags.contains(VmFlags::LOCKONFAULT) {
            return Ok(nr_pages);
        }
        // check_vma_flags without FOLL_FORCE (vma_is_accessible is false).
        if !vma.flags.intersects(VmFlags::ACCESS) || vma.flags.intersects(VmFlags::IO | VmFlags::PFNMAP) {
            return Err(Errno::EFAULT);
        }
        let write = vma.flags.intersection(VmFlags::WRITE | VmFlags::SHARED) == VmFlags::WRITE;
        self.populate_range(pid, start, end.min(vma.end), write)?;
        Ok(nr_pages)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::INIT_PID;
    use crate::mm::mprotect::testkit::*;
    use crate::task::{Cred, Rlimit};
    use crate::uapi::{PROT_READ, PROT_WRITE};

    const RW: u64 = PROT_READ | PROT_WRITE;

    fn unprivileged(k: &mut Kernel, memlock_pages: u64) {
        let t = k.task_mut(INIT_PID).unwrap();
        t.cred = Cred::for_uid(1000);
        t.rlimits[RLIMIT_MEMLOCK] = Rlimit::new(memlock_pages * P, memlock_pages * P);
    }

    fn locked_vm(k: &Kernel) -> u64 {
        mm(k).locked_vm
    }

    /// locked_vm equals the pages of VM_LOCKED VMAs (true as long as no mremap DONTUNMAP happened).
    fn check_locked(k: &Kernel) {
        let sum: u64 = mm(k)
            .vmas
            .iter()
            .filter(|v| v.flags.contains(VmFlags::LOCKED))
            .map(|v| v.nr_pages())
            .sum();
        assert_eq!(locked_vm(k), sum);
    }

    #[test]
    fn mlock_splits_merges_and_counts() {
        let mut k = build("WWWWWW");
        assert_eq!(k.sys_mlock(INIT_PID, page(2), 2 * P), Ok(0));
        assert_eq!(draw(&k), "WWLLWW");
        assert_eq!(locked_vm(&k), 2);
        // Unaligned start: the page-aligned cover is locked; re-locking is not double counted.
        assert_eq!(k.sys_mlock(INIT_PID, page(1) + 100, P), Ok(0));
        assert_eq!(draw(&k), "WLLLWW");
        assert_eq!(locked_vm(&k), 3);
        check_locked(&k);
        assert_eq!(k.sys_munlock(INIT_PID, page(0), 6 * P), Ok(0));
        assert_eq!(draw(&k), "WWWWWW");
        assert_eq!(locked_vm(&k), 0);
    }

    #[test]
    fn mlock_errors() {
        let mut k = build("WW WW");
        assert_eq!(k.sys_mlock2(INIT_PID, page(0), P, 2), Err(Errno::EINVAL));
        assert_eq!(k.sys_mlock2(INIT_PID, page(0), P, u64::MAX), Err(Errno::EINVAL));
        // Holes: the VMAs before the hole are locked, then ENOMEM.
        assert_eq!(k.sys_mlock(INIT_PID, page(0), 5 * P), Err(Errno::ENOMEM));
        assert_eq!(draw(&k), "LL WW");
        check_locked(&k);
        // Nothing at start.
        assert_eq!(k.sys_mlock(INIT_PID, page(2), P), Err(Errno::ENOMEM));
        // len rounding to 0 is fine; an end that wraps is EINVAL (root: no limit check first).
        assert_eq!(k.sys_mlock(INIT_PID, page(9), 0), Ok(0));
        assert_eq!(
            k.sys_mlock(INIT_PID, page(0), 0u64.wrapping_sub(8192)),
            Err(Errno::EINVAL)
        );
        assert_eq!(k.sys_munlock(INIT_PID, page(2), P), Err(Errno::ENOMEM));
        assert_eq!(k.sys_munlock(INIT_PID, page(0), 5 * P), Err(Errno::ENOMEM));
        assert_eq!(draw(&k), "WW WW");
        assert_eq!(locked_vm(&k), 0);
    }

    #[test]
    fn rlimit_memlock() {
        let mut k = build("WWWWWW");
        unprivileged(&mut k, 3);
        assert_eq!(k.sys_mlock(INIT_PID, page(0), 4 * P), Err(Errno::ENOMEM));
        assert_eq!(draw(&k), "WWWWWW");
        assert_eq!(k.sys_mlock(INIT_PID, page(0), 3 * P), Ok(0));
        // Re-locking what is locked plus nothing new: allowed.
        assert_eq!(k.sys_mlock(INIT_PID, page(0), 3 * P), Ok(0));
        assert_eq!(k.sys_mlock(INIT_PID, page(1), P), Ok(0));
        assert_eq!(k.sys_mlock(INIT_PID, page(2), 2 * P), Err(Errno::ENOMEM));
        assert_eq!(locked_vm(&k), 3);
        // RLIMIT_MEMLOCK 0 and no CAP_IPC_LOCK: EPERM, even for len 0 and unmapped ranges.
        unprivileged(&mut k, 0);
        assert_eq!(k.sys_mlock(INIT_PID, page(0), 0), Err(Errno::EPERM));
        assert_eq!(k.sys_mlock2(INIT_PID, page(20), P, MLOCK_ONFAULT), Err(Errno::EPERM));
        assert_eq!(k.sys_mlockall(INIT_PID, MCL_CURRENT), Err(Errno::EPERM));
        // Bad flags are checked before EPERM.
        assert_eq!(k.sys_mlockall(INIT_PID, MCL_ONFAULT), Err(Errno::EINVAL));
        assert_eq!(k.sys_mlockall(INIT_PID, 0), Err(Errno::EINVAL));
        assert_eq!(k.sys_mlockall(INIT_PID, 8 | MCL_CURRENT), Err(Errno::EINVAL));
        // munlock needs no permission.
        assert_eq!(k.sys_munlock(INIT_PID, page(0), 6 * P), Ok(0));
        assert_eq!(locked_vm(&k), 0);
    }

    #[test]
    fn unprivileged_wrapping_len_is_enomem() {
        // Without CAP_IPC_LOCK the limit check comes first and fails for an enormous length.
        let mut k = build("WW");
        unprivileged(&mut k, 16);
        assert_eq!(
            k.sys_mlock(INIT_PID, page(0), 0u64.wrapping_sub(8192)),
            Err(Errno::ENOMEM)
        );
    }

    #[test]
    fn onfault_and_relock() {
        let mut k = build("WWWW");
        assert_eq!(k.sys_mlock2(INIT_PID, page(0), 2 * P, MLOCK_ONFAULT), Ok(0));
        let lf = |k: &Kernel| {
            draw_with(k, |v| {
                match (
                    v.flags.contains(VmFlags::LOCKED),
                    v.flags.contains(VmFlags::LOCKONFAULT),
                ) {
                    (true, true) => 'F',
                    (true, false) => 'L',
                    _ => 'W',
                }
            })
        };
        assert_eq!(lf(&k), "FFWW");
        // mlock over it: LOCKONFAULT goes, locked_vm is not counted again.
        assert_eq!(k.sys_mlock(INIT_PID, page(0), 4 * P), Ok(0));
        assert_eq!(lf(&k), "LLLL");
        assert_eq!(locked_vm(&k), 4);
        check_locked(&k);
    }

    #[test]
    fn special_vmas_are_skipped_silently() {
        let mut k = build("WWWW");
        let m = k.mm_mut(INIT_PID).unwrap();
        m.vmas.lookup_mut(VirtAddr(page(2))).unwrap().flags |= VmFlags::DONTEXPAND;
        // The VMA is now VM_SPECIAL: it stays unlocked and uncounted, and mlock still succeeds.
        assert_eq!(k.sys_mlock(INIT_PID, page(0), 4 * P), Ok(0));
        let m = mm(&k);
        assert_eq!(m.map_count(), 1, "the DONTEXPAND flag was set on the single VMA");
        assert!(!m.vmas.first().unwrap().flags.contains(VmFlags::LOCKED));
        assert_eq!(locked_vm(&k), 0);
    }

    #[test]
    fn prot_none_is_locked_but_reports_enomem() {
        // GUP refuses PROT_NONE with EFAULT, which mlock reports as ENOMEM; the VMA is locked anyway.
        let mut k = build("NN");
        assert_eq!(k.sys_mlock(INIT_PID, page(0), 2 * P), Err(Errno::ENOMEM));
        assert!(mm(&k).vmas.first().unwrap().flags.contains(VmFlags::LOCKED));
        assert_eq!(locked_vm(&k), 2);
        // With MLOCK_ONFAULT nothing is populated, so no error.
        let mut k = build("NN");
        assert_eq!(k.sys_mlock2(INIT_PID, page(0), 2 * P, MLOCK_ONFAULT), Ok(0));
    }

    #[test]
    fn mlockall_and_munlockall() {
        let mut k = build("WW RR NN");
        assert_eq!(k.sys_mlockall(INIT_PID, MCL_CURRENT | MCL_FUTURE), Ok(0));
        assert_eq!(draw(&k), "LL LL LL");
        assert_eq!(locked_vm(&k), 6);
        assert_eq!(mm(&k).def_flags, VmFlags::LOCKED);
        // New mappings inherit def_flags (as mmap would apply them): they merge with locked neighbours.
        map_anon(&mut k, 2, 3, RW);
        assert_eq!(draw(&k), "LLLll LL");
        assert_eq!(locked_vm(&k), 7);
        assert_eq!(k.sys_munlockall(INIT_PID), Ok(0));
        assert_eq!(mm(&k).def_flags, VmFlags::empty());
        assert_eq!(draw(&k), "WWWRR NN");
        assert_eq!(locked_vm(&k), 0);
        let mut k = build("WW RR");
        assert_eq!(k.sys_mlockall(INIT_PID, MCL_FUTURE | MCL_ONFAULT), Ok(0));
        assert_eq!(draw(&k), "WW RR");
        assert_eq!(mm(&k).def_flags, VmFlags::LOCKED | VmFlags::LOCKONFAULT);
        // MCL_CURRENT alone clears MCL_FUTURE's def_flags.
        assert_eq!(k.sys_mlockall(INIT_PID, MCL_CURRENT), Ok(0));
        assert_eq!(mm(&k).def_flags, VmFlags::empty());
        assert_eq!(draw(&k), "LL LL");
        check_locked(&k);
    }

    #[test]
    fn mlockall_limit() {
        let mut k = build("WWWW");
        unprivileged(&mut k, 3);
        assert_eq!(k.sys_mlockall(INIT_PID, MCL_CURRENT), Err(Errno::ENOMEM));
        // MCL_FUTURE alone is not checked against total_vm.
        assert_eq!(k.sys_mlockall(INIT_PID, MCL_FUTURE), Ok(0));
        unprivileged(&mut k, 4);
        assert_eq!(k.sys_mlockall(INIT_PID, MCL_CURRENT), Ok(0));
        assert_eq!(locked_vm(&k), 4);
    }

    #[test]
    fn split_failure_keeps_completed_steps() {
        let mut k = build("WWW");
        k.cfg.max_map_count = 2;
        assert_eq!(k.sys_mlock(INIT_PID, page(1), P), Err(Errno::ENOMEM));
        assert_eq!(draw(&k), "Www");
        assert_eq!(locked_vm(&k), 0);
    }

    #[test]
    fn present_pages_follow_the_lock() {
        use crate::uapi::{MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE};
        let mut k = kernel();
        k.sys_mmap(
            INIT_PID,
            page(0),
            3 * P,
            RW,
            MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
            -1,
            0,
        )
        .unwrap();
        k.poke(INIT_PID, page(0), b"x").unwrap();
        let mmid = k.mm_id(INIT_PID).unwrap();
        let locked = |k: &Kernel| {
            let mut v = Vec::new();
            k.walk_pages(mmid, VirtAddr(page(0)), VirtAddr(page(3)), &mut |s| v.push(s.mlocked));
            v
        };
        assert_eq!(locked(&k), vec![false]);
        // mlock populates the rest; every page is mlocked.
        assert_eq!(k.sys_mlock(INIT_PID, page(0), 3 * P), Ok(0));
        assert_eq!(locked(&k), vec![true, true, true]);
        assert_eq!(k.sys_munlock(INIT_PID, page(1), P), Ok(0));
        assert_eq!(locked(&k), vec![true, false, true]);
        // MLOCK_ONFAULT locks the present pages too, and populates nothing.
        assert_eq!(k.sys_munlock(INIT_PID, page(0), 3 * P), Ok(0));
        assert_eq!(k.sys_mlock2(INIT_PID, page(0), 3 * P, MLOCK_ONFAULT), Ok(0));
        assert_eq!(locked(&k), vec![true, true, true]);
        k.check_all_page_invariants().unwrap();
    }
}
