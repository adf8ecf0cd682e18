//! Property test of fork and copy-on-write across several processes: random sequences of fork, CLONE_VM
//! clone, writes, reads, mmap, munmap, mprotect, MADV_DONTFORK/WIPEONFORK and exits, run against a naive model
//! in which every address space is a plain array of pages (fork copies the array; a CLONE_VM child shares it).
//!
//! After every step: every byte read equals the naive model's; `check_all_page_invariants` holds (map and
//! reference counts equal the PTEs and cache references that exist, RSS equals a walk, no leaked frame); each
//! mm's counters equal `Mm::recount`; Committed_AS equals the VM_ACCOUNT pages of the live address spaces. At
//! the end every process exits and nothing but init's page directory is left.

use memsim_core::fs::MemFs;
use memsim_core::kernel::INIT_PID;
use memsim_core::uapi::*;
use memsim_core::{Kernel, KernelConfig, Pid};
use proptest::prelude::*;

const BASE: u64 = 0x1_0000_0000;
const NPAGES: u64 = 24;
/// Bytes of each page the model tracks (offsets 0..TRACK).
const TRACK: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq)]
struct NPage {
    writable: bool,
    dontfork: bool,
    wipe: bool,
    bytes: [u8; TRACK],
}

type Space = Vec<Option<NPage>>;

#[derive(Clone, Debug)]
struct Proc {
    pid: Pid,
    /// Who waits for it: the creator (a thread of the creating process), then a reaper after reparenting.
    parent: Option<usize>,
    /// The thread-group leader (itself for a process).
    leader: usize,
    space: usize,
    alive: bool,
    /// Adopted by init: reaped without a wait.
    orphan: bool,
}

#[derive(Clone, Debug)]
enum Op {
    Fork {
        who: usize,
    },
    CloneVm {
        who: usize,
    },
    /// CLONE_VM | CLONE_SIGHAND | CLONE_THREAD.
    Thread {
        who: usize,
    },
    Write {
        who: usize,
        page: u64,
        off: usize,
        byte: u8,
    },
    Read {
        who: usize,
        page: u64,
        off: usize,
    },
    Mmap {
        who: usize,
        page: u64,
        n: u64,
        writable: bool,
    },
    Munmap {
        who: usize,
        page: u64,
        n: u64,
    },
    Mprotect {
        who: usize,
        page: u64,
        n: u64,
        writable: bool,
    },
    Advise {
        who: usize,
        page: u64,
        n: u64,
        advice: u64,
    },
    Exit {
        who: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let who = 0usize..6;
    let page = 0..NPAGES;
    let n = 1u64..6;
    prop_oneof![
        2 => who.clone().prop_map(|who| Op::Fork { who }),
        1 => who.clone().prop_map(|who| Op::CloneVm { who }),
        1 => who.clone().prop_map(|who| Op::Thread { who }),
        6 => (who.clone(), page.clone(), 0..TRACK, any::<u8>())
            .prop_map(|(who, page, off, byte)| Op::Write { who, page, off, byte }),
        4 => (who.clone(), page.clone(), 0..TRACK).prop_map(|(who, page, off)| Op::Read { who, page, off }),
        2 => (who.clone(), page.clone(), n.clone(), any::<bool>())
            .prop_map(|(who, page, n, writable)| Op::Mmap { who, page, n, writable }),
        1 => (who.clone(), page.clone(), n.clone()).prop_map(|(who, page, n)| Op::Munmap { who, page, n }),
        1 => (who.clone(), page.clone(), n.clone(), any::<bool>())
            .prop_map(|(who, page, n, writable)| Op::Mprotect { who, page, n, writable }),
        1 => (who.clone(), page.clone(), n.clone(), prop::sample::select(vec![
                MADV_DONTFORK, MADV_DOFORK, MADV_WIPEONFORK, MADV_KEEPONFORK]))
            .prop_map(|(who, page, n, advice)| Op::Advise { who, page, n, advice }),
        1 => who.prop_map(|who| Op::Exit { who }),
    ]
}

struct World {
    k: Kernel,
    procs: Vec<Proc>,
    spaces: Vec<Space>,
}

impl World {
    fn new() -> World {
        let k = Kernel::new(KernelConfig::default(), Box::new(MemFs::new()));
        World {
            k,
            procs: vec![Proc {
                pid: INIT_PID,
                parent: None,
                leader: 0,
                space: 0,
                alive: true,
                orphan: false,
            }],
            spaces: vec![vec![None; NPAGES as usize]],
        }
    }

