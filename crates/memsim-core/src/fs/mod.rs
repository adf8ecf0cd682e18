//! Files as the memory manager sees them: inodes, open file descriptions (`struct file`) and the per-process
//! descriptor table (`include/linux/fs.h`, `fs/file.c`, `fs/open.c`).
//!
//! The core never touches the host. File metadata and bytes come in through the read-only [`FileSource`]
//! trait; the host implementation lives outside the core (`memsim-scenario`), and [`MemFs`] serves tests.
//! Nothing here can write to a file: memsim never writes a host file it models.

pub mod binfmt_elf;
pub mod binfmt_script;
pub mod coredump;
pub mod exec;
pub mod exec_creds;
pub mod open;
pub mod stat;
pub mod sync;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::errno::Errno;

/// What a [`FileSource`] knows about a path (a `struct kstat`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileMeta {
    /// The canonical absolute path (symlinks resolved), as `d_path` prints it in `/proc/PID/maps`.
    pub path: String,
    pub dev_major: u32,
    pub dev_minor: u32,
    pub ino: u64,
    pub size: u64,
    /// `st_mode`: file type and permission bits.
    pub mode: u32,
    /// For character devices, the device number (`/dev/zero` is 1:5).
    pub rdev_major: u32,
    pub rdev_minor: u32,
    /// The filesystem is mounted `noexec`.
    pub noexec: bool,
    /// The filesystem is mounted `nosuid`: exec ignores the set-user-ID and set-group-ID bits
    /// (`mnt_may_suid`).
    pub nosuid: bool,
    /// `st_uid` and `st_gid`: the owner the exec permission check (`generic_permission`) compares with.
    pub uid: u32,
    pub gid: u32,
}

pub const S_IFMT: u32 = 0o170000;
pub const S_IFREG: u32 = 0o100000;
pub const S_IFDIR: u32 = 0o040000;
pub const S_IFCHR: u32 = 0o020000;

/// A read-only source of files: the host's file system in the CLI, an in-memory one in tests.
pub trait FileSource {
    /// Resolve `path` (absolute, or relative to the model's cwd `/`) and describe the file.
    /// Errors are the errno `openat` would give (ENOENT, EACCES, ENOTDIR, ELOOP, ...).
    fn stat(&self, path: &str) -> Result<FileMeta, Errno>;
    /// Read up to `buf.len()` bytes at `offset` of the file at canonical `path`; short reads at end of file.
    fn read_at(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize, Errno>;
    /// As [`FileSource::stat`] but a final symlink is described itself (`lstat`, AT_SYMLINK_NOFOLLOW); its
    /// `path` is the link's own (the directories before it resolved). By default there are no symlinks.
    fn lstat(&self, path: &str) -> Result<FileMeta, Errno> {
        self.stat(path)
    }
    /// The target a symlink holds (`readlink`); EINVAL for anything else. By default there are no symlinks.
    fn readlink(&self, path: &str) -> Result<String, Errno> {
        self.lstat(path)?;
        Err(Errno::EINVAL)
    }
}

/// The kind of object an inode is, as far as mappings care.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum InodeKind {
    /// A regular file: mapped through the page cache.
    Regular,
    /// `/dev/zero`: MAP_PRIVATE keeps it as `vm_file` but faults anonymously; MAP_SHARED becomes shmem.
    DevZero,
    /// A shmem object (shared anonymous memory, memfd, SysV shm): dev `00:01`, name `/dev/zero (deleted)`.
    Shmem,
    /// A file on one of the kernel's internal hugetlbfs mounts (`/anon_hugepage (deleted)`, MAP_HUGETLB
    /// anonymous memory), one mount per huge page size (`hstate`); its pages would come from that size's
    /// pool, which the model keeps empty.
    Hugetlbfs { page_shift: u32 },
    /// Directories, other devices, pipes: cannot be mapped (ENODEV), but can be opened.
    Other,
}

/// Model-internal identity of an inode (the page cache is keyed by it).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct InodeId(pub u64);

/// An inode: identity, kind and metadata.
#[derive(Debug)]
pub struct Inode {
    pub id: InodeId,
    pub kind: InodeKind,
    pub meta: FileMeta,
    /// The name shown in maps (`d_path`, plus ` (deleted)` for shmem objects).
    pub display_name: String,
}

