//! The address space: `struct mm_struct` (`include/linux/mm_types.h`) and the accounting helpers every
//! mapping operation shares (`mm/mmap.c: may_expand_vm, vm_stat_account`, `mm/util.c: __vm_enough_memory`).
//!
//! One file per operation, each an `impl Kernel` block, as `mm/` is laid out in Linux:
//! `mmap.rs` (mmap, munmap, get_unmapped_area), `mprotect.rs`, `mremap.rs`, `brk.rs`, `madvise.rs`, `mlock.rs`,
//! `msync.rs`, `mincore.rs`, `fault.rs` (the page-fault handler), `memory.rs` (page-table level primitives:
//! zap, change_protection, move_page_tables, populate), `vma_ops.rs` (split/merge, `mm/vma.c`).

pub mod brk;
pub mod fault;
pub mod fork_copy;
pub mod madvise;
pub mod memory;
pub mod mincore;
pub mod mlock;
pub mod mmap;
pub mod mprotect;
pub mod mremap;
pub mod msync;
pub mod vma;
pub mod vma_ops;
pub mod vma_tree;

use crate::addr::{Pfn, VirtAddr};
use vma::VmFlags;
use vma_tree::VmaTree;

/// Identity of an address space (threads share one).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct MmId(pub u64);

/// Index into [`Mm::rss`] (`enum NR_MM_COUNTERS` in `include/linux/mm_types_task.h`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(usize)]
pub enum RssCounter {
    FilePages = 0,
    AnonPages = 1,
    SwapEnts = 2,
    ShmemPages = 3,
}

/// Page counts by classification, as [`Mm::recount`] derives them from the VMAs.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct VmCounters {
    pub total_vm: u64,
    pub data_vm: u64,
    pub exec_vm: u64,
    pub stack_vm: u64,
    pub locked_vm: u64,
    /// Pages of `VM_ACCOUNT` VMAs (their share of Committed_AS).
    pub accounted: u64,
}

/// `struct mm_struct`.
#[derive(Clone, Debug)]
pub struct Mm {
    pub id: MmId,
    /// `mm->mm_mt`: the VMAs.
    pub vmas: VmaTree,
    /// The top-level page table (`mm->pgd`), a simulated physical frame. Not counted in `pgtables_bytes`.
    pub pgd: Option<Pfn>,
    /// `mm->mmap_base`: where top-down searches start.
    pub mmap_base: u64,
    /// `mm->mmap_legacy_base`: where bottom-up searches start.
    pub mmap_legacy_base: u64,
    /// Use the legacy bottom-up layout (`mm->get_unmapped_area == arch_get_unmapped_area`).
    pub legacy_layout: bool,
    /// `mm->task_size`.
    pub task_size: u64,
    pub start_code: u64,
    pub end_code: u64,
    pub start_data: u64,
    pub end_data: u64,
    pub start_brk: u64,
    pub brk: u64,
    pub start_stack: u64,
    pub arg_start: u64,
    pub arg_end: u64,
    pub env_start: u64,
    pub env_end: u64,
    /// Pages mapped (`total_vm`), locked, pinned, and by classification.
    pub total_vm: u64,
    pub locked_vm: u64,
    pub pinned_vm: u64,
    pub data_vm: u64,
    pub exec_vm: u64,
    pub stack_vm: u64,
    /// `mm->rss_stat`, indexed by [`RssCounter`].
    pub rss: [i64; 4],
    pub hiwater_rss: u64,
    pub hiwater_vm: u64,
    /// `mm->pgtables_bytes`: PTE, PMD, PUD (and P4D with 5 levels) tables, 4096 bytes each.
    pub pgtables_bytes: u64,
    /// `mm->def_flags`: `VM_LOCKED[|VM_LOCKONFAULT]` after `mlockall(MCL_FUTURE)`.
    pub def_flags: VmFlags,
    pub mm_users: u32,
    pub mm_count: u32,
    /// `mm->exe_file`: the program the last execve loaded (what `/proc/PID/exe` names); fork copies it.
    pub exe_file: Option<std::sync::Arc<crate::fs::File>>,
}

