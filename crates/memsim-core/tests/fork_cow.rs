//! fork with copy-on-write: private data stays private to each side, map and reference counts rise at fork
//! and return to zero when both processes are gone, and no frame leaks (issue 3, items 2, 4 and 10).

use memsim_core::fs::MemFs;
use memsim_core::kernel::exit::{wstatus, WNOHANG};
use memsim_core::kernel::INIT_PID;
use memsim_core::mm::vma::VmFlags;
use memsim_core::task::{ExitStatus, TaskState};
use memsim_core::uapi::*;
use memsim_core::{Errno, Kernel, KernelConfig, Pid, VirtAddr};

const P: Pid = INIT_PID;
const BASE: u64 = 0x1_0000_0000;

fn kernel() -> Kernel {
    Kernel::new(KernelConfig::default(), Box::new(MemFs::new()))
}

fn anon(k: &mut Kernel, pid: Pid, addr: u64, pages: u64, prot: u64) -> u64 {
    k.sys_mmap(
        pid,
        addr,
        pages * 4096,
        prot,
        MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
        -1,
        0,
    )
    .expect("mmap")
}

fn check(k: &Kernel) {
    k.check_all_page_invariants().unwrap();
    for (id, m) in &k.mms {
        let c = m.recount();
        assert_eq!(m.counters().total_vm, c.total_vm, "mm {id:?}");
        assert_eq!(m.counters().data_vm, c.data_vm, "mm {id:?}");
        assert_eq!(m.counters().locked_vm, c.locked_vm, "mm {id:?}");
    }
}

fn pfn_of(k: &Kernel, pid: Pid, addr: u64) -> u64 {
    let mm = k.mm_id(pid).unwrap();
    k.pte_at(mm, VirtAddr(addr)).pfn(k.cfg.arch)
}

#[test]
fn cow_keeps_data_private_and_counts_return_to_zero() {
    let mut k = kernel();
    let frames_at_boot = k.phys.nr_used();
    anon(&mut k, P, BASE, 4, PROT_READ | PROT_WRITE);
    for i in 0..4 {
        k.poke(P, BASE + i * 4096, &[b'p', i as u8]).unwrap();
    }
    let child = Pid(k.sys_fork(P).unwrap() as u32);
    check(&k);
    let shared = pfn_of(&k, P, BASE);
    assert_eq!(shared, pfn_of(&k, child, BASE), "the child maps the parent's frame");
    let pg = k.phys.page(memsim_core::Pfn(shared));
    assert_eq!((pg.mapcount, pg.refcount), (2, 2));
    let mm = k.mm_id(P).unwrap();
    assert!(!k.pte_at(mm, VirtAddr(BASE)).write(), "parent write-protected");
    let cmm = k.mm_id(child).unwrap();
    assert!(!k.pte_at(cmm, VirtAddr(BASE)).write(), "child write-protected");

    // Both read the same data; writes are private.
    assert_eq!(k.peek(child, BASE + 4096, 2).unwrap(), vec![b'p', 1]);
    k.poke(child, BASE, b"child").unwrap();
    k.poke(P, BASE + 4096, b"parent").unwrap();
    assert_eq!(k.peek(P, BASE, 5).unwrap(), vec![b'p', 0, 0, 0, 0]);
    assert_eq!(k.peek(child, BASE, 5).unwrap(), b"child".to_vec());
    assert_eq!(k.peek(child, BASE + 4096, 6).unwrap(), vec![b'p', 1, 0, 0, 0, 0]);
    assert_eq!(k.peek(P, BASE + 4096, 6).unwrap(), b"parent".to_vec());
    assert_ne!(
        pfn_of(&k, P, BASE),
        pfn_of(&k, child, BASE),
        "the writer got its own copy"
    );
    // The parent kept page 0 (the child copied): after the child's copy the parent's page is mapped once.
    let pg = k.phys.page(memsim_core::Pfn(pfn_of(&k, P, BASE)));
    assert_eq!((pg.mapcount, pg.refcount), (1, 1));
    check(&k);

    // Pages 2 and 3 are still shared; they go back to one mapping when the child exits.
    let still = pfn_of(&k, P, BASE + 2 * 4096);
    k.sys_exit_group(child, 7).unwrap();
    assert_eq!(k.task(child).unwrap().state, TaskState::Zombie);
    assert!(k.task(child).unwrap().mm.is_none());
    let pg = k.phys.page(memsim_core::Pfn(still));
    assert_eq!((pg.mapcount, pg.refcount), (1, 1));
    check(&k);
    assert_eq!(k.sys_wait4(P, -1, 0), Ok((child, wstatus(ExitStatus::Exited(7)))));
    assert_eq!(wstatus(ExitStatus::Exited(7)), 7 << 8);
    assert!(k.task(child).is_err(), "reaped");
    assert_eq!(k.sys_wait4(P, -1, WNOHANG), Err(Errno::ECHILD));

    // Everything goes when the parent's memory goes.
    k.sys_munmap(P, BASE, 4 * 4096).unwrap();
    check(&k);
    assert_eq!(k.phys.nr_used(), frames_at_boot + 1, "only the parent's PGD is left");
    k.sys_exit_group(P, 0).unwrap();
    check(&k);
    assert_eq!(
        k.phys.nr_used(),
        frames_at_boot,
        "no frame leaked once every process is gone"
    );
}

