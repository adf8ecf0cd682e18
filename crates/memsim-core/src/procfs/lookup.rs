//! Path lookup under `/proc` (`fs/proc/root.c proc_root_lookup`, `fs/proc/base.c proc_pid_lookup`): a path
//! naming a PID is resolved against the model's task list, not the host's, so a program that opens
//! `/proc/self/status` or `/proc/<its pid>/maps` opens the simulated process's file.
//!
//! Deliberate choices: files the model renders (`ProcFile`, and `task/TID/...`) exist exactly when their
//! task does; other per-process files (`mountinfo`, `cgroup`, `exe`, ...) fall back to the host's own
//! `/proc/self/...` entry (same machine, same mounts), and machine-wide files (`/proc/cpuinfo`, `/proc/sys/...`)
//! are the host's. The model's proc files cannot be mapped (`InodeKind::Other`: mmap gives ENODEV, as Linux's
//! seq files do).

use crate::errno::Errno;
use crate::fs::{FileMeta, S_IFDIR, S_IFREG};
use crate::kernel::Kernel;
use crate::task::Pid;

/// The device of the proc superblock (an anonymous device, `00:15` on this machine).
pub const PROC_DEV: (u32, u32) = (0, 0x15);

/// Per-process directories (`tgid_base_stuff`) the model knows as directories only.
const PID_DIRS: &[&str] = &["task", "fd", "fdinfo", "ns", "net", "attr", "map_files"];

impl Kernel {
    /// The metadata of an absolute path as task `pid` sees it: `/proc/<pid>/...` from the model, everything
    /// else from the host's [`crate::fs::FileSource`].
    pub(crate) fn lookup_path(&self, pid: Pid, path: &str) -> Result<FileMeta, Errno> {
        match self.proc_lookup(pid, path) {
            Some(r) => r,
            None => self.fs.stat(path),
        }
    }

    /// Resolve an absolute path under `/proc` for task `pid`: `None` when the host should answer (not a
    /// per-process path), else the model's answer.
    pub(crate) fn proc_lookup(&self, pid: Pid, path: &str) -> Option<Result<FileMeta, Errno>> {
        let rest = path.strip_prefix("/proc/")?.trim_end_matches('/');
        let (first, tail) = rest.split_once('/').unwrap_or((rest, ""));
        let (target, tail) = match first {
            "self" => (self.task(pid).ok()?.tgid, tail.to_string()),
            "thread-self" => {
                let t = self.task(pid).ok()?;
                let sub = if tail.is_empty() {
                    format!("task/{}", t.pid)
                } else {
                    format!("task/{}/{tail}", t.pid)
                };
                (t.tgid, sub)
            }
            // name_to_int: only the canonical decimal spelling names a task.
            n => match n.parse::<u32>() {
                Ok(v) if v.to_string() == n => (Pid(v), tail.to_string()),
                _ => return None,
            },
        };
        if self.task(target).is_err() {
            return Some(Err(Errno::ENOENT));
        }
        if tail.is_empty() {
            return Some(Ok(proc_meta(path, target, &tail, true)));
        }
        match self.proc_read(target, &tail) {
            Err(Errno::EISDIR) => Some(Ok(proc_meta(path, target, &tail, true))),
            Err(Errno::ENOENT) if PID_DIRS.contains(&tail.as_str()) => Some(Ok(proc_meta(path, target, &tail, true))),
            // A file the model does not render, or a thread that is not in the group.
            Err(Errno::ENOENT) if tail.starts_with("task/") => Some(Err(Errno::ENOENT)),
            Err(Errno::ENOENT) => Some(self.fs.stat(&format!("/proc/self/{tail}"))),
            // A file that renders, or exists but fails to read (ESRCH for a zombie's environ, EFBIG for
            // pagemap): open succeeds.
            _ => Some(Ok(proc_meta(path, target, &tail, false))),
        }
    }
}

impl Kernel {
    /// `readlink` of a `/proc` path the model answers (`proc_self_get_link`, `proc_pid_readlink` → `d_path`):
    /// `/proc/self`, `/proc/thread-self`, and a task's `exe` (its mm's `exe_file`), `cwd`, `root` and `fd/N`,
    /// also under `task/TID/`. `None` when the host should answer.
    pub(crate) fn proc_readlink(&self, pid: Pid, path: &str) -> Option<Result<String, Errno>> {
        let rest = path.strip_prefix("/proc/")?.trim_end_matches('/');
        let me = self.task(pid).ok()?;
        match rest {
            "self" => return Some(Ok(me.tgid.0.to_string())),
            "thread-self" => return Some(Ok(format!("{}/task/{}", me.tgid.0, me.pid.0))),
            _ => {}
        }
        let (first, tail) = rest.split_once('/')?;
        let canonical = |n: &str| n.parse::<u32>().ok().filter(|v| v.to_string() == n).map(Pid);
        let mut target = match first {
            "self" => me.tgid,
            "thread-self" => me.pid,
            n => canonical(n)?,
        };
        let mut tail = tail;
        if let Some(t) = tail.strip_prefix("task/") {
            let (tid, more) = t.split_once('/')?;
            let tid = canonical(tid)?;
            if self.task(tid).map(|t| t.tgid) != Ok(target) {
                return Some(Err(Errno::ENOENT));
            }
            (target, tail) = (tid, more);
        }
        let Ok(t) = self.task(target) else {
            return Some(Err(Errno::ENOENT));
        };
        let name = |f: &crate::fs::File| f.inode.display_name.clone();
        Some(match tail {
            // A kernel thread or a zombie has no mm, so no exe.
            "exe" => {
                t.mm.and_then(|m| self.mms.get(&m))
                    .and_then(|m| m.exe_file.as_deref())
                    .map(name)
                    .ok_or(Errno::ENOENT)
            }
            "cwd" => Ok(t.fs.with(|f| f.cwd.clone())),
            "root" => Ok("/".to_string()),
            _ => {
                let fd = tail.strip_prefix("fd/")?;
                let fd = fd.parse::<i32>().ok().filter(|v| v.to_string() == fd)?;
                t.files.get(fd).map(|e| name(&e.file)).ok_or(Errno::ENOENT)
            }
        })
    }
}

/// A proc inode: mode as `pid_entry` gives it (0444 files, 0555 directories), a deterministic inode number.
fn proc_meta(path: &str, pid: Pid, name: &str, dir: bool) -> FileMeta {
    // FNV-1a over the name: stable across runs, distinct per file of a task.
    let h = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    FileMeta {
        path: path.to_string(),
        dev_major: PROC_DEV.0,
        dev_minor: PROC_DEV.1,
        ino: (u64::from(pid.0) << 32) | (h & 0xffff_ffff),
        size: 0,
        mode: if dir { S_IFDIR | 0o555 } else { S_IFREG | 0o444 },
        ..FileMeta::default()
    }
}
