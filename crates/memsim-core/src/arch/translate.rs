//! `memsim translate`: build a scratch address space from explicit mappings and explain one translation step
//! by step, as the seed article's Figure 3 does (each level's index, the entry's physical address, its raw
//! value and flags, then the physical address or the page-fault error code).

use std::fmt::Write as _;

use crate::arch::paging::{hw_walk, HwAccess, PfError};
use crate::arch::pgtable::pte_alloc;
use crate::arch::pte::{pfn_mask, Pte, PteFlags};
use crate::arch::Arch;
use crate::mm::{Mm, MmId};
use crate::phys::PhysMem;

/// One `--map VADDR=PADDR[:FLAGS]`: a 4 KiB PTE for the page of `vaddr` holding the frame of `paddr`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MapSpec {
    pub vaddr: u64,
    pub paddr: u64,
    pub flags: PteFlags,
}

fn parse_num(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let r = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u64::from_str_radix(&h.replace('_', ""), 16)
    } else {
        t.replace('_', "").parse::<u64>()
    };
    r.map_err(|_| format!("invalid number `{t}` (use decimal or 0x-prefixed hex)"))
}

/// Parse an address argument (decimal or `0x` hex).
pub fn parse_addr(s: &str) -> Result<u64, String> {
    parse_num(s)
}

impl std::str::FromStr for MapSpec {
    type Err = String;
    /// `VADDR=PADDR[:FLAGS]`, FLAGS a comma list of `rw`, `ro`, `user`, `kernel`, `nx`, `x`, `pwt`, `pcd`,
    /// `pat`, `a`, `d`, `g`, `np` (not present). Default: present, user, writable.
    fn from_str(s: &str) -> Result<MapSpec, String> {
        let (v, rest) = s
            .split_once('=')
            .ok_or_else(|| format!("invalid mapping `{s}`: expected VADDR=PADDR[:FLAGS]"))?;
        let (p, flags) = match rest.split_once(':') {
            Some((p, f)) => (p, Some(f)),
            None => (rest, None),
        };
        let mut f = PteFlags::PRESENT | PteFlags::USER | PteFlags::RW;
        for w in flags.unwrap_or("").split(',').map(str::trim).filter(|w| !w.is_empty()) {
            match w.to_ascii_lowercase().as_str() {
                "rw" | "w" => f |= PteFlags::RW,
                "ro" | "r" => f -= PteFlags::RW,
                "user" | "u" => f |= PteFlags::USER,
                "kernel" | "supervisor" | "s" => f -= PteFlags::USER,
                "nx" => f |= PteFlags::NX,
                "x" | "exec" => f -= PteFlags::NX,
                "pwt" => f |= PteFlags::PWT,
                "pcd" => f |= PteFlags::PCD,
                "pat" => f |= PteFlags::PAT,
                "a" | "accessed" => f |= PteFlags::ACCESSED,
                "d" | "dirty" => f |= PteFlags::DIRTY,
                "g" | "global" => f |= PteFlags::GLOBAL,
                "np" | "notpresent" => f -= PteFlags::PRESENT,
                other => return Err(format!("unknown PTE flag `{other}` in `{s}`")),
            }
        }
        Ok(MapSpec {
            vaddr: parse_num(v)?,
            paddr: parse_num(p)?,
            flags: f,
        })
    }
}

/// The kind of access to explain.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct AccessSpec {
    pub write: bool,
    pub exec: bool,
    pub kernel: bool,
}

fn hex(arch: Arch, v: u64) -> String {
    if arch.is_64bit() {
        format!("{v:#018x}")
    } else {
        format!("{v:#010x}")
    }
}

