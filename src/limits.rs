//! Bounds on what nestwrap reads from the caller's descriptors (issue 15,
//! parts C and E), as pure functions so they can be tested without I/O.
//!
//! bwrap reads `--args`, `--seccomp` and `--add-seccomp-fd` data to end of
//! file with no bound: an endless descriptor (`/dev/zero`, a pipe that never
//! closes) keeps it reading and allocating forever. And it hands seccomp
//! programs to the kernel in a `sock_fprog`, whose `len` is 16 bits: a
//! program of 65 537 instructions becomes a program of 1, which the kernel
//! installs. nestwrap stops reading as soon as a limit is passed and refuses
//! such input with one `bwrap:` line before COMMAND can start.
//!
//! * `--args`: bwrap's 9000 arguments (counted as bwrap counts them, argv
//!   included, see [`ArgsCounter`]) and [`MAX_ARGS_DATA_BYTES`] bytes over
//!   all `--args` data together.
//! * a seccomp program: the kernel's [`BPF_MAXINSNS`] instructions.
//! * stacked programs: the kernel's [`MAX_INSNS_PER_PATH`] over the whole
//!   filter chain, counted as the kernel counts it ([`stacked_insns`]).

/// The kernel's limit on one classic-BPF program (`BPF_MAXINSNS`); a longer
/// `PR_SET_SECCOMP` program is refused with EINVAL, or truncated modulo
/// 65 536 before the kernel sees it.
pub const BPF_MAXINSNS: usize = 4096;

/// The kernel's limit on the seccomp filter chain of one task
/// (`MAX_INSNS_PER_PATH` in kernel/seccomp.c): ENOMEM above it.
pub const MAX_INSNS_PER_PATH: usize = 32768;

/// The kernel's cost of every filter already attached beneath a new one
/// (`seccomp_attach_filter`: "4 instr penalty").
pub const INSNS_PENALTY_PER_FILTER: usize = 4;

/// Size of one `struct sock_filter`.
pub const INSN_BYTES: usize = 8;

/// Cap on all `--args` data together. Everything in it either reaches
/// COMMAND through `execve`, whose argv and environment together are capped
/// by the kernel at 6 MiB (three quarters of `_STK_LIM`, whatever the stack
/// limit), or is a path, which the kernel refuses beyond `PATH_MAX` (4096)
/// bytes: 9000 of those are 36 MiB. 64 MiB is above anything a command line
/// bwrap can run needs, and small enough to read in well under a second.
pub const MAX_ARGS_DATA_BYTES: usize = 64 << 20;

pub const SECCOMP_NOT_MULTIPLE: &str = "Invalid seccomp data, must be multiple of 8";

/// A seccomp program longer than [`BPF_MAXINSNS`].
pub fn seccomp_too_long() -> String {
    format!("Invalid seccomp data, must be at most {BPF_MAXINSNS} instructions")
}

/// Stacked seccomp programs over [`MAX_INSNS_PER_PATH`].
pub fn seccomp_stack_too_long() -> String {
    format!(
        "Invalid seccomp data, the filters together exceed the kernel's limit of \
         {MAX_INSNS_PER_PATH} instructions"
    )
}

/// `--args` data over [`MAX_ARGS_DATA_BYTES`].
pub fn args_data_too_long() -> String {
    format!("Exceeded maximum size of --args data {MAX_ARGS_DATA_BYTES} bytes")
}

/// How many bytes of a seccomp program to read at most: one instruction
/// more than the kernel takes, less one byte. Data that reaches this many
/// bytes already holds [`BPF_MAXINSNS`] + 1 instructions, whatever follows;
/// shorter data keeps bwrap's "multiple of 8" check.
pub const SECCOMP_READ_MAX: usize = (BPF_MAXINSNS + 1) * INSN_BYTES;

/// bwrap's checks on one seccomp program, plus the kernel's length limit;
/// returns its number of instructions. `data` is what was read, at most
/// [`SECCOMP_READ_MAX`] bytes (reading stops there).
pub fn check_seccomp_program(data: &[u8]) -> Result<usize, String> {
    if data.len() >= SECCOMP_READ_MAX {
        return Err(seccomp_too_long());
    }
    if data.len() % INSN_BYTES != 0 {
        return Err(SECCOMP_NOT_MULTIPLE.into());
    }
    Ok(data.len() / INSN_BYTES)
}

