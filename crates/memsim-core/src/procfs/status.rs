//! `/proc/PID/status` (`fs/proc/array.c: proc_pid_status, task_state, task_sig, task_cap`,
//! `fs/proc/task_mmu.c: task_mem`).
//!
//! Every line of 6.18, in its order. The memory block (VmPeak through untag_mask) is exact from the `Mm`
//! counters; identity, threads, process group and session come from the task list (`procfs::task`). Lines
//! the model has no state for are as a task in that state prints them here: no signals pending, blocked or
//! caught, no context switches (no scheduler), the CPU and node masks and speculation lines of the
//! reference machine (2 CPUs, one node). This kernel has no shadow stacks enabled, so no
//! `x86_Thread_features` lines.
//! A native i386 kernel (non-PAE) has no THP (`THP_enabled: 0`) and a 32-bit `untag_mask`.

use std::io::Write;

use crate::addr::{page_align, PAGE_MASK, PAGE_SHIFT};
use crate::kernel::Kernel;
use crate::mm::{Mm, RssCounter};
use crate::task::{Task, TaskState};
use crate::uapi::RLIMIT_SIGPENDING;

use super::task as pt;

/// The `State:` text (`task_state_array`).
pub fn state_name(task: &Task) -> &'static str {
    // A task that has exited is a zombie until reaped, whatever state it was last given.
    if task.exit.is_some() && task.state != TaskState::Dead {
        return "Z (zombie)";
    }
    task.state.name()
}

/// `proc_task_name(m, p, true)`: the comm with `\n` and `\` escaped (`seq_escape_str(.., "\n\\")`).
pub fn escaped_comm(comm: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(comm.len());
    for &b in comm {
        match b {
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\\' => out.extend_from_slice(b"\\\\"),
            _ => out.push(b),
        }
    }
    out
}

/// `fdt->max_fds`: 64 slots embedded in `files_struct`, then `alloc_fdtable`'s growth, which keeps the fd array
/// a power-of-two multiple of 1 KiB (128 pointers). The model derives it from the highest open descriptor
/// (Linux never shrinks the table, so a process that once had a higher descriptor shows more).
pub fn fd_table_size(task: &Task) -> u64 {
    const NR_OPEN_DEFAULT: u64 = 64;
    let Some((max_fd, _)) = task.files.iter().last() else {
        return NR_OPEN_DEFAULT;
    };
    let nr = max_fd.max(0) as u64;
    if nr < NR_OPEN_DEFAULT {
        return NR_OPEN_DEFAULT;
    }
    let per_kib = 1024 / 8;
    ((nr / per_kib) + 1).next_power_of_two() * per_kib
}

/// `task_mem`: the Vm* and Rss* lines, then HugetlbPages.
pub fn task_mem(out: &mut Vec<u8>, mm: &Mm) {
    let kb = |pages: u64| pages << (PAGE_SHIFT - 10);
    let anon = mm.counter(RssCounter::AnonPages).max(0) as u64;
    let file = mm.counter(RssCounter::FilePages).max(0) as u64;
    let shmem = mm.counter(RssCounter::ShmemPages).max(0) as u64;
    let swap = mm.counter(RssCounter::SwapEnts).max(0) as u64;
    // hiwater values are only raised just before the live values drop, so take the max with the live ones.
    let hiwater_vm = mm.total_vm.max(mm.hiwater_vm);
    let total_rss = anon + file + shmem;
    let hiwater_rss = total_rss.max(mm.hiwater_rss);
    let text = page_align(mm.end_code).wrapping_sub(mm.start_code & PAGE_MASK);
    let text = text.min(mm.exec_vm << PAGE_SHIFT);
    let lib = (mm.exec_vm << PAGE_SHIFT) - text;
    let lines: [(&str, u64); 15] = [
        ("VmPeak", kb(hiwater_vm)),
        ("VmSize", kb(mm.total_vm)),
        ("VmLck", kb(mm.locked_vm)),
        ("VmPin", kb(mm.pinned_vm)),
        ("VmHWM", kb(hiwater_rss)),
        ("VmRSS", kb(total_rss)),
        ("RssAnon", kb(anon)),
        ("RssFile", kb(file)),
        ("RssShmem", kb(shmem)),
        ("VmData", kb(mm.data_vm)),
        ("VmStk", kb(mm.stack_vm)),
        ("VmExe", text >> 10),
        ("VmLib", lib >> 10),
        ("VmPTE", mm.pgtables_bytes >> 10),
        ("VmSwap", kb(swap)),
    ];
    for (key, v) in lines {
        let _ = writeln!(out, "{key}:\t{v:>8} kB");
    }
    // hugetlb_report_usage: the pool is empty in the model.
    let _ = writeln!(out, "HugetlbPages:\t{:>8} kB", 0);
}

