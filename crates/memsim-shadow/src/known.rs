//! The list of scenarios where the model is known to disagree with the kernel (`KNOWN_FAILURES` next to the
//! cases): one case per line, `NAME.scn  reason`, `#` comments. The differential test lets a listed case
//! fail, and fails when a listed case passes (so the list cannot rot) or names no case.

use std::collections::BTreeMap;

use crate::CaseReport;

/// Parse the list: case name → reason. A line without a reason is an error (say why it fails).
pub fn parse(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, reason) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        if reason.trim().is_empty() {
            return Err(format!("KNOWN_FAILURES:{}: `{name}` needs a reason", i + 1));
        }
        if out.insert(name.to_string(), reason.trim().to_string()).is_some() {
            return Err(format!("KNOWN_FAILURES:{}: `{name}` is listed twice", i + 1));
        }
    }
    Ok(out)
}

/// The verdict on a whole run: every problem, or nothing when the suite is green.
pub fn judge(reports: &[CaseReport], known: &BTreeMap<String, String>) -> Vec<String> {
    let mut problems = Vec::new();
    for r in reports {
        let listed = known.contains_key(&r.name);
        if !r.harness_errors.is_empty() {
            problems.push(r.render());
        } else if r.mismatches.is_empty() && listed {
            problems.push(format!(
                "{}: passes now; remove it from KNOWN_FAILURES ({})",
                r.name, known[&r.name]
            ));
        } else if !r.mismatches.is_empty() && !listed {
            problems.push(format!(
                "{}if the model is wrong (not the case), list it in KNOWN_FAILURES:\n{}  {}\n",
                r.render(),
                r.name,
                r.summary()
            ));
        }
    }
    for name in known.keys() {
        if !reports.iter().any(|r| &r.name == name) {
            problems.push(format!("KNOWN_FAILURES names `{name}`, which is not a case"));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Mismatch;

    fn report(name: &str, mismatch: bool, harness: bool) -> CaseReport {
        CaseReport {
            name: name.to_string(),
            source: "x\n".to_string(),
            harness_errors: if harness { vec!["bad".to_string()] } else { vec![] },
            kernel_proc: vec![],
            mismatches: if mismatch {
                vec![Mismatch {
                    line: Some(1),
                    detail: "kernel: 0\n model: -1".to_string(),
                }]
            } else {
                vec![]
            },
        }
    }

    #[test]
    fn listed_failures_pass_and_fixed_ones_must_be_removed() {
        let known = parse("# comment\na.scn  model lacks X\n\nb.scn model lacks Y\n").expect("parses");
        assert_eq!(known.len(), 2);
        let green = [
            report("a.scn", true, false),
            report("b.scn", true, false),
            report("c.scn", false, false),
        ];
        assert!(judge(&green, &known).is_empty());
        let fixed = [report("a.scn", false, false), report("b.scn", true, false)];
        let p = judge(&fixed, &known);
        assert_eq!(p.len(), 1);
        assert!(p[0].contains("remove it from KNOWN_FAILURES"));
        let new_failure = [
            report("a.scn", true, false),
            report("b.scn", true, false),
            report("c.scn", true, false),
        ];
        assert_eq!(judge(&new_failure, &known).len(), 1);
        let harness = [report("a.scn", true, true), report("b.scn", true, false)];
        assert_eq!(judge(&harness, &known).len(), 1, "harness errors are never excused");
        assert_eq!(
            judge(&[report("a.scn", true, false)], &known).len(),
            1,
            "b.scn is not a case"
        );
    }

    #[test]
    fn reasons_are_required() {
        assert!(parse("a.scn\n").is_err());
        assert!(parse("a.scn x\na.scn y\n").is_err());
    }
}
