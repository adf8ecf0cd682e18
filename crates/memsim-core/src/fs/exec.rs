//! Program execution (`fs/exec.c`): `execve`, the new mm, argument and environment strings, close-on-exec.
//!
//! [`Kernel::sys_execve`] follows `do_execveat_common` → `bprm_execve` → `exec_binprm`:
//! 1. `open_exec` of the path (ENOENT, ENOTDIR, ELOOP from the [`crate::fs::FileSource`]; EACCES for a file
//!    that is not regular, lacks the exec bit for the task's credentials, or lives on a `noexec` mount);
//! 2. `bprm_stack_limits` and the strings: the file name (AT_EXECFN), then envp, then argv, copied to the top
//!    of the future stack, highest first, E2BIG past `MAX_ARG_STRLEN` per string or past the total limit;
//!    an empty argv gets `""` as argv[0];
//! 3. up to six rounds of `search_binary_handler` (ELOOP beyond): `#!` scripts (`binfmt_script.rs`) rewrite
//!    argv and name an interpreter, ELF files are loaded by `binfmt_elf.rs`, anything else is ENOEXEC.
//!
//! The ELF loader calls [`Kernel::begin_new_exec`] (the point of no return: the old mm is released, other
//! threads killed, close-on-exec descriptors closed, `comm` set), then `setup_new_exec` (a fresh mm with
//! `arch_pick_mmap_layout` for the exec-time RLIMIT_STACK) and [`Kernel::setup_arg_pages`] (the stack VMA).
//! At the point of no return the new credentials (`exec_creds.rs`) are committed, `PER_CLEAR_ON_SETID` is
//! taken off the personality of a set-id exec, and a secure exec gets at most an 8 MiB RLIMIT_STACK.
//! A failure after the point of no return kills the task with SIGSEGV (`bprm_execve: force_fatal_sig`) and
//! the call still returns the errno, as strace shows it.
//!
//! Every failure also records a human-readable reason ([`Kernel::last_exec_error`], [`ExecError`]).
//!
//! Model choices (documented differences):
//! * Strings are collected host-side and written once the final stack position is known, instead of into a
//!   temporary VMA at STACK_TOP_MAX that `setup_arg_pages` then moves; the resulting VMA, its contents and its
//!   accounting are those of Linux (same pages touched).
//! * The first process (PID 1) is never exec'd by the model itself: it keeps the empty, non-random layout it
//!   was created with, so scenarios that never call execve are unchanged.
//! * Set-user-ID/set-group-ID files change the credentials (`exec_creds.rs`); capabilities from files, LSM
//!   hooks, `no_new_privs` and `binfmt_misc` are not modelled.
//! * The stack VMA's `vm_pgoff` follows the model's anonymous convention (start page) instead of Linux's
//!   wrapped value; it is never shown.

use std::fmt;
use std::sync::Arc;

use crate::addr::{page_align, page_align_down, VirtAddr, PAGE_MASK, PAGE_SHIFT, PAGE_SIZE};
use crate::arch::aslr::{self, ADDR_COMPAT_LAYOUT, ADDR_NO_RANDOMIZE, PF_FORKNOEXEC, PF_RANDOMIZE};
use crate::arch::pgtable;
use crate::errno::{Errno, SysResult};
use crate::fs::{File, FileMeta, S_IFDIR, S_IFMT, S_IFREG};
use crate::kernel::{AccessKind, Kernel, SigInfo};
use crate::mm::vma::{VmFlags, Vma};
use crate::task::{ExitStatus, Pid, Rlimit, Shared, SigHandler};
use crate::uapi::*;

/// `MAX_ARG_STRLEN`: one string, NUL included, may take at most 32 pages.
pub const MAX_ARG_STRLEN: u64 = 32 * PAGE_SIZE;
/// `MAX_ARG_STRINGS`.
pub const MAX_ARG_STRINGS: usize = 0x7FFF_FFFF;
/// `ARG_MAX` (32 pages): the least room the strings always get.
pub const ARG_MAX: u64 = 32 * PAGE_SIZE;
/// `_STK_LIM` (8 MiB).
pub const STK_LIM: u64 = 8 << 20;
/// `BINPRM_BUF_SIZE`: how much of the file the format handlers look at.
pub const BINPRM_BUF_SIZE: usize = 256;
/// `PATH_MAX`.
pub const PATH_MAX: u64 = 4096;
/// `TASK_COMM_LEN - 1`.
const COMM_MAX: usize = 15;

