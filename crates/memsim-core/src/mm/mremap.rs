//! mremap (`mm/mremap.c` of Linux 6.18: `do_mremap`, `check_mremap_params`, `check_prep_vma`, `remap_move`,
//! `mremap_at`, `mremap_to`, `expand_vma`, `move_vma`, `copy_vma_and_data`, `unmap_source_vma`,
//! `dontunmap_complete`; `mm/vma.c: copy_vma, vma_merge_extend`).
//!
//! ```text
//!   flags \ sizes     old_len = 0          new < old          new = old              new > old
//!   0                 shared ENOMEM,       shrink in place    no-op                  grow in place or ENOMEM
//!                     private EINVAL
//!   MAYMOVE           shared: duplicate    shrink in place    no-op                  grow in place, else move
//!   MAYMOVE|FIXED     shared: duplicate    unmap dst, shrink, move (several VMAs     unmap dst, move, grow
//!                                          move               and holes: 6.17+)
//!   MAYMOVE|DONTUNMAP EINVAL               EINVAL             move, old VMA stays    EINVAL
//!                                                             (empty, unlocked)
//! ```
//!
//! Accounting follows the kernel code, including its quirks (checked on 6.18.44): a move charges the size
//! difference (`vrm->delta`) and the unmap of the source does not uncharge (its `VM_ACCOUNT` is cleared for
//! the unmap), so a *shrinking* move with MREMAP_FIXED leaves the shrunk part charged; DONTUNMAP charges the
//! whole new length and adds it to `locked_vm` while the old VMA loses `VM_LOCKED` without `locked_vm` going
//! down.
//!
//! Unmapping and address selection are `mmap.rs`'s `do_munmap` and `get_unmapped_area`.

use crate::addr::{page_align, VirtAddr, PAGE_MASK, PAGE_SHIFT, PAGE_SIZE};
use crate::errno::{Errno, SysResult};
use crate::fs::InodeKind;
use crate::kernel::Kernel;
use crate::mm::vma::{VmFlags, Vma};
use crate::mm::MmId;
use crate::task::Pid;
use crate::uapi::{MAP_FIXED, MAP_SHARED, MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_MAYMOVE};

/// `enum mremap_type`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum RemapType {
    NoResize,
    Shrink,
    Expand,
}

/// `struct vma_remap_struct`: the request and the state carried through the steps.
#[derive(Debug)]
struct Vrm {
    addr: u64,
    old_len: u64,
    new_len: u64,
    flags: u64,
    new_addr: u64,
    delta: u64,
    remap_type: RemapType,
    /// Pages charged to the commit by this request.
    charged: u64,
    /// A locked VMA grew: populate the new part afterwards.
    populate_expand: bool,
}

/// `align_hugetlb`: lengths round up to whole huge pages, addresses must be huge page aligned, and a hugetlb
/// mapping cannot grow (its reservation cannot be split).
fn align_hugetlb(vrm: &mut Vrm, size: u64) -> bool {
    let mask = size - 1;
    vrm.old_len = vrm.old_len.saturating_add(mask) & !mask;
    vrm.new_len = vrm.new_len.saturating_add(mask) & !mask;
    vrm.addr & mask == 0 && vrm.new_addr & mask == 0 && vrm.new_len <= vrm.old_len
}

impl Vrm {
    /// `vrm_implies_new_addr`
    fn implies_new_addr(&self) -> bool {
        self.flags & (MREMAP_FIXED | MREMAP_DONTUNMAP) != 0
    }
    /// `vrm_will_map_new`
    fn will_map_new(&self) -> bool {
        self.remap_type == RemapType::Expand || self.implies_new_addr()
    }
}

impl Kernel {
    /// `mremap(old_addr, old_len, new_len, flags, new_addr)`.
    pub fn sys_mremap(
        &mut self,
        pid: Pid,
        old: u64,
        old_len: u64,
        new_len: u64,
        flags: u64,
        new_addr: u64,
    ) -> SysResult {
        let mm = self.mm_id(pid)?;
        let mut vrm = Vrm {
            addr: old,
            old_len: page_align(old_len),
            new_len: page_align(new_len),
            flags,
            new_addr,
            delta: 0,
            remap_type: RemapType::NoResize,
            charged: 0,
            populate_expand: false,
        };
        self.check_mremap_params(mm, &vrm)?;
        // vrm_move_only: a pure move with MREMAP_FIXED may span several VMAs.
        let res = if vrm.flags & MREMAP_FIXED != 0 && vrm.old_len == vrm.new_len {
            self.remap_move(pid, mm, &mut vrm)
        } else {
            let vma = self.mms[&mm].vmas.lookup(VirtAddr(vrm.addr)).cloned();
            self.check_prep_vma(pid, mm, &mut vrm, vma.as_ref())?;
            let vma = vma.ok_or(Errno::EFAULT)?;
            if vrm.implies_new_addr() {
                self.mremap_to(pid, mm, &mut vrm)
            } else {
                self.mremap_at(pid, mm, &mut vrm, &vma)
            }
        }?;
        if vrm.populate_expand {
            // mm_populate: errors ignored.
            let _ = self.mm_populate(pid, mm, vrm.new_addr.wrapping_add(vrm.old_len), vrm.delta, true);
        }
        Ok(res)
    }

    /// `check_mremap_params`: the checks that need no VMA.
    fn check_mremap_params(&self, mm: MmId, vrm: &Vrm) -> Result<(), Errno> {
        if vrm.flags & !(MREMAP_FIXED | MREMAP_MAYMOVE | MREMAP_DONTUNMAP) != 0 {
            return Err(Errno::EINVAL);
        }
        if vrm.addr & !PAGE_MASK != 0 {
            return Err(Errno::EINVAL);
        }
        // A zero old_len is the "duplicate a shared mapping" special case; a zero new_len is nonsense.
        if vrm.new_len == 0 {
            return Err(Errno::EINVAL);
        }
        let task_size = self.mms[&mm].task_size;
        if vrm.new_len > task_size {
            return Err(Errno::EINVAL);
        }
        if !vrm.implies_new_addr() {
            return Ok(());
        }
        if vrm.new_addr > task_size - vrm.new_len {
            return Err(Errno::EINVAL);
        }
        if vrm.new_addr & !PAGE_MASK != 0 {
            return Err(Errno::EINVAL);
        }
        if vrm.flags & MREMAP_MAYMOVE == 0 {
            return Err(Errno::EINVAL);
        }
        if vrm.flags & MREMAP_DONTUNMAP != 0 && vrm.old_len != vrm.new_len {
            return Err(Errno::EINVAL);
        }
        // vrm_overlaps
        let (end_old, end_new) = (vrm.addr.wrapping_add(vrm.old_len), vrm.new_addr + vrm.new_len);
        if end_old > vrm.new_addr && end_new > vrm.addr {
            return Err(Errno::EINVAL);
        }
        // Worst case both ranges are split in three before move_vma's own check (§4: fails at M−5).
        if self.mms[&mm].map_count() + 2 >= self.cfg.max_map_count.saturating_sub(3) {
            return Err(Errno::ENOMEM);
        }
        Ok(())
    }

