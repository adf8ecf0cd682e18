//! Process creation (`kernel/fork.c`): `copy_process` and its flag checks, `kernel_clone`, fork, vfork, clone
//! and clone3 (`copy_clone_args_from_user`, `clone3_args_valid`), and the address-space reference counts
//! (`mmget`, `mmput`, `mmgrab`, `mmdrop`, `mm_release`, `complete_vfork_done`). The page-table copy lives in
//! `mm/fork_copy.rs` (`dup_mmap`).
//!
//! The model runs one call at a time: a vfork parent is left in `D` state with `vfork_waiting_for` set until
//! its child calls execve or exits (`mm_release` → `complete_vfork_done`); the caller (a scenario runner)
//! decides what runs next. Namespaces are not modelled: `CLONE_NEW*` flags are validated as Linux validates
//! them and otherwise ignored (the child stays in the one namespace).

use crate::errno::{Errno, SysResult};
use crate::kernel::{Kernel, INIT_PID};
use crate::mm::MmId;
use crate::task::{
    Pid, SigHandler, Task, TaskState, CAP_SYS_ADMIN, CAP_SYS_RESOURCE, PF_FORKNOEXEC, PF_IDLE, PF_NO_SETAFFINITY,
    PF_SUPERPRIV, PF_WQ_WORKER,
};
use crate::uapi::{NameTable, RLIMIT_NPROC, SIGCHLD};

/// The exit-signal byte of the legacy clone flags.
pub const CSIGNAL: u64 = 0x0000_00ff;
pub const CLONE_NEWTIME: u64 = 0x0000_0080;
pub const CLONE_VM: u64 = 0x0000_0100;
pub const CLONE_FS: u64 = 0x0000_0200;
pub const CLONE_FILES: u64 = 0x0000_0400;
pub const CLONE_SIGHAND: u64 = 0x0000_0800;
pub const CLONE_PIDFD: u64 = 0x0000_1000;
pub const CLONE_PTRACE: u64 = 0x0000_2000;
pub const CLONE_VFORK: u64 = 0x0000_4000;
pub const CLONE_PARENT: u64 = 0x0000_8000;
pub const CLONE_THREAD: u64 = 0x0001_0000;
pub const CLONE_NEWNS: u64 = 0x0002_0000;
pub const CLONE_SYSVSEM: u64 = 0x0004_0000;
pub const CLONE_SETTLS: u64 = 0x0008_0000;
pub const CLONE_PARENT_SETTID: u64 = 0x0010_0000;
pub const CLONE_CHILD_CLEARTID: u64 = 0x0020_0000;
pub const CLONE_DETACHED: u64 = 0x0040_0000;
pub const CLONE_UNTRACED: u64 = 0x0080_0000;
pub const CLONE_CHILD_SETTID: u64 = 0x0100_0000;
pub const CLONE_NEWCGROUP: u64 = 0x0200_0000;
pub const CLONE_NEWUTS: u64 = 0x0400_0000;
pub const CLONE_NEWIPC: u64 = 0x0800_0000;
pub const CLONE_NEWUSER: u64 = 0x1000_0000;
pub const CLONE_NEWPID: u64 = 0x2000_0000;
pub const CLONE_NEWNET: u64 = 0x4000_0000;
pub const CLONE_IO: u64 = 0x8000_0000;
/// clone3 only.
pub const CLONE_CLEAR_SIGHAND: u64 = 0x1_0000_0000;
pub const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
/// `CLONE_LEGACY_FLAGS`: every bit of the 32-bit flag word.
pub const CLONE_LEGACY_FLAGS: u64 = 0xffff_ffff;

