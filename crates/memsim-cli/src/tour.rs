//! `memsim tour`: a guided walk through one address space. Each step explains what is about to happen, runs
//! scenario lines on the model (printing each line and what it returned), then shows the relevant `/proc`
//! text. The output is deterministic: the model has no randomness, and the only host input is the metadata
//! and bytes of `/usr/bin/cat`.

use std::io::{self, Write};
use std::process::ExitCode;

use memsim_core::Pid;
use memsim_scenario::{prepare, HostFs, Machine, Runner};

const PID: Pid = Pid(1);

struct Tour {
    runner: Runner,
    out: io::BufWriter<io::Stdout>,
    nr_step: usize,
}

impl Tour {
    fn step(&mut self, title: &str, text: &str) {
        self.nr_step += 1;
        let _ = writeln!(self.out, "\n== {}. {title}\n", self.nr_step);
        for l in text.lines() {
            let _ = writeln!(self.out, "{l}");
        }
        let _ = writeln!(self.out);
    }

    /// Run one scenario line and print it with its result; returns the result when it is a number.
    fn run(&mut self, line: &str) -> Option<u64> {
        let steps = match prepare("tour", line) {
            Ok(s) => s,
            Err(e) => {
                let _ = writeln!(self.out, "  {line}\n    (internal error: {e})");
                return None;
            }
        };
        let mut effect = None;
        let mut misses = Vec::new();
        for s in &steps {
            effect = self.runner.step(s, &mut io::sink(), &mut misses).ok().flatten();
        }
        // Signal and exit lines are expectations: say whether they held.
        let shown = match (&effect, misses.first()) {
            (_, Some((_, want, got))) => format!("expected {want}, got {got}"),
            (Some(e), None) => e.clone(),
            (None, None) => "as expected".to_string(),
        };
        let _ = writeln!(self.out, "  {line:<78} → {shown}");
        let e = effect?;
        if let Some(h) = e.strip_prefix("0x") {
            u64::from_str_radix(h, 16).ok()
        } else {
            e.parse::<u64>().ok()
        }
    }

    /// Print `/proc/1/<file>`, keeping only lines for which `keep` holds.
    fn show(&mut self, file: &str, keep: &dyn Fn(&str) -> bool) {
        let _ = writeln!(self.out, "\n  $ cat /proc/1/{file}");
        match self.runner.kernel.proc_read(PID, file) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                let mut any = false;
                for l in text.lines().filter(|l| keep(l)) {
                    let _ = writeln!(self.out, "  {l}");
                    any = true;
                }
                if !any {
                    let _ = writeln!(self.out, "  (empty)");
                }
            }
            Err(e) => {
                let _ = writeln!(self.out, "  (the model cannot render it yet: {e})");
            }
        }
    }

    fn maps(&mut self) {
        self.show("maps", &|_| true);
    }

    /// The smaps block of the mapping starting at `start`, reduced to its size and residency lines.
    fn smaps_of(&mut self, start: u64) {
        let head = format!("{start:08x}-");
        let inside = std::cell::Cell::new(false);
        let keep = |l: &str| {
            if l.contains(' ') && l.split(' ').next().is_some_and(|a| a.contains('-')) {
                inside.set(l.starts_with(&head));
                return inside.get();
            }
            inside.get()
                && ["Size:", "Rss:", "Anonymous:", "Private_Clean:", "Private_Dirty:"]
                    .iter()
                    .any(|k| l.starts_with(k))
        };
        self.show("smaps", &keep);
    }

    fn status(&mut self) {
        self.show("status", &|l| {
            ["VmSize:", "VmRSS:", "RssAnon:", "RssFile:", "VmPTE:"]
                .iter()
                .any(|k| l.starts_with(k))
        });
    }
}

