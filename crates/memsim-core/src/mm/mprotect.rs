//! mprotect (`mm/mprotect.c: do_mprotect_pkey, mprotect_fixup`).
//!
//! The range is walked VMA by VMA; every VMA whose flags change goes through `vma_modify` (merge with a
//! neighbour, else split at the range edges). Work done before an error stays done: a hole, a VMA whose
//! `VM_MAY*` bits forbid the new protection, or a failed split stops the walk with the earlier VMAs already
//! changed, exactly as Linux leaves them.
//!
//! Commit accounting (`../shared/reference/linux-mm-rules.md` §3.4, §8): making a private mapping writable
//! charges its pages and sets `VM_ACCOUNT`; making an anonymous VMA that never faulted (no anon_vma)
//! read-only drops `VM_ACCOUNT` and the charge. `data_vm`/`exec_vm` follow the new flags (`vm_stat_account`
//! with the old flags negative, the new ones positive).

use crate::addr::{page_align, VirtAddr, PAGE_SHIFT};
use crate::errno::{Errno, SysResult};
use crate::kernel::Kernel;
use crate::mm::vma::VmFlags;
use crate::mm::vma_ops::VmaChange;
use crate::mm::MmId;
use crate::task::Pid;
use crate::uapi::{PROT_EXEC, PROT_GROWSDOWN, PROT_GROWSUP, PROT_READ, PROT_SEM, PROT_WRITE};

impl Kernel {
    /// `mprotect(start, len, prot)`.
    pub fn sys_mprotect(&mut self, pid: Pid, start: u64, len: u64, prot: u64) -> SysResult {
        let mm = self.mm_id(pid)?;
        // do_mprotect_pkey: the GROWS bits are taken off prot first; both at once is invalid.
        let grows = prot & (PROT_GROWSDOWN | PROT_GROWSUP);
        let prot = prot & !(PROT_GROWSDOWN | PROT_GROWSUP);
        if grows == PROT_GROWSDOWN | PROT_GROWSUP {
            return Err(Errno::EINVAL);
        }
        if start & !crate::addr::PAGE_MASK != 0 {
            return Err(Errno::EINVAL);
        }
        if len == 0 {
            return Ok(0);
        }
        let len = page_align(len);
        let end = start.wrapping_add(len);
        if end <= start {
            return Err(Errno::ENOMEM);
        }
        // arch_validate_prot (generic): only R, W, X and SEM.
        if prot & !(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM) != 0 {
            return Err(Errno::EINVAL);
        }

        let mut start = start;
        // vma_find(&vmi, end): the first VMA that ends above start and begins below end.
        let first = match self.mms[&mm].vmas.find(VirtAddr(start)) {
            Some(v) if v.start.as_u64() < end => v.clone(),
            _ => return Err(Errno::ENOMEM),
        };
        if grows & PROT_GROWSDOWN != 0 {
            // The change extends down to the start of the growsdown VMA.
            start = first.start.as_u64();
            if !first.flags.contains(VmFlags::GROWSDOWN) {
                return Err(Errno::EINVAL);
            }
        } else {
            if first.start.as_u64() > start {
                return Err(Errno::ENOMEM);
            }
            if grows & PROT_GROWSUP != 0 {
                // x86 has no VM_GROWSUP: PROT_GROWSUP is always refused here.
                return Err(Errno::EINVAL);
            }
        }

        let mut newprot = VmFlags::from_prot(prot);
        // READ_IMPLIES_EXEC: once a VMA that may execute is met, PROT_EXEC stays added for the rest.
        let rier = self.read_implies_exec(pid) && prot & PROT_READ != 0;
        let mut nstart = start;
        let mut tmp = first.start.as_u64();
        // for_each_vma_range(vmi, vma, end)
        while let Some(vma) = self.mms[&mm].vmas.find(VirtAddr(nstart)).cloned() {
            if vma.start.as_u64() >= end {
                break;
            }
            if vma.start.as_u64() != tmp {
                return Err(Errno::ENOMEM);
            }
            if rier && vma.flags.contains(VmFlags::MAYEXEC) {
                newprot |= VmFlags::EXEC;
            }
            // newflags = prot bits | the old flags except the access bits (pkeys are not modelled).
            let newflags = newprot | (vma.flags - VmFlags::ACCESS);
            // `newflags >> 4` puts VM_MAY* over VM_*: nothing may exceed what the VMA may ever have.
            let may = VmFlags::from_bits_truncate(newflags.bits() >> 4);
            if !(newflags & VmFlags::ACCESS).difference(may).is_empty() {
                return Err(Errno::EACCES);
            }
            tmp = vma.end.as_u64().min(end);
            let res_end = self.mprotect_fixup(pid, mm, vma.start, VirtAddr(nstart), VirtAddr(tmp), newflags)?;
            // tmp = vma_iter_end(&vmi): the end of the VMA that now holds the range.
            tmp = res_end.as_u64();
            nstart = tmp;
            if nstart >= end {
                break;
            }
        }
        if tmp < end {
            return Err(Errno::ENOMEM);
        }
        Ok(0)
    }

