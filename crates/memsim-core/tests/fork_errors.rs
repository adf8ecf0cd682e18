//! Every errno path of the process lifecycle calls (clone and clone3 flag checks, RLIMIT_NPROC, wait4 and
//! waitid options, kill, the rlimit calls), and the task-list effects of clone flags, exit and wait.

use memsim_core::fs::MemFs;
use memsim_core::kernel::exit::*;
use memsim_core::kernel::fork::*;
use memsim_core::kernel::signal::{SA_NOCLDWAIT, SIGTSTP};
use memsim_core::kernel::{INIT_PID, KTHREADD_PID, KTHREAD_WORKERS};
use memsim_core::task::{Cred, ExitStatus, Rlimit, SigAction, SigHandler, TaskState, CAP_SYS_RESOURCE};
use memsim_core::uapi::*;
use memsim_core::{Errno, Kernel, KernelConfig, Pid, SigInfo};

const P: Pid = INIT_PID;
const BASE: u64 = 0x1_0000_0000;

fn kernel() -> Kernel {
    Kernel::new(KernelConfig::default(), Box::new(MemFs::new()))
}

fn fork(k: &mut Kernel, pid: Pid) -> Pid {
    Pid(k.sys_fork(pid).expect("fork") as u32)
}

fn clone(k: &mut Kernel, pid: Pid, flags: u64) -> Result<Pid, Errno> {
    k.sys_clone(pid, flags, 0, 0, 0, 0).map(|p| Pid(p as u32))
}

fn set_uid(k: &mut Kernel, pid: Pid, uid: u32) {
    k.task_mut(pid).unwrap().cred = Cred::for_uid(uid);
}

fn sigaction(k: &mut Kernel, pid: Pid, sig: u32, handler: SigHandler, flags: u64) {
    k.task(pid).unwrap().sighand.with(|h| {
        h.action[sig as usize - 1] = SigAction {
            handler,
            flags,
            mask: 0,
        }
    });
}

// ---- the task list ----

#[test]
fn boot_task_list_and_first_pid() {
    let mut k = kernel();
    let procs: Vec<(u32, u32, String)> = k
        .for_each_process()
        .map(|t| (t.pid.0, t.ppid.0, t.comm.clone()))
        .collect();
    assert_eq!(procs[0], (1, 0, "init".into()));
    assert_eq!(procs[1], (2, 0, "kthreadd".into()));
    assert_eq!(procs.len(), 2 + KTHREAD_WORKERS.len());
    for (i, (pid, ppid, comm)) in procs[2..].iter().enumerate() {
        assert_eq!((*pid, *ppid, comm.as_str()), (3 + i as u32, 2, KTHREAD_WORKERS[i].0));
        let t = k.task(Pid(*pid)).unwrap();
        assert!(t.mm.is_none() && t.active_mm.is_some() && t.is_kthread());
    }
    assert!(!k.is_user_task(KTHREADD_PID) && k.is_user_task(P));
    let first = fork(&mut k, P);
    assert_eq!(
        first.0,
        3 + KTHREAD_WORKERS.len() as u32,
        "the first fork follows the kernel threads"
    );
    assert_eq!(k.for_each_process().last().unwrap().pid, first, "creation order");
    assert_eq!(k.task(P).unwrap().children, vec![first]);
}

// ---- clone flag checks (copy_process order) ----

