//! Parse the benchmark corpus N times (default 10) and print the throughput against wall-clock time. Run
//! under `perf stat -e task-clock` to get CPU time on a busy machine:
//! `cargo run --release -p memsim-scenario --example parse_speed -- 20 [scan|stream|owned|prepare|steps]`.

fn main() {
    let iters: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10);
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
    let mut one = String::new();
    for f in ["strace-f-y-tt-T.txt", "strace-memory.txt", "strace-core-dumped.txt"] {
        one += &std::fs::read_to_string(format!("{dir}/{f}")).expect("sample");
    }
    for f in ["real/ls-f-y-tt-T.log", "real/sh-pipe-f.log", "real/cat-ttt-yy-v.log"] {
        one += &String::from_utf8_lossy(&std::fs::read(format!("{dir}/{f}")).expect("log"));
    }
    let mut text = String::new();
    while text.len() < (8 << 20) {
        text += &one;
    }
    let mode = std::env::args().nth(2).unwrap_or_default();
    let t = std::time::Instant::now();
    let mut lines = 0;
    for _ in 0..iters {
        lines += match mode.as_str() {
            "owned" => memsim_scenario::parse_str("bench", &text).expect("parses").len(),
            "prepare" => memsim_scenario::prepare("bench", &text).expect("parses").len(),
            // `memsim run`'s path: each line scanned and decoded, then dropped.
            "steps" => {
                let mut n = 0;
                for s in memsim_scenario::run::steps("bench", &text) {
                    s.expect("parses");
                    n += 1;
                }
                n
            }
            "stream" => {
                // Each line is scanned and dropped before the next: what a streaming consumer pays.
                let mut p = memsim_scenario::Parser::new("bench");
                let mut n = 0;
                for (i, l) in text.lines().enumerate() {
                    if p.scan_line(i + 1, l).expect("parses").is_some() {
                        n += 1;
                    }
                }
                n
            }
            _ => memsim_scenario::parse::scan_str("bench", &text).expect("parses").len(),
        };
    }
    let secs = t.elapsed().as_secs_f64();
    let bytes = (text.len() * iters) as f64;
    println!(
        "{} bytes x {iters}, {lines} lines: {:.1} MB/s wall ({:.3} s)",
        text.len(),
        bytes / secs / 1e6,
        secs
    );
    println!("bytes total: {}", text.len() * iters);
}
