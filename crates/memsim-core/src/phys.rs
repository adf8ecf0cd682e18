//! Physical memory: the frame table (`struct page` metadata, `include/linux/mm_types.h`,
//! `include/linux/page-flags.h`) and the frame allocator (`mm/page_alloc.c`).
//!
//! Every simulated frame that has ever been handed out has a [`Page`] record of at most 64 bytes (Linux's own
//! `struct page` size). The table grows lazily to the high-water mark of allocated frames, so an 8 GiB machine
//! that touches 100 pages pays for 100 records, not two million. Freed frames go on a LIFO free list, the way
//! the per-CPU page lists hand back the most recently freed ("hot") page first; allocation order is therefore a
//! pure function of the sequence of allocations and frees.
//!
//! Page contents are real bytes, stored only for frames that hold data: a frame whose `data` is `None` reads
//! as zeros (a freshly zeroed anonymous page that was only "touched" by a Lackey store costs no 4 KiB buffer).
//! Page-table frames always carry their bytes: the entries are stored little-endian exactly as the MMU reads
//! them.
//!
//! PFN 0 is the shared zero page (`empty_zero_page`), allocated at boot and never freed.
//!
//! Running out of frames makes [`PhysMem::alloc`] return `None`; the fault handler turns that into
//! `VM_FAULT_OOM`. memsim has no OOM killer: the faulting task is killed with SIGKILL (what the OOM killer
//! would most likely choose for a single greedy process), and population (MAP_POPULATE, mlock, MADV_POPULATE)
//! fails with ENOMEM.

use bitflags::bitflags;

use crate::addr::{Pfn, PAGE_SIZE};

bitflags! {
    /// Page flags (`enum pageflags`), plus the page types Linux keeps elsewhere (`PG_table`, the zero page).
    #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
    pub struct PageFlags: u32 {
        /// `PG_locked`: under I/O or otherwise locked.
        const LOCKED = 1 << 0;
        /// `PG_referenced`: recently accessed (second-chance LRU bit).
        const REFERENCED = 1 << 1;
        /// `PG_uptodate`: contents are valid.
        const UPTODATE = 1 << 2;
        /// `PG_dirty`: must be written back (file) or swapped (anon) before reuse.
        const DIRTY = 1 << 3;
        /// `PG_lru`: on an LRU list.
        const LRU = 1 << 4;
        /// `PG_active`: on the active list.
        const ACTIVE = 1 << 5;
        /// `PG_swapbacked`: backed by swap (anon and shmem) rather than a file.
        const SWAPBACKED = 1 << 6;
        /// `PG_unevictable`: on the unevictable list (mlocked).
        const UNEVICTABLE = 1 << 7;
        /// `PG_mlocked`: mapped by a VM_LOCKED VMA.
        const MLOCKED = 1 << 8;
        /// `PAGE_MAPPING_ANON`: `mapping` names an anon_vma, not an inode.
        const ANON = 1 << 9;
        /// `PageAnonExclusive`: the anonymous page is mapped by exactly one process and may be written in place.
        const ANON_EXCLUSIVE = 1 << 10;
        /// `PG_readahead`: the readahead marker.
        const READAHEAD = 1 << 11;
        /// `PG_workingset`.
        const WORKINGSET = 1 << 12;
        /// `PG_swapcache`.
        const SWAPCACHE = 1 << 13;
        /// `PG_reserved`: never allocated or freed (the zero page).
        const RESERVED = 1 << 14;
        /// `PageTable`: a page-table page.
        const PGTABLE = 1 << 15;
        /// The shared zero page (`is_zero_pfn`).
        const ZERO = 1 << 16;
        /// `PG_head` of a large folio (THP); unused until huge pages are modelled.
        const HEAD = 1 << 17;
        /// `PageBuddy`: the frame is free.
        const BUDDY = 1 << 18;
        /// A page of an anonymous THP that is still mapped as a whole by one PMD-sized block (see
        /// `mm/fault.rs`: the model keeps the block's 512 PTEs instead of a PMD leaf). Cleared by a split.
        const PMD_MAPPED = 1 << 19;
    }
}