    /// The `who`-th live process (modulo their number).
    fn pick(&self, who: usize) -> usize {
        let live: Vec<usize> = (0..self.procs.len()).filter(|&i| self.procs[i].alive).collect();
        live[who % live.len()]
    }

    fn addr(page: u64) -> u64 {
        BASE + page * 4096
    }

    fn clamp(page: u64, n: u64) -> u64 {
        n.min(NPAGES - page)
    }

    fn live(&self) -> usize {
        self.procs.iter().filter(|p| p.alive).count()
    }

    fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match *op {
            Op::Fork { who } | Op::CloneVm { who } | Op::Thread { who } => {
                if self.live() >= 6 {
                    return Ok(());
                }
                let i = self.pick(who);
                let vm = !matches!(op, Op::Fork { .. });
                let thread = matches!(op, Op::Thread { .. });
                let pid = self.procs[i].pid;
                let child = if thread {
                    let flags = CLONE_VM_FLAG | CLONE_SIGHAND | CLONE_THREAD;
                    self.k.sys_clone(pid, flags, 0, 0, 0, 0)
                } else if vm {
                    self.k.sys_clone(pid, CLONE_VM_FLAG | u64::from(SIGCHLD), 0, 0, 0, 0)
                } else {
                    self.k.sys_fork(pid)
                };
                let child = Pid(child.map_err(|e| TestCaseError::fail(format!("fork: {e:?}")))? as u32);
                let space = if vm {
                    self.procs[i].space
                } else {
                    // dup_mmap: DONTCOPY pages are not there, WIPEONFORK pages read zero.
                    let s: Space = self.spaces[self.procs[i].space]
                        .iter()
                        .map(|p| match p {
                            Some(p) if p.dontfork => None,
                            Some(p) if p.wipe => Some(NPage {
                                bytes: [0; TRACK],
                                ..*p
                            }),
                            other => *other,
                        })
                        .collect();
                    self.spaces.push(s);
                    self.spaces.len() - 1
                };
                let n = self.procs.len();
                // A thread's "parent" is its leader's; a process's is its creating thread.
                let (parent, leader) = if thread {
                    let l = self.procs[i].leader;
                    (self.procs[l].parent, l)
                } else {
                    (Some(i), n)
                };
                self.procs.push(Proc {
                    pid: child,
                    parent,
                    leader,
                    space,
                    alive: true,
                    orphan: false,
                });
                let t = self.k.task(child).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
                prop_assert_eq!(t.tgid, self.procs[leader].pid);
            }
            Op::Write { who, page, off, byte } => {
                let i = self.pick(who);
                let sp = self.procs[i].space;
                let Some(p) = self.spaces[sp][page as usize] else {
                    return Ok(());
                };
                if !p.writable {
                    return Ok(());
                }
                self.k
                    .poke(self.procs[i].pid, Self::addr(page) + off as u64, &[byte])
                    .map_err(|e| TestCaseError::fail(format!("poke faulted: {e:?}")))?;
                if let Some(p) = self.spaces[sp][page as usize].as_mut() {
                    p.bytes[off] = byte;
                }
            }
            Op::Read { who, page, off } => {
                let i = self.pick(who);
                let Some(p) = self.spaces[self.procs[i].space][page as usize] else {
                    return Ok(());
                };
                let got = self
                    .k
                    .peek(self.procs[i].pid, Self::addr(page) + off as u64, 1)
                    .map_err(|e| TestCaseError::fail(format!("peek faulted: {e:?}")))?;
                prop_assert_eq!(
                    got[0],
                    p.bytes[off],
                    "pid {} page {} off {}",
                    self.procs[i].pid,
                    page,
                    off
                );
            }
            Op::Mmap { who, page, n, writable } => {
                let i = self.pick(who);
                let n = Self::clamp(page, n);
                let prot = PROT_READ | if writable { PROT_WRITE } else { 0 };
                let flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
                self.k
                    .sys_mmap(self.procs[i].pid, Self::addr(page), n * 4096, prot, flags, -1, 0)
                    .map_err(|e| TestCaseError::fail(format!("mmap: {e:?}")))?;
                let sp = self.procs[i].space;
                for p in page..page + n {
                    self.spaces[sp][p as usize] = Some(NPage {
                        writable,
                        dontfork: false,
                        wipe: false,
                        bytes: [0; TRACK],
                    });
                }
            }
            Op::Munmap { who, page, n } => {
                let i = self.pick(who);
                let n = Self::clamp(page, n);
                self.k
                    .sys_munmap(self.procs[i].pid, Self::addr(page), n * 4096)
                    .map_err(|e| TestCaseError::fail(format!("munmap: {e:?}")))?;
                let sp = self.procs[i].space;
                for p in page..page + n {
                    self.spaces[sp][p as usize] = None;
                }
            }
            Op::Mprotect { who, page, n, writable } => {
                let i = self.pick(who);
                let n = Self::clamp(page, n);
                let sp = self.procs[i].space;
                if (page..page + n).any(|p| self.spaces[sp][p as usize].is_none()) {
                    return Ok(());
                }
                let prot = PROT_READ | if writable { PROT_WRITE } else { 0 };
                self.k
                    .sys_mprotect(self.procs[i].pid, Self::addr(page), n * 4096, prot)
                    .map_err(|e| TestCaseError::fail(format!("mprotect: {e:?}")))?;
                for p in page..page + n {
                    if let Some(x) = self.spaces[sp][p as usize].as_mut() {
                        x.writable = writable;
                    }
                }
            }
            Op::Advise { who, page, n, advice } => {
                let i = self.pick(who);
                let n = Self::clamp(page, n);
                let sp = self.procs[i].space;
                if (page..page + n).any(|p| self.spaces[sp][p as usize].is_none()) {
                    return Ok(());
                }
                self.k
                    .sys_madvise(self.procs[i].pid, Self::addr(page), n * 4096, advice)
                    .map_err(|e| TestCaseError::fail(format!("madvise: {e:?}")))?;
                for p in page..page + n {
                    if let Some(x) = self.spaces[sp][p as usize].as_mut() {
                        match advice {
                            MADV_DONTFORK => x.dontfork = true,
                            MADV_DOFORK => x.dontfork = false,
                            MADV_WIPEONFORK => x.wipe = true,
                            _ => x.wipe = false,
                        }
                    }
                }
            }
            Op::Exit { who } => {
                let i = self.pick(who);
                if self.procs[i].leader == 0 {
                    return Ok(()); // init's group stays: it reaps
                }
                if self.procs[i].leader != i {
                    // A thread's exit: gone at once, its children go to another thread or init.
                    let pid = self.procs[i].pid;
                    self.k
                        .sys_exit(pid, 1)
                        .map_err(|e| TestCaseError::fail(format!("exit: {e:?}")))?;
                    self.procs[i].alive = false;
                    self.reparent(i);
                    prop_assert!(self.k.task(pid).is_err(), "a thread is reaped at once");
                } else {
                    self.exit(i)?;
                }
            }
        }
        Ok(())
    }

