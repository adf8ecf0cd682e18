//! fork of a large process (issue 3, item 11: 1 GiB of resident anonymous memory, 262,144 written pages, in at
//! most 10 ms), and the same number of pages spread thinly over 64 TiB of address space: the cost follows the
//! pages (and their page tables) that exist, not the size of the mappings.
//!
//! Run with `cargo bench -p memsim-core --bench fork`. Only `fork` is timed; the child's exit and reaping run
//! outside the measured time (their cost is reported by the `fork+exit` case). Pages are written with a store
//! access (`Kernel::access`), which dirties them without giving each a 4 KiB host buffer.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use memsim_core::fs::MemFs;
use memsim_core::kernel::{KernelConfig, INIT_PID};
use memsim_core::task::Pid;
use memsim_core::uapi::*;
use memsim_core::{AccessKind, Kernel};

const BASE: u64 = 0x1000_0000_0000;
/// 1 GiB of 4 KiB pages.
const PAGES: u64 = 262_144;

fn machine() -> Kernel {
    Kernel::new(KernelConfig::default(), Box::new(MemFs::new()))
}

/// A process with 1 GiB written, in one VMA.
fn dense() -> Kernel {
    let mut k = machine();
    let flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
    k.sys_mmap(INIT_PID, BASE, PAGES * 4096, PROT_READ | PROT_WRITE, flags, -1, 0)
        .expect("mmap 1 GiB");
    for i in 0..PAGES {
        k.access(INIT_PID, BASE + i * 4096, 8, AccessKind::Write)
            .expect("write");
    }
    k
}

/// The same number of pages in 512 clusters of 2 MiB (one full page table each), one cluster every 128 GiB of a
/// 64 TiB MAP_NORESERVE mapping.
fn sparse() -> Kernel {
    let mut k = machine();
    let span: u64 = 64 << 40;
    let flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE;
    k.sys_mmap(INIT_PID, BASE, span, PROT_READ | PROT_WRITE, flags, -1, 0)
        .expect("mmap 64 TiB");
    let clusters = PAGES / 512;
    let stride = span / clusters;
    for c in 0..clusters {
        for i in 0..512 {
            k.access(INIT_PID, BASE + c * stride + i * 4096, 8, AccessKind::Write)
                .expect("write");
        }
    }
    k
}

fn reap(k: &mut Kernel, child: Pid) {
    k.sys_exit_group(child, 0).expect("exit");
    k.sys_wait4(INIT_PID, i64::from(child.0), 0).expect("reap");
}

fn fork_loop(k: &mut Kernel, iters: u64, time_exit: bool) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let t0 = Instant::now();
        let child = Pid(k.sys_fork(INIT_PID).expect("fork") as u32);
        if time_exit {
            reap(k, child);
            total += t0.elapsed();
        } else {
            total += t0.elapsed();
            reap(k, child);
        }
    }
    total
}

fn bench_fork(c: &mut Criterion) {
    let mut g = c.benchmark_group("fork");
    g.sample_size(20).measurement_time(Duration::from_secs(6));
    let mut k = dense();
    g.bench_function("1GiB_dense", |b| b.iter_custom(|n| fork_loop(&mut k, n, false)));
    g.bench_function("1GiB_dense_fork+exit", |b| {
        b.iter_custom(|n| fork_loop(&mut k, n, true))
    });
    drop(k);
    let mut k = sparse();
    g.bench_function("1GiB_over_64TiB", |b| b.iter_custom(|n| fork_loop(&mut k, n, false)));
    g.finish();
}

criterion_group!(benches, bench_fork);
criterion_main!(benches);
