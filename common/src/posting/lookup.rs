//! Finding journals' batches in the ledger by their names. Batch names are deterministic
//! (store, order, posting), so this is how an import whose answer was lost is settled, how a
//! success is confirmed batch by batch, and how a replay learns the journal is already there.

use crate::journal::Journal;
use crate::ports::OracleApi;

/// A journal's batch as Fusion holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundBatch {
    /// `JeBatchId`.
    pub batch_id: u64,
    /// The batch name as Fusion stores it (ours plus its suffixes).
    pub fusion_name: String,
}

/// What looking journals up by their batch names found, each item under the caller's key.
pub struct Lookup<K> {
    /// In the ledger.
    pub found: Vec<(K, FoundBatch)>,
    /// Not in the ledger: Fusion answered, and no batch has the name.
    pub missing: Vec<(K, Journal)>,
    /// Not known: the lookup failed. Never to be taken for missing, or a journal that is in the
    /// ledger would be sent again (the soak found one posted twice that way).
    pub unread: Vec<(K, Journal)>,
}

/// Looks each journal's batch up by its name.
pub async fn look_up_by_name<K: Send>(
    oracle: &dyn OracleApi,
    group: Vec<(K, Journal)>,
) -> Lookup<K> {
    let mut lookup = Lookup {
        found: Vec::new(),
        missing: Vec::new(),
        unread: Vec::new(),
    };
    for (k, journal) in group {
        match oracle.find_batches(&journal.batch_name, false).await {
            Ok(batches) => match batches
                .into_iter()
                .find(|b| b.is_named(&journal.batch_name))
            {
                Some(b) => lookup.found.push((
                    k,
                    FoundBatch {
                        batch_id: b.id,
                        fusion_name: b.name,
                    },
                )),
                None => lookup.missing.push((k, journal)),
            },
            Err(_) => lookup.unread.push((k, journal)),
        }
    }
    lookup
}