    /// forget_original_parent in the naive world: children of a dead thread go to a live thread of its group,
    /// else to init as orphans.
    fn reparent(&mut self, dead: usize) {
        let leader = self.procs[dead].leader;
        let heir = (0..self.procs.len()).find(|&j| self.procs[j].alive && self.procs[j].leader == leader);
        for j in 0..self.procs.len() {
            if self.procs[j].parent == Some(dead) {
                match heir {
                    Some(h) => self.procs[j].parent = Some(h),
                    None => {
                        self.procs[j].parent = Some(0);
                        self.procs[j].orphan = true;
                    }
                }
            }
        }
    }

    /// exit_group of process `i`: every thread goes, then the parent (if it is a real waiter) reaps it.
    fn exit(&mut self, i: usize) -> Result<(), TestCaseError> {
        let pid = self.procs[i].pid;
        self.k
            .sys_exit_group(pid, i as i32)
            .map_err(|e| TestCaseError::fail(format!("exit: {e:?}")))?;
        let members: Vec<usize> = (0..self.procs.len())
            .filter(|&j| self.procs[j].leader == i && self.procs[j].alive)
            .collect();
        for &j in &members {
            self.procs[j].alive = false;
        }
        for &j in &members {
            self.reparent(j);
        }
        for &j in &members {
            if j != i {
                prop_assert!(self.k.task(self.procs[j].pid).is_err(), "threads are reaped");
            }
        }
        let status = ((i as i32) & 0xff) << 8;
        if self.procs[i].orphan {
            prop_assert!(self.k.task(pid).is_err(), "init reaps adopted orphans");
            return Ok(());
        }
        let parent = self.procs[i].parent.unwrap_or(0);
        let got = self.k.sys_wait4(self.procs[parent].pid, i64::from(pid.0), 0);
        prop_assert_eq!(got, Ok((pid, status)));
        prop_assert!(self.k.task(pid).is_err(), "reaped");
        Ok(())
    }

