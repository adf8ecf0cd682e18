//! Page-table level primitives used by the VMA-level system calls (`mm/memory.c`, `mm/mprotect.c`,
//! `mm/mremap.c`, `mm/gup.c`). STUB: every function keeps its signature; bodies to be written.

use crate::addr::VirtAddr;
use crate::kernel::Kernel;
use crate::mm::MmId;

/// What a page-table walk sees for one virtual page: the view `/proc` renderers (smaps, pagemap, mincore)
/// need. Produced by [`Kernel::walk_pages`].
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct PageStat {
    pub addr: VirtAddr,
    /// PTE present bit.
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
}

impl Kernel {
    /// Walk the page tables of `mm` over `[start, end)` and call `f` for every virtual page that has a
    /// non-empty PTE (present or swap), in address order.
    pub fn walk_pages(&self, _mm: MmId, _start: VirtAddr, _end: VirtAddr, _f: &mut dyn FnMut(&PageStat)) {}

    /// `zap_page_range_single` / `unmap_vmas`: drop every PTE in `[start, end)` (freeing or unmapping pages,
    /// updating RSS counters and hiwater_rss first). Page tables stay allocated.
    pub fn zap_range(&mut self, _mm: MmId, _start: VirtAddr, _end: VirtAddr) {}

    /// `free_pgtables`: free page-table pages that map only `[floor, ceiling)`'s unused part after an unmap of
    /// `[start, end)`, where `floor` is the previous VMA's end (or 0) and `ceiling` the next VMA's start (or the
    /// top of user space), as Linux does (`free_pgd_range`).
    pub fn free_pgtables(&mut self, _mm: MmId, _start: VirtAddr, _end: VirtAddr, _floor: u64, _ceiling: u64) {}

    /// `change_protection`: rewrite the present PTEs of `[start, end)` for new VMA flags (write-protect on
    /// losing VM_WRITE; keep COW pages read-only when gaining it).
    pub fn change_protection(&mut self, _mm: MmId, _start: VirtAddr, _end: VirtAddr) {}

    /// `move_page_tables`: move the PTEs of `[old, old+len)` to `[new, new+len)` (mremap).
    pub fn move_page_tables(&mut self, _mm: MmId, _old: VirtAddr, _new: VirtAddr, _len: u64) {}

    /// `populate_vma_page_range` / `faultin_page`: fault every page of `[start, end)` in as a GUP would
    /// (write faults if `write`), counting faults. Returns the number of pages populated, or the errno a GUP
    /// failure gives (EFAULT for PROT_NONE, ENOMEM for holes).
    pub fn populate_range(
        &mut self,
        _pid: crate::task::Pid,
        _start: VirtAddr,
        _end: VirtAddr,
        _write: bool,
    ) -> Result<u64, crate::errno::Errno> {
        Ok(0)
    }
}
