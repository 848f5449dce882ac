//! Dotted paths into a JSON document: `database.pool_active`.

use serde_json::Value;

/// The value at `path` (`section.field`, any depth), if present.
pub fn lookup<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(doc, |node, key| match node {
        Value::Object(map) => map.get(key),
        Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

/// The number at `path`; `None` when absent or not a number.
pub fn number(doc: &Value, path: &str) -> Option<f64> {
    lookup(doc, path).and_then(Value::as_f64)
}

/// The keys that exist next to the deepest part of `path` that resolves, to suggest fixes.
pub fn siblings(doc: &Value, path: &str) -> (String, Vec<String>) {
    let mut node = doc;
    let mut walked = Vec::new();
    for key in path.split('.') {
        match node {
            Value::Object(map) if map.contains_key(key) => {
                node = &map[key];
                walked.push(key);
            }
            _ => break,
        }
    }
    let keys = match node {
        Value::Object(map) => map.keys().cloned().collect(),
        _ => Vec::new(),
    };
    (walked.join("."), keys)
}

/// The fields every Vitals snapshot carries (the seed fields of docs/metrics-endpoint.md).
pub const SEED_FIELDS: [&str; 20] = [
    "system.cpu_percent",
    "system.memory_mb",
    "system.memory_percent",
    "system.memory_available_mb",
    "system.disk_read_mb",
    "system.disk_write_mb",
    "database.pool_size",
    "database.pool_available",
    "database.pool_active",
    "database.pool_min_size",
    "database.pool_max_size",
    "database.pool_utilization_percent",
    "cache.enabled",
    "cache.hits",
    "cache.misses",
    "cache.sets",
    "cache.deletes",
    "cache.errors",
    "cache.total_reads",
    "cache.hit_rate_percent",
];

/// The paths of `paths` that `doc` lacks: absent, `null`, or not a number (not a boolean for
/// a field named `enabled`).
pub fn missing<'p>(doc: &Value, paths: &[&'p str]) -> Vec<&'p str> {
    paths
        .iter()
        .copied()
        .filter(|path| match lookup(doc, path) {
            Some(Value::Bool(_)) => !path.ends_with(".enabled"),
            Some(Value::Number(_)) => path.ends_with(".enabled"),
            _ => true,
        })
        .collect()
}

/// What is missing, in words: a section that is absent altogether is named once
/// (`the sections system, database`), other fields by their path.
pub fn describe_missing(doc: &Value, missing: &[&str]) -> String {
    let mut sections: Vec<&str> = Vec::new();
    let mut fields: Vec<&str> = Vec::new();
    for path in missing {
        let section = path.split('.').next().unwrap_or(path);
        if lookup(doc, section).is_some_and(Value::is_object) {
            fields.push(path);
        } else if !sections.contains(&section) {
            sections.push(section);
        }
    }
    let mut parts = Vec::new();
    match sections.as_slice() {
        [] => {}
        [one] => parts.push(format!("the `{one}` section")),
        many => parts.push(format!("the sections {}", quoted(many))),
    }
    if !fields.is_empty() {
        parts.push(quoted(&fields));
    }
    parts.join(" and ")
}

fn quoted(items: &[&str]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_nested_fields() {
        let doc = json!({"database": {"pool_active": 5}, "a": [1, {"b": 2}]});
        assert_eq!(number(&doc, "database.pool_active"), Some(5.0));
        assert_eq!(number(&doc, "a.1.b"), Some(2.0));
        assert_eq!(lookup(&doc, "database.nope"), None);
        assert_eq!(lookup(&doc, "database.pool_active.x"), None);
    }

    #[test]
    fn missing_sections_and_fields_are_named() {
        let doc = json!({"timestamp": "t"});
        let gone = missing(&doc, &SEED_FIELDS);
        assert_eq!(gone.len(), SEED_FIELDS.len());
        assert_eq!(
            describe_missing(&doc, &gone),
            "the sections `system`, `database`, `cache`"
        );
        let doc = json!({"system": {"cpu_percent": 1, "memory_percent": null},
                          "cache": {"enabled": 1, "errors": 0}});
        let gone = missing(
            &doc,
            &[
                "system.cpu_percent",
                "system.memory_percent",
                "database.pool_size",
                "cache.enabled",
                "cache.errors",
            ],
        );
        assert_eq!(
            describe_missing(&doc, &gone),
            "the `database` section and `system.memory_percent`, `cache.enabled`"
        );
    }

    #[test]
    fn siblings_of_a_typo() {
        let doc = json!({"database": {"pool_active": 5, "pool_size": 9}});
        let (at, keys) = siblings(&doc, "database.pool_actve");
        assert_eq!(at, "database");
        assert_eq!(keys, vec!["pool_active", "pool_size"]);
    }
}
