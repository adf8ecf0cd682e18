//! Copying an address space at fork (`kernel/fork.c: dup_mmap`, `mm/memory.c: copy_page_range,
//! copy_pte_range, copy_present_pte, copy_nonpresent_pte, vma_needs_copy`, `mm/rmap.c: anon_vma_fork`).
//!
//! The child gets every VMA but the `VM_DONTCOPY` ones, 1:1 and never merged. Page tables are copied only
//! where a fault could not recreate the contents (`vma_needs_copy`: the VMA has an anon_vma, is a PFN or mixed
//! map, or may hold guard markers). Private writable pages end up write-protected in *both* processes and
//! mapped twice (map and reference counts raised, `PageAnonExclusive` cleared), so the first write on either
//! side goes through `do_wp_page` in `mm/fault.rs`, which copies when the page is shared and reuses it once
//! the other side is gone.
//!
//! anon_vma_fork: a child VMA gets a new anon_vma whose parent is the parent VMA's (kept in
//! `Kernel::anon_vma_parent`) and a non-singular chain, so `is_mergeable_anon_vma` refuses to merge it with a
//! neighbour that has no anon_vma or another one, as in Linux. Pages the child inherits keep pointing at the
//! parent's anon_vma (a page belongs to its VMA's anon_vma or one of its ancestors). Linux may reuse an idle
//! anon_vma of the chain instead of allocating one (`anon_vma_clone`'s reuse); the model always allocates,
//! which only changes identities no output shows.
//!
//! Cost: proportional to the PTE tables that exist under copied VMAs (`leaf_tables` visits only existing
//! tables), never to the size of the address space. Each source table's bytes are processed in place.

use crate::arch::pgtable::{leaf_tables, pmd_alloc, pte_table_alloc};
use crate::arch::pte::{Pte, PteFlags, SwapEntry};
use crate::errno::Errno;
use crate::kernel::Kernel;
use crate::mm::memory::mm_counter;
use crate::mm::vma::{AnonVmaId, AnonVmaRef, VmFlags, Vma};
use crate::mm::{Mm, MmId, RssCounter};
use crate::phys::{PageData, PageFlags};
use crate::task::Pid;

/// `is_cow_mapping(flags)`: private and possibly writable.
#[inline]
pub fn is_cow_mapping(flags: VmFlags) -> bool {
    flags.intersection(VmFlags::SHARED | VmFlags::MAYWRITE) == VmFlags::MAYWRITE
}

/// `vma_needs_copy(dst, src)` (6.18): copy page tables only where faulting could not rebuild them: PFN and
/// mixed maps, VMAs that may hold guard markers (`VM_MAYBE_GUARD`, one of `VM_COPY_ON_FORK`), userfaultfd-wp,
/// and anything with an anon_vma (private pages that exist nowhere else).
pub fn vma_needs_copy(src: &Vma) -> bool {
    src.flags
        .intersects(VmFlags::PFNMAP | VmFlags::MIXEDMAP | VmFlags::MAYBE_GUARD | VmFlags::UFFD_WP)
        || src.anon_vma.is_some()
}

#[inline]
fn get(d: &PageData, idx: usize, width: usize) -> u64 {
    let off = idx * width;
    if width == 8 {
        u64::from_le_bytes(d.0[off..off + 8].try_into().expect("8 bytes"))
    } else {
        u64::from(u32::from_le_bytes(d.0[off..off + 4].try_into().expect("4 bytes")))
    }
}

#[inline]
fn put(d: &mut PageData, idx: usize, width: usize, v: u64) {
    let off = idx * width;
    if width == 8 {
        d.0[off..off + 8].copy_from_slice(&v.to_le_bytes());
    } else {
        d.0[off..off + 4].copy_from_slice(&(v as u32).to_le_bytes());
    }
}

impl Kernel {
    /// Is `page_av` the anon_vma `vma_av` or one of its ancestors (the anon_vma chain of a forked VMA)?
    pub fn anon_vma_in_chain(&self, vma_av: AnonVmaId, page_av: u64) -> bool {
        let mut cur = Some(vma_av);
        while let Some(a) = cur {
            if a.0 == page_av {
                return true;
            }
            cur = self.anon_vma_parent.get(&a).copied();
        }
        false
    }

