//! The native executor: runs a checked scenario ([`Plan`]) for real, in a forked child process, and collects
//! what each line did and the `/proc/self/maps` and `smaps` text at each `cat` line and at the end.
//!
//! How each kind of line runs in the child:
//! - system calls: `syscall(2)` with the raw values of [`crate::args`]; `mincore`'s vector is a buffer of the
//!   harness, reported back.
//! - Lackey accesses, page by page as the model defines them (an access that straddles a page boundary
//!   touches both pages; the address used in a page is the access's own address in the first page and the
//!   page's first byte after that): `L` is a volatile one-byte load; `S` is `lock add byte [p], 0`, which the
//!   CPU performs as a write (a pure write fault: no read fault first, no fault-around) and which leaves the
//!   byte unchanged; `M` is the loads of every page, then the stores. `I` jumps to the address when its page
//!   is not executable (a real instruction-fetch fault, `SEGV_ACCERR`/`SEGV_MAPERR` at that address) and
//!   reads it when it is (an instruction fetch on an executable page is a read fault, and executing the
//!   bytes would run whatever is there); an unmapped address below an executable VMA is also read, not
//!   executed, in case a growing stack makes it executable.
//! - `poke` / `peek`: volatile byte stores / loads, in address order.
//!
//! A synchronous signal (SIGSEGV, SIGBUS, and for safety SIGILL, SIGTRAP, SIGFPE) runs a handler on an
//! alternate stack that reports `si_signo`, `si_code` and `si_addr`, snapshots `maps` and `smaps`, and
//! `_exit`s: the signal ends the run as it ends the process in the scenario.
//!
//! The child first moves its report pipe to descriptor [`REPORT_FD`], closes every other descriptor from 3 on
//! (so the first `openat` returns 3, as in the model, whose runner pre-opens 0-2), changes directory to `/`
//! (the model's cwd), and checks that nothing is mapped below the window's end. It allocates nothing after
//! `fork`: every buffer is made before, and reports are written with `write(2)` only.

use std::ffi::CStr;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicUsize, Ordering};

use memsim_core::uapi::{MADV_COLD, MADV_FREE, MADV_PAGEOUT};

use memsim_scenario::ast::AccessOp;

use crate::outcome::{Outcome, Snapshot};
use crate::plan::{Plan, Step, SyscallStep, MAX_PEEK};
use crate::window::{parse_range, WINDOW_END, WINDOW_START};

/// The descriptor the child reports on. Scenarios must not use it.
pub const REPORT_FD: i32 = 999;
/// The child's descriptor of its own executable, used to drain the LRU batches ([`drain_lru_batches`]).
pub const DRAIN_FD: i32 = 998;
/// How long a child may run before it is killed.
const CHILD_TIMEOUT_MS: i32 = 20_000;
/// Room for `/proc/self/smaps` of the whole test process.
const SNAP_CAP: usize = 8 << 20;
/// One `mincore` byte per page of the window, and one more.
const MINCORE_CAP: usize = ((WINDOW_END - WINDOW_START) >> 12) as usize + 1;
const ALTSTACK_SIZE: usize = 256 << 10;

const T_DONE: u64 = 1;
const T_VALUE: u64 = 2;
const T_ERRNO: u64 = 3;
const T_BYTES: u64 = 4;
const T_SIGNAL: u64 = 5;
const T_SNAP: u64 = 6;
const T_ERROR: u64 = 7;
const T_VALUE_VEC: u64 = 8;
const T_NOTHING: u64 = 9;
const T_END: u64 = 10;
/// The line index of reports about the end state.
const AT_END: u64 = u64::MAX;
const SNAP_MAPS: u64 = 0;
const SNAP_SMAPS: u64 = 1;

/// What the real kernel did.
#[derive(Clone, Debug, Default)]
pub struct NativeRun {
    /// One per plan line.
    pub outcomes: Vec<Outcome>,
    pub snapshots: Vec<Snapshot>,
    /// A problem of the harness or of the scenario (not a disagreement), e.g. the window was not empty.
    pub error: Option<String>,
}

