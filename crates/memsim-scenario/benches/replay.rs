//! Replaying a real program's strace log (issue 3, item 11): the program is recorded once, when the benchmark
//! starts, as the replay tests record it (`strace -f -y -v -e trace=%memory,%process,%file`, ASLR off, the
//! model's limits); then the time the program takes to run under strace (recording to `/dev/null`, wall
//! clock, process start to exit) is measured side by side with the time the runner takes to replay its log
//! (parse, decode, run every process of it, check every result; wall clock). Target: the replay at least 20
//! times faster.
//!
//! The replay runs with `--keep-going`, so a log the model does not match yet is still replayed to its end;
//! the number of mismatches is printed with the ratio.

#[path = "../tests/replay_common/mod.rs"]
mod replay_common;

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use memsim_scenario::{HostFs, Runner};
use replay_common::*;

struct Case {
    name: &'static str,
    argv: Vec<String>,
    log: String,
}

fn under_strace(argv: &[String]) -> Duration {
    let t0 = Instant::now();
    let st = strace_command(None, argv).status().expect("strace");
    let d = t0.elapsed();
    assert!(st.success(), "{argv:?} under strace: {st}");
    d
}

/// One replay of the whole log; returns its time and the number of mismatches.
fn replay_once(name: &str, log: &str) -> (Duration, usize) {
    let t0 = Instant::now();
    let mut r = Runner::new(machine().build(Box::new(HostFs::new())));
    let s = r.run(name, log, &mut std::io::sink(), true).expect("log parses");
    (t0.elapsed(), s.failures.len())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn bench(c: &mut Criterion) {
    if !["strace", "setsid", "setarch", "prlimit"].iter().all(|t| have(t)) {
        eprintln!("strace, setarch or prlimit missing: the replay benchmark is skipped");
        return;
    }
    let dir = scratch("b");
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let mut cases = Vec::new();
    for (name, argv) in [
        ("sh-pipe", s(&["sh", "-c", "ls / | wc -l"])),
        ("python3", s(&["python3", "-c", "print(1)"])),
    ] {
        let path = dir.join(format!("{name}.log"));
        record(&path, &argv);
        let log = std::fs::read_to_string(&path).expect("log");
        cases.push(Case { name, argv, log });
    }
    // The comparison the target is about, printed once: medians of 15 runs each.
    for case in &cases {
        let strace = median((0..15).map(|_| under_strace(&case.argv)).collect());
        let runs: Vec<(Duration, usize)> = (0..15).map(|_| replay_once(case.name, &case.log)).collect();
        let misses = runs[0].1;
        let replay = median(runs.into_iter().map(|r| r.0).collect());
        eprintln!(
            "replay_speed {}: {} log lines; under strace {:.2} ms, replay {:.3} ms: {:.0}x faster ({} mismatches)",
            case.name,
            case.log.lines().count(),
            strace.as_secs_f64() * 1e3,
            replay.as_secs_f64() * 1e3,
            strace.as_secs_f64() / replay.as_secs_f64(),
            misses
        );
    }
    let mut g = c.benchmark_group("replay");
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(5));
    for case in &cases {
        g.bench_function(format!("{}_under_strace", case.name), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| under_strace(&case.argv)).sum())
        });
        g.bench_function(format!("{}_memsim_replay", case.name), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| replay_once(case.name, &case.log).0).sum())
        });
    }
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
