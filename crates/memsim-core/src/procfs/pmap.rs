//! `pmap PID`, `pmap -x PID` and `pmap -d PID` as procps-ng 4.0.2 prints them (`src/pmap.c: one_proc`,
//! `mapping_name`), computed from the same data `/proc/PID/maps` and `smaps` render.
//!
//! pmap names a mapping from its maps line: the text after the last `/` of the line (the basename of the path,
//! including any ` (deleted)`), `  [ shmid=0x.. ]` for SysV segments on the shmem device, and otherwise
//! `  [ stack ]` for the mapping holding `start_stack` or `  [ anon ]` (so `[heap]`, `[vdso]` and `[vsyscall]`
//! are all anon). Totals include the `[vsyscall]` gate. The header uses the task's comm as its command line.
//! For `--arch i386` the output is that of a 32-bit pmap: 8-digit addresses and narrower columns.

use std::io::Write;

use crate::errno::Errno;
use crate::kernel::Kernel;
use crate::mm::vma::VmFlags;
use crate::mm::Mm;
use crate::procfs::maps::{show_map_vma, vma_dev_ino_offset};
use crate::procfs::smaps::MemSizeStats;
use crate::procfs::{gate_vma, proc_vmas, PageSource, ProcVma};
use crate::task::Pid;

/// Which pmap output.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash, Default)]
pub enum PmapFormat {
    /// `pmap PID`: address, size, mode, mapping.
    #[default]
    Default,
    /// `pmap -x PID`: adds RSS and Dirty from smaps.
    Extended,
    /// `pmap -d PID`: adds offset and device, and a mapped/writeable/shared footer.
    Device,
}

impl std::str::FromStr for PmapFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "" | "default" => Ok(PmapFormat::Default),
            "-x" | "x" | "extended" => Ok(PmapFormat::Extended),
            "-d" | "d" | "device" => Ok(PmapFormat::Device),
            _ => Err(format!("unknown pmap format `{s}` (expected default, -x or -d)")),
        }
    }
}

/// The minor device number of SysV shared memory as `discover_shm_minor` finds it (the shmem mount, 00:01).
const SHM_MINOR: u32 = 1;

/// `mapping_name`: what pmap shows in its last column for one maps line (without its newline).
fn mapping_name(line: &[u8], start: u64, len: u64, start_stack: u64, dev: (u32, u32), ino: u64) -> Vec<u8> {
    let contains = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    if dev.0 == 0 && dev.1 == SHM_MINOR && contains(line, b"/SYSV") {
        return format!("  [ shmid=0x{ino:x} ]").into_bytes();
    }
    if let Some(i) = line.iter().rposition(|&b| b == b'/') {
        // A path ending in '/' prints the slash itself.
        return if i + 1 < line.len() {
            line[i + 1..].to_vec()
        } else {
            b"/".to_vec()
        };
    }
    if start_stack >= start && start_stack <= start.wrapping_add(len) {
        b"  [ stack ]".to_vec()
    } else {
        b"  [ anon ]".to_vec()
    }
}

/// The 5-character mode column: `rwx`, `s` for shared or `-`, then `-` (the Solaris "swap not reserved" slot).
fn mode(flags: VmFlags) -> [u8; 5] {
    [
        if flags.contains(VmFlags::READ) { b'r' } else { b'-' },
        if flags.contains(VmFlags::WRITE) { b'w' } else { b'-' },
        if flags.contains(VmFlags::EXEC) { b'x' } else { b'-' },
        if flags.contains(VmFlags::MAYSHARE) { b's' } else { b'-' },
        b'-',
    ]
}

/// `justify_print(str, width, right)`: the string padded to `width` (never truncated below its length), then
/// a space.
fn justify(out: &mut Vec<u8>, s: &str, width: usize, right: bool) {
    let w = width.max(s.len());
    let _ = if right {
        write!(out, "{s:>w$} ")
    } else {
        write!(out, "{s:<w$} ")
    };
}

impl Kernel {
    /// The output of `pmap [-x|-d] PID` for a task of the model. ENOENT for an unknown pid.
    pub fn pmap(&self, pid: Pid, format: PmapFormat) -> Result<Vec<u8>, Errno> {
        self.pmap_with(pid, format, self)
    }

