//! Tasks (`struct task_struct`, `include/linux/sched.h`): identity and family (pid, tgid, parent, children,
//! threads), state, credentials, rlimits, signal state, the descriptor table, fs_struct and the address space
//! they run in. Creation is `kernel/fork.rs`, the end `kernel/exit.rs`, signals `kernel/signal.rs`.

use crate::fs::FdTable;
use crate::mm::MmId;
use crate::uapi::*;

/// A process or thread id.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Pid(pub u32);

impl std::fmt::Display for Pid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One resource limit (`struct rlimit`); `u64::MAX` is `RLIM_INFINITY`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Rlimit {
    pub cur: u64,
    pub max: u64,
}

impl Rlimit {
    pub const INFINITY: Rlimit = Rlimit {
        cur: RLIM_INFINITY,
        max: RLIM_INFINITY,
    };
    pub const fn new(cur: u64, max: u64) -> Rlimit {
        Rlimit { cur, max }
    }
}

/// Linux's default limits for init (`include/asm-generic/resource.h INIT_RLIMITS`), with the NPROC and
/// SIGPENDING values `fork_init` derives from RAM (`max_threads / 2`).
pub fn default_rlimits(ram_bytes: u64) -> [Rlimit; RLIM_NLIMITS] {
    // fork_init: max_threads = totalram_pages / (8 * THREAD_SIZE / PAGE_SIZE), THREAD_SIZE = 16 KiB.
    let nproc = (ram_bytes / 4096) / 32 / 2;
    let inf = Rlimit::INFINITY;
    [
        inf,                                 // CPU
        inf,                                 // FSIZE
        inf,                                 // DATA
        Rlimit::new(8 << 20, RLIM_INFINITY), // STACK (_STK_LIM)
        Rlimit::new(0, RLIM_INFINITY),       // CORE
        inf,                                 // RSS
        Rlimit::new(nproc, nproc),           // NPROC
        Rlimit::new(1024, 4096),             // NOFILE (INR_OPEN_CUR, INR_OPEN_MAX)
        Rlimit::new(8 << 20, 8 << 20),       // MEMLOCK (MLOCK_LIMIT)
        inf,                                 // AS
        inf,                                 // LOCKS
        Rlimit::new(nproc, nproc),           // SIGPENDING
        Rlimit::new(819_200, 819_200),       // MSGQUEUE (MQ_BYTES_MAX)
        Rlimit::new(0, 0),                   // NICE
        Rlimit::new(0, 0),                   // RTPRIO
        inf,                                 // RTTIME
    ]
}

/// Capability bits memory management cares about (`include/uapi/linux/capability.h`).
pub const CAP_IPC_LOCK: u32 = 14;
pub const CAP_SYS_RAWIO: u32 = 17;
pub const CAP_SYS_ADMIN: u32 = 21;
pub const CAP_SYS_RESOURCE: u32 = 24;
/// All 41 capabilities of Linux 6.18 (`CAP_LAST_CAP` = 40).
pub const CAP_FULL_SET: u64 = (1 << 41) - 1;

/// Credentials (`struct cred`): the four uid and gid sets `/proc/PID/status` prints (real, effective, saved,
/// filesystem), supplementary groups, and the five capability sets.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Cred {
    pub uid: u32,
    pub gid: u32,
    pub suid: u32,
    pub sgid: u32,
    pub euid: u32,
    pub egid: u32,
    pub fsuid: u32,
    pub fsgid: u32,
    /// Supplementary groups (`group_info`), sorted.
    pub groups: Vec<u32>,
    /// `cap_inheritable`.
    pub cap_inheritable: u64,
    /// `cap_permitted`.
    pub cap_permitted: u64,
    /// Effective capability set.
    pub cap_effective: u64,
    /// `cap_bset`: the bounding set.
    pub cap_bset: u64,
    /// `cap_ambient`.
    pub cap_ambient: u64,
}

impl Cred {
    /// root with every capability, or an ordinary user with none (both with the full bounding set, as a
    /// login shell has them).
    pub fn for_uid(uid: u32) -> Cred {
        let caps = if uid == 0 { CAP_FULL_SET } else { 0 };
        Cred {
            uid,
            gid: uid,
            suid: uid,
            sgid: uid,
            euid: uid,
            egid: uid,
            fsuid: uid,
            fsgid: uid,
            groups: Vec::new(),
            cap_inheritable: 0,
            cap_permitted: caps,
            cap_effective: caps,
            cap_bset: CAP_FULL_SET,
            cap_ambient: 0,
        }
    }
    /// `init_cred` (`kernel/cred.c`): the credentials of kernel threads: root, every capability.
    pub fn kernel() -> Cred {
        Cred::for_uid(0)
    }
    /// `capable(cap)`.
    pub fn capable(&self, cap: u32) -> bool {
        cap < 64 && self.cap_effective & (1 << cap) != 0
    }
}

