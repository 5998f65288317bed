//! `journalBatches` and its children (`journalHeaders`, `journalLines`): what Fusion holds of
//! the connector's batches, read back for tracking and reconciliation.

use super::answers::{BatchItem, HeaderItem, LineItem};
use super::{FusionClient, q_value};
use crate::oracle::error::OracleError;
use crate::oracle::models::{BatchRecord, JournalRecord, LineRecord};

/// Batches whose name starts with `name_prefix`, with journals and lines when asked.
pub(super) async fn find_batches(
    client: &FusionClient,
    name_prefix: &str,
    with_lines: bool,
) -> Result<Vec<BatchRecord>, OracleError> {
    let prefix = q_value(name_prefix)?;
    let items: Vec<BatchItem> = client
        .transport
        .get_all(
            "journalBatches",
            &[
                ("q", format!("BatchName LIKE '{prefix}%'")),
                ("onlyData", "true".into()),
            ],
        )
        .await?;
    let mut batches = Vec::with_capacity(items.len());
    for item in items {
        let journals = if with_lines {
            journals_of(client, item.id).await?
        } else {
            Vec::new()
        };
        batches.push(BatchRecord {
            id: item.id,
            name: item.name,
            status: item.status,
            period: item.period,
            total_dr: item.total_dr,
            total_cr: item.total_cr,
            journals,
        });
    }
    Ok(batches)
}

/// A batch's journals with their lines. Headers are read with their links (their key is only
/// in `links[rel=self]`); a header without one is an answer of the wrong shape.
async fn journals_of(
    client: &FusionClient,
    batch_id: u64,
) -> Result<Vec<JournalRecord>, OracleError> {
    let headers_path = format!("journalBatches/{batch_id}/child/journalHeaders");
    let headers: Vec<HeaderItem> = client.transport.get_all(&headers_path, &[]).await?;
    let mut journals = Vec::with_capacity(headers.len());
    for (i, h) in headers.into_iter().enumerate() {
        let key = h.key().ok_or_else(|| OracleError::Decode {
            call: format!("GET {headers_path}"),
            path: format!("items[{i}].links"),
            message: "no link with rel \"self\" (the header's key)".into(),
        })?;
        let lines: Vec<LineItem> = client
            .transport
            .get_all(
                &format!("{headers_path}/{key}/child/journalLines"),
                &[("onlyData", "true".into())],
            )
            .await?;
        journals.push(JournalRecord {
            name: h.name,
            reference: h.reference,
            currency: h.currency,
            period: h.period,
            lines: lines
                .into_iter()
                .map(|l| LineRecord {
                    number: l.number,
                    account: l.account,
                    entered_dr: l.entered_dr,
                    entered_cr: l.entered_cr,
                    description: l.description,
                })
                .collect(),
        });
    }
    Ok(journals)
}
