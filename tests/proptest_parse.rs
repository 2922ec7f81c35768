//! Property tests of the command-line parser (stable Rust, runs in CI with
//! `cargo test`; the nightly fuzz targets in `fuzz/` explore further).
//!
//! * `anything_parses_or_fails_with_one_known_line`: random argv made of
//!   known option names, `--`, COMMAND words and random values of random
//!   arity: `cli::parse` never panics, every warning is
//!   `bwrap: Only the last ... option will take effect`, and every error is
//!   one line that starts with one of bwrap's (or nestwrap's documented)
//!   phrases.
//! * `ops_follow_argv_order`: valid filesystem options interleaved with
//!   other options: `Config::ops` is exactly the list of fs options in argv
//!   order, with their values (modes in every notation C's `strtoul`
//!   accepts, sizes in decimal, hex and octal).
//! * `args_data_equals_inline_argv`: the same valid options split into a
//!   prefix, `--args` data and a suffix parse to the same `Config` and the
//!   same warnings as when all are given inline.
//! * numeric round trips for `--perms`, `--chmod`, `--size`, fds, `--uid`.
//!
//! Case counts are bounded (see `config`) so the file runs in seconds.
//! `--args` and `--add-seccomp-fd` are kept out of the random argv: they read
//! a descriptor by number, and in this multi-threaded test process a random
//! number could name another test's descriptor. The `--args` property uses a
//! memfd made for it, always given first so that the parser always consumes it.

use std::ffi::OsString;
use std::io::Write;
use std::os::fd::IntoRawFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use nestwrap::cli::spec::OPTIONS;
use nestwrap::cli::{self, Parsed};
use nestwrap::config::{BindKind, SetupOp};
use nestwrap::error::CliError;
use nestwrap::report::Reporter;
use proptest::prelude::*;
use proptest::test_runner::Config as PtConfig;

fn config(cases: u32) -> PtConfig {
    PtConfig { cases, failure_persistence: None, ..PtConfig::default() }
}

fn parse(items: &[Vec<u8>]) -> (Result<Parsed, CliError>, Vec<String>) {
    let args: Vec<OsString> = items.iter().cloned().map(OsString::from_vec).collect();
    let mut rep = Reporter::capture();
    let r = cli::parse(args, &mut rep);
    (r, rep.captured().to_vec())
}

/// A memfd holding `data`, as a decimal fd number. The parser owns it.
fn memfd_with(data: &[u8]) -> Vec<u8> {
    let fd =
        nix::sys::memfd::memfd_create(c"nestwrap-proptest", nix::sys::memfd::MFdFlags::empty())
            .expect("memfd_create");
    let mut f = std::fs::File::from(fd);
    f.write_all(data).unwrap();
    use std::io::Seek;
    f.seek(std::io::SeekFrom::Start(0)).unwrap();
    f.into_raw_fd().to_string().into_bytes()
}

/// Every error text `cli::parse` may produce starts with one of these (the
/// part after `bwrap: `). bwrap 0.13.1's wording (reference §2–§3), plus
/// nestwrap's own extension messages.
const KNOWN_PHRASES: &[&str] = &[
    "Unknown option ",
    "Invalid fd: ",
    "Invalid uid: ",
    "Invalid gid: ",
    "unknown cap: ",
    "Exceeded maximum number of arguments 9000",
    "--perms takes an octal argument <= 07777",
    "--chmod takes an octal argument <= 07777",
    "--perms given twice for the same action",
    "--perms must be followed by an option that creates a file",
    "--size takes a non-zero number of bytes",
    "--size (for tmpfs) is limited to ",
    "--size given twice for the same action",
    "--size must be followed by --tmpfs",
    "--overlay-src must be followed by another --overlay-src or one of --overlay, \
     --tmp-overlay, or --ro-overlay",
    "--overlay requires at least one --overlay-src",
    "--tmp-overlay requires at least one --overlay-src",
    "--ro-overlay requires at least two --overlay-src",
    "--seccomp cannot be combined with --add-seccomp-fd",
    "--add-seccomp-fd cannot be combined with --seccomp",
    "--argv0 used multiple times",
    "labeling not supported on this system",
    "setenv failed",
    "unsetenv failed",
    "--userns-block-fd requires --unshare-user",
    "--userns-block-fd requires --info-fd",
    "--userns is not compatible with --unshare-user",
    "--userns is not compatible with --unshare-user-try",
    "--disable-userns requires --unshare-user",
    "--disable-userns is not compatible with --userns-block-fd",
    // nestwrap extensions (DECISIONS.md "Extensions").
    "--proc-fallback takes auto, quiet or never, not ",
    "--diagnose must be the first argument",
];

