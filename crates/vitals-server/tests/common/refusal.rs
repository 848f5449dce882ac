//! A setting refused at start: what the server prints and how it exits.

use super::server_command;

/// Starts the server with `flag url` and a database it cannot reach: the URL must be refused
/// first, with exit code 2 and one line on stderr that names `flag`, contains `needle`, and
/// never shows `secret`.
pub fn refused_before_the_database(flag: &str, url: &str, needle: &str, secret: &str) {
    let output = server_command()
        .args(["--database-url", "postgres://nobody@127.0.0.1:1/none"])
        .args([flag, url])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{url}: {stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains(flag), "{stderr}");
    assert!(stderr.contains(needle), "{stderr}");
    assert!(!stderr.contains(secret), "{stderr}");
}
