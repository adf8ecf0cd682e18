//! Helpers shared by the `/proc` renderer tests: building model states directly (without system calls),
//! a synthetic page-table source, and golden-file comparison.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use memsim_core::addr::VirtAddr;
use memsim_core::fs::{File, FileId, FileMeta, Inode, InodeId, InodeKind, MemFs, S_IFCHR, S_IFREG};
use memsim_core::kernel::{Kernel, KernelConfig, INIT_PID};
use memsim_core::mm::memory::PageStat;
use memsim_core::mm::vma::{SpecialMapping, VmFlags, Vma};
use memsim_core::mm::MmId;
use memsim_core::procfs::PageSource;

pub const RD: VmFlags = VmFlags::READ;
pub const WR: VmFlags = VmFlags::WRITE;
pub const EX: VmFlags = VmFlags::EXEC;
/// `mr mw me`: what every private mapping of a readable file or anonymous memory may become.
pub const MAY: VmFlags = VmFlags::MAYREAD.union(VmFlags::MAYWRITE).union(VmFlags::MAYEXEC);

/// A kernel with PID 1 and an empty address space on the given configuration.
pub fn kernel(cfg: KernelConfig) -> Kernel {
    Kernel::new(cfg, Box::new(MemFs::new()))
}

/// An inode as the model keeps it.
pub fn inode(kind: InodeKind, display: &str, dev: (u32, u32), ino: u64, size: u64) -> Arc<Inode> {
    let mode = match kind {
        InodeKind::DevZero => S_IFCHR | 0o666,
        _ => S_IFREG | 0o644,
    };
    Arc::new(Inode {
        id: InodeId(ino),
        kind,
        meta: FileMeta {
            path: display.to_string(),
            dev_major: dev.0,
            dev_minor: dev.1,
            ino,
            size,
            mode,
            rdev_major: 0,
            rdev_minor: 0,
            noexec: false,
            nosuid: false,
            uid: 0,
            gid: 0,
        },
        display_name: display.to_string(),
    })
}

/// An open file description of `inode`.
pub fn file(id: u64, inode: &Arc<Inode>, flags: u64) -> Arc<File> {
    Arc::new(File {
        id: FileId(id),
        inode: inode.clone(),
        flags,
    })
}

pub fn anon(start: u64, end: u64, flags: VmFlags) -> Vma {
    Vma::new_anon(VirtAddr(start), VirtAddr(end), flags)
}

pub fn file_vma(start: u64, end: u64, flags: VmFlags, f: &Arc<File>, pgoff: u64) -> Vma {
    let mut v = Vma::new_anon(VirtAddr(start), VirtAddr(end), flags);
    v.file = Some(f.clone());
    v.pgoff = pgoff;
    v
}

pub fn special(start: u64, end: u64, flags: VmFlags, s: SpecialMapping) -> Vma {
    let mut v = Vma::new_anon(VirtAddr(start), VirtAddr(end), flags);
    v.special = Some(s);
    v.pgoff = 0;
    v
}

/// A synthetic page table: the PTEs a test says are there, by virtual address.
#[derive(Default)]
pub struct FakePages {
    pub pages: BTreeMap<u64, PageStat>,
}

impl FakePages {
    /// `n` pages from `start`, each a copy of `proto` at its own address.
    pub fn add(&mut self, start: u64, n: u64, proto: PageStat) {
        for i in 0..n {
            let addr = start + i * 4096;
            self.pages.insert(
                addr,
                PageStat {
                    addr: VirtAddr(addr),
                    pfn: 0x1000 + (addr >> 12) % 0x10_0000,
                    ..proto
                },
            );
        }
    }
}

impl PageSource for FakePages {
    fn walk(&self, _mm: MmId, start: VirtAddr, end: VirtAddr, f: &mut dyn FnMut(&PageStat)) {
        for ps in self.pages.range(start.as_u64()..end.as_u64()).map(|(_, p)| p) {
            f(ps);
        }
    }
}

/// A present, clean, referenced page cache page mapped `mapcount` times.
pub fn file_page(mapcount: u32) -> PageStat {
    PageStat {
        present: true,
        young: true,
        mapcount,
        ..PageStat::default()
    }
}

/// A present, dirty, referenced anonymous page mapped `mapcount` times.
pub fn anon_page(mapcount: u32) -> PageStat {
    PageStat {
        present: true,
        writable: true,
        dirty: true,
        young: true,
        anon: true,
        mapcount,
        ..PageStat::default()
    }
}

pub fn pid1() -> memsim_core::Pid {
    INIT_PID
}

/// Compare `actual` with `tests/golden/<name>`. With `MEMSIM_BLESS=1` the file is (re)written instead; a
/// missing golden file is a failure, never silently created.
pub fn check_golden(name: &str, actual: &[u8]) {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "golden", name].iter().collect();
    if std::env::var("MEMSIM_BLESS").as_deref() == Ok("1") {
        std::fs::write(&path, actual).expect("write golden file");
        return;
    }
    let expected = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "golden file {} unreadable ({e}); run with MEMSIM_BLESS=1 to create it",
            path.display()
        )
    });
    if expected != actual {
        panic!(
            "{} differs from the model's output (MEMSIM_BLESS=1 regenerates it)\n--- expected\n{}\n--- actual\n{}",
            path.display(),
            String::from_utf8_lossy(&expected),
            String::from_utf8_lossy(actual)
        );
    }
}
