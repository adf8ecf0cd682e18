//! strace-syntax parsing speed (issue 2, item 10: at least 200 MB/s). The input is the verbatim strace
//! samples of trace-formats.md plus real `strace -f` logs recorded on Linux 6.18, repeated to ~8 MB.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn corpus() -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
    let mut one = String::new();
    for f in ["strace-f-y-tt-T.txt", "strace-memory.txt", "strace-core-dumped.txt"] {
        one += &std::fs::read_to_string(format!("{dir}/{f}")).expect("sample");
    }
    for f in ["real/ls-f-y-tt-T.log", "real/sh-pipe-f.log", "real/cat-ttt-yy-v.log"] {
        one += &String::from_utf8_lossy(&std::fs::read(format!("{dir}/{f}")).expect("log"));
    }
    // Each copy is a separate run of the logged processes: the parser joins unfinished/resumed pairs per PID,
    // and the copies keep them paired.
    let mut text = String::with_capacity(8 << 20);
    while text.len() < (8 << 20) {
        text += &one;
    }
    text
}

fn bench(c: &mut Criterion) {
    let text = corpus();
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.sample_size(20);
    // The parser's own work: each line scanned (arguments borrowed from the text) and dropped before the
    // next, as `memsim run` consumes it.
    g.bench_function("strace_syntax", |b| {
        b.iter(|| {
            let mut p = memsim_scenario::Parser::new("bench");
            let mut n = 0usize;
            for (i, l) in text.lines().enumerate() {
                if p.scan_line(i + 1, l).expect("parses").is_some() {
                    n += 1;
                }
            }
            n
        })
    });
    // Every line scanned and kept.
    g.bench_function("strace_syntax_collected", |b| {
        b.iter(|| memsim_scenario::parse::scan_str("bench", &text).expect("parses").len())
    });
    // The owned AST (`parse_str`): every name and string copied out.
    g.bench_function("strace_syntax_owned_ast", |b| {
        b.iter(|| memsim_scenario::parse_str("bench", &text).expect("parses").len())
    });
    // `memsim run`'s path: each line scanned and its modeled call decoded, then dropped before the next.
    g.bench_function("run_steps", |b| {
        b.iter(|| {
            memsim_scenario::run::steps("bench", &text)
                .map(|s| s.expect("parses").line)
                .sum::<usize>()
        })
    });
    // Every line parsed, decoded and kept (`prepare`).
    g.bench_function("prepare", |b| {
        b.iter(|| memsim_scenario::prepare("bench", &text).expect("parses").len())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
