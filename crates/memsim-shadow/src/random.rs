//! Seeded random scenarios for the differential test: sequences of mmap, munmap, mprotect, mremap, madvise,
//! mlock and accesses over a few dozen pages of the window, where VMAs split, merge and fault into each
//! other in ways no hand-written case thinks of. The same seed always gives the same text.
//!
//! Accesses are aimed at pages a naive shadow of the address space believes mapped and accessible, so most
//! scenarios run to their end; the shadow forgets any page whose fate is uncertain (a call that may fail),
//! which only makes it more careful. A scenario that still faults ends there, as any scenario does.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::window::WINDOW_START;

/// Pages of the window the random scenarios use.
const PAGES: u64 = 24;
/// Pages of the data file (`tests/cases/data/pages.txt`).
const FILE_PAGES: u64 = 17;

/// xorshift64*: small, seeded, and the same everywhere.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    /// True with probability `percent`%.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// What the shadow believes about a page that is surely mapped.
#[derive(Clone, Copy, Debug)]
struct Page {
    read: bool,
    write: bool,
    /// The file page it maps, for file mappings (pages past the end raise SIGBUS).
    file_page: Option<u64>,
}

const PROTS: &[(&str, bool, bool)] = &[
    ("PROT_NONE", false, false),
    ("PROT_READ", true, false),
    ("PROT_READ|PROT_WRITE", true, true),
    ("PROT_READ|PROT_EXEC", true, false),
    ("PROT_READ|PROT_WRITE|PROT_EXEC", true, true),
    ("PROT_WRITE", true, true),
];

const ADVICE: &[&str] = &[
    "MADV_NORMAL",
    "MADV_RANDOM",
    "MADV_SEQUENTIAL",
    "MADV_WILLNEED",
    "MADV_DONTNEED",
    "MADV_FREE",
    "MADV_DONTFORK",
    "MADV_DOFORK",
    "MADV_WIPEONFORK",
    "MADV_KEEPONFORK",
    "MADV_DONTDUMP",
    "MADV_DODUMP",
    "MADV_POPULATE_READ",
    "MADV_POPULATE_WRITE",
    "MADV_COLD",
    "MADV_PAGEOUT",
];

/// Odd seeds work across the 2 MiB boundary at 0x100200000 (one page table ends there: fault-around stops
/// at it), even seeds at the window's start.
fn base(seed: u64) -> u64 {
    if seed % 2 == 1 {
        WINDOW_START + 0x200000 - ((PAGES / 2) << 12)
    } else {
        WINDOW_START
    }
}

