//! The segments an order's booked journals used, line by line.
//!
//! A posted journal is never changed, so whatever comes after it must meet it where it is: a
//! refund reverses the exact segment combination its sale line was credited to, a cancellation
//! reverses what was booked, and a delta after an edit moves amounts, not accounts. A mapping
//! rule changed since the sale posted applies to new lines only; it never reclassifies the
//! ledger behind finance's back.

use std::collections::HashMap;

use super::Journal;
use crate::mapping::AccountRole;

/// What one booked line was mapped to, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remembered {
    /// Segment values in chart-of-accounts order.
    pub segments: Vec<String>,
    /// The line's explanation (`rule:apparel, default:revenue`).
    pub rule: String,
    /// What decided each segment, as recorded.
    pub sources: Vec<String>,
    /// The batch the line was booked in.
    pub batch: String,
}

/// The segments of an order's booked lines, by the line's reference and role.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SegmentMemory {
    lines: HashMap<(String, AccountRole), Remembered>,
}

impl SegmentMemory {
    /// The memory of these journals; where two lines share a reference and role, the first
    /// journal given wins (pass the sale first: it is what later journals mirror).
    pub fn of<'j>(journals: impl IntoIterator<Item = &'j Journal>) -> Self {
        let mut lines = HashMap::new();
        for journal in journals {
            for line in &journal.lines {
                lines
                    .entry((line.reference.clone(), line.account_role))
                    .or_insert_with(|| Remembered {
                        segments: line.segments.clone(),
                        rule: line.rule.clone(),
                        sources: line.segment_sources.clone(),
                        batch: journal.batch_name.clone(),
                    });
            }
        }
        Self { lines }
    }

    /// The segments the line `reference` of this role was booked to.
    pub fn get(&self, reference: &str, role: AccountRole) -> Option<&Remembered> {
        self.lines.get(&(reference.to_string(), role))
    }

    /// Nothing is booked.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}
