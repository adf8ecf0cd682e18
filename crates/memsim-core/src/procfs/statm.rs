//! `/proc/PID/statm` (`fs/proc/array.c: proc_pid_statm`, `fs/proc/task_mmu.c: task_statm`).
//!
//! `size resident shared text lib data dt` in pages; `lib` and `dt` are always 0 since Linux 2.6.

use crate::addr::{page_align, PAGE_MASK, PAGE_SHIFT};
use crate::mm::{Mm, RssCounter};

/// `task_statm`: (size, resident, shared, text, data) in pages.
pub fn task_statm(mm: &Mm) -> (u64, u64, u64, u64, u64) {
    let file = mm.counter(RssCounter::FilePages);
    let shmem = mm.counter(RssCounter::ShmemPages);
    let anon = mm.counter(RssCounter::AnonPages);
    // The counters are unsigned longs in Linux: a transiently negative value would print huge; the model's
    // counters never go negative, so clamping changes nothing observable.
    let shared = (file + shmem).max(0) as u64;
    let resident = shared + anon.max(0) as u64;
    // Not clamped by exec_vm (unlike VmExe).
    let text = page_align(mm.end_code).wrapping_sub(mm.start_code & PAGE_MASK) >> PAGE_SHIFT;
    let data = mm.data_vm + mm.stack_vm;
    (mm.total_vm, resident, shared, text, data)
}

/// The whole file: `"%lu %lu %lu %lu 0 %lu 0\n"`, or all zeros without an address space.
pub fn render(mm: Option<&Mm>) -> Vec<u8> {
    match mm {
        None => b"0 0 0 0 0 0 0\n".to_vec(),
        Some(mm) => {
            let (size, resident, shared, text, data) = task_statm(mm);
            format!("{size} {resident} {shared} {text} 0 {data} 0\n").into_bytes()
        }
    }
}
