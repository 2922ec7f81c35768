//! Renders the documentation from the option table `cli::spec`: `--help`
//! ([`usage`]), the man page ([`man_page`]) and the bash, zsh and fish
//! completions ([`bash_completion`], [`zsh_completion`], [`fish_completion`]).
//!
//! The man page's prose is hand-written in `man/nestwrap.1.in`; only its
//! option lists come from the table. The completions are generated entirely.
//! The committed outputs (`man/nestwrap.1`, `completions/`) are checked by
//! `tests/generated.rs`, which rewrites them under `UPDATE_GENERATED=1`.
//! Nothing here is reachable from the command line (no `--generate` option:
//! bwrap has none, and every option is compatibility surface).

use crate::cli::spec::{Category, OptSpec, ValueKind, CAP_NAMES, OPTIONS};

/// Column where bwrap's help texts start.
const HELP_COLUMN: usize = 33;

/// The text printed by `--help` (stdout) and, without COMMAND, on stderr:
/// bwrap's usage text, byte for byte, followed by one line about nestwrap.
pub fn usage(argv0: &str) -> String {
    let mut out = format!("usage: {argv0} [OPTIONS...] [--] COMMAND [ARGS...]\n\n");
    let is_ext = |o: &&OptSpec| o.category == Category::Extensions;
    for opt in OPTIONS.iter().filter(|o| !is_ext(o)) {
        push_help_line(&mut out, opt);
    }
    out.push_str("\nnestwrap extensions:\n");
    for opt in OPTIONS.iter().filter(is_ext) {
        push_help_line(&mut out, opt);
    }
    out.push_str(&format!(
        "\nnestwrap {}: bwrap-compatible; see nestwrap(1)\n",
        crate::NESTWRAP_VERSION
    ));
    out
}

/// One option in bwrap's two-column layout.
fn push_help_line(out: &mut String, opt: &OptSpec) {
    let mut head = String::from(opt.name);
    for m in opt.metavars {
        head.push(' ');
        head.push_str(m);
    }
    let mut lines = opt.help.split('\n');
    let width = HELP_COLUMN - 5;
    if head.len() > width {
        // Longer than any bwrap option (`--scope-abstract-unix-sockets`):
        // the head alone, then the help text in its column.
        out.push_str(&format!("    {head}\n"));
        for line in lines {
            out.push_str(&format!("{:HELP_COLUMN$}{line}\n", ""));
        }
        return;
    }
    let first = lines.next().unwrap_or("");
    // "    " + head padded to 28 + at least one space.
    out.push_str(&format!("    {head:<width$} {first}\n"));
    for line in lines {
        out.push_str(&format!("{:HELP_COLUMN$}{line}\n", ""));
    }
}

// ---------------------------------------------------------------------------
// Man page
// ---------------------------------------------------------------------------

/// The hand-written part of the man page, with `@VERSION@` and one
/// `@OPTIONS <Category>@` line per category.
const MAN_TEMPLATE: &str = include_str!("../man/nestwrap.1.in");

/// The man page (roff, `man(7)` macros): the template with nestwrap's version
/// and the option lists of the table filled in.
pub fn man_page() -> String {
    let mut out = String::from(
        ".\\\" Generated from man/nestwrap.1.in and src/cli/spec.rs by src/doc.rs; do not edit.\n\
         .\\\" Refresh with: UPDATE_GENERATED=1 cargo test generated\n",
    );
    // The template's own comment block (before .TH) is for its editors.
    let body = &MAN_TEMPLATE[MAN_TEMPLATE.find("\n.TH ").map_or(0, |i| i + 1)..];
    for line in body.lines() {
        if let Some(name) = line.strip_prefix("@OPTIONS ").and_then(|l| l.strip_suffix('@')) {
            let category = Category::ALL
                .iter()
                .copied()
                .find(|c| format!("{c:?}") == name)
                .unwrap_or_else(|| panic!("man template: unknown category {name}"));
            push_man_category(&mut out, category);
        } else {
            out.push_str(&line.replace("@VERSION@", crate::NESTWRAP_VERSION));
            out.push('\n');
        }
    }
    out
}

