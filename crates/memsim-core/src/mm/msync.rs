//! msync (`mm/msync.c`).
//!
//! `MS_SYNC` on a shared mapping of a regular file writes the dirty pages of that part of the file back
//! (`vfs_fsync_range` → `folio_clear_dirty_for_io` → `folio_mkclean`): each becomes clean, and every shared
//! mapping of it loses its PTE's dirty and write bits, so smaps shows it clean and the next write faults and
//! dirties it again. memsim never writes a host file: the written bytes are kept as the file's contents in
//! the model ([`crate::filemap::PageCache::store_written`]), where a later read of an evicted page finds them.
//! Shared memory (shmem) has nothing to write back. `MS_ASYNC` is a no-op in Linux too, and `MS_INVALIDATE`
//! only refuses locked VMAs.

use crate::addr::{Pfn, VirtAddr, PAGE_MASK, PAGE_SHIFT};
use crate::arch::pgtable;
use crate::arch::pte::PteFlags;
use crate::errno::{Errno, SysResult};
use crate::fs::{InodeId, InodeKind};
use crate::kernel::Kernel;
use crate::mm::vma::VmFlags;
use crate::phys::PageFlags;
use crate::task::Pid;
use crate::uapi::{MS_ASYNC, MS_INVALIDATE, MS_SYNC};

impl Kernel {
    /// `msync(start, len, flags)`.
    pub fn sys_msync(&mut self, pid: Pid, start: u64, len: u64, flags: u64) -> SysResult {
        let mm = self.mm_id(pid)?;
        if flags & !(MS_ASYNC | MS_INVALIDATE | MS_SYNC) != 0 {
            return Err(Errno::EINVAL);
        }
        if start & !PAGE_MASK != 0 {
            return Err(Errno::EINVAL);
        }
        if flags & MS_ASYNC != 0 && flags & MS_SYNC != 0 {
            return Err(Errno::EINVAL);
        }
        // len is rounded up with wrapping: −1 and −4095 become 0 (success), −8192 wraps below start.
        let len = len.wrapping_add(!PAGE_MASK) & PAGE_MASK;
        let end = start.wrapping_add(len);
        if end < start {
            return Err(Errno::ENOMEM);
        }
        if end == start {
            return Ok(0);
        }
        // Unmapped parts are skipped but reported as ENOMEM at the end; MS_ASYNC alone stops at the first.
        let mut start = start;
        let mut unmapped_error = None;
        loop {
            let Some(vma) = self.mms[&mm].vmas.find(VirtAddr(start)) else {
                return Err(Errno::ENOMEM);
            };
            if start < vma.start.as_u64() {
                if flags == MS_ASYNC {
                    return Err(Errno::ENOMEM);
                }
                start = vma.start.as_u64();
                if start >= end {
                    return Err(Errno::ENOMEM);
                }
                unmapped_error = Some(Errno::ENOMEM);
            }
            if flags & MS_INVALIDATE != 0 && vma.flags.contains(VmFlags::LOCKED) {
                return Err(Errno::EBUSY);
            }
            // MS_SYNC of a shared file mapping: vfs_fsync_range over the file offsets this VMA maps in range.
            let sync = (flags & MS_SYNC != 0 && vma.flags.contains(VmFlags::SHARED))
                .then(|| vma.file.as_ref().filter(|f| f.inode.kind == InodeKind::Regular))
                .flatten()
                .map(|f| {
                    let last = vma.pgoff_of(VirtAddr(end.min(vma.end.as_u64())));
                    (f.inode.id, vma.pgoff_of(VirtAddr(start)), last)
                });
            start = vma.end.as_u64();
            if let Some((inode, first, last)) = sync {
                self.writeback_range(inode, first, last);
            }
            if start >= end {
                return match unmapped_error {
                    Some(e) => Err(e),
                    None => Ok(0),
                };
            }
        }
    }
}

