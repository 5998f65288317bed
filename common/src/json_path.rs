//! Turning serde's errors into "JSON path of the field: what to do", for every document the
//! connector reads (the connector document, order bundles).

/// Joins a path prefix and a serde_path_to_error path (`.` means "the value itself"); the
/// document's root is the empty path.
pub(crate) fn join(prefix: &str, inner: &str) -> String {
    let inner = if inner == "." { "" } else { inner };
    match (prefix.is_empty(), inner.is_empty()) {
        (_, true) => prefix.to_string(),
        (true, false) => inner.to_string(),
        (false, false) if inner.starts_with('[') => format!("{prefix}{inner}"),
        (false, false) => format!("{prefix}.{inner}"),
    }
}

fn shown(path: String) -> String {
    if path.is_empty() {
        "(document)".to_string()
    } else {
        path
    }
}

/// The path and message for a deserialization error under `prefix`. Missing and unknown fields
/// are reported at the field itself, and a bad map key is named instead of shown as `?`. The
/// value that was found is never quoted (see [`without_value`]).
pub(crate) fn describe(
    prefix: &str,
    err: &serde_path_to_error::Error<serde_json::Error>,
) -> (String, String) {
    let mut path = join(prefix, &err.path().to_string());
    let message = without_value(&err.inner().to_string());
    let quoted = |rest: &str| rest.split('`').next().unwrap_or_default().to_string();
    if let (Some(stem), Some(rest)) = (
        path.strip_suffix(".?"),
        message.strip_prefix("unknown variant `"),
    ) {
        path = format!("{stem}.{}", quoted(rest));
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        return (
            shown(join(&path, &quoted(rest))),
            "required field is missing".into(),
        );
    }
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let field = quoted(rest);
        let expected = rest.split_once(", ").map(|(_, e)| e).unwrap_or("");
        let path = if path.ends_with(&field) {
            path
        } else {
            join(&path, &field)
        };
        return (shown(path), format!("unknown field; {expected}"));
    }
    (shown(path), message)
}

/// serde's type and value errors quote what they found (`invalid type: string "…", expected
/// struct StoreCredentials`). When a secret sits where an object was expected, that quote
/// would carry it into `mlc config check`, the functions' logs and every error built on the
/// message, so only the kind of value is kept: `invalid type: string, expected …`. The path
/// says where the value is; its owner can look at it there.
pub(crate) fn without_value(message: &str) -> String {
    for lead in ["invalid type: ", "invalid value: "] {
        let Some(rest) = message.strip_prefix(lead) else {
            continue;
        };
        let (kind, after) = match rest.strip_prefix("string \"") {
            // A Debug-quoted string: it ends at the first quote not escaped by a backslash.
            Some(quoted) => {
                let mut escaped = false;
                let end = quoted.char_indices().find_map(|(i, c)| {
                    let closes = c == '"' && !escaped;
                    escaped = c == '\\' && !escaped;
                    closes.then_some(i + 1)
                });
                ("string", end.map_or("", |e| &quoted[e..]))
            }
            // `integer `5``, `boolean `true``, `null`, `map`…: the kind is what precedes the
            // backquoted value, and the expectation follows the first ", expected ".
            None => match rest.split_once(", expected ") {
                Some((found, _)) => {
                    let kind = found.split_once(" `").map_or(found, |(k, _)| k);
                    (kind, &rest[found.len()..])
                }
                None => ("a value that is not shown", ""),
            },
        };
        return format!("{lead}{kind}{after}");
    }
    message.to_string()
}

#[cfg(test)]
mod tests {
    use super::without_value;

    #[test]
    fn type_and_value_errors_keep_the_kind_and_drop_the_value() {
        for (serde, shown) in [
            (
                r#"invalid type: string "tok-1, expected \" x", expected struct StoreCredentials"#,
                "invalid type: string, expected struct StoreCredentials",
            ),
            (
                "invalid type: integer `998877`, expected u64",
                "invalid type: integer, expected u64",
            ),
            (
                "invalid value: floating point `1.5`, expected u32",
                "invalid value: floating point, expected u32",
            ),
            (
                "invalid type: map, expected a string",
                "invalid type: map, expected a string",
            ),
            (
                r#"invalid type: string "never closed"#,
                "invalid type: string",
            ),
            ("missing field `ledger`", "missing field `ledger`"),
        ] {
            assert_eq!(without_value(serde), shown, "{serde}");
        }
    }
}
