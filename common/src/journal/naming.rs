//! Deterministic names. Oracle has no deduplication of its own, so the batch name is the key
//! that finds a journal again after a lost response, a retry or a replay.

use super::PostingKind;

/// Longest batch name we send. GL_INTERFACE.REFERENCE1 holds 100 characters and Journal Import
/// appends the source, actual flag, group id and request id to it (about 40 more), so names are
/// kept to half of that.
pub const MAX_BATCH_NAME_LEN: usize = 50;

/// `BC-{store}-{order}-{posting}`, e.g. `BC-us-1001-refund-7`. A name that would be too long
/// keeps its start and ends in a hash of the full name, so it stays unique and deterministic.
pub fn batch_name(store: &str, order_id: u64, posting: &PostingKind) -> String {
    let full = format!("BC-{store}-{order_id}-{}", posting.name_tag());
    if full.len() <= MAX_BATCH_NAME_LEN {
        return full;
    }
    let hash = format!("{:016x}", fnv1a(full.as_bytes()));
    let keep = MAX_BATCH_NAME_LEN - 1 - 10;
    format!("{}~{}", &full[..keep], &hash[..10])
}

/// The start shared by every batch name of one order, shortened names included: what a search
/// of `journalBatches` by name uses to find all of an order's batches. When the store id and
/// order id are long it is shortened like the names, so it may also match another order's
/// batches; the journal reference ([`journal_reference`]) tells them apart.
pub fn batch_name_prefix(store: &str, order_id: u64) -> String {
    let mut prefix = format!("BC-{store}-{order_id}-");
    prefix.truncate(MAX_BATCH_NAME_LEN - 1 - 10);
    prefix
}

/// `BC-{store}-{order}`: shared by every journal of one order (GL_INTERFACE REFERENCE6), so
/// all of an order's postings can be found together.
pub fn journal_reference(store: &str, order_id: u64) -> String {
    format!("BC-{store}-{order_id}")
}

/// 64-bit FNV-1a: tiny, stable across releases and platforms, good enough to keep shortened
/// names apart.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_batch_name_of_an_order_starts_with_its_prefix() {
        for store in ["us", "abcdefghijkl", "a-very-long-store-identifier"] {
            for order in [7, 218, u64::MAX] {
                let prefix = batch_name_prefix(store, order);
                for posting in [
                    PostingKind::Sale,
                    PostingKind::Refund(u64::MAX),
                    PostingKind::REVERSAL,
                    PostingKind::Adjustment(12),
                ] {
                    let name = batch_name(store, order, &posting);
                    assert!(name.starts_with(&prefix), "{name} / {prefix}");
                }
            }
        }
        // Short ids: the prefix ends at the order id, so order 21 does not match order 218.
        assert_eq!(batch_name_prefix("us", 21), "BC-us-21-");
        assert!(
            !batch_name("us", 218, &PostingKind::Sale).starts_with(&batch_name_prefix("us", 21))
        );
    }

    #[test]
    fn names_follow_the_documented_pattern() {
        assert_eq!(batch_name("us", 218, &PostingKind::Sale), "BC-us-218-sale");
        assert_eq!(
            batch_name("eu", 7, &PostingKind::Refund(12)),
            "BC-eu-7-refund-12"
        );
        assert_eq!(
            batch_name("us", 7, &PostingKind::Adjustment(2)),
            "BC-us-7-adjust-2"
        );
        assert_eq!(journal_reference("us", 218), "BC-us-218");
    }

    #[test]
    fn long_names_are_shortened_deterministically_and_stay_distinct() {
        let a = batch_name("abcdefghijkl", u64::MAX, &PostingKind::Refund(u64::MAX));
        let b = batch_name("abcdefghijkl", u64::MAX, &PostingKind::Refund(u64::MAX - 1));
        assert_eq!(a.len(), MAX_BATCH_NAME_LEN);
        assert_ne!(a, b);
        assert_eq!(
            a,
            batch_name("abcdefghijkl", u64::MAX, &PostingKind::Refund(u64::MAX))
        );
        assert!(a.starts_with("BC-abcdefghijkl-18446744073709551615-"));
    }
}