/// Why an execve failed: the errno it returns and a reason for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecError {
    pub errno: Errno,
    pub reason: String,
}

impl ExecError {
    pub fn new(errno: Errno, reason: impl Into<String>) -> ExecError {
        ExecError {
            errno,
            reason: reason.into(),
        }
    }
    /// ENOEXEC with a reason.
    pub fn noexec(reason: impl Into<String>) -> ExecError {
        ExecError::new(Errno::ENOEXEC, reason)
    }
    pub fn errno(&self) -> Errno {
        self.errno
    }
}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.errno.name(), self.reason)
    }
}

impl std::error::Error for ExecError {}

impl From<Errno> for ExecError {
    fn from(e: Errno) -> ExecError {
        ExecError::new(e, e.strerror())
    }
}

/// A file opened for execution (`open_exec`): its metadata and an open file description to map it with.
#[derive(Clone, Debug)]
pub struct ExecFile {
    pub meta: FileMeta,
    pub file: Arc<File>,
}

/// A buffer aligned for the ELF header structs of the `object` crate.
#[derive(Clone, Copy)]
#[repr(C, align(8))]
pub struct BinprmBuf(pub [u8; BINPRM_BUF_SIZE]);

/// `struct linux_binprm`, the parts the model needs.
pub struct Bprm {
    /// The path as given to execve (`bprm->filename`): AT_EXECFN and `comm` come from it.
    pub filename: String,
    /// `bprm->interp`: the name a `#!` script is passed to its interpreter as.
    pub interp: String,
    /// The file being loaded in this round.
    pub file: ExecFile,
    /// Set by a `#!` script: the next round loads this file.
    pub interpreter: Option<ExecFile>,
    /// The first [`BINPRM_BUF_SIZE`] bytes of `file`, zero padded.
    pub buf: BinprmBuf,
    pub argc: u64,
    pub envc: u64,
    /// The strings copied so far, in copy order (top of the stack first), each with its NUL.
    pub strings: Vec<Vec<u8>>,
    /// `bprm->p`: the lowest string byte, as an address in the temporary stack that ends at `stack_top_max`.
    pub p: u64,
    /// `bprm->argmin`: the strings may not go below this.
    pub argmin: u64,
    /// `bprm->exec`: where the file name string is (AT_EXECFN).
    pub exec: u64,
    /// The RLIMIT_STACK at the time of the exec (`bprm->rlim_stack`).
    pub rlim_stack: Rlimit,
    pub point_of_no_return: bool,
    /// `STACK_TOP_MAX`, the end of the temporary stack VMA.
    pub stack_top_max: u64,
    /// `sizeof(void *)` of the kernel, for the word at the top of the stack and the pointer accounting.
    pub ptr_size: u64,
    /// The exec'ing task: a non-leader thread becomes the leader's PID in `de_thread`.
    pub pid: Pid,
    /// `bprm->per_clear`: personality bits the exec drops (`PER_CLEAR_ON_SETID` for a set-id file).
    pub per_clear: u32,
    /// `bprm->secureexec`: a privilege-changing exec (AT_SECURE).
    pub secureexec: bool,
}

impl Bprm {
    /// `copy_string_kernel` / one step of `copy_strings`: E2BIG past MAX_ARG_STRLEN or below `argmin`.
    pub fn push_string(&mut self, s: &[u8]) -> Result<(), ExecError> {
        // strnlen: the string ends at its first NUL.
        let s = match s.iter().position(|&b| b == 0) {
            Some(n) => &s[..n],
            None => s,
        };
        let len = s.len() as u64 + 1;
        if len > MAX_ARG_STRLEN {
            return Err(ExecError::new(
                Errno::E2BIG,
                format!("a string of {len} bytes exceeds MAX_ARG_STRLEN ({MAX_ARG_STRLEN})"),
            ));
        }
        self.p -= len;
        if self.p < self.argmin {
            return Err(ExecError::new(
                Errno::E2BIG,
                "the argument and environment strings exceed the stack limit (bprm_stack_limits)",
            ));
        }
        let mut v = Vec::with_capacity(s.len() + 1);
        v.extend_from_slice(s);
        v.push(0);
        self.strings.push(v);
        Ok(())
    }

