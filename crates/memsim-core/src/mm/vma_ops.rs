//! VMA split and merge (`mm/vma.c`: `__split_vma`, `vma_merge_new_range`, `vma_merge_existing_range`,
//! `vma_modify_flags`, `is_mergeable_vma`, `is_mergeable_anon_vma`, `vma_expand`).
//!
//! ```text
//!   | prev |  middle  | next |      vma_modify_*: the range [start, end) inside `middle` gets new attributes;
//!                                  merge with prev and/or next if compatible, else split at start and end.
//! ```
//!
//! The merge decision is taken on a *candidate* (`struct vma_merge_struct` in Linux): the range, the flags,
//! file, pgoff, anon_vma and anon name the merged range would have. A candidate merges with `prev` on its left
//! when `prev` ends at the candidate's start and is compatible, and with `next` on its right likewise; both at
//! once additionally needs `prev` and `next` to be anon_vma-compatible with each other.
//!
//! `vm_ops->close` only matters for special mappings here, and those are `VM_SPECIAL` (`[vdso]` has
//! `VM_DONTEXPAND`), which merges refuse anyway.

use std::sync::Arc;

use crate::addr::{VirtAddr, PAGE_SHIFT};
use crate::errno::Errno;
use crate::fs::FileId;
use crate::kernel::Kernel;
use crate::mm::vma::{AnonVmaRef, SpecialMapping, VmFlags, Vma};
use crate::mm::MmId;

/// What a modification changes on the affected range.
#[derive(Clone, Debug)]
pub enum VmaChange {
    /// New `vm_flags` (mprotect, mlock, madvise flag advice).
    Flags(VmFlags),
    /// New anonymous name (prctl PR_SET_VMA_ANON_NAME).
    AnonName(Option<std::sync::Arc<str>>),
}

/// The attributes a range would have after a merge (`struct vma_merge_struct`).
struct Candidate<'a> {
    start: VirtAddr,
    end: VirtAddr,
    flags: VmFlags,
    file: Option<FileId>,
    pgoff: u64,
    anon_vma: Option<AnonVmaRef>,
    anon_name: &'a Option<Arc<str>>,
    special: Option<SpecialMapping>,
}

impl Candidate<'_> {
    fn nr_pages(&self) -> u64 {
        (self.end - self.start) >> PAGE_SHIFT
    }
}

fn name_eq(a: &Option<Arc<str>>, b: &Option<Arc<str>>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => **x == **y,
        _ => false,
    }
}

/// `vma_had_uncowed_parents`: the VMA has an anon_vma inherited through fork (its chain is not singular).
fn had_uncowed_parents(av: Option<AnonVmaRef>) -> bool {
    av.is_some_and(|a| !a.chain_singular)
}

/// `is_mergeable_anon_vma(vmg, merge_next)`: may a range whose anon_vma is `src` join `tgt`?
/// Both none, or the same anon_vma; or exactly one has one and that VMA did not inherit it through fork
/// (the merged VMA then uses the one that exists).
fn anon_vma_compatible(tgt: Option<AnonVmaRef>, src: Option<AnonVmaRef>) -> bool {
    match (tgt, src) {
        (None, None) => true,
        (None, Some(_)) => !had_uncowed_parents(src),
        (Some(_), None) => !had_uncowed_parents(tgt),
        (Some(t), Some(s)) => t.id == s.id,
    }
}

/// `is_mergeable_vma`: flags equal except the sticky ones, same file description, same vm_ops, same anon name,
/// and not `VM_SPECIAL` (`vma_merge_*` refuse special candidates before looking at neighbours).
fn attrs_mergeable(tgt: &Vma, c: &Candidate) -> bool {
    !(tgt.flags | c.flags).intersects(VmFlags::SPECIAL)
        && (tgt.flags ^ c.flags).difference(VmFlags::STICKY).is_empty()
        && tgt.file_id() == c.file
        && tgt.special == c.special
        && name_eq(&tgt.anon_name, c.anon_name)
}

