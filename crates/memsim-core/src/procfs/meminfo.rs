//! `/proc/meminfo` (`fs/proc/meminfo.c: meminfo_proc_show`, `mm/hugetlb.c: hugetlb_report_meminfo`): the
//! machine-wide memory counters, in 6.18's line order and format.
//!
//! Each line is a 16-byte label (name, colon, spaces) followed by the value right-aligned in 8 columns and
//! ` kB` (`show_val_kb`: `seq_put_decimal_ull_width(m, label, kb, 8)`), so a wider value simply pushes ` kB`
//! right. The HugePages_* counts are `%5lu` after a 19-byte label, without a unit.
//!
//! What the model knows exactly: MemTotal (`--ram`), MemFree (frames not allocated), the page cache (Cached,
//! Shmem), the LRU lists (Active/Inactive by type, Unevictable, Mlocked), Dirty, AnonPages, Mapped,
//! AnonHugePages, PageTables (every page-table frame, PGDs included, as `NR_PAGETABLE` counts them),
//! SwapTotal/SwapFree, CommitLimit and Committed_AS (overcommit accounting, `--overcommit`). Kernel-internal
//! memory (slab, kernel stacks, vmalloc, per-CPU) is outside the model: those lines print 0, except the
//! fixed architectural values (VmallocTotal, Hugepagesize). MemAvailable uses `si_mem_available`'s shape
//! without watermarks or reclaimable slab: free pages plus the page cache.

use std::fmt::Write as _;

use crate::arch::Arch;
use crate::kernel::Kernel;
use crate::phys::{LruList, PageFlags};

/// Append one `show_val_kb` line.
fn kb(out: &mut String, label: &str, kb: u64) {
    let _ = writeln!(out, "{:<16}{kb:>8} kB", format!("{label}:"));
}

