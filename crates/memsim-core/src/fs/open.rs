//! openat, close, dup, dup2, dup3 (`fs/open.c: do_sys_openat2`, `fs/namei.c: do_filp_open`, `fs/file.c`).
//!
//! Each open creates a new open file description ([`File`], a fresh [`FileId`]); `dup*` share it. Inodes are
//! shared per `(dev, ino)` through `Kernel::inodes`, so every description of the same file sees one page cache.
//!
//! Deliberate differences from Linux (the model never writes a host file):
//! * `O_CREAT` of a missing file fails with EROFS, as on a read-only file system.
//! * `O_TRUNC` with write access on a non-empty regular file fails with EROFS (truncating would change it).
//! * Permission bits are not checked here (the model has no file owners); a [`crate::fs::FileSource`] may
//!   refuse a path itself with EACCES.

use std::sync::Arc;

use crate::errno::{Errno, SysResult};
use crate::fs::{FdEntry, File, FileId, FileMeta, Inode, InodeKind, S_IFCHR, S_IFDIR, S_IFMT, S_IFREG};
use crate::kernel::Kernel;
use crate::task::Pid;
use crate::uapi::*;

/// Flags that only matter while opening and are not kept in `f_flags` (`do_dentry_open` clears them).
const OPEN_ONLY_FLAGS: u64 = O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC;

/// A descriptor argument as the kernel sees it (`unsigned int fd`).
fn fd_arg(fd: i64) -> u32 {
    fd as u32
}

