//! The `memsim` binary: argument parsing and output only; the work happens in the library crates.

fn main() {
    println!("memsim: under construction");
}
