//! Fault-path tests. VMAs are inserted directly (mmap is another module's job); expectations marked (v) were
//! checked on the reference 6.18 machine with small C programs (getrusage fault counts, /proc/self/status).

use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::fs::{FileId, Inode, MemFs};
use crate::kernel::{KernelConfig, INIT_PID};
use crate::mm::memory::PageStat;
use crate::phys::LruList;
use crate::uapi::O_RDWR;

const RW: VmFlags = VmFlags::READ
    .union(VmFlags::WRITE)
    .union(VmFlags::MAYREAD)
    .union(VmFlags::MAYWRITE)
    .union(VmFlags::MAYEXEC);
const BASE: u64 = 0x1_0000_0000;

fn kernel_with(cfg: KernelConfig, fs: MemFs) -> Kernel {
    Kernel::new(cfg, Box::new(fs))
}

fn kernel() -> Kernel {
    kernel_with(KernelConfig::default(), MemFs::new())
}

fn mm(k: &Kernel) -> MmId {
    k.mm_id(INIT_PID).unwrap()
}

fn add_vma(k: &mut Kernel, v: Vma) {
    let id = mm(k);
    let m = k.mms.get_mut(&id).unwrap();
    m.vm_stat_account(v.flags, v.nr_pages() as i64);
    m.vmas.insert(v);
}

fn anon(k: &mut Kernel, start: u64, pages: u64, flags: VmFlags) {
    add_vma(k, Vma::new_anon(VirtAddr(start), VirtAddr(start + pages * 4096), flags));
}

fn file_vma(
    k: &mut Kernel,
    path: &str,
    kind: InodeKind,
    start: u64,
    pages: u64,
    pgoff: u64,
    flags: VmFlags,
) -> Arc<File> {
    let meta = k.fs.stat(path).unwrap();
    let id = k.alloc_inode_id();
    let inode = Arc::new(Inode {
        id,
        kind,
        meta,
        display_name: path.to_string(),
    });
    let file = Arc::new(File {
        id: FileId(id.0 + 1000),
        inode,
        flags: O_RDWR,
    });
    share_file(k, &file, start, pages, pgoff, flags);
    file
}

fn share_file(k: &mut Kernel, file: &Arc<File>, start: u64, pages: u64, pgoff: u64, flags: VmFlags) {
    let mut v = Vma::new_anon(VirtAddr(start), VirtAddr(start + pages * 4096), flags);
    v.pgoff = pgoff;
    v.file = Some(file.clone());
    add_vma(k, v);
}

fn flt(k: &Kernel) -> (u64, u64) {
    let t = k.task(INIT_PID).unwrap();
    (t.min_flt, t.maj_flt)
}

fn rss(k: &Kernel) -> [i64; 4] {
    k.mms[&mm(k)].rss
}

fn stats(k: &Kernel) -> Vec<PageStat> {
    let mut v = Vec::new();
    k.walk_pages(mm(k), VirtAddr(0), VirtAddr(1 << 47), &mut |s| v.push(*s));
    v
}

fn check(k: &Kernel) {
    if let Err(e) = k.check_all_page_invariants() {
        panic!("invariant: {e}");
    }
}

fn file_bytes(n_pages: usize) -> Vec<u8> {
    (0..n_pages * 4096).map(|i| (i / 4096) as u8 ^ (i as u8)).collect()
}

#[test]
fn anon_read_maps_zero_page_then_write_faults_again() {
    // (v) 4 read faults leave RssAnon unchanged; 4 writes are 4 more faults and +16 kB RssAnon.
    let mut k = kernel();
    anon(&mut k, BASE, 4, RW);
    for i in 0..4 {
        k.access(INIT_PID, BASE + i * 4096, 1, AccessKind::Read).unwrap();
    }
    assert_eq!(flt(&k), (4, 0));
    assert_eq!(rss(&k)[RssCounter::AnonPages as usize], 0);
    let s = stats(&k);
    assert_eq!(s.len(), 4);
    assert!(s.iter().all(|p| p.zero_page && p.present && !p.writable && p.pfn == 0));
    assert!(
        k.mms[&mm(&k)].vmas.get(VirtAddr(BASE)).unwrap().anon_vma.is_none(),
        "read faults create no anon_vma"
    );
    for i in 0..4 {
        k.access(INIT_PID, BASE + i * 4096, 1, AccessKind::Write).unwrap();
    }
    assert_eq!(flt(&k), (8, 0));
    assert_eq!(rss(&k)[RssCounter::AnonPages as usize], 4);
    let s = stats(&k);
    assert!(s
        .iter()
        .all(|p| p.anon && !p.zero_page && p.writable && p.dirty && p.young && p.mapcount == 1));
    // Writing again does not fault.
    k.access(INIT_PID, BASE, 8, AccessKind::Write).unwrap();
    assert_eq!(flt(&k), (8, 0));
    // VmPTE: first touch in a new 512 GiB slot costs PUD + PMD + PTE tables (v: +12 kB).
    assert_eq!(k.mms[&mm(&k)].pgtables_bytes, 12 << 10);
    check(&k);
}

#[test]
fn poke_and_peek_move_real_bytes() {
    let mut k = kernel();
    anon(&mut k, BASE, 2, RW);
    assert_eq!(k.peek(INIT_PID, BASE + 10, 3).unwrap(), vec![0, 0, 0]);
    k.poke(INIT_PID, BASE + 4094, b"hello").unwrap();
    assert_eq!(k.peek(INIT_PID, BASE + 4094, 5).unwrap(), b"hello");
    assert_eq!(k.peek(INIT_PID, BASE + 4093, 3).unwrap(), b"\0he");
    // peek faulted page 0 (zero page), then the poke broke COW on it and faulted page 1: 3 faults.
    assert_eq!(flt(&k), (3, 0));
    check(&k);
}

#[test]
fn straddling_access_faults_both_pages() {
    // (v) a 4-byte store at page offset 4094 of a fresh mapping takes 2 faults.
    let mut k = kernel();
    anon(&mut k, BASE, 2, RW);
    k.access(INIT_PID, BASE + 4094, 4, AccessKind::Write).unwrap();
    assert_eq!(flt(&k), (2, 0));
    assert_eq!(rss(&k)[RssCounter::AnonPages as usize], 2);
}

