//! Tests of mmap, munmap and get_unmapped_area against the rules of `linux-mm-rules.md` §4-§9 and §11.

use super::*;
use crate::fs::MemFs;
use crate::kernel::{AccessKind, KernelConfig, INIT_PID};
use crate::mm::vma_ops::tests::draw;
use crate::task::{Cred, Rlimit};

const P: Pid = INIT_PID;
const RW: u64 = PROT_READ | PROT_WRITE;
const PA: u64 = MAP_PRIVATE | MAP_ANONYMOUS;
/// Page `i` of the picture area (`vma_ops::tests::BASE` = page 16).
fn pg(i: u64) -> u64 {
    (16 + i) << 12
}

fn kernel() -> Kernel {
    let mut fs = MemFs::new();
    fs.add_file("/file", vec![7; 5 * 4096]);
    fs.add_dir("/dir");
    Kernel::new(KernelConfig::default(), Box::new(fs))
}

fn mm(k: &Kernel) -> &crate::mm::Mm {
    k.mm(P).unwrap()
}

fn pic(k: &Kernel) -> String {
    draw(k, k.mm_id(P).unwrap())
}

fn fixed(k: &mut Kernel, page: u64, pages: u64, prot: u64) -> SysResult {
    k.sys_mmap(P, pg(page), pages << 12, prot, PA | MAP_FIXED, -1, 0)
}

fn unprivileged(k: &mut Kernel) {
    k.task_mut(P).unwrap().cred = Cred::for_uid(1000);
}

fn vma(k: &Kernel, addr: u64) -> Vma {
    mm(k).vmas.lookup(VirtAddr(addr)).unwrap().clone()
}

/// Recompute the counters from the VMAs and compare (§9).
fn check_counters(k: &Kernel) {
    let m = mm(k);
    let want = m.recount();
    assert_eq!(m.counters(), crate::mm::VmCounters { accounted: 0, ..want });
    assert!(m.hiwater_vm.max(m.total_vm) >= m.total_vm);
    let accounted = want.accounted;
    let shmem: u64 = {
        let mut seen = std::collections::BTreeMap::new();
        for v in m.vmas.iter() {
            if let Some(f) = &v.file {
                if f.inode.kind == InodeKind::Shmem && !v.flags.contains(VmFlags::NORESERVE) {
                    seen.insert(f.id, page_align(f.inode.meta.size) >> PAGE_SHIFT);
                }
            }
        }
        seen.values().sum()
    };
    assert_eq!(k.committed_pages, (accounted + shmem) as i64, "Committed_AS");
    m.vmas.check().unwrap();
}

#[test]
fn errno_order_basic() {
    let mut k = kernel();
    // 1. offset unaligned, even for anonymous memory, before EBADF.
    assert_eq!(k.sys_mmap(P, 0, 4096, RW, PA, -1, 1), Err(Errno::EINVAL));
    assert_eq!(k.sys_mmap(P, 0, 0, RW, MAP_PRIVATE, 99, 1), Err(Errno::EINVAL));
    // 2. bad fd before the length checks.
    assert_eq!(k.sys_mmap(P, 0, 0, RW, MAP_PRIVATE, 99, 0), Err(Errno::EBADF));
    assert_eq!(k.sys_mmap(P, 0, 4096, RW, MAP_PRIVATE, -1, 0), Err(Errno::EBADF));
    // 4. length.
    assert_eq!(k.sys_mmap(P, 0, 0, RW, PA, -1, 0), Err(Errno::EINVAL));
    assert_eq!(
        k.sys_mmap(P, 0, 0u64.wrapping_sub(4095), RW, PA, -1, 0),
        Err(Errno::ENOMEM)
    );
    // 6. MAP_FIXED address checks.
    assert_eq!(
        k.sys_mmap(P, 0x100001, 4096, RW, PA | MAP_FIXED, -1, 0),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        k.sys_mmap(P, 0x100001, 4096, RW, PA | MAP_FIXED_NOREPLACE, -1, 0),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        k.sys_mmap(P, 0u64.wrapping_sub(4096), 4096, RW, PA | MAP_FIXED, -1, 0),
        Err(Errno::ENOMEM)
    );
    assert_eq!(
        k.sys_mmap(P, 0x7fff_ffff_f000, 4096, RW, PA | MAP_FIXED, -1, 0),
        Err(Errno::ENOMEM)
    );
    // 9. map type.
    assert_eq!(k.sys_mmap(P, 0, 4096, RW, MAP_ANONYMOUS, -1, 0), Err(Errno::EINVAL));
    assert_eq!(
        k.sys_mmap(P, 0, 4096, RW, MAP_SHARED_VALIDATE | MAP_ANONYMOUS, -1, 0),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        k.sys_mmap(P, 0, 4096, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_GROWSDOWN, -1, 0),
        Err(Errno::EINVAL)
    );
    // Unknown flag and prot bits are ignored with MAP_PRIVATE.
    assert!(k
        .sys_mmap(P, 0, 4096, RW | 0x10000, PA | 0x0400_0000 | 0x200000, -1, 0)
        .is_ok());
    assert_eq!(mm(&k).map_count(), 1);
}

#[test]
fn below_mmap_min_addr() {
    let mut k = kernel();
    // root has CAP_SYS_RAWIO; 0x1000 is allowed for it.
    assert_eq!(k.sys_mmap(P, 0x1000, 4096, RW, PA | MAP_FIXED, -1, 0), Ok(0x1000));
    unprivileged(&mut k);
    assert_eq!(k.sys_mmap(P, 0, 4096, RW, PA | MAP_FIXED, -1, 0), Err(Errno::EPERM));
    // The vm.mmap_min_addr sysctl (4096) is what MAP_FIXED is checked against, not the LSM value.
    assert_eq!(k.sys_mmap(P, 0x2000, 4096, RW, PA | MAP_FIXED, -1, 0), Ok(0x2000));
    // Hints below the LSM value are rounded up to it; 0x100 rounds to no hint.
    assert_eq!(k.sys_mmap(P, 0x3000, 4096, RW, PA, -1, 0), Ok(0x10000));
    let top = k.sys_mmap(P, 0x100, 4096, RW, PA, -1, 0).unwrap();
    assert_eq!(top, mm(&k).mmap_base - 4096);
}

