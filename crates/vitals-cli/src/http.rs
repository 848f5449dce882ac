//! The one HTTP call every command makes: `GET <host>/api/v1/metrics`, with a timeout and an
//! optional bearer token, measured from send to last body byte.

use std::time::{Duration, Instant, SystemTime};

use anyhow::bail;
use serde_json::Value;

/// The path of the JSON snapshot on a Vitals server.
pub const METRICS_PATH: &str = "/api/v1/metrics";

/// Default server, as `vitals-server` listens out of the box.
pub const DEFAULT_HOST: &str = "http://127.0.0.1:8000";

/// A server base URL, normalised (`http://` added when missing, no trailing slash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Host(String);

impl Host {
    /// Accepts `http://h:p`, `h:p` or `http://h:p/`; refuses `https://` (no TLS in this build).
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let text = text.trim().trim_end_matches('/');
        if text.is_empty() {
            bail!("empty --host; give a URL such as {DEFAULT_HOST}");
        }
        if text.starts_with("https://") {
            bail!(
                "{text}: https is not supported by this build; poll the server over http \
                 (e.g. on loopback or through a tunnel)"
            );
        }
        let url = if text.starts_with("http://") {
            text.to_owned()
        } else if text.contains("://") {
            bail!("{text}: only http:// URLs are supported, e.g. {DEFAULT_HOST}");
        } else {
            format!("http://{text}")
        };
        Ok(Self(url))
    }

    /// The base URL, e.g. `http://127.0.0.1:8000`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn metrics_url(&self) -> String {
        format!("{}{METRICS_PATH}", self.0)
    }
}

impl std::fmt::Display for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

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
                    "HTTP {status}: the server wants a metrics token; pass --token or set VITALS_METRICS_TOKEN"
                ),
            };
        }
        if !(200..300).contains(&status) {
            return Outcome::Http {
                status,
                message: format!("HTTP {status} from {}", host.metrics_url()),
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
                    host.metrics_url()
                ),
            },
        }
    }
}

fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => {
            "timed out (raise --timeout if the server is just slow)".to_owned()
        }
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused (is the server running on that port?)".to_owned()
        }
        ureq::Error::HostNotFound => "host not found (check the --host name)".to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_normalised() {
        let h = Host::parse("127.0.0.1:8000/").expect("valid");
        assert_eq!(h.as_str(), "http://127.0.0.1:8000");
        assert_eq!(h.metrics_url(), "http://127.0.0.1:8000/api/v1/metrics");
        assert!(Host::parse("https://x").is_err());
        assert!(Host::parse("ftp://x").is_err());
        assert!(Host::parse(" ").is_err());
    }
}
