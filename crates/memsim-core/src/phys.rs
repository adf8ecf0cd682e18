//! Physical memory: the frame table (`struct page` metadata, `include/linux/mm_types.h`) and the frame
//! allocator. STUB: to be filled in (issue 2, item 3).

/// The simulated physical memory.
#[derive(Debug)]
pub struct PhysMem {
    pub nr_frames: u64,
}

impl PhysMem {
    pub fn new(nr_frames: u64) -> PhysMem {
        PhysMem { nr_frames }
    }
}
