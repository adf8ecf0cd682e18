//! The host machine as the model must see it for results to agree: RAM and swap size, overcommit and
//! map-count sysctls, the caller's credentials and resource limits; and a read-only [`FileSource`] over the
//! host's files.

use std::os::unix::fs::{FileExt, MetadataExt};

use memsim_core::fs::{FileMeta, FileSource};
use memsim_core::kernel::{KernelConfig, OvercommitMode};
use memsim_core::task::Rlimit;
use memsim_core::uapi::RLIM_NLIMITS;
use memsim_core::Errno;

/// The configuration a model needs to behave like this host.
#[derive(Clone, Debug)]
pub struct HostConfig {
    pub cfg: KernelConfig,
    /// This process's limits (a forked child inherits them).
    pub rlimits: [Rlimit; RLIM_NLIMITS],
}

fn read_trimmed(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|e| format!("{path}: {e}"))
}

fn sysctl_u64(name: &str) -> Result<u64, String> {
    let path = format!("/proc/sys/vm/{name}");
    let s = read_trimmed(&path)?;
    s.parse().map_err(|_| format!("{path}: `{s}` is not a number"))
}

/// A `/proc/meminfo` field in kB.
fn meminfo_kb(text: &str, field: &str) -> Result<u64, String> {
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("/proc/meminfo has no {field}"))
}

impl HostConfig {
    /// Read the host's configuration.
    pub fn from_host() -> Result<HostConfig, String> {
        let meminfo = read_trimmed("/proc/meminfo")?;
        let mut cfg = KernelConfig {
            // MemTotal is totalram_pages << 2 kB.
            ram_bytes: meminfo_kb(&meminfo, "MemTotal")? << 10,
            total_swap_pages: meminfo_kb(&meminfo, "SwapTotal")? >> 2,
            overcommit: read_trimmed("/proc/sys/vm/overcommit_memory")?.parse::<OvercommitMode>()?,
            overcommit_ratio: sysctl_u64("overcommit_ratio")?,
            overcommit_kbytes: sysctl_u64("overcommit_kbytes")?,
            admin_reserve_kbytes: sysctl_u64("admin_reserve_kbytes")?,
            user_reserve_kbytes: sysctl_u64("user_reserve_kbytes")?,
            mmap_min_addr: sysctl_u64("mmap_min_addr")?,
            ..KernelConfig::default()
        };
        cfg.max_map_count = usize::try_from(sysctl_u64("max_map_count")?).unwrap_or(usize::MAX);
        // SAFETY: getuid has no preconditions and cannot fail.
        cfg.uid = unsafe { libc::getuid() };
        let mut rlimits = [Rlimit::INFINITY; RLIM_NLIMITS];
        for (res, slot) in rlimits.iter_mut().enumerate() {
            let mut rl = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: `rl` is a valid out pointer; `res` is below RLIM_NLIMITS.
            if unsafe { libc::getrlimit(res as libc::__rlimit_resource_t, &mut rl) } != 0 {
                return Err(format!("getrlimit({res}): {}", std::io::Error::last_os_error()));
            }
            *slot = Rlimit::new(rl.rlim_cur, rl.rlim_max);
        }
        Ok(HostConfig { cfg, rlimits })
    }
}

/// The host's files, read-only, as the model sees them.
#[derive(Clone, Copy, Debug, Default)]
pub struct HostFiles;

fn errno_of(e: &std::io::Error) -> Errno {
    e.raw_os_error().and_then(Errno::from_code).unwrap_or(Errno::EIO)
}

/// `major()`/`minor()` of a Linux `dev_t`.
fn dev_split(dev: u64) -> (u32, u32) {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    (major as u32, minor as u32)
}

/// Whether the file system holding `path` is mounted `noexec`.
fn noexec(path: &str) -> bool {
    let Ok(c) = std::ffi::CString::new(path) else {
        return false;
    };
    // SAFETY: `st` is a valid out pointer and `c` a NUL-terminated path.
    unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        libc::statvfs(c.as_ptr(), &mut st) == 0 && st.f_flag & libc::ST_NOEXEC != 0
    }
}

impl FileSource for HostFiles {
    fn stat(&self, path: &str) -> Result<FileMeta, Errno> {
        // The model's cwd is `/`, as is the native child's.
        let abs = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        let canon = std::fs::canonicalize(&abs).map_err(|e| errno_of(&e))?;
        let md = std::fs::metadata(&canon).map_err(|e| errno_of(&e))?;
        let path = canon.to_string_lossy().into_owned();
        let (dev_major, dev_minor) = dev_split(md.dev());
        let (rdev_major, rdev_minor) = dev_split(md.rdev());
        Ok(FileMeta {
            noexec: noexec(&path),
            path,
            dev_major,
            dev_minor,
            ino: md.ino(),
            size: md.size(),
            mode: md.mode(),
            rdev_major,
            rdev_minor,
        })
    }

    fn read_at(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        let f = std::fs::File::open(path).map_err(|e| errno_of(&e))?;
        let mut done = 0;
        while done < buf.len() {
            match f.read_at(&mut buf[done..], offset + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(errno_of(&e)),
            }
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_config_matches_proc() {
        let h = HostConfig::from_host().expect("host configuration");
        assert!(h.cfg.ram_bytes > 0);
        let meminfo = std::fs::read_to_string("/proc/meminfo").expect("meminfo");
        let total = meminfo
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .expect("MemTotal line");
        assert_eq!(
            total.split_whitespace().nth(1),
            Some((h.cfg.ram_bytes >> 10).to_string().as_str())
        );
        let mut rl = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: valid out pointer.
        unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut rl) };
        assert_eq!(h.rlimits[memsim_core::uapi::RLIMIT_MEMLOCK].cur, rl.rlim_cur);
    }

    #[test]
    fn host_files_stat_and_read() {
        let m = HostFiles.stat("/etc/passwd").expect("stat /etc/passwd");
        let real = std::fs::metadata("/etc/passwd").expect("metadata");
        assert_eq!((m.ino, m.size), (real.ino(), real.len()));
        let mut buf = vec![0u8; 8];
        let n = HostFiles.read_at("/etc/passwd", 0, &mut buf).expect("read");
        assert_eq!(&buf[..n], &std::fs::read("/etc/passwd").expect("read")[..n]);
        assert_eq!(HostFiles.stat("/no/such/file"), Err(Errno::ENOENT));
        let z = HostFiles.stat("/dev/zero").expect("stat /dev/zero");
        assert_eq!((z.rdev_major, z.rdev_minor), (1, 5));
    }
}