    fn check(&self) -> Result<(), TestCaseError> {
        self.k.check_all_page_invariants().map_err(TestCaseError::fail)?;
        let mut accounted = 0;
        for (id, m) in &self.k.mms {
            let want = m.recount();
            let mut got = m.counters();
            got.accounted = want.accounted;
            prop_assert_eq!(got, want, "mm {:?}", id);
            accounted += want.accounted;
            m.vmas.check().map_err(TestCaseError::fail)?;
        }
        prop_assert_eq!(self.k.committed_pages, accounted as i64, "Committed_AS");
        // mm_users equals the live tasks using each mm.
        for (id, m) in &self.k.mms {
            let users = self.k.tasks.values().filter(|t| t.mm == Some(*id)).count() as u32;
            if users > 0 {
                prop_assert_eq!(m.mm_users, users, "mm_users of {:?}", id);
            }
        }
        Ok(())
    }
}

const CLONE_VM_FLAG: u64 = memsim_core::kernel::fork::CLONE_VM;
use memsim_core::kernel::fork::{CLONE_SIGHAND, CLONE_THREAD};

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn fork_cow_matches_naive_model(ops in prop::collection::vec(op(), 1..60)) {
        let mut w = World::new();
        let boot = w.k.phys.nr_used();
        for op in &ops {
            w.step(op)?;
            w.check()?;
        }
        // Everyone exits, children before parents' memory goes; then init unmaps its window.
        for i in (1..w.procs.len()).rev() {
            if w.procs[i].alive && w.procs[i].leader == i {
                w.exit(i)?;
                w.check()?;
            }
        }
        w.k.sys_munmap(INIT_PID, BASE, NPAGES * 4096).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        w.check()?;
        prop_assert!(w.k.phys.nr_used() <= boot + 1, "{} frames used, {} at boot (+ init's PGD)", w.k.phys.nr_used(), boot);
    }
}

/// One lifecycle call with arbitrary arguments.
#[derive(Clone, Debug)]
enum Wild {
    Clone(u32, u64, u64, u64),
    Clone3(u32, Vec<u8>),
    Wait4(u32, i64, u64),
    Waitid(u32, u32, i64, u64),
    Kill(u32, i64, u32),
    Tgkill(u32, i64, i64, u32),
    Prlimit(u32, u32, usize, Option<(u64, u64)>),
    Exit(u32, i32, bool),
    Sigaction(u32, u32, u8, u64),
    Poke(u32, u64),
}

