//! The machine flags shared by every subcommand (`--ram`, `--overcommit`, `--arch`, `--uid`, `--rlimit`,
//! `--aslr`, `--seed`, `--core-dir`), parsed into a raw form by clap and then validated into a [`Machine`].

use memsim_core::arch::Arch;
use memsim_core::kernel::OvercommitMode;
use memsim_core::task::Rlimit;
use memsim_core::uapi::{self, RLIM_INFINITY};
use memsim_scenario::Machine;

#[derive(clap::Args, Debug, Clone)]
pub struct MachineArgs {
    /// Simulated RAM (bytes, or with a K/M/G/T suffix: 8G, 512M).
    #[arg(long, value_name = "SIZE", default_value = "8G")]
    pub ram: String,
    /// vm.overcommit_memory: 0 heuristic, 1 always, 2 strict.
    #[arg(long, value_name = "0|1|2", default_value = "0")]
    pub overcommit: String,
    /// x86_64 (4-level paging), x86_64-la57 (5-level) or i386 (2-level, 3 GiB user space).
    #[arg(long, value_name = "ARCH", default_value = "x86_64")]
    pub arch: String,
    /// The user id of PID 1 (0, root, has every capability; others have none).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub uid: u32,
    /// Set a resource limit of PID 1: STACK=8M:unlimited, RLIMIT_AS=1G:1G, MEMLOCK=0:0, NOFILE=64:64.
    /// Values are bytes (or counts) with optional K/M/G/T suffix, or `unlimited`/`infinity`. Repeatable.
    #[arg(long, value_name = "RESOURCE=SOFT:HARD")]
    pub rlimit: Vec<String>,
    /// kernel.randomize_va_space: 0 off (replay logs recorded under `setarch -R`), 1 stack, vDSO and mmap
    /// base, 2 also the heap (Linux's default). The first process, before it execs, is never randomized.
    #[arg(long, value_name = "0|1|2", default_value = "2")]
    pub aslr: String,
    /// Seed of the model's random generator (ASLR offsets, AT_RANDOM): the same seed gives the same run.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed: u64,
    /// Write the core file of a process killed by SIGSEGV or SIGBUS to DIR/core.PID, when its RLIMIT_CORE
    /// allows one (raise it with `--rlimit CORE=unlimited`).
    #[arg(long, value_name = "DIR")]
    pub core_dir: Option<std::path::PathBuf>,
}

impl MachineArgs {
    pub fn to_machine(&self) -> Result<Machine, String> {
        let mut m = Machine::default();
        m.cfg.ram_bytes = parse_size(&self.ram).map_err(|e| format!("--ram {}: {e}", self.ram))? & !0xfff;
        if m.cfg.ram_bytes == 0 {
            return Err(format!("--ram {}: at least one page is needed", self.ram));
        }
        m.cfg.overcommit = self
            .overcommit
            .parse::<OvercommitMode>()
            .map_err(|e| format!("--overcommit: {e}"))?;
        m.cfg.arch = self.arch.parse::<Arch>().map_err(|e| format!("--arch: {e}"))?;
        m.cfg.uid = self.uid;
        if m.cfg.arch == Arch::X86_64 {
            // The [vdso] pages hold this kernel's image (cores then carry a vDSO gdb can read).
            m.cfg.vdso_image =
                memsim_scenario::hostfs::host_vdso_image().map(|b| memsim_core::arch::vdso::VdsoImage(b.into()));
        }
        m.cfg.randomize_va_space = match self.aslr.trim() {
            "0" => 0,
            "1" => 1,
            "2" => 2,
            other => return Err(format!("--aslr {other}: expected 0, 1 or 2")),
        };
        m.seed = self.seed;
        if let Some(dir) = &self.core_dir {
            if !dir.is_dir() {
                return Err(format!("--core-dir {}: not a directory", dir.display()));
            }
            m.core_dir = Some(dir.clone());
        }
        for r in &self.rlimit {
            m.rlimits
                .push(parse_rlimit(r).map_err(|e| format!("--rlimit {r}: {e}"))?);
        }
        Ok(m)
    }
}

