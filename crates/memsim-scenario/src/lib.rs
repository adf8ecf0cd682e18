//! memsim-scenario: the scenario language. A scenario is a text file of strace-syntax system calls,
//! Valgrind-Lackey memory accesses, `poke`/`peek`, signal expectations and `cat /proc/...` lines; this crate
//! parses it ([`parse`] into [`ast`]), turns arguments into register values ([`args`], [`call`]) and drives
//! the model with it, checking every stated result.

pub mod args;
pub mod ast;
pub mod call;
pub mod hostfs;
pub mod parse;
pub mod run;

pub use call::{decode, dispatch, execute, Call, Outcome};
pub use hostfs::HostFs;
pub use parse::{parse_str, ParseError, Parser};
pub use run::{prepare, Failure, Machine, RunError, Runner, Summary};
