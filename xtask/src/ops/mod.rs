//! What tasks share, so that no task calls another: the build, the install, the nested daemon,
//! the build's summary and record, and the test report.

pub mod attempts;
pub mod build;
pub mod build_record;
pub mod ci_job;
pub mod daemon;
pub mod frozen;
pub mod hashed;
pub mod inputs;
pub mod install;
pub mod kept_daemon;
pub mod live;
pub mod prehash;
pub mod suites;
pub mod summary;
pub mod test_daemon;
pub mod test_report;
pub mod unit;
pub mod watch;
