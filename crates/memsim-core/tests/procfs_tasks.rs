//! `/proc` files of tasks in every state (live process, thread, zombie, kernel thread), `cmdline`,
//! `environ`, `comm`, `task/TID/...`, and the `ps` and `pstree` renderers: golden files, and comparisons
//! with the running kernel for the same kinds of task (a zombie and a thread made here, kthreadd).

mod procfs_common;

use memsim_core::kernel::{Kernel, KernelConfig};
use memsim_core::procfs::task::{PF_FORKNOEXEC, PF_RANDOMIZE};
use memsim_core::procfs::{ps, pstree};
use memsim_core::task::{ExitStatus, Task, TaskState};
use memsim_core::uapi::*;
use memsim_core::{Errno, Pid};
use procfs_common::*;

fn text(k: &Kernel, pid: u32, file: &str) -> String {
    String::from_utf8(
        k.proc_read(Pid(pid), file)
            .unwrap_or_else(|e| panic!("{pid}/{file}: {e}")),
    )
    .unwrap()
}

/// The keys of a `Key:\tvalue` file, in order.
fn keys(s: &str) -> Vec<String> {
    s.lines()
        .map(|l| l.split(':').next().unwrap_or("").to_string())
        .collect()
}

fn field<'a>(s: &'a str, key: &str) -> &'a str {
    s.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(":\t")))
        .unwrap_or_else(|| panic!("no {key} in {s}"))
}

/// `/proc/PID/stat` fields after the comm, 1-based numbering kept (index 0 and 1 are pid and comm).
fn stat_fields(s: &str) -> Vec<String> {
    let (Some(open), Some(close)) = (s.find('('), s.rfind(')')) else {
        return Vec::new();
    };
    let mut v = vec![s[..open].trim().to_string(), s[open + 1..close].to_string()];
    v.extend(s[close + 1..].split_whitespace().map(str::to_string));
    v
}

fn new_task(k: &Kernel, pid: u32, tgid: u32, parent: u32, comm: &str) -> Task {
    let mut t = k.task(Pid(1)).unwrap().clone();
    t.pid = Pid(pid);
    t.tgid = Pid(tgid);
    t.ppid = Pid(parent);
    t.real_parent = Pid(parent);
    t.children.clear();
    t.threads = vec![Pid(pid)];
    t.comm = comm.to_string();
    t.state = TaskState::Sleeping;
    t.flags = 0;
    t.min_flt = 0;
    t.maj_flt = 0;
    t
}

/// The booted machine (init, kthreadd and its workers) plus a child process of init, 20, with a thread 21
/// and a zombie child 22.
fn machine() -> Kernel {
    let mut k = kernel(KernelConfig::default());
    let mm20 = k.new_mm();
    let mut p20 = new_task(&k, 20, 20, 1, "worker");
    p20.mm = Some(mm20);
    p20.active_mm = Some(mm20);
    p20.flags = PF_FORKNOEXEC;
    p20.min_flt = 7;
    p20.threads = vec![Pid(20), Pid(21)];
    let mut t21 = p20.clone();
    t21.pid = Pid(21);
    t21.threads.clear();
    t21.min_flt = 5;
    t21.exit_signal = 0;
    let mut z22 = new_task(&k, 22, 22, 20, "done");
    z22.mm = None;
    z22.active_mm = None;
    // Exec'd with randomization, like the real `sh -c 'exit 3'` the zombie test compares with.
    z22.flags = PF_RANDOMIZE;
    z22.state = TaskState::Zombie;
    z22.exit = Some(ExitStatus::Exited(3));
    for t in [p20, t21, z22] {
        k.tasks.insert(t.pid, t);
    }
    k
}

/// A real zombie: a child that exited and is not yet waited for. Returns its pid and the child handle
/// (dropping it without waiting leaves the zombie until the test process exits).
fn real_zombie() -> (u32, std::process::Child) {
    real_zombie_of("exit 3")
}

