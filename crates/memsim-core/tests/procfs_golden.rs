//! Golden tests of the `/proc` renderers: model states built directly (VMAs inserted into the tree, counters
//! set) and rendered, compared with the verbatim samples of `../shared/reference/proc-formats.md` (copied to
//! `tests/golden/sample_*.txt`) and with blessed golden files (`MEMSIM_BLESS=1` regenerates those).

mod procfs_common;

use std::sync::Arc;

use memsim_core::arch::Arch;
use memsim_core::fs::{FdEntry, InodeKind};
use memsim_core::kernel::{Kernel, KernelConfig};
use memsim_core::mm::vma::{SpecialMapping, VmFlags};
use memsim_core::mm::RssCounter;
use memsim_core::procfs::{smaps, PmapFormat};
use memsim_core::task::{Rlimit, TaskState};
use memsim_core::uapi::*;
use memsim_core::{Errno, Pid};
use procfs_common::*;

const SLEEP_PID: Pid = Pid(22686);

fn golden_text(name: &str) -> String {
    let path: std::path::PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "golden", name].iter().collect();
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `sleep 900` process of the reference samples: every VMA of its maps sample, the elided middle filled
/// with a plausible libc (sized so VmSize, exec_vm, data_vm and the pmap totals match the samples), page
/// tables whose Rss/Pss add up to the rollup sample, and the counters of the status sample.
fn sleep_kernel(comm: &str) -> (Kernel, FakePages) {
    let mut k = kernel(KernelConfig::default());
    let mut task = k.task(Pid(1)).expect("pid 1").clone();
    task.pid = SLEEP_PID;
    task.tgid = SLEEP_PID;
    task.ppid = Pid(22680);
    // Started by a shell (pid 22680, its own process group) in the session of the terminal's shell.
    task.pgid = Pid(22680);
    task.sid = Pid(16787);
    task.comm = comm.to_string();
    task.state = TaskState::Sleeping;
    task.flags = 0x400000;
    task.min_flt = 136;
    // The reference container's capability sets (one capability dropped).
    task.cred.cap_effective = 0x1fffeffffff;
    task.cred.cap_permitted = 0x1fffeffffff;
    task.cred.cap_bset = 0x1fffeffffff;
    // The reference container's limits.
    task.rlimits[RLIMIT_NPROC] = Rlimit::new(96365, 96365);
    task.rlimits[RLIMIT_SIGPENDING] = Rlimit::new(96365, 96365);
    task.rlimits[RLIMIT_NOFILE] = Rlimit::new(20000, 20000);
    let devnull = inode(InodeKind::Other, "/dev/null", (0, 6), 5, 0);
    // The shell that started sleep had descriptor 255 open, so the table grew to 256 slots.
    task.files.install(
        255,
        FdEntry {
            file: file(900, &devnull, O_RDONLY),
            cloexec: false,
        },
    );
    k.tasks.remove(&Pid(1));
    k.tasks.insert(SLEEP_PID, task);

    let fe = (0xfe, 0);
    let sleep = file(
        1,
        &inode(InodeKind::Regular, "/usr/bin/sleep", fe, 247774, 43976),
        O_RDONLY,
    );
    let ctype = file(
        2,
        &inode(
            InodeKind::Regular,
            "/usr/lib/locale/C.utf8/LC_CTYPE",
            fe,
            316534,
            356352,
        ),
        O_RDONLY,
    );
    let libc = file(
        3,
        &inode(
            InodeKind::Regular,
            "/usr/lib/x86_64-linux-gnu/libc.so.6",
            fe,
            325852,
            2_000_000,
        ),
        O_RDONLY,
    );
    let gconv = file(
        4,
        &inode(
            InodeKind::Regular,
            "/usr/lib/x86_64-linux-gnu/gconv/gconv-modules.cache",
            fe,
            325745,
            27000,
        ),
        O_RDONLY,
    );
    let ident = file(
        5,
        &inode(
            InodeKind::Regular,
            "/usr/lib/locale/C.utf8/LC_IDENTIFICATION",
            fe,
            316535,
            258,
        ),
        O_RDONLY,
    );
    let ld = file(
        6,
        &inode(
            InodeKind::Regular,
            "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
            fe,
            325843,
            220000,
        ),
        O_RDONLY,
    );
    let ac = VmFlags::ACCOUNT;
    let text = RD | EX | MAY;
    let ro = RD | MAY;
    let relro = RD | MAY | ac;
    let data = RD | WR | MAY | ac;
    let vmas = vec![
        file_vma(0x5574df3ce000, 0x5574df3d0000, ro, &sleep, 0),
        file_vma(0x5574df3d0000, 0x5574df3d5000, text, &sleep, 2),
        file_vma(0x5574df3d5000, 0x5574df3d7000, ro, &sleep, 7),
        file_vma(0x5574df3d7000, 0x5574df3d8000, relro, &sleep, 9),
        file_vma(0x5574df3d8000, 0x5574df3d9000, data, &sleep, 0xa),
        anon(0x5574f5e38000, 0x5574f5e59000, data),
        file_vma(0x7fc5d71c9000, 0x7fc5d7220000, ro, &ctype, 0),
        // The elided middle: libc.
        file_vma(0x7fc5d7220000, 0x7fc5d725a000, ro, &libc, 0),
        file_vma(0x7fc5d725a000, 0x7fc5d73ac000, text, &libc, 0x3a),
        file_vma(0x7fc5d73ac000, 0x7fc5d73f9000, ro, &libc, 0x18c),
        file_vma(0x7fc5d73f9000, 0x7fc5d73fd000, relro, &libc, 0x1d9),
        file_vma(0x7fc5d73fd000, 0x7fc5d73ff000, data, &libc, 0x1dd),
        anon(0x7fc5d73ff000, 0x7fc5d740f000, data),
        file_vma(
            0x7fc5d740f000,
            0x7fc5d7416000,
            RD | VmFlags::MAYREAD | VmFlags::MAYEXEC | VmFlags::MAYSHARE,
            &gconv,
            0,
        ),
        file_vma(0x7fc5d7416000, 0x7fc5d7417000, ro, &ident, 0),
        anon(0x7fc5d7417000, 0x7fc5d7419000, data),
        special(
            0x7fc5d7419000,
            0x7fc5d741d000,
            RD | VmFlags::MAYREAD | VmFlags::PFNMAP | VmFlags::IO | VmFlags::DONTEXPAND | VmFlags::DONTDUMP,
            SpecialMapping::Vvar,
        ),
        special(
            0x7fc5d741d000,
            0x7fc5d741f000,
            RD | VmFlags::MAYREAD | VmFlags::PFNMAP | VmFlags::IO | VmFlags::DONTEXPAND | VmFlags::DONTDUMP,
            SpecialMapping::VvarVclock,
        ),
        special(
            0x7fc5d741f000,
            0x7fc5d7421000,
            text | VmFlags::DONTEXPAND,
            SpecialMapping::Vdso,
        ),
        file_vma(0x7fc5d7421000, 0x7fc5d7422000, ro, &ld, 0),
        file_vma(0x7fc5d7422000, 0x7fc5d7448000, text, &ld, 1),
        file_vma(0x7fc5d7448000, 0x7fc5d7452000, ro, &ld, 0x27),
        file_vma(0x7fc5d7452000, 0x7fc5d7454000, relro, &ld, 0x31),
        file_vma(0x7fc5d7454000, 0x7fc5d7456000, data, &ld, 0x33),
        anon(0x7ffd3995e000, 0x7ffd3997f000, data | VmFlags::GROWSDOWN),
    ];
    let mm = k.mm_mut(SLEEP_PID).expect("mm");
    for v in vmas {
        mm.vmas.insert(v);
    }
    // /proc/22686/stat of the sample.
    mm.start_code = 93960449884160;
    mm.end_code = 93960449902089;
    mm.start_stack = 140725569702384;
    mm.start_data = 93960449916176;
    mm.end_data = 93960449917440;
    mm.start_brk = 93960829894656;
    mm.brk = 0x5574f5e59000;
    mm.arg_start = 140725569710819;
    mm.arg_end = 140725569710829;
    mm.env_start = 140725569710829;
    mm.env_end = 140725569712105;
    // /proc/22686/status of the sample.
    mm.total_vm = 730;
    mm.hiwater_vm = 730;
    mm.data_vm = 56;
    mm.stack_vm = 33;
    mm.exec_vm = 387;
    mm.add_counter(RssCounter::AnonPages, 27);
    mm.add_counter(RssCounter::FilePages, 421);
    mm.hiwater_rss = 448;
    mm.pgtables_bytes = 44 << 10;

    // Page tables: 27 private dirty anonymous pages and 421 shared clean file pages whose Pss adds to 327 kB.
    let mut pages = FakePages::default();
    for (start, n) in [
        (0x5574df3d7000, 1),
        (0x5574df3d8000, 1),
        (0x5574f5e38000, 4),
        (0x7fc5d73f9000, 4),
        (0x7fc5d73fd000, 2),
        (0x7fc5d73ff000, 6),
        (0x7fc5d7417000, 2),
        (0x7fc5d7452000, 2),
        (0x7fc5d7454000, 2),
        (0x7ffd3997c000, 3),
    ] {
        pages.add(start, n, anon_page(1));
    }
    pages.add(0x5574df3ce000, 2, file_page(2));
    let mut remaining_mc4 = 227;
    for (start, n) in [
        (0x5574df3d0000, 5),
        (0x5574df3d5000, 2),
        (0x7fc5d71c9000, 10),
        (0x7fc5d7220000, 40),
        (0x7fc5d725a000, 310),
        (0x7fc5d740f000, 2),
        (0x7fc5d7416000, 1),
        (0x7fc5d7421000, 1),
        (0x7fc5d7422000, 38),
        (0x7fc5d7448000, 10),
    ] {
        for i in 0..n {
            let mc = if remaining_mc4 > 0 { 4 } else { 8 };
            remaining_mc4 -= i32::from(remaining_mc4 > 0);
            pages.add(start + i * 4096, 1, file_page(mc));
        }
    }
    (k, pages)
}

