//! `#!` scripts (`fs/binfmt_script.c: load_script`): run the interpreter named on the first line.
//!
//! The line is parsed from the first [`BINPRM_BUF_SIZE`] bytes only: without a newline in them the interpreter
//! path must still be followed by a space, tab or NUL (a truncated path is ENOEXEC), while a truncated argument
//! is fine. Everything after the interpreter name up to the end of the line (trailing blanks trimmed) is one
//! single argument. argv becomes `interpreter [argument] script-path original-argv[1..]`.

use crate::fs::exec::{Bprm, ExecError, BINPRM_BUF_SIZE};
use crate::kernel::Kernel;
use crate::task::Pid;

fn spacetab(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// The interpreter path and optional argument of a `#!` line, as byte ranges of the buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShebangLine {
    pub name: Vec<u8>,
    pub arg: Option<Vec<u8>>,
}

/// Parse the `#!` line of a (zero-padded) BINPRM buffer as `load_script` does.
pub fn parse_shebang(buf: &[u8; BINPRM_BUF_SIZE]) -> Result<ShebangLine, ExecError> {
    if buf[0] != b'#' || buf[1] != b'!' {
        return Err(ExecError::noexec("not a #! script"));
    }
    let last = BINPRM_BUF_SIZE - 1;
    let next_non_spacetab = |from: usize, to: usize| (from..=to).find(|&i| !spacetab(buf[i]));
    let next_terminator = |from: usize, to: usize| (from..=to).find(|&i| spacetab(buf[i]) || buf[i] == 0);
    let i_end = match buf.iter().position(|&c| c == b'\n') {
        Some(n) => n,
        None => {
            let Some(first) = next_non_spacetab(2, last) else {
                return Err(ExecError::noexec("#! line of blanks only"));
            };
            if next_terminator(first, last).is_none() {
                return Err(ExecError::noexec(format!(
                    "#! interpreter path longer than the {BINPRM_BUF_SIZE}-byte buffer"
                )));
            }
            last
        }
    };
    // Trim trailing blanks (i_end[-1] may be '!' at worst, never before the buffer).
    let mut i_end = i_end;
    while i_end > 2 && spacetab(buf[i_end - 1]) {
        i_end -= 1;
    }
    let name_start = match next_non_spacetab(2, i_end) {
        Some(n) if n != i_end => n,
        _ => return Err(ExecError::noexec("#! without an interpreter name")),
    };
    let sep = next_terminator(name_start, i_end);
    let mut arg = None;
    let name_end = sep.unwrap_or(i_end).min(i_end);
    if let Some(sep) = sep {
        if buf[sep] != 0 {
            if let Some(a) = next_non_spacetab(sep, i_end) {
                // The argument runs to i_end (which may sit on a NUL inside the line).
                arg = Some(buf[a..i_end].to_vec());
            }
        }
    }
    // The name is NUL-terminated at the separator or at i_end; a NUL inside it ends it earlier.
    let mut name = buf[name_start..name_end].to_vec();
    if let Some(z) = name.iter().position(|&c| c == 0) {
        name.truncate(z);
    }
    if let Some(a) = &mut arg {
        if let Some(z) = a.iter().position(|&c| c == 0) {
            a.truncate(z);
        }
    }
    Ok(ShebangLine { name, arg })
}

/// `load_script`: ENOEXEC unless the file starts with `#!`; else rewrite argv and name the interpreter.
pub fn load_script(k: &mut Kernel, pid: Pid, bprm: &mut Bprm) -> Result<(), ExecError> {
    let line = parse_shebang(&bprm.buf.0)?;
    // remove_arg_zero, then (highest first) the script's name, the argument, the interpreter's name.
    bprm.remove_arg_zero();
    let interp = bprm.interp.clone();
    bprm.push_string(interp.as_bytes())?;
    bprm.argc += 1;
    if let Some(a) = &line.arg {
        bprm.push_string(a)?;
        bprm.argc += 1;
    }
    bprm.push_string(&line.name)?;
    bprm.argc += 1;
    let name = String::from_utf8_lossy(&line.name).into_owned();
    // bprm_change_interp
    bprm.interp = name.clone();
    let file = k.open_exec(pid, &name).map_err(|e| {
        ExecError::new(
            e.errno,
            format!("interpreter of {} ({name}): {}", bprm.file.meta.path, e.reason),
        )
    })?;
    bprm.interpreter = Some(file);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errno::Errno;

    fn buf(s: &[u8]) -> [u8; BINPRM_BUF_SIZE] {
        let mut b = [0u8; BINPRM_BUF_SIZE];
        let n = s.len().min(BINPRM_BUF_SIZE);
        b[..n].copy_from_slice(&s[..n]);
        b
    }

    fn parse(s: &[u8]) -> Result<(String, Option<String>), Errno> {
        parse_shebang(&buf(s))
            .map(|l| {
                (
                    String::from_utf8(l.name).unwrap(),
                    l.arg.map(|a| String::from_utf8(a).unwrap()),
                )
            })
            .map_err(|e| e.errno)
    }

    #[test]
    fn interpreter_and_single_argument() {
        assert_eq!(parse(b"#!/bin/sh\necho"), Ok(("/bin/sh".into(), None)));
        assert_eq!(parse(b"#! /bin/sh  \n"), Ok(("/bin/sh".into(), None)));
        assert_eq!(
            parse(b"#!/usr/bin/env python3 -u  \n"),
            Ok(("/usr/bin/env".into(), Some("python3 -u".into())))
        );
        assert_eq!(parse(b"#!/bin/sh\t-e\n"), Ok(("/bin/sh".into(), Some("-e".into()))));
        // No newline in a short file: the zero padding terminates the name.
        assert_eq!(parse(b"#!/bin/sh"), Ok(("/bin/sh".into(), None)));
    }

    #[test]
    fn rejected_lines() {
        assert_eq!(parse(b"#/bin/sh\n"), Err(Errno::ENOEXEC));
        assert_eq!(parse(b"#!\n"), Err(Errno::ENOEXEC));
        assert_eq!(parse(b"#!   \n"), Err(Errno::ENOEXEC));
        // A path filling the whole buffer without a terminator is truncated: refused.
        let mut long = b"#!/".to_vec();
        long.resize(BINPRM_BUF_SIZE, b'a');
        assert_eq!(parse(&long), Err(Errno::ENOEXEC));
        // A truncated argument is fine.
        let mut arg = b"#!/bin/sh ".to_vec();
        arg.resize(BINPRM_BUF_SIZE, b'x');
        let (name, a) = parse(&arg).unwrap();
        assert_eq!(name, "/bin/sh");
        assert_eq!(a.unwrap().len(), BINPRM_BUF_SIZE - 1 - 10);
    }
}