    /// `mprotect_fixup`: give `[start, end)` (inside the VMA at `vma_start`) the flags `newflags`. Returns the
    /// end of the VMA that now holds the range (`vma_iter_end`), which may lie past `end` after a merge.
    pub(crate) fn mprotect_fixup(
        &mut self,
        pid: Pid,
        mm: MmId,
        vma_start: VirtAddr,
        start: VirtAddr,
        end: VirtAddr,
        mut newflags: VmFlags,
    ) -> Result<VirtAddr, Errno> {
        let vma = self.mms[&mm].vmas.get(vma_start).cloned().ok_or(Errno::ENOMEM)?;
        let oldflags = vma.flags;
        let nrpages = (end - start) >> PAGE_SHIFT;
        // mm/mseal.c: a sealed VMA refuses every protection change.
        if oldflags.contains(VmFlags::SEALED) {
            return Err(Errno::EPERM);
        }
        if newflags == oldflags {
            return Ok(vma.end);
        }
        let mut charged = 0;
        if newflags.contains(VmFlags::WRITE) {
            // Check space limits when the area turns into data (RLIMIT_DATA).
            let m = &self.mms[&mm];
            if !self.may_expand_vm(pid, m, newflags, nrpages) && self.may_expand_vm(pid, m, oldflags, nrpages) {
                return Err(Errno::ENOMEM);
            }
            if !oldflags
                .intersects(VmFlags::ACCOUNT | VmFlags::WRITE | VmFlags::HUGETLB | VmFlags::SHARED | VmFlags::NORESERVE)
            {
                charged = nrpages;
                self.vm_enough_memory(pid, charged)?;
                newflags |= VmFlags::ACCOUNT;
            }
        } else if oldflags.contains(VmFlags::ACCOUNT) && vma.is_anonymous() && vma.anon_vma.is_none() {
            // 6.18: an anonymous VMA that never faulted gives its charge back when it stops being writable.
            newflags -= VmFlags::ACCOUNT;
        }

        let res_start = match self.vma_modify(mm, vma_start, start, end, VmaChange::Flags(newflags)) {
            Ok(s) => s,
            Err(e) => {
                self.vm_unacct_memory(charged);
                return Err(e);
            }
        };
        let res_end = self.mms[&mm].vmas.get(res_start).map_or(end, |v| v.end);

        self.change_protection(mm, start, end);
        if oldflags.contains(VmFlags::ACCOUNT) && !newflags.contains(VmFlags::ACCOUNT) {
            self.vm_unacct_memory(nrpages);
        }
        // A private VM_LOCKED VMA becoming writable is populated to break COW now (populate_vma_page_range,
        // whose errors mprotect ignores).
        if oldflags.intersection(VmFlags::WRITE | VmFlags::SHARED | VmFlags::LOCKED) == VmFlags::LOCKED
            && newflags.contains(VmFlags::WRITE)
        {
            let _ = self.populate_vma_range(pid, mm, start, end);
        }
        let m = self.mms.get_mut(&mm).ok_or(Errno::ESRCH)?;
        m.vm_stat_account(oldflags, -(nrpages as i64));
        m.vm_stat_account(newflags, nrpages as i64);
        Ok(res_end)
    }
}

#[cfg(test)]
pub(crate) mod testkit {
    //! Helpers shared by the tests of mprotect, mremap, mlock, madvise and msync: address spaces built VMA by
    //! VMA with the accounting mmap would do, and pictures of them, one character per page from page
    //! [`BASE`] (address 0x10000) on. The character is chosen per test by a `kind` function; adjacent VMAs
    //! of the same kind are told apart by case (`WWww` = two VMAs), a hole is a space.
    use super::*;
    use crate::fs::MemFs;
    use crate::kernel::{KernelConfig, INIT_PID};
    use crate::mm::vma::Vma;

    pub const BASE: u64 = 16;
    pub const P: u64 = 4096;

