//! Sandbox integration tests (filled in by the harness work).
