//! fork against the running kernel: `tests/data/fork_smaps.c` maps regions in a fixed window (plain anonymous
//! memory, MADV_DONTFORK, MADV_WIPEONFORK, mlock, a read-only zero-page mapping, shared anonymous memory),
//! touches them, forks, and prints `/proc/self/smaps` of the child and of the parent while both live, again
//! after the child wrote one page (copy-on-write), and the parent's after reaping. The model does the same
//! and every smaps block of the window must be equal (the header's inode and name of the shared mapping
//! aside: shmem inode numbers are the kernel's own).
//!
//! `tests/data/fork_errnos.c` makes process-lifecycle calls whose results do not depend on the machine (clone
//! and clone3 checks, wait4/waitid options, kill, tgkill, rt_sigaction, rt_sigprocmask, the rlimit calls, wait
//! statuses) and prints each result; the model must give the same for every one.
//!
//! Skipped with a message when gcc is missing.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use memsim_core::fs::MemFs;
use memsim_core::kernel::INIT_PID;
use memsim_core::uapi::*;
use memsim_core::{AccessKind, Kernel, KernelConfig, Pid};

const W: u64 = 0x1_0000_0000;
const PG: u64 = 4096;

fn run_real() -> Option<String> {
    run_c("fork_smaps")
}

fn run_c(name: &str) -> Option<String> {
    let src = format!("{}/tests/data/{name}.c", env!("CARGO_MANIFEST_DIR"));
    let out: PathBuf = std::env::temp_dir().join(format!("memsim_{name}_{}", std::process::id()));
    let ok = Command::new("gcc")
        .args(["-O1", "-o"])
        .arg(&out)
        .arg(src)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("gcc not available: skipping the comparison with the kernel");
        return None;
    }
    let o = Command::new(&out).output().expect("run fork_smaps");
    let _ = std::fs::remove_file(&out);
    assert!(
        o.status.success(),
        "fork_smaps failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    Some(String::from_utf8(o.stdout).expect("utf-8"))
}

/// Sections `=== name` of the output, each as smaps blocks of the window keyed by start address (the header
/// cut to address range, permissions, offset and device).
fn sections(text: &str) -> BTreeMap<String, BTreeMap<u64, String>> {
    let mut out: BTreeMap<String, BTreeMap<u64, String>> = BTreeMap::new();
    let mut sec = String::new();
    let mut cur: Option<u64> = None;
    for line in text.split_inclusive('\n') {
        if let Some(name) = line.strip_prefix("=== ") {
            sec = name.trim().to_string();
            out.entry(sec.clone()).or_default();
            cur = None;
            continue;
        }
        let head = line.split('-').next().unwrap_or("");
        if line.contains(' ') && head.len() >= 8 && head.bytes().all(|b| b.is_ascii_hexdigit()) {
            let start = u64::from_str_radix(head, 16).unwrap_or(0);
            cur = (W..W + 0x100_0000).contains(&start).then_some(start);
            if let Some(s) = cur {
                let cut: Vec<&str> = line.split_whitespace().take(4).collect();
                out.entry(sec.clone()).or_default().insert(s, cut.join(" ") + "\n");
            }
            continue;
        }
        if let Some(s) = cur {
            if let Some(b) = out.get_mut(&sec).and_then(|m| m.get_mut(&s)) {
                b.push_str(line);
            }
        }
    }
    out
}

fn model_smaps(k: &mut Kernel, pid: Pid) -> BTreeMap<u64, String> {
    let text = String::from_utf8(k.proc_read(pid, "smaps").expect("smaps")).expect("utf-8");
    sections(&format!("=== m\n{text}")).remove("m").unwrap_or_default()
}

fn write(k: &mut Kernel, pid: Pid, addr: u64, b: u8) {
    k.poke(pid, addr, &[b]).expect("write");
}