/// strace's names of the clone flags (`CLONE_NEWTIME` shares a bit with CSIGNAL and only means it in clone3).
pub const CLONE_FLAG_NAMES: NameTable = &[
    ("CLONE_VM", CLONE_VM),
    ("CLONE_FS", CLONE_FS),
    ("CLONE_FILES", CLONE_FILES),
    ("CLONE_SIGHAND", CLONE_SIGHAND),
    ("CLONE_PIDFD", CLONE_PIDFD),
    ("CLONE_PTRACE", CLONE_PTRACE),
    ("CLONE_VFORK", CLONE_VFORK),
    ("CLONE_PARENT", CLONE_PARENT),
    ("CLONE_THREAD", CLONE_THREAD),
    ("CLONE_NEWNS", CLONE_NEWNS),
    ("CLONE_SYSVSEM", CLONE_SYSVSEM),
    ("CLONE_SETTLS", CLONE_SETTLS),
    ("CLONE_PARENT_SETTID", CLONE_PARENT_SETTID),
    ("CLONE_CHILD_CLEARTID", CLONE_CHILD_CLEARTID),
    ("CLONE_DETACHED", CLONE_DETACHED),
    ("CLONE_UNTRACED", CLONE_UNTRACED),
    ("CLONE_CHILD_SETTID", CLONE_CHILD_SETTID),
    ("CLONE_NEWCGROUP", CLONE_NEWCGROUP),
    ("CLONE_NEWUTS", CLONE_NEWUTS),
    ("CLONE_NEWIPC", CLONE_NEWIPC),
    ("CLONE_NEWUSER", CLONE_NEWUSER),
    ("CLONE_NEWPID", CLONE_NEWPID),
    ("CLONE_NEWNET", CLONE_NEWNET),
    ("CLONE_IO", CLONE_IO),
    ("CLONE_CLEAR_SIGHAND", CLONE_CLEAR_SIGHAND),
    ("CLONE_INTO_CGROUP", CLONE_INTO_CGROUP),
    ("CLONE_NEWTIME", CLONE_NEWTIME),
];

/// `CLONE_ARGS_SIZE_VER0` (the first published `struct clone_args`), VER1 (+ set_tid, set_tid_size) and
/// VER2 (+ cgroup).
pub const CLONE_ARGS_SIZE_VER0: usize = 64;
pub const CLONE_ARGS_SIZE_VER1: usize = 80;
pub const CLONE_ARGS_SIZE_VER2: usize = 88;
/// `MAX_PID_NS_LEVEL`.
pub const MAX_PID_NS_LEVEL: u64 = 32;

/// `struct clone_args` (`include/uapi/linux/sched.h`), the argument of clone3.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct CloneArgs {
    pub flags: u64,
    pub pidfd: u64,
    pub child_tid: u64,
    pub parent_tid: u64,
    pub exit_signal: u64,
    pub stack: u64,
    pub stack_size: u64,
    pub tls: u64,
    pub set_tid: u64,
    pub set_tid_size: u64,
    pub cgroup: u64,
}

impl CloneArgs {
    /// Decode the user's bytes as `copy_struct_from_user` does: a shorter struct is zero-extended; bytes past
    /// the known size must be zero (E2BIG). Size checks: more than a page E2BIG, less than VER0 EINVAL.
    pub fn from_bytes(bytes: &[u8]) -> Result<CloneArgs, Errno> {
        if bytes.len() > 4096 {
            return Err(Errno::E2BIG);
        }
        if bytes.len() < CLONE_ARGS_SIZE_VER0 {
            return Err(Errno::EINVAL);
        }
        if bytes.len() > CLONE_ARGS_SIZE_VER2 && bytes[CLONE_ARGS_SIZE_VER2..].iter().any(|&b| b != 0) {
            return Err(Errno::E2BIG);
        }
        let mut w = [0u64; 11];
        for (i, slot) in w.iter_mut().enumerate() {
            let off = i * 8;
            if off + 8 <= bytes.len() {
                *slot = u64::from_le_bytes(bytes[off..off + 8].try_into().map_err(|_| Errno::EINVAL)?);
            }
        }
        Ok(CloneArgs {
            flags: w[0],
            pidfd: w[1],
            child_tid: w[2],
            parent_tid: w[3],
            exit_signal: w[4],
            stack: w[5],
            stack_size: w[6],
            tls: w[7],
            set_tid: w[8],
            set_tid_size: w[9],
            cgroup: w[10],
        })
    }

    /// The struct as a caller lays it out in memory, cut or zero-extended to `len` bytes (the inverse of
    /// [`CloneArgs::from_bytes`]).
    pub fn to_bytes(&self, len: usize) -> Vec<u8> {
        let w = [
            self.flags,
            self.pidfd,
            self.child_tid,
            self.parent_tid,
            self.exit_signal,
            self.stack,
            self.stack_size,
            self.tls,
            self.set_tid,
            self.set_tid_size,
            self.cgroup,
        ];
        let mut v: Vec<u8> = w.iter().flat_map(|x| x.to_le_bytes()).collect();
        v.resize(len, 0);
        v
    }
}

