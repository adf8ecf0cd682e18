//! `ps -eo pid,ppid,stat,vsz,rss,comm` (procps-ng 4.0.2) over the simulated task list: what `ps` prints
//! after reading `/proc/PID/stat` and `status` of every process, rendered from the same model state.
//!
//! Rows: every thread-group leader (`readdir(/proc)` lists only those), kernel threads and zombies included,
//! in pid order. Columns are procps's: PID (5, right), PPID (5, right), STAT (4, left), VSZ (6, right; kB,
//! `VmSize`), RSS (5, right; kB, `VmRSS`), COMMAND (left, the comm). A value wider than its column pushes the
//! rest of the line right and later columns give the excess back out of their padding, never closer than
//! one space (`show_one_proc`'s `correct`/`actual` bookkeeping), as measured on this machine.

use crate::kernel::Kernel;
use crate::mm::RssCounter;
use crate::task::Task;

use super::task as pt;

/// One column: header, width, left-justified.
struct Col {
    head: &'static str,
    width: usize,
    left: bool,
}

const COLS: [Col; 6] = [
    Col {
        head: "PID",
        width: 5,
        left: false,
    },
    Col {
        head: "PPID",
        width: 5,
        left: false,
    },
    Col {
        head: "STAT",
        width: 4,
        left: true,
    },
    Col {
        head: "VSZ",
        width: 6,
        left: false,
    },
    Col {
        head: "RSS",
        width: 5,
        left: false,
    },
    Col {
        head: "COMMAND",
        width: 7,
        left: true,
    },
];

/// procps `pr_stat`: the state letter, then `<` (nice < 0) or `N` (nice > 0), `L` (locked pages), `s`
/// (session leader), `l` (multi-threaded), `+` (in the terminal's foreground group: never, no terminal).
pub fn stat_flags(kernel: &Kernel, task: &Task) -> String {
    let mut s = String::new();
    s.push(super::stat::state_char(task));
    let nice = pt::nice(task);
    if nice < 0 {
        s.push('<');
    } else if nice > 0 {
        s.push('N');
    }
    if kernel.proc_mm(task).is_some_and(|mm| mm.locked_vm != 0) {
        s.push('L');
    }
    let (_, sid) = pt::pgrp_session(kernel, task);
    if sid == task.tgid.0 {
        s.push('s');
    }
    if pt::nr_threads(kernel, task) > 1 {
        s.push('l');
    }
    s
}

/// `(VSZ, RSS)` in kB as `ps` reads them from `status` (`VmSize`, `VmRSS`; 0 without an mm).
pub fn vsz_rss(kernel: &Kernel, task: &Task) -> (u64, u64) {
    match kernel.proc_mm(task) {
        None => (0, 0),
        Some(mm) => {
            let rss: i64 = [RssCounter::AnonPages, RssCounter::FilePages, RssCounter::ShmemPages]
                .iter()
                .map(|&c| mm.counter(c).max(0))
                .sum();
            (mm.total_vm << 2, (rss as u64) << 2)
        }
    }
}

/// Lay out one row the way procps does (see the module documentation).
fn row(out: &mut String, cells: &[String]) {
    let mut pos = 0usize;
    let mut col_start = 0usize;
    for (i, (col, text)) in COLS.iter().zip(cells).enumerate() {
        let len = text.chars().count();
        let last = i + 1 == COLS.len();
        let desired = if col.left {
            col_start
        } else {
            col_start + col.width.saturating_sub(len)
        };
        let min = if i == 0 { 0 } else { pos + 1 };
        let start = desired.max(min);
        out.extend(std::iter::repeat_n(' ', start - pos));
        out.push_str(text);
        pos = start + len;
        col_start += col.width + 1;
        if last {
            out.push('\n');
        }
    }
}

/// The whole output, header first.
pub fn render(kernel: &Kernel) -> String {
    let mut out = String::new();
    let head: Vec<String> = COLS.iter().map(|c| c.head.to_string()).collect();
    row(&mut out, &head);
    for task in kernel.tasks.values().filter(|t| t.pid == t.tgid) {
        let (vsz, rss) = vsz_rss(kernel, task);
        let comm = String::from_utf8_lossy(pt::proc_comm(task)).into_owned();
        let cells = [
            task.pid.0.to_string(),
            pt::ppid(kernel, task).to_string(),
            stat_flags(kernel, task),
            vsz.to_string(),
            rss.to_string(),
            comm,
        ];
        row(&mut out, &cells);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(cells: [&str; 6]) -> String {
        let mut s = String::new();
        row(&mut s, &cells.map(str::to_string));
        s
    }

    #[test]
    fn header_and_rows_as_procps_prints_them() {
        assert_eq!(
            line(["PID", "PPID", "STAT", "VSZ", "RSS", "COMMAND"]),
            "  PID  PPID STAT    VSZ   RSS COMMAND\n"
        );
        assert_eq!(
            line(["1", "0", "S<Ll", "45672", "15400", "process_api"]),
            "    1     0 S<Ll  45672 15400 process_api\n"
        );
        assert_eq!(
            line(["2", "0", "S", "0", "0", "kthreadd"]),
            "    2     0 S         0     0 kthreadd\n"
        );
    }

    #[test]
    fn wide_values_push_later_columns_right() {
        // Measured with `ps -o pid,ppid,stat,vsz,rss,comm` on this machine.
        assert_eq!(
            line(["28642", "28630", "S", "19534576", "2612", "big"]),
            "28642 28630 S    19534576 2612 big\n"
        );
        assert_eq!(
            line(["28646", "28630", "S", "1953225004", "99148", "big"]),
            "28646 28630 S    1953225004 99148 big\n"
        );
        assert_eq!(
            line(["28650", "28630", "SN", "1955472", "1600", "big"]),
            "28650 28630 SN   1955472 1600 big\n"
        );
        assert_eq!(
            line(["28654", "28630", "S<", "19533205472", "1954724", "big"]),
            "28654 28630 S<   19533205472 1954724 big\n"
        );
        assert_eq!(
            line(["11887", "10980", "Sl", "740344", "328236", "rustc"]),
            "11887 10980 Sl   740344 328236 rustc\n"
        );
    }
}