/// Build the scratch address space and explain the translation of `addr`. `Ok((text, translated))`; an
/// `Err` is a usage error (bad address for the architecture, overlapping mappings).
pub fn explain(arch: Arch, maps: &[MapSpec], addr: u64, acc: AccessSpec) -> Result<(String, bool), String> {
    let top = if arch.is_64bit() {
        crate::arch::pgtable::root_span(arch)
    } else {
        1 << 32
    };
    let in_range = |a: u64| a < top || (arch.is_64bit() && a >= top.wrapping_neg());
    if !in_range(addr) {
        return Err(format!("address {addr:#x} is not a canonical {arch} address"));
    }
    let max_pa = pfn_mask(arch) | 0xfff;
    // Enough frames for any number of tables; metadata grows lazily.
    let mut phys = PhysMem::new(1 << 24);
    let mut mm = Mm::new(MmId(0), arch.task_size_max(), 0, 0);
    let width = arch.pte_bytes() as usize;
    let mut seen = std::collections::BTreeSet::new();
    for m in maps {
        if !in_range(m.vaddr) {
            return Err(format!(
                "mapping address {:#x} is not a canonical {arch} address",
                m.vaddr
            ));
        }
        if m.paddr & !max_pa != 0 {
            return Err(format!("physical address {:#x} does not fit a {arch} PTE", m.paddr));
        }
        if !seen.insert(m.vaddr >> 12) {
            return Err(format!("page {:#x} is mapped twice", m.vaddr & !0xfff));
        }
        // The upper half of a 64-bit address space is indexed by its low 48/57 bits.
        let slot = pte_alloc(&mut phys, arch, &mut mm, m.vaddr & (top - 1)).ok_or("out of scratch memory")?;
        let mut flags = m.flags;
        if !arch.is_64bit() {
            flags -= PteFlags::NX;
        }
        phys.write_entry(
            slot.table,
            slot.idx,
            width,
            Pte::new(arch, m.paddr >> 12, flags.bits()).0,
        );
    }
    let root = match mm.pgd {
        Some(r) => r,
        None => crate::arch::pgtable::pgd_alloc(&mut phys, &mut mm).ok_or("out of scratch memory")?,
    };
    let hw = HwAccess {
        write: acc.write,
        exec: acc.exec,
        user: !acc.kernel,
    };
    let mut steps = Vec::new();
    let res = hw_walk(&mut phys, arch, root, addr & (top - 1), hw, Some(&mut steps));

    let mut out = String::new();
    let kind = if acc.exec {
        "instruction fetch"
    } else if acc.write {
        "write"
    } else {
        "read"
    };
    let mode = if acc.kernel { "kernel" } else { "user" };
    let paging = match arch {
        Arch::X86_64 => "4-level paging",
        Arch::X86_64La57 => "5-level paging",
        Arch::I386 => "2-level paging (non-PAE)",
    };
    let _ = writeln!(out, "{arch}, {paging}: {mode} {kind} at {}", hex(arch, addr));
    let _ = writeln!(
        out,
        "CR3 = {} (the {} table)",
        hex(arch, root.0 << 12),
        arch.paging_levels()[0].name()
    );
    let levels = arch.paging_levels();
    let mut split = Vec::new();
    for &l in levels {
        let bits = if arch.is_64bit() { 9 } else { 10 };
        let idx = arch.table_index(l, addr);
        split.push(format!("{} index {idx:#x} ({bits} bits)", l.name()));
    }
    let _ = writeln!(
        out,
        "split: {} | offset {:#x} (12 bits)",
        split.join(" | "),
        addr & 0xfff
    );
    for s in &steps {
        let e = s.entry;
        let leaf4k = s.level == crate::arch::paging::Level::Pte;
        let _ = write!(
            out,
            "{:<3} [{:#05x}] at {}: {}  {}",
            s.level.name(),
            s.index,
            hex(arch, s.entry_addr.0),
            hex(arch, e.0),
            e.flags().describe(arch, leaf4k),
        );
        if e.hw_present() {
            if s.leaf {
                let _ = write!(out, "  -> frame {:#x}", e.pfn(arch));
            } else {
                let _ = write!(
                    out,
                    "  -> {} at {}",
                    arch.hw_table_name(levels[levels.iter().position(|&l| l == s.level).unwrap_or(0) + 1]),
                    hex(arch, e.pfn(arch) << 12)
                );
            }
        }
        out.push('\n');
    }
    match res {
        Ok(t) => {
            let off_mask = t.page_size - 1;
            let frame = t.phys.0 & !off_mask;
            let _ = writeln!(
                out,
                "physical address = {} | offset {:#x} = {}",
                hex(arch, frame),
                addr & off_mask,
                hex(arch, t.phys.0)
            );
            let _ = writeln!(
                out,
                "leaf entry after the access: {} ({})",
                hex(arch, t.leaf.0),
                t.leaf.flags().describe(arch, t.page_size == 4096)
            );
            Ok((out, true))
        }
        Err(code) => {
            let _ = writeln!(out, "page fault: error code {:#x} ({})", code.bits(), code.describe());
            if !code.contains(PfError::PROT) {
                let _ = writeln!(out, "reason: a not-present entry");
            } else if code.contains(PfError::RSVD) {
                let _ = writeln!(out, "reason: a reserved bit is set");
            } else {
                let _ = writeln!(
                    out,
                    "reason: the access is not permitted by the entries' U/S, R/W or NX bits"
                );
            }
            Ok((out, false))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read() -> AccessSpec {
        AccessSpec {
            write: false,
            exec: false,
            kernel: false,
        }
    }

    #[test]
    fn seed_figure3_i386() {
        // The seed article: the PTE for page 0x1234F holds frame 0xAAAAA; 0x1234FFFF becomes 0xAAAAAFFF.
        let m: MapSpec = "0x1234F000=0xAAAAA000".parse().unwrap();
        let (text, ok) = explain(Arch::I386, &[m], 0x1234_ffff, read()).unwrap();
        assert!(ok);
        let expected = "\
i386, 2-level paging (non-PAE): user read at 0x1234ffff
CR3 = 0x00001000 (the PGD table)
split: PGD index 0x48 (10 bits) | PTE index 0x34f (10 bits) | offset 0xfff (12 bits)
PGD [0x048] at 0x00001120: 0x00002067  P RW U A D  -> page table at 0x00002000
PTE [0x34f] at 0x00002d3c: 0xaaaaa007  P RW U  -> frame 0xaaaaa
physical address = 0xaaaaa000 | offset 0xfff = 0xaaaaafff
leaf entry after the access: 0xaaaaa027 (P RW U A)
";
        assert_eq!(text, expected);
    }

    #[test]
    fn x86_64_write_sets_dirty_and_nx_faults_exec() {
        let m: MapSpec = "0x7fffdead0000=0x12345000:rw,user,nx".parse().unwrap();
        let w = AccessSpec {
            write: true,
            exec: false,
            kernel: false,
        };
        let (text, ok) = explain(Arch::X86_64, &[m], 0x7fff_dead_0123, w).unwrap();
        assert!(ok, "{text}");
        let expected = "\
x86_64, 4-level paging: user write at 0x00007fffdead0123
CR3 = 0x0000000000001000 (the PGD table)
split: PGD index 0xff (9 bits) | PUD index 0x1ff (9 bits) | PMD index 0xf5 (9 bits) | PTE index 0xd0 (9 bits) | offset 0x123 (12 bits)
PGD [0x0ff] at 0x00000000000017f8: 0x0000000000002067  P RW U A D  -> page-directory-pointer table at 0x0000000000002000
PUD [0x1ff] at 0x0000000000002ff8: 0x0000000000003067  P RW U A D  -> page directory at 0x0000000000003000
PMD [0x0f5] at 0x00000000000037a8: 0x0000000000004067  P RW U A D  -> page table at 0x0000000000004000
PTE [0x0d0] at 0x0000000000004680: 0x8000000012345007  P RW U NX  -> frame 0x12345
physical address = 0x0000000012345000 | offset 0x123 = 0x0000000012345123
leaf entry after the access: 0x8000000012345067 (P RW U A D NX)
";
        assert_eq!(text, expected);
        let x = AccessSpec {
            write: false,
            exec: true,
            kernel: false,
        };
        let (text, ok) = explain(Arch::X86_64, &[m], 0x7fff_dead_0123, x).unwrap();
        assert!(!ok);
        assert!(
            text.contains("page fault: error code 0x15 (PROT|READ|USER|INSTR)"),
            "{text}"
        );
    }

    #[test]
    fn faults_not_present_read_only_and_supervisor() {
        let ro: MapSpec = "0x1000=0x5000:ro".parse().unwrap();
        let k: MapSpec = "0x2000=0x6000:kernel".parse().unwrap();
        let w = AccessSpec {
            write: true,
            exec: false,
            kernel: false,
        };
        let (t, ok) = explain(Arch::X86_64, &[ro, k], 0x1000, w).unwrap();
        assert!(!ok && t.contains("error code 0x7 (PROT|WRITE|USER)"), "{t}");
        let (t, ok) = explain(Arch::X86_64, &[ro, k], 0x2000, read()).unwrap();
        assert!(!ok && t.contains("error code 0x5 (PROT|READ|USER)"), "{t}");
        let kr = AccessSpec {
            write: false,
            exec: false,
            kernel: true,
        };
        let (_, ok) = explain(Arch::X86_64, &[ro, k], 0x2000, kr).unwrap();
        assert!(ok);
        let (t, ok) = explain(Arch::X86_64, &[ro, k], 0x40_0000, read()).unwrap();
        assert!(!ok && t.contains("error code 0x4 (NOT_PRESENT|READ|USER)"), "{t}");
        // i386 has no NX: an instruction fetch is checked like a read and reports no I/D bit.
        let (t, ok) = explain(Arch::I386, &[ro], 0x3000, AccessSpec { exec: true, ..read() }).unwrap();
        assert!(!ok && t.contains("error code 0x4 (NOT_PRESENT|READ|USER)"), "{t}");
        let (_, ok) = explain(Arch::I386, &[ro], 0x1000, AccessSpec { exec: true, ..read() }).unwrap();
        assert!(ok);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!("0x1000".parse::<MapSpec>().is_err());
        assert!("0x1000=zz".parse::<MapSpec>().is_err());
        assert!("0x1000=0x2000:bogus".parse::<MapSpec>().is_err());
        let m: MapSpec = "0x1000=0x2000".parse().unwrap();
        assert!(explain(Arch::I386, &[m], 1 << 40, read()).is_err());
        assert!(explain(Arch::X86_64, &[m, m], 0x1000, read()).is_err());
        let big: MapSpec = "0x1000=0x100000000".parse().unwrap();
        assert!(explain(Arch::I386, &[big], 0x1000, read()).is_err());
        // The la57 root covers 57 bits.
        let hi: MapSpec = "0x00ff000000000000=0x2000".parse().unwrap();
        let (t, ok) = explain(Arch::X86_64La57, &[hi], 0x00ff_0000_0000_0010, read()).unwrap();
        assert!(ok, "{t}");
        assert!(t.contains("P4D"), "{t}");
    }
}