/// Model-internal identity of an open file description; `vma->vm_file == file` compares these.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct FileId(pub u64);

/// An open file description (`struct file`): shared by `dup`ed descriptors and by the VMAs that map it.
#[derive(Debug)]
pub struct File {
    pub id: FileId,
    pub inode: Arc<Inode>,
    /// `O_*` flags given at open (access mode in the low two bits).
    pub flags: u64,
}

impl File {
    /// `FMODE_READ`.
    pub fn readable(&self) -> bool {
        matches!(
            self.flags & crate::uapi::O_ACCMODE,
            crate::uapi::O_RDONLY | crate::uapi::O_RDWR
        )
    }
    /// `FMODE_WRITE`.
    pub fn writable(&self) -> bool {
        matches!(
            self.flags & crate::uapi::O_ACCMODE,
            crate::uapi::O_WRONLY | crate::uapi::O_RDWR
        )
    }
}

/// One slot of a descriptor table.
#[derive(Clone, Debug)]
pub struct FdEntry {
    pub file: Arc<File>,
    pub cloexec: bool,
}

/// A process's descriptor table (`struct files_struct`). Descriptors 0-2 are not pre-opened: the model
/// starts with an empty table, so the first `openat` returns 3 only after 0-2 are taken. (Scenario runners
/// pre-open 0, 1, 2 on `/dev/null` so that numbering matches a real process.)
///
/// The table is a shared handle: [`FdTable::share`] is CLONE_FILES (both tasks see every later open, dup and
/// close); `clone()` is `dup_fd`, an independent copy holding the same open file descriptions, as fork makes.
#[derive(Debug, Default)]
pub struct FdTable {
    fds: Arc<std::sync::Mutex<BTreeMap<i32, FdEntry>>>,
}

impl Clone for FdTable {
    /// `dup_fd`: a new table with the same descriptions (not shared).
    fn clone(&self) -> Self {
        FdTable {
            fds: Arc::new(std::sync::Mutex::new(self.lock().clone())),
        }
    }
}

impl FdTable {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<i32, FdEntry>> {
        // Never poisoned: nothing panics while holding it.
        self.fds.lock().unwrap_or_else(|e| e.into_inner())
    }
    /// The same table, shared (CLONE_FILES: `atomic_inc(&oldf->count)`).
    pub fn share(&self) -> FdTable {
        FdTable { fds: self.fds.clone() }
    }
    /// `files->count`: how many tasks use this table.
    pub fn users(&self) -> usize {
        Arc::strong_count(&self.fds)
    }
    /// The two handles name the same table.
    pub fn same_table(&self, other: &FdTable) -> bool {
        Arc::ptr_eq(&self.fds, &other.fds)
    }
    pub fn get(&self, fd: i32) -> Option<FdEntry> {
        self.lock().get(&fd).cloned()
    }
    /// The lowest free descriptor at or above `min` (`alloc_fd`), below `limit` (RLIMIT_NOFILE) else EMFILE.
    pub fn lowest_free(&self, min: i32, limit: u64) -> Result<i32, Errno> {
        let mut fd = min;
        for (&k, _) in self.lock().range(min..) {
            if k != fd {
                break;
            }
            fd += 1;
        }
        if (fd as u64) >= limit {
            return Err(Errno::EMFILE);
        }
        Ok(fd)
    }
    pub fn install(&mut self, fd: i32, entry: FdEntry) -> Option<FdEntry> {
        self.lock().insert(fd, entry)
    }
    pub fn remove(&mut self, fd: i32) -> Option<FdEntry> {
        self.lock().remove(&fd)
    }
    /// The open descriptors in order (a snapshot).
    pub fn iter(&self) -> std::vec::IntoIter<(i32, FdEntry)> {
        self.lock()
            .iter()
            .map(|(&k, v)| (k, v.clone()))
            .collect::<Vec<_>>()
            .into_iter()
    }
    /// Remove every descriptor (`put_files_struct` of the last user, or exec's close-on-exec pass with a
    /// filter); returns what was removed.
    pub fn retain(&mut self, mut keep: impl FnMut(i32, &FdEntry) -> bool) -> Vec<(i32, FdEntry)> {
        let mut g = self.lock();
        let gone: Vec<i32> = g.iter().filter(|(&k, v)| !keep(k, v)).map(|(&k, _)| k).collect();
        gone.into_iter().filter_map(|k| g.remove(&k).map(|v| (k, v))).collect()
    }
    pub fn len(&self) -> usize {
        self.lock().len()
    }
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

/// An in-memory [`FileSource`] for tests and examples.
#[derive(Clone, Debug, Default)]
pub struct MemFs {
    files: BTreeMap<String, (FileMeta, Arc<Vec<u8>>)>,
    /// Symlinks: their own metadata and target (absolute, or relative to the link's directory).
    links: BTreeMap<String, (FileMeta, String)>,
    next_ino: u64,
}

impl MemFs {
    /// Change a file's metadata (mode, owner, `noexec`, `nosuid`) in tests.
    pub fn meta_mut(&mut self, path: &str) -> Option<&mut FileMeta> {
        self.files.get_mut(path).map(|(m, _)| m)
    }

