//! Memory after a connection flood: the real `vitals-server` receives thousands of
//! connections at once, each asking for a user's history and held open; then they all close
//! and the server's VmRSS is followed for a minute, against its idle figure.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};

use super::client::Connection;
use super::process::Server;

/// The sizes of the phase.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Connections open at once.
    pub connections: u32,
    /// How long RSS is followed after they close.
    pub follow: Duration,
}

/// What the phase saw.
pub struct Flood {
    /// The plan it ran.
    pub plan: Plan,
    /// VmRSS just before the flood, KiB.
    pub before_kib: u64,
    /// VmRSS with every connection open and answered, KiB.
    pub held_kib: u64,
    /// (seconds after the last close, VmRSS KiB), one sample a second.
    pub after: Vec<(u64, u64)>,
}

impl Flood {
    /// The last sample's VmRSS, KiB.
    pub fn settled_kib(&self) -> u64 {
        self.after.last().map_or(self.held_kib, |&(_, kib)| kib)
    }

    /// The first second after which every sample stayed within `margin_kib` of `idle_kib`.
    pub fn back_within(&self, idle_kib: u64, margin_kib: u64) -> Option<u64> {
        let limit = idle_kib + margin_kib;
        let last_above = self.after.iter().rposition(|&(_, kib)| kib > limit);
        match last_above {
            None => self.after.first().map(|&(s, _)| s),
            Some(i) => self.after.get(i + 1).map(|&(s, _)| s),
        }
    }
}

/// Floods `server` (embedded defaults) and follows its memory.
pub fn run(server: &Server, plan: Plan) -> Result<Flood> {
    eprintln!(
        "bench: flood of {} held connections, then RSS for {} s",
        plan.connections,
        plan.follow.as_secs()
    );
    // Ours and the server's descriptors: raise the soft limit as the server does.
    let limit =
        rlimit::increase_nofile_limit(u64::MAX).context("cannot raise the open-file limit")?;
    ensure!(
        limit > u64::from(plan.connections) + 100,
        "the open-file limit is {limit}: too low to hold {} connections (raise `ulimit -Hn`)",
        plan.connections
    );
    let before_kib = server.rss_kib()?;
    let mut held = Vec::with_capacity(plan.connections as usize);
    for i in 0..plan.connections {
        let mut conn = Connection::open(server.addr)?;
        let answer = conn.get(&format!("/api/v1/users/flood{}/history", i % 500))?;
        ensure!(
            answer.status == 200,
            "history request {i} of the flood answered {}",
            answer.status
        );
        held.push(conn);
    }
    let held_kib = server.rss_kib()?;
    drop(held);
    let closed = Instant::now();
    let mut after = Vec::new();
    for second in 1..=plan.follow.as_secs() {
        let at = closed + Duration::from_secs(second);
        std::thread::sleep(at.saturating_duration_since(Instant::now()));
        after.push((second, server.rss_kib()?));
    }
    Ok(Flood {
        plan,
        before_kib,
        held_kib,
        after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_within_is_the_start_of_the_last_stretch_under_the_limit() {
        let flood = |after: Vec<(u64, u64)>| Flood {
            plan: Plan {
                connections: 1,
                follow: Duration::from_secs(3),
            },
            before_kib: 0,
            held_kib: 90,
            after,
        };
        assert_eq!(
            flood(vec![(1, 80), (2, 20), (3, 25)]).back_within(10, 20),
            Some(2)
        );
        assert_eq!(
            flood(vec![(1, 20), (2, 40), (3, 25)]).back_within(10, 20),
            Some(3)
        );
        assert_eq!(flood(vec![(1, 20), (2, 20)]).back_within(10, 20), Some(1));
        assert_eq!(flood(vec![(1, 80), (2, 80)]).back_within(10, 20), None);
    }
}