#[test]
fn noreplace_and_locked() {
    let mut k = kernel();
    fixed(&mut k, 2, 2, RW).unwrap();
    assert_eq!(
        k.sys_mmap(P, pg(3), 8192, RW, PA | MAP_FIXED_NOREPLACE, -1, 0),
        Err(Errno::EEXIST)
    );
    assert_eq!(
        k.sys_mmap(P, pg(3), 8192, RW, PA | MAP_FIXED_NOREPLACE | MAP_FIXED, -1, 0),
        Err(Errno::EEXIST)
    );
    assert_eq!(
        k.sys_mmap(P, pg(4), 8192, RW, PA | MAP_FIXED_NOREPLACE, -1, 0),
        Ok(pg(4))
    );
    assert_eq!(pic(&k), "  AAAA");
    unprivileged(&mut k);
    k.task_mut(P).unwrap().rlimits[RLIMIT_MEMLOCK] = Rlimit::new(0, 0);
    assert_eq!(k.sys_mmap(P, 0, 4096, RW, PA | MAP_LOCKED, -1, 0), Err(Errno::EPERM));
    k.task_mut(P).unwrap().rlimits[RLIMIT_MEMLOCK] = Rlimit::new(8192, 8192);
    assert_eq!(k.sys_mmap(P, 0, 12288, RW, PA | MAP_LOCKED, -1, 0), Err(Errno::EAGAIN));
    let a = k.sys_mmap(P, 0, 8192, RW, PA | MAP_LOCKED, -1, 0).unwrap();
    assert!(vma(&k, a).flags.contains(VmFlags::LOCKED));
    assert_eq!(mm(&k).locked_vm, 2);
    assert_eq!(k.sys_mmap(P, 0, 4096, RW, PA | MAP_LOCKED, -1, 0), Err(Errno::EAGAIN));
    check_counters(&k);
}

#[test]
fn max_map_count_thresholds() {
    let mut k = kernel();
    k.cfg.max_map_count = 4;
    for i in 0..4 {
        fixed(&mut k, 2 * i, 1, RW).unwrap();
    }
    // N = M: a non-merging mmap succeeds (N = M + 1), then everything fails, even a merging one.
    assert_eq!(fixed(&mut k, 10, 1, PROT_READ), Ok(pg(10)));
    assert_eq!(mm(&k).map_count(), 5);
    assert_eq!(fixed(&mut k, 11, 1, PROT_READ), Err(Errno::ENOMEM));
    // munmap of a head or tail at M + 1 is fine; a middle page needs a 3-way split.
    let mut k = kernel();
    k.cfg.max_map_count = 3;
    fixed(&mut k, 0, 3, RW).unwrap();
    fixed(&mut k, 4, 1, PROT_READ).unwrap();
    fixed(&mut k, 6, 1, PROT_READ).unwrap();
    assert_eq!(k.sys_munmap(P, pg(1), 4096), Err(Errno::ENOMEM));
    assert_eq!(pic(&k), "AAA B B", "nothing changed");
    // MAP_FIXED over the middle of a VMA: same rule.
    assert_eq!(fixed(&mut k, 1, 1, PROT_READ), Err(Errno::ENOMEM));
    k.cfg.max_map_count = 4;
    assert_eq!(fixed(&mut k, 1, 1, PROT_READ), Ok(pg(1)));
    assert_eq!(pic(&k), "ABA B B");
    assert_eq!(mm(&k).map_count(), 5);
    assert_eq!(k.sys_munmap(P, pg(0), 4096), Ok(0));
    assert_eq!(k.sys_munmap(P, pg(6), 4096), Ok(0));
    check_counters(&k);
}

#[test]
fn munmap_errors_and_holes() {
    let mut k = kernel();
    assert_eq!(k.sys_munmap(P, pg(0), 0), Err(Errno::EINVAL));
    assert_eq!(k.sys_munmap(P, pg(0) + 1, 4096), Err(Errno::EINVAL));
    assert_eq!(k.sys_munmap(P, 0x7fff_ffff_f000 + 4096, 4096), Err(Errno::EINVAL));
    assert_eq!(k.sys_munmap(P, 0x7fff_ffff_e000, 8192), Err(Errno::EINVAL));
    assert_eq!(k.sys_munmap(P, pg(0), 0u64.wrapping_sub(4095)), Err(Errno::EINVAL));
    assert_eq!(k.sys_munmap(P, pg(0), 4096), Ok(0), "nothing mapped is fine");
    fixed(&mut k, 0, 3, RW).unwrap();
    fixed(&mut k, 4, 3, PROT_READ).unwrap();
    fixed(&mut k, 8, 2, RW).unwrap();
    assert_eq!(pic(&k), "AAA BBB AA");
    assert_eq!(k.sys_munmap(P, pg(2), 4 << 12), Ok(0));
    assert_eq!(pic(&k), "AA    B AA");
    assert_eq!(k.sys_munmap(P, pg(9), 1), Ok(0), "length rounded up");
    assert_eq!(pic(&k), "AA    B A");
    check_counters(&k);
}

#[test]
fn munmap_special_mapping_partial() {
    let mut k = kernel();
    let mut v = Vma::new_anon(
        VirtAddr(pg(0)),
        VirtAddr(pg(2)),
        VmFlags::READ | VmFlags::EXEC | VmFlags::MAYREAD | VmFlags::MAYEXEC | VmFlags::DONTEXPAND,
    );
    v.special = Some(crate::mm::vma::SpecialMapping::Vdso);
    k.mm_mut(P).unwrap().vmas.insert(v);
    k.mm_mut(P).unwrap().vm_stat_account(VmFlags::READ | VmFlags::EXEC, 2);
    assert_eq!(k.sys_munmap(P, pg(1), 4096), Err(Errno::EINVAL));
    assert_eq!(k.sys_munmap(P, pg(0), 4096), Err(Errno::EINVAL));
    assert_eq!(fixed(&mut k, 1, 1, RW), Err(Errno::EINVAL));
    assert_eq!(k.sys_munmap(P, pg(0), 8192), Ok(0));
    assert_eq!(mm(&k).map_count(), 0);
    check_counters(&k);
}

#[test]
fn sealed_vmas_refuse_unmapping() {
    let mut k = kernel();
    fixed(&mut k, 0, 2, RW).unwrap();
    fixed(&mut k, 2, 2, PROT_READ).unwrap();
    k.mm_mut(P).unwrap().vmas.get_mut(VirtAddr(pg(2))).unwrap().flags |= VmFlags::SEALED;
    assert_eq!(k.sys_munmap(P, pg(0), 4 << 12), Err(Errno::EPERM));
    assert_eq!(k.sys_munmap(P, pg(3), 4096), Err(Errno::EPERM));
    assert_eq!(pic(&k), "AABB", "nothing changed");
    // The seal is checked per VMA while gathering (since 6.12): a start split already done stays.
    assert_eq!(fixed(&mut k, 1, 2, RW), Err(Errno::EPERM));
    assert_eq!(pic(&k), "AaBB");
    assert_eq!(k.sys_munmap(P, pg(0), 2 << 12), Ok(0));
    check_counters(&k);
}

#[test]
fn fixed_replacement_splits_and_merges() {
    let mut k = kernel();
    fixed(&mut k, 0, 6, RW).unwrap();
    fixed(&mut k, 2, 2, PROT_READ).unwrap();
    assert_eq!(pic(&k), "AABBAA");
    fixed(&mut k, 2, 2, RW).unwrap();
    assert_eq!(pic(&k), "AAAAAA", "the replacement merges with both sides");
    assert_eq!(mm(&k).map_count(), 1);
    assert_eq!(mm(&k).total_vm, 6);
    check_counters(&k);
}

