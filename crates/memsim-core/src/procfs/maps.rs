//! `/proc/PID/maps` (`fs/proc/task_mmu.c`: `show_map_vma`, `show_vma_header_prefix`, `get_vma_name`).
//!
//! One line per VMA in address order, then the `[vsyscall]` gate on 64-bit machines. The prefix
//! `start-end perms offset dev inode ` is followed, for named VMAs, by spaces up to column
//! `25 + sizeof(void *) * 6 - 1` (72 on 64-bit kernels, 48 on a native 32-bit kernel) and one more space.

use std::io::Write;

use crate::addr::PAGE_SHIFT;
use crate::arch::Arch;
use crate::mm::vma::{VmFlags, Vma};
use crate::mm::Mm;
use crate::procfs::{gate_vma, proc_vmas, ProcVma};

/// The name a VMA shows in maps (`get_vma_name`'s three outputs: a path, a format with a name, or a name).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum VmaName<'a> {
    /// A file path (`d_path`), printed with `\n` escaped as `\012`.
    Path(&'a str),
    /// `[anon:NAME]` or `[anon_shmem:NAME]`: the prefix before the name.
    Anon { prefix: &'static str, name: &'a str },
    /// A fixed name: `[heap]`, `[stack]`, `[vdso]`, `[vsyscall]`, ...
    Plain(&'a str),
}

/// `get_vma_name` (6.18): the first rule that matches names the VMA.
pub fn get_vma_name<'a>(mm: &Mm, vma: &'a Vma, is_gate: bool) -> Option<VmaName<'a>> {
    // The gate has no vm_mm, hence no anon name; its vm_ops->name is gate_vma_name.
    if is_gate {
        return Some(VmaName::Plain("[vsyscall]"));
    }
    let anon_name = vma.anon_name.as_deref();
    if let Some(file) = &vma.file {
        return Some(match anon_name {
            Some(name) => VmaName::Anon {
                prefix: "[anon_shmem:",
                name,
            },
            None => VmaName::Path(&file.inode.display_name),
        });
    }
    if let Some(special) = vma.special {
        return Some(VmaName::Plain(special.name()));
    }
    // include/linux/mm.h: vma_is_initial_heap — any VMA overlapping [start_brk, brk).
    if vma.start.as_u64() < mm.brk && vma.end.as_u64() > mm.start_brk {
        return Some(VmaName::Plain("[heap]"));
    }
    // include/linux/mm.h: vma_is_initial_stack — both ends inclusive.
    if vma.start.as_u64() <= mm.start_stack && vma.end.as_u64() >= mm.start_stack {
        return Some(VmaName::Plain("[stack]"));
    }
    anon_name.map(|name| VmaName::Anon { prefix: "[anon:", name })
}

/// `show_vma_header_prefix`: writes `start-end perms offset MAJ:MIN inode ` and returns the pad target (the
/// absolute buffer position `seq_pad` fills up to).
pub(crate) fn show_vma_header_prefix(
    out: &mut Vec<u8>,
    arch: Arch,
    range: (u64, u64),
    flags: VmFlags,
    offset: u64,
    dev: (u32, u32),
    ino: u64,
) -> usize {
    // seq_setwidth(m, 25 + sizeof(void *) * 6 - 1): relative to where this line starts.
    let pad_until = out.len() + arch.maps_name_column() - 1;
    let _ = write!(
        out,
        "{:08x}-{:08x} {}{}{}{} {:08x} {:02x}:{:02x} {} ",
        range.0,
        range.1,
        if flags.contains(VmFlags::READ) { 'r' } else { '-' },
        if flags.contains(VmFlags::WRITE) { 'w' } else { '-' },
        if flags.contains(VmFlags::EXEC) { 'x' } else { '-' },
        // The 4th column follows VM_MAYSHARE, not VM_SHARED: a shared mapping of a read-only file is `r--s`.
        if flags.contains(VmFlags::MAYSHARE) { 's' } else { 'p' },
        offset,
        dev.0,
        dev.1,
        ino
    );
    pad_until
}

/// `seq_pad(m, ' ')`: spaces up to the pad target, then one more.
pub(crate) fn seq_pad(out: &mut Vec<u8>, pad_until: usize) {
    if out.len() < pad_until {
        out.resize(pad_until, b' ');
    }
    out.push(b' ');
}

/// `seq_path(m, path, "\n")` via `mangle_path`: only the characters in the escape set are written as `\ooo`.
pub(crate) fn put_escaped_path(out: &mut Vec<u8>, path: &str) {
    for &b in path.as_bytes() {
        if b == b'\n' {
            out.extend_from_slice(b"\\012");
        } else {
            out.push(b);
        }
    }
}

/// The device and inode maps shows for a VMA, and its file offset in bytes: all zero without a file.
pub(crate) fn vma_dev_ino_offset(vma: &Vma) -> ((u32, u32), u64, u64) {
    match &vma.file {
        Some(f) => (
            (f.inode.meta.dev_major, f.inode.meta.dev_minor),
            f.inode.meta.ino,
            vma.pgoff << PAGE_SHIFT,
        ),
        None => ((0, 0), 0, 0),
    }
}

/// `show_map_vma`: one complete maps line.
pub(crate) fn show_map_vma(out: &mut Vec<u8>, arch: Arch, mm: &Mm, pv: ProcVma<'_>) {
    let vma = pv.vma;
    let (dev, ino, offset) = vma_dev_ino_offset(vma);
    let pad = show_vma_header_prefix(
        out,
        arch,
        (vma.start.as_u64(), vma.end.as_u64()),
        vma.flags,
        offset,
        dev,
        ino,
    );
    match get_vma_name(mm, vma, pv.is_gate) {
        Some(VmaName::Path(p)) => {
            seq_pad(out, pad);
            put_escaped_path(out, p);
        }
        Some(VmaName::Anon { prefix, name }) => {
            seq_pad(out, pad);
            out.extend_from_slice(prefix.as_bytes());
            out.extend_from_slice(name.as_bytes());
            out.push(b']');
        }
        Some(VmaName::Plain(name)) => {
            seq_pad(out, pad);
            out.extend_from_slice(name.as_bytes());
        }
        None => {}
    }
    out.push(b'\n');
}

/// The whole of `/proc/PID/maps` for an address space (empty without one).
pub fn render(arch: Arch, mm: Option<&Mm>) -> Vec<u8> {
    let Some(mm) = mm else { return Vec::new() };
    let gate = gate_vma(arch);
    let mut out = Vec::with_capacity(mm.vmas.len() * 96 + 96);
    for pv in proc_vmas(mm, gate.as_ref()) {
        show_map_vma(&mut out, arch, mm, pv);
    }
    out
}

/// The maps line of one VMA of `mm` (without the gate logic), for callers that compare single lines.
pub fn render_vma_line(arch: Arch, mm: &Mm, vma: &Vma) -> Vec<u8> {
    let mut out = Vec::with_capacity(96);
    show_map_vma(&mut out, arch, mm, ProcVma { vma, is_gate: false });
    out
}