    /// `check_prep_vma`: the checks on the VMA at `vrm.addr` (for hugetlb first `align_hugetlb`), and the
    /// resize type.
    fn check_prep_vma(&self, pid: Pid, mm: MmId, vrm: &mut Vrm, vma: Option<&Vma>) -> Result<(), Errno> {
        let vma = vma.ok_or(Errno::EFAULT)?;
        if vma.flags.contains(VmFlags::SEALED) {
            return Err(Errno::EPERM);
        }
        if let Some(size) = vma.hugetlb_page_size() {
            if !align_hugetlb(vrm, size) {
                return Err(Errno::EINVAL);
            }
        }
        vrm.delta = vrm.old_len.abs_diff(vrm.new_len);
        vrm.remap_type = if vrm.delta == 0 {
            RemapType::NoResize
        } else if vrm.old_len > vrm.new_len {
            RemapType::Shrink
        } else {
            RemapType::Expand
        };
        if !vrm.implies_new_addr() {
            vrm.new_addr = vrm.addr;
        }
        if !vrm.will_map_new() {
            return Ok(());
        }
        let mut old_len = vrm.old_len;
        let new_len = vrm.new_len;
        // Duplicating a private mapping makes no sense.
        if old_len == 0 && !vma.flags.intersects(VmFlags::SHARED | VmFlags::MAYSHARE) {
            return Err(Errno::EINVAL);
        }
        if vrm.flags & MREMAP_DONTUNMAP != 0 && vma.flags.intersects(VmFlags::DONTEXPAND | VmFlags::PFNMAP) {
            return Err(Errno::EINVAL);
        }
        // A shrink may cross VMA boundaries in the part being unmapped.
        if vrm.remap_type == RemapType::Shrink {
            old_len = new_len;
        }
        if old_len > vma.end.as_u64() - vrm.addr {
            return Err(Errno::EFAULT);
        }
        if new_len == old_len {
            return Ok(());
        }
        if vma.flags.contains(VmFlags::LOCKED) {
            vrm.populate_expand = true;
        }
        let pgoff = vma.pgoff_of(VirtAddr(vrm.addr));
        if pgoff.checked_add(new_len >> PAGE_SHIFT).is_none() {
            return Err(Errno::EINVAL);
        }
        if vma.flags.intersects(VmFlags::DONTEXPAND | VmFlags::PFNMAP) {
            return Err(Errno::EFAULT);
        }
        let m = &self.mms[&mm];
        if !self.mlock_future_ok(pid, m, vma.flags, vrm.delta) {
            return Err(Errno::EAGAIN);
        }
        if !self.may_expand_vm(pid, m, vma.flags, vrm.delta >> PAGE_SHIFT) {
            return Err(Errno::ENOMEM);
        }
        Ok(())
    }

    /// `remap_move`: MREMAP_FIXED without resizing moves every VMA of `[addr, addr+old_len)`, keeping the gaps
    /// between them (6.17+). A hole at the start is EFAULT; holes elsewhere are skipped.
    fn remap_move(&mut self, pid: Pid, mm: MmId, vrm: &mut Vrm) -> Result<u64, Errno> {
        let start = vrm.addr;
        let end = vrm.addr.wrapping_add(vrm.old_len);
        let mut target_addr = vrm.new_addr;
        let mut res = Err(Errno::EFAULT);
        let mut last_end = 0u64;
        let mut seen_vma = false;
        let mut cursor = start;
        while let Some(vma) = self.mms[&mm].vmas.find(VirtAddr(cursor)).cloned() {
            if vma.start.as_u64() >= end {
                break;
            }
            let addr = vma.start.as_u64().max(start);
            let len = end.min(vma.end.as_u64()) - addr;
            if !seen_vma && start < vma.start.as_u64() {
                return Err(Errno::EFAULT);
            }
            // vma_multi_allowed: a file whose own get_unmapped_area might not honour MREMAP_FIXED (here
            // /dev/zero, `get_unmapped_area_zero`) may only be moved alone (checked on 6.18.44: EFAULT).
            let multi_allowed = match &vma.file {
                None => true,
                Some(f) => matches!(f.inode.kind, InodeKind::Regular | InodeKind::Shmem),
            };
            if !multi_allowed && (seen_vma || vma.end.as_u64() < end) {
                return Err(Errno::EFAULT);
            }
            let offset = if seen_vma { vma.start.as_u64() - last_end } else { 0 };
            last_end = vma.end.as_u64();
            vrm.addr = addr;
            vrm.new_addr = target_addr + offset;
            vrm.old_len = len;
            vrm.new_len = len;
            vrm.charged = 0;
            vrm.populate_expand = false;
            self.check_prep_vma(pid, mm, vrm, Some(&vma))?;
            let res_vma = self.mremap_to(pid, mm, vrm)?;
            if !seen_vma {
                res = Ok(res_vma);
            }
            seen_vma = true;
            target_addr = res_vma + vrm.new_len;
            cursor = addr + len;
            if cursor >= end {
                break;
            }
        }
        res
    }

    /// `mremap_at`: resize without a new address.
    fn mremap_at(&mut self, pid: Pid, mm: MmId, vrm: &mut Vrm, vma: &Vma) -> Result<u64, Errno> {
        match vrm.remap_type {
            RemapType::NoResize => Ok(vrm.addr),
            RemapType::Shrink => {
                // shrink_vma: unmap the tail, which may cross VMAs and holes.
                self.mremap_munmap(mm, vrm.addr + vrm.new_len, vrm.delta)?;
                Ok(vrm.addr)
            }
            RemapType::Expand => self.expand_vma(pid, mm, vrm, vma),
        }
    }

    /// `expand_vma`: grow in place when the range ends at the VMA's end and the space after it is free,
    /// otherwise move (with MREMAP_MAYMOVE) or fail with ENOMEM.
    fn expand_vma(&mut self, pid: Pid, mm: MmId, vrm: &mut Vrm, vma: &Vma) -> Result<u64, Errno> {
        if vma.end.as_u64() - vrm.addr == vrm.old_len && self.vma_expandable(mm, vma, vrm.delta) {
            self.expand_vma_in_place(pid, mm, vrm, vma)?;
            return Ok(vrm.addr);
        }
        if vrm.flags & MREMAP_MAYMOVE == 0 {
            return Err(Errno::ENOMEM);
        }
        self.vrm_set_new_addr(pid, mm, vrm)?;
        self.move_vma(pid, mm, vrm)
    }

    /// `vma_expandable`: `[vm_end, vm_end + delta)` is free and inside the address space.
    fn vma_expandable(&self, mm: MmId, vma: &Vma, delta: u64) -> bool {
        let Some(end) = vma.end.as_u64().checked_add(delta) else {
            return false;
        };
        let m = &self.mms[&mm];
        if m.vmas.overlapping(vma.end, VirtAddr(end)).next().is_some() {
            return false;
        }
        // get_unmapped_area(NULL, vm_start, end - vm_start, 0, MAP_FIXED)
        end <= m.task_size
    }