impl Kernel {
    /// Render `/proc/meminfo`.
    pub fn meminfo(&self) -> Vec<u8> {
        let pages_kb = |n: u64| n << 2;
        let total = self.cfg.totalram_pages();
        let used = self.phys.nr_used();
        let free = total.saturating_sub(used);
        let (mut cached, mut shmem, mut dirty, mut anon, mut mapped, mut mlocked, mut pgtables, mut thp) =
            (0u64, 0u64, 0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
        for (_, pg) in self.phys.iter() {
            let f = pg.flags;
            if f.contains(PageFlags::BUDDY) || f.contains(PageFlags::ZERO) {
                continue;
            }
            if f.contains(PageFlags::PGTABLE) {
                pgtables += 1;
                continue;
            }
            if f.contains(PageFlags::ANON) {
                // NR_ANON_MAPPED: anonymous pages that are mapped.
                if pg.mapcount > 0 {
                    anon += 1;
                }
                if f.contains(PageFlags::PMD_MAPPED) {
                    thp += 1;
                }
            } else if pg.mapping != 0 {
                // Page-cache pages: NR_FILE_PAGES and NR_FILE_MAPPED count shmem too.
                cached += 1;
                if f.contains(PageFlags::SWAPBACKED) {
                    shmem += 1;
                }
                if pg.mapcount > 0 {
                    mapped += 1;
                }
            }
            if f.contains(PageFlags::DIRTY) && !f.contains(PageFlags::SWAPBACKED) {
                dirty += 1;
            }
            if f.contains(PageFlags::MLOCKED) {
                mlocked += 1;
            }
        }
        let lru = |l: LruList| self.phys.lru_len(l);
        let (ia, aa, ifl, af, unev) = (
            lru(LruList::InactiveAnon),
            lru(LruList::ActiveAnon),
            lru(LruList::InactiveFile),
            lru(LruList::ActiveFile),
            lru(LruList::Unevictable),
        );
        let swap = self.cfg.total_swap_pages;
        let mut s = String::with_capacity(1600);
        kb(&mut s, "MemTotal", pages_kb(total));
        kb(&mut s, "MemFree", pages_kb(free));
        kb(&mut s, "MemAvailable", pages_kb(free + cached - shmem.min(cached)));
        kb(&mut s, "Buffers", 0);
        // Cached excludes swap-cache pages (none without swap) and buffers.
        kb(&mut s, "Cached", pages_kb(cached));
        kb(&mut s, "SwapCached", 0);
        kb(&mut s, "Active", pages_kb(aa + af));
        kb(&mut s, "Inactive", pages_kb(ia + ifl));
        kb(&mut s, "Active(anon)", pages_kb(aa));
        kb(&mut s, "Inactive(anon)", pages_kb(ia));
        kb(&mut s, "Active(file)", pages_kb(af));
        kb(&mut s, "Inactive(file)", pages_kb(ifl));
        kb(&mut s, "Unevictable", pages_kb(unev));
        kb(&mut s, "Mlocked", pages_kb(mlocked));
        kb(&mut s, "SwapTotal", pages_kb(swap));
        kb(&mut s, "SwapFree", pages_kb(swap));
        kb(&mut s, "Zswap", 0);
        kb(&mut s, "Zswapped", 0);
        kb(&mut s, "Dirty", pages_kb(dirty));
        kb(&mut s, "Writeback", 0);
        kb(&mut s, "AnonPages", pages_kb(anon));
        kb(&mut s, "Mapped", pages_kb(mapped));
        kb(&mut s, "Shmem", pages_kb(shmem));
        kb(&mut s, "KReclaimable", 0);
        kb(&mut s, "Slab", 0);
        kb(&mut s, "SReclaimable", 0);
        kb(&mut s, "SUnreclaim", 0);
        kb(&mut s, "KernelStack", 0);
        kb(&mut s, "PageTables", pages_kb(pgtables));
        kb(&mut s, "SecPageTables", 0);
        kb(&mut s, "NFS_Unstable", 0);
        kb(&mut s, "Bounce", 0);
        kb(&mut s, "WritebackTmp", 0);
        kb(&mut s, "CommitLimit", pages_kb(self.commit_limit_pages()));
        kb(&mut s, "Committed_AS", pages_kb(self.committed_pages.max(0) as u64));
        // VMALLOC_END - VMALLOC_START: 32 TiB with 4-level paging, 12.5 PiB with 5-level; i386 depends on the
        // lowmem size (128 MiB of address space minus guards for a 3G/1G split with highmem).
        let vmalloc_total_kb: u64 = match self.cfg.arch {
            Arch::X86_64 => 34_359_738_367,
            Arch::X86_64La57 => 14_073_748_835_532_799,
            Arch::I386 => 122_880,
        };
        kb(&mut s, "VmallocTotal", vmalloc_total_kb);
        kb(&mut s, "VmallocUsed", 0);
        kb(&mut s, "VmallocChunk", 0);
        kb(&mut s, "Percpu", 0);
        if self.cfg.arch != Arch::I386 {
            kb(&mut s, "AnonHugePages", pages_kb(thp));
            kb(&mut s, "ShmemHugePages", 0);
            kb(&mut s, "ShmemPmdMapped", 0);
            kb(&mut s, "FileHugePages", 0);
            kb(&mut s, "FilePmdMapped", 0);
        }
        kb(&mut s, "Balloon", 0);
        // hugetlb_report_meminfo: an empty pool.
        for l in [
            "HugePages_Total:",
            "HugePages_Free:",
            "HugePages_Rsvd:",
            "HugePages_Surp:",
        ] {
            let _ = writeln!(s, "{l:<19}{:>5}", 0);
        }
        kb(
            &mut s,
            "Hugepagesize",
            if self.cfg.arch == Arch::I386 { 4096 } else { 2048 },
        );
        kb(&mut s, "Hugetlb", 0);
        s.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use crate::fs::MemFs;
    use crate::kernel::INIT_PID;
    use crate::uapi::*;
    use crate::{Kernel, KernelConfig};

    fn line(k: &Kernel, key: &str) -> String {
        let text = String::from_utf8(k.meminfo()).unwrap();
        text.lines()
            .find(|l| l.starts_with(&format!("{key}:")))
            .unwrap()
            .to_string()
    }

    #[test]
    fn format_matches_show_val_kb() {
        let k = Kernel::new(KernelConfig::default(), Box::new(MemFs::new()));
        assert_eq!(line(&k, "MemTotal"), "MemTotal:        8388608 kB");
        assert_eq!(line(&k, "VmallocTotal"), "VmallocTotal:   34359738367 kB");
        assert_eq!(line(&k, "HugePages_Total"), "HugePages_Total:       0");
        assert_eq!(line(&k, "Inactive(file)"), "Inactive(file):        0 kB");
        // 8 GiB, overcommit_ratio 50, no swap.
        assert_eq!(line(&k, "CommitLimit"), "CommitLimit:     4194304 kB");
    }

    #[test]
    fn commit_and_anon_pages_follow_the_model() {
        let mut k = Kernel::new(KernelConfig::default(), Box::new(MemFs::new()));
        let before = line(&k, "Committed_AS");
        let a = k
            .sys_mmap(
                INIT_PID,
                0,
                1 << 20,
                PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS,
                -1,
                0,
            )
            .unwrap();
        assert_eq!(before, "Committed_AS:          0 kB");
        assert_eq!(line(&k, "Committed_AS"), "Committed_AS:       1024 kB");
        k.poke(INIT_PID, a, b"x").unwrap();
        k.poke(INIT_PID, a + 4096, b"y").unwrap();
        assert_eq!(line(&k, "AnonPages"), "AnonPages:             8 kB");
        // A PTE table, a PMD table, a PUD table and the PGD.
        assert_eq!(line(&k, "PageTables"), "PageTables:           16 kB");
        k.sys_munmap(INIT_PID, a, 1 << 20).unwrap();
        assert_eq!(line(&k, "Committed_AS"), "Committed_AS:          0 kB");
        assert_eq!(line(&k, "AnonPages"), "AnonPages:             0 kB");
    }
}
