//! Fuzz the scenario parser and the argument decoder: any bytes must give lines or a positioned error, never a
//! panic, and an error's position must lie inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match memsim_scenario::prepare("fuzz", &text) {
        Ok(steps) => {
            for s in &steps {
                assert!(s.line.line >= 1);
            }
        }
        Err(e) => {
            let nr_lines = text.lines().count();
            assert!(e.line >= 1 && e.line <= nr_lines.max(1), "{e}");
            assert!(e.col >= 1, "{e}");
        }
    }
});
