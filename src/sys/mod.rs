//! The only module allowed to use `unsafe`. Thin wrappers over syscalls that
//! nix does not cover; each returns `Result<_, Errno>` and the caller adds the
//! step and path to any error.
pub mod fd;