// State the child's signal handler needs. Written by the child only, after fork.
static REPORT: AtomicI32 = AtomicI32::new(-1);
static CURRENT: AtomicUsize = AtomicUsize::new(0);
static SNAP_BUF: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
/// Set once a call that leaves pages in per-CPU LRU batches has run.
static DRAIN_SNAPSHOTS: AtomicBool = AtomicBool::new(false);

/// Buffers the child uses, allocated before fork.
struct ChildBufs {
    snap: Vec<u8>,
    mincore: Vec<u8>,
    peek: Vec<u8>,
    altstack: Vec<u8>,
}

/// Run a plan in a forked child and collect its reports.
pub fn run_native(plan: &Plan) -> NativeRun {
    let mut bufs = ChildBufs {
        snap: vec![0; SNAP_CAP],
        mincore: vec![0; MINCORE_CAP],
        peek: vec![0; MAX_PEEK as usize],
        altstack: vec![0; ALTSTACK_SIZE],
    };
    let mut fds = [0i32; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return NativeRun {
            error: Some(format!("pipe2: {}", std::io::Error::last_os_error())),
            ..NativeRun::default()
        };
    }
    let (rd, wr) = (fds[0], fds[1]);
    // SAFETY: fork has no memory-safety preconditions; the child below only runs code that does not allocate
    // or take locks (see `child_main`) and never returns.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        let e = std::io::Error::last_os_error();
        // SAFETY: closing descriptors this function opened.
        unsafe {
            libc::close(rd);
            libc::close(wr);
        }
        return NativeRun {
            error: Some(format!("fork: {e}")),
            ..NativeRun::default()
        };
    }
    if pid == 0 {
        // SAFETY: we are the freshly forked child; `child_main` never returns.
        unsafe {
            libc::close(rd);
            child_main(plan, &mut bufs, wr)
        }
    }
    // SAFETY: the parent's copy of the write end; closing it lets the read loop see end-of-file.
    unsafe { libc::close(wr) };
    let (bytes, read_err) = read_reports(rd);
    // SAFETY: our read end, no longer used.
    unsafe { libc::close(rd) };
    if read_err.is_some() {
        // SAFETY: `pid` is the child we forked; killing it is how a hung run ends.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    let mut status = 0;
    // SAFETY: waiting for our own child; `status` is a valid out pointer.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    let mut run = decode(plan.lines.len(), &bytes);
    if let Some(e) = read_err {
        run.error.get_or_insert(e);
    }
    if run.error.is_none() && !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        run.error = Some(if libc::WIFSIGNALED(status) {
            format!(
                "the child died of signal {} without reporting it",
                libc::WTERMSIG(status)
            )
        } else {
            format!("the child ended with status {status:#x}")
        });
    }
    drop(bufs);
    run
}

/// Read everything the child writes, up to end-of-file or the timeout.
fn read_reports(rd: i32) -> (Vec<u8>, Option<String>) {
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let mut pfd = libc::pollfd {
            fd: rd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, CHILD_TIMEOUT_MS) };
        if n == 0 {
            return (
                out,
                Some(format!("the child did not finish within {} ms", CHILD_TIMEOUT_MS)),
            );
        }
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return (out, Some(format!("poll: {e}")));
        }
        // SAFETY: `chunk` is a writable buffer of the given length.
        let r = unsafe { libc::read(rd, chunk.as_mut_ptr().cast(), chunk.len()) };
        if r == 0 {
            return (out, None);
        }
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return (out, Some(format!("read: {e}")));
        }
        out.extend_from_slice(&chunk[..r as usize]);
    }
}

