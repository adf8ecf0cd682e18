//! mmap and munmap (`mm/mmap.c: do_mmap`, `mm/vma.c: __mmap_region, do_vmi_munmap`), and
//! `get_unmapped_area` (`mm/mmap.c: __get_unmapped_area`, `arch/x86/kernel/sys_x86_64.c`,
//! `mm/huge_memory.c: __thp_get_unmapped_area`, `mm/vma.c: unmapped_area[_topdown]`).
//!
//! The errno order follows `../shared/reference/linux-mm-rules.md` §6. Unmapping is done in two steps, as
//! `mm/vma.c` does it: [`Kernel::munmap_gather`] splits the VMAs at the range edges and counts what will go
//! (so MAP_FIXED can check the limits against the net growth), and [`Kernel::munmap_complete`] removes them
//! and does the accounting. A failure after the gather keeps the splits, as Linux does.
//!
//! Deliberate differences from Linux (documented, tested):
//! * MAP_HUGETLB: the model has no hugetlb pool, as if `nr_hugepages` were 0. A hugetlb mapping fails with
//!   ENOMEM at the point `hugetlb_reserve_pages` fails in Linux (after the MAP_FIXED unmap), unless it is
//!   MAP_NORESERVE: then, as in Linux, it is made (an `/anon_hugepage (deleted)` object) and every fault in it
//!   gets SIGBUS.

use std::sync::Arc;

use crate::addr::{is_page_aligned, page_align, VirtAddr, PAGE_SHIFT, PAGE_SIZE};
use crate::errno::{Errno, SysResult};
use crate::fs::{File, FileMeta, Inode, InodeKind};
use crate::kernel::{Kernel, OvercommitMode};
use crate::mm::vma::{VmFlags, Vma};
use crate::mm::MmId;
use crate::task::{Pid, CAP_SYS_RAWIO};
use crate::uapi::*;

/// `PMD_SIZE`: the THP alignment.
const PMD_SIZE: u64 = 2 << 20;
/// `MAX_LFS_FILESIZE` on 64-bit.
const MAX_LFS_FILESIZE: u64 = i64::MAX as u64;

/// What an unmap of `[start, end)` will remove, counted before anything is removed (`struct vma_munmap_struct`).
#[derive(Clone, Debug, Default)]
pub struct UnmapPlan {
    pub start: u64,
    pub end: u64,
    /// Number of VMAs inside the range (after the edge splits).
    pub nr_vmas: usize,
    pub nr_pages: u64,
    pub locked: u64,
    /// Pages of `VM_ACCOUNT` VMAs: uncharged from the commit, unless a MAP_FIXED mapping takes the charge over.
    pub nr_accounted: u64,
    pub exec: u64,
    pub stack: u64,
    pub data: u64,
}

impl Kernel {
    /// `mmap(addr, len, prot, flags, fd, offset)`.
    #[allow(clippy::too_many_arguments)]
    pub fn sys_mmap(&mut self, pid: Pid, addr: u64, len: u64, prot: u64, flags: u64, fd: i64, off: u64) -> SysResult {
        // arch/x86/kernel/sys_x86_64.c: SYSCALL_DEFINE6(mmap): the offset must be page aligned, anon too.
        if !is_page_aligned(off) {
            return Err(Errno::EINVAL);
        }
        let pgoff = off >> PAGE_SHIFT;
        let mut len = len;
        let mm = self.mm_id(pid)?;
        // mm/mmap.c: ksys_mmap_pgoff: the file first (EBADF before the length checks).
        let mut file: Option<Arc<File>> = None;
        let mut hugetlb = None;
        if flags & MAP_ANONYMOUS == 0 {
            let f = self.fget(pid, fd)?;
            if flags & MAP_HUGETLB != 0 {
                // Not a hugetlbfs file.
                return Err(Errno::EINVAL);
            }
            file = Some(f);
        } else if flags & MAP_HUGETLB != 0 {
            // hstate_sizelog: 0 is the default size; x86-64 has 2 MiB (21) and 1 GiB (30) pages, i386 without
            // PAE 4 MiB (22) ones.
            let shift = match ((flags >> MAP_HUGE_SHIFT) & MAP_HUGE_MASK, self.cfg.arch.is_64bit()) {
                (0 | 21, true) => 21,
                (30, true) => 30,
                (0 | 22, false) => 22,
                _ => return Err(Errno::EINVAL),
            };
            let size = 1u64 << shift;
            len = len.wrapping_add(size - 1) & !(size - 1);
            hugetlb = Some(shift);
        }
        self.do_mmap(pid, mm, file, addr, len, prot, flags, pgoff, hugetlb)
    }