/// Each non-elided line of `sample` must appear in `actual`, in order.
fn assert_lines_in_order(sample: &str, actual: &str) {
    let mut lines = actual.lines();
    for want in sample.lines().filter(|l| *l != "…") {
        assert!(
            lines.any(|l| l == want),
            "sample line {want:?} missing (or out of order) in:\n{actual}"
        );
    }
}

#[test]
fn sleep_maps_matches_reference_sample() {
    let (k, _) = sleep_kernel("sleep");
    let maps = String::from_utf8(k.proc_read(SLEEP_PID, "maps").unwrap()).unwrap();
    let sample = golden_text("sample_sleep_maps.txt");
    // The sample lists every line but the elided libc ones, so removing those must give the sample exactly.
    let without_libc: String = maps
        .lines()
        .filter(|l| {
            let a = u64::from_str_radix(&l[..12], 16).unwrap_or(0);
            !(0x7fc5d7220000..0x7fc5d740f000).contains(&a)
        })
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(without_libc, sample);
    check_golden("sleep_maps.txt", maps.as_bytes());
}

#[test]
fn sleep_smaps_matches_reference_sample() {
    let (k, pages) = sleep_kernel("sleep");
    let mm = k.mm(SLEEP_PID).unwrap();
    let all = smaps::render_smaps(&k, &pages, Some(mm));
    let all = String::from_utf8(all).unwrap();
    // Split into per-VMA blocks (each starts with a maps line, i.e. a hex digit).
    let mut blocks: Vec<String> = Vec::new();
    for l in all.lines() {
        if l.as_bytes()[0].is_ascii_hexdigit() && l.contains('-') && !l.starts_with("VmFlags") {
            blocks.push(String::new());
        }
        let b = blocks.last_mut().unwrap();
        b.push_str(l);
        b.push('\n');
    }
    assert_eq!(blocks.len(), mm.vmas.len() + 1);
    let sample = golden_text("sample_sleep_smaps.txt");
    let want: String = [blocks[0].as_str(), blocks[5].as_str(), blocks.last().unwrap().as_str()].concat();
    assert_eq!(want, sample);
    check_golden("sleep_smaps.txt", all.as_bytes());
}

