//! execve of real binaries from this machine's disk against the running kernel: the model's maps, mm
//! boundaries (stat fields 26-28, 45-51), initial stack pointer and stack bytes after `execve` must equal
//! what a real process shows when stopped (ptrace) at its first instruction with ASLR off.
//!
//! The tracer is a small C program compiled at test time (`tests/data/exec_tracer.c`); the test is skipped
//! with a message when gcc is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use memsim_core::kernel::{Kernel, KernelConfig, INIT_PID};
use memsim_scenario::HostFs;

struct Real {
    maps: String,
    smaps: String,
    stat: Vec<u64>,
    rsp: u64,
    stack: Vec<u8>,
}

fn tmp() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
}

fn gcc(src: &str, out: &Path, flags: &[&str]) -> bool {
    let c = tmp().join(format!("{}.c", out.file_name().unwrap().to_string_lossy()));
    std::fs::write(&c, src).unwrap();
    Command::new("gcc")
        .args(flags)
        .arg("-o")
        .arg(out)
        .arg(&c)
        .status()
        .is_ok_and(|s| s.success())
}

/// The tracer, compiled once per test run (tests run in parallel threads).
fn tracer() -> Option<PathBuf> {
    static TRACER: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    TRACER
        .get_or_init(|| {
            let out = tmp().join("exec_tracer");
            let src = include_str!("data/exec_tracer.c");
            if gcc(src, &out, &["-O1"]) {
                Some(out)
            } else {
                eprintln!("gcc not available: skipping the comparison with the kernel");
                None
            }
        })
        .clone()
}

