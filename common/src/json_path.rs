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
/// are reported at the field itself, and a bad map key is named instead of shown as `?`.
pub(crate) fn describe(
    prefix: &str,
    err: &serde_path_to_error::Error<serde_json::Error>,
) -> (String, String) {
    let mut path = join(prefix, &err.path().to_string());
    let message = err.inner().to_string();
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
