//! The single place that writes `bwrap: ...` diagnostics.
//!
//! Every diagnostic is one line, written to stderr with one `write(2)` so that
//! lines from the monitor, the child and the reaper never interleave. The
//! prefix is the literal `bwrap: ` (callers grep it), optionally preceded by a
//! syslog level (`<3>` error, `<4>` warning) once `--level-prefix` has been
//! parsed. Nothing here allocates after the message itself is formatted, so the
//! child can use it after `clone`.

use std::borrow::Cow;
use std::ffi::OsStr;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;

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

/// Messages are `String`s, but bwrap prints paths and arguments as the raw
/// bytes they are. A byte that is not part of valid UTF-8 is carried in the
/// message as one code point of U+10FF80..=U+10FFFF (plane 16, private use:
/// nothing a caller passes means it) and turned back into the byte when the
/// line is written.
const RAW_BYTE_BASE: u32 = 0x10_FF00;

/// `s` for a message: valid UTF-8 as it is, other bytes kept (see
/// `RAW_BYTE_BASE`) where `to_string_lossy` would lose them.
pub fn show(s: &OsStr) -> String {
    let mut rest = s.as_bytes();
    let mut out = String::with_capacity(rest.len());
    loop {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                out.push_str(valid);
                return out;
            }
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                let bad = e.error_len().unwrap_or(after.len());
                for &b in &after[..bad] {
                    out.extend(char::from_u32(RAW_BYTE_BASE + u32::from(b)));
                }
                rest = &after[bad..];
            }
        }
    }
}

/// The raw byte a character of `show`'s output stands for, if any.
pub fn raw_byte(c: char) -> Option<u8> {
    u8::try_from(u32::from(c).checked_sub(RAW_BYTE_BASE)?).ok().filter(|b| *b >= 0x80)
}

/// The bytes to write for a message line: the raw bytes back in place.
fn raw_bytes(line: &[u8]) -> Cow<'_, [u8]> {
    // Every raw-byte code point is encoded F4 8F BE/BF xx.
    if memchr::memchr(0xF4, line).is_none() {
        return Cow::Borrowed(line);
    }
    let Ok(text) = std::str::from_utf8(line) else { return Cow::Borrowed(line) };
    let mut out = Vec::with_capacity(line.len());
    let mut buf = [0u8; 4];
    for c in text.chars() {
        match raw_byte(c) {
            Some(b) => out.push(b),
            None => out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes()),
        }
    }
    Cow::Owned(out)
}

/// Write a line to fd 2 in one call (retrying only on a short write),
/// ignoring errors: there is nowhere else to report them.
pub fn write_stderr(bytes: &[u8]) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(&raw_bytes(bytes));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_bytes_survive_messages() {
        let path = OsStr::from_bytes(b"/a\xff\xc3(b\xe2\x82");
        let msg = format!("Can't find source path {}: No such file or directory", show(path));
        assert_eq!(
            &*raw_bytes(msg.as_bytes()),
            &b"Can't find source path /a\xff\xc3(b\xe2\x82: No such file or directory"[..]
        );
        assert_eq!(show(OsStr::new("plain/\u{e9}")), "plain/\u{e9}");
        assert_eq!(
            &*raw_bytes("caf\u{e9} \u{10fe00}".as_bytes()),
            "caf\u{e9} \u{10fe00}".as_bytes()
        );
        assert_eq!(raw_byte('\u{10ff80}'), Some(0x80));
        assert_eq!(raw_byte('\u{10ff7f}'), None);
    }
}
