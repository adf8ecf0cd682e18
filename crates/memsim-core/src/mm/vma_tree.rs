//! The VMA tree: an ordered map of non-overlapping VMAs with O(log n) lookup (the maple tree of
//! `mm->mm_mt`, `lib/maple_tree.c`; `find_vma`, `vma_prev`, `vma_next`, the VMA iterator).
//!
//! Invariants (checked by [`VmaTree::check`]): VMAs are page aligned, non-empty, sorted and non-overlapping.
//! The tree itself never merges or splits; `mm/vma_ops.rs` does that.

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::addr::VirtAddr;
use crate::mm::vma::Vma;

/// The set of VMAs of one address space, keyed by start address.
#[derive(Clone, Debug, Default)]
pub struct VmaTree {
    map: BTreeMap<u64, Vma>,
}

impl VmaTree {
    pub fn new() -> Self {
        VmaTree::default()
    }

    /// `mm->map_count`.
    #[inline]
    pub fn len(&self) -> usize {
        self.map.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// `find_vma`: the first VMA with `end > addr` (it may start above `addr`).
    #[inline]
    pub fn find(&self, addr: VirtAddr) -> Option<&Vma> {
        let a = addr.as_u64();
        if let Some((_, v)) = self.map.range(..=a).next_back() {
            if v.end.as_u64() > a {
                return Some(v);
            }
        }
        self.map
            .range((Bound::Excluded(a), Bound::Unbounded))
            .next()
            .map(|(_, v)| v)
    }

    /// `vma_lookup`: the VMA containing `addr`.
    #[inline]
    pub fn lookup(&self, addr: VirtAddr) -> Option<&Vma> {
        let a = addr.as_u64();
        match self.map.range(..=a).next_back() {
            Some((_, v)) if v.end.as_u64() > a => Some(v),
            _ => None,
        }
    }

    /// The VMA containing `addr`, mutably. The caller must not change `start` or `end` through it in a way that
    /// breaks ordering; use [`VmaTree::remove`] and [`VmaTree::insert`] to move a VMA.
    pub fn lookup_mut(&mut self, addr: VirtAddr) -> Option<&mut Vma> {
        let a = addr.as_u64();
        match self.map.range_mut(..=a).next_back() {
            Some((_, v)) if v.end.as_u64() > a => Some(v),
            _ => None,
        }
    }

    /// The VMA starting exactly at `start`.
    pub fn get(&self, start: VirtAddr) -> Option<&Vma> {
        self.map.get(&start.as_u64())
    }

    /// The VMA starting exactly at `start`, mutably (its `start` must not change).
    pub fn get_mut(&mut self, start: VirtAddr) -> Option<&mut Vma> {
        self.map.get_mut(&start.as_u64())
    }

    /// `vma_prev` of an address: the last VMA that starts below `addr`.
    pub fn prev(&self, addr: VirtAddr) -> Option<&Vma> {
        self.map.range(..addr.as_u64()).next_back().map(|(_, v)| v)
    }

    /// The first VMA that starts at or above `addr`.
    pub fn next_from(&self, addr: VirtAddr) -> Option<&Vma> {
        self.map.range(addr.as_u64()..).next().map(|(_, v)| v)
    }

    /// Insert a VMA. Panics in debug builds if it overlaps another one (a model bug, never an input error).
    pub fn insert(&mut self, vma: Vma) {
        debug_assert!(vma.start < vma.end, "empty VMA {vma:?}");
        debug_assert!(
            self.find(vma.start).is_none_or(|n| n.start >= vma.end),
            "overlapping VMA {vma:?}"
        );
        self.map.insert(vma.start.as_u64(), vma);
    }

    /// Move the end of the VMA starting at `start` (the caller guarantees no overlap results).
    pub fn set_end(&mut self, start: VirtAddr, end: VirtAddr) {
        if let Some(v) = self.map.get_mut(&start.as_u64()) {
            debug_assert!(end > start);
            v.end = end;
        }
    }

    /// Remove the VMA starting at `start`.
    pub fn remove(&mut self, start: VirtAddr) -> Option<Vma> {
        self.map.remove(&start.as_u64())
    }

    /// All VMAs in address order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Vma> + '_ {
        self.map.values()
    }

