//! The collector's address: an `http://` URL, parsed once at start.

use std::fmt;
use std::str::FromStr;

/// Where the exporter POSTs: `http://host[:port][/path]`, e.g.
/// `http://127.0.0.1:4318/v1/metrics`.
///
/// - The port defaults to 80; a URL without a path (or with `/` alone) gets the OTLP/HTTP
///   metrics path `/v1/metrics`, any other path is used as given (query included).
/// - `user:password@` is sent as HTTP Basic authorization (percent-escapes decoded), and
///   shown as `user:***@` by `Display` and `Debug`, so logging an endpoint never shows the
///   password; the values of query parameters that look like credentials (`?api_key=…`,
///   `&token=…`) are shown as `***` likewise.
/// - `https://` is refused: the exporter speaks plain HTTP/1.1. Send to a Collector on the
///   same host or private network and let it use TLS onward.
///
/// ```
/// use vitals_export::otlp::Endpoint;
///
/// let e: Endpoint = "http://otel:s3cret@collector.internal:4318".parse().unwrap();
/// assert_eq!((e.host(), e.port(), e.path()), ("collector.internal", 4318, "/v1/metrics"));
/// assert_eq!(e.to_string(), "http://otel:***@collector.internal:4318/v1/metrics");
/// assert!("https://collector.internal:4318/v1/metrics".parse::<Endpoint>().is_err());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    host: String,
    port: u16,
    path: String,
    /// The `Host` header: `host[:port]`, IPv6 in brackets.
    authority: String,
    /// `Basic …` when the URL carries credentials.
    authorization: Option<String>,
    /// The URL as shown to people: the password replaced by `***`.
    shown: String,
}

/// Why a URL cannot be an OTLP endpoint. The messages never repeat the URL (it may hold a
/// password).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// `https://`: no TLS in this exporter.
    #[error(
        "https:// is not supported (the exporter speaks plain HTTP/1.1); send to a Collector on the same host or private network, e.g. http://127.0.0.1:4318/v1/metrics, and let it use TLS onward"
    )]
    Https,
    /// Not an `http://` URL.
    #[error("expected an http://host:port/v1/metrics URL, e.g. http://127.0.0.1:4318/v1/metrics")]
    Scheme,
    /// No host after `http://`.
    #[error("the URL names no host; e.g. http://127.0.0.1:4318/v1/metrics")]
    MissingHost,
    /// A port that is not a number from 1 to 65535.
    #[error("the port is not a number from 1 to 65535; e.g. http://127.0.0.1:4318/v1/metrics")]
    Port,
    /// Spaces or control characters, which a request line cannot carry.
    #[error("the URL contains spaces or control characters; percent-encode them")]
    Characters,
}

impl Endpoint {
    /// Host name or IP address (IPv6 without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Path and query of the request line.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The `Host` header value.
    pub(crate) fn authority(&self) -> &str {
        &self.authority
    }

    /// The `Authorization` header value, when the URL carries credentials.
    pub(crate) fn authorization(&self) -> Option<&str> {
        self.authorization.as_deref()
    }
}

impl FromStr for Endpoint {
    type Err = EndpointError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        let url = url.trim();
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(EndpointError::Characters);
        }
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(EndpointError::Scheme);
        };
        match scheme.to_ascii_lowercase().as_str() {
            "http" => {}
            "https" => return Err(EndpointError::Https),
            _ => return Err(EndpointError::Scheme),
        }
        let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        let path = path.split('#').next().unwrap_or_default();
        let path = if path.is_empty() || path == "/" {
            "/v1/metrics".to_owned()
        } else if path.starts_with('?') {
            format!("/v1/metrics{path}")
        } else {
            path.to_owned()
        };
        let (credentials, host_port) = match authority.rsplit_once('@') {
            Some((c, h)) => (Some(c), h),
            None => (None, authority),
        };
        let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
            let (host, after) = bracketed
                .split_once(']')
                .ok_or(EndpointError::MissingHost)?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or(EndpointError::Port)?),
            };
            (host, port)
        } else {
            match host_port.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (host_port, None),
            }
        };
        if host.is_empty() {
            return Err(EndpointError::MissingHost);
        }
        let port = match port {
            None => 80,
            Some(p) => match p.parse::<u16>() {
                Ok(p) if p > 0 => p,
                _ => return Err(EndpointError::Port),
            },
        };
        let authority_header = match (host.contains(':'), port) {
            (true, 80) => format!("[{host}]"),
            (true, p) => format!("[{host}]:{p}"),
            (false, 80) => host.to_owned(),
            (false, p) => format!("{host}:{p}"),
        };
        let (authorization, shown_credentials) = match credentials {
            None => (None, String::new()),
            Some(c) => {
                let (user, password) = match c.split_once(':') {
                    Some((u, p)) => (u, Some(p)),
                    None => (c, None),
                };
                let plain = format!(
                    "{}:{}",
                    percent_decode(user),
                    password.map(percent_decode).unwrap_or_default()
                );
                let shown = match password {
                    Some(_) => format!("{user}:***@"),
                    None => format!("{user}@"),
                };
                (Some(format!("Basic {}", base64(plain.as_bytes()))), shown)
            }
        };
        let shown = format!(
            "http://{shown_credentials}{authority_header}{}",
            mask_query_credentials(&path)
        );
        Ok(Self {
            host: host.to_owned(),
            port,
            path,
            authority: authority_header,
            authorization,
            shown,
        })
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Endpoint").field(&self.shown).finish()
    }
}

