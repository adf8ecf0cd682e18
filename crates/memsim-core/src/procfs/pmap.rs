//! `pmap PID`, `pmap -x`, `-d`, `-X` and `-XX` as procps-ng 4.0.2 prints them (`src/pmap.c: one_proc`,
//! `mapping_name`, `print_extended_maps`), computed from the same data `/proc/PID/maps` and `smaps` render
//! (`-X`/`-XX` parse the rendered smaps text, as pmap does).
//!
//! pmap names a mapping from its maps line: the text after the last `/` of the line (the basename of the path,
//! including any ` (deleted)`), `  [ shmid=0x.. ]` for SysV segments on the shmem device, and otherwise
//! `  [ stack ]` for the mapping holding `start_stack` or `  [ anon ]` (so `[heap]`, `[vdso]` and `[vsyscall]`
//! are all anon). Totals include the `[vsyscall]` gate. The header is the command line from `cmdline`, or `[comm]` when it is empty.
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
    /// `pmap -X PID`: one column per smaps value except the page sizes, the clean/dirty split, AnonHugePages
    /// and VmFlags.
    More,
    /// `pmap -XX PID`: every smaps value and VmFlags.
    All,
}

impl std::str::FromStr for PmapFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "" | "default" => Ok(PmapFormat::Default),
            "-x" | "x" | "extended" => Ok(PmapFormat::Extended),
            "-d" | "d" | "device" => Ok(PmapFormat::Device),
            "-X" | "X" => Ok(PmapFormat::More),
            "-XX" | "XX" => Ok(PmapFormat::All),
            _ => Err(format!(
                "unknown pmap format `{s}` (expected default, -x, -d, -X or -XX)"
            )),
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

/// procps `escape_command(.., ESC_ARGS | ESC_BRACKETS)`: the arguments from `/proc/PID/cmdline` joined by
/// spaces (unprintable bytes as `?`), or `[comm]` when the command line is empty (kernel threads, zombies, a
/// process whose memory holds no arguments), with ` <defunct>` for a zombie (ESC_DEFUNCT).
fn command_line(kernel: &Kernel, task: &crate::task::Task, mm: Option<&crate::mm::Mm>) -> Vec<u8> {
    let raw = crate::procfs::cmdline::render_cmdline(kernel, mm);
    let raw = raw.strip_suffix(b"\0").unwrap_or(&raw);
    if raw.is_empty() {
        let mut v = b"[".to_vec();
        v.extend_from_slice(&task.comm.as_bytes()[..task.comm.len().min(15)]);
        v.push(b']');
        // ESC_DEFUNCT: a zombie is marked as ps marks it.
        if task.exit.is_some() {
            v.extend_from_slice(b" <defunct>");
        }
        return v;
    }
    raw.iter()
        .map(|&b| match b {
            0 => b' ',
            b' '..=b'~' => b,
            _ => b'?',
        })
        .collect()
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
        let _ = write!(out, "{}:   ", task.tgid.0);
        out.extend_from_slice(&command_line(self, task, mm));
        out.push(b'\n');
        if matches!(format, PmapFormat::More | PmapFormat::All) {
            // print_extended_maps reads the smaps text itself.
            let text = crate::procfs::smaps::render_smaps(self, pages, mm);
            let text = String::from_utf8_lossy(&text);
            extended_maps(&mut out, &text, format == PmapFormat::All);
            return Ok(out);
        }
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
            PmapFormat::Default | PmapFormat::More | PmapFormat::All => {}
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
            PmapFormat::More | PmapFormat::All => {}
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
            PmapFormat::More | PmapFormat::All => {}
        }
        out.extend_from_slice(&name);
        out.push(b'\n');
    }
}

/// One VMA of the smaps text as `print_extended_maps` scans it.
struct SmapsEntry<'a> {
    /// start, perms, offset, dev, inode: the strings of the maps line.
    head: [&'a str; 5],
    /// The name after the inode (may be empty).
    desc: &'a str,
    /// `Key: N` lines in order (value as printed).
    values: Vec<(&'a str, &'a str)>,
    vmflags: Option<&'a str>,
}