fn wild() -> impl Strategy<Value = Wild> {
    let pid = prop_oneof![0u32..16, any::<u32>()];
    let flags = prop_oneof![any::<u64>(), (0u64..0x1_0000_0000), Just(0x11), Just(0x3d0f00)];
    prop_oneof![
        (pid.clone(), flags, any::<u64>(), any::<u64>()).prop_map(|(p, f, a, b)| Wild::Clone(p, f, a, b)),
        (pid.clone(), prop::collection::vec(any::<u8>(), 0..120)).prop_map(|(p, b)| Wild::Clone3(p, b)),
        (pid.clone(), any::<i64>(), any::<u64>()).prop_map(|(p, u, o)| Wild::Wait4(p, u, o)),
        (pid.clone(), 0u32..5, -3i64..20, any::<u64>()).prop_map(|(p, w, u, o)| Wild::Waitid(p, w, u, o)),
        (pid.clone(), -3i64..20, 0u32..70).prop_map(|(p, t, s)| Wild::Kill(p, t, s)),
        (pid.clone(), -1i64..20, -1i64..20, 0u32..70).prop_map(|(p, g, t, s)| Wild::Tgkill(p, g, t, s)),
        (
            pid.clone(),
            pid.clone(),
            0usize..20,
            prop::option::of((any::<u64>(), any::<u64>()))
        )
            .prop_map(|(p, t, r, n)| Wild::Prlimit(p, t, r, n)),
        (pid.clone(), any::<i32>(), any::<bool>()).prop_map(|(p, c, g)| Wild::Exit(p, c, g)),
        (pid.clone(), 0u32..70, 0u8..3, any::<u64>()).prop_map(|(p, s, h, f)| Wild::Sigaction(p, s, h, f)),
        (pid, 0u64..8).prop_map(|(p, pg)| Wild::Poke(p, pg)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Arbitrary lifecycle calls from arbitrary PIDs never panic and never break the page invariants.
    #[test]
    fn lifecycle_calls_never_panic(calls in prop::collection::vec(wild(), 1..40)) {
        use memsim_core::task::{Rlimit, SigAction, SigHandler};
        let mut k = Kernel::new(KernelConfig::default(), Box::new(MemFs::new()));
        k.sys_mmap(INIT_PID, BASE, 8 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0)
            .unwrap();
        for c in calls {
            match c {
                Wild::Clone(p, f, a, b) => drop(k.sys_clone(Pid(p), f, 0, a, b, 0)),
                Wild::Clone3(p, b) => drop(k.sys_clone3_raw(Pid(p), &b)),
                Wild::Wait4(p, u, o) => drop(k.sys_wait4(Pid(p), u, o)),
                Wild::Waitid(p, w, u, o) => drop(k.sys_waitid(Pid(p), w, u, o)),
                Wild::Kill(p, t, s) => drop(k.sys_kill(Pid(p), t, s)),
                Wild::Tgkill(p, g, t, s) => drop(k.sys_tgkill(Pid(p), g, t, s)),
                Wild::Prlimit(p, t, r, n) => drop(k.sys_prlimit64(Pid(p), t, r, n.map(|(c, m)| Rlimit::new(c, m)))),
                Wild::Exit(p, c, g) => drop(if g { k.sys_exit_group(Pid(p), c) } else { k.sys_exit(Pid(p), c) }),
                Wild::Sigaction(p, s, h, f) => {
                    let handler = match h {
                        0 => SigHandler::Default,
                        1 => SigHandler::Ignore,
                        _ => SigHandler::Handler(f),
                    };
                    let _ = k.sys_rt_sigaction(Pid(p), s, Some(SigAction { handler, flags: f, mask: f }), 8);
                }
                Wild::Poke(p, pg) => drop(k.poke(Pid(p), BASE + pg * 4096, &[1])),
            }
            k.check_all_page_invariants().map_err(TestCaseError::fail)?;
            for m in k.mms.values() {
                let users = k.tasks.values().filter(|t| t.mm == Some(m.id)).count() as u32;
                if users > 0 {
                    prop_assert_eq!(m.mm_users, users);
                }
            }
        }
    }
}