    pub fn new() -> Self {
        let mut fs = MemFs {
            files: BTreeMap::new(),
            links: BTreeMap::new(),
            next_ino: 100,
        };
        fs.add_special("/dev/zero", S_IFCHR | 0o666, (1, 5), 4);
        fs.add_special("/dev/null", S_IFCHR | 0o666, (1, 3), 5);
        fs
    }

    fn add_special(&mut self, path: &str, mode: u32, rdev: (u32, u32), ino: u64) {
        let meta = FileMeta {
            path: path.to_string(),
            dev_minor: 6,
            ino,
            mode,
            rdev_major: rdev.0,
            rdev_minor: rdev.1,
            noexec: true,
            ..FileMeta::default()
        };
        self.files.insert(path.to_string(), (meta, Arc::new(Vec::new())));
    }

    /// The metadata of a new inode on device `fe:00` (root's, the next inode number).
    fn disk_meta(&mut self, path: &str, size: u64, mode: u32) -> FileMeta {
        self.next_ino += 1;
        FileMeta {
            path: path.to_string(),
            dev_major: 0xfe,
            ino: self.next_ino,
            size,
            mode,
            ..FileMeta::default()
        }
    }

    /// Add a directory on device `fe:00`.
    pub fn add_dir(&mut self, path: &str) -> FileMeta {
        let meta = self.disk_meta(path, 4096, S_IFDIR | 0o755);
        self.files
            .insert(path.to_string(), (meta.clone(), Arc::new(Vec::new())));
        meta
    }

    /// Add a regular file with the given contents on device `fe:00`.
    pub fn add_file(&mut self, path: &str, contents: Vec<u8>) -> FileMeta {
        let meta = self.disk_meta(path, contents.len() as u64, S_IFREG | 0o755);
        self.files.insert(path.to_string(), (meta.clone(), Arc::new(contents)));
        meta
    }
}

impl MemFs {
    /// Add a symlink holding `target` (one level: a link to a link is not followed further).
    pub fn add_symlink(&mut self, path: &str, target: &str) -> FileMeta {
        let meta = self.disk_meta(path, target.len() as u64, stat::S_IFLNK | 0o777);
        self.links.insert(path.to_string(), (meta.clone(), target.to_string()));
        meta
    }
}

impl FileSource for MemFs {
    fn stat(&self, path: &str) -> Result<FileMeta, Errno> {
        if let Some((_, target)) = self.links.get(path) {
            let abs = if target.starts_with('/') {
                target.clone()
            } else {
                let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
                format!("{dir}/{target}")
            };
            return self.files.get(&abs).map(|(m, _)| m.clone()).ok_or(Errno::ENOENT);
        }
        self.files.get(path).map(|(m, _)| m.clone()).ok_or(Errno::ENOENT)
    }
    fn lstat(&self, path: &str) -> Result<FileMeta, Errno> {
        match self.links.get(path) {
            Some((m, _)) => Ok(m.clone()),
            None => self.stat(path),
        }
    }
    fn readlink(&self, path: &str) -> Result<String, Errno> {
        match self.links.get(path) {
            Some((_, t)) => Ok(t.clone()),
            None => self.stat(path).and(Err(Errno::EINVAL)),
        }
    }
    fn read_at(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        let (_, data) = self.files.get(path).ok_or(Errno::ENOENT)?;
        let off = usize::try_from(offset).unwrap_or(usize::MAX).min(data.len());
        let n = buf.len().min(data.len() - off);
        buf[..n].copy_from_slice(&data[off..off + n]);
        Ok(n)
    }
}
