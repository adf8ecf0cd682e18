//! The runner on the model: expectations that hold and that fail, faults and their signal lines, exits,
//! mincore vectors, PID mapping, pre-opened descriptors, `cat` output, statistics.

use memsim_core::fs::MemFs;
use memsim_core::{Kernel, KernelConfig};
use memsim_scenario::run::{Failure, Runner, Summary};

fn runner() -> Runner {
    let mut fs = MemFs::new();
    fs.add_file("/bin/prog", (0..3 * 4096u32).map(|i| (i % 251) as u8).collect());
    Runner::new(Kernel::new(KernelConfig::default(), Box::new(fs)))
}

fn run_keep_going(text: &str) -> (Summary, String) {
    let mut r = runner();
    let mut out = Vec::new();
    let s = r.run("t.scn", text, &mut out, true).unwrap_or_else(|e| panic!("{e}"));
    (s, String::from_utf8(out).unwrap())
}

fn failures(text: &str) -> Vec<(usize, String, String)> {
    run_keep_going(text)
        .0
        .failures
        .into_iter()
        .map(|f: Failure| (f.line, f.expected, f.got))
        .collect()
}

const MAP: &str =
    "mmap(0x100000000, 16384, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, -1, 0) = 0x100000000\n";

#[test]
fn results_are_checked() {
    let text = format!(
        "{MAP}mprotect(0x100001000, 4096, PROT_READ) = 0\nmprotect(0x100001001, 4096, PROT_READ) = -1 EINVAL (Invalid argument)\n\
         munmap(0x100003000, 0) = -1 EINVAL\nmunmap(0x100003000, 4096) = 0\nmunmap(0x100003000, 4096) = ?\n"
    );
    assert_eq!(failures(&text), vec![]);
    let text = format!(
        "{MAP}mprotect(0x100001000, 4096, PROT_READ) = -1 ENOMEM (Cannot allocate memory)\n\
         munmap(0x100003001, 4096) = 0\nmmap(0x200000000, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, -1, 0) = 0x200001000\n"
    );
    assert_eq!(
        failures(&text),
        vec![
            (2, "-1 ENOMEM (Cannot allocate memory)".into(), "0".into()),
            (3, "0".into(), "-1 EINVAL (Invalid argument)".into()),
            (4, "0x200001000".into(), "0x200000000".into()),
        ]
    );
}

#[test]
fn first_failure_stops_without_keep_going() {
    let text = format!("{MAP}munmap(0x100003001, 4096) = 0\nmunmap(0x100003001, 4096) = 0\n");
    let mut r = runner();
    let s = r.run("t.scn", &text, &mut Vec::new(), false).unwrap();
    assert_eq!(s.failures.len(), 1);
    let f = &s.failures[0];
    assert_eq!(
        f.to_string(),
        "t.scn:2: expected 0, got -1 EINVAL (Invalid argument)\n    munmap(0x100003001, 4096) = 0"
    );
    assert_eq!(failures(&text).len(), 2);
}

#[test]
fn faults_need_their_signal_line() {
    let ok = format!(
        "{MAP} S 100000000,8\n L 100003ffc,4\n L 100004000,1\n\
         --- SIGSEGV {{si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=0x100004000}} ---\n+++ killed by SIGSEGV +++\n"
    );
    assert_eq!(failures(&ok), vec![]);
    // A protection fault carries SEGV_ACCERR.
    let text = format!(
        "{MAP}mprotect(0x100000000, 4096, PROT_READ) = 0\n S 100000010,1\n\
         --- SIGSEGV {{si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=0x100000010}} ---\n"
    );
    assert_eq!(
        failures(&text),
        vec![(
            4,
            "SIGSEGV {si_code=SEGV_MAPERR, si_addr=0x100000010}".into(),
            "SIGSEGV {si_code=SEGV_ACCERR, si_addr=0x100000010}".into()
        )]
    );
    // A straddling access faults at the first byte of the unmapped page.
    let text = format!(
        "{MAP} L 100003ffc,8\n--- SIGSEGV {{si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=0x100004000}} ---\n"
    );
    assert_eq!(failures(&text), vec![]);
    // A fault nobody expected is reported at the access; the dead process then fails once.
    let text = format!("{MAP} L 100004000,1\nmunmap(0x100000000, 4096) = 0\nmunmap(0x100001000, 4096) = 0\n");
    assert_eq!(
        failures(&text),
        vec![
            (
                2,
                "no signal".into(),
                "SIGSEGV {si_code=SEGV_MAPERR, si_addr=0x100004000}".into()
            ),
            (3, "process 1 to be alive".into(), "killed by SIGSEGV".into()),
        ]
    );
    // A signal line with no access before it (a real program's log: strace shows no loads or stores) replays
    // the access at si_addr that raises it...
    let text = format!(
        "{MAP}--- SIGSEGV {{si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=0x10}} ---\n+++ killed by SIGSEGV +++\n"
    );
    assert_eq!(failures(&text), vec![]);
    // ... and fails when no access there faults so (the page is mapped and readable).
    let text = format!("{MAP}--- SIGSEGV {{si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=0x100000010}} ---\n");
    assert_eq!(
        failures(&text),
        vec![(
            2,
            "SIGSEGV {si_code=SEGV_MAPERR, si_addr=0x100000010}".into(),
            "no signal (no access at that address faults)".into()
        )]
    );
    // SIGCHLD and the like are not raised by accesses: accepted.
    let (s, _) = run_keep_going(
        "--- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=7, si_uid=0, si_status=0, si_utime=0, si_stime=0} ---\n",
    );
    assert_eq!((s.failures.len(), s.stats.async_signals), (0, 1));
}

