//! The `service` example run as a process, the way an application runs: on a PostgreSQL
//! database and a redis-server of its own, its routes nested under `/api/v2`, its queries
//! taking the pool as `&pool`, Vitals' endpoints on an admin listener. Then a real SIGTERM
//! with two dashboard streams and a CPU profile open and a slow request in flight: the
//! streams and the profile end at once, the slow request is answered, and the process exits
//! within a second of it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use vitals_testkit::{OwnDatabase, OwnRedis, free_port};

/// The example's binary, which `cargo test` builds beside the test binaries.
fn example() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let path = dir.join("examples").join("service");
    assert!(
        path.exists(),
        "{} is missing: run `cargo test -p vitals-axum --all-features` (which builds the examples) or `cargo build -p vitals-axum --all-features --example service` first",
        path.display()
    );
    path
}

struct Running {
    child: Child,
    public: SocketAddr,
    admin: SocketAddr,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(db: &OwnDatabase, redis: &OwnRedis) -> Running {
    let mut child = Command::new(example())
        .env("DATABASE_URL", db.url())
        .env("REDIS_URL", redis.url())
        .env("VITALS_LISTEN", "127.0.0.1:0")
        .env("ADMIN_LISTEN", "127.0.0.1:0")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the example starts");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            for (which, marker) in [
                ("public", "service listening on http://"),
                ("admin", "admin listening on http://"),
            ] {
                if let Some(rest) = line.split(marker).nth(1) {
                    let addr: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_digit() || ".:".contains(*c))
                        .collect();
                    let _ = tx.send((which, addr));
                }
            }
        }
    });
    let mut public = None;
    let mut admin = None;
    while public.is_none() || admin.is_none() {
        let (which, addr) = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the example reports both addresses");
        let addr: SocketAddr = addr.parse().expect("an address");
        if which == "public" {
            public = Some(addr);
        } else {
            admin = Some(addr);
        }
    }
    Running {
        child,
        public: public.expect("public"),
        admin: admin.expect("admin"),
    }
}

/// One request over a fresh connection: status and body.
fn request(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(40)))
        .expect("timeout");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).expect("write");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
    (status, body)
}

fn json(addr: SocketAddr, path: &str) -> Value {
    let (status, body) = request(addr, "GET", path, "");
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

#[test]
fn a_real_service_is_measured_truly_and_stops_without_waiting_on_vitals() {
    let db = OwnDatabase::create();
    let redis = OwnRedis::start(free_port());
    let service = start(&db, &redis);
    let (public, admin) = (service.public, service.admin);

    // The application's traffic: three writes in transactions, a read that misses the cache
    // and queries `&pool`, the same read from the cache, and a page that does not exist.
    for item in ["tea", "coffee", "mate"] {
        assert_eq!(request(public, "POST", "/api/v2/items", item).0, 201);
    }
    let (status, body) = request(public, "GET", "/api/v2/items/2", "");
    assert_eq!((status, body.contains("coffee")), (200, true), "{body}");
    assert_eq!(request(public, "GET", "/api/v2/items/2", "").0, 200);
    assert_eq!(request(public, "GET", "/nope", "").0, 404);
    // Vitals' endpoints live on the admin listener only.
    assert_eq!(request(public, "GET", "/metrics", "").0, 404);
    assert_eq!(request(public, "GET", "/dashboard", "").0, 404);

    let doc = json(admin, "/api/v1/metrics");
    assert_eq!(
        doc["http"]["requests_total"], 8,
        "the application's requests only: {}",
        doc["http"]
    );
    let routes: Vec<String> = doc["http"]["routes"]
        .as_array()
        .expect("routes")
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["method"].as_str().unwrap_or(""),
                r["route"].as_str().unwrap_or("")
            )
        })
        .collect();
    for route in [
        "POST /api/v2/items",
        "GET /api/v2/items/{id}",
        "GET unmatched",
    ] {
        assert!(routes.contains(&route.to_owned()), "{route} in {routes:?}");
    }
    // Four connections taken: three transactions and one query on `&pool` (the second read
    // came from the cache). Readiness probes and scrapes are not the application's.
    assert_eq!(doc["database"]["acquires_total"], 4, "{}", doc["database"]);
    assert_eq!(doc["database"]["backend"], "postgresql");
    assert_eq!(
        (
            doc["cache"]["hits"].as_u64(),
            doc["cache"]["misses"].as_u64()
        ),
        (Some(1), Some(1))
    );
    let (status, text) = request(admin, "GET", "/metrics", "");
    assert_eq!(status, 200);
    assert!(
        text.contains(
            "http_requests_total{method=\"GET\",route=\"/api/v2/items/{id}\",status=\"200\"} 2"
        ),
        "{text}"
    );
    assert!(
        !text.contains("health_agent"),
        "no name of the demo in an application's series"
    );
    assert_eq!(json(admin, "/health/ready")["status"], "ready");

    // Shutdown: two streams and a profile open, a slow request in flight, then SIGTERM.
    let mut streams = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(admin).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        s.write_all(b"GET /api/v1/metrics/stream HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("write");
        let mut reader = BufReader::new(s);
        let mut line = String::new();
        while !line.starts_with("event: sample") {
            line.clear();
            assert!(
                reader.read_line(&mut line).expect("read") > 0,
                "stream ended early"
            );
        }
        streams.push(std::thread::spawn(move || {
            let mut rest = String::new();
            let _ = reader.read_to_string(&mut rest);
            (rest.contains("event: shutdown"), Instant::now())
        }));
    }
    let profile = std::thread::spawn(move || {
        let (status, _) = request(
            admin,
            "GET",
            "/debug/pprof/profile?seconds=30&format=pb",
            "",
        );
        (status, Instant::now())
    });
    let slow = std::thread::spawn(move || {
        let (status, _) = request(public, "GET", "/api/v2/report?ms=2500", "");
        (status, Instant::now())
    });
    std::thread::sleep(Duration::from_millis(300));
    let signalled = Instant::now();
    let pid = service.child.id();
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let mut service = service;
    let deadline = Instant::now() + Duration::from_secs(20);
    let exited = loop {
        if let Ok(Some(status)) = service.child.try_wait() {
            assert!(status.success(), "exits 0: {status:?}");
            break Instant::now();
        }
        assert!(Instant::now() < deadline, "the service exits");
        std::thread::sleep(Duration::from_millis(10));
    };
    let (slow_status, answered) = slow.join().expect("slow request");
    assert_eq!(slow_status, 200, "the request in flight is answered");
    for stream in streams {
        let (last_event, ended) = stream.join().expect("stream");
        assert!(last_event, "each stream gets a last event");
        assert!(
            ended < answered,
            "streams end at once, not with the last request"
        );
    }
    let (profile_status, profiled) = profile.join().expect("profile");
    assert_eq!(
        profile_status, 200,
        "the profile answers with what it sampled"
    );
    assert!(
        profiled < answered,
        "the profile stops sampling at once, not after 30 s"
    );
    assert!(
        exited.saturating_duration_since(answered) < Duration::from_secs(1),
        "exits within a second of its last request: {:?} after it, {:?} after SIGTERM",
        exited.saturating_duration_since(answered),
        exited - signalled
    );
}
