//! Looking at files without opening them: stat, statx, access, readlink, getcwd, chdir, statfs (`fs/stat.c`,
//! `fs/open.c`, `fs/namei.c`, `fs/d_path.c`, `fs/statfs.c`).
//!
//! Paths resolve as `path_lookupat` starts them: an absolute path from `/`, a relative one from the task's
//! working directory (`fs_struct->pwd`, shared under CLONE_FS) or from a directory descriptor. The walk
//! itself (symlinks, `..`) is the [`crate::fs::FileSource`]'s.
//!
//! Deliberate differences from Linux:
//! * Search permission on the directories of a path is not checked (the host source answers as it can).
//! * `access(W_OK)` answers as the permission bits and capabilities say, as Linux does for a file on a
//!   writable mount, although the model never writes a file: access only asks.

use crate::errno::{Errno, SysResult};
use crate::fs::{FileMeta, S_IFDIR, S_IFMT, S_IFREG};
use crate::kernel::Kernel;
use crate::task::{Cred, Pid};
use crate::uapi::{NameTable, AT_FDCWD};

/// `*at` flags (`include/uapi/linux/fcntl.h`).
pub const AT_SYMLINK_NOFOLLOW: u64 = 0x100;
pub const AT_EACCESS: u64 = 0x200;
pub const AT_NO_AUTOMOUNT: u64 = 0x800;
pub const AT_EMPTY_PATH: u64 = 0x1000;
pub const AT_STATX_FORCE_SYNC: u64 = 0x2000;
pub const AT_STATX_DONT_SYNC: u64 = 0x4000;
pub const AT_STATX_SYNC_TYPE: u64 = 0x6000;
pub const AT_NAMES: NameTable = &[
    ("AT_STATX_SYNC_AS_STAT", 0),
    ("AT_SYMLINK_NOFOLLOW", AT_SYMLINK_NOFOLLOW),
    ("AT_EACCESS", AT_EACCESS),
    ("AT_SYMLINK_FOLLOW", 0x400),
    ("AT_NO_AUTOMOUNT", AT_NO_AUTOMOUNT),
    ("AT_EMPTY_PATH", AT_EMPTY_PATH),
    ("AT_STATX_FORCE_SYNC", AT_STATX_FORCE_SYNC),
    ("AT_STATX_DONT_SYNC", AT_STATX_DONT_SYNC),
];

/// access modes (`include/linux/fs.h`: MAY_EXEC, MAY_WRITE, MAY_READ).
pub const F_OK: u64 = 0;
pub const X_OK: u64 = 1;
pub const W_OK: u64 = 2;
pub const R_OK: u64 = 4;
pub const ACCESS_NAMES: NameTable = &[("F_OK", F_OK), ("X_OK", X_OK), ("W_OK", W_OK), ("R_OK", R_OK)];

/// statx mask bits (`include/uapi/linux/stat.h`).
pub const STATX__RESERVED: u64 = 0x8000_0000;
pub const STATX_NAMES: NameTable = &[
    ("STATX_TYPE", 0x1),
    ("STATX_MODE", 0x2),
    ("STATX_NLINK", 0x4),
    ("STATX_UID", 0x8),
    ("STATX_GID", 0x10),
    ("STATX_ATIME", 0x20),
    ("STATX_MTIME", 0x40),
    ("STATX_CTIME", 0x80),
    ("STATX_INO", 0x100),
    ("STATX_SIZE", 0x200),
    ("STATX_BLOCKS", 0x400),
    ("STATX_BASIC_STATS", 0x7ff),
    ("STATX_BTIME", 0x800),
    ("STATX_ALL", 0xfff),
    ("STATX_MNT_ID", 0x1000),
    ("STATX_DIOALIGN", 0x2000),
    ("STATX_MNT_ID_UNIQUE", 0x4000),
    ("STATX_SUBVOL", 0x8000),
    ("STATX_WRITE_ATOMIC", 0x1_0000),
    ("STATX_DIO_READ_ALIGN", 0x2_0000),
    ("STATX__RESERVED", STATX__RESERVED),
];