/// "No frame" in the 32-bit LRU links.
pub const NIL: u32 = u32::MAX;

/// 4 KiB of page contents. Aligned so that page-table entries can be read as naturally aligned words.
#[repr(C, align(64))]
#[derive(Clone)]
pub struct PageData(pub [u8; PAGE_SIZE as usize]);

impl PageData {
    pub fn zeroed() -> Box<PageData> {
        Box::new(PageData([0; PAGE_SIZE as usize]))
    }
}

impl std::fmt::Debug for PageData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PageData(..)")
    }
}

/// `struct page`: the metadata of one frame.
#[derive(Debug, Default)]
pub struct Page {
    pub flags: PageFlags,
    /// `_refcount`: references held by page tables (one per PTE), the page cache, and page-table use.
    pub refcount: u32,
    /// `_mapcount + 1`: the number of PTEs (in all address spaces) that map this page.
    pub mapcount: u32,
    /// LRU links (frame numbers, [`NIL`] at the ends), ready for reclaim.
    pub lru_prev: u32,
    pub lru_next: u32,
    /// `page->mapping`: the anon_vma id (with [`PageFlags::ANON`]) or the inode id of a page-cache page; 0 for
    /// none.
    pub mapping: u64,
    /// `page->index`: the page offset in the owner (the linear page index for anonymous pages).
    pub index: u64,
    /// `page->private`: the swap entry of a swap-cache page (unused until reclaim is modelled).
    pub private: u64,
    /// The contents, when the frame holds data; `None` reads as zeros.
    pub data: Option<Box<PageData>>,
}

// Linux's `struct page` is 64 bytes; ours must not be larger (issue 2, item 10).
const _: () = assert!(std::mem::size_of::<Page>() <= 64);

/// Which LRU list a page is on (`enum lru_list`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(usize)]
pub enum LruList {
    InactiveAnon = 0,
    ActiveAnon = 1,
    InactiveFile = 2,
    ActiveFile = 3,
    Unevictable = 4,
}

#[derive(Clone, Copy, Debug)]
struct LruHead {
    head: u32,
    tail: u32,
    len: u64,
}

/// The simulated physical memory.
#[derive(Debug)]
pub struct PhysMem {
    /// Frames of RAM (`totalram_pages`).
    pub nr_frames: u64,
    /// The frame table, indexed by PFN; grows to the high-water mark.
    pages: Vec<Page>,
    /// Free frames below the high-water mark, most recently freed last.
    free: Vec<u32>,
    /// Frames currently allocated (the zero page included).
    nr_used: u64,
    lru: [LruHead; 5],
    /// Bumped whenever a page-table frame is freed: invalidates [`WalkCache`] entries (the TLB flush that
    /// `free_pgtables` does through `tlb_remove_table`).
    pgtable_gen: u64,
    /// A one-entry paging-structure cache (the MMU's PDE cache): the PTE table last used for a PMD-sized slot.
    pub(crate) walk_cache: WalkCache,
}

/// One cached translation of the directory levels: under root `root`, the PMD-sized slot `tag` (the address
/// shifted right by the shift of the entries pointing to PTE tables) is served by PTE table `table`. Directory
/// entries only go from none to present while their table lives, so an entry stays valid until a table is
/// freed.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct WalkCache {
    pub root: u64,
    pub tag: u64,
    pub table: u64,
    pub gen: u64,
    /// The directory entries' combined R/W, U/S and NX bits (bit 0, 1, 2).
    pub dir_bits: u8,
    pub valid: bool,
}

/// The PFN of the shared zero page.
pub const ZERO_PFN: Pfn = Pfn(0);

