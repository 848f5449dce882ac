//! Text that crosses into logs.

/// The text with control characters and Unicode bidi/line-separator characters written as
/// `\u{…}` escapes, so that a client cannot forge or reorder log lines.
///
/// ```
/// use vitals_core::text::escape_for_log;
/// assert_eq!(escape_for_log("/plain/path"), "/plain/path");
/// assert_eq!(escape_for_log("/a\u{2028}b"), "/a\\u{2028}b");
/// assert_eq!(escape_for_log("/x\u{202e}y\n"), "/x\\u{202e}y\\u{a}");
/// ```
pub fn escape_for_log(text: &str) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| {
        c.is_control()
            || matches!(
                c,
                '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{061c}'
            )
            || ('\u{202a}'..='\u{202e}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c)
    };
    if !text.chars().any(bad) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if bad(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}