#[test]
fn straddling_into_a_hole_reports_the_second_page() {
    let mut k = kernel();
    anon(&mut k, BASE, 1, RW);
    let e = k.access(INIT_PID, BASE + 4094, 4, AccessKind::Read).unwrap_err();
    assert_eq!((e.signo, e.code, e.addr), (SIGSEGV, SEGV_MAPERR, BASE + 4096));
    let t = k.task(INIT_PID).unwrap();
    assert_eq!(t.state, TaskState::Zombie);
    assert_eq!(
        t.exit,
        Some(ExitStatus::Killed {
            signo: SIGSEGV,
            core_dumped: false
        })
    );
}

#[test]
fn write_across_a_pmd_boundary_on_i386() {
    let cfg = KernelConfig {
        arch: crate::arch::Arch::I386,
        ..KernelConfig::default()
    };
    let mut k = kernel_with(cfg, MemFs::new());
    anon(&mut k, 0x3ff_8000, 16, RW);
    k.poke(INIT_PID, 0x400_0005, &[1]).unwrap();
    check(&k);
}

#[test]
fn segv_codes_mapping_and_protection() {
    let mut k = kernel();
    anon(&mut k, BASE, 1, VmFlags::READ | VmFlags::MAYREAD);
    let e = k.access(INIT_PID, BASE, 1, AccessKind::Write).unwrap_err();
    assert_eq!((e.signo, e.code, e.addr), (SIGSEGV, SEGV_ACCERR, BASE));
    assert_eq!(flt(&k), (0, 0), "failed faults are not counted");

    let mut k = kernel();
    anon(&mut k, BASE, 1, VmFlags::MAYREAD);
    let e = k.access(INIT_PID, BASE, 1, AccessKind::Read).unwrap_err();
    assert_eq!((e.signo, e.code), (SIGSEGV, SEGV_ACCERR), "PROT_NONE");

    // A dead task cannot access anything.
    let e = k.access(INIT_PID, BASE, 1, AccessKind::Read).unwrap_err();
    assert_eq!(e.signo, SIGKILL);
}

#[test]
fn exec_of_non_exec_page_faults_twice_on_x86_64_but_not_on_i386() {
    // The first fault maps the page with NX (counted); the retried fetch faults with PROT|INSTR: SEGV_ACCERR.
    let mut k = kernel();
    anon(&mut k, BASE, 1, RW);
    let e = k.access(INIT_PID, BASE, 1, AccessKind::Exec).unwrap_err();
    assert_eq!((e.signo, e.code), (SIGSEGV, SEGV_ACCERR));
    assert_eq!(flt(&k), (1, 0));

    // i386 without PAE has no NX bit: a readable page can be executed.
    let cfg = KernelConfig {
        arch: crate::arch::Arch::I386,
        ..KernelConfig::default()
    };
    let mut k = kernel_with(cfg, MemFs::new());
    anon(&mut k, 0x0804_8000, 1, RW);
    k.access(INIT_PID, 0x0804_8000, 1, AccessKind::Exec).unwrap();
    assert_eq!(flt(&k), (1, 0));
    assert_eq!(k.mms[&mm(&k)].pgtables_bytes, 4 << 10);
    check(&k);
}

#[test]
fn zap_and_free_pgtables_release_everything() {
    let mut k = kernel();
    anon(&mut k, BASE, 600, RW);
    for i in 0..600 {
        k.access(INIT_PID, BASE + i * 4096, 1, AccessKind::Write).unwrap();
    }
    assert_eq!(rss(&k)[RssCounter::AnonPages as usize], 600);
    assert_eq!(k.mms[&mm(&k)].pgtables_bytes, 16 << 10, "two PTE tables");
    let used = k.phys.nr_used();
    k.zap_range(mm(&k), VirtAddr(BASE), VirtAddr(BASE + 600 * 4096));
    let m = &k.mms[&mm(&k)];
    assert_eq!(m.rss, [0; 4]);
    assert_eq!(m.hiwater_rss, 600, "hiwater_rss raised before the drop");
    assert_eq!(k.phys.nr_used(), used - 600);
    // Remove the VMA as munmap would, then free its tables with no neighbours.
    k.mms.get_mut(&mm(&k)).unwrap().vmas.remove(VirtAddr(BASE));
    k.free_pgtables(mm(&k), VirtAddr(BASE), VirtAddr(BASE + 600 * 4096), 0, 0x7fff_ffff_f000);
    assert_eq!(k.mms[&mm(&k)].pgtables_bytes, 0);
    assert_eq!(k.phys.nr_used(), 2, "zero page and the PGD");
    check(&k);
}

#[test]
fn exit_mmap_frees_every_frame() {
    let mut fs = MemFs::new();
    fs.add_file("/lib/a.so", file_bytes(40));
    let mut k = kernel_with(KernelConfig::default(), fs);
    anon(&mut k, BASE, 8, RW);
    file_vma(&mut k, "/lib/a.so", InodeKind::Regular, BASE + 0x10_0000, 40, 0, RW);
    k.access(INIT_PID, BASE, 1, AccessKind::Write).unwrap();
    k.access(INIT_PID, BASE + 0x10_0000, 1, AccessKind::Read).unwrap();
    k.access(INIT_PID, BASE + 0x10_1000, 1, AccessKind::Write).unwrap();
    check(&k);
    k.exit_mmap(mm(&k));
    check(&k);
    // The file's pages stay in the page cache (clean, unmapped); nothing else is allocated.
    assert_eq!(k.phys.nr_used(), 1 + k.page_cache.len() as u64);
    assert_eq!(k.mms[&mm(&k)].total_vm, 0);
}