#[test]
fn topdown_placement() {
    let mut k = kernel();
    let base = mm(&k).mmap_base;
    assert_eq!(base, 0x7fff_f7ff_f000, "mmap_base without ASLR, 8 MiB stack");
    let a = k.sys_mmap(P, 0, 8192, RW, PA, -1, 0).unwrap();
    assert_eq!(a, base - 8192);
    let b = k.sys_mmap(P, 0, 4096, PROT_READ, PA, -1, 0).unwrap();
    assert_eq!(b, a - 4096);
    let c = k.sys_mmap(P, 0, 4096, PROT_READ, PA, -1, 0).unwrap();
    assert_eq!(c, b - 4096);
    assert_eq!(mm(&k).map_count(), 2, "b and c merged");
    // A hole is reused (highest first).
    k.sys_munmap(P, a, 4096).unwrap();
    assert_eq!(k.sys_mmap(P, 0, 4096, PROT_EXEC, PA, -1, 0), Ok(a));
    // Too big for the hole: below everything.
    k.sys_munmap(P, a, 4096).unwrap();
    assert_eq!(k.sys_mmap(P, 0, 8192, PROT_EXEC, PA, -1, 0), Ok(c - 8192));
    check_counters(&k);
}

#[test]
fn hints() {
    let mut k = kernel();
    assert_eq!(k.sys_mmap(P, 0x1234_5000, 8192, RW, PA, -1, 0), Ok(0x1234_5000));
    // Overlapping hint: ignored.
    let top = mm(&k).mmap_base;
    assert_eq!(k.sys_mmap(P, 0x1234_6000, 8192, RW, PA, -1, 0), Ok(top - 8192));
    // Unaligned hints are rounded down.
    assert_eq!(k.sys_mmap(P, 0x2000_0123, 4096, RW, PA, -1, 0), Ok(0x2000_0000));
    // A hint ending inside a growsdown VMA's guard gap is rejected; MAP_FIXED may map there.
    let gd = k
        .sys_mmap(P, 0x4000_0000, 4096, RW, PA | MAP_GROWSDOWN | MAP_FIXED, -1, 0)
        .unwrap();
    assert!(vma(&k, gd).flags.contains(VmFlags::GROWSDOWN));
    let h = 0x4000_0000 - (1 << 20);
    assert_eq!(
        k.sys_mmap(P, h - 4096, 4096, RW, PA, -1, 0),
        Ok(h - 4096),
        "ends exactly at the gap"
    );
    assert_ne!(k.sys_mmap(P, h, 4096, RW, PA, -1, 0), Ok(h), "ends inside the gap");
    assert_eq!(k.sys_mmap(P, h + 8192, 4096, RW, PA | MAP_FIXED, -1, 0), Ok(h + 8192));
    // Hint beyond TASK_SIZE: ignored.
    assert_eq!(
        k.sys_mmap(P, 0x7fff_ffff_f000, 4096, RW, PA, -1, 0)
            .map(|a| a < 0x7fff_ffff_f000),
        Ok(true)
    );
    check_counters(&k);
}

#[test]
fn topdown_skips_guard_gap_of_growsdown() {
    let mut k = kernel();
    let base = mm(&k).mmap_base;
    // A growsdown VMA right below mmap_base: the search must leave the guard gap free.
    let s = base - 4096;
    k.sys_mmap(P, s, 4096, RW, PA | MAP_GROWSDOWN | MAP_FIXED, -1, 0)
        .unwrap();
    let a = k.sys_mmap(P, 0, 4096, RW, PA, -1, 0).unwrap();
    assert_eq!(a, s - (1 << 20) - 4096);
}

#[test]
fn thp_alignment() {
    let mut k = kernel();
    let two = 2 << 20;
    let a = k.sys_mmap(P, 0, two, RW, PA, -1, 0).unwrap();
    assert_eq!(a % two, 0);
    let b = k.sys_mmap(P, 0, two, RW, PA, -1, 0).unwrap();
    assert_eq!(b % two, 0);
    assert_eq!(b + two, a, "successive 2 MiB maps land adjacent");
    let c = k.sys_mmap(P, 0, two + 4096, RW, PA, -1, 0).unwrap();
    assert_eq!(c, b - two - 4096, "not a multiple of 2 MiB: not aligned");
    // With a hint, shared, or 4 MiB: the rule is len % 2 MiB == 0, anonymous private, no hint.
    let d = k.sys_mmap(P, 0, two, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0).unwrap();
    assert_eq!(d, c - two);
    let e = k.sys_mmap(P, 0, 2 * two, RW, PA, -1, 0).unwrap();
    assert_eq!(e % two, 0);
    check_counters(&k);
}

#[test]
fn thp_alignment_of_file_mappings() {
    let mut fs = MemFs::new();
    fs.add_file("/big", vec![0; 8 << 20]);
    let mut k = Kernel::new(KernelConfig::default(), Box::new(fs));
    let fd = k.sys_openat(P, AT_FDCWD, "/big", O_RDONLY, 0).unwrap() as i64;
    let two = 2u64 << 20;
    // Not aligned: a first small mapping moves the top below mmap_base off 2 MiB alignment.
    let small = k.sys_mmap(P, 0, 4096, PROT_READ, PA, -1, 0).unwrap();
    assert_ne!(small % two, 0);
    // The file range [0, 2 MiB + 4 KiB) covers the 2 MiB block at offset 0: the start is 2 MiB aligned.
    let a = k.sys_mmap(P, 0, two + 4096, PROT_READ, MAP_PRIVATE, fd, 0).unwrap();
    assert_eq!(a % two, 0);
    // Offset 4 KiB, length 2 MiB: no whole aligned block of offsets, no alignment (placed right below).
    let b = k.sys_mmap(P, 0, two, PROT_READ, MAP_PRIVATE, fd, 0x1000).unwrap();
    assert_eq!(b + two, a);
    // Offset 4 KiB, length 4 MiB: the block at offset 2 MiB is covered; address ≡ offset (mod 2 MiB).
    let c = k.sys_mmap(P, 0, 2 * two, PROT_READ, MAP_PRIVATE, fd, 0x1000).unwrap();
    assert_eq!((c + two - 0x1000) % two, 0);
}

#[test]
fn map_32bit_and_legacy_layout() {
    let mut k = kernel();
    let a = k.sys_mmap(P, 0, 4096, RW, PA | MAP_32BIT, -1, 0).unwrap();
    assert_eq!(a, 0x4000_0000);
    let b = k.sys_mmap(P, 0, 4096, PROT_READ, PA | MAP_32BIT, -1, 0).unwrap();
    assert_eq!(b, 0x4000_1000);
    let cfg = KernelConfig {
        legacy_va_layout: true,
        ..KernelConfig::default()
    };
    let mut k = Kernel::new(cfg, Box::new(MemFs::new()));
    let a = k.sys_mmap(P, 0, 4096, RW, PA, -1, 0).unwrap();
    assert_eq!(a, 0x2aaa_aaaa_b000);
    assert_eq!(k.sys_mmap(P, 0, 4096, PROT_READ, PA, -1, 0), Ok(a + 4096));
}

