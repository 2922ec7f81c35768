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
//!   filter chain. The kernel counts the eBPF it translates each program
//!   to, which only it knows exactly: chains that surely exceed the limit
//!   are refused while parsing ([`check_seccomp_stack`]); chains that might
//!   are attached once in a throwaway process before COMMAND starts
//!   ([`stack_surely_fits`] says when that can be skipped).

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

/// A lower bound of the kernel's count for a filter chain (classic lengths
/// `lens`, in attach order). The kernel counts each filter as it keeps it,
/// translated to eBPF (`bpf_convert_filter`: a prologue of at least one
/// instruction, and one or more per classic instruction), and adds 4 for
/// every filter beneath the one being attached. The count only grows as
/// filters are added, so a chain over the limit by this bound can never
/// attach completely, on any kernel.
pub fn stacked_insns_min(lens: impl IntoIterator<Item = usize>) -> usize {
    let (mut total, mut n) = (0usize, 0usize);
    for len in lens {
        total = total.saturating_add(len);
        n += 1;
    }
    total.saturating_add(INSNS_PENALTY_PER_FILTER * n.saturating_sub(1))
}

/// Refuse a chain that surely exceeds the kernel's limit (see
/// [`stacked_insns_min`]); checked while parsing, before anything runs.
pub fn check_seccomp_stack(lens: impl IntoIterator<Item = usize>) -> Result<(), String> {
    if stacked_insns_min(lens) > MAX_INSNS_PER_PATH {
        Err(seccomp_stack_too_long())
    } else {
        Ok(())
    }
}

/// The most eBPF instructions the kernel makes of one classic instruction
/// that seccomp accepts: `div`/`mod` by X become 5 (a zero check before
/// the operation), a conditional jump with a negative constant and two
/// targets 3, `ret K` 2. One more for kernels to come.
pub const EBPF_PER_INSN_MAX: usize = 6;

/// The most prologue instructions: 3 (reset A and X, save the context);
/// the packet-access prologue never applies to seccomp. Generous as well.
pub const EBPF_PROLOGUE_MAX: usize = 8;

/// An upper bound of the kernel's count for a chain of classic lengths
/// `lens` attached to a task with no filter before them.
pub fn stacked_insns_max(lens: impl IntoIterator<Item = usize>) -> usize {
    let (mut total, mut n) = (0usize, 0usize);
    for len in lens {
        total = total.saturating_add(len.saturating_mul(EBPF_PER_INSN_MAX) + EBPF_PROLOGUE_MAX);
        n += 1;
    }
    total.saturating_add(INSNS_PENALTY_PER_FILTER * n.saturating_sub(1))
}

/// Whether the chain `lens` attaches without a doubt, so that the exact
/// check (attaching it in a throwaway process first) can be skipped: no
/// filter was there before ours and even the upper bound is within the
/// limit. Flatpak-sized filters (a few hundred instructions) always are.
pub fn stack_surely_fits(lens: impl IntoIterator<Item = usize>, filtered_before: bool) -> bool {
    !filtered_before && stacked_insns_max(lens) <= MAX_INSNS_PER_PATH
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
    fn stack_bounds() {
        assert_eq!(stacked_insns_min([]), 0);
        assert_eq!(stacked_insns_min([4096]), 4096);
        assert_eq!(stacked_insns_min([10, 20, 30]), 60 + 8);
        // Eight full programs can never attach: 32768 + 7 * 4 > 32768.
        assert!(check_seccomp_stack([4096; 8]).is_err());
        assert!(check_seccomp_stack([4096; 7]).is_ok());
        let mut edge = vec![4096; 7];
        edge.push(4096 - 28);
        assert_eq!(stacked_insns_min(edge.iter().copied()), MAX_INSNS_PER_PATH);
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

        // Measured on 6.18: `ret` programs of 4096 instructions are 3 + 2 *
        // 4096 eBPF instructions each, so three of them and one of 4084 fit,
        // one of 4085 does not. Both bounds hold around that edge.
        let kernel = |lens: &[usize]| -> usize {
            lens.iter().map(|n| 3 + 2 * n).sum::<usize>() + 4 * (lens.len() - 1)
        };
        for last in [4084, 4085] {
            let lens = [4096, 4096, 4096, last];
            assert!(stacked_insns_min(lens) <= kernel(&lens));
            assert!(stacked_insns_max(lens) >= kernel(&lens));
        }
        assert_eq!(kernel(&[4096, 4096, 4096, 4084]), MAX_INSNS_PER_PATH);
    }

    #[test]
    fn when_the_exact_check_is_skipped() {
        // Ordinary filters: no probe.
        assert!(stack_surely_fits([300], false));
        assert!(stack_surely_fits([60, 300, 300], false));
        // A filter inherited from the caller: its size is unknown.
        assert!(!stack_surely_fits([300], true));
        // One full program could be 6 * 4096 + 8: still fits alone.
        assert!(stack_surely_fits([4096], false));
        assert!(!stack_surely_fits([4096, 4096], false));
        assert_eq!(stacked_insns_max([1, 1]), 2 * (6 + 8) + 4);
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