#[test]
fn private_file_read_is_major_with_fault_around_then_cow() {
    // (v) first read of an uncached page: 1 major fault, RssFile +64 kB (the 16-page block); a read in the same
    // block: no fault; a read in the next block: minor, +64 kB; a write to a mapped page: minor, RssFile -4 kB,
    // RssAnon +4 kB; a write to an unmapped cached page: minor, RssAnon +4 kB.
    let mut fs = MemFs::new();
    fs.add_file("/data/f.bin", file_bytes(256));
    let mut k = kernel_with(KernelConfig::default(), fs);
    k.page_cache.ra_pages = 2048; // the reference machine's disk
    file_vma(&mut k, "/data/f.bin", InodeKind::Regular, BASE, 256, 0, RW);
    let fi = RssCounter::FilePages as usize;
    let an = RssCounter::AnonPages as usize;
    k.access(INIT_PID, BASE + 50 * 4096, 1, AccessKind::Read).unwrap();
    assert_eq!(flt(&k), (0, 1));
    assert_eq!(rss(&k)[fi], 16);
    k.access(INIT_PID, BASE + 60 * 4096, 1, AccessKind::Read).unwrap();
    assert_eq!(flt(&k), (0, 1));
    k.access(INIT_PID, BASE + 70 * 4096, 1, AccessKind::Read).unwrap();
    assert_eq!(flt(&k), (1, 1));
    assert_eq!(rss(&k)[fi], 32);
    k.access(INIT_PID, BASE + 50 * 4096, 1, AccessKind::Write).unwrap();
    assert_eq!(flt(&k), (2, 1));
    assert_eq!((rss(&k)[fi], rss(&k)[an]), (31, 1));
    k.access(INIT_PID, BASE + 100 * 4096 + 10, 1, AccessKind::Write)
        .unwrap();
    assert_eq!(flt(&k), (3, 1));
    assert_eq!((rss(&k)[fi], rss(&k)[an]), (31, 2));
    // The bytes are the file's, and the private copy is private.
    let want = file_bytes(256);
    assert_eq!(
        k.peek(INIT_PID, BASE + 50 * 4096 + 7, 4).unwrap(),
        want[50 * 4096 + 7..50 * 4096 + 11]
    );
    k.poke(INIT_PID, BASE + 50 * 4096 + 7, b"XY").unwrap();
    assert_eq!(k.peek(INIT_PID, BASE + 50 * 4096 + 7, 2).unwrap(), b"XY");
    let ino = k.mms[&mm(&k)]
        .vmas
        .get(VirtAddr(BASE))
        .unwrap()
        .file
        .as_ref()
        .unwrap()
        .inode
        .id;
    let cached = k.page_cache.find(ino, 50).unwrap();
    let mut b = [0u8; 2];
    k.phys.read(cached, 7, &mut b);
    assert_eq!(
        b,
        want[50 * 4096 + 7..50 * 4096 + 9],
        "the page cache is untouched by a private write"
    );
    check(&k);
}

#[test]
fn default_readahead_window_makes_later_faults_major() {
    let mut fs = MemFs::new();
    fs.add_file("/data/g.bin", file_bytes(256));
    let mut k = kernel_with(KernelConfig::default(), fs);
    file_vma(&mut k, "/data/g.bin", InodeKind::Regular, BASE, 256, 0, RW);
    k.access(INIT_PID, BASE + 50 * 4096, 1, AccessKind::Read).unwrap();
    // read-around [34, 66): page 70 is not cached.
    k.access(INIT_PID, BASE + 70 * 4096, 1, AccessKind::Read).unwrap();
    assert_eq!(flt(&k), (0, 2));
    let v = k.sys_mincore(INIT_PID, BASE, 256 * 4096).unwrap();
    let resident: Vec<usize> = v.iter().enumerate().filter(|(_, &b)| b == 1).map(|(i, _)| i).collect();
    assert_eq!(resident.first(), Some(&34));
    assert_eq!(v.iter().filter(|&&b| b == 1).count(), 32 + 20, "[34, 66) then [54, 86)");
    // MADV_RANDOM-style VMAs read only the faulting page.
    check(&k);
}

#[test]
fn sigbus_beyond_end_of_file() {
    let mut fs = MemFs::new();
    fs.add_file("/data/small", vec![7u8; 5000]);
    let mut k = kernel_with(KernelConfig::default(), fs);
    file_vma(
        &mut k,
        "/data/small",
        InodeKind::Regular,
        BASE,
        4,
        0,
        VmFlags::READ | VmFlags::MAYREAD,
    );
    // The partial last page reads zeros past EOF.
    assert_eq!(k.peek(INIT_PID, BASE + 4999, 2).unwrap(), vec![7, 0]);
    assert_eq!(
        rss(&k)[RssCounter::FilePages as usize],
        2,
        "fault-around clipped to the file size"
    );
    let e = k.access(INIT_PID, BASE + 2 * 4096, 1, AccessKind::Read).unwrap_err();
    assert_eq!((e.signo, e.code, e.addr), (SIGBUS, BUS_ADRERR, BASE + 2 * 4096));
    assert_eq!(flt(&k), (0, 1));
}

#[test]
fn mapping_wholly_past_eof_raises_sigbus_without_panicking() {
    let mut fs = MemFs::new();
    fs.add_file("/data/p", file_bytes(17));
    let mut k = kernel_with(KernelConfig::default(), fs);
    file_vma(
        &mut k,
        "/data/p",
        InodeKind::Regular,
        BASE,
        2,
        0x20,
        VmFlags::READ | VmFlags::MAYREAD,
    );
    // Cache the file first, so fault-around runs with a window that ends before it starts.
    let ino = k.mms[&mm(&k)]
        .vmas
        .get(VirtAddr(BASE))
        .unwrap()
        .file
        .as_ref()
        .unwrap()
        .inode
        .clone();
    k.page_cache_read_all(&ino);
    assert_eq!(k.page_cache.nr_pages(ino.id), 17);
    let e = k.access(INIT_PID, BASE, 1, AccessKind::Read).unwrap_err();
    assert_eq!((e.signo, e.code, e.addr), (SIGBUS, BUS_ADRERR, BASE));
    assert_eq!(k.page_cache.range(ino.id, 5, 4).count(), 0);
}

#[test]
fn shared_file_pages_are_shared_between_mappings_and_write_notify_faults() {
    let mut fs = MemFs::new();
    fs.add_file("/data/s", file_bytes(4));
    let mut k = kernel_with(KernelConfig::default(), fs);
    let sh = RW | VmFlags::SHARED | VmFlags::MAYSHARE;
    let f = file_vma(&mut k, "/data/s", InodeKind::Regular, BASE, 4, 0, sh);
    share_file(&mut k, &f, BASE + 0x10_0000, 4, 0, VmFlags::READ | VmFlags::MAYREAD);
    k.access(INIT_PID, BASE, 1, AccessKind::Read).unwrap();
    let s = stats(&k);
    assert!(
        s.iter().all(|p| !p.writable && p.file),
        "write-notify maps clean shared file pages read-only"
    );
    k.poke(INIT_PID, BASE + 1, b"Z").unwrap();
    assert_eq!(flt(&k), (1, 1), "a major read fault, then a minor write-notify fault");
    assert_eq!(
        k.peek(INIT_PID, BASE + 0x10_0001, 1).unwrap(),
        b"Z",
        "same page cache page"
    );
    let s = stats(&k);
    let p = s.iter().find(|p| p.addr.0 == BASE).unwrap();
    assert!(p.writable && p.dirty && p.mapcount == 2);
    check(&k);
}

