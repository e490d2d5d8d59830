//! A scenario's steps, each recorded as it passes or fails, so one failure does not hide the
//! steps after it: a failed [`Steps::step`] is noted and the scenario goes on; a failed
//! [`Steps::needs`] (a step the rest cannot do without) ends it there. [`Steps::finish`] prints
//! every step's result and fails the test listing every failed step.

use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use anyhow::Result;

/// The steps of one scenario, in order.
pub struct Steps {
    scenario: String,
    done: Vec<Done>,
    finished: bool,
}

struct Done {
    name: String,
    /// `None`: passed.
    error: Option<String>,
    took: Duration,
}

impl Steps {
    pub fn new(scenario: impl Into<String>) -> Steps {
        Steps {
            scenario: scenario.into(),
            done: Vec::new(),
            finished: false,
        }
    }

    /// Run a step and record how it went (its error, or its panic); the scenario goes on either
    /// way. Its value if it passed.
    pub fn step<T>(&mut self, name: impl Into<String>, f: impl FnOnce() -> Result<T>) -> Option<T> {
        let name = name.into();
        let t = Instant::now();
        let got = match catch_unwind(AssertUnwindSafe(f)) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(format!("{e:#}")),
            Err(panic) => Err(format!("panicked: {}", panic_message(&*panic))),
        };
        let took = t.elapsed();
        match &got {
            Ok(_) => println!("{}: ok: {name} ({took:.1?})", self.scenario),
            Err(e) => println!("{}: FAILED: {name} ({took:.1?}): {e}", self.scenario),
        }
        let (v, error) = match got {
            Ok(v) => (Some(v), None),
            Err(e) => (None, Some(e)),
        };
        self.done.push(Done { name, error, took });
        v
    }

    /// A step the rest of the scenario needs: if it fails, the scenario ends here, failing with
    /// every step so far.
    pub fn needs<T>(&mut self, name: impl Into<String>, f: impl FnOnce() -> Result<T>) -> T {
        let name = name.into();
        match self.step(name.clone(), f) {
            Some(v) => v,
            None => {
                self.finished = true;
                panic!(
                    "{}\nstopped at `{name}`: the steps after it need it",
                    self.report()
                );
            }
        }
    }

    /// Steps passed so far.
    pub fn passed(&self) -> usize {
        self.done.iter().filter(|d| d.error.is_none()).count()
    }

    /// Steps failed so far.
    pub fn failed(&self) -> usize {
        self.done.len() - self.passed()
    }

    /// Steps recorded so far.
    pub fn len(&self) -> usize {
        self.done.len()
    }

    pub fn is_empty(&self) -> bool {
        self.done.is_empty()
    }

    /// Every step's result, then the failed ones again.
    fn report(&self) -> String {
        let mut r = format!(
            "{}: {}/{} steps passed",
            self.scenario,
            self.passed(),
            self.done.len()
        );
        for d in &self.done {
            let _ = match &d.error {
                None => write!(r, "\n  ok      {} ({:.1?})", d.name, d.took),
                Some(_) => write!(r, "\n  FAILED  {} ({:.1?})", d.name, d.took),
            };
        }
        if self.failed() > 0 {
            let _ = write!(r, "\n{} failed:", self.failed());
            for d in &self.done {
                if let Some(e) = &d.error {
                    let _ = write!(r, "\n- {}: {e}", d.name);
                }
            }
        }
        r
    }

    /// The end of the scenario: every step's result, printed, or in the panic that lists each
    /// failed step if any failed.
    pub fn finish(mut self) {
        self.finished = true;
        let report = self.report();
        if self.failed() > 0 {
            panic!("{report}");
        }
        println!("{report}");
    }
}

impl Drop for Steps {
    /// Left without [`Steps::finish`] (the test returned an error first): what ran so far.
    fn drop(&mut self) {
        if !self.finished && !std::thread::panicking() {
            eprintln!(
                "{}\n(the scenario ended before its last step)",
                self.report()
            );
        }
    }
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::Steps;
    use anyhow::{bail, ensure};

    fn message(p: Box<dyn std::any::Any + Send>) -> String {
        super::panic_message(&*p)
    }

    #[test]
    fn every_failed_step_is_listed_and_the_rest_still_run() {
        let mut ran = Vec::new();
        let p = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut s = Steps::new("demo");
            assert_eq!(s.step("one", || Ok(1)), Some(1));
            assert_eq!(
                s.step("two", || -> anyhow::Result<()> { bail!("two broke") }),
                None
            );
            ran.push("three");
            s.step("three", || {
                ensure!(1 + 1 == 3, "arithmetic");
                Ok(())
            });
            s.step("four", || -> anyhow::Result<()> { panic!("four panicked") });
            s.step("five", || Ok(()));
            assert_eq!((s.passed(), s.failed(), s.len()), (2, 3, 5));
            s.finish();
        }))
        .expect_err("finish must fail the test");
        let m = message(p);
        assert_eq!(ran, ["three"]);
        assert!(m.starts_with("demo: 2/5 steps passed"), "{m}");
        for line in [
            "- two: two broke",
            "- three: arithmetic",
            "- four: panicked: four panicked",
            "  ok      five",
        ] {
            assert!(m.contains(line), "{line:?} not in {m}");
        }
    }

    #[test]
    fn a_needed_step_ends_the_scenario() {
        let p = std::panic::catch_unwind(|| {
            let mut s = Steps::new("needs");
            s.step("first", || -> anyhow::Result<()> { bail!("first broke") });
            let _: u32 = s.needs("setup", || bail!("no fixture"));
            unreachable!("after a failed needed step");
        })
        .expect_err("a failed needed step must fail the test");
        let m = message(p);
        assert!(
            m.contains("- first: first broke") && m.contains("- setup: no fixture"),
            "{m}"
        );
        assert!(m.contains("stopped at `setup`"), "{m}");
    }

    #[test]
    fn all_passed_is_no_failure() {
        let mut s = Steps::new("fine");
        s.step("a", || Ok(()));
        s.needs("b", || Ok(()));
        s.finish();
    }
}