    pub fn kernel() -> Kernel {
        Kernel::new(KernelConfig::default(), Box::new(MemFs::new()))
    }

    /// Address of page `i` of the picture.
    pub fn page(i: u64) -> u64 {
        (BASE + i) << 12
    }

    pub fn mm(k: &Kernel) -> &crate::mm::Mm {
        k.mm(INIT_PID).unwrap()
    }

    /// Map private anonymous memory at pages `[a, b)` as `mmap(MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED)` would
    /// into a free range: `VM_MAY*`, `VM_ACCOUNT` and the commit charge for writable mappings, stats, merge.
    pub fn map_anon(k: &mut Kernel, a: u64, b: u64, prot: u64) {
        map_anon_flags(k, a, b, prot, VmFlags::empty());
    }

    pub fn map_anon_flags(k: &mut Kernel, a: u64, b: u64, prot: u64, extra: VmFlags) {
        let mmid = k.mm_id(INIT_PID).unwrap();
        let mut flags = VmFlags::from_prot(prot) | VmFlags::MAYREAD | VmFlags::MAYWRITE | VmFlags::MAYEXEC | extra;
        flags |= k.mms[&mmid].def_flags;
        if flags.intersection(VmFlags::NORESERVE | VmFlags::SHARED | VmFlags::WRITE) == VmFlags::WRITE {
            k.vm_enough_memory(INIT_PID, b - a).unwrap();
            flags |= VmFlags::ACCOUNT;
        }
        let v = Vma::new_anon(VirtAddr(page(a)), VirtAddr(page(b)), flags);
        k.vma_insert_merge(mmid, v);
        let m = k.mms.get_mut(&mmid).unwrap();
        m.vm_stat_account(flags, (b - a) as i64);
        if flags.contains(VmFlags::LOCKED) {
            m.locked_vm += b - a;
        }
    }

    /// Mark the VMA holding page `i` as faulted (give it an anon_vma of its own).
    pub fn fault(k: &mut Kernel, i: u64) {
        let id = k.alloc_anon_vma();
        let m = k.mm_mut(INIT_PID).unwrap();
        let v = m.vmas.lookup_mut(VirtAddr(page(i))).unwrap();
        if v.anon_vma.is_none() {
            v.anon_vma = Some(crate::mm::vma::AnonVmaRef {
                id,
                chain_singular: true,
            });
        }
    }

    /// The default kind: `W` rw-, `R` r--, `X` r-x, `N` ---, `Y` rwx, `L` mlocked (any prot).
    pub fn prot_kind(v: &Vma) -> char {
        if v.flags.contains(VmFlags::LOCKED) {
            return 'L';
        }
        let f = v.flags & VmFlags::ACCESS;
        if f == VmFlags::READ | VmFlags::WRITE {
            'W'
        } else if f == VmFlags::READ {
            'R'
        } else if f == VmFlags::READ | VmFlags::EXEC {
            'X'
        } else if f.is_empty() {
            'N'
        } else if f == VmFlags::ACCESS {
            'Y'
        } else {
            '?'
        }
    }

    /// Pictures show the pages `[BASE, BASE + WINDOW)`; VMAs elsewhere are left out.
    pub const WINDOW: u64 = 256;

    /// Draw the address space with `kind`; also checks the tree's invariants.
    pub fn draw_with(k: &Kernel, kind: impl Fn(&Vma) -> char) -> String {
        let m = mm(k);
        m.vmas.check().unwrap();
        picture(
            m.vmas
                .iter()
                .filter(|v| v.start.0 >> 12 >= BASE && v.end.0 >> 12 <= BASE + WINDOW),
            BASE,
            kind,
        )
    }

