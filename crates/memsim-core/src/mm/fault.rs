//! The page-fault handler (`arch/x86/mm/fault.c: do_user_addr_fault, access_error`, `mm/memory.c:
//! handle_mm_fault, do_anonymous_page, do_fault, do_read_fault, do_cow_fault, do_shared_fault, do_wp_page,
//! do_fault_around`, `mm/mmap.c: expand_downwards, acct_stack_growth`, `mm/rmap.c: anon_vma_prepare,
//! find_mergeable_anon_vma`) and user memory access (`access`, `poke`, `peek`).
//!
//! Every user access first goes through the simulated MMU ([`hw_walk`]); only when it faults does the kernel
//! side run, exactly as on hardware, so A and D bits, the zero page, copy-on-write and write-notify all fall
//! out of the PTE bits. Fault accounting follows `mm_account_fault`: faults that end in a signal are not
//! counted; a fault that needed I/O is major (Linux retries it and counts the retry as major).
//!
//! A fatal signal kills the task (no handlers are modelled): `exit = Killed`, state Zombie. Out of memory
//! kills the faulting task with SIGKILL (memsim has no OOM-killer victim selection).

use std::sync::Arc;

use crate::addr::{Pfn, VirtAddr, PAGE_MASK, PAGE_SIZE};
use crate::arch::paging::{hw_walk, HwAccess, Level, PfError};
use crate::arch::pgtable::{self, pte_alloc, PteSlot};
use crate::arch::pte::{Pte, PteFlags};
use crate::errno::Errno;
use crate::filemap::FilemapError;
use crate::fs::{File, InodeKind};
use crate::kernel::{AccessKind, Kernel, SigInfo};
use crate::mm::memory::{mm_counter, put_page, vma_prot, vma_wants_writenotify, HPAGE_SIZE};
use crate::mm::vma::{AnonVmaId, AnonVmaRef, VmFlags, Vma};
use crate::mm::{MmId, RssCounter};
use crate::phys::{PageFlags, ZERO_PFN};
use crate::task::{ExitStatus, Pid, TaskState};
use crate::uapi::{BUS_ADRERR, SEGV_ACCERR, SEGV_MAPERR, SIGBUS, SIGKILL, SIGSEGV};

/// `SI_KERNEL`: the si_code of a signal the kernel sends on its own behalf (the OOM kill).
pub const SI_KERNEL: u32 = 0x80;

/// How `handle_mm_fault` failed (`VM_FAULT_OOM`, `VM_FAULT_SIGBUS`, `VM_FAULT_SIGSEGV`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FaultError {
    Oom,
    SigBus,
    SigSegv,
}

impl From<FilemapError> for FaultError {
    fn from(e: FilemapError) -> Self {
        match e {
            FilemapError::Bus => FaultError::SigBus,
            FilemapError::Oom => FaultError::Oom,
        }
    }
}

/// The parts of a VMA the fault path needs, copied out so the tree can be changed meanwhile.
struct FaultVma {
    start: u64,
    end: u64,
    flags: VmFlags,
    pgoff: u64,
    anonymous: bool,
    file: Option<Arc<File>>,
    prot: u64,
    anon_vma: Option<AnonVmaId>,
    special: Option<crate::mm::vma::SpecialMapping>,
}

impl FaultVma {
    fn of(arch: crate::arch::Arch, v: &Vma) -> FaultVma {
        let anonymous = v.is_anonymous();
        FaultVma {
            start: v.start.0,
            end: v.end.0,
            flags: v.flags,
            pgoff: v.pgoff,
            anonymous,
            file: if anonymous { None } else { v.file.clone() },
            prot: vma_prot(arch, v),
            anon_vma: v.anon_vma.map(|a| a.id),
            special: v.special,
        }
    }
    #[inline]
    fn pgoff_of(&self, addr: u64) -> u64 {
        self.pgoff + ((addr - self.start) >> 12)
    }
}

/// `access_error` (`arch/x86/mm/fault.c`): may this VMA take a fault with this error code?
pub fn access_error(code: PfError, flags: VmFlags) -> bool {
    if code.contains(PfError::PK) {
        return true;
    }
    // arch_vma_access_permitted: pkeys never affect instruction fetches. A not-present fetch from a readable
    // but non-executable VMA is not an error here: the page is mapped with NX and the retried fetch fails.
    if code.contains(PfError::WRITE) {
        return flags.contains(VmFlags::SHADOW_STACK) || !flags.contains(VmFlags::WRITE);
    }
    if code.contains(PfError::PROT) {
        return true; // read, present
    }
    !flags.intersects(VmFlags::ACCESS) // read, not present: vma_is_accessible
}

/// `thp_vma_allowable_order(vma, TVA_PAGEFAULT, PMD_ORDER)` + `thp_vma_suitable_order` for the reference
/// settings (THP `madvise` mode): a private anonymous VMA with MADV_HUGEPAGE (and not NOHUGEPAGE) whose
/// aligned 2 MiB block around `addr` lies inside it, on x86-64 (a non-PAE i386 kernel has no THP).
fn thp_eligible(arch: crate::arch::Arch, vma: &FaultVma, addr: u64) -> bool {
    let haddr = addr & !(HPAGE_SIZE - 1);
    arch.is_64bit()
        && vma.anonymous
        && !vma.flags.contains(VmFlags::SHARED)
        && vma.flags.contains(VmFlags::HUGEPAGE)
        && !vma
            .flags
            .intersects(VmFlags::NOHUGEPAGE | VmFlags::SPECIAL | VmFlags::HUGETLB)
        && haddr >= vma.start
        && haddr + HPAGE_SIZE <= vma.end
}