    /// `remove_arg_zero`: drop argv[0] (the lowest string).
    pub fn remove_arg_zero(&mut self) {
        if self.argc == 0 {
            return;
        }
        if let Some(s) = self.strings.pop() {
            self.p += s.len() as u64;
        }
        self.argc -= 1;
    }
}

/// The strings of a task's stack after exec, lowest address first.
fn strings_bytes(b: &Bprm) -> Vec<u8> {
    let total: usize = b.strings.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(total);
    for s in b.strings.iter().rev() {
        out.extend_from_slice(s);
    }
    out
}

/// `executable_stack` values of `setup_arg_pages` (PT_GNU_STACK).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ExecStack {
    Default,
    DisableX,
    EnableX,
}

/// `VM_DATA_DEFAULT_FLAGS` without READ_IMPLIES_EXEC.
pub(crate) const VM_DATA_DEFAULT_FLAGS: VmFlags = VmFlags::READ
    .union(VmFlags::WRITE)
    .union(VmFlags::MAYREAD)
    .union(VmFlags::MAYWRITE)
    .union(VmFlags::MAYEXEC);

impl Kernel {
    /// `execve(path, argv, envp)`: 0 on success. The reason of a failure is kept for
    /// [`Kernel::last_exec_error`].
    pub fn sys_execve(&mut self, pid: Pid, path: &str, argv: &[Vec<u8>], envp: &[Vec<u8>]) -> SysResult {
        match self.do_execve(pid, path, argv, envp) {
            Ok(()) => {
                self.exec_errors.remove(&pid);
                Ok(0)
            }
            Err(e) => {
                self.exec_errors.insert(pid, e.reason.clone());
                Err(e.errno)
            }
        }
    }

    /// Why the last execve of `pid` failed (None after a success or if it never failed).
    pub fn last_exec_error(&self, pid: Pid) -> Option<&str> {
        self.exec_errors.get(&pid).map(String::as_str)
    }

    /// `do_execveat_common` + `bprm_execve`: the whole exec, with the reason of a failure.
    pub fn do_execve(&mut self, pid: Pid, path: &str, argv: &[Vec<u8>], envp: &[Vec<u8>]) -> Result<(), ExecError> {
        let task = self.task(pid)?;
        if !task.is_alive() {
            return Err(Errno::ESRCH.into());
        }
        let rlim_stack = task.rlimits[RLIMIT_STACK];
        // getname: an empty path is ENOENT; PATH_MAX includes the NUL.
        if path.is_empty() {
            return Err(ExecError::new(Errno::ENOENT, "empty path"));
        }
        if path.len() as u64 >= PATH_MAX {
            return Err(ExecError::new(Errno::ENAMETOOLONG, "path longer than PATH_MAX"));
        }
        // alloc_bprm → do_open_execat comes before counting the strings.
        let file = self.open_exec(pid, path)?;
        if argv.len() > MAX_ARG_STRINGS || envp.len() > MAX_ARG_STRINGS {
            return Err(ExecError::new(Errno::E2BIG, "more than MAX_ARG_STRINGS strings"));
        }
        let arch = self.cfg.arch;
        let stack_top_max = arch.task_size_max();
        let ptr_size: u64 = if arch.is_64bit() { 8 } else { 4 };
        let mut bprm = Bprm {
            filename: path.to_string(),
            interp: path.to_string(),
            file,
            interpreter: None,
            buf: BinprmBuf([0; BINPRM_BUF_SIZE]),
            argc: argv.len() as u64,
            envc: envp.len() as u64,
            strings: Vec::with_capacity(argv.len() + envp.len() + 2),
            // __bprm_mm_init: one word below the top of the temporary stack VMA.
            p: stack_top_max - ptr_size,
            argmin: 0,
            exec: 0,
            rlim_stack,
            point_of_no_return: false,
            stack_top_max,
            ptr_size,
            pid,
            per_clear: 0,
            secureexec: false,
        };
        bprm_stack_limits(&mut bprm)?;
        bprm.push_string(path.as_bytes())?;
        bprm.exec = bprm.p;
        for s in envp.iter().rev() {
            bprm.push_string(s)?;
        }
        for s in argv.iter().rev() {
            bprm.push_string(s)?;
        }
        if bprm.argc == 0 {
            // An empty argv gets "" so that programs reading argv[1] do not walk into envp.
            bprm.push_string(b"")?;
            bprm.argc = 1;
        }
        let r = self.exec_binprm(pid, &mut bprm);
        if let Err(e) = &r {
            if bprm.point_of_no_return {
                // bprm_execve: the old image is gone; the task dies with SIGSEGV.
                self.exec_fatal_signal(bprm.pid, SIGSEGV);
                return Err(e.clone());
            }
        }
        r
    }

