//! What every builder needs: the store, its ledger, its time zone, the mapper, and what the
//! ledger already holds for the order (so later journals hit the segments its sale hit).

use std::str::FromStr;

use chrono::NaiveDate;
use chrono_tz::Tz;
use rust_decimal::Decimal;

use super::memory::SegmentMemory;
use super::naming::{batch_name, journal_reference};
use super::{Conversion, Journal, JournalError, JournalFlag, PostingKind};
use crate::bigcommerce::Order;
use crate::bigcommerce::models::BcDate;
use crate::config::{ConnectorConfig, LedgerConfig, RateSource, RefundConversion, StoreConfig};
use crate::mapping::Mapper;
use crate::money::Currency;

/// Digits kept in a conversion rate computed from the order's rate.
const RATE_DECIMALS: u32 = 12;

/// One store's view of the connector document, for building its journals.
#[derive(Debug, Clone, Copy)]
pub struct JournalContext<'c> {
    /// The whole document (posting settings live here).
    pub config: &'c ConnectorConfig,
    /// The store the order belongs to.
    pub store: &'c StoreConfig,
    /// The ledger the store posts to.
    pub ledger: &'c LedgerConfig,
    pub(crate) mapper: Mapper<'c>,
    /// The segments the order's booked journals used, line by line.
    pub(crate) memory: Option<&'c SegmentMemory>,
    tz: Tz,
}

impl<'c> JournalContext<'c> {
    /// The context for the store with this id.
    pub fn new(config: &'c ConnectorConfig, store_id: &str) -> Result<Self, JournalError> {
        let store = config
            .store(store_id)
            .ok_or_else(|| JournalError::UnknownStore(store_id.to_string()))?;
        let setup = |message: String| JournalError::StoreSetup {
            store: store.id.clone(),
            message,
        };
        let ledger = config
            .ledger(&store.ledger)
            .ok_or_else(|| setup(format!("unknown ledger \"{}\"", store.ledger)))?;
        let tz = Tz::from_str(&store.timezone)
            .map_err(|_| setup(format!("unknown time zone \"{}\"", store.timezone)))?;
        Ok(Self {
            config,
            store,
            ledger,
            mapper: Mapper::new(&config.oracle.chart_of_accounts, &config.mapping),
            memory: None,
            tz,
        })
    }

    /// The same context, building against what the ledger already holds for the order: a line
    /// already booked keeps the segments it was booked to (a mapping changed since does not move
    /// posted revenue), and refunds mirror those segments.
    pub fn with_memory(self, memory: &'c SegmentMemory) -> Self {
        Self {
            memory: Some(memory),
            ..self
        }
    }

    /// The calendar date of an instant in the store's time zone: an order placed at 23:30 in
    /// New York on the 31st belongs to the 31st, although it is the 1st in UTC.
    pub fn local_date(&self, at: &BcDate) -> NaiveDate {
        at.0.with_timezone(&self.tz).date_naive()
    }

    /// The ledger's period name for a date, when its naming pattern is configured.
    pub fn period_name(&self, date: NaiveDate) -> Option<String> {
        self.ledger
            .period_name_format
            .as_ref()
            .map(|f| date.format(f).to_string())
    }

    /// The journal's entered currency: the transactional currency the shopper paid in.
    pub(crate) fn entered_currency(&self, order: &Order) -> Result<Currency, JournalError> {
        let code = if order.default_currency_code.trim().is_empty() {
            &order.currency_code
        } else {
            &order.default_currency_code
        };
        if code.trim().is_empty() {
            return Err(JournalError::Currency {
                order: order.id,
                message: "missing: the order names no transactional currency".into(),
            });
        }
        Currency::parse(code).map_err(|e| JournalError::Currency {
            order: order.id,
            message: e.to_string(),
        })
    }