#[test]
fn clone_flag_combinations() {
    let mut k = kernel();
    let c = fork(&mut k, P);
    assert_eq!(
        clone(&mut k, c, CLONE_SIGHAND | SIGCHLD as u64),
        Err(Errno::EINVAL),
        "SIGHAND needs VM"
    );
    assert_eq!(
        clone(&mut k, c, CLONE_THREAD | CLONE_VM),
        Err(Errno::EINVAL),
        "THREAD needs SIGHAND"
    );
    assert_eq!(clone(&mut k, c, CLONE_NEWNS | CLONE_FS), Err(Errno::EINVAL));
    assert_eq!(clone(&mut k, c, CLONE_NEWUSER | CLONE_FS), Err(Errno::EINVAL));
    assert_eq!(
        clone(&mut k, c, CLONE_THREAD | CLONE_SIGHAND | CLONE_VM | CLONE_NEWPID),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        clone(&mut k, P, CLONE_PARENT | SIGCHLD as u64),
        Err(Errno::EINVAL),
        "init has no siblings"
    );
    assert_eq!(
        k.sys_clone(c, CLONE_PIDFD | CLONE_PARENT_SETTID, 0, BASE, 0, 0),
        Err(Errno::EINVAL),
        "legacy pidfd and parent tid share the pointer"
    );
    set_uid(&mut k, c, 1000);
    assert_eq!(clone(&mut k, c, CLONE_NEWNET | SIGCHLD as u64), Err(Errno::EPERM));
    // CLONE_PARENT from a child: a sibling, with init as the parent.
    let s = clone(&mut k, c, CLONE_PARENT | SIGCHLD as u64).unwrap();
    assert_eq!(k.task(s).unwrap().real_parent, P);
    assert!(k.task(P).unwrap().children.contains(&s));
}

#[test]
fn clone3_argument_checks() {
    let mut k = kernel();
    let ok = CloneArgs {
        exit_signal: SIGCHLD as u64,
        ..Default::default()
    };
    assert_eq!(k.sys_clone3_raw(P, &ok.to_bytes(4097)), Err(Errno::E2BIG));
    assert_eq!(k.sys_clone3_raw(P, &ok.to_bytes(56)), Err(Errno::EINVAL));
    let mut tail = ok.to_bytes(96);
    tail[90] = 1;
    assert_eq!(
        k.sys_clone3_raw(P, &tail),
        Err(Errno::E2BIG),
        "unknown trailing bytes must be zero"
    );
    let bad = |f: &dyn Fn(&mut CloneArgs)| {
        let mut a = ok;
        f(&mut a);
        a
    };
    for (what, a) in [
        ("set_tid_size > 32", bad(&|a| a.set_tid_size = 33)),
        ("set_tid_size without set_tid", bad(&|a| a.set_tid_size = 1)),
        ("set_tid without size", bad(&|a| a.set_tid = BASE)),
        ("exit signal 65", bad(&|a| a.exit_signal = 65)),
        ("exit signal high bits", bad(&|a| a.exit_signal = 1 << 32 | 17)),
        ("unknown flag", bad(&|a| a.flags = 1 << 40)),
        ("CSIGNAL bits in flags", bad(&|a| a.flags = 17)),
        ("CLONE_DETACHED", bad(&|a| a.flags = CLONE_DETACHED)),
        (
            "SIGHAND and CLEAR_SIGHAND",
            bad(&|a| a.flags = CLONE_SIGHAND | CLONE_VM | CLONE_CLEAR_SIGHAND),
        ),
        (
            "THREAD with an exit signal",
            bad(&|a| a.flags = CLONE_THREAD | CLONE_SIGHAND | CLONE_VM),
        ),
        ("stack without size", bad(&|a| a.stack = BASE)),
        ("size without stack", bad(&|a| a.stack_size = 4096)),
        (
            "cgroup > INT_MAX",
            bad(&|a| {
                a.flags = CLONE_INTO_CGROUP;
                a.cgroup = 1 << 31
            }),
        ),
    ] {
        assert_eq!(k.sys_clone3(P, &a), Err(Errno::EINVAL), "{what}");
    }
    // VER0 size is enough for a plain fork; CLONE_INTO_CGROUP needs VER2.
    let cg = bad(&|a| a.flags = CLONE_INTO_CGROUP);
    assert_eq!(
        k.sys_clone3_raw(P, &cg.to_bytes(CLONE_ARGS_SIZE_VER1)),
        Err(Errno::EINVAL)
    );
    let c = k.sys_clone3_raw(P, &ok.to_bytes(CLONE_ARGS_SIZE_VER0)).unwrap();
    assert_eq!(k.task(Pid(c as u32)).unwrap().exit_signal, SIGCHLD);
}

