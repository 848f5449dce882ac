//! The table "What each status means" of docs/health-agent.md, read back: what the docs
//! promise a client about each answer, for the tests to check against the database.

/// Whether an answer's exchange was stored, as the docs say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    Yes,
    No,
    Unknown,
}

/// Whether the request may be sent again, as the docs say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// As it is.
    Safe,
    /// Only with the same `Idempotency-Key`.
    SameKey,
    /// Only after fixing the request.
    FixFirst,
}

/// One row: a status and one of its codes (`None` for the 200 row).
#[derive(Clone, Debug)]
pub struct Row {
    pub status: u16,
    pub code: Option<String>,
    pub stored: Stored,
    pub retry: Retry,
}

/// Every (status, code) of the table.
pub fn rows() -> Vec<Row> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/health-agent.md");
    let text = std::fs::read_to_string(path).expect("docs/health-agent.md");
    let section = text
        .split("## What each status means")
        .nth(1)
        .expect("the section exists");
    let mut rows = Vec::new();
    for line in section.lines().skip_while(|l| !l.starts_with('|')) {
        if !line.starts_with('|') {
            break;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let Ok(status) = cells[0].parse::<u16>() else {
            continue; // the header and the rule
        };
        assert_eq!(cells.len(), 4, "four columns: {line}");
        let stored = match cells[2].split_whitespace().next() {
            Some("yes") => Stored::Yes,
            Some("no") => Stored::No,
            Some("unknown") => Stored::Unknown,
            other => panic!("stored must start with yes, no or unknown: {other:?} in {line}"),
        };
        let retry = if cells[3].starts_with("safe") {
            Retry::Safe
        } else if cells[3].starts_with("with the same Idempotency-Key") {
            Retry::SameKey
        } else if cells[3].starts_with("after fixing the request") {
            Retry::FixFirst
        } else {
            panic!(
                "retry must say safe, with the same Idempotency-Key or after fixing the request: {line}"
            )
        };
        let codes: Vec<Option<String>> = if cells[1] == "—" {
            vec![None]
        } else {
            cells[1]
                .split(',')
                .map(|c| Some(c.trim().trim_matches('`').to_owned()))
                .collect()
        };
        for code in codes {
            rows.push(Row {
                status,
                code,
                stored,
                retry,
            });
        }
    }
    rows
}

/// The row of an answer; panics when the docs do not list it.
pub fn documented(status: u16, code: Option<&str>) -> Row {
    rows()
        .into_iter()
        .find(|r| r.status == status && r.code.as_deref() == code)
        .unwrap_or_else(|| panic!("docs/health-agent.md does not say what {status} {code:?} means"))
}

#[test]
fn the_table_names_every_code_the_server_answers_with() {
    let rows = rows();
    assert!(rows.len() >= 20, "{rows:?}");
    for (status, code) in [
        (503, "database_unavailable"),
        (504, "outcome_unknown"),
        (504, "timeout"),
        (503, "overloaded"),
        (501, "unsupported_transfer_coding"),
        (400, "bad_request"),
        (414, "uri_too_long"),
        (431, "headers_too_large"),
        (413, "body_too_large"),
        (422, "invalid_json"),
    ] {
        documented(status, Some(code));
    }
    assert_eq!(documented(200, None).stored, Stored::Yes);
    assert_eq!(
        documented(504, Some("outcome_unknown")).retry,
        Retry::SameKey
    );
}
