//! Property tests of the whole model: random sequences of mapping system calls and user accesses inside a
//! 64-page window, run against the model and against a naive page-by-page reference model. After every step:
//!
//! * the VMA tree invariants hold (sorted, aligned, non-overlapping);
//! * the `mm_struct` counters equal a recomputation from the VMAs (total_vm, data_vm, exec_vm, stack_vm,
//!   locked_vm, and Committed_AS for private mappings);
//! * page by page, the model's VMAs agree with the naive model on presence, protection, sharing and locking;
//! * the page-level invariants hold (`Kernel::check_all_page_invariants`: PTEs inside VMAs, map and reference
//!   counts, RSS equal to a walk, no leaked frame), and unmapping everything frees every data frame;
//! * bytes written survive every path (mprotect splits and merges, mremap moves, DONTNEED of shared memory)
//!   and anonymous private memory reads back zero after MADV_DONTNEED.
//!
//! The naive model knows nothing about VMAs: it tracks each page separately, which is exactly what the
//! VMA-level operations must be equivalent to.

use std::collections::BTreeMap;

use memsim_core::fs::MemFs;
use memsim_core::mm::vma::VmFlags;
use memsim_core::uapi::*;
use memsim_core::{Errno, Kernel, KernelConfig, Pid, SigInfo};
use proptest::prelude::*;

const BASE: u64 = 0x1_0000_0000;
const NPAGES: u64 = 64;
const PID: Pid = Pid(1);

fn page(i: u64) -> u64 {
    BASE + i * 4096
}

#[derive(Clone, Debug)]
enum Op {
    Mmap {
        at: u64,
        n: u64,
        prot: u64,
        shared: bool,
        noreserve: bool,
    },
    Munmap {
        at: u64,
        n: u64,
    },
    Mprotect {
        at: u64,
        n: u64,
        prot: u64,
    },
    Mlock {
        at: u64,
        n: u64,
    },
    Munlock {
        at: u64,
        n: u64,
    },
    Madvise {
        at: u64,
        n: u64,
        advice: u64,
    },
    Mremap {
        at: u64,
        old: u64,
        new: u64,
        to: Option<u64>,
    },
    /// Write a byte to the `at`-th writable page (skipped when there is none).
    Poke {
        at: u64,
        off: u64,
        byte: u8,
    },
    /// Read a byte from the `at`-th accessible page (skipped when there is none).
    Peek {
        at: u64,
        off: u64,
    },
    /// Access any page of the window, faulting or not; a fault ends the sequence (the task is killed).
    Touch {
        at: u64,
        write: bool,
    },
}

fn prot_strategy() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(PROT_NONE),
        Just(PROT_READ),
        Just(PROT_READ | PROT_WRITE),
        Just(PROT_READ | PROT_EXEC),
        Just(PROT_WRITE),
        Just(PROT_READ | PROT_WRITE | PROT_EXEC),
    ]
}

fn range() -> impl Strategy<Value = (u64, u64)> {
    (0..NPAGES).prop_flat_map(|at| (Just(at), 1..=(NPAGES - at).min(12)))
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (range(), prot_strategy(), prop::bool::weighted(0.35), prop::bool::weighted(0.1))
            .prop_map(|((at, n), prot, shared, noreserve)| Op::Mmap { at, n, prot, shared, noreserve }),
        2 => range().prop_map(|(at, n)| Op::Munmap { at, n }),
        3 => (range(), prot_strategy()).prop_map(|((at, n), prot)| Op::Mprotect { at, n, prot }),
        1 => range().prop_map(|(at, n)| Op::Mlock { at, n }),
        1 => range().prop_map(|(at, n)| Op::Munlock { at, n }),
        2 => (range(), prop::sample::select(vec![MADV_DONTNEED, MADV_DONTNEED, MADV_DONTFORK, MADV_DOFORK, MADV_RANDOM, MADV_NORMAL]))
            .prop_map(|((at, n), advice)| Op::Madvise { at, n, advice }),
        1 => (range(), 1..8u64, prop::option::of(0..NPAGES))
            .prop_map(|((at, old), new, to)| Op::Mremap { at, old, new, to }),
        4 => (0..NPAGES, 0..8u64, 1..=255u8).prop_map(|(at, off, byte)| Op::Poke { at, off, byte }),
        4 => (0..NPAGES, 0..8u64).prop_map(|(at, off)| Op::Peek { at, off }),
        1 => (0..NPAGES, any::<bool>()).prop_map(|(at, write)| Op::Touch { at, write }),
    ]
}

