//! Turning strace-syntax arguments into the raw register values a system call receives.
//!
//! Symbolic names are looked up in `memsim_core::uapi`'s tables, the same tables the model side uses, so a
//! name means the same number on both sides. (The scenario crate has its own converter for the model runner;
//! this one is what the native executor passes to `syscall(2)`.)

use memsim_core::uapi::*;
use memsim_scenario::ast::{Arg, FlagAtom};

/// Every name table a flag atom may come from. Names do not collide across families.
const TABLES: &[NameTable] = &[
    PROT_NAMES,
    MAP_TYPE_NAMES,
    MAP_FLAG_NAMES,
    MREMAP_NAMES,
    MADV_NAMES,
    MCL_NAMES,
    MLOCK_NAMES,
    MS_NAMES,
    O_NAMES,
];

/// The value of one flag name.
pub fn name_value(name: &str) -> Option<u64> {
    match name {
        "NULL" => return Some(0),
        "AT_FDCWD" => return Some(AT_FDCWD as u64),
        _ => {}
    }
    TABLES.iter().find_map(|t| lookup(t, name))
}

/// An integer as a 64-bit register holds it (negative numbers in two's complement).
fn int_value(v: i128) -> Result<u64, String> {
    if let Ok(s) = i64::try_from(v) {
        Ok(s as u64)
    } else if let Ok(u) = u64::try_from(v) {
        Ok(u)
    } else {
        Err(format!("number {v} does not fit in 64 bits"))
    }
}

/// The raw value of a numeric or symbolic argument.
pub fn arg_value(arg: &Arg) -> Result<u64, String> {
    match arg {
        Arg::Int(v) => int_value(*v),
        Arg::Flags(atoms) => {
            let mut v = 0u64;
            for a in atoms {
                v |= match a {
                    FlagAtom::Num(n) => int_value(*n)?,
                    FlagAtom::Name(n) => name_value(n).ok_or_else(|| format!("unknown name `{n}`"))?,
                };
            }
            Ok(v)
        }
        Arg::Fd { fd, .. } => arg_value(fd),
        Arg::Str { .. } => Err("a string where a number was expected".to_string()),
        Arg::Array(_) | Arg::Struct(_) => Err("an array or structure where a number was expected".to_string()),
        Arg::Other(s) => Err(format!("cannot use `{s}` as a number")),
    }
}

/// The bytes of a string argument (a path).
pub fn arg_str(arg: &Arg) -> Result<&[u8], String> {
    match arg {
        Arg::Str {
            bytes,
            truncated: false,
        } => Ok(bytes),
        Arg::Str { truncated: true, .. } => Err("a truncated string (`...`) cannot be used as a path".to_string()),
        _ => Err("a string was expected".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(names: &[&str]) -> Arg {
        Arg::Flags(names.iter().map(|n| FlagAtom::Name(n.to_string())).collect())
    }

    #[test]
    fn names_and_numbers_combine() {
        assert_eq!(arg_value(&flags(&["PROT_READ", "PROT_WRITE"])), Ok(3));
        assert_eq!(
            arg_value(&Arg::Flags(vec![
                FlagAtom::Name("MAP_PRIVATE".into()),
                FlagAtom::Num(0x40000)
            ])),
            Ok(0x40002)
        );
        assert_eq!(arg_value(&flags(&["AT_FDCWD"])), Ok(-100i64 as u64));
        assert_eq!(arg_value(&Arg::Int(-1)), Ok(u64::MAX));
        assert!(arg_value(&flags(&["PROT_BOGUS"])).is_err());
        assert!(arg_value(&Arg::Int(1 << 70)).is_err());
    }
}
