//! memsim-scenario: the scenario language. A scenario is a text file of strace-syntax system calls,
//! Valgrind-Lackey memory accesses, `poke`/`peek`, signal expectations and `cat /proc/...` lines; this crate
//! parses it ([`ast`]) and drives the model with it, checking every stated result.

pub mod ast;
