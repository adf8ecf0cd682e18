//! The host's file system as a read-only [`FileSource`]: what `openat` and file mappings in a scenario see.
//!
//! Metadata comes from `stat(2)` (via `std::fs::metadata`, which follows symlinks as `openat` without
//! `O_NOFOLLOW` does), the canonical path from `realpath(3)` (what `d_path` prints in `/proc/PID/maps`),
//! `noexec` and `nosuid` from `/proc/self/mountinfo`. Files are opened read-only and only ever read: memsim never writes a
//! host file.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};

use memsim_core::fs::{FileMeta, FileSource};
use memsim_core::Errno;

/// The host file system, read-only.
#[derive(Debug, Default)]
pub struct HostFs {
    /// Mount points with whether their mount options include `noexec` and `nosuid`, longest first.
    mounts: Vec<(String, MountFlags)>,
    /// Files opened for reading, by canonical path (page faults read one page at a time).
    open: RefCell<BTreeMap<String, File>>,
}

impl HostFs {
    pub fn new() -> HostFs {
        let mut mounts = std::fs::read_to_string("/proc/self/mountinfo")
            .map(|t| parse_mountinfo(&t))
            .unwrap_or_default();
        mounts.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        HostFs {
            mounts,
            open: RefCell::new(BTreeMap::new()),
        }
    }

    /// The flags of the mount `path` lies on (the longest matching mount point).
    fn mount_of(&self, path: &str) -> MountFlags {
        self.mounts
            .iter()
            .find(|(m, _)| {
                m == "/" || path == m || (path.starts_with(m.as_str()) && path.as_bytes().get(m.len()) == Some(&b'/'))
            })
            .map_or(MountFlags::default(), |&(_, f)| f)
    }

    fn noexec(&self, path: &str) -> bool {
        self.mount_of(path).noexec
    }
}

/// The per-mount options exec cares about (`MNT_NOEXEC`, `MNT_NOSUID`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct MountFlags {
    noexec: bool,
    nosuid: bool,
}

/// The host kernel's vDSO image: the bytes of this process's own `[vdso]` mapping (read through
/// `/proc/self/mem`), for [`memsim_core::KernelConfig::vdso_image`]. None if it cannot be read.
pub fn host_vdso_image() -> Option<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    let line = maps.lines().find(|l| l.ends_with(" [vdso]"))?;
    let (range, _) = line.split_once(' ')?;
    let (lo, hi) = range.split_once('-')?;
    let lo = u64::from_str_radix(lo, 16).ok()?;
    let hi = u64::from_str_radix(hi, 16).ok()?;
    let mut mem = File::open("/proc/self/mem").ok()?;
    mem.seek(SeekFrom::Start(lo)).ok()?;
    let mut buf = vec![0u8; usize::try_from(hi.checked_sub(lo)?).ok()?];
    mem.read_exact(&mut buf).ok()?;
    Some(buf)
}

/// `(mount point, flags)` for each line of `/proc/self/mountinfo` (`fs/proc_namespace.c: show_mountinfo`):
/// field 5 is the mount point (octal-escaped), field 6 the per-mount options.
fn parse_mountinfo(text: &str) -> Vec<(String, MountFlags)> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split(' ');
            let point = f.nth(4)?;
            let opts = f.next()?;
            let has = |name: &str| opts.split(',').any(|o| o == name);
            Some((
                unescape_octal(point),
                MountFlags {
                    noexec: has("noexec"),
                    nosuid: has("nosuid"),
                },
            ))
        })
        .collect()
}

/// Undo the `\040`-style escapes of mountinfo.
fn unescape_octal(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl HostFs {
    /// The model's view of a host `stat` result for `path` (canonical).
    fn meta(&self, path: String, md: &std::fs::Metadata) -> FileMeta {
        let (dev_major, dev_minor) = dev_major_minor(md.dev());
        let (rdev_major, rdev_minor) = dev_major_minor(md.rdev());
        FileMeta {
            noexec: self.noexec(&path),
            nosuid: self.mount_of(&path).nosuid,
            uid: md.uid(),
            gid: md.gid(),
            path,
            dev_major,
            dev_minor,
            ino: md.ino(),
            size: md.size(),
            mode: md.mode(),
            rdev_major,
            rdev_minor,
        }
    }
}

/// An absolute path (the core resolves relative ones against the task's working directory; `/` else).
fn absolute(path: &str) -> Result<String, Errno> {
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    Ok(if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    })
}

/// The errno of a failed host operation.
fn errno(e: &io::Error) -> Errno {
    e.raw_os_error().and_then(Errno::from_code).unwrap_or(Errno::EIO)
}

/// `MAJOR()`/`MINOR()` of a user-space `dev_t` (glibc's `gnu_dev_major`/`gnu_dev_minor` encoding).
pub fn dev_major_minor(dev: u64) -> (u32, u32) {
    let major = ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0x0fff);
    let minor = ((dev >> 12) & 0xffff_ff00) | (dev & 0xff);
    (major as u32, minor as u32)
}

impl FileSource for HostFs {
    fn stat(&self, path: &str) -> Result<FileMeta, Errno> {
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        // The model's working directory is `/`.
        let abs = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        let md = std::fs::metadata(&abs).map_err(|e| errno(&e))?;
        let canon = std::fs::canonicalize(&abs).map_err(|e| errno(&e))?;
        let canon = canon.to_string_lossy().into_owned();
        Ok(self.meta(canon, &md))
    }

