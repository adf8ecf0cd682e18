//! VMA split and merge (`mm/vma.c`: `__split_vma`, `vma_merge_new_range`, `vma_merge_existing_range`,
//! `vma_modify_flags`, `is_mergeable_vma`, `is_mergeable_anon_vma`, `vma_expand`).
//!
//! STUB: signatures are fixed (other modules code against them); bodies to be written.
//!
//! ```text
//!   | prev |  middle  | next |      vma_modify_*: the range [start, end) inside `middle` gets new attributes;
//!                                  merge with prev and/or next if compatible, else split at start and end.
//! ```

use crate::addr::VirtAddr;
use crate::errno::Errno;
use crate::kernel::Kernel;
use crate::mm::vma::{VmFlags, Vma};
use crate::mm::MmId;

/// What a modification changes on the affected range.
#[derive(Clone, Debug)]
pub enum VmaChange {
    /// New `vm_flags` (mprotect, mlock, madvise flag advice).
    Flags(VmFlags),
    /// New anonymous name (prctl PR_SET_VMA_ANON_NAME).
    AnonName(Option<std::sync::Arc<str>>),
}

impl Kernel {
    /// `is_mergeable_vma` + `is_mergeable_anon_vma` + pgoff linearity + `VM_SPECIAL` refusal: may `a` (lower)
    /// and `b` (upper, adjacent) become one VMA? (`../shared/reference/linux-mm-rules.md` §3.1)
    pub fn vmas_mergeable(a: &Vma, b: &Vma) -> bool {
        let _ = (a, b);
        false
    }

    /// `split_vma(vmi, vma, addr, new_below)`: split the VMA containing `at` into `[start, at)` and `[at, end)`.
    /// Fails with ENOMEM when `map_count >= max_map_count`, EINVAL when a special mapping refuses (`may_split`).
    /// A no-op when `at` is already a VMA boundary or inside no VMA.
    pub fn split_vma(&mut self, mm: MmId, at: VirtAddr) -> Result<(), Errno> {
        let _ = (mm, at);
        Err(Errno::ENOSYS)
    }

    /// `vma_modify` (`vma_modify_flags` and friends): apply `change` to `[start, end)`, which lies inside the
    /// single VMA starting at `vma_start`. Tries to merge the range with the previous and/or next VMA first
    /// (`vma_merge_existing_range`); otherwise splits at `start` and `end` as needed and changes the middle.
    /// Returns the start of the VMA that now holds `start`. Errors (ENOMEM from a split) leave completed
    /// splits in place, as Linux does.
    pub fn vma_modify(
        &mut self,
        mm: MmId,
        vma_start: VirtAddr,
        start: VirtAddr,
        end: VirtAddr,
        change: VmaChange,
    ) -> Result<VirtAddr, Errno> {
        let _ = (mm, vma_start, start, end, change);
        Err(Errno::ENOSYS)
    }

    /// `vma_merge_new_range` + insertion: place a new VMA (no overlap with existing ones), merging it with its
    /// neighbours when Linux would. Returns the start of the VMA that now contains `vma.start`.
    pub fn vma_insert_merge(&mut self, mm: MmId, vma: Vma) -> VirtAddr {
        let _ = mm;
        vma.start
    }
}
