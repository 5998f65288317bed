//! An audit event as one line for a terminal: what `mlc audit` prints, and the trail at the
//! end of `mlc demo`.

use common::state::AuditEvent;

/// One audit event on one line, so that a trail reads top to bottom a step a line, with the
/// ids that tie each step to BigCommerce and Oracle.
pub fn describe(e: &AuditEvent) -> String {
    let posting = e.posting.map(|p| p.to_string()).unwrap_or_default();
    let states = match (e.before, e.after) {
        (None, None) => String::new(),
        (b, a) => format!(
            "{} → {}",
            b.map_or("·".to_string(), |s| s.to_string()),
            a.map_or("·".to_string(), |s| s.to_string())
        ),
    };
    let mut ids: Vec<String> = Vec::new();
    for field in ["group_id", "request_id", "batch_id", "reason"] {
        if let Some(v) = e.detail.get(field).filter(|v| !v.is_null()) {
            ids.push(format!(
                "{field}={}",
                v.as_str().map_or_else(|| v.to_string(), str::to_string)
            ));
        }
    }
    if let Some(reasons) = e.detail.get("reasons") {
        ids.push(format!("because={reasons}"));
    }
    if let Some(link) = &e.links_to {
        ids.push(format!("links to {link}"));
    }
    format!(
        "{}  {:<8} {:<13} {:<10} {:<22} {}",
        e.at.format("%H:%M:%S%.3f"),
        format!("{:?}", e.actor).to_lowercase(),
        format!("{:?}", e.kind).to_lowercase(),
        posting,
        states,
        ids.join(" ")
    )
}