#[test]
fn rlimit_nproc_is_eagain_for_users_only() {
    let mut k = kernel();
    let c = fork(&mut k, P);
    set_uid(&mut k, c, 1000);
    // One task of uid 1000 exists; a limit of 2 allows one more.
    k.task_mut(c).unwrap().rlimits[RLIMIT_NPROC] = Rlimit::new(2, 2);
    let g = fork(&mut k, c);
    assert_eq!(k.sys_fork(g), Err(Errno::EAGAIN));
    assert_eq!(k.sys_fork(c), Err(Errno::EAGAIN));
    // Zombies still count until reaped.
    k.sys_exit_group(g, 0).unwrap();
    assert_eq!(k.sys_fork(c), Err(Errno::EAGAIN));
    k.sys_wait4(c, -1, 0).unwrap();
    let g2 = fork(&mut k, c);
    // CAP_SYS_RESOURCE exempts.
    k.task_mut(g2).unwrap().cred.cap_effective |= 1 << CAP_SYS_RESOURCE;
    assert!(k.sys_fork(g2).is_ok());
    // root (INIT_USER) is exempt whatever its limit.
    k.task_mut(P).unwrap().rlimits[RLIMIT_NPROC] = Rlimit::new(1, 1);
    assert!(k.sys_fork(P).is_ok());
}

// ---- threads, vfork, shared tables ----

#[test]
fn threads_share_everything_and_the_leader_waits_for_them() {
    let mut k = kernel();
    let c = fork(&mut k, P);
    k.sys_mmap(
        c,
        BASE,
        4096,
        PROT_READ | PROT_WRITE,
        MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
        -1,
        0,
    )
    .unwrap();
    let flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;
    let t = clone(&mut k, c, flags).unwrap();
    let (tt, ct) = (k.task(t).unwrap(), k.task(c).unwrap());
    assert_eq!((tt.tgid, tt.exit_signal, tt.real_parent), (c, 0, P));
    assert_eq!(tt.mm, ct.mm);
    assert_eq!(k.mm(c).unwrap().mm_users, 2);
    assert_eq!(ct.threads, vec![c, t]);
    assert!(!k.task(P).unwrap().children.contains(&t), "threads are not children");
    assert!(tt.files.same_table(&ct.files) && tt.sighand.ptr_eq(&ct.sighand));
    assert_eq!(
        k.for_each_process().filter(|p| p.pid == t).count(),
        0,
        "a thread is not a process"
    );
    assert_eq!(k.threads_of(t).map(|x| x.pid).collect::<Vec<_>>(), vec![c, t]);
    // The thread writes, the leader reads: one address space.
    k.poke(t, BASE, b"T").unwrap();
    assert_eq!(k.peek(c, BASE, 1).unwrap(), b"T");
    // Descriptors opened by one are visible to the other.
    let mut fs = MemFs::new();
    fs.add_file("/f", vec![1]);
    k.fs = Box::new(fs);
    let fd = k.sys_openat(t, AT_FDCWD, "/f", O_RDONLY, 0).unwrap();
    assert!(k.task(c).unwrap().files.get(fd as i32).is_some());
    // rlimits are per process.
    k.sys_setrlimit(t, RLIMIT_CORE, Rlimit::new(4096, RLIM_INFINITY))
        .unwrap();
    assert_eq!(k.task(c).unwrap().rlimits[RLIMIT_CORE].cur, 4096);

    // The leader exits alone: a zombie that cannot be reaped while the thread lives.
    k.sys_exit(c, 5).unwrap();
    assert_eq!(k.task(c).unwrap().state, TaskState::Zombie);
    assert_eq!(k.mm(t).unwrap().mm_users, 1, "the thread still holds the mm");
    assert_eq!(k.sys_wait4(P, -1, WNOHANG), Ok((Pid(0), 0)));
    k.sys_exit(t, 9).unwrap();
    assert!(k.task(t).is_err(), "threads are reaped at once");
    assert_eq!(k.sys_wait4(P, -1, 0), Ok((c, 5 << 8)), "the leader's own code");
}

#[test]
fn exit_group_from_a_thread_kills_the_group() {
    let mut k = kernel();
    let c = fork(&mut k, P);
    let t = clone(&mut k, c, CLONE_VM | CLONE_SIGHAND | CLONE_THREAD).unwrap();
    k.sys_exit_group(t, 3).unwrap();
    assert!(k.task(t).is_err());
    assert_eq!(k.sys_wait4(P, c.0 as i64, 0), Ok((c, 3 << 8)));
}

