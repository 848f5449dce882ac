//! The text primitives of the exposition formats: label values escaped, numbers written once
//! in their shortest exact form.

/// `a="1",b="2"`: label pairs escaped for the exposition format (no braces).
pub fn label_text<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    push_label_text(&mut out, pairs);
    out
}

/// [`label_text`], appended to `out`.
pub fn push_label_text<'a>(out: &mut String, pairs: impl Iterator<Item = (&'a str, &'a str)>) {
    for (i, (k, v)) in pairs.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(k);
        out.push_str("=\"");
        for c in v.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
}

/// `v` as the exposition formats write it: integers without a fraction, other finite
/// numbers in their shortest round-trip form, `NaN`, `+Inf`, `-Inf`.
pub fn number(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v == f64::INFINITY {
        out.push_str("+Inf");
    } else if v == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        out.push_str(itoa::Buffer::new().format(v as i64));
    } else {
        // The shortest text that reads back as the same number (serde_json's formatter).
        out.push_str(zmij::Buffer::new().format_finite(v));
    }
}
