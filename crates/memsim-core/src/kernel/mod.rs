//! The simulated machine: configuration (sysctls, RAM, architecture), physical memory, the page cache, the
//! task list and the address spaces. System calls are `impl Kernel` blocks in the module of the kernel file
//! they mirror (`mm/mmap.rs` has `sys_mmap`, `fs/open.rs` has `sys_openat`, ...).

pub mod exec_domain;
pub mod exit;
pub mod fork;
pub mod pid;
pub mod signal;
pub mod sys;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::arch::Arch;
use crate::errno::Errno;
use crate::filemap::PageCache;
use crate::fs::{FileSource, Inode, InodeId};
use crate::mm::vma::VmFlags;
use crate::mm::{Mm, MmId};
use crate::phys::PhysMem;
use crate::task::{
    default_rlimits, Cred, Pid, Rlimit, Task, TaskState, CAP_IPC_LOCK, CAP_SYS_ADMIN, PF_FORKNOEXEC, PF_KTHREAD,
    PF_NOFREEZE, PF_NO_SETAFFINITY, PF_WQ_WORKER,
};
use crate::uapi::*;

/// `vm.overcommit_memory`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum OvercommitMode {
    /// 0: heuristic; a single request larger than RAM + swap fails.
    #[default]
    Guess,
    /// 1: always succeed.
    Always,
    /// 2: strict accounting against CommitLimit.
    Never,
}

impl std::str::FromStr for OvercommitMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "0" => Ok(OvercommitMode::Guess),
            "1" => Ok(OvercommitMode::Always),
            "2" => Ok(OvercommitMode::Never),
            _ => Err(format!("invalid overcommit mode `{s}` (expected 0, 1 or 2)")),
        }
    }
}

/// Machine configuration: everything a sysctl or boot parameter would set.
#[derive(Clone, Debug)]
pub struct KernelConfig {
    pub arch: Arch,
    /// Simulated RAM in bytes (`--ram`, default 8 GiB).
    pub ram_bytes: u64,
    pub overcommit: OvercommitMode,
    /// `vm.overcommit_ratio` (50).
    pub overcommit_ratio: u64,
    /// `vm.overcommit_kbytes` (0).
    pub overcommit_kbytes: u64,
    /// `vm.admin_reserve_kbytes` (8 MiB).
    pub admin_reserve_kbytes: u64,
    /// `vm.user_reserve_kbytes` (128 MiB).
    pub user_reserve_kbytes: u64,
    /// Swap pages available (no swap device by default).
    pub total_swap_pages: u64,
    /// `vm.max_map_count` (65530).
    pub max_map_count: usize,
    /// `vm.mmap_min_addr` (4096).
    pub mmap_min_addr: u64,
    /// `CONFIG_LSM_MMAP_MIN_ADDR` (65536): hints are rounded up to it.
    pub lsm_mmap_min_addr: u64,
    /// `stack_guard_gap` in bytes (256 pages).
    pub stack_guard_gap: u64,
    /// `kernel.randomize_va_space` (0, 1, 2).
    pub randomize_va_space: u32,
    /// `vm.legacy_va_layout`.
    pub legacy_va_layout: bool,
    /// Credentials of the first process.
    pub uid: u32,
    /// Seed of the kernel's random generator (`--seed`): ASLR offsets and AT_RANDOM bytes (`random.rs`).
    pub seed: u64,
    /// `ELF_HWCAP` (CPUID 1 EDX) for AT_HWCAP; default: the reference machine's value.
    pub hwcap: u64,
    /// `ELF_HWCAP2` for AT_HWCAP2 (bit 1: FSGSBASE).
    pub hwcap2: u64,
    /// `get_sigframe_size()` for AT_MINSIGSTKSZ (depends on the CPU's xstate size).
    pub minsigstksz: u64,
    /// `ELF_PLATFORM` for AT_PLATFORM (`utsname()->machine`).
    pub platform: String,
    /// `kernel.pid_max` (this machine's `/proc/sys/kernel/pid_max` is 32768, the default for fewer than 32
    /// CPUs: `PID_MAX_DEFAULT`).
    pub pid_max: u32,
    /// `fs.nr_open` (1048576): the ceiling of RLIMIT_NOFILE.
    pub nr_open: u64,
    /// Which `[vvar_vclock]` pages exist (`vvar_vclock_fault`): the paravirtual clock page (a KVM guest's
    /// kvm-clock, as on this machine) and the Hyper-V clock page. A missing one raises SIGBUS when read.
    pub vdso_vclock_pages: [bool; 2],
    /// The device of the kernel's internal hugetlbfs mount (`hugetlbfs_vfsmount`), shown for `/anon_hugepage`
    /// mappings: an anonymous device number given out at boot, `00:11` on this machine's kernel.
    pub hugetlbfs_dev: (u32, u32),
    /// The bytes of the vDSO image (`vdso64_image.data`), e.g. the host's own, read by the CLI from its
    /// `[vdso]`; without one the model's vDSO pages are zeros.
    pub vdso_image: Option<crate::arch::vdso::VdsoImage>,
}