    /// [`Kernel::pmap`] with page-table contents from `pages`.
    pub fn pmap_with(&self, pid: Pid, format: PmapFormat, pages: &dyn PageSource) -> Result<Vec<u8>, Errno> {
        let task = self.tasks.get(&pid).ok_or(Errno::ENOENT)?;
        let mm = self.proc_mm(task);
        let arch = self.cfg.arch;
        let aw: usize = if arch.is_64bit() { 16 } else { 8 };
        let mut out = Vec::with_capacity(4096);
        let _ = writeln!(out, "{}:   {}", task.tgid.0, task.comm);
        match format {
            PmapFormat::Extended => {
                justify(&mut out, "Address", aw, false);
                justify(&mut out, "Kbytes", 7, true);
                justify(&mut out, "RSS", 7, true);
                justify(&mut out, "Dirty", 7, true);
                justify(&mut out, "Mode", 5, false);
                out.extend_from_slice(b"Mapping\n");
            }
            PmapFormat::Device => {
                justify(&mut out, "Address", aw, false);
                justify(&mut out, "Kbytes", 7, true);
                justify(&mut out, "Mode", 5, false);
                justify(&mut out, "Offset", 16, false);
                justify(&mut out, "Device", 9, false);
                out.extend_from_slice(b"Mapping\n");
            }
            PmapFormat::Default => {}
        }
        let (mut total_shared, mut total_private_w, mut total_private_r) = (0u64, 0u64, 0u64);
        let (mut total_rss, mut total_dirty) = (0u64, 0u64);
        if let Some(mm) = mm {
            let gate = gate_vma(arch);
            for pv in proc_vmas(mm, gate.as_ref()) {
                self.pmap_row(&mut out, pages, mm, pv, format, aw, &mut total_rss, &mut total_dirty);
                let diff = pv.vma.len();
                let f = pv.vma.flags;
                if f.contains(VmFlags::MAYSHARE) {
                    total_shared += diff;
                } else if f.contains(VmFlags::WRITE) {
                    total_private_w += diff;
                } else {
                    total_private_r += diff;
                }
            }
        }
        let mapped = (total_shared + total_private_w + total_private_r) >> 10;
        match format {
            PmapFormat::Default => {
                if arch.is_64bit() {
                    let _ = writeln!(out, " total {mapped:>16}K");
                } else {
                    let _ = writeln!(out, " total {mapped:>8}K");
                }
            }
            PmapFormat::Extended => {
                justify(&mut out, &"-".repeat(aw), aw, false);
                for _ in 0..3 {
                    justify(&mut out, "-------", 7, true);
                }
                out.push(b'\n');
                let _ = writeln!(out, "{:<aw$} {mapped:>7} {total_rss:>7} {total_dirty:>7}", "total kB");
            }
            PmapFormat::Device => {
                let _ = writeln!(
                    out,
                    "mapped: {mapped}K    writeable/private: {}K    shared: {}K",
                    total_private_w >> 10,
                    total_shared >> 10
                );
            }
        }
        Ok(out)
    }

    #[allow(clippy::too_many_arguments)]
    fn pmap_row(
        &self,
        out: &mut Vec<u8>,
        pages: &dyn PageSource,
        mm: &Mm,
        pv: ProcVma<'_>,
        format: PmapFormat,
        aw: usize,
        total_rss: &mut u64,
        total_dirty: &mut u64,
    ) {
        let vma = pv.vma;
        let mut line = Vec::with_capacity(128);
        show_map_vma(&mut line, self.cfg.arch, mm, pv);
        line.pop();
        let (dev, ino, offset) = vma_dev_ino_offset(vma);
        let start = vma.start.as_u64();
        let name = mapping_name(&line, start, vma.len(), mm.start_stack, dev, ino);
        let kbytes = vma.len() >> 10;
        let mode = mode(vma.flags);
        let mode = std::str::from_utf8(&mode).unwrap_or("-----");
        match format {
            PmapFormat::Default => {
                let _ = write!(out, "{start:0aw$x} {kbytes:>6}K {mode} ");
            }
            PmapFormat::Extended => {
                let mut mss = MemSizeStats::default();
                mss.gather(self.cfg.arch, pages, mm, pv);
                let rss = mss.resident >> 10;
                let dirty = (mss.shared_dirty >> 10) + (mss.private_dirty >> 10);
                *total_rss += rss;
                *total_dirty += dirty;
                let _ = write!(out, "{start:0aw$x} {kbytes:>7} {rss:>7} {dirty:>7} {mode:>5} ");
            }
            PmapFormat::Device => {
                let _ = write!(
                    out,
                    "{start:0aw$x} {kbytes:>7} {mode:>5} {offset:016x} {:03x}:{:05x} ",
                    dev.0, dev.1
                );
            }
        }
        out.extend_from_slice(&name);
        out.push(b'\n');
    }
}