    /// One character per page from page `base` on, a space for a hole; adjacent VMAs of the same kind are
    /// told apart by case (an uppercase run followed by a lowercase one).
    pub fn picture<'a>(vmas: impl Iterator<Item = &'a Vma>, base: u64, kind: impl Fn(&Vma) -> char) -> String {
        let mut out: Vec<char> = Vec::new();
        let mut last: Option<(char, u64)> = None;
        for v in vmas {
            let (s, e) = ((v.start.0 >> 12) - base, (v.end.0 >> 12) - base);
            while (out.len() as u64) < s {
                out.push(' ');
            }
            let mut ch = kind(v);
            if let Some((pc, pe)) = last {
                if pe == s && pc.eq_ignore_ascii_case(&ch) && pc.is_ascii_uppercase() {
                    ch = ch.to_ascii_lowercase();
                }
            }
            for _ in s..e {
                out.push(ch);
            }
            last = Some((ch, e));
        }
        out.into_iter().collect::<String>().trim_end().to_string()
    }

    pub fn draw(k: &Kernel) -> String {
        draw_with(k, prot_kind)
    }

    /// Build the address space a picture draws with [`prot_kind`] letters, each run one fresh mapping (merged
    /// with its left neighbour when Linux would). A lowercase run is faulted: it gets an anon_vma of its own,
    /// so it does not merge with a later run.
    pub fn build(pic: &str) -> Kernel {
        let mut k = kernel();
        let chars: Vec<char> = pic.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let ch = chars[i];
            let mut j = i;
            while j < chars.len() && chars[j] == ch {
                j += 1;
            }
            let (a, b) = (i as u64, j as u64);
            match ch.to_ascii_uppercase() {
                ' ' => {}
                'W' => map_anon(&mut k, a, b, PROT_READ | PROT_WRITE),
                'R' => map_anon(&mut k, a, b, PROT_READ),
                'X' => map_anon(&mut k, a, b, PROT_READ | PROT_EXEC),
                'N' => map_anon(&mut k, a, b, 0),
                'Y' => map_anon(&mut k, a, b, PROT_READ | PROT_WRITE | PROT_EXEC),
                'L' => map_anon_flags(&mut k, a, b, PROT_READ | PROT_WRITE, VmFlags::LOCKED),
                c => panic!("unknown picture letter {c}"),
            }
            if ch.is_ascii_lowercase() {
                fault(&mut k, a);
            }
            i = j;
        }
        assert_eq!(
            draw(&k).to_ascii_uppercase(),
            pic.trim_end().to_ascii_uppercase(),
            "picture round trip"
        );
        k
    }
}

#[cfg(test)]
mod tests {
    use super::testkit::*;
    use super::*;
    use crate::kernel::INIT_PID;
    use crate::task::CAP_FULL_SET;
    use crate::uapi::RLIMIT_DATA;

    const RW: u64 = PROT_READ | PROT_WRITE;

    fn mprotect(k: &mut Kernel, a: u64, npages: u64, prot: u64) -> SysResult {
        k.sys_mprotect(INIT_PID, page(a), npages * P, prot)
    }

    /// Run mprotect on a picture and compare the result and the picture after it.
    fn check(before: &str, a: u64, npages: u64, prot: u64, res: SysResult, after: &str) {
        let mut k = build(before);
        assert_eq!(
            mprotect(&mut k, a, npages, prot),
            res,
            "{before:?} mprotect({a}, {npages}, {prot:#x})"
        );
        assert_eq!(draw(&k), after, "{before:?} mprotect({a}, {npages}, {prot:#x})");
        check_counters(&k);
    }

    /// total_vm/data_vm/exec_vm equal what the VMAs say.
    fn check_counters(k: &Kernel) {
        let m = mm(k);
        let (mut total, mut data, mut exec) = (0, 0, 0);
        for v in m.vmas.iter() {
            total += v.nr_pages();
            if v.flags.is_exec_mapping() {
                exec += v.nr_pages();
            } else if v.flags.is_data_mapping() {
                data += v.nr_pages();
            }
        }
        assert_eq!((m.total_vm, m.data_vm, m.exec_vm), (total, data, exec));
    }

    #[test]
    fn argument_errors_in_order() {
        let mut k = build("WWWW");
        // GROWSDOWN|GROWSUP beats an unaligned start.
        assert_eq!(
            k.sys_mprotect(INIT_PID, page(0) + 1, P, PROT_GROWSDOWN | PROT_GROWSUP),
            Err(Errno::EINVAL)
        );
        assert_eq!(k.sys_mprotect(INIT_PID, page(0) + 1, P, PROT_READ), Err(Errno::EINVAL));
        // len 0 succeeds anywhere, even with bad prot bits.
        assert_eq!(k.sys_mprotect(INIT_PID, 0x5000_0000, 0, 0x1000), Ok(0));
        // The end wraps: ENOMEM before the prot check.
        assert_eq!(k.sys_mprotect(INIT_PID, page(0), u64::MAX, 0x1000), Err(Errno::ENOMEM));
        assert_eq!(k.sys_mprotect(INIT_PID, page(0), P, 0x10), Err(Errno::EINVAL));
        // PROT_SEM is accepted and ignored.
        assert_eq!(k.sys_mprotect(INIT_PID, page(0), P, PROT_READ | PROT_SEM), Ok(0));
        assert_eq!(draw(&k), "RWWW");
        // LTP mprotect01: addr 0, len 4097, nothing mapped.
        assert_eq!(k.sys_mprotect(INIT_PID, 0, 4097, PROT_READ), Err(Errno::ENOMEM));
        // Nothing at start.
        assert_eq!(mprotect(&mut k, 4, 1, PROT_READ), Err(Errno::ENOMEM));
    }