/// Turn the child's records into outcomes and snapshots.
fn decode(nlines: usize, mut bytes: &[u8]) -> NativeRun {
    let mut run = NativeRun {
        outcomes: vec![Outcome::NotRun; nlines],
        ..NativeRun::default()
    };
    let mut ended = false;
    while !bytes.is_empty() {
        if bytes.len() < 48 {
            run.error = Some("a truncated report from the child".to_string());
            break;
        }
        let word = |i: usize| u64::from_ne_bytes(bytes[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
        let (tag, idx, a, b, c, len) = (word(0), word(1), word(2), word(3), word(4), word(5));
        let Some(payload) = usize::try_from(len).ok().and_then(|l| bytes.get(48..48 + l)) else {
            run.error = Some("a truncated report from the child".to_string());
            break;
        };
        bytes = &bytes[48 + payload.len()..];
        let line = usize::try_from(idx).ok().filter(|&i| i < nlines);
        let outcome = match tag {
            T_DONE => Outcome::Done,
            T_VALUE => Outcome::Value(a),
            T_VALUE_VEC => Outcome::ValueWith(a, payload.to_vec()),
            T_ERRNO => Outcome::Errno(a as i32),
            T_BYTES => Outcome::Bytes(payload.to_vec()),
            T_NOTHING => Outcome::Nothing,
            T_SIGNAL => Outcome::Signal {
                signo: a as u32,
                code: b as u32,
                addr: c,
            },
            T_SNAP => {
                run.snapshots.push(Snapshot {
                    at: line,
                    file: if a == SNAP_SMAPS { "smaps" } else { "maps" }.to_string(),
                    text: String::from_utf8_lossy(payload).into_owned(),
                });
                continue;
            }
            T_ERROR => {
                run.error = Some(String::from_utf8_lossy(payload).into_owned());
                continue;
            }
            T_END => {
                ended = true;
                continue;
            }
            _ => {
                run.error = Some(format!("an unknown report tag {tag} from the child"));
                break;
            }
        };
        match line {
            Some(i) => run.outcomes[i] = outcome,
            None => run.error = Some(format!("a report for line index {idx} of {nlines}")),
        }
    }
    if !ended && run.error.is_none() {
        run.error = Some("the child stopped before reporting the end state".to_string());
    }
    run
}

// ---------------------------------------------------------------------------------------------------------
// The child. Everything below runs after fork: no allocation, no locks, only system calls.

/// Write all of `bytes` to the report descriptor.
fn write_all(mut bytes: &[u8]) {
    let fd = REPORT.load(Ordering::Relaxed);
    while !bytes.is_empty() {
        // SAFETY: `bytes` is a valid readable slice.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n < 0 {
            // SAFETY: reading errno of this thread.
            if unsafe { *libc::__errno_location() } == libc::EINTR {
                continue;
            }
            return;
        }
        bytes = &bytes[n as usize..];
    }
}

/// Send one record: a 48-byte header and a payload.
fn send(tag: u64, idx: u64, a: u64, b: u64, c: u64, payload: &[u8]) {
    let mut hdr = [0u8; 48];
    for (i, w) in [tag, idx, a, b, c, payload.len() as u64].into_iter().enumerate() {
        hdr[i * 8..i * 8 + 8].copy_from_slice(&w.to_ne_bytes());
    }
    write_all(&hdr);
    write_all(payload);
}

fn send_error(msg: &[u8]) {
    send(T_ERROR, AT_END, 0, 0, 0, msg);
}

/// Read a whole `/proc` file into the snapshot buffer.
fn read_proc(path: &CStr) -> &'static [u8] {
    let buf = SNAP_BUF.load(Ordering::Relaxed);
    // SAFETY: opening a NUL-terminated path read-only.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 || buf.is_null() {
        return &[];
    }
    let mut len = 0usize;
    while len < SNAP_CAP {
        // SAFETY: `buf` points to SNAP_CAP writable bytes (the child's copy of `ChildBufs::snap`, alive until
        // the child exits), and `len < SNAP_CAP`.
        let n = unsafe { libc::read(fd, buf.add(len).cast(), SNAP_CAP - len) };
        if n < 0 {
            // SAFETY: reading errno of this thread.
            if unsafe { *libc::__errno_location() } == libc::EINTR {
                continue;
            }
            break;
        }
        if n == 0 {
            break;
        }
        len += n as usize;
    }
    // SAFETY: closing the descriptor opened above.
    unsafe { libc::close(fd) };
    // SAFETY: the first `len` bytes of the buffer were just written; the buffer lives until `_exit`.
    unsafe { std::slice::from_raw_parts(buf, len) }
}