impl Default for KernelConfig {
    fn default() -> Self {
        KernelConfig {
            arch: Arch::X86_64,
            ram_bytes: 8 << 30,
            overcommit: OvercommitMode::Guess,
            overcommit_ratio: 50,
            overcommit_kbytes: 0,
            admin_reserve_kbytes: 8192,
            user_reserve_kbytes: 131072,
            total_swap_pages: 0,
            max_map_count: 65530,
            mmap_min_addr: 4096,
            lsm_mmap_min_addr: 65536,
            stack_guard_gap: 256 << 12,
            randomize_va_space: 0,
            legacy_va_layout: false,
            uid: 0,
            seed: 0,
            hwcap: 0x178b_fbff,
            hwcap2: 0x2,
            minsigstksz: 3376,
            platform: "x86_64".to_string(),
            pid_max: pid::PID_MAX_DEFAULT,
            nr_open: 1 << 20,
            vdso_vclock_pages: [true, false],
            hugetlbfs_dev: (0, 0x11),
            vdso_image: None,
        }
    }
}

impl KernelConfig {
    /// `totalram_pages()`.
    pub fn totalram_pages(&self) -> u64 {
        self.ram_bytes >> 12
    }
}

/// How a memory access touches a page: the access kinds of Valgrind Lackey (`I`, `L`, `S`; `M` is a load then
/// a store).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum AccessKind {
    Read,
    Write,
    Exec,
}

/// A synchronous signal raised by an access (`struct kernel_siginfo`, the fields strace prints).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SigInfo {
    pub signo: u32,
    pub code: u32,
    pub addr: u64,
}

/// The simulated kernel.
pub struct Kernel {
    pub cfg: KernelConfig,
    pub phys: PhysMem,
    pub page_cache: PageCache,
    pub tasks: BTreeMap<Pid, Task>,
    pub mms: BTreeMap<MmId, Mm>,
    /// Inodes known to the model, by (dev, ino) for host files; shmem inodes by their own numbers.
    pub inodes: BTreeMap<(u32, u32, u64), Arc<Inode>>,
    /// `vm_committed_as` in pages.
    pub committed_pages: i64,
    pub fs: Box<dyn FileSource>,
    /// The seeded stand-in for the kernel's entropy pool (`random.rs`).
    pub rng: crate::random::KernelRng,
    /// Why the last failed execve of each task failed (`fs/exec.rs`: `Kernel::last_exec_error`).
    pub(crate) exec_errors: BTreeMap<Pid, String>,
    next_mm: u64,
    pub(crate) next_inode: u64,
    pub(crate) next_file: u64,
    pub(crate) next_anon_vma: u64,
    /// Inode numbers for shmem objects on dev 00:01.
    pub(crate) next_shmem_ino: u64,
    /// `pid_namespace->pid_allocated` cursor: the last pid handed out (`alloc_pid` starts after it).
    pub(crate) last_pid: u32,
    /// Creation counter: `Task::seq`, the order of `for_each_process`.
    pub(crate) next_task_seq: u64,
    /// `anon_vma->parent` for anon_vmas created by `anon_vma_fork`: a page of an ancestor's anon_vma may be
    /// mapped by a VMA of a descendant's (the rmap chain).
    pub anon_vma_parent: BTreeMap<crate::mm::vma::AnonVmaId, crate::mm::vma::AnonVmaId>,
}

impl std::fmt::Debug for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kernel")
            .field("cfg", &self.cfg)
            .field("tasks", &self.tasks.len())
            .finish()
    }
}

/// PID 1's PID.
pub const INIT_PID: Pid = Pid(1);
/// kthreadd's PID.
pub const KTHREADD_PID: Pid = Pid(2);

/// The workers kthreadd starts at boot, named and ordered as `ps -eo pid,ppid,stat,comm` shows them on this
/// machine (Linux 6.18: PIDs 3..=8; worker PIDs the real boot used and freed are not modelled, so
/// `kworker/0:0` follows directly).
pub const KTHREAD_WORKERS: &[(&str, TaskState)] = &[
    ("pool_workqueue_release", TaskState::Sleeping),
    ("kworker/R-rcu_gp", TaskState::Idle),
    ("kworker/R-sync_wq", TaskState::Idle),
    ("kworker/R-kvfree_rcu_reclaim", TaskState::Idle),
    ("kworker/R-slub_flushwq", TaskState::Idle),
    ("kworker/R-netns", TaskState::Idle),
    ("kworker/0:0", TaskState::Idle),
    ("kworker/0:0H-kblockd", TaskState::Idle),
];