/// `can_vma_merge_left` (`can_vma_merge_after`): `prev` ends at the candidate's start, compatible, pgoff linear.
fn can_merge_left(prev: &Vma, c: &Candidate) -> bool {
    prev.end == c.start
        && attrs_mergeable(prev, c)
        && anon_vma_compatible(prev.anon_vma, c.anon_vma)
        && prev.pgoff.wrapping_add(prev.nr_pages()) == c.pgoff
}

/// `can_vma_merge_right` (`can_vma_merge_before`), plus the prev/next compatibility a three-way merge needs
/// (`are_anon_vmas_compatible`).
fn can_merge_right(next: &Vma, c: &Candidate, prev_if_left: Option<&Vma>) -> bool {
    if !(next.start == c.end
        && attrs_mergeable(next, c)
        && anon_vma_compatible(next.anon_vma, c.anon_vma)
        && c.pgoff.wrapping_add(c.nr_pages()) == next.pgoff)
    {
        return false;
    }
    match prev_if_left {
        None => true,
        Some(prev) => anon_vma_compatible(next.anon_vma, prev.anon_vma),
    }
}

impl Kernel {
    /// `is_mergeable_vma` + `is_mergeable_anon_vma` + pgoff linearity + `VM_SPECIAL` refusal: may `a` (lower)
    /// and `b` (upper, adjacent) become one VMA? (`../shared/reference/linux-mm-rules.md` §3.1)
    pub fn vmas_mergeable(a: &Vma, b: &Vma) -> bool {
        let c = Candidate {
            start: b.start,
            end: b.end,
            flags: b.flags,
            file: b.file_id(),
            pgoff: b.pgoff,
            anon_vma: b.anon_vma,
            anon_name: &b.anon_name,
            special: b.special,
        };
        can_merge_left(a, &c)
    }

    /// `split_vma(vmi, vma, addr, new_below)`: split the VMA containing `at` into `[start, at)` and `[at, end)`.
    /// Fails with ENOMEM when `map_count >= max_map_count`, EINVAL when a special mapping refuses (`may_split`).
    /// A no-op when `at` is already a VMA boundary or inside no VMA.
    pub fn split_vma(&mut self, mm: MmId, at: VirtAddr) -> Result<(), Errno> {
        let max = self.cfg.max_map_count;
        let m = self.mms.get_mut(&mm).ok_or(Errno::ESRCH)?;
        match m.vmas.lookup(at) {
            Some(v) if v.start != at => {}
            _ => return Ok(()),
        }
        // mm/vma.c: split_vma checks the map count before __split_vma.
        if m.map_count() >= max {
            return Err(Errno::ENOMEM);
        }
        self.split_vma_unchecked(mm, at)
    }

    /// `__split_vma` without the map-count check (munmap checks the count itself, only for a 3-way split).
    /// Special mappings veto any split (`special_mapping_split` ⇒ EINVAL), hugetlb ones any split off a huge
    /// page boundary (`hugetlb_vm_op_split` ⇒ EINVAL). The upper part gets
    /// `pgoff + (at - start) >> PAGE_SHIFT`; both parts share the anon_vma (`anon_vma_clone`).
    pub fn split_vma_unchecked(&mut self, mm: MmId, at: VirtAddr) -> Result<(), Errno> {
        let m = self.mms.get_mut(&mm).ok_or(Errno::ESRCH)?;
        let Some(v) = m.vmas.lookup(at) else { return Ok(()) };
        if v.start == at {
            return Ok(());
        }
        if v.special.is_some() || v.hugetlb_page_size().is_some_and(|size| at.0 & (size - 1) != 0) {
            return Err(Errno::EINVAL);
        }
        let start = v.start;
        let mut upper = v.clone();
        upper.pgoff = v.pgoff_of(at);
        upper.start = at;
        m.vmas.set_end(start, at);
        m.vmas.insert(upper);
        // vma_adjust_trans_huge: a huge PMD straddling the new boundary is split.
        self.vma_adjust_trans_huge(mm, at);
        Ok(())
    }

