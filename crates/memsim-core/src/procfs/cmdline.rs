//! `/proc/PID/cmdline` (`fs/proc/base.c: get_mm_cmdline, get_mm_proctitle`), `/proc/PID/environ`
//! (`environ_read`), `/proc/PID/auxv` (`auxv_read`) and `/proc/PID/comm` (`comm_show`), and the reader of
//! another process's memory they share (`access_remote_vm`).
//!
//! Deliberate difference: `access_remote_vm` faults pages in with `get_user_pages_remote`. The model reads
//! without changing anything: a present page is read from its frame; an absent file page from the page
//! cache, else from the file itself; an absent anonymous page reads as zeros (Linux would map the zero page,
//! which RSS does not count either). So reading these files never changes RSS, page tables or the page
//! cache. Pages that exec wrote (the argument and environment strings) are always present.

use crate::addr::Pfn;
use crate::addr::{PAGE_MASK, PAGE_SIZE};
use crate::kernel::Kernel;
use crate::mm::Mm;
use crate::task::Task;

/// The bytes of one page of `mm` at the page-aligned `page`, as a read through the page tables would see
/// them, or `None` when no VMA covers it. Never changes the model.
pub fn read_page(kernel: &Kernel, mm: &Mm, page: u64) -> Option<Box<[u8; PAGE_SIZE as usize]>> {
    let vma = mm.vmas.find(crate::addr::VirtAddr(page))?;
    if vma.start.0 > page {
        return None;
    }
    let mut buf = Box::new([0u8; PAGE_SIZE as usize]);
    let mut pfn = None;
    kernel.walk_pages(
        mm.id,
        crate::addr::VirtAddr(page),
        crate::addr::VirtAddr(page + PAGE_SIZE),
        &mut |ps| {
            if ps.present {
                pfn = Some(ps.pfn);
            }
        },
    );
    if let Some(pfn) = pfn {
        kernel.phys.read(Pfn(pfn), 0, &mut buf[..]);
        return Some(buf);
    }
    // Not present: a private anonymous page (or one never faulted) reads as zeros; a file page as the page
    // cache or the file has it.
    let Some(file) = vma.file.as_ref() else {
        return Some(buf);
    };
    if file.inode.kind != crate::fs::InodeKind::Regular {
        return Some(buf);
    }
    let index = vma.pgoff + ((page - vma.start.0) >> 12);
    if let Some(pfn) = kernel.page_cache.find(file.inode.id, index) {
        kernel.phys.read(pfn, 0, &mut buf[..]);
    } else {
        // A short read (past the end of the file) leaves zeros, as the page cache would hold.
        let _ = kernel.fs.read_at(&file.inode.meta.path, index << 12, &mut buf[..]);
    }
    Some(buf)
}

/// `access_remote_vm(mm, addr, buf, len, FOLL_FORCE)`: up to `len` bytes at `addr`, stopping at the first
/// address no VMA covers (Linux returns the bytes copied so far).
pub fn read_remote(kernel: &Kernel, mm: &Mm, addr: u64, len: u64) -> Vec<u8> {
    let mut out = Vec::new();
    let mut a = addr;
    let end = addr.saturating_add(len);
    while a < end {
        let page = a & PAGE_MASK;
        let Some(bytes) = read_page(kernel, mm, page) else {
            break;
        };
        let off = (a - page) as usize;
        let n = ((PAGE_SIZE - (a - page)).min(end - a)) as usize;
        out.extend_from_slice(&bytes[off..off + n]);
        a += n as u64;
    }
    out
}

/// `get_mm_cmdline` for a whole read from offset 0 (what `cat` sees).
pub fn render_cmdline(kernel: &Kernel, mm: Option<&Mm>) -> Vec<u8> {
    let Some(mm) = mm else { return Vec::new() };
    let (arg_start, arg_end) = (mm.arg_start, mm.arg_end);
    let (env_start, mut env_end) = (mm.env_start, mm.env_end);
    if arg_start >= arg_end {
        return Vec::new();
    }
    // setproctitle() may overflow the arguments into the environment, but only if it directly follows.
    if env_start != arg_end || env_end < env_start {
        env_end = arg_end;
    }
    let len = env_end - arg_start;
    // The "magical special case": a non-NUL last argument byte means setproctitle(3) rewrote the area; then
    // the text up to (and including) the first NUL of the first page is the command line.
    let last = read_remote(kernel, mm, arg_end - 1, 1);
    if last.first().is_some_and(|&c| c != 0) {
        let page = read_remote(kernel, mm, arg_start, PAGE_SIZE.min(len));
        let n = match page.iter().position(|&c| c == 0) {
            Some(i) => i + 1,
            None => page.len(),
        };
        return page[..n].to_vec();
    }
    read_remote(kernel, mm, arg_start, arg_end - arg_start)
}

