//! execve speed (issue 3, item 11: execve of `/usr/bin/python3` in at most 2 ms). Each iteration execs the
//! real binary from this machine's disk (HostFs) in the same task, so it includes releasing the previous
//! image (exit_mmap of the old mm), reading the ELF and interpreter headers, mapping the segments, zeroing the
//! bss tails (COW faults), the vDSO and building the initial stack. The page cache stays warm after the first
//! exec, as it would on Linux.

use criterion::{criterion_group, criterion_main, Criterion};
use memsim_core::kernel::{Kernel, KernelConfig, INIT_PID};
use memsim_scenario::HostFs;

fn strs(v: &[&str]) -> Vec<Vec<u8>> {
    v.iter().map(|s| s.as_bytes().to_vec()).collect()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("execve");
    g.sample_size(50);
    let env = strs(&[
        "PATH=/usr/local/bin:/usr/bin:/bin",
        "HOME=/root",
        "LANG=C.UTF-8",
        "TERM=xterm-256color",
        "SHELL=/bin/bash",
    ]);
    for (name, path, argv) in [
        ("python3", "/usr/bin/python3", strs(&["python3", "-c", "pass"])),
        ("cat", "/usr/bin/cat", strs(&["cat", "/etc/hostname"])),
    ] {
        if std::fs::metadata(path).is_err() {
            eprintln!("{path} missing: skipped");
            continue;
        }
        for aslr in [0u32, 2] {
            let cfg = KernelConfig {
                randomize_va_space: aslr,
                seed: 1,
                ..KernelConfig::default()
            };
            let mut k = Kernel::new(cfg, Box::new(HostFs::new()));
            g.bench_function(format!("{name}/aslr{aslr}"), |b| {
                b.iter(|| {
                    k.sys_execve(INIT_PID, path, &argv, &env).expect("execve");
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