    /// `expand_vma_in_place`: charge, then `vma_merge_extend` (the VMA grows and may merge with the next one).
    fn expand_vma_in_place(&mut self, pid: Pid, mm: MmId, vrm: &mut Vrm, vma: &Vma) -> Result<(), Errno> {
        self.vrm_calc_charge(pid, vrm, vma)?;
        let mut ext = vma.clone();
        ext.start = vma.end;
        ext.end = vma.end + vrm.delta;
        ext.pgoff = vma.pgoff_of(vma.end);
        let s = self.vma_insert_merge(mm, ext);
        let m = self.mms.get_mut(&mm).ok_or(Errno::ESRCH)?;
        if s != vma.start {
            // vma_merge_new_range refused (a VM_SPECIAL VMA): nothing grows.
            m.vmas.remove(s);
            self.vrm_uncharge(vrm, vma);
            return Err(Errno::ENOMEM);
        }
        m.vm_stat_account(vma.flags, (vrm.delta >> PAGE_SHIFT) as i64);
        if vma.flags.contains(VmFlags::LOCKED) {
            m.locked_vm += vrm.delta >> PAGE_SHIFT;
        }
        Ok(())
    }

    /// `vrm_calc_charge`: an accounted VMA charges the growth (all of the new length with DONTUNMAP).
    fn vrm_calc_charge(&mut self, pid: Pid, vrm: &mut Vrm, vma: &Vma) -> Result<(), Errno> {
        if !vma.flags.contains(VmFlags::ACCOUNT) {
            return Ok(());
        }
        let charged = if vrm.flags & MREMAP_DONTUNMAP != 0 {
            vrm.new_len >> PAGE_SHIFT
        } else {
            vrm.delta >> PAGE_SHIFT
        };
        self.vm_enough_memory(pid, charged)?;
        vrm.charged = charged;
        Ok(())
    }

    /// `vrm_uncharge`
    fn vrm_uncharge(&mut self, vrm: &mut Vrm, vma: &Vma) {
        if vma.flags.contains(VmFlags::ACCOUNT) {
            self.vm_unacct_memory(vrm.charged);
            vrm.charged = 0;
        }
    }

    /// `vrm_set_new_addr`: where the VMA goes (MREMAP_FIXED: exactly there; otherwise `new_addr` is a hint
    /// for DONTUNMAP and ignored for a plain MAYMOVE).
    fn vrm_set_new_addr(&mut self, pid: Pid, mm: MmId, vrm: &mut Vrm) -> Result<(), Errno> {
        let vma = self.mms[&mm]
            .vmas
            .lookup(VirtAddr(vrm.addr))
            .cloned()
            .ok_or(Errno::EFAULT)?;
        let hint = if vrm.implies_new_addr() { vrm.new_addr } else { 0 };
        let mut map_flags = 0;
        if vrm.flags & MREMAP_FIXED != 0 {
            map_flags |= MAP_FIXED;
        }
        if vma.flags.contains(VmFlags::MAYSHARE) {
            map_flags |= MAP_SHARED;
        }
        let pgoff = vma.pgoff_of(VirtAddr(vrm.addr));
        // A hugetlb VMA's file places it (hugetlb_get_unmapped_area): a hint aligned up, an aligned search.
        let huge = vma.hugetlb_page_size().unwrap_or(0);
        let hint = if huge != 0 && hint != 0 {
            hint.saturating_add(huge - 1) & !(huge - 1)
        } else {
            hint
        };
        let file = vma.file.as_ref();
        vrm.new_addr = self.get_unmapped_area_aligned(pid, mm, file, hint, vrm.new_len, pgoff, map_flags, huge)?;
        Ok(())
    }

    /// `mremap_to`: a move to a new address (MREMAP_FIXED, or DONTUNMAP with a hint), after unmapping the
    /// destination (FIXED) and shrinking the source (smaller new length).
    fn mremap_to(&mut self, pid: Pid, mm: MmId, vrm: &mut Vrm) -> Result<u64, Errno> {
        if vrm.flags & MREMAP_FIXED != 0 {
            self.mremap_munmap(mm, vrm.new_addr, vrm.new_len)?;
            // Unmapping part of the source VMA's neighbourhood may have changed it: look it up again.
            if self.mms[&mm].vmas.lookup(VirtAddr(vrm.addr)).is_none() {
                return Err(Errno::EFAULT);
            }
        }
        if vrm.remap_type == RemapType::Shrink {
            self.mremap_munmap(mm, vrm.addr + vrm.new_len, vrm.delta)?;
            vrm.old_len = vrm.new_len;
        }
        if vrm.flags & MREMAP_DONTUNMAP != 0 {
            // DONTUNMAP keeps the old mapping: the address space grows by old_len.
            let m = &self.mms[&mm];
            let flags = m.vmas.lookup(VirtAddr(vrm.addr)).map_or(VmFlags::empty(), |v| v.flags);
            if !self.may_expand_vm(pid, m, flags, vrm.old_len >> PAGE_SHIFT) {
                return Err(Errno::ENOMEM);
            }
        }
        self.vrm_set_new_addr(pid, mm, vrm)?;
        self.move_vma(pid, mm, vrm)
    }

    /// `move_vma`: copy the VMA to `new_addr` (merging there when Linux would), move the page tables, then
    /// unmap the source (or, with DONTUNMAP, leave it empty and unlocked).
    fn move_vma(&mut self, pid: Pid, mm: MmId, vrm: &mut Vrm) -> Result<u64, Errno> {
        let vma = self.mms[&mm]
            .vmas
            .lookup(VirtAddr(vrm.addr))
            .cloned()
            .ok_or(Errno::EFAULT)?;
        // prep_move_vma: stay clear of max_map_count (the unmap may split one VMA into three).
        if self.mms[&mm].map_count() >= self.cfg.max_map_count.saturating_sub(3) {
            return Err(Errno::ENOMEM);
        }
        // Special mappings refuse to be split (`may_split` ⇒ EINVAL).
        if vma.special.is_some() && (vma.start.as_u64() != vrm.addr || vma.end.as_u64() != vrm.addr + vrm.old_len) {
            return Err(Errno::EINVAL);
        }
        self.vrm_calc_charge(pid, vrm, &vma)?;

        // copy_vma_and_data / copy_vma: an anonymous VMA that never faulted takes the pgoff of its new
        // address, so it can merge there; a faulted one keeps its pgoff.
        let mut new_vma = vma.clone();
        new_vma.start = VirtAddr(vrm.new_addr);
        new_vma.end = VirtAddr(vrm.new_addr + vrm.new_len);
        new_vma.pgoff = if vma.is_anonymous() && vma.anon_vma.is_none() {
            vrm.new_addr >> PAGE_SHIFT
        } else {
            vma.pgoff_of(VirtAddr(vrm.addr))
        };
        let new_start = self.vma_insert_merge(mm, new_vma);
        let moved = self.move_page_tables(mm, VirtAddr(vrm.addr), VirtAddr(vrm.new_addr), vrm.old_len);
        let failed = moved < vrm.old_len;
        if failed {
            // Out of memory for page tables: move the entries back and unmap the new area instead.
            self.move_page_tables(mm, VirtAddr(vrm.new_addr), VirtAddr(vrm.addr), moved);
            vrm.addr = vrm.new_addr;
            vrm.old_len = vrm.new_len;
        }

        let hiwater_vm = self.mms[&mm].hiwater_vm;
        // vrm_stat_account(vrm, new_len)
        {
            let m = self.mms.get_mut(&mm).ok_or(Errno::ESRCH)?;
            m.vm_stat_account(vma.flags, (vrm.new_len >> PAGE_SHIFT) as i64);
            if vma.flags.contains(VmFlags::LOCKED) {
                m.locked_vm += vrm.new_len >> PAGE_SHIFT;
            }
        }
        if !failed && vrm.flags & MREMAP_DONTUNMAP != 0 {
            self.dontunmap_complete(mm, vrm, new_start);
        } else {
            self.unmap_source_vma(mm, vrm);
        }
        if let Some(m) = self.mms.get_mut(&mm) {
            m.hiwater_vm = hiwater_vm;
        }
        if failed {
            return Err(Errno::ENOMEM);
        }
        Ok(vrm.new_addr)
    }