#[test]
fn shared_anonymous_memory_counts_as_shmem() {
    let mut fs = MemFs::new();
    fs.add_file("/dev/zero (deleted)", vec![0; 8 * 4096]);
    let mut k = kernel_with(KernelConfig::default(), fs);
    let sh = RW | VmFlags::SHARED | VmFlags::MAYSHARE;
    file_vma(&mut k, "/dev/zero (deleted)", InodeKind::Shmem, BASE, 8, 0, sh);
    k.access(INIT_PID, BASE, 1, AccessKind::Read).unwrap();
    k.access(INIT_PID, BASE + 4096, 1, AccessKind::Write).unwrap();
    assert_eq!(rss(&k)[RssCounter::ShmemPages as usize], 2);
    assert_eq!(flt(&k), (2, 0));
    let s = stats(&k);
    assert!(s.iter().all(|p| p.shmem && p.writable), "shmem has no write-notify");
    check(&k);
    let ino = k.mms[&mm(&k)]
        .vmas
        .get(VirtAddr(BASE))
        .unwrap()
        .file
        .as_ref()
        .unwrap()
        .inode
        .id;
    k.exit_mmap(mm(&k));
    k.shmem_evict_inode(ino);
    assert_eq!(k.phys.nr_used(), 1);
}

#[test]
fn dev_zero_private_faults_anonymously() {
    let mut k = kernel();
    file_vma(&mut k, "/dev/zero", InodeKind::DevZero, BASE, 2, 0, RW);
    k.access(INIT_PID, BASE, 1, AccessKind::Read).unwrap();
    k.access(INIT_PID, BASE + 4096, 1, AccessKind::Write).unwrap();
    let s = stats(&k);
    assert!(s[0].zero_page && s[1].anon);
    assert_eq!(rss(&k)[RssCounter::AnonPages as usize], 1);
    check(&k);
}

#[test]
fn stack_grows_down_with_accounting() {
    let mut k = kernel();
    let stack = RW | VmFlags::GROWSDOWN | VmFlags::ACCOUNT;
    let top = 0x7fff_ffff_f000;
    anon(&mut k, top - 0x21000, 0x21, stack);
    let start = top - 0x21000;
    k.access(INIT_PID, start - 0x3000 + 8, 8, AccessKind::Write).unwrap();
    let m = &k.mms[&mm(&k)];
    let v = m.vmas.lookup(VirtAddr(start - 0x3000)).unwrap();
    assert_eq!(v.start.0, start - 0x3000);
    assert_eq!(v.pgoff, (start >> 12) - 3, "pgoff stays linear");
    assert!(v.anon_vma.is_some());
    assert_eq!(m.stack_vm, 0x24);
    assert_eq!(m.total_vm, 0x24);
    assert_eq!(k.committed_pages, 3);
    check(&k);
}

#[test]
fn stack_growth_limits_give_maperr() {
    // RLIMIT_STACK: the whole new size must fit.
    let mut k = kernel();
    let stack = RW | VmFlags::GROWSDOWN;
    let top = 0x7fff_ffff_f000;
    anon(&mut k, top - (8 << 20), 8 << 8, stack);
    let id = mm(&k);
    let e = k
        .access(INIT_PID, top - (8 << 20) - 1, 1, AccessKind::Read)
        .unwrap_err();
    assert_eq!((e.signo, e.code), (SIGSEGV, SEGV_MAPERR));
    assert!(
        k.mms[&id].vmas.iter().next().unwrap().anon_vma.is_some(),
        "anon_vma prepared before accounting"
    );

    // The guard gap against an accessible VMA below; a PROT_NONE one does not block.
    for (below_flags, ok) in [(VmFlags::READ, false), (VmFlags::empty(), true)] {
        let mut k = kernel();
        anon(&mut k, BASE, 1, below_flags);
        let s = BASE + 0x1000 + (1 << 20) + 0x2000;
        anon(&mut k, s, 4, stack);
        let r = k.access(INIT_PID, BASE + 0x1000 + (1 << 20) - 0x1000, 1, AccessKind::Read);
        assert_eq!(r.is_ok(), ok, "{below_flags:?}");
        let r2 = k.access(INIT_PID, s - 0x1000, 1, AccessKind::Read);
        assert_eq!(r2.is_ok(), ok);
    }

    // Below mmap_min_addr.
    let mut k = kernel();
    anon(&mut k, 0x10000, 1, stack);
    let e = k.access(INIT_PID, 0xf000, 1, AccessKind::Read).unwrap_err();
    assert_eq!(e.code, SEGV_MAPERR);
}

#[test]
fn anon_vma_is_reused_from_a_compatible_neighbour() {
    let mut k = kernel();
    anon(&mut k, BASE, 2, RW);
    anon(&mut k, BASE + 0x2000, 2, RW | VmFlags::EXEC);
    k.access(INIT_PID, BASE, 1, AccessKind::Write).unwrap();
    k.access(INIT_PID, BASE + 0x2000, 1, AccessKind::Write).unwrap();
    let m = &k.mms[&mm(&k)];
    let a = m.vmas.get(VirtAddr(BASE)).unwrap().anon_vma.unwrap();
    let b = m.vmas.get(VirtAddr(BASE + 0x2000)).unwrap().anon_vma.unwrap();
    assert_eq!(a.id, b.id);
    // Not adjacent: a fresh anon_vma.
    anon(&mut k, BASE + 0x10000, 1, RW);
    k.access(INIT_PID, BASE + 0x10000, 1, AccessKind::Write).unwrap();
    let c = k.mms[&mm(&k)]
        .vmas
        .get(VirtAddr(BASE + 0x10000))
        .unwrap()
        .anon_vma
        .unwrap();
    assert_ne!(c.id, a.id);
    check(&k);
}