#[test]
fn fork_smaps_match_the_running_kernel() {
    let Some(real) = run_real() else { return };
    let real = sections(&real);
    let mut k = Kernel::new(KernelConfig::default(), Box::new(MemFs::new()));
    let p = INIT_PID;
    let anon = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE;
    let rw = PROT_READ | PROT_WRITE;
    let map = |k: &mut Kernel, off: u64, pages: u64, prot: u64, flags: u64| {
        k.sys_mmap(p, W + off, pages * PG, prot, flags, -1, 0).expect("mmap")
    };
    let a = map(&mut k, 0x000000, 16, rw, anon);
    for i in 0..8 {
        write(&mut k, p, a + i * PG, 1);
    }
    let b = map(&mut k, 0x100000, 4, rw, anon);
    for i in 0..4 {
        write(&mut k, p, b + i * PG, 2);
    }
    k.sys_madvise(p, b, 4 * PG, MADV_DONTFORK).unwrap();
    let c = map(&mut k, 0x200000, 4, rw, anon);
    for i in 0..4 {
        write(&mut k, p, c + i * PG, 3);
    }
    k.sys_madvise(p, c, 4 * PG, MADV_WIPEONFORK).unwrap();
    let d = map(&mut k, 0x300000, 4, rw, anon);
    k.sys_mlock(p, d, 4 * PG).unwrap();
    write(&mut k, p, d, 4);
    write(&mut k, p, d + PG, 4);
    let e = map(&mut k, 0x400000, 4, PROT_READ, anon);
    k.access(p, e, 1, AccessKind::Read).unwrap();
    let f = map(
        &mut k,
        0x500000,
        4,
        rw,
        MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
    );
    write(&mut k, p, f, 5);
    write(&mut k, p, f + PG, 5);
    let g = map(&mut k, 0x600000, 4, rw, anon);
    write(&mut k, p, g, 6);

    let child = Pid(k.sys_fork(p).unwrap() as u32);
    let mut got = BTreeMap::new();
    got.insert("child", model_smaps(&mut k, child));
    got.insert("parent", model_smaps(&mut k, p));
    write(&mut k, child, g, 7);
    got.insert("child-after-write", model_smaps(&mut k, child));
    got.insert("parent-after-child-write", model_smaps(&mut k, p));
    k.sys_exit_group(child, 9).unwrap();
    let (pid, status) = k.sys_wait4(p, i64::from(child.0), 0).unwrap();
    assert_eq!(pid, child);
    got.insert("parent-after-reap", model_smaps(&mut k, p));
    assert!(
        real.contains_key(&format!("status {status}")),
        "wait status {status} as the kernel's"
    );
    k.check_all_page_invariants().unwrap();

    for (name, model) in got {
        let kern = &real[name];
        assert_eq!(
            model.keys().collect::<Vec<_>>(),
            kern.keys().collect::<Vec<_>>(),
            "{name}: the same VMAs"
        );
        for (start, block) in kern {
            assert_eq!(&model[start], block, "{name}: smaps of the VMA at {start:#x}");
        }
    }
}

fn res(r: Result<u64, memsim_core::Errno>) -> i64 {
    match r {
        Ok(v) => v as i64,
        Err(e) => -(e as i64),
    }
}

