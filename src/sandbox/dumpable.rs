//! Who may ptrace or read `/proc/PID/{mem,root,cwd,environ,fd}` of nestwrap's
//! own processes. The monitor is never dumpable while COMMAND runs (bwrap's
//! is): a `/proc` fallback can show it to COMMAND. The child is cloned
//! non-dumpable when there is no monitor gate and makes itself dumpable again
//! first thing, for its own uid/gid maps. `spawn`, the monitor and the child
//! each set it at their step; the message is bwrap's.

use crate::error::{setup_errno, SetupError, Step};

/// `PR_SET_DUMPABLE` with bwrap's message.
pub fn set(on: bool) -> Result<(), SetupError> {
    nix::sys::prctl::set_dumpable(on).map_err(|e| setup_errno(Step::Prctl, "can't set dumpable", e))
}
