//! Redis refusing the server's credentials is named as such: at start, whenever it begins,
//! and in readiness (before: "not reachable", `WRONGPASS` only at DEBUG).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{OwnRedis, Server, free_port, server_command};

/// Runs a command on `redis` as a client that knows `password`.
fn redis_cli(redis: &OwnRedis, password: &str, args: &[&str]) {
    let status = Command::new("redis-cli")
        .args([
            "-p",
            &redis.port.to_string(),
            "-a",
            password,
            "--no-auth-warning",
        ])
        .args(args)
        .stdout(Stdio::null())
        .status()
        .expect("redis-cli runs");
    assert!(status.success(), "redis-cli {args:?}");
}

/// Waits (at most 10 s) until the server has logged `n` WARN lines naming authentication.
fn until_auth_warnings(server: &Server, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let lines: Vec<String> = server
            .output()
            .into_iter()
            .filter(|l| l.contains("WARN") && l.contains("authentication"))
            .collect();
        if lines.len() >= n {
            return lines;
        }
        assert!(Instant::now() < deadline, "{:?}", server.output());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The cache check of `/health/ready` (which stays 200: the cache is optional).
fn cache_check(server: &Server) -> serde_json::Value {
    let ready = server.request("GET", "/health/ready", &[]);
    assert_eq!(ready.status, 200, "{}", ready.body);
    ready.json()["checks"]["cache"].clone()
}

#[test]
fn redis_refusing_the_credentials_is_named_at_start_on_change_and_in_readiness() {
    let redis = OwnRedis::start_with(free_port(), &["--requirepass", "right-pw"]);
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().to_str().expect("utf-8");
    let url = |password: &str| format!("redis://:{password}@127.0.0.1:{}", redis.port);

    // At start.
    let mut cmd = server_command();
    cmd.args(["--data-dir", data, "--redis-url", &url("wrong-pw")]);
    let mut wrong = Server::start(cmd);
    until_auth_warnings(&wrong, 1);
    let check = cache_check(&wrong);
    assert_eq!(check["status"], "degraded", "{check}");
    assert!(
        check["error"]
            .as_str()
            .unwrap_or_default()
            .contains("authentication failed"),
        "{check}"
    );
    assert!(!wrong.output().join("\n").contains("wrong-pw"));
    assert!(wrong.terminate(Duration::from_secs(10)).is_some());

    // On a change: connected, then Redis stops taking the password.
    let mut cmd = server_command();
    cmd.args(["--data-dir", data, "--redis-url", &url("right-pw")]);
    let mut server = Server::start(cmd);
    assert_eq!(cache_check(&server)["status"], "ok");
    redis_cli(
        &redis,
        "right-pw",
        &["CONFIG", "SET", "requirepass", "new-pw"],
    );
    redis_cli(
        &redis,
        "new-pw",
        &["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"],
    );
    until_auth_warnings(&server, 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cache_check(&server)["error"]
        .as_str()
        .unwrap_or_default()
        .contains("authentication failed")
    {
        assert!(Instant::now() < deadline, "{}", cache_check(&server));
        std::thread::sleep(Duration::from_millis(50));
    }
    // And back.
    redis_cli(
        &redis,
        "new-pw",
        &["CONFIG", "SET", "requirepass", "right-pw"],
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while cache_check(&server)["status"] != "ok" {
        assert!(Instant::now() < deadline, "{}", cache_check(&server));
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = server.output().join("\n");
    assert!(
        !out.contains("right-pw") && !out.contains("new-pw"),
        "{out}"
    );
    assert!(server.terminate(Duration::from_secs(10)).is_some());
}
