//! fsync and fdatasync (`fs/sync.c: do_fsync`, `vfs_fsync_range`): a regular file's dirty cached pages are
//! written back (`file_write_and_wait_range` over the whole file, as msync does for a range), which in the
//! model means cleaned in every shared mapping and kept as the file's contents (`Kernel::writeback_range`);
//! memsim never writes the host file. Shared memory and hugetlbfs have `noop_fsync`; a directory succeeds
//! (ext4's `ext4_sync_file`); devices, pipes and /proc files have no `fsync` operation: EINVAL.

use crate::errno::{Errno, SysResult};
use crate::fs::{InodeKind, S_IFDIR, S_IFMT};
use crate::kernel::Kernel;
use crate::procfs::lookup::PROC_DEV;
use crate::task::Pid;

impl Kernel {
    /// `fsync(fd)`.
    pub fn sys_fsync(&mut self, pid: Pid, fd: i64) -> SysResult {
        // fdget: an O_PATH descriptor is EBADF too.
        let f = self.fget(pid, fd)?;
        let meta = &f.inode.meta;
        match f.inode.kind {
            InodeKind::Regular => {
                self.writeback_range(f.inode.id, 0, u64::MAX);
                Ok(0)
            }
            InodeKind::Shmem | InodeKind::Hugetlbfs { .. } => Ok(0),
            InodeKind::Other if meta.mode & S_IFMT == S_IFDIR && (meta.dev_major, meta.dev_minor) != PROC_DEV => Ok(0),
            InodeKind::DevZero | InodeKind::Other => Err(Errno::EINVAL),
        }
    }

    /// `fdatasync(fd)`: the same here (the model keeps no file metadata to leave unwritten).
    pub fn sys_fdatasync(&mut self, pid: Pid, fd: i64) -> SysResult {
        self.sys_fsync(pid, fd)
    }
}

#[cfg(test)]
mod tests {
    use crate::errno::Errno;
    use crate::fs::MemFs;
    use crate::kernel::{Kernel, KernelConfig, INIT_PID as P};
    use crate::uapi::*;

    #[test]
    fn fsync_results_by_file_kind() {
        // Checked with a C program on 6.18: /dev/zero, /dev/null, /proc files and pipes EINVAL; directories,
        // regular files and memfds 0; a bad or O_PATH descriptor EBADF.
        let mut fs = MemFs::new();
        fs.add_dir("/data");
        fs.add_file("/data/f", vec![b'x'; 8192]);
        let mut k = Kernel::new(KernelConfig::default(), Box::new(fs));
        let open = |k: &mut Kernel, p: &str, fl: u64| k.sys_openat(P, AT_FDCWD, p, fl, 0).unwrap() as i64;
        let f = open(&mut k, "/data/f", O_RDWR);
        assert_eq!(k.sys_fsync(P, f), Ok(0));
        assert_eq!(k.sys_fdatasync(P, f), Ok(0));
        let d = open(&mut k, "/data", O_RDONLY);
        assert_eq!(k.sys_fsync(P, d), Ok(0));
        let maps = open(&mut k, "/proc/self/maps", O_RDONLY);
        assert_eq!(k.sys_fsync(P, maps), Err(Errno::EINVAL));
        let path = open(&mut k, "/data/f", O_PATH);
        assert_eq!(k.sys_fsync(P, path), Err(Errno::EBADF));
        assert_eq!(k.sys_fsync(P, 99), Err(Errno::EBADF));
        // fsync writes a shared mapping's dirty pages back, as msync(MS_SYNC) does.
        let a = 0x1_0000_0000u64;
        let rw = PROT_READ | PROT_WRITE;
        assert_eq!(k.sys_mmap(P, a, 8192, rw, MAP_SHARED | MAP_FIXED, f, 0), Ok(a));
        k.poke(P, a + 4096, b"D").unwrap();
        let dirty = |k: &Kernel| {
            let s = String::from_utf8(k.proc_read(P, "smaps").unwrap()).unwrap();
            s.lines()
                .find(|l| l.starts_with("Private_Dirty:"))
                .map(|l| l.split_whitespace().nth(1).unwrap().to_string())
        };
        assert_eq!(dirty(&k).as_deref(), Some("4"));
        assert_eq!(k.sys_fsync(P, f), Ok(0));
        assert_eq!(dirty(&k).as_deref(), Some("0"));
        k.check_all_page_invariants().unwrap();
    }
}
