//! A read-mostly lookup table over the VMA tree's top level: address → block, in O(1) for VMAs that are
//! spread evenly, instead of the top level's binary search (10 dependent loads among 1,000 blocks, which cost
//! more than the rest of a random `find_vma`). Linux has no counterpart: the maple tree's nodes are wide
//! enough that its walk is 3-4 nodes deep; this plays the part the per-thread `vmacache` used to play, a
//! cache in front of the tree that a change to the tree throws away.
//!
//! The blocks are cut into clusters where the gap between two consecutive blocks is larger than both
//! [`MIN_CLUSTER_GAP`] and the cluster so far (a process has a few: the executable and its heap, the mmap
//! area, the stack). Each cluster's span is cut into a power of two of equal buckets, about two per block;
//! a bucket records how many blocks end at or below its first address. A lookup finds the cluster (a binary
//! search among a handful), then its bucket by a shift, and so the range of blocks that can hold the answer;
//! on evenly spread VMAs that range is one block or two, settled by one comparison. Otherwise (a bucket
//! holding many blocks) the range is binary searched, never more than the whole top level.
//!
//! The table is built from the top level's `first_start`/`last_end` arrays in one pass (O(blocks)); the tree
//! builds it only after enough lookups to pay for it (four binary searches per block, a quarter per block
//! when a table was just dropped). A block's last end moving (a VMA mapped, unmapped or
//! resized at the end of a block) adjusts the buckets in between by one; anything else that changes the top
//! level (a block split, joined, added or removed, or a move too long to follow cheaply) drops the table.

use super::count_le;

/// Gaps smaller than this never start a new cluster.
const MIN_CLUSTER_GAP: u64 = 1 << 30;

/// A block's end moving across more buckets than this drops the table instead of adjusting them.
const MAX_FOLLOW: usize = 64;

/// One cluster: blocks `[first, end)` of the top level, covering addresses from `lo` on.
#[derive(Clone, Debug)]
struct Cluster {
    lo: u64,
    shift: u32,
    /// Where the cluster's buckets start in [`BlockRadix::buckets`], and how many there are (at least 2).
    off: usize,
    len: usize,
}

/// The lookup table (see the module documentation).
#[derive(Clone, Debug)]
pub(super) struct BlockRadix {
    /// A copy of the first cluster, read when it is the only one (the common case, and then a lookup starts
    /// from fields next to the table's pointers instead of loading them through `clusters`).
    one: Cluster,
    /// The last end of each cluster's last block, ascending.
    cluster_end: Vec<u64>,
    clusters: Vec<Cluster>,
    /// For bucket `j` of a cluster: the number of blocks whose last end is `<= lo + (j << shift)`.
    buckets: Vec<u32>,
}

impl BlockRadix {
    /// Build the table for the top level given as the blocks' first starts and last ends (both ascending,
    /// non-empty, `first_start[b] < last_end[b] <= first_start[b + 1]`).
    pub(super) fn build(first_start: &[u64], last_end: &[u64]) -> BlockRadix {
        debug_assert_eq!(first_start.len(), last_end.len());
        let nb = last_end.len();
        let mut r = BlockRadix {
            one: Cluster {
                lo: 0,
                shift: 0,
                off: 0,
                len: 2,
            },
            cluster_end: Vec::new(),
            clusters: Vec::new(),
            buckets: Vec::with_capacity(4 * nb + 2),
        };
        let mut first = 0;
        for b in 1..=nb {
            let split = b == nb || {
                let gap = first_start[b] - last_end[b - 1];
                gap > MIN_CLUSTER_GAP.max(last_end[b - 1] - first_start[first])
            };
            if split {
                r.push_cluster(first_start, last_end, first, b);
                first = b;
            }
        }
        if let Some(c) = r.clusters.first() {
            r.one = c.clone();
        }
        r
    }

    /// Add the cluster of blocks `[first, end)`.
    fn push_cluster(&mut self, first_start: &[u64], last_end: &[u64], first: usize, end: usize) {
        let lo = first_start[first];
        let span = last_end[end - 1] - lo;
        // About two buckets a block, a power of two of them.
        let want = (2 * (end - first)).next_power_of_two() as u64;
        let mut shift = 0u32;
        while span >> shift > want {
            shift += 1;
        }
        let len = (span >> shift) as usize + 2;
        let off = self.buckets.len();
        let mut b = first;
        for j in 0..len {
            let x = lo.saturating_add((j as u64) << shift);
            while b < end && last_end[b] <= x {
                b += 1;
            }
            self.buckets.push(b as u32);
        }
        self.cluster_end.push(last_end[end - 1]);
        self.clusters.push(Cluster { lo, shift, off, len });
    }

