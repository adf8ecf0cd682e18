//! `memsim layout` against the real program (issue 3, item 9): `examples/seed_layout.c` built as PIE and as
//! non-PIE prints its own `&etext`, `&edata`, `&end`, its initial `sbrk(0)` and the addresses of its named
//! objects when run with ASLR off (`setarch -R`); `memsim layout --aslr 0` must print the same first part
//! and the same object addresses, and place each object in the segment the seed article says it lies in.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The environment `memsim layout` gives the program (its `ENVP`); the real run gets the same.
const ENVP: [(&str, &str); 4] = [
    ("PATH", "/usr/bin:/bin"),
    ("HOME", "/"),
    ("LANG", "C"),
    ("TERM", "dumb"),
];

/// `examples/seed_layout.c` built with `flag`, once per test process (tests run in parallel and must not
/// rewrite a program another test is running).
fn build(flag: &str) -> PathBuf {
    static BUILT: std::sync::Mutex<BTreeMap<String, PathBuf>> = std::sync::Mutex::new(BTreeMap::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = built.get(flag) {
        return p.clone();
    }
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("layout");
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/seed_layout.c");
    let out = dir.join(format!("seed_layout{flag}"));
    let st = Command::new("gcc")
        .args(["-O0", flag, "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .unwrap_or_else(|e| panic!("running gcc (needed to build examples/seed_layout.c): {e}"));
    assert!(st.success(), "gcc {flag} failed");
    built.insert(flag.to_string(), out.clone());
    out
}

fn stdout_of(cmd: &mut Command) -> String {
    let o = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        o.status.success(),
        "{cmd:?} failed: {}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).expect("UTF-8 output")
}

/// The lines under `header` up to the next unindented line: the first word and the second, as an address.
fn section(text: &str, header: &str) -> Vec<(String, u64, String)> {
    let mut out = Vec::new();
    let mut inside = false;
    for l in text.lines() {
        if !l.starts_with(' ') {
            inside = l.starts_with(header);
            continue;
        }
        if inside {
            let mut f = l.split_whitespace();
            let (Some(name), Some(addr)) = (f.next(), f.next()) else {
                continue;
            };
            if let Some(a) = addr.strip_prefix("0x").and_then(|h| u64::from_str_radix(h, 16).ok()) {
                out.push((name.to_string(), a, f.collect::<Vec<_>>().join(" ")));
            }
        }
    }
    out
}

/// gcc names a function-scope static `NAME.N`.
fn c_name(symbol: &str) -> &str {
    match symbol.rsplit_once('.') {
        Some((n, d)) if !n.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) => n,
        _ => symbol,
    }
}

fn check(flag: &str) {
    let prog = build(flag);
    let real = stdout_of(Command::new("setarch").arg("-R").arg(&prog).env_clear().envs(ENVP));
    let model = stdout_of(
        Command::new(env!("CARGO_BIN_EXE_memsim"))
            .args(["layout", "--aslr", "0"])
            .arg(&prog),
    );

    // The seed's table, line for line.
    let head = |t: &str| t.lines().take(6).map(str::to_string).collect::<Vec<_>>();
    assert_eq!(
        head(&model),
        head(&real),
        "{flag}: memsim layout:\n{model}\nthe program:\n{real}"
    );

    // The named objects: same addresses, and the segments the seed names.
    let real_objs: BTreeMap<String, u64> = section(&real, "Objects").into_iter().map(|(n, a, _)| (n, a)).collect();
    let model_objs: BTreeMap<String, (u64, String)> = section(&model, "Objects")
        .into_iter()
        .map(|(n, a, rest)| (c_name(&n).to_string(), (a, rest)))
        .collect();
    let expect_seg = [
        ("a", "data"),
        ("b", "bss"),
        ("c", "data"),
        ("d", "bss"),
        ("e", "data"),
        ("f", "bss"),
        ("s", "data"),
    ];
    for (name, seg) in expect_seg {
        let r = real_objs[name];
        let (m, rest) = model_objs
            .get(name)
            .unwrap_or_else(|| panic!("{flag}: memsim layout does not list `{name}`:\n{model}"));
        assert_eq!(*m, r, "{flag}: address of `{name}`");
        assert!(rest.starts_with(seg), "{flag}: `{name}` should lie in {seg}: `{rest}`");
    }

    // The local, the heap block and the literal lie in the model's stack, heap and read-only file data.
    let maps: Vec<(u64, u64, String)> = model
        .lines()
        .skip_while(|l| !l.starts_with("Address space after execve"))
        .skip(1)
        .filter_map(|l| {
            let (range, rest) = l.split_once(' ')?;
            let (s, e) = range.split_once('-')?;
            Some((
                u64::from_str_radix(s, 16).ok()?,
                u64::from_str_radix(e, 16).ok()?,
                rest.to_string(),
            ))
        })
        .collect();
    let vma_of = |a: u64| {
        maps.iter()
            .find(|(s, e, _)| (*s..*e).contains(&a))
            .map(|(_, _, r)| r.clone())
    };
    let stack = vma_of(real_objs["g"]).unwrap_or_default();
    assert!(stack.ends_with("[stack]"), "{flag}: g is on the stack: `{stack}`");
    let lit = vma_of(real_objs["*s"]).unwrap_or_default();
    let canon = std::fs::canonicalize(&prog).unwrap();
    assert!(
        lit.starts_with("r--p") && lit.ends_with(canon.to_str().unwrap()),
        "{flag}: the literal lies in read-only data of the file: `{lit}`"
    );
    let brk = section(&model, "Program Break")[0].1;
    assert!(
        real_objs["p"] >= brk,
        "{flag}: p is on the heap, above the initial break"
    );
}

/// A static program's C library takes thread-local storage with `sbrk` before `main`, so the program's own
/// `sbrk(0)` lies above the initial break; everything else agrees, and the initial break is where exec puts
/// it (after bss; for a static PIE at ELF_ET_DYN_BASE, `fs/binfmt_elf.c` moves it out of the mmap area).
fn check_static(flag: &str) {
    let libc_a = Command::new("gcc")
        .arg("-print-file-name=libc.a")
        .output()
        .expect("gcc");
    if !String::from_utf8_lossy(&libc_a.stdout).contains('/') {
        eprintln!("skipped: gcc {flag} needs libc.a, which is not installed");
        return;
    }
    let prog = build(flag);
    let real = stdout_of(Command::new("setarch").arg("-R").arg(&prog).env_clear().envs(ENVP));
    let model = stdout_of(
        Command::new(env!("CARGO_BIN_EXE_memsim"))
            .args(["layout", "--aslr", "0"])
            .arg(&prog),
    );
    let head = |t: &str| t.lines().take(5).map(str::to_string).collect::<Vec<_>>();
    assert_eq!(
        head(&model),
        head(&real),
        "{flag}: memsim layout:\n{model}\nthe program:\n{real}"
    );
    let brk = |t: &str| section(t, "Program Break")[0].1;
    let end = section(&model, "Next byte past")[2].1;
    assert!(
        brk(&real) > brk(&model),
        "{flag}: the program's break moved up from the initial one"
    );
    if flag == "-static" {
        assert_eq!(
            brk(&model),
            (end + 0xfff) & !0xfff,
            "{flag}: the break starts after bss"
        );
    } else {
        assert_eq!(brk(&model), 0x5555_5555_5000, "{flag}: the break of a static PIE");
    }
}

#[test]
fn layout_of_static_programs() {
    check_static("-static");
    check_static("-static-pie");
}

#[test]
fn layout_agrees_with_the_pie_program() {
    check("-pie");
}

#[test]
fn layout_agrees_with_the_non_pie_program() {
    check("-no-pie");
}

/// A stripped program has no `etext`/`edata`/`end` symbols; `memsim layout` derives them from the section
/// headers as GNU ld's default script places them, and gets the symbols' values.
#[test]
fn marks_of_a_stripped_program_come_from_its_sections() {
    let prog = build("-pie");
    let stripped = prog.with_file_name("seed_layout-pie-stripped");
    let st = Command::new("strip")
        .arg("-o")
        .arg(&stripped)
        .arg(&prog)
        .status()
        .unwrap_or_else(|e| panic!("running strip (binutils, installed with gcc): {e}"));
    assert!(st.success(), "strip failed");
    let run = |p: &Path| {
        stdout_of(
            Command::new(env!("CARGO_BIN_EXE_memsim"))
                .args(["layout", "--aslr", "0"])
                .arg(p),
        )
    };
    let full = run(&prog);
    let derived = run(&stripped);
    let head = |t: &str| t.lines().take(6).map(str::to_string).collect::<Vec<_>>();
    let marked: Vec<String> = head(&derived)
        .into_iter()
        .map(|l| l.replace(" (no symbol: from the section headers)", ""))
        .collect();
    assert_eq!(marked, head(&full), "stripped:\n{derived}\nunstripped:\n{full}");
    assert!(derived.contains("(no symbol: from the section headers)"), "{derived}");
}

fn memsim_layout(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_memsim"))
        .arg("layout")
        .args(args)
        .output()
        .expect("run memsim")
}

/// With ASLR the layout depends on the seed alone: the same seed gives the same bytes, another seed other
/// addresses; without ASLR the seed changes nothing.
#[test]
fn layout_is_a_function_of_the_seed() {
    let out = |aslr: &str, seed: &str| {
        let o = memsim_layout(&["--aslr", aslr, "--seed", seed, "/usr/bin/true"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).expect("UTF-8")
    };
    assert_eq!(out("2", "7"), out("2", "7"));
    assert_ne!(out("2", "7"), out("2", "8"));
    assert_eq!(out("0", "7"), out("0", "8"));
}

/// A missing program and a file that is not executable fail with the errno and reason of the model's execve.
#[test]
fn layout_reports_execve_errors() {
    let o = memsim_layout(&["/nonexistent/program"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("ENOENT"), "{err}");
    let o = memsim_layout(&["no-such-program-in-path-memsim"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not found in $PATH"));
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("layout");
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let text = dir.join("not-an-elf");
    std::fs::write(&text, "just text\n").expect("write");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&text, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let o = memsim_layout(&[text.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("ENOEXEC"), "{err}");
}