#[test]
fn change_protection_write_protects_and_restores_exclusive_anon() {
    let mut k = kernel();
    anon(&mut k, BASE, 2, RW);
    k.access(INIT_PID, BASE, 1, AccessKind::Write).unwrap();
    k.access(INIT_PID, BASE + 4096, 1, AccessKind::Read).unwrap(); // zero page
    let id = mm(&k);
    k.mms.get_mut(&id).unwrap().vmas.get_mut(VirtAddr(BASE)).unwrap().flags =
        VmFlags::READ | VmFlags::MAYREAD | VmFlags::MAYWRITE;
    k.change_protection(id, VirtAddr(BASE), VirtAddr(BASE + 0x2000));
    assert!(!k.pte_at(id, VirtAddr(BASE)).write());
    check(&k);
    let e = k.access(INIT_PID, BASE, 1, AccessKind::Write).unwrap_err();
    assert_eq!(e.code, SEGV_ACCERR);

    let mut k = kernel();
    anon(&mut k, BASE, 2, RW);
    k.access(INIT_PID, BASE, 1, AccessKind::Write).unwrap();
    k.access(INIT_PID, BASE + 4096, 1, AccessKind::Read).unwrap();
    let id = mm(&k);
    for flags in [VmFlags::MAYREAD | VmFlags::MAYWRITE, RW] {
        k.mms.get_mut(&id).unwrap().vmas.get_mut(VirtAddr(BASE)).unwrap().flags = flags;
        k.change_protection(id, VirtAddr(BASE), VirtAddr(BASE + 0x2000));
        check(&k);
    }
    // PROT_NONE kept the frame (PROTNONE entry); back to RW the exclusive anon page is writable again, the
    // zero page is not.
    assert!(k.pte_at(id, VirtAddr(BASE)).write());
    assert!(!k.pte_at(id, VirtAddr(BASE + 4096)).write());
    let before = flt(&k);
    k.access(INIT_PID, BASE, 1, AccessKind::Write).unwrap();
    assert_eq!(flt(&k), before, "no fault");
    k.access(INIT_PID, BASE + 4096, 1, AccessKind::Write).unwrap();
    assert_eq!(flt(&k).0, before.0 + 1);
}

#[test]
fn protnone_entries_are_present_for_walks_but_fault() {
    let mut k = kernel();
    anon(&mut k, BASE, 1, RW);
    k.poke(INIT_PID, BASE, b"abc").unwrap();
    let id = mm(&k);
    k.mms.get_mut(&id).unwrap().vmas.get_mut(VirtAddr(BASE)).unwrap().flags = VmFlags::MAYREAD | VmFlags::MAYWRITE;
    k.change_protection(id, VirtAddr(BASE), VirtAddr(BASE + 0x1000));
    let p = k.pte_at(id, VirtAddr(BASE));
    assert!(p.protnone() && !p.hw_present());
    assert_eq!(k.sys_mincore(INIT_PID, BASE, 4096).unwrap(), vec![1]);
    let s = stats(&k);
    assert!(s[0].present && s[0].anon);
    let e = k.access(INIT_PID, BASE, 1, AccessKind::Read).unwrap_err();
    assert_eq!(e.code, SEGV_ACCERR);
}

#[test]
fn move_page_tables_carries_pages_and_bytes() {
    let mut k = kernel();
    anon(&mut k, BASE, 3, RW);
    k.poke(INIT_PID, BASE + 0x1000, b"moved").unwrap();
    let id = mm(&k);
    let new = BASE + 0x40_0000;
    let mut v = k.mms.get_mut(&id).unwrap().vmas.remove(VirtAddr(BASE)).unwrap();
    k.move_page_tables(id, VirtAddr(BASE), VirtAddr(new), 0x3000);
    v.start = VirtAddr(new);
    v.end = VirtAddr(new + 0x3000);
    k.mms.get_mut(&id).unwrap().vmas.insert(v);
    assert!(k.pte_at(id, VirtAddr(BASE + 0x1000)).is_none());
    assert_eq!(k.peek(INIT_PID, new + 0x1000, 5).unwrap(), b"moved");
    assert_eq!(rss(&k)[RssCounter::AnonPages as usize], 1);
    check(&k);
}

#[test]
fn populate_counts_faults_and_reports_errors() {
    let mut k = kernel();
    anon(&mut k, BASE, 4, RW);
    anon(&mut k, BASE + 0x5000, 1, VmFlags::MAYREAD);
    assert_eq!(
        k.populate_range(INIT_PID, VirtAddr(BASE), VirtAddr(BASE + 0x4000), true),
        Ok(4)
    );
    assert_eq!(flt(&k), (4, 0), "GUP faults are counted (v)");
    assert_eq!(rss(&k)[RssCounter::AnonPages as usize], 4);
    // Already present: no more faults.
    assert_eq!(
        k.populate_range(INIT_PID, VirtAddr(BASE), VirtAddr(BASE + 0x4000), false),
        Ok(4)
    );
    assert_eq!(flt(&k), (4, 0));
    assert_eq!(
        k.populate_range(INIT_PID, VirtAddr(BASE), VirtAddr(BASE + 0x5000), false),
        Err(Errno::ENOMEM)
    );
    assert_eq!(
        k.populate_range(INIT_PID, VirtAddr(BASE + 0x5000), VirtAddr(BASE + 0x6000), false),
        Err(Errno::EFAULT)
    );
    // A read-only private mapping populates with read faults: the zero page. An exec-only one is forced.
    anon(&mut k, BASE + 0x10000, 2, VmFlags::READ | VmFlags::MAYREAD);
    anon(&mut k, BASE + 0x12000, 1, VmFlags::EXEC | VmFlags::MAYEXEC);
    assert_eq!(
        k.populate_range(INIT_PID, VirtAddr(BASE + 0x10000), VirtAddr(BASE + 0x13000), false),
        Ok(3)
    );
    assert!(k.pte_at(mm(&k), VirtAddr(BASE + 0x10000)).special());
    assert_eq!(
        k.populate_range(INIT_PID, VirtAddr(BASE + 0x10000), VirtAddr(BASE + 0x11000), true),
        Err(Errno::EFAULT)
    );
    check(&k);
}

