//! VMA split and merge (`mm/vma.c`: `__split_vma`, `vma_merge_new_range`, `vma_merge_existing_range`,
//! `vma_modify_flags`, `is_mergeable_vma`, `is_mergeable_anon_vma`). STUB.