#[test]
fn parent_exit_first_then_child_frees_everything() {
    let mut k = kernel();
    let child = Pid(k.sys_fork(P).unwrap() as u32);
    let frames = k.phys.nr_used();
    anon(&mut k, child, BASE, 8, PROT_READ | PROT_WRITE);
    k.poke(child, BASE, b"x").unwrap();
    let grandchild = Pid(k.sys_fork(child).unwrap() as u32);
    k.poke(grandchild, BASE + 4096, b"y").unwrap();
    k.sys_exit_group(child, 0).unwrap();
    // The grandchild is adopted by init.
    let g = k.task(grandchild).unwrap();
    assert_eq!((g.real_parent, g.ppid), (INIT_PID, INIT_PID));
    assert!(k.task(INIT_PID).unwrap().children.contains(&grandchild));
    assert_eq!(k.peek(grandchild, BASE, 1).unwrap(), b"x");
    // init's own wait does not see the adopted child (it would not exist for the real first process).
    assert_eq!(k.sys_wait4(P, grandchild.0 as i64, WNOHANG), Err(Errno::ECHILD));
    check(&k);
    k.sys_exit_group(grandchild, 3).unwrap();
    // An adopted child is reaped by init at once (model rule); init's own child waits for init.
    assert!(k.task(grandchild).is_err());
    assert_eq!(k.task(child).unwrap().state, TaskState::Zombie);
    check(&k);
    assert_eq!(
        k.phys.nr_used(),
        frames,
        "all of the child's and grandchild's frames are free"
    );
    assert_eq!(k.sys_wait4(P, child.0 as i64, 0), Ok((child, 0)));
}

#[test]
fn dontfork_wipeonfork_and_locked_vmas() {
    let mut k = kernel();
    anon(&mut k, P, BASE, 2, PROT_READ | PROT_WRITE);
    anon(&mut k, P, BASE + 0x10000, 2, PROT_READ | PROT_WRITE);
    anon(&mut k, P, BASE + 0x20000, 2, PROT_READ | PROT_WRITE);
    k.poke(P, BASE, b"dontfork").unwrap();
    k.poke(P, BASE + 0x10000, b"wipe").unwrap();
    k.poke(P, BASE + 0x20000, b"locked").unwrap();
    k.sys_madvise(P, BASE, 8192, MADV_DONTFORK).unwrap();
    k.sys_madvise(P, BASE + 0x10000, 8192, MADV_WIPEONFORK).unwrap();
    k.sys_mlock(P, BASE + 0x20000, 8192).unwrap();
    let parent_total = k.mm(P).unwrap().total_vm;
    let child = Pid(k.sys_fork(P).unwrap() as u32);
    let c = k.mm(child).unwrap();
    assert!(c.vma_at(VirtAddr(BASE)).is_none(), "VM_DONTCOPY is not copied");
    assert_eq!(c.total_vm, parent_total - 2);
    assert_eq!(c.locked_vm, 0, "locked_vm is 0 in the child");
    let l = c.vma_at(VirtAddr(BASE + 0x20000)).unwrap();
    assert!(
        !l.flags.intersects(VmFlags::LOCKED_MASK),
        "VM_LOCKED cleared in the child"
    );
    let w = c.vma_at(VirtAddr(BASE + 0x10000)).unwrap();
    assert!(w.anon_vma.is_none() && w.flags.contains(VmFlags::WIPEONFORK));
    assert_eq!(
        k.peek(child, BASE + 0x10000, 4).unwrap(),
        vec![0; 4],
        "wiped: fresh zero memory"
    );
    assert_eq!(k.peek(P, BASE + 0x10000, 4).unwrap(), b"wipe".to_vec());
    assert_eq!(k.peek(child, BASE + 0x20000, 6).unwrap(), b"locked".to_vec());
    assert!(k.peek(child, BASE, 1).is_err(), "no mapping: the access faults");
    check(&k);
}

#[test]
fn inherited_faulted_vma_does_not_merge_in_child_but_does_in_parent() {
    // linux-mm-rules 3.1 rule 6: a fork child's inherited, faulted VMA never absorbs an unfaulted neighbour.
    let mut k = kernel();
    anon(&mut k, P, BASE, 2, PROT_READ | PROT_WRITE);
    k.poke(P, BASE, b"a").unwrap();
    let child = Pid(k.sys_fork(P).unwrap() as u32);
    for pid in [P, child] {
        anon(&mut k, pid, BASE + 8192, 2, PROT_READ | PROT_WRITE);
    }
    assert_eq!(k.mm(P).unwrap().map_count(), 1, "the parent merges");
    assert_eq!(k.mm(child).unwrap().map_count(), 2, "the child does not");
    check(&k);
}