/// What the naive model knows about one page.
#[derive(Clone, Debug, PartialEq)]
struct NPage {
    prot: u64,
    shared: bool,
    locked: bool,
    dontfork: bool,
    /// For shared pages: the shmem object and the page's index in it (`vm_pgoff` linear). Their bytes live in
    /// [`Naive::shm`], so two mappings of the same object page alias, as in Linux.
    obj: Option<(u64, u64)>,
    /// Bytes written (offset → value); everything else reads zero.
    bytes: BTreeMap<u64, u8>,
}

struct Naive {
    pages: Vec<Option<NPage>>,
    /// Bytes of shmem object pages, by (object, page index).
    shm: BTreeMap<(u64, u64), BTreeMap<u64, u8>>,
    /// Size in pages of each shmem object (fixed at mmap; mremap does not resize it).
    shm_size: BTreeMap<u64, u64>,
    next_obj: u64,
}

impl Naive {
    /// The bytes a page shows: its own for private pages, its object page's for shared ones.
    fn bytes_mut(&mut self, i: u64) -> &mut BTreeMap<u64, u8> {
        let p = self.pages[i as usize].as_mut().expect("mapped page");
        match p.obj {
            Some(o) => self.shm.entry(o).or_default(),
            None => &mut p.bytes,
        }
    }

    /// A shared page beyond the end of its shmem object (an mremap grew the mapping): access raises SIGBUS.
    fn beyond_eof(&self, p: &NPage) -> bool {
        p.obj.is_some_and(|(o, idx)| idx >= self.shm_size[&o])
    }

    fn mapped(&self, from: u64, n: u64) -> bool {
        (from..from + n).all(|i| self.pages[i as usize].is_some())
    }
}

fn kernel() -> Kernel {
    let mut k = Kernel::new(KernelConfig::default(), Box::new(MemFs::new()));
    // Unprivileged limits would make mlock fail for large ranges; PID 1 is root with CAP_IPC_LOCK.
    k.task_mut(PID).unwrap().rlimits[RLIMIT_MEMLOCK] = memsim_core::task::Rlimit::INFINITY;
    k
}

fn check_counters(k: &Kernel, commit_unknown: bool) -> Result<(), String> {
    let mm = k.mm(PID).unwrap();
    mm.vmas.check()?;
    let want = mm.recount();
    let got = memsim_core::mm::VmCounters {
        accounted: want.accounted,
        ..mm.counters()
    };
    if got != want {
        return Err(format!("counters {got:?}, recomputed {want:?}"));
    }
    let accounted = want.accounted;
    if !commit_unknown && k.committed_pages != accounted as i64 {
        return Err(format!(
            "Committed_AS {} pages, VM_ACCOUNT VMAs hold {accounted}",
            k.committed_pages
        ));
    }
    Ok(())
}

fn check_pages(k: &Kernel, naive: &Naive) -> Result<(), String> {
    let mm = k.mm(PID).unwrap();
    for i in 0..NPAGES {
        let vma = mm.vmas.lookup(memsim_core::VirtAddr(page(i)));
        match (&naive.pages[i as usize], vma) {
            (None, None) => {}
            (Some(p), Some(v)) => {
                let prot = VmFlags::from_prot(p.prot);
                let f = v.flags;
                if f & VmFlags::ACCESS != prot
                    || f.contains(VmFlags::SHARED) != p.shared
                    || f.contains(VmFlags::LOCKED) != p.locked
                    || f.contains(VmFlags::DONTCOPY) != p.dontfork
                {
                    return Err(format!("page {i}: model flags {f:?}, naive {p:?}"));
                }
            }
            (n, v) => return Err(format!("page {i}: naive {n:?}, model VMA {v:?}")),
        }
    }
    Ok(())
}

/// The `n`-th (modulo their number) window page that is mapped and satisfies `pred`.
fn nth_page(naive: &Naive, n: u64, pred: impl Fn(&Naive, &NPage) -> bool) -> Option<u64> {
    let pages: Vec<u64> = (0..NPAGES)
        .filter(|&i| naive.pages[i as usize].as_ref().is_some_and(|p| pred(naive, p)))
        .collect();
    (!pages.is_empty()).then(|| pages[(n as usize) % pages.len()])
}

