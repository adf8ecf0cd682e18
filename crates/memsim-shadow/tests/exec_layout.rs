//! Post-exec layouts against the real kernel (issue 3, item 10): each case execs a real program with ASLR
//! off, a fixed argv/envp and an 8 MiB stack limit, stops it at its first instruction with ptrace, and
//! compares its `/proc/PID/maps` (byte for byte, device and inode included), mm boundaries, initial stack,
//! `smaps` and `status` memory lines with the model's after `Kernel::sys_execve`. Further tests: the same
//! with ASLR on (in shape), bad and odd inputs (errno or fatal signal), and every installed program.
//!
//! Adding a case is one line in [`CASES`]. Programs built from `examples/seed_layout.c` are compiled with gcc
//! into Cargo's temporary directory at test time.
//!
//! A case listed in [`KNOWN_MISMATCHES`] may differ (its diff is printed); any other case that differs fails
//! the test. A listed case that agrees is reported so that it can be removed from the list.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use memsim_shadow::exec_probe::{self, ExecFailure, ExecLayout, ExecSpec, AT_BASE, AT_ENTRY};
use memsim_shadow::HostConfig;

/// What to exec.
#[derive(Clone, Copy, Debug)]
enum Prog {
    /// A file on this machine.
    Host(&'static str),
    /// `examples/seed_layout.c` built with these gcc flags.
    Seed(&'static [&'static str]),
    /// A `#!` script with this first line (and an `exit 0` body), written to a temporary file.
    Script(&'static str),
}

/// The arguments after argv\[0\] (which is always the path that is exec'd).
#[derive(Clone, Copy, Debug)]
enum Args {
    Fixed(&'static [&'static str]),
    /// `count` arguments of `len` bytes each.
    Long {
        count: usize,
        len: usize,
    },
}

struct Case {
    name: &'static str,
    prog: Prog,
    args: Args,
    /// The soft RLIMIT_STACK the program runs with.
    stack: u64,
}

const fn case(name: &'static str, prog: Prog, args: Args) -> Case {
    Case {
        name,
        prog,
        args,
        stack: exec_probe::STACK_LIMIT,
    }
}

impl Case {
    const fn stack(self, limit: u64) -> Case {
        Case { stack: limit, ..self }
    }
}

use Args::*;
use Prog::*;

/// The cases, one per line.
const CASES: &[Case] = &[
    case("dynamic-pie-cat", Host("/usr/bin/cat"), Fixed(&["/dev/null"])),
    case("seed-pie", Seed(&["-pie"]), Fixed(&[])),
    case("seed-no-pie", Seed(&["-no-pie"]), Fixed(&[])),
    case("seed-static", Seed(&["-static"]), Fixed(&[])),
    case("seed-static-pie", Seed(&["-static-pie"]), Fixed(&[])),
    case(
        "ld.so-direct",
        Host("/lib64/ld-linux-x86-64.so.2"),
        Fixed(&["/usr/bin/true"]),
    ),
    case("script", Script("#!/bin/sh"), Fixed(&["one", "two"])),
    // 2048 strings of 100 bytes: 200 KiB, more than the 128 KiB the initial stack VMA would otherwise have.
    case("long-argv", Host("/usr/bin/true"), Long { count: 2048, len: 100 }),
    case("script-with-arg", Script("#!/bin/sh -e"), Fixed(&["x"])),
    case("exec-stack", Seed(&["-pie", "-z", "execstack"]), Fixed(&[])),
    // A 64 KiB stack limit caps the stack VMA; an unlimited one moves mmap_base down (gap clamped to 5/6).
    case("small-stack", Host("/usr/bin/true"), Fixed(&[])).stack(64 << 10),
    case("unlimited-stack", Host("/usr/bin/true"), Fixed(&[])).stack(u64::MAX),
    case("python3", Host("/usr/bin/python3"), Fixed(&["-c", "pass"])),
];

/// Cases whose maps or mm boundaries are known to differ from the kernel's, with the reason. Shrink as the
/// loader improves.
const KNOWN_MISMATCHES: KnownList = &[];

/// `(case, reason)` pairs.
type KnownList = &'static [(&'static str, &'static str)];

/// Cases whose initial stack (pointers, auxv, strings; not the random bytes) is known to differ.
const KNOWN_STACK_MISMATCHES: KnownList = &[];

/// Cases whose memory after exec (`smaps`, the memory lines of `status`) is known to differ.
const KNOWN_MEMORY_MISMATCHES: KnownList = &[];

