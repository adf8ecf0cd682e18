//! mincore (`mm/mincore.c`): one byte per page, 1 when the page is resident.
//!
//! Errno order: start not page aligned ⇒ EINVAL; `[start, start+len)` not a valid user range (`access_ok`)
//! ⇒ ENOMEM; (an unwritable vector ⇒ EFAULT is the caller's check: the model has no user vector); then the
//! walk: any page without a VMA ⇒ ENOMEM. A present PTE (the zero page and PROT_NONE entries included) is
//! resident; an empty PTE of a file VMA reports whether the page is in the page cache; of an anonymous one, 0.

use crate::addr::{VirtAddr, PAGE_SIZE};
use crate::errno::Errno;
use crate::kernel::Kernel;
use crate::task::Pid;

impl Kernel {
    /// `mincore(start, len, vec)`: the residency vector, one byte per page.
    pub fn sys_mincore(&mut self, pid: Pid, start: u64, len: u64) -> Result<Vec<u8>, Errno> {
        let arch = self.cfg.arch;
        if start & (PAGE_SIZE - 1) != 0 {
            return Err(Errno::EINVAL);
        }
        // access_ok: the whole range below the top of user space (USER_PTR_MAX on x86-64 is TASK_SIZE_MAX-1).
        let top = if arch.is_64bit() {
            arch.task_size_max() - 1
        } else {
            arch.task_size_max()
        };
        match start.checked_add(len) {
            Some(sum) if sum <= top => {}
            _ => return Err(Errno::ENOMEM),
        }
        let mm = self.mm_id(pid)?;
        let pages = len.div_ceil(PAGE_SIZE);
        let mut vec = Vec::with_capacity(pages.min(1 << 20) as usize);
        let mut addr = start;
        let end = start + pages * PAGE_SIZE;
        let m = &self.mms[&mm];
        while addr < end {
            let vma = m.vmas.lookup(VirtAddr(addr)).ok_or(Errno::ENOMEM)?;
            let stop = end.min(vma.end.0);
            // can_do_mincore: a VMA neither anonymous nor file-backed (the vDSO's special mappings) is
            // reported resident throughout.
            if !vma.is_anonymous() && vma.file.is_none() {
                vec.extend(std::iter::repeat_n(1u8, ((stop - addr) / PAGE_SIZE) as usize));
                addr = stop;
                continue;
            }
            while addr < stop {
                let pte = self.pte_at(mm, VirtAddr(addr));
                let resident = if pte.present() {
                    true
                } else if pte.is_none() {
                    match &vma.file {
                        // mincore_page on the file's mapping (a private /dev/zero mapping has no cached pages).
                        Some(f) => self.page_cache.find(f.inode.id, vma.pgoff_of(VirtAddr(addr))).is_some(),
                        None => false,
                    }
                } else {
                    // A swap entry: resident iff in the swap cache (no swap is modelled).
                    false
                };
                vec.push(u8::from(resident));
                addr += PAGE_SIZE;
            }
        }
        Ok(vec)
    }
}