/// `anon_vma_compatible(a, b)` (`mm/rmap.c`): `a` directly below `b`, same file and policy, flags equal but
/// for access bits and soft-dirty, pgoff linear.
fn anon_vma_compatible(a: &Vma, b: &Vma) -> bool {
    a.end == b.start
        && a.file_id() == b.file_id()
        && (a.flags ^ b.flags)
            .difference(VmFlags::ACCESS | VmFlags::SOFTDIRTY)
            .is_empty()
        && b.pgoff == a.pgoff + ((b.start - a.start) >> 12)
}

impl Kernel {
    /// One user access of `len` bytes at `addr`; an access that straddles a page boundary touches both pages.
    pub fn access(&mut self, pid: Pid, addr: u64, len: u64, kind: AccessKind) -> Result<(), SigInfo> {
        let len = len.max(1);
        let r = self.user_access(pid, addr, kind).and_then(|_| {
            let last = addr.saturating_add(len - 1) & PAGE_MASK;
            if last != addr & PAGE_MASK {
                self.user_access(pid, last, kind)?;
            }
            Ok(())
        });
        r.inspect_err(|&sig| self.mark_fault_killed(pid, sig))
    }

    /// Store `bytes` at `addr` as user stores would.
    pub fn poke(&mut self, pid: Pid, addr: u64, bytes: &[u8]) -> Result<(), SigInfo> {
        self.store_bytes(pid, addr, bytes)
            .inspect_err(|&sig| self.mark_fault_killed(pid, sig))
    }

    /// Load `len` bytes at `addr` as user loads would.
    pub fn peek(&mut self, pid: Pid, addr: u64, len: u64) -> Result<Vec<u8>, SigInfo> {
        self.load_bytes(pid, addr, len)
            .inspect_err(|&sig| self.mark_fault_killed(pid, sig))
    }

    fn store_bytes(&mut self, pid: Pid, addr: u64, bytes: &[u8]) -> Result<(), SigInfo> {
        let mut off = 0usize;
        while off < bytes.len() {
            let a = addr.wrapping_add(off as u64);
            let n = ((PAGE_SIZE - (a & (PAGE_SIZE - 1))) as usize).min(bytes.len() - off);
            let pa = self.user_access(pid, a, AccessKind::Write)?;
            self.phys
                .write(Pfn(pa >> 12), (pa & (PAGE_SIZE - 1)) as usize, &bytes[off..off + n]);
            off += n;
        }
        Ok(())
    }

    fn load_bytes(&mut self, pid: Pid, addr: u64, len: u64) -> Result<Vec<u8>, SigInfo> {
        // Grow the buffer page by page: a huge length faults at the end of the mapping long before it could
        // exhaust host memory.
        let mut out = Vec::new();
        let mut off = 0u64;
        while off < len {
            let a = addr.wrapping_add(off);
            let n = (PAGE_SIZE - (a & (PAGE_SIZE - 1))).min(len - off) as usize;
            let pa = self.user_access(pid, a, AccessKind::Read)?;
            let at = out.len();
            out.resize(at + n, 0);
            self.phys
                .read(Pfn(pa >> 12), (pa & (PAGE_SIZE - 1)) as usize, &mut out[at..]);
            off += n as u64;
        }
        Ok(out)
    }

    /// One user-mode access to the page of `addr` through the MMU, taking page faults as needed. Returns the
    /// physical address.
    fn user_access(&mut self, pid: Pid, addr: u64, kind: AccessKind) -> Result<u64, SigInfo> {
        let arch = self.cfg.arch;
        let Ok(mm) = self.mm_id(pid) else {
            // A dead or unknown task cannot access memory; report it as already killed.
            return Err(SigInfo {
                signo: SIGKILL,
                code: SI_KERNEL,
                addr,
            });
        };
        let acc = HwAccess {
            write: kind == AccessKind::Write,
            exec: kind == AccessKind::Exec,
            user: true,
        };
        // Addresses above the user half of the paging structures always fault without a VMA.
        let user_top = pgtable::root_span(arch) / if arch.is_64bit() { 2 } else { 1 };
        for _ in 0..4 {
            let code = match (self.mms[&mm].pgd, addr < user_top) {
                (Some(root), true) => match hw_walk(&mut self.phys, arch, root, addr, acc, None) {
                    Ok(t) => return Ok(t.phys.0),
                    Err(code) => code,
                },
                _ => {
                    let mut c = PfError::USER;
                    if acc.write {
                        c |= PfError::WRITE;
                    }
                    if acc.exec && arch.is_64bit() {
                        c |= PfError::INSTR;
                    }
                    c
                }
            };
            self.do_user_addr_fault(pid, mm, addr, code)?;
        }
        Err(self.fault_sig(SIGSEGV, SEGV_MAPERR, addr))
    }

