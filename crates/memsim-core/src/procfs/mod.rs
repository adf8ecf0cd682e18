//! `/proc/PID/*` renderers (`fs/proc/task_mmu.c`, `fs/proc/array.c`, `fs/proc/base.c`), one module per file,
//! each byte-identical to what Linux 6.18 prints on x86-64 (`../shared/reference/proc-formats.md`).
//!
//! Renderers are pure functions of the model state: they read the task, its `Mm`, the VMA tree and (through
//! [`Kernel::walk_pages`]) the page tables, and never change anything.
//!
//! Deliberate choices:
//! * `pagemap` is a binary file covering the whole user address space (2^35 entries for 47 bits), so
//!   `proc_read(pid, "pagemap")` fails with `EFBIG` instead of building 256 GiB; read a window with
//!   [`Kernel::pagemap_range`], which gives exactly the bytes a `pread` of that range returns.
//! * A task that has exited (or has no `mm`) renders as Linux renders a task whose `mm` is gone: empty `maps`,
//!   `smaps`, `pagemap` and `cmdline`, `ESRCH` for `smaps_rollup` and `environ`, zeros in `statm`, no memory
//!   block in `status` (zombies and kernel threads are compared with real ones in `tests/procfs_tasks.rs`).
//! * `task/TID/<file>` renders one thread; `task.rs` is the one place that maps the model's `Task` onto what
//!   these files read (thread groups, process group and session, flags on the way out, full kthread names).
//! * `ps` and `pstree` are renderers of the whole task list, as procps and psmisc print it; `pmap` of one task.

pub mod cmdline;
pub mod limits;
pub mod lookup;
pub mod maps;
pub mod meminfo;
pub mod pagemap;
pub mod pmap;
pub mod ps;
pub mod pstree;
pub mod smaps;
pub mod stat;
pub mod statm;
pub mod status;
pub mod task;

use crate::addr::VirtAddr;
use crate::arch::Arch;
use crate::errno::Errno;
use crate::kernel::Kernel;
use crate::mm::memory::PageStat;
use crate::mm::vma::{VmFlags, Vma};
use crate::mm::{Mm, MmId};
use crate::task::{Pid, Task};

pub use pmap::PmapFormat;

/// The `/proc/PID` files memsim renders.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum ProcFile {
    Maps,
    Smaps,
    SmapsRollup,
    Status,
    Statm,
    Stat,
    Limits,
    Pagemap,
    Cmdline,
    Environ,
    Comm,
    Auxv,
}

impl ProcFile {
    /// Every file, in the order `ls /proc/PID` would not bother to keep (alphabetical here).
    pub const ALL: &'static [ProcFile] = &[
        ProcFile::Auxv,
        ProcFile::Cmdline,
        ProcFile::Comm,
        ProcFile::Environ,
        ProcFile::Limits,
        ProcFile::Maps,
        ProcFile::Pagemap,
        ProcFile::Smaps,
        ProcFile::SmapsRollup,
        ProcFile::Stat,
        ProcFile::Statm,
        ProcFile::Status,
    ];

    /// The file name under `/proc/PID/`.
    pub const fn name(self) -> &'static str {
        match self {
            ProcFile::Maps => "maps",
            ProcFile::Smaps => "smaps",
            ProcFile::SmapsRollup => "smaps_rollup",
            ProcFile::Status => "status",
            ProcFile::Statm => "statm",
            ProcFile::Stat => "stat",
            ProcFile::Limits => "limits",
            ProcFile::Pagemap => "pagemap",
            ProcFile::Cmdline => "cmdline",
            ProcFile::Environ => "environ",
            ProcFile::Comm => "comm",
            ProcFile::Auxv => "auxv",
        }
    }

    pub fn from_name(name: &str) -> Option<ProcFile> {
        ProcFile::ALL.iter().copied().find(|f| f.name() == name)
    }
}

impl Kernel {
    /// Render a machine-wide `/proc` file (`meminfo`); other names are ENOENT.
    pub fn proc_read_system(&self, name: &str) -> Result<Vec<u8>, Errno> {
        match name {
            "meminfo" => Ok(self.meminfo()),
            _ => Err(Errno::ENOENT),
        }
    }

    /// Render `/proc/PID/<name>`: `maps`, `smaps`, `smaps_rollup`, `status`, `statm`, `stat`, `limits`,
    /// `cmdline`, `environ`, `auxv`, `comm`, and the same files of one thread as `task/TID/<name>`. Any tid works as
    /// PID (`/proc/TID` exists for threads though `readdir` does not list it). An unknown file or pid, or a
    /// TID outside PID's thread group, gives ENOENT, as opening it would; `task` or `task/TID` alone is
    /// EISDIR. `pagemap` gives EFBIG (see the module documentation; use [`Kernel::pagemap_range`]).
    pub fn proc_read(&self, pid: Pid, name: &str) -> Result<Vec<u8>, Errno> {
        let task = task::lookup(self, pid).ok_or(Errno::ENOENT)?;
        if let Some(rest) = name.strip_prefix("task") {
            // proc_task_lookup: the tid must belong to the same thread group.
            let rest = rest
                .strip_prefix('/')
                .ok_or(if rest.is_empty() { Errno::EISDIR } else { Errno::ENOENT })?;
            let (tid, file) = match rest.split_once('/') {
                Some((t, f)) => (t, f),
                None => (rest, ""),
            };
            let tid: u32 = match tid.parse::<u32>() {
                // Only the canonical decimal spelling names a task (`name_to_int`).
                Ok(t) if t.to_string() == tid => t,
                _ => return Err(Errno::ENOENT),
            };
            let thread = task::lookup(self, Pid(tid)).ok_or(Errno::ENOENT)?;
            if thread.tgid != task.tgid {
                return Err(Errno::ENOENT);
            }
            if file.is_empty() {
                return Err(Errno::EISDIR);
            }
            let file = ProcFile::from_name(file).ok_or(Errno::ENOENT)?;
            return self.render_proc_file(thread, file, false);
        }
        let file = ProcFile::from_name(name).ok_or(Errno::ENOENT)?;
        self.render_proc_file(task, file, true)
    }