#[test]
fn sleep_smaps_rollup_matches_reference_sample() {
    let (k, pages) = sleep_kernel("sleep");
    let mm = k.mm(SLEEP_PID).unwrap();
    let rollup = smaps::render_rollup(&k, &pages, Some(mm)).unwrap();
    let doc = std::fs::read_to_string("/work/shared/reference/proc-formats.md").ok();
    let expected = "5574df3ce000-7ffd3997f000 ---p 00000000 00:00 0                          [rollup]
Rss:                1792 kB
Pss:                 435 kB
Pss_Dirty:           108 kB
Pss_Anon:            108 kB
Pss_File:            327 kB
Pss_Shmem:             0 kB
Shared_Clean:       1684 kB
Shared_Dirty:          0 kB
Private_Clean:         0 kB
Private_Dirty:       108 kB
Referenced:         1792 kB
Anonymous:           108 kB
KSM:                   0 kB
LazyFree:              0 kB
AnonHugePages:         0 kB
ShmemPmdMapped:        0 kB
FilePmdMapped:         0 kB
Shared_Hugetlb:        0 kB
Private_Hugetlb:       0 kB
Swap:                  0 kB
SwapPss:               0 kB
Locked:                0 kB
";
    if let Some(doc) = doc {
        assert!(
            doc.contains(expected),
            "the rollup sample was copied from the reference"
        );
    }
    assert_eq!(String::from_utf8(rollup).unwrap(), expected);
}

#[test]
fn rollup_sums_pss_in_fixed_point() {
    // Three VMAs with two pages mapped three times each: per VMA Pss is 2 * (4096 << 12) / 3 in fixed point,
    // 2730 bytes, printed 2 kB; the rollup's fixed-point sum is 8191 bytes, printed 7 kB, not 3 * 2.
    let mut k = kernel(KernelConfig::default());
    let mut pages = FakePages::default();
    let mm = k.mm_mut(pid1()).unwrap();
    for i in 0..3u64 {
        let s = 0x1000_0000 + i * 0x10000;
        mm.vmas.insert(anon(s, s + 0x2000, RD | WR | MAY));
        pages.add(s, 2, anon_page(3));
    }
    let mm = k.mm(pid1()).unwrap();
    let per_vma = String::from_utf8(smaps::render_smaps(&k, &pages, Some(mm))).unwrap();
    assert_eq!(per_vma.matches("\nPss:                   2 kB\n").count(), 3);
    let rollup = String::from_utf8(smaps::render_rollup(&k, &pages, Some(mm)).unwrap()).unwrap();
    assert!(rollup.contains("\nPss:                   7 kB\n"), "{rollup}");
    assert!(rollup.contains("\nShared_Dirty:         24 kB\n"), "{rollup}");
    assert!(
        rollup.starts_with("10000000-10022000 ---p 00000000 00:00 0 "),
        "{rollup}"
    );
}

