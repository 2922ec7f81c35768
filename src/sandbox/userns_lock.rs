//! `--disable-userns` where `/proc/sys` is read-only (containers): a seccomp
//! filter that makes every way of creating a user namespace fail.
//!
//! `unshare(2)` and `clone(2)` with `CLONE_NEWUSER` get EPERM; `clone3(2)`
//! gets ENOSYS (its flags live in memory a filter cannot read), so libc
//! falls back to `clone`, which the filter can inspect. Every syscall ABI
//! the kernel accepts is covered: on x86_64 that is x86_64, x32 and i386.
//! Other architectures: the native ABI. Unknown architectures are killed
//! rather than let through. `apply_seccomp` installs it, and the caller's
//! own filters.

use nix::errno::Errno;

use crate::error::{setup_errno, setup_msg, SetupError, Step};
use crate::sys;

/// Classic BPF opcodes we use.
const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JSET_K: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
const RET_K: u16 = 0x06; // BPF_RET | BPF_K

const RET_ALLOW: u32 = 0x7fff_0000;
const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_ERRNO: u32 = 0x0005_0000;

const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
/// Low 32 bits of args[0] (little endian).
const OFF_ARG0_LO: u32 = 16;

const CLONE_NEWUSER: u32 = 0x1000_0000;

/// The syscall numbers to police for one `AUDIT_ARCH_*` value.
struct Arch {
    audit: u32,
    /// `unshare` and `clone` numbers (flags in args\[0\]) of every ABI
    /// that reports this arch.
    flagged: &'static [u32],
    /// `clone3` numbers.
    clone3: &'static [u32],
}

#[cfg(target_arch = "x86_64")]
const ARCHES: &[Arch] = &[
    // AUDIT_ARCH_X86_64 covers x86_64 and x32 (numbers with bit 30 set).
    Arch {
        audit: 0xc000_003e,
        flagged: &[272, 56, 0x4000_0000 | 272, 0x4000_0000 | 56],
        clone3: &[435, 0x4000_0000 | 435],
    },
    // AUDIT_ARCH_I386
    Arch { audit: 0x4000_0003, flagged: &[310, 120], clone3: &[435] },
];