/// One category's options as a `.TP` list, under its `.SS` heading (except
/// for the extensions, which have a section of their own).
fn push_man_category(out: &mut String, category: Category) {
    // A heading may already be in the template, followed by an introduction
    // (the filesystem options have one, as in bwrap's man page).
    let heading = format!(".SS {}\n", category.title());
    if category != Category::Extensions && !out.contains(&heading) {
        out.push_str(&heading);
    }
    for opt in OPTIONS.iter().filter(|o| o.category == category) {
        out.push_str(".TP\n");
        out.push_str(&format!("\\fB{}\\fR", roff_escape(opt.name)));
        for m in opt.metavars {
            out.push_str(&format!(" \\fI{m}\\fR"));
        }
        out.push('\n');
        out.push_str(&roff_line(opt.description));
        if let Some(words) = choice_words(opt) {
            out.push_str(&roff_line(&format!("MODE is one of: {}.", words.join(", "))));
        }
        out.push('\n');
    }
}

/// The words of a `Choice` value, if the option takes one.
fn choice_words(opt: &OptSpec) -> Option<&'static [&'static str]> {
    opt.value_kinds.iter().find_map(|k| match k {
        ValueKind::Choice(words) => Some(*words),
        _ => None,
    })
}

/// Escape text for roff: backslashes, and the hyphens of option names (which
/// must stay minus signs so that they can be searched and copied).
fn roff_escape(text: &str) -> String {
    let text = text.replace('\\', "\\e");
    let mut out = String::with_capacity(text.len());
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let bare = word.trim_start_matches(['(', '"', '\'']);
        if bare.starts_with('-') || word.contains("--") {
            out.push_str(&word.replace('-', "\\-"));
        } else {
            out.push_str(word);
        }
    }
    out
}

/// A text line for roff: escaped, and protected from being read as a request.
fn roff_line(text: &str) -> String {
    let escaped = roff_escape(text);
    if escaped.starts_with(['.', '\'']) {
        format!("\\&{escaped}\n")
    } else {
        format!("{escaped}\n")
    }
}

// ---------------------------------------------------------------------------
// Completions
// ---------------------------------------------------------------------------

/// The command names the completions register.
const COMMANDS: [&str; 2] = ["nestwrap", "bwrap"];

/// Modes offered for octal values, with what they mean.
const OCTAL_HINTS: [(&str, &str); 8] = [
    ("0755", "rwxr-xr-x"),
    ("0700", "rwx------"),
    ("0750", "rwxr-x---"),
    ("0644", "rw-r--r--"),
    ("0600", "rw-------"),
    ("0444", "r--r--r--"),
    ("1777", "rwxrwxrwt (sticky, like /tmp)"),
    ("0777", "rwxrwxrwx"),
];

/// File descriptor numbers offered for FD values.
const FD_HINTS: &str = "0 1 2 3 4 5 6 7 8 9";

const GENERATED_NOTE: &str = "Generated from src/cli/spec.rs by src/doc.rs; do not edit.\n\
     # Refresh with: UPDATE_GENERATED=1 cargo test generated";

/// Capability names and `ALL`, space-separated.
fn cap_words() -> String {
    let mut words: Vec<&str> = CAP_NAMES.to_vec();
    words.push("ALL");
    words.join(" ")
}

/// Options grouped by arity, for the shells' `case` patterns.
fn options_by_arity() -> Vec<(usize, Vec<&'static str>)> {
    let max = OPTIONS.iter().map(OptSpec::arity).max().unwrap_or(0);
    (1..=max)
        .map(|n| {
            let names: Vec<&'static str> =
                OPTIONS.iter().filter(|o| o.arity() == n).map(|o| o.name).collect();
            (n, names)
        })
        .filter(|(_, names)| !names.is_empty())
        .collect()
}