fn run_real(tracer: &Path, pers: u32, path: &str, argv: &[&str], envp: &[&str]) -> Real {
    let mut cmd = Command::new(tracer);
    cmd.arg("-p").arg(pers.to_string());
    for e in envp {
        cmd.arg("-e").arg(e);
    }
    cmd.arg("--").arg(path).args(argv);
    let out = cmd.output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let maps_start = text.find("maps:\n").expect("tracer output") + 6;
    let stat_at = text.find("stat: ").unwrap();
    let smaps_at = text.find("smaps:\n").unwrap();
    let maps = text[maps_start..smaps_at].to_string();
    let smaps = text[smaps_at + 7..stat_at].to_string();
    let stat_line = text[stat_at + 6..].lines().next().unwrap();
    // Fields after the comm: field 3 onwards.
    let after = &stat_line[stat_line.rfind(')').unwrap() + 2..];
    let mut stat = vec![0u64, 0];
    stat.extend(
        after
            .split(' ')
            .map(|f| f.parse::<i64>().map(|v| v as u64).unwrap_or(0)),
    );
    let rsp = u64::from_str_radix(text.lines().find(|l| l.starts_with("rsp: ")).unwrap()[5..].trim(), 16).unwrap();
    let hex = text.lines().find(|l| l.starts_with("stack:")).unwrap()[6..].trim();
    let stack = (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    Real {
        maps,
        smaps,
        stat,
        rsp,
        stack,
    }
}

fn exec_model(pers: u32, path: &str, argv: &[&str], envp: &[&str]) -> Kernel {
    let cfg = KernelConfig {
        randomize_va_space: 0,
        ..KernelConfig::default()
    };
    let mut k = Kernel::new(cfg, Box::new(HostFs::new()));
    k.task_mut(INIT_PID).unwrap().personality = pers;
    let argv: Vec<Vec<u8>> = argv.iter().map(|s| s.as_bytes().to_vec()).collect();
    let envp: Vec<Vec<u8>> = envp.iter().map(|s| s.as_bytes().to_vec()).collect();
    if let Err(e) = k.do_execve(INIT_PID, path, &argv, &envp) {
        panic!("execve {path}: {e}");
    }
    k
}

/// `(range, Rss, Anonymous)` of each VMA in smaps text: which pages exec itself made present.
fn resident(smaps: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut cur = (String::new(), String::new());
    for l in smaps.lines() {
        if l.split(' ').next().is_some_and(|f| f.contains('-')) {
            cur = (l.split(' ').next().unwrap_or("").to_string(), String::new());
        } else if let Some(v) = l.strip_prefix("Rss:") {
            cur.1 = v.trim().to_string();
        } else if let Some(v) = l.strip_prefix("Anonymous:") {
            out.push((cur.0.clone(), cur.1.clone(), v.trim().to_string()));
        }
    }
    out
}

/// Compare one program; returns a description of every difference.
fn compare(tracer: &Path, pers: u32, path: &str, argv: &[&str], envp: &[&str]) -> Vec<String> {
    let real = run_real(tracer, pers, path, argv, envp);
    let mut k = exec_model(pers, path, argv, envp);
    let mut diffs = Vec::new();
    let maps = String::from_utf8(k.proc_read(INIT_PID, "maps").unwrap()).unwrap();
    if maps != real.maps {
        diffs.push(format!(
            "{path}: maps differ\n--- kernel\n{}--- model\n{maps}",
            real.maps
        ));
    }
    let smaps = String::from_utf8(k.proc_read(INIT_PID, "smaps").unwrap()).unwrap();
    let (want, got) = (resident(&real.smaps), resident(&smaps));
    assert!(
        !want.is_empty() && want.iter().any(|(_, rss, _)| rss != "0 kB"),
        "smaps parsed"
    );
    if want != got {
        diffs.push(format!(
            "{path}: resident pages per VMA differ\nkernel {want:?}\nmodel  {got:?}"
        ));
    }
    let m = k.mm(INIT_PID).unwrap().clone();
    let fields = [
        (26, "start_code", m.start_code),
        (27, "end_code", m.end_code),
        (28, "start_stack", m.start_stack),
        (45, "start_data", m.start_data),
        (46, "end_data", m.end_data),
        (47, "start_brk", m.start_brk),
        (48, "arg_start", m.arg_start),
        (49, "arg_end", m.arg_end),
        (50, "env_start", m.env_start),
        (51, "env_end", m.env_end),
    ];
    for (n, name, v) in fields {
        if real.stat[n - 1] != v {
            diffs.push(format!(
                "{path}: stat field {n} ({name}) kernel {:#x} model {v:#x}",
                real.stat[n - 1]
            ));
        }
    }
    if real.rsp != m.start_stack {
        diffs.push(format!("{path}: rsp kernel {:#x} model {:#x}", real.rsp, m.start_stack));
    }
    let model_stack = k.peek(INIT_PID, m.start_stack, real.stack.len() as u64).unwrap();
    // AT_RANDOM's 16 bytes differ by design: find them through the auxv and blank them in both.
    let mut a = real.stack.clone();
    let mut b = model_stack;
    let words: Vec<u64> = b
        .chunks(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
        .collect();
    let argc = words[0] as usize;
    let mut i = 1 + argc + 1;
    while words[i] != 0 {
        i += 1;
    }
    i += 1;
    while words[i] != 0 {
        if words[i] == 25 {
            let off = (words[i + 1] - m.start_stack) as usize;
            a[off..off + 16].fill(0);
            b[off..off + 16].fill(0);
        }
        i += 2;
    }
    if a != b {
        let first = a.iter().zip(&b).position(|(x, y)| x != y).unwrap_or(0);
        diffs.push(format!(
            "{path}: stack bytes differ first at sp+{first:#x}: kernel {:02x?} model {:02x?}",
            &a[first..(first + 32).min(a.len())],
            &b[first..(first + 32).min(b.len())]
        ));
    }
    diffs
}

/// ADDR_NO_RANDOMIZE: the model runs with randomize_va_space 0 and the same personality.
const NO_RANDOMIZE: u32 = 0x0040000;
/// ADDR_COMPAT_LAYOUT: the legacy bottom-up layout.
const COMPAT_LAYOUT: u32 = 0x0200000;

fn check(cases: &[(&str, Vec<&str>, Vec<&str>)]) {
    check_with(NO_RANDOMIZE, cases)
}

fn check_with(pers: u32, cases: &[(&str, Vec<&str>, Vec<&str>)]) {
    let Some(tracer) = tracer() else { return };
    let mut all = Vec::new();
    for (path, argv, envp) in cases {
        all.extend(compare(&tracer, pers, path, argv, envp));
    }
    assert!(all.is_empty(), "{}", all.join("\n"));
}

#[test]
fn dynamic_pie_and_the_dynamic_linker_run_directly() {
    check(&[
        ("/usr/bin/cat", vec!["cat", "/etc/hostname"], vec!["A=1", "HOME=/root"]),
        ("/usr/bin/true", vec!["true"], vec![]),
        ("/usr/bin/python3", vec!["python3", "-c", "pass"], vec!["PATH=/usr/bin"]),
        ("/bin/bash", vec!["bash", "-c", "exit"], vec![]),
        ("/usr/bin/ls", vec!["ls", "-l"], vec!["LANG=C"]),
        (
            "/lib64/ld-linux-x86-64.so.2",
            vec!["/lib64/ld-linux-x86-64.so.2", "/usr/bin/true"],
            vec!["X=y"],
        ),
    ]);
}

#[test]
fn static_static_pie_non_pie_and_script() {
    let Some(_) = tracer() else { return };
    let src = "int x = 1; int y[5000]; int main(void) { return x + y[1]; }\n";
    let dir = tmp();
    let mut cases = Vec::new();
    let names = [
        ("st", "-static"),
        ("spie", "-static-pie"),
        ("nopie", "-no-pie"),
        ("pie", "-pie"),
    ];
    let mut built = Vec::new();
    for (name, flag) in names {
        let out = dir.join(format!("exec_{name}"));
        assert!(gcc(src, &out, &[flag]), "gcc {flag}");
        built.push(out.to_string_lossy().into_owned());
    }
    // The script is written by another process (cp): a file this process had open for writing could still
    // be open in a child another test thread forked, and its execve would fail with ETXTBSY.
    let script = dir.join("exec_script.sh");
    let text = dir.join("exec_script.txt");
    std::fs::write(&text, "#!/bin/sh -e\necho hi\n").unwrap();
    let copied = Command::new("cp").arg(&text).arg(&script).status().unwrap();
    assert!(copied.success());
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&script)
        .status()
        .unwrap();
    let script = script.to_string_lossy().into_owned();
    for b in &built {
        cases.push((b.as_str(), vec!["prog", "arg one", ""], vec!["E=1", "PATH=/usr/bin"]));
    }
    cases.push((script.as_str(), vec!["script", "a", "b"], vec!["E=2"]));
    check(&cases);
}

#[test]
fn long_argument_list() {
    let many: Vec<String> = (0..3000).map(|i| format!("argument-number-{i}")).collect();
    let mut argv = vec!["true"];
    argv.extend(many.iter().map(String::as_str));
    let env: Vec<String> = (0..200).map(|i| format!("VAR{i}={}", "v".repeat(i))).collect();
    let envp: Vec<&str> = env.iter().map(String::as_str).collect();
    check(&[("/usr/bin/true", argv, envp)]);
}

#[test]
fn legacy_bottom_up_layout() {
    let Some(_) = tracer() else { return };
    let out = tmp().join("exec_legacy_spie");
    assert!(gcc("int main(void) { return 0; }\n", &out, &["-static-pie"]));
    let spie = out.to_string_lossy().into_owned();
    check_with(
        NO_RANDOMIZE | COMPAT_LAYOUT,
        &[
            ("/usr/bin/cat", vec!["cat"], vec!["A=1"]),
            (spie.as_str(), vec!["spie"], vec![]),
        ],
    );
}

/// A program that prints what exec gave it: the credential lines of its status, the auxv credentials and
/// AT_SECURE, its personality and its stack limit.
const IDPROBE: &str = r#"
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/personality.h>
#include <sys/resource.h>
int main(void) {
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "Uid:", 4) || !strncmp(line, "Gid:", 4) || !strncmp(line, "Cap", 3))
            fputs(line, stdout);
    struct rlimit r;
    getrlimit(RLIMIT_STACK, &r);
    printf("AT_UID %lu\nAT_EUID %lu\nAT_GID %lu\nAT_EGID %lu\nAT_SECURE %lu\n", getauxval(AT_UID),
           getauxval(AT_EUID), getauxval(AT_GID), getauxval(AT_EGID), getauxval(AT_SECURE));
    printf("personality %#x\nstack %llu\n", personality(0xffffffff), (unsigned long long)r.rlim_cur);
    return 0;
}
"#;

