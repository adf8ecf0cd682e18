//! fork against the running kernel: `tests/data/fork_smaps.c` maps regions in a fixed window (plain anonymous
//! memory, MADV_DONTFORK, MADV_WIPEONFORK, mlock, a read-only zero-page mapping, shared anonymous memory),
//! touches them, forks, and prints `/proc/self/smaps` of the child and of the parent while both live, again
//! after the child wrote one page (copy-on-write), and the parent's after reaping. The model does the same
//! and every smaps block of the window must be equal (the header's inode and name of the shared mapping
//! aside: shmem inode numbers are the kernel's own).
//!
//! Skipped with a message when gcc is missing.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use memsim_core::fs::MemFs;
use memsim_core::kernel::INIT_PID;
use memsim_core::uapi::*;
use memsim_core::{AccessKind, Kernel, KernelConfig, Pid};

const W: u64 = 0x1_0000_0000;
const PG: u64 = 4096;

fn run_real() -> Option<String> {
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/fork_smaps.c");
    let out: PathBuf = std::env::temp_dir().join(format!("memsim_fork_smaps_{}", std::process::id()));
    let ok = Command::new("gcc")
        .args(["-O1", "-o"])
        .arg(&out)
        .arg(src)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("gcc not available: skipping the comparison with the kernel");
        return None;
    }
    let o = Command::new(&out).output().expect("run fork_smaps");
    let _ = std::fs::remove_file(&out);
    assert!(
        o.status.success(),
        "fork_smaps failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    Some(String::from_utf8(o.stdout).expect("utf-8"))
}

/// Sections `=== name` of the output, each as smaps blocks of the window keyed by start address (the header
/// cut to address range, permissions, offset and device).
fn sections(text: &str) -> BTreeMap<String, BTreeMap<u64, String>> {
    let mut out: BTreeMap<String, BTreeMap<u64, String>> = BTreeMap::new();
    let mut sec = String::new();
    let mut cur: Option<u64> = None;
    for line in text.split_inclusive('\n') {
        if let Some(name) = line.strip_prefix("=== ") {
            sec = name.trim().to_string();
            out.entry(sec.clone()).or_default();
            cur = None;
            continue;
        }
        let head = line.split('-').next().unwrap_or("");
        if line.contains(' ') && head.len() >= 8 && head.bytes().all(|b| b.is_ascii_hexdigit()) {
            let start = u64::from_str_radix(head, 16).unwrap_or(0);
            cur = (W..W + 0x100_0000).contains(&start).then_some(start);
            if let Some(s) = cur {
                let cut: Vec<&str> = line.split_whitespace().take(4).collect();
                out.entry(sec.clone()).or_default().insert(s, cut.join(" ") + "\n");
            }
            continue;
        }
        if let Some(s) = cur {
            if let Some(b) = out.get_mut(&sec).and_then(|m| m.get_mut(&s)) {
                b.push_str(line);
            }
        }
    }
    out
}

fn model_smaps(k: &mut Kernel, pid: Pid) -> BTreeMap<u64, String> {
    let text = String::from_utf8(k.proc_read(pid, "smaps").expect("smaps")).expect("utf-8");
    sections(&format!("=== m\n{text}")).remove("m").unwrap_or_default()
}

fn write(k: &mut Kernel, pid: Pid, addr: u64, b: u8) {
    k.poke(pid, addr, &[b]).expect("write");
}

#[test]
fn fork_smaps_match_the_running_kernel() {
    let Some(real) = run_real() else { return };
    let real = sections(&real);
    let mut k = Kernel::new(KernelConfig::default(), Box::new(MemFs::new()));
    let p = INIT_PID;
    let anon = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE;
    let rw = PROT_READ | PROT_WRITE;
    let map = |k: &mut Kernel, off: u64, pages: u64, prot: u64, flags: u64| {
        k.sys_mmap(p, W + off, pages * PG, prot, flags, -1, 0).expect("mmap")
    };
    let a = map(&mut k, 0x000000, 16, rw, anon);
    for i in 0..8 {
        write(&mut k, p, a + i * PG, 1);
    }
    let b = map(&mut k, 0x100000, 4, rw, anon);
    for i in 0..4 {
        write(&mut k, p, b + i * PG, 2);
    }
    k.sys_madvise(p, b, 4 * PG, MADV_DONTFORK).unwrap();
    let c = map(&mut k, 0x200000, 4, rw, anon);
    for i in 0..4 {
        write(&mut k, p, c + i * PG, 3);
    }
    k.sys_madvise(p, c, 4 * PG, MADV_WIPEONFORK).unwrap();
    let d = map(&mut k, 0x300000, 4, rw, anon);
    k.sys_mlock(p, d, 4 * PG).unwrap();
    write(&mut k, p, d, 4);
    write(&mut k, p, d + PG, 4);
    let e = map(&mut k, 0x400000, 4, PROT_READ, anon);
    k.access(p, e, 1, AccessKind::Read).unwrap();
    let f = map(
        &mut k,
        0x500000,
        4,
        rw,
        MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
    );
    write(&mut k, p, f, 5);
    write(&mut k, p, f + PG, 5);
    let g = map(&mut k, 0x600000, 4, rw, anon);
    write(&mut k, p, g, 6);

    let child = Pid(k.sys_fork(p).unwrap() as u32);
    let mut got = BTreeMap::new();
    got.insert("child", model_smaps(&mut k, child));
    got.insert("parent", model_smaps(&mut k, p));
    write(&mut k, child, g, 7);
    got.insert("child-after-write", model_smaps(&mut k, child));
    got.insert("parent-after-child-write", model_smaps(&mut k, p));
    k.sys_exit_group(child, 9).unwrap();
    let (pid, status) = k.sys_wait4(p, i64::from(child.0), 0).unwrap();
    assert_eq!(pid, child);
    got.insert("parent-after-reap", model_smaps(&mut k, p));
    assert!(
        real.contains_key(&format!("status {status}")),
        "wait status {status} as the kernel's"
    );
    k.check_all_page_invariants().unwrap();

    for (name, model) in got {
        let kern = &real[name];
        assert_eq!(
            model.keys().collect::<Vec<_>>(),
            kern.keys().collect::<Vec<_>>(),
            "{name}: the same VMAs"
        );
        for (start, block) in kern {
            assert_eq!(&model[start], block, "{name}: smaps of the VMA at {start:#x}");
        }
    }
}