    #[test]
    fn splits_and_merges() {
        check("WWWWWW", 2, 2, PROT_READ, Ok(0), "WWRRWW");
        check("WWWWWW", 0, 2, PROT_READ, Ok(0), "RRWWWW");
        check("WWWWWW", 4, 2, PROT_READ, Ok(0), "WWWWRR");
        check("WWWWWW", 0, 6, PROT_READ, Ok(0), "RRRRRR");
        // Unfaulted RW→RO drops VM_ACCOUNT, so it merges with a fresh RO neighbour...
        check("RRWWRR", 2, 2, PROT_READ, Ok(0), "RRRRRR");
        // ...a faulted one keeps VM_ACCOUNT and does not.
        check("RRwwRR", 2, 2, PROT_READ, Ok(0), "RRrrRR");
        // A range over several VMAs changes each; equal flags are skipped without merging.
        check("WWRRWW", 1, 4, PROT_READ, Ok(0), "WRRRRW");
        check("RRWW", 0, 4, PROT_READ, Ok(0), "RRRR");
        // RO→RW charges and sets VM_ACCOUNT: merges with an accounted RW neighbour.
        check("WWRR", 2, 2, RW, Ok(0), "WWWW");
        check("WWRRWW", 2, 2, RW, Ok(0), "WWWWWW");
    }

    #[test]
    fn skip_when_flags_do_not_change() {
        // mprotect(RW) over [R][W]: the R VMA becomes RW and merges; the W VMA is untouched.
        check("RRWW", 0, 4, RW, Ok(0), "WWWW");
        // The same prot on part of a VMA: no split at all.
        check("WWWW", 1, 2, RW, Ok(0), "WWWW");
    }

    #[test]
    fn hole_gives_enomem_after_changing_earlier_vmas() {
        check("WW WW", 0, 5, PROT_READ, Err(Errno::ENOMEM), "RR WW");
        check("WWW WW", 1, 5, PROT_READ, Err(Errno::ENOMEM), "WRR WW");
        // Range running past the last VMA.
        check("WW", 0, 4, PROT_READ, Err(Errno::ENOMEM), "RR");
        // Start in a hole: nothing changes.
        check(" WW", 0, 3, PROT_READ, Err(Errno::ENOMEM), " WW");
    }

    #[test]
    fn may_flags_give_eacces_after_earlier_vmas() {
        let mut k = build("WWWW");
        mprotect(&mut k, 2, 2, PROT_READ).unwrap();
        // Clear VM_MAYWRITE on the second half, as a read-only shared file mapping has it.
        let m = k.mm_mut(INIT_PID).unwrap();
        m.vmas.lookup_mut(VirtAddr(page(2))).unwrap().flags -= VmFlags::MAYWRITE;
        assert_eq!(mprotect(&mut k, 0, 4, PROT_READ), Ok(0));
        assert_eq!(draw(&k), "RRrr", "no merge: VM_MAYWRITE differs");
        assert_eq!(mprotect(&mut k, 0, 4, PROT_READ | PROT_WRITE), Err(Errno::EACCES));
        assert_eq!(draw(&k), "WWRR", "the first VMA changed before the EACCES");
        assert_eq!(mprotect(&mut k, 2, 2, PROT_EXEC), Ok(0));
        assert_eq!(draw(&k), "WW??");
    }

    #[test]
    fn growsdown() {
        let mut k = kernel();
        map_anon_flags(&mut k, 0, 4, RW, VmFlags::GROWSDOWN);
        // PROT_GROWSDOWN extends the change to the VMA's start.
        assert_eq!(k.sys_mprotect(INIT_PID, page(2), P, PROT_READ | PROT_GROWSDOWN), Ok(0));
        assert_eq!(draw(&k), "RRRW");
        let mut k = build("WWWW");
        assert_eq!(
            k.sys_mprotect(INIT_PID, page(2), P, PROT_READ | PROT_GROWSDOWN),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            k.sys_mprotect(INIT_PID, page(2), P, PROT_READ | PROT_GROWSUP),
            Err(Errno::EINVAL)
        );
        // GROWSDOWN with nothing intersecting the range: ENOMEM.
        assert_eq!(
            k.sys_mprotect(INIT_PID, page(8), P, PROT_READ | PROT_GROWSDOWN),
            Err(Errno::ENOMEM)
        );
        assert_eq!(draw(&k), "WWWW");
    }