fn is_known_error(msg: &str) -> bool {
    KNOWN_PHRASES.iter().any(|p| msg.starts_with(p))
        || OPTIONS.iter().any(|o| !o.missing.is_empty() && msg == o.missing)
        || OPTIONS.iter().any(|o| msg == format!("{} does not take an empty path argument", o.name))
}

/// Option names the random argv draws from (all but the two that read fds).
fn option_names() -> Vec<&'static str> {
    OPTIONS.iter().map(|o| o.name).filter(|n| *n != "--args" && *n != "--add-seccomp-fd").collect()
}

/// A random value: numbers in every notation, paths, cap names, garbage and
/// non-UTF-8 bytes. Never a newline (the one-line property is about our
/// text, not echoed input) and never one of the fd-reading option names.
fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (0i64..100).prop_map(|n| n.to_string().into_bytes()),
        any::<i64>().prop_map(|n| n.to_string().into_bytes()),
        any::<u64>().prop_map(|n| format!("0x{n:x}").into_bytes()),
        (0u32..0o20000).prop_map(|n| format!("0{n:o}").into_bytes()),
        "[/a-z.]{0,12}".prop_map(String::into_bytes),
        "(CAP_[A-Z_]{2,12}|ALL|all|cap_chown|63|64)".prop_map(String::into_bytes),
        "(auto|quiet|never|AUTO| 3|3 |\\+3|-0|)".prop_map(String::into_bytes),
        proptest::collection::vec(
            any::<u8>().prop_filter("no NUL/newline", |b| { *b != 0 && *b != b'\n' }),
            0..10
        ),
    ]
    .prop_filter("not an fd-reading option", |v| v != b"--args" && v != b"--add-seccomp-fd")
}

fn token() -> impl Strategy<Value = Vec<u8>> {
    let names = option_names();
    prop_oneof![
        6 => proptest::sample::select(names).prop_map(|n| n.as_bytes().to_vec()),
        3 => value(),
        1 => Just(b"--".to_vec()),
        1 => Just(b"true".to_vec()),
        1 => "--[a-z-]{1,10}".prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn anything_parses_or_fails_with_one_known_line(
        argv in proptest::collection::vec(token(), 0..24)
    ) {
        let (r, warnings) = parse(&argv);
        for w in &warnings {
            prop_assert!(
                w.starts_with("bwrap: Only the last --") || w.starts_with("<4>bwrap: Only the last --"),
                "unexpected warning {w:?}"
            );
            prop_assert!(w.ends_with(" option will take effect"), "{w:?}");
        }
        match r {
            Ok(Parsed::Run(cfg)) => prop_assert!(!cfg.command.is_empty()),
            Ok(_) | Err(CliError::Usage) => {}
            Err(e) => {
                let msg = e.to_string();
                prop_assert!(!msg.contains('\n'), "multi-line error {msg:?} for {argv:?}");
                prop_assert!(is_known_error(&msg), "unknown error text {msg:?} for {argv:?}");
            }
        }
    }
}

/// A valid filesystem option: its argv items and the op it must produce.
#[derive(Debug, Clone)]
struct FsOpt {
    argv: Vec<Vec<u8>>,
    op: SetupOp,
}

fn path() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "/[a-z]{1,6}(/[a-z.]{1,6}){0,2}".prop_map(String::into_bytes),
        // Non-UTF-8 and odd bytes are fine in paths (no NUL, must not look
        // like an option at the first position: paths are values here).
        proptest::collection::vec(1u8..=255, 1..8).prop_map(|mut v| {
            v.insert(0, b'/');
            v
        }),
    ]
}

/// C `strtoul(s, 8)` spellings of `mode`.
fn octal(mode: u32) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(format!("{mode:o}")),
        Just(format!("0{mode:o}")),
        Just(format!("000{mode:o}")),
        Just(format!(" {mode:o}")),
        Just(format!("+{mode:o}")),
    ]
    .prop_map(String::into_bytes)
}