    /// The number of blocks whose last end is `<= addr` (`count_le(last_end, addr)`), for an `addr` below the
    /// last block's end; `last_end` must be the array the table was built from.
    #[inline(always)]
    pub(super) fn block_of(&self, last_end: &[u64], addr: u64) -> usize {
        let cl = if self.cluster_end.len() == 1 {
            &self.one
        } else {
            match self.clusters.get(count_le(&self.cluster_end, addr)) {
                Some(cl) => cl,
                None => return last_end.len(),
            }
        };
        let j = ((addr.saturating_sub(cl.lo) >> cl.shift) as usize).min(cl.len - 2);
        let (b0, b1) = match self.buckets.get(cl.off + j..cl.off + j + 2) {
            Some(&[b0, b1]) => (b0 as usize, b1 as usize),
            _ => (0, last_end.len()),
        };
        if b1 - b0 <= 1 {
            // The common case, one predictable branch: the answer is b0 or the block after it.
            b0 + last_end.get(b0).is_some_and(|&e| e <= addr) as usize
        } else {
            b0 + count_le(last_end.get(b0..b1).unwrap_or_default(), addr)
        }
    }

    /// Block `b`'s last end moved from `old` to `new`, the blocks' order unchanged: add or remove it from the
    /// count of every bucket starting in between. Returns false when the table cannot follow (then drop it):
    /// the move would cross the start of its cluster or of the next one, or spans more than [`MAX_FOLLOW`]
    /// buckets.
    pub(super) fn last_end_moved(&mut self, old: u64, new: u64) -> bool {
        if old == new {
            return true;
        }
        // The cluster holding the block: the first whose end is not below the block's old end.
        let c = count_le(&self.cluster_end, old - 1);
        let Some(cl) = self.clusters.get(c) else {
            return false;
        };
        // Bucket 0 answers for addresses below `lo` too, so every block must still end above `lo`; and the next
        // cluster's buckets count every block of this one, so none may end past its `lo`.
        if new <= cl.lo || self.clusters.get(c + 1).is_some_and(|next| new > next.lo) {
            return false;
        }
        let (from, to) = (old.min(new), old.max(new));
        // Buckets j with from <= lo + (j << shift) < to.
        let first = (from - cl.lo).div_ceil(1 << cl.shift).min(cl.len as u64) as usize;
        let end = ((to - 1 - cl.lo) >> cl.shift).saturating_add(1).min(cl.len as u64) as usize;
        if end.saturating_sub(first) > MAX_FOLLOW {
            return false;
        }
        for v in &mut self.buckets[cl.off + first..cl.off + end.max(first)] {
            // Counted while its end was <= the bucket start: no longer when the end grew past it.
            if new > old {
                *v -= 1;
            } else {
                *v += 1;
            }
        }
        if self.cluster_end[c] == old {
            self.cluster_end[c] = new;
        }
        true
    }

    /// The number of clusters.
    #[cfg(test)]
    pub(super) fn clusters(&self) -> usize {
        self.clusters.len()
    }