    /// All VMAs in address order, mutably (starts must not change).
    pub fn iter_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut Vma> + '_ {
        self.map.values_mut()
    }

    /// VMAs that intersect `[start, end)`, in address order.
    pub fn overlapping(&self, start: VirtAddr, end: VirtAddr) -> impl Iterator<Item = &Vma> + '_ {
        let first = self.find(start).map(|v| v.start.as_u64()).unwrap_or(u64::MAX);
        let e = end.as_u64();
        self.map
            .range(first..)
            .map(|(_, v)| v)
            .take_while(move |v| v.start.as_u64() < e)
    }

    /// Start addresses of the VMAs that intersect `[start, end)` (for loops that mutate the tree).
    pub fn starts_overlapping(&self, start: VirtAddr, end: VirtAddr) -> Vec<VirtAddr> {
        self.overlapping(start, end).map(|v| v.start).collect()
    }

    /// The first VMA, and the last one.
    pub fn first(&self) -> Option<&Vma> {
        self.map.values().next()
    }
    pub fn last(&self) -> Option<&Vma> {
        self.map.values().next_back()
    }

    /// Gaps between VMAs (and before the first / after the last) within `[low, high)`, highest first.
    /// Each gap is `(gap_start, gap_end, next_vma)`, where `next_vma` is the VMA ending the gap, if any.
    pub fn gaps_rev(&self, low: u64, high: u64) -> impl Iterator<Item = (u64, u64, Option<&Vma>)> + '_ {
        // Walk VMAs downward from the first VMA at or above `high`.
        let upper: Option<&Vma> = self.map.range(high..).next().map(|(_, v)| v);
        let mut next = upper;
        let mut iter = self.map.range(..high).rev().map(|(_, v)| v);
        let mut done = false;
        std::iter::from_fn(move || loop {
            if done {
                return None;
            }
            let prev = iter.next();
            let gap_start = prev.map(|p| p.end.as_u64()).unwrap_or(0).max(low);
            let gap_end = next.map(|n| n.start.as_u64()).unwrap_or(u64::MAX).min(high);
            let this_next = next;
            next = prev;
            if prev.is_none() || prev.is_some_and(|p| p.end.as_u64() <= low) {
                done = true;
            }
            if gap_end > gap_start {
                return Some((gap_start, gap_end, this_next));
            }
        })
    }

    /// `vma_iter_area_highest` (`mas_empty_area_rev`): the end of the highest gap, clipped to `[low, high)`,
    /// whose clipped length is at least `size`.
    pub fn gap_highest(&self, low: u64, high: u64, size: u64) -> Option<u64> {
        if size == 0 || high < low || high - low < size {
            return None;
        }
        self.gaps_rev(low, high)
            .find(|&(s, e, _)| e - s >= size)
            .map(|(_, e, _)| e)
    }

    /// `vma_iter_area_lowest` (`mas_empty_area`): the start of the lowest gap, clipped to `[low, high)`, whose
    /// clipped length is at least `size`.
    pub fn gap_lowest(&self, low: u64, high: u64, size: u64) -> Option<u64> {
        if size == 0 || high < low || high - low < size {
            return None;
        }
        let mut best = None;
        for (s, e, _) in self.gaps_rev(low, high) {
            if e - s >= size {
                best = Some(s);
            }
        }
        best
    }

    /// Check the tree's invariants; returns a description of the first violation.
    pub fn check(&self) -> Result<(), String> {
        let mut prev_end = 0u64;
        for (i, (&k, v)) in self.map.iter().enumerate() {
            if k != v.start.as_u64() {
                return Err(format!("VMA #{i} keyed at {k:#x} starts at {:#x}", v.start.as_u64()));
            }
            if !v.start.is_aligned() || !v.end.is_aligned() || v.start >= v.end {
                return Err(format!(
                    "VMA #{i} {:#x}-{:#x} is empty or misaligned",
                    v.start.0, v.end.0
                ));
            }
            if i > 0 && v.start.as_u64() < prev_end {
                return Err(format!(
                    "VMA #{i} {:#x}-{:#x} overlaps its predecessor",
                    v.start.0, v.end.0
                ));
            }
            prev_end = v.end.as_u64();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::vma::VmFlags;

    fn tree(ranges: &[(u64, u64)]) -> VmaTree {
        let mut t = VmaTree::new();
        for &(s, e) in ranges {
            t.insert(Vma::new_anon(VirtAddr(s << 12), VirtAddr(e << 12), VmFlags::READ));
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
}