    /// `lstat(2)`: a final symlink described itself, under its directory's canonical path.
    fn lstat(&self, path: &str) -> Result<FileMeta, Errno> {
        let abs = absolute(path)?;
        let md = std::fs::symlink_metadata(&abs).map_err(|e| errno(&e))?;
        if !md.file_type().is_symlink() {
            return self.stat(path);
        }
        let p = std::path::Path::new(&abs);
        let (Some(dir), Some(name)) = (p.parent(), p.file_name()) else {
            return self.stat(path);
        };
        let dir = std::fs::canonicalize(dir).map_err(|e| errno(&e))?;
        let own = dir.join(name).to_string_lossy().into_owned();
        Ok(self.meta(own, &md))
    }

    /// `readlink(2)` of the host path.
    fn readlink(&self, path: &str) -> Result<String, Errno> {
        let abs = absolute(path)?;
        let t = std::fs::read_link(&abs).map_err(|e| errno(&e))?;
        Ok(t.to_string_lossy().into_owned())
    }

    fn read_at(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        let mut open = self.open.borrow_mut();
        if !open.contains_key(path) {
            // Read-only: `File::open` never creates, truncates or writes.
            let f = File::open(path).map_err(|e| errno(&e))?;
            open.insert(path.to_string(), f);
        }
        let Some(f) = open.get(path) else {
            return Err(Errno::EIO);
        };
        let mut done = 0;
        while done < buf.len() {
            match f.read_at(&mut buf[done..], offset.saturating_add(done as u64)) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(errno(&e)),
            }
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_matches_the_host() {
        let fs = HostFs::new();
        let m = fs.stat("/proc/self/exe").unwrap();
        let real = std::fs::canonicalize("/proc/self/exe").unwrap();
        assert_eq!(m.path, real.to_string_lossy());
        assert_eq!(m.mode & 0o170000, 0o100000);
        let null = fs.stat("/dev/null").unwrap();
        assert_eq!((null.rdev_major, null.rdev_minor), (1, 3));
        assert_eq!(fs.stat("/no/such/file"), Err(Errno::ENOENT));
        assert_eq!(fs.stat(""), Err(Errno::ENOENT));
        assert_eq!(fs.stat("etc/passwd").map(|m| m.path), Ok("/etc/passwd".to_string()));
    }

    #[test]
    fn lstat_and_readlink_see_the_link_itself() {
        let dir = std::env::temp_dir().join(format!("memsim-hostfs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let link = dir.join("l");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink("/etc/passwd", &link).unwrap();
        let fs = HostFs::new();
        let l = link.to_str().unwrap();
        let real = std::fs::symlink_metadata(&link).unwrap();
        let m = fs.lstat(l).unwrap();
        assert_eq!((m.mode & 0o170000, m.ino, m.size), (0o120000, real.ino(), 11));
        let canon = std::fs::canonicalize(&dir).unwrap().join("l");
        assert_eq!(m.path, canon.to_string_lossy());
        assert_eq!(fs.stat(l).map(|m| m.path), Ok("/etc/passwd".to_string()));
        assert_eq!(fs.readlink(l), Ok("/etc/passwd".to_string()));
        assert_eq!(fs.readlink("/etc/passwd"), Err(Errno::EINVAL));
        assert_eq!(fs.readlink("/no/such"), Err(Errno::ENOENT));
        assert_eq!(fs.lstat("/etc/passwd"), fs.stat("/etc/passwd"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn reads_bytes_and_stops_at_end_of_file() {
        let fs = HostFs::new();
        let want = std::fs::read("/proc/self/exe").unwrap();
        let path = fs.stat("/proc/self/exe").unwrap().path;
        let mut buf = [0u8; 16];
        assert_eq!(fs.read_at(&path, 0, &mut buf), Ok(16));
        assert_eq!(&buf[..], &want[..16]);
        let end = want.len() as u64;
        assert_eq!(fs.read_at(&path, end - 3, &mut buf), Ok(3));
        assert_eq!(fs.read_at(&path, end + 100, &mut buf), Ok(0));
    }

    #[test]
    fn device_numbers_and_mountinfo() {
        assert_eq!(dev_major_minor(0x0803), (8, 3));
        assert_eq!(dev_major_minor((259 << 8) | 1), (259, 1));
        let mi = "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n\
                  30 22 0:25 / /dev/shm rw,nosuid,nodev,noexec shared:2 - tmpfs tmpfs rw\n\
                  31 22 0:26 / /mnt/a\\040b rw,noexec - tmpfs tmpfs rw\n";
        let m = parse_mountinfo(mi);
        assert_eq!(
            m,
            vec![
                ("/".into(), MountFlags::default()),
                (
                    "/dev/shm".into(),
                    MountFlags {
                        noexec: true,
                        nosuid: true
                    }
                ),
                (
                    "/mnt/a b".into(),
                    MountFlags {
                        noexec: true,
                        nosuid: false,
                    }
                )
            ]
        );
        let mut mounts = m;
        mounts.sort_by_key(|m| std::cmp::Reverse(m.0.len()));
        let fs = HostFs {
            mounts,
            ..Default::default()
        };
        assert!(fs.noexec("/dev/shm/x"));
        assert!(!fs.noexec("/dev/shmx"));
        assert!(!fs.noexec("/usr/bin/cat"));
        assert!(fs.mount_of("/dev/shm/x").nosuid && !fs.mount_of("/mnt/a b/x").nosuid);
    }
}
