//! Holding the model's run against the kernel's: line by line results, then the window's `maps`/`smaps`
//! text at every `cat` line and at the end; and checking the scenario's own expectations against the kernel.

use memsim_core::Errno;
use memsim_scenario::ast::{Expect, LineKind};
use memsim_scenario::Call;

use crate::model::ModelRun;
use crate::native::NativeRun;
use crate::outcome::{Outcome, Snapshot};
use crate::plan::{Plan, Step};
use crate::window::{filter_proc, in_window};

/// One disagreement between the model and the kernel.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Mismatch {
    /// The scenario line (1-based), or `None` for the state at the end.
    pub line: Option<usize>,
    /// What differed, with the kernel's and the model's versions (a diff for `/proc` text).
    pub detail: String,
}

/// Problems that are not disagreements: the scenario or the harness is wrong (an expectation the kernel does
/// not meet, a mapping outside the window, a child that could not run).
pub type HarnessErrors = Vec<String>;

/// Compare the two runs and check the scenario's expectations against the kernel.
pub fn compare(plan: &Plan, native: &NativeRun, model: &ModelRun) -> (Vec<Mismatch>, HarnessErrors) {
    let mut mismatches = Vec::new();
    let mut errors = Vec::new();
    if let Some(e) = &native.error {
        errors.push(format!("native run: {e}"));
        return (mismatches, errors);
    }
    check_expectations(plan, native, &mut errors);
    for (i, pl) in plan.lines.iter().enumerate() {
        let (k, m) = (&native.outcomes[i], &model.outcomes[i]);
        if k != m {
            mismatches.push(Mismatch {
                line: Some(pl.line.line),
                detail: format!("kernel: {k}\n model: {m}"),
            });
        }
    }
    if let Some(p) = &model.panic {
        mismatches.push(Mismatch {
            line: None,
            detail: format!("the model panicked {p}"),
        });
        return (mismatches, errors);
    }
    for ks in &native.snapshots {
        let line = ks.at.map(|i| plan.lines[i].line.line);
        let Some(kt) = filter_proc(&ks.file, &ks.text) else {
            continue;
        };
        let ms = model
            .snapshots
            .iter()
            .find(|s: &&Snapshot| s.at == ks.at && s.file == ks.file);
        let Some(ms) = ms else {
            mismatches.push(Mismatch {
                line,
                detail: format!("the model has no {} at this point", ks.file),
            });
            continue;
        };
        let mt = filter_proc(&ms.file, &ms.text).unwrap_or_default();
        if kt != mt {
            mismatches.push(Mismatch {
                line,
                detail: format!(
                    "/proc/self/{} in the window differs (- kernel, + model):\n{}",
                    ks.file,
                    diff(&kt, &mt)
                ),
            });
        }
    }
    (mismatches, errors)
}

fn errno_matches(name: &str, code: i32) -> Result<bool, String> {
    Errno::from_name(name)
        .map(|e| e.code() == code)
        .ok_or_else(|| format!("unknown errno name {name}"))
}

