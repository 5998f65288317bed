//! Journal entries and the builders that make them from BigCommerce orders.
//!
//! One business event is one posting and one journal: the `sale` when an order reaches a sale
//! status, `refund:{id}` per V3 refund, the `reversal` when a posted order is cancelled,
//! `reinstate:{n}` when a cancelled order comes back, and `adjust:{n}` when what the order
//! implies changes otherwise (the delta, never an edit). Together they always sum to the
//! order's expected position ([`Position`]). A journal is immutable
//! once built; corrections are new journals. Every builder ends in the same
//! [`finalize`](self::finalize) step, which rounds to the currency's minor units, sends a
//! difference within the tolerance to the rounding account and a larger one to suspense (or
//! refuses, per the document), and checks that debits equal credits exactly.

mod bounds;
mod context;
mod delta;
mod finalize;
mod memory;
mod naming;
mod position;
mod refund;
mod sale;

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::mapping::{AccountRole, MappingError};
use crate::money::{Currency, Money, amount_serde};

pub use bounds::MAX_AMOUNT;
pub(crate) use bounds::check as check_amounts;
pub use context::JournalContext;
pub use memory::{Remembered, SegmentMemory};
pub use naming::{MAX_BATCH_NAME_LEN, batch_name, batch_name_prefix, journal_reference};
pub use position::{
    AccountDifference, AccountNet, Position, build_adjustment, build_cancellation,
    build_reinstatement,
};
pub(crate) use position::{cancelled_target, standing_target};
pub use refund::{build_refund, build_refund_of_cancelled, refund_paid};
pub use sale::build_sale;

/// Which business event a journal records. Its text form (`sale`, `refund:12`, `reversal`,
/// `adjust:1`) is the posting key, unique per order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PostingKind {
    /// The order reached a sale status.
    Sale,
    /// A V3 refund, by refund id.
    Refund(u64),
    /// A posted order was cancelled or declined: the n-th time (1 for the first; an order
    /// reinstated and cancelled again is cancelled a second time).
    Reversal(u32),
    /// The n-th time a cancelled order came back to a sale status: it books the sale again,
    /// and is held for a person before it posts.
    Reinstatement(u32),
    /// The n-th change to a posted order's financial content.
    Adjustment(u32),
}

impl PostingKind {
    /// The first cancellation of an order (`reversal`).
    pub const REVERSAL: PostingKind = PostingKind::Reversal(1);

    /// The n of a numbered posting (reversal, reinstatement, adjustment).
    pub fn number(&self) -> Option<u32> {
        match self {
            PostingKind::Reversal(n)
            | PostingKind::Reinstatement(n)
            | PostingKind::Adjustment(n) => Some(*n),
            PostingKind::Sale | PostingKind::Refund(_) => None,
        }
    }

    /// The form used inside Oracle batch names, where `:` is avoided (`refund-12`).
    pub fn name_tag(&self) -> String {
        self.to_string().replace(':', "-")
    }
}

impl fmt::Display for PostingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PostingKind::Sale => f.write_str("sale"),
            PostingKind::Refund(id) => write!(f, "refund:{id}"),
            PostingKind::Reversal(1) => f.write_str("reversal"),
            PostingKind::Reversal(n) => write!(f, "reversal:{n}"),
            PostingKind::Reinstatement(n) => write!(f, "reinstate:{n}"),
            PostingKind::Adjustment(n) => write!(f, "adjust:{n}"),
        }
    }
}

impl FromStr for PostingKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!(
                "\"{s}\" is not a posting key (sale, refund:<id>, reversal, reversal:<n>, reinstate:<n>, adjust:<n>)"
            )
        };
        let number = |n: &str| n.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(bad);
        match s.split_once(':') {
            None if s == "sale" => Ok(PostingKind::Sale),
            None if s == "reversal" => Ok(PostingKind::REVERSAL),
            Some(("refund", id)) => id.parse().map(PostingKind::Refund).map_err(|_| bad()),
            Some(("reversal", n)) => number(n).map(PostingKind::Reversal),
            Some(("reinstate", n)) => number(n).map(PostingKind::Reinstatement),
            Some(("adjust", n)) => n.parse().map(PostingKind::Adjustment).map_err(|_| bad()),
            _ => Err(bad()),
        }
    }
}

impl Serialize for PostingKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for PostingKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Debit or credit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// Debit.
    Dr,
    /// Credit.
    Cr,
}

impl Side {
    /// The other side.
    pub fn opposite(self) -> Side {
        match self {
            Side::Dr => Side::Cr,
            Side::Cr => Side::Dr,
        }
    }
}