impl Kernel {
    /// A machine with PID 1 (`init`, an empty address space, Linux's default rlimits, the credentials of
    /// `cfg.uid`) and the kernel threads: `kthreadd` (PID 2) and a few workers it started, as `ps` shows them
    /// on this machine. The first process forked afterwards gets the next PID.
    pub fn new(cfg: KernelConfig, fs: Box<dyn FileSource>) -> Kernel {
        let phys = PhysMem::new(cfg.totalram_pages());
        let mut k = Kernel {
            phys,
            page_cache: PageCache::default(),
            tasks: BTreeMap::new(),
            mms: BTreeMap::new(),
            inodes: BTreeMap::new(),
            committed_pages: 0,
            fs,
            rng: crate::random::KernelRng::new(cfg.seed),
            exec_errors: BTreeMap::new(),
            next_mm: 1,
            next_inode: 1,
            next_file: 1,
            next_anon_vma: 1,
            next_shmem_ino: 1024,
            last_pid: 0,
            next_task_seq: 0,
            anon_vma_parent: BTreeMap::new(),
            cfg,
        };
        let mm = k.new_mm();
        let rlimits = default_rlimits(k.cfg.ram_bytes);
        // init/main.c: rest_init → user_mode_thread(kernel_init) gets PID 1.
        let pid = k.alloc_pid().expect("PID 1 is free");
        debug_assert_eq!(pid, INIT_PID);
        let mut init = Task::blank(pid, "init", rlimits, Cred::for_uid(k.cfg.uid));
        init.mm = Some(mm);
        init.active_mm = Some(mm);
        init.seq = k.next_seq();
        k.tasks.insert(INIT_PID, init);
        k.start_kthreads(rlimits);
        k
    }

    /// The next creation sequence number.
    pub(crate) fn next_seq(&mut self) -> u64 {
        self.next_task_seq += 1;
        self.next_task_seq
    }

    /// `rest_init` → `kernel_thread(kthreadd)` (PID 2, parent 0), then workers `kthreadd` creates
    /// (`kthread_create` → `create_kthread`): each a child of kthreadd, `PF_KTHREAD`, no `mm`, every signal
    /// ignored (`ignore_signals`), root credentials (`init_cred`). They borrow `active_mm` (lazy TLB): the
    /// model lends them init's mm, taking an `mm_count` reference (`mmgrab`) as `context_switch` does.
    fn start_kthreads(&mut self, rlimits: [Rlimit; RLIM_NLIMITS]) {
        let borrowed = self.tasks.get(&INIT_PID).and_then(|t| t.mm);
        let spawn = |k: &mut Kernel, comm: &str, parent: Pid, state: TaskState| -> Option<Pid> {
            let pid = k.alloc_pid().ok()?;
            let mut t = Task::blank(pid, comm, rlimits, Cred::kernel());
            // As /proc/N/stat shows them here: kthreadd and plain kthreads 0x208040, workqueue workers
            // 0x4208060 (PF_WQ_WORKER | PF_NO_SETAFFINITY), the rescuer and high-priority ones at nice -20.
            t.flags = PF_KTHREAD | PF_NOFREEZE | PF_FORKNOEXEC;
            if comm.starts_with("kworker/") {
                t.flags |= PF_WQ_WORKER | PF_NO_SETAFFINITY;
                if comm.starts_with("kworker/R-") || comm.contains("H-") {
                    t.nice = -20;
                }
            }
            t.state = state;
            t.ppid = parent;
            t.real_parent = parent;
            // kthreadd is started without an exit signal; create_kthread passes SIGCHLD.
            t.exit_signal = if parent == Pid(0) { 0 } else { SIGCHLD };
            t.pgid = Pid(0);
            t.sid = Pid(0);
            t.active_mm = borrowed;
            t.sighand.with(|h| {
                for a in h.action.iter_mut() {
                    a.handler = crate::task::SigHandler::Ignore;
                }
            });
            t.seq = k.next_seq();
            if let Some(mm) = borrowed.and_then(|m| k.mms.get_mut(&m)) {
                mm.mm_count += 1; // mmgrab for the lazy-TLB borrow
            }
            k.tasks.insert(pid, t);
            if let Some(p) = k.tasks.get_mut(&parent) {
                p.children.push(pid);
            }
            Some(pid)
        };
        let Some(kthreadd) = spawn(self, "kthreadd", Pid(0), TaskState::Sleeping) else {
            return;
        };
        debug_assert_eq!(kthreadd, KTHREADD_PID);
        for (comm, state) in KTHREAD_WORKERS {
            spawn(self, comm, kthreadd, *state);
        }
    }

