//! Memory after a connection flood (issue: RSS stayed at 118–178 MB after 5,000-connection
//! floods, idle ~10 MB). The real binary receives thousands of held connections, each asking
//! for a history; once they close, its resident memory must come back down: the accept loop
//! hands freed heap pages back to the system after a surge (src/memory.rs). Without that,
//! glibc keeps them and RSS stays where the flood left it.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{Server, server_command};

const CONNECTIONS: usize = 3_000;

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("status")
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmRSS")
}

/// Sends one keep-alive history request on `stream` and reads the whole answer.
fn ask(stream: &mut TcpStream, user: usize) {
    let request = format!("GET /api/v1/users/flood{user}/history HTTP/1.1\r\nHost: t\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("write");
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).expect("read");
        assert!(n > 0, "closed before the answer was complete");
        raw.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&raw);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            assert!(head.starts_with("HTTP/1.1 200"), "{head}");
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .expect("content-length");
            if body.len() >= length {
                return;
            }
        }
    }
}

#[test]
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn resident_memory_comes_back_after_a_connection_flood() {
    let limit = rlimit::increase_nofile_limit(u64::MAX).expect("open-file limit");
    assert!(
        limit > CONNECTIONS as u64 + 200,
        "the open-file limit ({limit}) is too low for this test; raise `ulimit -Hn`"
    );
    let data = tempfile::tempdir().expect("tempdir");
    let mut cmd = server_command();
    cmd.arg("--data-dir").arg(data.path());
    let server = Server::start(cmd);
    let pid = server.child.id();
    std::thread::sleep(Duration::from_millis(1500));
    let idle = rss_kib(pid);

    let mut held = Vec::with_capacity(CONNECTIONS);
    for i in 0..CONNECTIONS {
        let mut stream = TcpStream::connect(server.addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        ask(&mut stream, i % 300);
        held.push(stream);
    }
    let flooded = rss_kib(pid);
    assert!(
        flooded > idle + 25 * 1024,
        "the flood should have cost memory: idle {idle} KiB, flooded {flooded} KiB"
    );
    drop(held);

    // The surge check runs every 10 s; allow two of them and some slack.
    let goal = idle + (flooded - idle) / 3;
    let closed = Instant::now();
    let mut samples = Vec::new();
    loop {
        let now = rss_kib(pid);
        samples.push((closed.elapsed().as_secs_f32(), now));
        if now <= goal {
            break;
        }
        assert!(
            closed.elapsed() < Duration::from_secs(25),
            "RSS did not come back (idle {idle} KiB, flooded {flooded} KiB, goal {goal} KiB): {samples:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // And the server still answers.
    assert_eq!(server.request("GET", "/health", &[]).status, 200);
}