#[test]
fn vfork_parent_waits_until_the_child_exits_or_releases() {
    let mut k = kernel();
    let p = fork(&mut k, P);
    let c = Pid(k.sys_vfork(p).unwrap() as u32);
    assert_eq!(k.task(p).unwrap().state, TaskState::DiskSleep);
    assert_eq!(k.task(p).unwrap().state_char(), 'D');
    assert_eq!(k.task(c).unwrap().mm, k.task(p).unwrap().mm, "vfork shares the mm");
    assert_eq!(k.mm(p).unwrap().mm_users, 2);
    k.sys_exit(c, 0).unwrap();
    assert_eq!(k.task(p).unwrap().state, TaskState::Running);
    assert_eq!(k.task(p).unwrap().vfork_waiting_for, None);
    assert_eq!(
        k.mm(p).unwrap().mm_users,
        1,
        "the child's exit dropped only its reference"
    );
    // exec's path: mm_release wakes the parent too.
    let c2 = Pid(k.sys_vfork(p).unwrap() as u32);
    k.mm_release(c2);
    assert_eq!(k.task(p).unwrap().state, TaskState::Running);
}

#[test]
fn clone_settid_writes_the_child_pid() {
    let mut k = kernel();
    k.sys_mmap(
        P,
        BASE,
        4096,
        PROT_READ | PROT_WRITE,
        MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
        -1,
        0,
    )
    .unwrap();
    let flags = CLONE_PARENT_SETTID | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD as u64;
    let c = Pid(k.sys_clone(P, flags, 0, BASE, BASE + 8, 0).unwrap() as u32);
    assert_eq!(k.peek(P, BASE, 4).unwrap(), c.0.to_le_bytes(), "parent's word");
    assert_eq!(
        k.peek(c, BASE + 8, 4).unwrap(),
        c.0.to_le_bytes(),
        "the child's own copy"
    );
    assert_eq!(k.peek(P, BASE + 8, 4).unwrap(), [0; 4], "not in the parent's memory");
    assert_eq!(k.task(c).unwrap().clear_child_tid, BASE + 8);
}

