//! A key prefix a backend puts in front of every key it is given.

use std::borrow::Cow;
use std::sync::Arc;

/// The prefix of a backend's keys; empty for none (then keys pass unchanged, unallocated).
#[derive(Clone, Debug, Default)]
pub(crate) struct KeyPrefix(Option<Arc<str>>);

impl KeyPrefix {
    pub(crate) fn new(prefix: &str) -> Self {
        if prefix.is_empty() {
            Self(None)
        } else {
            Self(Some(Arc::from(prefix)))
        }
    }

    /// `key` as it is stored.
    pub(crate) fn apply<'k>(&self, key: &'k str) -> Cow<'k, str> {
        match &self.0 {
            None => Cow::Borrowed(key),
            Some(prefix) => Cow::Owned(format!("{prefix}{key}")),
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        self.0.as_deref().unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::KeyPrefix;

    #[test]
    fn an_empty_prefix_leaves_keys_as_they_are() {
        assert_eq!(KeyPrefix::new("").apply("k"), "k");
        assert!(matches!(
            KeyPrefix::new("").apply("k"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(KeyPrefix::new("app:").apply("k"), "app:k");
        assert_eq!(KeyPrefix::new("app:").as_str(), "app:");
    }
}