    /// `do_mmap` + `mmap_region`: everything after the file lookup.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn do_mmap(
        &mut self,
        pid: Pid,
        mm: MmId,
        file: Option<Arc<File>>,
        addr: u64,
        len: u64,
        prot: u64,
        mut flags: u64,
        mut pgoff: u64,
        hugetlb: Option<u32>,
    ) -> SysResult {
        if len == 0 {
            return Err(Errno::EINVAL);
        }
        // A hugetlb mapping is a mapping of its hugetlbfs file, at the offset asked for.
        let file_pgoff = pgoff;
        // READ_IMPLIES_EXEC: PROT_READ implies PROT_EXEC, except for a file on a noexec mount.
        let prot = if prot & PROT_READ != 0
            && self.read_implies_exec(pid)
            && !file.as_ref().is_some_and(|f| f.inode.meta.noexec)
        {
            prot | PROT_EXEC
        } else {
            prot
        };
        if flags & MAP_FIXED_NOREPLACE != 0 {
            flags |= MAP_FIXED;
        }
        let mut addr = addr;
        if flags & MAP_FIXED == 0 {
            addr = self.round_hint_to_min(addr);
        }
        let len = page_align(len);
        if len == 0 {
            return Err(Errno::ENOMEM);
        }
        if pgoff.checked_add(len >> PAGE_SHIFT).is_none() {
            return Err(Errno::EOVERFLOW);
        }
        let m = &self.mms[&mm];
        if m.map_count() > self.cfg.max_map_count {
            return Err(Errno::ENOMEM);
        }
        // calc_vm_prot_bits | calc_vm_flag_bits | def_flags | VM_MAY*.
        let mut vm_flags = VmFlags::from_prot(prot)
            | calc_vm_flag_bits(flags)
            | m.def_flags
            | VmFlags::MAYREAD
            | VmFlags::MAYWRITE
            | VmFlags::MAYEXEC;

        let addr = if let Some(shift) = hugetlb {
            // hugetlb_get_unmapped_area: a fixed address must be huge-page aligned; a hint is aligned up, and
            // the search keeps the result aligned (`huge_page_mask_align`).
            let size = 1u64 << shift;
            if flags & MAP_FIXED != 0 && addr & (size - 1) != 0 {
                return Err(Errno::EINVAL);
            }
            let hint = if addr == 0 {
                0
            } else {
                addr.saturating_add(size - 1) & !(size - 1)
            };
            self.get_unmapped_area_aligned(pid, mm, None, hint, len, 0, flags, size)?
        } else {
            self.get_unmapped_area(pid, mm, file.as_ref(), addr, len, pgoff, flags)?
        };
        let end = addr + len;
        let m = &self.mms[&mm];
        if flags & MAP_FIXED_NOREPLACE != 0 && m.vmas.overlapping(VirtAddr(addr), VirtAddr(end)).next().is_some() {
            return Err(Errno::EEXIST);
        }
        if flags & MAP_LOCKED != 0 && !self.can_do_mlock(pid) {
            return Err(Errno::EPERM);
        }
        if !self.mlock_future_ok(pid, m, vm_flags, len) {
            return Err(Errno::EAGAIN);
        }

        if let Some(f) = &file {
            let inode = &f.inode;
            if !file_mmap_ok(&inode.meta, pgoff, len) {
                return Err(Errno::EOVERFLOW);
            }
            match flags & MAP_TYPE {
                t @ (MAP_SHARED | MAP_SHARED_VALIDATE) => {
                    // MAP_SHARED silently drops non-legacy flags; MAP_SHARED_VALIDATE rejects them (no file
                    // the model maps supports MAP_SYNC).
                    let checked = if t == MAP_SHARED {
                        flags & LEGACY_MAP_MASK
                    } else {
                        flags
                    };
                    if checked & !LEGACY_MAP_MASK != 0 {
                        return Err(Errno::EOPNOTSUPP);
                    }
                    if prot & PROT_WRITE != 0 && !f.writable() {
                        return Err(Errno::EACCES);
                    }
                    vm_flags |= VmFlags::SHARED | VmFlags::MAYSHARE;
                    if !f.writable() {
                        vm_flags -= VmFlags::MAYWRITE | VmFlags::SHARED;
                    }
                    self.mmap_file_private_checks(f, &mut vm_flags)?;
                }
                MAP_PRIVATE => self.mmap_file_private_checks(f, &mut vm_flags)?,
                _ => return Err(Errno::EINVAL),
            }
        } else {
            match flags & MAP_TYPE {
                MAP_SHARED => {
                    if vm_flags.contains(VmFlags::GROWSDOWN) {
                        return Err(Errno::EINVAL);
                    }
                    pgoff = 0;
                    vm_flags |= VmFlags::SHARED | VmFlags::MAYSHARE;
                }
                t @ (MAP_PRIVATE | MAP_DROPPABLE) => {
                    if t == MAP_DROPPABLE {
                        if !self.cfg.arch.is_64bit() {
                            return Err(Errno::EOPNOTSUPP);
                        }
                        if flags & (MAP_LOCKED | MAP_HUGETLB) != 0 || vm_flags.contains(VmFlags::GROWSDOWN) {
                            return Err(Errno::EINVAL);
                        }
                        vm_flags |= VmFlags::DROPPABLE | VmFlags::NORESERVE | VmFlags::WIPEONFORK | VmFlags::DONTDUMP;
                    }
                    pgoff = addr >> PAGE_SHIFT;
                }
                _ => return Err(Errno::EINVAL),
            }
        }
        if flags & MAP_NORESERVE != 0 && self.cfg.overcommit != OvercommitMode::Never {
            vm_flags |= VmFlags::NORESERVE;
        }
        if hugetlb.is_some() {
            // do_mmap: "hugetlb applies strict overcommit unless MAP_NORESERVE", whatever the overcommit mode;
            // hugetlbfs_file_mmap adds VM_HUGETLB | VM_DONTEXPAND.
            if flags & MAP_NORESERVE != 0 {
                vm_flags |= VmFlags::NORESERVE;
            }
            vm_flags |= VmFlags::HUGETLB | VmFlags::DONTEXPAND;
            pgoff = file_pgoff;
        }
        let start = self.mmap_region(pid, mm, file, addr, len, vm_flags, pgoff, hugetlb)?;

        // vm_mmap_pgoff → mm_populate: for VM_LOCKED (not lock-on-fault) or MAP_POPULATE without MAP_NONBLOCK.
        // Populate failures are not reported.
        let populate = vm_flags.contains(VmFlags::LOCKED) || flags & (MAP_POPULATE | MAP_NONBLOCK) == MAP_POPULATE;
        if populate && !vm_flags.contains(VmFlags::LOCKONFAULT) && vm_flags.intersects(VmFlags::ACCESS) {
            let write = vm_flags.intersection(VmFlags::WRITE | VmFlags::SHARED) == VmFlags::WRITE;
            let _ = self.populate_range(pid, VirtAddr(start), VirtAddr(start + len), write);
        }
        Ok(start)
    }

    /// The MAP_PRIVATE arm of `do_mmap` for files (also reached by MAP_SHARED): read access, noexec, `->mmap`.
    fn mmap_file_private_checks(&self, f: &File, vm_flags: &mut VmFlags) -> Result<(), Errno> {
        if !f.readable() {
            return Err(Errno::EACCES);
        }
        if f.inode.meta.noexec {
            if vm_flags.contains(VmFlags::EXEC) {
                return Err(Errno::EPERM);
            }
            *vm_flags -= VmFlags::MAYEXEC;
        }
        if matches!(f.inode.kind, InodeKind::Other) {
            return Err(Errno::ENODEV);
        }
        if vm_flags.contains(VmFlags::GROWSDOWN) {
            return Err(Errno::EINVAL);
        }
        Ok(())
    }

    /// `round_hint_to_min`: a nonzero hint below mmap_min_addr becomes `PAGE_ALIGN(mmap_min_addr)`.
    fn round_hint_to_min(&self, hint: u64) -> u64 {
        let hint = hint & !(PAGE_SIZE - 1);
        let min = self.hint_min_addr();
        if hint != 0 && hint < min {
            page_align(min)
        } else {
            hint
        }
    }

    /// `__mmap_region`: unmap what MAP_FIXED replaces, check the limits, charge the commit, create or merge the
    /// VMA, account it. Returns the mapping's start.
    #[allow(clippy::too_many_arguments)]
    fn mmap_region(
        &mut self,
        pid: Pid,
        mm: MmId,
        file: Option<Arc<File>>,
        addr: u64,
        len: u64,
        mut vm_flags: VmFlags,
        pgoff: u64,
        hugetlb: Option<u32>,
    ) -> SysResult {
        let end = addr + len;
        let pglen = len >> PAGE_SHIFT;
        // __mmap_prepare: gather the VMAs being replaced (splitting at the edges).
        let mut plan = self.munmap_gather(mm, addr, end)?;
        let m = &self.mms[&mm];
        if !self.may_expand_vm(pid, m, vm_flags, pglen - plan.nr_pages) {
            return Err(Errno::ENOMEM);
        }
        // accountable_mapping: private writable, not NORESERVE (hugetlb has its own accounting).
        let accountable = hugetlb.is_none()
            && vm_flags.intersection(VmFlags::NORESERVE | VmFlags::SHARED | VmFlags::WRITE) == VmFlags::WRITE;
        let mut charged = 0;
        if accountable {
            charged = pglen - plan.nr_accounted;
            if charged != 0 {
                self.vm_enough_memory(pid, charged)?;
            }
            plan.nr_accounted = 0;
            vm_flags |= VmFlags::ACCOUNT;
        }
        // vms_clean_up_area + vms_complete_munmap_vmas (done before the new VMA exists; same result).
        self.munmap_complete(mm, &plan);
        // hugetlbfs_file_mmap: the offset must be huge page aligned; then hugetlb_reserve_pages, which
        // succeeds without reserving for VM_NORESERVE and otherwise finds the pool empty. A failure leaves
        // the replaced range unmapped (vms_abort_munmap_vmas cannot restore cleared VMAs).
        if let Some(shift) = hugetlb {
            let misaligned = pgoff & ((1 << (shift - PAGE_SHIFT)) - 1) != 0;
            if misaligned || !vm_flags.contains(VmFlags::NORESERVE) {
                self.vm_unacct_memory(charged);
                return Err(if misaligned { Errno::EINVAL } else { Errno::ENOMEM });
            }
        }

        let mut vma = Vma::new_anon(VirtAddr(addr), VirtAddr(end), vm_flags);
        vma.pgoff = pgoff;
        match file {
            None if hugetlb.is_some() => vma.file = Some(self.hugetlb_file_setup(pid, len, hugetlb.unwrap_or(21))),
            Some(f) if f.inode.kind == InodeKind::DevZero && vm_flags.contains(VmFlags::SHARED) => {
                // mmap_zero → shmem_zero_setup: a fresh shmem object replaces /dev/zero; pgoff as requested.
                // Only with VM_SHARED: a MAP_SHARED mapping of a read-only /dev/zero descriptor lost VM_SHARED
                // above and stays a `/dev/zero` mapping with anonymous faults (v: `r--s ... 00:06 4 /dev/zero`).
                let shm = self
                    .shmem_zero_setup(pid, len, vm_flags)
                    .inspect_err(|_| self.vm_unacct_memory(charged))?;
                vma.file = Some(shm);
            }
            Some(f) => vma.file = Some(f),
            None if vm_flags.contains(VmFlags::SHARED) => {
                let shm = self
                    .shmem_zero_setup(pid, len, vm_flags)
                    .inspect_err(|_| self.vm_unacct_memory(charged))?;
                vma.file = Some(shm);
            }
            None => {}
        }
        let merged = if vma
            .file
            .as_ref()
            .is_some_and(|f| matches!(f.inode.kind, InodeKind::Shmem | InodeKind::Hugetlbfs { .. }))
        {
            // A new shmem (or hugetlbfs) object never matches a neighbour's file.
            let s = vma.start;
            self.mms.get_mut(&mm).expect("mm").vmas.insert(vma);
            s
        } else {
            self.vma_insert_merge(mm, vma)
        };
        let _ = merged;
        // __mmap_complete: stat accounting and locked_vm.
        let m = self.mms.get_mut(&mm).expect("mm");
        m.vm_stat_account(vm_flags, pglen as i64);
        if vm_flags.contains(VmFlags::LOCKED) {
            m.locked_vm += pglen;
        }
        Ok(addr)
    }

    /// `shmem_zero_setup` / `shmem_kernel_file_setup("dev/zero", size, flags)`: a new shmem object on dev 00:01,
    /// charged to the commit for its size unless VM_NORESERVE (`shmem_acct_size`).
    fn shmem_zero_setup(&mut self, pid: Pid, size: u64, vm_flags: VmFlags) -> Result<Arc<File>, Errno> {
        if !vm_flags.contains(VmFlags::NORESERVE) {
            self.vm_enough_memory(pid, page_align(size) >> PAGE_SHIFT)?;
        }
        let ino = self.alloc_shmem_ino();
        let inode = Arc::new(Inode {
            id: self.alloc_inode_id(),
            kind: InodeKind::Shmem,
            meta: FileMeta {
                path: "/dev/zero".into(),
                dev_minor: 1,
                ino,
                size,
                mode: crate::fs::S_IFREG | 0o777,
                ..FileMeta::default()
            },
            display_name: "/dev/zero (deleted)".into(),
        });
        Ok(Arc::new(File {
            id: self.alloc_file_id(),
            inode,
            flags: O_RDWR,
        }))
    }

    /// `hugetlb_file_setup(HUGETLB_ANON_FILE, size, VM_NORESERVE, ...)`: the file behind a MAP_HUGETLB
    /// anonymous mapping, on the internal hugetlbfs mount of its page size, already unlinked. The mounts are
    /// made at boot one per size, smallest first, on consecutive anonymous devices: the 1 GiB one is the
    /// device after the 2 MiB one (`KernelConfig::hugetlbfs_dev`).
    fn hugetlb_file_setup(&mut self, pid: Pid, size: u64, page_shift: u32) -> Arc<File> {
        let ino = self.alloc_shmem_ino();
        let (dev_major, dev_minor) = self.cfg.hugetlbfs_dev;
        let dev_minor = dev_minor + u32::from(page_shift == 30);
        let (uid, gid) = self.tasks.get(&pid).map_or((0, 0), |t| (t.cred.fsuid, t.cred.fsgid));
        let inode = Arc::new(Inode {
            id: self.alloc_inode_id(),
            kind: InodeKind::Hugetlbfs { page_shift },
            meta: FileMeta {
                path: "/anon_hugepage".into(),
                dev_major,
                dev_minor,
                ino,
                size,
                mode: crate::fs::S_IFREG | 0o600,
                uid,
                gid,
                ..FileMeta::default()
            },
            display_name: "/anon_hugepage (deleted)".into(),
        });
        Arc::new(File {
            id: self.alloc_file_id(),
            inode,
            flags: O_RDWR,
        })
    }

    /// `get_unmapped_area` as `do_mmap` calls it (`__get_unmapped_area`): FIXED ⇒ the address itself; otherwise
    /// the hint if it fits, else a top-down search below `mmap_base` (bottom-up with the legacy layout or
    /// MAP_32BIT, and as the fallback). THP alignment for private anonymous `len % 2 MiB == 0` without hint,
    /// and for regular files (and private /dev/zero) whose range covers a 2 MiB-aligned block of offsets.
    /// `mremap` uses it too (with MAP_FIXED or no hint).
    #[allow(clippy::too_many_arguments)]
    pub fn get_unmapped_area(
        &self,
        pid: Pid,
        mm: MmId,
        file: Option<&Arc<File>>,
        addr: u64,
        len: u64,
        pgoff: u64,
        flags: u64,
    ) -> Result<u64, Errno> {
        self.get_unmapped_area_aligned(pid, mm, file, addr, len, pgoff, flags, 0)
    }

    /// [`Kernel::get_unmapped_area`] for a hugetlb mapping of pages of `huge` bytes (0: not hugetlb): the
    /// search keeps the address a multiple of it (`info.align_mask = huge_page_mask_align(file)`), and no THP
    /// alignment applies.
    #[allow(clippy::too_many_arguments)]
    pub fn get_unmapped_area_aligned(
        &self,
        pid: Pid,
        mm: MmId,
        file: Option<&Arc<File>>,
        addr: u64,
        len: u64,
        pgoff: u64,
        flags: u64,
        huge: u64,
    ) -> Result<u64, Errno> {
        let m = self.mms.get(&mm).ok_or(Errno::ESRCH)?;
        let task_size = m.task_size;
        if len > task_size {
            return Err(Errno::ENOMEM);
        }
        let is64 = self.cfg.arch.is_64bit();
        let thp_file = match file {
            Some(f) => match f.inode.kind {
                InodeKind::Regular => true,
                InodeKind::DevZero => flags & MAP_SHARED == 0,
                _ => false,
            },
            None => false,
        };
        let (pgoff, thp) = if file.is_none() {
            (0, flags & MAP_SHARED == 0 && addr == 0 && len.is_multiple_of(PMD_SIZE))
        } else {
            (pgoff, thp_file)
        };
        let mut res = None;
        if thp && is64 && huge == 0 {
            res = self.thp_get_unmapped_area(m, addr, len, pgoff, flags);
        }
        // vm_unmapped_area's align_mask: the bits below the huge page size, above the page offset.
        let align_mask = huge.saturating_sub(PAGE_SIZE);
        let addr = match res {
            Some(a) => a,
            None => self.arch_get_unmapped_area(m, addr, len, flags, align_mask)?,
        };
        if addr > task_size - len {
            return Err(Errno::ENOMEM);
        }
        if !is_page_aligned(addr) {
            return Err(Errno::EINVAL);
        }
        // security_mmap_addr → cap_mmap_addr: below vm.mmap_min_addr needs CAP_SYS_RAWIO.
        if addr < self.cfg.mmap_min_addr && !self.task(pid)?.capable(CAP_SYS_RAWIO) {
            return Err(Errno::EPERM);
        }
        Ok(addr)
    }

    /// `__thp_get_unmapped_area` with `size = PMD_SIZE`; `None` means "fall back to the plain search".
    fn thp_get_unmapped_area(&self, m: &crate::mm::Mm, addr: u64, len: u64, pgoff: u64, flags: u64) -> Option<u64> {
        let off = pgoff.checked_mul(PAGE_SIZE)?;
        let off_end = off.checked_add(len)?;
        let off_align = off.checked_add(PMD_SIZE - 1)? & !(PMD_SIZE - 1);
        if off_end <= off_align || off_end - off_align < PMD_SIZE {
            return None;
        }
        let len_pad = len.checked_add(PMD_SIZE)?;
        off.checked_add(len_pad)?;
        let ret = self.arch_get_unmapped_area(m, addr, len_pad, flags, 0).ok()?;
        if ret == addr {
            return Some(addr);
        }
        let off_sub = off.wrapping_sub(ret) & (PMD_SIZE - 1);
        if !m.legacy_layout && off_sub == 0 {
            return Some(ret + PMD_SIZE);
        }
        Some(ret + off_sub)
    }

    /// `arch_get_unmapped_area_topdown` / `arch_get_unmapped_area` (`arch/x86/kernel/sys_x86_64.c`).
    fn arch_get_unmapped_area(
        &self,
        m: &crate::mm::Mm,
        addr0: u64,
        len: u64,
        flags: u64,
        align_mask: u64,
    ) -> Result<u64, Errno> {
        let task_size = m.task_size;
        if len > task_size {
            return Err(Errno::ENOMEM);
        }
        if flags & MAP_FIXED != 0 {
            return Ok(addr0);
        }
        let is64 = self.cfg.arch.is_64bit();
        let gap = self.cfg.stack_guard_gap;
        let window = self.cfg.arch.default_map_window();
        if !(m.legacy_layout || is64 && flags & MAP_32BIT != 0) {
            if addr0 != 0 {
                let addr = addr0 & !(PAGE_SIZE - 1);
                // mmap_address_hint_valid: fits below TASK_SIZE, does not cross the 47-bit window boundary.
                let valid = task_size - len >= addr && (addr > window) == (addr + len > window);
                if valid {
                    match m.vmas.find(VirtAddr(addr)) {
                        None => return Ok(addr),
                        Some(v) if addr + len <= v.start_gap(gap).0 => return Ok(addr),
                        _ => {}
                    }
                }
            }
            let low = if is64 && flags & MAP_ABOVE4G != 0 {
                1 << 32
            } else {
                PAGE_SIZE
            };
            let mut high = m.mmap_base;
            if is64 && addr0 > window {
                high += self.cfg.arch.task_size_max() - window;
            }
            if let Some(a) = self.unmapped_area_topdown(m, len, low, high, align_mask) {
                return Ok(a);
            }
        }
        // Bottom-up (legacy layout, MAP_32BIT, or the top-down fallback).
        let (begin, end) = if is64 && flags & MAP_32BIT != 0 {
            (0x4000_0000, 0x8000_0000)
        } else {
            let end = if is64 && addr0 > window {
                self.cfg.arch.task_size_max()
            } else {
                window.min(task_size)
            };
            (m.mmap_legacy_base, end)
        };
        if len > end {
            return Err(Errno::ENOMEM);
        }
        if addr0 != 0 {
            let addr = page_align(addr0);
            let fits = end - len >= addr;
            if fits {
                match m.vmas.find(VirtAddr(addr)) {
                    None => return Ok(addr),
                    Some(v) if addr + len <= v.start_gap(gap).0 => return Ok(addr),
                    _ => {}
                }
            }
        }
        self.unmapped_area(m, len, begin, end, align_mask).ok_or(Errno::ENOMEM)
    }

    /// `unmapped_area_topdown`: the highest gap in `[low, high)` that fits, retried below a growsdown VMA's
    /// guard gap. The result ends at the gap's (clipped) end.
    fn unmapped_area_topdown(&self, m: &crate::mm::Mm, len: u64, low: u64, high: u64, align_mask: u64) -> Option<u64> {
        let low = low.max(self.hint_min_addr());
        let mut high = high;
        // The search asks for room for the worst-case alignment loss; the result is aligned down.
        let length = len.checked_add(align_mask)?;
        loop {
            let gap_end = m.vmas.gap_highest(low, high, length)?;
            let addr = (gap_end - len) & !align_mask;
            if let Some(next) = m.vmas.find(VirtAddr(gap_end)) {
                let sg = next.start_gap(self.cfg.stack_guard_gap).0;
                if next.flags.contains(VmFlags::GROWSDOWN) && sg < gap_end {
                    high = sg;
                    continue;
                }
            }
            return Some(addr);
        }
    }

    /// `unmapped_area`: the lowest gap in `[low, high)` that fits, retried above a growsdown VMA that is too
    /// close.
    fn unmapped_area(&self, m: &crate::mm::Mm, len: u64, low: u64, high: u64, align_mask: u64) -> Option<u64> {
        let mut low = low.max(self.hint_min_addr());
        let length = len.checked_add(align_mask)?;
        loop {
            let gap = m.vmas.gap_lowest(low, high, length)?;
            // Aligned up within the gap.
            let gap = gap + (0u64.wrapping_sub(gap) & align_mask);
            if let Some(next) = m.vmas.find(VirtAddr(gap)) {
                let sg = next.start_gap(self.cfg.stack_guard_gap).0;
                if next.flags.contains(VmFlags::GROWSDOWN) && sg < gap + length - 1 {
                    low = next.end.0;
                    continue;
                }
            }
            return Some(gap);
        }
    }

    /// `munmap(addr, len)` (`do_vmi_munmap`).
    pub fn sys_munmap(&mut self, pid: Pid, addr: u64, len: u64) -> SysResult {
        let mm = self.mm_id(pid)?;
        let task_size = self.mms[&mm].task_size;
        if !is_page_aligned(addr) || addr > task_size || len > task_size - addr {
            return Err(Errno::EINVAL);
        }
        let end = addr + page_align(len);
        if end == addr {
            return Err(Errno::EINVAL);
        }
        self.do_munmap(mm, addr, end)?;
        Ok(0)
    }

    /// Unmap `[start, end)` (page aligned, valid): `do_vmi_align_munmap`. Holes are fine.
    pub fn do_munmap(&mut self, mm: MmId, start: u64, end: u64) -> Result<(), Errno> {
        let plan = self.munmap_gather(mm, start, end)?;
        self.munmap_complete(mm, &plan);
        Ok(())
    }

    /// `vms_gather_munmap_vmas`: split the VMAs at the range edges and count what the unmap removes. Only a
    /// split of one VMA on both sides checks the map count (`N >= M` ⇒ ENOMEM); special mappings refuse any
    /// split (EINVAL); sealed VMAs refuse the unmap (EPERM). A later failure keeps the start split.
    pub fn munmap_gather(&mut self, mm: MmId, start: u64, end: u64) -> Result<UnmapPlan, Errno> {
        let max = self.cfg.max_map_count;
        let mut plan = UnmapPlan {
            start,
            end,
            ..UnmapPlan::default()
        };
        let m = self.mms.get(&mm).ok_or(Errno::ESRCH)?;
        let Some(first) = m.vmas.find(VirtAddr(start)) else {
            return Ok(plan);
        };
        if first.start.0 >= end {
            return Ok(plan);
        }
        if first.start.0 < start {
            if end < first.end.0 && m.map_count() >= max {
                return Err(Errno::ENOMEM);
            }
            // Don't bother splitting a sealed VMA (mseal): it cannot be unmapped anyway.
            if first.flags.contains(VmFlags::SEALED) {
                return Err(Errno::EPERM);
            }
            self.split_vma_unchecked(mm, VirtAddr(start))?;
        }
        let m = &self.mms[&mm];
        // Any sealed VMA in the range refuses the whole unmap (before the end split).
        if m.vmas
            .overlapping(VirtAddr(start), VirtAddr(end))
            .any(|v| v.flags.contains(VmFlags::SEALED))
        {
            return Err(Errno::EPERM);
        }
        if let Some(last) = m.vmas.lookup(VirtAddr(end - 1)) {
            if last.end.0 > end {
                self.split_vma_unchecked(mm, VirtAddr(end))?;
            }
        }
        let m = &self.mms[&mm];
        for v in m.vmas.overlapping(VirtAddr(start), VirtAddr(end)) {
            let n = v.nr_pages();
            plan.nr_vmas += 1;
            plan.nr_pages += n;
            if v.flags.contains(VmFlags::LOCKED) {
                plan.locked += n;
            }
            if v.flags.contains(VmFlags::ACCOUNT) {
                plan.nr_accounted += n;
            }
            if v.flags.is_exec_mapping() {
                plan.exec += n;
            } else if v.flags.is_stack_mapping() {
                plan.stack += n;
            } else if v.flags.is_data_mapping() {
                plan.data += n;
            }
        }
        Ok(plan)
    }

    /// `vms_complete_munmap_vmas` (with `vms_clear_ptes`): zap the pages, free the page tables no VMA needs any
    /// more, remove the VMAs and do the accounting (total/locked/data/exec/stack, the commit charge, the
    /// shmem object's charge when its last mapping goes).
    pub fn munmap_complete(&mut self, mm: MmId, plan: &UnmapPlan) {
        if plan.nr_vmas == 0 {
            return;
        }
        let (start, end) = (VirtAddr(plan.start), VirtAddr(plan.end));
        let m = &self.mms[&mm];
        let floor = m.vmas.prev(start).map_or(0, |p| p.end.0);
        let ceiling = m.vmas.find(end).map_or(m.task_size, |n| n.start.0);
        self.zap_range(mm, start, end);
        let mut released = Vec::new();
        {
            let m = self.mms.get_mut(&mm).expect("mm");
            // After the edge splits every VMA meeting the range lies inside it.
            while let Some(s) = m.vmas.find(start).map(|v| v.start).filter(|s| s.0 < plan.end) {
                if let Some(v) = m.vmas.remove(s) {
                    if let Some(f) = v.file {
                        if f.inode.kind == InodeKind::Shmem {
                            released.push((f, v.flags.contains(VmFlags::NORESERVE)));
                        }
                    }
                }
            }
            m.locked_vm = m.locked_vm.saturating_sub(plan.locked);
            m.update_hiwater_vm();
            m.total_vm -= plan.nr_pages;
            m.exec_vm -= plan.exec;
            m.stack_vm -= plan.stack;
            m.data_vm -= plan.data;
        }
        self.free_pgtables(mm, start, end, floor, ceiling);
        self.vm_unacct_memory(plan.nr_accounted);
        released.sort_by_key(|(f, _)| f.id);
        released.dedup_by_key(|(f, _)| f.id);
        for (f, noreserve) in released {
            // The last mapping of a shmem object without an open descriptor: shmem_evict_inode unaccounts it.
            if Arc::strong_count(&f) == 1 {
                if !noreserve {
                    self.vm_unacct_memory(page_align(f.inode.meta.size) >> PAGE_SHIFT);
                }
                // ... and frees its pages.
                self.shmem_evict_inode(f.inode.id);
            }
        }
    }
}

