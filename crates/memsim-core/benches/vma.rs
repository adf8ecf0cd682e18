//! VMA benchmarks (issue 2, item 10):
//! * `find_vma` among 65,530 VMAs (target: at least 20 million lookups a second): random addresses, the same
//!   while the tree's blocks change every 1,024 lookups (so the tree's lookup table is dropped and rebuilt),
//!   and a walk;
//! * the churn workload: 60,000 rounds of {mmap 4 pages MAP_FIXED, write one page, mprotect one page, munmap
//!   three pages}, leaving 60,000 VMAs, in the model (in-process, no parsing) and natively with the same system
//!   calls in this process inside the reserved window 0x100000000-0x200000000, side by side (target: model at
//!   most a tenth of native).
//!
//! Times are thread CPU time (`CLOCK_THREAD_CPUTIME_ID`: user + system time of the benchmark thread), not wall
//! time, so that other processes competing for the CPU do not distort the comparison; both sides include
//! their kernel time (the native side's is nearly all kernel time).
//!
//! Each round i works at `WINDOW + i * 2 pages`: the page left over (read-only, faulted) is separated from the
//! next round's by a free page, so neither the model's nor the kernel's VMAs merge.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use memsim_core::fs::MemFs;
use memsim_core::kernel::{AccessKind, INIT_PID};
use memsim_core::mm::vma::{VmFlags, Vma};
use memsim_core::mm::vma_tree::VmaTree;
use memsim_core::uapi::*;
use memsim_core::{Kernel, KernelConfig, VirtAddr};

const NR_VMAS: u64 = 65_530;
const ROUNDS: u64 = 60_000;
const WINDOW: u64 = 0x1_0000_0000;
const PAGE: u64 = 4096;

/// CPU time consumed by this thread so far.
fn cpu_now() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(r, 0);
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// A deterministic stream of addresses spread over `[WINDOW, WINDOW + span)` (xorshift64, scaled by a
/// multiply-shift). Generated as the lookups run, so that no probe array competes with the tree for cache.
#[derive(Clone, Copy)]
struct Probes {
    x: u64,
    span: u64,
}

impl Probes {
    fn new(span: u64) -> Probes {
        Probes {
            x: 0x9e37_79b9_7f4a_7c15,
            span,
        }
    }
    #[inline(always)]
    fn next_addr(&mut self) -> VirtAddr {
        self.x ^= self.x << 13;
        self.x ^= self.x >> 7;
        self.x ^= self.x << 17;
        VirtAddr(WINDOW + (((self.x >> 11) as u128 * self.span as u128) >> 53) as u64)
    }
}

fn bench_find_vma(c: &mut Criterion) {
    let mut t = VmaTree::new();
    for i in 0..NR_VMAS {
        let s = WINDOW + i * 2 * PAGE;
        t.insert(Vma::new_anon(VirtAddr(s), VirtAddr(s + PAGE), VmFlags::READ));
    }
    assert_eq!(t.len(), NR_VMAS as usize);
    const LOOKUPS: u64 = 1 << 16;
    let mut probes = Probes::new(NR_VMAS * 2 * PAGE);
    let mut g = c.benchmark_group("find_vma");
    g.throughput(Throughput::Elements(LOOKUPS));
    g.bench_function("65530_vmas_random", |b| {
        b.iter_custom(|iters| {
            let t0 = cpu_now();
            for _ in 0..iters {
                let mut hits = 0u64;
                for _ in 0..LOOKUPS {
                    if let Some(v) = t.find(black_box(probes.next_addr())) {
                        hits = hits.wrapping_add(v.start.0);
                    }
                }
                black_box(hits);
            }
            cpu_now() - t0
        })
    });
    // The same lookups while the tree's blocks change every 1,024 of them (a VMA added before the first one,
    // which starts a block of its own, then removed with its block), so that the lookup table
    // (`vma_tree/radix.rs`) is dropped each time: a quarter of the lookups (256 per 1,024 blocks) use the top
    // level's binary search until it is rebuilt.
    let mut t2 = t.clone();
    let mut probes2 = Probes::new(NR_VMAS * 2 * PAGE);
    let front = Vma::new_anon(VirtAddr(WINDOW - PAGE), VirtAddr(WINDOW), VmFlags::READ);
    g.bench_function("65530_vmas_random_blocks_changing", |b| {
        b.iter_custom(|iters| {
            let t0 = cpu_now();
            for _ in 0..iters {
                let mut hits = 0u64;
                for k in 0..LOOKUPS {
                    if k % 1024 == 0 {
                        if t2.len() == NR_VMAS as usize {
                            t2.insert(front.clone());
                        } else {
                            t2.remove(front.start);
                        }
                    }
                    if let Some(v) = t2.find(black_box(probes2.next_addr())) {
                        hits = hits.wrapping_add(v.start.0);
                    }
                }
                black_box(hits);
            }
            cpu_now() - t0
        })
    });
    // Lookups with locality, as a program's faults have: a walk through the address space page by page.
    let walk: Vec<VirtAddr> = (0..1u64 << 16).map(|i| VirtAddr(WINDOW + i * PAGE)).collect();
    g.bench_function("65530_vmas_sequential", |b| {
        b.iter_custom(|iters| {
            let t0 = cpu_now();
            for _ in 0..iters {
                let mut hits = 0u64;
                for &a in &walk {
                    if let Some(v) = t.find(black_box(a)) {
                        hits = hits.wrapping_add(v.start.0);
                    }
                }
                black_box(hits);
            }
            cpu_now() - t0
        })
    });
    g.finish();
}