/// How the entered currency converts to the ledger currency (GL_INTERFACE conversion columns).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversion {
    /// `User` with a rate, or a Fusion conversion type (`Corporate`…) for a lookup.
    pub conversion_type: String,
    /// Date of the rate.
    pub date: NaiveDate,
    /// Entered-to-ledger rate, for `User`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<Decimal>,
}

/// Something a reviewer should know about a journal. The audit keeps these; a flagged journal
/// still balances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JournalFlag {
    /// BigCommerce's components did not add up to what changed hands; the difference went to
    /// the suspense account.
    TotalsMismatch {
        /// What the customer owes (sale) or got back (refund).
        #[serde(with = "amount_serde")]
        tenders: Decimal,
        /// What the order's components add up to.
        #[serde(with = "amount_serde")]
        components: Decimal,
        /// `tenders − components`, rounded: the suspense amount.
        #[serde(with = "amount_serde")]
        difference: Decimal,
    },
    /// The order carried discounts only at order level; they were spread over the revenue
    /// lines in proportion to their value.
    OrderDiscountAllocated {
        /// The discount spread, in the store's pricing basis.
        #[serde(with = "amount_serde")]
        amount: Decimal,
    },
    /// The order's own exchange rate could not convert to the ledger currency; Fusion looks
    /// the rate up instead.
    RateLookedUpInOracle {
        /// Why the order's rate was not usable.
        reason: String,
    },
    /// A refund item names something the bundle does not have; it was posted at order level.
    RefundItemNotFound {
        /// The item, as `TYPE:id`.
        item: String,
    },
    /// The accounting date fell in a closed period; as `posting.closed_period = next_open`
    /// says, the journal was dated on the first day of the next open period.
    MovedToOpenPeriod {
        /// The date it would have had.
        from: NaiveDate,
        /// The period it was moved to.
        period: String,
    },
}

/// One journal line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalLine {
    /// Segment values in chart-of-accounts order.
    pub segments: Vec<String>,
    /// What the amount is.
    pub account_role: AccountRole,
    /// Debit, in the currency's minor units (zero when this is a credit line).
    #[serde(with = "amount_serde")]
    pub dr: Decimal,
    /// Credit, in the currency's minor units (zero when this is a debit line).
    #[serde(with = "amount_serde")]
    pub cr: Decimal,
    /// For people (GL_INTERFACE REFERENCE10).
    pub description: String,
    /// What decided the account, e.g. `rule:apparel, default:revenue`.
    pub rule: String,
    /// What decided each segment, position by position.
    pub segment_sources: Vec<String>,
    /// Where the amount comes from in BigCommerce (`line:65`, `shipping`, `refund:12:PRODUCT:87`).
    pub reference: String,
    /// Money that changed hands (what the shopper paid with, or got back through), as opposed
    /// to the components that explain it: a cancellation keeps these and reverses the rest.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tender: bool,
}

impl JournalLine {
    /// The side this line is on.
    pub fn side(&self) -> Side {
        if self.dr.is_zero() {
            Side::Cr
        } else {
            Side::Dr
        }
    }

    /// The line's amount as debit minus credit.
    pub fn net(&self) -> Decimal {
        self.dr - self.cr
    }

    /// Whether the line is money that changed hands. Lines recorded before the flag existed
    /// are read by their role: receivable and store credit were only ever tenders.
    pub fn is_tender(&self) -> bool {
        self.tender
            || matches!(
                self.account_role,
                AccountRole::Receivable | AccountRole::StoreCredit
            )
    }
}

/// A journal entry: one posting of one order, ready for Journal Import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    /// Posting key within the order.
    pub posting: PostingKind,
    /// GL_INTERFACE REFERENCE1: `BC-{store}-{order}-{posting}`, the idempotency key in Oracle.
    pub batch_name: String,
    /// GL_INTERFACE REFERENCE4.
    pub journal_name: String,
    /// GL_INTERFACE REFERENCE2/REFERENCE5.
    pub description: String,
    /// GL_INTERFACE REFERENCE6: `BC-{store}-{order}`, shared by every journal of the order.
    pub reference: String,
    /// Ledger name.
    pub ledger: String,
    /// Ledger id (LEDGER_ID).
    pub ledger_id: u64,
    /// Journal source name.
    pub source: String,
    /// Journal category name.
    pub category: String,
    /// The event's date in the store's time zone.
    pub accounting_date: NaiveDate,
    /// Period name, when the ledger's period naming is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_name: Option<String>,
    /// Entered currency: the order's transactional currency.
    pub currency: Currency,
    /// Conversion to the ledger currency, when they differ.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversion: Option<Conversion>,
    /// Store id.
    pub store: String,
    /// BigCommerce store hash.
    pub store_hash: String,
    /// BigCommerce order id.
    pub order_id: u64,
    /// Batch this journal refers to (the sale, for refunds, reversals and deltas).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linked_batch: Option<String>,
    /// What a reviewer should know.
    #[serde(default)]
    pub flags: Vec<JournalFlag>,
    /// The lines; empty when the event moves no money.
    pub lines: Vec<JournalLine>,
}

