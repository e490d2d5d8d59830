//! What every test of this crate shares, one module per concern:
//!
//! - [`command`]: the real `xtask` binary, built once; [`Xtask`], the one command builder, and
//!   [`strip_env`], the one place the test environment is made; [`NO_DAEMON`].
//! - [`running`]: [`Running`], a run watched as it goes (to signal it at a chosen point).
//! - [`tier`]: [`Tier`] and the `e2e!()` / `real_trees!()` first lines; [`skipped`].
//! - [`steps`]: [`Steps`], a scenario's steps recorded one by one, every failure listed at the end.
//! - [`moby`]: Debian's moby releases ([`MOBY_2010`], [`MOBY_2615`], [`MOBY_2852`]), their trees
//!   and dev images, cached.
//! - [`fork`]: [`Scratch`] directories, hack-compat's fixture forks, [`GitFork`].
//! - [`second`]: the second terminal of the two-terminal matrix ([`second::cells`]).
//! - [`stub`]: [`stub::StubFork`], a real tree whose build and test scripts answer at once.
//! - [`remote`]: [`Remote`], an engine "elsewhere" (dockerd in a container, TLS and ssh on loopback).

pub mod command;
pub mod fork;
pub mod moby;
pub mod remote;
pub mod running;
pub mod second;
pub mod steps;
pub mod stub;
pub mod tier;

pub use command::{
    strip_env, test_summary, text, unset_env, workspace_root, xtask, xtask_bin, Xtask, NO_DAEMON,
};
pub use fork::{
    add_ci_workflows, containers_with_role, copy_tree, dev_container_processes, e4_copy,
    e4_fixture, fixture_fork, nothing_runs_in_the_dev_container, owned_by, GitFork, Scratch,
};
pub use moby::{
    cache_dir, debian_2010_tree, dev_image_2010, once, Moby, MOBY_2010, MOBY_2615, MOBY_2852,
};
pub use remote::Remote;
pub use running::Running;
pub use steps::Steps;
pub use tier::{as_root, skipped, Tier};
