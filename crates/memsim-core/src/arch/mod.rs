//! The machine architectures memsim models and their address-space constants
//! (`arch/x86/include/asm/page_64_types.h`, `page_32_types.h`, `processor.h`, `elf.h`, `arch/x86/mm/mmap.c`).
//!
//! * `x86_64`: 4-level paging (PGD→PUD→PMD→PTE, 512 8-byte entries each), 47-bit user space.
//! * `x86_64-la57`: 5-level paging (P4D added); the default mmap window stays 47-bit, hints may go to 56 bits.
//! * `i386`: a native 32-bit kernel, 2-level non-PAE paging (1024 4-byte entries), 3 GiB/1 GiB split.

pub mod aslr;
pub mod paging;
pub mod pgtable;
pub mod pte;
pub mod translate;
pub mod vdso;

use std::fmt;
use std::str::FromStr;

/// The simulated machine's architecture (`--arch`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash, Default)]
pub enum Arch {
    #[default]
    X86_64,
    X86_64La57,
    I386,
}

impl Arch {
    /// The `--arch` spelling.
    pub const fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::X86_64La57 => "x86_64-la57",
            Arch::I386 => "i386",
        }
    }

    pub const fn is_64bit(self) -> bool {
        !matches!(self, Arch::I386)
    }

    /// Number of page-table levels the MMU walks.
    pub const fn levels(self) -> u32 {
        match self {
            Arch::X86_64 => 4,
            Arch::X86_64La57 => 5,
            Arch::I386 => 2,
        }
    }

    /// Bytes per page-table entry.
    pub const fn pte_bytes(self) -> u64 {
        if self.is_64bit() {
            8
        } else {
            4
        }
    }

    /// `TASK_SIZE_MAX`: the highest user address + 1 (`arch/x86/include/asm/page_64_types.h`).
    pub const fn task_size_max(self) -> u64 {
        match self {
            Arch::X86_64 => 0x7fff_ffff_f000,
            Arch::X86_64La57 => 0x00ff_ffff_ffff_f000,
            Arch::I386 => 0xc000_0000,
        }
    }

    /// `DEFAULT_MAP_WINDOW`: the top of the region searched without a high hint, and `STACK_TOP`.
    pub const fn default_map_window(self) -> u64 {
        match self {
            Arch::X86_64 | Arch::X86_64La57 => 0x7fff_ffff_f000,
            Arch::I386 => 0xc000_0000,
        }
    }

    /// `STACK_TOP`.
    pub const fn stack_top(self) -> u64 {
        self.default_map_window()
    }

    /// `mmap_rnd_bits` default (`vm.mmap_rnd_bits`).
    pub const fn mmap_rnd_bits(self) -> u32 {
        if self.is_64bit() {
            28
        } else {
            8
        }
    }

    /// `stack_maxrandom_size` in bytes when `PF_RANDOMIZE` (`arch/x86/mm/mmap.c`).
    pub const fn stack_maxrandom_size(self) -> u64 {
        if self.is_64bit() {
            0x3f_ffff << 12
        } else {
            0x7ff << 12
        }
    }

    /// brk randomization range (`arch_randomize_brk`).
    pub const fn brk_rnd_range(self) -> u64 {
        if self.is_64bit() {
            1 << 30
        } else {
            32 << 20
        }
    }

    /// `ELF_ET_DYN_BASE`.
    pub const fn elf_et_dyn_base(self) -> u64 {
        if self.is_64bit() {
            0x5555_5555_4aaa
        } else {
            0x0040_0000
        }
    }

    /// `TASK_UNMAPPED_BASE` for the legacy (bottom-up) layout: `PAGE_ALIGN(TASK_SIZE / 3)`.
    pub const fn legacy_mmap_base(self) -> u64 {
        crate::addr::page_align(self.default_map_window() / 3)
    }

    /// Whether the `[vsyscall]` gate VMA exists (64-bit tasks only).
    pub const fn has_gate_vma(self) -> bool {
        self.is_64bit()
    }

    /// The `[vsyscall]` gate VMA range.
    pub const GATE_START: u64 = 0xffff_ffff_ff60_0000;
    pub const GATE_END: u64 = 0xffff_ffff_ff60_1000;

    /// The column at which `/proc/PID/maps` starts a name: `25 + sizeof(void *) * 6 - 1`, plus one space.
    pub const fn maps_name_column(self) -> usize {
        if self.is_64bit() {
            73
        } else {
            49
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Arch {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "x86_64" | "x86-64" | "amd64" => Ok(Arch::X86_64),
            "x86_64-la57" | "la57" => Ok(Arch::X86_64La57),
            "i386" | "i686" | "x86" => Ok(Arch::I386),
            _ => Err(format!(
                "unknown architecture `{s}` (expected x86_64, x86_64-la57 or i386)"
            )),
        }
    }
}