    /// `exec_binprm`: up to six rounds of `search_binary_handler` (five `#!` rewrites), ELOOP beyond.
    fn exec_binprm(&mut self, pid: Pid, bprm: &mut Bprm) -> Result<(), ExecError> {
        let mut depth = 0;
        loop {
            if depth > 5 {
                return Err(ExecError::new(Errno::ELOOP, "more than 5 levels of #! interpreters"));
            }
            self.search_binary_handler(pid, bprm)?;
            match bprm.interpreter.take() {
                Some(next) => bprm.file = next,
                None => return Ok(()),
            }
            depth += 1;
        }
    }

    /// `search_binary_handler`: read the first bytes (`prepare_binprm`) and try each format: `#!` scripts,
    /// then ELF (the order of `formats` in a default build: misc, script, elf).
    fn search_binary_handler(&mut self, pid: Pid, bprm: &mut Bprm) -> Result<(), ExecError> {
        bprm.buf = BinprmBuf([0; BINPRM_BUF_SIZE]);
        let path = bprm.file.meta.path.clone();
        read_full(self, &path, 0, &mut bprm.buf.0)?;
        let script_error = match crate::fs::binfmt_script::load_script(self, pid, bprm) {
            Err(e) if e.errno == Errno::ENOEXEC => e,
            r => return r,
        };
        match self.load_elf_binary(pid, bprm) {
            Err(e) if e.errno == Errno::ENOEXEC && !bprm.point_of_no_return => {
                // No handler took it: the ELF loader's reason is the interesting one when the file looks like
                // ELF; otherwise say what the file starts with.
                if bprm.buf.0.starts_with(b"\x7fELF") {
                    Err(e)
                } else if bprm.buf.0.starts_with(b"#!") {
                    Err(script_error)
                } else {
                    Err(ExecError::noexec(format!(
                        "{}: not an ELF file or #! script (starts with {:02x?})",
                        bprm.file.meta.path,
                        &bprm.buf.0[..4]
                    )))
                }
            }
            r => r,
        }
    }

    /// `open_exec(name)` → `do_open_execat`: the file must be regular, executable for the task's credentials
    /// and not on a `noexec` mount (all EACCES).
    pub fn open_exec(&mut self, pid: Pid, path: &str) -> Result<ExecFile, ExecError> {
        // A relative name starts at the task's working directory (`do_open_execat` with AT_FDCWD).
        let full = self.path_at(pid, crate::uapi::AT_FDCWD, path)?;
        let meta = self
            .fs
            .stat(&full)
            .map_err(|e| ExecError::new(e, format!("{path}: {}", e.strerror())))?;
        let cred = self.task(pid)?.cred.clone();
        let ftype = meta.mode & S_IFMT;
        if ftype == S_IFDIR {
            return Err(ExecError::new(Errno::EACCES, format!("{path}: is a directory")));
        }
        // may_open(MAY_EXEC) then generic_permission.
        if crate::fs::stat::generic_permission(&cred, &meta, crate::fs::stat::X_OK).is_err() {
            return Err(ExecError::new(
                Errno::EACCES,
                format!("{path}: no execute permission (mode {:o})", meta.mode & 0o7777),
            ));
        }
        if ftype != S_IFREG {
            return Err(ExecError::new(Errno::EACCES, format!("{path}: not a regular file")));
        }
        if meta.noexec {
            return Err(ExecError::new(Errno::EACCES, format!("{path}: on a noexec mount")));
        }
        let inode = self.inode_for(meta.clone());
        let file = Arc::new(File {
            id: self.alloc_file_id(),
            inode,
            flags: O_RDONLY,
        });
        Ok(ExecFile { meta, file })
    }