/// Drain every CPU's LRU batches (`lru_add_drain_all`), so that what `/proc` shows does not depend on
/// which CPU ran what. Pages MADV_FREE marks lazily freeable sit in a per-CPU batch until it is drained (when
/// full, or when any task on that CPU drains it), and only then count as `LazyFree`; likewise fresh pages
/// wait in a batch before they are on an LRU list, which decides what MADV_FREE can mark. The drain is a
/// `POSIX_FADV_DONTNEED` of the test binary, whose mapped pages cannot be dropped: that makes the kernel call
/// `lru_add_drain_all()` (`mm/fadvise.c: generic_fadvise`). It is slow (it waits for every CPU), so it runs
/// only where batches show: before `madvise` with MADV_FREE, MADV_COLD or MADV_PAGEOUT (which act on pages
/// on an LRU list), and before every snapshot after such a call. Its only side effect is dropping unmapped
/// cached pages of the test binary.
fn drain_lru_batches() {
    // SAFETY: fadvise on a descriptor the child owns; it changes no memory of the process.
    unsafe { libc::posix_fadvise(DRAIN_FD, 0, 0, libc::POSIX_FADV_DONTNEED) };
}

fn snapshot(idx: u64, which: u64) {
    if DRAIN_SNAPSHOTS.load(Ordering::Relaxed) {
        drain_lru_batches();
    }
    let path = if which == SNAP_SMAPS {
        c"/proc/self/smaps"
    } else {
        c"/proc/self/maps"
    };
    let text = read_proc(path);
    send(T_SNAP, idx, which, 0, 0, text);
}

/// Report the final state and leave.
fn finish() -> ! {
    snapshot(AT_END, SNAP_MAPS);
    snapshot(AT_END, SNAP_SMAPS);
    send(T_END, AT_END, 0, 0, 0, &[]);
    // SAFETY: `_exit` ends the child without running the parent's atexit handlers or destructors.
    unsafe { libc::_exit(0) }
}

extern "C" fn on_signal(sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for an SA_SIGINFO handler.
    let (code, addr) = unsafe { ((*info).si_code, (*info).si_addr() as u64) };
    let idx = CURRENT.load(Ordering::Relaxed) as u64;
    send(T_SIGNAL, idx, sig as u64, code as u64, addr, &[]);
    finish()
}

/// The VMA of `/proc/self/maps` containing `addr`, as (start, end, perms), and whether the next VMA above it
/// is executable.
fn vma_at(addr: u64) -> (Option<[u8; 4]>, bool) {
    let text = read_proc(c"/proc/self/maps");
    let mut found = None;
    let mut next_exec = false;
    for line in text.split(|&b| b == b'\n') {
        let Ok(s) = std::str::from_utf8(line) else { continue };
        let Some((start, end)) = parse_range(s) else { continue };
        let perms = line
            .iter()
            .position(|&b| b == b' ')
            .and_then(|i| line.get(i + 1..i + 5));
        let Some(p) = perms else { continue };
        if start <= addr && addr < end {
            found = Some([p[0], p[1], p[2], p[3]]);
        } else if start > addr {
            next_exec = p[2] == b'x';
            break;
        }
    }
    (found, next_exec)
}

/// The addresses an access touches: its own address, then the first byte of each further page.
fn touched_pages(addr: u64, size: u64) -> impl Iterator<Item = u64> {
    let end = addr.saturating_add(size);
    let first_page = addr & !0xfff;
    (0..)
        .map(move |i: u64| first_page.wrapping_add(i << 12))
        .take_while(move |&p| p < end && p >= first_page)
        .map(move |p| p.max(addr))
}

fn load(p: u64) {
    // SAFETY: a deliberate access to an arbitrary address of the scenario: if it is not readable the kernel
    // raises SIGSEGV/SIGBUS, whose handler reports and exits; it never returns into this code.
    unsafe { std::ptr::read_volatile(p as *const u8) };
}

fn store(p: u64) {
    // SAFETY: as in `load`; adding 0 keeps the byte's value, and `lock add` is a write access for the MMU.
    unsafe { std::arch::asm!("lock add byte ptr [{p}], 0", p = in(reg) p, options(nostack)) };
}

fn fetch(p: u64) {
    let (vma, next_exec) = vma_at(p);
    let execute = match vma {
        Some(perms) => perms[2] != b'x',
        None => !next_exec,
    };
    if execute {
        // SAFETY: `p` is not executable (checked above), so the fetch faults and the handler exits; the
        // call never returns. All registers the callee could clobber are declared.
        unsafe { std::arch::asm!("call {p}", p = in(reg) p, clobber_abi("C")) };
    } else {
        load(p);
    }
}

