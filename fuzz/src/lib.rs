//! Shared harness for the fuzz targets.
//!
//! `nestwrap::cli::parse` reads two kinds of descriptors while parsing:
//! `--args FD` and `--add-seccomp-fd FD` (bwrap reads both immediately).
//! Fuzzed input must never make it read one of the fuzzer's own descriptors
//! (reading a terminal on fd 0 would block; reading and closing fd 2 would
//! lose the crash report). [`Harness::sanitize`] therefore replaces the item
//! that follows every `--args` / `--add-seccomp-fd` token with the number of
//! a memfd created here and filled with fuzzer-chosen bytes. Because the scan
//! runs left to right and a replaced item becomes a plain number, the
//! invariant "every item that follows such a token is one of our memfds"
//! holds for the final list, whichever of those tokens the parser ends up
//! treating as an option. The memfds the parser did not consume are closed
//! when the harness is dropped, so nothing leaks across iterations.

use std::ffi::OsString;
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStringExt;

use nestwrap::cli::{self, Parsed};
use nestwrap::error::CliError;
use nestwrap::report::Reporter;

/// Descriptors created for one iteration.
#[derive(Default)]
pub struct Harness {
    fds: Vec<RawFd>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        for &fd in &self.fds {
            // SAFETY: `fd` is a number this harness got from memfd_create.
            // The parser may already have closed it (EBADF, ignored); nothing
            // else in this single-threaded target opens descriptors between
            // its creation and here, so the number cannot name anything else.
            unsafe { libc::close(fd) };
        }
    }
}

impl Harness {
    /// A memfd holding `data`, positioned at offset 0. A memfd has no
    /// capacity limit and reads hit EOF at its end: the parser cannot block.
    pub fn memfd(&mut self, data: &[u8]) -> RawFd {
        // SAFETY: the name is a NUL-terminated literal; flags are valid.
        let fd = unsafe { libc::memfd_create(c"nestwrap-fuzz".as_ptr(), libc::MFD_CLOEXEC) };
        assert!(fd >= 0, "memfd_create failed");
        self.fds.push(fd);
        let mut off = 0;
        while off < data.len() {
            // SAFETY: the pointer and length describe the live slice `data[off..]`.
            let n = unsafe { libc::write(fd, data[off..].as_ptr().cast(), data.len() - off) };
            assert!(n > 0, "write to memfd failed");
            off += n as usize;
        }
        // SAFETY: plain lseek on our own descriptor.
        let r = unsafe { libc::lseek(fd, 0, libc::SEEK_SET) };
        assert_eq!(r, 0);
        fd
    }

    /// Replace the item after every `--args` / `--add-seccomp-fd` with a
    /// memfd. For `--args` the memfd holds the item's bytes with 0x01 turned
    /// into NUL (so a single fuzzed item can describe a whole data file),
    /// itself sanitized when `depth` allows; for `--add-seccomp-fd` the raw
    /// bytes.
    pub fn sanitize(&mut self, items: &mut [Vec<u8>], depth: u32) {
        for i in 0..items.len().saturating_sub(1) {
            let is_args = items[i] == b"--args";
            if !is_args && items[i] != b"--add-seccomp-fd" {
                continue;
            }
            let payload = std::mem::take(&mut items[i + 1]);
            let data = if is_args {
                let data: Vec<u8> = payload.iter().map(|&b| if b == 1 { 0 } else { b }).collect();
                self.sanitize_data(&data, depth.saturating_sub(1))
            } else {
                payload
            };
            items[i + 1] = self.memfd(&data).to_string().into_bytes();
        }
    }

    /// Sanitize `--args` data: split it as the parser does (NUL-terminated
    /// items, a final item without NUL counts), sanitize, join it back the
    /// same way. At depth 0 only `--add-seccomp-fd` values are replaced
    /// (a nested `--args` is refused before its value is looked at, but it
    /// is replaced as well, with empty data, to keep the invariant simple).
    pub fn sanitize_data(&mut self, data: &[u8], depth: u32) -> Vec<u8> {
        let terminated = data.last() == Some(&0);
        let mut items: Vec<Vec<u8>> = data.split(|&b| b == 0).map(<[u8]>::to_vec).collect();
        if data.is_empty() || terminated {
            items.pop();
        }
        if depth > 0 {
            self.sanitize(&mut items, depth);
        } else {
            for i in 0..items.len().saturating_sub(1) {
                if items[i] == b"--args" || items[i] == b"--add-seccomp-fd" {
                    let payload = std::mem::take(&mut items[i + 1]);
                    let payload = if items[i] == b"--args" { Vec::new() } else { payload };
                    items[i + 1] = self.memfd(&payload).to_string().into_bytes();
                }
            }
        }
        let mut out = Vec::with_capacity(data.len() + 16);
        let n = items.len();
        for (k, item) in items.into_iter().enumerate() {
            out.extend_from_slice(&item);
            if k + 1 < n || terminated {
                out.push(0);
            }
        }
        out
    }
}

/// Split fuzzer bytes on NUL into argv items (no `argv[0]`).
pub fn split_argv(data: &[u8]) -> Vec<Vec<u8>> {
    if data.is_empty() {
        return Vec::new();
    }
    data.split(|&b| b == 0).map(<[u8]>::to_vec).collect()
}

/// Run the parser and check what every caller relies on: a result, no
/// panic (the fuzzer catches those), and well-formed diagnostics: each
/// captured warning starts with `bwrap: ` (or `<4>bwrap: ` after
/// `--level-prefix`), and no warning or error message spans several lines
/// unless the input itself contained a newline (bwrap echoes user input
/// verbatim in `Unknown option X`, `Invalid fd: X`..., and so do we).
pub fn parse_checked(
    items: Vec<Vec<u8>>,
    raw_input: &[u8],
) -> (Result<Parsed, CliError>, Vec<String>) {
    let newline_ok = raw_input.contains(&b'\n');
    let args: Vec<OsString> = items.into_iter().map(OsString::from_vec).collect();
    let mut rep = Reporter::capture();
    let r = cli::parse(args, &mut rep);
    for line in rep.captured() {
        assert!(
            line.starts_with("bwrap: ") || line.starts_with("<4>bwrap: "),
            "bad warning line {line:?}"
        );
        assert!(newline_ok || !line.contains('\n'), "multi-line warning {line:?}");
    }
    if let Err(e) = &r {
        let msg = e.to_string();
        assert!(!msg.is_empty(), "empty error message");
        assert!(newline_ok || !msg.contains('\n'), "multi-line error {msg:?}");
    }
    (r, rep.captured().to_vec())
}

/// This process's open descriptors and what they are (leak check, used now
/// and then).
pub fn open_fds() -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = std::fs::read_dir("/proc/self/fd")
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| {
                    let target = std::fs::read_link(e.path())
                        .map(|t| t.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    (e.file_name().to_string_lossy().into_owned(), target)
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Every 4096 iterations, check that none of the harness's memfds is still
/// open. Those are the only descriptors the parser can be handed (see
/// [`Harness::sanitize`]), so a memfd left over means the parser kept one it
/// consumed, or the harness lost track of one. (libFuzzer and the leak
/// sanitizer open pipes of their own now and then: comparing the whole table
/// would report them.)
pub fn check_no_leak() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static ITER: AtomicUsize = AtomicUsize::new(0);
    if ITER.fetch_add(1, Ordering::Relaxed) % 4096 == 0 {
        let left: Vec<_> =
            open_fds().into_iter().filter(|(_, t)| t.starts_with("/memfd:nestwrap-fuzz")).collect();
        assert!(left.is_empty(), "descriptor leak: {left:?}");
    }
}
