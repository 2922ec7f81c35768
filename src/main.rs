//! The `nestwrap` binary. Users install it as `bwrap`.
//! All logic lives in the library so that tests and the fuzzer can reach it.
//!
//! `#![no_main]`: we provide the C `main` ourselves instead of Rust's
//! runtime start-up, for two reasons. Rust's start-up sets SIGPIPE to
//! ignored, and an ignored disposition survives `execve`: COMMAND would
//! start with SIGPIPE ignored, where bwrap passes on whatever the caller
//! had. And it spends ~20 syscalls per launch (reading /proc/self/maps for
//! the stack guard, signal handlers, stdio checks) that a sandbox launcher
//! started thousands of times a day does not need. std keeps working: on
//! Linux its argument and stdio handling do not depend on that start-up.
#![no_main]
#![deny(unsafe_code)]

/// The process entry point called by the C runtime.
// `no_mangle` only exports the symbol; nothing unsafe happens here. It is
// the one attribute the unsafe_code lint counts outside `src/sys/`.
#[allow(unsafe_code)]
#[no_mangle]
pub extern "C" fn main(_argc: i32, _argv: *const *const u8) -> i32 {
    let code = nestwrap::app::main_entry();
    std::process::exit(code);
}
