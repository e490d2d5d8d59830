//! The one owner of termination. SIGINT, SIGTERM and SIGHUP are caught once, when the runtime
//! starts, and turned into a cancellation that every wait of every task selects on. A task that
//! sees it stops what it started in the container, removes what it created half-way, hands back
//! what the build wrote, and returns [`Interrupted`]; `main` turns that into exit 130 / 143 / 129.
//!
//! One owner because tokio keeps a signal captured for the whole process once it is registered:
//! a `select!` on `ctrl_c()` in one place swallows a Ctrl-C that arrives between two of them.
//! A second signal sets [`Cancel::hurry`]: cleanup waits are cut short, the report never is.
//! How long each cleanup may wait is one of the named [`Limit`]s below, read through
//! [`Cancel::limit`]; the API is [`Cancel::run`] (a future unless a signal comes first) and
//! [`Cancel::cancelled`] (to `select!` on).

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sig {
    Int,
    Term,
    Hup,
}

impl Sig {
    /// The shell convention: 128 + the signal number.
    pub fn exit_code(self) -> u8 {
        match self {
            Sig::Int => 130,
            Sig::Term => 143,
            Sig::Hup => 129,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Sig::Int => "SIGINT",
            Sig::Term => "SIGTERM",
            Sig::Hup => "SIGHUP",
        }
    }
}

/// The error a task returns when a signal ended it (after its cleanup).
#[derive(Debug, Clone, Copy)]
pub struct Interrupted(pub Sig);

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "interrupted ({})", self.0.name())
    }
}

impl std::error::Error for Interrupted {}

/// A cleanup wait: its bound, and the moment it gets after a second signal.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub normal: Duration,
    pub hurried: Duration,
}

const fn limit(normal_ms: u64, hurried_ms: u64) -> Limit {
    Limit {
        normal: Duration::from_millis(normal_ms),
        hurried: Duration::from_millis(hurried_ms),
    }
}

/// A nested dockerd: SIGTERM, then SIGKILL after this.
pub const DAEMON_STOP: Limit = limit(10_000, 1_000);
/// A process group in the dev container (a build): SIGTERM, then SIGKILL after this.
pub const GROUP_STOP: Limit = limit(5_000, 500);
/// A child on this machine (the image build's CLI): SIGTERM, then SIGKILL after this.
pub const CHILD_STOP: Limit = limit(5_000, 500);
/// A container create already sent when the signal came: let it land, then remove it.
pub const CREATE_SETTLE: Limit = limit(3_000, 500);
/// The whole cleanup after a signal; past this the tool exits anyway.
pub const CLEANUP: Limit = limit(20_000, 2_000);

#[derive(Clone)]
pub struct Cancel {
    rx: watch::Receiver<Option<Sig>>,
    hurry: Arc<AtomicBool>,
    /// Milliseconds the whole cleanup may take beyond [`CLEANUP`] (a split run's children).
    longer: Arc<std::sync::atomic::AtomicU64>,
}

impl Cancel {
    /// Register the handlers; call once, inside the runtime, before any task starts.
    pub fn install() -> Result<Cancel> {
        let (tx, rx) = watch::channel(None);
        let hurry = Arc::new(AtomicBool::new(false));
        let mut int = signal(SignalKind::interrupt()).context("cannot catch SIGINT")?;
        let mut term = signal(SignalKind::terminate()).context("cannot catch SIGTERM")?;
        let mut hup = signal(SignalKind::hangup()).context("cannot catch SIGHUP")?;
        let h = hurry.clone();
        tokio::spawn(async move {
            loop {
                let sig = tokio::select! {
                    _ = int.recv() => Sig::Int,
                    _ = term.recv() => Sig::Term,
                    _ = hup.recv() => Sig::Hup,
                };
                if tx.borrow().is_some() {
                    h.store(true, Ordering::SeqCst);
                } else {
                    tx.send_replace(Some(sig));
                }
            }
        });
        Ok(Cancel {
            rx,
            hurry,
            longer: Default::default(),
        })
    }

    /// The signal received so far, if any.
    pub fn signal(&self) -> Option<Sig> {
        *self.rx.borrow()
    }

    /// `Err(Interrupted)` once a signal arrived: for checks between synchronous steps.
    pub fn check(&self) -> Result<(), Interrupted> {
        match self.signal() {
            Some(s) => Err(Interrupted(s)),
            None => Ok(()),
        }
    }

    /// [`Cancel::check`] after letting the runtime deliver a pending signal: for the gaps
    /// between synchronous stretches (hashing artifacts), where nothing else polls it.
    pub async fn check_now(&self) -> Result<(), Interrupted> {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        self.check()
    }

    /// A second signal arrived: cut cleanup waits short.
    pub fn hurry(&self) -> bool {
        self.hurry.load(Ordering::SeqCst)
    }

    /// The whole cleanup may take `d` more than [`CLEANUP`]: for a process that waits for
    /// children with cleanups of their own.
    pub fn allow_longer_cleanup(&self, d: Duration) {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        self.longer.fetch_max(ms, Ordering::SeqCst);
    }

    /// How long the whole cleanup may take now ([`CLEANUP`] and any allowance).
    pub fn cleanup_limit(&self) -> Duration {
        let longer = Duration::from_millis(self.longer.load(Ordering::SeqCst));
        match self.hurry() {
            true => CLEANUP.hurried + longer / 10,
            false => CLEANUP.normal + longer,
        }
    }

    /// How long a cleanup of kind `l` may wait now.
    pub fn limit(&self, l: Limit) -> Duration {
        if self.hurry() {
            l.hurried
        } else {
            l.normal
        }
    }

    /// Resolves when a signal arrives.
    pub async fn cancelled(&self) -> Sig {
        let mut rx = self.rx.clone();
        loop {
            if let Some(s) = *rx.borrow_and_update() {
                return s;
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// `fut`, unless a signal arrives first (then `fut` is dropped).
    pub async fn run<T>(&self, fut: impl Future<Output = T>) -> Result<T, Interrupted> {
        tokio::select! {
            biased;
            s = self.cancelled() => Err(Interrupted(s)),
            v = fut => Ok(v),
        }
    }
}
