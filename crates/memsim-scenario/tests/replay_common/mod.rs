//! Recording real programs under strace for the replay tests and the replay benchmark: ASLR off
//! (`setarch -R`), the model's resource limits (`prlimit`: RLIMIT_STACK 8 MiB soft as the model's default, and
//! the model's NOFILE, MEMLOCK and CORE), a fixed small environment, `/` as the working directory (the model's),
//! and standard input and output on `/dev/null` (as the model's descriptors 0, 1, 2).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use memsim_core::task::Rlimit;
use memsim_core::uapi::{RLIMIT_STACK, RLIM_INFINITY};
use memsim_scenario::{HostFs, Machine, Runner, Summary};

/// The environment every recorded program gets.
pub const ENV: &[(&str, &str)] = &[("PATH", "/usr/bin:/bin"), ("HOME", "/"), ("LANG", "C")];

/// What strace records: everything memsim models (and the rest of %file, counted).
pub const TRACE: &str = "trace=%memory,%process,%file";

/// The host limits the recording runs under, as `prlimit` options: the model's defaults.
pub const LIMITS: &[&str] = &[
    "--stack=8388608:unlimited",
    "--nofile=1024:4096",
    // fork_init's values for the model's 8 GiB.
    "--nproc=32768:32768",
    "--sigpending=32768:32768",
    "--memlock=8388608:8388608",
    "--core=0:unlimited",
];

/// Is a host tool there?
pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A scratch directory for this process, with a short path: strace cuts strings at 32 bytes, and a program's
/// path must reach the model whole.
pub fn scratch(tag: &str) -> PathBuf {
    let d = PathBuf::from(format!("/tmp/ms{tag}{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("scratch directory");
    d
}

/// Build one of `tests/data/replay/*.c` into `dir`.
pub fn build_c(dir: &Path, name: &str) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/replay/{name}.c"));
    let out = dir.join(name);
    let st = Command::new("gcc")
        .args(["-O1", "-pthread", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .expect("gcc");
    assert!(st.success(), "gcc {}", src.display());
    out
}

/// The command line that runs `argv` under strace as the replays need it.
pub fn strace_command(log: Option<&Path>, argv: &[String]) -> Command {
    strace_with(&["-f", "-y", "-v", "-e", TRACE], log, argv)
}

/// The same with other strace options (`-f` alone: every call, no decorations, no environments).
pub fn strace_with(opts: &[&str], log: Option<&Path>, argv: &[String]) -> Command {
    // A new session: no controlling terminal, as the model's processes have none (`/dev/tty` is ENXIO).
    let mut c = Command::new("setsid");
    c.args(["-w", "setarch", "-R", "prlimit"])
        .args(LIMITS)
        .arg("strace")
        .args(opts);
    match log {
        Some(l) => c.arg("-o").arg(l),
        None => c.args(["-o", "/dev/null"]),
    };
    c.arg("--").args(argv);
    c.env_clear().envs(ENV.iter().copied()).current_dir("/");
    c.stdin(Stdio::null()).stdout(Stdio::null());
    c
}

/// Record `argv`'s log into `log`; the program must succeed.
pub fn record(log: &Path, argv: &[String]) {
    record_with(&["-f", "-y", "-v", "-e", TRACE], log, argv)
}

/// [`record`] with other strace options.
pub fn record_with(opts: &[&str], log: &Path, argv: &[String]) {
    let out = strace_with(opts, Some(log), argv)
        .stderr(Stdio::piped())
        .output()
        .expect("run strace");
    assert!(
        out.status.success(),
        "recording {argv:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The machine a replay runs on: `memsim run --aslr 0 --rlimit STACK=8M:unlimited`.
pub fn machine() -> Machine {
    let mut m = Machine::default();
    m.cfg.randomize_va_space = 0;
    m.rlimits.push((RLIMIT_STACK, Rlimit::new(8 << 20, RLIM_INFINITY)));
    m
}

/// Replay a log on a fresh model, stopping at the first failed expectation.
pub fn replay(name: &str, text: &str) -> (Runner, Summary) {
    let mut r = Runner::new(machine().build(Box::new(HostFs::new())));
    let s = r
        .run(name, text, &mut std::io::sink(), false)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    (r, s)
}