    /// The signal a failed user access raises (`force_sig_fault`'s arguments). Building it changes nothing:
    /// the user-mode entry points ([`Kernel::access`], [`Kernel::poke`], [`Kernel::peek`]) mark the task dead
    /// ([`Kernel::mark_fault_killed`]); kernel accesses to user memory (`put_user` in clone and exit) get EFAULT
    /// instead ([`Kernel::copy_to_user`]).
    fn fault_sig(&self, signo: u32, code: u32, addr: u64) -> SigInfo {
        SigInfo { signo, code, addr }
    }

    /// A user access raised `sig` and no handler catches it: the task dies of it (the runner completes the
    /// exit with `force_sig_fault`). A task that was already dead keeps how it ended.
    fn mark_fault_killed(&mut self, pid: Pid, sig: SigInfo) {
        if let Ok(t) = self.task_mut(pid) {
            if t.exit.is_none() && t.mm.is_some() {
                t.exit = Some(ExitStatus::Killed {
                    signo: sig.signo,
                    core_dumped: false,
                });
                t.state = TaskState::Zombie;
            }
        }
    }

    /// `copy_to_user`/`put_user` from the kernel (clone's TID words, `mm_release`'s CLONE_CHILD_CLEARTID):
    /// faults are handled like a user store's, but a failure is EFAULT, never a signal.
    pub fn copy_to_user(&mut self, pid: Pid, addr: u64, bytes: &[u8]) -> Result<(), Errno> {
        self.store_bytes(pid, addr, bytes).map_err(|_| Errno::EFAULT)
    }

    /// `do_user_addr_fault`: find the VMA (growing a stack if needed), check access, handle the fault, and turn
    /// failures into signals.
    fn do_user_addr_fault(&mut self, pid: Pid, mm: MmId, addr: u64, code: PfError) -> Result<(), SigInfo> {
        if code.contains(PfError::RSVD) {
            return Err(self.fault_sig(SIGSEGV, SEGV_MAPERR, addr));
        }
        // lock_mm_and_find_vma
        let arch = self.cfg.arch;
        let vma = match self.mms[&mm].vmas.find(VirtAddr(addr)) {
            Some(v) if v.start.0 <= addr => FaultVma::of(arch, v),
            Some(v) if v.flags.contains(VmFlags::GROWSDOWN) => {
                let vstart = v.start.0;
                if self.expand_downwards(pid, mm, vstart, addr).is_err() {
                    return Err(self.fault_sig(SIGSEGV, SEGV_MAPERR, addr));
                }
                match self.mms[&mm].vmas.lookup(VirtAddr(addr)) {
                    Some(v) => FaultVma::of(arch, v),
                    None => return Err(self.fault_sig(SIGSEGV, SEGV_MAPERR, addr)),
                }
            }
            _ => return Err(self.fault_sig(SIGSEGV, SEGV_MAPERR, addr)),
        };
        if access_error(code, vma.flags) {
            return Err(self.fault_sig(SIGSEGV, SEGV_ACCERR, addr));
        }
        match self.handle_mm_fault_vma(pid, mm, &vma, addr, code.contains(PfError::WRITE)) {
            Ok(()) => Ok(()),
            Err(FaultError::Oom) => Err(self.fault_sig(SIGKILL, SI_KERNEL, addr)),
            Err(FaultError::SigBus) => Err(self.fault_sig(SIGBUS, BUS_ADRERR, addr)),
            Err(FaultError::SigSegv) => Err(self.fault_sig(SIGSEGV, SEGV_MAPERR, addr)),
        }
    }

    /// `expand_downwards` (`mm/mmap.c`): grow a VM_GROWSDOWN VMA starting at `vma_start` down to cover `addr`.
    pub fn expand_downwards(&mut self, pid: Pid, mm: MmId, vma_start: u64, addr: u64) -> Result<(), Errno> {
        let address = addr & PAGE_MASK;
        // The effective mmap_min_addr includes the LSM floor (security/min_addr.c).
        if address < self.hint_min_addr() {
            return Err(Errno::EPERM);
        }
        let gap = self.cfg.stack_guard_gap;
        {
            let m = &self.mms[&mm];
            let vma = m.vmas.get(VirtAddr(vma_start)).ok_or(Errno::EFAULT)?;
            if !vma.flags.contains(VmFlags::GROWSDOWN) {
                return Err(Errno::EFAULT);
            }
            // Enforce stack_guard_gap against an accessible, non-growsdown VMA below.
            if let Some(prev) = m.vmas.prev(VirtAddr(vma_start)) {
                if !prev.flags.contains(VmFlags::GROWSDOWN)
                    && prev.flags.intersects(VmFlags::ACCESS)
                    && address.wrapping_sub(prev.end.0) < gap
                {
                    return Err(Errno::ENOMEM);
                }
            }
        }
        // The anon_vma is prepared before the growth is accounted (and stays if accounting fails).
        self.anon_vma_prepare(mm, vma_start);
        let (end, flags, pgoff) = {
            let v = self.mms[&mm].vmas.get(VirtAddr(vma_start)).ok_or(Errno::EFAULT)?;
            (v.end.0, v.flags, v.pgoff)
        };
        if address >= vma_start {
            return Ok(());
        }
        let size = end - address;
        let grow = (vma_start - address) >> 12;
        if grow > pgoff {
            return Err(Errno::ENOMEM);
        }
        // acct_stack_growth, in Linux's order.
        {
            let m = &self.mms[&mm];
            if !self.may_expand_vm(pid, m, flags, grow) {
                return Err(Errno::ENOMEM);
            }
            let stack_lim = self.task(pid)?.rlimit(crate::uapi::RLIMIT_STACK);
            if size > stack_lim {
                return Err(Errno::ENOMEM);
            }
            if !self.mlock_future_ok(pid, m, flags, grow << 12) {
                return Err(Errno::ENOMEM);
            }
        }
        self.vm_enough_memory(pid, grow)?;
        let m = self.mms.get_mut(&mm).expect("mm exists");
        if flags.contains(VmFlags::LOCKED) {
            m.locked_vm += grow;
        }
        m.vm_stat_account(flags, grow as i64);
        let mut v = m.vmas.remove(VirtAddr(vma_start)).expect("vma exists");
        v.start = VirtAddr(address);
        v.pgoff -= grow;
        m.vmas.insert(v);
        Ok(())
    }