#[test]
fn poke_and_peek() {
    let text = format!(
        "{MAP}poke(0x100000ffe, \"ab\\x00cd\") = 5\npeek(0x100000ffe, 5) = \"ab\\0cd\"\npeek(0x100001000, 2) = \"xx\"\n"
    );
    assert_eq!(failures(&text), vec![(4, "\"xx\"".into(), "\"\\x00c\"".into())]);
}

#[test]
fn exits() {
    assert_eq!(failures("exit_group(3) = ?\n+++ exited with 3 +++\n"), vec![]);
    assert_eq!(
        failures("exit_group(3) = ?\n+++ exited with 4 +++\n"),
        vec![(2, "exited with 4".into(), "exited with 3".into())]
    );
    // A signal from outside the model (SIGKILL, SIGPIPE) ends a live process; a fault signal must come from
    // a faulting access.
    assert_eq!(failures("+++ killed by SIGKILL +++\n"), vec![]);
    assert_eq!(
        failures("+++ killed by SIGKILL +++\nmunmap(0x100000000, 4096) = 0\n"),
        vec![(2, "process 1 to be alive".into(), "killed by SIGKILL".into())]
    );
    assert_eq!(
        failures("+++ killed by SIGSEGV +++\n"),
        vec![(1, "killed by SIGSEGV".into(), "alive".into())]
    );
    // Without an exit_group line, `+++ exited` is the exit.
    assert_eq!(failures("+++ exited with 0 +++\n+++ exited with 0 +++\n"), vec![]);
}

#[test]
fn mincore_vectors_are_compared() {
    let text = format!(
        "{MAP} S 100001000,1\nmincore(0x100000000, 16384, [0, 1, 0, 0]) = 0\nmincore(0x100000000, 16384, [0, 1, ...]) = 0\n\
         mincore(0x100000000, 8192, 0x7ffc0000) = 0\nmincore(0x100000000, 8192, [1, 1]) = 0\n"
    );
    assert_eq!(failures(&text), vec![(6, "[1, 1]".into(), "[0, 1]".into())]);
}

#[test]
fn descriptors_0_1_2_are_preopened() {
    let text = "openat(AT_FDCWD, \"/bin/prog\", O_RDONLY) = 3\nopen(\"/bin/prog\", O_RDONLY) = 4\n\
                close(0) = 0\nopenat(AT_FDCWD</>, \"/dev/zero\", O_RDWR) = 0\nopenat(AT_FDCWD, \"/nope\", O_RDONLY) = -1 ENOENT (No such file or directory)\n\
                dup2(3, 9) = 9\nclose(9</bin/prog>) = 0\nclose(9) = -1 EBADF (Bad file descriptor)\n";
    assert_eq!(failures(text), vec![]);
}

#[test]
fn strace_pids_map_to_pid_1_and_cat_prints() {
    let text = "4242 mmap(0x100000000, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, -1, 0) = 0x100000000\n\
                [pid  4243] mprotect(0x100000000, 4096, PROT_NONE) = 0\ncat /proc/4242/maps\ncat /proc/self/maps\n";
    let (s, out) = run_keep_going(text);
    assert_eq!(s.failures, vec![]);
    let line = "100000000-100001000 ---p 00000000 00:00 0 \n";
    assert_eq!(out.matches(line).count(), 2, "{out}");
}

#[test]
fn file_mappings_read_the_file() {
    let text = "openat(AT_FDCWD, \"/bin/prog\", O_RDONLY) = 3\n\
                mmap(0x100000000, 8192, PROT_READ, MAP_PRIVATE|MAP_FIXED, 3</bin/prog>, 0x1000) = 0x100000000\n\
                peek(0x100000000, 3) = \"\\x50\\x51\\x52\"\n";
    // Byte 0x1000 of the file is 4096 % 251 = 80 = 0x50.
    assert_eq!(failures(text), vec![]);
}