#[test]
fn mincore_errno_order_and_results() {
    let mut fs = MemFs::new();
    fs.add_file("/data/m", file_bytes(64));
    let mut k = kernel_with(KernelConfig::default(), fs);
    anon(&mut k, BASE, 2, RW);
    file_vma(
        &mut k,
        "/data/m",
        InodeKind::Regular,
        BASE + 0x10000,
        64,
        0,
        VmFlags::READ | VmFlags::MAYREAD,
    );
    assert_eq!(k.sys_mincore(INIT_PID, BASE + 1, 4096), Err(Errno::EINVAL));
    assert_eq!(k.sys_mincore(INIT_PID, BASE, u64::MAX), Err(Errno::ENOMEM));
    assert_eq!(k.sys_mincore(INIT_PID, 0x7fff_ffff_f000, 4096), Err(Errno::ENOMEM));
    assert_eq!(k.sys_mincore(INIT_PID, BASE, 0), Ok(vec![]));
    assert_eq!(
        k.sys_mincore(INIT_PID, BASE, 0x3000),
        Err(Errno::ENOMEM),
        "unmapped page"
    );
    k.access(INIT_PID, BASE, 1, AccessKind::Read).unwrap();
    assert_eq!(
        k.sys_mincore(INIT_PID, BASE, 0x1001),
        Ok(vec![1, 0]),
        "zero page counts as resident (v)"
    );
    // File pages: residency of the page cache, even where this process has no PTE.
    assert_eq!(k.sys_mincore(INIT_PID, BASE + 0x10000, 4096), Ok(vec![0]));
    k.access(INIT_PID, BASE + 0x10000 + 40 * 4096, 1, AccessKind::Read)
        .unwrap();
    let v = k.sys_mincore(INIT_PID, BASE + 0x10000, 64 * 4096).unwrap();
    assert_eq!(v.iter().filter(|&&b| b == 1).count(), 32, "read-around [24, 56)");
    assert_eq!((v[23], v[24], v[55], v[56]), (0, 1, 1, 0));
}

#[test]
fn out_of_memory_kills_with_sigkill() {
    let cfg = KernelConfig {
        ram_bytes: 8 * 4096,
        ..KernelConfig::default()
    };
    let mut k = kernel_with(cfg, MemFs::new());
    anon(&mut k, BASE, 16, RW);
    let mut killed = None;
    for i in 0..16 {
        if let Err(e) = k.access(INIT_PID, BASE + i * 4096, 1, AccessKind::Write) {
            killed = Some((i, e));
            break;
        }
    }
    // 8 frames: zero page, PGD, 3 tables, then 3 data pages.
    let (i, e) = killed.expect("ran out of memory");
    assert_eq!(i, 3);
    assert_eq!(e.signo, SIGKILL);
    check(&k);
}

#[test]
fn lru_lists_hold_anon_and_mlocked_pages() {
    let mut k = kernel();
    anon(&mut k, BASE, 2, RW);
    anon(&mut k, BASE + 0x10000, 1, RW | VmFlags::LOCKED);
    k.access(INIT_PID, BASE, 1, AccessKind::Write).unwrap();
    k.access(INIT_PID, BASE + 0x10000, 1, AccessKind::Write).unwrap();
    assert_eq!(k.phys.lru_len(LruList::InactiveAnon), 1);
    assert_eq!(k.phys.lru_len(LruList::Unevictable), 1);
    k.zap_range(mm(&k), VirtAddr(BASE), VirtAddr(BASE + 0x20000));
    assert_eq!(
        k.phys.lru_len(LruList::InactiveAnon) + k.phys.lru_len(LruList::Unevictable),
        0
    );
}

// ---- property test: page tables against a naive model ----

#[derive(Clone, Debug)]
enum Op {
    Read(u64),
    Write(u64, u8),
    Zap(u64, u64),
    Protect(bool),
    Move,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u64..48).prop_map(Op::Read),
        4 => ((0u64..48), any::<u8>()).prop_map(|(p, b)| Op::Write(p, b)),
        1 => ((0u64..48), (1u64..16)).prop_map(|(p, n)| Op::Zap(p, n)),
        1 => any::<bool>().prop_map(Op::Protect),
        1 => Just(Op::Move),
    ]
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Model {
    Zero,
    Byte(u8),
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn page_tables_match_a_hashmap_model(ops in proptest::collection::vec(op(), 1..60), i386 in any::<bool>()) {
        let cfg = KernelConfig {
            arch: if i386 { crate::arch::Arch::I386 } else { crate::arch::Arch::X86_64 },
            ..KernelConfig::default()
        };
        let mut k = kernel_with(cfg, MemFs::new());
        // Three VMAs: 16 pages, a hole of 16, 16 pages straddling a 2 MiB (4 MiB on i386) boundary.
        let base = 0x3fe_0000u64 - 0x1_0000;
        let a = base;
        let b = base + 0x2_8000;
        anon(&mut k, a, 16, RW);
        anon(&mut k, b, 16, RW);
        let id = mm(&k);
        let mut vmas = vec![a, b];
        let mut model: std::collections::HashMap<u64, Model> = std::collections::HashMap::new();
        let mut writable = true;
        let page_addr = |vmas: &Vec<u64>, p: u64| -> Option<u64> {
            let v = (p / 16) as usize;
            if v == 1 { None } else { Some(vmas[v / 2] + (p % 16) * 4096) }
        };
        for o in ops {
            match o {
                Op::Read(p) => {
                    let Some(addr) = page_addr(&vmas, p) else { continue };
                    let got = k.peek(INIT_PID, addr + 5, 1).unwrap()[0];
                    let m = *model.entry(addr).or_insert(Model::Zero);
                    prop_assert_eq!(got, match m { Model::Zero => 0, Model::Byte(b) => b });
                }
                Op::Write(p, byte) => {
                    let Some(addr) = page_addr(&vmas, p) else { continue };
                    let r = k.poke(INIT_PID, addr + 5, &[byte]);
                    if writable {
                        prop_assert!(r.is_ok());
                        model.insert(addr, Model::Byte(byte));
                    } else {
                        prop_assert_eq!(r.unwrap_err().code, SEGV_ACCERR);
                        // The task died; revive it for the rest of the sequence.
                        let t = k.task_mut(INIT_PID).unwrap();
                        t.exit = None;
                        t.state = TaskState::Running;
                    }
                }
                Op::Zap(p, n) => {
                    let Some(addr) = page_addr(&vmas, p) else { continue };
                    let vstart = vmas[(p / 32) as usize];
                    let end = (addr + n * 4096).min(vstart + 16 * 4096);
                    k.zap_range(id, VirtAddr(addr), VirtAddr(end));
                    model.retain(|&x, _| x < addr || x >= end);
                }
                Op::Protect(w) => {
                    writable = w;
                    let flags = if w { RW } else { VmFlags::READ | VmFlags::MAYREAD | VmFlags::MAYWRITE };
                    for &v in &vmas {
                        k.mms.get_mut(&id).unwrap().vmas.get_mut(VirtAddr(v)).unwrap().flags = flags;
                        k.change_protection(id, VirtAddr(v), VirtAddr(v + 0x1_0000));
                    }
                }
                Op::Move => {
                    // Move the second VMA 1 MiB up (or back), as mremap would.
                    let old = vmas[1];
                    let new = if old == b { b + 0x10_0000 } else { b };
                    let mut v = k.mms.get_mut(&id).unwrap().vmas.remove(VirtAddr(old)).unwrap();
                    k.move_page_tables(id, VirtAddr(old), VirtAddr(new), 0x1_0000);
                    v.start = VirtAddr(new);
                    v.end = VirtAddr(new + 0x1_0000);
                    k.mms.get_mut(&id).unwrap().vmas.insert(v);
                    // floor/ceiling: the neighbours of the vacated range, as munmap computes them.
                    let t = &k.mms[&id].vmas;
                    let floor = t.prev(VirtAddr(old)).map_or(0, |v| v.end.0);
                    let ceiling = t.next_from(VirtAddr(old)).map_or(0, |v| v.start.0);
                    k.free_pgtables(id, VirtAddr(old), VirtAddr(old + 0x1_0000), floor, ceiling);
                    vmas[1] = new;
                    model = model.into_iter().map(|(x, m)| if x >= old && x < old + 0x1_0000 { (x - old + new, m) } else { (x, m) }).collect();
                }
            }
            if let Err(e) = k.check_all_page_invariants() {
                return Err(TestCaseError::fail(e));
            }
            // The walk sees exactly the model's pages.
            let mut seen = std::collections::BTreeMap::new();
            k.walk_pages(id, VirtAddr(0), VirtAddr(1 << 32), &mut |s| { seen.insert(s.addr.0, s.zero_page); });
            let mut want: Vec<(u64, bool)> = model.iter().map(|(&a, &m)| (a, m == Model::Zero)).collect();
            want.sort();
            prop_assert_eq!(seen.into_iter().collect::<Vec<_>>(), want);
        }
        k.exit_mmap(id);
        prop_assert_eq!(k.phys.nr_used(), 1);
        prop_assert_eq!(k.mms[&id].pgtables_bytes, 0);
    }
}