pub const S_IFLNK: u32 = 0o120000;
/// `PATH_MAX`, with its NUL.
const PATH_MAX: usize = 4096;
/// CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH (`include/uapi/linux/capability.h`).
const CAP_DAC_OVERRIDE: u32 = 1;
const CAP_DAC_READ_SEARCH: u32 = 2;

/// A descriptor argument as the kernel sees it (`int dfd`).
fn dfd(fd: i64) -> i32 {
    fd as i32
}

/// Join a relative path to a directory (`/` has no trailing separator to add).
fn join(dir: &str, path: &str) -> String {
    format!("{}/{}", dir.trim_end_matches('/'), path)
}

/// `generic_permission` with `acl_permission_check` (`fs/namei.c`): owner, group or other bits by the
/// credentials' fsuid/fsgid; then CAP_DAC_READ_SEARCH and CAP_DAC_OVERRIDE, which pass reads and writes but
/// execution of a non-directory only when some execute bit is set. `mask` is MAY_READ|MAY_WRITE|MAY_EXEC.
pub fn generic_permission(cred: &Cred, meta: &FileMeta, mask: u64) -> Result<(), Errno> {
    let mode = u64::from(meta.mode);
    let bits = if cred.fsuid == meta.uid {
        mode >> 6
    } else if cred.fsgid == meta.gid || cred.groups.binary_search(&meta.gid).is_ok() {
        mode >> 3
    } else {
        mode
    } & 7;
    let mask = mask & 7;
    if mask & !bits == 0 {
        return Ok(());
    }
    let capable = |cap: u32| cred.capable(cap);
    if meta.mode & S_IFMT == S_IFDIR {
        if mask & W_OK == 0 && capable(CAP_DAC_READ_SEARCH) {
            return Ok(());
        }
        return if capable(CAP_DAC_OVERRIDE) {
            Ok(())
        } else {
            Err(Errno::EACCES)
        };
    }
    if mask == R_OK && capable(CAP_DAC_READ_SEARCH) {
        return Ok(());
    }
    if (mask & X_OK == 0 || mode & 0o111 != 0) && capable(CAP_DAC_OVERRIDE) {
        return Ok(());
    }
    Err(Errno::EACCES)
}

impl Kernel {
    /// The absolute path a `*at` call names: an absolute `path` as it is, else relative to the working
    /// directory (`AT_FDCWD`) or to the directory `dirfd` refers to (`path_init`: EBADF, ENOTDIR).
    pub fn path_at(&self, pid: Pid, dirfd: i64, path: &str) -> Result<String, Errno> {
        if path.starts_with('/') {
            return Ok(path.to_string());
        }
        let task = self.task(pid)?;
        if dfd(dirfd) == dfd(AT_FDCWD) {
            return Ok(join(&task.fs.with(|f| f.cwd.clone()), path));
        }
        let dir = task.files.get(dfd(dirfd)).ok_or(Errno::EBADF)?;
        if dir.file.inode.meta.mode & S_IFMT != S_IFDIR {
            return Err(Errno::ENOTDIR);
        }
        Ok(join(&dir.file.inode.meta.path, path))
    }

    /// What `dirfd` (or the working directory for `AT_FDCWD`) refers to, for an empty path with
    /// AT_EMPTY_PATH (`fdget_raw`: O_PATH descriptors count).
    fn dirfd_meta(&self, pid: Pid, dirfd: i64) -> Result<FileMeta, Errno> {
        let task = self.task(pid)?;
        if dfd(dirfd) == dfd(AT_FDCWD) {
            let cwd = task.fs.with(|f| f.cwd.clone());
            return self.fs.stat(&cwd);
        }
        Ok(task.files.get(dfd(dirfd)).ok_or(Errno::EBADF)?.file.inode.meta.clone())
    }

