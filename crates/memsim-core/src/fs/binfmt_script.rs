//! `#!` scripts (`fs/binfmt_script.c`): run the interpreter named on the first line.
