//! memsim-shadow: runs scenarios on the real kernel (in a child process, inside a reserved address window)
//! so tests can compare the model with the kernel. This crate may touch the host; the core may not.
//!
//! The pipeline for one scenario ([`run_lines`]):
//! 1. [`plan`] checks that every line can run safely and comparably in a real process (the rules are in
//!    that module's documentation) and turns it into a step;
//! 2. [`native`] forks a child that executes the steps for real, inside the window
//!    `0x100000000..0x200000000` ([`window`]), and reports each line's result and the `/proc/self/maps`
//!    and `smaps` text at each `cat` line and at the end;
//! 3. [`model`] runs the same steps in `memsim_core::Kernel`, configured like the host ([`host`]: RAM,
//!    swap, overcommit, max_map_count, uid, rlimits);
//! 4. [`compare`] checks the scenario's stated results against the kernel, then the model against the
//!    kernel, line by line and `/proc` text of the window byte by byte.
//!
//! [`known`] reads the list of cases where the model is known to disagree.
//!
//! [`exec_probe`] is separate: it stops a real program at its first instruction after `execve` (ptrace) and
//! compares its layout with the model's `execve`.

pub mod compare;
pub mod exec_probe;
pub mod host;
pub mod known;
pub mod model;
pub mod native;
pub mod outcome;
pub mod plan;
pub mod random;
pub mod window;

use memsim_scenario::ast::Line;

pub use compare::Mismatch;
pub use host::HostConfig;

/// The result of running one scenario both ways.
#[derive(Clone, Debug)]
pub struct CaseReport {
    /// The scenario's name (its file name).
    pub name: String,
    /// The scenario's text, for quoting lines.
    pub source: String,
    /// The scenario cannot run differentially, or it or the harness is wrong (an expectation the kernel
    /// does not meet, a mapping outside the window, ...). Never a known failure.
    pub harness_errors: Vec<String>,
    /// The model disagrees with the kernel.
    pub mismatches: Vec<Mismatch>,
    /// The kernel's `/proc` text of the window at each `cat` line (its line number) and at the end (`None`):
    /// `(line, file, text)`.
    pub kernel_proc: Vec<(Option<usize>, String, String)>,
}

impl CaseReport {
    /// The model agrees with the kernel and the scenario is sound.
    pub fn passed(&self) -> bool {
        self.harness_errors.is_empty() && self.mismatches.is_empty()
    }

    /// The first disagreement on one line, for a `KNOWN_FAILURES` entry.
    pub fn summary(&self) -> String {
        // A panic of the model explains everything after it.
        let panic = self
            .mismatches
            .iter()
            .find(|m| m.detail.starts_with("the model panicked"));
        if let Some(p) = panic {
            return p.detail.lines().next().unwrap_or("").to_string();
        }
        let Some(m) = self.mismatches.first() else {
            return "agrees".to_string();
        };
        let src: Vec<&str> = self.source.lines().collect();
        // For a `/proc` diff, the first removed and the first added line; otherwise the kernel/model pair.
        let first = |c: char| {
            m.detail
                .lines()
                .map(str::trim_start)
                .find(|l| l.starts_with(c) && l.len() > 1)
        };
        let detail: Vec<String> = match (first('-'), first('+')) {
            (Some(k), Some(mo)) if m.detail.contains("differs") => {
                let file = m.detail.split_whitespace().next().unwrap_or("");
                vec![
                    format!("{file} kernel `{}`", k[1..].trim()),
                    format!("model `{}`", mo[1..].trim()),
                ]
            }
            _ => m.detail.lines().map(|l| l.trim().to_string()).take(2).collect(),
        };
        match m.line {
            Some(n) => {
                let text = src.get(n.wrapping_sub(1)).copied().unwrap_or("").trim();
                format!("line {n} `{text}`: {}", detail.join("; "))
            }
            None => format!("at the end: {}", detail.join("; ")),
        }
    }