impl Journal {
    /// Total debits.
    pub fn total_dr(&self) -> Decimal {
        self.lines.iter().map(|l| l.dr).sum()
    }

    /// Total credits.
    pub fn total_cr(&self) -> Decimal {
        self.lines.iter().map(|l| l.cr).sum()
    }

    /// Debits equal credits exactly.
    pub fn is_balanced(&self) -> bool {
        self.total_dr() == self.total_cr()
    }

    /// Nothing to post (a free order, a fully declined refund, an unchanged edit).
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Net (debit − credit) of all lines of one role.
    pub fn net_of(&self, role: AccountRole) -> Decimal {
        self.lines
            .iter()
            .filter(|l| l.account_role == role)
            .map(JournalLine::net)
            .sum()
    }

    /// Whether BigCommerce's figures did not add up for this journal.
    pub fn has_totals_mismatch(&self) -> bool {
        self.flags
            .iter()
            .any(|f| matches!(f, JournalFlag::TotalsMismatch { .. }))
    }
}

/// Why a journal could not be built. Each variant names the order and the figures involved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JournalError {
    /// `--store` or a routing result named a store the document does not have.
    #[error("unknown store \"{0}\"")]
    UnknownStore(String),
    /// The store's ledger or time zone is not usable (only for unvalidated documents).
    #[error("store \"{store}\": {message}")]
    StoreSetup {
        /// Store id.
        store: String,
        /// What is wrong.
        message: String,
    },
    /// The order's currency cannot be read.
    #[error("order {order}: default_currency_code: {message}")]
    Currency {
        /// Order id.
        order: u64,
        /// What is wrong.
        message: String,
    },
    /// The order has a subtotal but no line items to map it to.
    #[error(
        "order {order}: no line items for a subtotal of {subtotal}: add \"products\" (GET /v2/orders/{order}/products) or fetch the order with include=consignments.line_items"
    )]
    NoLineItems {
        /// Order id.
        order: u64,
        /// The subtotal that has nowhere to go.
        subtotal: Money,
    },
    /// The refund is not in the bundle.
    #[error("order {order}: refund {refund} is not in the bundle")]
    UnknownRefund {
        /// Order id.
        order: u64,
        /// Refund id.
        refund: u64,
    },
    /// Components and tenders differ beyond the tolerance and the document says to hold.
    #[error(
        "order {order} ({posting}): totals do not add up: tenders {tenders}, components {components}, difference {difference} exceeds the rounding tolerance of {tolerance}; held for review (posting.totals_mismatch = \"hold\")"
    )]
    TotalsMismatch {
        /// Order id.
        order: u64,
        /// Posting key.
        posting: PostingKind,
        /// What the customer owes or got back.
        tenders: Money,
        /// What the components add up to.
        components: Money,
        /// The rounded difference.
        difference: Money,
        /// The configured tolerance.
        tolerance: Money,
    },
    /// Debits and credits differ after finalisation. A defect, reported rather than posted.
    #[error(
        "order {order} ({posting}): journal does not balance: debits {debits}, credits {credits}"
    )]
    Unbalanced {
        /// Order id.
        order: u64,
        /// Posting key.
        posting: PostingKind,
        /// Total debits.
        debits: Money,
        /// Total credits.
        credits: Money,
    },
    /// An amount could not be mapped to segments.
    #[error("order {order}: {source}")]
    Mapping {
        /// Order id.
        order: u64,
        /// What is missing.
        source: MappingError,
    },
    /// An amount of the order, or a figure computed from it, is beyond what can be journalised
    /// ([`MAX_AMOUNT`]): held for a person instead of a panic that would fail a whole batch.
    #[error(
        "order {order}: {field} is too large to journal (beyond {max} either way, or a figure computed from it is); held for a person: check the order in BigCommerce",
        max = MAX_AMOUNT
    )]
    AmountOutOfRange {
        /// Order id.
        order: u64,
        /// The field (its path in the order bundle), or the figure computed from it.
        field: String,
    },
    /// A delta between journals that do not belong together.
    #[error("order {order}: cannot compute a delta: {message}")]
    Incompatible {
        /// Order id.
        order: u64,
        /// What differs.
        message: String,
    },
}

impl JournalError {
    /// The order itself cannot be journalised as BigCommerce sent it (a currency ISO 4217 does
    /// not list, amounts beyond [`MAX_AMOUNT`]): bad input, held for a person, never retried or
    /// guessed at. `mlc preview` exits 2 on it, as on any other bad input.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            JournalError::Currency { .. } | JournalError::AmountOutOfRange { .. }
        )
    }
}