#[test]
fn file_text_is_not_copied_but_anon_is() {
    let mut fs = MemFs::new();
    fs.add_file("/bin/prog", vec![7u8; 8192]);
    let mut k = Kernel::new(KernelConfig::default(), Box::new(fs));
    let fd = k.sys_openat(P, AT_FDCWD, "/bin/prog", O_RDONLY, 0).unwrap();
    k.sys_mmap(
        P,
        BASE,
        8192,
        PROT_READ | PROT_EXEC,
        MAP_PRIVATE | MAP_FIXED,
        fd as i64,
        0,
    )
    .unwrap();
    k.peek(P, BASE, 1).unwrap();
    anon(&mut k, P, BASE + 0x10000, 1, PROT_READ | PROT_WRITE);
    k.poke(P, BASE + 0x10000, b"z").unwrap();
    let child = Pid(k.sys_fork(P).unwrap() as u32);
    let c = k.mm(child).unwrap();
    assert_eq!(
        c.counter(memsim_core::mm::RssCounter::FilePages),
        0,
        "clean text is faulted, not copied"
    );
    assert_eq!(c.counter(memsim_core::mm::RssCounter::AnonPages), 1);
    assert!(c.pgtables_bytes > 0, "the child has its own page tables (VmPTE)");
    // The child shares the descriptor table's descriptions but not the table.
    let t = k.task(child).unwrap();
    assert!(t.files.get(fd as i32).is_some());
    k.sys_close(child, fd as i64).unwrap();
    assert!(
        k.task(P).unwrap().files.get(fd as i32).is_some(),
        "close in the child is private"
    );
    check(&k);
}

#[test]
fn fork_of_a_transparent_huge_page() {
    // A PMD-mapped anonymous THP is shared write-protected like any page; a write on either side copies one
    // 4 KiB page (the model keeps the 512 PTEs of a huge mapping).
    let mut k = kernel();
    let base = 0x2_0000_0000u64;
    anon(&mut k, P, base, 512, PROT_READ | PROT_WRITE);
    k.sys_madvise(P, base, 2 << 20, MADV_HUGEPAGE).unwrap();
    k.poke(P, base, b"huge").unwrap();
    let rss = k.mm(P).unwrap().counter(memsim_core::mm::RssCounter::AnonPages);
    assert_eq!(rss, 512, "one THP");
    let child = Pid(k.sys_fork(P).unwrap() as u32);
    assert_eq!(
        k.mm(child).unwrap().counter(memsim_core::mm::RssCounter::AnonPages),
        rss
    );
    check(&k);
    k.poke(child, base + 4096, b"c").unwrap();
    k.poke(P, base, b"P").unwrap();
    assert_eq!(k.peek(child, base, 4).unwrap(), b"huge".to_vec());
    assert_eq!(k.peek(P, base, 4).unwrap(), b"Puge".to_vec());
    assert_eq!(k.peek(P, base + 4096, 1).unwrap(), vec![0]);
    check(&k);
    k.sys_exit_group(child, 0).unwrap();
    k.sys_wait4(P, -1, 0).unwrap();
    check(&k);
}

#[test]
fn fork_fails_with_enomem_when_the_copy_cannot_be_charged() {
    // Strict overcommit: the child's VM_ACCOUNT VMAs are charged again (dup_mmap); over CommitLimit fork fails
    // with ENOMEM, leaves Committed_AS as it was, creates no task and uses no PID.
    let cfg = KernelConfig {
        ram_bytes: 64 << 20,
        overcommit: memsim_core::kernel::OvercommitMode::Never,
        ..KernelConfig::default()
    };
    let mut k = Kernel::new(cfg, Box::new(MemFs::new()));
    anon(&mut k, P, BASE, 5 << 10, PROT_READ | PROT_WRITE); // 20 MiB of a 32 MiB CommitLimit
    k.poke(P, BASE, b"a").unwrap();
    let committed = k.committed_pages;
    let tasks = k.tasks.len();
    assert_eq!(k.sys_fork(P), Err(Errno::ENOMEM));
    assert_eq!(k.committed_pages, committed);
    assert_eq!(k.tasks.len(), tasks);
    check(&k);
    // With less to charge the fork fits.
    k.sys_munmap(P, BASE + 4096, ((5 << 10) - 1) * 4096).unwrap();
    let c = Pid(k.sys_fork(P).unwrap() as u32);
    assert_eq!(c.0, 11, "the failed fork used no PID");
    check(&k);
}