impl Mm {
    /// An empty address space (`mm_alloc` + `arch_pick_mmap_layout`), with the given bases.
    pub fn new(id: MmId, task_size: u64, mmap_base: u64, mmap_legacy_base: u64) -> Mm {
        Mm {
            id,
            vmas: VmaTree::new(),
            pgd: None,
            mmap_base,
            mmap_legacy_base,
            legacy_layout: false,
            task_size,
            start_code: 0,
            end_code: 0,
            start_data: 0,
            end_data: 0,
            start_brk: 0,
            brk: 0,
            start_stack: 0,
            arg_start: 0,
            arg_end: 0,
            env_start: 0,
            env_end: 0,
            total_vm: 0,
            locked_vm: 0,
            pinned_vm: 0,
            data_vm: 0,
            exec_vm: 0,
            stack_vm: 0,
            rss: [0; 4],
            hiwater_rss: 0,
            hiwater_vm: 0,
            pgtables_bytes: 0,
            def_flags: VmFlags::empty(),
            mm_users: 1,
            mm_count: 1,
            exe_file: None,
        }
    }

    /// `mm->map_count`.
    #[inline]
    pub fn map_count(&self) -> usize {
        self.vmas.len()
    }

    /// `get_mm_counter`.
    #[inline]
    pub fn counter(&self, c: RssCounter) -> i64 {
        self.rss[c as usize]
    }

    /// `add_mm_counter`.
    #[inline]
    pub fn add_counter(&mut self, c: RssCounter, delta: i64) {
        self.rss[c as usize] += delta;
    }

    /// `get_mm_rss`: file + anon + shmem pages.
    pub fn rss_pages(&self) -> u64 {
        (self.counter(RssCounter::FilePages)
            + self.counter(RssCounter::AnonPages)
            + self.counter(RssCounter::ShmemPages))
        .max(0) as u64
    }

    /// `update_hiwater_rss`: called just before RSS drops.
    pub fn update_hiwater_rss(&mut self) {
        self.hiwater_rss = self.hiwater_rss.max(self.rss_pages());
    }

    /// `update_hiwater_vm`: called just before total_vm drops.
    pub fn update_hiwater_vm(&mut self) {
        self.hiwater_vm = self.hiwater_vm.max(self.total_vm);
    }

    /// `vm_stat_account(mm, flags, npages)`: adjust total_vm and the classification counters.
    pub fn vm_stat_account(&mut self, flags: VmFlags, npages: i64) {
        let add = |x: &mut u64| *x = x.wrapping_add_signed(npages);
        if npages < 0 {
            self.update_hiwater_vm();
        }
        add(&mut self.total_vm);
        if flags.is_exec_mapping() {
            add(&mut self.exec_vm);
        } else if flags.is_stack_mapping() {
            add(&mut self.stack_vm);
        } else if flags.is_data_mapping() {
            add(&mut self.data_vm);
        }
    }

    /// Recompute the page counters from the VMAs: what `vm_stat_account` and the `locked_vm` updates must
    /// have produced (an invariant of ARCHITECTURE.md, checked by the property tests).
    pub fn recount(&self) -> VmCounters {
        let mut c = VmCounters::default();
        for v in self.vmas.iter() {
            let n = v.nr_pages();
            c.total_vm += n;
            if v.flags.is_exec_mapping() {
                c.exec_vm += n;
            } else if v.flags.is_stack_mapping() {
                c.stack_vm += n;
            } else if v.flags.is_data_mapping() {
                c.data_vm += n;
            }
            if v.flags.contains(VmFlags::LOCKED) {
                c.locked_vm += n;
            }
            if v.flags.contains(VmFlags::ACCOUNT) {
                c.accounted += n;
            }
        }
        c
    }

    /// The counters as the mm holds them, in the shape of [`Mm::recount`] (`accounted` is not kept by the mm:
    /// Committed_AS is global, so it is 0 here).
    pub fn counters(&self) -> VmCounters {
        VmCounters {
            total_vm: self.total_vm,
            data_vm: self.data_vm,
            exec_vm: self.exec_vm,
            stack_vm: self.stack_vm,
            locked_vm: self.locked_vm,
            accounted: 0,
        }
    }

    /// The VMA containing `addr`.
    pub fn vma_at(&self, addr: VirtAddr) -> Option<&vma::Vma> {
        self.vmas.lookup(addr)
    }
}