    /// `anon_vma_prepare` with `find_mergeable_anon_vma`: give the VMA at `vma_start` an anon_vma, reusing the
    /// next (then previous) neighbour's when they could merge and its chain is singular (§3.3).
    pub fn anon_vma_prepare(&mut self, mm: MmId, vma_start: u64) -> AnonVmaId {
        let m = &self.mms[&mm];
        let Some(vma) = m.vmas.get(VirtAddr(vma_start)) else {
            return AnonVmaId(0);
        };
        if let Some(a) = vma.anon_vma {
            return a.id;
        }
        let reuse = |old: &Vma, a: &Vma, b: &Vma| -> Option<AnonVmaId> {
            if anon_vma_compatible(a, b) {
                if let Some(av) = old.anon_vma {
                    if av.chain_singular {
                        return Some(av.id);
                    }
                }
            }
            None
        };
        let mut found = None;
        if let Some(next) = m.vmas.next_from(vma.end) {
            found = reuse(next, vma, next);
        }
        if found.is_none() {
            if let Some(prev) = m.vmas.prev(vma.start) {
                found = reuse(prev, prev, vma);
            }
        }
        let id = match found {
            Some(id) => id,
            None => self.alloc_anon_vma(),
        };
        if let Some(v) = self.mms.get_mut(&mm).and_then(|m| m.vmas.get_mut(VirtAddr(vma_start))) {
            v.anon_vma = Some(AnonVmaRef {
                id,
                chain_singular: true,
            });
        }
        id
    }

    /// `handle_mm_fault` for the page of `addr` in the VMA containing it, with fault accounting on the task
    /// (`mm_account_fault`: only successful faults count). Also used by GUP (populate).
    pub(crate) fn handle_mm_fault(
        &mut self,
        pid: Pid,
        mm: MmId,
        addr: u64,
        kind: AccessKind,
    ) -> Result<(), FaultError> {
        let arch = self.cfg.arch;
        let vma = match self.mms[&mm].vmas.lookup(VirtAddr(addr)) {
            Some(v) => FaultVma::of(arch, v),
            None => return Err(FaultError::SigSegv),
        };
        self.handle_mm_fault_vma(pid, mm, &vma, addr, kind == AccessKind::Write)
    }

    /// `handle_mm_fault` once the VMA is known.
    fn handle_mm_fault_vma(
        &mut self,
        pid: Pid,
        mm: MmId,
        vma: &FaultVma,
        addr: u64,
        write: bool,
    ) -> Result<(), FaultError> {
        if vma.flags.contains(VmFlags::HUGETLB) {
            // hugetlb_fault → hugetlb_no_page: alloc_hugetlb_folio finds the pool empty (the model has no huge
            // pages, and only MAP_NORESERVE mappings exist without a reservation): VM_FAULT_SIGBUS.
            return Err(FaultError::SigBus);
        }
        let major = self.handle_pte_fault(mm, vma, addr & PAGE_MASK, write)?;
        if let Some(t) = self.tasks.get_mut(&pid) {
            if major {
                t.maj_flt += 1;
            } else {
                t.min_flt += 1;
            }
        }
        Ok(())
    }

    /// `handle_pte_fault`. Returns whether the fault was major.
    fn handle_pte_fault(&mut self, mm: MmId, vma: &FaultVma, addr: u64, write: bool) -> Result<bool, FaultError> {
        let arch = self.cfg.arch;
        let slot = pgtable::pte_lookup(&self.phys, arch, self.mms[&mm].pgd, addr);
        let pte = slot.map_or(Pte(0), |s| s.read(&self.phys, arch));
        if pte.is_none() {
            if vma.anonymous {
                return self.do_anonymous_page(mm, vma, addr, write, slot).map(|()| false);
            }
            return self.do_fault(mm, vma, addr, write);
        }
        if !pte.present() {
            // do_swap_page → handle_pte_marker: a guard region's page is VM_FAULT_SIGSEGV (SEGV_MAPERR). Real
            // swap entries are not created yet (no swap device is modelled).
            if pte.is_guard_marker(arch) {
                return Err(FaultError::SigSegv);
            }
            return Err(FaultError::SigBus);
        }
        if pte.protnone() {
            // do_numa_page: NUMA hinting faults are not modelled; PROT_NONE VMAs fail in access_error.
            return Err(FaultError::SigSegv);
        }
        if write && !pte.write() {
            return self.do_wp_page(mm, vma, addr, pte).map(|()| false);
        }
        // A spurious fault: just update the bits.
        let m = self.mms.get_mut(&mm).expect("mm exists");
        if let Some(slot) = pgtable::pte_lookup(&self.phys, arch, m.pgd, addr) {
            let mut e = pte.set(PteFlags::ACCESSED);
            if write {
                e = e.set(PteFlags::DIRTY);
            }
            slot.write(&mut self.phys, arch, e);
        }
        Ok(false)
    }