#[test]
fn rollup_of_empty_mm_and_of_exited_task() {
    let mut k = kernel(KernelConfig::default());
    let r = String::from_utf8(k.proc_read(pid1(), "smaps_rollup").unwrap()).unwrap();
    let header = format!(
        "00000000-00000000 ---p 00000000 00:00 0{}[rollup]\n",
        " ".repeat(73 - 39)
    );
    assert!(r.starts_with(&header), "{r:?}");
    assert_eq!(r.lines().count(), 23);
    k.task_mut(pid1()).unwrap().exit = Some(memsim_core::task::ExitStatus::Exited(0));
    assert_eq!(k.proc_read(pid1(), "smaps_rollup"), Err(Errno::ESRCH));
    assert_eq!(k.proc_read(pid1(), "maps").unwrap(), b"");
    assert_eq!(k.proc_read(pid1(), "statm").unwrap(), b"0 0 0 0 0 0 0\n");
    let status = String::from_utf8(k.proc_read(pid1(), "status").unwrap()).unwrap();
    assert!(!status.contains("VmSize"));
}

#[test]
fn sleep_statm_matches_reference_sample() {
    let (k, _) = sleep_kernel("sleep");
    assert_eq!(
        String::from_utf8(k.proc_read(SLEEP_PID, "statm").unwrap()).unwrap(),
        golden_text("sample_statm.txt")
    );
}

#[test]
fn sleep_status_matches_reference_sample() {
    let (k, _) = sleep_kernel("sleep");
    let status = String::from_utf8(k.proc_read(SLEEP_PID, "status").unwrap()).unwrap();
    let sample = golden_text("sample_status.txt");
    // Lines the model cannot know (queued signals, context switches): only their keys must agree.
    let unknown = ["SigQ", "voluntary_ctxt_switches"];
    let got: Vec<&str> = status.lines().collect();
    let want: Vec<&str> = sample.lines().collect();
    assert_eq!(got.len(), want.len(), "{status}");
    for (g, w) in got.iter().zip(&want) {
        let key = w.split(':').next().unwrap();
        if unknown.contains(&key) {
            assert_eq!(g.split(':').next().unwrap(), key);
        } else {
            assert_eq!(g, w);
        }
    }
    check_golden("sleep_status.txt", status.as_bytes());
}

#[test]
fn sleep_stat_matches_reference_sample_in_modelled_fields() {
    let (k, _) = sleep_kernel("sleep");
    let stat = String::from_utf8(k.proc_read(SLEEP_PID, "stat").unwrap()).unwrap();
    let sample = "22686 (sleep) S 22680 22680 16787 0 -1 4194304 136 0 0 0 0 0 0 0 20 0 1 0 299815 2990080 405 18446744073709551615 93960449884160 93960449902089 140725569702384 0 0 0 0 0 0 1 0 0 17 1 0 0 0 0 0 93960449916176 93960449917440 93960829894656 140725569710819 140725569710829 140725569710829 140725569712105 0\n";
    assert!(stat.ends_with('\n'));
    let got: Vec<&str> = stat.split_whitespace().collect();
    let want: Vec<&str> = sample.split_whitespace().collect();
    assert_eq!(got.len(), 52);
    // 1-based field numbers the model cannot reproduce: starttime, the lagging rss, processor.
    let unknown = [22, 24, 39];
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        if !unknown.contains(&(i + 1)) {
            assert_eq!(g, w, "field {}", i + 1);
        }
    }
    assert_eq!(got[23], "448", "rss is the exact resident count");
    check_golden("sleep_stat.txt", stat.as_bytes());
}

#[test]
fn limits_matches_reference_sample() {
    let (k, _) = sleep_kernel("sleep");
    assert_eq!(
        String::from_utf8(k.proc_read(SLEEP_PID, "limits").unwrap()).unwrap(),
        golden_text("sample_limits.txt")
    );
}

/// Put `sleep 900`'s argument strings where its `arg_start`..`arg_end` say they are (the top of its
/// `[stack]`), so `cmdline` and pmap's header read them from the model's memory as procps does.
fn write_sleep_args(k: &mut Kernel) {
    let mm = k.mm(SLEEP_PID).unwrap();
    let (start, end) = (mm.arg_start, mm.arg_end);
    assert_eq!(end - start, 10);
    k.poke(SLEEP_PID, start, b"sleep\0900\0").unwrap();
    assert_eq!(k.proc_read(SLEEP_PID, "cmdline").unwrap(), b"sleep\0900\0");
}

