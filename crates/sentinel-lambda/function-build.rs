//! The build script of every function crate (their `Cargo.toml`s point here): links each
//! function binary as a fixed-address executable (`-no-pie`).
//!
//! Why: a position-independent binary carries a relocation for every pointer in its data
//! (vtables, string tables: 0.8 MB of `.rela.dyn` in the agent monitor), and the loader
//! reads them all and writes each one into a private copy of the page it lands on, at every
//! cold start. Linked at a fixed address, the linker resolves them once: the table is gone,
//! and the data pages stay clean file pages, shared and loaded only where the run touches
//! them. Measured in docs/testing.md ("Memory"). The code itself is unchanged (still
//! compiled position-independent); what is lost is address randomisation of the function's
//! own image (libraries, heap and stacks are still randomised), in a sandbox that runs one
//! function and reads input only from AWS services.
//!
//! Only the packages' binaries get the flag (`-bins`): their tests link as usual.

fn main() {
    println!("cargo:rustc-link-arg-bins=-no-pie");
}