impl Kernel {
    /// `openat(dirfd, path, flags, mode)`.
    pub fn sys_openat(&mut self, pid: Pid, dirfd: i64, path: &str, flags: u64, _mode: u64) -> SysResult {
        // build_open_how: O_PATH keeps only the flags that make sense for it.
        let flags = if flags & O_PATH != 0 {
            flags & (O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        } else {
            flags
        };
        // build_open_flags: O_CREAT with O_DIRECTORY is refused (since 6.4).
        if flags & (O_CREAT | O_DIRECTORY) == O_CREAT | O_DIRECTORY {
            return Err(Errno::EINVAL);
        }
        // build_open_flags: O_TMPFILE needs write access; the model cannot create files at all.
        if flags & O_TMPFILE == O_TMPFILE {
            if flags & O_ACCMODE == O_RDONLY {
                return Err(Errno::EINVAL);
            }
            return Err(Errno::EROFS);
        }
        // getname: an empty path is ENOENT (no AT_EMPTY_PATH for openat).
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        if path.len() >= 4096 {
            return Err(Errno::ENAMETOOLONG);
        }
        let task = self.task(pid)?;
        // get_unused_fd_flags comes before the path walk: EMFILE wins over ENOENT.
        let fd = task.files.lowest_free(0, task.rlimit(RLIMIT_NOFILE))?;
        // Relative paths start at the working directory or at `dirfd` (fs/stat.rs: path_at).
        let full = self.path_at(pid, dirfd, path)?;
        let meta = match self.lookup_path(pid, &full) {
            Ok(m) => m,
            Err(Errno::ENOENT) if flags & O_CREAT != 0 => return Err(Errno::EROFS),
            Err(e) => return Err(e),
        };
        let ftype = meta.mode & S_IFMT;
        let acc = flags & O_ACCMODE;
        let writes = acc == O_WRONLY || acc == O_RDWR;
        if flags & (O_CREAT | O_EXCL) == (O_CREAT | O_EXCL) {
            return Err(Errno::EEXIST);
        }
        if ftype == S_IFDIR {
            if writes || flags & O_CREAT != 0 {
                return Err(Errno::EISDIR);
            }
        } else if flags & O_DIRECTORY != 0 {
            return Err(Errno::ENOTDIR);
        }
        if flags & O_TRUNC != 0 && writes && ftype == S_IFREG && meta.size != 0 {
            return Err(Errno::EROFS);
        }
        // drivers/tty/tty_io.c: tty_open_current_tty — /dev/tty (5:0) is the caller's controlling terminal;
        // the model's processes have none.
        if flags & O_PATH == 0 && ftype == S_IFCHR && (meta.rdev_major, meta.rdev_minor) == (5, 0) {
            return Err(Errno::ENXIO);
        }
        let inode = self.inode_for(meta);
        let file = Arc::new(File {
            id: self.alloc_file_id(),
            inode,
            flags: flags & !OPEN_ONLY_FLAGS,
        });
        let cloexec = flags & O_CLOEXEC != 0;
        self.task_mut(pid)?.files.install(fd, FdEntry { file, cloexec });
        Ok(fd as u64)
    }

    /// The inode for a file, shared per `(dev, ino)` (`iget`).
    pub(crate) fn inode_for(&mut self, meta: FileMeta) -> Arc<Inode> {
        let key = (meta.dev_major, meta.dev_minor, meta.ino);
        if let Some(i) = self.inodes.get(&key) {
            return i.clone();
        }
        let kind = match meta.mode & S_IFMT {
            // proc files are seq files without mmap (ENODEV), not page-cache files.
            _ if (meta.dev_major, meta.dev_minor) == crate::procfs::lookup::PROC_DEV => InodeKind::Other,
            S_IFREG => InodeKind::Regular,
            S_IFCHR if (meta.rdev_major, meta.rdev_minor) == (1, 5) => InodeKind::DevZero,
            _ => InodeKind::Other,
        };
        let inode = Arc::new(Inode {
            id: self.alloc_inode_id(),
            kind,
            display_name: meta.path.clone(),
            meta,
        });
        self.inodes.insert(key, inode.clone());
        inode
    }

    /// `close(fd)`.
    pub fn sys_close(&mut self, pid: Pid, fd: i64) -> SysResult {
        let fd = i32::try_from(fd_arg(fd)).map_err(|_| Errno::EBADF)?;
        self.task_mut(pid)?.files.remove(fd).ok_or(Errno::EBADF)?;
        Ok(0)
    }

    /// `dup(fd)`: the lowest free descriptor, sharing the description, without close-on-exec.
    pub fn sys_dup(&mut self, pid: Pid, fd: i64) -> SysResult {
        let task = self.task(pid)?;
        let old = i32::try_from(fd_arg(fd)).map_err(|_| Errno::EBADF)?;
        let file = task.files.get(old).ok_or(Errno::EBADF)?.file.clone();
        let new = task.files.lowest_free(0, task.rlimit(RLIMIT_NOFILE))?;
        self.task_mut(pid)?.files.install(new, FdEntry { file, cloexec: false });
        Ok(new as u64)
    }

    /// `dup2(old, new)`: `old == new` returns `new` if `old` is open (EBADF otherwise); else as dup3 without
    /// flags.
    pub fn sys_dup2(&mut self, pid: Pid, old: i64, new: i64) -> SysResult {
        if fd_arg(old) == fd_arg(new) {
            let o = i32::try_from(fd_arg(old)).map_err(|_| Errno::EBADF)?;
            self.task(pid)?.files.get(o).ok_or(Errno::EBADF)?;
            return Ok(fd_arg(new) as u64);
        }
        self.sys_dup3(pid, old, new, 0)
    }

    /// `dup3(old, new, flags)` (`ksys_dup3`): flags other than O_CLOEXEC ⇒ EINVAL; `old == new` ⇒ EINVAL;
    /// `new` beyond RLIMIT_NOFILE ⇒ EBADF; `old` not open ⇒ EBADF. An open `new` is closed silently.
    pub fn sys_dup3(&mut self, pid: Pid, old: i64, new: i64, flags: u64) -> SysResult {
        if flags & !O_CLOEXEC != 0 {
            return Err(Errno::EINVAL);
        }
        let (old, new) = (fd_arg(old), fd_arg(new));
        if old == new {
            return Err(Errno::EINVAL);
        }
        let task = self.task(pid)?;
        if u64::from(new) >= task.rlimit(RLIMIT_NOFILE) {
            return Err(Errno::EBADF);
        }
        let new = i32::try_from(new).map_err(|_| Errno::EBADF)?;
        let old = i32::try_from(old).map_err(|_| Errno::EBADF)?;
        let file = task.files.get(old).ok_or(Errno::EBADF)?.file.clone();
        let cloexec = flags & O_CLOEXEC != 0;
        self.task_mut(pid)?.files.install(new, FdEntry { file, cloexec });
        Ok(new as u64)
    }

    /// The open file description behind a descriptor (`fget`); O_PATH descriptors do not count (EBADF).
    pub fn fget(&self, pid: Pid, fd: i64) -> Result<Arc<File>, Errno> {
        let fd = i32::try_from(fd_arg(fd)).map_err(|_| Errno::EBADF)?;
        let f = &self.task(pid)?.files.get(fd).ok_or(Errno::EBADF)?.file;
        if f.flags & O_PATH != 0 {
            return Err(Errno::EBADF);
        }
        Ok(f.clone())
    }

    /// Identity of the description behind a descriptor (for tests and renderers).
    pub fn fd_file_id(&self, pid: Pid, fd: i32) -> Option<FileId> {
        self.task(pid).ok()?.files.get(fd).map(|e| e.file.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::MemFs;
    use crate::kernel::{KernelConfig, INIT_PID};
    use crate::task::Rlimit;

    fn kernel() -> Kernel {
        let mut fs = MemFs::new();
        fs.add_file("/bin/cat", vec![1; 10000]);
        fs.add_file("/empty", vec![]);
        fs.add_dir("/bin");
        Kernel::new(KernelConfig::default(), Box::new(fs))
    }
    const P: Pid = INIT_PID;

    #[test]
    fn open_assigns_lowest_fd_and_new_description() {
        let mut k = kernel();
        let a = k.sys_openat(P, AT_FDCWD, "/bin/cat", O_RDONLY, 0).unwrap();
        let b = k.sys_openat(P, AT_FDCWD, "bin/cat", O_RDONLY | O_CLOEXEC, 0).unwrap();
        assert_eq!((a, b), (0, 1));
        let (fa, fb) = (k.fd_file_id(P, 0).unwrap(), k.fd_file_id(P, 1).unwrap());
        assert_ne!(fa, fb, "each open is a new description");
        let t = k.task(P).unwrap();
        let (ea, eb) = (t.files.get(0).unwrap(), t.files.get(1).unwrap());
        assert!(Arc::ptr_eq(&ea.file.inode, &eb.file.inode), "one inode per (dev, ino)");
        assert!(eb.cloexec && !ea.cloexec);
        assert_eq!(eb.file.flags & O_CLOEXEC, 0);
        assert_eq!(ea.file.inode.kind, InodeKind::Regular);
    }

    #[test]
    fn open_errors() {
        let mut k = kernel();
        assert_eq!(k.sys_openat(P, AT_FDCWD, "/nope", O_RDONLY, 0), Err(Errno::ENOENT));
        assert_eq!(k.sys_openat(P, AT_FDCWD, "", O_RDONLY, 0), Err(Errno::ENOENT));
        assert_eq!(
            k.sys_openat(P, AT_FDCWD, "/nope", O_RDWR | O_CREAT, 0o644),
            Err(Errno::EROFS)
        );
        assert_eq!(
            k.sys_openat(P, AT_FDCWD, "/bin/cat", O_RDWR | O_CREAT | O_EXCL, 0),
            Err(Errno::EEXIST)
        );
        assert_eq!(k.sys_openat(P, AT_FDCWD, "/bin", O_RDWR, 0), Err(Errno::EISDIR));
        assert_eq!(k.sys_openat(P, AT_FDCWD, "/bin", O_WRONLY, 0), Err(Errno::EISDIR));
        assert_eq!(
            k.sys_openat(P, AT_FDCWD, "/bin/cat", O_RDONLY | O_DIRECTORY, 0),
            Err(Errno::ENOTDIR)
        );
        assert_eq!(
            k.sys_openat(P, AT_FDCWD, "/bin/cat", O_WRONLY | O_TRUNC, 0),
            Err(Errno::EROFS)
        );
        assert_eq!(k.sys_openat(P, AT_FDCWD, "/empty", O_WRONLY | O_TRUNC, 0), Ok(0));
        // Relative to a directory descriptor; a non-directory or closed dirfd fails.
        let d = k.sys_openat(P, AT_FDCWD, "/bin", O_RDONLY | O_DIRECTORY, 0).unwrap();
        assert_eq!(k.sys_openat(P, d as i64, "cat", O_RDONLY, 0), Ok(2));
        assert_eq!(k.sys_openat(P, 0, "cat", O_RDONLY, 0), Err(Errno::ENOTDIR));
        assert_eq!(k.sys_openat(P, 77, "cat", O_RDONLY, 0), Err(Errno::EBADF));
        // An absolute path ignores dirfd.
        assert_eq!(k.sys_openat(P, 77, "/bin/cat", O_RDONLY, 0), Ok(3));
        assert_eq!(k.sys_openat(P, AT_FDCWD, "/dev/zero", O_RDWR, 0), Ok(4));
        assert_eq!(
            k.task(P).unwrap().files.get(4).unwrap().file.inode.kind,
            InodeKind::DevZero
        );
        assert_eq!(
            k.task(P).unwrap().files.get(d as i32).unwrap().file.inode.kind,
            InodeKind::Other
        );
        assert_eq!(
            k.sys_openat(P, AT_FDCWD, "/bin", O_CREAT | O_DIRECTORY, 0),
            Err(Errno::EINVAL)
        );
        // O_PATH drops the access mode: a directory opens "for writing" without EISDIR.
        assert_eq!(k.sys_openat(P, AT_FDCWD, "/bin", O_PATH | O_RDWR, 0), Ok(5));
        assert_eq!(
            k.fget(P, 5).map(|f| f.id),
            Err(Errno::EBADF),
            "O_PATH descriptors cannot be mapped"
        );
    }

    #[test]
    fn emfile_comes_before_enoent() {
        let mut k = kernel();
        k.task_mut(P).unwrap().rlimits[RLIMIT_NOFILE] = Rlimit::new(2, 2);
        k.sys_openat(P, AT_FDCWD, "/bin/cat", O_RDONLY, 0).unwrap();
        k.sys_openat(P, AT_FDCWD, "/bin/cat", O_RDONLY, 0).unwrap();
        assert_eq!(k.sys_openat(P, AT_FDCWD, "/nope", O_RDONLY, 0), Err(Errno::EMFILE));
        assert_eq!(k.sys_dup(P, 0), Err(Errno::EMFILE));
        assert_eq!(k.sys_dup2(P, 0, 2), Err(Errno::EBADF), "new fd at RLIMIT_NOFILE");
    }

    #[test]
    fn close_and_dups() {
        let mut k = kernel();
        let fd = k.sys_openat(P, AT_FDCWD, "/bin/cat", O_RDONLY, 0).unwrap() as i64;
        assert_eq!(k.sys_close(P, 5), Err(Errno::EBADF));
        assert_eq!(k.sys_close(P, -1), Err(Errno::EBADF));
        assert_eq!(k.sys_dup(P, fd), Ok(1));
        assert_eq!(k.fd_file_id(P, 0), k.fd_file_id(P, 1), "dup shares the description");
        assert_eq!(k.sys_dup2(P, fd, fd), Ok(0));
        assert_eq!(k.sys_dup2(P, 9, 9), Err(Errno::EBADF));
        assert_eq!(k.sys_dup2(P, 9, 3), Err(Errno::EBADF));
        assert_eq!(k.sys_dup2(P, fd, 7), Ok(7));
        assert_eq!(k.sys_dup3(P, fd, 7, 0), Ok(7), "replaces silently");
        assert_eq!(k.sys_dup3(P, fd, fd, 0), Err(Errno::EINVAL));
        assert_eq!(k.sys_dup3(P, fd, 8, O_RDWR), Err(Errno::EINVAL));
        assert_eq!(k.sys_dup3(P, 9, 8, 0), Err(Errno::EBADF));
        assert_eq!(k.sys_dup3(P, fd, -1, 0), Err(Errno::EBADF));
        assert_eq!(k.sys_dup3(P, fd, 8, O_CLOEXEC), Ok(8));
        assert!(k.task(P).unwrap().files.get(8).unwrap().cloexec);
        assert!(!k.task(P).unwrap().files.get(7).unwrap().cloexec);
        assert_eq!(k.sys_close(P, 0), Ok(0));
        assert_eq!(k.sys_close(P, 0), Err(Errno::EBADF));
        assert_eq!(k.fd_file_id(P, 1), k.fd_file_id(P, 8));
    }
}
