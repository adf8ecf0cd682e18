//! The VMA tree: an ordered set of non-overlapping VMAs with O(log n) lookup and free-gap search (the maple
//! tree of `mm->mm_mt`, `lib/maple_tree.c`; `find_vma`, `vma_prev`, `vma_next`, `mas_empty_area[_rev]`).
//!
//! Shape: a two-level B+ tree. VMAs live in address order in blocks of at most `BLOCK_MAX` (64), each with its
//! starts and ends copied into key arrays; the top level keeps, per block, its first start and last end, and
//! the blocks themselves (not pointers to them), each with the last end of every group of 8 VMAs. A separate
//! gap index holds each block's largest gap (the free space between a VMA and its predecessor, the maple
//! tree's `ma_gaps`) and a segment tree over those. So:
//! * `find_vma`: a branch-free binary search over the top level's last ends, then over the block's group
//!   ends, then a comparison with the ends of the (at most 8) VMAs of one group. Everything before the VMAs is
//!   small enough to stay cached, and the VMAs' loads are independent, so a random lookup costs one round of
//!   cache misses and consecutive lookups overlap in the CPU (keep branches on data out of this path: one
//!   mispredicted branch serializes them). The top-level search is skipped when the previous search's block
//!   (and then the position search when its position, or the next one) is still the answer, the common case
//!   for a sequence of operations in one place.
//! * insert/remove: those searches plus moving at most one block's elements (`BLOCK_MAX` is a constant); a
//!   block that overflows is split (in halves, or, when growing at an edge, leaving the full block full), one
//!   that runs nearly empty is joined with a neighbour; a split or join shifts the top-level arrays (a
//!   memmove of a few KiB).
//! * gap search: blocks whose gap may have changed are only marked; a search first recomputes them (or, after
//!   splits and joins, rebuilds the segment tree), then the segment tree finds the highest (or lowest) block
//!   holding a large enough gap in O(log n) and one block is scanned. MAP_FIXED-only workloads never pay for
//!   gap bookkeeping.
//!
//! Invariants (checked by [`VmaTree::check`]): VMAs are page aligned, non-empty, sorted and non-overlapping;
//! the caches (first starts, last ends, gaps) agree with the VMAs. The tree itself never merges or splits;
//! `mm/vma_ops.rs` does that. Code holding a `&mut Vma` from [`VmaTree::get_mut`], [`VmaTree::lookup_mut`]
//! or [`VmaTree::iter_mut`] must not change `start` or `end`; [`VmaTree::set_end`], [`VmaTree::set_start`],
//! `remove` and `insert` do that.

mod radix;

use std::cell::{Cell, OnceCell};

use crate::addr::VirtAddr;
use crate::mm::vma::Vma;
use radix::BlockRadix;

/// Largest block; a block is split in halves when it grows beyond it. Unit tests use tiny blocks so that the
/// property tests split and join blocks all the time.
const BLOCK_MAX: usize = if cfg!(test) { 10 } else { 64 };
/// A block smaller than this is joined with a neighbour when the two fit in one block.
const BLOCK_MIN: usize = BLOCK_MAX / 4;

/// A position: (block, index in block).
type Pos = (usize, usize);

/// VMAs per group (8 keys fill a cache line); `find` compares one group's VMAs.
const GROUP: usize = 8;
/// Length of a block's key arrays: `BLOCK_MAX` rounded up to whole lines.
const KEYS: usize = BLOCK_MAX.div_ceil(GROUP) * GROUP;

/// Key groups per block.
const GROUPS: usize = KEYS / GROUP;

/// A block's keys: the starts and ends of its VMAs, padded with `u64::MAX` (above every real key), kept apart
/// from the VMAs so that position searches read 8-byte keys instead of whole VMAs.
#[derive(Clone, Debug)]
struct Keys {
    /// `vmas[i].end` for `i < len`, then `u64::MAX`.
    ends: [u64; KEYS],
    /// `vmas[i].start` for `i < len`, then `u64::MAX`.
    starts: [u64; KEYS],
}

/// A block of VMAs. The top level holds the blocks themselves (not pointers), each with the last end of
/// every group of `GROUP` VMAs in one cache line next to the VMA vector's header, so that `find_vma` on a
/// random address costs one round of cache misses: the top-level search and `lasts` stay cached, and the
/// up to `GROUP` candidate VMAs' ends are loaded side by side (independent loads, whose misses overlap); the
/// answer is among them, so reading it costs nothing more. No data-dependent branches, so consecutive lookups
/// overlap in the CPU too.
#[derive(Clone, Debug)]
#[repr(C, align(64))]
struct Block {
    /// `keys.ends[g * GROUP + GROUP - 1]` for each group `g`.
    lasts: [u64; GROUPS],
    vmas: Vec<Vma>,
    keys: Box<Keys>,
}

impl Block {
    fn new() -> Block {
        Block {
            lasts: [u64::MAX; GROUPS],
            vmas: Vec::with_capacity(BLOCK_MAX),
            keys: Box::new(Keys {
                ends: [u64::MAX; KEYS],
                starts: [u64::MAX; KEYS],
            }),
        }
    }

    fn from_vmas(vmas: Vec<Vma>) -> Block {
        debug_assert!(vmas.len() <= BLOCK_MAX);
        let mut b = Block::new();
        for (i, v) in vmas.iter().enumerate() {
            b.keys.starts[i] = v.start.0;
            b.keys.ends[i] = v.end.0;
        }
        b.vmas.extend(vmas);
        b.sync_lasts();
        b
    }

    fn sync_lasts(&mut self) {
        for g in 0..GROUPS {
            self.lasts[g] = self.keys.ends[g * GROUP + GROUP - 1];
        }
    }

    #[inline]
    fn len(&self) -> usize {
        self.vmas.len()
    }

    /// The real keys.
    #[inline]
    fn ends(&self) -> &[u64] {
        &self.keys.ends[..self.len()]
    }
    #[inline]
    fn starts(&self) -> &[u64] {
        &self.keys.starts[..self.len()]
    }

    /// The number of keys `<= x` in a sorted, `u64::MAX`-padded array (`KEYS` if `x == u64::MAX`).
    #[inline(always)]
    fn count_le(keys: &[u64; KEYS], x: u64) -> usize {
        // Line g holds the answer when the last keys of lines 0..g are <= x: count those (independent loads).
        let mut g = 0;
        for l in 0..GROUPS {
            g += (keys[l * GROUP + GROUP - 1] <= x) as usize;
        }
        let g = g.min(GROUPS - 1);
        let line = &keys[g * GROUP..g * GROUP + GROUP];
        let mut n = g * GROUP;
        for &k in line {
            n += (k <= x) as usize;
        }
        n
    }

