//! `/proc/PID/stat` (`fs/proc/array.c: do_task_stat`): one line of 52 space-separated fields.
//!
//! The memory fields (vsize, rss, the code/data/brk/arg/env boundaries, fault counts) come from the model.
//! Identity, process group, session, flags, thread count and exit signal come from the task list
//! (`procfs::task`). Deliberate differences: field 24 (rss) is the exact `get_mm_rss` sum, where Linux reads
//! lagging per-CPU counters; times (utime, stime, starttime) are 0 and processor is 0, since the model has no
//! clock or CPUs; there is no controlling terminal.

use std::io::Write;

use crate::kernel::Kernel;
use crate::mm::Mm;
use crate::task::{ExitStatus, Task};
use crate::uapi::{RLIMIT_RSS, RLIM_INFINITY};

use super::task as pt;

/// The one-letter state: the first letter of `status`'s `State:` text (`task_state_array`).
pub fn state_char(task: &Task) -> char {
    super::status::state_name(task).chars().next().unwrap_or('R')
}

/// The wait status `exit_code` holds (`(code & 0xff) << 8`, or the signal with 0x80 for a core dump).
fn exit_code(task: &Task) -> u32 {
    match task.exit {
        None => 0,
        Some(ExitStatus::Exited(c)) => ((c as u32) & 0xff) << 8,
        Some(ExitStatus::Killed { signo, core_dumped }) => signo | if core_dumped { 0x80 } else { 0 },
    }
}

/// The whole line of `/proc/PID/stat` (the thread group's fault counts).
pub fn render(kernel: &Kernel, task: &Task, mm: Option<&Mm>) -> Vec<u8> {
    render_with(kernel, task, mm, true)
}

/// `do_task_stat(.., whole)`: `whole` for `/proc/PID/stat` (fault counts summed over the thread group),
/// not for `/proc/PID/task/TID/stat` (the thread's own).
pub fn render_with(kernel: &Kernel, task: &Task, mm: Option<&Mm>, whole: bool) -> Vec<u8> {
    let is_64 = kernel.cfg.arch.is_64bit();
    // `unsigned long` fields: RLIM_INFINITY is 2^32 - 1 on a 32-bit kernel.
    let ulong = |v: u64| if is_64 { v } else { v & 0xffff_ffff };
    let (min_flt, maj_flt) = if whole {
        pt::thread_group(kernel, task)
            .iter()
            .fold((0u64, 0u64), |(a, b), t| (a + t.min_flt, b + t.maj_flt))
    } else {
        (task.min_flt, task.maj_flt)
    };
    let (pgrp, sid) = pt::pgrp_session(kernel, task);
    let nice = pt::nice(task);
    let mut out = Vec::with_capacity(320);
    let _ = write!(out, "{} (", task.pid.0);
    // The comm is printed raw here (unlike status).
    out.extend_from_slice(pt::proc_comm(task));
    // Fields 3-22: state, ppid, pgrp, session, tty_nr (no terminal), tpgid (-1 without one), flags, the
    // fault counts (reaped children's are not kept: 0), the four times and starttime (no clock: 0),
    // priority (20 + nice for SCHED_OTHER), nice, num_threads, itrealvalue.
    let _ = write!(
        out,
        ") {} {} {pgrp} {sid} 0 -1 {} {min_flt} 0 {maj_flt} 0 0 0 0 0 {} {nice} {} 0 0",
        state_char(task),
        pt::ppid(kernel, task),
        pt::pf_flags(task),
        20 + nice,
        pt::nr_threads(kernel, task),
    );
    let m = |f: fn(&Mm) -> u64| mm.map_or(0, f);
    let rsslim = task.rlimits[RLIMIT_RSS].cur;
    let rsslim = if rsslim == RLIM_INFINITY {
        ulong(u64::MAX)
    } else {
        ulong(rsslim)
    };
    // Fields 29-44: kstkesp and kstkeip (0 unless the task is exiting with a core dump in progress), the
    // signal masks as decimals (`& 0x7fffffff`; kernel threads ignore everything), wchan (1 when not
    // running: blocked in the kernel, which a zombie also is), nswap, cnswap, exit_signal (%d), processor,
    // rt_priority, policy (SCHED_OTHER), delayacct_blkio_ticks, guest times.
    let (sigign, sigcatch) = task.sighand.with(|h| (h.ignored(), h.caught()));
    let low = |set: u64| set & 0x7fff_ffff;
    let wchan = u8::from(state_char(task) != 'R');
    let _ = write!(
        out,
        " {} {} {} {} {} {} 0 0 {} {} {} {} {wchan} 0 0 {} 0 0 0 0 0 0",
        m(|mm| mm.total_vm << 12),
        m(|mm| mm.rss_pages()),
        rsslim,
        m(|mm| mm.start_code),
        m(|mm| mm.end_code),
        m(|mm| mm.start_stack),
        low(task.sig_pending),
        low(task.sig_blocked),
        low(sigign),
        low(sigcatch),
        pt::exit_signal(task),
    );
    let _ = writeln!(
        out,
        " {} {} {} {} {} {} {} {}",
        m(|mm| mm.start_data),
        m(|mm| mm.end_data),
        m(|mm| mm.start_brk),
        m(|mm| mm.arg_start),
        m(|mm| mm.arg_end),
        m(|mm| mm.env_start),
        m(|mm| mm.env_end),
        exit_code(task),
    );
    out
}