/// Cases whose `cmdline`, `environ`, `comm` or `statm` after exec is known to differ.
const KNOWN_PROC_MISMATCHES: KnownList = &[];

/// Cases whose randomized layout (with the host's `randomize_va_space`) is known to differ in shape.
const KNOWN_ASLR_MISMATCHES: KnownList = &[];

fn workdir() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("exec_layout");
    std::fs::create_dir_all(&d).expect("create the test's temporary directory");
    d
}

/// `gcc -print-file-name=libc.a` prints the bare name when the static C library is not installed.
fn have_static_libc() -> bool {
    Command::new("gcc")
        .arg("-print-file-name=libc.a")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().contains('/'))
        .unwrap_or(false)
}

/// Build `examples/seed_layout.c` with `flags`, once per test process. `Err` says why a case is skipped.
fn seed_binary(flags: &'static [&'static str]) -> Result<PathBuf, String> {
    static BUILT: OnceLock<std::sync::Mutex<BTreeMap<String, Result<PathBuf, String>>>> = OnceLock::new();
    let key = flags.join(" ");
    let mut built = BUILT
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(r) = built.get(&key) {
        return r.clone();
    }
    let r = (|| {
        if flags.iter().any(|f| f.starts_with("-static")) && !have_static_libc() {
            return Err(format!("skipped: gcc {key} needs libc.a, which is not installed"));
        }
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/seed_layout.c");
        let out = workdir().join(format!("seed_layout{}", key.replace(' ', "")));
        let st = Command::new("gcc")
            .args(["-O0", "-o"])
            .arg(&out)
            .args(flags)
            .arg(&src)
            .status()
            .unwrap_or_else(|e| panic!("running gcc (needed to build the test programs): {e}"));
        assert!(st.success(), "gcc {key} {} failed", src.display());
        Ok(out)
    })();
    built.insert(key, r.clone());
    r
}

/// A `#!` script with `first_line`, written once per test process.
fn script(first_line: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    static WRITTEN: std::sync::Mutex<BTreeMap<String, PathBuf>> = std::sync::Mutex::new(BTreeMap::new());
    let mut written = WRITTEN.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = written.get(first_line) {
        return p.clone();
    }
    let p = workdir().join(format!("script{}.sh", written.len()));
    let tmp = p.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, format!("{first_line}\nexit 0\n")).expect("write the script");
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).expect("chmod the script");
    std::fs::rename(&tmp, &p).expect("install the script");
    written.insert(first_line.to_string(), p.clone());
    p
}

/// The exec of a case, or why it is skipped.
fn spec(c: &Case) -> Result<ExecSpec, String> {
    let path = match c.prog {
        Host(p) if !Path::new(p).exists() => return Err(format!("skipped: {p} is not installed")),
        Host(p) => PathBuf::from(p),
        Seed(flags) => seed_binary(flags)?,
        Script(line) => script(line),
    };
    let path = path.to_string_lossy().into_owned();
    let mut argv: Vec<String> = vec![path.clone()];
    match c.args {
        Fixed(a) => argv.extend(a.iter().map(|s| s.to_string())),
        Long { count, len } => argv.extend((0..count).map(|i| format!("{i:0len$}"))),
    }
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let mut spec = ExecSpec::new(&path, &argv);
    spec.stack_limit = c.stack;
    let mut hard = libc_rlimit_stack_max();
    if hard == u64::MAX {
        hard = c.stack;
    }
    if c.stack > hard {
        return Err(format!(
            "skipped: RLIMIT_STACK's hard limit {hard} is below {}",
            c.stack
        ));
    }
    Ok(spec)
}

/// This process's hard RLIMIT_STACK (`/proc/self/limits`, "Max stack size").
fn libc_rlimit_stack_max() -> u64 {
    let limits = std::fs::read_to_string("/proc/self/limits").expect("/proc/self/limits");
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max stack size"))
        .expect("a stack line");
    let hard = line.split_whitespace().nth(4).expect("the hard limit");
    hard.parse().unwrap_or(u64::MAX)
}

/// `e_entry` of the ELF file at `path` (ELF64 little-endian: offset 24).
fn elf_entry(path: &str) -> u64 {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(&b[..4], b"\x7fELF", "{path} is not ELF");
    u64::from_le_bytes(b[24..32].try_into().expect("8 bytes"))
}

