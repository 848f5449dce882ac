//! The one HTTP call every command makes: `GET <host>/api/v1/metrics`, with a timeout and an
//! optional bearer token, measured from send to last body byte.

use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

/// The path of the JSON snapshot on a Vitals server.
pub const METRICS_PATH: &str = "/api/v1/metrics";

/// Default server, as `vitals-server` listens out of the box.
pub const DEFAULT_HOST: &str = "http://127.0.0.1:8000";

/// A server base URL, normalised (`http://` added when missing, no trailing slash).
///
/// A password in the URL (`http://user:pw@host`) is used for the request (as HTTP basic
/// authentication) but never shown: [`Host::as_str`] and `Display` mask it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Host {
    /// The URL requests go to, credentials included.
    url: String,
    /// The same URL with the userinfo masked, for every message, table and file.
    shown: String,
}

impl Host {
    /// Accepts `http://h:p`, `h:p`, `http://h:p/` and `http://user:pw@h:p`; refuses other
    /// schemes (and `https://`: there is no TLS in this build), an empty host, a port that is
    /// not a number, a query or fragment, and spaces or control characters.
    pub fn parse(text: &str) -> Result<Self, UsageError> {
        let text = text.trim();
        let shown_input = crate::text::clean(&crate::text::redact_urls(text));
        let bad = |why: &str| {
            UsageError(format!(
                "--host `{shown_input}`: {why}; give a URL such as {DEFAULT_HOST}"
            ))
        };
        if text.is_empty() {
            return Err(UsageError(format!(
                "--host is empty; give a URL such as {DEFAULT_HOST}"
            )));
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("a URL has no spaces or control characters"));
        }
        let (scheme, rest) = match text.split_once("://") {
            Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
            None => ("http".to_owned(), text),
        };
        match scheme.as_str() {
            "http" => {}
            "https" => {
                return Err(UsageError(format!(
                    "--host `{shown_input}`: https is not supported by this build; poll the \
                     server over http (e.g. on loopback or through a tunnel)"
                )));
            }
            _ => return Err(bad("only http:// URLs are supported")),
        }
        let rest = rest.trim_end_matches('/');
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        if path.contains(['?', '#']) {
            return Err(bad(
                "give the server's base URL, without a query or fragment",
            ));
        }
        let (userinfo, host_port) = match authority.rsplit_once('@') {
            Some((userinfo, host_port)) => (Some(userinfo), host_port),
            None => (None, authority),
        };
        let (host, port) = if let Some(v6) = host_port.strip_prefix('[') {
            match v6.split_once(']') {
                Some((addr, after)) => (addr, after.strip_prefix(':')),
                None => return Err(bad("an IPv6 address needs its closing `]`")),
            }
        } else {
            match host_port.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (host_port, None),
            }
        };
        if host.is_empty() {
            return Err(bad("the URL names no host"));
        }
        if let Some(port) = port
            && port.parse::<u16>().map_or(true, |p| p == 0)
        {
            return Err(bad("the port must be a number from 1 to 65535"));
        }
        let shown_authority = match userinfo {
            Some(u) => format!("{}@{host_port}", crate::text::mask_userinfo(u)),
            None => host_port.to_owned(),
        };
        Ok(Self {
            url: format!("http://{authority}{path}"),
            shown: format!("http://{shown_authority}{path}"),
        })
    }

    /// The base URL as it may be shown, e.g. `http://127.0.0.1:8000` (password masked).
    pub fn as_str(&self) -> &str {
        &self.shown
    }

    /// Where requests go (credentials included: never print this).
    fn metrics_url(&self) -> String {
        format!("{}{METRICS_PATH}", self.url)
    }

    /// The metrics URL as it may be shown.
    fn shown_metrics_url(&self) -> String {
        format!("{}{METRICS_PATH}", self.shown)
    }
}

impl std::fmt::Display for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

/// A mistake in the command line found after clap parsed it (a bad `--host`): the command
/// exits as for any usage error (2, or 3 UNKNOWN for `alerts`).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// A blocking client with one overall timeout per request.
#[derive(Clone, Debug)]
pub struct Client {
    agent: ureq::Agent,
    token: Option<String>,
}

/// What one poll gave.
#[derive(Clone, Debug)]
pub struct Poll {
    /// Wall-clock time the request was sent.
    pub started: SystemTime,
    /// Send to last body byte (or to the failure).
    pub elapsed: Duration,
    /// The answer, or why there was none.
    pub outcome: Outcome,
}

/// The result of a poll.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// 2xx with a JSON body.
    Ok {
        /// HTTP status.
        status: u16,
        /// The parsed body.
        body: Value,
    },
    /// The server answered, but not with a usable snapshot.
    Http {
        /// HTTP status (0 never appears here).
        status: u16,
        /// What was wrong, with a hint.
        message: String,
    },
    /// No answer: refused, timed out, reset.
    Unreachable {
        /// What happened.
        message: String,
    },
}

impl Outcome {
    /// HTTP status, 0 when there was no answer.
    pub fn status(&self) -> u16 {
        match self {
            Outcome::Ok { status, .. } | Outcome::Http { status, .. } => *status,
            Outcome::Unreachable { .. } => 0,
        }
    }

    /// The error text, if the poll failed.
    pub fn error(&self) -> Option<&str> {
        match self {
            Outcome::Ok { .. } => None,
            Outcome::Http { message, .. } | Outcome::Unreachable { message } => Some(message),
        }
    }
}

impl Client {
    /// A client whose requests give up after `timeout`.
    pub fn new(timeout: Duration, token: Option<&str>) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .user_agent(concat!("vitals/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Self {
            agent,
            token: token.map(str::to_owned),
        }
    }

