//! brk (`mm/mmap.c: SYSCALL_DEFINE1(brk), check_brk_limits`, `mm/vma.c: do_brk_flags`).
//!
//! brk never reports an error: on failure it returns the current break unchanged (glibc's `sbrk` turns that
//! into ENOMEM). Rules in `linux-mm-rules.md` §6 (brk), §4, §5.4, §7.
//!
//! An address space that never had an ELF loaded has `start_brk == brk == 0`, which Linux never sees (exec
//! always sets the break). The model treats such an mm as having no heap area: every `brk()` returns 0 and
//! changes nothing. A scenario that wants a heap sets the break first with [`Kernel::set_brk_base`], as exec
//! would.

use crate::addr::{page_align, VirtAddr, PAGE_SHIFT, PAGE_SIZE};
use crate::errno::SysResult;
use crate::kernel::Kernel;
use crate::mm::vma::{VmFlags, Vma};
use crate::mm::MmId;
use crate::task::Pid;
use crate::uapi::*;

/// `VM_DATA_DEFAULT_FLAGS` on x86 (`VM_DATA_FLAGS_TSK_EXEC` without READ_IMPLIES_EXEC).
const VM_DATA_DEFAULT_FLAGS: VmFlags = VmFlags::READ
    .union(VmFlags::WRITE)
    .union(VmFlags::MAYREAD)
    .union(VmFlags::MAYWRITE)
    .union(VmFlags::MAYEXEC);

impl Kernel {
    /// `brk(addr)`: returns the new (or, on failure, the unchanged) break.
    pub fn sys_brk(&mut self, pid: Pid, brk: u64) -> SysResult {
        let mm = self.mm_id(pid)?;
        let m = &self.mms[&mm];
        let origbrk = m.brk;
        if m.start_brk == 0 {
            // No heap area (no exec yet): see the module comment.
            return Ok(origbrk);
        }
        // CONFIG_COMPAT_BRK is off: the floor is start_brk.
        if brk < m.start_brk {
            return Ok(origbrk);
        }
        // check_data_rlimit (wrapping arithmetic as in the kernel).
        let rlim = self.task(pid)?.rlimit(RLIMIT_DATA);
        if rlim < RLIM_INFINITY
            && brk
                .wrapping_sub(m.start_brk)
                .wrapping_add(m.end_data.wrapping_sub(m.start_data))
                > rlim
        {
            return Ok(origbrk);
        }
        let newbrk = page_align(brk);
        let oldbrk = page_align(m.brk);
        if oldbrk == newbrk {
            self.mms.get_mut(&mm).expect("mm").brk = brk;
            return Ok(brk);
        }
        if brk <= m.brk {
            // Shrinking needs some VMA in [newbrk, oldbrk), then unmaps that whole range (across VMAs).
            match m.vmas.find(VirtAddr(newbrk)) {
                Some(v) if v.start.0 < oldbrk => {}
                _ => return Ok(origbrk),
            }
            if self.do_munmap(mm, newbrk, oldbrk).is_err() {
                return Ok(origbrk);
            }
            self.mms.get_mut(&mm).expect("mm").brk = brk;
            return Ok(brk);
        }
        // Wraps like the kernel's unsigned arithmetic for absurd values; get_unmapped_area then refuses it.
        let len = newbrk.wrapping_sub(oldbrk);
        // check_brk_limits: get_unmapped_area(NULL, oldbrk, len, 0, MAP_FIXED), then mlock_future_ok.
        if self
            .get_unmapped_area(pid, mm, None, oldbrk, len, 0, MAP_FIXED)
            .is_err()
        {
            return Ok(origbrk);
        }
        let m = &self.mms[&mm];
        if !self.mlock_future_ok(pid, m, m.def_flags, len) {
            return Ok(origbrk);
        }
        // The break may not end closer than one page to the next VMA's start gap.
        if let Some(next) = m.vmas.find(VirtAddr(oldbrk)) {
            if newbrk + PAGE_SIZE > next.start_gap(self.cfg.stack_guard_gap).0 {
                return Ok(origbrk);
            }
        }
        if !self.do_brk_flags(pid, mm, oldbrk, len) {
            return Ok(origbrk);
        }
        let m = self.mms.get_mut(&mm).expect("mm");
        m.brk = brk;
        let def = m.def_flags;
        if def.contains(VmFlags::LOCKED) && !def.contains(VmFlags::LOCKONFAULT) {
            let _ = self.populate_range(pid, VirtAddr(oldbrk), VirtAddr(newbrk), true);
        }
        Ok(brk)
    }