    /// The index of the first VMA ending above `addr` (`len` if none), for `find_vma`: the group from
    /// `lasts`, then the ends of that group's VMAs themselves. Indices past the last VMA are clamped to it,
    /// which only counts again when the answer is `len` anyway.
    #[inline(always)]
    fn index_end_above(&self, addr: u64) -> usize {
        let g = count_le(&self.lasts, addr).min(GROUPS - 1);
        let base = g * GROUP;
        let mut i = base;
        if let Some(group) = self.vmas.get(base..base + GROUP) {
            // A full group (all but a block's last): a fixed number of independent compares.
            for v in group {
                i += (v.end.0 <= addr) as usize;
            }
        } else {
            for v in self.vmas.get(base..).unwrap_or_default() {
                i += (v.end.0 <= addr) as usize;
            }
        }
        i
    }

    /// The index of the first VMA starting at or above `addr` (`len` if none).
    #[inline(always)]
    fn index_start_at_or_above(&self, addr: u64) -> usize {
        if addr == 0 {
            return 0;
        }
        Block::count_le(&self.keys.starts, addr - 1).min(self.len())
    }

    /// Insert `v` at index `i` (the block must not be full).
    fn insert(&mut self, i: usize, v: Vma) {
        let n = self.len();
        debug_assert!(n < BLOCK_MAX && i <= n);
        let k = &mut self.keys;
        k.starts.copy_within(i..n, i + 1);
        k.ends.copy_within(i..n, i + 1);
        k.starts[i] = v.start.0;
        k.ends[i] = v.end.0;
        self.vmas.insert(i, v);
        self.sync_lasts();
    }

    fn remove(&mut self, i: usize) -> Vma {
        let n = self.len();
        let k = &mut self.keys;
        k.starts.copy_within(i + 1..n, i);
        k.ends.copy_within(i + 1..n, i);
        k.starts[n - 1] = u64::MAX;
        k.ends[n - 1] = u64::MAX;
        self.sync_lasts();
        self.vmas.remove(i)
    }

    /// Move the VMAs from index `at` on into a new block.
    fn split_off(&mut self, at: usize) -> Block {
        let upper = Block::from_vmas(self.vmas.split_off(at));
        self.keys.starts[at..].fill(u64::MAX);
        self.keys.ends[at..].fill(u64::MAX);
        self.sync_lasts();
        upper
    }

    /// Append all of `other`'s VMAs (they fit).
    fn append(&mut self, other: Block) {
        let (n, m) = (self.len(), other.len());
        debug_assert!(n + m <= BLOCK_MAX);
        self.keys.starts[n..n + m].copy_from_slice(other.starts());
        self.keys.ends[n..n + m].copy_from_slice(other.ends());
        self.vmas.extend(other.vmas);
        self.sync_lasts();
    }
}

/// Fewer blocks than this are binary searched without a lookup table (a few steps, all cached). Unit tests
/// build tables for tiny trees too.
const RADIX_MIN_BLOCKS: usize = if cfg!(test) { 2 } else { 16 };

/// The number of elements `<= x` in a sorted slice, by a binary search without data-dependent branches (the
/// top level is small enough to stay in L1/L2; what costs is mispredicted branches).
#[inline(always)]
fn count_le(keys: &[u64], x: u64) -> usize {
    let mut size = keys.len();
    if size == 0 {
        return 0;
    }
    let mut base = 0;
    while size > 1 {
        let half = size / 2;
        let mid = base + half;
        base = std::hint::select_unpredictable(keys[mid] <= x, mid, base);
        size -= half;
    }
    base + (keys[base] <= x) as usize
}

/// The gap index: per block its largest gap before a VMA, and a segment tree (1-based heap layout, `seg_cap`
/// leaves) over those. Blocks whose gap may have changed are marked dirty; `stale` means blocks were added or
/// removed, so the tree must be rebuilt (`dirty_list` is only kept while not stale).
#[derive(Clone, Debug, Default)]
struct GapIndex {
    block_gap: Vec<u64>,
    dirty: Vec<bool>,
    dirty_list: Vec<usize>,
    stale: bool,
    seg: Vec<u64>,
    seg_cap: usize,
}

impl GapIndex {
    fn mark(&mut self, b: usize) {
        if !self.dirty[b] {
            self.dirty[b] = true;
            if !self.stale {
                self.dirty_list.push(b);
            }
        }
    }

    fn restructured(&mut self) {
        self.stale = true;
        self.dirty_list.clear();
    }

    fn rebuild_seg(&mut self) {
        let nb = self.block_gap.len();
        self.seg_cap = nb.next_power_of_two().max(1);
        self.seg.clear();
        self.seg.resize(2 * self.seg_cap, 0);
        self.seg[self.seg_cap..self.seg_cap + nb].copy_from_slice(&self.block_gap);
        for i in (1..self.seg_cap).rev() {
            self.seg[i] = self.seg[2 * i].max(self.seg[2 * i + 1]);
        }
        self.stale = false;
        self.dirty_list.clear();
    }

    fn update_seg(&mut self, b: usize, v: u64) {
        let mut i = self.seg_cap + b;
        self.seg[i] = v;
        while i > 1 {
            i /= 2;
            self.seg[i] = self.seg[2 * i].max(self.seg[2 * i + 1]);
        }
    }
}

/// The set of VMAs of one address space, in address order.
#[derive(Clone, Debug, Default)]
pub struct VmaTree {
    blocks: Vec<Block>,
    /// `vmas[0].start` of each block.
    first_start: Vec<u64>,
    /// `vmas.last().end` of each block.
    last_end: Vec<u64>,
    /// Each block's largest gap and a segment tree over them, brought up to date lazily by gap searches (so
    /// that MAP_FIXED-only workloads never pay for it).
    gaps: std::cell::RefCell<GapIndex>,
    /// The block the last search ended in (a lookup cache in the spirit of the old `vmacache`); any value is
    /// safe, a stale one only costs the binary search it would have saved.
    hint: std::cell::Cell<usize>,
    /// The position the last search ended at (same idea, one level down).
    pos_hint: std::cell::Cell<Pos>,
    /// A lookup table from addresses to blocks, built after enough searches since the last change to the top
    /// level to pay for it (see `radix.rs`), dropped by the next change.
    radix: OnceCell<BlockRadix>,
    /// Top-level binary searches since the last change (or since the table was built), counting towards
    /// `4 * blocks`, which builds the table.
    searches: Cell<usize>,
    /// A table was dropped and not rebuilt yet: searches start three quarters of the way.
    had_table: bool,
    len: usize,
}

impl VmaTree {
    pub fn new() -> Self {
        VmaTree::default()
    }

    /// `mm->map_count`.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    // ---- positions ----

    #[inline]
    fn at(&self, p: Pos) -> &Vma {
        &self.blocks[p.0].vmas[p.1]
    }

    /// The position after `p` (may be the end position `(nblocks, 0)`).
    #[inline]
    fn next_pos(&self, p: Pos) -> Pos {
        if p.1 + 1 < self.blocks[p.0].vmas.len() {
            (p.0, p.1 + 1)
        } else {
            (p.0 + 1, 0)
        }
    }