    /// `anon_vma_fork(vma, pvma)`: a new anon_vma for the child's VMA, child of the parent's.
    fn anon_vma_fork(&mut self, parent: AnonVmaId) -> AnonVmaRef {
        let id = self.alloc_anon_vma();
        self.anon_vma_parent.insert(id, parent);
        AnonVmaRef {
            id,
            chain_singular: false,
        }
    }

    /// `dup_mm` → `dup_mmap`: a new address space for the child of `parent` (whose mm is `old`). Fails with
    /// ENOMEM when a `VM_ACCOUNT` VMA cannot be charged (each is charged separately, as the parent: a single
    /// VMA larger than RAM + swap fails under the heuristic mode) or when page tables cannot be allocated;
    /// then nothing of the child is left and every charge is undone.
    pub fn dup_mm(&mut self, parent: Pid, old: MmId) -> Result<MmId, Errno> {
        // security_vm_enough_memory_mm(oldmm, len) per VM_ACCOUNT VMA, in address order; DONTCOPY VMAs are
        // skipped before charging.
        let charges: Vec<u64> = {
            let m = self.mms.get(&old).ok_or(Errno::ESRCH)?;
            m.vmas
                .iter()
                .filter(|v| !v.flags.contains(VmFlags::DONTCOPY) && v.flags.contains(VmFlags::ACCOUNT))
                .map(|v| v.nr_pages())
                .collect()
        };
        let mut charged = 0u64;
        for pages in charges {
            if let Err(e) = self.vm_enough_memory(parent, pages) {
                self.vm_unacct_memory(charged);
                return Err(e);
            }
            charged += pages;
        }

        let id = self.alloc_mm_id();
        let mut child: Mm = {
            let m = &self.mms[&old];
            // dup_mm: memcpy of the mm, then mm_init resets what is per-mm.
            let mut c = m.clone();
            c.id = id;
            c.pgd = None;
            c.rss = [0; 4];
            c.pgtables_bytes = 0;
            c.locked_vm = 0;
            c.pinned_vm = 0;
            c.mm_users = 1;
            c.mm_count = 1;
            // mm_init: def_flags = current->mm->def_flags & VM_INIT_DEF_MASK (only VM_NOHUGEPAGE survives).
            c.def_flags = m.def_flags.intersection(VmFlags::NOHUGEPAGE);
            c
        };
        // Walk the parent's VMAs: drop DONTCOPY, fork anon_vmas, clear the lock bits.
        let parent_vmas: Vec<(crate::addr::VirtAddr, VmFlags, Option<AnonVmaRef>)> = self.mms[&old]
            .vmas
            .iter()
            .map(|v| (v.start, v.flags, v.anon_vma))
            .collect();
        let mut to_copy = Vec::new();
        for (start, flags, anon) in parent_vmas {
            if flags.contains(VmFlags::DONTCOPY) {
                // vm_stat_account(mm, mpnt->vm_flags, -vma_pages(mpnt))
                if let Some(v) = child.vmas.remove(start) {
                    child.vm_stat_account(v.flags, -(v.nr_pages() as i64));
                }
                continue;
            }
            let new_anon = if flags.contains(VmFlags::WIPEONFORK) {
                None // tmp->anon_vma = NULL: fresh zero memory in the child
            } else {
                anon.map(|a| self.anon_vma_fork(a.id))
            };
            if let Some(v) = child.vmas.get_mut(start) {
                v.anon_vma = new_anon;
                // vm_flags_clear(tmp, VM_LOCKED_MASK)
                v.flags.remove(VmFlags::LOCKED_MASK);
            }
            let src = self.mms[&old].vmas.get(start).expect("parent VMA");
            if !flags.contains(VmFlags::WIPEONFORK) && vma_needs_copy(src) {
                to_copy.push((start.as_u64(), src.end.as_u64(), flags));
            }
        }
        self.mms.insert(id, child);
        for (start, end, flags) in to_copy {
            if let Err(e) = self.copy_page_range(old, id, start, end, flags) {
                self.exit_mmap(id);
                self.mms.remove(&id);
                return Err(e);
            }
        }
        let c = self.mms.get_mut(&id).expect("child mm");
        // dup_mm: the child's high-water marks start at its current values.
        c.hiwater_rss = c.rss_pages();
        c.hiwater_vm = c.total_vm;
        Ok(id)
    }