/// Every (option, 1-based value position, kind).
fn value_slots() -> impl Iterator<Item = (&'static str, usize, ValueKind)> {
    OPTIONS
        .iter()
        .flat_map(|o| o.value_kinds.iter().enumerate().map(move |(i, k)| (o.name, i + 1, *k)))
}

/// The bash completion script (for bash-completion's directory, or to
/// `source`): registers `_nestwrap` for `nestwrap` and `bwrap`.
pub fn bash_completion() -> String {
    let mut s = String::new();
    s.push_str("# bash completion for nestwrap and bwrap                   -*- shell-script -*-\n");
    s.push_str(&format!("# {GENERATED_NOTE}\n\n"));
    let names: Vec<&str> = OPTIONS.iter().map(|o| o.name).collect();
    s.push_str(&format!("_nestwrap_options='{}'\n", names.join(" ")));
    s.push_str(&format!("_nestwrap_caps='{}'\n", cap_words()));
    let modes: Vec<&str> = OCTAL_HINTS.iter().map(|(m, _)| *m).collect();
    s.push_str(&format!("_nestwrap_modes='{}'\n\n", modes.join(" ")));
    s.push_str(
        r#"_nestwrap() {
    local IFS=$'\n'
    local cur=${COMP_WORDS[COMP_CWORD]}
    local i=1 n w opt='' pos=0 cmd=''
    COMPREPLY=()
    # Walk the words before the cursor: options and their values, up to
    # COMMAND (the first word that is not an option, or the word after --).
    while (( i < COMP_CWORD )); do
        w=${COMP_WORDS[i]}
        case $w in
            --) cmd=$((i + 1)); break ;;
"#,
    );
    for (n, names) in options_by_arity() {
        s.push_str(&format!("            {}) n={n} ;;\n", names.join("|")));
    }
    s.push_str(
        r#"            -*) n=0 ;;
            *) cmd=$i; break ;;
        esac
        if (( COMP_CWORD <= i + n )); then
            opt=$w
            pos=$((COMP_CWORD - i))
            break
        fi
        i=$((i + 1 + n))
    done

    if [[ -n $opt ]]; then
        # The cursor is on value number $pos of option $opt.
        case "$opt $pos" in
"#,
    );
    let mut by_action: Vec<(String, Vec<String>)> = Vec::new();
    for (name, pos, kind) in value_slots() {
        let action = match kind {
            ValueKind::Path => "compopt -o filenames 2>/dev/null\n                COMPREPLY=($(compgen -f -- \"$cur\"))".to_string(),
            ValueKind::Dir => "compopt -o filenames 2>/dev/null\n                COMPREPLY=($(compgen -d -- \"$cur\"))".to_string(),
            ValueKind::Fd => format!("COMPREPLY=($(IFS=' '; compgen -W '{FD_HINTS}' -- \"$cur\"))"),
            ValueKind::Octal => "COMPREPLY=($(IFS=' '; compgen -W \"$_nestwrap_modes\" -- \"$cur\"))".to_string(),
            ValueKind::Cap => "COMPREPLY=($(IFS=' '; compgen -W \"$_nestwrap_caps\" -- \"$cur\"))".to_string(),
            ValueKind::Var => "COMPREPLY=($(compgen -e -- \"$cur\"))".to_string(),
            ValueKind::Choice(words) => {
                format!("COMPREPLY=($(IFS=' '; compgen -W '{}' -- \"$cur\"))", words.join(" "))
            }
            ValueKind::Int | ValueKind::String | ValueKind::Label => ":".to_string(),
        };
        let pattern = format!("\"{name} {pos}\"");
        match by_action.iter_mut().find(|(a, _)| *a == action) {
            Some((_, patterns)) => patterns.push(pattern),
            None => by_action.push((action, vec![pattern])),
        }
    }
    for (action, patterns) in &by_action {
        // Keep the lines short: one pattern group per line.
        s.push_str(&format!("            {})\n", patterns.join(" | \\\n            ")));
        s.push_str(&format!("                {action} ;;\n"));
    }
    s.push_str(
        r#"        esac
        return 0
    fi

    if [[ -n $cmd ]]; then
        if (( COMP_CWORD == cmd )); then
            COMPREPLY=($(compgen -c -- "$cur"))
        elif declare -F _command_offset >/dev/null; then
            # bash-completion: complete COMMAND's arguments as COMMAND's own.
            _command_offset "$cmd"
        else
            compopt -o filenames 2>/dev/null
            COMPREPLY=($(compgen -f -- "$cur"))
        fi
        return 0
    fi

    if [[ $cur == -* ]]; then
        COMPREPLY=($(IFS=' '; compgen -W "$_nestwrap_options" -- "$cur"))
    else
        COMPREPLY=($(compgen -c -- "$cur"))
    fi
    return 0
}
"#,
    );
    s.push_str(&format!("complete -F _nestwrap {}\n", COMMANDS.join(" ")));
    s.push_str("\n# ex: filetype=sh\n");
    s
}

