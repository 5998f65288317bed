//! What a new connector document changes against the stored one, path by path, with the
//! secrets redacted: what `mlc config push` shows before it writes, so a person sees exactly
//! what the functions will read next and a change to a credential is visible without the
//! credential being shown.

use std::fmt;

use serde_json::Value;

use super::REDACTED;

/// One step of a path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    /// This object key.
    Key(String),
    /// Any key of a map.
    AnyKey,
    /// Any index of a list.
    AnyIndex,
}

/// One step of a concrete path in a document.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// The places in a document that hold secrets (from the schema: every `Secret` field).
#[derive(Debug, Clone, Default)]
pub struct SecretPaths {
    patterns: Vec<Vec<Seg>>,
}

/// Key names that hold a credential wherever they appear, also in fields the schema does not
/// know (an older document, a typo): the diff would rather hide too much than too little.
const CREDENTIAL_WORDS: &[&str] = &[
    "secret",
    "token",
    "password",
    "passwd",
    "api_key",
    "apikey",
    "authorization",
    "private_key",
];

impl SecretPaths {
    /// The places `patterns` name.
    pub fn new(patterns: Vec<Vec<Seg>>) -> Self {
        Self { patterns }
    }

    /// The patterns as text (`stores[*].credentials.access_token`), for tests and messages.
    pub fn describe(&self) -> Vec<String> {
        self.patterns
            .iter()
            .map(|p| {
                let mut out = String::new();
                for seg in p {
                    match seg {
                        Seg::Key(k) => {
                            if !out.is_empty() {
                                out.push('.');
                            }
                            out.push_str(k);
                        }
                        Seg::AnyKey => out.push_str(".*"),
                        Seg::AnyIndex => out.push_str("[*]"),
                    }
                }
                out
            })
            .collect()
    }

    fn is_secret(&self, path: &[Step]) -> bool {
        if let Some(Step::Key(last)) = path.last() {
            let key = last.to_ascii_lowercase();
            if CREDENTIAL_WORDS.iter().any(|w| key.contains(w)) {
                return true;
            }
        }
        self.patterns.iter().any(|p| {
            p.len() == path.len()
                && p.iter().zip(path).all(|(seg, step)| match (seg, step) {
                    (Seg::Key(a), Step::Key(b)) => a == b,
                    (Seg::AnyKey, Step::Key(_)) | (Seg::AnyIndex, Step::Index(_)) => true,
                    _ => false,
                })
        })
    }
}

/// What happened at a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// Only in the new document.
    Added,
    /// Only in the stored one.
    Removed,
    /// In both, with another value.
    Changed,
}

/// One change, its values already fit to show (secrets redacted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// JSON path, as validation names fields: `stores[1].ledger`.
    pub path: String,
    /// Added, removed or changed.
    pub kind: ChangeKind,
    /// The stored value (removed, changed), compact JSON.
    pub before: Option<String>,
    /// The new value (added, changed), compact JSON.
    pub after: Option<String>,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ChangeKind::Added => write!(
                f,
                "+ {}: {}",
                self.path,
                self.after.as_deref().unwrap_or("")
            ),
            ChangeKind::Removed => write!(
                f,
                "- {}: {}",
                self.path,
                self.before.as_deref().unwrap_or("")
            ),
            ChangeKind::Changed => write!(
                f,
                "~ {}: {} -> {}",
                self.path,
                self.before.as_deref().unwrap_or(""),
                self.after.as_deref().unwrap_or("")
            ),
        }
    }
}

/// The changes from `before` (the stored document; `None` when there is none) to `after`,
/// leaf by leaf (keys in name order, lists by index). A secret is compared whole and shown as [`REDACTED`] (an
/// `{"env": "NAME"}` reference, which holds no secret, is shown).
pub fn diff(before: Option<&Value>, after: &Value, secrets: &SecretPaths) -> Vec<Change> {
    let mut out = Vec::new();
    let mut path = Vec::new();
    walk(before, Some(after), &mut path, secrets, &mut out);
    out
}