#[test]
fn madvise_cold_makes_unshared_pages_old() {
    let mut k = kernel();
    anon(&mut k, BASE, 3, RW);
    for i in 0..3 {
        k.access(INIT_PID, BASE + i * 4096, 1, AccessKind::Write).unwrap();
    }
    k.sys_madvise(INIT_PID, BASE, 0x2000, crate::uapi::MADV_COLD).unwrap();
    let s = stats(&k);
    assert_eq!(s.iter().map(|p| p.young).collect::<Vec<_>>(), vec![false, false, true]);
    // The next access sets the accessed bit again, without a fault.
    let f = flt(&k);
    k.access(INIT_PID, BASE, 1, AccessKind::Read).unwrap();
    assert!(stats(&k)[0].young);
    assert_eq!(flt(&k), f);
}

#[test]
fn punch_hole_drops_shmem_pages_from_every_mapping() {
    let mut fs = MemFs::new();
    fs.add_file("/dev/zero (deleted)", vec![0; 4 * 4096]);
    let mut k = kernel_with(KernelConfig::default(), fs);
    let sh = RW | VmFlags::SHARED | VmFlags::MAYSHARE;
    let f = file_vma(&mut k, "/dev/zero (deleted)", InodeKind::Shmem, BASE, 4, 0, sh);
    share_file(&mut k, &f, BASE + 0x10_0000, 4, 0, sh);
    k.poke(INIT_PID, BASE, b"a").unwrap();
    k.poke(INIT_PID, BASE + 4096, b"b").unwrap();
    assert_eq!(k.peek(INIT_PID, BASE + 0x10_1000, 1).unwrap(), b"b");
    k.punch_hole(f.inode.id, 1, 2);
    check(&k);
    assert_eq!(k.sys_mincore(INIT_PID, BASE, 0x2000).unwrap(), vec![1, 0]);
    // The second mapping's read of page 1 had faulted page 0 in around it.
    assert_eq!(k.sys_mincore(INIT_PID, BASE + 0x10_0000, 0x2000).unwrap(), vec![1, 0]);
    assert_eq!(k.peek(INIT_PID, BASE + 4096, 1).unwrap(), b"\0", "the hole reads zeros");
    assert_eq!(k.peek(INIT_PID, BASE + 0x10_0000, 1).unwrap(), b"a");
}

const HUGE: VmFlags = RW.union(VmFlags::HUGEPAGE);
const TWO_M: u64 = 2 << 20;

#[test]
fn thp_write_fault_maps_a_whole_block_with_one_fault() {
    // (v) a write in a MADV_HUGEPAGE 2 MiB-aligned range: 1 minor fault, RssAnon and AnonHugePages 2048 kB,
    // VmPTE +4 kB for the deposited table.
    let mut k = kernel();
    anon(&mut k, BASE, 1024, HUGE);
    k.access(INIT_PID, BASE + TWO_M + 0x1234, 1, AccessKind::Write).unwrap();
    assert_eq!(flt(&k), (1, 0));
    assert_eq!(rss(&k)[RssCounter::AnonPages as usize], 512);
    assert_eq!(k.mms[&mm(&k)].pgtables_bytes, 12 << 10);
    let s = stats(&k);
    assert_eq!(s.len(), 512);
    assert!(s
        .iter()
        .all(|p| p.thp && p.anon && p.dirty && p.writable && p.addr.0 >= BASE + TWO_M));
    k.access(INIT_PID, BASE + TWO_M + 0x1f_f000, 1, AccessKind::Write)
        .unwrap();
    assert_eq!(flt(&k), (1, 0), "the whole block is mapped");
    check(&k);
    // A partial unmap splits it: the rest stays mapped, no longer as a THP.
    k.zap_range(mm(&k), VirtAddr(BASE + TWO_M), VirtAddr(BASE + TWO_M + 0x1000));
    let s = stats(&k);
    assert_eq!(s.len(), 511);
    assert!(s.iter().all(|p| !p.thp));
    check(&k);
}

