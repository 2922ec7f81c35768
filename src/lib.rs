//! nestwrap: a drop-in reimplementation of bubblewrap (`bwrap`) 0.13.1 that
//! keeps working inside unprivileged containers.
//!
//! The pipeline is: parse (pure) → validate → prepare (parent, allocates) →
//! clone → the child applies the prepared plan and execs, while the parent
//! monitors and propagates the exit status. See DESIGN.md.
#![deny(unsafe_code)]

pub mod app;
pub mod cli;
pub mod config;
pub(crate) mod diagnose;
pub mod doc;
pub mod error;
pub(crate) mod fallback;
pub mod json;
pub mod limits;
pub mod report;
pub(crate) mod sandbox;
#[allow(unsafe_code)]
pub(crate) mod sys;

/// The version string printed by `--version`; clients parse it.
pub const BWRAP_VERSION: &str = "bubblewrap 0.13.1";

/// nestwrap's own version (man page, last line of `--help`).
pub const NESTWRAP_VERSION: &str = env!("CARGO_PKG_VERSION");