fn real_zombie_of(script: &str) -> (u32, std::process::Child) {
    #[allow(clippy::zombie_processes)] // the zombie is the point; the callers wait for it
    let child = std::process::Command::new("sh")
        .args(["-c", script])
        .spawn()
        .expect("spawn sh");
    let pid = child.id();
    for _ in 0..2500 {
        let st = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if st.contains(") Z ") {
            return (pid, child);
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let mut child = child;
    let _ = child.wait();
    panic!("child {pid} never became a zombie");
}

#[test]
fn zombie_status_has_the_lines_of_a_real_zombie() {
    let k = machine();
    let model = text(&k, 22, "status");
    let (pid, mut child) = real_zombie();
    let real = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let real_stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let _ = child.wait();
    assert_eq!(keys(&model), keys(&real), "model:\n{model}\nreal:\n{real}");
    assert!(!model.contains("Umask"));
    for key in ["State", "FDSize", "Kthread", "Threads", "SigPnd", "NoNewPrivs"] {
        assert_eq!(field(&model, key), field(&real, key), "{key}");
    }
    // stat: a zombie has no mm fields, is "blocked" (wchan 1), and shows its wait status and do_exit's flags.
    let (m, r) = (stat_fields(&text(&k, 22, "stat")), stat_fields(&real_stat));
    assert_eq!(m.len(), 52);
    assert_eq!(r.len(), 52);
    for f in [3, 9, 20, 23, 24, 26, 27, 28, 35, 38, 45, 46, 47, 48, 49, 50, 51, 52] {
        assert_eq!(m[f - 1], r[f - 1], "field {f}: model {m:?} real {r:?}");
    }
    assert_eq!(text(&k, 22, "statm"), "0 0 0 0 0 0 0\n");
    assert_eq!(text(&k, 22, "maps"), "");
    assert_eq!(text(&k, 22, "cmdline"), "");
    assert_eq!(k.proc_read(Pid(22), "environ"), Err(Errno::ESRCH));
    assert_eq!(text(&k, 22, "comm"), "done\n");
    check_golden("zombie_status.txt", text(&k, 22, "status").as_bytes());
    check_golden("zombie_stat.txt", text(&k, 22, "stat").as_bytes());
}

/// Zombies of processes killed by signals: the flags their way out left (PF_SIGNALED, and PF_DUMPCORE for a
/// core-dumping signal even without a core) and the wait status, as real ones show them.
#[test]
fn killed_zombies_match_real_ones() {
    for (script, signo, core) in [("kill -SEGV $$", SIGSEGV, false), ("kill -KILL $$", SIGKILL, false)] {
        let (pid, mut child) = real_zombie_of(script);
        let real = stat_fields(&std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap());
        let _ = child.wait();
        let mut k = machine();
        let z = k.tasks.get_mut(&Pid(22)).unwrap();
        z.exit = Some(ExitStatus::Killed {
            signo,
            core_dumped: core,
        });
        let m = stat_fields(&text(&k, 22, "stat"));
        assert_eq!((&m[8], &m[51]), (&real[8], &real[51]), "{script}");
    }
}

#[test]
fn kernel_thread_files_match_kthreadd() {
    let k = machine();
    let model = text(&k, 2, "status");
    let Ok(real) = std::fs::read_to_string("/proc/2/status") else {
        return; // no kthreadd visible (a PID namespace): nothing to compare with
    };
    assert_eq!(keys(&model), keys(&real), "model:\n{model}\nreal:\n{real}");
    for key in [
        "Name", "Umask", "State", "Tgid", "Pid", "PPid", "FDSize", "NSpgid", "NSsid", "Kthread", "Threads", "SigIgn",
        "CapEff",
    ] {
        assert_eq!(field(&model, key), field(&real, key), "{key}");
    }
    let m = stat_fields(&text(&k, 2, "stat"));
    let r = stat_fields(&std::fs::read_to_string("/proc/2/stat").unwrap());
    // Everything but the times, starttime and the CPU it last ran on.
    for f in (1..=52).filter(|f| ![14, 15, 16, 17, 22, 39].contains(f)) {
        assert_eq!(m[f - 1], r[f - 1], "field {f}: model {m:?} real {r:?}");
    }
    let flags = |v: &[String]| v[8].parse::<u32>().unwrap() & memsim_core::task::PF_KTHREAD;
    assert_eq!(flags(&m), flags(&r));
    assert_eq!(text(&k, 2, "cmdline"), "");
    assert_eq!(text(&k, 2, "maps"), "");
    assert_eq!(k.proc_read(Pid(2), "environ"), Err(Errno::ESRCH));
    assert_eq!(k.proc_read(Pid(2), "smaps_rollup"), Err(Errno::ESRCH));
    check_golden("kthreadd_status.txt", model.as_bytes());
    check_golden("kthreadd_stat.txt", text(&k, 2, "stat").as_bytes());
    check_golden("kworker_status.txt", text(&k, 4, "status").as_bytes());
}

#[test]
fn thread_files_match_a_real_thread() {
    let k = machine();
    let (tx, rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let h = std::thread::spawn(move || {
        // SAFETY-free: gettid through /proc/thread-self.
        let tid = std::fs::read_link("/proc/thread-self").unwrap();
        tx.send(tid.to_string_lossy().into_owned()).unwrap();
        let _ = done_rx.recv();
    });
    let path = rx.recv().unwrap(); // "PID/task/TID"
    let real_status = std::fs::read_to_string(format!("/proc/{path}/status")).unwrap();
    let real_stat = std::fs::read_to_string(format!("/proc/{path}/stat")).unwrap();
    done_tx.send(()).unwrap();
    h.join().unwrap();
    let model = text(&k, 20, "task/21/status");
    assert_eq!(keys(&model), keys(&real_status));
    assert_eq!(field(&model, "Pid"), "21");
    assert_eq!(field(&model, "Tgid"), "20");
    assert_eq!(field(&model, "PPid"), "1");
    assert_eq!(field(&model, "Threads"), "2");
    // A thread's exit_signal is -1, as the real thread's.
    let m = stat_fields(&text(&k, 20, "task/21/stat"));
    let r = stat_fields(&real_stat);
    assert_eq!(m[37], "-1");
    assert_eq!(m[37], r[37]);
    assert_eq!(m[19], "2", "num_threads");
    // Fault counts: the thread's own under task/, the group's sum at the process level.
    assert_eq!(m[9], "5");
    assert_eq!(stat_fields(&text(&k, 20, "stat"))[9], "12");
    assert_eq!(stat_fields(&text(&k, 20, "task/20/stat"))[9], "7");
    // /proc/TID works too, and is the thread's view.
    assert_eq!(field(&text(&k, 21, "status"), "Pid"), "21");
    assert_eq!(text(&k, 20, "task/21/maps"), text(&k, 20, "maps"));
    assert_eq!(text(&k, 20, "task/21/comm"), "worker\n");
    check_golden("thread_status.txt", model.as_bytes());
    check_golden("thread_stat.txt", text(&k, 20, "task/21/stat").as_bytes());
    check_golden("thread_group_stat.txt", text(&k, 20, "stat").as_bytes());
}

#[test]
fn task_paths_are_checked_like_proc_lookups() {
    let k = machine();
    assert_eq!(
        k.proc_read(Pid(20), "task/22/status"),
        Err(Errno::ENOENT),
        "other group"
    );
    assert_eq!(k.proc_read(Pid(20), "task/99/status"), Err(Errno::ENOENT));
    assert_eq!(k.proc_read(Pid(20), "task/021/status"), Err(Errno::ENOENT));
    assert_eq!(k.proc_read(Pid(20), "task/21/nope"), Err(Errno::ENOENT));
    assert_eq!(k.proc_read(Pid(20), "task/21"), Err(Errno::EISDIR));
    assert_eq!(k.proc_read(Pid(20), "task"), Err(Errno::EISDIR));
    assert_eq!(k.proc_read(Pid(20), "tasks/21/stat"), Err(Errno::ENOENT));
    assert_eq!(k.proc_read(Pid(20), "task/21/pagemap"), Err(Errno::EFBIG));
}

#[test]
fn cmdline_and_environ_read_memory_without_changing_it() {
    let mut k = kernel(KernelConfig::default());
    let p = Pid(1);
    let base = k
        .sys_mmap(p, 0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        .unwrap();
    let args = b"prog\0-v\0x y\0";
    let env = b"A=1\0B=2\0";
    k.poke(p, base + 4090, args).unwrap(); // straddles the page boundary
    let arg_end = base + 4090 + args.len() as u64;
    k.poke(p, arg_end, env).unwrap();
    {
        let mm = k.mm_mut(p).unwrap();
        mm.arg_start = base + 4090;
        mm.arg_end = arg_end;
        mm.env_start = arg_end;
        mm.env_end = arg_end + env.len() as u64;
    }
    let statm = text(&k, 1, "statm");
    let pte = text(&k, 1, "status");
    assert_eq!(k.proc_read(p, "cmdline").unwrap(), args);
    assert_eq!(k.proc_read(p, "environ").unwrap(), env);
    assert_eq!(text(&k, 1, "statm"), statm);
    assert_eq!(text(&k, 1, "status"), pte);
    assert_eq!(text(&k, 1, "comm"), "init\n");
    // Never exec'd: only the AT_NULL pair.
    assert_eq!(k.proc_read(p, "auxv").unwrap(), [0u8; 16]);
    // setproctitle(3): the last argument byte is no longer NUL, so the title runs to the first NUL, even
    // into the environment.
    k.poke(p, arg_end - 1, b"!").unwrap();
    k.poke(p, base + 4090, b"title-that-is-long").unwrap();
    let got = k.proc_read(p, "cmdline").unwrap();
    assert_eq!(got, b"title-that-is-long2\0");
    // Arguments in a page never touched read as zeros, without faulting it in.
    let mm = k.mm_mut(p).unwrap();
    mm.arg_start = base + 4096 + 100;
    mm.arg_end = base + 4096 + 104;
    mm.env_start = 0;
    mm.env_end = 0;
    let before = text(&k, 1, "statm");
    // The second page was written by the pokes above; use a fresh mapping instead.
    let fresh = k
        .sys_mmap(p, 0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        .unwrap();
    let mm = k.mm_mut(p).unwrap();
    mm.arg_start = fresh;
    mm.arg_end = fresh + 4;
    let before_fresh = text(&k, 1, "statm");
    assert_ne!(before, before_fresh, "the new mapping changed VmSize");
    assert_eq!(k.proc_read(p, "cmdline").unwrap(), [0, 0, 0, 0]);
    assert_eq!(text(&k, 1, "statm"), before_fresh, "reading did not fault the page in");
    assert_eq!(k.proc_read(p, "environ").unwrap(), b"");
}

#[test]
fn ps_lists_every_process_like_procps() {
    let mut k = machine();
    // A locked page and a bigger address space for the worker.
    let mm20 = k.task(Pid(20)).unwrap().mm.unwrap();
    let mm = k.mms.get_mut(&mm20).unwrap();
    mm.total_vm = 2_000_000_000 >> 2; // VSZ wider than its column
    mm.locked_vm = 1;
    let out = ps::render(&k);
    assert_eq!(
        out,
        "  PID  PPID STAT    VSZ   RSS COMMAND
    1     0 Rs        0     0 init
    2     0 S         0     0 kthreadd
    3     2 S         0     0 pool_workqueue_release
    4     2 I<        0     0 kworker/R-rcu_gp
    5     2 I<        0     0 kworker/R-sync_wq
    6     2 I<        0     0 kworker/R-kvfree_rcu_reclaim
    7     2 I<        0     0 kworker/R-slub_flushwq
    8     2 I<        0     0 kworker/R-netns
    9     2 I         0     0 kworker/0:0
   10     2 I<        0     0 kworker/0:0H-kblockd
   20     1 SLl  2000000000 0 worker
   22    20 Z         0     0 done
"
    );
    check_golden("machine_ps.txt", out.as_bytes());
}

#[test]
fn pstree_draws_like_psmisc() {
    let mut k = machine();
    // More children of init to exercise sorting (by name, threads after letters) and branches.
    for (pid, parent, comm) in [(30, 1, "bash"), (31, 30, "sleep"), (32, 30, "cat"), (33, 1, "Zed")] {
        let mut t = new_task(&k, pid, pid, parent, comm);
        t.mm = None;
        k.tasks.insert(t.pid, t);
    }
    let out = pstree::render(&k);
    assert_eq!(
        out,
        "init(1)-+-Zed(33)
        |-bash(30)-+-cat(32)
        |          `-sleep(31)
        `-worker(20)-+-done(22)
                     `-{worker}(21)
"
    );
    check_golden("machine_pstree.txt", out.as_bytes());
    // A long chain is cut at column 132 with a `+`.
    for i in 0..12u32 {
        let mut t = new_task(&k, 100 + i, 100 + i, if i == 0 { 1 } else { 99 + i }, "abcdefghijklmno");
        t.mm = None;
        k.tasks.insert(t.pid, t);
    }
    let long = pstree::render(&k);
    let line = long.lines().find(|l| l.contains("abcdefghijklmno(100)")).unwrap();
    assert_eq!(line.len(), 132);
    assert!(line.ends_with('+'));
}

/// The width limit measured with real `pstree -p` on chains whose line is exactly 131, 132 and 133 columns:
/// 131 columns print whole; from 132 on, column 132 is `+`.
#[test]
fn pstree_cuts_at_column_132_as_measured() {
    for (last, want_len, cut) in [("zzzz", 131, false), ("zzzzz", 132, true), ("zzzzzz", 132, true)] {
        let mut k = machine();
        let mut tasks = vec![new_task(&k, 21381, 21381, 0, "aaaaaaaaaa")];
        for i in 1..6u32 {
            tasks.push(new_task(&k, 21381 + i, 21381 + i, 21380 + i, "aaaaaaaaaa"));
        }
        tasks.push(new_task(&k, 21387, 21387, 21386, last));
        for t in tasks {
            k.tasks.insert(t.pid, t);
        }
        let out = pstree::render_from(&k, Pid(21381), pstree::OUTPUT_WIDTH);
        let line = out.lines().next().unwrap();
        assert_eq!(line.len(), want_len, "{line}");
        assert_eq!(line.ends_with('+'), cut, "{line}");
        assert_eq!(out.lines().count(), 1);
    }
}

/// The same process tree, for real: `pstree -p` of a shell with two children, against the model given
/// the same pids and names.
#[test]
fn pstree_matches_real_pstree_for_the_same_tree() {
    if std::process::Command::new("pstree").arg("-V").output().is_err() {
        return;
    }
    let mut sh = std::process::Command::new("sh")
        .args(["-c", "sleep 5 & cat </dev/zero >/dev/null & wait"])
        .spawn()
        .unwrap();
    let root = sh.id();
    let mut real = String::new();
    for _ in 0..2500 {
        let out = std::process::Command::new("pstree")
            .args(["-p", &root.to_string()])
            .output()
            .unwrap();
        real = String::from_utf8(out.stdout).unwrap();
        if real.contains("sleep") && real.contains("cat") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let kids: Vec<(u32, String)> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let st = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let f = stat_fields(&st);
            (f.len() > 3 && f[3] == root.to_string()).then(|| (pid, f[1].clone()))
        })
        .collect();
    assert!(real.contains("-+-cat(") && real.contains("`-sleep("), "{real}");
    assert_eq!(kids.len(), 2, "{kids:?}");
    for (pid, _) in &kids {
        let _ = std::process::Command::new("kill").arg(pid.to_string()).status();
    }
    let _ = sh.kill();
    let _ = sh.wait();
    let mut k = kernel(KernelConfig::default());
    let mut tasks = vec![new_task(&k, root, root, 0, "sh")];
    for (pid, comm) in &kids {
        let mut c = new_task(&k, *pid, *pid, root, comm);
        c.mm = None;
        tasks.push(c);
    }
    k.tasks.clear();
    for t in tasks {
        k.tasks.insert(t.pid, t);
    }
    assert_eq!(pstree::render_from(&k, Pid(root), pstree::OUTPUT_WIDTH), real);
}

/// Pending signals show in the mask lines of their task and in every same-user task's SigQ count, and in
/// stat's decimal fields (low 31 bits).
#[test]
fn pending_and_blocked_signals_show() {
    let mut k = machine();
    let t = k.tasks.get_mut(&Pid(20)).unwrap();
    t.sig_pending = 1 << (SIGUSR1 - 1);
    t.sig_shared_pending = 1 << (SIGTERM - 1);
    t.sig_blocked = 1 << (SIGUSR1 - 1);
    let s = text(&k, 20, "status");
    assert_eq!(field(&s, "SigPnd"), "0000000000000200");
    assert_eq!(field(&s, "ShdPnd"), "0000000000004000");
    assert_eq!(field(&s, "SigBlk"), "0000000000000200");
    assert!(field(&s, "SigQ").starts_with("2/"));
    assert!(field(&text(&k, 1, "status"), "SigQ").starts_with("2/"), "same user");
    let st = stat_fields(&text(&k, 20, "task/20/stat"));
    assert_eq!((st[30].as_str(), st[31].as_str()), ("512", "512"));
}

/// After exec with randomization off, the files exec fills (stat's code/data/stack/argument/environment
/// boundaries, cmdline, environ, comm) agree with a real process exec'd the same way (`setarch -R`, same
/// argv and environment), read while it sleeps.
#[test]
fn exec_state_matches_a_real_process() {
    let (Ok(prog), Ok(ld)) = (
        std::fs::read("/usr/bin/sleep"),
        std::fs::read("/lib64/ld-linux-x86-64.so.2"),
    ) else {
        eprintln!("no /usr/bin/sleep or dynamic linker: skipped");
        return;
    };
    let Ok(mut child) = std::process::Command::new("setarch")
        .args(["-R", "/usr/bin/sleep", "30", "1"])
        .env_clear()
        .env("A", "1")
        .env("LONGER_VARIABLE", "some value")
        .spawn()
    else {
        eprintln!("no setarch: skipped");
        return;
    };
    let pid = child.id();
    // Wait for the exec of sleep (setarch execs it in place) and for it to settle in nanosleep.
    let mut real_stat = String::new();
    for _ in 0..2000 {
        real_stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if real_stat.contains("(sleep) S") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let real_cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let real_environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    let real_comm = std::fs::read(format!("/proc/{pid}/comm")).unwrap();
    let real_status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let real_auxv = std::fs::read(format!("/proc/{pid}/auxv")).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let mut fs = memsim_core::fs::MemFs::new();
    fs.add_file("/usr/bin/sleep", prog);
    fs.add_file("/lib64/ld-linux-x86-64.so.2", ld);
    let mut k = Kernel::new(KernelConfig::default(), Box::new(fs));
    let argv = [b"/usr/bin/sleep".to_vec(), b"30".to_vec(), b"1".to_vec()];
    let envp = [b"A=1".to_vec(), b"LONGER_VARIABLE=some value".to_vec()];
    k.sys_execve(Pid(1), "/usr/bin/sleep", &argv, &envp).unwrap();
    assert_eq!(k.proc_read(Pid(1), "cmdline").unwrap(), real_cmdline);
    assert_eq!(k.proc_read(Pid(1), "environ").unwrap(), real_environ);
    assert_eq!(k.proc_read(Pid(1), "comm").unwrap(), real_comm);
    let (m, r) = (stat_fields(&text(&k, 1, "stat")), stat_fields(&real_stat));
    assert!(real_stat.contains("(sleep) S"), "{real_stat}");
    for f in [26, 27, 28, 45, 46, 47, 48, 49, 50, 51] {
        assert_eq!(m[f - 1], r[f - 1], "stat field {f}:\nmodel {m:?}\nreal  {r:?}");
    }
    // The status lines exec alone decides (the dynamic linker and libc have since mapped more).
    let model_status = text(&k, 1, "status");
    assert_eq!(keys(&model_status), keys(&real_status));
    for key in ["Name", "Umask", "VmExe", "VmStk", "Threads", "Kthread"] {
        assert_eq!(field(&model_status, key), field(&real_status, key), "{key}");
    }
    // auxv: the same entries in the same order; the values that depend only on the layout and the
    // credentials agree (the CPU's hwcaps, clock ticks and signal stack size are the host's).
    let pairs = |b: &[u8]| -> Vec<(u64, u64)> {
        b.chunks(16)
            .map(|c| {
                (
                    u64::from_le_bytes(c[..8].try_into().unwrap()),
                    u64::from_le_bytes(c[8..].try_into().unwrap()),
                )
            })
            .collect()
    };
    let (ma, ra) = (pairs(&k.proc_read(Pid(1), "auxv").unwrap()), pairs(&real_auxv));
    let types = |v: &[(u64, u64)]| v.iter().map(|p| p.0).collect::<Vec<_>>();
    assert_eq!(types(&ma), types(&ra), "auxv types");
    // AT_PHDR AT_PHENT AT_PHNUM AT_PAGESZ AT_BASE AT_FLAGS AT_ENTRY AT_UID AT_EUID AT_GID AT_EGID AT_SECURE
    // AT_RANDOM AT_EXECFN AT_SYSINFO_EHDR AT_NULL
    for t in [3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 23, 25, 31, 33, 0] {
        let get = |v: &[(u64, u64)]| v.iter().find(|p| p.0 == t).map(|p| p.1);
        assert_eq!(get(&ma), get(&ra), "auxv type {t}");
    }
    assert_eq!(k.proc_read(Pid(2), "auxv"), Err(Errno::ESRCH));
}

/// Supplementary groups and the four uid/gid sets print as a real process with the same credentials
/// prints them (`setpriv` sets them, then execs `cat /proc/self/status`).
#[test]
fn credentials_lines_match_a_real_process() {
    let Ok(out) = std::process::Command::new("setpriv")
        .args([
            "--groups", "4,24", "--ruid", "0", "--euid", "0", "--rgid", "0", "--egid", "0",
        ])
        .args(["cat", "/proc/self/status"])
        .output()
    else {
        return;
    };
    if !out.status.success() {
        return; // not allowed to set groups here
    }
    let real = String::from_utf8(out.stdout).unwrap();
    let mut k = machine();
    k.task_mut(Pid(20)).unwrap().cred.groups = vec![4, 24];
    let model = text(&k, 20, "status");
    for key in ["Uid", "Gid", "Groups"] {
        let line = |s: &str| {
            s.lines()
                .find(|l| l.starts_with(&format!("{key}:")))
                .unwrap()
                .to_string()
        };
        assert_eq!(line(&model), line(&real), "{key}");
    }
}

/// The booted kernel threads as the real `ps -eo pid,ppid,stat,vsz,rss,comm` shows the threads of the same
/// names here (parent, nice and other STAT flags, no memory).
#[test]
fn kernel_thread_rows_match_real_ps() {
    let Ok(out) = std::process::Command::new("ps")
        .args(["-eo", "pid,ppid,stat,vsz,rss,comm"])
        .output()
    else {
        return;
    };
    let real = String::from_utf8_lossy(&out.stdout).into_owned();
    let rows: std::collections::BTreeMap<String, String> = real
        .lines()
        .skip(1)
        .filter(|l| l.split_whitespace().nth(1).is_some_and(|p| p == "0" || p == "2"))
        .filter_map(|l| Some((l.split_whitespace().nth(5)?.to_string(), l.to_string())))
        .collect();
    let k = machine();
    let model = ps::render(&k);
    let mut compared = 0;
    for line in model.lines().skip(1) {
        let comm = line.split_whitespace().nth(5).unwrap_or("");
        if let Some(r) = rows.get(comm) {
            // Workers come and go with other pids, and an idle worker may be I or S at the moment: compare
            // the parent, the STAT flags after the state letter, the memory columns and the name.
            let strip = |l: &str| -> Vec<String> {
                l.split_whitespace()
                    .enumerate()
                    .skip(1)
                    .map(|(i, w)| if i == 2 { w[1..].to_string() } else { w.to_string() })
                    .collect()
            };
            assert_eq!(strip(line), strip(r), "model `{line}` real `{r}`");
            compared += 1;
        }
    }
    if rows.contains_key("kthreadd") {
        assert!(compared >= 2, "{model}\n{real}");
    }
}