/// The model's answers to the calls of `fork_errnos.c`, made by a child of init as the C program is.
fn model_errnos() -> BTreeMap<String, i64> {
    use memsim_core::kernel::exit::*;
    use memsim_core::kernel::fork::*;
    use memsim_core::task::{Rlimit, SigAction};
    let mut k = Kernel::new(KernelConfig::default(), Box::new(MemFs::new()));
    let me = Pid(k.sys_fork(INIT_PID).unwrap() as u32);
    let mi = i64::from(me.0);
    let mut out = BTreeMap::new();
    let mut r = |name: &str, v: i64| {
        out.insert(name.to_string(), v);
    };
    let z = CloneArgs::default();
    let full = CLONE_ARGS_SIZE_VER2;
    let c3 = |k: &mut Kernel, a: CloneArgs, size: usize| res(k.sys_clone3_raw(me, &a.to_bytes(size)));
    r(
        "clone3_exit_signal_65",
        c3(&mut k, CloneArgs { exit_signal: 65, ..z }, full),
    );
    r("clone3_size_56", c3(&mut k, z, 56));
    r("clone3_size_4097", c3(&mut k, z, 4097));
    let mut tail = z.to_bytes(96);
    tail[90] = 1;
    r("clone3_tail_nonzero", res(k.sys_clone3_raw(me, &tail)));
    let thread = CLONE_THREAD | CLONE_SIGHAND | CLONE_VM;
    r(
        "clone3_thread_with_exit_signal",
        c3(
            &mut k,
            CloneArgs {
                flags: thread,
                exit_signal: u64::from(SIGCHLD),
                ..z
            },
            full,
        ),
    );
    r(
        "clone3_sighand_without_vm",
        c3(
            &mut k,
            CloneArgs {
                flags: CLONE_SIGHAND,
                ..z
            },
            full,
        ),
    );
    r(
        "clone3_stack_without_size",
        c3(&mut k, CloneArgs { stack: 0x10000, ..z }, full),
    );
    r(
        "clone3_set_tid_size_without_set_tid",
        c3(&mut k, CloneArgs { set_tid_size: 1, ..z }, full),
    );
    r(
        "clone3_unknown_flag",
        c3(&mut k, CloneArgs { flags: 1 << 40, ..z }, full),
    );
    r(
        "clone3_detached",
        c3(
            &mut k,
            CloneArgs {
                flags: CLONE_DETACHED,
                ..z
            },
            full,
        ),
    );
    r(
        "clone3_into_cgroup_ver1",
        c3(
            &mut k,
            CloneArgs {
                flags: CLONE_INTO_CGROUP,
                ..z
            },
            80,
        ),
    );
    let sigchld = u64::from(SIGCHLD);
    r(
        "clone_sighand_without_vm",
        res(k.sys_clone(me, CLONE_SIGHAND | sigchld, 0, 0, 0, 0)),
    );
    r(
        "clone_thread_without_sighand",
        res(k.sys_clone(me, CLONE_THREAD | CLONE_VM, 0, 0, 0, 0)),
    );
    r(
        "clone_newns_fs",
        res(k.sys_clone(me, CLONE_NEWNS | CLONE_FS, 0, 0, 0, 0)),
    );
    r(
        "clone_newuser_fs",
        res(k.sys_clone(me, CLONE_NEWUSER | CLONE_FS, 0, 0, 0, 0)),
    );
    let w4 = |k: &mut Kernel, upid: i64, opt: u64| res(k.sys_wait4(me, upid, opt).map(|(p, _)| u64::from(p.0)));
    r("wait4_bad_option", w4(&mut k, -1, 0x10));
    r("wait4_wnowait", w4(&mut k, -1, WNOWAIT));
    r("wait4_int_min", w4(&mut k, i64::from(i32::MIN), 0));
    r("wait4_no_child", w4(&mut k, -1, 0));
    let wid = |k: &mut Kernel, which: u32, id: i64, opt: u64| res(k.sys_waitid(me, which, id, opt).map(|_| 0));
    r("waitid_no_event", wid(&mut k, P_ALL, 0, 0));
    r("waitid_ppid_0", wid(&mut k, P_PID, 0, WEXITED));
    r("waitid_pgid_neg", wid(&mut k, P_PGID, -1, WEXITED));
    r("waitid_which_7", wid(&mut k, 7, 0, WEXITED));
    r("waitid_pidfd_99", wid(&mut k, P_PIDFD, 99, WEXITED));
    r("waitid_no_child", wid(&mut k, P_ALL, 0, WEXITED));
    r("kill_sig_65", res(k.sys_kill(me, mi, 65)));
    r("kill_int_min", res(k.sys_kill(me, i64::from(i32::MIN), SIGTERM)));
    r("kill_empty_group", res(k.sys_kill(me, -30000, SIGTERM)));
    r("kill_self_0", res(k.sys_kill(me, mi, 0)));
    r("tgkill_tid_0", res(k.sys_tgkill(me, mi, 0, SIGUSR1)));
    r("tgkill_wrong_group", res(k.sys_tgkill(me, 1, mi, 0)));
    r("tkill_sig_65", res(k.sys_tkill(me, mi, 65)));
    let dfl = Some(SigAction::default());
    r(
        "rt_sigaction_kill",
        res(k.sys_rt_sigaction(me, SIGKILL, dfl, 8).map(|_| 0)),
    );
    r(
        "rt_sigaction_size_4",
        res(k.sys_rt_sigaction(me, SIGUSR1, None, 4).map(|_| 0)),
    );
    r("rt_sigaction_sig_0", res(k.sys_rt_sigaction(me, 0, None, 8).map(|_| 0)));
    r(
        "rt_sigprocmask_bad_how",
        res(k.sys_rt_sigprocmask(me, 3, Some(0), 8).map(|_| 0)),
    );
    r(
        "rt_sigprocmask_bad_how_no_set",
        res(k.sys_rt_sigprocmask(me, 3, None, 8).map(|_| 0)),
    );
    let setr =
        |k: &mut Kernel, rs: usize, cur: u64, max: u64| res(k.sys_setrlimit(me, rs, Rlimit::new(cur, max)).map(|_| 0));
    r(
        "setrlimit_nofile_over_nr_open",
        setr(&mut k, RLIMIT_NOFILE, 1024, 1_048_577),
    );
    r("setrlimit_cur_over_max", setr(&mut k, RLIMIT_CORE, 2, 1));
    r("getrlimit_16", res(k.sys_getrlimit(me, 16).map(|_| 0)));
    let bad = Some(Rlimit::new(2, 1));
    r("prlimit64_16", res(k.sys_prlimit64(me, 0, 16, None).map(|_| 0)));
    r(
        "prlimit64_missing_pid_16",
        res(k.sys_prlimit64(me, 99999, 16, None).map(|_| 0)),
    );
    r(
        "prlimit64_missing_pid_bad_limit",
        res(k.sys_prlimit64(me, 99999, RLIMIT_CORE, bad).map(|_| 0)),
    );
    r(
        "prlimit64_pid_minus_1",
        res(k.sys_prlimit64(me, u32::MAX, RLIMIT_CORE, None).map(|_| 0)),
    );
    let c = Pid(k.sys_clone(me, 0, 0, 0, 0, 0).unwrap() as u32);
    k.sys_exit(c, 3).unwrap();
    r("wait4_exit_signal_0_child", w4(&mut k, -1, WNOHANG));
    let (p, st) = k.sys_wait4(me, -1, __WCLONE).unwrap();
    r("wait4_wclone_is_child", i64::from(p == c));
    r("wait4_wclone_status", i64::from(st));
    k.sys_setrlimit(me, RLIMIT_CORE, Rlimit::new(0, 0)).unwrap();
    let c = Pid(k.sys_fork(me).unwrap() as u32);
    r("kill_child_sigquit", res(k.sys_kill(me, i64::from(c.0), SIGQUIT)));
    r(
        "wait4_killed_status",
        i64::from(k.sys_wait4(me, i64::from(c.0), 0).unwrap().1),
    );
    let c = Pid(k.sys_fork(me).unwrap() as u32);
    k.sys_exit_group(c, 300).unwrap();
    r(
        "wait4_exit_300_status",
        i64::from(k.sys_wait4(me, i64::from(c.0), 0).unwrap().1),
    );
    out
}

#[test]
fn lifecycle_errnos_match_the_running_kernel() {
    let Some(real) = run_c("fork_errnos") else { return };
    let real: BTreeMap<String, i64> = real
        .lines()
        .filter_map(|l| {
            let (n, v) = l.split_once(' ')?;
            Some((n.to_string(), v.parse().ok()?))
        })
        .collect();
    let model = model_errnos();
    assert_eq!(
        real.len(),
        model.len(),
        "every case in both: {:?} vs {:?}",
        real.keys(),
        model.keys()
    );
    let diffs: Vec<String> = real
        .iter()
        .filter(|(n, v)| model.get(*n) != Some(v))
        .map(|(n, v)| format!("{n}: kernel {v}, model {:?}", model.get(n)))
        .collect();
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}
