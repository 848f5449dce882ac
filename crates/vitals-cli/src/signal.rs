//! Ctrl-C (and SIGTERM) as a flag the polling loops check: the first one asks for a clean
//! stop (flush, summary), a second one exits at once with status 130.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Set once the user asked to stop.
#[derive(Clone, Debug, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    /// Installs the handlers for SIGINT and SIGTERM.
    pub fn install() -> anyhow::Result<Self> {
        let stop = Self::default();
        #[cfg(unix)]
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            // Second signal: exit now. Order matters: the conditional handler must come first.
            signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&stop.0))?;
            signal_hook::flag::register(signal, Arc::clone(&stop.0))?;
        }
        Ok(stop)
    }

    /// Whether a stop was requested.
    pub fn requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Sleeps until `deadline`, waking early (returning `false`) when a stop is requested.
    pub fn sleep_until(&self, deadline: Instant) -> bool {
        loop {
            if self.requested() {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            std::thread::sleep((deadline - now).min(Duration::from_millis(50)));
        }
    }
}
