//! The `/proc` renderers against the running kernel: this test process maps regions inside a reserved window
//! (`MAP_FIXED_NOREPLACE` between 0x1_0000_0000 and 0x2_0000_0000) with many protections, flags and advice,
//! reads its own `/proc/self/maps` and `smaps` for the window, builds the same VMAs in the model (flags as the
//! kernel sets them, inode numbers as the kernel assigned them) and requires byte equality.
//!
//! Only untouched mappings are compared in full in smaps (the model's VMAs here have no page tables);
//! mappings that the kernel populates (mlock) are compared on their maps line and VmFlags.

mod procfs_common;

use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;

use memsim_core::fs::InodeKind;
use memsim_core::kernel::KernelConfig;
use memsim_core::mm::vma::{VmFlags, Vma};
use memsim_core::procfs::{maps, smaps};
use memsim_core::uapi::{O_RDONLY, O_RDWR};
use procfs_common::*;

const MADV_GUARD_INSTALL: libc::c_int = 102;
const AC: VmFlags = VmFlags::ACCOUNT;
const SH: VmFlags = VmFlags::SHARED.union(VmFlags::MAYSHARE);

/// One region mapped for real, and what the model should hold for it.
struct Case {
    what: &'static str,
    vma: Vma,
    /// The kernel populated it (mlock): compare only the maps line and VmFlags.
    resident: bool,
}

/// `mmap` at a fixed address that must be free; panics with the errno otherwise (a test set-up failure).
fn map(addr: u64, len: u64, prot: i32, flags: i32, fd: i32, off: i64) -> u64 {
    // SAFETY: MAP_FIXED_NOREPLACE never replaces an existing mapping, and the window is reserved for this test.
    let p = unsafe {
        libc::mmap(
            addr as *mut libc::c_void,
            len as usize,
            prot,
            flags | libc::MAP_FIXED_NOREPLACE,
            fd,
            off,
        )
    };
    assert_ne!(
        p,
        libc::MAP_FAILED,
        "mmap {addr:#x}: {}",
        std::io::Error::last_os_error()
    );
    assert_eq!(p as u64, addr);
    addr
}

fn madvise(addr: u64, len: u64, advice: i32) {
    // SAFETY: advice on a mapping this test owns.
    let r = unsafe { libc::madvise(addr as *mut libc::c_void, len as usize, advice) };
    assert_eq!(r, 0, "madvise {advice}: {}", std::io::Error::last_os_error());
}

fn unmap(addr: u64, len: u64) {
    // SAFETY: only regions this test mapped.
    unsafe { libc::munmap(addr as *mut libc::c_void, len as usize) };
}

/// The lines of `/proc/self/<file>` that belong to VMAs starting in `[lo, hi)`: maps lines, or smaps blocks
/// keyed by start address.
fn kernel_blocks(file: &str, lo: u64, hi: u64) -> BTreeMap<u64, String> {
    let text = std::fs::read_to_string(format!("/proc/self/{file}")).expect("read /proc/self");
    let mut out = BTreeMap::new();
    let mut cur: Option<u64> = None;
    for line in text.split_inclusive('\n') {
        let head = line.split('-').next().unwrap_or("");
        let is_header = line.contains(' ') && head.len() >= 8 && head.bytes().all(|b| b.is_ascii_hexdigit());
        if is_header {
            let start = u64::from_str_radix(head, 16).unwrap_or(0);
            cur = (lo..hi).contains(&start).then_some(start);
        }
        if let Some(s) = cur {
            out.entry(s).or_insert_with(String::new).push_str(line);
        }
    }
    out
}

fn shmem_ino_of(lines: &BTreeMap<u64, String>, start: u64) -> u64 {
    lines[&start]
        .split_whitespace()
        .nth(4)
        .and_then(|s| s.parse().ok())
        .expect("inode field")
}