    /// `copy_page_range(dst_vma, src_vma)` → `copy_pte_range` over the PTE tables that exist in `[start, end)`
    /// of `src`: present pages are mapped once more (`copy_present_pte`), swap entries duplicated
    /// (`copy_nonpresent_pte`). ENOMEM when a page table cannot be allocated.
    pub fn copy_page_range(&mut self, src: MmId, dst: MmId, start: u64, end: u64, flags: VmFlags) -> Result<(), Errno> {
        let arch = self.cfg.arch;
        let width = arch.pte_bytes() as usize;
        let cow = is_cow_mapping(flags);
        let shared = flags.contains(VmFlags::SHARED);
        let Kernel { phys, mms, .. } = self;
        let src_pgd = mms.get(&src).ok_or(Errno::ESRCH)?.pgd;
        let mut dm = mms.remove(&dst).ok_or(Errno::ESRCH)?;
        let mut rss = [0i64; 4];
        let mut result = Ok(());
        for lt in leaf_tables(phys, arch, src_pgd, start, end) {
            let Some(mut sdata) = phys.page_mut(lt.table).data.take() else {
                continue; // a table without bytes holds only none entries
            };
            let dslot = match pmd_alloc(phys, arch, &mut dm, lt.base)
                .and_then(|pmd| pte_table_alloc(phys, arch, &mut dm, pmd, lt.base))
            {
                Some(s) => s,
                None => {
                    phys.page_mut(lt.table).data = Some(sdata);
                    result = Err(Errno::ENOMEM);
                    break;
                }
            };
            let mut ddata = phys.page_mut(dslot.table).data.take().unwrap_or_else(PageData::zeroed);
            for idx in lt.first..=lt.last {
                let raw = get(&sdata, idx, width);
                if raw == 0 {
                    continue;
                }
                let pte = Pte(raw);
                let mut child = pte;
                if pte.is_marker(arch) {
                    // copy_pte_marker: a guard marker is copied as it is (no page, not counted).
                    put(&mut ddata, idx, width, raw);
                    continue;
                }
                if !pte.present() {
                    // copy_nonpresent_pte: a swap entry. The child maps it too; an anonymous entry loses its
                    // exclusive marker on both sides (swap_duplicate, pte_swp_clear_exclusive).
                    let (entry, excl) = SwapEntry::from_pte(arch, pte);
                    if excl {
                        let shared_entry = entry.to_pte(arch, false);
                        put(&mut sdata, idx, width, shared_entry.0);
                        child = shared_entry;
                    }
                    rss[RssCounter::SwapEnts as usize] += 1;
                    put(&mut ddata, idx, width, child.0);
                    continue;
                }
                if !pte.special() {
                    // vm_normal_page: a real frame. folio_try_dup_anon_rmap_pte / folio_dup_file_rmap_pte.
                    let pfn = crate::addr::Pfn(pte.pfn(arch));
                    let pg = phys.page_mut(pfn);
                    pg.refcount += 1;
                    pg.mapcount += 1;
                    if pg.flags.contains(PageFlags::ANON) {
                        pg.flags.remove(PageFlags::ANON_EXCLUSIVE);
                    }
                    rss[mm_counter(pg) as usize] += 1;
                }
                // copy_present_pte: a COW mapping is write-protected in both processes.
                if cow && pte.write() {
                    let ro = pte.clear(PteFlags::RW);
                    put(&mut sdata, idx, width, ro.0);
                    child = ro;
                }
                // A shared mapping is clean in the child; every child PTE starts old.
                if shared {
                    child = child.clear(PteFlags::DIRTY);
                }
                child = child.clear(PteFlags::ACCESSED);
                put(&mut ddata, idx, width, child.0);
            }
            phys.page_mut(lt.table).data = Some(sdata);
            phys.page_mut(dslot.table).data = Some(ddata);
        }
        for (i, n) in rss.iter().enumerate() {
            dm.rss[i] += n;
        }
        mms.insert(dst, dm);
        result
    }
}