    /// `dontunmap_complete`: the whole old VMA loses `VM_LOCKED[ONFAULT]` (without a split and without
    /// `locked_vm` going down); if it was moved entirely, its anon_vma link goes too.
    fn dontunmap_complete(&mut self, mm: MmId, vrm: &Vrm, new_start: VirtAddr) {
        let (start, end) = (vrm.addr, vrm.addr + vrm.old_len);
        let Some(m) = self.mms.get_mut(&mm) else { return };
        if let Some(v) = m.vmas.lookup_mut(VirtAddr(start)) {
            v.flags -= VmFlags::LOCKED_MASK;
            if v.start != new_start && v.start.as_u64() == start && v.end.as_u64() == end {
                v.anon_vma = None;
            }
        }
    }

    /// `unmap_source_vma`: unmap the old range without uncharging it (the move already charged what it
    /// needed), then give `VM_ACCOUNT` back to the parts of the old VMA that remain.
    fn unmap_source_vma(&mut self, mm: MmId, vrm: &Vrm) {
        let (addr, len) = (vrm.addr, vrm.old_len);
        let end = addr + len;
        let Some(vma) = self.mms[&mm].vmas.lookup(VirtAddr(addr)).cloned() else {
            return;
        };
        let accountable_move = vma.flags.contains(VmFlags::ACCOUNT) && vrm.flags & MREMAP_DONTUNMAP == 0;
        if accountable_move {
            if let Some(v) = self.mms.get_mut(&mm).and_then(|m| m.vmas.get_mut(vma.start)) {
                v.flags -= VmFlags::ACCOUNT;
            }
        }
        if self.mremap_munmap(mm, addr, len).is_err() {
            // OOM: unable to split the VMA, just get the accounts right.
            self.committed_pages += (len >> PAGE_SHIFT) as i64;
            return;
        }
        if accountable_move {
            let Some(m) = self.mms.get_mut(&mm) else { return };
            if vma.start.as_u64() < addr {
                if let Some(p) = m.vmas.lookup_mut(VirtAddr(addr - PAGE_SIZE)) {
                    p.flags |= VmFlags::ACCOUNT;
                }
            }
            if vma.end.as_u64() > end {
                if let Some(n) = m.vmas.get_mut(VirtAddr(end)) {
                    n.flags |= VmFlags::ACCOUNT;
                }
            }
        }
    }

