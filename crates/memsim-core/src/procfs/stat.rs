//! `/proc/PID/stat` (`fs/proc/array.c: do_task_stat`): one line of 52 space-separated fields.
//!
//! The memory fields (vsize, rss, the code/data/brk/arg/env boundaries, fault counts) come from the model.
//! Two deliberate differences: field 24 (rss) is the exact `get_mm_rss` sum, where Linux reads lagging per-CPU
//! counters; and times (utime, stime, starttime) are 0, since the model has no clock. Process group and
//! session are the tgid; there is no controlling terminal.

use std::io::Write;

use crate::kernel::Kernel;
use crate::mm::Mm;
use crate::task::{ExitStatus, Task, TaskState};
use crate::uapi::{RLIMIT_RSS, RLIM_INFINITY};

/// The one-letter state (`task_state_array`).
fn state_char(task: &Task) -> char {
    match task.state {
        TaskState::Running => 'R',
        TaskState::Sleeping => 'S',
        TaskState::DiskSleep => 'D',
        TaskState::Idle => 'I',
        TaskState::Stopped => 'T',
        TaskState::Zombie => 'Z',
        TaskState::Dead => 'X',
    }
}

/// The wait status `exit_code` holds (`(code & 0xff) << 8`, or the signal with 0x80 for a core dump).
fn exit_code(task: &Task) -> u32 {
    match task.exit {
        None => 0,
        Some(ExitStatus::Exited(c)) => ((c as u32) & 0xff) << 8,
        Some(ExitStatus::Killed { signo, core_dumped }) => signo | if core_dumped { 0x80 } else { 0 },
    }
}

/// The whole line.
pub fn render(kernel: &Kernel, task: &Task, mm: Option<&Mm>) -> Vec<u8> {
    let is_64 = kernel.cfg.arch.is_64bit();
    // `unsigned long` fields: RLIM_INFINITY is 2^32 - 1 on a 32-bit kernel.
    let ulong = |v: u64| if is_64 { v } else { v & 0xffff_ffff };
    let mut out = Vec::with_capacity(320);
    let tgid = task.tgid.0;
    let _ = write!(out, "{} (", task.pid.0);
    // The comm is printed raw here (unlike status).
    out.extend_from_slice(task.comm.as_bytes());
    let _ = write!(
        out,
        ") {} {} {tgid} {tgid} 0 -1 {} {} 0 {} 0 0 0 0 0 20 0 1 0 0",
        state_char(task),
        task.ppid.0,
        task.flags,
        task.min_flt,
        task.maj_flt,
    );
    let m = |f: fn(&Mm) -> u64| mm.map_or(0, f);
    let rsslim = task.rlimits[RLIMIT_RSS].cur;
    let rsslim = if rsslim == RLIM_INFINITY {
        ulong(u64::MAX)
    } else {
        ulong(rsslim)
    };
    let _ = write!(
        out,
        " {} {} {} {} {} {} 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0",
        m(|mm| mm.total_vm << 12),
        m(|mm| mm.rss_pages()),
        rsslim,
        m(|mm| mm.start_code),
        m(|mm| mm.end_code),
        m(|mm| mm.start_stack),
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
