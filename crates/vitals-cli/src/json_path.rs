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
    fn siblings_of_a_typo() {
        let doc = json!({"database": {"pool_active": 5, "pool_size": 9}});
        let (at, keys) = siblings(&doc, "database.pool_actve");
        assert_eq!(at, "database");
        assert_eq!(keys, vec!["pool_active", "pool_size"]);
    }
}