#[test]
fn pmap_formats_match_reference_samples() {
    let (mut k, pages) = sleep_kernel("sleep");
    write_sleep_args(&mut k);
    for (fmt, sample, golden) in [
        (PmapFormat::Default, "sample_pmap.txt", "sleep_pmap.txt"),
        (PmapFormat::Extended, "sample_pmap_x.txt", "sleep_pmap_x.txt"),
        (PmapFormat::Device, "sample_pmap_d.txt", "sleep_pmap_d.txt"),
    ] {
        let out = String::from_utf8(k.pmap_with(SLEEP_PID, fmt, &pages).unwrap()).unwrap();
        let sample = golden_text(sample);
        assert_lines_in_order(&sample, &out);
        // Header and footer lines are the first and last of the sample.
        assert_eq!(out.lines().next(), sample.lines().next());
        assert_eq!(out.lines().last(), sample.lines().last(), "{fmt:?}");
        check_golden(golden, out.as_bytes());
    }
}

#[test]
fn special_names_match_reference_sample() {
    let mut k = kernel(KernelConfig::default());
    let shm = (0, 1);
    let sysv_ro = file(
        10,
        &inode(InodeKind::Shmem, "/SYSV1234abcd (deleted)", shm, 38, 4096),
        O_RDONLY,
    );
    let sysv0 = file(
        11,
        &inode(InodeKind::Shmem, "/SYSV00000000 (deleted)", shm, 37, 4096),
        O_RDWR,
    );
    let zero_shared = file(
        12,
        &inode(InodeKind::Shmem, "/dev/zero (deleted)", shm, 1084, 4096),
        O_RDWR,
    );
    let memfd = file(
        13,
        &inode(InodeKind::Shmem, "/memfd:we ird\nname (deleted)", shm, 1083, 8192),
        O_RDWR,
    );
    let devzero = file(14, &inode(InodeKind::DevZero, "/dev/zero", (0, 6), 4, 0), O_RDWR);
    let sh = VmFlags::SHARED | VmFlags::MAYSHARE;
    let mm = k.mm_mut(pid1()).unwrap();
    mm.vmas.insert(file_vma(
        0x7fd941877000,
        0x7fd941878000,
        RD | VmFlags::MAYREAD | VmFlags::MAYEXEC | VmFlags::MAYSHARE,
        &sysv_ro,
        0,
    ));
    mm.vmas
        .insert(file_vma(0x7fd941878000, 0x7fd941879000, RD | WR | MAY | sh, &sysv0, 0));
    mm.vmas.insert(file_vma(
        0x7fd941879000,
        0x7fd94187a000,
        RD | WR | MAY | sh,
        &zero_shared,
        0,
    ));
    mm.vmas.insert(file_vma(
        0x7fd94187a000,
        0x7fd94187c000,
        RD | MAY | VmFlags::MAYSHARE,
        &memfd,
        0,
    ));
    mm.vmas.insert(file_vma(
        0x600001100000,
        0x600001102000,
        RD | WR | MAY | VmFlags::ACCOUNT,
        &devzero,
        5,
    ));
    let maps = String::from_utf8(k.proc_read(pid1(), "maps").unwrap()).unwrap();
    let sample = golden_text("sample_special_maps.txt");
    for line in sample.lines() {
        assert!(maps.lines().any(|l| l == line), "{line:?} not in\n{maps}");
    }
    assert_eq!(maps.lines().count(), 6);
    assert!(maps.ends_with("ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n"));
    check_golden("special_maps.txt", maps.as_bytes());
}

