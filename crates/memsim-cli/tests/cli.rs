//! The `memsim` binary as a user runs it: exit statuses 0/1/2 and their messages.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn memsim(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_memsim"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run memsim");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn run(scenario: &str, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["run"];
    args.extend_from_slice(extra);
    args.push("-");
    let o = memsim(&args, scenario);
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A fault at an address no VMA covers, checked by its signal and death lines: holds whatever else the
/// model can do, since an empty address space has nothing at 0x1000.
const SEGV: &str = "\
# comment
 L 1000,8
--- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=0x1000} ---
+++ killed by SIGSEGV +++
";

#[test]
fn every_expectation_holds_exit_0() {
    let (code, _, err) = run(SEGV, &[]);
    assert_eq!(code, 0, "{err}");
    // Unmodeled calls are accepted and not checked; `--stats` counts them.
    let (code, _, err) = run(
        "getpid() = 1234\n1234 getpid() = 1234\nwrite(1, \"x\", 1) = 1\n",
        &["--stats"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("3 calls not modeled: getpid 2, write 1"), "{err}");
}

#[test]
fn a_failed_expectation_exits_1_with_file_line_and_context() {
    let text = " L 1000,8\n--- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_ACCERR, si_addr=0x1000} ---\n";
    let (code, _, err) = run(text, &[]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "<stdin>:2: expected SIGSEGV {si_code=SEGV_ACCERR, si_addr=0x1000}, got SIGSEGV {si_code=SEGV_MAPERR, \
         si_addr=0x1000}\n    --- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_ACCERR, si_addr=0x1000} ---\n"
    );
    // A fault nobody expected is reported at the access.
    let (code, _, err) = run("# x\n S 2000,1\n", &[]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("<stdin>:2: expected no signal, got SIGSEGV {si_code=SEGV_MAPERR, si_addr=0x2000}"),
        "{err}"
    );
}

#[test]
fn keep_going_reports_every_failure() {
    let text = "+++ killed by SIGBUS +++\n+++ exited with 3 +++\n+++ exited with 4 +++\n";
    let (code, _, err) = run(text, &[]);
    assert_eq!(code, 1);
    assert_eq!(err.matches("expected").count(), 1, "{err}");
    assert!(
        err.starts_with("<stdin>:1: expected killed by SIGBUS, got alive"),
        "{err}"
    );
    let (code, _, err) = run(text, &["--keep-going"]);
    assert_eq!(code, 1);
    assert_eq!(err.matches("expected").count(), 2, "{err}");
    assert!(
        err.contains("<stdin>:3: expected exited with 4, got exited with 3"),
        "{err}"
    );
}

#[test]
fn malformed_lines_exit_2_with_position() {
    let (code, out, err) = run("# fine\n L 1000,8\nmmap(NULL, 4096\n", &[]);
    assert_eq!(code, 2);
    assert_eq!(err, "<stdin>:3:5: missing `)` to close the argument list\n");
    assert_eq!(out, "", "nothing runs before the whole scenario parsed");
    // A value that does not fit its argument is positioned at the argument.
    let (code, _, err) = run("mprotect(0x1000, 4096, PROT_READ|PROT_BOGUS)\n", &[]);
    assert_eq!(code, 2);
    assert!(
        err.starts_with("<stdin>:1:24: mprotect: argument 3: unknown name `PROT_BOGUS`"),
        "{err}"
    );
    let (code, _, err) = run("munmap(0x1000)\n", &[]);
    assert_eq!(code, 2);
    assert!(err.contains("expected 2 arguments, found 1"), "{err}");
    let (code, _, err) = run("openat(AT_FDCWD, \"/usr/bi\"..., O_RDONLY) = 3\n", &[]);
    assert_eq!(code, 2);
    assert!(
        err.starts_with("<stdin>:1:18: openat: argument 2: the string is truncated"),
        "{err}"
    );
}

#[test]
fn bad_flags_exit_2() {
    for (args, needle) in [
        (vec!["run", "--overcommit", "3", "-"], "--overcommit"),
        (vec!["run", "--ram", "lots", "-"], "--ram lots"),
        (vec!["run", "--arch", "sparc", "-"], "--arch"),
        (vec!["run", "--rlimit", "BOGUS=1:2", "-"], "unknown resource"),
        (vec!["run", "--rlimit", "STACK=2:1", "-"], "exceeds"),
        (vec!["run", "--cat", "/etc/passwd", "-"], "--cat"),
        (vec!["run", "--no-such-flag", "-"], "--no-such-flag"),
        (vec!["run"], "FILE"),
        (vec!["run", "/no/such/scenario"], "/no/such/scenario"),
    ] {
        let o = memsim(&args, "");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn help_shows_examples() {
    let o = memsim(&["--help"], "");
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("Examples:") && out.contains("memsim tour"), "{out}");
    let o = memsim(&["run", "--help"], "");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("--keep-going") && out.contains("Exit status"), "{out}");
}

#[test]
fn tour_is_deterministic() {
    let a = memsim(&["tour"], "");
    let b = memsim(&["tour"], "");
    assert_eq!(a.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&a.stdout).contains("== 1. An empty address space"));
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn the_example_scenario_holds_and_cat_prints_the_final_state() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let file = format!("{root}/examples/scenarios/hello.scn");
    let o = memsim(&["run", &file, "--cat", "/proc/self/status"], "");
    let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "{err}");
    // The inline `cat /proc/self/maps` shows the split, then --cat prints the final (dead) state.
    assert!(out.contains("100001000-100002000 r--p 00000000 00:00 0 \n"), "{out}");
    assert!(out.contains("Name:\tinit\n"), "{out}");
}