    /// A readable report: `NAME:LINE: text` and what differed.
    pub fn render(&self) -> String {
        let src: Vec<&str> = self.source.lines().collect();
        let mut out = String::new();
        for e in &self.harness_errors {
            out.push_str(&format!("{}: scenario/harness error: {e}\n", self.name));
        }
        for m in &self.mismatches {
            match m.line {
                Some(n) => {
                    let text = src.get(n.wrapping_sub(1)).copied().unwrap_or("").trim();
                    out.push_str(&format!("{}:{n}: {text}\n", self.name));
                }
                None => out.push_str(&format!("{}: at the end\n", self.name)),
            }
            for l in m.detail.lines() {
                out.push_str("    ");
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }
}

/// Parse a scenario and run it both ways.
pub fn run_source(name: &str, source: &str, host: &HostConfig) -> CaseReport {
    match memsim_scenario::parse_str(name, source) {
        Ok(lines) => run_lines(name, source, &lines, host),
        Err(e) => CaseReport {
            name: name.to_string(),
            source: source.to_string(),
            harness_errors: vec![format!("does not parse: {e}")],
            mismatches: Vec::new(),
            kernel_proc: Vec::new(),
        },
    }
}

/// Read every file the scenario opens, so that all its pages are in the host's page cache before the real
/// run: fault-around maps only cached pages, and a file's cached state would otherwise depend on what ran
/// before. The model is compared with this warm state.
fn warm_page_cache(plan: &plan::Plan) {
    for pl in &plan.lines {
        if let plan::Step::Syscall(sc) = &pl.step {
            if let memsim_scenario::Call::Openat { path, .. } = &sc.call {
                let abs = if path.starts_with('/') {
                    path.clone()
                } else {
                    format!("/{path}")
                };
                if std::fs::metadata(&abs).is_ok_and(|m| m.is_file()) {
                    // A file that cannot be read simply stays cold; the run reports what happens.
                    let _ = std::fs::read(&abs);
                }
            }
        }
    }
}

/// How many times the kernel side may run before its results must have settled.
const MAX_NATIVE_RUNS: usize = 4;

/// Run the kernel side until two consecutive runs agree on every result and on the window's `/proc` text.
///
/// The real machine is shared: memory pressure from other processes can evict a file's cached pages between
/// the warm-up and the run (mincore then says 0, fault-around maps fewer pages), and such a run does not
/// show the state the scenario describes. Two identical runs in a row are taken as the kernel's answer; a
/// case whose runs never settle is reported as a harness error, never compared.
fn stable_native(plan: &plan::Plan) -> native::NativeRun {
    let run = || {
        warm_page_cache(plan);
        native::run_native(plan)
    };
    let window_text = |r: &native::NativeRun| -> Vec<Option<String>> {
        r.snapshots
            .iter()
            .map(|s| window::filter_proc(&s.file, &s.text))
            .collect()
    };
    let mut prev = run();
    for _ in 1..MAX_NATIVE_RUNS {
        if prev.error.is_some() {
            return prev;
        }
        let next = run();
        if next.outcomes == prev.outcomes && window_text(&next) == window_text(&prev) {
            return next;
        }
        prev = next;
    }
    prev.error.get_or_insert_with(|| {
        format!("the kernel gave different results in each of {MAX_NATIVE_RUNS} runs; the case is not deterministic")
    });
    prev
}

/// Run parsed scenario lines in a real child process and in the model, and compare.
pub fn run_lines(name: &str, source: &str, lines: &[Line], host: &HostConfig) -> CaseReport {
    run_lines_inner(name, source, lines, host, false)
}

/// Run a generated scenario ([`random`]): like [`run_source`], but lines after a fatal signal in the kernel
/// run are dropped (a generator cannot know where the process will die).
pub fn run_generated(name: &str, source: &str, host: &HostConfig) -> CaseReport {
    match memsim_scenario::parse_str(name, source) {
        Ok(lines) => run_lines_inner(name, source, &lines, host, true),
        Err(e) => CaseReport {
            name: name.to_string(),
            source: source.to_string(),
            harness_errors: vec![format!("does not parse: {e}")],
            mismatches: Vec::new(),
            kernel_proc: Vec::new(),
        },
    }
}

fn run_lines_inner(name: &str, source: &str, lines: &[Line], host: &HostConfig, cut_at_death: bool) -> CaseReport {
    let mut report = CaseReport {
        name: name.to_string(),
        source: source.to_string(),
        harness_errors: Vec::new(),
        mismatches: Vec::new(),
        kernel_proc: Vec::new(),
    };
    let plan = match plan::plan(lines) {
        Ok(p) => p,
        Err(e) => {
            report.harness_errors.push(format!("cannot run differentially: {e}"));
            return report;
        }
    };
    let mut native = stable_native(&plan);
    let mut plan = plan;
    if cut_at_death {
        if let Some(k) = native
            .outcomes
            .iter()
            .position(|o| matches!(o, outcome::Outcome::Signal { .. }))
        {
            plan.lines.truncate(k + 1);
            native.outcomes.truncate(k + 1);
        }
    }
    let model = model::run_model(&plan, host);
    let (mismatches, errors) = compare::compare(&plan, &native, &model);
    for snap in &native.snapshots {
        if let Some(text) = window::filter_proc(&snap.file, &snap.text) {
            let line = snap.at.map(|i| plan.lines[i].line.line);
            report.kernel_proc.push((line, snap.file.clone(), text));
        }
    }
    report.mismatches = mismatches;
    report.harness_errors = errors;
    report
}