    #[inline]
    fn prev_pos(&self, p: Pos) -> Option<Pos> {
        if p.1 > 0 {
            Some((p.0, p.1 - 1))
        } else if p.0 > 0 {
            Some((p.0 - 1, self.blocks[p.0 - 1].vmas.len() - 1))
        } else {
            None
        }
    }

    #[inline]
    fn is_end(&self, p: Pos) -> bool {
        p.0 >= self.blocks.len()
    }

    /// The first block whose first VMA starts at or above `addr` (with the same hint).
    #[inline]
    fn block_start_at_or_above(&self, addr: u64) -> usize {
        let h = self.hint.get();
        let n = self.first_start.len();
        // Block h+1 is the answer when block h starts below addr and block h+1 does not.
        if h < n && self.first_start[h] < addr && (h + 1 == n || self.first_start[h + 1] >= addr) {
            return h + 1;
        }
        let b = self.first_start.partition_point(|&s| s < addr);
        self.hint.set(b.saturating_sub(1));
        b
    }

    /// First position whose VMA ends above `addr` (the end position if none).
    #[inline]
    fn pos_end_above(&self, addr: u64) -> Pos {
        // Operations cluster (an mmap, the fault, the mprotect and the munmap that follow touch one place), so
        // the block of the previous search, and within it the position of the previous search or the one
        // after it, are usually the answer again. The hints depend on the previous search's result, which may
        // still be waiting for memory: a mispredicted branch on it would throw away this search's speculative
        // work and serialize independent lookups, so each test is one branch on `&`-combined comparisons (for
        // random addresses it always fails and is predicted), and the first one is cheap (two cached top-level
        // keys), since for random addresses it is pure overhead.
        let h = self.hint.get();
        if let Some(&e) = self.last_end.get(h) {
            if (addr < e) & (h == 0 || self.last_end[h - 1] <= addr) {
                return self.pos_in_hinted_block(h, addr);
            }
        }
        // Past the last VMA (operations at the top of the address space, or a growing heap): one
        // predictable compare instead of the search.
        let nb = self.last_end.len();
        if self.last_end.last().is_none_or(|&e| e <= addr) {
            return (nb, 0);
        }
        let b = self.top_search(addr);
        self.hint.set(b);
        if b == self.blocks.len() {
            return (b, 0);
        }
        let i = self.blocks[b].index_end_above(addr);
        self.pos_hint.set((b, i));
        (b, i)
    }

    /// The number of blocks whose last end is `<= addr`, for an address below the last block's end: the
    /// lookup table's answer, or the binary search's (which, repeated often enough without a change, builds
    /// the table).
    #[inline(always)]
    fn top_search(&self, addr: u64) -> usize {
        if let Some(r) = self.radix.get() {
            return r.block_of(&self.last_end, addr);
        }
        let n = self.searches.get() + 1;
        self.searches.set(n);
        let nb = self.last_end.len();
        if nb >= RADIX_MIN_BLOCKS && n >= 4 * nb {
            return self
                .radix
                .get_or_init(|| BlockRadix::build(&self.first_start, &self.last_end))
                .block_of(&self.last_end, addr);
        }
        count_le(&self.last_end, addr)
    }

    /// Build the lookup table now (tests use it to exercise both search paths on the same tree).
    #[cfg(test)]
    fn build_radix(&self) -> bool {
        self.last_end.len() >= RADIX_MIN_BLOCKS
            && self
                .radix
                .get_or_init(|| BlockRadix::build(&self.first_start, &self.last_end))
                .check(&self.last_end)
                .is_ok()
    }

    /// The top level changed: the lookup table is stale.
    #[inline]
    fn top_changed(&mut self) {
        // Once a table existed, lookups have dominated: from then on it is rebuilt after a quarter of a search
        // per block instead of four (a rebuild, a pass over the blocks and about two buckets each, costs about
        // what that many binary searches do, each some 25 ns more than a table lookup among 1,000 blocks). A
        // burst of changes costs no rebuild as long as fewer searches come between them.
        if self.radix.take().is_some() {
            self.had_table = true;
        }
        let nb = self.last_end.len();
        self.searches.set(if self.had_table { 4 * nb - nb / 4 } else { 0 });
    }

    /// `pos_end_above` in block `b`, which holds the answer, trying the position hint first. It reads the
    /// VMAs, not the keys: the previous search loaded those.
    #[inline]
    fn pos_in_hinted_block(&self, b: usize, addr: u64) -> Pos {
        let blk = &self.blocks[b];
        let (hb, hi) = self.pos_hint.get();
        let n = blk.len();
        if hb == b && hi < n {
            let before = if hi > 0 {
                blk.vmas[hi - 1].end.0
            } else {
                self.end_before((hb, 0))
            };
            let e0 = blk.vmas[hi].end.0;
            let e1 = blk.vmas[(hi + 1).min(n - 1)].end.0;
            let hit0 = (before <= addr) & (addr < e0);
            let hit1 = (e0 <= addr) & (addr < e1) & (hi + 1 < n);
            if hit0 | hit1 {
                let p = (hb, hi + hit1 as usize);
                self.pos_hint.set(p);
                return p;
            }
        }
        let i = blk.index_end_above(addr);
        self.pos_hint.set((b, i));
        (b, i)
    }

    /// The end of the VMA before position `p` (0 if none), for checking a hinted position.
    #[inline]
    fn end_before(&self, p: Pos) -> u64 {
        if p.1 > 0 {
            self.blocks[p.0].keys.ends[p.1 - 1]
        } else if p.0 > 0 {
            self.last_end[p.0 - 1]
        } else {
            0
        }
    }

    /// The start of the VMA before position `p` (None if none).
    #[inline]
    fn start_before(&self, p: Pos) -> Option<u64> {
        if p.1 > 0 {
            Some(self.blocks[p.0].keys.starts[p.1 - 1])
        } else if p.0 > 0 {
            self.blocks[p.0 - 1].starts().last().copied()
        } else {
            None
        }
    }

    /// First position whose VMA starts at or above `addr`.
    fn pos_start_at_or_above(&self, addr: u64) -> Pos {
        let (hb, hi) = self.pos_hint.get();
        if let Some(blk) = self.blocks.get(hb) {
            for i in [hi, hi + 1] {
                if i < blk.len() && blk.keys.starts[i] >= addr && self.start_before((hb, i)).is_none_or(|s| s < addr) {
                    self.pos_hint.set((hb, i));
                    return (hb, i);
                }
            }
        }
        let b = self.block_start_at_or_above(addr);
        // The answer is in block b-1 (after its first element) or at the start of block b.
        if b > 0 {
            let blk = &self.blocks[b - 1];
            let i = blk.index_start_at_or_above(addr);
            if i < blk.len() {
                return (b - 1, i);
            }
        }
        (b, 0)
    }