    /// `do_brk_flags`: limits, then expand the VMA ending at `addr` if compatible, else a new anonymous VMA
    /// (`rd wr mr mw me ac` + def_flags, pgoff = addr >> 12). Returns false on failure.
    fn do_brk_flags(&mut self, pid: Pid, mm: MmId, addr: u64, len: u64) -> bool {
        let m = &self.mms[&mm];
        let mut flags = VM_DATA_DEFAULT_FLAGS | VmFlags::ACCOUNT | m.def_flags;
        // VM_DATA_FLAGS_TSK_EXEC: READ_IMPLIES_EXEC makes the heap executable.
        if self.read_implies_exec(pid) {
            flags |= VmFlags::EXEC;
        }
        let pages = len >> PAGE_SHIFT;
        if !self.may_expand_vm(pid, m, flags, pages) {
            return false;
        }
        if m.map_count() > self.cfg.max_map_count {
            return false;
        }
        if self.vm_enough_memory(pid, pages).is_err() {
            return false;
        }
        self.vma_insert_merge(mm, Vma::new_anon(VirtAddr(addr), VirtAddr(addr + len), flags));
        let m = self.mms.get_mut(&mm).expect("mm");
        m.total_vm += pages;
        m.data_vm += pages;
        if flags.contains(VmFlags::LOCKED) {
            m.locked_vm += pages;
        }
        true
    }

