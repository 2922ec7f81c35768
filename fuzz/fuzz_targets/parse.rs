//! argv for `nestwrap::cli::parse`: the input split on NUL.
//!
//! The item after each `--args` / `--add-seccomp-fd` becomes a memfd (see
//! `nestwrap_fuzz::Harness::sanitize`): with `--args` its bytes, 0x01 read as
//! NUL, are the data file. Checks: no panic, no hang, well-formed messages,
//! no descriptor leaked across iterations.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nestwrap_fuzz::{check_no_leak, parse_checked, split_argv, Harness};

fuzz_target!(|data: &[u8]| {
    {
        let mut h = Harness::default();
        let mut items = split_argv(data);
        h.sanitize(&mut items, 2);
        let _ = parse_checked(items, data);
    }
    check_no_leak();
});
