//! What one scenario line did, on either side, in a form both sides share and the comparator can print.

use std::fmt;

use memsim_core::uapi::{name_of, BUS_CODE_NAMES, SEGV_CODE_NAMES, SIGBUS, SIGNAL_NAMES, SIGSEGV};
use memsim_core::Errno;

/// The result of one executed line.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Outcome {
    /// A memory access (Lackey line) completed without a signal.
    Done,
    /// A system call returned this value; `poke` wrote this many bytes.
    Value(u64),
    /// A system call returned this value and filled this output vector (`mincore`).
    ValueWith(u64, Vec<u8>),
    /// A system call failed with this errno (the positive number).
    Errno(i32),
    /// `peek` read these bytes.
    Bytes(Vec<u8>),
    /// The access raised a synchronous signal; the process died of it.
    Signal { signo: u32, code: u32, addr: u64 },
    /// A line that does nothing by itself (an expectation such as `--- SIGSEGV ... ---`, or `cat` of a
    /// file other than maps/smaps).
    Nothing,
    /// The line never ran (the process was already dead, or the run stopped early).
    NotRun,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Done => f.write_str("completed"),
            Outcome::Value(v) => write!(f, "{}", fmt_value(*v)),
            Outcome::ValueWith(v, vec) => write!(f, "{} with vector {:?}", fmt_value(*v), vec),
            Outcome::Errno(e) => match Errno::from_code(*e) {
                Some(e) => write!(f, "-1 {e}"),
                None => write!(f, "-1 errno {e}"),
            },
            Outcome::Bytes(b) => write!(f, "\"{}\"", escape(b)),
            Outcome::Signal { signo, code, addr } => {
                let sig = name_of(SIGNAL_NAMES, u64::from(*signo)).unwrap_or("SIG?");
                let codes = match *signo {
                    SIGSEGV => SEGV_CODE_NAMES,
                    SIGBUS => BUS_CODE_NAMES,
                    _ => &[],
                };
                match name_of(codes, u64::from(*code)) {
                    Some(c) => write!(f, "--- {sig} {{si_signo={sig}, si_code={c}, si_addr={addr:#x}}} ---"),
                    None => write!(f, "--- {sig} {{si_signo={sig}, si_code={code}, si_addr={addr:#x}}} ---"),
                }
            }
            Outcome::Nothing => f.write_str("(nothing)"),
            Outcome::NotRun => f.write_str("(not run)"),
        }
    }
}

/// Small values in decimal, addresses in hex, as strace prints them.
fn fmt_value(v: u64) -> String {
    if v >= 0x10000 {
        format!("{v:#x}")
    } else {
        v.to_string()
    }
}

/// C-style escaping for printing bytes.
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::new();
    for &b in bytes {
        match b {
            b'\n' => s.push_str("\\n"),
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}

/// A `/proc` text taken at a point of the run.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Snapshot {
    /// Index of the scenario line (into the plan) that asked for it; `None` for the state at the end (after
    /// the last line, or when a signal killed the process).
    pub at: Option<usize>,
    /// `maps` or `smaps`.
    pub file: String,
    /// The whole text as read (not yet restricted to the window).
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_print_like_strace() {
        assert_eq!(Outcome::Value(0x1_0000_0000).to_string(), "0x100000000");
        assert_eq!(Outcome::Value(3).to_string(), "3");
        assert_eq!(Outcome::Errno(12).to_string(), "-1 ENOMEM (Cannot allocate memory)");
        assert_eq!(
            Outcome::Signal {
                signo: 11,
                code: 2,
                addr: 0x1_0000_0000
            }
            .to_string(),
            "--- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_ACCERR, si_addr=0x100000000} ---"
        );
        assert_eq!(Outcome::Bytes(b"a\"\n\x01".to_vec()).to_string(), "\"a\\\"\\n\\x01\"");
    }
}