/// The scenario's stated results must be what the kernel does; otherwise the scenario is wrong.
fn check_expectations(plan: &Plan, native: &NativeRun, errors: &mut HarnessErrors) {
    let mut last_action: Option<usize> = None;
    let mut killed_by: Option<u32> = None;
    for (i, pl) in plan.lines.iter().enumerate() {
        let got = &native.outcomes[i];
        let n = pl.line.line;
        let mut fail =
            |want: String| errors.push(format!("line {n}: the scenario expects {want}, the kernel gave {got}"));
        match &pl.line.kind {
            LineKind::Syscall(sc) => {
                let value = match got {
                    Outcome::Value(v) | Outcome::ValueWith(v, _) => Some(*v),
                    _ => None,
                };
                match &sc.expect {
                    Expect::Value(v) => {
                        if value != Some(*v as u64) {
                            fail(format!("{v:#x}"));
                        }
                    }
                    Expect::Error(name) => match (got, errno_matches(name, 0)) {
                        (_, Err(e)) => errors.push(format!("line {n}: {e}")),
                        (Outcome::Errno(c), _) if errno_matches(name, *c) == Ok(true) => {}
                        _ => fail(format!("-1 {name}")),
                    },
                    Expect::Unchecked => {}
                }
                if let (Step::Syscall(step), Outcome::ValueWith(_, got)) = (&pl.step, got) {
                    if let Call::Mincore {
                        vec: Some(want),
                        vec_complete,
                        ..
                    } = &step.call
                    {
                        let ok = if *vec_complete {
                            got == want
                        } else {
                            got.starts_with(want)
                        };
                        if !ok {
                            errors.push(format!(
                                "line {n}: the scenario expects the vector {want:?}, the kernel gave {got:?}"
                            ));
                        }
                    }
                }
                // Addresses a call returns must be in the window, or the model cannot be compared.
                if matches!(sc.name.as_str(), "mmap" | "mremap") {
                    if let Some(v) = value.filter(|&v| !in_window(v)) {
                        errors.push(format!(
                            "line {n}: {} returned {v:#x}, outside the window 0x100000000..0x200000000; use \
                             MAP_FIXED or a hint inside the window",
                            sc.name
                        ));
                    }
                }
            }
            LineKind::Poke { expect: Some(want), .. } if *got != Outcome::Value(*want) => fail(want.to_string()),
            LineKind::Peek { expect: Some(want), .. } if *got != Outcome::Bytes(want.clone()) => {
                fail(Outcome::Bytes(want.clone()).to_string())
            }
            LineKind::Signal { signo, code, addr, .. } => {
                let prev = last_action.map(|j| &native.outcomes[j]);
                let ok = matches!(prev, Some(Outcome::Signal { signo: s, code: c, addr: a })
                    if s == signo && code.is_none_or(|x| x == *c) && addr.is_none_or(|x| x == *a));
                if !ok {
                    let prev = prev.map_or("nothing".to_string(), |p| p.to_string());
                    errors.push(format!(
                        "line {n}: the scenario expects signal {signo} (code {code:?}, addr {addr:x?}) from the \
                         previous line, the kernel gave {prev}"
                    ));
                }
            }
            LineKind::Killed { signo, .. } if killed_by != Some(*signo) => errors.push(format!(
                "line {n}: the scenario expects death by signal {signo}, the kernel gave {killed_by:?}"
            )),
            LineKind::Exited { .. } if killed_by.is_some() => errors.push(format!(
                "line {n}: the scenario expects a normal exit, the process was killed"
            )),
            _ => {}
        }
        if !matches!(pl.step, Step::Nothing | Step::Cat { .. }) {
            if killed_by.is_some() {
                errors.push(format!("line {n}: runs after the process was killed"));
            }
            last_action = Some(i);
        }
        if let Outcome::Signal { signo, .. } = got {
            killed_by = Some(*signo);
        }
    }
}

/// A line diff of `a` (kernel, `-`) against `b` (model, `+`), with two lines of context around changes.
pub fn diff(a: &str, b: &str) -> String {
    let a: Vec<&str> = a.lines().collect();
    let b: Vec<&str> = b.lines().collect();
    // Longest common subsequence table, from the ends.
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut ops: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            ops.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(('-', a[i]));
            i += 1;
        } else {
            ops.push(('+', b[j]));
            j += 1;
        }
    }
    const CONTEXT: usize = 2;
    let near_change = |k: usize| {
        let lo = k.saturating_sub(CONTEXT);
        let hi = (k + CONTEXT + 1).min(ops.len());
        ops[lo..hi].iter().any(|(c, _)| *c != ' ')
    };
    let mut out = String::new();
    let mut skipped = false;
    // The maps line of the VMA (smaps block) the next printed line belongs to, so a hunk says where it is.
    let mut header: Option<&str> = None;
    for (k, (c, l)) in ops.iter().enumerate() {
        let is_header = crate::window::parse_range(l).is_some();
        if *c == ' ' && !near_change(k) {
            skipped = true;
            if is_header {
                header = Some(l);
            }
            continue;
        }
        if skipped {
            out.push_str("  ...\n");
            if let Some(h) = header.take().filter(|_| !is_header) {
                out.push_str(&format!("  {h}\n"));
            }
            skipped = false;
        }
        if is_header {
            header = None;
        }
        out.push_str(&format!("{c} {l}\n"));
    }
    if a.is_empty() && b.is_empty() {
        out.push_str("  (both empty)\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_marks_changed_lines_with_context() {
        let a = "1\n2\n3\n4\n5\n6\n7\n";
        let b = "1\n2\n3\n4\nfive\n6\n7\n";
        assert_eq!(diff(a, b), "  ...\n  3\n  4\n- 5\n+ five\n  6\n  7\n");
        assert_eq!(diff("x\n", ""), "- x\n");
        // A hunk inside an smaps block names the block's VMA.
        let a = "100000000-100001000 rw-p 00000000 00:00 0 \nSize: 4\nA: 1\nB: 2\nC: 3\nRss: 0\n";
        let b = "100000000-100001000 rw-p 00000000 00:00 0 \nSize: 4\nA: 1\nB: 2\nC: 3\nRss: 4\n";
        assert_eq!(
            diff(a, b),
            "  ...\n  100000000-100001000 rw-p 00000000 00:00 0 \n  B: 2\n  C: 3\n- Rss: 0\n+ Rss: 4\n"
        );
        assert_eq!(diff("", "y\n"), "+ y\n");
    }
}
