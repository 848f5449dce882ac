//! Text that came from elsewhere, made safe to print: control characters, terminal escape
//! sequences and bidirectional controls removed, and passwords in URLs masked.
//!
//! A server's strings (its `timestamp`, a backend name, an error text) end up in the console
//! table, the CSV and error messages. Printed raw, an escape sequence could repaint the
//! operator's terminal and a U+202E could make a line read backwards, so every such string goes
//! through [`clean`] first. URLs the user typed may carry `user:password@`; every message that
//! could repeat one goes through [`redact_urls`].

/// `s` without control characters, terminal escape sequences (CSI, OSC and two-character
/// ESC sequences) and Unicode bidirectional / line-separator controls. Tabs and line breaks
/// become a space, so words stay apart; everything else printable is kept.
pub fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                // CSI: parameters and intermediates up to a final byte in @..~.
                Some('[') => {
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                // OSC, DCS, PM, APC, SOS: up to BEL or ESC \.
                Some(']' | 'P' | '^' | '_' | 'X') => {
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' {
                            break;
                        }
                        if c == '\u{1b}' {
                            chars.next_if_eq(&'\\');
                            break;
                        }
                    }
                }
                _ => {}
            },
            // C1 CSI, the one-character form of ESC [.
            '\u{9b}' => {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            '\t' | '\n' | '\r' | '\u{2028}' | '\u{2029}' | '\u{85}' => out.push(' '),
            c if c.is_control() || is_bidi_control(c) => {}
            c => out.push(c),
        }
    }
    out.trim().to_owned()
}

/// Every string in `doc` (keys stay as they are) passed through [`clean`].
pub fn clean_json(doc: &mut serde_json::Value) {
    match doc {
        serde_json::Value::String(s) => *s = clean(s),
        serde_json::Value::Array(items) => items.iter_mut().for_each(clean_json),
        serde_json::Value::Object(map) => map.values_mut().for_each(clean_json),
        _ => {}
    }
}

/// Characters that reorder or isolate text without showing themselves.
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

/// The userinfo of a URL authority, masked: `user:pw` → `user:***`, a lone `token` → `***`.
pub fn mask_userinfo(userinfo: &str) -> String {
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{user}:***"),
        None => "***".to_owned(),
    }
}

/// `s` with the password of every `scheme://user:pw@host` in it masked.
pub fn redact_urls(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace() || c == '"')
            .unwrap_or(tail.len());
        let (authority, after) = tail.split_at(end);
        match authority.rsplit_once('@') {
            Some((userinfo, host)) => {
                out.push_str(&mask_userinfo(userinfo));
                out.push('@');
                out.push_str(host);
            }
            None => out.push_str(authority),
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_and_controls_are_removed() {
        assert_eq!(clean("\u{1b}[31mred\u{1b}[0m text"), "red text");
        assert_eq!(clean("a\u{1b}]0;title\u{7}b"), "ab");
        assert_eq!(
            clean("a\u{1b}]8;;http://x\u{1b}\\link\u{1b}]8;;\u{1b}\\b"),
            "alinkb"
        );
        assert_eq!(
            clean("bell\u{7} nul\u{0} del\u{7f} c1\u{9b}2J"),
            "bell nul del c1"
        );
        assert_eq!(
            clean("two\nlines\r\tand\u{2028}more"),
            "two lines  and more"
        );
        assert_eq!(clean("abc\u{202e}fed\u{2066}x\u{2069}"), "abcfedx");
        assert_eq!(
            clean("2026-01-18T14:23:45Z µs ✓"),
            "2026-01-18T14:23:45Z µs ✓"
        );
        assert_eq!(clean("trailing escape \u{1b}"), "trailing escape");
    }

    #[test]
    fn every_string_of_a_document_is_cleaned() {
        let mut doc =
            serde_json::json!({"a": "x\u{1b}[2Jy", "b": [1, {"c": "\u{202e}z"}], "d": true});
        clean_json(&mut doc);
        assert_eq!(
            doc,
            serde_json::json!({"a": "xy", "b": [1, {"c": "z"}], "d": true})
        );
    }

    #[test]
    fn passwords_in_urls_are_masked() {
        assert_eq!(
            redact_urls("cannot reach http://user:pw@10.0.0.5:8000/api/v1/metrics: refused"),
            "cannot reach http://user:***@10.0.0.5:8000/api/v1/metrics: refused"
        );
        assert_eq!(
            redact_urls("ftp://tok@h and https://a:b:c@d"),
            "ftp://***@h and https://a:***@d"
        );
        assert_eq!(
            redact_urls("http://127.0.0.1:8000"),
            "http://127.0.0.1:8000"
        );
        assert_eq!(redact_urls("no url here"), "no url here");
    }
}