/// The file mapped at offset 0 at `addr` in a maps text.
fn file_at(maps: &str, addr: u64) -> Option<String> {
    maps.lines().find_map(|l| {
        let mut f = l.split_whitespace();
        let start = u64::from_str_radix(f.next()?.split('-').next()?, 16).ok()?;
        let (_, off, _, _) = (f.next()?, f.next()?, f.next()?, f.next()?);
        let path = f.next()?;
        (start == addr && u64::from_str_radix(off, 16).ok()? == 0).then(|| path.to_string())
    })
}

/// The kernel side alone: the process stops at its first instruction, which is the interpreter's entry
/// point (AT_BASE + its e_entry) when there is one and AT_ENTRY otherwise; the stack pointer is
/// `mm->start_stack` and lies in `[stack]`.
#[test]
fn real_exec_stops_at_the_entry_point() {
    let mut ran = 0;
    for c in CASES {
        let spec = match spec(c) {
            Ok(s) => s,
            Err(why) => {
                eprintln!("{}: {why}", c.name);
                continue;
            }
        };
        let real: ExecLayout = exec_probe::exec_real(&spec).unwrap_or_else(|e| panic!("{}: {e}", c.name));
        let rip = real.rip.unwrap_or_else(|| panic!("{}: PTRACE_GETREGS failed", c.name));
        let base = real.auxv_get(AT_BASE).unwrap_or(0);
        let expected = if base != 0 {
            let interp = file_at(&real.maps, base).unwrap_or_else(|| panic!("{}: nothing at AT_BASE", c.name));
            base + elf_entry(&interp)
        } else {
            real.auxv_get(AT_ENTRY).expect("AT_ENTRY")
        };
        assert_eq!(rip, expected, "{}: rip\n{}", c.name, real.maps);
        assert_eq!(
            real.rsp,
            Some(real.bounds.start_stack),
            "{}: rsp is start_stack",
            c.name
        );
        let stack = real
            .maps
            .lines()
            .find(|l| l.ends_with("[stack]"))
            .expect("a [stack] line");
        let (lo, hi) = stack.split_whitespace().next().unwrap().split_once('-').unwrap();
        let (lo, hi) = (
            u64::from_str_radix(lo, 16).unwrap(),
            u64::from_str_radix(hi, 16).unwrap(),
        );
        assert!((lo..hi).contains(&real.bounds.start_stack), "{}: sp in [stack]", c.name);
        assert!(real.bounds.arg_start < real.bounds.arg_end && real.bounds.arg_end <= real.bounds.env_start);
        for f in exec_probe::PROC_FILES {
            assert!(real.proc.contains_key(f), "{}: /proc/PID/{f} was read", c.name);
        }
        assert!(
            real.smaps.contains("Rss:") && real.status.contains("VmRSS:"),
            "{}",
            c.name
        );
        // The stack picture starts with argc and argv[0], which points at the first argument string. A
        // script's interpreter gets one more argument: argv[0] becomes the interpreter, then the script's path.
        // A script's interpreter gets argv[0] = the interpreter, the optional argument of the `#!` line
        // (the rest of the line, as one string), then the script's path in place of argv[0].
        let argc = spec.argv.len()
            + match c.prog {
                Script(line) => 1 + usize::from(line[2..].trim().split_once(char::is_whitespace).is_some()),
                _ => 0,
            };
        let dump = exec_probe::stack_dump(real.bounds.start_stack, &real.stack);
        let mut lines = dump.lines();
        assert_eq!(
            lines.next(),
            Some(format!("{:#x} argc {argc}", real.bounds.start_stack).as_str())
        );
        let argv0 = format!(
            "{:#x} argv[0] {:#x}",
            real.bounds.start_stack + 8,
            real.bounds.arg_start
        );
        assert_eq!(lines.next(), Some(argv0.as_str()), "{}", c.name);
        assert!(
            dump.contains(" <random>\n"),
            "{}: the AT_RANDOM bytes are found",
            c.name
        );
        if let Long { count, len } = c.args {
            // The strings alone exceed 128 KiB, so the stack VMA grew beyond its usual initial size.
            assert!(real.bounds.arg_end - real.bounds.arg_start > (count * len) as u64);
            assert!(hi - lo > 132 << 10, "{}: the [stack] VMA holds the long argv", c.name);
        }
        ran += 1;
    }
    assert!(ran >= CASES.len() - 2, "too many cases skipped");
}

