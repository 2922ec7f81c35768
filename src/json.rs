//! JSON string escaping, shared by the `--json-status-fd` writer
//! (`sandbox::status`) and `--diagnose --json`, so that neither reaches
//! into the other for it.

/// Escape a string for a JSON string literal.
pub fn json_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            // Non-UTF-8 bytes (DECISIONS.md: written as \uFFFD), whether
            // already replaced or carried raw for stderr.
            '\u{fffd}' => out.push_str("\\uFFFD"),
            c if crate::report::raw_byte(c).is_some() => out.push_str("\\uFFFD"),
            c => out.push(c),
        }
    }
    out
}
