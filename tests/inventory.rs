//! The unsafe code inventory: generated from `src/`, checked against
//! DESIGN.md ("Unsafe code inventory"), never kept by hand.
//!
//! A small Rust lexer (comments, nested block comments, strings, raw and
//! byte strings, char literals and lifetimes are skipped, so an `unsafe` in
//! any of them counts for nothing) finds every `unsafe` keyword under `src/`
//! and checks that:
//! - it is in `src/sys/`, and the only `unsafe_code` lint exceptions are
//!   `#[allow(unsafe_code)] pub(crate) mod sys` in `src/lib.rs` and the
//!   `#[no_mangle]` entry point in `src/main.rs`; both crate roots are
//!   `#![deny(unsafe_code)]`, and Cargo.toml keeps clippy's
//!   `undocumented_unsafe_blocks` at `deny`;
//! - the lines right above it are a `// SAFETY:` comment (for an
//!   `unsafe fn`, a `# Safety` doc section also counts);
//! - DESIGN.md's generated table (between the markers) is exactly what this
//!   scan renders now: one row per `unsafe`, with its file, function, what it
//!   calls and its SAFETY comment. A difference fails;
//!   `UPDATE_GENERATED=1 cargo test generated` rewrites the table instead.
//! - every function the hand-written notes of that section name is still in
//!   the table.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn updating() -> bool {
    std::env::var_os("UPDATE_GENERATED").is_some_and(|v| v == "1")
}

const DESIGN: &str = "DESIGN.md";
const BEGIN: &str = "<!-- BEGIN GENERATED unsafe inventory (tests/inventory.rs; refresh: UPDATE_GENERATED=1 cargo test generated) -->";
const END: &str = "<!-- END GENERATED unsafe inventory -->";

// ---------------------------------------------------------------------------
// Lexer
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Punct(char),
    /// A string, char or number literal (contents dropped).
    Lit,
    Lifetime,
}

#[derive(Debug)]
struct Token {
    tok: Tok,
    line: usize,
}

/// A `//` comment alone on its line (only whitespace before it).
#[derive(Debug)]
struct LineComment {
    line: usize,
    /// The text after `//` (a doc comment's starts with `/` or `!`).
    text: String,
}