    /// `do_munmap(mm, start, len)` as mremap calls it (`do_vmi_munmap`'s argument checks, then the unmap of
    /// `mmap.rs`).
    fn mremap_munmap(&mut self, mm: MmId, start: u64, len: u64) -> Result<(), Errno> {
        let task_size = self.mms[&mm].task_size;
        if start & !PAGE_MASK != 0 || start > task_size || len > task_size - start {
            return Err(Errno::EINVAL);
        }
        let end = start + page_align(len);
        if end == start {
            return Err(Errno::EINVAL);
        }
        self.do_munmap(mm, start, end)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::fs::{File, FileId, FileMeta, Inode, InodeId, InodeKind};
    use crate::kernel::INIT_PID;
    use crate::mm::mprotect::testkit::*;
    use crate::task::{Cred, Rlimit};
    use crate::uapi::{PROT_READ, PROT_WRITE, RLIMIT_AS, RLIMIT_MEMLOCK};

    const MAYMOVE: u64 = MREMAP_MAYMOVE;
    const FIXED: u64 = MREMAP_MAYMOVE | MREMAP_FIXED;
    const DONTUNMAP: u64 = MREMAP_MAYMOVE | MREMAP_DONTUNMAP;

    /// mremap in pages of the picture.
    fn mremap(k: &mut Kernel, a: u64, old: u64, new: u64, flags: u64, to: u64) -> SysResult {
        k.sys_mremap(
            INIT_PID,
            page(a),
            old * P,
            new * P,
            flags,
            if to == 0 { 0 } else { page(to) },
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn check(before: &str, a: u64, old: u64, new: u64, flags: u64, to: u64, res: SysResult, after: &str) {
        let mut k = build(before);
        let r = mremap(&mut k, a, old, new, flags, to);
        assert_eq!(r, res, "{before:?} mremap({a}, {old}, {new}, {flags}, {to})");
        assert_eq!(draw(&k), after, "{before:?} mremap({a}, {old}, {new}, {flags}, {to})");
        check_counters(&k);
    }

    fn at(i: u64) -> SysResult {
        Ok(page(i))
    }

    /// total_vm, data_vm and locked_vm agree with the VMAs.
    fn check_counters(k: &Kernel) {
        let m = mm(k);
        let (mut total, mut data, mut locked) = (0, 0, 0);
        for v in m.vmas.iter() {
            total += v.nr_pages();
            if v.flags.is_data_mapping() {
                data += v.nr_pages();
            }
            if v.flags.contains(VmFlags::LOCKED) {
                locked += v.nr_pages();
            }
        }
        assert_eq!((m.total_vm, m.data_vm, m.locked_vm), (total, data, locked), "counters");
    }

    /// Committed pages equal the pages of VM_ACCOUNT VMAs.
    fn check_commit(k: &Kernel) {
        let acct: u64 = mm(k)
            .vmas
            .iter()
            .filter(|v| v.flags.contains(VmFlags::ACCOUNT))
            .map(|v| v.nr_pages())
            .sum();
        assert_eq!(k.committed_pages, acct as i64, "Committed_AS");
    }

    /// A shared anonymous mapping (a shmem object) at pages [a, b).
    fn map_shared(k: &mut Kernel, a: u64, b: u64) {
        let inode = Arc::new(Inode {
            id: InodeId(99),
            kind: InodeKind::Shmem,
            meta: FileMeta {
                path: "/dev/zero".into(),
                dev_major: 0,
                dev_minor: 1,
                ino: 99,
                size: (b - a) * P,
                mode: crate::fs::S_IFREG | 0o777,
                rdev_major: 0,
                rdev_minor: 0,
                noexec: false,
                nosuid: false,
                uid: 0,
                gid: 0,
            },
            display_name: "/dev/zero (deleted)".into(),
        });
        let file = Arc::new(File {
            id: FileId(99),
            inode,
            flags: crate::uapi::O_RDWR,
        });
        let flags = VmFlags::READ
            | VmFlags::WRITE
            | VmFlags::SHARED
            | VmFlags::MAYSHARE
            | VmFlags::MAYREAD
            | VmFlags::MAYWRITE
            | VmFlags::MAYEXEC;
        let mut v = Vma::new_anon(VirtAddr(page(a)), VirtAddr(page(b)), flags);
        v.file = Some(file);
        v.pgoff = 0;
        let mmid = k.mm_id(INIT_PID).unwrap();
        k.vma_insert_merge(mmid, v);
        k.mm_mut(INIT_PID).unwrap().vm_stat_account(flags, (b - a) as i64);
    }

    /// `S` for shared VMAs, else the prot letter.
    fn shared_kind(v: &Vma) -> char {
        if v.flags.contains(VmFlags::SHARED) {
            'S'
        } else {
            prot_kind(v)
        }
    }

    #[test]
    fn parameter_errors_in_order() {
        let mut k = build("WWWW");
        assert_eq!(mremap(&mut k, 0, 1, 1, 8, 0), Err(Errno::EINVAL));
        assert_eq!(k.sys_mremap(INIT_PID, page(0) + 1, P, P, 0, 0), Err(Errno::EINVAL));
        assert_eq!(mremap(&mut k, 0, 1, 0, 0, 0), Err(Errno::EINVAL));
        assert_eq!(
            k.sys_mremap(INIT_PID, page(0), P, u64::MAX - 100, 0, 0),
            Err(Errno::EINVAL),
            "new_len −100"
        );
        assert_eq!(
            k.sys_mremap(INIT_PID, page(0), P, 1 << 47, 0, 0),
            Err(Errno::EINVAL),
            "new_len > TASK_SIZE"
        );
        // With FIXED or DONTUNMAP: new_addr range, alignment, MAYMOVE, DONTUNMAP sizes, overlap.
        assert_eq!(
            k.sys_mremap(INIT_PID, page(0), P, P, FIXED, 0x7fff_ffff_f000),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            k.sys_mremap(INIT_PID, page(0), P, P, FIXED, page(8) + 1),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            mremap(&mut k, 0, 1, 1, MREMAP_FIXED, 8),
            Err(Errno::EINVAL),
            "FIXED without MAYMOVE"
        );
        assert_eq!(
            mremap(&mut k, 0, 1, 1, MREMAP_DONTUNMAP, 8),
            Err(Errno::EINVAL),
            "DONTUNMAP without MAYMOVE"
        );
        assert_eq!(mremap(&mut k, 0, 1, 2, DONTUNMAP, 8), Err(Errno::EINVAL));
        assert_eq!(mremap(&mut k, 0, 2, 2, FIXED, 1), Err(Errno::EINVAL), "overlap");
        assert_eq!(
            mremap(&mut k, 0, 2, 2, DONTUNMAP, 1),
            Err(Errno::EINVAL),
            "DONTUNMAP hint is validated"
        );
        // No VMA at addr: EFAULT.
        assert_eq!(mremap(&mut k, 5, 1, 1, 0, 0), Err(Errno::EFAULT));
        assert_eq!(mremap(&mut k, 5, 1, 2, MAYMOVE, 0), Err(Errno::EFAULT));
        assert_eq!(draw(&k), "WWWW");
    }

    #[test]
    fn matrix_flags_0() {
        // old_len 0: private EINVAL.
        check("WW", 0, 0, 1, 0, 0, Err(Errno::EINVAL), "WW");
        // Shrink in place, across VMAs and holes.
        check("WWWW", 0, 4, 1, 0, 0, at(0), "W");
        check("WW RR WW", 0, 8, 1, 0, 0, at(0), "W");
        // Same size: a no-op that only needs a VMA at addr; the range is not checked.
        check("WW", 0, 8, 8, 0, 0, at(0), "WW");
        // Grow in place.
        check("WW", 0, 2, 3, 0, 0, at(0), "WWW");
        // Grow in place merges with the next VMA when compatible (vma_merge_extend).
        check("WW WW", 0, 2, 3, 0, 0, at(0), "WWWWW");
        check("ww WW", 0, 2, 3, 0, 0, at(0), "WWWWW");
        check("WW RR", 0, 2, 3, 0, 0, at(0), "WWWRR");
        // Blocked: ENOMEM; old range past vm_end: EFAULT; old range not ending at vm_end cannot grow.
        check("WWRR", 0, 2, 3, 0, 0, Err(Errno::ENOMEM), "WWRR");
        check("WW", 0, 3, 4, 0, 0, Err(Errno::EFAULT), "WW");
        check("WWWW", 0, 2, 3, 0, 0, Err(Errno::ENOMEM), "WWWW");
    }

    #[test]
    fn matrix_maymove() {
        check("WW", 0, 0, 1, MAYMOVE, 0, Err(Errno::EINVAL), "WW");
        check("WWWW", 0, 4, 2, MAYMOVE, 0, at(0), "WW");
        check("WWWW", 1, 2, 2, MAYMOVE, 0, at(1), "WWWW");
        check("WW", 0, 2, 4, MAYMOVE, 0, at(0), "WWWW");
        // Cannot grow in place: moved to a top-down address below mmap_base; the old range is unmapped.
        let mut k = build("WWRR");
        let base = mm(&k).mmap_base;
        assert_eq!(mremap(&mut k, 0, 2, 3, MAYMOVE, 0), Ok(base - 3 * P));
        assert_eq!(draw(&k), "  RR");
        let v = mm(&k).vma_at(VirtAddr(base - 3 * P)).unwrap().clone();
        assert_eq!(
            (v.end.as_u64(), v.pgoff),
            (base, (base - 3 * P) >> 12),
            "unfaulted anon: pgoff follows"
        );
        check_counters(&k);
        check_commit(&k);
        // A faulted VMA keeps its pgoff.
        let mut k = build("wwRR");
        let base = mm(&k).mmap_base;
        assert_eq!(mremap(&mut k, 0, 2, 3, MAYMOVE, 0), Ok(base - 3 * P));
        assert_eq!(mm(&k).vma_at(VirtAddr(base - P)).unwrap().pgoff, page(0) >> 12);
        check_commit(&k);
    }

    #[test]
    fn matrix_maymove_fixed() {
        check("WW", 0, 0, 1, FIXED, 8, Err(Errno::EINVAL), "WW");
        // Shrink and move: the tail is unmapped, the rest moves; the destination is unmapped first.
        check("WWWW    RRRR", 0, 4, 2, FIXED, 9, at(9), "        RWWR");
        // Same size: a move; several VMAs and holes keep their gaps (6.17+).
        check("WW RR", 0, 5, 5, FIXED, 8, at(8), "        WW RR");
        check("WW RR", 0, 4, 4, FIXED, 8, at(8), "    R   WW R");
        // A hole at the start is EFAULT; one at the end is fine.
        check(" WW", 0, 3, 3, FIXED, 8, Err(Errno::EFAULT), " WW");
        check(" WW", 1, 3, 3, FIXED, 8, at(8), "        WW");
        // Grow and move: one VMA only.
        check("WW", 0, 2, 3, FIXED, 8, at(8), "        WWW");
        check("WWRR", 0, 4, 5, FIXED, 8, Err(Errno::EFAULT), "WWRR");
        // The moved VMA merges at the destination (unfaulted: pgoff is reset)...
        check("WW    WW", 0, 2, 2, FIXED, 4, at(4), "    WWWW");
        // ...a faulted one does not (its pgoff no longer fits).
        check("ww    WW", 0, 2, 2, FIXED, 4, at(4), "    WWww");
        // A piece of an unfaulted VMA moved right behind it merges with its own source first.
        check("WWWW", 1, 1, 1, FIXED, 4, at(4), "W WWW");
    }

    #[test]
    fn matrix_dontunmap() {
        check("WW", 0, 0, 2, DONTUNMAP, 8, Err(Errno::EINVAL), "WW");
        check("WW", 0, 2, 1, DONTUNMAP, 8, Err(Errno::EINVAL), "WW");
        check("WW", 0, 2, 3, DONTUNMAP, 8, Err(Errno::EINVAL), "WW");
        // Same size: moved; the old VMA stays.
        check("WW", 0, 2, 2, DONTUNMAP | MREMAP_FIXED, 8, at(8), "WW      WW");
        // Without FIXED the new address is a hint.
        check("WW", 0, 2, 2, DONTUNMAP, 8, at(8), "WW      WW");
        // Several VMAs without FIXED: the VMA at addr does not cover the range: EFAULT.
        check("WWRR", 0, 4, 4, DONTUNMAP, 8, Err(Errno::EFAULT), "WWRR");
        // With FIXED each VMA moves (observed on 6.18.44).
        check("WWRR", 0, 4, 4, DONTUNMAP | MREMAP_FIXED, 8, at(8), "WWRR    WWRR");
    }

    #[test]
    fn dontunmap_locked_and_accounting() {
        // Observed on 6.18.44: VmLck 16 kB → 24 kB after moving 2 of 4 locked pages; the old VMA loses lo
        // entirely, without a split.
        let mut k = build("LLLL");
        assert_eq!(mremap(&mut k, 1, 2, 2, DONTUNMAP | MREMAP_FIXED, 20), at(20));
        assert_eq!(draw(&k), "WWWW                LL");
        assert_eq!(mm(&k).locked_vm, 6);
        assert_eq!(mm(&k).total_vm, 6);
        // DONTUNMAP charges the whole new length: 4 + 2.
        assert_eq!(k.committed_pages, 6);
        // A fully moved old VMA loses its anon_vma.
        let mut k = build("ww");
        assert_eq!(mremap(&mut k, 0, 2, 2, DONTUNMAP | MREMAP_FIXED, 8), at(8));
        assert!(mm(&k).vma_at(VirtAddr(page(0))).unwrap().anon_vma.is_none());
        assert!(mm(&k).vma_at(VirtAddr(page(8))).unwrap().anon_vma.is_some());
    }

    #[test]
    fn shared_old_len_zero_duplicates() {
        let mut k = kernel();
        map_shared(&mut k, 0, 2);
        // Without MAYMOVE: ENOMEM (cannot grow from nothing in place).
        assert_eq!(mremap(&mut k, 0, 0, 2, 0, 0), Err(Errno::ENOMEM));
        assert_eq!(mremap(&mut k, 0, 0, 2, FIXED, 8), at(8));
        assert_eq!(draw_with(&k, shared_kind), "SS      SS");
        let base = mm(&k).mmap_base;
        assert_eq!(mremap(&mut k, 0, 0, 1, MAYMOVE, 0), Ok(base - P));
        let dup = mm(&k).vma_at(VirtAddr(base - P)).unwrap();
        assert_eq!((dup.pgoff, dup.file.as_ref().unwrap().id), (0, FileId(99)));
        check_counters(&k);
        assert_eq!(mm(&k).total_vm, 5);
        // DONTUNMAP with old_len 0 fails the size check.
        assert_eq!(mremap(&mut k, 0, 0, 2, DONTUNMAP, 0), Err(Errno::EINVAL));
    }

    #[test]
    fn commit_accounting() {
        // Growth in place charges the delta.
        let mut k = build("WW");
        mremap(&mut k, 0, 2, 5, 0, 0).unwrap();
        assert_eq!(k.committed_pages, 5);
        check_commit(&k);
        // A move charges only the delta; the unmapped source is not uncharged.
        mremap(&mut k, 0, 5, 6, FIXED, 10).unwrap();
        assert_eq!(k.committed_pages, 6);
        check_commit(&k);
        // Shrink in place uncharges through the unmap.
        mremap(&mut k, 10, 6, 2, 0, 0).unwrap();
        assert_eq!(k.committed_pages, 2);
        check_commit(&k);
        // Read-only growth charges nothing.
        let mut k = build("RR");
        mremap(&mut k, 0, 2, 4, 0, 0).unwrap();
        assert_eq!(k.committed_pages, 0);
        // The 6.18 quirk: a shrinking FIXED move charges the (stale) delta after the shrink uncharged it.
        let mut k = build("WWWW");
        assert_eq!(mremap(&mut k, 0, 4, 2, FIXED, 8), at(8));
        assert_eq!(
            k.committed_pages, 4,
            "observed: Committed_AS unchanged by a shrinking move"
        );
        // Moving part of a VMA: the remaining parts keep VM_ACCOUNT.
        let mut k = build("WWWW");
        assert_eq!(mremap(&mut k, 1, 2, 2, FIXED, 8), at(8));
        assert_eq!(draw(&k), "W  W    WW");
        assert!(mm(&k).vmas.iter().all(|v| v.flags.contains(VmFlags::ACCOUNT)));
        check_commit(&k);
        check_counters(&k);
    }

    #[test]
    fn locked_growth_and_limits() {
        let mut k = build("LL");
        mremap(&mut k, 0, 2, 4, 0, 0).unwrap();
        assert_eq!(draw(&k), "LLLL");
        check_counters(&k);
        // RLIMIT_MEMLOCK for an unprivileged task: EAGAIN.
        let t = k.task_mut(INIT_PID).unwrap();
        t.cred = Cred::for_uid(1000);
        t.rlimits[RLIMIT_MEMLOCK] = Rlimit::new(5 * P, 5 * P);
        assert_eq!(mremap(&mut k, 0, 4, 6, 0, 0), Err(Errno::EAGAIN));
        assert_eq!(mremap(&mut k, 0, 4, 5, 0, 0), at(0));
        // RLIMIT_AS: ENOMEM.
        k.task_mut(INIT_PID).unwrap().rlimits[RLIMIT_AS] = Rlimit::new(6 * P, 6 * P);
        k.task_mut(INIT_PID).unwrap().rlimits[RLIMIT_MEMLOCK] = Rlimit::new(1 << 30, 1 << 30);
        assert_eq!(mremap(&mut k, 0, 5, 7, 0, 0), Err(Errno::ENOMEM));
        assert_eq!(mremap(&mut k, 0, 5, 6, 0, 0), at(0));
        check_counters(&k);
    }

    #[test]
    fn dontexpand_and_special() {
        let mut k = build("WW");
        k.mm_mut(INIT_PID)
            .unwrap()
            .vmas
            .lookup_mut(VirtAddr(page(0)))
            .unwrap()
            .flags |= VmFlags::DONTEXPAND;
        assert_eq!(mremap(&mut k, 0, 2, 3, MAYMOVE, 0), Err(Errno::EFAULT));
        assert_eq!(mremap(&mut k, 0, 2, 2, DONTUNMAP, 8), Err(Errno::EINVAL));
        // Moving it whole is fine.
        assert_eq!(mremap(&mut k, 0, 2, 2, FIXED, 8), at(8));
    }

    #[test]
    fn map_count_limits() {
        // §4: FIXED/DONTUNMAP need N + 2 < M − 3; any move needs N < M − 3; in-place needs nothing.
        let mut k = build("WW");
        k.cfg.max_map_count = 6; // N = 1: 1 + 2 >= 3 fails
        assert_eq!(mremap(&mut k, 0, 1, 1, FIXED, 8), Err(Errno::ENOMEM));
        k.cfg.max_map_count = 7;
        assert_eq!(mremap(&mut k, 0, 1, 1, FIXED, 8), at(8));
        let mut k = build("WWRR");
        k.cfg.max_map_count = 5; // N = 2 >= 5 − 3
        assert_eq!(mremap(&mut k, 0, 2, 3, MAYMOVE, 0), Err(Errno::ENOMEM));
        k.cfg.max_map_count = 6;
        assert!(mremap(&mut k, 0, 2, 3, MAYMOVE, 0).is_ok());
        let mut k = build("WW");
        k.cfg.max_map_count = 1;
        assert_eq!(mremap(&mut k, 0, 2, 4, 0, 0), at(0));
        assert_eq!(mremap(&mut k, 0, 4, 2, 0, 0), at(0));
    }

    #[test]
    fn fixed_below_mmap_min_addr_is_eperm_after_unmapping_the_destination() {
        let mut k = build("WW");
        k.task_mut(INIT_PID).unwrap().cred = Cred::for_uid(1000);
        assert_eq!(k.sys_mremap(INIT_PID, page(0), P, P, FIXED, 0), Err(Errno::EPERM));
        assert_eq!(draw(&k), "WW");
        let _ = (PROT_READ, PROT_WRITE);
    }

    mod props {
        //! Random sequences of mmap, munmap, mprotect, mlock, munlock, madvise and mremap inside a 64-page
        //! window, with the accounting invariants checked after every step: the counters equal what the VMAs
        //! say (total/data/exec/stack, locked, committed), except after the two kernel quirks that make them
        //! diverge on purpose (a DONTUNMAP move of locked memory, a shrinking MREMAP_FIXED move).
        use super::*;
        use crate::uapi::*;
        use proptest::prelude::*;

        #[derive(Clone, Debug)]
        enum Op {
            Mmap(u64, u64, u64),
            Munmap(u64, u64),
            Mprotect(u64, u64, u64),
            Mlock(u64, u64, bool),
            Munlock(u64, u64),
            Madvise(u64, u64, u64),
            Mremap(u64, u64, u64, u64, u64),
        }

        fn op() -> impl Strategy<Value = Op> {
            let pg = 0u64..64;
            let n = 0u64..10;
            let prot = prop::sample::select(vec![0, PROT_READ, PROT_READ | PROT_WRITE, PROT_READ | PROT_EXEC]);
            let advice = prop::sample::select(vec![
                MADV_NORMAL,
                MADV_RANDOM,
                MADV_SEQUENTIAL,
                MADV_DONTFORK,
                MADV_DOFORK,
                MADV_WIPEONFORK,
                MADV_KEEPONFORK,
                MADV_DONTNEED,
                MADV_FREE,
                MADV_HUGEPAGE,
                MADV_NOHUGEPAGE,
                MADV_GUARD_INSTALL,
                MADV_POPULATE_READ,
            ]);
            let rflags = prop::sample::select(vec![
                0,
                MREMAP_MAYMOVE,
                MREMAP_MAYMOVE | MREMAP_FIXED,
                MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP,
            ]);
            prop_oneof![
                3 => (pg.clone(), 1u64..10, prot.clone()).prop_map(|(a, n, p)| Op::Mmap(a, n, p)),
                1 => (pg.clone(), n.clone()).prop_map(|(a, n)| Op::Munmap(a, n)),
                3 => (pg.clone(), n.clone(), prot).prop_map(|(a, n, p)| Op::Mprotect(a, n, p)),
                1 => (pg.clone(), n.clone(), any::<bool>()).prop_map(|(a, n, f)| Op::Mlock(a, n, f)),
                1 => (pg.clone(), n.clone()).prop_map(|(a, n)| Op::Munlock(a, n)),
                2 => (pg.clone(), n.clone(), advice).prop_map(|(a, n, v)| Op::Madvise(a, n, v)),
                3 => (pg.clone(), n.clone(), 1u64..10, rflags, pg).prop_map(|(a, o, n, f, t)| Op::Mremap(a, o, n, f, t)),
            ]
        }

        fn run(k: &mut Kernel, op: &Op) -> (SysResult, bool, bool) {
            let mut locked_quirk = false;
            let mut commit_quirk = false;
            let r = match *op {
                Op::Mmap(a, n, p) => k.sys_mmap(
                    INIT_PID,
                    page(a),
                    n * P,
                    p,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
                    -1,
                    0,
                ),
                Op::Munmap(a, n) => k.sys_munmap(INIT_PID, page(a), n * P),
                Op::Mprotect(a, n, p) => k.sys_mprotect(INIT_PID, page(a), n * P, p),
                Op::Mlock(a, n, f) => k.sys_mlock2(INIT_PID, page(a), n * P, if f { MLOCK_ONFAULT } else { 0 }),
                Op::Munlock(a, n) => k.sys_munlock(INIT_PID, page(a), n * P),
                Op::Madvise(a, n, v) => k.sys_madvise(INIT_PID, page(a), n * P, v),
                Op::Mremap(a, o, n, f, t) => {
                    let r = k.sys_mremap(INIT_PID, page(a), o * P, n * P, f, page(t));
                    if r.is_ok() && f & MREMAP_DONTUNMAP != 0 {
                        locked_quirk = true;
                    }
                    if r.is_ok() && f & MREMAP_FIXED != 0 && n < o {
                        commit_quirk = true;
                    }
                    r
                }
            };
            (r, locked_quirk, commit_quirk)
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]
            #[test]
            fn counters_match_the_vmas(ops in proptest::collection::vec(op(), 1..60)) {
                let mut k = kernel();
                let (mut lq, mut cq) = (false, false);
                for op in &ops {
                    let (_r, l, c) = run(&mut k, op);
                    lq |= l;
                    cq |= c;
                    let m = mm(&k);
                    prop_assert!(m.vmas.check().is_ok(), "{:?}", m.vmas.check());
                    let c = m.recount();
                    for v in m.vmas.iter() {
                        // Anonymous pgoff stays linear for VMAs that never faulted.
                        if v.anon_vma.is_none() && v.file.is_none() {
                            prop_assert_eq!(v.pgoff, v.start.as_u64() >> PAGE_SHIFT, "{:?} after {:?}", v, op);
                        }
                    }
                    prop_assert_eq!((m.total_vm, m.data_vm, m.exec_vm, m.stack_vm), (c.total_vm, c.data_vm, c.exec_vm, c.stack_vm), "after {:?}", op);
                    if !lq {
                        prop_assert_eq!(m.locked_vm, c.locked_vm, "locked_vm after {:?}", op);
                    }
                    if !cq {
                        prop_assert_eq!(k.committed_pages, c.accounted as i64, "committed after {:?}", op);
                    }
                }
            }
        }

        /// Per-page flags of the window, the naive model of the address space.
        fn pages(k: &Kernel) -> std::collections::BTreeMap<u64, VmFlags> {
            let mut out = std::collections::BTreeMap::new();
            for v in mm(k).vmas.iter() {
                for p in (v.start.as_u64() >> PAGE_SHIFT)..(v.end.as_u64() >> PAGE_SHIFT) {
                    out.insert(p, v.flags);
                }
            }
            out
        }

        /// What a successful flag-changing call does to one page's flags (`None`: not a flag change we model
        /// here). VM_ACCOUNT may change with mprotect and is ignored by the comparison.
        fn expected(op: &Op, old: VmFlags) -> Option<VmFlags> {
            Some(match *op {
                Op::Mprotect(_, _, p) => (old - VmFlags::ACCESS) | VmFlags::from_prot(p),
                Op::Mlock(_, _, f) => {
                    let l = if f {
                        VmFlags::LOCKED | VmFlags::LOCKONFAULT
                    } else {
                        VmFlags::LOCKED
                    };
                    (old - VmFlags::LOCKED_MASK) | l
                }
                Op::Munlock(..) => old - VmFlags::LOCKED_MASK,
                Op::Madvise(_, _, a) => match a {
                    MADV_NORMAL => old - VmFlags::SEQ_READ - VmFlags::RAND_READ,
                    MADV_RANDOM => (old - VmFlags::SEQ_READ) | VmFlags::RAND_READ,
                    MADV_SEQUENTIAL => (old - VmFlags::RAND_READ) | VmFlags::SEQ_READ,
                    MADV_DONTFORK => old | VmFlags::DONTCOPY,
                    MADV_DOFORK => old - VmFlags::DONTCOPY,
                    MADV_WIPEONFORK => old | VmFlags::WIPEONFORK,
                    MADV_KEEPONFORK => old - VmFlags::WIPEONFORK,
                    MADV_HUGEPAGE => (old - VmFlags::NOHUGEPAGE) | VmFlags::HUGEPAGE,
                    MADV_NOHUGEPAGE => (old - VmFlags::HUGEPAGE) | VmFlags::NOHUGEPAGE,
                    MADV_GUARD_INSTALL => return None,
                    _ => old,
                },
                Op::Mmap(..) | Op::Munmap(..) | Op::Mremap(..) => return None,
            })
        }

        fn range(op: &Op) -> (u64, u64) {
            match *op {
                Op::Mprotect(a, n, _) | Op::Mlock(a, n, _) | Op::Munlock(a, n) | Op::Madvise(a, n, _) => {
                    ((page(a) >> PAGE_SHIFT), (page(a) >> PAGE_SHIFT) + n)
                }
                _ => (0, 0),
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]
            /// Against the naive per-page model: a successful call gives every page of its range the new flags;
            /// no call (successful or not) touches a page outside its range.
            #[test]
            fn flag_changes_match_a_per_page_model(ops in proptest::collection::vec(op(), 1..60)) {
                let mut k = kernel();
                for op in &ops {
                    let before = pages(&k);
                    let (r, _, _) = run(&mut k, op);
                    let after = pages(&k);
                    let Some(_) = expected(op, VmFlags::empty()) else { continue };
                    let (lo, hi) = range(op);
                    // VM_ACCOUNT may change with mprotect; the sticky guard flag spreads to whatever a VMA merges with.
                    let ign = VmFlags::ACCOUNT | VmFlags::MAYBE_GUARD;
                    for (&p, &f) in &before {
                        if p >= lo && p < hi {
                            if r.is_ok() {
                                let want = expected(op, f).unwrap_or(f);
                                prop_assert_eq!(after.get(&p).map(|&g| g - ign), Some(want - ign), "page {:#x} after {:?}", p, op);
                            }
                        } else {
                            prop_assert_eq!(after.get(&p).map(|&g| g - ign), Some(f - ign), "outside page {:#x} after {:?}", p, op);
                        }
                    }
                    // Nothing appears or disappears.
                    prop_assert_eq!(before.len(), after.len(), "after {:?}", op);
                    if r.is_ok() {
                        prop_assert!((lo..hi).all(|p| before.contains_key(&p)), "{:?} succeeded over a hole", op);
                    }
                }
            }
        }

        /// Arguments that are mostly garbage: any value, or one near the mapped window, or a small length.
        fn arg() -> impl Strategy<Value = u64> {
            prop_oneof![
                any::<u64>(),
                (0u64..80).prop_map(page),
                (0u64..80, 0u64..4096).prop_map(|(p, o)| page(p) + o),
                (0u64..40).prop_map(|n| n * P),
                (1u64..20000).prop_map(|n| 0u64.wrapping_sub(n)),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]
            #[test]
            fn garbage_arguments_never_panic(calls in proptest::collection::vec((0u8..8, arg(), arg(), arg(), arg(), arg()), 1..30)) {
                let mut k = build("WWRR XX  NN LL WW");
                for (which, a, b, c, d, e) in calls {
                    let _ = match which {
                        0 => k.sys_mprotect(INIT_PID, a, b, c),
                        1 => k.sys_mremap(INIT_PID, a, b, c, d, e),
                        2 => k.sys_mlock2(INIT_PID, a, b, c),
                        3 => k.sys_munlock(INIT_PID, a, b),
                        4 => k.sys_mlockall(INIT_PID, c),
                        5 => k.sys_munlockall(INIT_PID),
                        6 => k.sys_madvise(INIT_PID, a, b, c),
                        _ => k.sys_msync(INIT_PID, a, b, c),
                    };
                    prop_assert!(mm(&k).vmas.check().is_ok());
                    prop_assert!(k.check_all_page_invariants().is_ok(), "{:?}", k.check_all_page_invariants());
                }
            }
        }
    }
}