    /// `vma_modify` (`vma_modify_flags` and friends): apply `change` to `[start, end)`, which lies inside the
    /// single VMA starting at `vma_start`. Tries to merge the range with the previous and/or next VMA first
    /// (`vma_merge_existing_range`); otherwise splits at `start` and `end` as needed and changes the middle.
    /// Returns the start of the VMA that now holds `start`. Errors (ENOMEM from a split) leave completed
    /// splits in place, as Linux does.
    ///
    /// When the change leaves the VMA's attributes as they are, nothing happens at all, not even a merge
    /// (`mprotect_fixup`, `mlock_fixup`, `madvise_update_vma` all return early on `newflags == oldflags`).
    pub fn vma_modify(
        &mut self,
        mm: MmId,
        vma_start: VirtAddr,
        start: VirtAddr,
        end: VirtAddr,
        change: VmaChange,
    ) -> Result<VirtAddr, Errno> {
        let m = self.mms.get_mut(&mm).ok_or(Errno::ESRCH)?;
        let middle = m.vmas.get(vma_start).ok_or(Errno::ENOMEM)?.clone();
        if start < middle.start || end > middle.end || start >= end {
            return Err(Errno::EINVAL);
        }
        let (flags, name) = match &change {
            VmaChange::Flags(f) => (*f, middle.anon_name.clone()),
            VmaChange::AnonName(n) => (middle.flags, n.clone()),
        };
        if flags == middle.flags && name_eq(&name, &middle.anon_name) {
            return Ok(middle.start);
        }
        let c = Candidate {
            start,
            end,
            flags,
            file: middle.file_id(),
            pgoff: middle.pgoff_of(start),
            anon_vma: middle.anon_vma,
            anon_name: &name,
            special: middle.special,
        };
        if let Some(merged) = merge_existing_range(m, &middle, &c) {
            return Ok(merged);
        }
        // No merge: split off the parts outside the range, then change what remains.
        if middle.start < start {
            self.split_vma(mm, start)?;
        }
        if middle.end > end {
            self.split_vma(mm, end)?;
        }
        let m = self.mms.get_mut(&mm).ok_or(Errno::ESRCH)?;
        if let Some(v) = m.vmas.get_mut(start) {
            v.flags = flags;
            v.anon_name = name;
        }
        Ok(start)
    }

    /// `vma_merge_new_range` + insertion: place a new VMA (no overlap with existing ones), merging it with its
    /// neighbours when Linux would. Returns the start of the VMA that now contains `vma.start`.
    pub fn vma_insert_merge(&mut self, mm: MmId, vma: Vma) -> VirtAddr {
        let Some(m) = self.mms.get_mut(&mm) else {
            return vma.start;
        };
        let c = Candidate {
            start: vma.start,
            end: vma.end,
            flags: vma.flags,
            file: vma.file_id(),
            pgoff: vma.pgoff,
            anon_vma: vma.anon_vma,
            anon_name: &vma.anon_name,
            special: vma.special,
        };
        let prev = m.vmas.prev(vma.start).filter(|p| p.end == vma.start).cloned();
        let next = m.vmas.get(vma.end).cloned();
        let merge_left = prev.as_ref().is_some_and(|p| can_merge_left(p, &c));
        let merge_right = next
            .as_ref()
            .is_some_and(|n| can_merge_right(n, &c, if merge_left { prev.as_ref() } else { None }));
        let sticky = vma.flags & VmFlags::STICKY;
        match (merge_left, merge_right) {
            (true, true) => {
                // |prev|new|next| ⇒ prev expands over both (vma_expand), next is deleted.
                let (p, n) = (prev.expect("merge_left"), next.expect("merge_right"));
                m.vmas.remove(n.start);
                m.vmas.set_end(p.start, n.end);
                if let Some(t) = m.vmas.get_mut(p.start) {
                    t.anon_vma = p.anon_vma.or(n.anon_vma).or(vma.anon_vma);
                    t.flags |= sticky | (n.flags & VmFlags::STICKY);
                }
                p.start
            }
            (true, false) => {
                let p = prev.expect("merge_left");
                m.vmas.set_end(p.start, vma.end);
                if let Some(t) = m.vmas.get_mut(p.start) {
                    t.anon_vma = p.anon_vma.or(vma.anon_vma);
                    t.flags |= sticky;
                }
                p.start
            }
            (false, true) => {
                // next's start is lowered; its pgoff follows (`vmg->pgoff`).
                let mut n = m.vmas.remove(vma.end).expect("merge_right");
                n.start = vma.start;
                n.pgoff = vma.pgoff;
                n.anon_vma = n.anon_vma.or(vma.anon_vma);
                n.flags |= sticky;
                m.vmas.insert(n);
                vma.start
            }
            (false, false) => {
                let s = vma.start;
                m.vmas.insert(vma);
                s
            }
        }
    }
}