    /// `do_anonymous_page`: the zero page for reads, a new zeroed exclusive page for writes.
    fn do_anonymous_page(
        &mut self,
        mm: MmId,
        vma: &FaultVma,
        addr: u64,
        write: bool,
        slot: Option<PteSlot>,
    ) -> Result<(), FaultError> {
        let arch = self.cfg.arch;
        if vma.flags.contains(VmFlags::SHARED) {
            return Err(FaultError::SigBus);
        }
        let slot = match slot {
            Some(s) => s,
            None => {
                // __handle_mm_fault: the directory levels first; then, with no PTE table under the PMD, a
                // THP-eligible VMA gets a huge page (create_huge_pmd) unless that falls back.
                let pmd = {
                    let Kernel { phys, mms, .. } = self;
                    let m = mms.get_mut(&mm).expect("mm exists");
                    pgtable::pmd_alloc(phys, arch, m, addr).ok_or(FaultError::Oom)?
                };
                if thp_eligible(arch, vma, addr) && self.do_huge_pmd_anonymous_page(mm, vma, addr, write)? {
                    return Ok(());
                }
                let Kernel { phys, mms, .. } = self;
                let m = mms.get_mut(&mm).expect("mm exists");
                pgtable::pte_table_alloc(phys, arch, m, pmd, addr).ok_or(FaultError::Oom)?
            }
        };
        if !write {
            let e = Pte::new(arch, ZERO_PFN.0, vma.prot | PteFlags::SPECIAL.bits());
            slot.write(&mut self.phys, arch, e);
            return Ok(());
        }
        let anon_vma = match vma.anon_vma {
            Some(a) => a,
            None => self.anon_vma_prepare(mm, vma.start),
        };
        let pfn = self.phys.alloc().ok_or(FaultError::Oom)?;
        self.new_anon_page(pfn, anon_vma, vma.pgoff_of(addr), vma.flags);
        let mut e = Pte::new(arch, pfn.0, vma.prot);
        if vma.flags.contains(VmFlags::WRITE) {
            e = e.set(PteFlags::RW | PteFlags::DIRTY);
        }
        slot.write(&mut self.phys, arch, e);
        self.mms
            .get_mut(&mm)
            .expect("mm exists")
            .add_counter(RssCounter::AnonPages, 1);
        Ok(())
    }

    /// `do_huge_pmd_anonymous_page`: a read maps the huge zero page, a write a new 2 MiB THP, over the whole
    /// aligned block (one fault). Returns false for `VM_FAULT_FALLBACK` (no 512 free frames).
    ///
    /// Model representation: instead of a PMD leaf over 512 physically contiguous frames, the block's PTE
    /// table (the table Linux deposits, counted in VmPTE the same way) holds 512 PTEs, and the pages carry
    /// `PMD_MAPPED` until a split. Everything /proc shows (Rss, AnonHugePages, VmPTE, faults, mincore) is the
    /// same; `memsim translate` and physical contiguity are not.
    fn do_huge_pmd_anonymous_page(
        &mut self,
        mm: MmId,
        vma: &FaultVma,
        addr: u64,
        write: bool,
    ) -> Result<bool, FaultError> {
        let arch = self.cfg.arch;
        let haddr = addr & !(HPAGE_SIZE - 1);
        let nr = arch.ptrs_per_table() as u64;
        if write && self.phys.nr_free() < nr + 1 {
            return Ok(false);
        }
        // vmf_anon_prepare: even the huge zero page gets an anon_vma.
        let anon_vma = match vma.anon_vma {
            Some(a) => a,
            None => self.anon_vma_prepare(mm, vma.start),
        };
        let table = {
            let Kernel { phys, mms, .. } = self;
            let m = mms.get_mut(&mm).expect("mm exists");
            pte_alloc(phys, arch, m, haddr).ok_or(FaultError::Oom)?
        };
        if !write {
            let e = Pte::new(arch, ZERO_PFN.0, vma.prot | PteFlags::SPECIAL.bits());
            for idx in 0..nr as usize {
                PteSlot {
                    table: table.table,
                    idx,
                }
                .write(&mut self.phys, arch, e);
            }
            return Ok(true);
        }
        self.map_new_thp(mm, vma, haddr, table.table, anon_vma)?;
        Ok(true)
    }

