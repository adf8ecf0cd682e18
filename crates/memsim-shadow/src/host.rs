//! The host machine as the model must see it for results to agree: RAM and swap size, overcommit and
//! map-count sysctls, the caller's credentials and resource limits. (Files reach the model through the
//! scenario crate's `HostFs`, as in `memsim run`.)

use memsim_core::kernel::{KernelConfig, OvercommitMode};
use memsim_core::task::Rlimit;
use memsim_core::uapi::RLIM_NLIMITS;

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

/// The device of the kernel's internal hugetlbfs mount, read from the `maps` line of a MAP_HUGETLB |
/// MAP_NORESERVE mapping made for the purpose (it reserves nothing and is never touched); `None` without
/// hugetlb support.
fn hugetlbfs_dev() -> Option<(u32, u32)> {
    let len = 2 << 20;
    // SAFETY: a fresh anonymous mapping at an address the kernel picks; nothing else refers to it.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_HUGETLB | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return None;
    }
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    // SAFETY: `p` is the mapping made above, `len` long, and no reference into it exists.
    unsafe { libc::munmap(p, len) };
    let prefix = format!("{:x}-", p as usize);
    let dev = maps.lines().find(|l| l.starts_with(&prefix))?.split(' ').nth(3)?;
    let (major, minor) = dev.split_once(':')?;
    Some((
        u32::from_str_radix(major, 16).ok()?,
        u32::from_str_radix(minor, 16).ok()?,
    ))
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
        if let Some(dev) = hugetlbfs_dev() {
            cfg.hugetlbfs_dev = dev;
        }
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
}
