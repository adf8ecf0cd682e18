//! smaps statistics and pagemap flags of touched pages against the running kernel: the same mmap calls and
//! memory accesses run in this test process (inside a reserved window) and in the model through its system
//! calls and fault handler; the smaps blocks and the pagemap entries (flags only: frame numbers differ) of the
//! window must be identical.

mod procfs_common;

use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;

use memsim_core::errno::Errno;
use memsim_core::fs::{FileMeta, FileSource};
use memsim_core::kernel::{AccessKind, Kernel, KernelConfig};
use memsim_core::procfs::smaps;
use memsim_core::uapi::*;
use procfs_common::pid1;

/// The host's files, read-only, as the model sees them.
struct HostFs;

impl FileSource for HostFs {
    fn stat(&self, path: &str) -> Result<FileMeta, Errno> {
        let canon = std::fs::canonicalize(path).map_err(|_| Errno::ENOENT)?;
        let m = std::fs::metadata(&canon).map_err(|_| Errno::ENOENT)?;
        Ok(FileMeta {
            path: canon.to_string_lossy().into_owned(),
            dev_major: libc::major(m.dev()),
            dev_minor: libc::minor(m.dev()),
            ino: m.ino(),
            size: m.len(),
            mode: m.mode(),
            rdev_major: libc::major(m.rdev()),
            rdev_minor: libc::minor(m.rdev()),
            noexec: false,
            nosuid: false,
            uid: 0,
            gid: 0,
        })
    }
    fn read_at(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        use std::os::unix::fs::FileExt;
        let f = std::fs::File::open(path).map_err(|_| Errno::ENOENT)?;
        f.read_at(buf, offset).map_err(|_| Errno::EIO)
    }
}

/// What to do to a region, in both worlds.
#[derive(Clone, Copy, Debug)]
enum Op {
    /// mmap(addr, len, prot, flags, file?, offset)
    Map {
        addr: u64,
        len: u64,
        prot: u64,
        flags: u64,
        file: bool,
        off: u64,
    },
    Read(u64),
    Write(u64),
    Advise {
        addr: u64,
        len: u64,
        advice: u64,
    },
}

const LO: u64 = 0x1_8000_0000;
const HI: u64 = 0x1_c000_0000;
const P: u64 = 4096;

fn ops() -> Vec<Op> {
    let rw = PROT_READ | PROT_WRITE;
    let pa = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE;
    let sa = MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE;
    let pf = MAP_PRIVATE | MAP_FIXED_NOREPLACE;
    let a = LO;
    let b = LO + 0x10_0000;
    let c = LO + 0x20_0000;
    let d = LO + 0x30_0000;
    let e = LO + 0x40_0000;
    vec![
        // Anonymous: a written page, a zero-page read, another written page, an untouched one.
        Op::Map {
            addr: a,
            len: 4 * P,
            prot: rw,
            flags: pa,
            file: false,
            off: 0,
        },
        Op::Write(a),
        Op::Read(a + P),
        Op::Write(a + 3 * P),
        // Shared anonymous: one page written, one read.
        Op::Map {
            addr: b,
            len: 3 * P,
            prot: rw,
            flags: sa,
            file: false,
            off: 0,
        },
        Op::Write(b + P),
        Op::Read(b + 2 * P),
        // One-page private file mappings: one read (a page cache page), one written (an anonymous COW copy).
        // Larger file VMAs would depend on the host's page cache: how much fault-around maps on 6.18 varies
        // with the folio sizes and readahead state of the cached file, which the model cannot know.
        Op::Map {
            addr: c,
            len: P,
            prot: rw,
            flags: pf,
            file: true,
            off: P,
        },
        Op::Read(c),
        Op::Map {
            addr: c + 0x10000,
            len: P,
            prot: rw,
            flags: pf,
            file: true,
            off: 3 * P,
        },
        Op::Write(c + 0x10000),
        // Anonymous, written, then one page MADV_DONTNEED'd. (MADV_FREE is left out: whether the kernel shows
        // the page as LazyFree depends on when a per-CPU LRU batch is drained, e.g. by a later mlock.)
        Op::Map {
            addr: d,
            len: 3 * P,
            prot: rw,
            flags: pa,
            file: false,
            off: 0,
        },
        Op::Write(d),
        Op::Write(d + P),
        Op::Write(d + 2 * P),
        Op::Advise {
            addr: d + P,
            len: P,
            advice: MADV_DONTNEED,
        },
        // Locked at mmap time: populated, and Locked counts the VMA's Pss.
        Op::Map {
            addr: e + 0x10000,
            len: 2 * P,
            prot: rw,
            flags: pa | MAP_LOCKED,
            file: false,
            off: 0,
        },
        // Read-only anonymous memory read: zero-page PTEs only (present in pagemap, not in Rss).
        Op::Map {
            addr: e,
            len: 2 * P,
            prot: PROT_READ,
            flags: pa,
            file: false,
            off: 0,
        },
        Op::Read(e),
        Op::Read(e + P),
    ]
}

fn kernel_text(file: &str) -> String {
    std::fs::read_to_string(format!("/proc/self/{file}")).expect("read /proc/self")
}

/// smaps blocks of VMAs starting in the window. Shmem inode numbers (device 00:01) are assigned by each
/// kernel independently, so they are replaced by `#` (keeping the line's layout: the name stays at column 73
/// as long as the prefix is shorter than that).
fn window_blocks(text: &str) -> BTreeMap<u64, String> {
    let mut out = BTreeMap::new();
    let mut cur = None;
    for line in text.split_inclusive('\n') {
        let head = line.split('-').next().unwrap_or("");
        let mut line = line.to_string();
        if line.contains(' ') && head.len() >= 8 && head.bytes().all(|b| b.is_ascii_hexdigit()) {
            let s = u64::from_str_radix(head, 16).unwrap_or(0);
            cur = (LO..HI).contains(&s).then_some(s);
            let fields: Vec<&str> = line.splitn(6, ' ').collect();
            if fields.len() == 6 && fields[3] == "00:01" {
                let prefix = format!("{} {} {} {} # ", fields[0], fields[1], fields[2], fields[3]);
                line = format!("{prefix:<73}{}", fields[5].trim_start());
            }
        }
        if let Some(s) = cur {
            out.entry(s).or_insert_with(String::new).push_str(&line);
        }
    }
    out
}