/// `path` with the value of every query parameter whose name contains (in any case)
/// `password`, `passwd`, `pwd`, `secret`, `token`, `key`, `auth`, `sig`, `credential` or
/// `session` replaced by `***`.
fn mask_query_credentials(path: &str) -> String {
    const HINTS: [&str; 10] = [
        "password",
        "passwd",
        "pwd",
        "secret",
        "token",
        "key",
        "auth",
        "sig",
        "credential",
        "session",
    ];
    let Some((before, query)) = path.split_once('?') else {
        return path.to_owned();
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if HINTS.iter().any(|h| name.to_ascii_lowercase().contains(h)) => {
                format!("{name}=***")
            }
            _ => pair.to_owned(),
        })
        .collect();
    format!("{before}?{}", pairs.join("&"))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                let value = hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0);
                out.push(u8::try_from(value).unwrap_or(b'?'));
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Standard base64 with padding (RFC 4648), for the Basic credentials.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Result<Endpoint, EndpointError> {
        url.parse()
    }

    #[test]
    fn full_urls_keep_their_path_and_bare_ones_get_the_metrics_path() {
        let e = parse("http://127.0.0.1:4318/v1/metrics").expect("valid");
        assert_eq!(
            (e.host(), e.port(), e.path()),
            ("127.0.0.1", 4318, "/v1/metrics")
        );
        assert_eq!(e.authority(), "127.0.0.1:4318");
        assert_eq!(e.authorization(), None);
        let e = parse("http://collector").expect("valid");
        assert_eq!(
            (e.port(), e.path(), e.authority()),
            (80, "/v1/metrics", "collector")
        );
        let e = parse("HTTP://collector:4318/").expect("valid");
        assert_eq!(e.path(), "/v1/metrics");
        let e = parse("http://gw:8080/otlp/v1/metrics?tenant=a#frag").expect("valid");
        assert_eq!(e.path(), "/otlp/v1/metrics?tenant=a");
        let e = parse("http://[::1]:4318/v1/metrics").expect("valid");
        assert_eq!((e.host(), e.authority()), ("::1", "[::1]:4318"));
    }

    #[test]
    fn credentials_become_basic_auth_and_never_show() {
        let e = parse("http://otel:p%40ss@collector:4318/v1/metrics").expect("valid");
        // base64("otel:p@ss")
        assert_eq!(e.authorization(), Some("Basic b3RlbDpwQHNz"));
        assert_eq!(e.to_string(), "http://otel:***@collector:4318/v1/metrics");
        assert!(!format!("{e:?}").contains("p%40ss"));
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
    }

    #[test]
    fn query_credentials_are_sent_but_never_shown() {
        let e = parse("http://gw:4318/v1/metrics?tenant=a&api_key=k3y&X-Auth-Token=t0k&sig=s1g")
            .expect("valid");
        assert_eq!(
            e.path(),
            "/v1/metrics?tenant=a&api_key=k3y&X-Auth-Token=t0k&sig=s1g"
        );
        let shown = e.to_string();
        assert_eq!(
            shown,
            "http://gw:4318/v1/metrics?tenant=a&api_key=***&X-Auth-Token=***&sig=***"
        );
        assert!(!format!("{e:?}").contains("k3y"));
        assert_eq!(mask_query_credentials("/v1/metrics"), "/v1/metrics");
        assert_eq!(
            mask_query_credentials("/m?flag&Password=x"),
            "/m?flag&Password=***"
        );
    }

    #[test]
    fn unusable_urls_are_refused_without_repeating_them() {
        for (url, error) in [
            (
                "https://user:s3cret@collector:4318/v1/metrics",
                EndpointError::Https,
            ),
            ("collector:4318", EndpointError::Scheme),
            ("grpc://collector:4317", EndpointError::Scheme),
            ("http://:4318/v1/metrics", EndpointError::MissingHost),
            ("http://user:s3cret@/v1/metrics", EndpointError::MissingHost),
            ("http://collector:0/v1/metrics", EndpointError::Port),
            ("http://collector:99999/v1/metrics", EndpointError::Port),
            ("http://collector:x/v1/metrics", EndpointError::Port),
            (
                "http://collector:4318/v1 metrics",
                EndpointError::Characters,
            ),
        ] {
            let e = parse(url).expect_err(url);
            assert_eq!(e, error, "{url}");
            assert!(!e.to_string().contains("s3cret"));
        }
    }
}