/// The model's version of [`IDPROBE`]'s output for `pid` right after its exec.
fn idprobe_model(k: &mut Kernel, pid: memsim_core::Pid) -> String {
    let status = String::from_utf8(k.proc_read(pid, "status").unwrap()).unwrap();
    let mut out: String = status
        .lines()
        .filter(|l| l.starts_with("Uid:") || l.starts_with("Gid:") || l.starts_with("Cap"))
        .map(|l| format!("{l}\n"))
        .collect();
    // The auxv: past argc, argv[] and NULL, envp[] and NULL.
    let sp = k.mm(pid).unwrap().start_stack;
    let word = |k: &mut Kernel, a: u64| u64::from_le_bytes(k.peek(pid, a, 8).unwrap().try_into().unwrap());
    let argc = word(k, sp);
    let mut a = sp + 8 * (argc + 2);
    while word(k, a) != 0 {
        a += 8;
    }
    a += 8;
    let mut aux = std::collections::BTreeMap::new();
    loop {
        let (key, val) = (word(k, a), word(k, a + 8));
        if key == 0 {
            break;
        }
        aux.insert(key, val);
        a += 16;
    }
    for (name, key) in [
        ("AT_UID", 11),
        ("AT_EUID", 12),
        ("AT_GID", 13),
        ("AT_EGID", 14),
        ("AT_SECURE", 23),
    ] {
        out += &format!("{name} {}\n", aux.get(&key).copied().unwrap_or(0));
    }
    let t = k.task(pid).unwrap();
    // printf's %#x prints 0 without a prefix.
    let pers = match t.personality {
        0 => "0".to_string(),
        p => format!("{p:#x}"),
    };
    out += &format!("personality {pers}\nstack {}\n", t.rlimits[3].cur);
    out
}