    /// `__do_huge_pmd_anonymous_page` / `map_anon_folio_pmd`: 512 new exclusive anonymous pages, dirty and
    /// (with VM_WRITE) writable, over the block at `haddr` whose PTE table is `table`.
    fn map_new_thp(
        &mut self,
        mm: MmId,
        vma: &FaultVma,
        haddr: u64,
        table: Pfn,
        anon_vma: AnonVmaId,
    ) -> Result<(), FaultError> {
        let arch = self.cfg.arch;
        let nr = arch.ptrs_per_table();
        for idx in 0..nr {
            let a = haddr + ((idx as u64) << 12);
            let pfn = self.phys.alloc().ok_or(FaultError::Oom)?;
            self.new_anon_page(pfn, anon_vma, vma.pgoff_of(a), vma.flags);
            self.phys.page_mut(pfn).flags |= PageFlags::PMD_MAPPED;
            let mut e = Pte::new(arch, pfn.0, vma.prot).set(PteFlags::DIRTY);
            if vma.flags.contains(VmFlags::WRITE) {
                e = e.set(PteFlags::RW);
            }
            let slot = PteSlot { table, idx };
            let old = slot.read(&self.phys, arch);
            slot.write(&mut self.phys, arch, e);
            let m = self.mms.get_mut(&mm).expect("mm exists");
            m.add_counter(RssCounter::AnonPages, 1);
            if old.present() && !old.special() {
                crate::mm::memory::unmap_old(&mut self.phys, arch, m, old);
            }
        }
        Ok(())
    }

    /// `folio_add_new_anon_rmap(RMAP_EXCLUSIVE)` + `folio_add_lru_vma`: a new anonymous page mapped once.
    fn new_anon_page(&mut self, pfn: Pfn, anon_vma: AnonVmaId, index: u64, vm_flags: VmFlags) {
        let pg = self.phys.page_mut(pfn);
        let mut f = PageFlags::ANON | PageFlags::SWAPBACKED | PageFlags::UPTODATE | PageFlags::ANON_EXCLUSIVE;
        if vm_flags.contains(VmFlags::LOCKED) {
            f |= PageFlags::MLOCKED | PageFlags::UNEVICTABLE;
        }
        pg.flags = f;
        pg.refcount = 1;
        pg.mapcount = 1;
        pg.mapping = anon_vma.0;
        pg.index = index;
        self.phys.lru_add(pfn);
    }

    /// `do_fault`: file-backed (and shmem) pages.
    fn do_fault(&mut self, mm: MmId, vma: &FaultVma, addr: u64, write: bool) -> Result<bool, FaultError> {
        let Some(file) = vma.file.clone() else {
            return self.do_special_fault(mm, vma, addr, write);
        };
        if !matches!(file.inode.kind, InodeKind::Regular | InodeKind::Shmem) {
            return Err(FaultError::SigBus);
        }
        if !write {
            self.do_read_fault(mm, vma, &file, addr)
        } else if !vma.flags.contains(VmFlags::SHARED) {
            self.do_cow_fault(mm, vma, &file, addr)
        } else {
            self.do_shared_fault(mm, vma, &file, addr)
        }
    }

    /// `special_mapping_fault` (`mm/mmap.c`) for `[vdso]`, `[vvar]` and `[vvar_vclock]`: `arch/vdso.rs` says
    /// what the page is. A page of the vDSO image is mapped like a file page (no fault-around: special
    /// mappings have no `map_pages`); a raw PFN (`vmf_insert_pfn`) becomes a special PTE that, in the model,
    /// maps the zero page. Only a forced write (ptrace) could reach here with `write`: not modelled, SIGBUS.
    fn do_special_fault(&mut self, mm: MmId, vma: &FaultVma, addr: u64, write: bool) -> Result<bool, FaultError> {
        let Some(kind) = vma.special else {
            return Err(FaultError::SigBus);
        };
        if write {
            return Err(FaultError::SigBus);
        }
        match self.special_mapping_fault(kind, vma.pgoff_of(addr))? {
            crate::arch::vdso::SpecialFault::Page(pfn) => self.finish_fault(mm, vma, addr, pfn, false)?,
            crate::arch::vdso::SpecialFault::Pfn => {
                let arch = self.cfg.arch;
                let Kernel { phys, mms, .. } = self;
                let m = mms.get_mut(&mm).expect("mm exists");
                let slot = pte_alloc(phys, arch, m, addr).ok_or(FaultError::Oom)?;
                if slot.read(phys, arch).is_none() {
                    let e = Pte::new(arch, ZERO_PFN.0, vma.prot | PteFlags::SPECIAL.bits());
                    slot.write(phys, arch, e);
                }
            }
        }
        Ok(false)
    }

    /// `do_read_fault`: fault-around over cached pages first; else read the page (a major fault when it was not
    /// cached; the retried fault then maps the read-around block) and map it read-only.
    fn do_read_fault(&mut self, mm: MmId, vma: &FaultVma, file: &File, addr: u64) -> Result<bool, FaultError> {
        if self.do_fault_around(mm, vma, file, addr)? {
            return Ok(false);
        }
        let (pfn, major) =
            self.filemap_get_page(&file.inode, vma.pgoff_of(addr), vma.flags.contains(VmFlags::RAND_READ))?;
        if major && self.do_fault_around(mm, vma, file, addr)? {
            return Ok(true);
        }
        self.finish_fault(mm, vma, addr, pfn, false)?;
        Ok(major)
    }

