//! The single place that writes `bwrap: ...` diagnostics.
//!
//! Every diagnostic is one line, written to stderr with one `write(2)` so that
//! lines from the monitor, the child and the reaper never interleave. The
//! prefix is the literal `bwrap: ` (callers grep it), optionally preceded by a
//! syslog level (`<3>` error, `<4>` warning) once `--level-prefix` has been
//! parsed. Nothing here allocates after the message itself is formatted, so the
//! child can use it after `clone`.

use std::io::Write;

/// The literal program name in every diagnostic, whatever `argv[0]` is.
pub const PREFIX: &str = "bwrap: ";

/// Severity of a diagnostic, as a syslog level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error = 3,
    Warning = 4,
}

/// Where diagnostics go. The real binary writes stderr; tests capture lines.
#[derive(Debug, Default)]
pub struct Reporter {
    /// Set once `--level-prefix` has been parsed.
    pub level_prefix: bool,
    /// When `Some`, lines are captured here instead of written (tests).
    captured: Option<Vec<String>>,
}

impl Reporter {
    /// A reporter that writes to stderr.
    pub fn stderr() -> Self {
        Reporter { level_prefix: false, captured: None }
    }

    /// A reporter that keeps lines in memory (for parser tests).
    pub fn capture() -> Self {
        Reporter { level_prefix: false, captured: Some(Vec::new()) }
    }

    /// Lines captured so far (empty for a stderr reporter).
    pub fn captured(&self) -> &[String] {
        self.captured.as_deref().unwrap_or(&[])
    }

    /// Format one diagnostic line, newline included.
    pub fn format(&self, level: Level, msg: &str) -> String {
        format_line(self.level_prefix, level, msg)
    }

    pub fn warn(&mut self, msg: &str) {
        self.emit(Level::Warning, msg)
    }

    pub fn error(&mut self, msg: &str) {
        self.emit(Level::Error, msg)
    }

    pub fn emit(&mut self, level: Level, msg: &str) {
        let line = self.format(level, msg);
        match &mut self.captured {
            Some(lines) => lines.push(line.trim_end_matches('\n').to_owned()),
            None => write_stderr(line.as_bytes()),
        }
    }
}

/// `[<N>]bwrap: msg\n`
pub fn format_line(level_prefix: bool, level: Level, msg: &str) -> String {
    let mut line = String::with_capacity(msg.len() + 12);
    if level_prefix {
        line.push('<');
        line.push(char::from(b'0' + level as u8));
        line.push('>');
    }
    line.push_str(PREFIX);
    line.push_str(msg);
    line.push('\n');
    line
}

/// Write bytes to fd 2 in one call (retrying only on a short write), ignoring
/// errors: there is nowhere else to report them.
pub fn write_stderr(bytes: &[u8]) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(bytes);
}