/// Split smaps text into VMAs: a maps line, then `Key: N [kB]` lines, then `VmFlags:`.
fn parse_smaps(text: &str) -> Vec<SmapsEntry<'_>> {
    let mut out: Vec<SmapsEntry<'_>> = Vec::new();
    for line in text.lines() {
        if line.starts_with(|c: char| c.is_ascii_digit() || ('a'..='f').contains(&c)) {
            let mut it = line.splitn(6, ' ');
            let range = it.next().unwrap_or("");
            let start = range.split('-').next().unwrap_or("");
            let perms = it.next().unwrap_or("");
            let offset = it.next().unwrap_or("");
            let dev = it.next().unwrap_or("");
            let inode = it.next().unwrap_or("");
            let desc = it.next().unwrap_or("").trim_start_matches(' ');
            out.push(SmapsEntry {
                head: [start, perms, offset, dev, inode],
                desc,
                values: Vec::new(),
                vmflags: None,
            });
        } else if let Some(e) = out.last_mut() {
            if let Some(f) = line.strip_prefix("VmFlags: ") {
                e.vmflags = Some(f.trim_end_matches(' '));
            } else if let Some((key, rest)) = line.split_once(':') {
                let v = rest.trim_start();
                let digits = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
                if digits > 0 {
                    e.values.push((key, &v[..digits]));
                }
            }
        }
    }
    out
}

/// `is_unimportant`: the smaps keys `-X` leaves out.
fn is_unimportant(key: &str) -> bool {
    matches!(
        key,
        "AnonHugePages"
            | "KernelPageSize"
            | "MMUPageSize"
            | "Shared_Dirty"
            | "Private_Dirty"
            | "Shared_Clean"
            | "Private_Clean"
            | "VmFlags"
    )
}

/// `print_extended_maps`: the `-X`/`-XX` table. Column widths are the widest of header, values and (for
/// numbers) the total; addresses are printed as smaps prints them.
fn extended_maps(out: &mut Vec<u8>, text: &str, all: bool) {
    let enabled = |key: &str| all || !is_unimportant(key);
    let entries = parse_smaps(text);
    let Some(first) = entries.first() else { return };
    // Columns come from the first VMA's keys (every VMA has the same keys).
    let keys: Vec<&str> = first.values.iter().map(|(k, _)| *k).filter(|k| enabled(k)).collect();
    let mut totals = vec![0u64; keys.len()];
    let mut hw = [0usize; 5];
    let mut vw = 0usize;
    let has_vmflags = entries.iter().any(|e| e.vmflags.is_some());
    for e in &entries {
        for (w, s) in hw.iter_mut().zip(e.head) {
            *w = (*w).max(s.len());
        }
        let vals = e.values.iter().filter(|(k, _)| enabled(k));
        for (t, (_, v)) in totals.iter_mut().zip(vals) {
            *t += v.parse::<u64>().unwrap_or(0);
        }
        vw = vw.max(e.vmflags.map_or(0, str::len));
    }
    let widths: Vec<usize> = keys
        .iter()
        .zip(&totals)
        .map(|(k, t)| k.len().max(t.to_string().len()))
        .collect();
    for (w, h) in hw.iter_mut().zip(["Address", "Perm", "Offset", "Device", "Inode"]) {
        *w = (*w).max(h.len());
        justify(out, h, *w, true);
    }
    for (k, w) in keys.iter().zip(&widths) {
        justify(out, k, *w, true);
    }
    let show_vmflags = has_vmflags && enabled("VmFlags");
    if show_vmflags {
        vw = vw.max("VmFlags".len());
        justify(out, "VmFlags", vw, true);
    }
    out.extend_from_slice(b"Mapping\n");
    for e in &entries {
        for (i, (w, s)) in hw.iter().zip(e.head).enumerate() {
            let _ = if i == 0 {
                write!(out, "{s:>w$}")
            } else {
                write!(out, " {s:>w$}")
            };
        }
        let vals = e.values.iter().filter(|(k, _)| enabled(k));
        for (w, (_, v)) in widths.iter().zip(vals) {
            let _ = write!(out, " {v:>w$}");
        }
        if show_vmflags {
            let _ = write!(out, " {:>vw$}", e.vmflags.unwrap_or(""));
        }
        let name = e.desc.rsplit_once('/').map_or(e.desc, |(_, b)| b);
        let _ = writeln!(out, " {name}");
    }
    let gap: usize = hw.iter().map(|w| w + 1).sum();
    out.resize(out.len() + gap, b' ');
    for w in &widths {
        out.resize(out.len() + w, b'=');
        out.push(b' ');
    }
    out.push(b'\n');
    out.resize(out.len() + gap, b' ');
    for (w, t) in widths.iter().zip(&totals) {
        let _ = write!(out, "{t:>w$} ");
    }
    out.extend_from_slice(b"KB \n");
}
