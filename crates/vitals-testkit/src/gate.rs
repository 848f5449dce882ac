//! A gate in front of a TCP service (PostgreSQL in the server's tests and the fleet run):
//! open, refusing, stalled or holding, the failure modes the chaos and hardening tests need.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const OPEN: u8 = 0;
const REFUSE: u8 = 1;
const STALL: u8 = 2;
const HOLD: u8 = 3;

/// A loopback gate in front of a service: open (forwarding), refusing (port closed, so
/// connects get ECONNREFUSED), stalled (connections accepted and never answered; the open
/// ones stop forwarding and are dropped when the gate opens) or holding (nothing forwarded
/// either way, every byte kept and delivered when the gate opens: a network partition that
/// heals, as TCP retransmission makes it look to both ends).
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
                    while mode.load(Ordering::SeqCst) == HOLD {
                        tokio::time::sleep(Duration::from_millis(10)).await;
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
                            while matches!(mode.load(Ordering::SeqCst), STALL | HOLD) {
                                tokio::time::sleep(Duration::from_millis(10)).await;
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
                            while matches!(mode.load(Ordering::SeqCst), STALL | HOLD) {
                                tokio::time::sleep(Duration::from_millis(10)).await;
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

    /// `url` with the gate's target (`host:port`) replaced by the gate's own address, so that
    /// a client of the URL goes through the gate. Panics when `url` does not name the target.
    pub fn route(&self, url: &str) -> String {
        let routed = url.replacen(&self.target.to_string(), &self.addr.to_string(), 1);
        assert_ne!(routed, url, "{url} does not name {}", self.target);
        routed
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

    /// Forwards nothing in either direction and keeps what it holds; [`Gate::open`] delivers
    /// it, in order, to both ends.
    pub fn hold(&self) {
        self.mode.store(HOLD, Ordering::SeqCst);
    }

    /// Forwards again, after [`Gate::refuse`], [`Gate::stall`] or [`Gate::hold`].
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