/// `strtoull(s, 0)` spellings of `size` (the first character must be a digit).
fn size_text(size: u64) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![Just(format!("{size}")), Just(format!("0x{size:x}")), Just(format!("0{size:o}")),]
        .prop_map(String::into_bytes)
}

fn os(v: &[u8]) -> OsString {
    OsString::from_vec(v.to_vec())
}

fn with_perms(
    perms: Option<(u32, Vec<u8>)>,
    mut rest: Vec<Vec<u8>>,
) -> (Vec<Vec<u8>>, Option<u32>) {
    match perms {
        Some((m, text)) => {
            let mut argv = vec![b"--perms".to_vec(), text];
            argv.append(&mut rest);
            (argv, Some(m))
        }
        None => (rest, None),
    }
}

fn perms() -> impl Strategy<Value = Option<(u32, Vec<u8>)>> {
    proptest::option::of((0u32..=0o7777).prop_flat_map(|m| octal(m).prop_map(move |t| (m, t))))
}

fn fs_opt() -> impl Strategy<Value = FsOpt> {
    const BIND_NAMES: &[&str] =
        &["--bind", "--bind-try", "--dev-bind", "--dev-bind-try", "--ro-bind", "--ro-bind-try"];
    prop_oneof![
        (proptest::sample::select(BIND_NAMES), path(), path()).prop_map(|(n, s, d)| {
            let kind = match n {
                "--bind" | "--bind-try" => BindKind::ReadWrite,
                "--dev-bind" | "--dev-bind-try" => BindKind::Devices,
                _ => BindKind::ReadOnly,
            };
            FsOpt {
                argv: vec![n.as_bytes().to_vec(), s.clone(), d.clone()],
                op: SetupOp::Bind {
                    src: os(&s),
                    dest: os(&d),
                    kind,
                    allow_notexist: n.ends_with("-try"),
                },
            }
        }),
        (any::<bool>(), 0i32..1000, path()).prop_map(|(ro, fd, d)| FsOpt {
            argv: vec![
                if ro { b"--ro-bind-fd".to_vec() } else { b"--bind-fd".to_vec() },
                fd.to_string().into_bytes(),
                d.clone(),
            ],
            op: SetupOp::BindFd { fd, dest: os(&d), readonly: ro },
        }),
        path().prop_map(|d| FsOpt {
            argv: vec![b"--remount-ro".to_vec(), d.clone()],
            op: SetupOp::RemountRo { dest: os(&d) }
        }),
        path().prop_map(|d| FsOpt {
            argv: vec![b"--proc".to_vec(), d.clone()],
            op: SetupOp::Proc { dest: os(&d) }
        }),
        path().prop_map(|d| FsOpt {
            argv: vec![b"--dev".to_vec(), d.clone()],
            op: SetupOp::Dev { dest: os(&d) }
        }),
        path().prop_map(|d| FsOpt {
            argv: vec![b"--mqueue".to_vec(), d.clone()],
            op: SetupOp::Mqueue { dest: os(&d) }
        }),
        (
            perms(),
            proptest::option::of(
                (1u64..=u64::MAX >> 1)
                    .prop_flat_map(|s| { size_text(s).prop_map(move |t| (s, t)) })
            ),
            any::<bool>(),
            path()
        )
            .prop_map(|(p, s, size_first, d)| {
                let mut argv = Vec::new();
                let mut mods = Vec::new();
                if let Some((_, t)) = &p {
                    mods.push(vec![b"--perms".to_vec(), t.clone()]);
                }
                if let Some((_, t)) = &s {
                    mods.push(vec![b"--size".to_vec(), t.clone()]);
                }
                if size_first {
                    mods.reverse();
                }
                for m in mods {
                    argv.extend(m);
                }
                argv.push(b"--tmpfs".to_vec());
                argv.push(d.clone());
                FsOpt {
                    argv,
                    op: SetupOp::Tmpfs {
                        dest: os(&d),
                        perms: p.map(|x| x.0),
                        size: s.map(|x| x.0),
                    },
                }
            }),
        (perms(), path()).prop_map(|(p, d)| {
            let (argv, perms) = with_perms(p, vec![b"--dir".to_vec(), d.clone()]);
            FsOpt { argv, op: SetupOp::Dir { dest: os(&d), perms } }
        }),
        (perms(), 0i32..1000, 0u8..3, path()).prop_map(|(p, fd, which, d)| {
            let name: &[u8] = match which {
                0 => b"--file",
                1 => b"--bind-data",
                _ => b"--ro-bind-data",
            };
            let (argv, perms) =
                with_perms(p, vec![name.to_vec(), fd.to_string().into_bytes(), d.clone()]);
            let op = if which == 0 {
                SetupOp::File { fd, dest: os(&d), perms }
            } else {
                SetupOp::BindData { fd, dest: os(&d), perms, readonly: which == 2 }
            };
            FsOpt { argv, op }
        }),
        (path(), path()).prop_map(|(t, d)| FsOpt {
            argv: vec![b"--symlink".to_vec(), t.clone(), d.clone()],
            op: SetupOp::Symlink { target: os(&t), dest: os(&d) },
        }),
        ((0u32..=0o7777).prop_flat_map(|m| octal(m).prop_map(move |t| (m, t))), path()).prop_map(
            |((m, t), p)| FsOpt {
                argv: vec![b"--chmod".to_vec(), t, p.clone()],
                op: SetupOp::Chmod { mode: m, path: os(&p) },
            }
        ),
    ]
}

