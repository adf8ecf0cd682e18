//! The page cache (`mm/filemap.c`, `mm/readahead.c`, `mm/shmem.c`): file pages shared by every mapping of the
//! same inode, keyed by (inode, page index).
//!
//! Regular-file pages are read from the host lazily, the first time a fault needs them, through
//! [`crate::fs::FileSource::read_at`], together with the read-around window Linux's mmap readahead would bring
//! in (`do_sync_mmap_readahead`: `ra_pages` = 32 pages centred on the fault, none with `VM_RAND_READ`). They
//! are never written back: stores to shared file mappings change the cached bytes only, and memsim never
//! writes a host file. Shmem pages (shared anonymous memory) are allocated zeroed on first fault. Cached pages
//! hold one reference each; nothing is evicted until reclaim is modelled, except that the pages of a shmem
//! object go when the object does ([`crate::kernel::Kernel::shmem_evict_inode`]).
//!
//! Model choices: no async readahead (`PG_readahead` markers) and no `mmap_miss` heuristics; every folio is
//! a single page. Linux 6.18 caches files in large folios where the filesystem allows (ext4), and fault-around
//! then maps whole folios, so on a host whose cache holds large folios a read fault can map more than the
//! 16-page block (observed: 5 pages instead of 2 for a freshly checked-out file, 2 for a copy of it).

use std::collections::BTreeMap;

use crate::addr::Pfn;
use crate::fs::{Inode, InodeId, InodeKind};
use crate::kernel::Kernel;
use crate::phys::{PageData, PageFlags};

/// `VM_READAHEAD_PAGES`: the default read-ahead window (128 KiB).
pub const RA_PAGES: u64 = 32;

/// Cached pages of every inode, keyed by (inode, page index).
#[derive(Debug)]
pub struct PageCache {
    pages: BTreeMap<(InodeId, u64), Pfn>,
    /// The backing device's read-ahead window in pages (`bdi->ra_pages`, `read_ahead_kb / 4`). Linux's default
    /// is 32 (128 KiB); the reference machine's virtio disk uses 2048 (8 MiB).
    pub ra_pages: u64,
    /// Pages written back (msync MS_SYNC): what the file holds at that index from then on, in the model. A
    /// page evicted after its writeback is read from here again, not from the host file, which memsim never
    /// writes.
    written: BTreeMap<(InodeId, u64), Box<PageData>>,
}

impl Default for PageCache {
    fn default() -> Self {
        PageCache {
            pages: BTreeMap::new(),
            ra_pages: RA_PAGES,
            written: BTreeMap::new(),
        }
    }
}

impl PageCache {
    /// `filemap_get_folio` without creating.
    #[inline]
    pub fn find(&self, inode: InodeId, index: u64) -> Option<Pfn> {
        self.pages.get(&(inode, index)).copied()
    }

    pub fn insert(&mut self, inode: InodeId, index: u64, pfn: Pfn) {
        self.pages.insert((inode, index), pfn);
    }

    pub fn remove(&mut self, inode: InodeId, index: u64) -> Option<Pfn> {
        self.pages.remove(&(inode, index))
    }

    /// Cached pages of `inode` with index in `[lo, hi]`, in index order.
    pub fn range(&self, inode: InodeId, lo: u64, hi: u64) -> impl Iterator<Item = (u64, Pfn)> + '_ {
        // An empty range (lo > hi) must not reach BTreeMap::range, which panics on it.
        (lo <= hi)
            .then(|| self.pages.range((inode, lo)..=(inode, hi)))
            .into_iter()
            .flatten()
            .map(|(&(_, i), &p)| (i, p))
    }

    /// Record what writeback stored for a page of `inode` (`None`: zeros).
    pub fn store_written(&mut self, inode: InodeId, index: u64, data: Option<&PageData>) {
        let page = data.map_or_else(PageData::zeroed, |d| Box::new(d.clone()));
        self.written.insert((inode, index), page);
    }

    /// Number of cached pages of an inode.
    pub fn nr_pages(&self, inode: InodeId) -> usize {
        self.range(inode, 0, u64::MAX).count()
    }

    /// Every cached page, in (inode, index) order.
    pub fn iter(&self) -> impl Iterator<Item = (InodeId, u64, Pfn)> + '_ {
        self.pages.iter().map(|(&(ino, i), &p)| (ino, i, p))
    }

    pub fn len(&self) -> usize {
        self.pages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }
}