#[test]
fn thp_needs_madvise_alignment_and_an_empty_pmd() {
    // Without MADV_HUGEPAGE: 4 KiB pages.
    let mut k = kernel();
    anon(&mut k, BASE, 1024, RW);
    k.access(INIT_PID, BASE, 1, AccessKind::Write).unwrap();
    assert_eq!(rss(&k)[RssCounter::AnonPages as usize], 1);
    // A block not wholly inside the VMA: 4 KiB pages.
    let mut k = kernel();
    anon(&mut k, BASE + 0x1000, 600, HUGE);
    k.access(INIT_PID, BASE + 0x1000, 1, AccessKind::Write).unwrap();
    assert_eq!(rss(&k)[RssCounter::AnonPages as usize], 1);
    // A PTE table already under the PMD: 4 KiB pages.
    let mut k = kernel();
    anon(&mut k, BASE, 512, RW);
    k.access(INIT_PID, BASE, 1, AccessKind::Write).unwrap();
    k.mms
        .get_mut(&mm(&k))
        .unwrap()
        .vmas
        .get_mut(VirtAddr(BASE))
        .unwrap()
        .flags = HUGE;
    k.access(INIT_PID, BASE + 0x1000, 1, AccessKind::Write).unwrap();
    assert_eq!(rss(&k)[RssCounter::AnonPages as usize], 2);
    // i386 (non-PAE) has no THP.
    let cfg = KernelConfig {
        arch: crate::arch::Arch::I386,
        ..KernelConfig::default()
    };
    let mut k = kernel_with(cfg, MemFs::new());
    anon(&mut k, 0x4000_0000, 1024, HUGE);
    k.access(INIT_PID, 0x4000_0000, 1, AccessKind::Write).unwrap();
    assert_eq!(rss(&k)[RssCounter::AnonPages as usize], 1);
}

#[test]
fn thp_read_maps_the_huge_zero_page_then_a_write_allocates_the_thp() {
    let mut k = kernel();
    anon(&mut k, BASE, 512, HUGE);
    k.access(INIT_PID, BASE + 0x5000, 1, AccessKind::Read).unwrap();
    assert_eq!(flt(&k), (1, 0));
    assert_eq!(rss(&k)[RssCounter::AnonPages as usize], 0);
    assert!(k.mms[&mm(&k)].vmas.get(VirtAddr(BASE)).unwrap().anon_vma.is_some());
    assert_eq!(
        k.sys_mincore(INIT_PID, BASE, TWO_M)
            .unwrap()
            .iter()
            .filter(|&&b| b == 1)
            .count(),
        512
    );
    k.access(INIT_PID, BASE + 0x7000, 1, AccessKind::Read).unwrap();
    assert_eq!(flt(&k), (1, 0));
    k.access(INIT_PID, BASE + 0x7000, 1, AccessKind::Write).unwrap();
    assert_eq!(flt(&k), (2, 0));
    assert_eq!(rss(&k)[RssCounter::AnonPages as usize], 512);
    assert!(stats(&k).iter().all(|p| p.thp));
    check(&k);
    // mprotect of part of it splits the block.
    let id = mm(&k);
    k.split_vma(id, VirtAddr(BASE + 0x10_0000)).unwrap();
    assert!(stats(&k).iter().all(|p| !p.thp));
    check(&k);
    k.exit_mmap(id);
    assert_eq!(k.phys.nr_used(), 1);
}

#[test]
fn aligned_pmd_extents_move_their_page_table() {
    // (v) mremap of an aligned 4 MiB region to an aligned address in a new 1 GiB slot: VmPTE unchanged once the
    // old tables are freed; a DONTUNMAP-like move (old range kept) does not duplicate the PTE tables.
    let mut k = kernel();
    anon(&mut k, BASE, 1024, RW);
    for i in 0..1024 {
        k.access(INIT_PID, BASE + i * 4096, 1, AccessKind::Write).unwrap();
    }
    let id = mm(&k);
    assert_eq!(k.mms[&id].pgtables_bytes, 16 << 10);
    let new = BASE + 0x4000_0000;
    let mut v = k.mms.get_mut(&id).unwrap().vmas.remove(VirtAddr(BASE)).unwrap();
    k.move_page_tables(id, VirtAddr(BASE), VirtAddr(new), 4 << 20);
    // A new PMD table for the destination slot; the two PTE tables moved.
    assert_eq!(k.mms[&id].pgtables_bytes, 20 << 10);
    v.start = VirtAddr(new);
    v.end = VirtAddr(new + (4 << 20));
    k.mms.get_mut(&id).unwrap().vmas.insert(v);
    check(&k);
    k.free_pgtables(id, VirtAddr(BASE), VirtAddr(BASE + (4 << 20)), 0, new);
    assert_eq!(k.mms[&id].pgtables_bytes, 16 << 10);
    assert_eq!(rss(&k)[RssCounter::AnonPages as usize], 1024);
    k.poke(INIT_PID, new + 0x3f_f000, b"x").unwrap();
    assert_eq!(flt(&k).0, 1024, "no new faults after the move");
    check(&k);
}

#[test]
fn munmap_of_the_last_shared_anonymous_mapping_frees_its_pages() {
    use crate::uapi::{MAP_ANONYMOUS, MAP_FIXED, MAP_SHARED, PROT_READ, PROT_WRITE};
    let mut k = kernel();
    let before = k.phys.nr_used();
    let a = k
        .sys_mmap(
            INIT_PID,
            BASE,
            0x4000,
            PROT_READ | PROT_WRITE,
            MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED,
            -1,
            0,
        )
        .unwrap();
    k.poke(INIT_PID, a, b"shared").unwrap();
    k.access(INIT_PID, a + 0x3000, 1, AccessKind::Write).unwrap();
    k.sys_munmap(INIT_PID, a, 0x2000).unwrap();
    check(&k);
    assert_eq!(k.page_cache.len(), 2, "the object lives while part of it is mapped");
    k.sys_munmap(INIT_PID, a + 0x2000, 0x2000).unwrap();
    check(&k);
    assert_eq!(k.page_cache.len(), 0);
    assert_eq!(k.phys.nr_used(), before + 1, "only the PGD remains");
}