impl PhysMem {
    /// Memory of `nr_frames` frames; frame 0 becomes the zero page.
    pub fn new(nr_frames: u64) -> PhysMem {
        let nr_frames = nr_frames.clamp(1, u64::from(NIL));
        let mut p = PhysMem {
            nr_frames,
            pages: Vec::new(),
            free: Vec::new(),
            nr_used: 0,
            lru: [LruHead {
                head: NIL,
                tail: NIL,
                len: 0,
            }; 5],
            pgtable_gen: 0,
            walk_cache: WalkCache::default(),
        };
        let zero = p.alloc().expect("at least one frame");
        debug_assert_eq!(zero, ZERO_PFN);
        let pg = p.page_mut(zero);
        pg.flags = PageFlags::RESERVED | PageFlags::ZERO | PageFlags::UPTODATE;
        pg.refcount = 1;
        p
    }

    /// Frames allocated right now (including the zero page and page tables).
    pub fn nr_used(&self) -> u64 {
        self.nr_used
    }

    /// `nr_free_pages()`.
    pub fn nr_free(&self) -> u64 {
        self.nr_frames - self.nr_used
    }

    /// The highest PFN ever allocated + 1 (the length of the frame table).
    pub fn high_water(&self) -> u64 {
        self.pages.len() as u64
    }

    /// Host bytes spent on frame metadata (the table and the free list), without page contents.
    pub fn metadata_bytes(&self) -> usize {
        self.pages.capacity() * std::mem::size_of::<Page>() + self.free.capacity() * std::mem::size_of::<u32>()
    }

    /// Allocate a frame (`alloc_page`): zero refcount and mapcount, no flags, no data (reads as zeros).
    /// `None` when memory is exhausted.
    pub fn alloc(&mut self) -> Option<Pfn> {
        let pfn = if let Some(pfn) = self.free.pop() {
            self.pages[pfn as usize].flags = PageFlags::empty();
            pfn
        } else if (self.pages.len() as u64) < self.nr_frames {
            if self.pages.len() == self.pages.capacity() {
                // Grow by an eighth, not by doubling, so the table stays close to 64 bytes per frame in use.
                self.pages.reserve_exact(self.pages.len() / 8 + 1024);
            }
            self.pages.push(Page {
                lru_prev: NIL,
                lru_next: NIL,
                ..Page::default()
            });
            (self.pages.len() - 1) as u32
        } else {
            return None;
        };
        self.nr_used += 1;
        Some(Pfn(u64::from(pfn)))
    }

    /// Allocate a zeroed page-table frame (`pagetable_alloc`): data present, `PageTable`, refcount 1.
    pub fn alloc_pgtable(&mut self) -> Option<Pfn> {
        let pfn = self.alloc()?;
        let pg = self.page_mut(pfn);
        pg.flags = PageFlags::PGTABLE;
        pg.refcount = 1;
        pg.data = Some(PageData::zeroed());
        Some(pfn)
    }

    /// Return a frame to the free list (`free_unref_page`), dropping its contents and metadata.
    pub fn free(&mut self, pfn: Pfn) {
        debug_assert!(pfn != ZERO_PFN, "freeing the zero page");
        let flags = self.page(pfn).flags;
        if flags.contains(PageFlags::LRU) {
            self.lru_del(pfn);
        }
        if flags.contains(PageFlags::PGTABLE) {
            self.pgtable_gen += 1;
        }
        let pg = &mut self.pages[pfn.0 as usize];
        *pg = Page {
            flags: PageFlags::BUDDY,
            lru_prev: NIL,
            lru_next: NIL,
            ..Page::default()
        };
        self.free.push(pfn.0 as u32);
        self.nr_used -= 1;
    }

    /// Whether `pfn` is an allocated frame.
    pub fn is_allocated(&self, pfn: Pfn) -> bool {
        self.get(pfn).is_some_and(|p| !p.flags.contains(PageFlags::BUDDY))
    }