    /// `do_fault_around` + `filemap_map_pages`: map the cached pages of the 16-page naturally aligned virtual
    /// block around `addr` (clipped to the VMA, the PTE table and the end of file) whose PTEs are none. Returns
    /// whether the page at `addr` got mapped.
    fn do_fault_around(&mut self, mm: MmId, vma: &FaultVma, file: &File, addr: u64) -> Result<bool, FaultError> {
        let arch = self.cfg.arch;
        const NR: u64 = 16; // fault_around_bytes / PAGE_SIZE
        let ptrs = arch.ptrs_per_table() as u64;
        let pgoff = vma.pgoff_of(addr);
        let pte_off = arch.table_index(Level::Pte, addr) as u64;
        let vma_off = pgoff - vma.pgoff;
        let vma_pages = (vma.end - vma.start) >> 12;
        let from_pte = (pte_off & !(NR - 1)).max(pte_off - pte_off.min(vma_off));
        let to_pte = (from_pte + NR).min(ptrs).min(pte_off + vma_pages - vma_off) - 1;
        let start_pgoff = pgoff + from_pte - pte_off;
        let mut end_pgoff = pgoff + to_pte - pte_off;
        let inode = &file.inode;
        let file_pages = crate::filemap::size_pages(inode);
        if file_pages == 0 {
            return Ok(false);
        }
        end_pgoff = end_pgoff.min(file_pages - 1);
        let cached: Vec<(u64, Pfn)> = self.page_cache.range(inode.id, start_pgoff, end_pgoff).collect();
        if cached.is_empty() {
            return Ok(false);
        }
        let base = addr - ((pgoff - start_pgoff) << 12);
        let mut mapped_self = false;
        let prot = vma.prot;
        let Kernel { phys, mms, .. } = self;
        let m = mms.get_mut(&mm).expect("mm exists");
        let Some(first) = pte_alloc(phys, arch, m, base) else {
            return Err(FaultError::Oom);
        };
        for (idx, pfn) in cached {
            let a = base + ((idx - start_pgoff) << 12);
            let slot = PteSlot {
                table: first.table,
                idx: arch.table_index(Level::Pte, a),
            };
            if !slot.read(phys, arch).is_none() {
                continue;
            }
            let pg = phys.page_mut(pfn);
            if !pg.flags.contains(PageFlags::UPTODATE) || pg.flags.contains(PageFlags::LOCKED) {
                continue;
            }
            pg.mapcount += 1;
            pg.refcount += 1;
            let counter = mm_counter(pg);
            slot.write(phys, arch, Pte::new(arch, pfn.0, prot));
            m.add_counter(counter, 1);
            if vma.flags.contains(VmFlags::LOCKED) && !phys.page(pfn).flags.contains(PageFlags::MLOCKED) {
                crate::mm::memory::set_lru_flags(
                    phys,
                    pfn,
                    PageFlags::MLOCKED | PageFlags::UNEVICTABLE,
                    PageFlags::empty(),
                );
            }
            if a == addr {
                mapped_self = true;
            }
        }
        Ok(mapped_self)
    }

    /// `finish_fault` / `set_pte_range` for a page-cache page: map it (writable and dirty for a shared write).
    fn finish_fault(&mut self, mm: MmId, vma: &FaultVma, addr: u64, pfn: Pfn, write: bool) -> Result<(), FaultError> {
        let arch = self.cfg.arch;
        let Kernel { phys, mms, .. } = self;
        let m = mms.get_mut(&mm).expect("mm exists");
        let slot = pte_alloc(phys, arch, m, addr).ok_or(FaultError::Oom)?;
        if !slot.read(phys, arch).is_none() {
            return Ok(());
        }
        let mut e = Pte::new(arch, pfn.0, vma.prot);
        if write {
            // maybe_mkwrite(pte_mkdirty(entry)); the folio is dirtied (fault_dirty_shared_page).
            e = e.set(PteFlags::DIRTY);
            if vma.flags.contains(VmFlags::WRITE) {
                e = e.set(PteFlags::RW);
            }
        }
        let pg = phys.page_mut(pfn);
        pg.mapcount += 1;
        pg.refcount += 1;
        if write {
            pg.flags |= PageFlags::DIRTY;
        }
        let counter = mm_counter(pg);
        slot.write(phys, arch, e);
        m.add_counter(counter, 1);
        if vma.flags.contains(VmFlags::LOCKED) && !phys.page(pfn).flags.contains(PageFlags::MLOCKED) {
            crate::mm::memory::set_lru_flags(
                phys,
                pfn,
                PageFlags::MLOCKED | PageFlags::UNEVICTABLE,
                PageFlags::empty(),
            );
        }
        Ok(())
    }

    /// `do_cow_fault`: a write to a private file mapping with no PTE: copy the file page into a new anonymous
    /// page (the file page itself is not mapped).
    fn do_cow_fault(&mut self, mm: MmId, vma: &FaultVma, file: &File, addr: u64) -> Result<bool, FaultError> {
        let arch = self.cfg.arch;
        let anon_vma = match vma.anon_vma {
            Some(a) => a,
            None => self.anon_vma_prepare(mm, vma.start),
        };
        let new = self.phys.alloc().ok_or(FaultError::Oom)?;
        let (fpfn, major) =
            match self.filemap_get_page(&file.inode, vma.pgoff_of(addr), vma.flags.contains(VmFlags::RAND_READ)) {
                Ok(r) => r,
                Err(e) => {
                    self.phys.free(new);
                    return Err(e.into());
                }
            };
        self.phys.copy_page(fpfn, new);
        self.new_anon_page(new, anon_vma, vma.pgoff_of(addr), vma.flags);
        let Kernel { phys, mms, .. } = self;
        let m = mms.get_mut(&mm).expect("mm exists");
        let Some(slot) = pte_alloc(phys, arch, m, addr) else {
            phys.lru_del(new);
            phys.free(new);
            return Err(FaultError::Oom);
        };
        let mut e = Pte::new(arch, new.0, vma.prot).set(PteFlags::DIRTY);
        if vma.flags.contains(VmFlags::WRITE) {
            e = e.set(PteFlags::RW);
        }
        slot.write(phys, arch, e);
        m.add_counter(RssCounter::AnonPages, 1);
        Ok(major)
    }