    /// How this order's amounts convert to the ledger currency, and a flag when the order's
    /// own rate could not be used.
    pub(crate) fn conversion(
        &self,
        order: &Order,
        entered: Currency,
        date: NaiveDate,
    ) -> (Option<Conversion>, Option<JournalFlag>) {
        let ledger_currency = self.ledger.currency;
        if entered == ledger_currency {
            return (None, None);
        }
        let lookup = Conversion {
            conversion_type: self.ledger.conversion.conversion_type.clone(),
            date,
            rate: None,
        };
        if self.ledger.conversion.rate_source == RateSource::Oracle {
            return (Some(lookup), None);
        }
        let base = Currency::parse(&order.store_default_currency_code).ok();
        let rate = order
            .store_default_to_transactional_exchange_rate
            .filter(|r| *r > Decimal::ZERO);
        let reason = match (base, rate) {
            (Some(b), Some(r)) if b == ledger_currency && !(r == Decimal::ONE && b != entered) => {
                // 1 base = r entered, so 1 entered = 1/r base (= ledger) units.
                let user = Conversion {
                    conversion_type: "User".into(),
                    date,
                    rate: Some((Decimal::ONE / r).round_dp(RATE_DECIMALS).normalize()),
                };
                return (Some(user), None);
            }
            (Some(b), Some(r)) if b == ledger_currency => format!(
                "the order's rate from {b} to {entered} is {r}, which cannot be right between different currencies"
            ),
            (Some(b), _) if b != ledger_currency => format!(
                "the order's rate converts from the store currency {b}, not from the ledger currency {ledger_currency}"
            ),
            _ => "the order carries no usable store_default_to_transactional_exchange_rate".into(),
        };
        (
            Some(lookup),
            Some(JournalFlag::RateLookedUpInOracle { reason }),
        )
    }

    /// How a refund dated `refund_date` converts: as `conversion.refunds` says, at the rate
    /// and date of the sale, or as a transaction of its own on its own date (the ledger's
    /// conversion type, looked up by Fusion).
    pub(crate) fn refund_conversion(
        &self,
        order: &Order,
        entered: Currency,
        refund_date: NaiveDate,
    ) -> (Option<Conversion>, Option<JournalFlag>) {
        match self.ledger.conversion.refunds {
            RefundConversion::SaleRate => {
                self.conversion(order, entered, self.local_date(&order.date_created))
            }
            RefundConversion::RefundDate if entered == self.ledger.currency => (None, None),
            RefundConversion::RefundDate => (
                Some(Conversion {
                    conversion_type: self.ledger.conversion.conversion_type.clone(),
                    date: refund_date,
                    rate: None,
                }),
                None,
            ),
        }
    }

    /// A journal with its header filled in and no lines yet, converting as the sale does.
    pub(crate) fn header(
        &self,
        order: &Order,
        posting: PostingKind,
        date: NaiveDate,
        currency: Currency,
        what: &str,
    ) -> Journal {
        let conversion = self.conversion(order, currency, date);
        self.header_with(order, posting, date, currency, what, conversion)
    }

    /// A journal with its header filled in, converting as given.
    pub(crate) fn header_with(
        &self,
        order: &Order,
        posting: PostingKind,
        date: NaiveDate,
        currency: Currency,
        what: &str,
        (conversion, flag): (Option<Conversion>, Option<JournalFlag>),
    ) -> Journal {
        Journal {
            posting,
            batch_name: batch_name(&self.store.id, order.id, &posting),
            journal_name: format!("BC {} order {} {}", self.store.id, order.id, posting),
            description: format!(
                "BigCommerce order {} ({}, channel {}): {what}",
                order.id, self.store.id, order.channel_id
            ),
            reference: journal_reference(&self.store.id, order.id),
            ledger: self.ledger.name.clone(),
            ledger_id: self.ledger.id,
            source: self.config.oracle.journal_source.clone(),
            category: self.config.oracle.journal_category.clone(),
            accounting_date: date,
            period_name: self.period_name(date),
            currency,
            conversion,
            store: self.store.id.clone(),
            store_hash: self.store.store_hash.clone(),
            order_id: order.id,
            linked_batch: None,
            flags: flag.into_iter().collect(),
            lines: Vec::new(),
        }
    }
}
