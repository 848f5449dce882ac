//! A receiver's address: an `http://` or `https://` URL, parsed once at start.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

/// Where an exporter POSTs: `http://host[:port][/path][?query]`, or `https://…` with the `tls`
/// feature. E.g. `http://127.0.0.1:4318/v1/metrics` (OTLP) or
/// `http://127.0.0.1:9090/api/v1/write` (remote write).
///
/// - The port defaults to 80 (`https`: 443). A URL without a path (or with `/` alone) gets the
///   exporter's standard path (`/v1/metrics` for OTLP, `/api/v1/write` for remote write); any
///   other path is used as given, query included.
/// - `user:password@` is sent as HTTP Basic authorization (percent-escapes decoded), and
///   shown as `user:***@` by `Display` and `Debug`, so logging an endpoint never shows the
///   password; the values of query parameters that look like credentials (`?api_key=…`,
///   `&token=…`) are shown as `***` likewise.
/// - `https://` needs the `tls` feature; without it such a URL is refused
///   ([`EndpointError::Https`]) rather than sent in clear.
///
/// ```
/// use vitals_export::Endpoint;
///
/// let e: Endpoint = "http://otel:s3cret@collector.internal:4318/v1/metrics".parse().unwrap();
/// assert_eq!((e.host(), e.port(), e.path()), ("collector.internal", 4318, "/v1/metrics"));
/// assert_eq!(e.to_string(), "http://otel:***@collector.internal:4318/v1/metrics");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    tls: bool,
    host: String,
    port: u16,
    /// The path as written; empty when the URL has none (or `/` alone).
    path: String,
    /// `?…` as written, or empty.
    query: String,
    /// The `Host` header: `host[:port]`, IPv6 in brackets, the scheme's port left out.
    authority: String,
    /// `Basic …` when the URL carries credentials.
    authorization: Option<String>,
    /// `user:***@`, `user@` or empty: the credentials as shown to people.
    shown_userinfo: String,
}

/// Why a URL cannot be an endpoint. The messages never repeat the URL (it may hold a
/// password).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// `https://` in a build without the `tls` feature.
    #[error(
        "https:// needs TLS, which this build of vitals-export leaves out; turn on its `tls` feature, or send to a receiver on the same host or private network over http://"
    )]
    Https,
    /// Neither `http://` nor `https://`.
    #[error("expected an http:// or https:// URL, e.g. http://127.0.0.1:4318/v1/metrics")]
    Scheme,
    /// No host after the scheme.
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

    /// Whether the endpoint is `https://`.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The path of the request line: as written, or `/` when the URL has none (the
    /// exporters put their standard path there).
    pub fn path(&self) -> &str {
        if self.path.is_empty() {
            "/"
        } else {
            &self.path
        }
    }

    /// The same endpoint with `path` when the URL names none.
    pub(crate) fn or_path(mut self, path: &str) -> Self {
        if self.path.is_empty() {
            path.clone_into(&mut self.path);
        }
        self
    }

    /// Path and query: the request line's target.
    pub(crate) fn target(&self) -> String {
        format!("{}{}", self.path(), self.query)
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

/// The parts of `scheme://authority/path?query#fragment`.
struct Parts<'a> {
    tls: bool,
    userinfo: Option<&'a str>,
    host: &'a str,
    port: Option<&'a str>,
    path: &'a str,
    query: &'a str,
}

fn split(url: &str) -> Result<Parts<'_>, EndpointError> {
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(EndpointError::Characters);
    }
    let (scheme, rest) = url.split_once("://").ok_or(EndpointError::Scheme)?;
    let tls = match scheme.to_ascii_lowercase().as_str() {
        "http" => false,
        "https" if cfg!(feature = "tls") => true,
        "https" => return Err(EndpointError::Https),
        _ => return Err(EndpointError::Scheme),
    };
    let rest = rest.split('#').next().unwrap_or_default();
    let (authority, path_query) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    let (path, query) = path_query.split_at(path_query.find('?').unwrap_or(path_query.len()));
    let (userinfo, host_port) = match authority.rsplit_once('@') {
        Some((c, h)) => (Some(c), h),
        None => (None, authority),
    };
    let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .ok_or(EndpointError::MissingHost)?;
        match after {
            "" => (host, None),
            p => (host, Some(p.strip_prefix(':').ok_or(EndpointError::Port)?)),
        }
    } else {
        match host_port.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return Err(EndpointError::MissingHost);
    }
    Ok(Parts {
        tls,
        userinfo,
        host,
        port,
        path: if path == "/" { "" } else { path },
        query,
    })
}

impl FromStr for Endpoint {
    type Err = EndpointError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        let parts = split(url.trim())?;
        let default_port = if parts.tls { 443 } else { 80 };
        let port = match parts.port {
            None | Some("") => default_port,
            Some(p) => match p.parse::<u16>() {
                Ok(p) if p > 0 => p,
                _ => return Err(EndpointError::Port),
            },
        };
        let host = parts.host;
        let authority = match (host.contains(':'), port == default_port) {
            (true, true) => format!("[{host}]"),
            (true, false) => format!("[{host}]:{port}"),
            (false, true) => host.to_owned(),
            (false, false) => format!("{host}:{port}"),
        };
        let (authorization, shown_userinfo) = match parts.userinfo {
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
                (Some(format!("Basic {}", BASE64.encode(plain))), shown)
            }
        };
        Ok(Self {
            tls: parts.tls,
            host: host.to_owned(),
            port,
            path: parts.path.to_owned(),
            query: parts.query.to_owned(),
            authority,
            authorization,
            shown_userinfo,
        })
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "https" } else { "http" };
        write!(
            f,
            "{scheme}://{}{}{}{}",
            self.shown_userinfo,
            self.authority,
            self.path,
            mask_query_credentials(&self.query)
        )
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Endpoint").field(&self.to_string()).finish()
    }
}