    /// The lookup shared by the stat family and access: `""` with AT_EMPTY_PATH is `dirfd` itself (an empty
    /// path otherwise ENOENT, `getname_flags`); AT_SYMLINK_NOFOLLOW stops at a final symlink.
    fn lookup_at(&self, pid: Pid, dirfd: i64, path: &str, flags: u64) -> Result<FileMeta, Errno> {
        if path.is_empty() {
            if flags & AT_EMPTY_PATH == 0 {
                return Err(Errno::ENOENT);
            }
            return self.dirfd_meta(pid, dirfd);
        }
        if path.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let full = self.path_at(pid, dirfd, path)?;
        if flags & AT_SYMLINK_NOFOLLOW != 0 {
            self.fs.lstat(&full)
        } else {
            self.fs.stat(&full)
        }
    }

    /// `faccessat2(dirfd, path, mode, flags)` (`fs/open.c: do_faccessat`); access and faccessat are it with
    /// `flags` 0. The check uses the real uid and gid unless AT_EACCESS (`access_override_creds`: a non-root
    /// caller loses its capabilities, root keeps its permitted set); X_OK on a regular file of a noexec mount
    /// is EACCES (`path_noexec`).
    pub fn sys_faccessat2(&self, pid: Pid, dirfd: i64, path: &str, mode: u64, flags: u64) -> SysResult {
        if mode & !7 != 0 {
            return Err(Errno::EINVAL);
        }
        if flags & !(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
            return Err(Errno::EINVAL);
        }
        let meta = self.lookup_at(pid, dirfd, path, flags)?;
        if mode == F_OK {
            return Ok(0);
        }
        let mut cred = self.task(pid)?.cred.clone();
        if flags & AT_EACCESS == 0 {
            cred.fsuid = cred.uid;
            cred.fsgid = cred.gid;
            cred.cap_effective = if cred.uid == 0 { cred.cap_permitted } else { 0 };
        }
        if mode & X_OK != 0 && meta.mode & S_IFMT == S_IFREG && meta.noexec {
            return Err(Errno::EACCES);
        }
        generic_permission(&cred, &meta, mode)?;
        Ok(0)
    }

    /// `newfstatat(dirfd, path, &st, flags)` (`fs/stat.c: vfs_fstatat`); stat and lstat are it with `flags`
    /// 0 and AT_SYMLINK_NOFOLLOW.
    pub fn sys_newfstatat(&self, pid: Pid, dirfd: i64, path: &str, flags: u64) -> Result<FileMeta, Errno> {
        if flags & !(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH | AT_STATX_SYNC_TYPE) != 0 {
            return Err(Errno::EINVAL);
        }
        self.lookup_at(pid, dirfd, path, flags)
    }

    /// `fstat(fd, &st)` (`vfs_fstat`: `fdget_raw`, so O_PATH descriptors work).
    pub fn sys_fstat(&self, pid: Pid, fd: i64) -> Result<FileMeta, Errno> {
        if dfd(fd) == dfd(AT_FDCWD) {
            return Err(Errno::EBADF);
        }
        self.dirfd_meta(pid, fd)
    }

    /// `statx(dirfd, path, flags, mask, &stx)` (`fs/stat.c: do_statx`): both sync types at once or a reserved
    /// mask bit is EINVAL.
    pub fn sys_statx(&self, pid: Pid, dirfd: i64, path: &str, flags: u64, mask: u64) -> Result<FileMeta, Errno> {
        if mask & STATX__RESERVED != 0 || mask >> 32 != 0 {
            return Err(Errno::EINVAL);
        }
        if flags & !(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH | AT_STATX_SYNC_TYPE) != 0 {
            return Err(Errno::EINVAL);
        }
        if flags & AT_STATX_SYNC_TYPE == AT_STATX_SYNC_TYPE {
            return Err(Errno::EINVAL);
        }
        self.lookup_at(pid, dirfd, path, flags)
    }