    /// The gap before position `p`: `[end of the previous VMA (or 0), start of p (or u64::MAX))`.
    #[inline]
    fn gap_before(&self, p: Pos) -> (u64, u64) {
        let gs = self.prev_pos(p).map_or(0, |q| self.at(q).end.0);
        let ge = if self.is_end(p) { u64::MAX } else { self.at(p).start.0 };
        (gs, ge)
    }

    // ---- lookups ----

    /// `find_vma`: the first VMA with `end > addr` (it may start above `addr`).
    #[inline(always)]
    pub fn find(&self, addr: VirtAddr) -> Option<&Vma> {
        let p = self.pos_end_above(addr.0);
        if self.is_end(p) {
            None
        } else {
            Some(self.at(p))
        }
    }

    /// `vma_lookup`: the VMA containing `addr`.
    #[inline]
    pub fn lookup(&self, addr: VirtAddr) -> Option<&Vma> {
        self.find(addr).filter(|v| v.start <= addr)
    }

    /// The VMA containing `addr`, mutably. Its `start` and `end` must not change through it.
    pub fn lookup_mut(&mut self, addr: VirtAddr) -> Option<&mut Vma> {
        let p = self.pos_end_above(addr.0);
        if self.is_end(p) {
            return None;
        }
        let v = &mut self.blocks[p.0].vmas[p.1];
        (v.start <= addr).then_some(v)
    }

    /// The VMA starting exactly at `start`.
    pub fn get(&self, start: VirtAddr) -> Option<&Vma> {
        self.lookup(start).filter(|v| v.start == start)
    }

    /// The VMA starting exactly at `start`, mutably (its `start` and `end` must not change).
    pub fn get_mut(&mut self, start: VirtAddr) -> Option<&mut Vma> {
        self.lookup_mut(start).filter(|v| v.start == start)
    }

    /// `vma_prev` of an address: the last VMA that starts below `addr`.
    pub fn prev(&self, addr: VirtAddr) -> Option<&Vma> {
        let p = self.pos_start_at_or_above(addr.0);
        self.prev_pos(p).map(|q| self.at(q))
    }

    /// The first VMA that starts at or above `addr`.
    pub fn next_from(&self, addr: VirtAddr) -> Option<&Vma> {
        let p = self.pos_start_at_or_above(addr.0);
        (!self.is_end(p)).then(|| self.at(p))
    }

    /// The first VMA, and the last one.
    pub fn first(&self) -> Option<&Vma> {
        self.blocks.first().and_then(|b| b.vmas.first())
    }
    pub fn last(&self) -> Option<&Vma> {
        self.blocks.last().and_then(|b| b.vmas.last())
    }