/// `struct kernel_clone_args`: what every entry point hands to `kernel_clone`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
struct KernelCloneArgs {
    flags: u64,
    exit_signal: u32,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    tls: u64,
}

impl Kernel {
    // ---- address-space references (kernel/fork.c) ----

    /// `mmget`: one more user of the address space (a CLONE_VM child).
    pub fn mmget(&mut self, mm: MmId) {
        if let Some(m) = self.mms.get_mut(&mm) {
            m.mm_users += 1;
        }
    }

    /// `mmput`: drop a user; the last user tears the address space down (`__mmput` → `exit_mmap`) and drops
    /// the users' collective `mm_count` reference.
    pub fn mmput(&mut self, mm: MmId) {
        let Some(m) = self.mms.get_mut(&mm) else { return };
        m.mm_users = m.mm_users.saturating_sub(1);
        if m.mm_users == 0 {
            self.exit_mmap(mm);
            self.mmdrop(mm);
        }
    }

    /// `mmgrab`: pin the `mm_struct` itself (a lazy-TLB borrower), not its pages.
    pub fn mmgrab(&mut self, mm: MmId) {
        if let Some(m) = self.mms.get_mut(&mm) {
            m.mm_count += 1;
        }
    }

    /// `mmdrop`: the last reference frees the `mm_struct` (`__mmdrop`).
    pub fn mmdrop(&mut self, mm: MmId) {
        let Some(m) = self.mms.get_mut(&mm) else { return };
        m.mm_count = m.mm_count.saturating_sub(1);
        if m.mm_count == 0 {
            self.mms.remove(&mm);
        }
    }

    /// `mm_release(tsk, mm)` (`exec_mm_release` / `exit_mm_release`): what a task does when it lets go of its
    /// address space at execve or exit: CLONE_CHILD_CLEARTID's word is zeroed if others still use the mm, and
    /// a vfork parent is released. Exec calls this before replacing the mm.
    pub fn mm_release(&mut self, pid: Pid) {
        let Ok(t) = self.task(pid) else { return };
        let (ctid, mm) = (t.clear_child_tid, t.mm);
        if ctid != 0 {
            let users = mm.and_then(|m| self.mms.get(&m)).map_or(0, |m| m.mm_users);
            if users > 1 {
                // put_user(0, tsk->clear_child_tid) + futex wake; a bad address is ignored.
                let _ = self.copy_to_user(pid, ctid, &0u32.to_le_bytes());
            }
            if let Ok(t) = self.task_mut(pid) {
                t.clear_child_tid = 0;
            }
        }
        self.complete_vfork_done(pid);
    }

    /// `complete_vfork_done`: wake the parent blocked in `wait_for_vfork_done` on this child.
    pub fn complete_vfork_done(&mut self, pid: Pid) {
        let Some(parent) = self.tasks.get_mut(&pid).and_then(|t| t.vfork_done.take()) else {
            return;
        };
        if let Some(p) = self.tasks.get_mut(&parent) {
            if p.vfork_waiting_for == Some(pid) {
                p.vfork_waiting_for = None;
                if p.state == TaskState::DiskSleep {
                    p.state = TaskState::Running;
                }
            }
        }
    }

    // ---- system calls ----

    /// `fork()`: `kernel_clone` with exit signal SIGCHLD.
    pub fn sys_fork(&mut self, pid: Pid) -> SysResult {
        self.kernel_clone(
            pid,
            KernelCloneArgs {
                exit_signal: SIGCHLD,
                ..Default::default()
            },
        )
    }

    /// `vfork()`: CLONE_VFORK | CLONE_VM, exit signal SIGCHLD. The parent sleeps (`D`) until the child execs
    /// or exits.
    pub fn sys_vfork(&mut self, pid: Pid) -> SysResult {
        self.kernel_clone(
            pid,
            KernelCloneArgs {
                flags: CLONE_VFORK | CLONE_VM,
                exit_signal: SIGCHLD,
                ..Default::default()
            },
        )
    }