impl Kernel {
    /// `file_write_and_wait_range` over pages `[first, last)` of a regular file: every dirty cached page is
    /// cleaned in all shared mappings (`folio_mkclean`), its contents kept as the file's, and its dirty flag
    /// cleared.
    pub(crate) fn writeback_range(&mut self, inode: InodeId, first: u64, last: u64) {
        let dirty: Vec<(u64, Pfn)> = self
            .page_cache
            .range(inode, first, last.saturating_sub(1))
            .filter(|&(_, p)| self.phys.page(p).flags.contains(PageFlags::DIRTY))
            .collect();
        if dirty.is_empty() {
            return;
        }
        // The shared mappings of the file (`invalid_mkclean_vma` skips the others), as (root, start, pgoff,
        // pages).
        let mut maps = Vec::new();
        for m in self.mms.values() {
            for v in m.vmas.iter() {
                if v.flags.contains(VmFlags::SHARED) && v.file.as_ref().is_some_and(|f| f.inode.id == inode) {
                    maps.push((m.pgd, v.start.as_u64(), v.pgoff, v.nr_pages()));
                }
            }
        }
        let arch = self.cfg.arch;
        for (index, pfn) in dirty {
            // page_mkclean_one: write-protect and clean every PTE mapping the page.
            for &(root, start, pgoff, pages) in &maps {
                if index < pgoff || index - pgoff >= pages {
                    continue;
                }
                let addr = start + ((index - pgoff) << PAGE_SHIFT);
                let Some(slot) = pgtable::pte_lookup(&self.phys, arch, root, addr) else {
                    continue;
                };
                let pte = slot.read(&self.phys, arch);
                if pte.present() && !pte.special() && pte.pfn(arch) == pfn.0 && (pte.dirty() || pte.write()) {
                    slot.write(&mut self.phys, arch, pte.clear(PteFlags::RW | PteFlags::DIRTY));
                }
            }
            let pg = self.phys.page_mut(pfn);
            pg.flags.remove(PageFlags::DIRTY);
            let data = pg.data.as_deref();
            self.page_cache.store_written(inode, index, data);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::INIT_PID;
    use crate::mm::mprotect::testkit::*;

    fn msync(k: &mut Kernel, a: u64, n: u64, flags: u64) -> SysResult {
        k.sys_msync(INIT_PID, page(a), n * P, flags)
    }

    #[test]
    fn argument_errors_in_order() {
        let mut k = build("WWWW");
        // Invalid flags beat an unaligned start.
        assert_eq!(k.sys_msync(INIT_PID, page(0) + 1, P, 8), Err(Errno::EINVAL));
        assert_eq!(k.sys_msync(INIT_PID, page(0) + 1, P, MS_SYNC), Err(Errno::EINVAL));
        assert_eq!(msync(&mut k, 0, 1, MS_ASYNC | MS_SYNC), Err(Errno::EINVAL));
        // Length rounding: −8192 wraps (ENOMEM), −1, −4095 and 0 round to nothing (0), even unmapped.
        assert_eq!(
            k.sys_msync(INIT_PID, page(0), 0u64.wrapping_sub(8192), MS_SYNC),
            Err(Errno::ENOMEM)
        );
        for len in [0u64, u64::MAX, 0u64.wrapping_sub(4095)] {
            assert_eq!(k.sys_msync(INIT_PID, 0x7000_0000, len, MS_SYNC), Ok(0), "len {len:#x}");
        }
        assert_eq!(msync(&mut k, 0, 4, MS_SYNC | MS_INVALIDATE), Ok(0));
        assert_eq!(msync(&mut k, 0, 4, 0), Ok(0));
    }

    #[test]
    fn unmapped_ranges() {
        let mut k = build(" WW WW");
        // Start unmapped.
        assert_eq!(msync(&mut k, 0, 1, MS_SYNC), Err(Errno::ENOMEM));
        assert_eq!(msync(&mut k, 7, 1, MS_SYNC), Err(Errno::ENOMEM));
        // Holes: the rest is processed, then ENOMEM.
        assert_eq!(msync(&mut k, 1, 5, MS_SYNC), Err(Errno::ENOMEM));
        assert_eq!(msync(&mut k, 0, 3, 0), Err(Errno::ENOMEM));
        assert_eq!(msync(&mut k, 1, 2, MS_ASYNC), Ok(0));
        assert_eq!(msync(&mut k, 1, 4, MS_ASYNC), Err(Errno::ENOMEM));
    }

    #[test]
    fn invalidate_on_locked_is_ebusy_even_after_a_hole() {
        let mut k = build("WW LL");
        assert_eq!(msync(&mut k, 3, 2, MS_INVALIDATE), Err(Errno::EBUSY));
        assert_eq!(
            msync(&mut k, 0, 5, MS_INVALIDATE),
            Err(Errno::EBUSY),
            "EBUSY wins over the earlier hole"
        );
        assert_eq!(msync(&mut k, 0, 5, MS_SYNC), Err(Errno::ENOMEM));
        assert_eq!(msync(&mut k, 3, 2, MS_SYNC), Ok(0));
    }
}

#[cfg(test)]
mod writeback_tests {
    use crate::fs::MemFs;
    use crate::kernel::{AccessKind, Kernel, KernelConfig, INIT_PID as P};
    use crate::uapi::*;

    /// The smaps fields of the VMA at `a` that dirtiness shows in.
    fn dirt(k: &Kernel, a: u64) -> Vec<String> {
        let smaps = String::from_utf8(k.proc_read(P, "smaps").unwrap()).unwrap();
        let at = smaps.find(&format!("{a:x}-")).unwrap();
        smaps[at..]
            .lines()
            .filter(|l| l.starts_with("Private_") || l.starts_with("Shared_") || l.starts_with("Pss_Dirty"))
            .take(5)
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect()
    }

    #[test]
    fn ms_sync_cleans_shared_file_pages_and_keeps_their_bytes() {
        // Checked with a C program on 6.18 (a 4-page file, MAP_SHARED read-write, pages 0 and 1 written,
        // page 2 read; fault-around maps page 3): the smaps lines after each step.
        let mut fs = MemFs::new();
        fs.add_file("/data/f", vec![b'x'; 4 * 4096]);
        let mut k = Kernel::new(KernelConfig::default(), Box::new(fs));
        let fd = k.sys_openat(P, AT_FDCWD, "/data/f", O_RDWR, 0).unwrap() as i64;
        let a = 0x1_0000_0000u64;
        let rw = PROT_READ | PROT_WRITE;
        assert_eq!(k.sys_mmap(P, a, 4 * 4096, rw, MAP_SHARED | MAP_FIXED, fd, 0), Ok(a));
        k.poke(P, a, b"A").unwrap();
        k.poke(P, a + 4096, b"B").unwrap();
        k.access(P, a + 8192, 1, AccessKind::Read).unwrap();
        let written = [
            "Pss_Dirty: 8 kB",
            "Shared_Clean: 0 kB",
            "Shared_Dirty: 0 kB",
            "Private_Clean: 8 kB",
            "Private_Dirty: 8 kB",
        ];
        assert_eq!(dirt(&k, a), written);
        assert_eq!(k.sys_msync(P, a, 4 * 4096, MS_ASYNC), Ok(0));
        assert_eq!(dirt(&k, a), written);
        assert_eq!(k.sys_msync(P, a, 4 * 4096, MS_SYNC), Ok(0));
        let synced = [
            "Pss_Dirty: 0 kB",
            "Shared_Clean: 0 kB",
            "Shared_Dirty: 0 kB",
            "Private_Clean: 16 kB",
            "Private_Dirty: 0 kB",
        ];
        assert_eq!(dirt(&k, a), synced);
        // Write-protected: the next write faults (a minor fault) and dirties the page again.
        let before = k.task(P).unwrap().min_flt;
        k.poke(P, a + 4096, b"C").unwrap();
        assert_eq!(k.task(P).unwrap().min_flt, before + 1);
        assert_eq!(
            dirt(&k, a),
            [
                "Pss_Dirty: 4 kB",
                "Shared_Clean: 0 kB",
                "Shared_Dirty: 0 kB",
                "Private_Clean: 12 kB",
                "Private_Dirty: 4 kB",
            ]
        );
        k.check_all_page_invariants().unwrap();
        // The clean page 0 can now be paged out; read again, it holds what was written back, not the host's
        // bytes.
        assert_eq!(k.sys_madvise(P, a, 4096, MADV_PAGEOUT), Ok(0));
        assert!(!k.pte_at(k.mm_id(P).unwrap(), crate::addr::VirtAddr(a)).present());
        assert_eq!(k.peek(P, a, 2).unwrap(), b"Ax");
        // A range of the file only: page 1 (dirty again) is synced when its page is in range.
        assert_eq!(k.sys_msync(P, a + 8192, 8192, MS_SYNC), Ok(0));
        assert_eq!(dirt(&k, a)[4], "Private_Dirty: 4 kB");
        assert_eq!(k.sys_msync(P, a + 4096, 4096, MS_SYNC), Ok(0));
        assert_eq!(dirt(&k, a)[4], "Private_Dirty: 0 kB");
        k.check_all_page_invariants().unwrap();
    }
}