/// Apply one op to both models; returns an error describing the first disagreement.
fn step(k: &mut Kernel, naive: &mut Naive, op: &Op) -> Result<(), String> {
    match *op {
        Op::Mmap {
            at,
            n,
            prot,
            shared,
            noreserve,
        } => {
            let mut flags = MAP_FIXED | MAP_ANONYMOUS | if shared { MAP_SHARED } else { MAP_PRIVATE };
            if noreserve {
                flags |= MAP_NORESERVE;
            }
            let r = k.sys_mmap(PID, page(at), n * 4096, prot, flags, -1, 0);
            if r != Ok(page(at)) {
                return Err(format!("{op:?} returned {r:?}"));
            }
            let obj = shared.then(|| {
                naive.next_obj += 1;
                naive.shm_size.insert(naive.next_obj, n);
                naive.next_obj
            });
            for i in at..at + n {
                naive.pages[i as usize] = Some(NPage {
                    prot,
                    shared,
                    locked: false,
                    dontfork: false,
                    obj: obj.map(|o| (o, i - at)),
                    bytes: BTreeMap::new(),
                });
            }
        }
        Op::Munmap { at, n } => {
            let r = k.sys_munmap(PID, page(at), n * 4096);
            if r != Ok(0) {
                return Err(format!("{op:?} returned {r:?}"));
            }
            for i in at..at + n {
                naive.pages[i as usize] = None;
            }
        }
        Op::Mprotect { at, n, prot } => {
            let r = k.sys_mprotect(PID, page(at), n * 4096, prot);
            // mm/mprotect.c: VMAs before a hole are changed, then ENOMEM.
            let mut hole = false;
            for i in at..at + n {
                match naive.pages[i as usize].as_mut() {
                    Some(p) => p.prot = prot,
                    None => {
                        hole = true;
                        break;
                    }
                }
            }
            let want = if hole { Err(Errno::ENOMEM) } else { Ok(0) };
            if r != want {
                return Err(format!("{op:?} returned {r:?}, want {want:?}"));
            }
        }
        Op::Mlock { at, n } | Op::Munlock { at, n } => {
            let lock = matches!(op, Op::Mlock { .. });
            let r = if lock {
                k.sys_mlock(PID, page(at), n * 4096)
            } else {
                k.sys_munlock(PID, page(at), n * 4096)
            };
            let mut hole = false;
            for i in at..at + n {
                match naive.pages[i as usize].as_mut() {
                    Some(p) => p.locked = lock,
                    None => {
                        hole = true;
                        break;
                    }
                }
            }
            // mlock's populate turns EFAULT on PROT_NONE into ENOMEM; only holes are checked exactly here.
            if hole && r != Err(Errno::ENOMEM) {
                return Err(format!("{op:?} over a hole returned {r:?}"));
            }
            if !hole && !lock && r != Ok(0) {
                return Err(format!("{op:?} returned {r:?}"));
            }
        }
        Op::Madvise { at, n, advice } => {
            let r = k.sys_madvise(PID, page(at), n * 4096, advice);
            // mm/madvise.c: every mapped VMA is processed in order, holes make the result ENOMEM; DONTNEED on a
            // VM_LOCKED VMA stops the walk there with EINVAL.
            let mut want = if naive.mapped(at, n) { Ok(0) } else { Err(Errno::ENOMEM) };
            for i in at..at + n {
                if let Some(p) = naive.pages[i as usize].as_mut() {
                    match advice {
                        MADV_DONTNEED if p.locked => {
                            want = Err(Errno::EINVAL);
                            break;
                        }
                        MADV_DONTNEED if !p.shared => p.bytes.clear(),
                        MADV_DONTFORK => p.dontfork = true,
                        MADV_DOFORK => p.dontfork = false,
                        _ => {}
                    }
                }
            }
            if r != want {
                return Err(format!("{op:?} returned {r:?}, want {want:?}"));
            }
        }
        Op::Mremap { at, old, new, to } => {
            // Only single-VMA sources are predicted page by page; others are skipped.
            let mm = k.mm(PID).unwrap();
            let Some(v) = mm.vmas.lookup(memsim_core::VirtAddr(page(at))) else {
                return Ok(());
            };
            if at + old > NPAGES || v.end.as_u64() < page(at + old) {
                return Ok(());
            }
            let dst = match to {
                Some(d) if d + new <= NPAGES && (d + new <= at || d >= at + old) => d,
                _ => return Ok(()),
            };
            let r = k.sys_mremap(
                PID,
                page(at),
                old * 4096,
                new * 4096,
                MREMAP_MAYMOVE | MREMAP_FIXED,
                page(dst),
            );
            if r != Ok(page(dst)) {
                return Err(format!("{op:?} returned {r:?}"));
            }
            let moved: Vec<Option<NPage>> = (at..at + old).map(|i| naive.pages[i as usize].take()).collect();
            let proto = moved[0].clone().expect("source mapped");
            for i in dst..dst + new {
                let j = (i - dst) as usize;
                naive.pages[i as usize] = if j < moved.len() {
                    moved[j].clone()
                } else {
                    // mm/mremap.c: the grown part continues the object linearly (vm_pgoff + offset).
                    Some(NPage {
                        bytes: BTreeMap::new(),
                        obj: proto.obj.map(|(o, first)| (o, first + j as u64)),
                        ..proto.clone()
                    })
                };
            }
        }
        Op::Poke { at, off, byte } => {
            let Some(at) = nth_page(naive, at, |n, p| p.prot & PROT_WRITE != 0 && !n.beyond_eof(p)) else {
                return Ok(());
            };
            let r = k.poke(PID, page(at) + off, &[byte]);
            if r != Ok(()) {
                return Err(format!("{op:?} (page {at}): {r:?}"));
            }
            naive.bytes_mut(at).insert(off, byte);
        }
        Op::Peek { at, off } => {
            let Some(at) = nth_page(naive, at, |n, p| p.prot != PROT_NONE && !n.beyond_eof(p)) else {
                return Ok(());
            };
            let want = *naive.bytes_mut(at).get(&off).unwrap_or(&0);
            let r = k.peek(PID, page(at) + off, 1);
            if r != Ok(vec![want]) {
                return Err(format!("{op:?} (page {at}): model {r:?}, naive {want}"));
            }
        }
        Op::Touch { at, write } => {
            let addr = page(at) + 8;
            let r = if write {
                k.poke(PID, addr, &[0x5a])
            } else {
                k.peek(PID, addr, 1).map(|_| ())
            };
            // arch/x86/mm/fault.c: no VMA ⇒ SEGV_MAPERR; access_error ⇒ SEGV_ACCERR.
            let want = match &naive.pages[at as usize] {
                None => Some((SIGSEGV, SEGV_MAPERR)),
                Some(p) if write && p.prot & PROT_WRITE == 0 => Some((SIGSEGV, SEGV_ACCERR)),
                Some(p) if p.prot == PROT_NONE => Some((SIGSEGV, SEGV_ACCERR)),
                // mm/shmem.c: shmem_fault beyond i_size ⇒ VM_FAULT_SIGBUS.
                Some(p) if naive.beyond_eof(p) => Some((SIGBUS, BUS_ADRERR)),
                Some(_) => None,
            };
            match (r, want) {
                (Ok(()), None) => {
                    if write {
                        naive.bytes_mut(at).insert(8, 0x5a);
                    }
                }
                (Err(SigInfo { signo, code, addr: a }), Some(w)) if (signo, code) == w && a == addr => {
                    return Err("killed".into());
                }
                (r, w) => return Err(format!("{op:?}: model {r:?}, naive expects (signo, code) {w:?}")),
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn model_agrees_with_naive_pages(ops in prop::collection::vec(op_strategy(), 1..60)) {
        let mut k = kernel();
        let mut naive = Naive {
            pages: vec![None; NPAGES as usize],
            shm: BTreeMap::new(),
            shm_size: BTreeMap::new(),
            next_obj: 0,
        };
        let mut commit_unknown = false;
        for (i, op) in ops.iter().enumerate() {
            // Committed_AS is only recomputable from VM_ACCOUNT while no shmem object is charged and no
            // shrinking mremap move happened (6.18 leaves the shrunk part charged: mm/mremap.c, see mremap.rs).
            match op {
                Op::Mmap { shared: true, .. } => commit_unknown = true,
                Op::Mremap { old, new, .. } if new < old => commit_unknown = true,
                _ => {}
            }
            match step(&mut k, &mut naive, op) {
                Ok(()) => {}
                Err(e) if e == "killed" => break,
                Err(e) => prop_assert!(false, "step {i}: {e}\nops: {:#?}", &ops[..=i]),
            }
            if let Err(e) = check_counters(&k, commit_unknown)
                .and_then(|()| check_pages(&k, &naive))
                .and_then(|()| k.check_all_page_invariants())
            {
                prop_assert!(false, "after step {i} ({op:?}): {e}\nops: {:#?}", &ops[..=i]);
            }
        }
        // Unmapping everything frees every frame the window used (page tables may stay, as in Linux).
        if k.task(PID).unwrap().is_alive() {
            prop_assert_eq!(k.sys_munmap(PID, BASE, NPAGES * 4096), Ok(0));
            let mm = k.mm(PID).unwrap();
            prop_assert_eq!(mm.rss_pages(), 0);
            prop_assert_eq!(mm.total_vm, 0);
            if let Err(e) = k.check_all_page_invariants() {
                prop_assert!(false, "after unmapping everything: {e}");
            }
        }
    }
}
