//! The one integration test binary (autotests = false, as ripgrep does).
//! Every test that needs namespaces spawns the real binary: namespace code
//! never runs inside this multi-threaded harness process.

mod util;

mod cli;
mod data_ops;
mod hostile;
mod monitoring;
mod sandbox;
