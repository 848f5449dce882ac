//! Credentials out of what people see: URLs in logs, errors and `--print-config`.

/// The URL with any credential replaced, fit for logs and error messages: the password of
/// `user:password@` and the value of any query parameter whose name looks like a credential
/// (it contains `password`, `secret`, `token`, `key`, `auth`, `sig`, … in any case: see
/// [`is_credential_name`]) become `***`.
///
/// ```
/// use vitals_server::redact::redact_url;
/// assert_eq!(redact_url("postgres://app:pw@db:5432/x"), "postgres://app:***@db:5432/x");
/// assert_eq!(redact_url("postgres://db/x?user=a&password=pw"), "postgres://db/x?user=a&password=***");
/// assert_eq!(redact_url("redis://:pw@127.0.0.1:6379"), "redis://:***@127.0.0.1:6379");
/// assert_eq!(redact_url("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
/// assert_eq!(
///     redact_url("http://collector:4318/v1/metrics?tenant=a&api_key=k1&X-Auth-Token=t2"),
///     "http://collector:4318/v1/metrics?tenant=a&api_key=***&X-Auth-Token=***"
/// );
/// ```
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return redact_query(url);
    };
    let (authority, path) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
    let path = redact_query(path);
    match authority.rsplit_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split_once(':').map_or(credentials, |(u, _)| u);
            let hidden = if credentials.contains(':') {
                ":***"
            } else {
                ""
            };
            format!("{scheme}://{user}{hidden}@{host}{path}")
        }
        None => format!("{scheme}://{authority}{path}"),
    }
}

/// Whether a query parameter named `name` carries a credential: its name contains, in any
/// case, one of `password`, `passwd`, `pwd`, `secret`, `token`, `key`, `auth`, `sig`
/// (`signature`), `credential` or `session`.
pub fn is_credential_name(name: &str) -> bool {
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
    let name = name.to_ascii_lowercase();
    HINTS.iter().any(|hint| name.contains(hint))
}

/// Hides the values of query parameters naming a credential.
fn redact_query(text: &str) -> String {
    let Some((before, query)) = text.split_once('?') else {
        return text.to_owned();
    };
    let (query, fragment) = match query.split_once('#') {
        Some((q, f)) => (q, Some(f)),
        None => (query, None),
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_credential_name(name) => {
                format!("{name}=***")
            }
            _ => pair.to_owned(),
        })
        .collect();
    let mut out = format!("{before}?{}", pairs.join("&"));
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}