/// `4096`, `0x1000`, `8G`, `512M`, `64k`, `1GiB`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let body = lower
        .strip_suffix("ib")
        .or_else(|| lower.strip_suffix('b'))
        .unwrap_or(&lower);
    let (num, shift) = match body.as_bytes().last() {
        Some(b'k') => (&body[..body.len() - 1], 10),
        Some(b'm') => (&body[..body.len() - 1], 20),
        Some(b'g') => (&body[..body.len() - 1], 30),
        Some(b't') => (&body[..body.len() - 1], 40),
        _ => (body, 0),
    };
    let v = if let Some(h) = num.strip_prefix("0x") {
        u64::from_str_radix(h, 16)
    } else {
        num.parse::<u64>()
    }
    .map_err(|_| "expected a size such as 4096, 512M or 8G".to_string())?;
    v.checked_mul(1u64 << shift).ok_or_else(|| "too large".to_string())
}

fn parse_limit(s: &str) -> Result<u64, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "unlimited" | "infinity" | "inf" => Ok(RLIM_INFINITY),
        _ => parse_size(s),
    }
}

/// `STACK=8M:unlimited`, `RLIMIT_AS=1G:1G`; a single value sets both limits.
pub fn parse_rlimit(s: &str) -> Result<(usize, Rlimit), String> {
    let (name, vals) = s.split_once('=').ok_or("expected RESOURCE=SOFT:HARD")?;
    let name = name.trim().to_ascii_uppercase();
    let full = if name.starts_with("RLIMIT_") {
        name.clone()
    } else {
        format!("RLIMIT_{name}")
    };
    let res = uapi::lookup(uapi::RLIMIT_NAMES, &full).ok_or_else(|| {
        let names: Vec<&str> = uapi::RLIMIT_NAMES.iter().map(|(n, _)| &n[7..]).collect();
        format!("unknown resource `{name}` (one of {})", names.join(", "))
    })? as usize;
    let (soft, hard) = match vals.split_once(':') {
        Some((a, b)) => (parse_limit(a)?, parse_limit(b)?),
        None => {
            let v = parse_limit(vals)?;
            (v, v)
        }
    };
    if soft > hard {
        return Err("the soft limit exceeds the hard limit".into());
    }
    Ok((res, Rlimit::new(soft, hard)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> Result<Machine, String> {
        #[derive(clap::Parser)]
        struct T {
            #[command(flatten)]
            m: MachineArgs,
        }
        let argv: Vec<&str> = std::iter::once("t").chain(extra.iter().copied()).collect();
        <T as clap::Parser>::try_parse_from(argv)
            .map_err(|e| e.to_string())?
            .m
            .to_machine()
    }

    #[test]
    fn aslr_seed_and_core_dir() {
        let m = args(&[]).unwrap();
        assert_eq!((m.cfg.randomize_va_space, m.seed, m.core_dir.clone()), (2, 0, None));
        let m = args(&["--aslr", "0", "--seed", "42", "--core-dir", "/tmp"]).unwrap();
        assert_eq!(m.cfg.randomize_va_space, 0);
        assert_eq!(m.seed, 42);
        assert_eq!(m.core_dir.as_deref(), Some(std::path::Path::new("/tmp")));
        assert!(args(&["--aslr", "3"]).unwrap_err().contains("expected 0, 1 or 2"));
        assert!(args(&["--core-dir", "/nonexistent/dir"])
            .unwrap_err()
            .contains("not a directory"));
        assert!(args(&["--seed", "x"]).is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("8G"), Ok(8 << 30));
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("0x1000"), Ok(4096));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("99999999999T").is_err());
    }

    #[test]
    fn rlimits() {
        assert_eq!(
            parse_rlimit("STACK=8M:unlimited"),
            Ok((uapi::RLIMIT_STACK, Rlimit::new(8 << 20, RLIM_INFINITY)))
        );
        assert_eq!(
            parse_rlimit("rlimit_as=1G"),
            Ok((uapi::RLIMIT_AS, Rlimit::new(1 << 30, 1 << 30)))
        );
        assert_eq!(
            parse_rlimit("NOFILE=64:128"),
            Ok((uapi::RLIMIT_NOFILE, Rlimit::new(64, 128)))
        );
        assert!(parse_rlimit("BOGUS=1:1").unwrap_err().contains("unknown resource"));
        assert!(parse_rlimit("STACK=2:1").unwrap_err().contains("exceeds"));
        assert!(parse_rlimit("STACK").is_err());
    }
}