/// A valid option that is not a filesystem op (some of them warn when repeated).
fn other_opt() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop_oneof![
        Just(vec![b"--unshare-ipc".to_vec()]),
        Just(vec![b"--unshare-all".to_vec()]),
        Just(vec![b"--new-session".to_vec()]),
        Just(vec![b"--clearenv".to_vec()]),
        ("[A-Z_]{1,6}", path()).prop_map(|(k, v)| vec![b"--setenv".to_vec(), k.into_bytes(), v]),
        path().prop_map(|d| vec![b"--chdir".to_vec(), d]),
        (0u32..5000).prop_map(|u| vec![b"--uid".to_vec(), u.to_string().into_bytes()]),
        Just(vec![b"--cap-add".to_vec(), b"CAP_NET_ADMIN".to_vec()]),
        (0i32..100).prop_map(|fd| vec![b"--sync-fd".to_vec(), fd.to_string().into_bytes()]),
    ]
}

/// Interleaved valid options: (argv chunks, one per option; expected ops).
fn valid_options() -> impl Strategy<Value = (Vec<Vec<Vec<u8>>>, Vec<SetupOp>)> {
    proptest::collection::vec(
        prop_oneof![
            2 => fs_opt().prop_map(|f| (f.argv, Some(f.op))),
            1 => other_opt().prop_map(|a| (a, None)),
        ],
        0..16,
    )
    .prop_map(|items| {
        let mut chunks = Vec::new();
        let mut ops = Vec::new();
        for (argv, op) in items {
            chunks.push(argv);
            ops.extend(op);
        }
        (chunks, ops)
    })
}