/// Set-user-ID and set-group-ID files exec'd by root and by an ordinary user (`setpriv`), with ADDR_NO_RANDOMIZE
/// and an unlimited stack (`prlimit`, `setarch -R`): the ids and capabilities of `/proc/PID/status`, the auxv
/// credentials and AT_SECURE, the personality (PER_CLEAR_ON_SETID) and the stack limit (clamped to 8 MiB for a
/// secure exec) equal the kernel's.
#[test]
fn set_id_files_change_credentials_like_the_kernel() {
    use std::os::unix::fs::PermissionsExt;
    let have = |p: &str| Path::new(p).exists();
    if !have("/usr/bin/setpriv") || !have("/usr/bin/setarch") || !have("/usr/bin/prlimit") {
        eprintln!("setpriv, setarch or prlimit missing: skipping");
        return;
    }
    // chown needs root.
    let euid = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2).map(str::to_string))
        .unwrap();
    if euid != "0" {
        eprintln!("not root: skipping the set-id comparison");
        return;
    }
    let bset = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix("CapBnd:")
                .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
        })
        .unwrap();
    // A directory everyone may traverse (the target dir may not be), on a mount without nosuid.
    let dir = PathBuf::from(format!("/tmp/memsim-exec-setid-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let probe = dir.join("probe");
    if !gcc(IDPROBE, &probe, &["-O1"]) {
        eprintln!("gcc not available: skipping");
        return;
    }
    // (name, owner, group, mode)
    let files = [
        ("plain", 0, 0, 0o755),
        ("sgid", 0, 42, 0o2755),
        ("sgid_no_gx", 0, 42, 0o2745),
        ("suid_root", 0, 0, 0o4755),
        ("suid_user", 1000, 1000, 0o4755),
        ("both", 1000, 42, 0o6755),
    ];
    let mut diffs = Vec::new();
    for (name, uid, gid, mode) in files {
        let f = dir.join(name);
        std::fs::copy(&probe, &f).unwrap();
        std::os::unix::fs::chown(&f, Some(uid), Some(gid)).unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode)).unwrap();
        let path = f.to_string_lossy().into_owned();
        for user in [0u32, 65534] {
            let mut cmd = Command::new("/usr/bin/prlimit");
            cmd.arg("--stack=unlimited:unlimited");
            if user != 0 {
                cmd.args(["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]);
            }
            cmd.args(["/usr/bin/setarch", "x86_64", "-R", &path]);
            let out = cmd.output().unwrap();
            let real = String::from_utf8(out.stdout).unwrap();
            assert!(out.status.success() && !real.is_empty(), "{name} as {user}: {real}");

            let cfg = KernelConfig {
                randomize_va_space: 2,
                ..KernelConfig::default()
            };
            let mut k = Kernel::new(cfg, Box::new(HostFs::new()));
            {
                let t = k.task_mut(INIT_PID).unwrap();
                // The bounding set of this environment (root's sets are the bounding set).
                t.cred = memsim_core::task::Cred::for_uid(user);
                t.cred.cap_bset = bset;
                if user == 0 {
                    t.cred.cap_permitted = bset;
                    t.cred.cap_effective = bset;
                }
                t.personality = NO_RANDOMIZE;
                t.rlimits[3] = memsim_core::task::Rlimit {
                    cur: u64::MAX,
                    max: u64::MAX,
                };
            }
            k.do_execve(INIT_PID, &path, &[path.clone().into_bytes()], &[])
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let model = idprobe_model(&mut k, INIT_PID);
            if model != real {
                diffs.push(format!(
                    "== {name} ({mode:o}) as uid {user}\nkernel:\n{real}model:\n{model}"
                ));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}

/// A program that touches its vDSO mappings: a read of each page (which ones raise SIGBUS), a write to the
/// first page of `[vvar]` and of `[vdso]`, then what `smaps`, `pagemap` (present and file bits) and `mincore`
/// show for them, and whether `RssFile` grew by exactly the pages `[vdso]` gained.
const VDSOPROBE: &str = r#"
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <signal.h>
#include <setjmp.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/mman.h>
static sigjmp_buf jb;
static void on_sig(int s) { siglongjmp(jb, s); }
static const char *names[3] = {"[vvar]", "[vvar_vclock]", "[vdso]"};
static unsigned long lo[3], hi[3];
static long field(const char *file, const char *vma, const char *key) {
    char line[512]; int in = vma == NULL; long v = -1;
    FILE *f = fopen(file, "r");
    while (fgets(line, sizeof line, f)) {
        if (vma && strchr(line, '-') && !strstr(line, " kB")) in = strstr(line, vma) && strlen(strstr(line, vma)) == strlen(vma) + 1;
        if (in && !strncmp(line, key, strlen(key))) { sscanf(line + strlen(key), "%ld", &v); if (vma) break; }
    }
    fclose(f);
    return v;
}
static const char *try(volatile char *p, int write) {
    int s = sigsetjmp(jb, 1);
    if (s == 0) { if (write) *p = 1; else (void)*p; return "ok"; }
    return s == SIGBUS ? "SIGBUS" : "SIGSEGV";
}
int main(void) {
    char line[512], name[64]; unsigned long a, b;
    FILE *f = fopen("/proc/self/maps", "r");
    while (fgets(line, sizeof line, f)) {
        name[0] = 0; sscanf(line, "%lx-%lx %*s %*s %*s %*s %63s", &a, &b, name);
        for (int i = 0; i < 3; i++) if (!strcmp(name, names[i])) { lo[i] = a; hi[i] = b; }
    }
    fclose(f);
    signal(SIGBUS, on_sig); signal(SIGSEGV, on_sig);
    // Every outcome is kept and printed at the end, so that no code page faults in between the two RssFile
    // readings except the [vdso] pages themselves: the vvar probes and the first readings warm the paths up.
    const char *got[3][8], *wr[2];
    for (int i = 0; i < 2; i++)
        for (unsigned long p = lo[i]; p < hi[i]; p += 4096) got[i][(p - lo[i]) / 4096] = try((volatile char *)p, 0);
    wr[0] = try((volatile char *)lo[0], 1);
    wr[1] = try((volatile char *)lo[2], 1);
    long file0 = field("/proc/self/status", NULL, "RssFile:"), vdso0 = field("/proc/self/smaps", "[vdso]", "Rss:");
    file0 = field("/proc/self/status", NULL, "RssFile:");
    vdso0 = field("/proc/self/smaps", "[vdso]", "Rss:");
    file0 = field("/proc/self/status", NULL, "RssFile:");
    for (unsigned long p = lo[2]; p < hi[2]; p += 4096) got[2][(p - lo[2]) / 4096] = try((volatile char *)p, 0);
    long file1 = field("/proc/self/status", NULL, "RssFile:"), vdso1 = field("/proc/self/smaps", "[vdso]", "Rss:");
    for (int i = 0; i < 3; i++)
        for (unsigned long p = lo[i]; p < hi[i]; p += 4096)
            printf("%s page %lu read %s\n", names[i], (p - lo[i]) / 4096, got[i][(p - lo[i]) / 4096]);
    printf("[vvar] write %s\n[vdso] write %s\n", wr[0], wr[1]);
    printf("RssFile grew by the [vdso] pages: %s\n", file1 - file0 == vdso1 - vdso0 ? "yes" : "no");
    int pm = open("/proc/self/pagemap", O_RDONLY);
    for (int i = 0; i < 3; i++) {
        printf("%s Rss %ld Referenced %ld Anonymous %ld\n", names[i], field("/proc/self/smaps", names[i], "Rss:"),
               field("/proc/self/smaps", names[i], "Referenced:"), field("/proc/self/smaps", names[i], "Anonymous:"));
        unsigned char v[16] = {0};
        mincore((void *)lo[i], hi[i] - lo[i], v);
        printf("%s mincore", names[i]);
        for (unsigned long p = lo[i]; p < hi[i]; p += 4096) printf(" %d", v[(p - lo[i]) / 4096]);
        printf("\n%s pagemap", names[i]);
        for (unsigned long p = lo[i]; p < hi[i]; p += 4096) {
            uint64_t e = 0;
            pread(pm, &e, 8, (p / 4096) * 8);
            printf(" %d%d", (int)(e >> 63), (int)(e >> 61 & 1));
        }
        printf("\n");
    }
    return 0;
}
"#;

/// What [`VDSOPROBE`] prints, from the model: each probe runs in a fresh exec of the same program, since a
/// SIGBUS or SIGSEGV kills the model task; the final state has every readable page read.
fn vdsoprobe_model(path: &str) -> String {
    use memsim_core::kernel::AccessKind;
    let names = ["[vvar]", "[vvar_vclock]", "[vdso]"];
    let fresh = || exec_model(0, path, &[path], &[]);
    let ranges: Vec<(u64, u64)> = {
        let k = fresh();
        let maps = String::from_utf8(k.proc_read(INIT_PID, "maps").unwrap()).unwrap();
        names
            .iter()
            .map(|n| {
                let l = maps.lines().find(|l| l.ends_with(&format!(" {n}"))).unwrap();
                let (a, b) = l.split_once(' ').unwrap().0.split_once('-').unwrap();
                (u64::from_str_radix(a, 16).unwrap(), u64::from_str_radix(b, 16).unwrap())
            })
            .collect()
    };
    let outcome = |r: Result<(), memsim_core::kernel::SigInfo>| match r {
        Ok(()) => "ok",
        Err(s) if s.signo == 7 => "SIGBUS",
        Err(_) => "SIGSEGV",
    };
    let field = |text: &str, vma: Option<&str>, key: &str| -> i64 {
        let mut inside = vma.is_none();
        for l in text.lines() {
            if let Some(v) = vma {
                if l.contains('-') && !l.contains(" kB") {
                    inside = l.ends_with(&format!(" {v}"));
                }
            }
            if inside && l.starts_with(key) {
                return l[key.len()..].split_whitespace().next().unwrap().parse().unwrap();
            }
        }
        -1
    };
    let mut out = String::new();
    let mut readable = Vec::new();
    for (i, &(lo, hi)) in ranges.iter().enumerate() {
        for p in (lo..hi).step_by(4096) {
            let mut k = fresh();
            let r = outcome(k.access(INIT_PID, p, 1, AccessKind::Read));
            if r == "ok" {
                readable.push(p);
            }
            out += &format!("{} page {} read {r}\n", names[i], (p - lo) / 4096);
        }
    }
    for (n, i) in [("[vvar]", 0), ("[vdso]", 2)] {
        let mut k = fresh();
        out += &format!(
            "{n} write {}\n",
            outcome(k.access(INIT_PID, ranges[i].0, 1, AccessKind::Write))
        );
    }
    let mut k = fresh();
    let rss = |k: &Kernel| {
        let status = String::from_utf8(k.proc_read(INIT_PID, "status").unwrap()).unwrap();
        let smaps = String::from_utf8(k.proc_read(INIT_PID, "smaps").unwrap()).unwrap();
        (field(&status, None, "RssFile:"), field(&smaps, Some("[vdso]"), "Rss:"))
    };
    let (file0, vdso0) = rss(&k);
    for p in &readable {
        k.access(INIT_PID, *p, 1, AccessKind::Read).unwrap();
    }
    let (file1, vdso1) = rss(&k);
    let grew = if file1 - file0 == vdso1 - vdso0 { "yes" } else { "no" };
    out += &format!("RssFile grew by the [vdso] pages: {grew}\n");
    let smaps = String::from_utf8(k.proc_read(INIT_PID, "smaps").unwrap()).unwrap();
    for (i, &(lo, hi)) in ranges.iter().enumerate() {
        let n = names[i];
        out += &format!(
            "{n} Rss {} Referenced {} Anonymous {}\n",
            field(&smaps, Some(n), "Rss:"),
            field(&smaps, Some(n), "Referenced:"),
            field(&smaps, Some(n), "Anonymous:")
        );
        let mc = k.sys_mincore(INIT_PID, lo, hi - lo).unwrap();
        out += &format!(
            "{n} mincore{}\n",
            mc.iter().map(|v| format!(" {v}")).collect::<String>()
        );
        let pm = k.pagemap_range(INIT_PID, lo, hi).unwrap();
        let bits: String = pm
            .chunks(8)
            .map(|c| {
                let e = u64::from_le_bytes(c.try_into().unwrap());
                format!(" {}{}", e >> 63, (e >> 61) & 1)
            })
            .collect();
        out += &format!("{n} pagemap{bits}\n");
    }
    out
}

/// Reads and writes of `[vvar]`, `[vvar_vclock]` and `[vdso]` pages, and the smaps, pagemap, mincore and
/// RssFile that follow, equal the kernel's. (Pss and the shared/private split of `[vdso]` are not compared:
/// on the host every process maps the vDSO pages.)
#[test]
fn vdso_pages_fault_like_the_kernel() {
    let out = tmp().join("exec_vdsoprobe");
    if !gcc(VDSOPROBE, &out, &["-O1"]) {
        eprintln!("gcc not available: skipping");
        return;
    }
    let path = out.to_string_lossy().into_owned();
    let real = Command::new(&path).output().unwrap();
    let real = String::from_utf8(real.stdout).unwrap();
    let model = vdsoprobe_model(&path);
    assert_eq!(model, real, "model (left) and kernel (right) differ");
}

/// MMAP_PAGE_ZERO: exec maps page 0 `r-x` (root has CAP_SYS_RAWIO); READ_IMPLIES_EXEC is dropped by a 64-bit
/// exec, so the stack and the bss stay non-executable. Maps, smaps and the stack equal the kernel's.
#[test]
fn mmap_page_zero_and_read_implies_exec_personalities() {
    const MMAP_PAGE_ZERO: u32 = 0x0100000;
    const READ_IMPLIES_EXEC: u32 = 0x0400000;
    let cases = [("/usr/bin/cat", vec!["cat"], vec!["A=1"])];
    check_with(NO_RANDOMIZE | MMAP_PAGE_ZERO, &cases);
    check_with(NO_RANDOMIZE | READ_IMPLIES_EXEC, &cases);
    check_with(NO_RANDOMIZE | READ_IMPLIES_EXEC | MMAP_PAGE_ZERO, &cases);
}

/// A program that turns READ_IMPLIES_EXEC on after its exec, then maps, protects and grows its heap: the
/// permissions it then shows (PROT_READ gains PROT_EXEC in mmap and mprotect, the heap is `rwx`).
const RIEPROBE: &str = r#"
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <unistd.h>
int main(void) {
    personality(READ_IMPLIES_EXEC);
    mmap((void *)0x10000000, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    mmap((void *)0x10010000, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    mmap((void *)0x10020000, 4096, PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    char *d = mmap((void *)0x10030000, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    mprotect(d, 4096, PROT_READ);
    char *e = mmap((void *)0x10040000, 4096, PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    mprotect(e, 4096, PROT_READ | PROT_WRITE);
    sbrk(8192);
    char line[512], out[4096] = "";
    FILE *f = fopen("/proc/self/maps", "r");
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "100", 3) || strstr(line, "[heap]")) {
            char perms[8], name[64] = "";
            sscanf(line, "%*s %7s %*s %*s %*s %63s", perms, name);
            if (name[0]) sprintf(out + strlen(out), "%s %s\n", name, perms);
            else sprintf(out + strlen(out), "%.8s %s\n", line, perms);
        }
    fputs(out, stdout);
    return 0;
}
"#;

#[test]
fn read_implies_exec_in_mmap_mprotect_and_brk() {
    use memsim_core::uapi::*;
    let out = tmp().join("exec_rieprobe");
    if !gcc(RIEPROBE, &out, &["-O1", "-no-pie"]) {
        eprintln!("gcc not available: skipping");
        return;
    }
    let path = out.to_string_lossy().into_owned();
    let real = Command::new(&path).output().unwrap();
    let real = String::from_utf8(real.stdout).unwrap();

    let mut k = exec_model(NO_RANDOMIZE, &path, &[&path], &[]);
    let p = INIT_PID;
    k.task_mut(p).unwrap().personality |= 0x0400000;
    let anon = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
    k.sys_mmap(p, 0x1000_0000, 4096, PROT_READ, anon, -1, 0).unwrap();
    k.sys_mmap(p, 0x1001_0000, 4096, PROT_READ | PROT_WRITE, anon, -1, 0)
        .unwrap();
    k.sys_mmap(p, 0x1002_0000, 4096, PROT_WRITE, anon, -1, 0).unwrap();
    k.sys_mmap(p, 0x1003_0000, 4096, PROT_NONE, anon, -1, 0).unwrap();
    k.sys_mprotect(p, 0x1003_0000, 4096, PROT_READ).unwrap();
    k.sys_mmap(p, 0x1004_0000, 4096, PROT_WRITE, anon, -1, 0).unwrap();
    k.sys_mprotect(p, 0x1004_0000, 4096, PROT_READ | PROT_WRITE).unwrap();
    let brk = k.mm(p).unwrap().brk;
    k.sys_brk(p, brk + 8192).unwrap();
    let maps = String::from_utf8(k.proc_read(p, "maps").unwrap()).unwrap();
    let mut model = String::new();
    for l in maps.lines().filter(|l| l.starts_with("100") || l.ends_with("[heap]")) {
        let perms = l.split_whitespace().nth(1).unwrap();
        if l.ends_with("[heap]") {
            model += &format!("[heap] {perms}\n");
        } else {
            model += &format!("{} {perms}\n", &l[..8]);
        }
    }
    // The real heap may lie above or below the probes (brk is randomized there): compare sorted lines.
    let sorted = |t: &str| {
        let mut v: Vec<&str> = t.lines().collect();
        v.sort_unstable();
        v.join("\n")
    };
    assert_eq!(sorted(&model), sorted(&real), "model (left) and kernel (right) differ");
}

/// With the host's vDSO image in the configuration, the `[vdso]` pages of an exec'd program hold it (an ELF
/// image, byte for byte what this kernel maps into every process).
#[test]
fn vdso_pages_hold_the_configured_image() {
    let Some(img) = memsim_scenario::hostfs::host_vdso_image() else {
        eprintln!("no [vdso] to read: skipping");
        return;
    };
    assert!(img.starts_with(b"\x7fELF"));
    let cfg = KernelConfig {
        randomize_va_space: 0,
        vdso_image: Some(memsim_core::arch::vdso::VdsoImage(img.clone().into())),
        ..KernelConfig::default()
    };
    let mut k = Kernel::new(cfg, Box::new(HostFs::new()));
    k.do_execve(INIT_PID, "/usr/bin/true", &[b"true".to_vec()], &[])
        .unwrap();
    let maps = String::from_utf8(k.proc_read(INIT_PID, "maps").unwrap()).unwrap();
    let l = maps.lines().find(|l| l.ends_with(" [vdso]")).unwrap();
    let (a, b) = l.split_once(' ').unwrap().0.split_once('-').unwrap();
    let (a, b) = (u64::from_str_radix(a, 16).unwrap(), u64::from_str_radix(b, 16).unwrap());
    assert_eq!(b - a, img.len() as u64);
    assert_eq!(k.peek(INIT_PID, a, b - a).unwrap(), img);
}
