//! The task facts several `/proc/PID` files share (`fs/proc/array.c` helpers, `get_nr_threads`,
//! `task_pgrp_nr_ns`, `task_session_nr_ns`, the `PF_*` flags `do_task_stat` prints).
//!
//! This is the one place that knows how the model's `Task` stands for the pieces of `task_struct` that
//! `/proc` reads, so `status`, `stat`, `ps` and `pstree` agree with each other:
//! * a kernel thread is a task with `PF_KTHREAD` (kthreadd and its workers have no `mm`);
//! * a task that has exited is a zombie until reaped: no `mm`, no `files` (`FDSize: 0`), no `fs` (no
//!   `Umask:` line), and `do_exit`'s flags (`PF_EXITING`, `PF_POSTCOREDUMP`, `PF_NOFREEZE`);
//! * a thread group is every task with the same tgid; a non-leader thread has `exit_signal` -1;
//! * process group, session and nice value are the task's own (`pgid`, `sid`, `nice`, inherited at fork).

use crate::kernel::Kernel;
use crate::task::{Pid, Task, TaskState};

pub use crate::task::{PF_EXITING, PF_FORKNOEXEC, PF_KTHREAD, PF_NOFREEZE, PF_RANDOMIZE, PF_SIGNALED};

/// `PF_POSTCOREDUMP`: set for every exiting task with an mm by `coredump_task_exit`.
pub const PF_POSTCOREDUMP: u32 = 0x0000_0008;

/// The task is a kernel thread (`PF_KTHREAD`, `Kthread: 1`).
pub fn is_kthread(task: &Task) -> bool {
    task.is_kthread()
}

/// `proc_task_name`: the name `/proc` prints. User tasks: `comm`, at most 15 bytes. Kernel threads: the
/// full name (`get_kthread_comm` uses `kthread->full_name`, and workqueue workers append their queue), so
/// `ps` shows `kworker/R-kvfree_rcu_reclaim` whole.
pub fn proc_comm(task: &Task) -> &[u8] {
    let b = task.comm.as_bytes();
    if task.is_kthread() {
        b
    } else {
        &b[..b.len().min(15)]
    }
}

/// The task has exited and waits to be reaped (or is being reaped).
pub fn is_zombie(task: &Task) -> bool {
    !task.is_alive() || matches!(task.state, TaskState::Zombie | TaskState::Dead)
}

/// `task->flags` as `do_task_stat` sees it: an exited task carries what its way out set (measured on zombies
/// of this kernel): `PF_EXITING | PF_POSTCOREDUMP | PF_NOFREEZE` from `do_exit`; after a fatal signal also
/// `PF_SIGNALED` (`get_signal`), and for a core-dumping signal `PF_DUMPCORE`, set before RLIMIT_CORE is
/// consulted, so it is there even when no core was written.
pub fn pf_flags(task: &Task) -> u32 {
    if !is_zombie(task) {
        return task.flags;
    }
    let mut f = task.flags | PF_EXITING | PF_POSTCOREDUMP | PF_NOFREEZE;
    if let Some(crate::task::ExitStatus::Killed { signo, .. }) = task.exit {
        f |= PF_SIGNALED;
        if crate::fs::coredump::sig_kernel_coredump(signo) {
            f |= crate::fs::coredump::PF_DUMPCORE;
        }
    }
    f
}

/// `get_nr_threads`: the tasks of the thread group still in the task list.
pub fn nr_threads(kernel: &Kernel, task: &Task) -> u64 {
    kernel.tasks.values().filter(|t| t.tgid == task.tgid).count() as u64
}

/// The thread group of `task` in tid order (`/proc/PID/task` lists the leader first, then by tid; tids
/// grow with creation, so this is also creation order until the pid space wraps).
pub fn thread_group<'a>(kernel: &'a Kernel, task: &Task) -> Vec<&'a Task> {
    let tgid = task.tgid;
    let mut v: Vec<&Task> = kernel.tasks.values().filter(|t| t.tgid == tgid).collect();
    v.sort_by_key(|t| (t.pid != tgid, t.pid));
    v
}

/// `(pgrp, session)` (`task_pgrp_nr_ns`, `task_session_nr_ns`): the task's process group and session,
/// inherited at fork (PID 1 leads its own, kernel threads are in 0).
pub fn pgrp_session(_kernel: &Kernel, task: &Task) -> (u32, u32) {
    (task.pgid.0, task.sid.0)
}

/// The task's nice value (`task_nice`).
pub fn nice(task: &Task) -> i32 {
    task.nice
}

/// `exit_signal` as `do_task_stat` prints it (`%d`): -1 for a non-leader thread (`copy_process` with
/// CLONE_THREAD), the task's own otherwise (SIGCHLD, or 0 for kthreadd).
pub fn exit_signal(task: &Task) -> i64 {
    if task.pid != task.tgid {
        -1
    } else {
        i64::from(task.exit_signal)
    }
}

/// The task's parent as `/proc` shows it (`task_ppid_nr`: the tgid of `real_parent`, 0 for the roots).
pub fn ppid(kernel: &Kernel, task: &Task) -> u32 {
    // A thread's real_parent is its leader's (`copy_process` with CLONE_THREAD|CLONE_PARENT semantics).
    let task = match kernel.tasks.get(&task.tgid) {
        Some(leader) if task.pid != task.tgid => leader,
        _ => task,
    };
    let p = if task.real_parent.0 != 0 {
        task.real_parent
    } else {
        task.ppid
    };
    kernel.tasks.get(&p).map_or(p.0, |t| t.tgid.0)
}

/// Look a task up the way `/proc/PID` does: any tid resolves (threads are reachable as `/proc/TID` even
/// though `readdir` lists only group leaders).
pub fn lookup(kernel: &Kernel, pid: Pid) -> Option<&Task> {
    kernel.tasks.get(&pid)
}

/// `SigQ:`'s first number: `cred->user->sigpending`, the signals queued for the task's real user across all
/// its tasks. Each pending standard signal holds one `sigqueue` (private ones per thread, shared ones once
/// per thread group).
pub fn user_sigpending(kernel: &Kernel, task: &Task) -> u64 {
    let uid = task.cred.uid;
    kernel
        .tasks
        .values()
        .filter(|t| t.cred.uid == uid && !t.is_kthread())
        .map(|t| {
            let shared = if t.pid == t.tgid {
                t.sig_shared_pending.count_ones()
            } else {
                0
            };
            u64::from(t.sig_pending.count_ones() + shared)
        })
        .sum()
}