/// Quote `text` for a zsh (or POSIX) single-quoted string.
fn sh_single_quote_body(text: &str) -> String {
    text.replace('\'', "'\\''")
}

/// The zsh completion function (`#compdef`, for a directory in `$fpath`).
pub fn zsh_completion() -> String {
    let mut s = format!("#compdef {}\n", COMMANDS.join(" "));
    s.push_str(&format!("# zsh completion for nestwrap and bwrap.\n# {GENERATED_NOTE}\n\n"));
    s.push_str("local -a args\nargs=(\n");
    for opt in OPTIONS {
        let help = opt.help_one_line().replace('[', "\\[").replace(']', "\\]");
        // Options with values may be repeated; flags need to be given once.
        let repeat = if opt.arity() > 0 { "*" } else { "" };
        let mut spec = format!("{repeat}{}[{help}]", opt.name);
        for (meta, kind) in opt.metavars.iter().zip(opt.value_kinds) {
            let action = match kind {
                ValueKind::Path => "_files".to_string(),
                // Not `_files -/`: its fallback tag offers plain files too.
                ValueKind::Dir => "_path_files -/".to_string(),
                ValueKind::Fd => "_guard \"[0-9]#\" \"file descriptor\"".to_string(),
                ValueKind::Octal => {
                    let words: Vec<String> =
                        OCTAL_HINTS.iter().map(|(m, d)| format!("{m}\\:\"{d}\"")).collect();
                    format!("(({}))", words.join(" "))
                }
                ValueKind::Cap => format!("({})", cap_words()),
                ValueKind::Var => "_parameters -g \"*export*\"".to_string(),
                ValueKind::Choice(words) => format!("({})", words.join(" ")),
                ValueKind::Int | ValueKind::String | ValueKind::Label => " ".to_string(),
            };
            spec.push_str(&format!(":{meta}:{action}"));
        }
        s.push_str(&format!("  '{}'\n", sh_single_quote_body(&spec)));
    }
    s.push_str("  '(-)1:command:_command_names -e'\n");
    s.push_str("  '*::arguments:_normal'\n");
    s.push_str(")\n\n_arguments -S : $args\n");
    s
}

/// fish `case` arms setting `arity` for every option that takes values.
fn fish_arity_cases() -> String {
    let mut out = String::new();
    for (n, names) in options_by_arity() {
        let quoted: Vec<String> = names.iter().map(|n| fish_quote(n)).collect();
        out.push_str(&format!(
            "            case {}\n                set arity {n}\n",
            quoted.join(" ")
        ));
    }
    out
}