#[cfg(target_arch = "aarch64")]
const ARCHES: &[Arch] = &[
    Arch { audit: 0xc000_00b7, flagged: &[97, 220], clone3: &[435] },
    // AUDIT_ARCH_ARM (32-bit compat)
    Arch { audit: 0x4000_0028, flagged: &[337, 120], clone3: &[435] },
];

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const ARCHES: &[Arch] = &[];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Insn {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

fn stmt(code: u16, k: u32) -> Insn {
    Insn { code, jt: 0, jf: 0, k }
}

fn jump(code: u16, k: u32, jt: usize, jf: usize) -> Insn {
    Insn { code, jt: jt as u8, jf: jf as u8, k }
}

/// One arch's straight-line block, entered with nothing in A.
fn block(arch: &Arch) -> Vec<Insn> {
    let f = arch.flagged.len();
    let e = arch.clone3.len();
    let flags_at = 1 + f + e + 1;
    let enosys_at = flags_at + 4;
    let mut b = vec![stmt(LD_W_ABS, OFF_NR)];
    for &nr in arch.flagged {
        let i = b.len();
        b.push(jump(JEQ_K, nr, flags_at - i - 1, 0));
    }
    for &nr in arch.clone3 {
        let i = b.len();
        b.push(jump(JEQ_K, nr, enosys_at - i - 1, 0));
    }
    b.push(stmt(RET_K, RET_ALLOW));
    debug_assert_eq!(b.len(), flags_at);
    b.push(stmt(LD_W_ABS, OFF_ARG0_LO));
    b.push(jump(JSET_K, CLONE_NEWUSER, 0, 1));
    b.push(stmt(RET_K, RET_ERRNO | libc::EPERM as u32));
    b.push(stmt(RET_K, RET_ALLOW));
    debug_assert_eq!(b.len(), enosys_at);
    b.push(stmt(RET_K, RET_ERRNO | libc::ENOSYS as u32));
    b
}

/// The filter as raw `sock_filter` bytes, ready for `PR_SET_SECCOMP`, or
/// `None` on an architecture whose syscall ABIs this build does not know
/// (the caller then refuses to start a sandbox it cannot lock).
pub fn filter() -> Option<Vec<u8>> {
    if ARCHES.is_empty() {
        return None;
    }
    let mut p = Vec::new();
    for arch in ARCHES {
        let b = block(arch);
        p.push(stmt(LD_W_ABS, OFF_ARCH));
        p.push(jump(JEQ_K, arch.audit, 0, b.len()));
        p.extend(b);
    }
    // A syscall ABI not listed above: never let it through.
    p.push(stmt(RET_K, RET_KILL_PROCESS));
    Some(
        p.iter()
            .flat_map(|i| {
                let mut b = Vec::with_capacity(8);
                b.extend_from_slice(&i.code.to_ne_bytes());
                b.push(i.jt);
                b.push(i.jf);
                b.extend_from_slice(&i.k.to_ne_bytes());
                b
            })
            .collect(),
    )
}

/// Install a seccomp program: the `--disable-userns` lock or a caller's
/// `--seccomp`/`--add-seccomp-fd` filter, with bwrap's messages.
pub fn apply_seccomp(program: &[u8]) -> Result<(), SetupError> {
    sys::seccomp_set_filter(program).map_err(seccomp_failure)
}

/// The error for a failed `PR_SET_SECCOMP`: bwrap's messages, except for
/// ENOMEM, which is the kernel's limit on the whole filter chain
/// (`seccomp_attach_filter`), said in words.
pub fn seccomp_failure(e: Errno) -> SetupError {
    match e {
        Errno::EINVAL => setup_msg(
            Step::Seccomp,
            "Unable to set up system call filtering as requested: prctl(PR_SET_SECCOMP) reported EINVAL. \
             (Hint: this requires a kernel configured with CONFIG_SECCOMP and CONFIG_SECCOMP_FILTER.)",
        ),
        Errno::ENOMEM => setup_msg(Step::Seccomp, crate::limits::seccomp_stack_too_long()),
        e => setup_errno(Step::Seccomp, "prctl(PR_SET_SECCOMP)", e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny interpreter for the subset of classic BPF the filter uses.
    fn run(prog: &[u8], arch: u32, nr: u32, arg0: u64) -> u32 {
        let insns: Vec<Insn> = prog
            .chunks_exact(8)
            .map(|c| Insn {
                code: u16::from_ne_bytes([c[0], c[1]]),
                jt: c[2],
                jf: c[3],
                k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect();
        let mut a = 0u32;
        let mut pc = 0usize;
        loop {
            let i = insns[pc];
            pc += 1;
            match i.code {
                LD_W_ABS => {
                    a = match i.k {
                        OFF_NR => nr,
                        OFF_ARCH => arch,
                        OFF_ARG0_LO => arg0 as u32,
                        _ => panic!("unexpected load"),
                    }
                }
                JEQ_K => pc += if a == i.k { i.jt } else { i.jf } as usize,
                JSET_K => pc += if a & i.k != 0 { i.jt } else { i.jf } as usize,
                RET_K => return i.k,
                _ => panic!("unexpected opcode"),
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn blocks_every_x86_abi() {
        let f = filter().unwrap();
        let eperm = RET_ERRNO | libc::EPERM as u32;
        let enosys = RET_ERRNO | libc::ENOSYS as u32;
        let (x64, i386) = (0xc000_003e, 0x4000_0003);
        let newuser = u64::from(CLONE_NEWUSER);
        assert_eq!(run(&f, x64, 272, newuser), eperm);
        assert_eq!(run(&f, x64, 272, 0x0002_0000), RET_ALLOW);
        assert_eq!(run(&f, x64, 56, newuser | 0x11), eperm);
        assert_eq!(run(&f, x64, 56, 0x11), RET_ALLOW);
        assert_eq!(run(&f, x64, 435, 0), enosys);
        assert_eq!(run(&f, x64, 0x4000_0000 | 272, newuser), eperm);
        assert_eq!(run(&f, x64, 0x4000_0000 | 56, newuser), eperm);
        assert_eq!(run(&f, x64, 0x4000_0000 | 435, 0), enosys);
        assert_eq!(run(&f, i386, 310, newuser), eperm);
        assert_eq!(run(&f, i386, 120, newuser), eperm);
        assert_eq!(run(&f, i386, 435, 0), enosys);
        assert_eq!(run(&f, i386, 310, 0), RET_ALLOW);
        assert_eq!(run(&f, x64, 0, newuser), RET_ALLOW, "read(2) with any argument");
        assert_eq!(run(&f, 0x1234, 0, 0), RET_KILL_PROCESS);
        assert_eq!(f.len() % 8, 0);
    }
}