/// Why getting a file page failed (what `filemap_fault`/`shmem_fault` return).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FilemapError {
    /// `VM_FAULT_SIGBUS`: beyond end of file, or the read failed.
    Bus,
    /// `VM_FAULT_OOM`.
    Oom,
}

/// Pages of an inode's size (`DIV_ROUND_UP(i_size, PAGE_SIZE)`).
pub fn size_pages(inode: &Inode) -> u64 {
    inode.meta.size.div_ceil(4096)
}

impl Kernel {
    /// `filemap_fault` / `shmem_fault` for page `index` of `inode`: the cached page, reading it (and its
    /// read-around window) from the host or allocating a zeroed shmem page. Returns the frame and whether
    /// I/O was needed (a major fault).
    pub fn filemap_get_page(
        &mut self,
        inode: &Inode,
        index: u64,
        rand_read: bool,
    ) -> Result<(Pfn, bool), FilemapError> {
        if index >= size_pages(inode) {
            return Err(FilemapError::Bus);
        }
        if let Some(p) = self.page_cache.find(inode.id, index) {
            return Ok((p, false));
        }
        match inode.kind {
            InodeKind::Shmem => {
                let pfn = self.add_to_page_cache(inode, index, PageFlags::SWAPBACKED)?;
                Ok((pfn, false))
            }
            InodeKind::Regular => {
                // do_sync_mmap_readahead: read-around of ra_pages centred on the fault, unless VM_RAND_READ.
                let ra = self.page_cache.ra_pages.max(1);
                let (lo, n) = if rand_read {
                    (index, 1)
                } else {
                    (index.saturating_sub(ra / 2), ra)
                };
                let hi = (lo + n).min(size_pages(inode));
                for i in lo..hi {
                    if self.page_cache.find(inode.id, i).is_some() {
                        continue;
                    }
                    match self.read_file_page(inode, i) {
                        Ok(_) => {}
                        // Readahead of neighbours is best effort; the faulting page itself must succeed.
                        Err(e) if i == index => return Err(e),
                        Err(_) => {}
                    }
                }
                let p = self.page_cache.find(inode.id, index).ok_or(FilemapError::Bus)?;
                Ok((p, true))
            }
            // hugetlbfs pages come from the (empty) huge page pool, never through here.
            InodeKind::DevZero | InodeKind::Hugetlbfs { .. } | InodeKind::Other => Err(FilemapError::Bus),
        }
    }

    /// Allocate a page for `inode` at `index`, insert it into the cache (one reference) and the LRU.
    fn add_to_page_cache(&mut self, inode: &Inode, index: u64, extra: PageFlags) -> Result<Pfn, FilemapError> {
        let pfn = self.phys.alloc().ok_or(FilemapError::Oom)?;
        let pg = self.phys.page_mut(pfn);
        pg.flags = PageFlags::UPTODATE | extra;
        pg.refcount = 1;
        pg.mapping = inode.id.0;
        pg.index = index;
        self.phys.lru_add(pfn);
        self.page_cache.insert(inode.id, index, pfn);
        Ok(pfn)
    }

    /// Read one page of a regular file from the host into a new page-cache page.
    fn read_file_page(&mut self, inode: &Inode, index: u64) -> Result<Pfn, FilemapError> {
        let mut buf = PageData::zeroed();
        let off = index * 4096;
        let mut got = 0usize;
        if let Some(w) = self.page_cache.written.get(&(inode.id, index)) {
            buf.0 = w.0;
            got = buf.0.len();
        }
        while got < buf.0.len() {
            match self.fs.read_at(&inode.meta.path, off + got as u64, &mut buf.0[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(_) => return Err(FilemapError::Bus),
            }
        }
        let pfn = self.add_to_page_cache(inode, index, PageFlags::empty())?;
        if buf.0.iter().any(|&b| b != 0) {
            self.phys.page_mut(pfn).data = Some(buf);
        }
        Ok(pfn)
    }

    /// `shmem_evict_inode` / `truncate_inode_pages`: drop the cache's reference to every page of `inode`
    /// (call when the last file reference to a shmem object goes). Pages still mapped stay until unmapped.
    pub fn shmem_evict_inode(&mut self, inode: InodeId) {
        let pages: Vec<(u64, Pfn)> = self.page_cache.range(inode, 0, u64::MAX).collect();
        for (i, pfn) in pages {
            self.page_cache.remove(inode, i);
            let pg = self.phys.page_mut(pfn);
            pg.refcount -= 1;
            if pg.refcount == 0 {
                self.phys.free(pfn);
            }
        }
    }
}
