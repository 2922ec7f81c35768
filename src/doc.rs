//! Renders `--help` (and later the man page and completions) from `cli::spec`.

use crate::cli::spec::OPTIONS;

/// Column where bwrap's help texts start.
const HELP_COLUMN: usize = 33;

/// The text printed by `--help` (stdout) and, without COMMAND, on stderr:
/// bwrap's usage text, byte for byte, followed by one line about nestwrap.
pub fn usage(argv0: &str) -> String {
    let mut out = format!("usage: {argv0} [OPTIONS...] [--] COMMAND [ARGS...]\n\n");
    for opt in OPTIONS {
        let mut head = String::from(opt.name);
        for m in opt.metavars {
            head.push(' ');
            head.push_str(m);
        }
        let mut lines = opt.help.split('\n');
        let first = lines.next().unwrap_or("");
        // "    " + head padded to 28 + at least one space.
        out.push_str(&format!("    {head:<width$} {first}\n", width = HELP_COLUMN - 5));
        for line in lines {
            out.push_str(&format!("{:HELP_COLUMN$}{line}\n", ""));
        }
    }
    out.push_str(&format!(
        "\nnestwrap {}: bwrap-compatible; see nestwrap(1)\n",
        crate::NESTWRAP_VERSION
    ));
    out
}