    /// Every process (thread-group leader), in creation order (`for_each_process`). Kernel threads are
    /// processes too, as in Linux; zombies are included until reaped.
    pub fn for_each_process(&self) -> impl Iterator<Item = &Task> + '_ {
        let mut v: Vec<&Task> = self.tasks.values().filter(|t| t.is_group_leader()).collect();
        v.sort_by_key(|t| t.seq);
        v.into_iter()
    }

    /// The threads of `pid`'s thread group, the leader first, in creation order (`for_each_thread`).
    pub fn threads_of(&self, pid: Pid) -> impl Iterator<Item = &Task> + '_ {
        let leader = self.tasks.get(&pid).map(|t| t.tgid);
        let list: Vec<Pid> = leader
            .and_then(|l| self.tasks.get(&l))
            .map(|l| l.threads.clone())
            .unwrap_or_default();
        list.into_iter().filter_map(move |p| self.tasks.get(&p))
    }

    /// A user process (not a kernel thread) with this PID exists: what a strace PID can name.
    pub fn is_user_task(&self, pid: Pid) -> bool {
        self.tasks.get(&pid).is_some_and(|t| !t.is_kthread())
    }

    /// Create an empty address space with `arch_pick_mmap_layout` applied for the current RLIMIT_STACK default
    /// (8 MiB) and no randomization.
    pub fn new_mm(&mut self) -> MmId {
        let id = self.alloc_mm_id();
        let arch = self.cfg.arch;
        let base = self.mmap_base(8 << 20, 0);
        let mut mm = Mm::new(id, arch.task_size_max(), base, arch.legacy_mmap_base());
        mm.legacy_layout = self.cfg.legacy_va_layout;
        self.mms.insert(id, mm);
        id
    }

    /// A fresh address-space identity.
    pub(crate) fn alloc_mm_id(&mut self) -> MmId {
        let id = MmId(self.next_mm);
        self.next_mm += 1;
        id
    }

    /// `mmap_base()` of `arch/x86/mm/mmap.c` for a given RLIMIT_STACK and random offset (in pages).
    pub fn mmap_base(&self, rlim_stack_cur: u64, rnd_pages: u64) -> u64 {
        let arch = self.cfg.arch;
        let task_size = arch.default_map_window();
        let pad = self.cfg.stack_guard_gap; // + stack_maxrandom_size with PF_RANDOMIZE
        let gap = rlim_stack_cur.checked_add(pad).unwrap_or(rlim_stack_cur);
        let gap_min: u64 = 128 << 20;
        let gap_max = task_size / 6 * 5;
        let gap = gap.clamp(gap_min, gap_max);
        crate::addr::page_align(task_size - gap - (rnd_pages << 12))
    }

    /// The task with this pid, or ESRCH.
    pub fn task(&self, pid: Pid) -> Result<&Task, Errno> {
        self.tasks.get(&pid).ok_or(Errno::ESRCH)
    }

    pub fn task_mut(&mut self, pid: Pid) -> Result<&mut Task, Errno> {
        self.tasks.get_mut(&pid).ok_or(Errno::ESRCH)
    }

    /// The address space of a live task, or ESRCH.
    pub fn mm_id(&self, pid: Pid) -> Result<MmId, Errno> {
        let t = self.task(pid)?;
        if !t.is_alive() {
            return Err(Errno::ESRCH);
        }
        t.mm.ok_or(Errno::ESRCH)
    }

    pub fn mm(&self, pid: Pid) -> Result<&Mm, Errno> {
        let id = self.mm_id(pid)?;
        Ok(&self.mms[&id])
    }

    pub fn mm_mut(&mut self, pid: Pid) -> Result<&mut Mm, Errno> {
        let id = self.mm_id(pid)?;
        Ok(self.mms.get_mut(&id).expect("task's mm exists"))
    }

    /// A fresh anon_vma identity.
    pub fn alloc_anon_vma(&mut self) -> crate::mm::vma::AnonVmaId {
        let id = crate::mm::vma::AnonVmaId(self.next_anon_vma);
        self.next_anon_vma += 1;
        id
    }

    /// A fresh inode identity.
    pub fn alloc_inode_id(&mut self) -> InodeId {
        let id = InodeId(self.next_inode);
        self.next_inode += 1;
        id
    }

    /// A fresh open-file-description identity (`alloc_file`).
    pub fn alloc_file_id(&mut self) -> crate::fs::FileId {
        let id = crate::fs::FileId(self.next_file);
        self.next_file += 1;
        id
    }

    /// A fresh inode number on the shmem device `00:01` (`shmem_get_inode`).
    pub fn alloc_shmem_ino(&mut self) -> u64 {
        let ino = self.next_shmem_ino;
        self.next_shmem_ino += 1;
        ino
    }

    /// `mmap_min_addr` as hints are rounded with it (the LSM value when an LSM is built in).
    pub fn hint_min_addr(&self) -> u64 {
        self.cfg.mmap_min_addr.max(self.cfg.lsm_mmap_min_addr)
    }

    // ---- accounting shared by every mapping operation ----

    /// `may_expand_vm(mm, flags, npages)` (`mm/mmap.c`): RLIMIT_AS, then RLIMIT_DATA for data mappings.
    pub fn may_expand_vm(&self, pid: Pid, mm: &Mm, flags: VmFlags, npages: u64) -> bool {
        let Ok(task) = self.task(pid) else { return false };
        if mm.total_vm + npages > task.rlimit(RLIMIT_AS) >> 12 {
            return false;
        }
        if flags.is_data_mapping() && mm.data_vm + npages > task.rlimit(RLIMIT_DATA) >> 12 {
            // Soft limit 0 means "compare with the hard limit" (ignore_rlimit_data is off).
            let data = task.rlimits[RLIMIT_DATA];
            if data.cur == 0 && mm.data_vm + npages <= data.max >> 12 {
                return true;
            }
            return false;
        }
        true
    }

    /// `can_do_mlock()` (`mm/mlock.c`).
    pub fn can_do_mlock(&self, pid: Pid) -> bool {
        let Ok(task) = self.task(pid) else { return false };
        task.rlimit(RLIMIT_MEMLOCK) != 0 || task.capable(CAP_IPC_LOCK)
    }

    /// `mlock_future_ok(mm, flags, bytes)` (`mm/mmap.c`).
    pub fn mlock_future_ok(&self, pid: Pid, mm: &Mm, flags: VmFlags, bytes: u64) -> bool {
        let Ok(task) = self.task(pid) else { return false };
        if !flags.contains(VmFlags::LOCKED) || task.capable(CAP_IPC_LOCK) {
            return true;
        }
        let locked = mm.locked_vm + (bytes >> 12);
        locked <= task.rlimit(RLIMIT_MEMLOCK) >> 12
    }

    /// `security_vm_enough_memory_mm` → `__vm_enough_memory` (`mm/util.c`): charge `pages` to Committed_AS or
    /// fail with ENOMEM, leaving the charge undone.
    pub fn vm_enough_memory(&mut self, pid: Pid, pages: u64) -> Result<(), Errno> {
        self.committed_pages += pages as i64;
        let ok = match self.cfg.overcommit {
            OvercommitMode::Always => true,
            OvercommitMode::Guess => pages <= self.cfg.totalram_pages() + self.cfg.total_swap_pages,
            OvercommitMode::Never => {
                let mut allowed = self.commit_limit_pages();
                let (cap_admin, total_vm) = match self.task(pid) {
                    Ok(t) => (
                        t.capable(CAP_SYS_ADMIN),
                        t.mm.and_then(|m| self.mms.get(&m)).map_or(0, |m| m.total_vm),
                    ),
                    Err(_) => (false, 0),
                };
                if !cap_admin {
                    allowed = allowed.saturating_sub(self.cfg.admin_reserve_kbytes >> 2);
                }
                let reserve = (total_vm / 32).min(self.cfg.user_reserve_kbytes >> 2);
                allowed = allowed.saturating_sub(reserve);
                self.committed_pages <= allowed as i64
            }
        };
        if ok {
            Ok(())
        } else {
            self.committed_pages -= pages as i64;
            Err(Errno::ENOMEM)
        }
    }

    /// `vm_unacct_memory(pages)`.
    pub fn vm_unacct_memory(&mut self, pages: u64) {
        self.committed_pages -= pages as i64;
    }

    /// `vm_commit_limit()`: CommitLimit in pages.
    pub fn commit_limit_pages(&self) -> u64 {
        let base = if self.cfg.overcommit_kbytes != 0 {
            self.cfg.overcommit_kbytes >> 2
        } else {
            self.cfg.totalram_pages() * self.cfg.overcommit_ratio / 100
        };
        base + self.cfg.total_swap_pages
    }
}