    #[test]
    fn commit_accounting() {
        let mut k = build("RRRR");
        assert_eq!(k.committed_pages, 0);
        mprotect(&mut k, 0, 4, RW).unwrap();
        assert_eq!(k.committed_pages, 4);
        // Unfaulted RW→RO gives the charge back.
        mprotect(&mut k, 1, 2, PROT_READ).unwrap();
        assert_eq!(k.committed_pages, 2);
        assert_eq!(draw(&k), "WRRW");
        // Faulted RW→RO keeps it (and VM_ACCOUNT).
        let mut k = build("ww");
        assert_eq!(k.committed_pages, 2);
        mprotect(&mut k, 0, 2, PROT_READ).unwrap();
        assert_eq!(k.committed_pages, 2);
        assert!(mm(&k)
            .vma_at(VirtAddr(page(0)))
            .unwrap()
            .flags
            .contains(VmFlags::ACCOUNT));
        // Going back to RW does not charge twice (VM_ACCOUNT is still set).
        mprotect(&mut k, 0, 2, RW).unwrap();
        assert_eq!(k.committed_pages, 2);
    }

    #[test]
    fn commit_failure_leaves_state() {
        let mut k = build("RRRR");
        // Overcommit mode 0: one request above RAM + swap fails. Pretend RAM is 2 pages.
        k.cfg.ram_bytes = 2 * P;
        assert_eq!(mprotect(&mut k, 0, 4, RW), Err(Errno::ENOMEM));
        assert_eq!(draw(&k), "RRRR");
        assert_eq!(k.committed_pages, 0);
    }

    #[test]
    fn data_vm_reclassification_and_rlimit_data() {
        let mut k = build("RRRR");
        assert_eq!(mm(&k).data_vm, 0);
        mprotect(&mut k, 0, 2, RW).unwrap();
        assert_eq!((mm(&k).data_vm, mm(&k).total_vm), (2, 4));
        mprotect(&mut k, 2, 2, PROT_READ | PROT_EXEC).unwrap();
        assert_eq!(mm(&k).exec_vm, 2);
        mprotect(&mut k, 0, 4, PROT_READ).unwrap();
        assert_eq!((mm(&k).data_vm, mm(&k).exec_vm, mm(&k).total_vm), (0, 0, 4));
        check_counters(&k);
        // RLIMIT_DATA of 3 pages: making 4 pages data fails, 3 succeed.
        k.task_mut(INIT_PID).unwrap().rlimits[RLIMIT_DATA] = crate::task::Rlimit::new(3 * P, 3 * P);
        assert_eq!(mprotect(&mut k, 0, 4, RW), Err(Errno::ENOMEM));
        assert_eq!(draw(&k), "RRRR");
        assert_eq!(mprotect(&mut k, 0, 3, RW), Ok(0));
        assert_eq!(mm(&k).data_vm, 3);
        let _ = CAP_FULL_SET;
    }

    #[test]
    fn split_failure_keeps_completed_steps() {
        // §3.5: at N = M-1 a middle-page mprotect splits once, then fails, leaving N = M.
        let mut k = build("WWW");
        k.cfg.max_map_count = 2;
        assert_eq!(mprotect(&mut k, 1, 1, PROT_READ), Err(Errno::ENOMEM));
        assert_eq!(draw(&k), "Www");
        assert_eq!(mm(&k).map_count(), 2);
        // First page: one split, fails at N = M, fine at N = M-1.
        let mut k = build("WWW");
        k.cfg.max_map_count = 1;
        assert_eq!(mprotect(&mut k, 0, 1, PROT_READ), Err(Errno::ENOMEM));
        k.cfg.max_map_count = 2;
        assert_eq!(mprotect(&mut k, 0, 1, PROT_READ), Ok(0));
        assert_eq!(draw(&k), "RWW");
        // Middle page at M-2 is fine.
        let mut k = build("WWW");
        k.cfg.max_map_count = 3;
        assert_eq!(mprotect(&mut k, 1, 1, PROT_READ), Ok(0));
        assert_eq!(draw(&k), "WRW");
        check_counters(&k);
    }
}