    /// `do_shared_fault`: a write to a shared file or shmem mapping with no PTE: map the cache page writable and
    /// dirty (no fault-around on write faults).
    fn do_shared_fault(&mut self, mm: MmId, vma: &FaultVma, file: &File, addr: u64) -> Result<bool, FaultError> {
        let (pfn, major) =
            self.filemap_get_page(&file.inode, vma.pgoff_of(addr), vma.flags.contains(VmFlags::RAND_READ))?;
        self.finish_fault(mm, vma, addr, pfn, true)?;
        Ok(major)
    }

    /// `do_wp_page`: a write to a present, write-protected PTE.
    fn do_wp_page(&mut self, mm: MmId, vma: &FaultVma, addr: u64, pte: Pte) -> Result<(), FaultError> {
        let arch = self.cfg.arch;
        let slot = {
            let m = &self.mms[&mm];
            pgtable::pte_lookup(&self.phys, arch, m.pgd, addr).ok_or(FaultError::SigSegv)?
        };
        let old = if pte.special() { None } else { Some(Pfn(pte.pfn(arch))) };
        if vma.flags.intersects(VmFlags::SHARED | VmFlags::MAYSHARE) {
            // wp_page_shared / wp_pfn_shared: the filesystem was notified; make the PTE writable and dirty.
            if let Some(p) = old {
                self.phys.page_mut(p).flags |= PageFlags::DIRTY;
            }
            let mut e = pte.set(PteFlags::ACCESSED | PteFlags::DIRTY);
            if vma.flags.contains(VmFlags::WRITE) {
                e = e.set(PteFlags::RW);
            }
            slot.write(&mut self.phys, arch, e);
            return Ok(());
        }
        if let Some(p) = old {
            let pg = self.phys.page_mut(p);
            if pg.flags.contains(PageFlags::ANON)
                && (pg.flags.contains(PageFlags::ANON_EXCLUSIVE) || (pg.refcount == 1 && pg.mapcount == 1))
            {
                // wp_can_reuse_anon_folio → wp_page_reuse: same frame, now writable.
                pg.flags |= PageFlags::ANON_EXCLUSIVE;
                let mut e = pte.set(PteFlags::ACCESSED | PteFlags::DIRTY);
                if vma.flags.contains(VmFlags::WRITE) {
                    e = e.set(PteFlags::RW);
                }
                slot.write(&mut self.phys, arch, e);
                return Ok(());
            }
        }
        // do_huge_zero_wp_pmd: a write to the huge zero page allocates a THP for the whole block (the model
        // recognises the huge zero mapping as a THP-eligible block of 512 zero-page PTEs).
        if old.is_none() && thp_eligible(arch, vma, addr) && self.phys.nr_free() > arch.ptrs_per_table() as u64 {
            let haddr = addr & !(HPAGE_SIZE - 1);
            let all_zero = (0..arch.ptrs_per_table()).all(|idx| {
                let p = PteSlot { table: slot.table, idx }.read(&self.phys, arch);
                p.special() && p.pfn(arch) == ZERO_PFN.0
            });
            if all_zero {
                let anon_vma = match vma.anon_vma {
                    Some(a) => a,
                    None => self.anon_vma_prepare(mm, vma.start),
                };
                return self.map_new_thp(mm, vma, haddr, slot.table, anon_vma);
            }
        }
        // wp_page_copy
        let anon_vma = match vma.anon_vma {
            Some(a) => a,
            None => self.anon_vma_prepare(mm, vma.start),
        };
        let new = self.phys.alloc().ok_or(FaultError::Oom)?;
        if let Some(p) = old {
            self.phys.copy_page(p, new);
        }
        self.new_anon_page(new, anon_vma, vma.pgoff_of(addr), vma.flags);
        let mut e = Pte::new(arch, new.0, vma.prot).set(PteFlags::DIRTY);
        if vma.flags.contains(VmFlags::WRITE) {
            e = e.set(PteFlags::RW);
        }
        slot.write(&mut self.phys, arch, e);
        let m = self.mms.get_mut(&mm).expect("mm exists");
        match old {
            Some(p) => {
                let pg = self.phys.page_mut(p);
                if !pg.flags.contains(PageFlags::ANON) {
                    m.add_counter(mm_counter(pg), -1);
                    m.add_counter(RssCounter::AnonPages, 1);
                }
                pg.mapcount -= 1;
                put_page(&mut self.phys, p);
            }
            None => m.add_counter(RssCounter::AnonPages, 1),
        }
        Ok(())
    }

    /// Whether a shared mapping of this VMA's file maps clean pages read-only (for tests and renderers).
    pub fn vma_writenotify(vma: &Vma) -> bool {
        vma_wants_writenotify(vma)
    }
}

#[cfg(test)]
#[path = "fault_tests.rs"]
mod tests;