#[test]
fn i386_layout() {
    let cfg = KernelConfig {
        arch: crate::arch::Arch::I386,
        ..KernelConfig::default()
    };
    let mut k = Kernel::new(cfg, Box::new(MemFs::new()));
    let base = mm(&k).mmap_base;
    assert_eq!(base, 0xb800_0000, "3 GiB user space, 128 MiB minimum gap");
    // No THP alignment and no MAP_32BIT window on a 32-bit kernel.
    let two = 2 << 20;
    let a = k.sys_mmap(P, 0, 4096, RW, PA, -1, 0).unwrap();
    assert_eq!(a, base - 4096);
    let b = k.sys_mmap(P, 0, two, RW, PA | MAP_32BIT, -1, 0).unwrap();
    assert_eq!(b, a - two);
    assert_eq!(
        k.sys_mmap(P, 0xbfff_f000, 8192, RW, PA | MAP_FIXED, -1, 0),
        Err(Errno::ENOMEM)
    );
    assert_eq!(k.sys_mmap(P, 0, 0xc000_1000, RW, PA, -1, 0), Err(Errno::ENOMEM));
}

#[test]
fn above4g() {
    let mut k = kernel();
    // Fill nothing; MAP_ABOVE4G only raises the floor, the top-down result is the same.
    let a = k.sys_mmap(P, 0, 4096, RW, PA | MAP_ABOVE4G, -1, 0).unwrap();
    assert!(a >= 1 << 32);
}

#[test]
fn rlimit_as_data_and_commit() {
    let mut k = kernel();
    k.task_mut(P).unwrap().rlimits[RLIMIT_AS] = Rlimit::new(16 << 12, RLIM_INFINITY);
    assert_eq!(fixed(&mut k, 0, 16, PROT_NONE), Ok(pg(0)));
    assert_eq!(fixed(&mut k, 20, 1, PROT_NONE), Err(Errno::ENOMEM));
    // MAP_FIXED replacing part of the mapping only needs the net growth.
    assert_eq!(fixed(&mut k, 8, 8, RW), Ok(pg(8)));
    let mut k = kernel();
    k.task_mut(P).unwrap().rlimits[RLIMIT_DATA] = Rlimit::new(4 << 12, RLIM_INFINITY);
    assert_eq!(fixed(&mut k, 0, 5, RW), Err(Errno::ENOMEM));
    assert_eq!(fixed(&mut k, 0, 5, PROT_READ), Ok(pg(0)), "read-only is not data");
    assert!(k.sys_mmap(P, 0, 5 << 12, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0).is_ok());
    // Soft limit 0: compared with the hard limit instead.
    k.task_mut(P).unwrap().rlimits[RLIMIT_DATA] = Rlimit::new(0, 4 << 12);
    assert_eq!(fixed(&mut k, 10, 4, RW), Ok(pg(10)));
    assert_eq!(fixed(&mut k, 20, 1, RW), Err(Errno::ENOMEM));
    // Commit: a single private writable request larger than RAM + swap fails in mode 0; read-only or
    // NORESERVE is not charged.
    let mut k = kernel();
    let ram = k.cfg.ram_bytes;
    assert_eq!(k.sys_mmap(P, 0, ram + 4096, RW, PA, -1, 0), Err(Errno::ENOMEM));
    assert_eq!(k.committed_pages, 0);
    assert!(k.sys_mmap(P, 0, ram, RW, PA, -1, 0).is_ok());
    assert!(
        k.sys_mmap(P, 0, ram, RW, PA, -1, 0).is_ok(),
        "no global state in mode 0"
    );
    assert!(k.sys_mmap(P, 0, ram + 4096, PROT_READ, PA, -1, 0).is_ok());
    assert!(k.sys_mmap(P, 0, ram + 4096, RW, PA | MAP_NORESERVE, -1, 0).is_ok());
    assert_eq!(
        k.sys_mmap(P, 0, ram + 4096, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0),
        Err(Errno::ENOMEM)
    );
    assert_eq!(k.committed_pages, 2 * (ram >> 12) as i64);
    check_counters(&k);
}

#[test]
fn overcommit_never_ignores_noreserve() {
    let cfg = KernelConfig {
        overcommit: OvercommitMode::Never,
        ..KernelConfig::default()
    };
    let mut k = Kernel::new(cfg, Box::new(MemFs::new()));
    let a = k.sys_mmap(P, 0, 4096, RW, PA | MAP_NORESERVE, -1, 0).unwrap();
    let v = vma(&k, a);
    assert!(v.flags.contains(VmFlags::ACCOUNT) && !v.flags.contains(VmFlags::NORESERVE));
    let ram = k.cfg.ram_bytes;
    assert_eq!(k.sys_mmap(P, 0, ram / 2, RW, PA, -1, 0), Err(Errno::ENOMEM));
}

#[test]
fn flags_and_accounting() {
    let mut k = kernel();
    let me = VmFlags::MAYREAD | VmFlags::MAYWRITE | VmFlags::MAYEXEC;
    let a = fixed(&mut k, 0, 2, RW).unwrap();
    assert_eq!(vma(&k, a).flags, VmFlags::READ | VmFlags::WRITE | me | VmFlags::ACCOUNT);
    assert_eq!(vma(&k, a).pgoff, a >> 12);
    let b = fixed(&mut k, 4, 2, PROT_READ | PROT_EXEC).unwrap();
    assert_eq!(vma(&k, b).flags, VmFlags::READ | VmFlags::EXEC | me);
    let c = k
        .sys_mmap(P, pg(8), 4096, RW, PA | MAP_FIXED | MAP_GROWSDOWN, -1, 0)
        .unwrap();
    assert_eq!(
        vma(&k, c).flags,
        VmFlags::READ | VmFlags::WRITE | me | VmFlags::GROWSDOWN | VmFlags::ACCOUNT
    );
    let d = k
        .sys_mmap(P, pg(10), 4096, RW, PA | MAP_FIXED | MAP_NORESERVE | MAP_STACK, -1, 0)
        .unwrap();
    assert_eq!(
        vma(&k, d).flags,
        VmFlags::READ | VmFlags::WRITE | me | VmFlags::NORESERVE | VmFlags::NOHUGEPAGE
    );
    let e = k
        .sys_mmap(P, pg(12), 4096, RW, MAP_DROPPABLE | MAP_ANONYMOUS | MAP_FIXED, -1, 0)
        .unwrap();
    assert_eq!(vma(&k, e).flags.mnemonics(), "rd wr mr mw me nr wf dd dp ");
    let f = k
        .sys_mmap(P, pg(14), 4096, RW, PA | MAP_FIXED | MAP_SYNC, -1, 0)
        .unwrap();
    assert_eq!(vma(&k, f).flags.mnemonics(), "rd wr mr mw me ac sf ");
    let m = mm(&k);
    assert_eq!((m.total_vm, m.data_vm, m.exec_vm, m.stack_vm), (8, 5, 2, 1));
    assert_eq!(k.committed_pages, 4);
    k.sys_munmap(P, pg(0), 16 << 12).unwrap();
    let m = mm(&k);
    assert_eq!(
        (m.total_vm, m.data_vm, m.exec_vm, m.stack_vm, m.hiwater_vm),
        (0, 0, 0, 0, 8)
    );
    assert_eq!(k.committed_pages, 0);
    // def_flags (mlockall(MCL_FUTURE)) lock new mappings.
    k.mm_mut(P).unwrap().def_flags = VmFlags::LOCKED;
    let g = fixed(&mut k, 0, 3, PROT_NONE).unwrap();
    assert!(vma(&k, g).flags.contains(VmFlags::LOCKED));
    assert_eq!(mm(&k).locked_vm, 3);
    k.sys_munmap(P, pg(1), 4096).unwrap();
    assert_eq!(mm(&k).locked_vm, 2);
    check_counters(&k);
}