    /// One file of `task`; `whole` for the `/proc/PID` level (`tgid_base_stuff`), not for `task/TID`
    /// (`tid_base_stuff`): only `stat` differs (group-wide fault counts).
    fn render_proc_file(&self, task: &Task, file: ProcFile, whole: bool) -> Result<Vec<u8>, Errno> {
        let mm = self.proc_mm(task);
        let arch = self.cfg.arch;
        match file {
            ProcFile::Maps => Ok(maps::render(arch, mm)),
            ProcFile::Smaps => Ok(smaps::render_smaps(self, self, mm)),
            ProcFile::SmapsRollup => smaps::render_rollup(self, self, mm),
            ProcFile::Status => Ok(status::render(self, task, mm)),
            ProcFile::Statm => Ok(statm::render(mm)),
            ProcFile::Stat => Ok(stat::render_with(self, task, mm, whole)),
            ProcFile::Limits => Ok(limits::render(task)),
            ProcFile::Pagemap => Err(Errno::EFBIG),
            ProcFile::Cmdline => Ok(cmdline::render_cmdline(self, mm)),
            ProcFile::Environ => cmdline::render_environ(self, mm),
            ProcFile::Comm => Ok(cmdline::render_comm(task)),
            ProcFile::Auxv => cmdline::render_auxv(self, mm),
        }
    }

    /// The address space `/proc` shows for a task: none once it has exited (`exit_mm` cleared `task->mm`).
    pub(crate) fn proc_mm(&self, task: &Task) -> Option<&Mm> {
        if !task.is_alive() {
            return None;
        }
        task.mm.and_then(|id| self.mms.get(&id))
    }
}

/// The x86 vsyscall page (`arch/x86/entry/vsyscall/vsyscall_64.c: gate_vma`), shown after the last VMA of a
/// 64-bit task. `vsyscall=xonly` (the default) leaves it `VM_EXEC` only, hence `--xp` and `VmFlags: ex`.
pub(crate) fn gate_vma(arch: Arch) -> Option<Vma> {
    if !arch.has_gate_vma() {
        return None;
    }
    let mut vma = Vma::new_anon(
        crate::addr::VirtAddr(Arch::GATE_START),
        crate::addr::VirtAddr(Arch::GATE_END),
        VmFlags::EXEC,
    );
    vma.pgoff = 0;
    Some(vma)
}

/// One VMA as the `/proc` iterators (`m_start`/`m_next`) hand it out: the task's own VMAs, then the gate.
#[derive(Clone, Copy, Debug)]
pub struct ProcVma<'a> {
    pub vma: &'a Vma,
    /// The gate VMA: no `vm_mm`, named by its `vm_ops`, never walked.
    pub is_gate: bool,
}

/// Every VMA of `mm` in address order followed by `gate` (`proc_get_vma` + `get_gate_vma`).
pub(crate) fn proc_vmas<'a>(mm: &'a Mm, gate: Option<&'a Vma>) -> impl Iterator<Item = ProcVma<'a>> + 'a {
    mm.vmas
        .iter()
        .map(|vma| ProcVma { vma, is_gate: false })
        .chain(gate.map(|vma| ProcVma { vma, is_gate: true }))
}

/// Where renderers get page-table contents from: the kernel's own walk, or a synthetic one in tests (so a
/// renderer can be checked against verbatim samples without faulting pages in).
pub trait PageSource {
    /// Call `f` for every non-empty PTE of `mm` in `[start, end)`, in address order ([`Kernel::walk_pages`]).
    fn walk(&self, mm: MmId, start: VirtAddr, end: VirtAddr, f: &mut dyn FnMut(&PageStat));
}

impl PageSource for Kernel {
    fn walk(&self, mm: MmId, start: VirtAddr, end: VirtAddr, f: &mut dyn FnMut(&PageStat)) {
        self.walk_pages(mm, start, end, f);
    }
}

/// `seq_put_decimal_ull_width(m, label, value, width)`: the label then the value right-aligned.
pub(crate) fn put_dec_width(out: &mut Vec<u8>, label: &str, value: u64, width: usize) {
    use std::io::Write;
    out.extend_from_slice(label.as_bytes());
    let _ = write!(out, "{value:>width$}");
}
