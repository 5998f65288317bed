//! Text from upstream (an error body of BigCommerce, Fusion or the identity domain) made fit for
//! errors, logs and the audit.
//!
//! Upstream bodies are copied into errors so that an operator can see why a call failed, but
//! an upstream may echo what it was sent: the access token, the bearer token, the Basic header,
//! the client secret. Before any of it is kept, [`upstream_text`] replaces every credential
//! the caller knows and everything shaped like one with [`REDACTED`], replaces control
//! characters (a line break would forge a log line) and keeps at most
//! [`MAX_UPSTREAM_TEXT`] characters.

pub use crate::config::REDACTED;

/// The most characters of an upstream body an error keeps: enough for any real error message.
pub const MAX_UPSTREAM_TEXT: usize = 300;

/// Shortest known credential replaced wherever it appears (a shorter one would blank out
/// ordinary words; no real token is that short).
const MIN_KNOWN_LEN: usize = 6;

/// Authorization schemes whose next word is a credential.
const SCHEMES: &[&str] = &["bearer", "basic"];

/// Names of fields, parameters and headers whose value is a credential.
const KEYS: &[&str] = &[
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "client_assertion",
    "password",
    "passwd",
    "secret",
    "api_key",
    "apikey",
    "x-auth-token",
    "authorization",
    "token",
];

/// `text` as an error or a log may carry it: each of `known` (the credentials the caller sent)
/// and everything shaped like a credential replaced by [`REDACTED`], control characters
/// replaced by spaces, at most [`MAX_UPSTREAM_TEXT`] characters (cut with `…`).
pub fn upstream_text(text: &str, known: &[&str]) -> String {
    let mut out = text.to_string();
    let mut known: Vec<&str> = known
        .iter()
        .map(|k| k.trim())
        .filter(|k| k.len() >= MIN_KNOWN_LEN)
        .collect();
    // Longest first, so a secret containing another is replaced whole.
    known.sort_by_key(|k| std::cmp::Reverse(k.len()));
    for k in known {
        out = out.replace(k, REDACTED);
    }
    let out = after_schemes(&out);
    let out = after_keys(&out);
    let cleaned: String = out
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let trimmed = cleaned.trim();
    if trimmed.chars().count() > MAX_UPSTREAM_TEXT {
        let cut: String = trimmed.chars().take(MAX_UPSTREAM_TEXT).collect();
        format!("{cut}…")
    } else {
        trimmed.to_string()
    }
}

/// Byte positions of `word` in `text`, ignoring ASCII case (ASCII lowercasing keeps offsets).
fn positions(text: &str, word: &str) -> Vec<usize> {
    let lower = text.to_ascii_lowercase();
    lower.match_indices(word).map(|(i, _)| i).collect()
}

/// Replaces the byte ranges `spans` (sorted, not overlapping) of `text` by [`REDACTED`].
fn replace_spans(text: &str, mut spans: Vec<(usize, usize)>) -> String {
    spans.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end) in spans {
        if start < at {
            continue;
        }
        out.push_str(&text[at..start]);
        out.push_str(REDACTED);
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

/// Whether `c` can be part of a credential written without quotes (token68 and friends).
fn credential_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~+/=:%".contains(c)
}

/// `Bearer <credential>`, `Basic <credential>`: the credential goes.
fn after_schemes(text: &str) -> String {
    let mut spans = Vec::new();
    for scheme in SCHEMES {
        for at in positions(text, scheme) {
            // A whole word only: "basically" is not a scheme.
            let before = text[..at].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric()) {
                continue;
            }
            let rest = &text[at + scheme.len()..];
            let gap = rest.len() - rest.trim_start_matches([' ', '\t']).len();
            if gap == 0 {
                continue;
            }
            let start = at + scheme.len() + gap;
            let len: usize = text[start..]
                .chars()
                .take_while(|c| credential_char(*c))
                .map(char::len_utf8)
                .sum();
            if len > 0 && !text[start..start + len].contains(REDACTED) {
                spans.push((start, start + len));
            }
        }
    }
    replace_spans(text, spans)
}

/// `key: value`, `"key": "value"`, `key=value`: for the keys of a credential, the value goes.
fn after_keys(text: &str) -> String {
    let mut spans = Vec::new();
    for key in KEYS {
        for at in positions(text, key) {
            let mut i = at + key.len();
            let bytes = text.as_bytes();
            // The key's closing quote, spaces, the separator, spaces, an opening quote.
            while i < bytes.len() && matches!(bytes[i], b'"' | b'\'' | b' ' | b'\t') {
                i += 1;
            }
            if i >= bytes.len() || !matches!(bytes[i], b':' | b'=') {
                continue;
            }
            i += 1;
            while i < bytes.len() && matches!(bytes[i], b' ' | b'\t') {
                i += 1;
            }
            let quote = bytes.get(i).copied().filter(|b| matches!(b, b'"' | b'\''));
            if quote.is_some() {
                i += 1;
            }
            let start = i;
            let mut end = start;
            let mut escaped = false;
            for c in text[start..].chars() {
                let stop = match quote {
                    Some(q) => !escaped && c == char::from(q),
                    None => c.is_whitespace() || "&,;}])\"'".contains(c),
                };
                if stop {
                    break;
                }
                escaped = c == '\\' && !escaped;
                end += c.len_utf8();
            }
            let value = &text[start..end];
            if end > start && value != REDACTED {
                spans.push((start, end));
            }
        }
    }
    replace_spans(text, spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_every_shape_are_replaced() {
        let cases = [
            (
                "Authorization: Bearer eyJhbGciOi.x-y_z",
                "Authorization: «redacted» «redacted»",
            ),
            (
                r#"{"access_token": "tok-1", "expires_in": 3600}"#,
                r#"{"access_token": "«redacted»", "expires_in": 3600}"#,
            ),
            (
                "grant_type=x&client_secret=s3cr3t&scope=y",
                "grant_type=x&client_secret=«redacted»&scope=y",
            ),
            (
                "X-Auth-Token:abc123 refused",
                "X-Auth-Token:«redacted» refused",
            ),
            ("basically fine", "basically fine"),
            ("Invalid token", "Invalid token"),
            ("line one\nline two\r", "line one line two"),
        ];
        for (text, want) in cases {
            assert_eq!(upstream_text(text, &[]), want, "{text}");
        }
        assert_eq!(
            upstream_text(
                "your key hunter2-secret was wrong",
                &["hunter2-secret", "ab"]
            ),
            "your key «redacted» was wrong"
        );
        let long = "x".repeat(MAX_UPSTREAM_TEXT + 50);
        let kept = upstream_text(&long, &[]);
        assert_eq!(kept.chars().count(), MAX_UPSTREAM_TEXT + 1);
        assert!(kept.ends_with('…'));
    }
}