#[test]
fn perms_in_maps_for_every_prot_and_type() {
    // §11: anon perms for prot × {PRIVATE, SHARED}.
    let mut k = kernel();
    let mut got = Vec::new();
    for prot in [0, 1, 2, 3, 4, 5, 6, 7] {
        for ty in [MAP_PRIVATE, MAP_SHARED] {
            let a = k.sys_mmap(P, 0, 4096, prot, ty | MAP_ANONYMOUS, -1, 0).unwrap();
            let f = vma(&k, a).flags;
            let mut s = String::new();
            s.push(if f.contains(VmFlags::READ) { 'r' } else { '-' });
            s.push(if f.contains(VmFlags::WRITE) { 'w' } else { '-' });
            s.push(if f.contains(VmFlags::EXEC) { 'x' } else { '-' });
            s.push(if f.contains(VmFlags::MAYSHARE) { 's' } else { 'p' });
            got.push(s);
        }
    }
    assert_eq!(
        got.join(" "),
        "---p ---s r--p r--s -w-p -w-s rw-p rw-s --xp --xs r-xp r-xs -wxp -wxs rwxp rwxs"
    );
}

#[test]
fn shared_anonymous_is_shmem() {
    let mut k = kernel();
    let a = k
        .sys_mmap(P, pg(0), 3 << 12, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0)
        .unwrap();
    let b = k
        .sys_mmap(P, pg(3), 1 << 12, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0)
        .unwrap();
    {
        let (va, vb) = (vma(&k, a), vma(&k, b));
        let fa = va.file.as_ref().unwrap();
        assert_eq!(fa.inode.kind, InodeKind::Shmem);
        assert_eq!((fa.inode.meta.dev_major, fa.inode.meta.dev_minor), (0, 1));
        assert_eq!(fa.inode.display_name, "/dev/zero (deleted)");
        assert_eq!(va.pgoff, 0);
        assert_ne!(va.file_id(), vb.file_id());
        assert_eq!(mm(&k).map_count(), 2, "shared anon never merges");
        assert!(va.flags.contains(VmFlags::SHARED | VmFlags::MAYSHARE) && !va.flags.contains(VmFlags::ACCOUNT));
    }
    assert_eq!(k.committed_pages, 4, "shmem_acct_size charges the object");
    // Unmapping the first page: the rest keeps the object, pgoff 1.
    k.sys_munmap(P, pg(0), 4096).unwrap();
    assert_eq!(vma(&k, pg(1)).pgoff, 1);
    assert_eq!(k.committed_pages, 4);
    k.sys_munmap(P, pg(1), 2 << 12).unwrap();
    assert_eq!(k.committed_pages, 1, "the last mapping gone: the object's charge goes");
    // NORESERVE shared anon is not charged.
    k.sys_mmap(P, 0, 4096, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        .unwrap();
    assert_eq!(k.committed_pages, 1);
    assert_eq!(mm(&k).data_vm, 0, "shared is not data");
    check_counters(&k);
}

#[test]
fn dev_zero() {
    let mut k = kernel();
    let fd = k.sys_openat(P, AT_FDCWD, "/dev/zero", O_RDWR, 0).unwrap() as i64;
    let a = k
        .sys_mmap(P, pg(0), 8192, RW, MAP_PRIVATE | MAP_FIXED, fd, 0x3000)
        .unwrap();
    let v = vma(&k, a);
    assert_eq!(v.file.as_ref().unwrap().inode.kind, InodeKind::DevZero);
    assert_eq!(v.pgoff, 3);
    assert!(v.is_anonymous());
    assert!(!v.flags.contains(VmFlags::MAYEXEC), "/dev is noexec");
    assert_eq!(k.sys_mmap(P, 0, 8192, PROT_EXEC, MAP_PRIVATE, fd, 0), Err(Errno::EPERM));
    let b = k
        .sys_mmap(P, pg(4), 8192, RW, MAP_SHARED | MAP_FIXED, fd, 0x5000)
        .unwrap();
    let v = vma(&k, b);
    assert_eq!(v.file.as_ref().unwrap().inode.kind, InodeKind::Shmem);
    assert_eq!(v.pgoff, 5);
    // Read-only descriptor, MAP_SHARED: VM_SHARED is dropped, so /dev/zero stays (checked on 6.18).
    let ro = k.sys_openat(P, AT_FDCWD, "/dev/zero", O_RDONLY, 0).unwrap() as i64;
    let c = k
        .sys_mmap(P, pg(8), 8192, PROT_READ, MAP_SHARED | MAP_FIXED, ro, 0x3000)
        .unwrap();
    let v = vma(&k, c);
    assert_eq!(v.file.as_ref().unwrap().inode.kind, InodeKind::DevZero);
    assert_eq!(v.flags.mnemonics(), "rd mr ms ");
    assert_eq!(v.pgoff, 3);
    // Adjacent private mappings of one description with linear offsets merge (v).
    k.sys_mmap(P, pg(2), 8192, RW, MAP_PRIVATE | MAP_FIXED, fd, 0x5000)
        .unwrap();
    assert_eq!(vma(&k, pg(3)).start.0, pg(0));
    check_counters(&k);
}

#[test]
fn file_mappings() {
    let mut k = kernel();
    let ro = k.sys_openat(P, AT_FDCWD, "/file", O_RDONLY, 0).unwrap() as i64;
    let wo = k.sys_openat(P, AT_FDCWD, "/file", O_WRONLY, 0).unwrap() as i64;
    let rw = k.sys_openat(P, AT_FDCWD, "/file", O_RDWR, 0).unwrap() as i64;
    let dir = k.sys_openat(P, AT_FDCWD, "/dir", O_RDONLY, 0).unwrap() as i64;
    let path = k.sys_openat(P, AT_FDCWD, "/file", O_PATH, 0).unwrap() as i64;
    assert_eq!(
        k.sys_mmap(P, 0, 4096, PROT_READ, MAP_PRIVATE, wo, 0),
        Err(Errno::EACCES)
    );
    assert_eq!(k.sys_mmap(P, 0, 4096, PROT_READ, MAP_SHARED, wo, 0), Err(Errno::EACCES));
    assert_eq!(k.sys_mmap(P, 0, 4096, RW, MAP_SHARED, ro, 0), Err(Errno::EACCES));
    assert_eq!(
        k.sys_mmap(P, 0, 4096, PROT_READ, MAP_SHARED_VALIDATE | MAP_SYNC, rw, 0),
        Err(Errno::EOPNOTSUPP)
    );
    assert!(
        k.sys_mmap(P, 0, 4096, PROT_READ, MAP_SHARED | MAP_SYNC, rw, 0).is_ok(),
        "MAP_SHARED drops it"
    );
    assert_eq!(
        k.sys_mmap(P, 0, 4096, PROT_READ, MAP_PRIVATE, dir, 0),
        Err(Errno::ENODEV)
    );
    assert_eq!(
        k.sys_mmap(P, 0, 4096, PROT_READ, MAP_PRIVATE, path, 0),
        Err(Errno::EBADF)
    );
    assert_eq!(
        k.sys_mmap(P, 0, 4096, PROT_READ, MAP_PRIVATE | MAP_GROWSDOWN, ro, 0),
        Err(Errno::EINVAL)
    );
    assert_eq!(k.sys_mmap(P, 0, 4096, PROT_READ, 0, ro, 0), Err(Errno::EINVAL));
    assert_eq!(
        k.sys_mmap(P, 0, 4096, PROT_READ, MAP_PRIVATE | MAP_HUGETLB, ro, 0),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        k.sys_mmap(P, 0, 8192, PROT_READ, MAP_PRIVATE, ro, 0x7fff_ffff_ffff_f000),
        Err(Errno::EOVERFLOW)
    );
    assert_eq!(
        k.sys_mmap(P, 0, 8192, PROT_READ, MAP_PRIVATE, ro, 0xffff_ffff_ffff_f000),
        Err(Errno::EOVERFLOW)
    );
    // Read-only shared: VM_MAYWRITE and VM_SHARED cleared, VM_MAYSHARE kept.
    let a = k
        .sys_mmap(P, pg(0), 8192, PROT_READ, MAP_SHARED | MAP_FIXED, ro, 0)
        .unwrap();
    assert_eq!(vma(&k, a).flags.mnemonics(), "rd mr me ms ");
    let b = k
        .sys_mmap(P, pg(2), 8192, RW, MAP_SHARED | MAP_FIXED, rw, 0x2000)
        .unwrap();
    assert_eq!(vma(&k, b).flags.mnemonics(), "rd wr sh mr mw me ms ");
    // Private writable file mappings are accounted and count as data.
    let c = k.sys_mmap(P, pg(4), 8192, RW, MAP_PRIVATE | MAP_FIXED, ro, 0).unwrap();
    assert_eq!(vma(&k, c).flags.mnemonics(), "rd wr mr mw me ac ");
    // Same description and linear pgoff merge; another description of the same file does not.
    let d = k
        .sys_mmap(P, pg(6), 4096, RW, MAP_PRIVATE | MAP_FIXED, ro, 0x2000)
        .unwrap();
    assert_eq!(vma(&k, d).start.0, pg(4));
    k.sys_mmap(P, pg(7), 4096, RW, MAP_PRIVATE | MAP_FIXED, rw, 0x3000)
        .unwrap();
    assert_eq!(vma(&k, pg(7)).start.0, pg(7));
    // A dup'ed descriptor is the same description: it merges.
    let dup = k.sys_dup(P, ro).unwrap() as i64;
    k.sys_mmap(P, pg(7), 4096, RW, MAP_PRIVATE | MAP_FIXED, dup, 0x3000)
        .unwrap();
    assert_eq!(vma(&k, pg(7)).start.0, pg(4));
    // Closing the descriptor keeps the mapping's file.
    k.sys_close(P, ro).unwrap();
    assert!(vma(&k, pg(0)).file.is_some());
    let m = mm(&k);
    assert_eq!(m.data_vm, 4);
    check_counters(&k);
}

#[test]
fn hugetlb_with_empty_pool() {
    let mut k = kernel();
    let h = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB;
    assert_eq!(k.sys_mmap(P, 0, 2 << 20, RW, h, -1, 0), Err(Errno::ENOMEM));
    assert_eq!(k.sys_mmap(P, 0, 4096, RW, h, -1, 0), Err(Errno::ENOMEM));
    assert_eq!(k.sys_mmap(P, 0, 0, RW, h, -1, 0), Err(Errno::EINVAL));
    assert_eq!(
        k.sys_mmap(P, 0, 4096, RW, h | (22 << MAP_HUGE_SHIFT), -1, 0),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        k.sys_mmap(P, 0, 4096, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0),
        Err(Errno::ENOMEM)
    );
    assert_eq!(mm(&k).map_count(), 0);
    assert_eq!(k.committed_pages, 0);
}

#[test]
fn hugetlb_noreserve_maps_an_unlinked_hugetlbfs_object_that_cannot_fault() {
    // Checked with a C program on 6.18: MAP_NORESERVE skips the reservation, so the mapping is made with an
    // empty pool; its first touch gets SIGBUS (BUS_ADRERR); splits must fall on 2 MiB boundaries.
    let mut k = kernel();
    let a = 0x1_0000_0000u64;
    let h = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_NORESERVE | MAP_FIXED;
    assert_eq!(k.sys_mmap(P, a, 4096, RW, h, -1, 0), Ok(a));
    let maps = String::from_utf8(k.proc_read(P, "maps").unwrap()).unwrap();
    let line = format!("{:x}-{:x} rw-p 00000000 00:11 ", a, a + (2 << 20));
    let l = maps
        .lines()
        .find(|l| l.starts_with(&line))
        .unwrap_or_else(|| panic!("{maps}"));
    assert!(l.ends_with(" /anon_hugepage (deleted)"), "{l}");
    let v = mm(&k).vmas.lookup(VirtAddr(a)).unwrap();
    assert!(v
        .flags
        .contains(VmFlags::HUGETLB | VmFlags::DONTEXPAND | VmFlags::NORESERVE));
    assert!(!v.flags.contains(VmFlags::ACCOUNT));
    assert_eq!(k.committed_pages, 0);
    let sig = k.access(P, a + 16, 1, AccessKind::Read).unwrap_err();
    assert_eq!((sig.signo, sig.code, sig.addr), (SIGBUS, BUS_ADRERR, a + 16));
    let mut k = kernel();
    assert_eq!(k.sys_mmap(P, a, 4 << 20, RW, h, -1, 0), Ok(a));
    assert_eq!(k.sys_munmap(P, a, 4096), Err(Errno::EINVAL));
    assert_eq!(k.sys_mprotect(P, a + (1 << 20), 2 << 20, PROT_READ), Err(Errno::EINVAL));
    assert_eq!(k.sys_munmap(P, a + (2 << 20), 2 << 20), Ok(0));
    // Without MAP_NORESERVE the (empty) pool is asked, even when overcommit would allow anything; and the
    // offset of the hugetlbfs object must be huge page aligned.
    assert_eq!(
        k.sys_mmap(P, a, 2 << 20, RW, h & !MAP_NORESERVE, -1, 0),
        Err(Errno::ENOMEM)
    );
    assert_eq!(k.sys_mmap(P, a, 2 << 20, RW, h, -1, 4096), Err(Errno::EINVAL));
    check_counters(&k);
    // Without MAP_FIXED: a hint is aligned up, a search result is aligned (shared mappings too, which get no
    // THP alignment), and 1 GiB pages sit on the next hugetlbfs mount.
    let nf = MAP_ANONYMOUS | MAP_HUGETLB | MAP_NORESERVE;
    assert_eq!(
        k.sys_mmap(P, a + 0x1000, 4096, RW, nf | MAP_PRIVATE, -1, 0),
        Ok(a + (2 << 20))
    );
    let s = k.sys_mmap(P, 0, 4096, RW, nf | MAP_SHARED, -1, 0).unwrap();
    assert_eq!(s % (2 << 20), 0, "{s:#x}");
    let g = k
        .sys_mmap(P, 0, 1 << 30, RW, nf | MAP_PRIVATE | (30 << MAP_HUGE_SHIFT), -1, 0)
        .unwrap();
    assert_eq!(g % (1 << 30), 0, "{g:#x}");
    let v = mm(&k).vmas.lookup(VirtAddr(g)).unwrap();
    assert_eq!(v.hugetlb_page_size(), Some(1 << 30));
    assert_eq!(
        (
            v.file.as_ref().unwrap().inode.meta.dev_major,
            v.file.as_ref().unwrap().inode.meta.dev_minor
        ),
        (0, 0x12)
    );
    assert_eq!(k.sys_munmap(P, g, 2 << 20), Err(Errno::EINVAL));
    check_counters(&k);
    // i386 without PAE has 4 MiB pages only.
    let mut k = Kernel::new(
        KernelConfig {
            arch: crate::arch::Arch::I386,
            ..KernelConfig::default()
        },
        Box::new(MemFs::new()),
    );
    assert_eq!(
        k.sys_mmap(P, 0, 4096, RW, nf | MAP_PRIVATE | (21 << MAP_HUGE_SHIFT), -1, 0),
        Err(Errno::EINVAL)
    );
    let i = k.sys_mmap(P, 0, 4096, RW, nf | MAP_PRIVATE, -1, 0).unwrap();
    assert_eq!(i % (4 << 20), 0, "{i:#x}");
    assert_eq!(mm(&k).vmas.lookup(VirtAddr(i)).unwrap().len(), 4 << 20);
}

#[test]
fn failed_fixed_mappings_leave_what_linux_leaves() {
    // Checked with a C program on 6.18: RLIMIT_AS refusing a MAP_FIXED mapping that starts inside a VMA keeps
    // the split done while gathering the old VMAs.
    let mut k = kernel();
    fixed(&mut k, 0, 3, RW).unwrap();
    k.task_mut(P).unwrap().rlimits[RLIMIT_AS] = Rlimit::new(8 << 12, RLIM_INFINITY);
    assert_eq!(
        k.sys_mmap(P, pg(1), 60 << 12, PROT_READ, PA | MAP_FIXED, -1, 0),
        Err(Errno::ENOMEM)
    );
    assert_eq!(pic(&k), "Aaa");
    check_counters(&k);
    // A hugetlb MAP_FIXED failure (empty pool) leaves the old range unmapped; an unaligned one is EINVAL.
    let mut k = kernel();
    let h = 0x1_4000_0000u64;
    k.sys_mmap(P, h, 4 << 12, RW, PA | MAP_FIXED, -1, 0).unwrap();
    k.sys_mmap(P, h + (2 << 20), 4 << 12, PROT_READ, PA | MAP_FIXED, -1, 0)
        .unwrap();
    let hf = PA | MAP_FIXED | MAP_HUGETLB;
    assert_eq!(k.sys_mmap(P, h, 2 << 20, RW, hf, -1, 0), Err(Errno::ENOMEM));
    assert_eq!(k.sys_mmap(P, h + 0x1000, 2 << 20, RW, hf, -1, 0), Err(Errno::EINVAL));
    let left: Vec<u64> = mm(&k).vmas.iter().map(|v| v.start.0).collect();
    assert_eq!(left, vec![h + (2 << 20)]);
    check_counters(&k);
}

#[test]
fn populate_flags_do_not_change_layout() {
    let mut k = kernel();
    let a = k.sys_mmap(P, 0, 8192, RW, PA | MAP_POPULATE, -1, 0).unwrap();
    let b = k
        .sys_mmap(P, 0, 8192, RW, PA | MAP_POPULATE | MAP_NONBLOCK, -1, 0)
        .unwrap();
    assert_eq!(b + 8192, a);
    assert_eq!(mm(&k).map_count(), 1);
}

#[test]
fn counters_match_the_kernel_for_a_sequence() {
    // /proc/self/status deltas (kB) printed by a C program doing the same calls on Linux 6.18:
    // (VmPeak, VmSize, VmLck, VmData, VmStk, VmExe + VmLib) after each step.
    let expected: [(&str, [u64; 6]); 10] = [
        ("rw10", [40, 40, 0, 40, 0, 0]),
        ("rx4", [56, 56, 0, 40, 0, 16]),
        ("gd2", [64, 64, 0, 40, 8, 16]),
        ("shared3", [76, 76, 0, 40, 8, 16]),
        ("rwx5", [96, 96, 0, 60, 8, 16]),
        ("locked2", [104, 104, 8, 68, 8, 16]),
        ("mprotect_ro3", [104, 104, 8, 56, 8, 16]),
        ("munmap2", [104, 96, 8, 52, 8, 16]),
        ("fixed_over_rx", [112, 112, 8, 84, 8, 0]),
        ("munmap_all", [112, 0, 0, 0, 0, 0]),
    ];
    let mut k = kernel();
    let w = 0x1_0000_0000u64;
    let fx = PA | MAP_FIXED;
    type Step = Box<dyn Fn(&mut Kernel) -> SysResult>;
    let steps: Vec<Step> = vec![
        Box::new(move |k| k.sys_mmap(P, w, 10 << 12, RW, fx, -1, 0)),
        Box::new(move |k| k.sys_mmap(P, w + 0x20000, 4 << 12, PROT_READ | PROT_EXEC, fx, -1, 0)),
        Box::new(move |k| k.sys_mmap(P, w + 0x40000, 2 << 12, RW, fx | MAP_GROWSDOWN, -1, 0)),
        Box::new(move |k| {
            k.sys_mmap(
                P,
                w + 0x50000,
                3 << 12,
                RW,
                MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED,
                -1,
                0,
            )
        }),
        Box::new(move |k| k.sys_mmap(P, w + 0x60000, 5 << 12, RW | PROT_EXEC, fx, -1, 0)),
        Box::new(move |k| k.sys_mmap(P, w + 0x70000, 2 << 12, RW, fx | MAP_LOCKED, -1, 0)),
        Box::new(move |k| k.sys_mprotect(P, w + 0x2000, 3 << 12, PROT_READ)),
        Box::new(move |k| k.sys_munmap(P, w + 0x1000, 2 << 12)),
        Box::new(move |k| k.sys_mmap(P, w + 0x20000, 8 << 12, RW, fx, -1, 0)),
        Box::new(move |k| k.sys_munmap(P, w, 0x80000)),
    ];
    for ((name, want), step) in expected.iter().zip(steps) {
        step(&mut k).unwrap();
        let m = mm(&k);
        let got = [
            m.hiwater_vm.max(m.total_vm),
            m.total_vm,
            m.locked_vm,
            m.data_vm,
            m.stack_vm,
            m.exec_vm,
        ]
        .map(|p| p * 4);
        assert_eq!(&got, want, "after {name}");
        check_counters(&k);
    }
}

mod random_ops {
    //! Random operation sequences with the invariants of ARCHITECTURE.md checked after every step: sorted,
    //! non-overlapping VMAs; counters equal to their recomputation from the VMAs; Committed_AS equal to the
    //! accounted VMAs plus shmem objects; and, after every successful operation, no two neighbours that could
    //! merge (failures may leave splits behind, as in Linux).
    use super::*;
    use proptest::prelude::*;

    const WIN: u64 = 0x1_0000_0000;

    #[derive(Debug, Clone)]
    enum Op {
        MmapFixed {
            page: u64,
            pages: u64,
            prot: u64,
            shared: bool,
            noreserve: bool,
        },
        Mmap {
            pages: u64,
            prot: u64,
        },
        Munmap {
            page: u64,
            pages: u64,
        },
        Mprotect {
            page: u64,
            pages: u64,
            prot: u64,
        },
        Write {
            page: u64,
        },
        Brk {
            pages: u64,
        },
    }

    fn prot() -> impl Strategy<Value = u64> {
        prop_oneof![Just(PROT_NONE), Just(PROT_READ), Just(RW), Just(PROT_READ | PROT_EXEC)]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u64..48, 1u64..8, prot(), proptest::bool::weighted(0.15), proptest::bool::weighted(0.2))
                .prop_map(|(page, pages, prot, shared, noreserve)| Op::MmapFixed { page, pages, prot, shared, noreserve }),
            1 => (1u64..4, prot()).prop_map(|(pages, prot)| Op::Mmap { pages, prot }),
            3 => (0u64..48, 1u64..8).prop_map(|(page, pages)| Op::Munmap { page, pages }),
            3 => (0u64..48, 1u64..8, prot()).prop_map(|(page, pages, prot)| Op::Mprotect { page, pages, prot }),
            2 => (0u64..56).prop_map(|page| Op::Write { page }),
            1 => (0u64..12).prop_map(|pages| Op::Brk { pages }),
        ]
    }

    fn no_mergeable_neighbours(k: &Kernel) -> Result<(), String> {
        let m = mm(k);
        let v: Vec<&Vma> = m.vmas.iter().collect();
        for w in v.windows(2) {
            if Kernel::vmas_mergeable(w[0], w[1]) {
                return Err(format!("mergeable neighbours {:?} and {:?}", w[0], w[1]));
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]
        #[test]
        fn invariants_hold_after_every_step(ops in proptest::collection::vec(op(), 1..80)) {
            let mut k = kernel();
            let heap = WIN + (64 << 12);
            k.set_brk_base(P, heap).unwrap();
            for op in &ops {
                let ok = match *op {
                    Op::MmapFixed { page, pages, prot, shared, noreserve } => {
                        let mut flags = MAP_ANONYMOUS | MAP_FIXED | if shared { MAP_SHARED } else { MAP_PRIVATE };
                        if noreserve {
                            flags |= MAP_NORESERVE;
                        }
                        k.sys_mmap(P, WIN + (page << 12), pages << 12, prot, flags, -1, 0).is_ok()
                    }
                    Op::Mmap { pages, prot } => k.sys_mmap(P, 0, pages << 12, prot, PA, -1, 0).is_ok(),
                    Op::Munmap { page, pages } => k.sys_munmap(P, WIN + (page << 12), pages << 12).is_ok(),
                    Op::Mprotect { page, pages, prot } => k.sys_mprotect(P, WIN + (page << 12), pages << 12, prot).is_ok(),
                    Op::Write { page } => {
                        // Only writes that do not kill the process (a fatal SIGSEGV ends the scenario).
                        let a = WIN + (page << 12);
                        if mm(&k).vmas.lookup(VirtAddr(a)).is_some_and(|v| v.flags.contains(VmFlags::WRITE)) {
                            prop_assert!(k.access(P, a, 1, crate::kernel::AccessKind::Write).is_ok());
                        }
                        true
                    }
                    Op::Brk { pages } => {
                        let want = heap + (pages << 12);
                        k.sys_brk(P, want) == Ok(want)
                    }
                };
                check_counters(&k);
                if ok {
                    let r = no_mergeable_neighbours(&k);
                    prop_assert!(r.is_ok(), "after {:?}: {:?}", op, r);
                }
            }
        }
    }
}

