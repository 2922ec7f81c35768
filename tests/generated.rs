//! The generated documentation: golden checks and real-shell checks.
//!
//! - The committed `--help` text (`tests/golden/help.txt`, from the binary),
//!   man page (`man/nestwrap.1`) and completions (`completions/`) must be
//!   exactly what `nestwrap::doc` renders now. A difference fails the test;
//!   `UPDATE_GENERATED=1 cargo test generated` rewrites the files instead.
//! - Every option of the table appears in all of them.
//! - The man page renders with `groff -ww` without a single warning.
//! - The completions are loaded into real bash, zsh and fish, which are asked
//!   to complete (nothing here greps a completion file to decide that a
//!   completion works).
//! - `scripts/install.sh` installs everything into a DESTDIR.
//!
//! A missing shell or groff skips its test (`SKIP: ...`), unless
//! `NESTWRAP_MUST_WORK=1`, which makes it fail. `scripts/test.sh` installs
//! them.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use nestwrap::cli::spec::{CAP_NAMES, OPTIONS};
use nestwrap::doc;

use crate::util::must_work;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `--help` of the binary built from this tree, invoked as `nestwrap`.
fn help_from_binary() -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_nestwrap"))
        .arg0("nestwrap")
        .arg("--help")
        .output()
        .expect("run nestwrap --help");
    assert_eq!(out.status.code(), Some(0), "nestwrap --help failed: {}", text(&out.stderr));
    text(&out.stdout)
}

const HELP: &str = "tests/golden/help.txt";
const MAN: &str = "man/nestwrap.1";
const BASH: &str = "completions/bash/nestwrap";
const ZSH: &str = "completions/zsh/_nestwrap";
const FISH: &str = "completions/fish/nestwrap.fish";

fn updating() -> bool {
    std::env::var_os("UPDATE_GENERATED").is_some_and(|v| v == "1")
}

/// What `rel` must contain now.
fn fresh(rel: &str) -> String {
    match rel {
        HELP => help_from_binary(),
        MAN => doc::man_page(),
        BASH => doc::bash_completion(),
        ZSH => doc::zsh_completion(),
        FISH => doc::fish_completion(),
        _ => panic!("not a generated file: {rel}"),
    }
}

/// The path of the committed file `rel`. When updating, the file is first
/// rewritten (atomically, so that tests running in parallel never read half
/// a file) and every test below checks the new content.
fn committed_path(rel: &str) -> PathBuf {
    let path = repo().join(rel);
    if updating() {
        let content = fresh(rel);
        if fs::read_to_string(&path).ok() != Some(content.clone()) {
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            // One temporary name per call: tests run in parallel threads.
            static N: AtomicUsize = AtomicUsize::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let tmp = path.with_extension(format!("tmp{}-{n}", std::process::id()));
            fs::write(&tmp, &content).unwrap_or_else(|e| panic!("write {rel}: {e}"));
            fs::rename(&tmp, &path).unwrap_or_else(|e| panic!("rename to {rel}: {e}"));
            eprintln!("UPDATED: {rel}");
        }
    }
    path
}

/// Compare the committed file `rel` with what the code generates now
/// (under UPDATE_GENERATED=1: rewrite it instead).
fn check_generated(rel: &str) {
    let path = committed_path(rel);
    let fresh = fresh(rel);
    let committed = fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("{rel}: {e}; generate it with: UPDATE_GENERATED=1 cargo test generated")
    });
    if committed != fresh {
        let first = committed
            .lines()
            .zip(fresh.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(fresh.lines().count()));
        panic!(
            "{rel} is out of date (first difference at line {}):\n  committed: {:?}\n  generated: {:?}\n\
             Refresh it with: UPDATE_GENERATED=1 cargo test generated",
            first + 1,
            committed.lines().nth(first).unwrap_or("<end of file>"),
            fresh.lines().nth(first).unwrap_or("<end of file>"),
        );
    }
}