    /// `begin_new_exec`: the point of no return. Kill the other threads (`de_thread`; a non-leader caller
    /// takes over the leader's PID, which is returned and kept in `bprm.pid`), switch to a fresh mm
    /// (`exec_mmap`, releasing the old one and a vfork parent), clear the per-exec flags, close close-on-exec
    /// descriptors and set `comm` from the file name.
    pub fn begin_new_exec(&mut self, pid: Pid, bprm: &mut Bprm) -> Result<Pid, ExecError> {
        // bprm_creds_from_file: once committed, the credentials come from the file being loaded (for a #!
        // script, its interpreter: the script's own set-id bits are ignored).
        // check_unsafe_exec: the fs_struct has users beyond this thread group (CLONE_FS to another process).
        let me = self.task(pid)?;
        let n_fs = self.threads_of(me.tgid).filter(|t| t.fs.ptr_eq(&me.fs)).count().max(1);
        let unsafe_share = me.fs.users() > n_fs;
        let creds = crate::fs::exec_creds::bprm_creds_from_file(&me.cred, &bprm.file.meta, unsafe_share);
        bprm.per_clear |= creds.per_clear;
        bprm.secureexec |= creds.secureexec;
        bprm.point_of_no_return = true;
        let pid = self.de_thread(pid);
        bprm.pid = pid;
        // exec_mmap: mm_release (CLONE_CHILD_CLEARTID, a vfork parent is released), then the new mm replaces
        // the old one, which loses a user (the last one tears it down; a vfork parent keeps it).
        self.mm_release(pid);
        let new_mm = self.new_mm();
        let old = {
            let t = self.task_mut(pid)?;
            let old = t.mm;
            t.mm = Some(new_mm);
            t.active_mm = Some(new_mm);
            old
        };
        if let Some(old) = old {
            self.mmput(old);
        }
        // set_mm_exe_file
        if let Some(m) = self.mms.get_mut(&new_mm) {
            m.exe_file = Some(bprm.file.file.clone());
        }
        let t = self.task_mut(pid)?;
        t.flags &= !(PF_RANDOMIZE | PF_FORKNOEXEC);
        t.personality &= !bprm.per_clear;
        if bprm.secureexec && bprm.rlim_stack.cur > STK_LIM {
            // A privileged program does not inherit a huge stack limit (checked before arch_pick_mmap_layout).
            bprm.rlim_stack.cur = STK_LIM;
        }
        // unshare_files: a table shared through CLONE_FILES is copied first; then do_close_on_exec.
        if t.files.users() > 1 {
            t.files = t.files.clone();
        }
        t.files.retain(|_, e| !e.cloexec);
        // __set_task_comm(kbasename(bprm->filename)): at most 15 bytes.
        let base = bprm.filename.rsplit('/').next().unwrap_or("").as_bytes();
        t.comm = String::from_utf8_lossy(&base[..base.len().min(COMM_MAX)]).into_owned();
        // unshare_sighand + flush_signal_handlers: caught signals go back to SIG_DFL, ignored ones stay.
        let mut hand = t.sighand.get();
        for a in hand.action.iter_mut() {
            if a.handler != SigHandler::Ignore {
                a.handler = SigHandler::Default;
            }
            a.flags = 0;
            a.mask = Default::default();
        }
        t.sighand = Shared::new(hand);
        // commit_creds(bprm->cred): /proc/PID/status and the auxv show the new ids from here on.
        t.cred = creds.cred;
        Ok(pid)
    }