    /// Fetches the metrics snapshot of `host`. Never fails: failures are an [`Outcome`].
    pub fn poll(&self, host: &Host) -> Poll {
        let started = SystemTime::now();
        let clock = Instant::now();
        let outcome = self.fetch(host);
        Poll {
            started,
            elapsed: clock.elapsed(),
            outcome,
        }
    }

    fn fetch(&self, host: &Host) -> Outcome {
        let mut request = self.agent.get(host.metrics_url());
        if let Some(token) = &self.token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        let mut response = match request.call() {
            Ok(r) => r,
            Err(e) => {
                return Outcome::Unreachable {
                    message: describe(&e),
                };
            }
        };
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string();
        if status == 401 || status == 403 {
            return Outcome::Http {
                status,
                message: format!(
                    "HTTP {status} from {}: the server wants a metrics token; pass --token or set \
                     VITALS_METRICS_TOKEN",
                    host.shown_metrics_url()
                ),
            };
        }
        if !(200..300).contains(&status) {
            return Outcome::Http {
                status,
                message: format!("HTTP {status} from {}", host.shown_metrics_url()),
            };
        }
        let text = match text {
            Ok(t) => t,
            Err(e) => {
                return Outcome::Unreachable {
                    message: format!("reading the answer failed: {}", describe(&e)),
                };
            }
        };
        match serde_json::from_str::<Value>(&text) {
            Ok(body) if body.is_object() => Outcome::Ok { status, body },
            Ok(_) | Err(_) => Outcome::Http {
                status,
                message: format!(
                    "{} did not answer with a JSON object; is this a Vitals server?",
                    host.shown_metrics_url()
                ),
            },
        }
    }
}

/// What a raw fetch gave: the status and the body, or no answer.
#[derive(Debug)]
pub enum Fetched {
    /// 2xx: the body.
    Ok(Vec<u8>),
    /// Another status, with a message in words (the server's JSON error message when it sent one).
    Http {
        /// HTTP status.
        status: u16,
        /// What was wrong, with a hint.
        message: String,
    },
    /// No answer: refused, timed out, reset.
    Unreachable(String),
}

impl Client {
    /// `GET <host><path_and_query>` with the token, the body as bytes. Never fails: failures
    /// are a [`Fetched`].
    pub fn get_bytes(&self, host: &Host, path_and_query: &str) -> Fetched {
        let shown = format!(
            "{}{}",
            host.shown,
            path_and_query.split('?').next().unwrap_or("")
        );
        let mut request = self.agent.get(format!("{}{path_and_query}", host.url));
        if let Some(token) = &self.token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        let mut response = match request.call() {
            Ok(r) => r,
            Err(e) => return Fetched::Unreachable(describe(&e)),
        };
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(256 * 1024 * 1024)
            .read_to_vec();
        let body = match body {
            Ok(b) => b,
            Err(e) => {
                return Fetched::Unreachable(format!(
                    "reading the answer failed: {}",
                    describe(&e)
                ));
            }
        };
        if (200..300).contains(&status) {
            return Fetched::Ok(body);
        }
        let server_message = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(crate::text::clean));
        let hint = match status {
            401 | 403 => {
                " (the server wants a metrics token; pass --token or set VITALS_METRICS_TOKEN)"
                    .to_owned()
            }
            _ => server_message.map_or(String::new(), |m| format!(": {m}")),
        };
        Fetched::Http {
            status,
            message: format!("HTTP {status} from {shown}{hint}"),
        }
    }
}

/// A transport error in words, with any URL in it masked and control characters removed.
fn describe(e: &ureq::Error) -> String {
    let text = match e {
        ureq::Error::Timeout(_) => {
            "timed out (raise --timeout if the server is just slow)".to_owned()
        }
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused (is the server running on that port?)".to_owned()
        }
        ureq::Error::HostNotFound => "host not found (check the --host name)".to_owned(),
        other => other.to_string(),
    };
    crate::text::clean(&crate::text::redact_urls(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_normalised() {
        let h = Host::parse("127.0.0.1:8000/").expect("valid");
        assert_eq!(h.as_str(), "http://127.0.0.1:8000");
        assert_eq!(h.metrics_url(), "http://127.0.0.1:8000/api/v1/metrics");
        let h = Host::parse("HTTP://[::1]:8000/base/").expect("valid");
        assert_eq!(h.as_str(), "http://[::1]:8000/base");
        for bad in [
            "https://x",
            "ftp://x",
            " ",
            "",
            "http://",
            "http://:8000",
            "http://h:",
            "http://h:99999",
            "http://h:x",
            "http://u:p@",
            "http://h/?a=1",
            "http://h x",
            "http://[::1",
        ] {
            assert!(Host::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn credentials_are_used_but_never_shown() {
        let h = Host::parse("http://user:s3cret@127.0.0.1:8000").expect("valid");
        assert_eq!(h.as_str(), "http://user:***@127.0.0.1:8000");
        assert_eq!(h.to_string(), "http://user:***@127.0.0.1:8000");
        assert_eq!(
            h.shown_metrics_url(),
            "http://user:***@127.0.0.1:8000/api/v1/metrics"
        );
        assert_eq!(
            h.metrics_url(),
            "http://user:s3cret@127.0.0.1:8000/api/v1/metrics"
        );
        let h = Host::parse("http://tok3n@h:1").expect("valid");
        assert_eq!(h.as_str(), "http://***@h:1");
        let e = Host::parse("ftp://user:s3cret@x").expect_err("ftp");
        assert!(!e.to_string().contains("s3cret"), "{e}");
        assert!(e.to_string().contains("user:***@x"), "{e}");
        let e = Host::parse("http://user:s3cret@:80").expect_err("no host");
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }
}