    /// `readlinkat(dirfd, path, buf, bufsiz)` (`fs/stat.c: do_readlinkat`): a size of 0 or less is EINVAL;
    /// the path's last component is not followed and an empty path names `dirfd`; a non-link is EINVAL. The
    /// target is cut to `bufsiz` bytes without a NUL; the result is its length.
    pub fn sys_readlinkat(&self, pid: Pid, dirfd: i64, path: &str, bufsiz: i64) -> Result<Vec<u8>, Errno> {
        if dfd(bufsiz) <= 0 {
            return Err(Errno::EINVAL);
        }
        if path.is_empty() {
            // An empty path is the descriptor itself, which is never a symlink in the model.
            self.dirfd_meta(pid, dirfd)?;
            return Err(Errno::EINVAL);
        }
        if path.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let full = self.path_at(pid, dirfd, path)?;
        let mut target = match self.proc_readlink(pid, &full) {
            Some(link) => link?.into_bytes(),
            None => self.fs.readlink(&full)?.into_bytes(),
        };
        target.truncate(dfd(bufsiz) as usize);
        Ok(target)
    }

    /// `getcwd(buf, size)` (`fs/d_path.c`): the working directory and its NUL; ERANGE when it does not fit.
    /// The result is the length including the NUL.
    pub fn sys_getcwd(&self, pid: Pid, size: u64) -> Result<String, Errno> {
        let cwd = self.task(pid)?.fs.with(|f| f.cwd.clone());
        if (cwd.len() as u64) + 1 > size {
            return Err(Errno::ERANGE);
        }
        Ok(cwd)
    }

    /// `chdir(path)` (`fs/open.c`): the path must be a directory (ENOTDIR) the caller may search (EACCES).
    /// Every task sharing the `fs_struct` (CLONE_FS) moves with it.
    pub fn sys_chdir(&mut self, pid: Pid, path: &str) -> SysResult {
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        if path.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let full = self.path_at(pid, AT_FDCWD, path)?;
        let meta = self.fs.stat(&full)?;
        self.set_cwd(pid, meta)
    }

    /// `fchdir(fd)` (`fs/open.c`): EBADF, ENOTDIR, EACCES as for chdir.
    pub fn sys_fchdir(&mut self, pid: Pid, fd: i64) -> SysResult {
        if dfd(fd) == dfd(AT_FDCWD) {
            return Err(Errno::EBADF);
        }
        let meta = self.dirfd_meta(pid, fd)?;
        self.set_cwd(pid, meta)
    }

    /// `statfs(path, &buf)` (`fs/statfs.c: user_statfs`): the path must resolve (following links). The model
    /// knows no file-system statistics, so only the result says anything.
    pub fn sys_statfs(&self, pid: Pid, path: &str) -> SysResult {
        self.lookup_at(pid, AT_FDCWD, path, 0).map(|_| 0)
    }

    /// `fstatfs(fd, &buf)` (`fd_statfs`: `fdget_raw`, so O_PATH descriptors work).
    pub fn sys_fstatfs(&self, pid: Pid, fd: i64) -> SysResult {
        self.sys_fstat(pid, fd).map(|_| 0)
    }

