//! Page-fault throughput: anonymous write faults (issue 2, item 10: at least 5 million a second), read faults
//! that map the zero page, and the host memory one resident simulated page costs.
//!
//! Run with `cargo bench -p memsim-core --bench faults`. Only the faults are timed: the zap that recycles the
//! pages between rounds runs outside the measured time.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use memsim_core::addr::VirtAddr;
use memsim_core::fs::MemFs;
use memsim_core::kernel::{KernelConfig, INIT_PID};
use memsim_core::mm::vma::{VmFlags, Vma};
use memsim_core::{AccessKind, Kernel};

const BASE: u64 = 0x1_0000_0000;
/// Pages per round: 256 MiB of simulated memory.
const PAGES: u64 = 1 << 16;

fn machine() -> Kernel {
    let mut k = Kernel::new(KernelConfig::default(), Box::new(MemFs::new()));
    let mm = k.mm_id(INIT_PID).expect("init has an mm");
    let flags = VmFlags::READ | VmFlags::WRITE | VmFlags::MAYREAD | VmFlags::MAYWRITE | VmFlags::MAYEXEC;
    let m = k.mms.get_mut(&mm).expect("mm");
    m.vmas
        .insert(Vma::new_anon(VirtAddr(BASE), VirtAddr(BASE + PAGES * 4096), flags));
    m.vm_stat_account(flags, PAGES as i64);
    k
}

/// Time `iters` faults of `kind` on fresh pages, zapping (untimed) whenever the region is used up.
fn fault_loop(k: &mut Kernel, iters: u64, kind: AccessKind) -> Duration {
    let mm = k.mm_id(INIT_PID).expect("mm");
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(PAGES);
        let t0 = Instant::now();
        for i in 0..n {
            k.access(INIT_PID, BASE + i * 4096, 8, kind).expect("fault succeeds");
        }
        total += t0.elapsed();
        k.zap_range(mm, VirtAddr(BASE), VirtAddr(BASE + n * 4096));
        left -= n;
    }
    total
}

fn bench_faults(c: &mut Criterion) {
    let mut g = c.benchmark_group("faults");
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("anon_write", |b| {
        let mut k = machine();
        b.iter_custom(|iters| fault_loop(&mut k, iters, AccessKind::Write));
    });
    g.bench_function("anon_read_zero_page", |b| {
        let mut k = machine();
        b.iter_custom(|iters| fault_loop(&mut k, iters, AccessKind::Read));
    });
    g.finish();

    // Host memory per resident simulated page, without contents.
    let mut k = machine();
    let n = PAGES;
    for i in 0..n {
        k.access(INIT_PID, BASE + i * 4096, 1, AccessKind::Write)
            .expect("fault");
    }
    let meta = k.phys.metadata_bytes() as f64 / n as f64;
    let struct_page = std::mem::size_of::<memsim_core::phys::Page>();
    // Page-table frames are simulated memory (their 4 KiB hold the real entries): 8 bytes per mapped page.
    let tables = k.mms[&k.mm_id(INIT_PID).expect("mm")].pgtables_bytes as f64 / n as f64;
    println!(
        "host memory per resident page: struct Page {struct_page} B, frame table {meta:.1} B (Vec capacity \
         included), page-table contents {tables:.1} B"
    );
}

criterion_group!(benches, bench_faults);
criterion_main!(benches);