#[test]
fn model_layout_matches_the_kernel() {
    let host = HostConfig::from_host().expect("host configuration");
    let mut unexpected = Vec::new();
    let mut now_match = Vec::new();
    let mut matched = Vec::new();
    for c in CASES {
        let spec = match spec(c) {
            Ok(s) => s,
            Err(why) => {
                eprintln!("{}: {why}", c.name);
                continue;
            }
        };
        let real = exec_probe::exec_real(&spec).unwrap_or_else(|e| panic!("{}: kernel side: {e}", c.name));
        if let Some(dir) = std::env::var_os("MEMSIM_EXEC_LAYOUT_DUMP") {
            // The kernel's answers, for whoever works on the loader.
            let text = format!(
                "{}\nrip {:x?} rsp {:x?}\n{:#x?}\n{}",
                real.maps,
                real.rip,
                real.rsp,
                real.bounds,
                exec_probe::stack_dump(real.bounds.start_stack, &real.stack)
            );
            std::fs::write(Path::new(&dir).join(format!("{}.txt", c.name)), text).expect("dump");
        }
        let model = exec_probe::exec_model(&spec, &host);
        let checks: [(&str, Vec<String>, KnownList); 4] = match &model {
            Ok(m) => [
                ("layout", exec_probe::compare(&real, m), KNOWN_MISMATCHES),
                ("stack", exec_probe::compare_stacks(&real, m), KNOWN_STACK_MISMATCHES),
                ("memory", exec_probe::compare_memory(&real, m), KNOWN_MEMORY_MISMATCHES),
                ("proc", exec_probe::compare_proc(&real, m), KNOWN_PROC_MISMATCHES),
            ],
            Err(e) => {
                let failed = || vec![format!("the model's execve failed: {e}")];
                [
                    ("layout", failed(), KNOWN_MISMATCHES),
                    ("stack", failed(), KNOWN_STACK_MISMATCHES),
                    ("memory", failed(), KNOWN_MEMORY_MISMATCHES),
                    ("proc", failed(), KNOWN_PROC_MISMATCHES),
                ]
            }
        };
        for (what, diffs, list) in checks {
            let known = list.iter().find(|(n, _)| *n == c.name);
            if diffs.is_empty() {
                matched.push(format!("{} {what}", c.name));
                if let Some((_, why)) = known {
                    now_match.push(format!("{} {what} (listed: {why})", c.name));
                }
                continue;
            }
            let report = format!("== {} {what} ({})\n{}\n", c.name, spec.path, diffs.join("\n"));
            match known {
                Some((_, why)) => eprintln!("known mismatch, {why}:\n{report}"),
                None => unexpected.push(report),
            }
        }
    }
    eprintln!("these match the kernel byte for byte: {matched:?}");
    if !now_match.is_empty() {
        eprintln!(
            "these now match the kernel; remove them from their KNOWN list: {}",
            now_match.join(", ")
        );
    }
    assert!(
        unexpected.is_empty(),
        "the model's exec layout differs from the kernel's:\n{}",
        unexpected.join("\n")
    );
}

/// With address-space randomization on (the host's setting, ADDR_NO_RANDOMIZE cleared; the model seeded),
/// the addresses differ from run to run, but not the layout's shape: the same VMAs in the same order with
/// the same sizes, permissions, offsets, files and adjacency, and the mm boundaries at the same places in
/// them (`exec_probe::shape`). Each case runs three times on the kernel and with three seeds on the model.
#[test]
fn randomized_layouts_have_the_kernels_shape() {
    let host = HostConfig::from_host().expect("host configuration");
    let mut unexpected = Vec::new();
    let mut matched = Vec::new();
    for (i, c) in CASES.iter().enumerate() {
        let mut spec = match spec(c) {
            Ok(s) => s,
            Err(why) => {
                eprintln!("{}: {why}", c.name);
                continue;
            }
        };
        spec.randomize = true;
        let mut diffs = Vec::new();
        for round in 0..3u64 {
            spec.seed = (i as u64) * 1000 + round;
            let real = exec_probe::exec_real(&spec).unwrap_or_else(|e| panic!("{}: kernel side: {e}", c.name));
            let model = match exec_probe::exec_model(&spec, &host) {
                Ok(m) => m,
                Err(e) => {
                    diffs.push(format!("the model's execve failed: {e}"));
                    break;
                }
            };
            diffs = exec_probe::compare_shapes(&real, &model);
            if !diffs.is_empty() {
                diffs.push(format!("(seed {})", spec.seed));
                break;
            }
        }
        let known = KNOWN_ASLR_MISMATCHES.iter().find(|(n, _)| *n == c.name);
        match (diffs.is_empty(), known) {
            (true, Some((_, why))) => eprintln!(
                "{} now matches in shape; remove it from KNOWN_ASLR_MISMATCHES ({why})",
                c.name
            ),
            (true, None) => matched.push(c.name),
            (false, Some((_, why))) => eprintln!("known mismatch, {why}:\n== {}\n{}", c.name, diffs.join("\n")),
            (false, None) => unexpected.push(format!("== {} ({})\n{}\n", c.name, spec.path, diffs.join("\n"))),
        }
    }
    eprintln!("randomized layouts with the kernel's shape: {matched:?}");
    assert!(
        unexpected.is_empty(),
        "randomized layouts differ in shape:\n{}",
        unexpected.join("\n")
    );
}