    /// `clone(flags, newsp, parent_tidptr, child_tidptr, tls)` (x86-64 argument order). The low byte of
    /// `flags` is the exit signal; with CLONE_PIDFD the pidfd goes to `parent_tidptr`.
    pub fn sys_clone(
        &mut self,
        pid: Pid,
        flags: u64,
        _newsp: u64,
        parent_tid: u64,
        child_tid: u64,
        tls: u64,
    ) -> SysResult {
        // The legacy syscall takes an unsigned long but kernel_clone_args.flags only keeps the low 32 bits
        // (lower_32_bits(clone_flags)).
        let flags = flags & CLONE_LEGACY_FLAGS;
        self.kernel_clone(
            pid,
            KernelCloneArgs {
                flags: flags & !CSIGNAL,
                exit_signal: (flags & CSIGNAL) as u32,
                pidfd: parent_tid,
                child_tid,
                parent_tid,
                tls,
            },
        )
    }

    /// `clone3(&args, sizeof(args))` with a full-size (VER2) `struct clone_args`.
    pub fn sys_clone3(&mut self, pid: Pid, args: &CloneArgs) -> SysResult {
        self.clone3_checked(pid, args, CLONE_ARGS_SIZE_VER2)
    }

    /// `clone3(uargs, size)` from the user's bytes (`copy_clone_args_from_user`: E2BIG, EINVAL size checks).
    pub fn sys_clone3_raw(&mut self, pid: Pid, bytes: &[u8]) -> SysResult {
        let args = CloneArgs::from_bytes(bytes)?;
        self.clone3_checked(pid, &args, bytes.len())
    }

    /// The field checks of `copy_clone_args_from_user` and `clone3_args_valid`, then `kernel_clone`.
    fn clone3_checked(&mut self, pid: Pid, a: &CloneArgs, size: usize) -> SysResult {
        // copy_clone_args_from_user
        if a.set_tid_size > MAX_PID_NS_LEVEL {
            return Err(Errno::EINVAL);
        }
        if a.set_tid == 0 && a.set_tid_size > 0 {
            return Err(Errno::EINVAL);
        }
        if a.set_tid != 0 && a.set_tid_size == 0 {
            return Err(Errno::EINVAL);
        }
        // The exit signal must fit CSIGNAL and be a valid signal (0..=64).
        if a.exit_signal & !CSIGNAL != 0 || a.exit_signal > 64 {
            return Err(Errno::EINVAL);
        }
        if a.flags & CLONE_INTO_CGROUP != 0 && (a.cgroup > i32::MAX as u64 || size < CLONE_ARGS_SIZE_VER2) {
            return Err(Errno::EINVAL);
        }
        // clone3_args_valid
        if a.flags & !(CLONE_LEGACY_FLAGS | CLONE_CLEAR_SIGHAND | CLONE_INTO_CGROUP) != 0 {
            return Err(Errno::EINVAL);
        }
        if a.flags & (CLONE_DETACHED | (CSIGNAL & !CLONE_NEWTIME)) != 0 {
            return Err(Errno::EINVAL);
        }
        if a.flags & (CLONE_SIGHAND | CLONE_CLEAR_SIGHAND) == CLONE_SIGHAND | CLONE_CLEAR_SIGHAND {
            return Err(Errno::EINVAL);
        }
        if a.flags & (CLONE_THREAD | CLONE_PARENT) != 0 && a.exit_signal != 0 {
            return Err(Errno::EINVAL);
        }
        // clone3_stack_valid: a stack needs a size and a size needs a stack.
        if (a.stack == 0) != (a.stack_size == 0) {
            return Err(Errno::EINVAL);
        }
        if a.stack != 0
            && a.stack
                .checked_add(a.stack_size)
                .is_none_or(|e| e > self.cfg.arch.task_size_max())
        {
            return Err(Errno::EINVAL); // !access_ok(stack, stack_size)
        }
        // set_tid (choosing the child's PID) needs CAP_SYS_ADMIN and a free PID; the model only checks the
        // permission and then rejects it as Linux rejects a taken PID, since it cannot read the array.
        if a.set_tid_size > 0 {
            let cap = self.task(pid)?.capable(CAP_SYS_ADMIN);
            return Err(if cap { Errno::EEXIST } else { Errno::EPERM });
        }
        self.kernel_clone(
            pid,
            KernelCloneArgs {
                flags: a.flags,
                exit_signal: a.exit_signal as u32,
                pidfd: a.pidfd,
                child_tid: a.child_tid,
                parent_tid: a.parent_tid,
                tls: a.tls,
            },
        )
    }