#[test]
fn i386_pads_names_to_column_49_and_has_no_gate() {
    let mut k = kernel(KernelConfig {
        arch: Arch::I386,
        ..KernelConfig::default()
    });
    let data = RD | WR | MAY | VmFlags::ACCOUNT;
    let mm = k.mm_mut(pid1()).unwrap();
    mm.vmas.insert(anon(0x0804b000, 0x0805b000, data));
    mm.vmas.insert(anon(0x09e73000, 0x09e75000, data));
    mm.vmas.insert(anon(0xf7f46000, 0xf7f49000, data));
    let vvar = RD | VmFlags::MAYREAD | VmFlags::PFNMAP | VmFlags::IO | VmFlags::DONTEXPAND | VmFlags::DONTDUMP;
    mm.vmas
        .insert(special(0xf7f49000, 0xf7f4d000, vvar, SpecialMapping::Vvar));
    mm.vmas
        .insert(special(0xf7f4d000, 0xf7f4f000, vvar, SpecialMapping::VvarVclock));
    mm.vmas.insert(special(
        0xf7f4f000,
        0xf7f51000,
        RD | EX | MAY | VmFlags::DONTEXPAND,
        SpecialMapping::Vdso,
    ));
    mm.vmas.insert(anon(0xff94f000, 0xff970000, data | VmFlags::GROWSDOWN));
    mm.start_brk = 0x09e73000;
    mm.brk = 0x09e75000;
    mm.start_stack = 0xff96f000;
    let maps = String::from_utf8(k.proc_read(pid1(), "maps").unwrap()).unwrap();
    // The ia32-on-x86-64 sample pads to 73; a native 32-bit kernel pads to 49 (`25 + 4 * 6 - 1`, plus one).
    let sample = golden_text("sample_ia32_maps.txt");
    let native: String = sample
        .lines()
        .map(|l| {
            if l.len() > 73 {
                format!("{:<48} {}\n", &l[..l[..73].trim_end().len()], &l[73..])
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    assert_eq!(maps, native);
    for l in maps.lines().filter(|l| l.ends_with(']')) {
        assert_eq!(l.find('['), Some(49), "{l}");
    }
    check_golden("i386_maps.txt", maps.as_bytes());
    // A 32-bit pmap: 8-digit addresses, narrower address columns and totals.
    for (fmt, name) in [
        (PmapFormat::Default, "i386_pmap.txt"),
        (PmapFormat::Extended, "i386_pmap_x.txt"),
        (PmapFormat::Device, "i386_pmap_d.txt"),
    ] {
        let out = String::from_utf8(k.pmap(pid1(), fmt).unwrap()).unwrap();
        assert!(out.lines().nth(1).unwrap().len() < 60, "{out}");
        check_golden(name, out.as_bytes());
    }
}

#[test]
fn heap_and_stack_naming_rules() {
    let mut k = kernel(KernelConfig::default());
    let data = RD | WR | MAY | VmFlags::ACCOUNT;
    let mm = k.mm_mut(pid1()).unwrap();
    // bss merged with the heap start: overlaps [start_brk, brk) so it is all [heap].
    mm.vmas.insert(anon(0x600000, 0x603000, data));
    // A VMA ending exactly at start_brk does not overlap; one starting at brk neither (strict rule).
    mm.vmas.insert(anon(0x700000, 0x701000, data));
    mm.vmas.insert(anon(0x702000, 0x704000, data));
    mm.vmas.insert(anon(0x704000, 0x705000, data));
    mm.start_brk = 0x701000 + 0x1000;
    mm.brk = 0x704000;
    // start_stack equal to a VMA's end still names it (both ends inclusive).
    mm.vmas.insert(anon(0x7ff000, 0x800000, data | VmFlags::GROWSDOWN));
    mm.start_stack = 0x800000;
    let mut named = anon(0x900000, 0x901000, data);
    named.anon_name = Some(Arc::from("my heap"));
    mm.vmas.insert(named);
    let lines: Vec<String> = String::from_utf8(k.proc_read(pid1(), "maps").unwrap())
        .unwrap()
        .lines()
        .map(|l| l.get(73..).unwrap_or("").to_string())
        .collect();
    assert_eq!(lines, ["", "", "[heap]", "", "[stack]", "[anon:my heap]", "[vsyscall]"]);
}

#[test]
fn named_shmem_shows_anon_shmem() {
    let mut k = kernel(KernelConfig::default());
    let f = file(
        1,
        &inode(InodeKind::Shmem, "/dev/zero (deleted)", (0, 1), 2000, 4096),
        O_RDWR,
    );
    let mut v = file_vma(
        0x10000000,
        0x10001000,
        RD | WR | MAY | VmFlags::SHARED | VmFlags::MAYSHARE,
        &f,
        0,
    );
    v.anon_name = Some(Arc::from("buf"));
    k.mm_mut(pid1()).unwrap().vmas.insert(v);
    let maps = String::from_utf8(k.proc_read(pid1(), "maps").unwrap()).unwrap();
    let prefix = "10000000-10001000 rw-s 00000000 00:01 2000 ";
    assert_eq!(maps.lines().next().unwrap(), format!("{prefix:<73}[anon_shmem:buf]"));
}

#[test]
fn unknown_files_and_pids_are_enoent_and_pagemap_needs_a_window() {
    let k = kernel(KernelConfig::default());
    assert_eq!(k.proc_read(pid1(), "mapz"), Err(Errno::ENOENT));
    assert_eq!(k.proc_read(Pid(77), "maps"), Err(Errno::ENOENT));
    assert_eq!(k.proc_read(pid1(), "pagemap"), Err(Errno::EFBIG));
    assert_eq!(k.pagemap_range(pid1(), 0x2000, 0x1000), Err(Errno::EINVAL));
    assert_eq!(k.pagemap_range(Pid(77), 0, 0x1000), Err(Errno::ENOENT));
    assert_eq!(k.pagemap_range(pid1(), 0, 1 << 47), Err(Errno::EFBIG));
    // Empty address space: zero entries, clipped at TASK_SIZE.
    assert_eq!(k.pagemap_range(pid1(), 0x1000, 0x3000).unwrap(), vec![0u8; 16]);
    let top = Arch::X86_64.task_size_max();
    assert_eq!(k.pagemap_range(pid1(), top - 0x1000, top + 0x5000).unwrap().len(), 8);
}

#[test]
fn pagemap_window_entries() {
    let mut k = kernel(KernelConfig::default());
    let mut pages = FakePages::default();
    k.mm_mut(pid1())
        .unwrap()
        .vmas
        .insert(anon(0x10000000, 0x10004000, RD | WR | MAY));
    pages.add(0x10001000, 1, anon_page(1));
    pages.add(0x10002000, 1, anon_page(2));
    let out = k.pagemap_range_with(pid1(), 0x10000000, 0x10004000, &pages).unwrap();
    let e: Vec<u64> = out
        .chunks(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let pfn = |a: u64| 0x1000 + (a >> 12) % 0x10_0000;
    assert_eq!(
        e,
        [
            0,
            (1 << 63) | (1 << 56) | pfn(0x10001000),
            (1 << 63) | pfn(0x10002000),
            0
        ]
    );
    // Without CAP_SYS_ADMIN the frame numbers read as zero.
    k.task_mut(pid1()).unwrap().cred = memsim_core::task::Cred::for_uid(1000);
    let out = k.pagemap_range_with(pid1(), 0x10001000, 0x10002000, &pages).unwrap();
    assert_eq!(u64::from_le_bytes(out[..8].try_into().unwrap()), 0x8100000000000000);
}

#[test]
fn fdsize_rounds_like_alloc_fdtable() {
    let mut k = kernel(KernelConfig::default());
    let devnull = inode(InodeKind::Other, "/dev/null", (0, 6), 5, 0);
    let fdsize = |k: &Kernel| {
        let s = String::from_utf8(k.proc_read(pid1(), "status").unwrap()).unwrap();
        s.lines()
            .find_map(|l| l.strip_prefix("FDSize:\t").map(str::to_string))
            .unwrap()
    };
    assert_eq!(fdsize(&k), "64");
    for (fd, want) in [
        (63, "64"),
        (64, "128"),
        (127, "128"),
        (128, "256"),
        (255, "256"),
        (256, "512"),
    ] {
        k.task_mut(pid1()).unwrap().files.install(
            fd,
            FdEntry {
                file: file(1, &devnull, O_RDONLY),
                cloexec: false,
            },
        );
        assert_eq!(fdsize(&k), want, "fd {fd}");
    }
}

#[test]
fn status_escapes_comm_but_stat_does_not() {
    let mut k = kernel(KernelConfig::default());
    k.task_mut(pid1()).unwrap().comm = "a\\b\nc\td e".to_string();
    let status = k.proc_read(pid1(), "status").unwrap();
    assert!(status.starts_with(b"Name:\ta\\\\b\\nc\td e\n"));
    let stat = k.proc_read(pid1(), "stat").unwrap();
    assert!(stat.starts_with(b"1 (a\\b\nc\td e) R "));
}

#[test]
fn default_machine_renders_every_file() {
    // The untouched PID 1 of `memsim run`, as a blessed snapshot of every text file.
    let k = kernel(KernelConfig::default());
    for name in ["maps", "smaps", "smaps_rollup", "status", "statm", "stat", "limits"] {
        let out = k.proc_read(pid1(), name).unwrap();
        check_golden(&format!("init_{name}.txt"), &out);
    }
    let i386 = kernel(KernelConfig {
        arch: Arch::I386,
        ..KernelConfig::default()
    });
    check_golden("init_i386_status.txt", &i386.proc_read(pid1(), "status").unwrap());
    check_golden("init_i386_stat.txt", &i386.proc_read(pid1(), "stat").unwrap());
    assert_eq!(i386.proc_read(pid1(), "maps").unwrap(), b"");
}

#[test]
fn pmap_extended_tables_match_reference_samples() {
    let (mut k, pages) = sleep_kernel("sleep");
    write_sleep_args(&mut k);
    let x = String::from_utf8(k.pmap_with(SLEEP_PID, PmapFormat::More, &pages).unwrap()).unwrap();
    let xx = String::from_utf8(k.pmap_with(SLEEP_PID, PmapFormat::All, &pages).unwrap()).unwrap();
    let doc = "22686:   sleep 900
         Address Perm   Offset Device  Inode Size  Rss Pss Pss_Dirty Referenced Anonymous KSM LazyFree ShmemPmdMapped FilePmdMapped Shared_Hugetlb Private_Hugetlb Swap SwapPss Locked THPeligible Mapping
    5574df3ce000 r--p 00000000  fe:00 247774    8    8   4         0          8         0   0        0              0             0              0               0    0       0      0           0 sleep
ffffffffff600000 --xp 00000000  00:00      0    4    0   0         0          0         0   0        0              0             0              0               0    0       0      0           0 [vsyscall]
                                             ==== ==== === ========= ========== ========= === ======== ============== ============= ============== =============== ==== ======= ====== =========== 
";
    assert_lines_in_order(doc, &x);
    // The totals: everything but Pss, which the sample's real page sharing made 404 (the model's per-VMA
    // truncations differ); Pss totals the printed per-VMA values, so it cannot exceed the rollup's 435.
    let totals: Vec<&str> = x.lines().last().unwrap().split_whitespace().collect();
    let want = "2924 1792 404 108 1792 108 0 0 0 0 0 0 0 0 0 0 KB";
    let want: Vec<&str> = want.split_whitespace().collect();
    assert_eq!(totals.len(), want.len());
    for (i, (g, w)) in totals.iter().zip(&want).enumerate() {
        if i != 2 {
            assert_eq!(g, w, "total #{i}");
        }
    }
    assert!(totals[2].parse::<u64>().unwrap() <= 435);
    let doc_xx = "         Address Perm   Offset Device  Inode Size KernelPageSize MMUPageSize  Rss Pss Pss_Dirty Shared_Clean Shared_Dirty Private_Clean Private_Dirty Referenced Anonymous KSM LazyFree AnonHugePages ShmemPmdMapped FilePmdMapped Shared_Hugetlb Private_Hugetlb Swap SwapPss Locked THPeligible              VmFlags Mapping
    5574df3ce000 r--p 00000000  fe:00 247774    8              4           4    8   4         0            8            0             0             0          8         0   0        0             0              0             0              0               0    0       0      0           0          rd mr mw me sleep
";
    let mut lines = xx.lines().skip(1);
    for want in doc_xx.lines() {
        assert_eq!(lines.next(), Some(want));
    }
    check_golden("sleep_pmap_X.txt", x.as_bytes());
    check_golden("sleep_pmap_XX.txt", xx.as_bytes());
}

#[test]
fn maps_of_many_vmas_renders_every_vma_once() {
    let n = 8192u64;
    let mut k = kernel(KernelConfig::default());
    let mm = k.mm_mut(pid1()).unwrap();
    for i in 0..n {
        let s = 0x1000_0000 + i * 0x2000;
        mm.vmas.insert(anon(s, s + 0x1000, RD | WR | MAY));
    }
    let maps = k.proc_read(pid1(), "maps").unwrap();
    let smaps = k.proc_read(pid1(), "smaps").unwrap();
    // 41 bytes per unnamed line with 8-digit addresses, 84 for the gate.
    assert_eq!(maps.len() as u64, n * 41 + 84);
    let text = String::from_utf8(maps).unwrap();
    assert!(text
        .lines()
        .take(n as usize)
        .all(|l| l.ends_with(" rw-p 00000000 00:00 0 ")));
    assert!(text
        .lines()
        .nth(n as usize - 1)
        .unwrap()
        .starts_with("13ffe000-13fff000 "));
    assert_eq!(smaps.windows(8).filter(|w| w == b"VmFlags:").count() as u64, n + 1);
}

/// A small address space built through the model's own system calls and faults: a written anonymous page, a
/// zero-page read, an untouched page, a shared anonymous (shmem) page and a private file page, then a COW'd
/// file page. Its pagemap (one line per page: address, raw entry, decoded bits) and meminfo are golden.
fn faulted_kernel() -> Kernel {
    let mut fs = memsim_core::fs::MemFs::new();
    fs.add_file("/data/file", (0..8192u32).map(|i| i as u8).collect());
    let mut k = Kernel::new(KernelConfig::default(), Box::new(fs));
    let p = memsim_core::kernel::INIT_PID;
    let rw = PROT_READ | PROT_WRITE;
    let anon = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
    k.sys_mmap(p, 0x1_0000_0000, 3 * 4096, rw, anon, -1, 0).unwrap();
    k.poke(p, 0x1_0000_0000, b"written").unwrap();
    k.peek(p, 0x1_0000_1000, 1).unwrap();
    k.sys_mmap(
        p,
        0x1_0000_3000,
        4096,
        rw,
        MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED,
        -1,
        0,
    )
    .unwrap();
    k.poke(p, 0x1_0000_3000, b"shared").unwrap();
    let fd = k.sys_openat(p, AT_FDCWD, "/data/file", O_RDONLY, 0).unwrap() as i64;
    k.sys_mmap(p, 0x1_0000_4000, 2 * 4096, rw, MAP_PRIVATE | MAP_FIXED, fd, 0)
        .unwrap();
    k.peek(p, 0x1_0000_4000, 1).unwrap();
    k.poke(p, 0x1_0000_5000, b"cow").unwrap();
    k
}

#[test]
fn pagemap_of_faulted_pages_is_golden() {
    let k = faulted_kernel();
    let raw = k
        .pagemap_range(memsim_core::kernel::INIT_PID, 0x1_0000_0000, 0x1_0000_7000)
        .unwrap();
    let mut text = String::new();
    for (i, e) in raw.chunks_exact(8).enumerate() {
        let v = u64::from_ne_bytes(e.try_into().unwrap());
        let bits: Vec<&str> = [(63, "present"), (62, "swapped"), (61, "file/shared"), (56, "exclusive")]
            .iter()
            .filter(|&&(b, _)| v >> b & 1 == 1)
            .map(|&(_, n)| n)
            .collect();
        text.push_str(&format!(
            "{:#x} {v:016x} pfn={:#x} {}\n",
            0x1_0000_0000 + i * 4096,
            v & ((1 << 55) - 1),
            bits.join("|")
        ));
    }
    check_golden("faulted_pagemap.txt", text.as_bytes());
}

#[test]
fn meminfo_of_faulted_pages_is_golden() {
    let k = faulted_kernel();
    check_golden("faulted_meminfo.txt", &k.meminfo());
}