#[test]
fn unmodeled_calls_are_counted() {
    let (s, _) = run_keep_going("getpid() = 1\nwrite(1, \"x\", 1) = 1\ngetpid() = 99\nbrk(NULL) = ?\n");
    assert_eq!(s.failures, vec![]);
    let names: Vec<(&str, u64)> = s.stats.unmodeled.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(names, vec![("getpid", 2), ("write", 1)]);
    assert_eq!(s.stats.calls, 1);
}

/// Real strace logs run to the end: every line parses and decodes, modeled calls run, the rest is counted.
#[test]
fn real_logs_run() {
    let dir = format!("{}/tests/data/real", env!("CARGO_MANIFEST_DIR"));
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        let mut r = runner();
        let s = r
            .run(&path.display().to_string(), &text, &mut std::io::sink(), true)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            s.stats.calls > 10 && !s.stats.unmodeled.is_empty(),
            "{}: {:?}",
            path.display(),
            s.stats
        );
    }
}

/// In a strace -f log, a child's exit must not end PID 1 (children stand in for PID 1 until fork exists).
#[test]
fn stand_in_pids_do_not_end_pid_1() {
    let text = "100 mmap(0x100000000, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, -1, 0) = 0x100000000\n\
                101 exit_group(3) = ?\n101 +++ exited with 3 +++\n102 --- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=0x10} ---\n\
                102 +++ killed by SIGSEGV +++\n100 munmap(0x100000000, 4096) = 0\n100 exit_group(0) = ?\n100 +++ exited with 0 +++\n";
    let (s, _) = run_keep_going(text);
    assert_eq!(s.failures, vec![]);
    assert_eq!(s.stats.skipped, 4);
}

#[test]
fn mmap2_offsets_count_pages() {
    let text = "openat(AT_FDCWD, \"/bin/prog\", O_RDONLY) = 3\n\
                mmap2(0x10000000, 4096, PROT_READ, MAP_PRIVATE|MAP_FIXED, 3, 1) = 0x10000000\n\
                peek(0x10000000, 1) = \"\\x50\"\n";
    assert_eq!(failures(text), vec![]);
}

/// A scenario too long to prepare whole runs in a second streaming pass with the same results, and a
/// malformed line at its end still stops it before anything runs.
#[test]
fn long_scenarios_stream() {
    let mut text = String::from(MAP);
    for i in 0..50 {
        text += &format!(
            " S {:x},8\nmunmap(0x100003001, 4096) = 0\n",
            0x100000000u64 + (i % 4) * 4096
        );
    }
    text += " L 100004000,1\n--- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=0x100004000} ---\ncat /proc/1/maps\n";
    let whole = run_keep_going(&text);
    let mut r = runner();
    r.prepare_whole_max = 10;
    let mut out = Vec::new();
    let streamed = r.run("t.scn", &text, &mut out, true).unwrap();
    assert_eq!(streamed.failures, whole.0.failures);
    assert_eq!(streamed.failures.len(), 50);
    assert_eq!(streamed.failures[49].context, "munmap(0x100003001, 4096) = 0");
    assert_eq!(String::from_utf8(out).unwrap(), whole.1);
    let mut r = runner();
    r.prepare_whole_max = 10;
    let mut out = Vec::new();
    let bad = format!("{text}mmap(\n");
    assert!(matches!(
        r.run("t.scn", &bad, &mut out, true),
        Err(memsim_scenario::RunError::Malformed(_))
    ));
    assert!(out.is_empty());
}

#[test]
fn cat_of_meminfo_shows_the_commit_charge() {
    let (s, out) = run_keep_going(&format!(
        "cat /proc/meminfo\n{MAP}cat /proc/meminfo\ncat /proc/nonexistent\n"
    ));
    let commits: Vec<&str> = out.lines().filter(|l| l.starts_with("Committed_AS:")).collect();
    // The private writable mapping charges its 4 pages (mm/util.c: __vm_enough_memory).
    assert_eq!(
        commits,
        vec!["Committed_AS:          0 kB", "Committed_AS:         16 kB"]
    );
    let f: Vec<(usize, String, String)> = s.failures.into_iter().map(|f| (f.line, f.expected, f.got)).collect();
    assert_eq!(
        f,
        vec![(
            4,
            "/proc/nonexistent".to_string(),
            "ENOENT (No such file or directory)".to_string()
        )]
    );
}