/// The churn rounds on the model; returns the time they took.
fn churn_model() -> Duration {
    let mut k = Kernel::new(KernelConfig::default(), Box::new(MemFs::new()));
    let p = INIT_PID;
    let rw = PROT_READ | PROT_WRITE;
    let flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
    let t0 = cpu_now();
    for i in 0..ROUNDS {
        let a = WINDOW + i * 2 * PAGE;
        let r = k.sys_mmap(p, a, 4 * PAGE, rw, flags, -1, 0);
        debug_assert_eq!(r, Ok(a));
        let _ = k.access(p, a, 1, AccessKind::Write);
        let r = k.sys_mprotect(p, a, PAGE, PROT_READ);
        debug_assert_eq!(r, Ok(0));
        let r = k.sys_munmap(p, a + PAGE, 3 * PAGE);
        debug_assert_eq!(r, Ok(0));
    }
    let d = cpu_now() - t0;
    assert_eq!(
        k.mm(p).unwrap().map_count(),
        ROUNDS as usize,
        "the model's tree holds one VMA per round"
    );
    d
}

/// The same rounds as real system calls in this process; returns the time they took.
fn churn_native() -> Duration {
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE;
    let t0 = cpu_now();
    for i in 0..ROUNDS {
        let a = (WINDOW + i * 2 * PAGE) as usize;
        // SAFETY: the window 0x100000000-0x200000000 is reserved for this benchmark; MAP_FIXED_NOREPLACE
        // refuses to clobber anything the process might have mapped there.
        let r = unsafe { libc::mmap(a as *mut libc::c_void, 4 * PAGE as usize, rw, flags, -1, 0) };
        assert_eq!(r as usize, a, "native mmap");
        // SAFETY: the page was just mapped read-write.
        unsafe { std::ptr::write_volatile(a as *mut u8, 1) };
        // SAFETY: the range is our own mapping.
        let r = unsafe { libc::mprotect(a as *mut libc::c_void, PAGE as usize, libc::PROT_READ) };
        assert_eq!(r, 0, "native mprotect");
        // SAFETY: the range is our own mapping.
        let r = unsafe { libc::munmap((a + PAGE as usize) as *mut libc::c_void, 3 * PAGE as usize) };
        assert_eq!(r, 0, "native munmap");
    }
    let d = cpu_now() - t0;
    // SAFETY: unmapping the whole reserved window, which only this benchmark uses.
    let r = unsafe { libc::munmap(WINDOW as *mut libc::c_void, (ROUNDS * 2 * PAGE) as usize) };
    assert_eq!(r, 0);
    d
}

fn bench_churn(c: &mut Criterion) {
    let mut g = c.benchmark_group("churn_60000_rounds");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(8));
    g.throughput(Throughput::Elements(ROUNDS));
    g.bench_function("model", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| churn_model()).sum())
    });
    g.bench_function("native", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| churn_native()).sum())
    });
    g.finish();
}

criterion_group!(benches, bench_find_vma, bench_churn);
criterion_main!(benches);