#[test]
fn a_real_strace_log_runs_and_reports_differences() {
    let log = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../memsim-scenario/tests/data/real/ls-f-y-tt-T.log"
    );
    let o = memsim(&["run", "--keep-going", "--stats", log], "");
    let err = String::from_utf8_lossy(&o.stderr);
    // The model has no exec, so brk and library addresses differ from the recorded ones: exit 1, not 2.
    assert_eq!(o.status.code(), Some(1), "{err}");
    // access, newfstatat and statx run; calls outside the model (arch_prctl, read) are counted.
    assert!(err.contains("calls not modeled: arch_prctl"), "{err}");
    assert!(err.contains("ls-f-y-tt-T.log:"), "{err}");
}

#[test]
fn translate_is_wired() {
    let o = memsim(
        &[
            "translate",
            "--arch",
            "i386",
            "--map",
            "0x1234F000=0xAAAAA000",
            "0x1234FFFF",
        ],
        "",
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("0xaaaaafff"), "{out}");
}

/// The machine flags reach the model: a 9 GB writable private mapping exceeds 8 GiB of RAM under the
/// overcommit heuristic, but not with more RAM or with overcommit 1; RLIMIT_STACK moves mmap_base.
#[test]
fn machine_flags_change_the_machine() {
    let big = "mmap(NULL, 9000000000, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = -1 ENOMEM (Cannot allocate memory)\n";
    assert_eq!(run(big, &[]).0, 0);
    assert_eq!(run(big, &["--ram", "16G"]).0, 1);
    assert_eq!(run(big, &["--overcommit", "1"]).0, 1);
    let first = "mmap(NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7ffff7ffe000\n";
    assert_eq!(run(first, &[]).0, 0);
    // mmap_base = TASK_SIZE - (1 GiB + the 1 MiB guard gap) - one page.
    let (code, _, err) = run(first, &["--rlimit", "STACK=1G:unlimited"]);
    assert_eq!(code, 1);
    assert!(err.contains("got 0x7fffbfefe000"), "{err}");
    let (code, _, err) = run(first, &["--arch", "i386"]);
    assert_eq!(code, 1);
    assert!(err.contains("got 0xb7fff000"), "{err}");
}

#[test]
fn cat_reaches_kernel_threads_and_maps_log_tids() {
    // A log's PIDs (and TIDs inside task/TID/) map to the model's; other numbers are model PIDs: kthreadd is 2.
    let log = "4000  clone(child_stack=0x7f0000100000, flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM) = 4001\n\
               4001  mmap(NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ?\n";
    let (code, out, err) = run(
        log,
        &[
            "--cat",
            "/proc/2/status",
            "--cat",
            "/proc/4000/task/4001/stat",
            "--cat",
            "/proc/4000/comm",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("Name:\tkthreadd\n"), "{out}");
    assert!(out.contains("\n11 (init) "), "the thread's stat, model TID 11: {out}");
    assert!(out.ends_with("init\n"), "{out}");
}

#[test]
fn personality_addr_no_randomize_turns_aslr_off_for_the_next_exec() {
    // `setarch -R` logs start with personality(PER_LINUX|ADDR_NO_RANDOMIZE): the exec after it is laid out
    // as with ASLR off whatever the seed; without it, two seeds give two layouts.
    let exec = "execve(\"/bin/true\", [\"true\"], []) = 0\n";
    let maps = |pers: bool, seed: &str| {
        let text = if pers {
            format!("personality(PER_LINUX|ADDR_NO_RANDOMIZE) = 0 (PER_LINUX)\n{exec}personality(0xffffffff) = 0x40000 (PER_LINUX|ADDR_NO_RANDOMIZE)\n")
        } else {
            exec.to_string()
        };
        let (code, out, err) = run(&text, &["--aslr", "2", "--seed", seed, "--cat", "/proc/1/maps"]);
        assert_eq!(code, 0, "{err}");
        out
    };
    let (a, b) = (maps(true, "1"), maps(true, "2"));
    assert_eq!(a, b);
    assert!(a.contains("7ffff7fc"), "the non-random mmap base: {a}");
    assert_ne!(maps(false, "1"), maps(false, "2"));
}

#[test]
fn a_relative_execve_starts_at_the_working_directory() {
    let (code, out, err) = run(
        "execve(\"true\", [\"true\"], []) = -1 ENOENT (No such file or directory)\n\
         chdir(\"/usr/bin\") = 0\n\
         execve(\"true\", [\"true\"], []) = 0\n",
        &["--cat", "/proc/1/comm"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "true\n");
}