/// Quote `text` for a fish single-quoted string.
fn fish_quote(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The fish completion script (for `vendor_completions.d`, or to `source`).
pub fn fish_completion() -> String {
    let mut s = format!("# fish completion for nestwrap and bwrap.\n# {GENERATED_NOTE}\n\n");
    s.push_str(
        r#"# Where the cursor is, printed as one of: "option" (an option or COMMAND
# may come here), "arg OPTION N" (value N of OPTION), "command" (COMMAND
# after --) or "args" (COMMAND's own arguments).
function __nestwrap_state
    set -l words (commandline -opc)
    set -l n (count $words)
    set -l i 2
    while test $i -le $n
        set -l w $words[$i]
        set -l arity 0
        switch $w
            case '--'
                if test $i -eq $n
                    echo command
                else
                    echo args
                end
                return
"#,
    );
    s.push_str(&fish_arity_cases());
    s.push_str(
        r#"            case '-*'
                set arity 0
            case '*'
                echo args
                return
        end
        if test (math $i + $arity) -gt $n
            echo arg $w (math $n + 1 - $i)
            return
        end
        set i (math $i + $arity + 1)
    end
    echo option
end

function __nestwrap_at
    set -l state (__nestwrap_state)
    test "$state" = "$argv"
end

# COMMAND's arguments, completed as COMMAND's own.
function __nestwrap_complete_rest
    set -l words (commandline -opc)
    set -l n (count $words)
    set -l i 2
    while test $i -le $n
        set -l w $words[$i]
        set -l arity 0
        switch $w
            case '--'
                set i (math $i + 1)
                break
"#,
    );
    s.push_str(&fish_arity_cases());
    s.push_str(
        r#"            case '-*'
                set arity 0
            case '*'
                break
        end
        set i (math $i + $arity + 1)
    end
    set -l rest $words[$i..-1] (commandline -ct)
    complete -C (string join ' ' -- (string escape -- $rest))
end

function __nestwrap_modes
"#,
    );
    for (m, d) in OCTAL_HINTS {
        s.push_str(&format!("    printf '%s\\t%s\\n' {m} {}\n", fish_quote(d)));
    }
    s.push_str("end\n\n");
    s.push_str(&format!("for cmd in {}\n", COMMANDS.join(" ")));
    s.push_str("    complete -c $cmd -f\n");
    for opt in OPTIONS {
        s.push_str(&format!(
            "    complete -c $cmd -n '__nestwrap_at option' -l {} -d {}\n",
            &opt.name[2..],
            fish_quote(&opt.help_one_line())
        ));
    }
    for (name, pos, kind) in value_slots() {
        let action = match kind {
            ValueKind::Path => "-F".to_string(),
            ValueKind::Dir => "-a '(__fish_complete_directories (commandline -ct))'".to_string(),
            ValueKind::Fd => format!("-a '{FD_HINTS}'"),
            ValueKind::Octal => "-a '(__nestwrap_modes)'".to_string(),
            ValueKind::Cap => format!("-a '{}'", cap_words()),
            ValueKind::Var => "-a '(set --names --export)'".to_string(),
            ValueKind::Choice(words) => format!("-a '{}'", words.join(" ")),
            ValueKind::Int | ValueKind::String | ValueKind::Label => continue,
        };
        s.push_str(&format!("    complete -c $cmd -n '__nestwrap_at arg {name} {pos}' {action}\n"));
    }
    s.push_str("    complete -c $cmd -n '__nestwrap_at option' -a '(__fish_complete_command)'\n");
    s.push_str("    complete -c $cmd -n '__nestwrap_at command' -a '(__fish_complete_command)'\n");
    s.push_str("    complete -c $cmd -n '__nestwrap_at args' -a '(__nestwrap_complete_rest)'\n");
    s.push_str("end\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// bwrap 0.13.1's usage text (its `usage()`), the behaviour `--help` must
    /// reproduce; nestwrap adds its extensions block and one final line.
    const BWRAP_0_13_USAGE: &str = r#"usage: ARGV0 [OPTIONS...] [--] COMMAND [ARGS...]

    --help                       Print this help
    --version                    Print version
    --args FD                    Parse NUL-separated args from FD
    --argv0 VALUE                Set argv[0] to the value VALUE before running the program
    --level-prefix               Prepend e.g. <3> to diagnostic messages
    --unshare-all                Unshare every namespace we support by default
    --share-net                  Retain the network namespace (can only combine with --unshare-all)
    --unshare-user               Create new user namespace (may be automatically implied if not root)
    --unshare-user-try           Create new user namespace if possible else continue by skipping it
    --unshare-ipc                Create new ipc namespace
    --unshare-pid                Create new pid namespace
    --unshare-net                Create new network namespace
    --unshare-uts                Create new uts namespace
    --unshare-cgroup             Create new cgroup namespace
    --unshare-cgroup-try         Create new cgroup namespace if possible else continue by skipping it
    --userns FD                  Use this user namespace (cannot combine with --unshare-user)
    --userns2 FD                 After setup switch to this user namespace, only useful with --userns
    --disable-userns             Disable further use of user namespaces inside sandbox
    --assert-userns-disabled     Fail unless further use of user namespace inside sandbox is disabled
    --pidns FD                   Use this pid namespace (as parent namespace if using --unshare-pid)
    --uid UID                    Custom uid in the sandbox (requires --unshare-user or --userns)
    --gid GID                    Custom gid in the sandbox (requires --unshare-user or --userns)
    --hostname NAME              Custom hostname in the sandbox (requires --unshare-uts)
    --chdir DIR                  Change directory to DIR
    --clearenv                   Unset all environment variables
    --setenv VAR VALUE           Set an environment variable
    --unsetenv VAR               Unset an environment variable
    --lock-file DEST             Take a lock on DEST while sandbox is running
    --sync-fd FD                 Keep this fd open while sandbox is running
    --bind SRC DEST              Bind mount the host path SRC on DEST
    --bind-try SRC DEST          Equal to --bind but ignores non-existent SRC
    --dev-bind SRC DEST          Bind mount the host path SRC on DEST, allowing device access
    --dev-bind-try SRC DEST      Equal to --dev-bind but ignores non-existent SRC
    --ro-bind SRC DEST           Bind mount the host path SRC readonly on DEST
    --ro-bind-try SRC DEST       Equal to --ro-bind but ignores non-existent SRC
    --bind-fd FD DEST            Bind open directory or path fd on DEST
    --ro-bind-fd FD DEST         Bind open directory or path fd read-only on DEST
    --remount-ro DEST            Remount DEST as readonly; does not recursively remount
    --overlay-src SRC            Read files from SRC in the following overlay
    --overlay RWSRC WORKDIR DEST Mount overlayfs on DEST, with RWSRC as the host path for writes and
                                 WORKDIR an empty directory on the same filesystem as RWSRC
    --tmp-overlay DEST           Mount overlayfs on DEST, with writes going to an invisible tmpfs
    --ro-overlay DEST            Mount overlayfs read-only on DEST
    --exec-label LABEL           Exec label for the sandbox
    --file-label LABEL           File label for temporary sandbox content
    --proc DEST                  Mount new procfs on DEST
    --dev DEST                   Mount new dev on DEST
    --tmpfs DEST                 Mount new tmpfs on DEST
    --mqueue DEST                Mount new mqueue on DEST
    --dir DEST                   Create dir at DEST
    --file FD DEST               Copy from FD to destination DEST
    --bind-data FD DEST          Copy from FD to file which is bind-mounted on DEST
    --ro-bind-data FD DEST       Copy from FD to file which is readonly bind-mounted on DEST
    --symlink SRC DEST           Create symlink at DEST with target SRC
    --seccomp FD                 Load and use seccomp rules from FD (not repeatable)
    --add-seccomp-fd FD          Load and use seccomp rules from FD (repeatable)
    --block-fd FD                Block on FD until some data to read is available
    --userns-block-fd FD         Block on FD until the user namespace is ready
    --info-fd FD                 Write information about the running container to FD
    --json-status-fd FD          Write container status to FD as multiple JSON documents
    --new-session                Create a new terminal session
    --die-with-parent            Kills with SIGKILL child process (COMMAND) when bwrap or bwrap's parent dies.
    --as-pid-1                   Do not install a reaper process with PID=1
    --cap-add CAP                Add cap CAP when running as privileged user
    --cap-drop CAP               Drop cap CAP when running as privileged user
    --perms OCTAL                Set permissions of next argument (--bind-data, --file, etc.)
    --size BYTES                 Set size of next argument (only for --tmpfs)
    --chmod OCTAL PATH           Change permissions of PATH (must already exist)
    --not-a-security-boundary    Do not fail hard when some sandbox setup steps fail;
                                 use only when the sandbox is not a security boundary
"#;

    #[test]
    fn usage_is_bwraps_plus_nestwrap_additions() {
        let ours = usage("ARGV0");
        let mut last = String::from("\nnestwrap extensions:\n");
        for opt in OPTIONS.iter().filter(|o| o.category == Category::Extensions) {
            push_help_line(&mut last, opt);
        }
        last.push_str(&format!(
            "\nnestwrap {}: bwrap-compatible; see nestwrap(1)\n",
            crate::NESTWRAP_VERSION
        ));
        assert!(ours.ends_with(&last));
        assert_eq!(ours.strip_suffix(&last), Some(BWRAP_0_13_USAGE));
    }

    #[test]
    fn usage_first_line_uses_argv0_as_given() {
        assert!(usage("/usr/bin/bwrap").starts_with(
            "usage: /usr/bin/bwrap [OPTIONS...] [--] COMMAND [ARGS...]\n\n    --help "
        ));
    }

    #[test]
    fn every_option_in_usage_in_table_order() {
        let text = usage("x");
        let mut pos = 0;
        for opt in OPTIONS {
            let needle = format!("\n    {}", opt.name);
            let at = text[pos..].find(&needle).unwrap_or_else(|| panic!("{} missing", opt.name));
            pos += at + 1;
        }
        // Help texts start at column 33 (one space after a 28-column head at least).
        // A head longer than 28 columns stands alone, its text on the next line.
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate().filter(|(_, l)| l.starts_with("    --")) {
            let line = if line.len() < 34 {
                assert!(line.len() > 32, "short head not padded: {line}");
                lines[i + 1]
            } else {
                line
            };
            assert_eq!(line.as_bytes()[32], b' ', "{line}");
            assert_ne!(line.as_bytes()[33], b' ', "{line}");
        }
    }

    #[test]
    fn man_template_lists_every_category_once() {
        for c in Category::ALL {
            let marker = format!("\n@OPTIONS {c:?}@\n");
            assert_eq!(MAN_TEMPLATE.matches(&marker).count(), 1, "{c:?}");
        }
        let page = man_page();
        assert!(!page.contains("@OPTIONS"));
        assert!(!page.contains("@VERSION@"));
        assert!(page.starts_with(".\\\" Generated from"));
        // Every option exactly once, in its category's list.
        for opt in OPTIONS {
            let entry = format!(".TP\n\\fB{}\\fR", roff_escape(opt.name));
            assert_eq!(page.matches(&entry).count(), 1, "{}", opt.name);
        }
    }

    #[test]
    fn roff_escaping() {
        assert_eq!(roff_escape("--ro-bind"), "\\-\\-ro\\-bind");
        assert_eq!(
            roff_escape("a read-only (--unshare-net) file, see --bind."),
            "a read-only (\\-\\-unshare\\-net) file, see \\-\\-bind."
        );
        assert_eq!(roff_escape("a\\b"), "a\\eb");
        assert_eq!(roff_line(".hidden"), "\\&.hidden\n");
        assert_eq!(roff_line("'quoted"), "\\&'quoted\n");
    }
}