fn do_syscall(sc: &SyscallStep, mincore: &mut [u8]) -> (u64, u64, &'static [u8]) {
    let mut a = sc.args;
    if let Some((i, path)) = &sc.path {
        a[*i] = path.as_ptr() as u64;
    }
    if sc.mincore {
        a[2] = mincore.as_mut_ptr() as u64;
    }
    // SAFETY: the call is one of the memory system calls `plan` allows, on addresses it checked; pointer
    // arguments point to live buffers (the path string, the mincore vector of MINCORE_CAP bytes).
    let r = unsafe { libc::syscall(sc.nr, a[0], a[1], a[2], a[3], a[4], a[5]) };
    if r == -1 {
        // SAFETY: reading errno of this thread right after the call.
        let e = unsafe { *libc::__errno_location() };
        return (T_ERRNO, e as u64, &[]);
    }
    if sc.mincore {
        let pages = (sc.args[1].saturating_add(0xfff) >> 12).min(MINCORE_CAP as u64) as usize;
        // SAFETY: the buffer lives until `_exit`; `pages <= MINCORE_CAP`.
        let vec = unsafe { std::slice::from_raw_parts(mincore.as_ptr(), pages) };
        return (T_VALUE_VEC, r as u64, vec);
    }
    (T_VALUE, r as u64, &[])
}