/// The whole file for `task` (a thread's own status under `/proc/PID/task/TID/status` or `/proc/TID/status`).
///
/// Kernel threads and zombies print as this kernel prints them (measured): a kernel thread has no memory
/// block, `Kthread: 1`, every signal ignored; a zombie has no `Umask:` line (its `fs` is gone), `FDSize: 0`
/// (its `files` are gone) and no memory block.
pub fn render(kernel: &Kernel, task: &Task, mm: Option<&Mm>) -> Vec<u8> {
    let arch = kernel.cfg.arch;
    let zombie = pt::is_zombie(task);
    let kthread = pt::is_kthread(task);
    let mut out = Vec::with_capacity(1600);
    out.extend_from_slice(b"Name:\t");
    out.extend_from_slice(&escaped_comm(pt::proc_comm(task)));
    out.push(b'\n');
    if !zombie {
        // get_task_umask: printed only while the task has an fs_struct (exit_fs drops it).
        let _ = writeln!(out, "Umask:\t{:04o}", task.fs.with(|fs| fs.umask));
    }
    let _ = writeln!(out, "State:\t{}", state_name(task));
    let tgid = task.tgid.0;
    let _ = writeln!(
        out,
        "Tgid:\t{tgid}\nNgid:\t0\nPid:\t{}\nPPid:\t{}\nTracerPid:\t0",
        task.pid.0,
        pt::ppid(kernel, task)
    );
    let c = &task.cred;
    let _ = writeln!(out, "Uid:\t{}\t{}\t{}\t{}", c.uid, c.euid, c.suid, c.fsuid);
    let _ = writeln!(out, "Gid:\t{}\t{}\t{}\t{}", c.gid, c.egid, c.sgid, c.fsgid);
    let fdsize = if zombie { 0 } else { fd_table_size(task) };
    let _ = writeln!(out, "FDSize:\t{fdsize}");
    // Groups separated by spaces, then always one space (`Groups:\t \n` for none: `task_state`).
    out.extend_from_slice(b"Groups:\t");
    for (i, g) in c.groups.iter().enumerate() {
        let _ = write!(out, "{}{g}", if i == 0 { "" } else { " " });
    }
    out.extend_from_slice(b" \n");
    let (pgrp, sid) = pt::pgrp_session(kernel, task);
    let _ = writeln!(
        out,
        "NStgid:\t{tgid}\nNSpid:\t{}\nNSpgid:\t{pgrp}\nNSsid:\t{sid}",
        task.pid.0
    );
    let _ = writeln!(out, "Kthread:\t{}", u8::from(kthread));
    if let Some(mm) = mm {
        task_mem(&mut out, mm);
        out.extend_from_slice(b"CoreDumping:\t0\n");
        // task_thp_status: 0 when THP is not built (non-PAE i386), else 1 (PR_SET_THP_DISABLE is not modelled).
        let _ = writeln!(out, "THP_enabled:\t{}", u8::from(arch.is_64bit()));
        // task_untag_mask: mm_untag_mask() is -1UL without LAM, an unsigned long of the kernel's width.
        let untag: u64 = if arch.is_64bit() { u64::MAX } else { u64::from(u32::MAX) };
        let _ = writeln!(out, "untag_mask:\t{untag:#x}");
    }
    let _ = writeln!(
        out,
        "Threads:\t{}\nSigQ:\t{}/{}",
        pt::nr_threads(kernel, task),
        pt::user_sigpending(kernel, task),
        task.rlimit(RLIMIT_SIGPENDING)
    );
    let (sigign, sigcgt) = task.sighand.with(|h| (h.ignored(), h.caught()));
    for (key, v) in [
        ("SigPnd", task.sig_pending),
        ("ShdPnd", task.sig_shared_pending),
        ("SigBlk", task.sig_blocked),
        ("SigIgn", sigign),
        ("SigCgt", sigcgt),
    ] {
        let _ = writeln!(out, "{key}:\t{v:016x}");
    }
    let caps = [
        ("CapInh", c.cap_inheritable),
        ("CapPrm", c.cap_permitted),
        ("CapEff", c.cap_effective),
        ("CapBnd", c.cap_bset),
        ("CapAmb", c.cap_ambient),
    ];
    for (key, v) in caps {
        let _ = writeln!(out, "{key}:\t{v:016x}");
    }
    out.extend_from_slice(b"NoNewPrivs:\t0\nSeccomp:\t0\nSeccomp_filters:\t0\n");
    out.extend_from_slice(b"Speculation_Store_Bypass:\tvulnerable\nSpeculationIndirectBranch:\talways enabled\n");
    out.extend_from_slice(b"Cpus_allowed:\t3\nCpus_allowed_list:\t0-1\nMems_allowed:\t");
    for _ in 0..31 {
        out.extend_from_slice(b"00000000,");
    }
    out.extend_from_slice(b"00000001\nMems_allowed_list:\t0\n");
    out.extend_from_slice(b"voluntary_ctxt_switches:\t0\nnonvoluntary_ctxt_switches:\t0\n");
    out
}