    /// `set_fs_pwd` after the checks chdir and fchdir share (`path_permission(MAY_EXEC | MAY_CHDIR)`).
    fn set_cwd(&mut self, pid: Pid, meta: FileMeta) -> SysResult {
        if meta.mode & S_IFMT != S_IFDIR {
            return Err(Errno::ENOTDIR);
        }
        let task = self.task(pid)?;
        generic_permission(&task.cred, &meta, X_OK)?;
        task.fs.with(|f| f.cwd = meta.path.clone());
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::MemFs;
    use crate::kernel::{KernelConfig, INIT_PID};
    use crate::uapi::{O_DIRECTORY, O_PATH, O_RDONLY};

    const P: Pid = INIT_PID;

    fn kernel() -> Kernel {
        let mut fs = MemFs::new();
        fs.add_dir("/");
        fs.add_dir("/usr");
        fs.add_dir("/usr/bin");
        fs.add_file("/usr/bin/cat", vec![7; 100]);
        fs.add_file("/etc-secret", vec![1; 10]);
        fs.meta_mut("/etc-secret").unwrap().mode = S_IFREG | 0o600;
        fs.add_file("/data", vec![1; 10]);
        fs.meta_mut("/data").unwrap().mode = S_IFREG | 0o644;
        fs.add_symlink("/bin", "usr/bin");
        Kernel::new(KernelConfig::default(), Box::new(fs))
    }

    fn as_user(k: &mut Kernel, uid: u32) {
        k.task_mut(P).unwrap().cred = Cred::for_uid(uid);
    }

    #[test]
    fn access_checks_bits_and_root_overrides() {
        let mut k = kernel();
        // init runs as root: reads and writes pass, execution needs some x bit on a non-directory.
        assert_eq!(k.sys_faccessat2(P, AT_FDCWD, "/etc-secret", R_OK | W_OK, 0), Ok(0));
        assert_eq!(k.sys_faccessat2(P, AT_FDCWD, "/data", X_OK, 0), Err(Errno::EACCES));
        assert_eq!(k.sys_faccessat2(P, AT_FDCWD, "/usr/bin/cat", X_OK, 0), Ok(0));
        assert_eq!(k.sys_faccessat2(P, AT_FDCWD, "/usr", X_OK | W_OK, 0), Ok(0));
        assert_eq!(k.sys_faccessat2(P, AT_FDCWD, "/nope", F_OK, 0), Err(Errno::ENOENT));
        assert_eq!(k.sys_faccessat2(P, AT_FDCWD, "/data", 8, 0), Err(Errno::EINVAL));
        assert_eq!(k.sys_faccessat2(P, AT_FDCWD, "/data", R_OK, 1), Err(Errno::EINVAL));
        as_user(&mut k, 1000);
        assert_eq!(k.sys_faccessat2(P, AT_FDCWD, "/etc-secret", F_OK, 0), Ok(0));
        assert_eq!(
            k.sys_faccessat2(P, AT_FDCWD, "/etc-secret", R_OK, 0),
            Err(Errno::EACCES)
        );
        assert_eq!(k.sys_faccessat2(P, AT_FDCWD, "/data", R_OK, 0), Ok(0));
        assert_eq!(k.sys_faccessat2(P, AT_FDCWD, "/data", W_OK, 0), Err(Errno::EACCES));
        // The owner's bits, not other's.
        k.task_mut(P).unwrap().cred = Cred::for_uid(0);
        k.task_mut(P).unwrap().cred.cap_effective = 0;
        k.task_mut(P).unwrap().cred.cap_permitted = 0;
        assert_eq!(k.sys_faccessat2(P, AT_FDCWD, "/data", W_OK, 0), Ok(0));
        assert_eq!(k.sys_faccessat2(P, AT_FDCWD, "/data", X_OK, 0), Err(Errno::EACCES));
    }

    #[test]
    fn access_uses_real_ids_unless_eaccess() {
        let mut k = kernel();
        // A set-user-ID-root program run by uid 1000: access asks as 1000, AT_EACCESS as root.
        let c = &mut k.task_mut(P).unwrap().cred;
        *c = Cred::for_uid(1000);
        c.euid = 0;
        c.fsuid = 0;
        c.cap_effective = crate::task::CAP_FULL_SET;
        c.cap_permitted = crate::task::CAP_FULL_SET;
        assert_eq!(
            k.sys_faccessat2(P, AT_FDCWD, "/etc-secret", R_OK, 0),
            Err(Errno::EACCES)
        );
        assert_eq!(k.sys_faccessat2(P, AT_FDCWD, "/etc-secret", R_OK, AT_EACCESS), Ok(0));
    }

    #[test]
    fn proc_links_name_the_model_s_files() {
        // /proc/self and /proc/thread-self, a task's exe (its mm's exe_file, copied by fork), cwd, root and
        // fd/N come from the model, not from the host process running it.
        let mut k = kernel();
        let fd = k.sys_openat(P, AT_FDCWD, "/usr/bin/cat", O_RDONLY, 0).unwrap() as i32;
        let cat = k.task(P).unwrap().files.get(fd).unwrap().file.clone();
        let mm = k.task(P).unwrap().mm.unwrap();
        k.mms.get_mut(&mm).unwrap().exe_file = Some(cat);
        let link = |k: &Kernel, pid: Pid, p: &str| {
            k.sys_readlinkat(pid, AT_FDCWD, p, 4096)
                .map(|v| String::from_utf8(v).unwrap())
        };
        assert_eq!(link(&k, P, "/proc/self").as_deref(), Ok("1"));
        assert_eq!(link(&k, P, "/proc/thread-self").as_deref(), Ok("1/task/1"));
        assert_eq!(link(&k, P, "/proc/self/exe").as_deref(), Ok("/usr/bin/cat"));
        assert_eq!(link(&k, P, "/proc/1/task/1/exe").as_deref(), Ok("/usr/bin/cat"));
        assert_eq!(link(&k, P, "/proc/self/cwd").as_deref(), Ok("/"));
        assert_eq!(link(&k, P, "/proc/self/root").as_deref(), Ok("/"));
        assert_eq!(
            link(&k, P, &format!("/proc/self/fd/{fd}")).as_deref(),
            Ok("/usr/bin/cat")
        );
        assert_eq!(link(&k, P, "/proc/self/fd/99"), Err(Errno::ENOENT));
        // kthreadd has no mm.
        assert_eq!(link(&k, Pid(2), "/proc/2/exe"), Err(Errno::ENOENT));
        assert_eq!(link(&k, P, "/proc/2/exe"), Err(Errno::ENOENT));
        let child = Pid(k.sys_fork(P).unwrap() as u32);
        assert_eq!(link(&k, child, "/proc/self/exe").as_deref(), Ok("/usr/bin/cat"));
        assert_eq!(link(&k, child, "/proc/self").unwrap(), child.0.to_string());
    }

    #[test]
    fn stat_follows_links_lstat_does_not() {
        let k = kernel();
        let cat = k.sys_newfstatat(P, AT_FDCWD, "/usr/bin/cat", 0).unwrap();
        assert_eq!((cat.size, cat.mode & S_IFMT), (100, S_IFREG));
        let bin = k.sys_newfstatat(P, AT_FDCWD, "/bin", 0).unwrap();
        assert_eq!(bin.mode & S_IFMT, S_IFDIR);
        assert_eq!(bin.path, "/usr/bin");
        let link = k.sys_newfstatat(P, AT_FDCWD, "/bin", AT_SYMLINK_NOFOLLOW).unwrap();
        assert_eq!((link.mode & S_IFMT, link.size), (S_IFLNK, 7));
        assert_ne!(link.ino, bin.ino);
        assert_eq!(k.sys_newfstatat(P, AT_FDCWD, "", 0), Err(Errno::ENOENT));
        assert_eq!(k.sys_newfstatat(P, AT_FDCWD, "/bin", 1), Err(Errno::EINVAL));
        // Relative to the working directory, `/`.
        assert_eq!(k.sys_newfstatat(P, AT_FDCWD, "usr/bin/cat", 0), Ok(cat.clone()));
        assert_eq!(k.sys_readlinkat(P, AT_FDCWD, "/bin", 4096), Ok(b"usr/bin".to_vec()));
        assert_eq!(k.sys_readlinkat(P, AT_FDCWD, "/bin", 3), Ok(b"usr".to_vec()));
        assert_eq!(k.sys_readlinkat(P, AT_FDCWD, "/bin", 0), Err(Errno::EINVAL));
        assert_eq!(k.sys_readlinkat(P, AT_FDCWD, "/usr", 64), Err(Errno::EINVAL));
        assert_eq!(k.sys_readlinkat(P, AT_FDCWD, "/nope", 64), Err(Errno::ENOENT));
        assert_eq!(k.sys_statx(P, AT_FDCWD, "/bin", AT_SYMLINK_NOFOLLOW, 0xfff), Ok(link));
        assert_eq!(
            k.sys_statx(P, AT_FDCWD, "/bin", AT_STATX_SYNC_TYPE, 0xfff),
            Err(Errno::EINVAL)
        );
        assert_eq!(k.sys_statx(P, AT_FDCWD, "/bin", 0, STATX__RESERVED), Err(Errno::EINVAL));
    }

    #[test]
    fn fstat_and_empty_path_name_the_descriptor() {
        let mut k = kernel();
        let fd = k.sys_openat(P, AT_FDCWD, "/usr/bin/cat", O_RDONLY, 0).unwrap() as i64;
        let cat = k.sys_newfstatat(P, AT_FDCWD, "/usr/bin/cat", 0).unwrap();
        assert_eq!(k.sys_fstat(P, fd), Ok(cat.clone()));
        assert_eq!(k.sys_newfstatat(P, fd, "", AT_EMPTY_PATH), Ok(cat.clone()));
        assert_eq!(k.sys_newfstatat(P, fd, "", 0), Err(Errno::ENOENT));
        assert_eq!(k.sys_fstat(P, 9), Err(Errno::EBADF));
        assert_eq!(k.sys_fstat(P, AT_FDCWD), Err(Errno::EBADF));
        assert_eq!(k.sys_fstatfs(P, fd), Ok(0));
        assert_eq!(k.sys_fstatfs(P, 9), Err(Errno::EBADF));
        assert_eq!(k.sys_statfs(P, "/bin"), Ok(0));
        assert_eq!(k.sys_statfs(P, "/sys/fs/selinux"), Err(Errno::ENOENT));
        assert_eq!(k.sys_statfs(P, ""), Err(Errno::ENOENT));
        // A relative path against a file descriptor that is not a directory.
        assert_eq!(k.sys_newfstatat(P, fd, "x", 0), Err(Errno::ENOTDIR));
        let d = k.sys_openat(P, AT_FDCWD, "/usr", O_PATH | O_DIRECTORY, 0).unwrap() as i64;
        assert_eq!(k.sys_newfstatat(P, d, "bin/cat", 0), Ok(cat.clone()));
        assert_eq!(k.sys_fstat(P, d).map(|m| m.path), Ok("/usr".to_string()));
    }

    #[test]
    fn chdir_moves_relative_lookups_and_getcwd() {
        let mut k = kernel();
        assert_eq!(k.sys_getcwd(P, 4096), Ok("/".to_string()));
        assert_eq!(k.sys_getcwd(P, 1), Err(Errno::ERANGE));
        assert_eq!(k.sys_chdir(P, "/usr/bin/cat"), Err(Errno::ENOTDIR));
        assert_eq!(k.sys_chdir(P, "/nope"), Err(Errno::ENOENT));
        assert_eq!(k.sys_chdir(P, "bin"), Ok(0));
        // d_path of the directory, the link resolved.
        assert_eq!(k.sys_getcwd(P, 4096), Ok("/usr/bin".to_string()));
        assert_eq!(k.sys_getcwd(P, 9), Ok("/usr/bin".to_string()));
        assert_eq!(k.sys_getcwd(P, 8), Err(Errno::ERANGE));
        assert_eq!(k.sys_newfstatat(P, AT_FDCWD, "cat", 0).map(|m| m.size), Ok(100));
        assert_eq!(k.sys_openat(P, AT_FDCWD, "cat", O_RDONLY, 0), Ok(0));
        assert_eq!(k.sys_faccessat2(P, AT_FDCWD, "cat", X_OK, 0), Ok(0));
        let fd = k.sys_openat(P, AT_FDCWD, "/usr", O_RDONLY | O_DIRECTORY, 0).unwrap() as i64;
        assert_eq!(k.sys_fchdir(P, 0), Err(Errno::ENOTDIR));
        assert_eq!(k.sys_fchdir(P, 77), Err(Errno::EBADF));
        assert_eq!(k.sys_fchdir(P, fd), Ok(0));
        assert_eq!(k.sys_getcwd(P, 4096), Ok("/usr".to_string()));
        // A user without search permission cannot enter.
        k.task_mut(P).unwrap().cred = Cred::for_uid(1000);
        let mut fs = MemFs::new();
        fs.add_dir("/");
        fs.add_dir("/locked");
        fs.meta_mut("/locked").unwrap().mode = S_IFDIR | 0o700;
        k.fs = Box::new(fs);
        assert_eq!(k.sys_chdir(P, "/locked"), Err(Errno::EACCES));
    }
}
