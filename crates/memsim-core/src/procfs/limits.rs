//! `/proc/PID/limits` (`fs/proc/base.c: proc_pid_limits`, the `lnames` table).

use std::io::Write;

use crate::task::Task;
use crate::uapi::{RLIM_INFINITY, RLIM_NLIMITS};

/// `lnames[]`: row name and unit of every resource, in `RLIMIT_*` order.
const LNAMES: [(&str, &str); RLIM_NLIMITS] = [
    ("Max cpu time", "seconds"),
    ("Max file size", "bytes"),
    ("Max data size", "bytes"),
    ("Max stack size", "bytes"),
    ("Max core file size", "bytes"),
    ("Max resident set", "bytes"),
    ("Max processes", "processes"),
    ("Max open files", "files"),
    ("Max locked memory", "bytes"),
    ("Max address space", "bytes"),
    ("Max file locks", "locks"),
    ("Max pending signals", "signals"),
    ("Max msgqueue size", "bytes"),
    ("Max nice priority", ""),
    ("Max realtime priority", ""),
    ("Max realtime timeout", "us"),
];

fn put_limit(out: &mut Vec<u8>, v: u64) {
    if v == RLIM_INFINITY {
        let _ = write!(out, "{:<20} ", "unlimited");
    } else {
        let _ = write!(out, "{v:<20} ");
    }
}

/// The whole file.
pub fn render(task: &Task) -> Vec<u8> {
    let mut out = Vec::with_capacity(1400);
    let _ = writeln!(
        out,
        "{:<25} {:<20} {:<20} {:<10}",
        "Limit", "Soft Limit", "Hard Limit", "Units"
    );
    for (i, (name, unit)) in LNAMES.iter().enumerate() {
        let _ = write!(out, "{name:<25} ");
        put_limit(&mut out, task.rlimits[i].cur);
        put_limit(&mut out, task.rlimits[i].max);
        if unit.is_empty() {
            out.push(b'\n');
        } else {
            let _ = writeln!(out, "{unit:<10}");
        }
    }
    out
}