#[test]
fn every_known_mismatch_names_a_case() {
    for (n, _) in KNOWN_MISMATCHES
        .iter()
        .chain(KNOWN_STACK_MISMATCHES)
        .chain(KNOWN_ASLR_MISMATCHES)
    {
        assert!(
            CASES.iter().any(|c| c.name == *n),
            "KNOWN_MISMATCHES lists `{n}`, which is not a case"
        );
    }
}

/// The comparison can fail: a model run with one more environment string, or a smaller stack limit, than
/// the real run is told apart (stack strings and pointers; env_end; the maps when mmap_base moves).
#[test]
fn the_comparison_sees_a_different_exec() {
    let host = HostConfig::from_host().expect("host configuration");
    let spec = ExecSpec::new("/usr/bin/true", &["/usr/bin/true"]);
    let real = exec_probe::exec_real(&spec).expect("kernel side");
    let mut more_env = spec.clone();
    more_env.envp.push(b"X=1".to_vec());
    let Ok(model) = exec_probe::exec_model(&more_env, &host) else {
        eprintln!("the model cannot exec /usr/bin/true yet; nothing to compare");
        return;
    };
    assert!(!exec_probe::compare_stacks(&real, &model).is_empty());
    let diffs = exec_probe::compare(&real, &model);
    assert!(diffs.iter().any(|d| d.starts_with("arg_start")), "{diffs:?}");
    // A 64 KiB stack limit caps the initial stack VMA (setup_arg_pages) below its usual 132 KiB.
    let mut small_stack = spec.clone();
    small_stack.stack_limit = 64 << 10;
    let model = exec_probe::exec_model(&small_stack, &host).expect("model exec");
    let diffs = exec_probe::compare(&real, &model);
    assert!(diffs.iter().any(|d| d.contains("[stack]")), "{diffs:?}");
}

/// A file for an error case, written once per name: `bytes` with mode `mode`.
fn file_case(name: &str, bytes: &[u8], mode: u32) -> ExecSpec {
    use std::os::unix::fs::PermissionsExt;
    let p = workdir().join(format!("err-{name}"));
    let tmp = p.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).expect("write");
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode)).expect("chmod");
    std::fs::rename(&tmp, &p).expect("install");
    let s = p.to_string_lossy().into_owned();
    ExecSpec::new(&s, &[&s])
}

/// `/usr/bin/true` with its bytes changed by `edit`, made executable.
fn edited_true(name: &str, edit: fn(&mut Vec<u8>)) -> ExecSpec {
    let mut b = std::fs::read("/usr/bin/true").expect("/usr/bin/true");
    edit(&mut b);
    file_case(name, &b, 0o755)
}

/// Little-endian field access in an ELF64 file.
fn put(b: &mut [u8], off: usize, v: u64, len: usize) {
    b[off..off + len].copy_from_slice(&v.to_le_bytes()[..len]);
}
fn get(b: &[u8], off: usize, len: usize) -> u64 {
    let mut w = [0u8; 8];
    w[..len].copy_from_slice(&b[off..off + len]);
    u64::from_le_bytes(w)
}

/// The file offset of program header `i` with type `p_type` (the first such), in an ELF64 image.
fn phdr(b: &[u8], p_type: u32) -> usize {
    let (phoff, phentsize, phnum) = (get(b, 32, 8) as usize, get(b, 54, 2) as usize, get(b, 56, 2) as usize);
    (0..phnum)
        .map(|i| phoff + i * phentsize)
        .find(|&o| get(b, o, 4) == u64::from(p_type))
        .expect("program header")
}

const PT_LOAD: u32 = 1;
const PT_INTERP: u32 = 3;