/// Task states as `/proc` shows them (`task_state_array` in `fs/proc/array.c`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TaskState {
    /// `R (running)`
    Running,
    /// `S (sleeping)`: interruptible (a vfork parent waiting in `wait_for_vfork_done` is killable, shown D
    /// by Linux; see [`TaskState::DiskSleep`]).
    Sleeping,
    /// `D (disk sleep)`: uninterruptible (`TASK_UNINTERRUPTIBLE`, also `TASK_KILLABLE`).
    DiskSleep,
    /// `T (stopped)`
    Stopped,
    /// `Z (zombie)`
    Zombie,
    /// `X (dead)`
    Dead,
    /// `I (idle)`: `TASK_IDLE`, an idle kernel worker (ps shows `I`).
    Idle,
}

impl TaskState {
    /// The letter of `/proc/PID/stat` and `ps` (`task_state_array`).
    pub fn letter(self) -> char {
        match self {
            TaskState::Running => 'R',
            TaskState::Sleeping => 'S',
            TaskState::DiskSleep => 'D',
            TaskState::Stopped => 'T',
            TaskState::Zombie => 'Z',
            TaskState::Dead => 'X',
            TaskState::Idle => 'I',
        }
    }
    /// The `State:` text of `/proc/PID/status`.
    pub fn name(self) -> &'static str {
        match self {
            TaskState::Running => "R (running)",
            TaskState::Sleeping => "S (sleeping)",
            TaskState::DiskSleep => "D (disk sleep)",
            TaskState::Stopped => "T (stopped)",
            TaskState::Zombie => "Z (zombie)",
            TaskState::Dead => "X (dead)",
            TaskState::Idle => "I (idle)",
        }
    }
}

/// `PF_*` task flags (`include/linux/sched.h`).
pub const PF_IDLE: u32 = 0x0000_0002;
pub const PF_EXITING: u32 = 0x0000_0004;
pub const PF_WQ_WORKER: u32 = 0x0000_0020;
pub const PF_FORKNOEXEC: u32 = 0x0000_0040;
pub const PF_SUPERPRIV: u32 = 0x0000_0100;
pub const PF_SIGNALED: u32 = 0x0000_0400;
pub const PF_NOFREEZE: u32 = 0x0000_8000;
pub const PF_KTHREAD: u32 = 0x0020_0000;
pub const PF_RANDOMIZE: u32 = 0x0040_0000;
pub const PF_NO_SETAFFINITY: u32 = 0x0400_0000;

/// A set of signals, bit `n - 1` for signal `n` (`sigset_t`, as `/proc/PID/status` prints it in hex).
pub type SigSet = u64;

/// The bit of signal `sig` in a [`SigSet`] (`sigmask`); 0 for a number outside 1..=64.
#[inline]
pub const fn sigmask(sig: u32) -> SigSet {
    if sig >= 1 && sig <= 64 {
        1 << (sig - 1)
    } else {
        0
    }
}

/// What a signal does when it arrives (`sa_handler`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum SigHandler {
    /// `SIG_DFL`: the default action of the signal ([`crate::kernel::signal::default_action`]).
    #[default]
    Default,
    /// `SIG_IGN`.
    Ignore,
    /// A user handler at this address.
    Handler(u64),
}

/// `struct k_sigaction`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct SigAction {
    pub handler: SigHandler,
    pub flags: u64,
    pub mask: SigSet,
}

/// `struct sighand_struct`: the 64 actions, shared by CLONE_SIGHAND (and so by every thread of a group).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SigHand {
    pub action: [SigAction; 64],
}

impl Default for SigHand {
    fn default() -> Self {
        SigHand {
            action: [SigAction::default(); 64],
        }
    }
}