proptest! {
    #![proptest_config(config(400))]

    #[test]
    fn ops_follow_argv_order((chunks, ops) in valid_options()) {
        let mut argv: Vec<Vec<u8>> = chunks.concat();
        argv.push(b"true".to_vec());
        let (r, _) = parse(&argv);
        match r {
            Ok(Parsed::Run(cfg)) => {
                prop_assert_eq!(&cfg.ops, &ops);
                prop_assert_eq!(cfg.command, vec![OsString::from("true")]);
            }
            other => prop_assert!(false, "{argv:?} gave {other:?}"),
        }
    }

    #[test]
    fn args_data_equals_inline_argv(
        (chunks, _ops) in valid_options(),
        cut in (0usize..=16, 0usize..=16),
    ) {
        let n = chunks.len();
        let (a, b) = (cut.0.min(n), cut.1.min(n));
        let (a, b) = (a.min(b), a.max(b));
        let inline: Vec<Vec<u8>> = chunks.concat();
        let mut data = Vec::new();
        for item in chunks[a..b].concat() {
            data.extend_from_slice(&item);
            data.push(0);
        }
        // --args first, so that the parser always reads (and closes) the memfd.
        let mut via: Vec<Vec<u8>> = vec![b"--args".to_vec(), memfd_with(&data)];
        via.extend(chunks[..a].concat());
        via.extend(chunks[b..].concat());
        // Reorder the inline argv the same way: data first.
        let mut expected: Vec<Vec<u8>> = chunks[a..b].concat();
        expected.extend(chunks[..a].concat());
        expected.extend(chunks[b..].concat());
        via.push(b"true".to_vec());
        expected.push(b"true".to_vec());
        prop_assert_eq!(inline.len() + 1, expected.len());
        prop_assert_eq!(parse(&via), parse(&expected));
    }

    #[test]
    fn modes_round_trip(m in 0u32..0o100000, text_kind in 0u8..3) {
        let text = match text_kind {
            0 => format!("{m:o}"),
            1 => format!("0{m:o}"),
            _ => format!("00{m:o}"),
        };
        let (r, _) = parse(&[b"--perms".to_vec(), text.clone().into_bytes(),
                              b"--dir".to_vec(), b"/d".to_vec(), b"t".to_vec()]);
        let (c, _) = parse(&[b"--chmod".to_vec(), text.into_bytes(), b"/p".to_vec(), b"t".to_vec()]);
        if m <= 0o7777 {
            let ok = matches!(&r, Ok(Parsed::Run(cfg))
                if cfg.ops == [SetupOp::Dir { dest: "/d".into(), perms: Some(m) }]);
            prop_assert!(ok, "{r:?}");
            let ok = matches!(&c, Ok(Parsed::Run(cfg))
                if cfg.ops == [SetupOp::Chmod { mode: m, path: "/p".into() }]);
            prop_assert!(ok, "{c:?}");
        } else {
            prop_assert_eq!(r, Err(CliError::msg("--perms takes an octal argument <= 07777")));
            prop_assert_eq!(c, Err(CliError::msg("--chmod takes an octal argument <= 07777")));
        }
    }

    #[test]
    fn sizes_round_trip(s in prop_oneof![1u64..4096, any::<u64>()], kind in 0u8..3) {
        let text = match kind {
            0 => format!("{s}"),
            1 => format!("0x{s:X}"),
            _ => format!("0{s:o}"),
        };
        let (r, _) = parse(&[b"--size".to_vec(), text.into_bytes(), b"--tmpfs".to_vec(),
                              b"/t".to_vec(), b"t".to_vec()]);
        if s <= u64::MAX >> 1 {
            let ok = matches!(&r, Ok(Parsed::Run(cfg))
                if cfg.ops == [SetupOp::Tmpfs { dest: "/t".into(), perms: None, size: Some(s) }]);
            prop_assert!(ok, "{r:?}");
        } else {
            prop_assert_eq!(r, Err(CliError::Msg(format!(
                "--size (for tmpfs) is limited to {}", u64::MAX >> 1))));
        }
    }

    #[test]
    fn fds_and_ids_round_trip(n in any::<i32>()) {
        let text = n.to_string();
        let (fd, _) = parse(&[b"--sync-fd".to_vec(), text.clone().into_bytes(), b"t".to_vec()]);
        let (uid, _) = parse(&[b"--uid".to_vec(), text.clone().into_bytes(), b"t".to_vec()]);
        if n >= 0 {
            prop_assert!(matches!(&fd, Ok(Parsed::Run(c)) if c.sync_fds == [n]), "{fd:?}");
            prop_assert!(matches!(&uid, Ok(Parsed::Run(c)) if c.uid == Some(n as u32)), "{uid:?}");
        } else {
            prop_assert_eq!(fd, Err(CliError::Msg(format!("Invalid fd: {text}"))));
            prop_assert_eq!(uid, Err(CliError::Msg(format!("Invalid uid: {text}"))));
        }
    }

    /// A path is carried byte for byte, whatever it contains (but NUL).
    #[test]
    fn paths_are_bytes(p in proptest::collection::vec(1u8..=255, 1..64)) {
        let (r, _) = parse(&[b"--dir".to_vec(), p.clone(), b"t".to_vec()]);
        let ok = matches!(&r, Ok(Parsed::Run(cfg))
            if cfg.ops == [SetupOp::Dir { dest: os(&p), perms: None }]
                && cfg.ops.iter().all(|o| matches!(o, SetupOp::Dir { dest, .. }
                    if dest.as_bytes() == p.as_slice())));
        prop_assert!(ok, "{r:?}");
    }
}