/// A case's name and how to make its exec.
type ErrorCase = (&'static str, fn() -> ExecSpec);

/// Execs of bad or odd input, one per line: the kernel's errno (or fatal signal) and the model's must agree,
/// and where both succeed, the layouts.
const ERROR_CASES: &[ErrorCase] = &[
    ("missing", || ExecSpec::new("/nonexistent/program", &["program"])),
    ("directory", || ExecSpec::new("/tmp", &["/tmp"])),
    ("not-executable", || file_case("mode644", b"#!/bin/sh\n", 0o644)),
    ("garbage", || file_case("garbage", b"\x01\x02 not a program\n", 0o755)),
    ("empty", || file_case("empty", b"", 0o755)),
    ("elf-header-only", || edited_true("header-only", |b| b.truncate(64))),
    ("elf-half-header", || edited_true("half-header", |b| b.truncate(40))),
    ("elf-bad-machine", || {
        edited_true("bad-machine", |b| put(b, 18, 0x28, 2))
    }),
    ("elf-bad-phentsize", || {
        edited_true("bad-phentsize", |b| put(b, 54, 0x20, 2))
    }),
    ("elf-phdrs-past-eof", || {
        edited_true("phdrs-past-eof", |b| put(b, 32, 1 << 40, 8))
    }),
    ("elf-32-bit-class", || edited_true("class32", |b| b[4] = 1)),
    ("elf-core-type", || edited_true("core-type", |b| put(b, 16, 4, 2))),
    ("elf-no-phdrs", || edited_true("no-phdrs", |b| put(b, 56, 0, 2))),
    ("elf-too-many-phdrs", || {
        edited_true("many-phdrs", |b| put(b, 56, 0xffff, 2))
    }),
    ("elf-no-load-segments", || {
        edited_true("no-loads", |b| {
            let (phoff, phnum) = (get(b, 32, 8) as usize, get(b, 56, 2) as usize);
            for i in 0..phnum {
                if get(b, phoff + i * 56, 4) == u64::from(PT_LOAD) {
                    put(b, phoff + i * 56, 0, 4); // PT_NULL
                }
            }
        })
    }),
    ("elf-huge-bss", || {
        edited_true("huge-bss", |b| {
            let (phoff, phnum) = (get(b, 32, 8) as usize, get(b, 56, 2) as usize);
            let last = (0..phnum)
                .map(|i| phoff + i * 56)
                .rfind(|&o| get(b, o, 4) == u64::from(PT_LOAD))
                .expect("a PT_LOAD");
            put(b, last + 40, 1 << 46, 8); // p_memsz: 64 TiB
        })
    }),
    ("elf-missing-interp", || {
        edited_true("missing-interp", |b| {
            let o = get(b, phdr(b, PT_INTERP) + 8, 8) as usize;
            b[o + 1] = b'X'; // "/Xib64/ld-linux-x86-64.so.2"
        })
    }),
    ("elf-interp-not-terminated", || {
        edited_true("interp-unterminated", |b| {
            let ph = phdr(b, PT_INTERP);
            let (o, n) = (get(b, ph + 8, 8) as usize, get(b, ph + 32, 8) as usize);
            b[o + n - 1] = b'x';
        })
    }),
    ("elf-load-misaligned", || {
        edited_true("load-misaligned", |b| {
            let ph = phdr(b, PT_LOAD);
            let v = get(b, ph + 16, 8) + 1;
            put(b, ph + 16, v, 8); // p_vaddr % p_align != p_offset % p_align
        })
    }),
    ("elf-filesz-over-memsz", || {
        edited_true("filesz-over-memsz", |b| {
            let ph = phdr(b, PT_LOAD);
            let memsz = get(b, ph + 40, 8);
            put(b, ph + 32, memsz + 0x1000, 8);
        })
    }),
    ("script-missing-interpreter", || {
        file_case("bad-interp", b"#!/nonexistent/sh\n", 0o755)
    }),
    ("script-empty-interpreter", || file_case("no-interp", b"#!\n", 0o755)),
    ("script-loop", || {
        let p = workdir().join("err-loop");
        let s = p.to_string_lossy().into_owned();
        file_case("loop", format!("#!{s}\n").as_bytes(), 0o755)
    }),
    ("argv-too-big", || {
        let big = "x".repeat(120 << 10);
        let mut argv = vec!["/usr/bin/true"];
        argv.extend(std::iter::repeat_n(big.as_str(), 20)); // 2.4 MiB > RLIMIT_STACK / 4
        ExecSpec::new("/usr/bin/true", &argv)
    }),
    ("arg-too-long", || {
        let big = "x".repeat(32 * 4096); // MAX_ARG_STRLEN counts the NUL
        ExecSpec::new("/usr/bin/true", &["/usr/bin/true", &big])
    }),
];

/// Errors the model is known to report differently from the kernel.
const KNOWN_ERROR_MISMATCHES: KnownList = &[];

#[test]
fn exec_errors_match_the_kernel() {
    let host = HostConfig::from_host().expect("host configuration");
    let show = |r: &Result<(), ExecFailure>| match r {
        Ok(()) => "success".to_string(),
        Err(e) => e.to_string(),
    };
    let mut unexpected = Vec::new();
    let mut matched = Vec::new();
    for (name, make) in ERROR_CASES {
        let spec = make();
        let real_layout = exec_probe::exec_real_outcome(&spec);
        if let Err(ExecFailure::Harness(e)) = &real_layout {
            panic!("{name}: kernel side: {e}");
        }
        let real = real_layout.as_ref().map(|_| ()).map_err(Clone::clone);
        let (model, why) = match exec_probe::exec_model_outcome(&spec, &host) {
            Ok(()) => (Ok(()), String::new()),
            Err((f, why)) => (Err(f), why),
        };
        let known = KNOWN_ERROR_MISMATCHES.iter().find(|(n, _)| n == name);
        // An odd file that both load must also load the same way.
        let layout_diffs = match (&real_layout, &model) {
            (Ok(r), Ok(())) => match exec_probe::exec_model(&spec, &host) {
                Ok(m) => exec_probe::compare(r, &m),
                Err(e) => vec![e],
            },
            _ => Vec::new(),
        };
        if !layout_diffs.is_empty() {
            let report = format!("{name}: both load it, differently:\n{}", layout_diffs.join("\n"));
            match known {
                Some((_, k)) => eprintln!("known mismatch, {k}: {report}"),
                None => unexpected.push(report),
            }
            continue;
        }
        if real == model {
            matched.push(format!("{name}: {}", show(&real)));
            if let Some((_, k)) = known {
                eprintln!("{name} now agrees; remove it from KNOWN_ERROR_MISMATCHES ({k})");
            }
            continue;
        }
        let report = format!("{name}: kernel {}, model {} ({why})", show(&real), show(&model));
        match known {
            Some((_, k)) => eprintln!("known mismatch, {k}: {report}"),
            None => unexpected.push(report),
        }
    }
    eprintln!("exec errors that agree with the kernel:\n  {}", matched.join("\n  "));
    assert!(unexpected.is_empty(), "exec errors differ:\n{}", unexpected.join("\n"));
}

/// Kinds of installed programs ([`every_installed_program_execs_like_the_kernel`]) known to differ.
const KNOWN_INSTALLED_MISMATCHES: KnownList = &[(
    "ia32",
    "the model has no ia32 compat tasks: a 32-bit x86 ELF gives ENOEXEC on x86_64 (as documented)",
)];

/// The credential entries of the auxv in an initial stack picture (`AT_EGID 0x2a`, ...).
fn auxv_creds(l: &ExecLayout) -> Vec<String> {
    exec_probe::stack_dump(l.bounds.start_stack, &l.stack)
        .lines()
        .filter_map(|line| line.split_once(' ').map(|(_, rest)| rest.to_string()))
        .filter(|rest| {
            ["AT_UID ", "AT_EUID ", "AT_GID ", "AT_EGID ", "AT_SECURE "]
                .iter()
                .any(|n| rest.starts_with(n))
        })
        .collect()
}

/// Every executable file in /usr/bin and /usr/sbin, and those under /usr/lib/x86_64-linux-gnu (`libc.so.6`
/// runs), /usr/libexec and /usr/lib/gcc (ELF programs and scripts alike), exec'd with ASLR off as
/// `NAME --version`: the model's maps, mm boundaries, initial stack, smaps and status memory lines equal the
/// kernel's. A set-user-ID or
/// set-group-ID file is run randomized whatever the persona (exec clears ADDR_NO_RANDOMIZE for it,
/// `PER_CLEAR_ON_SETID`), so for those the model must randomize too, agree in shape
/// (`exec_probe::shape`) and in the credentials the auxv passes (AT_EGID, AT_SECURE, ...).
#[test]
fn every_installed_program_execs_like_the_kernel() {
    use std::os::unix::fs::PermissionsExt;
    let host = HostConfig::from_host().expect("host configuration");
    let mut programs = Vec::new();
    let mut dirs: Vec<PathBuf> = [
        "/usr/bin",
        "/usr/sbin",
        "/usr/lib/x86_64-linux-gnu",
        "/usr/libexec",
        "/usr/lib/gcc",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    while let Some(dir) = dirs.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            // Helper programs lie in subdirectories of the library directories (gcc's cc1, libexec's).
            if !dir.starts_with("/usr/bin") && !dir.starts_with("/usr/sbin") && e.file_type().is_ok_and(|t| t.is_dir())
            {
                dirs.push(p);
                continue;
            }
            // Symbolic links lead to files listed anyway, or elsewhere; regular executables only.
            let Ok(md) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            let mode = md.permissions().mode();
            if md.is_file() && mode & 0o111 != 0 {
                // fs/exec.c: bprm_fill_uid: set-user-ID, or set-group-ID with group execute.
                let setid = mode & 0o4000 != 0 || mode & 0o2010 == 0o2010;
                programs.push((p.to_string_lossy().into_owned(), setid));
            }
        }
    }
    programs.sort();
    let mut unexpected = Vec::new();
    let mut known = Vec::new();
    let mut known_kinds = std::collections::BTreeSet::new();
    let mut agree = 0;
    for (p, setid) in &programs {
        let spec = ExecSpec::new(p, &[p, "--version"]);
        let real = match exec_probe::exec_real_outcome(&spec) {
            Ok(r) => Ok(r),
            Err(ExecFailure::Harness(e)) => panic!("{p}: kernel side: {e}"),
            Err(e) => Err(e),
        };
        let d = match (&real, exec_probe::exec_model_outcome(&spec, &host)) {
            (Ok(r), Ok(())) => match exec_probe::exec_model(&spec, &host) {
                Ok(m) if *setid => {
                    // Without randomization the stack ends at STACK_TOP.
                    let randomized = |l: &ExecLayout| exec_probe::stack_end(&l.maps) != Some(0x7fff_ffff_f000);
                    let mut d = exec_probe::compare_shapes(r, &m);
                    if randomized(r) != randomized(&m) {
                        d.push(format!(
                            "randomized: kernel {}, model {}",
                            randomized(r),
                            randomized(&m)
                        ));
                    }
                    if auxv_creds(r) != auxv_creds(&m) {
                        d.push(format!(
                            "auxv credentials: kernel {:?}, model {:?}",
                            auxv_creds(r),
                            auxv_creds(&m)
                        ));
                    }
                    d
                }
                Ok(m) => {
                    let mut d = exec_probe::compare(r, &m);
                    d.extend(exec_probe::compare_stacks(r, &m));
                    d.extend(exec_probe::compare_memory(r, &m));
                    d.extend(exec_probe::compare_proc(r, &m));
                    d
                }
                Err(e) => vec![e],
            },
            (Err(k), Err((m, _))) if *k == m => Vec::new(),
            (k, m) => vec![format!("kernel {:?}, model {:?}", k.as_ref().map(|_| ()), m)],
        };
        if d.is_empty() {
            agree += 1;
            continue;
        }
        let report = format!("== {p}\n{}", d.join("\n"));
        // 32-bit x86 programs (valgrind's tools are some): ELFCLASS32 and EM_386 in the header.
        let ia32 = std::fs::read(p).is_ok_and(|b| b.len() > 20 && b[..4] == *b"\x7fELF" && b[4] == 1 && b[18] == 3);
        let kind = if *setid {
            "set-id"
        } else if ia32 {
            "ia32"
        } else {
            "plain"
        };
        match KNOWN_INSTALLED_MISMATCHES.iter().find(|(n, _)| *n == kind) {
            Some(_) => {
                known_kinds.insert(kind);
                known.push(report);
            }
            None => unexpected.push(report),
        }
    }
    eprintln!("{agree} of {} installed programs exec like the kernel", programs.len());
    for (kind, _) in KNOWN_INSTALLED_MISMATCHES {
        if !known_kinds.contains(kind) {
            eprintln!("no `{kind}` program differs any more: remove it from KNOWN_INSTALLED_MISMATCHES");
        }
    }
    if !known.is_empty() {
        eprintln!(
            "{} known mismatches ({KNOWN_INSTALLED_MISMATCHES:?}):\n{}",
            known.len(),
            known.join("\n")
        );
    }
    assert!(
        unexpected.is_empty(),
        "{} differ:\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
}
