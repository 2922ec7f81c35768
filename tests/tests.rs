//! The one integration test binary (autotests = false, as ripgrep does).
//! Every test that needs namespaces spawns the real binary: namespace code
//! never runs inside this multi-threaded harness process.

mod util;

mod badinput;
mod cli;
mod clients;
mod compat;
mod data_ops;
mod diagnose;
mod escapes;
mod faults;
mod generated;
mod hostile;
mod inroot;
mod inventory;
mod monitoring;
mod proptest_parse;
mod sandbox;
mod scopes;
mod security;
