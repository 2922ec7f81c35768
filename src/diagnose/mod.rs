//! `nestwrap --diagnose [--json] [-- BWRAP-ARGS...]`: explain what blocks or
//! weakens a sandbox in this environment, without side effects.
//!
//! * [`probe`] reads `/proc` and `/sys` and tries each feature in a throwaway
//!   child (fork-style clone of this single-threaded process, `_exit`,
//!   findings over a pipe);
//! * [`classify`] turns the facts into checks (verdict, finding, fix);
//! * [`plan`] predicts, for an optional bwrap command line, which fallbacks
//!   nestwrap would use.
//!
//! Exit status: 0 whenever the report was printed, whatever it found; 1 only
//! if nestwrap itself failed (bad `--diagnose` arguments, more than one
//! thread, stdout unwritable). `--diagnose` must be the first argument;
//! anywhere else the parser refuses it.

pub mod classify;
pub mod plan;
pub mod probe;

use std::ffi::OsString;
use std::io::Write;

use classify::{Check, Verdict};
use probe::Facts;

use crate::json::json_escape;
use crate::report::Reporter;

/// What `--diagnose` was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub json: bool,
    /// `Some` when `--` was given: the bwrap command line to judge.
    pub bwrap_args: Option<Vec<OsString>>,
}

/// Parse what follows `--diagnose`.
pub fn parse_request(args: Vec<OsString>) -> Result<Request, String> {
    let mut req = Request { json: false, bwrap_args: None };
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        if a == "--json" {
            req.json = true;
        } else if a == "--" {
            req.bwrap_args = Some(it.collect());
            break;
        } else {
            return Err(format!(
                "--diagnose takes only --json and -- BWRAP-ARGS..., not {}",
                a.to_string_lossy()
            ));
        }
    }
    Ok(req)
}

/// The whole report.
#[derive(Debug, Clone)]
pub struct Report {
    pub facts: Facts,
    pub checks: Vec<Check>,
    pub bwrap_args: Option<Vec<OsString>>,
    pub plan: Option<plan::Plan>,
}

impl Report {
    /// Probe this environment and judge `bwrap_args`.
    pub fn build(bwrap_args: Option<Vec<OsString>>) -> Report {
        let facts = Facts::gather();
        let checks = classify::environment(&facts);
        let plan = bwrap_args.clone().map(|args| {
            let env = std::env::var_os("NESTWRAP_PROC_FALLBACK");
            plan::plan_os(args, &facts, &crate::cli::HostFacts::probe(), env.as_deref())
        });
        Report { facts, checks, bwrap_args, plan }
    }

    fn header(&self) -> String {
        let f = &self.facts;
        format!(
            "nestwrap {} (bubblewrap 0.13.1 compatible), kernel {}, uid {} euid {}, {} user namespace",
            crate::NESTWRAP_VERSION,
            f.kernel,
            f.uid,
            f.euid,
            if f.init_userns { "initial" } else { "inside a" }
        )
    }

    /// One line per check: `VERDICT   id: finding; fix: ...`.
    pub fn human(&self) -> String {
        let mut out = format!("{}\n", self.header());
        let lines = |checks: &[Check], out: &mut String| {
            for c in checks {
                out.push_str(&format!("{:<9}{}: {}", c.verdict.as_str(), c.id, c.finding));
                if let Some(fix) = &c.fix {
                    out.push_str(&format!("; fix: {fix}"));
                }
                out.push('\n');
            }
        };
        lines(&self.checks, &mut out);
        if let (Some(args), Some(plan)) = (&self.bwrap_args, &self.plan) {
            out.push_str(&format!("for: bwrap {}\n", shell_words(args)));
            lines(&plan.checks, &mut out);
        }
        let count = |v: Verdict| {
            self.checks
                .iter()
                .chain(self.plan.iter().flat_map(|p| &p.checks))
                .filter(|c| c.verdict == v)
                .count()
        };
        out.push_str(&format!(
            "summary: {} blocked, {} fallback, {} note\n",
            count(Verdict::Blocked),
            count(Verdict::Fallback),
            count(Verdict::Note)
        ));
        out
    }

    /// The same as one JSON object.
    pub fn json(&self) -> String {
        let f = &self.facts;
        let mut o = String::from("{\n");
        o.push_str(&format!("  \"nestwrap\": \"{}\",\n", json_escape(crate::NESTWRAP_VERSION)));
        o.push_str(&format!("  \"kernel\": \"{}\",\n", json_escape(&f.kernel)));
        o.push_str(&format!("  \"uid\": {},\n  \"euid\": {},\n", f.uid, f.euid));
        o.push_str(&format!("  \"initial-user-namespace\": {},\n", f.init_userns));
        let abi = f.landlock_abi.map_or("null".to_owned(), |n| n.to_string());
        let scopes = crate::sandbox::scope::unavailable(f.landlock_abi).is_none()
            && f.landlock_scopes.works();
        o.push_str(&format!("  \"landlock-abi\": {abi},\n"));
        o.push_str(&format!(
            "  \"landlock-scopes\": {{\"abstract-unix-sockets\": {scopes}, \"signals\": {scopes}}},\n"
        ));
        o.push_str(&format!("  \"checks\": {},\n", checks_json(&self.checks, "  ")));
        match (&self.bwrap_args, &self.plan) {
            (Some(args), Some(plan)) => {
                let args: Vec<String> = args
                    .iter()
                    .map(|a| format!("\"{}\"", json_escape(&a.to_string_lossy())))
                    .collect();
                o.push_str(&format!(
                    "  \"command\": {{\n    \"args\": [{}],\n    \"fallbacks\": {},\n    \"checks\": {}\n  }}\n",
                    args.join(", "),
                    plan.fallbacks.json_object(),
                    checks_json(&plan.checks, "    ")
                ));
            }
            _ => o.push_str("  \"command\": null\n"),
        }
        o.push_str("}\n");
        o
    }
}

fn checks_json(checks: &[Check], indent: &str) -> String {
    let items: Vec<String> = checks
        .iter()
        .map(|c| {
            format!(
                "{indent}  {{ \"id\": \"{}\", \"verdict\": \"{}\", \"finding\": \"{}\", \"fix\": {} }}",
                c.id,
                c.verdict.as_str(),
                json_escape(&c.finding),
                match &c.fix {
                    Some(fix) => format!("\"{}\"", json_escape(fix)),
                    None => "null".into(),
                }
            )
        })
        .collect();
    format!("[\n{}\n{indent}]", items.join(",\n"))
}

/// Quote arguments for the `for:` line (single quotes where needed).
fn shell_words(args: &[OsString]) -> String {
    args.iter()
        .map(|a| {
            let s = a.to_string_lossy();
            if !s.is_empty()
                && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
            {
                s.into_owned()
            } else {
                format!("'{}'", s.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `nestwrap --diagnose ARGS...` (`args` is what follows `--diagnose`).
/// Returns the exit status.
pub fn main(args: Vec<OsString>) -> i32 {
    let mut reporter = Reporter::stderr();
    let req = match parse_request(args) {
        Ok(r) => r,
        Err(msg) => {
            reporter.error(&msg);
            return 1;
        }
    };
    // Probe children are fork-style clones: only sound single-threaded.
    if crate::sys::check_single_threaded().is_err() {
        reporter.error("internal error: more than one thread before clone");
        return 1;
    }
    let report = Report::build(req.bwrap_args);
    let text = if req.json { report.json() } else { report.human() };
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Ok(()) => 0,
        Err(e) => {
            reporter.error(&format!("writing the report: {e}"));
            1
        }
    }
}

#[cfg(test)]
mod tests;