/// Set up the child and run every line; never returns.
///
/// # Safety
/// Must be called only in a freshly forked child, with `wr` the write end of the report pipe.
unsafe fn child_main(plan: &Plan, bufs: &mut ChildBufs, wr: i32) -> ! {
    // SAFETY (whole block): plain system calls on descriptors and memory this child owns.
    unsafe {
        if wr != REPORT_FD {
            libc::dup2(wr, REPORT_FD);
            libc::close(wr);
        }
        REPORT.store(REPORT_FD, Ordering::Relaxed);
        SNAP_BUF.store(bufs.snap.as_mut_ptr(), Ordering::Relaxed);
        let exe = libc::open(c"/proc/self/exe".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        if exe >= 0 && exe != DRAIN_FD {
            libc::dup2(exe, DRAIN_FD);
            libc::close(exe);
        }
        libc::syscall(libc::SYS_close_range, 3u32, (DRAIN_FD - 1) as u32, 0u32);
        libc::syscall(libc::SYS_close_range, (REPORT_FD + 1) as u32, u32::MAX, 0u32);
        if libc::chdir(c"/".as_ptr()) != 0 {
            send_error(b"chdir(\"/\") failed in the child");
            finish();
        }
        let ss = libc::stack_t {
            ss_sp: bufs.altstack.as_mut_ptr().cast(),
            ss_flags: 0,
            ss_size: bufs.altstack.len(),
        };
        libc::sigaltstack(&ss, std::ptr::null_mut());
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_signal as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_RESETHAND | libc::SA_NODEFER;
        libc::sigemptyset(&mut sa.sa_mask);
        let mut unblock: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut unblock);
        for sig in [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGTRAP, libc::SIGFPE] {
            libc::sigaction(sig, &sa, std::ptr::null_mut());
            libc::sigaddset(&mut unblock, sig);
        }
        libc::sigprocmask(libc::SIG_UNBLOCK, &unblock, std::ptr::null_mut());
    }
    // Nothing of the test process may lie below the window's end: scenarios rely on the window being empty
    // and on the space below it being free.
    for line in read_proc(c"/proc/self/maps").split(|&b| b == b'\n') {
        let Ok(s) = std::str::from_utf8(line) else { continue };
        if let Some((start, _)) = parse_range(s) {
            if start < WINDOW_END {
                let mut msg = [0u8; 512];
                let prefix = b"the child already has a mapping below the end of the window: ";
                let n = line.len().min(msg.len() - prefix.len());
                msg[..prefix.len()].copy_from_slice(prefix);
                msg[prefix.len()..prefix.len() + n].copy_from_slice(&line[..n]);
                send_error(&msg[..prefix.len() + n]);
                finish();
            }
        }
    }
    for (i, pl) in plan.lines.iter().enumerate() {
        CURRENT.store(i, Ordering::Relaxed);
        let idx = i as u64;
        match &pl.step {
            Step::Syscall(sc) => {
                let batched = [MADV_FREE, MADV_COLD, MADV_PAGEOUT];
                if sc.nr == libc::SYS_madvise && batched.contains(&sc.args[2]) {
                    drain_lru_batches();
                    DRAIN_SNAPSHOTS.store(true, Ordering::Relaxed);
                }
                let (tag, v, vec) = do_syscall(sc, &mut bufs.mincore);
                send(tag, idx, v, 0, 0, vec);
            }
            Step::Access { op, addr, size } => {
                match op {
                    AccessOp::Load => touched_pages(*addr, *size).for_each(load),
                    AccessOp::Store => touched_pages(*addr, *size).for_each(store),
                    AccessOp::Modify => {
                        touched_pages(*addr, *size).for_each(load);
                        touched_pages(*addr, *size).for_each(store);
                    }
                    AccessOp::Instr => touched_pages(*addr, *size).for_each(fetch),
                }
                send(T_DONE, idx, 0, 0, 0, &[]);
            }
            Step::Poke { addr, bytes } => {
                for (k, &b) in bytes.iter().enumerate() {
                    let p = addr.wrapping_add(k as u64);
                    // SAFETY: a deliberate store of the scenario; a fault ends the child in the handler.
                    unsafe { std::ptr::write_volatile(p as *mut u8, b) };
                }
                send(T_VALUE, idx, bytes.len() as u64, 0, 0, &[]);
            }
            Step::Peek { addr, len } => {
                let len = *len as usize;
                for k in 0..len {
                    let p = addr.wrapping_add(k as u64);
                    // SAFETY: a deliberate load of the scenario; a fault ends the child in the handler.
                    bufs.peek[k] = unsafe { std::ptr::read_volatile(p as *const u8) };
                }
                send(T_BYTES, idx, 0, 0, 0, &bufs.peek[..len]);
            }
            Step::Cat { file } => {
                let which = if file == "smaps" { SNAP_SMAPS } else { SNAP_MAPS };
                snapshot(idx, which);
                send(T_NOTHING, idx, 0, 0, 0, &[]);
            }
            Step::Nothing => send(T_NOTHING, idx, 0, 0, 0, &[]),
        }
    }
    finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accesses_touch_each_page_once() {
        let v: Vec<u64> = touched_pages(0x1_0000_0ffe, 4).collect();
        assert_eq!(v, vec![0x1_0000_0ffe, 0x1_0000_1000]);
        let v: Vec<u64> = touched_pages(0x1_0000_0010, 8).collect();
        assert_eq!(v, vec![0x1_0000_0010]);
        let v: Vec<u64> = touched_pages(0x1_0000_0000, 0x2001).collect();
        assert_eq!(v, vec![0x1_0000_0000, 0x1_0000_1000, 0x1_0000_2000]);
    }

    #[test]
    fn records_decode_in_order() {
        REPORT.store(-1, Ordering::Relaxed);
        let mut bytes = Vec::new();
        let mut rec = |tag: u64, idx: u64, a: u64, payload: &[u8]| {
            for w in [tag, idx, a, 0, 0, payload.len() as u64] {
                bytes.extend_from_slice(&w.to_ne_bytes());
            }
            bytes.extend_from_slice(payload);
        };
        rec(T_VALUE, 0, 0x1_0000_0000, &[]);
        rec(T_ERRNO, 1, 22, &[]);
        rec(T_SNAP, AT_END, SNAP_SMAPS, b"x\n");
        rec(T_END, AT_END, 0, &[]);
        let run = decode(3, &bytes);
        assert_eq!(run.error, None);
        assert_eq!(
            run.outcomes,
            vec![Outcome::Value(0x1_0000_0000), Outcome::Errno(22), Outcome::NotRun]
        );
        assert_eq!(run.snapshots[0].file, "smaps");
        assert_eq!(run.snapshots[0].at, None);
        let truncated = decode(3, &bytes[..50]);
        assert!(truncated.error.is_some());
    }
}