#[test]
fn settid_words_at_unmapped_addresses_are_ignored() {
    // put_user in copy_process/schedule_tail and mm_release ignores a fault: no signal, the tasks live on.
    let mut k = kernel();
    let flags = CLONE_PARENT_SETTID | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD as u64;
    let c = Pid(k.sys_clone(P, flags, 0, BASE, BASE + 8, 0).unwrap() as u32);
    assert!(k.task(P).unwrap().is_alive(), "parent");
    assert!(k.task(c).unwrap().is_alive(), "child");
    assert!(k
        .sys_mmap(c, 0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        .is_ok());
    // A thread sharing the mm clears its CLONE_CHILD_CLEARTID word at exit: unmapped, ignored as well.
    let t = clone(&mut k, c, CLONE_VM | CLONE_CHILD_CLEARTID).unwrap();
    k.task_mut(t).unwrap().clear_child_tid = BASE + 8;
    k.sys_exit(t, 0).ok();
    assert!(k.task(c).unwrap().is_alive(), "the mm's other user");
    k.sys_exit_group(c, 3).ok();
    assert_eq!(k.task(c).unwrap().exit, Some(ExitStatus::Exited(3)));
}

// ---- wait ----

#[test]
fn wait4_option_and_pid_checks() {
    let mut k = kernel();
    assert_eq!(k.sys_wait4(P, -1, 0x10), Err(Errno::EINVAL), "unknown option");
    assert_eq!(k.sys_wait4(P, -1, WNOWAIT), Err(Errno::EINVAL), "WNOWAIT is waitid's");
    assert_eq!(k.sys_wait4(P, i64::from(i32::MIN), 0), Err(Errno::ESRCH));
    assert_eq!(k.sys_wait4(P, -1, 0), Err(Errno::ECHILD));
    let c = fork(&mut k, P);
    assert_eq!(k.sys_wait4(P, -1, WNOHANG), Ok((Pid(0), 0)));
    assert_eq!(k.sys_wait4(P, -1, 0), Err(Errno::EAGAIN), "would block (model)");
    assert_eq!(
        k.sys_wait4(P, i64::from(c.0) + 100, WNOHANG),
        Err(Errno::ECHILD),
        "not a child"
    );
    assert_eq!(k.sys_wait4(P, 0, WNOHANG), Ok((Pid(0), 0)), "same process group");
    assert_eq!(k.sys_wait4(P, -999, WNOHANG), Err(Errno::ECHILD), "no such group");
}

#[test]
fn wclone_selects_children_without_sigchld() {
    let mut k = kernel();
    let c = clone(&mut k, P, 0).unwrap(); // exit signal 0
    k.sys_exit(c, 1).unwrap();
    assert_eq!(
        k.task(c).unwrap().state,
        TaskState::Zombie,
        "exit signal 0 is not autoreaped"
    );
    assert_eq!(k.sys_wait4(P, -1, WNOHANG), Err(Errno::ECHILD));
    assert_eq!(k.sys_wait4(P, -1, __WCLONE), Ok((c, 1 << 8)));
    let d = clone(&mut k, P, SIGCHLD as u64).unwrap();
    k.sys_exit(d, 0).unwrap();
    assert_eq!(k.sys_wait4(P, -1, __WCLONE | WNOHANG), Err(Errno::ECHILD));
    assert_eq!(k.sys_wait4(P, -1, __WALL), Ok((d, 0)));
}

#[test]
fn parent_ignoring_sigchld_autoreaps() {
    let mut k = kernel();
    sigaction(&mut k, P, SIGCHLD, SigHandler::Ignore, 0);
    let c = fork(&mut k, P);
    k.sys_exit(c, 0).unwrap();
    assert!(k.task(c).is_err());
    sigaction(&mut k, P, SIGCHLD, SigHandler::Default, SA_NOCLDWAIT);
    let c = fork(&mut k, P);
    k.sys_exit(c, 0).unwrap();
    assert!(k.task(c).is_err());
    // A caught SIGCHLD stays pending; a default one is discarded.
    sigaction(&mut k, P, SIGCHLD, SigHandler::Handler(0x1000), 0);
    let c = fork(&mut k, P);
    k.sys_exit(c, 0).unwrap();
    assert_ne!(k.task(P).unwrap().sig_shared_pending & (1 << (SIGCHLD - 1)), 0);
}

#[test]
fn waitid_checks_and_wnowait() {
    let mut k = kernel();
    assert_eq!(
        k.sys_waitid(P, P_ALL, 0, 0),
        Err(Errno::EINVAL),
        "no WEXITED/WSTOPPED/WCONTINUED"
    );
    assert_eq!(k.sys_waitid(P, P_ALL, 0, WEXITED | 0x10), Err(Errno::EINVAL));
    assert_eq!(k.sys_waitid(P, P_PID, 0, WEXITED), Err(Errno::EINVAL));
    assert_eq!(k.sys_waitid(P, P_PGID, -1, WEXITED), Err(Errno::EINVAL));
    assert_eq!(k.sys_waitid(P, 7, 0, WEXITED), Err(Errno::EINVAL));
    assert_eq!(k.sys_waitid(P, P_PIDFD, 3, WEXITED), Err(Errno::EBADF));
    assert_eq!(k.sys_waitid(P, P_ALL, 0, WEXITED), Err(Errno::ECHILD));
    let c = fork(&mut k, P);
    k.task_mut(c).unwrap().rlimits[RLIMIT_CORE] = Rlimit::new(RLIM_INFINITY, RLIM_INFINITY);
    k.sys_kill(P, i64::from(c.0), SIGABRT).unwrap();
    let i = k.sys_waitid(P, P_PID, i64::from(c.0), WEXITED | WNOWAIT).unwrap();
    assert_eq!(
        (i.pid, i.code, i.status, i.wstatus),
        (c, CLD_DUMPED, SIGABRT as i32, 0x86)
    );
    assert!(k.task(c).is_ok(), "WNOWAIT leaves the zombie");
    let i = k.sys_waitid(P, P_ALL, 0, WEXITED).unwrap();
    assert_eq!(i.pid, c);
    assert!(k.task(c).is_err());
}

// ---- kill and signals ----

#[test]
fn kill_errors_and_effects() {
    let mut k = kernel();
    let c = fork(&mut k, P);
    assert_eq!(k.sys_kill(P, i64::from(c.0), 65), Err(Errno::EINVAL));
    assert_eq!(k.sys_kill(P, 30000, 0), Err(Errno::ESRCH));
    assert_eq!(k.sys_kill(P, i64::from(c.0), 0), Ok(0));
    assert_eq!(k.sys_kill(P, -30000, SIGTERM), Err(Errno::ESRCH), "empty process group");
    assert_eq!(k.sys_kill(P, i64::from(i32::MIN), SIGTERM), Err(Errno::ESRCH));
    // An unprivileged user may not signal root's processes.
    let u = fork(&mut k, P);
    set_uid(&mut k, u, 1000);
    assert_eq!(k.sys_kill(u, i64::from(c.0), SIGKILL), Err(Errno::EPERM));
    assert_eq!(k.sys_kill(u, i64::from(c.0), 0), Err(Errno::EPERM));
    assert_eq!(k.sys_kill(u, i64::from(u.0), 0), Ok(0), "itself");
    // SIGCHLD's default is to ignore: nothing happens, nothing is pending.
    k.sys_kill(P, i64::from(c.0), SIGCHLD).unwrap();
    assert_eq!(k.task(c).unwrap().state, TaskState::Running);
    assert_eq!(k.task(c).unwrap().sig_shared_pending, 0);
    // A blocked signal stays pending.
    k.task_mut(c).unwrap().sig_blocked = 1 << (SIGTERM - 1);
    k.sys_kill(P, i64::from(c.0), SIGTERM).unwrap();
    assert!(k.task(c).unwrap().is_alive());
    assert_eq!(k.task(c).unwrap().sig_shared_pending, 1 << (SIGTERM - 1));
    // Stop, report, continue, report.
    k.sys_kill(P, i64::from(c.0), SIGTSTP).unwrap();
    assert_eq!(k.task(c).unwrap().state_char(), 'T');
    assert_eq!(
        k.sys_wait4(P, -1, WNOHANG),
        Ok((Pid(0), 0)),
        "stops only with WUNTRACED"
    );
    assert_eq!(k.sys_wait4(P, -1, WUNTRACED), Ok((c, (SIGTSTP as i32) << 8 | 0x7f)));
    k.sys_kill(P, i64::from(c.0), SIGCONT).unwrap();
    assert_eq!(k.task(c).unwrap().state_char(), 'R');
    assert_eq!(k.sys_wait4(P, -1, WCONTINUED), Ok((c, 0xffff)));
    // SIGKILL even when blocked; the zombie records it.
    k.task_mut(c).unwrap().sig_blocked = !0;
    k.sys_kill(P, i64::from(c.0), SIGKILL).unwrap();
    assert_eq!(
        k.task(c).unwrap().exit,
        Some(ExitStatus::Killed {
            signo: 9,
            core_dumped: false
        })
    );
    assert_eq!(k.sys_wait4(P, i64::from(c.0), 0), Ok((c, 9)));
    // kill(-1) reaches every process but init and the caller; kernel threads ignore it.
    let a = fork(&mut k, P);
    let b = fork(&mut k, P);
    k.sys_kill(a, -1, SIGTERM).unwrap();
    assert!(k.task(a).unwrap().is_alive());
    assert!(!k.task(b).unwrap().is_alive());
    assert!(!k.task(u).unwrap().is_alive());
    assert!(k.task(KTHREADD_PID).unwrap().is_alive());
}

#[test]
fn force_sig_fault_kills_with_core_flag() {
    let mut k = kernel();
    let c = fork(&mut k, P);
    k.sys_mmap(c, BASE, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0)
        .unwrap();
    let t = clone(&mut k, c, CLONE_VM | CLONE_SIGHAND | CLONE_THREAD).unwrap();
    k.sys_setrlimit(c, RLIMIT_CORE, Rlimit::new(1 << 20, RLIM_INFINITY))
        .unwrap();
    let info: SigInfo = k.poke(t, BASE, b"x").unwrap_err();
    assert_eq!(info.signo, SIGSEGV);
    k.force_sig_fault(t, info);
    assert!(k.task(t).is_err(), "the faulting thread is gone");
    let z = k.task(c).unwrap();
    assert_eq!(
        z.exit,
        Some(ExitStatus::Killed {
            signo: SIGSEGV,
            core_dumped: true
        })
    );
    assert!(z.mm.is_none());
    assert_eq!(k.sys_wait4(P, -1, 0), Ok((c, SIGSEGV as i32 | 0x80)));
    k.check_all_page_invariants().unwrap();
}

// ---- rlimits ----

#[test]
fn rlimit_checks() {
    let mut k = kernel();
    assert_eq!(k.sys_getrlimit(P, 16), Err(Errno::EINVAL));
    assert_eq!(
        k.sys_getrlimit(P, RLIMIT_STACK),
        Ok(Rlimit::new(8 << 20, RLIM_INFINITY))
    );
    assert_eq!(k.sys_setrlimit(P, RLIMIT_STACK, Rlimit::new(2, 1)), Err(Errno::EINVAL));
    assert_eq!(k.sys_setrlimit(P, 99, Rlimit::new(1, 1)), Err(Errno::EINVAL));
    assert_eq!(
        k.sys_setrlimit(P, RLIMIT_NOFILE, Rlimit::new(1024, (1 << 20) + 1)),
        Err(Errno::EPERM),
        "above nr_open even for root"
    );
    assert!(k.sys_setrlimit(P, RLIMIT_NOFILE, Rlimit::new(1024, 1 << 20)).is_ok());
    let c = fork(&mut k, P);
    assert_eq!(
        k.sys_getrlimit(c, RLIMIT_NOFILE),
        Ok(Rlimit::new(1024, 1 << 20)),
        "inherited"
    );
    set_uid(&mut k, c, 1000);
    assert_eq!(
        k.sys_setrlimit(c, RLIMIT_CORE, Rlimit::new(0, 0)),
        Ok(Rlimit::new(0, RLIM_INFINITY))
    );
    assert_eq!(
        k.sys_setrlimit(c, RLIMIT_CORE, Rlimit::new(0, 1)),
        Err(Errno::EPERM),
        "raising the hard limit needs CAP_SYS_RESOURCE"
    );
    // prlimit64 of another process: ids must all match, else CAP_SYS_RESOURCE.
    assert_eq!(k.sys_prlimit64(c, P.0, RLIMIT_CORE, None), Err(Errno::EPERM));
    assert_eq!(k.sys_prlimit64(c, 31000, RLIMIT_CORE, None), Err(Errno::ESRCH));
    assert_eq!(k.sys_prlimit64(c, 0, 16, None), Err(Errno::EINVAL));
    // Checked against this kernel: the PID before the resource and the limit values.
    assert_eq!(k.sys_prlimit64(c, 31000, 16, None), Err(Errno::ESRCH));
    assert_eq!(
        k.sys_prlimit64(c, 31000, RLIMIT_CORE, Some(Rlimit::new(2, 1))),
        Err(Errno::ESRCH)
    );
    assert_eq!(
        k.sys_prlimit64(c, u32::MAX, RLIMIT_CORE, None),
        Err(Errno::ESRCH),
        "pid -1"
    );
    assert_eq!(
        k.sys_prlimit64(P, c.0, RLIMIT_CORE, Some(Rlimit::new(5, 5))),
        Ok(Rlimit::new(0, 0))
    );
    assert_eq!(k.sys_getrlimit(c, RLIMIT_CORE), Ok(Rlimit::new(5, 5)));
}

#[test]
fn core_flag_needs_a_page_of_rlimit_core() {
    // core_pattern is a file name here: RLIMIT_CORE below ELF's min_coredump (4096) writes no core.
    let mut k = kernel();
    for (limit, want) in [
        (0, SIGQUIT as i32),
        (4095, SIGQUIT as i32),
        (4096, SIGQUIT as i32 | 0x80),
    ] {
        let c = fork(&mut k, P);
        k.sys_setrlimit(c, RLIMIT_CORE, Rlimit::new(limit, RLIM_INFINITY))
            .unwrap();
        k.sys_kill(P, i64::from(c.0), SIGQUIT).unwrap();
        assert_eq!(k.sys_wait4(P, i64::from(c.0), 0), Ok((c, want)), "RLIMIT_CORE {limit}");
    }
    // Kernel threads carry the flags /proc/N/stat shows on this machine.
    assert_eq!(k.task(KTHREADD_PID).unwrap().flags, 0x208040);
    assert_eq!(k.task(Pid(4)).unwrap().flags, 0x4208060);
    assert_eq!(k.task(Pid(4)).unwrap().nice, -20);
    assert_eq!(k.task(Pid(3)).unwrap().exit_signal, SIGCHLD);
}

#[test]
fn tgkill_sigaction_sigprocmask() {
    let mut k = kernel();
    let c = fork(&mut k, P);
    let t = clone(&mut k, c, CLONE_VM | CLONE_SIGHAND | CLONE_THREAD).unwrap();
    let (ci, ti) = (i64::from(c.0), i64::from(t.0));
    assert_eq!(k.sys_tgkill(P, ci, ti, 65), Err(Errno::EINVAL));
    assert_eq!(k.sys_tgkill(P, 0, ti, SIGUSR1), Err(Errno::EINVAL));
    assert_eq!(k.sys_tgkill(P, ci, -1, SIGUSR1), Err(Errno::EINVAL));
    assert_eq!(
        k.sys_tgkill(P, i64::from(P.0), ti, SIGUSR1),
        Err(Errno::ESRCH),
        "wrong group"
    );
    assert_eq!(k.sys_tkill(P, 31000, SIGUSR1), Err(Errno::ESRCH));
    // rt_sigaction: checks, old value, SIGKILL/SIGSTOP.
    let h = SigAction {
        handler: SigHandler::Handler(0x401000),
        flags: 0,
        mask: !0,
    };
    assert_eq!(
        k.sys_rt_sigaction(c, SIGUSR1, Some(h), 4),
        Err(Errno::EINVAL),
        "sigsetsize"
    );
    assert_eq!(k.sys_rt_sigaction(c, 0, None, 8), Err(Errno::EINVAL));
    assert_eq!(k.sys_rt_sigaction(c, 65, None, 8), Err(Errno::EINVAL));
    assert_eq!(k.sys_rt_sigaction(c, SIGKILL, Some(h), 8), Err(Errno::EINVAL));
    assert_eq!(
        k.sys_rt_sigaction(c, SIGKILL, None, 8),
        Ok(SigAction::default()),
        "reading is fine"
    );
    assert_eq!(k.sys_rt_sigaction(c, SIGUSR1, Some(h), 8), Ok(SigAction::default()));
    let got = k.sys_rt_sigaction(t, SIGUSR1, None, 8).unwrap();
    assert_eq!(got.handler, h.handler, "threads share the handlers");
    assert_eq!(got.mask, !((1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1))));
    // A caught thread-directed signal is pending on that thread only.
    k.sys_tgkill(P, ci, ti, SIGUSR1).unwrap();
    assert_eq!(k.task(t).unwrap().sig_pending, 1 << (SIGUSR1 - 1));
    assert_eq!(k.task(c).unwrap().sig_pending, 0);
    // Ignoring it discards what is pending.
    let ign = SigAction {
        handler: SigHandler::Ignore,
        ..SigAction::default()
    };
    k.sys_rt_sigaction(c, SIGUSR1, Some(ign), 8).unwrap();
    assert_eq!(k.task(t).unwrap().sig_pending, 0);
    // sigprocmask: how, SIGKILL unblockable.
    assert_eq!(k.sys_rt_sigprocmask(c, 3, Some(0), 8), Err(Errno::EINVAL));
    assert_eq!(
        k.sys_rt_sigprocmask(c, 3, None, 8),
        Ok(0),
        "how is only checked with a set"
    );
    assert_eq!(k.sys_rt_sigprocmask(c, 0, Some(!0), 8), Ok(0));
    assert_eq!(k.task(c).unwrap().sig_blocked, !((1 << 8) | (1 << 18)));
    assert_eq!(
        k.sys_rt_sigprocmask(c, 1, Some(1 << (SIGTERM - 1)), 16),
        Err(Errno::EINVAL)
    );
    // A fatal thread-directed signal kills the group.
    k.sys_rt_sigprocmask(c, 2, Some(0), 8).unwrap();
    k.sys_tkill(P, ti, SIGTERM).unwrap();
    assert!(k.task(t).is_err());
    assert_eq!(k.sys_wait4(P, ci, 0), Ok((c, SIGTERM as i32)));
}