    /// All VMAs in address order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Vma> + '_ {
        self.blocks.iter().flat_map(|b| b.vmas.iter())
    }

    /// All VMAs in address order, mutably (starts and ends must not change).
    pub fn iter_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut Vma> + '_ {
        self.blocks.iter_mut().flat_map(|b| b.vmas.iter_mut())
    }

    /// VMAs that intersect `[start, end)`, in address order.
    pub fn overlapping(&self, start: VirtAddr, end: VirtAddr) -> impl Iterator<Item = &Vma> + '_ {
        let p = self.pos_end_above(start.0);
        let e = end.0;
        let nb = self.blocks.len();
        let blocks = &self.blocks;
        let (b0, i0) = p;
        (b0..nb)
            .flat_map(move |b| {
                let skip = if b == b0 { i0 } else { 0 };
                blocks[b].vmas[skip..].iter()
            })
            .take_while(move |v| v.start.0 < e)
    }

    /// Start addresses of the VMAs that intersect `[start, end)` (for loops that mutate the tree).
    pub fn starts_overlapping(&self, start: VirtAddr, end: VirtAddr) -> Vec<VirtAddr> {
        self.overlapping(start, end).map(|v| v.start).collect()
    }

    // ---- updates ----

    /// Insert a VMA. Panics in debug builds if it overlaps another one (a model bug, never an input error).
    pub fn insert(&mut self, vma: Vma) {
        debug_assert!(vma.start < vma.end, "empty VMA {vma:?}");
        debug_assert!(
            self.find(vma.start).is_none_or(|n| n.start >= vma.end),
            "overlapping VMA {vma:?}"
        );
        self.len += 1;
        if self.blocks.is_empty() {
            self.blocks.push(Block::from_vmas(vec![vma]));
            self.block_inserted(0);
            return;
        }
        let s = vma.start.0;
        // The last block starting below the new VMA (block 0 if none); insertions cluster, so the hint of the
        // search that preceded this one (mmap looks the place up first) usually answers.
        let b = self.block_start_at_or_above(s).saturating_sub(1);
        let blk = &mut self.blocks[b];
        let i = blk.index_start_at_or_above(s);
        if blk.len() < BLOCK_MAX {
            blk.insert(i, vma);
            // The new VMA's own gap and its successor's (maybe the next block's first) changed.
            self.refresh_block(b);
            return;
        }
        // A full block is split in halves, except when growing at an edge (sequential mapping, top-down or
        // bottom-up): then the full block stays full and the new VMA starts a block of its own, which keeps
        // blocks dense and the top level small.
        if i == 0 || i == BLOCK_MAX {
            let nb = if i == 0 { b } else { b + 1 };
            self.blocks.insert(nb, Block::from_vmas(vec![vma]));
            self.block_inserted(nb);
            self.refresh_block(nb);
            self.refresh_block(if i == 0 { b + 1 } else { b });
            return;
        }
        let half = BLOCK_MAX / 2;
        let mut upper = blk.split_off(half);
        if i <= half {
            blk.insert(i, vma);
        } else {
            upper.insert(i - half, vma);
        }
        self.blocks.insert(b + 1, upper);
        self.block_inserted(b + 1);
        self.refresh_block(b + 1);
        self.refresh_block(b);
    }

    /// Remove the VMA starting at `start`.
    pub fn remove(&mut self, start: VirtAddr) -> Option<Vma> {
        let p = self.pos_end_above(start.0);
        if self.is_end(p) || self.at(p).start != start {
            return None;
        }
        let (b, i) = p;
        let blk = &mut self.blocks[b];
        let v = blk.remove(i);
        self.len -= 1;
        let n = blk.len();
        if n == 0 {
            self.blocks.remove(b);
            self.block_removed(b);
        } else if n < BLOCK_MIN {
            let into = self.try_join(b).unwrap_or(b);
            self.refresh_block(into);
        } else {
            self.refresh_block(b);
        }
        Some(v)
    }

    /// Join block `b` with a neighbour if the two fit in one block; returns the joined block's index.
    fn try_join(&mut self, b: usize) -> Option<usize> {
        let n = self.blocks[b].vmas.len();
        let into = if b + 1 < self.blocks.len() && n + self.blocks[b + 1].vmas.len() <= BLOCK_MAX {
            b
        } else if b > 0 && n + self.blocks[b - 1].vmas.len() <= BLOCK_MAX {
            b - 1
        } else {
            return None;
        };
        let upper = self.blocks.remove(into + 1);
        self.blocks[into].append(upper);
        self.block_removed(into + 1);
        Some(into)
    }

    /// Move the end of the VMA starting at `start` (the caller guarantees no overlap results).
    pub fn set_end(&mut self, start: VirtAddr, end: VirtAddr) {
        let p = self.pos_end_above(start.0);
        if self.is_end(p) || self.at(p).start != start {
            return;
        }
        debug_assert!(end > start);
        let (b, i) = p;
        self.blocks[b].vmas[i].end = end;
        self.blocks[b].keys.ends[i] = end.0;
        self.blocks[b].sync_lasts();
        self.refresh_block(b);
    }

    /// Move the start of the VMA starting at `start` to `new_start` (stack growth, `vma_expand` downwards; the
    /// caller guarantees no overlap results). pgoff is the caller's business.
    pub fn set_start(&mut self, start: VirtAddr, new_start: VirtAddr) {
        let p = self.pos_end_above(start.0);
        if self.is_end(p) || self.at(p).start != start {
            return;
        }
        let (b, i) = p;
        debug_assert!(new_start < self.blocks[b].vmas[i].end);
        self.blocks[b].vmas[i].start = new_start;
        self.blocks[b].keys.starts[i] = new_start.0;
        self.refresh_block(b);
    }

    // ---- caches ----

    /// The largest gap before any VMA of block `b`, computed from the keys.
    fn block_max_gap(&self, b: usize) -> u64 {
        let blk = &self.blocks[b];
        let mut prev_end = if b > 0 {
            *self.blocks[b - 1].ends().last().expect("non-empty")
        } else {
            0
        };
        let mut m = 0;
        for (s, e) in blk.starts().iter().zip(blk.ends()) {
            m = m.max(s - prev_end);
            prev_end = *e;
        }
        m
    }

    /// Block `b`'s contents changed: update its bounds and mark its gap (and its successor's, whose first gap
    /// depends on `b`'s last end) for recomputation at the next gap search.
    fn refresh_block(&mut self, b: usize) {
        let blk = &self.blocks[b];
        let (old, new) = (self.last_end[b], blk.keys.ends[blk.len() - 1]);
        self.first_start[b] = blk.keys.starts[0];
        self.last_end[b] = new;
        if let Some(r) = self.radix.get_mut() {
            if !r.last_end_moved(old, new) {
                self.top_changed();
            }
        }
        let nb = self.blocks.len();
        let g = self.gaps.get_mut();
        g.mark(b);
        if b + 1 < nb {
            g.mark(b + 1);
        }
    }

    /// A block was inserted at index `b`.
    fn block_inserted(&mut self, b: usize) {
        self.top_changed();
        let blk = &self.blocks[b];
        self.first_start.insert(b, blk.keys.starts[0]);
        self.last_end.insert(b, blk.keys.ends[blk.len() - 1]);
        let g = self.gaps.get_mut();
        g.block_gap.insert(b, 0);
        g.dirty.insert(b, false);
        g.restructured();
        g.mark(b);
    }

    /// The block at index `b` was removed; the one now at `b` has a new predecessor.
    fn block_removed(&mut self, b: usize) {
        self.top_changed();
        self.first_start.remove(b);
        self.last_end.remove(b);
        let g = self.gaps.get_mut();
        g.block_gap.remove(b);
        g.dirty.remove(b);
        g.restructured();
        if b < self.blocks.len() {
            g.mark(b);
        }
    }

    /// Bring the gap index up to date (recompute marked blocks, rebuild or update the segment tree).
    fn gap_index(&self) -> std::cell::Ref<'_, GapIndex> {
        {
            let mut g = self.gaps.borrow_mut();
            let nb = self.blocks.len();
            if g.stale {
                for b in 0..nb {
                    if g.dirty[b] {
                        g.block_gap[b] = self.block_max_gap(b);
                        g.dirty[b] = false;
                    }
                }
                g.rebuild_seg();
            } else {
                let list = std::mem::take(&mut g.dirty_list);
                for &b in &list {
                    let v = self.block_max_gap(b);
                    g.block_gap[b] = v;
                    g.dirty[b] = false;
                    g.update_seg(b, v);
                }
                g.dirty_list = list;
                g.dirty_list.clear();
            }
        }
        self.gaps.borrow()
    }

    /// The highest block in `[lo, hi]` whose largest gap is at least `size`.
    #[allow(clippy::too_many_arguments)]
    fn seg_rightmost(
        g: &GapIndex,
        node: usize,
        nl: usize,
        nr: usize,
        lo: usize,
        hi: usize,
        size: u64,
    ) -> Option<usize> {
        if nr < lo || nl > hi || g.seg[node] < size {
            return None;
        }
        if nl == nr {
            return Some(nl);
        }
        let mid = (nl + nr) / 2;
        Self::seg_rightmost(g, 2 * node + 1, mid + 1, nr, lo, hi, size)
            .or_else(|| Self::seg_rightmost(g, 2 * node, nl, mid, lo, hi, size))
    }

    /// The lowest block in `[lo, hi]` whose largest gap is at least `size`.
    #[allow(clippy::too_many_arguments)]
    fn seg_leftmost(g: &GapIndex, node: usize, nl: usize, nr: usize, lo: usize, hi: usize, size: u64) -> Option<usize> {
        if nr < lo || nl > hi || g.seg[node] < size {
            return None;
        }
        if nl == nr {
            return Some(nl);
        }
        let mid = (nl + nr) / 2;
        Self::seg_leftmost(g, 2 * node, nl, mid, lo, hi, size)
            .or_else(|| Self::seg_leftmost(g, 2 * node + 1, mid + 1, nr, lo, hi, size))
    }

    /// The highest position in `[a, b]` (inclusive, both real VMAs, `a <= b`) whose gap is at least `size`.
    fn rightmost_fit(&self, a: Pos, b: Pos, size: u64) -> Option<Pos> {
        let scan = |blk: usize, from: usize, to: usize| -> Option<Pos> {
            (from..=to).rev().map(|i| (blk, i)).find(|&p| {
                let (gs, ge) = self.gap_before(p);
                ge - gs >= size
            })
        };
        if a.0 == b.0 {
            return scan(a.0, a.1, b.1);
        }
        if let Some(p) = scan(b.0, 0, b.1) {
            return Some(p);
        }
        if a.0 + 1 < b.0 {
            let g = self.gap_index();
            if let Some(blk) = Self::seg_rightmost(&g, 1, 0, g.seg_cap - 1, a.0 + 1, b.0 - 1, size) {
                return scan(blk, 0, self.blocks[blk].vmas.len() - 1);
            }
        }
        scan(a.0, a.1, self.blocks[a.0].vmas.len() - 1)
    }

    /// The lowest position in `[a, b]` (inclusive, both real VMAs, `a <= b`) whose gap is at least `size`.
    fn leftmost_fit(&self, a: Pos, b: Pos, size: u64) -> Option<Pos> {
        let scan = |blk: usize, from: usize, to: usize| -> Option<Pos> {
            (from..=to).map(|i| (blk, i)).find(|&p| {
                let (gs, ge) = self.gap_before(p);
                ge - gs >= size
            })
        };
        if a.0 == b.0 {
            return scan(a.0, a.1, b.1);
        }
        if let Some(p) = scan(a.0, a.1, self.blocks[a.0].vmas.len() - 1) {
            return Some(p);
        }
        if a.0 + 1 < b.0 {
            let g = self.gap_index();
            if let Some(blk) = Self::seg_leftmost(&g, 1, 0, g.seg_cap - 1, a.0 + 1, b.0 - 1, size) {
                return scan(blk, 0, self.blocks[blk].vmas.len() - 1);
            }
        }
        scan(b.0, 0, b.1)
    }

    /// The positions bounding a gap search in `[low, high)`: `e`, the first VMA ending at or above `low` (its
    /// gap may straddle `low`), and `j`, the first VMA starting at or above `high` (its gap may straddle
    /// `high`); `e <= j`. Positions strictly between them have gaps wholly inside `[low, high)`; gaps of other
    /// positions lie wholly outside.
    fn gap_bounds(&self, low: u64, high: u64) -> (Pos, Pos) {
        let e = if low == 0 { (0, 0) } else { self.pos_end_above(low - 1) };
        (e, self.pos_start_at_or_above(high))
    }

    /// `vma_iter_area_highest` (`mas_empty_area_rev`): the end of the highest gap, clipped to `[low, high)`,
    /// whose clipped length is at least `size`.
    pub fn gap_highest(&self, low: u64, high: u64, size: u64) -> Option<u64> {
        if size == 0 || high <= low || high - low < size {
            return None;
        }
        let fits = |(gs, ge): (u64, u64)| -> Option<u64> {
            let (cs, ce) = (gs.max(low), ge.min(high));
            (ce > cs && ce - cs >= size).then_some(ce)
        };
        let (k, j) = self.gap_bounds(low, high);
        // The gap before j, clipped at high (and maybe at low).
        if let Some(e) = fits(self.gap_before(j)) {
            return Some(e);
        }
        // Gaps wholly inside: positions strictly between k and j.
        if k < j {
            if let Some(last) = self.prev_pos(j) {
                let first = self.next_pos(k);
                if first <= last {
                    if let Some(p) = self.rightmost_fit(first, last, size) {
                        return Some(self.at(p).start.0);
                    }
                }
            }
            return fits(self.gap_before(k));
        }
        None
    }

    /// `vma_iter_area_lowest` (`mas_empty_area`): the start of the lowest gap, clipped to `[low, high)`, whose
    /// clipped length is at least `size`.
    pub fn gap_lowest(&self, low: u64, high: u64, size: u64) -> Option<u64> {
        if size == 0 || high <= low || high - low < size {
            return None;
        }
        let fits = |(gs, ge): (u64, u64)| -> Option<u64> {
            let (cs, ce) = (gs.max(low), ge.min(high));
            (ce > cs && ce - cs >= size).then_some(cs)
        };
        let (k, j) = self.gap_bounds(low, high);
        if let Some(s) = fits(self.gap_before(k)) {
            return Some(s);
        }
        if k < j {
            if let Some(last) = self.prev_pos(j) {
                let first = self.next_pos(k);
                if first <= last {
                    if let Some(p) = self.leftmost_fit(first, last, size) {
                        return Some(self.gap_before(p).0);
                    }
                }
            }
            return fits(self.gap_before(j));
        }
        None
    }

    /// Gaps between VMAs (and before the first / after the last) within `[low, high)`, highest first.
    /// Each gap is `(gap_start, gap_end, next_vma)`, where `next_vma` is the VMA ending the gap, if any.
    /// (A linear walk, for renderers and tests; searches use [`VmaTree::gap_highest`].)
    pub fn gaps_rev(&self, low: u64, high: u64) -> impl Iterator<Item = (u64, u64, Option<&Vma>)> + '_ {
        let mut out = Vec::new();
        let mut next: Option<&Vma> = None;
        let mut it = self.iter().rev().peekable();
        loop {
            let prev = it.next();
            let gs = prev.map_or(0, |p| p.end.0).max(low);
            let ge = next.map_or(u64::MAX, |n| n.start.0).min(high);
            if ge > gs {
                out.push((gs, ge, next));
            }
            match prev {
                Some(p) if p.end.0 > low => next = Some(p),
                _ => break,
            }
        }
        out.into_iter()
    }

    /// Check the tree's invariants; returns a description of the first violation.
    pub fn check(&self) -> Result<(), String> {
        let mut prev_end = 0u64;
        let mut count = 0;
        for (i, v) in self.iter().enumerate() {
            if !v.start.is_aligned() || !v.end.is_aligned() || v.start >= v.end {
                return Err(format!(
                    "VMA #{i} {:#x}-{:#x} is empty or misaligned",
                    v.start.0, v.end.0
                ));
            }
            if i > 0 && v.start.0 < prev_end {
                return Err(format!(
                    "VMA #{i} {:#x}-{:#x} overlaps its predecessor",
                    v.start.0, v.end.0
                ));
            }
            prev_end = v.end.0;
            count += 1;
        }
        if count != self.len {
            return Err(format!("len {} but {count} VMAs", self.len));
        }
        for (b, blk) in self.blocks.iter().enumerate() {
            if blk.vmas.is_empty() || blk.vmas.len() > BLOCK_MAX {
                return Err(format!("block {b} has {} VMAs", blk.vmas.len()));
            }
            let starts: Vec<u64> = blk.vmas.iter().map(|v| v.start.0).collect();
            let ends: Vec<u64> = blk.vmas.iter().map(|v| v.end.0).collect();
            let k = &blk.keys;
            let padded = k.starts[blk.len()..]
                .iter()
                .chain(&k.ends[blk.len()..])
                .all(|&k| k == u64::MAX);
            let lasts = (0..GROUPS).all(|g| blk.lasts[g] == k.ends[g * GROUP + GROUP - 1]);
            if starts != blk.starts() || ends != blk.ends() || !padded || !lasts {
                return Err(format!(
                    "block {b} keys are stale (a start or end changed behind the tree's back)"
                ));
            }
            if self.first_start[b] != starts[0] || self.last_end[b] != ends[ends.len() - 1] {
                return Err(format!("block {b} bounds are stale"));
            }
            let g = self.block_max_gap(b);
            let idx = self.gap_index();
            if idx.block_gap[b] != g || idx.seg[idx.seg_cap + b] != g {
                return Err(format!("block {b} gap cache is stale"));
            }
        }
        if self.first_start.len() != self.blocks.len() || self.last_end.len() != self.blocks.len() {
            return Err("top level out of sync".into());
        }
        if let Some(r) = self.radix.get() {
            r.check(&self.last_end)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::vma::VmFlags;
    use proptest::prelude::*;

    fn vma(s: u64, e: u64) -> Vma {
        Vma::new_anon(VirtAddr(s << 12), VirtAddr(e << 12), VmFlags::READ)
    }

    fn tree(ranges: &[(u64, u64)]) -> VmaTree {
        let mut t = VmaTree::new();
        for &(s, e) in ranges {
            t.insert(vma(s, e));
        }
        t
    }

    #[test]
    fn find_and_lookup() {
        let t = tree(&[(1, 3), (5, 6)]);
        assert_eq!(t.find(VirtAddr(0)).unwrap().start, VirtAddr(0x1000));
        assert_eq!(t.find(VirtAddr(0x3000)).unwrap().start, VirtAddr(0x5000));
        assert!(t.find(VirtAddr(0x6000)).is_none());
        assert!(t.lookup(VirtAddr(0x3000)).is_none());
        assert_eq!(t.lookup(VirtAddr(0x2fff)).unwrap().start, VirtAddr(0x1000));
        assert_eq!(t.overlapping(VirtAddr(0x2000), VirtAddr(0x5001)).count(), 2);
        assert_eq!(t.overlapping(VirtAddr(0x3000), VirtAddr(0x5000)).count(), 0);
        t.check().unwrap();
    }

    #[test]
    fn gaps_highest_first() {
        let t = tree(&[(1, 3), (5, 6)]);
        let g: Vec<_> = t.gaps_rev(0, 0x10000).map(|(s, e, _)| (s, e)).collect();
        assert_eq!(g, vec![(0x6000, 0x10000), (0x3000, 0x5000), (0, 0x1000)]);
        let g: Vec<_> = t.gaps_rev(0x2000, 0x5800).map(|(s, e, _)| (s, e)).collect();
        assert_eq!(g, vec![(0x3000, 0x5000)]);
    }

    /// The naive model: a sorted Vec of (start, end) pages.
    #[derive(Default, Debug)]
    struct Model(Vec<(u64, u64)>);

    impl Model {
        fn find(&self, a: u64) -> Option<(u64, u64)> {
            self.0.iter().copied().find(|&(_, e)| e > a)
        }
        fn prev(&self, a: u64) -> Option<(u64, u64)> {
            self.0.iter().copied().rfind(|&(s, _)| s < a)
        }
        /// Gaps in bytes, clipped to `[low, high)`.
        fn gaps(&self, low: u64, high: u64) -> Vec<(u64, u64)> {
            let mut g = Vec::new();
            let mut prev = 0;
            let bytes = self.0.iter().map(|&(s, e)| (s << 12, e << 12));
            for (s, e) in bytes.chain(std::iter::once((u64::MAX, u64::MAX))) {
                let (cs, ce) = (prev.max(low), s.min(high));
                if ce > cs {
                    g.push((cs, ce));
                }
                prev = e;
            }
            g
        }
        fn highest(&self, low: u64, high: u64, size: u64) -> Option<u64> {
            self.gaps(low, high)
                .into_iter()
                .rev()
                .find(|&(s, e)| e - s >= size)
                .map(|(_, e)| e)
        }
        fn lowest(&self, low: u64, high: u64, size: u64) -> Option<u64> {
            self.gaps(low, high)
                .into_iter()
                .find(|&(s, e)| e - s >= size)
                .map(|(s, _)| s)
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u64, u64),
        Remove(u64),
        SetEnd(u64, u64),
        SetStart(u64, u64),
    }

    /// Page numbers in bands of 1,000 pages 4 GiB apart, so that the tree's blocks form several clusters
    /// (`radix.rs`), with VMAs that can cross from one band into the gap after it.
    fn spread(p: u64) -> u64 {
        p + (p / 1000) * (1 << 20)
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u64..3000, 1u64..20).prop_map(|(s, l)| Op::Insert(spread(s), l)),
            2 => (0u64..3000).prop_map(|a| Op::Remove(spread(a))),
            1 => (0u64..3000, 1u64..20).prop_map(|(s, l)| Op::SetEnd(spread(s), l)),
            1 => (0u64..3000, 1u64..20).prop_map(|(s, l)| Op::SetStart(spread(s), l)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn tree_matches_sorted_vec(ops in proptest::collection::vec(op(), 1..600), probes in proptest::collection::vec((0u64..3100, 0u64..3100, 1u64..40), 20)) {
            let probes: Vec<(u64, u64, u64)> = probes.into_iter().map(|(a, b, n)| (spread(a), spread(b), n)).collect();
            let mut t = VmaTree::new();
            let mut m = Model::default();
            for (k, op) in ops.into_iter().enumerate() {
                // Every other operation runs with the lookup table in place (it must be dropped, and `check`
                // verifies any table present against the top level).
                if k % 2 == 0 {
                    t.build_radix();
                }
                match op {
                    Op::Insert(s, l) => {
                        let e = s + l;
                        if m.0.iter().all(|&(a, b)| b <= s || a >= e) {
                            t.insert(vma(s, e));
                            let i = m.0.partition_point(|&(a, _)| a < s);
                            m.0.insert(i, (s, e));
                        }
                    }
                    Op::Remove(a) => {
                        // Remove the VMA containing or after page a, if any.
                        if let Some((s, _)) = m.find(a) {
                            let v = t.remove(VirtAddr(s << 12)).unwrap();
                            prop_assert_eq!(v.start.0, s << 12);
                            m.0.retain(|&(x, _)| x != s);
                        }
                    }
                    Op::SetEnd(a, l) => {
                        if let Some(i) = m.0.iter().position(|&(_, e)| e > a) {
                            let (s, _) = m.0[i];
                            let limit = m.0.get(i + 1).map_or(u64::MAX, |n| n.0);
                            let ne = (s + l).min(limit);
                            t.set_end(VirtAddr(s << 12), VirtAddr(ne << 12));
                            m.0[i].1 = ne;
                        }
                    }
                    Op::SetStart(a, l) => {
                        if let Some(i) = m.0.iter().position(|&(_, e)| e > a) {
                            let (s, e) = m.0[i];
                            let floor = if i > 0 { m.0[i - 1].1 } else { 0 };
                            let ns = s.saturating_sub(l).max(floor);
                            t.set_start(VirtAddr(s << 12), VirtAddr(ns << 12));
                            m.0[i] = (ns, e);
                        }
                    }
                }
                prop_assert!(t.check().is_ok(), "{:?}", t.check());
            }
            let got: Vec<_> = t.iter().map(|v| (v.start.0 >> 12, v.end.0 >> 12)).collect();
            prop_assert_eq!(&got, &m.0);
            prop_assert_eq!(t.len(), m.0.len());
            // The same lookups through the binary search and through the lookup table.
            let with_table = t.build_radix();
            prop_assert_eq!(with_table, t.radix.get().is_some());
            for &(a, _, _) in &probes {
                let pa = VirtAddr(a << 12);
                prop_assert_eq!(t.find(pa).map(|v| (v.start.0 >> 12, v.end.0 >> 12)), m.find(a));
            }
            for (a, b, size) in probes {
                let pa = VirtAddr(a << 12);
                prop_assert_eq!(t.find(pa).map(|v| (v.start.0 >> 12, v.end.0 >> 12)), m.find(a));
                prop_assert_eq!(t.prev(pa).map(|v| (v.start.0 >> 12, v.end.0 >> 12)), m.prev(a));
                prop_assert_eq!(
                    t.next_from(pa).map(|v| v.start.0 >> 12),
                    m.0.iter().map(|x| x.0).find(|&s| s >= a)
                );
                let (lo, hi) = (a.min(b) << 12, a.max(b) << 12);
                prop_assert_eq!(t.gap_highest(lo, hi, size << 12), m.highest(lo, hi, size << 12), "highest {:#x} {:#x} {}", lo, hi, size);
                prop_assert_eq!(t.gap_lowest(lo, hi, size << 12), m.lowest(lo, hi, size << 12), "lowest {:#x} {:#x} {}", lo, hi, size);
                let ov: Vec<_> = t.overlapping(VirtAddr(lo), VirtAddr(hi)).map(|v| v.start.0 >> 12).collect();
                let mo: Vec<_> = m.0.iter().filter(|&&(s, e)| e > lo >> 12 && s < hi >> 12).map(|x| x.0).collect();
                prop_assert_eq!(ov, mo);
            }
        }
    }

    /// The lookup table is built after enough searches, agrees with the binary search, and is dropped by
    /// any change to the top level.
    #[test]
    fn lookup_table_follows_the_tree() {
        // Three clusters (far apart), dense runs and sparse ones.
        let mut m = Model::default();
        let mut t = VmaTree::new();
        let mut add = |t: &mut VmaTree, s: u64, e: u64| {
            t.insert(vma(s, e));
            m.0.push((s, e));
        };
        for i in 0..300u64 {
            add(&mut t, 0x100 + 3 * i, 0x101 + 3 * i + i % 2);
        }
        for i in 0..200u64 {
            add(&mut t, (1 << 28) + i * i, (1 << 28) + i * i + 1);
        }
        for i in 0..50u64 {
            add(&mut t, (1 << 36) + 2 * i, (1 << 36) + 2 * i + 1);
        }
        m.0.sort();
        let probes: Vec<u64> =
            m.0.iter()
                .flat_map(|&(s, e)| [s.saturating_sub(1), s, e - 1, e, e + 1])
                .chain([0, 1 << 27, 1 << 35, 1 << 40])
                .collect();
        let agree = |t: &VmaTree, m: &Model| {
            for &a in &probes {
                assert_eq!(
                    t.find(VirtAddr(a << 12)).map(|v| (v.start.0 >> 12, v.end.0 >> 12)),
                    m.find(a),
                    "page {a:#x}"
                );
            }
        };
        // Random-looking lookups (no hints) until the table exists.
        let nb = t.last_end.len();
        assert!(nb >= RADIX_MIN_BLOCKS);
        // Lookups that jump between blocks (so that the block hint mostly misses) build it after 4 binary
        // searches per block.
        let built_at = (1..=8 * nb).find(|k| {
            t.find(VirtAddr(m.0[(k * 7919) % m.0.len()].0 << 12));
            t.radix.get().is_some()
        });
        assert!(
            built_at.is_some_and(|k| k >= 4 * nb),
            "built after {built_at:?} lookups, {nb} blocks"
        );
        assert_eq!(t.radix.get().unwrap().clusters(), 3);
        t.check().unwrap();
        agree(&t, &m);
        // Removing or resizing VMAs, including the last of a block, adjusts it; lookups stay right.
        let last_of_blocks: Vec<u64> = t.blocks.iter().map(|b| b.vmas.last().unwrap().start.0 >> 12).collect();
        for s in [0x103, last_of_blocks[3], last_of_blocks[40]] {
            t.remove(VirtAddr(s << 12));
            m.0.retain(|&(x, _)| x != s);
            assert!(t.radix.get().is_some());
            t.check().unwrap();
            agree(&t, &m);
        }
        let s = last_of_blocks[7];
        let i = m.0.iter().position(|x| x.0 == s).unwrap();
        for e in [s + 1, m.0[i + 1].0] {
            t.set_end(VirtAddr(s << 12), VirtAddr(e << 12));
            m.0[i].1 = e;
            assert!(t.radix.get().is_some());
            t.check().unwrap();
            agree(&t, &m);
        }
        // Splitting a block drops it: fill the one-page gaps after the first cluster's even VMAs.
        for i in (0..60u64).step_by(2) {
            t.insert(vma(0x101 + 3 * i, 0x102 + 3 * i));
            m.0.push((0x101 + 3 * i, 0x102 + 3 * i));
        }
        m.0.sort();
        assert!(t.radix.get().is_none());
        // Lookups dominated, so it comes back after a quarter of a search per block, not four.
        let nb = t.last_end.len();
        let rebuilt_at = (1..=4 * nb).find(|k| {
            t.find(VirtAddr(m.0[(k * 7919) % m.0.len()].0 << 12));
            t.radix.get().is_some()
        });
        assert!(
            rebuilt_at.is_some_and(|k| k <= nb / 2),
            "rebuilt after {rebuilt_at:?} lookups, {nb} blocks"
        );
        t.check().unwrap();
        agree(&t, &m);
        assert!(t.build_radix());
        agree(&t, &m);
        t.check().unwrap();
    }

    #[test]
    fn many_vmas_split_and_join_blocks() {
        let mut t = VmaTree::new();
        for i in 0..5000u64 {
            t.insert(vma(2 * i + 1, 2 * i + 2));
        }
        t.check().unwrap();
        assert_eq!(t.gap_highest(0, 1 << 40, 2 << 12), Some(1 << 40));
        assert_eq!(t.gap_highest(0, 10000 << 12, 2 << 12), None);
        assert_eq!(t.gap_lowest(0, 1 << 40, 1 << 12), Some(0));
        t.remove(VirtAddr(2001 << 12));
        t.remove(VirtAddr(2003 << 12));
        assert_eq!(t.gap_highest(0, 10000 << 12, 3 << 12), Some(2005 << 12));
        assert_eq!(t.gap_lowest(1 << 12, 10000 << 12, 3 << 12), Some(2000 << 12));
        for i in (0..5000u64).step_by(2) {
            t.remove(VirtAddr((2 * i + 1) << 12));
        }
        t.check().unwrap();
        assert_eq!(t.len(), 2499);
    }
}