    #[inline]
    pub fn page(&self, pfn: Pfn) -> &Page {
        &self.pages[pfn.0 as usize]
    }

    #[inline]
    pub fn page_mut(&mut self, pfn: Pfn) -> &mut Page {
        &mut self.pages[pfn.0 as usize]
    }

    /// The page at `pfn`, if the frame table reaches that far (for PFNs taken from untrusted entries).
    #[inline]
    pub fn get(&self, pfn: Pfn) -> Option<&Page> {
        self.pages.get(pfn.0 as usize)
    }

    /// Every PFN below the high-water mark, with its page (free frames included; they have refcount 0).
    pub fn iter(&self) -> impl Iterator<Item = (Pfn, &Page)> + '_ {
        self.pages.iter().enumerate().map(|(i, p)| (Pfn(i as u64), p))
    }

    // ---- contents ----

    /// Read `buf.len()` bytes at `offset` in the frame (zeros when the frame holds no data).
    pub fn read(&self, pfn: Pfn, offset: usize, buf: &mut [u8]) {
        match &self.page(pfn).data {
            Some(d) => buf.copy_from_slice(&d.0[offset..offset + buf.len()]),
            None => buf.fill(0),
        }
    }

    /// Write bytes at `offset` in the frame, materializing its contents if needed.
    pub fn write(&mut self, pfn: Pfn, offset: usize, bytes: &[u8]) {
        let d = self.page_mut(pfn).data.get_or_insert_with(PageData::zeroed);
        d.0[offset..offset + bytes.len()].copy_from_slice(bytes);
    }

    /// Copy the contents of `from` into `to` (`copy_user_highpage`).
    pub fn copy_page(&mut self, from: Pfn, to: Pfn) {
        let data = self.page(from).data.clone();
        self.page_mut(to).data = data;
    }

    /// A page-table entry of `width` bytes (4 or 8) at index `idx` of table frame `table`.
    #[inline]
    pub fn read_entry(&self, table: Pfn, idx: usize, width: usize) -> u64 {
        let Some(d) = &self.pages[table.0 as usize].data else {
            return 0;
        };
        let off = idx * width;
        if width == 8 {
            u64::from_le_bytes(d.0[off..off + 8].try_into().expect("8 bytes"))
        } else {
            u64::from(u32::from_le_bytes(d.0[off..off + 4].try_into().expect("4 bytes")))
        }
    }

    /// The PTE table cached for (`root`, `tag`), if still valid.
    #[inline]
    pub(crate) fn cached_pte_table(&self, root: Pfn, tag: u64) -> Option<(Pfn, u8)> {
        let c = &self.walk_cache;
        (c.valid && c.root == root.0 && c.tag == tag && c.gen == self.pgtable_gen).then_some((Pfn(c.table), c.dir_bits))
    }

    /// Remember the PTE table of (`root`, `tag`).
    #[inline]
    pub(crate) fn cache_pte_table(&mut self, root: Pfn, tag: u64, table: Pfn, dir_bits: u8) {
        self.walk_cache = WalkCache {
            root: root.0,
            tag,
            table: table.0,
            gen: self.pgtable_gen,
            dir_bits,
            valid: true,
        };
    }

    /// Forget cached directory translations (after directory entries were rewritten in place, e.g. a table
    /// moved by mremap).
    pub fn flush_walk_cache(&mut self) {
        self.pgtable_gen += 1;
    }

    /// A page-table entry, or `None` when `table` is beyond the frame table (an entry read from untrusted data).
    #[inline]
    pub fn try_read_entry(&self, table: Pfn, idx: usize, width: usize) -> Option<u64> {
        let pg = self.pages.get(usize::try_from(table.0).ok()?)?;
        let Some(d) = pg.data.as_deref() else { return Some(0) };
        let off = idx * width;
        Some(if width == 8 {
            u64::from_le_bytes(d.0[off..off + 8].try_into().expect("8 bytes"))
        } else {
            u64::from(u32::from_le_bytes(d.0[off..off + 4].try_into().expect("4 bytes")))
        })
    }

    /// Store a page-table entry of `width` bytes.
    #[inline]
    pub fn write_entry(&mut self, table: Pfn, idx: usize, width: usize, val: u64) {
        let d = self.pages[table.0 as usize].data.get_or_insert_with(PageData::zeroed);
        let off = idx * width;
        if width == 8 {
            d.0[off..off + 8].copy_from_slice(&val.to_le_bytes());
        } else {
            d.0[off..off + 4].copy_from_slice(&(val as u32).to_le_bytes());
        }
    }

    // ---- LRU lists (`mm/swap.c: folio_add_lru`, `lru_cache_add`) ----

    /// The list a page belongs on, from its flags (`folio_lru_list`).
    pub fn lru_list_of(flags: PageFlags) -> LruList {
        if flags.contains(PageFlags::UNEVICTABLE) {
            return LruList::Unevictable;
        }
        let file = !flags.contains(PageFlags::SWAPBACKED);
        match (file, flags.contains(PageFlags::ACTIVE)) {
            (false, false) => LruList::InactiveAnon,
            (false, true) => LruList::ActiveAnon,
            (true, false) => LruList::InactiveFile,
            (true, true) => LruList::ActiveFile,
        }
    }

    /// Add a page at the head of the list its flags select, setting `PG_lru`.
    pub fn lru_add(&mut self, pfn: Pfn) {
        let idx = pfn.0 as u32;
        let list = Self::lru_list_of(self.page(pfn).flags) as usize;
        let old_head = self.lru[list].head;
        {
            let pg = self.page_mut(pfn);
            pg.flags |= PageFlags::LRU;
            pg.lru_prev = NIL;
            pg.lru_next = old_head;
        }
        if old_head != NIL {
            self.pages[old_head as usize].lru_prev = idx;
        } else {
            self.lru[list].tail = idx;
        }
        self.lru[list].head = idx;
        self.lru[list].len += 1;
    }

    /// Remove a page from its LRU list, clearing `PG_lru`.
    pub fn lru_del(&mut self, pfn: Pfn) {
        let list = Self::lru_list_of(self.page(pfn).flags) as usize;
        let (prev, next) = {
            let pg = self.page_mut(pfn);
            pg.flags.remove(PageFlags::LRU);
            let r = (pg.lru_prev, pg.lru_next);
            pg.lru_prev = NIL;
            pg.lru_next = NIL;
            r
        };
        if prev != NIL {
            self.pages[prev as usize].lru_next = next;
        } else {
            self.lru[list].head = next;
        }
        if next != NIL {
            self.pages[next as usize].lru_prev = prev;
        } else {
            self.lru[list].tail = prev;
        }
        self.lru[list].len -= 1;
    }

    /// Number of pages on an LRU list.
    pub fn lru_len(&self, list: LruList) -> u64 {
        self.lru[list as usize].len
    }

    /// The pages of an LRU list, head (most recently added) first.
    pub fn lru_iter(&self, list: LruList) -> impl Iterator<Item = Pfn> + '_ {
        let mut cur = self.lru[list as usize].head;
        std::iter::from_fn(move || {
            if cur == NIL {
                return None;
            }
            let p = cur;
            cur = self.pages[p as usize].lru_next;
            Some(Pfn(u64::from(p)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_metadata_fits_in_struct_page() {
        assert!(std::mem::size_of::<Page>() <= 64, "{}", std::mem::size_of::<Page>());
    }

    #[test]
    fn allocation_is_lazy_lifo_and_bounded() {
        let mut p = PhysMem::new(4);
        assert_eq!(p.high_water(), 1, "only the zero page exists at boot");
        let a = p.alloc().unwrap();
        let b = p.alloc().unwrap();
        let c = p.alloc().unwrap();
        assert_eq!((a, b, c), (Pfn(1), Pfn(2), Pfn(3)));
        assert_eq!(p.alloc(), None, "RAM exhausted");
        p.free(b);
        p.free(a);
        assert_eq!(p.alloc(), Some(a), "most recently freed first");
        assert_eq!(p.alloc(), Some(b));
        assert_eq!(p.nr_free(), 0);
    }

    #[test]
    fn metadata_per_resident_page_without_contents() {
        // 8 GiB of RAM, 100k resident pages: the table holds 100k records, not 2M.
        let mut p = PhysMem::new((8u64 << 30) >> 12);
        let n = 100_000;
        for _ in 0..n {
            p.alloc().unwrap();
        }
        let per_page = p.metadata_bytes() as f64 / n as f64;
        // The table grows by an eighth at a time, so its slack stays small.
        assert!(per_page <= 64.0, "{per_page} bytes per page");
        assert!(p.pages.capacity() < n + n / 8 + 1100);
    }

    #[test]
    fn contents_are_zero_until_written() {
        let mut p = PhysMem::new(8);
        let f = p.alloc().unwrap();
        let mut buf = [1u8; 4];
        p.read(f, 100, &mut buf);
        assert_eq!(buf, [0; 4]);
        p.write(f, 100, b"abcd");
        p.read(f, 100, &mut buf);
        assert_eq!(&buf, b"abcd");
        let g = p.alloc().unwrap();
        p.copy_page(f, g);
        p.read(g, 99, &mut buf);
        assert_eq!(&buf, b"\0abc");
        p.free(f);
        let f2 = p.alloc().unwrap();
        assert_eq!(f2, f);
        p.read(f2, 100, &mut buf);
        assert_eq!(buf, [0; 4], "a reused frame does not leak old bytes");
    }

    #[test]
    fn entries_little_endian_by_width() {
        let mut p = PhysMem::new(8);
        let t = p.alloc_pgtable().unwrap();
        p.write_entry(t, 3, 8, 0x8000_0000_aaaa_a067);
        assert_eq!(p.read_entry(t, 3, 8), 0x8000_0000_aaaa_a067);
        let d = p.page(t).data.as_ref().unwrap();
        assert_eq!(&d.0[24..32], &[0x67, 0xa0, 0xaa, 0xaa, 0, 0, 0, 0x80]);
        p.write_entry(t, 5, 4, 0xaaaa_a067);
        assert_eq!(p.read_entry(t, 5, 4), 0xaaaa_a067);
        // Entry 5 of a 4-byte table is the upper half of entry 2 of an 8-byte view of the same bytes.
        assert_eq!(p.read_entry(t, 2, 8) >> 32, 0xaaaa_a067);
    }

    #[test]
    fn lru_lists_link_and_unlink() {
        let mut p = PhysMem::new(8);
        let a = p.alloc().unwrap();
        let b = p.alloc().unwrap();
        let c = p.alloc().unwrap();
        p.page_mut(a).flags |= PageFlags::SWAPBACKED | PageFlags::ANON;
        p.page_mut(b).flags |= PageFlags::SWAPBACKED | PageFlags::ANON;
        p.lru_add(a);
        p.lru_add(b);
        p.lru_add(c);
        assert_eq!(p.lru_iter(LruList::InactiveAnon).collect::<Vec<_>>(), vec![b, a]);
        assert_eq!(p.lru_iter(LruList::InactiveFile).collect::<Vec<_>>(), vec![c]);
        p.free(b);
        assert_eq!(p.lru_iter(LruList::InactiveAnon).collect::<Vec<_>>(), vec![a]);
        assert_eq!(p.lru_len(LruList::InactiveAnon), 1);
        p.lru_del(a);
        assert_eq!(p.lru_len(LruList::InactiveAnon), 0);
        assert!(!p.page(a).flags.contains(PageFlags::LRU));
    }
}