/// `vma_merge_existing_range`: try to give `[c.start, c.end)` of `middle` the candidate's attributes by merging
/// it into `prev` and/or `next`. A range that touches neither edge of `middle` never merges. Returns the start
/// of the merged VMA, or `None` when no merge is possible (nothing changed).
fn merge_existing_range(m: &mut crate::mm::Mm, middle: &Vma, c: &Candidate) -> Option<VirtAddr> {
    let left_side = c.start == middle.start;
    let right_side = c.end == middle.end;
    if c.flags.intersects(VmFlags::SPECIAL) || (!left_side && !right_side) {
        return None;
    }
    let prev = if left_side {
        m.vmas.prev(middle.start).filter(|p| p.end == middle.start).cloned()
    } else {
        None
    };
    let merge_left = prev.as_ref().is_some_and(|p| can_merge_left(p, c));
    let next = if right_side {
        m.vmas.get(middle.end).cloned()
    } else {
        None
    };
    let merge_right = next
        .as_ref()
        .is_some_and(|n| can_merge_right(n, c, if merge_left { prev.as_ref() } else { None }));
    let sticky = c.flags & VmFlags::STICKY;
    match (merge_left, merge_right) {
        (false, false) => None,
        (true, true) => {
            // |<-------------------->|
            // |-------********-------|   prev extends; middle and next are deleted.
            let (p, n) = (prev.expect("left"), next.expect("right"));
            m.vmas.remove(n.start);
            m.vmas.remove(middle.start);
            m.vmas.set_end(p.start, n.end);
            if let Some(t) = m.vmas.get_mut(p.start) {
                // dup_anon_vma(prev, next->anon_vma ? next : middle)
                t.anon_vma = p.anon_vma.or(n.anon_vma).or(middle.anon_vma);
                t.flags |= sticky | (n.flags & VmFlags::STICKY);
            }
            Some(p.start)
        }
        (true, false) => {
            // |<------------>|      OR  |<----------------->|
            // |-------*************     |-------*************   prev extends; middle shrinks or is deleted.
            let p = prev.expect("left");
            let mut mid = m.vmas.remove(middle.start).expect("middle exists");
            if c.end < middle.end {
                mid.pgoff = middle.pgoff_of(c.end);
                mid.start = c.end;
                m.vmas.insert(mid);
            }
            m.vmas.set_end(p.start, c.end);
            if let Some(t) = m.vmas.get_mut(p.start) {
                t.anon_vma = p.anon_vma.or(middle.anon_vma);
                t.flags |= sticky;
            }
            Some(p.start)
        }
        (false, true) => {
            //     |<------------->| OR |<----------------->|
            // *************-------|    *************-------|   next's start is lowered; middle shrinks or goes.
            let mut n = m.vmas.remove(middle.end).expect("right");
            if c.start > middle.start {
                m.vmas.set_end(middle.start, c.start);
            } else {
                m.vmas.remove(middle.start);
            }
            n.start = c.start;
            n.pgoff = c.pgoff;
            n.anon_vma = n.anon_vma.or(middle.anon_vma);
            n.flags |= sticky;
            m.vmas.insert(n);
            Some(c.start)
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    //! Pictures: one character per page starting at page 16 (address 0x10000). A run of the same character is
    //! one VMA; a VMA adjacent to another of the same kind is told apart by the other case (`AAaa` = two
    //! VMAs). Kinds: `A` anon rw (unfaulted), `B` anon r--, `C` anon rw faulted (own anon_vma per run),
    //! `D` anon rw faulted with an anon_vma inherited through fork (chain not singular), `F` private file rw
    //! on description 1 (pgoff = page index), `G` same inode through description 2, `L` anon rw mlocked,
    //! `S` `[vdso]`, ` ` hole.
    use super::*;
    use crate::fs::{File, FileMeta, Inode, InodeId, InodeKind, MemFs};
    use crate::kernel::{KernelConfig, INIT_PID};

    pub(crate) const BASE: u64 = 16;
    const RW: VmFlags = VmFlags::READ
        .union(VmFlags::WRITE)
        .union(VmFlags::MAYREAD)
        .union(VmFlags::MAYWRITE)
        .union(VmFlags::MAYEXEC);

    fn file(id: u64) -> Arc<File> {
        let inode = Arc::new(Inode {
            id: InodeId(7),
            kind: InodeKind::Regular,
            meta: FileMeta {
                path: "/f".into(),
                dev_major: 0xfe,
                dev_minor: 0,
                ino: 7,
                size: 1 << 20,
                mode: crate::fs::S_IFREG | 0o644,
                rdev_major: 0,
                rdev_minor: 0,
                noexec: false,
                nosuid: false,
                uid: 0,
                gid: 0,
            },
            display_name: "/f".into(),
        });
        Arc::new(File {
            id: FileId(id),
            inode,
            flags: crate::uapi::O_RDWR,
        })
    }

    fn vma_of(kind: char, first: u64, last: u64, av: u64) -> Vma {
        let s = VirtAddr((BASE + first) << 12);
        let e = VirtAddr((BASE + last) << 12);
        let mut v = Vma::new_anon(s, e, RW);
        match kind.to_ascii_uppercase() {
            'A' => {}
            'B' => v.flags = RW - VmFlags::WRITE,
            'C' | 'D' => {
                v.anon_vma = Some(AnonVmaRef {
                    id: crate::mm::vma::AnonVmaId(av),
                    chain_singular: kind.eq_ignore_ascii_case(&'C'),
                })
            }
            'F' | 'G' => {
                v.file = Some(file(if kind.eq_ignore_ascii_case(&'F') { 1 } else { 2 }));
                v.pgoff = first;
            }
            'L' => v.flags |= VmFlags::LOCKED,
            'S' => {
                v.flags = VmFlags::READ | VmFlags::EXEC | VmFlags::MAYREAD | VmFlags::MAYEXEC | VmFlags::DONTEXPAND;
                v.special = Some(SpecialMapping::Vdso);
            }
            k => panic!("unknown picture kind {k}"),
        }
        v
    }

    pub(crate) fn kernel() -> (Kernel, MmId) {
        let k = Kernel::new(KernelConfig::default(), Box::new(MemFs::new()));
        let mm = k.mm_id(INIT_PID).unwrap();
        (k, mm)
    }

    /// Build the address space a picture draws.
    fn build(pic: &str) -> (Kernel, MmId) {
        let (mut k, mm) = kernel();
        let chars: Vec<char> = pic.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let ch = chars[i];
            let mut j = i;
            while j < chars.len() && chars[j] == ch {
                j += 1;
            }
            if ch != ' ' {
                let v = vma_of(ch, i as u64, j as u64, 100 + i as u64);
                k.mms.get_mut(&mm).unwrap().vmas.insert(v);
            }
            i = j;
        }
        (k, mm)
    }

    fn kind_of(v: &Vma) -> char {
        if v.special.is_some() {
            return 'S';
        }
        if let Some(f) = &v.file {
            return if f.id == FileId(1) { 'F' } else { 'G' };
        }
        if v.flags.contains(VmFlags::LOCKED) {
            return 'L';
        }
        if !v.flags.contains(VmFlags::WRITE) {
            return 'B';
        }
        match v.anon_vma {
            None => 'A',
            Some(a) if a.chain_singular => 'C',
            Some(_) => 'D',
        }
    }

    /// Draw the address space (pages from BASE on), switching case between adjacent VMAs of the same kind.
    pub(crate) fn draw(k: &Kernel, mm: MmId) -> String {
        let m = &k.mms[&mm];
        let pic = crate::mm::mprotect::testkit::picture(m.vmas.iter(), BASE, kind_of);
        m.vmas.check().unwrap();
        // pgoff stays linear for file and private anon VMAs.
        for v in m.vmas.iter() {
            if v.file.is_none() {
                assert_eq!(v.pgoff, v.start.0 >> 12, "anon pgoff of {v:?}");
            } else {
                assert_eq!(v.pgoff, (v.start.0 >> 12) - BASE, "file pgoff of {v:?}");
            }
        }
        pic
    }

    fn page(i: u64) -> VirtAddr {
        VirtAddr((BASE + i) << 12)
    }

    /// Run `op` on the address space `before` and compare the result with `after`.
    fn check(
        before: &str,
        op: impl FnOnce(&mut Kernel, MmId) -> Result<(), Errno>,
        after: &str,
        res: Result<(), Errno>,
    ) {
        let (mut k, mm) = build(before);
        assert_eq!(draw(&k, mm), before.trim_end(), "picture round trip");
        let r = op(&mut k, mm);
        assert_eq!(r, res, "result of op on {before:?}");
        assert_eq!(draw(&k, mm), after, "after op on {before:?}");
    }

    /// Give pages [a, b) the flags of kind `to`, as mprotect would through vma_modify.
    fn modify(a: u64, b: u64, to: char) -> impl FnOnce(&mut Kernel, MmId) -> Result<(), Errno> {
        move |k: &mut Kernel, mm: MmId| {
            let vs = k.mms[&mm].vmas.lookup(page(a)).unwrap().start;
            let f = vma_of(to, 0, 1, 0).flags;
            k.vma_modify(mm, vs, page(a), page(b), VmaChange::Flags(f)).map(|_| ())
        }
    }

    fn insert(a: u64, b: u64, kind: char) -> impl FnOnce(&mut Kernel, MmId) -> Result<(), Errno> {
        move |k: &mut Kernel, mm: MmId| {
            let v = vma_of(kind, a, b, 999);
            let s = k.vma_insert_merge(mm, v);
            assert!(k.mms[&mm].vmas.lookup(page(a)).unwrap().start == s);
            Ok(())
        }
    }

    fn split(a: u64) -> impl FnOnce(&mut Kernel, MmId) -> Result<(), Errno> {
        move |k: &mut Kernel, mm: MmId| k.split_vma(mm, page(a))
    }

    #[test]
    fn new_range_merges() {
        check("AA  AA", insert(2, 4, 'A'), "AAAAAA", Ok(()));
        check("AA    ", insert(2, 4, 'A'), "AAAA", Ok(()));
        check("    AA", insert(2, 4, 'A'), "  AAAA", Ok(()));
        check("BB  AA", insert(2, 4, 'A'), "BBAAAA", Ok(()));
        check("AA  BB", insert(2, 4, 'A'), "AAAABB", Ok(()));
        check("BB  BB", insert(2, 4, 'A'), "BBAABB", Ok(()));
        check("A   A", insert(2, 3, 'A'), "A A A", Ok(()));
        // A faulted neighbour lends its anon_vma; the merged VMA is faulted.
        check("CC  AA", insert(2, 4, 'A'), "CCCCCC", Ok(()));
        check("AA  CC", insert(2, 4, 'A'), "CCCCCC", Ok(()));
        // Two separately faulted VMAs are not compatible with each other: left merge only.
        check("CC  CC", insert(2, 4, 'A'), "CCCCcc", Ok(()));
        // A fork-inherited anon_vma never absorbs a neighbour.
        check("DD  ", insert(2, 4, 'A'), "DDAA", Ok(()));
        check("  DD", insert(0, 2, 'A'), "AADD", Ok(()));
        // Same inode through another open file description: no merge.
        check("FF  ", insert(2, 4, 'F'), "FFFF", Ok(()));
        check("FF  ", insert(2, 4, 'G'), "FFGG", Ok(()));
        // Special mappings never merge.
        check("SS  ", insert(2, 4, 'S'), "SSss", Ok(()));
    }

    #[test]
    fn new_range_pgoff_must_be_linear() {
        let (mut k, mm) = build("FF");
        let mut v = vma_of('F', 2, 4, 0);
        v.pgoff = 7;
        k.vma_insert_merge(mm, v);
        assert_eq!(k.mms[&mm].map_count(), 2);
        // A non-linear private anon VMA (e.g. moved by mremap after faulting) does not merge either.
        let (mut k, mm) = build("AA");
        let mut v = vma_of('A', 2, 4, 0);
        v.pgoff += 1;
        k.vma_insert_merge(mm, v);
        assert_eq!(k.mms[&mm].map_count(), 2);
    }

    #[test]
    fn existing_range_merges() {
        // mprotect RO of the middle of a RW VMA: two splits.
        check("AAAAAA", modify(2, 4, 'B'), "AABBAA", Ok(()));
        // Touching one edge merges with the compatible neighbour.
        check("BBAAAA", modify(2, 4, 'B'), "BBBBAA", Ok(()));
        check("AAAABB", modify(2, 4, 'B'), "AABBBB", Ok(()));
        // The whole middle: three-way merge.
        check("BBAABB", modify(2, 4, 'B'), "BBBBBB", Ok(()));
        check("BBAA  ", modify(2, 4, 'B'), "BBBB", Ok(()));
        // A range inside the VMA never merges, even if the neighbours match.
        check("BBAAAABB", modify(3, 5, 'B'), "BBABBABB", Ok(()));
        // A faulted middle merges into an unfaulted neighbour, which takes its anon_vma.
        check("BBCC", modify(2, 4, 'B'), "BBBB", Ok(()));
        // Three-way with incompatible prev and next: left only.
        check("CCBBCC", modify(2, 4, 'A'), "CCCCcc", Ok(()));
        // Inherited anon_vma in the middle: cannot move into an unfaulted neighbour.
        check("AADD", modify(2, 4, 'A'), "AADD", Ok(()));
        check("LLAALL", modify(2, 4, 'L'), "LLLLLL", Ok(()));
    }

    #[test]
    fn same_flags_are_skipped_without_merging() {
        // Two adjacent compatible VMAs (they could be merged) stay separate when the change is a no-op.
        check("AAaa", modify(0, 2, 'A'), "AAaa", Ok(()));
        check("AAAA", modify(1, 2, 'A'), "AAAA", Ok(()));
    }

    #[test]
    fn existing_range_merge_keeps_middle_anon_vma_for_remaining_part() {
        let (mut k, mm) = build("BBCCCC");
        let f = vma_of('B', 0, 1, 0).flags;
        k.vma_modify(mm, page(2), page(2), page(3), VmaChange::Flags(f))
            .unwrap();
        let m = &k.mms[&mm];
        let prev = m.vmas.lookup(page(0)).unwrap();
        let rest = m.vmas.lookup(page(3)).unwrap();
        assert_eq!(prev.end, page(3));
        assert_eq!(
            prev.anon_vma.unwrap().id,
            rest.anon_vma.unwrap().id,
            "prev took middle's anon_vma"
        );
        assert_eq!(rest.pgoff, page(3).0 >> 12);
    }

    #[test]
    fn splits() {
        check("AAAA", split(1), "Aaaa", Ok(()));
        check("AAAA", split(0), "AAAA", Ok(()));
        check("AAAA", split(6), "AAAA", Ok(()));
        check("FFFF", split(3), "FFFf", Ok(()));
        check("SS", split(1), "SS", Err(Errno::EINVAL));
    }

    #[test]
    fn split_respects_max_map_count() {
        let (mut k, mm) = build("AA A A");
        k.cfg.max_map_count = 3;
        assert_eq!(k.split_vma(mm, page(1)), Err(Errno::ENOMEM));
        k.cfg.max_map_count = 4;
        assert_eq!(k.split_vma(mm, page(1)), Ok(()));
        assert_eq!(draw(&k, mm), "Aa A A");
        // The unchecked variant (munmap's) ignores the count.
        let (mut k, mm) = build("AAAA");
        k.cfg.max_map_count = 0;
        assert_eq!(k.split_vma_unchecked(mm, page(2)), Ok(()));
    }

    #[test]
    fn modify_split_failure_keeps_first_split() {
        // mprotect of a middle page at N = M-1: the first split succeeds, the second fails (§3.5).
        let (mut k, mm) = build("AAA");
        k.cfg.max_map_count = 2;
        let f = vma_of('B', 0, 1, 0).flags;
        let r = k.vma_modify(mm, page(0), page(1), page(2), VmaChange::Flags(f));
        assert_eq!(r, Err(Errno::ENOMEM));
        assert_eq!(draw(&k, mm), "Aaa");
    }

    #[test]
    fn sticky_flags_are_ignored_and_kept() {
        let (mut k, mm) = build("AA  ");
        k.mms.get_mut(&mm).unwrap().vmas.get_mut(page(0)).unwrap().flags |= VmFlags::MAYBE_GUARD;
        k.vma_insert_merge(mm, vma_of('A', 2, 4, 0));
        let m = &k.mms[&mm];
        assert_eq!(m.map_count(), 1);
        assert!(m.vmas.iter().next().unwrap().flags.contains(VmFlags::MAYBE_GUARD));
    }

    #[test]
    fn anon_name_change_merges() {
        let (mut k, mm) = build("AAAA");
        let name: Option<Arc<str>> = Some(Arc::from("x"));
        k.vma_modify(mm, page(0), page(0), page(2), VmaChange::AnonName(name.clone()))
            .unwrap();
        assert_eq!(k.mms[&mm].map_count(), 2);
        k.vma_modify(mm, page(2), page(2), page(4), VmaChange::AnonName(name))
            .unwrap();
        assert_eq!(k.mms[&mm].map_count(), 1);
    }

    #[test]
    fn mergeable_predicate() {
        let a = vma_of('A', 0, 2, 0);
        let b = vma_of('A', 2, 3, 0);
        assert!(Kernel::vmas_mergeable(&a, &b));
        assert!(!Kernel::vmas_mergeable(&b, &a));
        let c = vma_of('B', 2, 3, 0);
        assert!(!Kernel::vmas_mergeable(&a, &c));
        let mut d = vma_of('A', 2, 3, 0);
        d.flags |= VmFlags::ACCOUNT;
        assert!(!Kernel::vmas_mergeable(&a, &d), "VM_ACCOUNT counts");
    }
}