/// `?query` with the value of every parameter whose name contains (in any case) `password`,
/// `passwd`, `pwd`, `secret`, `token`, `key`, `auth`, `sig`, `credential` or `session`
/// replaced by `***`.
fn mask_query_credentials(query: &str) -> String {
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
    let Some(query) = query.strip_prefix('?') else {
        return query.to_owned();
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
    format!("?{}", pairs.join("&"))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Result<Endpoint, EndpointError> {
        url.parse()
    }

    #[test]
    fn full_urls_keep_their_path_and_bare_ones_take_the_exporters() {
        let e = parse("http://127.0.0.1:4318/v1/metrics").expect("valid");
        assert_eq!(
            (e.host(), e.port(), e.path()),
            ("127.0.0.1", 4318, "/v1/metrics")
        );
        assert_eq!(e.authority(), "127.0.0.1:4318");
        assert_eq!(e.authorization(), None);
        let e = parse("http://collector").expect("valid");
        assert_eq!((e.port(), e.path(), e.authority()), (80, "/", "collector"));
        let e = e.or_path("/v1/metrics");
        assert_eq!(e.target(), "/v1/metrics");
        assert_eq!(e.to_string(), "http://collector/v1/metrics");
        let e = parse("HTTP://collector:4318/")
            .expect("valid")
            .or_path("/api/v1/write");
        assert_eq!(e.path(), "/api/v1/write");
        let e = parse("http://gw:8080/otlp/v1/metrics?tenant=a#frag")
            .expect("valid")
            .or_path("/v1/metrics");
        assert_eq!(e.target(), "/otlp/v1/metrics?tenant=a");
        let e = parse("http://gw:8080?tenant=a")
            .expect("valid")
            .or_path("/v1/metrics");
        assert_eq!(e.target(), "/v1/metrics?tenant=a");
        let e = parse("http://[::1]:4318/v1/metrics").expect("valid");
        assert_eq!((e.host(), e.authority()), ("::1", "[::1]:4318"));
        let e = parse("http://[::1]/v1/metrics").expect("valid");
        assert_eq!((e.port(), e.authority()), (80, "[::1]"));
    }

    #[test]
    fn credentials_become_basic_auth_and_never_show() {
        let e = parse("http://otel:p%40ss@collector:4318/v1/metrics").expect("valid");
        // base64("otel:p@ss")
        assert_eq!(e.authorization(), Some("Basic b3RlbDpwQHNz"));
        assert_eq!(e.to_string(), "http://otel:***@collector:4318/v1/metrics");
        assert!(!format!("{e:?}").contains("p%40ss"));
        let e = parse("http://token@collector:4318/v1/metrics").expect("valid");
        assert_eq!(e.authorization(), Some("Basic dG9rZW46"));
        assert_eq!(e.to_string(), "http://token@collector:4318/v1/metrics");
    }

    #[test]
    fn query_credentials_are_sent_but_never_shown() {
        let e = parse("http://gw:4318/v1/metrics?tenant=a&api_key=k3y&X-Auth-Token=t0k&sig=s1g")
            .expect("valid");
        assert_eq!(
            e.target(),
            "/v1/metrics?tenant=a&api_key=k3y&X-Auth-Token=t0k&sig=s1g"
        );
        assert_eq!(
            e.to_string(),
            "http://gw:4318/v1/metrics?tenant=a&api_key=***&X-Auth-Token=***&sig=***"
        );
        assert!(!format!("{e:?}").contains("k3y"));
        assert_eq!(mask_query_credentials(""), "");
        assert_eq!(
            mask_query_credentials("?flag&Password=x"),
            "?flag&Password=***"
        );
    }

    #[test]
    fn https_follows_the_tls_feature() {
        let url = "https://user:s3cret@collector/v1/metrics";
        if cfg!(feature = "tls") {
            let e = parse(url).expect("valid with tls");
            assert!(e.is_tls());
            assert_eq!((e.port(), e.authority()), (443, "collector"));
            assert_eq!(e.to_string(), "https://user:***@collector/v1/metrics");
            let e = parse("https://collector:8443").expect("valid");
            assert_eq!(e.authority(), "collector:8443");
        } else {
            let e = parse(url).expect_err("no tls");
            assert_eq!(e, EndpointError::Https);
            assert!(!e.to_string().contains("s3cret"));
        }
    }

    #[test]
    fn unusable_urls_are_refused_without_repeating_them() {
        for (url, error) in [
            ("collector:4318", EndpointError::Scheme),
            ("grpc://collector:4317", EndpointError::Scheme),
            ("http://:4318/v1/metrics", EndpointError::MissingHost),
            ("http://user:s3cret@/v1/metrics", EndpointError::MissingHost),
            ("http://collector:0/v1/metrics", EndpointError::Port),
            ("http://collector:99999/v1/metrics", EndpointError::Port),
            ("http://collector:x/v1/metrics", EndpointError::Port),
            ("http://[::1]x/v1/metrics", EndpointError::Port),
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
