//! A gate in front of a TCP service (PostgreSQL in the server's tests and the fleet run):
//! open, refusing or stalled, the failure modes the chaos and hardening tests need.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const OPEN: u8 = 0;
const REFUSE: u8 = 1;
const STALL: u8 = 2;

/// A loopback gate in front of a service: open (forwarding), refusing (port closed, so
/// connects get ECONNREFUSED) or stalled (connections accepted and never answered; the open
/// ones stop forwarding).
pub struct Gate {
    /// Where clients connect.
    pub addr: SocketAddr,
    target: SocketAddr,
    mode: Arc<AtomicU8>,
    tasks: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Gate {
    /// Starts forwarding a free loopback port to `target`, open. Needs a Tokio runtime.
    pub async fn start(target: SocketAddr) -> Self {
        Self::start_on(std::net::Ipv4Addr::LOCALHOST.into(), target).await
    }

    /// Starts forwarding a free port of `ip` (an address of this machine, e.g. the host side
    /// of a test network namespace's veth pair) to `target`, open. Needs a Tokio runtime.
    pub async fn start_on(ip: std::net::IpAddr, target: SocketAddr) -> Self {
        let probe = tokio::net::TcpListener::bind((ip, 0)).await.expect("bind");
        let addr = probe.local_addr().expect("addr");
        drop(probe);
        let gate = Self {
            addr,
            target,
            mode: Arc::new(AtomicU8::new(OPEN)),
            tasks: Arc::default(),
        };
        gate.listen().await;
        gate
    }

    async fn listen(&self) {
        // The aborted accept task drops the old listener a moment later: retry briefly.
        let mut tries = 0;
        let listener = loop {
            match tokio::net::TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(e) if tries < 100 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("rebind {}: {e}", self.addr),
            }
        };
        let (target, mode, tasks) = (self.target, Arc::clone(&self.mode), Arc::clone(&self.tasks));
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let mode = Arc::clone(&mode);
                let conn = tokio::spawn(async move {
                    let mut client = client;
                    if mode.load(Ordering::SeqCst) == STALL {
                        // Hold it silently for longer than any test phase.
                        tokio::time::sleep(Duration::from_secs(120)).await;
                        return;
                    }
                    let Ok(mut server) = TcpStream::connect(target).await else {
                        return;
                    };
                    let (mut cr, mut cw) = client.split();
                    let (mut sr, mut sw) = server.split();
                    let up = async {
                        let mut buf = [0u8; 16384];
                        loop {
                            let n = match cr.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => n,
                            };
                            while mode.load(Ordering::SeqCst) == STALL {
                                tokio::time::sleep(Duration::from_millis(20)).await;
                            }
                            if sw.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    };
                    let down = async {
                        let mut buf = [0u8; 16384];
                        loop {
                            let n = match sr.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => n,
                            };
                            while mode.load(Ordering::SeqCst) == STALL {
                                tokio::time::sleep(Duration::from_millis(20)).await;
                            }
                            if cw.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    };
                    tokio::select! { () = up => {}, () = down => {} }
                });
                tasks.lock().expect("tasks").push(conn);
            }
        });
        self.tasks.lock().expect("tasks").push(accept);
    }

    fn close_all(&self) {
        for t in self.tasks.lock().expect("tasks").drain(..) {
            t.abort();
        }
    }

    /// Closes the port (connects get ECONNREFUSED) and every open connection.
    pub fn refuse(&self) {
        self.mode.store(REFUSE, Ordering::SeqCst);
        self.close_all();
    }

    /// Accepts connections and never answers; open ones stop forwarding.
    pub fn stall(&self) {
        self.mode.store(STALL, Ordering::SeqCst);
    }

    /// Forwards again, after [`Gate::refuse`] or [`Gate::stall`].
    pub async fn open(&self) {
        let was = self.mode.swap(OPEN, Ordering::SeqCst);
        if was == REFUSE {
            self.listen().await;
        } else if was == STALL {
            // Connections held during the stall are dropped; new ones forward.
            self.close_all();
            self.listen().await;
        }
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.close_all();
    }
}