/// The kernel's count for a filter chain when its last filter is attached:
/// that filter's length plus, for every filter beneath it, its length and
/// the penalty. It only grows as filters are added, so the chain attaches
/// completely exactly when this count for the whole chain is within the limit.
pub fn stacked_insns(lens: impl IntoIterator<Item = usize>) -> usize {
    let (mut total, mut n) = (0usize, 0usize);
    for len in lens {
        total = total.saturating_add(len);
        n += 1;
    }
    total.saturating_add(INSNS_PENALTY_PER_FILTER * n.saturating_sub(1))
}

/// Whether the kernel accepts the whole chain `lens` (in attach order, the
/// first attached first), given that nestwrap's process has no filter yet.
pub fn check_seccomp_stack(lens: impl IntoIterator<Item = usize>) -> Result<(), String> {
    if stacked_insns(lens) > MAX_INSNS_PER_PATH {
        Err(seccomp_stack_too_long())
    } else {
        Ok(())
    }
}

/// Counts `--args` items the way bwrap does (every NUL ends one; trailing
/// bytes without a NUL make one more) over data that grows as it is read,
/// looking at each byte once.
#[derive(Debug, Default, Clone)]
pub struct ArgsCounter {
    seen: usize,
    nuls: usize,
}

impl ArgsCounter {
    /// Items in `data`, which extends the data of the previous call.
    pub fn items(&mut self, data: &[u8]) -> usize {
        self.nuls += memchr::memchr_iter(0, &data[self.seen..]).count();
        self.seen = data.len();
        self.nuls + usize::from(data.last().is_some_and(|&b| b != 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_length() {
        assert_eq!(check_seccomp_program(&[]), Ok(0));
        assert_eq!(check_seccomp_program(&[0; 8]), Ok(1));
        assert_eq!(check_seccomp_program(&[0; 4096 * 8]), Ok(4096));
        assert_eq!(check_seccomp_program(&[0; 7]).unwrap_err(), SECCOMP_NOT_MULTIPLE);
        // Not a whole 4097th instruction: bwrap's message, as bwrap.
        assert_eq!(check_seccomp_program(&[0; 4096 * 8 + 7]).unwrap_err(), SECCOMP_NOT_MULTIPLE);
        let long = check_seccomp_program(&[0; SECCOMP_READ_MAX]).unwrap_err();
        assert_eq!(long, "Invalid seccomp data, must be at most 4096 instructions");
    }

    #[test]
    fn stack_as_the_kernel_counts() {
        assert_eq!(stacked_insns([]), 0);
        assert_eq!(stacked_insns([4096]), 4096);
        assert_eq!(stacked_insns([10, 20, 30]), 60 + 8);
        // 8 full programs: 32768 + 7 * 4 > 32768.
        assert!(check_seccomp_stack([4096; 8]).is_err());
        assert!(check_seccomp_stack([4096; 7]).is_ok());
        // The exact edge: 7 * 4096 + 4068 + 7 * 4 = 32768.
        let mut edge = vec![4096; 7];
        edge.push(4096 - 28);
        assert_eq!(stacked_insns(edge.iter().copied()), MAX_INSNS_PER_PATH);
        assert!(check_seccomp_stack(edge.iter().copied()).is_ok());
        edge[7] += 1;
        assert_eq!(
            check_seccomp_stack(edge.iter().copied()).unwrap_err(),
            "Invalid seccomp data, the filters together exceed the kernel's limit of 32768 \
             instructions"
        );
        // Many one-instruction filters: the penalty alone passes the limit.
        assert!(check_seccomp_stack(std::iter::repeat(1).take(6554)).is_ok());
        assert!(check_seccomp_stack(std::iter::repeat(1).take(6555)).is_err());
    }

    /// bwrap's count: the loop over `memchr (p, 0, ...)` in `--args`.
    fn bwrap_items(data: &[u8]) -> usize {
        let mut n = 0;
        let mut p = 0;
        while p < data.len() {
            n += 1;
            match data[p..].iter().position(|&b| b == 0) {
                Some(i) => p += i + 1,
                None => break,
            }
        }
        n
    }

    #[test]
    fn args_items_as_bwrap_counts_them() {
        let cases: &[&[u8]] =
            &[b"", b"\0", b"\0\0", b"a", b"a\0", b"a\0b", b"a\0b\0", b"\0a", b"ab\0\0cd"];
        for data in cases {
            assert_eq!(ArgsCounter::default().items(data), bwrap_items(data), "{data:?}");
            // Fed one byte at a time, the count is the same at every step.
            let mut c = ArgsCounter::default();
            for end in 0..=data.len() {
                assert_eq!(c.items(&data[..end]), bwrap_items(&data[..end]), "{data:?}[..{end}]");
            }
        }
    }
}