mod garbage_in {
    //! Any argument values: the calls return an errno or succeed, they never panic.
    use super::*;
    use proptest::prelude::*;

    fn word() -> impl Strategy<Value = u64> {
        prop_oneof![
            any::<u64>(),
            Just(0u64),
            Just(u64::MAX),
            Just(u64::MAX - 4095),
            Just(u64::MAX - 4096),
            Just(0x7fff_ffff_f000u64),
            Just(0x7fff_ffff_e000u64),
            (0u64..64).prop_map(|p| 0x1_0000_0000 + (p << 12)),
            (1u64..16).prop_map(|p| p << 12),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn syscalls_never_panic(calls in proptest::collection::vec((0u8..5, word(), word(), word(), word(), -2i64..5), 1..30)) {
            let mut k = kernel();
            let _ = k.sys_openat(P, AT_FDCWD, "/file", O_RDWR, 0);
            k.set_brk_base(P, 0x5555_0000_0000).unwrap();
            for (which, a, b, c, d, fd) in calls {
                let _ = match which {
                    0 => k.sys_mmap(P, a, b, c & 7, d, fd, a & 0xf000),
                    1 => k.sys_mmap(P, a, b, c, d | MAP_FIXED, fd, c),
                    2 => k.sys_munmap(P, a, b),
                    3 => k.sys_brk(P, a),
                    _ => k.sys_dup3(P, fd, a as i64, d),
                };
                check_counters(&k);
            }
        }
    }
}