/// pagemap flag bits (frame numbers masked off) of `n` pages from `addr`, from a pagemap byte image.
fn flags_of(bytes: &[u8]) -> Vec<u64> {
    bytes
        .chunks(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()) & !((1u64 << 55) - 1))
        .collect()
}

#[test]
fn smaps_and_pagemap_of_touched_pages_match_the_running_kernel() {
    let path =
        std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("memsim-pages-{}", std::process::id()));
    let content: Vec<u8> = (0..32 * P).map(|i| (i / P) as u8).collect();
    {
        // Written back, so the page cache holds clean pages as it would for any file the model reads.
        use std::io::Write;
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(&content).unwrap();
        f.sync_all().unwrap();
    }
    let cpath = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: open(2) of the file just written.
    let host_fd = unsafe { libc::open(cpath.as_ptr(), libc::O_RDWR) };
    assert!(host_fd >= 0);

    let mut k = Kernel::new(KernelConfig::default(), Box::new(HostFs));
    let pid = pid1();
    // Descriptors 0-2 as a real process has them, so the model's fd numbers are ordinary.
    for _ in 0..3 {
        k.sys_openat(pid, AT_FDCWD, "/dev/null", O_RDWR, 0).unwrap();
    }
    let model_fd = k.sys_openat(pid, AT_FDCWD, path.to_str().unwrap(), O_RDWR, 0).unwrap();

    let mut maps = Vec::new();
    for op in ops() {
        match op {
            Op::Map {
                addr,
                len,
                prot,
                flags,
                file,
                off,
            } => {
                let fd = if file { host_fd } else { -1 };
                // SAFETY: MAP_FIXED_NOREPLACE inside the window reserved for this test.
                let p = unsafe {
                    libc::mmap(
                        addr as *mut libc::c_void,
                        len as usize,
                        prot as i32,
                        flags as i32,
                        fd,
                        off as i64,
                    )
                };
                assert_eq!(p as u64, addr, "host mmap");
                let mfd = if file { model_fd as i64 } else { -1 };
                assert_eq!(
                    k.sys_mmap(pid, addr, len, prot, flags, mfd, off),
                    Ok(addr),
                    "model mmap"
                );
                maps.push((addr, len));
            }
            Op::Read(a) => {
                // SAFETY: a mapped, readable address of this test's window.
                unsafe { std::ptr::read_volatile(a as *const u8) };
                k.access(pid, a, 1, AccessKind::Read).unwrap();
            }
            Op::Write(a) => {
                // SAFETY: a mapped, writable address of this test's window.
                unsafe { std::ptr::write_volatile(a as *mut u8, 7) };
                k.access(pid, a, 1, AccessKind::Write).unwrap();
            }
            Op::Advise { addr, len, advice } => {
                // SAFETY: advice on this test's mapping.
                let r = unsafe { libc::madvise(addr as *mut libc::c_void, len as usize, advice as i32) };
                assert_eq!(r, 0);
                assert_eq!(k.sys_madvise(pid, addr, len, advice), Ok(0));
            }
        }
    }
    let ksmaps = window_blocks(&kernel_text("smaps"));
    let mm = k.mm(pid).unwrap();
    let msmaps = window_blocks(&String::from_utf8_lossy(&smaps::render_smaps(&k, &k, Some(mm))));
    // The cases exercise what they claim: resident, zero-page-only, locked.
    let block = |a: u64| msmaps.get(&a).cloned().unwrap_or_default();
    assert!(block(LO).contains("\nRss:                   8 kB\n"), "{}", block(LO));
    assert!(block(LO + 0x40_0000).contains("\nRss:                   0 kB\n"));
    assert!(
        block(LO + 0x41_0000).contains("\nLocked:                8 kB\n"),
        "{}",
        block(LO + 0x41_0000)
    );
    let mut failures = Vec::new();
    if ksmaps != msmaps {
        for (s, kb) in &ksmaps {
            let mb = msmaps.get(s).cloned().unwrap_or_default();
            if *kb != mb {
                failures.push(format!("smaps {s:#x}\n--- kernel\n{kb}--- model\n{mb}"));
            }
        }
        failures.push(format!("VMAs: kernel {:x?} model {:x?}", ksmaps.keys(), msmaps.keys()));
    }
    let pagemap = std::fs::File::open("/proc/self/pagemap").unwrap();
    for &(addr, len) in &maps {
        use std::os::unix::fs::FileExt;
        let mut buf = vec![0u8; (len / P * 8) as usize];
        pagemap.read_exact_at(&mut buf, addr / P * 8).unwrap();
        let model = k.pagemap_range(pid, addr, addr + len).unwrap();
        if flags_of(&buf) != flags_of(&model) {
            failures.push(format!(
                "pagemap {addr:#x}: kernel {:x?} model {:x?}",
                flags_of(&buf),
                flags_of(&model)
            ));
        }
    }
    for &(addr, len) in &maps {
        // SAFETY: unmapping this test's regions.
        unsafe { libc::munmap(addr as *mut libc::c_void, len as usize) };
    }
    // SAFETY: closing the descriptor opened above.
    unsafe { libc::close(host_fd) };
    let _ = std::fs::remove_file(&path);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
