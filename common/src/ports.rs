//! Ports: the traits the application services depend on, so the same services run against the
//! real systems, the sandboxes, and in-memory fakes. (StateStore, Queue, SecretSource and
//! OracleApi join these with their issues.)

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::bigcommerce::api::{Channel, Hook, HookUpdate, NewHook, RefundPolicy, TimeWindow};
use crate::bigcommerce::{BcError, CategoryTree, Order, OrderBundle, Refund};
use crate::journal::Journal;
use crate::oracle::{BatchRecord, JobStatus, LedgerRecord, OracleError, Period, Submission};

/// What the connector needs from one BigCommerce store. Every method is one logical operation;
/// implementations decide how many HTTP calls it takes (pagination, fallbacks, caches) and
/// handle rate limits and transient failures themselves, so callers see either the result or a
/// typed error that names the call that failed.
#[async_trait]
pub trait BigCommerceApi: Send + Sync {
    /// The order with its line items, the categories of its products, the category tree, and
    /// its refunds as `refunds` asks.
    async fn fetch_bundle(
        &self,
        order_id: u64,
        refunds: RefundPolicy,
    ) -> Result<OrderBundle, BcError>;

    /// Orders modified within the window (bounds included), oldest change first, with their
    /// line items where the store sends them with the order.
    async fn orders_modified(&self, window: TimeWindow) -> Result<Vec<Order>, BcError>;

    /// Refunds of one order, oldest first.
    async fn refunds_of(&self, order_id: u64) -> Result<Vec<Refund>, BcError>;

    /// Refunds created within the window (bounds included), oldest first.
    async fn refunds_created(&self, window: TimeWindow) -> Result<Vec<Refund>, BcError>;

    /// Category ids of each product (products that no longer exist map to none).
    async fn product_categories(
        &self,
        product_ids: &[u64],
    ) -> Result<BTreeMap<u64, Vec<u64>>, BcError>;

    /// The store's category tree.
    async fn category_tree(&self) -> Result<CategoryTree, BcError>;

    /// The store's channels (storefronts, marketplaces, POS).
    async fn channels(&self) -> Result<Vec<Channel>, BcError>;

    /// The hooks of this API account.
    async fn hooks(&self) -> Result<Vec<Hook>, BcError>;

    /// Registers a hook.
    async fn create_hook(&self, hook: &NewHook) -> Result<Hook, BcError>;

    /// Changes a hook (destination, headers, `is_active`).
    async fn update_hook(&self, hook_id: u64, update: &HookUpdate) -> Result<Hook, BcError>;

    /// Creates or replaces an order metafield (the journal reference kept on the order).
    async fn put_order_metafield(
        &self,
        order_id: u64,
        namespace: &str,
        key: &str,
        value: &str,
    ) -> Result<(), BcError>;
}

/// What the connector needs from Oracle Fusion. Implementations retry reads themselves and
/// never resend an import whose outcome is unknown (they say so with
/// [`OracleError::OutcomeUnknown`]).
#[async_trait]
pub trait OracleApi: Send + Sync {
    /// Sends journals (one ledger) as one Journal Import in group `group_id`.
    async fn submit_import(
        &self,
        journals: &[Journal],
        group_id: u64,
    ) -> Result<Submission, OracleError>;

    /// The state of an import's job.
    async fn job_status(&self, request_id: u64) -> Result<JobStatus, OracleError>;

    /// The job's log (where Journal Import writes why it rejected a group).
    async fn job_log(&self, request_id: u64) -> Result<String, OracleError>;

    /// Batches whose name starts with `name_prefix`, with journals and lines when asked.
    async fn find_batches(
        &self,
        name_prefix: &str,
        with_lines: bool,
    ) -> Result<Vec<BatchRecord>, OracleError>;

    /// The ledger's General Ledger period containing `date`, if the calendar has one.
    async fn period_for_date(
        &self,
        ledger_id: u64,
        date: chrono::NaiveDate,
    ) -> Result<Option<Period>, OracleError>;

    /// The first open period starting after `after`.
    async fn next_open_period(
        &self,
        ledger_id: u64,
        after: chrono::NaiveDate,
    ) -> Result<Option<Period>, OracleError>;

    /// The ledgers the integration user can see.
    async fn ledgers(&self) -> Result<Vec<LedgerRecord>, OracleError>;
}

/// The time, injected so that time-dependent logic (signature windows, cursors, stuck imports)
/// can be tested without waiting.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