/// `environ_read`: the bytes between `env_start` and `env_end`. Opening it needs the task's mm
/// (`__mem_open` → `mm_access`): a kernel thread or a zombie gives ESRCH, as measured on this kernel.
pub fn render_environ(kernel: &Kernel, mm: Option<&Mm>) -> Result<Vec<u8>, crate::errno::Errno> {
    let mm = mm.ok_or(crate::errno::Errno::ESRCH)?;
    if mm.env_end == 0 || mm.env_start >= mm.env_end {
        return Ok(Vec::new());
    }
    Ok(read_remote(kernel, mm, mm.env_start, mm.env_end - mm.env_start))
}

/// `mm->saved_auxv`: the auxiliary vector exec built, as `(type, value)` pairs ending with `AT_NULL`, read
/// back from the initial stack (after argc, argv[], NULL, envp[], NULL) in words of `word` bytes. Linux
/// keeps a copy at exec; the two differ only if the program overwrote its stack's vector. A process that
/// never exec'd has only the `AT_NULL` pair (its `saved_auxv` is zeroed).
pub fn saved_auxv(kernel: &Kernel, mm: &Mm, word: u64) -> Vec<(u64, u64)> {
    let read = |addr: u64| -> Option<u64> {
        let b = read_remote(kernel, mm, addr, word);
        match b.len() {
            8 if word == 8 => Some(u64::from_le_bytes(b.try_into().ok()?)),
            4 if word == 4 => Some(u64::from(u32::from_le_bytes(b.try_into().ok()?))),
            _ => None,
        }
    };
    let mut pairs = Vec::new();
    if mm.start_stack != 0 && mm.arg_start != 0 {
        let mut p = mm.start_stack;
        let argc = read(p).unwrap_or(0);
        p = p.saturating_add(word.saturating_mul(argc.saturating_add(2))); // argc, argv[], NULL
                                                                           // envp[] up to its NULL, bounded by what a stack can hold.
        for _ in 0..(1 << 20) {
            match read(p) {
                Some(0) | None => break,
                Some(_) => p += word,
            }
        }
        p += word;
        // AT_VECTOR_SIZE: at most a few dozen pairs.
        for _ in 0..64 {
            let (Some(k), Some(v)) = (read(p), read(p + word)) else {
                break;
            };
            if k == 0 {
                break;
            }
            pairs.push((k, v));
            p += 2 * word;
        }
    }
    pairs.push((0, 0));
    pairs
}

/// `auxv_read`: `saved_auxv` up to and including `AT_NULL`, native words. Opening needs the mm (ESRCH for
/// kernel threads and zombies, as measured).
pub fn render_auxv(kernel: &Kernel, mm: Option<&Mm>) -> Result<Vec<u8>, crate::errno::Errno> {
    let mm = mm.ok_or(crate::errno::Errno::ESRCH)?;
    let is64 = kernel.cfg.arch.is_64bit();
    let mut out = Vec::new();
    for (k, v) in saved_auxv(kernel, mm, if is64 { 8 } else { 4 }) {
        if is64 {
            out.extend_from_slice(&k.to_le_bytes());
            out.extend_from_slice(&v.to_le_bytes());
        } else {
            out.extend_from_slice(&(k as u32).to_le_bytes());
            out.extend_from_slice(&(v as u32).to_le_bytes());
        }
    }
    Ok(out)
}

/// `comm_show`: the comm, unescaped, and a newline.
pub fn render_comm(task: &Task) -> Vec<u8> {
    let mut out = super::task::proc_comm(task).to_vec();
    out.push(b'\n');
    out
}
