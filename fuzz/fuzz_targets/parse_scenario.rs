//! Fuzz the scenario parser and the argument decoder: any bytes must give lines or a positioned error, never a
//! panic; an error's position must lie inside the input; the owned parse and the decoding pass must agree on
//! whether the text is well-formed syntax.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let nr_lines = text.lines().count().max(1);
    let parsed = memsim_scenario::parse_str("fuzz", &text);
    match &parsed {
        Ok(lines) => {
            for l in lines {
                assert!(l.line >= 1 && l.line <= nr_lines);
            }
        }
        Err(e) => assert!(e.line >= 1 && e.line <= nr_lines && e.col >= 1, "{e}"),
    }
    match memsim_scenario::prepare("fuzz", &text) {
        Ok(steps) => {
            assert!(parsed.is_ok(), "prepare accepted what parse_str refused");
            for s in &steps {
                assert!(s.line >= 1 && s.line <= nr_lines);
            }
        }
        Err(e) => assert!(e.line >= 1 && e.line <= nr_lines && e.col >= 1, "{e}"),
    }
});
