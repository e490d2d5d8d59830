//! The end-to-end tier's crate: the real `xtask` binary, run as a user would, against
//! hack-compat's fixture forks (no daemon), the real Docker daemon and Debian's moby trees. The
//! shared parts are in `support/` (see [`support`]); each test file under `tests/` is one test
//! target of one tier ([`Tier`]).

pub mod support;

pub use support::*;
