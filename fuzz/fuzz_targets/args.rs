//! The input is `--args` data: `--args FD true` where FD is a memfd holding
//! it (after the values of any `--args` / `--add-seccomp-fd` inside it were
//! replaced by memfds, see `nestwrap_fuzz::Harness::sanitize_data`).
//!
//! Besides "no panic, no hang, well-formed messages, no leak", it checks
//! the `--args` contract against the same items given inline, followed by
//! COMMAND `true` (only for data without `--args` / `--add-seccomp-fd`, so
//! that the inline parse reads no descriptor):
//! * if the data parses, the inline argv parses too;
//! * if the inline argv ends up with exactly COMMAND `true` (the data did not
//!   stop early at a non-option, whose rest `--args` ignores), both give the
//!   same result and the same warnings.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nestwrap::cli::Parsed;
use nestwrap_fuzz::{check_no_leak, parse_checked, Harness};

fuzz_target!(|data: &[u8]| {
    {
        let mut h = Harness::default();
        let clean = h.sanitize_data(data, 1);
        let fd = h.memfd(&clean);
        let argv = vec![b"--args".to_vec(), fd.to_string().into_bytes(), b"true".to_vec()];
        let (via_fd, warn_fd) = parse_checked(argv, data);

        let mut items: Vec<Vec<u8>> = data.split(|&b| b == 0).map(<[u8]>::to_vec).collect();
        if data.is_empty() || data.last() == Some(&0) {
            items.pop();
        }
        let reads_fds = items.iter().any(|i| i == b"--args" || i == b"--add-seccomp-fd");
        if via_fd.is_ok() && !reads_fds {
            items.push(b"true".to_vec());
            let (inline, warn_inline) = parse_checked(items, data);
            let inline_command_is_true = match &inline {
                Ok(Parsed::Run(c)) => c.command == [std::ffi::OsString::from("true")],
                Ok(_) => true,
                Err(e) => panic!("--args data parsed ({via_fd:?}) but inline failed: {e}"),
            };
            if inline_command_is_true {
                assert_eq!(via_fd, inline, "--args data and inline argv differ");
                assert_eq!(warn_fd, warn_inline, "warnings differ");
            }
        }
    }
    check_no_leak();
});