/// One random scenario of about `nops` lines. `file` is the path of the data file to map.
pub fn scenario(seed: u64, nops: usize, file: &str) -> String {
    let mut r = Rng::new(seed);
    let region = base(seed);
    let addr = |page: u64| region + (page << 12);
    let mut shadow: BTreeMap<u64, Page> = BTreeMap::new();
    let mut s = String::new();
    let _ = writeln!(s, "# random scenario, seed {seed}");
    let _ = writeln!(s, "openat(AT_FDCWD, \"{file}\", O_RDONLY) = 3");
    let _ = writeln!(s, "openat(AT_FDCWD, \"/dev/zero\", O_RDWR) = 4");
    for _ in 0..nops {
        let first = r.below(PAGES);
        let len = 1 + r.below(6.min(PAGES - first));
        let range = first..first + len;
        match r.below(100) {
            0..=24 => {
                let &(prot, read, write) = r.pick(PROTS);
                let shared = r.chance(20);
                let mut flags = String::from(if shared { "MAP_SHARED" } else { "MAP_PRIVATE" });
                // MAP_FIXED_NOREPLACE may fail (EEXIST), and a stack's growth may be refused: the shadow
                // does not count on either.
                let noreplace = r.chance(15);
                let growsdown = !shared && r.chance(8);
                flags.push_str(if noreplace {
                    "|MAP_ANONYMOUS|MAP_FIXED_NOREPLACE"
                } else {
                    "|MAP_ANONYMOUS|MAP_FIXED"
                });
                if growsdown {
                    flags.push_str("|MAP_GROWSDOWN");
                }
                for (extra, p) in [("|MAP_NORESERVE", 10), ("|MAP_POPULATE", 10), ("|MAP_LOCKED", 5)] {
                    if r.chance(p) {
                        flags.push_str(extra);
                    }
                }
                // Anonymous memory, or /dev/zero (descriptor 4): private keeps the device as the file,
                // shared is a shmem object.
                let fd = if r.chance(15) { 4 } else { -1 };
                let flags = if fd == 4 {
                    flags.replace("|MAP_ANONYMOUS", "")
                } else {
                    flags
                };
                let _ = writeln!(
                    s,
                    "mmap({:#x}, {}, {prot}, {flags}, {fd}, 0) = ?",
                    addr(first),
                    len << 12
                );
                for p in range {
                    if noreplace {
                        shadow.remove(&p);
                    } else {
                        shadow.insert(
                            p,
                            Page {
                                read,
                                write,
                                file_page: None,
                            },
                        );
                    }
                }
                if growsdown && read && first >= 2 && r.chance(50) {
                    // Touch below the stack: it grows, unless the guard gap forbids it (then the run ends).
                    let below = first - 1 - r.below(2);
                    let _ = writeln!(s, " {} {:x},8", if write { "S" } else { "L" }, addr(below) + 0xff0);
                }
            }
            25..=34 => {
                let off = r.below(FILE_PAGES + 2);
                let (kind, prot, write) = match r.below(3) {
                    0 => ("MAP_SHARED", "PROT_READ", false),
                    1 => ("MAP_PRIVATE", "PROT_READ", false),
                    _ => ("MAP_PRIVATE", "PROT_READ|PROT_WRITE", true),
                };
                let _ = writeln!(
                    s,
                    "mmap({:#x}, {}, {prot}, {kind}|MAP_FIXED, 3, {:#x}) = ?",
                    addr(first),
                    len << 12,
                    off << 12
                );
                for (i, p) in range.enumerate() {
                    shadow.insert(
                        p,
                        Page {
                            read: true,
                            write,
                            file_page: Some(off + i as u64),
                        },
                    );
                }
            }
            35..=42 => {
                let _ = writeln!(s, "munmap({:#x}, {}) = ?", addr(first), len << 12);
                for p in range {
                    shadow.remove(&p);
                }
            }
            43..=55 => {
                let &(prot, read, write) = r.pick(PROTS);
                let _ = writeln!(s, "mprotect({:#x}, {}, {prot}) = ?", addr(first), len << 12);
                // It may fail part way (holes, a shared read-only file): forget what it touched unless it
                // surely succeeds everywhere.
                let sure = range
                    .clone()
                    .all(|p| shadow.get(&p).is_some_and(|pg| pg.write || !write));
                for p in range {
                    if sure {
                        if let Some(pg) = shadow.get_mut(&p) {
                            pg.read = read;
                            pg.write = write;
                        }
                    } else {
                        shadow.remove(&p);
                    }
                }
            }
            56 => {
                let flags = *r.pick(&["MCL_FUTURE", "MCL_FUTURE|MCL_ONFAULT", "MCL_CURRENT|MCL_ONFAULT"]);
                if r.chance(50) {
                    let _ = writeln!(s, "mlockall({flags}) = ?");
                } else {
                    let _ = writeln!(s, "munlockall() = ?");
                }
            }
            57..=68 => {
                let advice = r.pick(ADVICE);
                let _ = writeln!(s, "madvise({:#x}, {}, {advice}) = ?", addr(first), len << 12);
            }
            69..=75 => {
                match r.below(3) {
                    0 => writeln!(s, "mlock({:#x}, {}) = ?", addr(first), len << 12),
                    1 => writeln!(s, "mlock2({:#x}, {}, MLOCK_ONFAULT) = ?", addr(first), len << 12),
                    _ => writeln!(s, "munlock({:#x}, {}) = ?", addr(first), len << 12),
                }
                .ok();
            }
            76..=83 => {
                let new_len = 1 + r.below(6);
                if r.chance(50) {
                    // Resize in place (may fail): the shadow forgets the whole span.
                    let _ = writeln!(s, "mremap({:#x}, {}, {}, 0) = ?", addr(first), len << 12, new_len << 12);
                    for p in first..(first + len.max(new_len)) {
                        shadow.remove(&p);
                    }
                } else {
                    let dest = r.below(PAGES);
                    let dontunmap = r.chance(20);
                    let (flags, new_len) = if dontunmap {
                        ("MREMAP_MAYMOVE|MREMAP_FIXED|MREMAP_DONTUNMAP", len)
                    } else {
                        ("MREMAP_MAYMOVE|MREMAP_FIXED", new_len)
                    };
                    let _ = writeln!(
                        s,
                        "mremap({:#x}, {}, {}, {flags}, {:#x}) = ?",
                        addr(first),
                        len << 12,
                        new_len << 12,
                        addr(dest)
                    );
                    for p in (first..first + len).chain(dest..dest + new_len) {
                        shadow.remove(&p);
                    }
                }
            }
            84..=95 => {
                // An access the shadow believes safe, if there is one.
                let safe: Vec<(u64, Page)> = shadow
                    .iter()
                    .filter(|(_, pg)| pg.read && pg.file_page.is_none_or(|f| f < FILE_PAGES))
                    .map(|(&p, &pg)| (p, pg))
                    .collect();
                if safe.is_empty() {
                    continue;
                }
                let &(p, pg) = r.pick(&safe);
                let at = addr(p) + r.below(4096 - 8);
                // Contents too: what a poke wrote must survive splits, merges, moves and COW on both sides.
                match r.below(if pg.write { 5 } else { 2 }) {
                    0 => writeln!(s, " L {at:x},8"),
                    1 => writeln!(s, "peek({at:#x}, 8) = ?"),
                    2 => writeln!(s, " S {at:x},8"),
                    3 => writeln!(s, " M {at:x},8"),
                    _ => writeln!(s, "poke({at:#x}, \"{}\") = ?", r.below(1 << 40)),
                }
                .ok();
            }
            _ => {
                let _ = writeln!(s, "cat /proc/self/smaps");
            }
        }
    }
    let _ = writeln!(s, "mincore({:#x}, {}, NULL) = ?", addr(0), PAGES << 12);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_scenario() {
        let a = scenario(7, 30, "/x");
        assert_eq!(a, scenario(7, 30, "/x"));
        assert_ne!(a, scenario(8, 30, "/x"));
        assert!(a.lines().count() > 10, "{a}");
        assert!(memsim_scenario::parse_str("r.scn", &a).is_ok(), "{a}");
    }
}