fn walk(
    before: Option<&Value>,
    after: Option<&Value>,
    path: &mut Vec<Step>,
    secrets: &SecretPaths,
    out: &mut Vec<Change>,
) {
    if before == after {
        return;
    }
    let secret = secrets.is_secret(path);
    match (before, after) {
        (Some(Value::Object(a)), Some(Value::Object(b))) if !secret => {
            for (key, value) in a {
                path.push(Step::Key(key.clone()));
                walk(Some(value), b.get(key), path, secrets, out);
                path.pop();
            }
            for (key, value) in b.iter().filter(|(k, _)| !a.contains_key(*k)) {
                path.push(Step::Key(key.clone()));
                walk(None, Some(value), path, secrets, out);
                path.pop();
            }
        }
        (Some(Value::Array(a)), Some(Value::Array(b))) if !secret => {
            for i in 0..a.len().max(b.len()) {
                path.push(Step::Index(i));
                walk(a.get(i), b.get(i), path, secrets, out);
                path.pop();
            }
        }
        // A whole subtree added or removed: each of its leaves, so a secret inside is redacted.
        (None, Some(v @ (Value::Object(_) | Value::Array(_))))
        | (Some(v @ (Value::Object(_) | Value::Array(_))), None)
            if !secret && !is_empty_container(v) =>
        {
            let added = before.is_none();
            each_child(v, path, |child, path| {
                if added {
                    walk(None, Some(child), path, secrets, out)
                } else {
                    walk(Some(child), None, path, secrets, out)
                }
            });
        }
        _ => {
            let show = |v: Option<&Value>| v.map(|v| shown(v, secret));
            out.push(Change {
                path: path_text(path),
                kind: match (before, after) {
                    (None, _) => ChangeKind::Added,
                    (_, None) => ChangeKind::Removed,
                    _ => ChangeKind::Changed,
                },
                before: show(before),
                after: show(after),
            });
        }
    }
}

fn is_empty_container(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn each_child(v: &Value, path: &mut Vec<Step>, mut f: impl FnMut(&Value, &mut Vec<Step>)) {
    match v {
        Value::Object(m) => {
            for (key, child) in m {
                path.push(Step::Key(key.clone()));
                f(child, path);
                path.pop();
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                path.push(Step::Index(i));
                f(child, path);
                path.pop();
            }
        }
        _ => {}
    }
}

/// A value as the diff shows it: compact JSON, or [`REDACTED`] for a secret's value.
fn shown(v: &Value, secret: bool) -> String {
    if !secret {
        return v.to_string();
    }
    match v {
        Value::Object(m) if m.len() == 1 && m.get("env").is_some_and(Value::is_string) => {
            v.to_string()
        }
        _ => REDACTED.to_string(),
    }
}

fn path_text(path: &[Step]) -> String {
    if path.is_empty() {
        return "(document)".into();
    }
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Step::Index(i) => {
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secrets() -> SecretPaths {
        SecretPaths::new(vec![
            vec![
                Seg::Key("stores".into()),
                Seg::AnyIndex,
                Seg::Key("credentials".into()),
                Seg::Key("access_token".into()),
            ],
            vec![
                Seg::Key("stores".into()),
                Seg::AnyIndex,
                Seg::Key("credentials".into()),
                Seg::Key("client_secret".into()),
            ],
        ])
    }

    fn lines(changes: &[Change]) -> Vec<String> {
        changes.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn changed_added_and_removed_paths_with_secrets_redacted() {
        let before = json!({
            "stores": [{"id": "us", "credentials": {"access_token": "tok-old-123456", "client_secret": {"env": "A"}}}],
            "posting": {"batch_size": 100},
            "gone": "x"
        });
        let after = json!({
            "stores": [
                {"id": "us", "credentials": {"access_token": "tok-new-654321", "client_secret": {"env": "B"}}},
                {"id": "eu", "credentials": {"access_token": "tok-eu-999999", "client_secret": "sh-eu-888888"}}
            ],
            "posting": {"batch_size": 50}
        });
        let changes = lines(&diff(Some(&before), &after, &secrets()));
        assert_eq!(
            changes,
            [
                "- gone: \"x\"",
                "~ posting.batch_size: 100 -> 50",
                "~ stores[0].credentials.access_token: «redacted» -> «redacted»",
                "~ stores[0].credentials.client_secret: {\"env\":\"A\"} -> {\"env\":\"B\"}",
                "+ stores[1].credentials.access_token: «redacted»",
                "+ stores[1].credentials.client_secret: «redacted»",
                "+ stores[1].id: \"eu\"",
            ]
        );
        let all = changes.join("\n");
        for secret in ["tok-old", "tok-new", "tok-eu", "sh-eu"] {
            assert!(!all.contains(secret), "{all}");
        }
    }

    #[test]
    fn credential_named_keys_are_redacted_anywhere() {
        let changes = lines(&diff(
            Some(&json!({"extra": {"webhook_secret": "abcdefgh"}})),
            &json!({"extra": {"webhook_secret": "hgfedcba", "api_token": "zzzzzzzz"}}),
            &SecretPaths::default(),
        ));
        assert_eq!(
            changes,
            [
                "~ extra.webhook_secret: «redacted» -> «redacted»",
                "+ extra.api_token: «redacted»",
            ]
        );
    }

    #[test]
    fn nothing_when_equal_and_everything_when_there_was_nothing() {
        let doc = json!({"a": [1, {"b": 2}]});
        assert!(diff(Some(&doc), &doc, &secrets()).is_empty());
        assert_eq!(
            lines(&diff(None, &doc, &secrets())),
            ["+ a[0]: 1", "+ a[1].b: 2"]
        );
    }
}