    /// `kernel_clone` → `copy_process`: checks in Linux's order, then the copy. Returns the child's PID.
    fn kernel_clone(&mut self, pid: Pid, args: KernelCloneArgs) -> SysResult {
        let flags = args.flags;
        // kernel_clone: a legacy CLONE_PIDFD returns the fd through parent_tid, so both cannot point at the
        // same word.
        if flags & CLONE_PIDFD != 0 && flags & CLONE_PARENT_SETTID != 0 && args.pidfd == args.parent_tid {
            return Err(Errno::EINVAL);
        }
        let cur = self.task(pid)?;
        if !cur.is_alive() {
            return Err(Errno::ESRCH);
        }
        // copy_process
        if flags & (CLONE_NEWNS | CLONE_FS) == CLONE_NEWNS | CLONE_FS {
            return Err(Errno::EINVAL);
        }
        if flags & (CLONE_NEWUSER | CLONE_FS) == CLONE_NEWUSER | CLONE_FS {
            return Err(Errno::EINVAL);
        }
        // Thread groups must share signals as well.
        if flags & CLONE_THREAD != 0 && flags & CLONE_SIGHAND == 0 {
            return Err(Errno::EINVAL);
        }
        // Shared signal handlers imply a shared VM.
        if flags & CLONE_SIGHAND != 0 && flags & CLONE_VM == 0 {
            return Err(Errno::EINVAL);
        }
        // Global init (SIGNAL_UNKILLABLE) may not create siblings.
        if flags & CLONE_PARENT != 0 && cur.tgid == INIT_PID {
            return Err(Errno::EINVAL);
        }
        // A thread cannot join a new PID or user namespace.
        if flags & CLONE_THREAD != 0 && flags & (CLONE_NEWUSER | CLONE_NEWPID) != 0 {
            return Err(Errno::EINVAL);
        }
        if flags & CLONE_PIDFD != 0 && flags & CLONE_DETACHED != 0 {
            return Err(Errno::EINVAL);
        }
        // Namespaces other than a user namespace need CAP_SYS_ADMIN (create_new_namespaces, after the
        // credentials are copied).
        // (CLONE_NEWTIME only reaches here from clone3: the legacy call's low byte is the exit signal.)
        let ns =
            CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP | CLONE_NEWTIME;
        // copy_creds → is_rlimit_overlimit(RLIMIT_NPROC): the user's task count including the new one must
        // not exceed the limit, unless the user is root (INIT_USER) or has CAP_SYS_RESOURCE or CAP_SYS_ADMIN.
        let uid = cur.cred.uid;
        let nproc_limit = cur.rlimit(RLIMIT_NPROC);
        let exempt = uid == 0 || cur.capable(CAP_SYS_RESOURCE) || cur.capable(CAP_SYS_ADMIN);
        if !exempt {
            let count = self.tasks.values().filter(|t| t.cred.uid == uid).count() as u64;
            if count + 1 > nproc_limit {
                return Err(Errno::EAGAIN);
            }
        }
        // nr_threads >= max_threads (fork_init: twice the default RLIMIT_NPROC).
        let max_threads = crate::task::default_rlimits(self.cfg.ram_bytes)[RLIMIT_NPROC].cur * 2;
        if self.tasks.len() as u64 >= max_threads.max(20) {
            return Err(Errno::EAGAIN);
        }
        let cur = self.task(pid)?;
        if flags & ns != 0 && !cur.capable(CAP_SYS_ADMIN) {
            return Err(Errno::EPERM);
        }

        // copy_files, copy_fs, copy_sighand: share or copy.
        let files = if flags & CLONE_FILES != 0 {
            cur.files.share()
        } else {
            cur.files.clone()
        };
        let fs = if flags & CLONE_FS != 0 {
            cur.fs.clone()
        } else {
            cur.fs.deep_copy()
        };
        let sighand = if flags & CLONE_SIGHAND != 0 {
            cur.sighand.clone()
        } else {
            let h = cur.sighand.deep_copy();
            if flags & CLONE_CLEAR_SIGHAND != 0 {
                // flush_signal_handlers(p, 0): handlers back to SIG_DFL, ignored signals stay ignored.
                h.with(|h| {
                    for a in h.action.iter_mut() {
                        if a.handler != SigHandler::Ignore {
                            *a = Default::default();
                        }
                    }
                });
            }
            h
        };
        let cur_mm = cur.mm;
        let (cur_tgid, cur_real_parent, cur_exit_signal) = (cur.tgid, cur.real_parent, cur.exit_signal);
        let leader_exit_signal = self.tasks.get(&cur_tgid).map_or(cur_exit_signal, |l| l.exit_signal);

        // copy_mm
        let mm = match cur_mm {
            None => None,
            Some(m) if flags & CLONE_VM != 0 => {
                self.mmget(m);
                Some(m)
            }
            Some(m) => Some(self.dup_mm(pid, m)?),
        };
        // alloc_pid
        let child_pid = match self.alloc_pid() {
            Ok(p) => p,
            Err(e) => {
                if let Some(m) = mm {
                    self.mmput(m);
                }
                return Err(e);
            }
        };
        let cur = self.task(pid)?;
        let mut child: Task = cur.clone();
        child.pid = child_pid;
        child.children = Vec::new();
        child.threads = Vec::new();
        child.mm = mm;
        child.active_mm = mm;
        child.files = files;
        child.fs = fs;
        child.sighand = sighand;
        child.sig_pending = 0;
        child.state = TaskState::Running;
        // copy_process: these flags are the parent's own business; a child has not exec'd yet.
        child.flags = (cur.flags & !(PF_SUPERPRIV | PF_WQ_WORKER | PF_IDLE | PF_NO_SETAFFINITY)) | PF_FORKNOEXEC;
        child.min_flt = 0;
        child.maj_flt = 0;
        child.exit = None;
        child.group_exit = None;
        child.vfork_done = None;
        child.vfork_waiting_for = None;
        child.orphan = false;
        child.stop_report = None;
        child.continue_report = false;
        child.set_child_tid = if flags & CLONE_CHILD_SETTID != 0 {
            args.child_tid
        } else {
            0
        };
        child.clear_child_tid = if flags & CLONE_CHILD_CLEARTID != 0 {
            args.child_tid
        } else {
            0
        };
        if flags & CLONE_SETTLS != 0 {
            child.tls = args.tls;
        }
        child.seq = 0;
        // CLONE_PARENT and CLONE_THREAD: a sibling of the caller, which keeps the leader's exit signal for
        // CLONE_PARENT; otherwise the caller is the parent and the exit signal is the requested one.
        let parent = if flags & (CLONE_PARENT | CLONE_THREAD) != 0 {
            child.exit_signal = if flags & CLONE_THREAD != 0 {
                0
            } else {
                leader_exit_signal
            };
            cur_real_parent
        } else {
            child.exit_signal = args.exit_signal;
            pid
        };
        child.real_parent = parent;
        child.ppid = parent;
        if flags & CLONE_THREAD != 0 {
            child.tgid = cur_tgid;
            child.sig_shared_pending = cur.sig_shared_pending;
        } else {
            child.tgid = child_pid;
            child.threads = vec![child_pid];
            child.sig_shared_pending = 0;
        }
        child.seq = self.next_seq();
        self.tasks.insert(child_pid, child);
        if flags & CLONE_THREAD != 0 {
            if let Some(l) = self.tasks.get_mut(&cur_tgid) {
                l.threads.push(child_pid);
            }
        } else if let Some(p) = self.tasks.get_mut(&parent) {
            p.children.push(child_pid);
        }
        // CLONE_PARENT_SETTID: the parent's word gets the child's TID (errors ignored, as put_user's are);
        // CLONE_CHILD_SETTID: the child writes its TID in its own memory when it first runs (schedule_tail).
        if flags & CLONE_PARENT_SETTID != 0 {
            let _ = self.copy_to_user(pid, args.parent_tid, &child_pid.0.to_le_bytes());
        }
        if flags & CLONE_CHILD_SETTID != 0 && args.child_tid != 0 {
            let _ = self.copy_to_user(child_pid, args.child_tid, &child_pid.0.to_le_bytes());
        }
        if flags & CLONE_VFORK != 0 {
            // wait_for_vfork_done: TASK_KILLABLE, shown as D.
            if let Some(c) = self.tasks.get_mut(&child_pid) {
                c.vfork_done = Some(pid);
            }
            if let Some(p) = self.tasks.get_mut(&pid) {
                p.vfork_waiting_for = Some(child_pid);
                p.state = TaskState::DiskSleep;
            }
        }
        Ok(u64::from(child_pid.0))
    }
}