pub fn tour(machine: &Machine) -> ExitCode {
    let kernel = machine.build(Box::new(HostFs::new()));
    let mut t = Tour {
        runner: Runner::new(kernel),
        out: io::BufWriter::new(io::stdout()),
        nr_step: 0,
    };
    let _ = writeln!(
        t.out,
        "memsim tour: one process (PID 1) and its address space, step by step.\n\
         Each line below is a scenario line as `memsim run` reads it, with what the model returned after →."
    );

    t.step(
        "An empty address space",
        "PID 1 starts with no mappings of its own (no program has been loaded): maps shows only the\n\
         [vsyscall] page every x86-64 process has. Its descriptors 0, 1 and 2 are open on /dev/null, like a\n\
         real process's, so the first file opened gets descriptor 3.",
    );
    t.maps();
    t.status();

    t.step(
        "mmap: four pages of anonymous memory",
        "mmap with a NULL hint lets the kernel choose: it searches top-down from mmap_base, just below the\n\
         stack area. Nothing is allocated yet: the mapping is only a VMA, so the RSS stays 0.",
    );
    let Some(a) = t.run("mmap(NULL, 16384, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)") else {
        let _ = writeln!(t.out, "\n(the model's mmap is not available yet; the tour stops here)");
        let _ = t.out.flush();
        return ExitCode::SUCCESS;
    };
    t.maps();
    t.smaps_of(a);

    t.step(
        "A read fault maps the shared zero page",
        "Reading anonymous memory that was never written maps the kernel's shared zero page read-only:\n\
         no memory is allocated, and smaps does not count it in Rss.",
    );
    t.run(&format!(" L {a:x},8"));
    t.smaps_of(a);

    t.step(
        "A write fault allocates a page",
        "Writing the same page faults again (the zero page is read-only): now the kernel allocates a zeroed\n\
         page, maps it writable, and the mapping gets its anon_vma. Rss and Anonymous grow by 4 kB, and the\n\
         page tables that map it show up in VmPTE.",
    );
    t.run(&format!(" S {a:x},8"));
    t.run(&format!("poke({:#x}, \"hello\") = 5", a + 8));
    t.run(&format!("peek({:#x}, 5) = \"hello\"", a + 8));
    t.smaps_of(a);
    t.status();

    t.step(
        "mprotect splits a VMA",
        "Changing the protection of one page in the middle needs a VMA of its own: the mapping is split\n\
         into three (rw-, r--, rw-).",
    );
    t.run(&format!("mprotect({:#x}, 4096, PROT_READ) = 0", a + 4096));
    t.maps();

    t.step(
        "... and merges back",
        "Giving the page its old protection makes the three VMAs identical again (same flags, same\n\
         anon_vma, contiguous): Linux merges them back into one.",
    );
    t.run(&format!("mprotect({:#x}, 4096, PROT_READ|PROT_WRITE) = 0", a + 4096));
    t.maps();

    t.step(
        "munmap punches a hole",
        "Unmapping the third page leaves two VMAs with a hole between them; the page is gone.",
    );
    t.run(&format!("munmap({:#x}, 4096) = 0", a + 8192));
    t.maps();

    let cat = "/usr/bin/cat";
    let mut file_map = None;
    if std::path::Path::new(cat).exists() {
        t.step(
            "A file mapping",
            "Opening a real file and mapping it privately: the VMA names the file, its device and inode.\n\
             A read fault reads the file's page into the page cache (shared by every mapping of the file) and\n\
             maps it read-only; fault-around maps the neighbouring cached pages too. File pages count in Rss\n\
             but not in Anonymous.",
        );
        t.run(&format!("openat(AT_FDCWD, \"{cat}\", O_RDONLY) = 3"));
        file_map = t.run("mmap(NULL, 8192, PROT_READ, MAP_PRIVATE, 3, 0)");
        t.run("close(3) = 0");
        if let Some(f) = file_map {
            t.run(&format!(" L {f:x},4"));
            t.run(&format!("peek({f:#x}, 4) = \"\\177ELF\""));
            t.maps();
            t.smaps_of(f);
        }
    }

    t.step(
        "A segmentation fault",
        "A store to a read-only mapping is a protection fault: the page-fault handler finds the VMA but it\n\
         lacks VM_WRITE, so the process gets SIGSEGV with si_code SEGV_ACCERR (SEGV_MAPERR when there is\n\
         no VMA at all). With no handler installed, the signal kills the process.",
    );
    let target = file_map.unwrap_or(a);
    if file_map.is_none() {
        t.run(&format!("mprotect({a:#x}, 4096, PROT_READ) = 0"));
    }
    t.run(&format!(" S {target:x},8"));
    t.run(&format!(
        "--- SIGSEGV {{si_signo=SIGSEGV, si_code=SEGV_ACCERR, si_addr={target:#x}}} ---"
    ));
    t.run("+++ killed by SIGSEGV +++");
    let _ = writeln!(
        t.out,
        "\nThat's the tour. Write your own scenario (see README.md) and run it with `memsim run FILE`."
    );
    let _ = t.out.flush();
    ExitCode::SUCCESS
}