impl SigHand {
    /// The action of signal `sig` (1..=64).
    pub fn get(&self, sig: u32) -> SigAction {
        if (1..=64).contains(&sig) {
            self.action[sig as usize - 1]
        } else {
            SigAction::default()
        }
    }
    /// `SigIgn:` of `/proc/PID/status` (`collect_sigign_sigcatch`).
    pub fn ignored(&self) -> SigSet {
        self.mask_of(|h| h == SigHandler::Ignore)
    }
    /// `SigCgt:`.
    pub fn caught(&self) -> SigSet {
        self.mask_of(|h| matches!(h, SigHandler::Handler(_)))
    }
    fn mask_of(&self, f: impl Fn(SigHandler) -> bool) -> SigSet {
        let mut m = 0;
        for (i, a) in self.action.iter().enumerate() {
            if f(a.handler) {
                m |= 1 << i;
            }
        }
        m
    }
}

/// A handle on a structure that `clone` can share between tasks (`sighand_struct`, `fs_struct`): cloning the
/// handle shares it; [`Shared::deep_copy`] is what a fork without the CLONE_* flag does.
#[derive(Debug, Default)]
pub struct Shared<T>(std::sync::Arc<std::sync::Mutex<T>>);

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared(self.0.clone())
    }
}

impl<T: Clone> Shared<T> {
    pub fn new(v: T) -> Self {
        Shared(std::sync::Arc::new(std::sync::Mutex::new(v)))
    }
    /// A copy of the value (never poisoned: the model does not unwind while holding it).
    pub fn get(&self) -> T {
        self.with(|v| v.clone())
    }
    /// Run `f` on the shared value.
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut g)
    }
    /// A new, unshared copy (`dup_fd`, `copy_fs_struct`, the sighand copy in `copy_sighand`).
    pub fn deep_copy(&self) -> Self {
        Shared::new(self.get())
    }
    /// How many tasks share it (`refcount` of the structure: `files->count`, `fs->users`, `sighand->count`).
    pub fn users(&self) -> usize {
        std::sync::Arc::strong_count(&self.0)
    }
    /// The same structure (`p->sighand == q->sighand`).
    pub fn ptr_eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

/// `struct fs_struct`: what CLONE_FS shares (the model keeps the umask and the working directory).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct FsStruct {
    pub umask: u32,
    pub cwd: String,
}

impl Default for FsStruct {
    fn default() -> Self {
        FsStruct {
            umask: 0o022,
            cwd: "/".to_string(),
        }
    }
}

/// How a task ended (the wait status it leaves).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ExitStatus {
    Exited(i32),
    Killed { signo: u32, core_dumped: bool },
}