    /// `SET_PERSONALITY` + PF_RANDOMIZE + `setup_new_exec` → `arch_pick_mmap_layout` for the exec-time
    /// RLIMIT_STACK. Returns whether PF_RANDOMIZE is set.
    pub fn setup_new_exec(&mut self, pid: Pid, bprm: &Bprm, exec_stack: ExecStack) -> Result<bool, ExecError> {
        let va_space = self.cfg.randomize_va_space;
        let is64 = self.cfg.arch.is_64bit();
        let t = self.task_mut(pid)?;
        // setup_new_exec: the exec-time stack limit (clamped for a secure exec) becomes the task's.
        t.rlimits[RLIMIT_STACK] = bprm.rlim_stack;
        if is64 {
            // set_personality_64bit: READ_IMPLIES_EXEC is dropped for 64-bit programs.
            t.personality &= !aslr::READ_IMPLIES_EXEC;
        } else if exec_stack == ExecStack::Default {
            // A native 32-bit kernel's SET_PERSONALITY keeps the bit; elf_read_implies_exec: an i386 program
            // without PT_GNU_STACK gets it.
            t.personality |= aslr::READ_IMPLIES_EXEC;
        }
        let randomize = t.personality & ADDR_NO_RANDOMIZE == 0 && va_space != 0;
        if randomize {
            t.flags |= PF_RANDOMIZE;
        }
        let legacy = t.personality & ADDR_COMPAT_LAYOUT != 0 || self.cfg.legacy_va_layout;
        let arch = self.cfg.arch;
        let gap = self.cfg.stack_guard_gap;
        let layout = aslr::arch_pick_mmap_layout(&mut self.rng, arch, bprm.rlim_stack.cur, gap, randomize, legacy);
        let m = self.mm_mut(pid)?;
        m.mmap_base = layout.mmap_base;
        m.mmap_legacy_base = layout.mmap_legacy_base;
        m.legacy_layout = layout.legacy;
        m.task_size = arch.task_size_max();
        Ok(randomize)
    }

    /// `setup_arg_pages(bprm, stack_top, executable_stack)`: place the stack VMA so that it ends at
    /// `PAGE_ALIGN(arch_align_stack(stack_top))`, holding the strings, 128 KiB deeper (capped by
    /// RLIMIT_STACK), with `VM_STACK_FLAGS` (+ VM_EXEC for an executable stack); write the strings; set
    /// `arg_start` and move `bprm.p`/`bprm.exec` to their final addresses.
    pub fn setup_arg_pages(
        &mut self,
        pid: Pid,
        bprm: &mut Bprm,
        stack_top: u64,
        exec_stack: ExecStack,
    ) -> Result<(), ExecError> {
        let randomize = self.align_stack_randomizes(pid);
        let stack_top = page_align(aslr::arch_align_stack(&mut self.rng, stack_top, randomize));
        // The temporary VMA covers the pages of the strings (get_arg_page grew it down from one page).
        let tmp_start = page_align_down(bprm.p);
        let tmp_len = bprm.stack_top_max - tmp_start;
        let min_addr = self.cfg.mmap_min_addr;
        if stack_top < min_addr || tmp_len >= stack_top - min_addr {
            return Err(ExecError::new(Errno::ENOMEM, "the stack does not fit below its top"));
        }
        let shift = bprm.stack_top_max - stack_top;
        bprm.p -= shift;
        bprm.exec -= shift;
        let arg_start = bprm.p;
        // VM_STACK_FLAGS: VM_DATA_DEFAULT_FLAGS is VM_DATA_FLAGS_TSK_EXEC (exec with READ_IMPLIES_EXEC).
        let mut vm_flags = VmFlags::GROWSDOWN | VM_DATA_DEFAULT_FLAGS | VmFlags::ACCOUNT;
        if self.read_implies_exec(pid) {
            vm_flags |= VmFlags::EXEC;
        }
        match exec_stack {
            ExecStack::EnableX => vm_flags |= VmFlags::EXEC,
            ExecStack::DisableX => vm_flags -= VmFlags::EXEC,
            ExecStack::Default => {}
        }
        let mm = self.mm_id(pid)?;
        vm_flags |= self.mms[&mm].def_flags;
        // stack_expand: 128 KiB more than the strings use, at most RLIMIT_STACK (page aligned down).
        let stack_size = tmp_len;
        let rlim = bprm.rlim_stack.cur & PAGE_MASK;
        let stack_expand = rlim.min(stack_size + 131072);
        let vm_end = stack_top;
        let stack_base = (vm_end - stack_expand) & PAGE_MASK;
        let vm_start = (vm_end - stack_size).min(stack_base);
        let pages = (vm_end - vm_start) >> PAGE_SHIFT;
        // insert_vm_struct charges the first page, expand_downwards the rest (acct_stack_growth).
        self.vm_enough_memory(pid, pages)
            .map_err(|e| ExecError::new(e, "no memory to commit for the stack"))?;
        // Linux's stack pgoff wraps below 0 as the temporary one-page VMA grows down; the model keeps the
        // anonymous convention pgoff = start page (pgoff of an anonymous VMA is never shown).
        let vma = Vma::new_anon(VirtAddr(vm_start), VirtAddr(vm_end), vm_flags);
        let m = self.mms.get_mut(&mm).expect("task's mm exists");
        m.vmas.insert(vma);
        m.vm_stat_account(vm_flags, pages as i64);
        m.arg_start = arg_start;
        let bytes = strings_bytes(bprm);
        self.exec_write(pid, arg_start, &bytes)
            .map_err(|e| ExecError::new(e, "cannot write the argument strings"))?;
        Ok(())
    }