    /// Set up an empty heap at `addr` (page aligned up), as exec does with `start_brk = brk = end of bss`.
    pub fn set_brk_base(&mut self, pid: Pid, addr: u64) -> Result<(), crate::errno::Errno> {
        let m = self.mm_mut(pid)?;
        m.start_brk = page_align(addr);
        m.brk = m.start_brk;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::fs::MemFs;
    use crate::kernel::{Kernel, KernelConfig, INIT_PID};
    use crate::mm::vma::VmFlags;
    use crate::task::Rlimit;
    use crate::uapi::*;
    use crate::VirtAddr;

    const P: crate::Pid = INIT_PID;
    const HEAP: u64 = 0x5555_5555_9000;

    fn kernel() -> Kernel {
        let mut k = Kernel::new(KernelConfig::default(), Box::new(MemFs::new()));
        k.set_brk_base(P, HEAP).unwrap();
        k
    }

    fn heap_vmas(k: &Kernel) -> Vec<(u64, u64)> {
        k.mm(P).unwrap().vmas.iter().map(|v| (v.start.0, v.end.0)).collect()
    }

    #[test]
    fn no_heap_area_without_exec() {
        let mut k = Kernel::new(KernelConfig::default(), Box::new(MemFs::new()));
        assert_eq!(k.sys_brk(P, 0), Ok(0));
        assert_eq!(k.sys_brk(P, 0x10_0000), Ok(0));
        assert_eq!(k.mm(P).unwrap().map_count(), 0);
    }

    #[test]
    fn grow_same_page_and_shrink() {
        let mut k = kernel();
        assert_eq!(k.sys_brk(P, 0), Ok(HEAP), "below start_brk: query");
        assert_eq!(k.sys_brk(P, HEAP + 100), Ok(HEAP + 100));
        assert_eq!(heap_vmas(&k), vec![(HEAP, HEAP + 0x1000)]);
        let v = k.mm(P).unwrap().vmas.iter().next().unwrap().clone();
        assert_eq!(v.flags.mnemonics(), "rd wr mr mw me ac ");
        assert_eq!(v.pgoff, HEAP >> 12);
        assert_eq!(k.sys_brk(P, HEAP + 0x800), Ok(HEAP + 0x800), "same page: value only");
        assert_eq!(k.sys_brk(P, HEAP + 0x3000), Ok(HEAP + 0x3000));
        assert_eq!(
            heap_vmas(&k),
            vec![(HEAP, HEAP + 0x3000)],
            "growth expands the heap VMA"
        );
        assert_eq!(k.committed_pages, 3);
        let m = k.mm(P).unwrap();
        assert_eq!((m.total_vm, m.data_vm), (3, 3));
        assert_eq!(k.sys_brk(P, HEAP + 0x1000), Ok(HEAP + 0x1000));
        assert_eq!(heap_vmas(&k), vec![(HEAP, HEAP + 0x1000)]);
        assert_eq!(k.committed_pages, 1);
        assert_eq!(k.sys_brk(P, HEAP), Ok(HEAP));
        assert!(heap_vmas(&k).is_empty());
    }

    #[test]
    fn shrink_needs_a_vma_in_the_range_and_unmaps_across_vmas() {
        let mut k = kernel();
        k.sys_brk(P, HEAP + 0x4000).unwrap();
        // Punch a hole; the shrink still unmaps what remains of the range.
        k.sys_munmap(P, HEAP + 0x1000, 0x1000).unwrap();
        assert_eq!(k.sys_brk(P, HEAP), Ok(HEAP));
        assert!(heap_vmas(&k).is_empty());
        // brk was moved up over nothing (another mapping gone): shrinking over an empty range fails.
        let mut k = kernel();
        k.sys_brk(P, HEAP + 0x2000).unwrap();
        k.sys_munmap(P, HEAP, 0x2000).unwrap();
        assert_eq!(k.sys_brk(P, HEAP + 0x1000), Ok(HEAP + 0x2000));
    }

    #[test]
    fn guard_page_before_next_vma() {
        let mut k = kernel();
        k.sys_mmap(
            P,
            HEAP + 0x4000,
            4096,
            PROT_READ,
            MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
            -1,
            0,
        )
        .unwrap();
        assert_eq!(
            k.sys_brk(P, HEAP + 0x4000),
            Ok(HEAP),
            "may not end exactly at the next VMA"
        );
        assert_eq!(k.sys_brk(P, HEAP + 0x3000), Ok(HEAP + 0x3000));
        // A growsdown VMA above: its guard gap counts.
        let mut k = kernel();
        let gd = HEAP + 0x20_0000;
        k.sys_mmap(
            P,
            gd,
            4096,
            PROT_READ,
            MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_GROWSDOWN,
            -1,
            0,
        )
        .unwrap();
        assert_eq!(k.sys_brk(P, gd - (1 << 20)), Ok(HEAP));
        assert_eq!(k.sys_brk(P, gd - (1 << 20) - 0x1000), Ok(gd - (1 << 20) - 0x1000));
    }

    #[test]
    fn merges_with_bss_vma_ending_at_the_break() {
        let mut k = kernel();
        // An anonymous bss VMA ending at start_brk.
        k.sys_mmap(
            P,
            HEAP - 0x2000,
            0x2000,
            PROT_READ | PROT_WRITE,
            MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
            -1,
            0,
        )
        .unwrap();
        k.sys_brk(P, HEAP + 0x1000).unwrap();
        assert_eq!(heap_vmas(&k), vec![(HEAP - 0x2000, HEAP + 0x1000)]);
    }

    #[test]
    fn limits() {
        // RLIMIT_DATA through check_data_rlimit.
        let mut k = kernel();
        k.task_mut(P).unwrap().rlimits[RLIMIT_DATA] = Rlimit::new(0x3000, RLIM_INFINITY);
        assert_eq!(k.sys_brk(P, HEAP + 0x3001), Ok(HEAP));
        assert_eq!(k.sys_brk(P, HEAP + 0x3000), Ok(HEAP + 0x3000));
        // RLIMIT_DATA through may_expand_vm (other data mappings count).
        let mut k = kernel();
        k.task_mut(P).unwrap().rlimits[RLIMIT_DATA] = Rlimit::new(0x3000, RLIM_INFINITY);
        k.sys_mmap(P, 0, 0x2000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
            .unwrap();
        assert_eq!(k.sys_brk(P, HEAP + 0x2000), Ok(HEAP));
        assert_eq!(k.sys_brk(P, HEAP + 0x1000), Ok(HEAP + 0x1000));
        // mlock_future_ok with MCL_FUTURE.
        let mut k = kernel();
        k.task_mut(P).unwrap().cred = crate::task::Cred::for_uid(1000);
        k.task_mut(P).unwrap().rlimits[RLIMIT_MEMLOCK] = Rlimit::new(0x2000, 0x2000);
        k.mm_mut(P).unwrap().def_flags = VmFlags::LOCKED;
        assert_eq!(k.sys_brk(P, HEAP + 0x3000), Ok(HEAP));
        assert_eq!(k.sys_brk(P, HEAP + 0x2000), Ok(HEAP + 0x2000));
        let m = k.mm(P).unwrap();
        assert_eq!(m.locked_vm, 2);
        assert!(m.vmas.lookup(VirtAddr(HEAP)).unwrap().flags.contains(VmFlags::LOCKED));
        // Map count: at N = M growth creating a VMA still succeeds; at N > M even an expansion fails.
        let mut k = kernel();
        k.cfg.max_map_count = 1;
        k.sys_mmap(P, 0, 0x1000, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
            .unwrap();
        assert_eq!(k.sys_brk(P, HEAP + 0x1000), Ok(HEAP + 0x1000));
        assert_eq!(k.mm(P).unwrap().map_count(), 2);
        assert_eq!(k.sys_brk(P, HEAP + 0x2000), Ok(HEAP + 0x1000));
        // Commit charge (mode 0: one request larger than RAM).
        let mut k = kernel();
        let ram = k.cfg.ram_bytes;
        assert_eq!(k.sys_brk(P, HEAP + ram + 0x1000), Ok(HEAP));
    }
}
