//! Command-line tests against the real binary (filled in by the parser work).