    /// The READ_IMPLIES_EXEC personality of `pid`: readable mappings (mmap, mprotect) and the data defaults
    /// (brk, the stack) are executable.
    pub fn read_implies_exec(&self, pid: Pid) -> bool {
        self.task(pid)
            .is_ok_and(|t| t.personality & aslr::READ_IMPLIES_EXEC != 0)
    }

    /// `arch_align_stack`'s condition: randomization on and not turned off by the personality.
    pub(crate) fn align_stack_randomizes(&self, pid: Pid) -> bool {
        let pers = self.task(pid).map_or(0, |t| t.personality);
        pers & ADDR_NO_RANDOMIZE == 0 && self.cfg.randomize_va_space != 0
    }

    /// A kernel write into the current task's memory (`copy_to_user`/`clear_user`): faults pages in as a
    /// user write would, but fails with EFAULT instead of signalling (no VMA, or a VMA without write access).
    pub fn exec_write(&mut self, pid: Pid, addr: u64, bytes: &[u8]) -> Result<(), Errno> {
        let arch = self.cfg.arch;
        let mm = self.mm_id(pid)?;
        let mut off = 0usize;
        while off < bytes.len() {
            let a = addr.wrapping_add(off as u64);
            let n = ((PAGE_SIZE - (a & (PAGE_SIZE - 1))) as usize).min(bytes.len() - off);
            let writable = self.mms[&mm]
                .vmas
                .lookup(VirtAddr(a))
                .is_some_and(|v| v.flags.contains(VmFlags::WRITE));
            if !writable {
                return Err(Errno::EFAULT);
            }
            let mut pte = pgtable::pte_get(&self.phys, arch, self.mms[&mm].pgd, a);
            if !pte.present() || !pte.write() {
                self.handle_mm_fault(pid, mm, a, AccessKind::Write)
                    .map_err(|_| Errno::EFAULT)?;
                pte = pgtable::pte_get(&self.phys, arch, self.mms[&mm].pgd, a);
                if !pte.present() || !pte.write() {
                    return Err(Errno::EFAULT);
                }
            }
            let pfn = crate::addr::Pfn(pte.pfn(arch));
            self.phys
                .write(pfn, (a & (PAGE_SIZE - 1)) as usize, &bytes[off..off + n]);
            off += n;
        }
        Ok(())
    }