#[test]
fn maps_and_smaps_match_the_running_kernel() {
    const LO: u64 = 0x1_4000_0000;
    const HI: u64 = 0x1_8000_0000;
    let page = 4096u64;
    let mut cases: Vec<Case> = Vec::new();
    let mut next = LO;
    // Successive regions with a free page between them, so the kernel never merges neighbours.
    let mut slot = |len: u64, align: u64| {
        let a = next.div_ceil(align) * align;
        next = a + len + page;
        a
    };
    let (r, w, x) = (libc::PROT_READ, libc::PROT_WRITE, libc::PROT_EXEC);
    let priv_anon = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;

    let mut anon_case = |what: &'static str, len: u64, prot: i32, extra: i32, flags: VmFlags, advice: &[i32]| {
        let a = map(slot(len, page), len, prot, priv_anon | extra, -1, 0);
        for &adv in advice {
            madvise(a, len, adv);
        }
        Case {
            what,
            vma: anon(a, a + len, flags),
            resident: false,
        }
    };
    cases.push(anon_case("anon rw", 3 * page, r | w, 0, RD | WR | MAY | AC, &[]));
    cases.push(anon_case("anon none", page, libc::PROT_NONE, 0, MAY, &[]));
    cases.push(anon_case("anon write-only", page, w, 0, WR | MAY | AC, &[]));
    cases.push(anon_case("anon r-x", 2 * page, r | x, 0, RD | EX | MAY, &[]));
    cases.push(anon_case("anon rwx", page, r | w | x, 0, RD | WR | EX | MAY | AC, &[]));
    cases.push(anon_case(
        "growsdown",
        2 * page,
        r | w,
        libc::MAP_GROWSDOWN,
        RD | WR | MAY | VmFlags::GROWSDOWN | AC,
        &[],
    ));
    cases.push(anon_case(
        "noreserve",
        page,
        r | w,
        libc::MAP_NORESERVE,
        RD | WR | MAY | VmFlags::NORESERVE,
        &[],
    ));
    for (what, adv, flag) in [
        ("dontfork", libc::MADV_DONTFORK, VmFlags::DONTCOPY),
        ("dontdump", libc::MADV_DONTDUMP, VmFlags::DONTDUMP),
        ("wipeonfork", libc::MADV_WIPEONFORK, VmFlags::WIPEONFORK),
        ("random", libc::MADV_RANDOM, VmFlags::RAND_READ),
        ("sequential", libc::MADV_SEQUENTIAL, VmFlags::SEQ_READ),
        ("nohugepage", libc::MADV_NOHUGEPAGE, VmFlags::NOHUGEPAGE),
        ("guard", MADV_GUARD_INSTALL, VmFlags::MAYBE_GUARD),
        ("small hugepage", libc::MADV_HUGEPAGE, VmFlags::HUGEPAGE),
    ] {
        cases.push(anon_case(what, 2 * page, r | w, 0, RD | WR | MAY | AC | flag, &[adv]));
    }
    // A 4 MiB region holding an aligned 2 MiB block: THPeligible 1 after MADV_HUGEPAGE.
    {
        let len = 4 << 20;
        let a = map(slot(len, 2 << 20), len, r | w, priv_anon, -1, 0);
        madvise(a, len, libc::MADV_HUGEPAGE);
        cases.push(Case {
            what: "hugepage",
            vma: anon(a, a + len, RD | WR | MAY | AC | VmFlags::HUGEPAGE),
            resident: false,
        });
        // Unaligned start, 2 MiB + 4 KiB long: no aligned block fits.
        let a = slot(len, 2 << 20) + page;
        let len = (2 << 20) + page;
        map(a, len, r | w, priv_anon, -1, 0);
        madvise(a, len, libc::MADV_HUGEPAGE);
        cases.push(Case {
            what: "hugepage unaligned",
            vma: anon(a, a + len, RD | WR | MAY | AC | VmFlags::HUGEPAGE),
            resident: false,
        });
    }
    // mlock populates: Rss differs from the model's empty page tables, VmFlags must still agree.
    {
        let a = map(slot(page, page), page, r | w, priv_anon | libc::MAP_LOCKED, -1, 0);
        cases.push(Case {
            what: "locked",
            vma: anon(a, a + page, RD | WR | MAY | AC | VmFlags::LOCKED),
            resident: true,
        });
    }
    // prctl(PR_SET_VMA_ANON_NAME).
    let named = {
        let a = map(slot(page, page), page, r | w, priv_anon, -1, 0);
        let name = CString::new("memsim name").unwrap();
        // SAFETY: names a mapping this test owns; the string outlives the call.
        let rc = unsafe {
            libc::prctl(
                libc::PR_SET_VMA,
                libc::PR_SET_VMA_ANON_NAME as libc::c_ulong,
                a as libc::c_ulong,
                page as libc::c_ulong,
                name.as_ptr() as libc::c_ulong,
            )
        };
        let mut v = anon(a, a + page, RD | WR | MAY | AC);
        if rc == 0 {
            v.anon_name = Some(Arc::from("memsim name"));
        }
        Case {
            what: "anon name",
            vma: v,
            resident: false,
        }
    };
    cases.push(named);

    // Shared anonymous memory (shmem, "/dev/zero (deleted)"): inode numbers are filled in from the kernel.
    let shared_anon = libc::MAP_SHARED | libc::MAP_ANONYMOUS;
    let mut shmem_starts = Vec::new();
    {
        let a = map(slot(2 * page, page), 2 * page, r | w, shared_anon, -1, 0);
        shmem_starts.push((a, 2 * page, RD | WR | MAY | SH, false));
        let len = 4 << 20;
        let a = map(slot(len, 2 << 20), len, r | w, shared_anon, -1, 0);
        madvise(a, len, libc::MADV_HUGEPAGE);
        shmem_starts.push((a, len, RD | WR | MAY | SH | VmFlags::HUGEPAGE, false));
        let a = map(slot(page, page), page, r, shared_anon, -1, 0);
        shmem_starts.push((a, page, RD | MAY | SH, false));
    }

    // A regular file whose name holds a space and a newline (maps escapes only the newline).
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let path = dir.join(format!("memsim procfs\nfile-{}", std::process::id()));
    std::fs::write(&path, vec![0x5au8; 6 << 20]).expect("write test file");
    let canon = std::fs::canonicalize(&path).expect("canonical path");
    let meta = std::fs::metadata(&canon).expect("stat");
    let dev = (libc::major(meta.dev()), libc::minor(meta.dev()));
    let ino_file = inode(
        InodeKind::Regular,
        canon.to_str().expect("utf-8 path"),
        dev,
        meta.ino(),
        meta.len(),
    );
    let cpath = CString::new(canon.as_os_str().as_bytes()).unwrap();
    // SAFETY: plain open(2) of the file just written; the descriptors stay open for the test's lifetime.
    let (fd_ro, fd_rw) = unsafe {
        (
            libc::open(cpath.as_ptr(), libc::O_RDONLY),
            libc::open(cpath.as_ptr(), libc::O_RDWR),
        )
    };
    assert!(fd_ro >= 0 && fd_rw >= 0);
    let f_ro = file(1, &ino_file, O_RDONLY);
    let f_rw = file(2, &ino_file, O_RDWR);
    {
        let a = map(slot(2 * page, page), 2 * page, r, libc::MAP_PRIVATE, fd_ro, 0x1000);
        cases.push(Case {
            what: "file private r--",
            vma: file_vma(a, a + 2 * page, RD | MAY, &f_ro, 1),
            resident: false,
        });
        let a = map(slot(page, page), page, r | w, libc::MAP_PRIVATE, fd_ro, 0x3000);
        cases.push(Case {
            what: "file private rw-",
            vma: file_vma(a, a + page, RD | WR | MAY | AC, &f_ro, 3),
            resident: false,
        });
        let a = map(slot(page, page), page, r | x, libc::MAP_PRIVATE, fd_ro, 0);
        cases.push(Case {
            what: "file private r-x",
            vma: file_vma(a, a + page, RD | EX | MAY, &f_ro, 0),
            resident: false,
        });
        // MAP_SHARED of a read-only descriptor: no VM_SHARED, no VM_MAYWRITE, but VM_MAYSHARE.
        let a = map(slot(page, page), page, r, libc::MAP_SHARED, fd_ro, 0x2000);
        cases.push(Case {
            what: "file shared ro",
            vma: file_vma(
                a,
                a + page,
                RD | VmFlags::MAYREAD | VmFlags::MAYEXEC | VmFlags::MAYSHARE,
                &f_ro,
                2,
            ),
            resident: false,
        });
        let a = map(slot(page, page), page, r | w, libc::MAP_SHARED, fd_rw, 0);
        cases.push(Case {
            what: "file shared rw",
            vma: file_vma(a, a + page, RD | WR | MAY | SH, &f_rw, 0),
            resident: false,
        });
        // A 4 MiB read-only private file mapping aligned with the file, after MADV_HUGEPAGE.
        let len = 4 << 20;
        let a = map(slot(len, 2 << 20), len, r, libc::MAP_PRIVATE, fd_ro, 0);
        madvise(a, len, libc::MADV_HUGEPAGE);
        cases.push(Case {
            what: "file hugepage",
            vma: file_vma(a, a + len, RD | MAY | VmFlags::HUGEPAGE, &f_ro, 0),
            resident: false,
        });
    }
    // MAP_PRIVATE of /dev/zero keeps the file (and its offset) but is anonymous memory.
    let zmeta = std::fs::metadata("/dev/zero").expect("stat /dev/zero");
    let zero_inode = inode(
        InodeKind::DevZero,
        "/dev/zero",
        (libc::major(zmeta.dev()), libc::minor(zmeta.dev())),
        zmeta.ino(),
        0,
    );
    let zpath = CString::new("/dev/zero").unwrap();
    // SAFETY: open(2) of /dev/zero.
    let fd_zero = unsafe { libc::open(zpath.as_ptr(), libc::O_RDWR) };
    assert!(fd_zero >= 0);
    {
        let a = map(
            slot(2 * page, page),
            2 * page,
            r | w,
            libc::MAP_PRIVATE,
            fd_zero,
            0x5000,
        );
        cases.push(Case {
            what: "/dev/zero private",
            vma: file_vma(a, a + 2 * page, RD | WR | MAY | AC, &file(3, &zero_inode, O_RDWR), 5),
            resident: false,
        });
    }
    // memfd with a newline in its name.
    let memfd_name = CString::new("memsim\nmemfd").unwrap();
    // SAFETY: memfd_create with a valid name.
    let fd_memfd = unsafe { libc::memfd_create(memfd_name.as_ptr(), 0) };
    assert!(fd_memfd >= 0);
    // SAFETY: sizing the memfd this test created.
    assert_eq!(unsafe { libc::ftruncate(fd_memfd, 2 * page as i64) }, 0);
    let memfd_start = map(slot(2 * page, page), 2 * page, r | w, libc::MAP_SHARED, fd_memfd, 0);

    let kmaps = kernel_blocks("maps", LO, HI);
    let ksmaps = kernel_blocks("smaps", LO, HI);
    for &(a, len, flags, resident) in &shmem_starts {
        let ino = shmem_ino_of(&kmaps, a);
        let f = file(
            100 + ino,
            &inode(InodeKind::Shmem, "/dev/zero (deleted)", (0, 1), ino, len),
            O_RDWR,
        );
        cases.push(Case {
            what: "shared anon",
            vma: file_vma(a, a + len, flags, &f, 0),
            resident,
        });
    }
    {
        let ino = shmem_ino_of(&kmaps, memfd_start);
        let f = file(
            200,
            &inode(
                InodeKind::Shmem,
                "/memfd:memsim\nmemfd (deleted)",
                (0, 1),
                ino,
                2 * page,
            ),
            O_RDWR,
        );
        cases.push(Case {
            what: "memfd",
            vma: file_vma(memfd_start, memfd_start + 2 * page, RD | WR | MAY | SH, &f, 0),
            resident: false,
        });
    }

    // The model: the same VMAs in PID 1's address space.
    let mut k = kernel(KernelConfig::default());
    {
        let mm = k.mm_mut(pid1()).unwrap();
        for c in &cases {
            mm.vmas.insert(c.vma.clone());
        }
    }
    let mm = k.mm(pid1()).unwrap();
    let arch = k.cfg.arch;
    let mut failures = Vec::new();
    assert_eq!(kmaps.len(), cases.len(), "kernel VMAs in the window:\n{kmaps:#?}");
    for c in &cases {
        let s = c.vma.start.as_u64();
        let model_line = String::from_utf8(maps::render_vma_line(arch, mm, &c.vma)).unwrap();
        if kmaps.get(&s) != Some(&model_line) {
            failures.push(format!(
                "{}: maps\n  kernel {:?}\n  model  {model_line:?}",
                c.what,
                kmaps.get(&s)
            ));
        }
        let model_smaps = String::from_utf8(smaps::render_smaps_vma(&k, &k, mm, &c.vma)).unwrap();
        let kernel_smaps = ksmaps.get(&s).cloned().unwrap_or_default();
        let ok = if c.resident {
            let vmflags = |t: &str| t.lines().find(|l| l.starts_with("VmFlags:")).map(str::to_string);
            vmflags(&kernel_smaps) == vmflags(&model_smaps)
        } else {
            kernel_smaps == model_smaps
        };
        if !ok {
            failures.push(format!(
                "{}: smaps\n--- kernel\n{kernel_smaps}--- model\n{model_smaps}",
                c.what
            ));
        }
    }
    for c in &cases {
        unmap(c.vma.start.as_u64(), c.vma.len());
    }
    // SAFETY: closing descriptors this test opened.
    unsafe {
        libc::close(fd_ro);
        libc::close(fd_rw);
        libc::close(fd_zero);
        libc::close(fd_memfd);
    }
    let _ = std::fs::remove_file(&path);
    if std::env::var("MEMSIM_SHOW").is_ok() {
        for v in ksmaps.values() {
            let keep: Vec<&str> = v
                .lines()
                .filter(|l| l.starts_with("THP") || l.starts_with("VmFlags"))
                .collect();
            eprintln!("{} | {}", v.lines().next().unwrap_or(""), keep.join(" | "));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn empty_rollup_header_and_gate_match_the_running_kernel() {
    // The gate line of this very process, and the smaps block of the gate.
    let text = std::fs::read_to_string("/proc/self/maps").unwrap();
    let gate = text.lines().last().unwrap();
    let k = kernel(KernelConfig::default());
    let model = String::from_utf8(k.proc_read(pid1(), "maps").unwrap()).unwrap();
    assert_eq!(model.trim_end_matches('\n'), gate);
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
    let gate_block = &smaps[smaps.rfind("ffffffffff600000-").unwrap()..];
    let model_smaps = String::from_utf8(k.proc_read(pid1(), "smaps").unwrap()).unwrap();
    assert_eq!(model_smaps, gate_block);
}

#[test]
fn thp_eligibility_wraps_below_2mib_as_the_kernel_does() {
    // thp_vma_suitable_order(vma, vm_end - PMD_SIZE, ...) wraps for VMAs ending below 2 MiB, so tiny
    // MADV_HUGEPAGE regions there are reported eligible; one just above 2 MiB is not.
    let page = 4096;
    let mut k = kernel(KernelConfig::default());
    let mut checked = 0;
    for start in [0x10000u64, 0x180000, 0x200000] {
        let len = 3 * page;
        // SAFETY: MAP_FIXED_NOREPLACE at low addresses this test process does not use; unmapped below.
        let p = unsafe {
            libc::mmap(
                start as *mut libc::c_void,
                len as usize,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
                -1,
                0,
            )
        };
        assert_ne!(
            p,
            libc::MAP_FAILED,
            "mmap {start:#x}: {}",
            std::io::Error::last_os_error()
        );
        madvise(start, len, libc::MADV_HUGEPAGE);
        let kernel_block = kernel_blocks("smaps", start, start + 1)
            .remove(&start)
            .expect("kernel block");
        unmap(start, len);
        let vma = anon(start, start + len, RD | WR | MAY | AC | VmFlags::HUGEPAGE);
        k.mm_mut(pid1()).unwrap().vmas.insert(vma.clone());
        let mm = k.mm(pid1()).unwrap();
        let model = String::from_utf8(smaps::render_smaps_vma(&k, &k, mm, &vma)).unwrap();
        assert_eq!(model, kernel_block, "VMA at {start:#x}");
        checked += 1;
    }
    assert_eq!(checked, 3);
}

#[test]
fn status_limits_and_stat_have_the_running_kernels_layout() {
    let k = kernel(KernelConfig::default());
    let keys = |t: &str| -> Vec<String> {
        t.lines()
            .map(|l| l.split(':').next().unwrap_or("").to_string())
            .collect()
    };
    let real = std::fs::read_to_string("/proc/self/status").unwrap();
    let model = String::from_utf8(k.proc_read(pid1(), "status").unwrap()).unwrap();
    assert_eq!(keys(&model), keys(&real));
    // Every line is `Key:\t`, and memory lines are `%8lu kB`.
    for (m, r) in model.lines().zip(real.lines()) {
        let tab = |l: &str| l.split_once(':').map(|(_, v)| v.starts_with('\t'));
        assert_eq!(tab(m), tab(r), "{m}");
        assert_eq!(m.ends_with(" kB"), r.ends_with(" kB"), "{m}");
    }
    // limits: same rows and units; the model's values are its own defaults.
    let real = std::fs::read_to_string("/proc/self/limits").unwrap();
    let model = String::from_utf8(k.proc_read(pid1(), "limits").unwrap()).unwrap();
    let head = |t: &str| -> Vec<String> { t.lines().map(|l| l[..26].to_string()).collect() };
    let unit = |t: &str| -> Vec<String> { t.lines().map(|l| l.get(68..).unwrap_or("").to_string()).collect() };
    assert_eq!(head(&model), head(&real));
    assert_eq!(unit(&model), unit(&real));
    // stat: 52 fields after the comm.
    let real = std::fs::read_to_string("/proc/self/stat").unwrap();
    let model = String::from_utf8(k.proc_read(pid1(), "stat").unwrap()).unwrap();
    let after_comm = |t: &str| t[t.rfind(')').unwrap() + 2..].split_whitespace().count();
    assert_eq!(after_comm(&model), after_comm(&real));
    assert_eq!(after_comm(&model), 50);
}