/// `struct task_struct`.
#[derive(Clone, Debug)]
pub struct Task {
    pub pid: Pid,
    /// Thread-group id: the pid of the group leader (`getpid()`).
    pub tgid: Pid,
    /// `parent`: who gets SIGCHLD and can wait (the same as `real_parent` unless ptraced).
    pub ppid: Pid,
    /// `real_parent`: the creator, or the reaper after reparenting (CLONE_PARENT: the creator's parent).
    pub real_parent: Pid,
    /// `children`, in creation order (`list_add_tail` in `copy_process`). Threads are not children of
    /// their creator: they are listed in their leader's `threads`.
    pub children: Vec<Pid>,
    /// `signal->thread_head` of a group leader: every thread of the group, the leader first, in creation
    /// order (empty for a non-leader).
    pub threads: Vec<Pid>,
    /// `exit_signal`: the signal sent to the parent at exit (SIGCHLD for fork, 0 for threads; -1 in Linux
    /// for a non-leader thread, which never notifies).
    pub exit_signal: u32,
    /// `active_mm`: the mm whose page tables are loaded; a kernel thread borrows the previous task's (lazy
    /// TLB) and has `mm == None`.
    pub active_mm: Option<MmId>,
    /// `personality` (`ADDR_NO_RANDOMIZE` 0x0040000, ...).
    pub personality: u32,
    /// `comm`, at most 15 bytes.
    pub comm: String,
    pub state: TaskState,
    pub mm: Option<MmId>,
    /// `files_struct`: cloning the table handle shares it (CLONE_FILES); fork deep-copies it (`dup_fd`).
    pub files: FdTable,
    /// `fs_struct` (CLONE_FS shares it).
    pub fs: Shared<FsStruct>,
    /// `sighand_struct` (CLONE_SIGHAND shares it).
    pub sighand: Shared<SigHand>,
    /// `pending`: signals sent to this thread and not yet delivered.
    pub sig_pending: SigSet,
    /// `signal->shared_pending`: signals sent to the thread group (`ShdPnd:`).
    pub sig_shared_pending: SigSet,
    /// `blocked`: the signal mask.
    pub sig_blocked: SigSet,
    pub rlimits: [Rlimit; RLIM_NLIMITS],
    pub cred: Cred,
    /// `PF_*` flags ([`PF_KTHREAD`], [`PF_RANDOMIZE`], [`PF_FORKNOEXEC`], ...).
    pub flags: u32,
    pub min_flt: u64,
    pub maj_flt: u64,
    /// How the task ended: `Some` once it has exited (a zombie until reaped). `exit_code` in Linux.
    pub exit: Option<ExitStatus>,
    /// `signal->group_exit_code` set by `exit_group` or a fatal signal: every thread of the group dies with it.
    pub group_exit: Option<ExitStatus>,
    /// `vfork_done`: set in a CLONE_VFORK child until it execs or exits (`mm_release` completes it); the
    /// value is the parent waiting for it.
    pub vfork_done: Option<Pid>,
    /// A CLONE_VFORK parent waiting for this child (`wait_for_vfork_done`); cleared by `complete_vfork_done`.
    pub vfork_waiting_for: Option<Pid>,
    /// `set_child_tid` / `clear_child_tid` (CLONE_CHILD_SETTID / CLONE_CHILD_CLEARTID).
    pub set_child_tid: u64,
    pub clear_child_tid: u64,
    /// The TLS value given with CLONE_SETTLS (`fsbase`).
    pub tls: u64,
    /// The creation sequence number: `for_each_process` order.
    pub seq: u64,
    /// Process group and session (`task_pgrp`, `task_session`), inherited at fork.
    pub pgid: Pid,
    pub sid: Pid,
    /// Reparented to init because its parent died: init reaps it as soon as it is a zombie (the model's init
    /// has no code of its own; a real init reaps its adopted children from its SIGCHLD handler).
    pub orphan: bool,
    /// A group stop by this signal not yet reported to a `WUNTRACED`/`WSTOPPED` wait (`SIGNAL_STOP_STOPPED`
    /// with the exit code `task_stopped_code` reads).
    pub stop_report: Option<u32>,
    /// Continued by SIGCONT and not yet reported to a `WCONTINUED` wait (`SIGNAL_STOP_CONTINUED`).
    pub continue_report: bool,
    /// The nice value (-20..=19; `/proc/PID/stat` field 19, `ps` shows `<` below 0). Inherited at fork.
    pub nice: i32,
}

impl Task {
    /// The soft limit of a resource.
    #[inline]
    pub fn rlimit(&self, res: usize) -> u64 {
        self.rlimits[res].cur
    }
    /// `capable()` against this task's credentials.
    #[inline]
    pub fn capable(&self, cap: u32) -> bool {
        self.cred.capable(cap)
    }
    /// Not yet exited (`exit_state == 0`).
    pub fn is_alive(&self) -> bool {
        self.exit.is_none()
    }
    /// The state letter `ps` and `/proc/PID/stat` show.
    pub fn state_char(&self) -> char {
        self.state.letter()
    }
    /// `thread_group_leader(p)`.
    pub fn is_group_leader(&self) -> bool {
        self.pid == self.tgid
    }
    /// A kernel thread (`PF_KTHREAD`).
    pub fn is_kthread(&self) -> bool {
        self.flags & PF_KTHREAD != 0
    }
    /// A task with blank everything but identity: the fields `copy_process` and `Kernel::new` fill.
    pub fn blank(pid: Pid, comm: &str, rlimits: [Rlimit; RLIM_NLIMITS], cred: Cred) -> Task {
        Task {
            pid,
            tgid: pid,
            ppid: Pid(0),
            real_parent: Pid(0),
            children: Vec::new(),
            threads: vec![pid],
            exit_signal: SIGCHLD,
            active_mm: None,
            personality: 0,
            comm: comm.to_string(),
            state: TaskState::Running,
            mm: None,
            files: FdTable::default(),
            fs: Shared::new(FsStruct::default()),
            sighand: Shared::new(SigHand::default()),
            sig_pending: 0,
            sig_shared_pending: 0,
            sig_blocked: 0,
            rlimits,
            cred,
            flags: 0,
            min_flt: 0,
            maj_flt: 0,
            exit: None,
            group_exit: None,
            vfork_done: None,
            vfork_waiting_for: None,
            set_child_tid: 0,
            clear_child_tid: 0,
            tls: 0,
            seq: 0,
            pgid: pid,
            sid: pid,
            orphan: false,
            stop_report: None,
            continue_report: false,
            nice: 0,
        }
    }
}
