//! The differential test: every `tests/cases/*.scn` runs in a real child process (inside the window
//! 0x100000000..0x200000000) and in the model, and results and the window's maps/smaps text must agree.
//! Adding a case is adding a file. Cases where the model is known to be wrong are listed, with a reason, in
//! `tests/cases/KNOWN_FAILURES`; a listed case that starts passing fails the test until it is removed.
//!
//! `MEMSIM_CASE=name` runs only the cases whose file name contains `name` (the known-failures bookkeeping is
//! skipped then); `MEMSIM_VERBOSE=1` prints the report of every case, known failures included;
//! `MEMSIM_SUGGEST=1` prints a `KNOWN_FAILURES` line (name and first disagreement) for every failing case;
//! `MEMSIM_SHOW=1` prints the kernel's maps/smaps text of the window at every `cat` line and at the end
//! (with `-- --nocapture`), which helps when writing a case.
//!
//! Besides the files, `RANDOM_CASES` seeded random scenarios (`memsim_shadow::random`) run under the names
//! `random_NNN`; a failing one's report includes its text, to be saved as a case.
//!
//! `$CASES` in a case stands for the absolute path of `tests/cases` (its files are in `tests/cases/data`).
//!
//! A case may state what of the machine it relies on, one `# requires: X` line each; it is skipped, and said
//! so, elsewhere. `root`: CAP_IPC_LOCK for the real run (e.g. `mlockall(MCL_CURRENT)` locks the whole test
//! process, beyond RLIMIT_MEMLOCK); `thp=madvise`: that transparent-huge-page mode; `no-hugetlb-pool`:
//! `vm.nr_hugepages` 0; `no-swap`: no swap device.

use std::path::Path;

use memsim_shadow::{known, run_generated, run_source, HostConfig};

/// How many seeded random scenarios run, and how many operations each has.
const RANDOM_CASES: u64 = 40;
const RANDOM_OPS: usize = 30;

/// The first `# requires:` of a case this machine does not meet.
fn unmet_requirement(text: &str, is_root: bool) -> Option<String> {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    for req in text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("# requires:"))
        .map(str::trim)
    {
        let met = match req {
            "root" => is_root,
            "thp=madvise" => read("/sys/kernel/mm/transparent_hugepage/enabled").contains("[madvise]"),
            "no-hugetlb-pool" => read("/proc/sys/vm/nr_hugepages").trim() == "0",
            "no-swap" => read("/proc/swaps").lines().count() <= 1,
            _ => false,
        };
        if !met {
            return Some(req.to_string());
        }
    }
    None
}

#[test]
fn scenarios_agree_with_the_kernel() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/cases exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "scn"))
        .collect();
    files.sort();
    let filter = std::env::var("MEMSIM_CASE").ok();
    let verbose = std::env::var_os("MEMSIM_VERBOSE").is_some();
    let suggest = std::env::var_os("MEMSIM_SUGGEST").is_some();
    let show = std::env::var_os("MEMSIM_SHOW").is_some();
    let host = HostConfig::from_host().expect("read the host configuration");
    // Cases map their own files, `$CASES/data/...`: files no other process maps, so that smaps' shared and
    // private counts and Pss do not depend on what else runs on the machine. `$CASES` is this directory.
    let cases_dir = dir.canonicalize().expect("canonical cases directory");
    let cases_dir = cases_dir.to_str().expect("a UTF-8 path");
    let mut reports = Vec::new();
    let mut skipped = Vec::new();
    // SAFETY: geteuid has no preconditions.
    let is_root = unsafe { libc::geteuid() } == 0;
    for path in &files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if filter.as_ref().is_some_and(|f| !name.contains(f.as_str())) {
            continue;
        }
        let text = std::fs::read_to_string(path)
            .expect("read the scenario")
            .replace("$CASES", cases_dir);
        if let Some(why) = unmet_requirement(&text, is_root) {
            eprintln!("skipped {name}: it needs {why}");
            skipped.push(name);
            continue;
        }
        let r = run_source(&name, &text, &host);
        if verbose && !r.passed() {
            eprintln!("{}", r.render());
        }
        if show {
            for (line, file, text) in &r.kernel_proc {
                let at = line.map_or("the end".to_string(), |n| format!("line {n}"));
                eprintln!("== {name}: kernel {file} at {at}\n{text}");
            }
        }
        if suggest && r.harness_errors.is_empty() && !r.mismatches.is_empty() {
            eprintln!("KNOWN_FAILURES: {:<34} {}", r.name, r.summary());
        }
        reports.push(r);
    }
    // Seeded random scenarios (`random_NNN`): the same every run; `MEMSIM_RANDOM=N` runs N of them.
    let nrandom: u64 = std::env::var("MEMSIM_RANDOM")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(RANDOM_CASES);
    let data = format!("{cases_dir}/data/pages.txt");
    for seed in 0..nrandom {
        let name = format!("random_{seed:03}");
        if filter.as_ref().is_some_and(|f| !name.contains(f.as_str())) {
            continue;
        }
        let text = memsim_shadow::random::scenario(seed, RANDOM_OPS, &data);
        let r = run_generated(&name, &text, &host);
        if verbose && !r.passed() {
            eprintln!("{}\n{text}", r.render());
        }
        if suggest && r.harness_errors.is_empty() && !r.mismatches.is_empty() {
            eprintln!("KNOWN_FAILURES: {:<34} {}", r.name, r.summary());
        }
        reports.push(r);
    }
    assert!(!reports.is_empty(), "no scenario matched");
    let passed = reports.iter().filter(|r| r.passed()).count();
    eprintln!("{passed} of {} scenarios agree with the kernel", reports.len());
    let list = std::fs::read_to_string(dir.join("KNOWN_FAILURES")).unwrap_or_default();
    let known = known::parse(&list).expect("KNOWN_FAILURES is well formed");
    let problems = if filter.is_some() {
        // A partial run cannot judge the list; report every failure.
        reports.iter().filter(|r| !r.passed()).map(|r| r.render()).collect()
    } else {
        let mut p = known::judge(&reports, &known);
        // A skipped case cannot be judged; it is not missing.
        p.retain(|m| {
            !skipped
                .iter()
                .any(|s| m.contains(&format!("`{s}`, which is not a case")))
        });
        p
    };
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}