#[derive(Debug, Default)]
struct Lexed {
    tokens: Vec<Token>,
    comments: Vec<LineComment>,
    /// Lines that hold an outer attribute's `#` first (`#[...]`).
    attr_lines: BTreeSet<usize>,
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_ident_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

fn lex(src: &str) -> Lexed {
    let s: Vec<char> = src.chars().collect();
    let mut out = Lexed::default();
    let mut i = 0;
    let mut line = 1;
    // Whether only whitespace came before `i` on this line.
    let mut line_start = true;
    let at = |k: usize| s.get(k).copied().unwrap_or('\0');
    while i < s.len() {
        let c = s[i];
        if c == '\n' {
            line += 1;
            line_start = true;
            i += 1;
            continue;
        }
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let first_on_line = line_start;
        line_start = false;
        // Comments.
        if c == '/' && at(i + 1) == '/' {
            let start = i + 2;
            while i < s.len() && s[i] != '\n' {
                i += 1;
            }
            if first_on_line {
                out.comments.push(LineComment { line, text: s[start..i].iter().collect() });
            }
            continue;
        }
        if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < s.len() {
                if s[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if s[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if s[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
            continue;
        }
        let tok_line = line;
        // Strings: "...", and the prefixed forms b"", c"", r"", r#""#, br"", cr"".
        if c == '"' {
            i = skip_string(&s, i + 1, &mut line);
            out.tokens.push(Token { tok: Tok::Lit, line: tok_line });
            continue;
        }
        if is_ident_start(c) {
            let start = i;
            while i < s.len() && is_ident_char(s[i]) {
                i += 1;
            }
            let word: String = s[start..i].iter().collect();
            let raw_prefix = matches!(word.as_str(), "r" | "br" | "cr");
            if raw_prefix && (at(i) == '"' || (at(i) == '#' && matches!(at(i + 1), '#' | '"'))) {
                let mut hashes = 0;
                while at(i) == '#' {
                    hashes += 1;
                    i += 1;
                }
                i += 1; // the opening quote
                loop {
                    if i >= s.len() {
                        break;
                    }
                    if s[i] == '"' && (1..=hashes).all(|k| at(i + k) == '#') {
                        i += 1 + hashes;
                        break;
                    }
                    if s[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
                out.tokens.push(Token { tok: Tok::Lit, line: tok_line });
                continue;
            }
            if word == "r" && at(i) == '#' && is_ident_start(at(i + 1)) {
                // A raw identifier (`r#unsafe` is no keyword).
                i += 1;
                let start = i;
                while i < s.len() && is_ident_char(s[i]) {
                    i += 1;
                }
                let name: String = s[start..i].iter().collect();
                out.tokens.push(Token { tok: Tok::Ident(format!("r#{name}")), line: tok_line });
                continue;
            }
            if matches!(word.as_str(), "b" | "c") && at(i) == '"' {
                i = skip_string(&s, i + 1, &mut line);
                out.tokens.push(Token { tok: Tok::Lit, line: tok_line });
                continue;
            }
            if word == "b" && at(i) == '\'' {
                i = skip_char(&s, i + 1);
                out.tokens.push(Token { tok: Tok::Lit, line: tok_line });
                continue;
            }
            out.tokens.push(Token { tok: Tok::Ident(word), line: tok_line });
            continue;
        }
        if c == '\'' {
            // A char literal ('a', '\n', '\u{..}') or a lifetime ('a, 'static).
            if at(i + 1) == '\\' || (at(i + 2) == '\'' && at(i + 1) != '\'') {
                i = skip_char(&s, i + 1);
                out.tokens.push(Token { tok: Tok::Lit, line: tok_line });
            } else {
                i += 1;
                while i < s.len() && is_ident_char(s[i]) {
                    i += 1;
                }
                out.tokens.push(Token { tok: Tok::Lifetime, line: tok_line });
            }
            continue;
        }
        if c.is_ascii_digit() {
            while i < s.len() && is_ident_char(s[i]) {
                i += 1;
            }
            out.tokens.push(Token { tok: Tok::Lit, line: tok_line });
            continue;
        }
        if c == '#' && first_on_line && matches!(at(i + 1), '[') {
            out.attr_lines.insert(line);
        }
        out.tokens.push(Token { tok: Tok::Punct(c), line: tok_line });
        i += 1;
    }
    out
}

/// Past the closing quote of a string whose body starts at `i`.
fn skip_string(s: &[char], mut i: usize, line: &mut usize) -> usize {
    while i < s.len() {
        match s[i] {
            '\\' => {
                if s.get(i + 1) == Some(&'\n') {
                    *line += 1;
                }
                i += 2;
            }
            '"' => return i + 1,
            '\n' => {
                *line += 1;
                i += 1;
            }
            _ => i += 1,
        }
    }
    i
}

/// Past the closing quote of a char literal whose body starts at `i`.
fn skip_char(s: &[char], mut i: usize) -> usize {
    while i < s.len() {
        match s[i] {
            '\\' => i += 2,
            '\'' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

// ---------------------------------------------------------------------------
// The scan
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Block,
    Fn,
    Impl,
    Trait,
    Extern,
    Attribute,
}

#[derive(Debug)]
struct Unsafe {
    /// Relative to `src/`.
    file: String,
    line: usize,
    kind: Kind,
    /// The enclosing function (the function itself for `unsafe fn`), or
    /// the item's head for `unsafe impl`/`trait`/`extern`.
    function: String,
    /// What a block calls, in order, without repeats.
    calls: Vec<String>,
    /// The SAFETY comment's text, joined into one line (None: missing).
    safety: Option<String>,
}

/// A lint-level attribute naming `unsafe_code`.
#[derive(Debug, PartialEq)]
struct LintSite {
    file: String,
    inner: bool,
    level: String,
    /// The identifiers of the item it applies to, up to its body (outer
    /// attributes only).
    item: String,
}

const KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for",
    "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
    "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where",
    "while", "async", "await", "dyn",
];

/// Pointer and size helpers an unsafe call takes its arguments from: not
/// what the block is about.
const HELPERS: &[&str] = &["null", "null_mut", "size_of", "size_of_val"];

fn ident(t: Option<&Token>) -> Option<&str> {
    match t.map(|t| &t.tok) {
        Some(Tok::Ident(s)) => Some(s),
        _ => None,
    }
}

fn punct(t: Option<&Token>, c: char) -> bool {
    matches!(t.map(|t| &t.tok), Some(Tok::Punct(p)) if *p == c)
}

/// The index just past the bracket that closes the one at `open`.
fn matching(tokens: &[Token], open: usize) -> usize {
    let mut depth = 0i32;
    for (k, t) in tokens.iter().enumerate().skip(open) {
        match t.tok {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct(')' | ']' | '}') => {
                depth -= 1;
                if depth == 0 {
                    return k + 1;
                }
            }
            _ => {}
        }
    }
    tokens.len()
}

/// A path starting at `k` (`a::b::<T>::c`): its segments and the index after it.
fn path_at(tokens: &[Token], mut k: usize) -> (Vec<String>, usize) {
    let mut segs = Vec::new();
    while let Some(name) = ident(tokens.get(k)) {
        segs.push(name.to_string());
        k += 1;
        if !(punct(tokens.get(k), ':') && punct(tokens.get(k + 1), ':')) {
            break;
        }
        k += 2;
        if punct(tokens.get(k), '<') {
            // A turbofish: skip to the matching '>'.
            let mut depth = 0;
            while k < tokens.len() {
                match tokens[k].tok {
                    Tok::Punct('<') => depth += 1,
                    Tok::Punct('>') => {
                        depth -= 1;
                        if depth == 0 {
                            k += 1;
                            break;
                        }
                    }
                    _ => {}
                }
                k += 1;
            }
            break;
        }
    }
    (segs, k)
}

/// `SYS_openat2`, `PR_GET_SECCOMP`, `F_GETFD`: an upper-case prefix and
/// an underscore, or all upper case.
fn is_constant(name: &str) -> bool {
    let upper =
        |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    let prefix = name.split('_').next().unwrap_or_default();
    name.starts_with(|c: char| c.is_ascii_uppercase())
        && upper(prefix)
        && (name.contains('_') || name.len() > 1)
}

/// The calls in `tokens[from..to]` (a block's inside): free functions and
/// associated functions (`Type::f`), not methods nor `HELPERS`. A call is shown by its
/// last segment (`Type::f` keeps the type), with the first constant among
/// its arguments (`syscall(SYS_fsopen)`, `prctl(PR_GET_SECCOMP)`).
fn calls_in(tokens: &[Token], from: usize, to: usize) -> Vec<String> {
    let mut calls: Vec<String> = Vec::new();
    let mut k = from;
    while k < to {
        let after_path_sep =
            k >= 2 && punct(tokens.get(k - 1), ':') && punct(tokens.get(k - 2), ':');
        let method = k >= 1 && punct(tokens.get(k - 1), '.');
        let Some(name) = ident(tokens.get(k)) else {
            k += 1;
            continue;
        };
        if method || after_path_sep || KEYWORDS.contains(&name) {
            k += 1;
            continue;
        }
        let (segs, next) = path_at(tokens, k);
        let single_type = segs.len() == 1 && segs[0].starts_with(char::is_uppercase);
        let helper = segs.last().is_some_and(|l| HELPERS.contains(&l.as_str()));
        if next < to && punct(tokens.get(next), '(') && !single_type && !helper {
            let last = segs.last().unwrap().clone();
            let mut shown = match segs.len() {
                n if n >= 2 && segs[n - 2].starts_with(char::is_uppercase) => {
                    format!("{}::{last}", segs[n - 2])
                }
                _ => last,
            };
            let close = matching(tokens, next).min(to);
            let arg = (next + 1..close)
                .filter_map(|a| {
                    let (p, _) = path_at(tokens, a);
                    p.last().filter(|l| is_constant(l)).cloned()
                })
                .next();
            if let Some(arg) = arg {
                shown = format!("{shown}({arg})");
            }
            if !calls.contains(&shown) {
                calls.push(shown);
            }
        }
        k = next.max(k + 1);
    }
    calls
}

/// The `// SAFETY:` comment right above `line` (attribute lines between
/// count as part of the item), or an `unsafe fn`'s `# Safety` doc section.
fn safety_above(lexed: &Lexed, line: usize, kind: &Kind) -> Option<String> {
    let mut run: Vec<&str> = Vec::new();
    let mut l = line;
    loop {
        l -= 1;
        if l == 0 {
            break;
        }
        if let Some(c) = lexed.comments.iter().find(|c| c.line == l) {
            run.push(&c.text);
        } else if !lexed.attr_lines.contains(&l) || *kind == Kind::Block {
            break;
        }
    }
    run.reverse();
    let start = run
        .iter()
        .position(|t| !t.starts_with(['/', '!']) && t.trim_start().starts_with("SAFETY:"));
    if let Some(start) = start {
        let text: Vec<&str> = run[start..]
            .iter()
            .take_while(|t| !t.starts_with(['/', '!']))
            .map(|t| t.trim())
            .collect();
        return Some(text.join(" ").trim_start_matches("SAFETY:").trim().to_string());
    }
    if *kind == Kind::Fn {
        let doc = run.iter().position(|t| t.starts_with('/') && t[1..].trim() == "# Safety")?;
        let text: Vec<&str> = run[doc + 1..]
            .iter()
            .take_while(|t| t.starts_with('/') && !t[1..].trim().starts_with('#'))
            .map(|t| t[1..].trim())
            .collect();
        return Some(text.join(" ").trim().to_string());
    }
    None
}

struct Scan {
    found: Vec<Unsafe>,
    lints: Vec<LintSite>,
}

fn scan_file(file: &str, src: &str, scan: &mut Scan) {
    let lexed = lex(src);
    let t = &lexed.tokens;
    // Enclosing functions: (name, brace depth outside its body).
    let mut fns: Vec<(String, i32)> = Vec::new();
    let mut pending: Option<(String, i32)> = None;
    let mut braces = 0i32;
    let mut parens = 0i32;
    for k in 0..t.len() {
        match &t[k].tok {
            Tok::Punct('(' | '[') => parens += 1,
            Tok::Punct(')' | ']') => parens -= 1,
            Tok::Punct('{') => {
                // A pending `fn`'s body opens here (not a `{` inside its signature).
                if pending.as_ref().is_some_and(|(_, p)| *p == parens) {
                    fns.push((pending.take().unwrap().0, braces));
                }
                braces += 1;
            }
            Tok::Punct('}') => {
                braces -= 1;
                if fns.last().is_some_and(|(_, d)| *d == braces) {
                    fns.pop();
                }
            }
            // A declaration without a body (in a trait or `extern` block).
            Tok::Punct(';') if pending.as_ref().is_some_and(|(_, p)| *p == parens) => {
                pending = None;
            }
            Tok::Punct('#') => {
                if let Some(site) = lint_site(t, k, file) {
                    scan.lints.push(site);
                }
            }
            Tok::Ident(w) if w == "fn" => {
                if let Some(name) = ident(t.get(k + 1)) {
                    pending = Some((name.to_string(), parens));
                }
            }
            Tok::Ident(w) if w == "unsafe" => {
                let line = t[k].line;
                let enclosing = fns.last().map(|(n, _)| n.clone()).unwrap_or_else(|| "-".into());
                let next = t.get(k + 1);
                let (kind, function, calls) = if punct(next, '{') {
                    let end = matching(t, k + 1);
                    (Kind::Block, enclosing, calls_in(t, k + 2, end - 1))
                } else if punct(next, '(') {
                    (Kind::Attribute, enclosing, Vec::new())
                } else {
                    let head: Vec<&str> = t[k + 1..]
                        .iter()
                        .take_while(|x| !matches!(x.tok, Tok::Punct('{' | ';' | '(')))
                        .filter_map(|x| ident(Some(x)))
                        .collect();
                    match ident(next) {
                        Some("fn") => {
                            (Kind::Fn, head.get(1).unwrap_or(&"?").to_string(), Vec::new())
                        }
                        Some("impl") => (Kind::Impl, head.join(" "), Vec::new()),
                        Some("trait") => (Kind::Trait, head.join(" "), Vec::new()),
                        Some("extern") => (Kind::Extern, head.join(" "), Vec::new()),
                        _ => (Kind::Block, enclosing, Vec::new()),
                    }
                };
                let safety = safety_above(&lexed, line, &kind);
                scan.found.push(Unsafe {
                    file: file.to_string(),
                    line,
                    kind,
                    function,
                    calls,
                    safety,
                });
            }
            _ => {}
        }
    }
}

/// `#[LEVEL(... unsafe_code ...)]` or `#![...]` at `k` (a `#`).
fn lint_site(t: &[Token], k: usize, file: &str) -> Option<LintSite> {
    let inner = punct(t.get(k + 1), '!');
    let open = if inner { k + 2 } else { k + 1 };
    if !punct(t.get(open), '[') {
        return None;
    }
    let level = ident(t.get(open + 1))?;
    if !matches!(level, "allow" | "warn" | "deny" | "forbid" | "expect") {
        return None;
    }
    let close = matching(t, open);
    let names_it = t[open..close].iter().any(|x| x.tok == Tok::Ident("unsafe_code".into()));
    if !names_it {
        return None;
    }
    let item = if inner {
        String::new()
    } else {
        // Skip further attributes, then the item's head up to its body.
        let mut j = close;
        while punct(t.get(j), '#') {
            j = matching(t, j + 1);
        }
        // Its head: the words up to the item's name (`pub(crate) mod sys`).
        let mut words: Vec<&str> = Vec::new();
        for x in &t[j..] {
            let Some(w) = ident(Some(x)) else { continue };
            words.push(w);
            if matches!(
                words.get(words.len().wrapping_sub(2)),
                Some(&("fn" | "mod" | "struct" | "impl" | "static"))
            ) {
                break;
            }
        }
        words.join(" ")
    };
    Some(LintSite { file: file.to_string(), inner, level: level.to_string(), item })
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

fn scan_src() -> Scan {
    let src = repo().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut scan = Scan { found: Vec::new(), lints: Vec::new() };
    for path in files {
        let rel = path.strip_prefix(&src).unwrap().to_str().unwrap().to_string();
        scan_file(&rel, &fs::read_to_string(&path).unwrap(), &mut scan);
    }
    scan
}

// ---------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------

fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

fn render(found: &[Unsafe]) -> String {
    let count = |k: Kind| found.iter().filter(|u| u.kind == k).count();
    let files: BTreeSet<&str> = found.iter().map(|u| u.file.as_str()).collect();
    let mut out = format!(
        "{} `unsafe` blocks, {} `unsafe fn`, {} `unsafe impl` in {} files, all in `src/sys/`, \
         each with its SAFETY comment (quoted in full):\n\n",
        count(Kind::Block),
        count(Kind::Fn),
        count(Kind::Impl),
        files.len()
    );
    out.push_str("| File | Function | Calls | SAFETY |\n|---|---|---|---|\n");
    for u in found {
        let what = match u.kind {
            Kind::Block => u.calls.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", "),
            ref k => format!("`unsafe {}`", format!("{k:?}").to_lowercase()),
        };
        out.push_str(&format!(
            "| `{}` | `{}` | {} | {} |\n",
            u.file,
            u.function,
            what,
            cell(u.safety.as_deref().unwrap_or("MISSING"))
        ));
    }
    out
}

/// DESIGN.md split around the generated block: (before, block, after).
fn design_parts(design: &str) -> (String, String, String) {
    let b = design.find(BEGIN).unwrap_or_else(|| panic!("{DESIGN} lacks the marker {BEGIN}"));
    let e = design.find(END).unwrap_or_else(|| panic!("{DESIGN} lacks the marker {END}"));
    assert!(b < e, "{DESIGN}: the END marker comes before BEGIN");
    let inner_start = b + BEGIN.len() + 1;
    (design[..inner_start].to_string(), design[inner_start..e].to_string(), design[e..].to_string())
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[test]
fn unsafe_only_in_sys_and_each_with_a_safety_comment() {
    let scan = scan_src();
    assert!(scan.found.len() >= 10, "the scan found only {} unsafe: broken?", scan.found.len());
    let mut bad = Vec::new();
    for u in &scan.found {
        if !u.file.starts_with("sys/") {
            bad.push(format!("src/{}:{}: `unsafe` outside src/sys/", u.file, u.line));
        }
        if u.safety.as_deref().map_or(true, str::is_empty) {
            bad.push(format!("src/{}:{}: no `// SAFETY:` comment right above", u.file, u.line));
        }
        if u.kind == Kind::Block && u.calls.is_empty() {
            bad.push(format!("src/{}:{}: an unsafe block that calls nothing?", u.file, u.line));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn unsafe_code_lint_has_only_the_two_known_exceptions() {
    let scan = scan_src();
    let site = |file: &str, inner: bool, level: &str, item: &str| LintSite {
        file: file.into(),
        inner,
        level: level.into(),
        item: item.into(),
    };
    let want = vec![
        site("lib.rs", true, "deny", ""),
        site("lib.rs", false, "allow", "pub crate mod sys"),
        site("main.rs", true, "deny", ""),
        site("main.rs", false, "allow", "pub extern fn main"),
    ];
    assert_eq!(scan.lints, want, "the unsafe_code lint levels changed");
    // main's exception is for `#[no_mangle]` alone: no unsafe inside.
    assert!(!scan.found.iter().any(|u| u.file == "main.rs"));
    let manifest = fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    let clippy = manifest.split("[lints.clippy]").nth(1).expect("a [lints.clippy] table");
    let clippy = clippy.split("\n[").next().unwrap();
    assert!(
        clippy.lines().any(|l| l.replace(' ', "") == "undocumented_unsafe_blocks=\"deny\""),
        "Cargo.toml: clippy's undocumented_unsafe_blocks must stay deny"
    );
}

#[test]
fn design_md_unsafe_inventory_is_generated() {
    let path = repo().join(DESIGN);
    let design = fs::read_to_string(&path).unwrap();
    let (before, block, after) = design_parts(&design);
    let fresh = render(&scan_src().found);
    if block == fresh {
        return;
    }
    if updating() {
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        fs::write(&tmp, format!("{before}{fresh}{after}")).unwrap();
        fs::rename(&tmp, &path).unwrap();
        eprintln!("UPDATED: {DESIGN} (unsafe inventory)");
        return;
    }
    let first = block
        .lines()
        .zip(fresh.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| block.lines().count().min(fresh.lines().count()));
    panic!(
        "{DESIGN}'s unsafe inventory is out of date (first difference at its line {}):\n  \
         committed: {:?}\n  generated: {:?}\nRefresh it with: UPDATE_GENERATED=1 cargo test generated",
        first + 1,
        block.lines().nth(first).unwrap_or("<end>"),
        fresh.lines().nth(first).unwrap_or("<end>"),
    );
}

/// The hand-written notes of the section name functions as
/// `` `sys/FILE.rs: function` ``; each must still be in the table.
#[test]
fn unsafe_inventory_notes_name_existing_functions() {
    let design = fs::read_to_string(repo().join(DESIGN)).unwrap();
    let section = design
        .split("\n## Unsafe code inventory\n")
        .nth(1)
        .expect("the section")
        .split("\n## ")
        .next()
        .unwrap();
    let (notes, _, _) = design_parts(section);
    let notes = notes + &design_parts(section).2;
    let found = scan_src().found;
    let mut named = 0;
    for piece in notes.split('`').skip(1).step_by(2) {
        let Some((file, function)) = piece.split_once(".rs: ") else { continue };
        if !file.starts_with("sys/") {
            continue;
        }
        named += 1;
        let file = format!("{file}.rs");
        assert!(
            found.iter().any(|u| u.file == file && u.function == function),
            "{DESIGN} notes name `{piece}`, which has no unsafe any more"
        );
    }
    assert!(named > 0, "the notes name no function: wrong format?");
}

// The scanner itself: it must be able to fail.

fn scan_str(src: &str) -> Vec<Unsafe> {
    let mut scan = Scan { found: Vec::new(), lints: Vec::new() };
    scan_file("sys/x.rs", src, &mut scan);
    scan.found
}

#[test]
fn scanner_ignores_unsafe_in_comments_strings_and_chars() {
    let src = r####"
        // unsafe { in a comment }
        /* unsafe /* nested */ unsafe { } */
        fn f<'a>(x: &'a str) -> char {
            let _ = "unsafe { \" }";
            let _ = r#"unsafe " { "#;
            let _ = br##"unsafe"##;
            let _ = b"unsafe";
            let _ = c"unsafe";
            let _ = '"';
            let _ = '\'';
            let r#unsafe = 1;
            'u'
        }
    "####;
    assert!(scan_str(src).is_empty(), "{:?}", scan_str(src));
}

#[test]
fn scanner_finds_blocks_fns_impls_and_their_safety_comments() {
    let src = r#"
        impl Foo {
            pub fn open(path: &CStr) -> Result<OwnedFd, Errno> {
                // SAFETY: a C string;
                // both outlive the call.
                let r = unsafe {
                    libc::syscall(libc::SYS_openat2, path.as_ptr(), std::mem::size_of::<u64>())
                };
                let s = "}"; // a brace in a string does not end the function
                // A plain comment.
                let fd = unsafe { OwnedFd::from_raw_fd(r as i32) };
                fd
            }
        }
        /// Does things.
        ///
        /// # Safety
        /// The caller owns `fd`.
        #[inline]
        pub unsafe fn claim(fd: i32) {}
        // SAFETY: no state.
        unsafe impl Send for Foo {}
        fn after() {
            // SAFETY: integers only.
            if unsafe { libc::isatty(1) } != 1 {}
        }
    "#;
    let found = scan_str(src);
    let got: Vec<(Kind, &str, Vec<String>, Option<&str>)> = found
        .iter()
        .map(|u| (u.kind.clone(), u.function.as_str(), u.calls.clone(), u.safety.as_deref()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                Kind::Block,
                "open",
                vec!["syscall(SYS_openat2)".to_string()],
                Some("a C string; both outlive the call.")
            ),
            (Kind::Block, "open", vec!["OwnedFd::from_raw_fd".to_string()], None),
            (Kind::Fn, "claim", vec![], Some("The caller owns `fd`.")),
            (Kind::Impl, "impl Send for Foo", vec![], Some("no state.")),
            (Kind::Block, "after", vec!["isatty".to_string()], Some("integers only.")),
        ]
    );
    // And outside sys/, the same text is refused by the first test's rule.
    assert!(render(&found).contains("| MISSING |"));
}
