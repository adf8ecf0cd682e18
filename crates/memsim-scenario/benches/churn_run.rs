//! The churn workload through `memsim run` (issue 2, item 10): 60,000 rounds of {mmap 4 pages at a fixed
//! address, write one page, mprotect one page, munmap three pages} as scenario text, parsed and run by the
//! scenario runner, side by side with the same operations issued natively by a C program (`churn.c`, compiled
//! with gcc when the benchmark starts). Target: memsim at most a quarter of the kernel's time.
//!
//! Both sides are measured in thread CPU time (`CLOCK_THREAD_CPUTIME_ID`), so other load on the machine does
//! not distort the comparison; the C program measures its own loop and prints nanoseconds. The scenario text
//! is generated once, outside the measurement; parsing is inside it.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use memsim_core::fs::MemFs;
use memsim_scenario::run::{Machine, Runner};

const ROUNDS: u64 = 60_000;
const WINDOW: u64 = 0x1_0000_0000;
const PAGE: u64 = 4096;

fn cpu_now() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(r, 0);
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// The scenario, in strace syntax with every result stated (so the runner checks them all).
fn scenario() -> String {
    let mut s = String::with_capacity(ROUNDS as usize * 200);
    for i in 0..ROUNDS {
        let a = WINDOW + i * 2 * PAGE;
        let _ = writeln!(
            s,
            "mmap({a:#x}, 16384, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED_NOREPLACE, -1, 0) = {a:#x}"
        );
        let _ = writeln!(s, " S {a:x},1");
        let _ = writeln!(s, "mprotect({a:#x}, 4096, PROT_READ) = 0");
        let _ = writeln!(s, "munmap({:#x}, 12288) = 0", a + PAGE);
    }
    s
}

fn memsim_run(text: &str) -> Duration {
    let kernel = Machine::default().build(Box::new(MemFs::new()));
    let mut runner = Runner::new(kernel);
    let t0 = cpu_now();
    let summary = runner
        .run("churn.scn", text, &mut std::io::sink(), false)
        .expect("scenario parses");
    let d = cpu_now() - t0;
    assert!(summary.failures.is_empty(), "{:?}", summary.failures.first());
    d
}

/// Compile churn.c once; `None` (and the native side is skipped) when gcc is missing.
fn native_binary() -> Option<PathBuf> {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/churn.c");
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("churn-native");
    let ok = Command::new("gcc")
        .args(["-O2", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(out)
}

fn churn_native(bin: &PathBuf) -> Duration {
    let out = Command::new(bin)
        .arg(ROUNDS.to_string())
        .output()
        .expect("run churn-native");
    assert!(out.status.success(), "churn-native failed: {:?}", out.status);
    let ns: u64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("nanoseconds");
    Duration::from_nanos(ns)
}

fn bench(c: &mut Criterion) {
    let text = scenario();
    let mut g = c.benchmark_group("churn_memsim_run_60000_rounds");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("memsim_run", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| memsim_run(&text)).sum())
    });
    if let Some(bin) = native_binary() {
        g.bench_function("native_c", |b| {
            b.iter_custom(|iters| (0..iters).map(|_| churn_native(&bin)).sum())
        });
    } else {
        eprintln!("gcc not found: the native side of the churn comparison is skipped");
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