#[test]
fn help_is_up_to_date() {
    check_generated(HELP);
}

#[test]
fn man_page_is_up_to_date() {
    check_generated(MAN);
}

#[test]
fn bash_completion_is_up_to_date() {
    check_generated(BASH);
}

#[test]
fn zsh_completion_is_up_to_date() {
    check_generated(ZSH);
}

#[test]
fn fish_completion_is_up_to_date() {
    check_generated(FISH);
}

fn committed(rel: &str) -> String {
    fs::read_to_string(committed_path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Every option of the table in every committed output (a stale file fails
/// here too, with the name of the option it lacks).
#[test]
fn every_option_is_documented_everywhere() {
    let help = help_from_binary();
    let man = committed(MAN);
    let bash = committed(BASH);
    let zsh = committed(ZSH);
    let fish = committed(FISH);
    let bash_words: BTreeSet<&str> = bash
        .lines()
        .find_map(|l| l.strip_prefix("_nestwrap_options='"))
        .and_then(|l| l.strip_suffix('\''))
        .expect("_nestwrap_options line")
        .split(' ')
        .collect();
    for opt in OPTIONS {
        let name = opt.name;
        // A head longer than bwrap's column stands alone on its line.
        assert!(
            help.contains(&format!("\n    {name} ")) || help.contains(&format!("\n    {name}\n")),
            "--help lacks {name}"
        );
        let roff = format!("\\fB{}\\fR", name.replace('-', "\\-"));
        assert!(man.contains(&format!(".TP\n{roff}")), "{MAN} lacks {name}");
        assert!(bash_words.contains(name), "{BASH} lacks {name}");
        assert!(
            zsh.contains(&format!("\n  '{name}[")) || zsh.contains(&format!("\n  '*{name}[")),
            "{ZSH} lacks {name}"
        );
        assert!(fish.contains(&format!(" -l {} -d ", &name[2..])), "{FISH} lacks {name}");
    }
    assert_eq!(bash_words.len(), OPTIONS.len(), "{BASH} offers options the table lacks");
}

#[test]
fn man_page_has_every_section_and_nestwraps_version() {
    let man = committed(MAN);
    for section in [
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "OPTIONS",
        "EXTENSIONS",
        "NESTED CONTAINERS",
        "ENVIRONMENT",
        "EXIT STATUS",
        "EXAMPLES",
        "SECURITY",
        "FILES",
        "SEE ALSO",
    ] {
        assert!(man.contains(&format!("\n.SH {section}\n")), "no section {section}");
    }
    for category in nestwrap::cli::spec::Category::ALL {
        if *category != nestwrap::cli::spec::Category::Extensions {
            assert!(man.contains(&format!("\n.SS {}\n", category.title())), "{category:?}");
        }
    }
    assert!(man.contains(&format!("\"nestwrap {}\"", nestwrap::NESTWRAP_VERSION)));
    assert!(!man.contains('@'), "an unreplaced template marker is left");
    for var in ["NESTWRAP_PROC_FALLBACK", "HOME", "PATH"] {
        assert!(man.contains(&format!(".B {var}\n")), "ENVIRONMENT lacks {var}");
    }
}

/// FILES lists every file the Debian packages install (Cargo.toml's
/// `[package.metadata.deb]` assets of both packages), docs and lintian
/// overrides aside (FILES names their directory).
#[test]
fn man_page_files_lists_what_the_packages_install() {
    let man = committed(MAN);
    let files = man
        .split("\n.SH FILES\n")
        .nth(1)
        .and_then(|rest| rest.split("\n.SH ").next())
        .expect("a FILES section")
        .replace("\\-", "-");
    let manifest = fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    let mut dests = Vec::new();
    for line in manifest.lines().map(str::trim) {
        // ["source", "dest", "mode"] or { dest = "...", link_name = "..." }
        if let Some(rest) = line.strip_prefix("[\"") {
            let parts: Vec<&str> = rest.split('"').collect();
            let (src, dest) = (parts[0], parts[2]);
            let name = src.rsplit('/').next().unwrap();
            dests.push(if dest.ends_with('/') {
                format!("{dest}{name}")
            } else {
                dest.to_string()
            });
        } else if let Some(rest) = line.strip_prefix("{ dest = \"") {
            dests.push(rest.split('"').next().unwrap().to_string());
        }
    }
    assert!(dests.len() >= 12, "too few package assets found in Cargo.toml: {dests:?}");
    assert!(files.contains("/usr/share/doc/nestwrap/"));
    for dest in dests {
        if dest.starts_with("usr/share/doc/") || dest.starts_with("usr/share/lintian/") {
            continue;
        }
        assert!(files.contains(&format!("/{dest}\n")), "FILES does not list /{dest}");
    }
}

// ---------------------------------------------------------------------------
// Tools
// ---------------------------------------------------------------------------

/// Whether `tool` can be run; if not, skip (or fail under NESTWRAP_MUST_WORK).
fn have(tool: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            !must_work(),
            "{tool} is missing (NESTWRAP_MUST_WORK=1); scripts/test.sh installs it"
        );
        eprintln!("SKIP: {tool} is not installed (scripts/test.sh installs it)");
    }
    found
}

/// Run `cmd` with a time limit (a shell waiting for input must not hang the suite).
fn run_limited(cmd: &mut Command) -> Output {
    let mut limited = Command::new("timeout");
    limited.arg("60").arg(cmd.get_program()).args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => limited.env(k, v),
            None => limited.env_remove(k),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        limited.current_dir(dir);
    }
    let out = limited.stdin(Stdio::null()).output().expect("run a shell");
    assert_ne!(out.status.code(), Some(124), "timed out: {cmd:?}");
    out
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nestwrap-gen-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn set(words: &[&str]) -> BTreeSet<String> {
    words.iter().map(|w| w.to_string()).collect()
}

fn all_options() -> BTreeSet<String> {
    OPTIONS.iter().map(|o| o.name.to_string()).collect()
}

fn cap_net() -> BTreeSet<String> {
    set(&["CAP_NET_ADMIN", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_RAW"])
}

// ---------------------------------------------------------------------------
// groff
// ---------------------------------------------------------------------------

#[test]
fn man_page_renders_without_warnings() {
    if !have("groff") {
        return;
    }
    let man = committed_path(MAN);
    for device in ["ps", "utf8", "ascii"] {
        let out = Command::new("groff")
            .args(["-ww", "-z", "-man", &format!("-T{device}")])
            .arg(&man)
            .output()
            .unwrap();
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "groff -ww -z -man -T{device} {MAN}:\n{}",
            text(&out.stderr)
        );
    }
    // What man(1) shows: every option, with plain ASCII hyphens.
    let out = Command::new("groff")
        .args(["-ww", "-man", "-Tascii", "-P-cbou"])
        .arg(&man)
        .env("MANWIDTH", "80")
        .output()
        .unwrap();
    assert!(out.status.success() && out.stderr.is_empty(), "{}", text(&out.stderr));
    let rendered = text(&out.stdout);
    for opt in OPTIONS {
        assert!(rendered.contains(opt.name), "rendered man page lacks {}", opt.name);
    }
    for heading in ["NESTED CONTAINERS", "EXIT STATUS", "Lockdown options"] {
        assert!(rendered.contains(heading), "rendered man page lacks {heading}");
    }
}

// ---------------------------------------------------------------------------
// bash
// ---------------------------------------------------------------------------

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Ask bash to complete `words` (the last one is the word under the cursor)
/// with the committed completion file sourced into a clean bash.
fn bash_complete(cwd: &Path, words: &[&str]) -> BTreeSet<String> {
    let array: Vec<String> = words.iter().map(|w| sh_quote(w)).collect();
    let script = format!(
        "source {file}\nCOMP_WORDS=({words})\nCOMP_CWORD={cword}\nCOMP_LINE={line}\n\
         COMP_POINT=${{#COMP_LINE}}\n_nestwrap {cmd} {cur} {prev}\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        file = sh_quote(committed_path(BASH).to_str().unwrap()),
        words = array.join(" "),
        cword = words.len() - 1,
        line = sh_quote(&words.join(" ")),
        cmd = array[0],
        cur = array[words.len() - 1],
        prev = array[words.len().saturating_sub(2)],
    );
    let out = run_limited(
        Command::new("bash").args(["--norc", "--noprofile", "-c", &script]).current_dir(cwd),
    );
    assert!(out.status.success(), "bash: {}", text(&out.stderr));
    assert!(out.stderr.is_empty(), "bash printed errors: {}", text(&out.stderr));
    text(&out.stdout).lines().filter(|l| !l.is_empty()).map(String::from).collect()
}

#[test]
fn bash_completes_options_and_values() {
    if !have("bash") {
        return;
    }
    let dir = scratch("bash");
    fs::create_dir(dir.join("subdir")).unwrap();
    fs::write(dir.join("subfile"), "").unwrap();
    let c = |words: &[&str]| bash_complete(&dir, words);

    // Registered for both names.
    let script = format!(
        "source {}\ncomplete -p nestwrap bwrap",
        sh_quote(committed_path(BASH).to_str().unwrap())
    );
    let out = run_limited(Command::new("bash").args(["--norc", "--noprofile", "-c", &script]));
    assert_eq!(
        text(&out.stdout),
        "complete -F _nestwrap nestwrap\ncomplete -F _nestwrap bwrap\n",
        "{}",
        text(&out.stderr)
    );

    assert_eq!(
        c(&["nestwrap", "--ro-b"]),
        set(&["--ro-bind", "--ro-bind-try", "--ro-bind-data", "--ro-bind-fd"])
    );
    assert_eq!(c(&["bwrap", "--ro-b"]).len(), 4);
    assert_eq!(c(&["nestwrap", "--"]), all_options());
    assert_eq!(c(&["nestwrap", "--cap-add", "CAP_N"]), cap_net());
    assert_eq!(c(&["nestwrap", "--unshare-all", "--cap-drop", "CAP_NET_R"]), set(&["CAP_NET_RAW"]));
    assert_eq!(c(&["nestwrap", "--cap-drop", "AL"]), set(&["ALL"]));
    assert!(c(&["nestwrap", "--perms", "07"]).is_superset(&set(&["0700", "0750", "0755"])));
    assert_eq!(c(&["nestwrap", "--chmod", "17"]), set(&["1777"]));
    assert_eq!(c(&["nestwrap", "--proc-fallback", ""]), set(&["auto", "quiet", "never"]));
    // Paths for SRC and DEST, directories only for DIR.
    assert_eq!(c(&["nestwrap", "--bind", "sub"]), set(&["subdir", "subfile"]));
    assert_eq!(c(&["nestwrap", "--bind", "/", "sub"]), set(&["subdir", "subfile"]));
    assert_eq!(c(&["nestwrap", "--chdir", "sub"]), set(&["subdir"]));
    // The word after all of --overlay's three values is an option again.
    assert_eq!(c(&["nestwrap", "--overlay", "a", "b", "c", "--ro-bind-f"]), set(&["--ro-bind-fd"]));
    // No completion for free text.
    assert!(c(&["nestwrap", "--hostname", ""]).is_empty());
    // COMMAND is completed as a command...
    assert!(c(&["nestwrap", "--ro-bind", "/", "/", "bas"]).contains("bash"));
    assert!(c(&["nestwrap", "--", "bas"]).contains("bash"));
    // ...and no option is offered once it has started.
    assert!(c(&["nestwrap", "--ro-bind", "/", "/", "ls", "--ro-b"]).is_empty());
    assert!(c(&["nestwrap", "--", "--ro-b"]).is_empty());
    assert!(c(&["nestwrap", "--", "ls", "--ro-b"]).is_empty());
    assert_eq!(c(&["nestwrap", "ls", "sub"]), set(&["subdir", "subfile"]));
    fs::remove_dir_all(&dir).unwrap();
}

// ---------------------------------------------------------------------------
// zsh
// ---------------------------------------------------------------------------

/// The interactive zsh's startup file: compinit with only our completion
/// directory added, and `compadd` wrapped to print every match between two
/// NUL lines (the technique of zsh-capture-completion).
const ZSHRC: &str = r#"
PS1='' RPS1='' PROMPT_EOL_MARK=''
fpath=("$NESTWRAP_ZSH_COMPLETIONS" $fpath)
autoload -Uz compinit && compinit -u -d "$ZDOTDIR/.zcompdump"
bindkey '^I' complete-word
zstyle ':completion:*' list-grouped false
zstyle ':completion:*' insert-tab false
zstyle ':completion:*' list-separator ''
__nw_mark() { print -rn -- $'\0\n' }
compprefuncs=(__nw_mark)
comppostfuncs=(__nw_mark exit)
compadd() {
    if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then
        builtin compadd "$@"
        return $?
    fi
    local -a __hits
    builtin compadd -A __hits "$@"
    local ret=$?
    local h
    for h in $__hits; do print -r -- "MATCH:$h"; done
    return ret
}
print READY
"#;

/// The outer script: runs the interactive zsh on a pseudo-terminal, types
/// the line and a TAB, and prints what came back.
const ZSH_DRIVER: &str = r#"
zmodload zsh/zpty || exit 3
zpty z zsh -i
local line
repeat 50; do
    zpty -r z line || exit 4
    [[ $line == *READY* ]] && break
done
[[ $line == *READY* ]] || exit 5
zpty -w -n z "$1"$'\t'
while zpty -r z line; do print -rn -- "$line"; done
"#;

fn zsh_complete(cwd: &Path, zdotdir: &Path, line: &str) -> BTreeSet<String> {
    let out = run_limited(
        Command::new("zsh")
            .args(["-f", "-c", ZSH_DRIVER, "driver"])
            .arg(line)
            .env("ZDOTDIR", zdotdir)
            .env("NESTWRAP_ZSH_COMPLETIONS", committed_path(ZSH).parent().unwrap())
            .env("TERM", "dumb")
            .current_dir(cwd),
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("READY") || stdout.matches('\0').count() >= 2,
        "zsh driver failed ({:?}): {stdout}\n{}",
        out.status,
        text(&out.stderr)
    );
    let between: Vec<&str> = stdout.split('\0').collect();
    assert!(between.len() >= 3, "no completion ran for {line:?}: {stdout:?}");
    between[1]
        .lines()
        .filter_map(|l| l.trim_end_matches('\r').strip_prefix("MATCH:"))
        .map(String::from)
        .collect()
}

#[test]
fn zsh_completes_options_and_values() {
    if !have("zsh") {
        return;
    }
    let zdotdir = scratch("zdotdir");
    // A clean ZDOTDIR: no global rc files, only compinit and the capture hooks.
    fs::write(zdotdir.join(".zshenv"), "unsetopt global_rcs\n").unwrap();
    fs::write(zdotdir.join(".zshrc"), ZSHRC).unwrap();
    let dir = scratch("zsh");
    fs::create_dir(dir.join("subdir")).unwrap();
    fs::write(dir.join("subfile"), "").unwrap();
    let c = |line: &str| zsh_complete(&dir, &zdotdir, line);

    assert_eq!(
        c("nestwrap --ro-b"),
        set(&["--ro-bind", "--ro-bind-try", "--ro-bind-data", "--ro-bind-fd"])
    );
    assert_eq!(c("bwrap --ro-b").len(), 4);
    assert_eq!(c("nestwrap --"), all_options());
    assert_eq!(c("nestwrap --cap-add CAP_N"), cap_net());
    assert!(c("nestwrap --perms 07").is_superset(&set(&["0700", "0750", "0755"])));
    assert_eq!(c("nestwrap --proc-fallback "), set(&["auto", "quiet", "never"]));
    assert_eq!(c("nestwrap --bind / sub"), set(&["subdir", "subfile"]));
    assert_eq!(c("nestwrap --chdir sub"), set(&["subdir"]));
    assert!(c("nestwrap --ro-bind / / bas").contains("bash"));
    assert!(c("nestwrap --ro-bind / / ls --ro-b").is_empty());
    assert!(c("nestwrap -- --ro-b").is_empty());
    fs::remove_dir_all(&dir).unwrap();
    fs::remove_dir_all(&zdotdir).unwrap();
}

// ---------------------------------------------------------------------------
// fish
// ---------------------------------------------------------------------------

fn fish_complete(cwd: &Path, home: &Path, line: &str) -> BTreeSet<String> {
    let script = format!(
        "source {}; complete -C {}",
        sh_quote(committed_path(FISH).to_str().unwrap()),
        sh_quote(line)
    );
    let out = run_limited(
        Command::new("fish")
            .args(["--no-config", "-c", &script])
            .env("HOME", home)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_DATA_HOME", home.join("data"))
            .current_dir(cwd),
    );
    assert!(out.status.success(), "fish: {}", text(&out.stderr));
    assert!(out.stderr.is_empty(), "fish printed errors: {}", text(&out.stderr));
    text(&out.stdout).lines().map(|l| l.split('\t').next().unwrap().to_string()).collect()
}

#[test]
fn fish_completes_options_and_values() {
    if !have("fish") {
        return;
    }
    let home = scratch("fishhome");
    let dir = scratch("fish");
    fs::create_dir(dir.join("subdir")).unwrap();
    fs::write(dir.join("subfile"), "").unwrap();
    let c = |line: &str| fish_complete(&dir, &home, line);

    assert_eq!(
        c("nestwrap --ro-b"),
        set(&["--ro-bind", "--ro-bind-try", "--ro-bind-data", "--ro-bind-fd"])
    );
    assert_eq!(c("bwrap --ro-b").len(), 4);
    assert_eq!(c("nestwrap --"), all_options());
    assert_eq!(c("nestwrap --cap-add CAP_N"), cap_net());
    assert!(c("nestwrap --perms 07").is_superset(&set(&["0700", "0750", "0755"])));
    assert_eq!(c("nestwrap --proc-fallback "), set(&["auto", "quiet", "never"]));
    assert_eq!(c("nestwrap --bind / sub"), set(&["subdir/", "subfile"]));
    assert_eq!(c("nestwrap --chdir sub"), set(&["subdir/"]));
    assert!(c("nestwrap --hostname ").is_empty());
    assert!(c("nestwrap --ro-bind / / bas").contains("bash"));
    assert!(c("nestwrap --ro-bind / / ls --ro-b").is_empty());
    assert!(c("nestwrap -- --ro-b").is_empty());
    assert!(c("nestwrap -- ls --ro-b").is_empty());
    fs::remove_dir_all(&dir).unwrap();
    fs::remove_dir_all(&home).unwrap();
}

// ---------------------------------------------------------------------------
// scripts/install.sh
// ---------------------------------------------------------------------------

fn install(destdir: &Path, extra: &[&str]) -> Output {
    let out = Command::new("bash")
        .arg(repo().join("scripts/install.sh"))
        .args(extra)
        .env("DESTDIR", destdir)
        .env("PREFIX", "/usr/local")
        .env("NESTWRAP_BINARY", env!("CARGO_BIN_EXE_nestwrap"))
        .output()
        .unwrap();
    assert!(out.status.success(), "install.sh failed: {}", text(&out.stderr));
    out
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).permissions().mode() & 0o7777
}

#[test]
fn install_script_puts_files_in_the_standard_places() {
    let dest = scratch("install");
    for rel in [MAN, BASH, ZSH, FISH] {
        committed_path(rel); // up to date before it is installed
    }
    install(&dest, &[]);
    let at = |rel: &str| dest.join(rel.trim_start_matches('/'));
    let installed = [
        ("/usr/local/bin/nestwrap", 0o755),
        ("/usr/local/share/man/man1/nestwrap.1", 0o644),
        ("/usr/local/share/bash-completion/completions/nestwrap", 0o644),
        ("/usr/local/share/zsh/site-functions/_nestwrap", 0o644),
        ("/usr/local/share/fish/vendor_completions.d/nestwrap.fish", 0o644),
    ];
    for (rel, m) in installed {
        assert_eq!(mode(&at(rel)), m, "{rel}");
    }
    assert_eq!(
        fs::read(at(installed[0].0)).unwrap(),
        fs::read(env!("CARGO_BIN_EXE_nestwrap")).unwrap()
    );
    assert_eq!(fs::read_to_string(at(installed[1].0)).unwrap(), committed(MAN));
    assert_eq!(fs::read_to_string(at(installed[2].0)).unwrap(), committed(BASH));
    assert_eq!(fs::read_to_string(at(installed[3].0)).unwrap(), committed(ZSH));
    assert_eq!(fs::read_to_string(at(installed[4].0)).unwrap(), committed(FISH));
    // Without --as-bwrap nothing takes the name bwrap.
    for rel in ["/usr/local/bin/bwrap", "/usr/local/share/man/man1/bwrap.1"] {
        assert!(at(rel).symlink_metadata().is_err(), "{rel} installed without --as-bwrap");
    }

    // --as-bwrap: relative symlinks, so the tree works wherever DESTDIR puts it.
    install(&dest, &["--as-bwrap"]);
    let links = [
        ("/usr/local/bin/bwrap", "nestwrap"),
        ("/usr/local/share/man/man1/bwrap.1", "nestwrap.1"),
        ("/usr/local/share/bash-completion/completions/bwrap", "nestwrap"),
        ("/usr/local/share/fish/vendor_completions.d/bwrap.fish", "nestwrap.fish"),
    ];
    for (rel, target) in links {
        assert_eq!(
            fs::read_link(at(rel)).unwrap_or_else(|e| panic!("{rel}: {e}")),
            PathBuf::from(target)
        );
        assert!(at(rel).exists(), "{rel} dangles");
    }
    let out = Command::new(at("/usr/local/bin/bwrap")).arg("--version").output().unwrap();
    assert_eq!(text(&out.stdout), "bubblewrap 0.13.1\n");
    fs::remove_dir_all(&dest).unwrap();
}

#[test]
fn install_script_refuses_a_missing_binary() {
    let dest = scratch("install-missing");
    let out = Command::new("bash")
        .arg(repo().join("scripts/install.sh"))
        .env("DESTDIR", &dest)
        .env("NESTWRAP_BINARY", dest.join("no-such-binary"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cargo build --release"), "{}", text(&out.stderr));
    assert!(fs::read_dir(&dest).unwrap().next().is_none(), "installed something anyway");
    fs::remove_dir_all(&dest).unwrap();
}

#[test]
fn cap_names_in_completions_are_the_tables() {
    // The capability list the shells offer is the parser's list plus ALL.
    let bash = committed(BASH);
    let line = bash.lines().find_map(|l| l.strip_prefix("_nestwrap_caps='")).unwrap();
    let words: Vec<&str> = line.trim_end_matches('\'').split(' ').collect();
    let mut want: Vec<&str> = CAP_NAMES.to_vec();
    want.push("ALL");
    assert_eq!(words, want);
}