    /// `de_thread`: every other thread of the group is killed (`zap_other_threads`) and exits. A non-leader
    /// caller then takes the leader's place and PID (`exchange_tids`, `transfer_pid`): it inherits the
    /// leader's parent, position in the task list, exit signal and (through `forget_original_parent`, which
    /// hands them to a live thread) its children; the old leader is released without notifying anyone.
    /// Returns the caller's PID after the exec.
    fn de_thread(&mut self, pid: Pid) -> Pid {
        let Ok(t) = self.task(pid) else { return pid };
        let leader = t.tgid;
        let killed = ExitStatus::Killed {
            signo: SIGKILL,
            core_dumped: false,
        };
        let others: Vec<Pid> = self
            .threads_of(leader)
            .map(|t| t.pid)
            .filter(|&p| p != pid && p != leader)
            .collect();
        for o in others {
            self.do_exit(o, killed);
        }
        if leader == pid || !self.tasks.contains_key(&leader) {
            return pid;
        }
        self.do_exit(leader, killed);
        let (Some(mut me), Some(old)) = (self.tasks.remove(&pid), self.tasks.remove(&leader)) else {
            return pid;
        };
        me.pid = leader;
        me.real_parent = old.real_parent;
        me.ppid = old.ppid;
        me.exit_signal = old.exit_signal;
        me.threads = vec![leader];
        me.seq = old.seq;
        me.pgid = old.pgid;
        me.sid = old.sid;
        me.orphan = old.orphan;
        for t in self.tasks.values_mut() {
            if t.real_parent == pid {
                t.real_parent = leader;
            }
            if t.ppid == pid {
                t.ppid = leader;
            }
            if t.vfork_done == Some(pid) {
                t.vfork_done = Some(leader);
            }
            if t.vfork_waiting_for == Some(pid) {
                t.vfork_waiting_for = Some(leader);
            }
        }
        self.tasks.insert(leader, me);
        leader
    }

    /// `force_fatal_sig(signo)`: the thread group dies of the signal (`kernel/signal.rs`).
    fn exec_fatal_signal(&mut self, pid: Pid, signo: u32) {
        self.force_sig_fault(
            pid,
            SigInfo {
                signo,
                code: crate::mm::fault::SI_KERNEL,
                addr: 0,
            },
        );
    }
}

/// `bprm_stack_limits`: the strings and their pointers get at most a quarter of RLIMIT_STACK, no more than
/// 3/4 of _STK_LIM and no less than ARG_MAX.
fn bprm_stack_limits(bprm: &mut Bprm) -> Result<(), ExecError> {
    let mut limit = (STK_LIM / 4 * 3).min(bprm.rlim_stack.cur / 4);
    limit = limit.max(ARG_MAX);
    let ptr_size = bprm
        .argc
        .max(1)
        .checked_add(bprm.envc)
        .and_then(|n| n.checked_mul(bprm.ptr_size))
        .ok_or_else(|| ExecError::new(Errno::E2BIG, "too many strings"))?;
    if limit <= ptr_size {
        return Err(ExecError::new(
            Errno::E2BIG,
            "the argv and envp pointers alone exceed the stack limit (bprm_stack_limits)",
        ));
    }
    limit -= ptr_size;
    bprm.argmin = bprm.p - limit;
    Ok(())
}

/// `kernel_read` of exactly `buf.len()` bytes, or as many as the file has (zero padding stays); EIO on a
/// read error.
pub(crate) fn read_full(k: &Kernel, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize, ExecError> {
    let mut done = 0;
    while done < buf.len() {
        let n =
            k.fs.read_at(path, offset + done as u64, &mut buf[done..])
                .map_err(|e| ExecError::new(Errno::EIO, format!("{path}: read failed: {}", e.strerror())))?;
        if n == 0 {
            break;
        }
        done += n;
    }
    Ok(done)
}

/// `elf_read`: exactly `buf.len()` bytes at `offset`, else EIO.
pub(crate) fn read_exact(k: &Kernel, path: &str, offset: u64, buf: &mut [u8]) -> Result<(), ExecError> {
    let n = read_full(k, path, offset, buf)?;
    if n != buf.len() {
        return Err(ExecError::new(
            Errno::EIO,
            format!(
                "{path}: {} bytes at offset {offset:#x} lie beyond the end of the file",
                buf.len()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
#[path = "exec_tests.rs"]
mod tests;