    /// Check every bucket against a binary search of `last_end`.
    pub(super) fn check(&self, last_end: &[u64]) -> Result<(), String> {
        for (c, cl) in self.clusters.iter().enumerate() {
            for j in 0..cl.len {
                let x = cl.lo.saturating_add((j as u64) << cl.shift);
                let want = count_le(last_end, x).min(count_le(last_end, self.cluster_end[c]));
                if self.buckets[cl.off + j] as usize != want {
                    return Err(format!("lookup table: cluster {c} bucket {j} is stale"));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Blocks from (start, end) page ranges.
    fn top(blocks: &[(u64, u64)]) -> (Vec<u64>, Vec<u64>) {
        (
            blocks.iter().map(|b| b.0 << 12).collect(),
            blocks.iter().map(|b| b.1 << 12).collect(),
        )
    }

    fn agrees(first: &[u64], last: &[u64], probes: impl IntoIterator<Item = u64>) {
        let r = BlockRadix::build(first, last);
        r.check(last).unwrap();
        let top = *last.last().unwrap();
        for a in probes {
            if a < top {
                assert_eq!(r.block_of(last, a), count_le(last, a), "address {a:#x}");
            }
        }
    }

    #[test]
    fn clusters_follow_large_gaps() {
        // An executable and heap, an mmap area 40 TiB higher, a stack at the top (page numbers).
        let mut blocks = vec![(0x5_5555_5554, 0x5_5555_5559), (0x5_5555_5560, 0x5_5555_5570)];
        for i in 0..300 {
            blocks.push((0x7_f000_0000 + i * 16, 0x7_f000_0000 + i * 16 + 9));
        }
        blocks.push((0x7_ffff_ffde, 0x7_ffff_ffff));
        let (f, l) = top(&blocks);
        let r = BlockRadix::build(&f, &l);
        assert_eq!(r.clusters(), 3);
        let mut probes = vec![0, u64::MAX / 2];
        for &(s, e) in &blocks {
            for p in [s - 1, s, s + 1, e - 1, e, e + 1] {
                probes.push(p << 12);
                probes.push((p << 12) - 1);
            }
        }
        agrees(&f, &l, probes);
    }

    #[test]
    fn a_move_that_cannot_be_followed_is_refused() {
        // A small block, then 40 more 768 MiB higher (one cluster of about 128 buckets of 6 MiB).
        let mut blocks = vec![(0x10, 0x20)];
        blocks.extend((0..40).map(|i| (0x30000 + 16 * i, 0x30000 + 16 * i + 8)));
        let (f, mut l) = top(&blocks);
        let mut r = BlockRadix::build(&f, &l);
        assert_eq!(r.clusters(), 1);
        // Below the cluster's start (the table's bucket 0 would count the block for addresses before it).
        assert!(!r.last_end_moved(0x20 << 12, 0x10 << 12));
        // Across more buckets than are worth adjusting.
        assert!(!r.last_end_moved(0x20 << 12, 0x2ff00 << 12));
        // A short move is followed, exactly.
        assert!(r.last_end_moved(0x20 << 12, 0x2100 << 12));
        l[0] = 0x2100 << 12;
        r.check(&l).unwrap();
    }

    proptest! {
        #[test]
        fn agrees_with_binary_search(
            lens in proptest::collection::vec((1u64..40, 0u64..60, 0u32..4), 1..200),
            probes in proptest::collection::vec(any::<u64>(), 64),
        ) {
            // Blocks of random sizes and gaps, some gaps huge (cluster boundaries), some tiny.
            let mut blocks = Vec::new();
            let mut at = 1u64;
            for (len, gap, scale) in lens {
                at += gap << (scale * 12);
                blocks.push((at, at + len));
                at += len;
            }
            let (f, mut l) = top(&blocks);
            let hi = *l.last().unwrap();
            let mut all: Vec<u64> = probes.iter().map(|p| p % (hi + 4096)).collect();
            for &(s, e) in &blocks {
                all.extend([(s << 12) - 1, s << 12, (e << 12) - 1, e << 12]);
            }
            agrees(&f, &l, all.clone());
            // Move block ends (within their room) and follow; a table that follows stays exact.
            let mut r = BlockRadix::build(&f, &l);
            for (k, &p) in probes.iter().enumerate() {
                let b = (p as usize) % l.len();
                let room_hi = f.get(b + 1).copied().unwrap_or(u64::MAX >> 1);
                let new = f[b] + 4096 + (probes[(k + 1) % probes.len()] % (room_hi - f[b])) / 4096 * 4096;
                let new = new.min(room_hi);
                let old = std::mem::replace(&mut l[b], new);
                if !r.last_end_moved(old, new) {
                    r = BlockRadix::build(&f, &l);
                }
                prop_assert!(r.check(&l).is_ok(), "{:?}", r.check(&l));
                let top = *l.last().unwrap();
                for &a in all.iter().filter(|&&a| a < top) {
                    prop_assert_eq!(r.block_of(&l, a), count_le(&l, a), "address {:#x}", a);
                }
            }
        }
    }
}
