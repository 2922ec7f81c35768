//! Renders `--help` (and later the man page and completions) from `cli::spec`.

/// The text printed by `--help` (stdout) and, without COMMAND, on stderr.
pub fn usage(argv0: &str) -> String {
    format!("usage: {argv0} [OPTIONS...] [--] COMMAND [ARGS...]\n")
}
