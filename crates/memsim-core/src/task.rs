//! Tasks (`struct task_struct`, `include/linux/sched.h`): identity, credentials, rlimits, the descriptor
//! table and the address space they run in. Issue-2 scope: the fields memory management reads; fork, exec,
//! exit and wait build on this.

use crate::fs::FdTable;
use crate::mm::MmId;
use crate::uapi::*;

/// A process or thread id.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
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

/// Credentials (`struct cred`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Cred {
    pub uid: u32,
    pub gid: u32,
    pub euid: u32,
    pub egid: u32,
    /// Effective capability set.
    pub cap_effective: u64,
}

impl Cred {
    /// root with every capability, or an ordinary user with none.
    pub fn for_uid(uid: u32) -> Cred {
        Cred {
            uid,
            gid: uid,
            euid: uid,
            egid: uid,
            cap_effective: if uid == 0 { CAP_FULL_SET } else { 0 },
        }
    }
    /// `capable(cap)`.
    pub fn capable(&self, cap: u32) -> bool {
        self.cap_effective & (1 << cap) != 0
    }
}

/// Task states as `/proc` shows them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TaskState {
    Running,
    Sleeping,
    Stopped,
    Zombie,
    Dead,
}

/// How a task ended (the wait status it leaves).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ExitStatus {
    Exited(i32),
    Killed { signo: u32, core_dumped: bool },
}

/// `struct task_struct`, the parts memory management needs.
#[derive(Clone, Debug)]
pub struct Task {
    pub pid: Pid,
    pub tgid: Pid,
    /// `parent`: who gets SIGCHLD and can wait (the same as `real_parent` unless ptraced).
    pub ppid: Pid,
    /// `real_parent`: the creator, or the reaper after reparenting (CLONE_PARENT: the creator's parent).
    pub real_parent: Pid,
    /// `children`, in creation order (`list_add_tail` in `copy_process`).
    pub children: Vec<Pid>,
    /// `exit_signal`: the signal sent to the parent at exit (SIGCHLD for fork, 0 for threads).
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
    pub files: FdTable,
    pub rlimits: [Rlimit; RLIM_NLIMITS],
    pub cred: Cred,
    /// `PF_*` flags (`PF_RANDOMIZE` 0x400000, `PF_FORKNOEXEC` 0x40).
    pub flags: u32,
    pub min_flt: u64,
    pub maj_flt: u64,
    pub exit: Option<ExitStatus>,
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
    pub fn is_alive(&self) -> bool {
        self.exit.is_none()
    }
}