/// `calc_vm_flag_bits`: MAP_GROWSDOWN, MAP_LOCKED, MAP_SYNC, MAP_STACK (⇒ VM_NOHUGEPAGE since 6.7).
fn calc_vm_flag_bits(flags: u64) -> VmFlags {
    let mut f = VmFlags::empty();
    if flags & MAP_GROWSDOWN != 0 {
        f |= VmFlags::GROWSDOWN;
    }
    if flags & MAP_LOCKED != 0 {
        f |= VmFlags::LOCKED;
    }
    if flags & MAP_SYNC != 0 {
        // Set even for anonymous and private mappings (v: `sf` in smaps).
        f |= VmFlags::SYNC;
    }
    if flags & MAP_STACK != 0 {
        f |= VmFlags::NOHUGEPAGE;
    }
    f
}

/// `file_mmap_ok`: the mapped range must fit `file_mmap_size_max` (MAX_LFS_FILESIZE for regular files,
/// ULONG_MAX for character devices).
fn file_mmap_ok(meta: &FileMeta, pgoff: u64, len: u64) -> bool {
    let max = if meta.mode & crate::fs::S_IFMT == crate::fs::S_IFREG {
        MAX_LFS_FILESIZE
    } else {
        u64::MAX
    };
    if len > max {
        return false;
    }
    pgoff <= (max - len) >> PAGE_SHIFT
}

#[cfg(test)]
#[path = "mmap_tests.rs"]
mod tests;
