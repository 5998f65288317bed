//! The connector document: the one versioned JSON file that is the whole configuration.
//!
//! The same document is a local file for `mlc` and the Secrets Manager secret value in AWS, so
//! there is exactly one place where a store, a ledger or a mapping rule is defined. Loading
//! (see [`ConnectorConfig::from_json`]) reports every problem at once, each with the JSON path
//! of the field to fix, and a loaded document is known to be usable: every store has a ledger,
//! every amount type maps to a complete account, every rule names real segments.

mod advice;
mod diff;
mod load;
#[cfg(feature = "schema")]
mod schema;
mod secret;
mod validate;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::mapping::AccountRole;
use crate::money::Currency;

pub use diff::{Change, ChangeKind, SecretPaths, Seg, diff};
#[cfg(feature = "schema")]
pub use schema::{SCHEMA_FILE, json_schema, secret_paths};
pub use secret::{REDACTED, Secret, SecretError};

/// The schema version this build reads. A document with another version is refused rather
/// than half-understood.
pub const SCHEMA_VERSION: u32 = 1;

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectorConfig {
    /// Always [`SCHEMA_VERSION`] once loaded.
    pub schema_version: u32,
    /// BigCommerce storefronts, each posting to one ledger.
    pub stores: Vec<StoreConfig>,
    /// The Oracle Fusion pod and its ledgers.
    pub oracle: OracleConfig,
    /// When and how orders become journals.
    pub posting: PostingSettings,
    /// Which GL segments each amount lands on.
    pub mapping: MappingConfig,
}

/// One BigCommerce store, or one group of its channels (storefronts), posting to one ledger.
///
/// A multi-storefront store whose storefronts post to different ledgers appears once per ledger,
/// with the same `store_hash` and disjoint `channels`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// Short code (letters, digits, `_`; at most 12) used in Oracle batch names: `BC-{id}-…`.
    pub id: String,
    /// A name for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The store hash from the API path (`/stores/{hash}/`).
    pub store_hash: String,
    /// Replaces `https://api.bigcommerce.com/stores/{hash}` (sandboxes and tests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_base_url: Option<String>,
    /// API account credentials.
    pub credentials: StoreCredentials,
    /// Channel ids this entry covers; empty means every channel not claimed by another entry.
    #[serde(default)]
    pub channels: Vec<u64>,
    /// Name of the ledger (in `oracle.ledgers`) this store posts to.
    pub ledger: String,
    /// IANA time zone of the store; accounting dates are the order's date in this zone.
    pub timezone: String,
}

/// A BigCommerce API account.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StoreCredentials {
    /// `X-Auth-Token` for the REST API.
    pub access_token: Secret,
    /// The API account's client id (not secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Client secret: the key webhook signatures are made with.
    pub client_secret: Secret,
}

/// The Oracle Fusion Cloud ERP pod.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OracleConfig {
    /// Pod URL, e.g. `https://acme.fa.us2.oraclecloud.com`.
    pub base_url: String,
    /// How to authenticate.
    pub auth: OracleAuth,
    /// The ledgers stores post to.
    pub ledgers: Vec<LedgerConfig>,
    /// Journal source name (`USER_JE_SOURCE_NAME`), registered in Fusion for this connector.
    pub journal_source: String,
    /// Journal category name (`USER_JE_CATEGORY_NAME`).
    pub journal_category: String,
    /// UCM account the import file is uploaded to.
    pub document_account: String,
    /// Segment order of the chart of accounts (GL_INTERFACE SEGMENT1…SEGMENT30).
    pub chart_of_accounts: ChartOfAccounts,
    /// `REST-Framework-Version` sent on every call. Versions change the `q` syntax and
    /// payload shapes; it is pinned so a pod upgrade cannot change them under us.
    pub rest_framework_version: String,
    /// How the Import Journals job is submitted.
    pub import: ImportSettings,
}

/// The framework version pinned by default (`q` expressions need at least 2).
pub const DEFAULT_REST_FRAMEWORK_VERSION: &str = "9";

/// The Import Journals job (`JournalImportLauncher`) and its seven positional parameters.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImportSettings {
    /// ESS job `<package>,<definition>`.
    pub job_name: String,
    /// Parameter 2 as the journal source's id instead of its name (sources set to "Import
    /// Using Key" need it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub journal_source_id: Option<u64>,
    /// Parameter 5: post account errors to suspense.
    pub errors_to_suspense: bool,
    /// Parameter 6: create summary journals.
    pub summary_journals: bool,
    /// Parameter 7: import descriptive flexfields.
    pub import_descriptive_flexfields: bool,
    /// `JobOptions`; without them Fusion extracts no output and fires no callback.
    pub job_options: String,
    /// `NotificationCode`: first digit 1 e-mail, 2 bell, 3 both; second 0 always, 1 on
    /// success, 2 on failure.
    pub notification_code: String,
}

impl Default for ImportSettings {
    fn default() -> Self {
        Self {
            job_name:
                "/oracle/apps/ess/financials/generalLedger/programs/common,JournalImportLauncher"
                    .into(),
            journal_source_id: None,
            errors_to_suspense: false,
            summary_journals: false,
            import_descriptive_flexfields: false,
            job_options: "ExtractFileType=ALL".into(),
            notification_code: "10".into(),
        }
    }
}

/// The UCM account public Fusion code uses for GL imports; some pods want `fin$/journal$/import$`.
pub const DEFAULT_DOCUMENT_ACCOUNT: &str = "fin$/generalLedger$/import$";

/// Fusion authentication.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum OracleAuth {
    /// OAuth2 client credentials against the identity domain (the recommended way).
    Oauth2ClientCredentials {
        /// `https://idcs-….identity.oraclecloud.com/oauth2/v1/token`.
        token_url: String,
        /// The Fusion resource scope.
        scope: String,
        /// Confidential application's client id.
        client_id: String,
        /// Confidential application's secret.
        client_secret: Secret,
    },
    /// HTTP Basic as an integration user (works everywhere; weaker).
    Basic {
        /// Fusion user name.
        username: String,
        /// Its password.
        password: Secret,
    },
}

/// A Fusion ledger journals are posted to.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerConfig {
    /// Ledger name as in Fusion (`LEDGER_NAME`), also how stores refer to it.
    pub name: String,
    /// Ledger id (`LEDGER_ID`, from `ledgersLOV`).
    pub id: u64,
    /// Ledger currency; orders in another currency carry conversion information.
    pub currency: Currency,
    /// Data access set id for the import job; absent means `#NULL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_access_set_id: Option<u64>,
    /// strftime pattern of the ledger calendar's period names (`%b-%y` gives `Mar-26`). When
    /// absent, PERIOD_NAME is left empty and Journal Import derives it from the date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_name_format: Option<String>,
    /// How foreign-currency orders are converted.
    #[serde(default)]
    pub conversion: ConversionConfig,
}

/// Foreign-currency conversion of journals into the ledger currency.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConversionConfig {
    /// `order`: use the rate BigCommerce recorded on the order (conversion type `User`) when
    /// the store's base currency is the ledger currency, else fall back to `conversion_type`.
    /// `oracle`: always let Fusion look the rate up with `conversion_type`.
    #[serde(default)]
    pub rate_source: RateSource,
    /// Fusion conversion type for lookups (`Corporate`, `Spot`…).
    #[serde(default = "default_conversion_type")]
    pub conversion_type: String,
    /// The rate a refund converts at.
    #[serde(default)]
    pub refunds: RefundConversion,
}

/// The rate a refund of a foreign-currency order converts at.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundConversion {
    /// The refund is its own transaction (IAS 21): `conversion_type` on the refund's date,
    /// looked up by Fusion. The difference from the sale's rate is the exchange difference
    /// the clearing account carries until revaluation.
    #[default]
    RefundDate,
    /// The rate and date the sale converted at, so the refund mirrors the sale in the ledger
    /// currency too and no exchange difference arises.
    SaleRate,
}

fn default_conversion_type() -> String {
    "Corporate".into()
}

impl Default for ConversionConfig {
    fn default() -> Self {
        Self {
            rate_source: RateSource::default(),
            conversion_type: default_conversion_type(),
            refunds: RefundConversion::default(),
        }
    }
}

/// Where conversion rates come from.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RateSource {
    /// The rate on the order, when it converts to the ledger currency.
    #[default]
    Order,
    /// Fusion's daily rates.
    Oracle,
}

/// The chart of accounts: segment names in GL_INTERFACE order.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChartOfAccounts {
    /// SEGMENT1 first; at most 30.
    pub segments: Vec<SegmentConfig>,
    /// The natural-account segment (what an amount is, as opposed to where: company, cost
    /// centre, product line). A refund reverses its sale line's segments and switches only this
    /// one, to the returns account. `account` when absent and the chart has such a segment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub natural_account: Option<String>,
}

/// The segment name a chart without `natural_account` uses for it.
pub const DEFAULT_NATURAL_ACCOUNT: &str = "account";

impl ChartOfAccounts {
    /// Position of the natural-account segment, when the chart has one.
    pub fn natural_index(&self) -> Option<usize> {
        self.index_of(
            self.natural_account
                .as_deref()
                .unwrap_or(DEFAULT_NATURAL_ACCOUNT),
        )
    }

    /// Position of a segment by name.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.segments.iter().position(|s| s.name == name)
    }

    /// Segment names, for messages.
    pub fn names(&self) -> Vec<&str> {
        self.segments.iter().map(|s| s.name.as_str()).collect()
    }
}

/// One chart-of-accounts segment.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentConfig {
    /// Name used by mapping rules (`company`, `account`, `cost_center`…).
    pub name: String,
    /// Value when no rule or amount-type default sets one (e.g. intercompany `000`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// Allowed values, when known: rules and defaults are checked against them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
}

/// When and how orders become journals.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PostingSettings {
    /// Status ids that make an order a sale to post: by default the paid and fulfilment
    /// statuses (2 Shipped, 3 Partially Shipped, 4 Refunded, 8 Awaiting Pickup, 9 Awaiting
    /// Shipment, 10 Completed, 11 Awaiting Fulfillment, 14 Partially Refunded). Refunded
    /// orders were paid first; their refunds post as their own journals.
    pub sale_statuses: Vec<u32>,
    /// Status ids that reverse a posted sale (5 Cancelled, 6 Declined).
    pub reversal_statuses: Vec<u32>,
    /// Discounts netted into revenue, or as their own contra-revenue lines.
    pub discounts: DiscountPresentation,
    /// Largest difference, in minor units of the order currency, that goes to the rounding
    /// account. Anything larger is a totals mismatch.
    pub rounding_tolerance: u32,
    /// What a totals mismatch does: post the difference to suspense (flagged) or hold the order.
    pub totals_mismatch: MismatchPolicy,
    /// What a journal dated in a closed period does.
    pub closed_period: ClosedPeriodPolicy,
    /// Journals per FBDI import.
    pub batch_size: u32,
    /// How often a submitted import's job is checked.
    pub import_poll_seconds: u32,
    /// How long an import may take before it is reported as stuck (and left to the tracker).
    pub import_timeout_minutes: u32,
}

impl Default for PostingSettings {
    fn default() -> Self {
        Self {
            sale_statuses: vec![2, 3, 4, 8, 9, 10, 11, 14],
            reversal_statuses: vec![5, 6],
            discounts: DiscountPresentation::Netted,
            rounding_tolerance: 5,
            totals_mismatch: MismatchPolicy::Suspense,
            closed_period: ClosedPeriodPolicy::Hold,
            batch_size: 100,
            import_poll_seconds: 15,
            import_timeout_minutes: 90,
        }
    }
}

/// How discounts appear in the sale journal.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscountPresentation {
    /// Revenue lines are net of their discounts.
    #[default]
    Netted,
    /// Revenue at list price, discounts as debit lines on the discount account.
    Separate,
}

/// What happens when BigCommerce's components do not add up to what the customer owes.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MismatchPolicy {
    /// Post the difference to the suspense account and flag the journal.
    #[default]
    Suspense,
    /// Do not post; hold the order for review.
    Hold,
}

/// What happens to a journal whose accounting date falls in a closed period.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClosedPeriodPolicy {
    /// Hold for review.
    #[default]
    Hold,
    /// Date it on the first day of the next open period.
    NextOpen,
}

/// Mapping of amounts to GL segments.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MappingConfig {
    /// Segment values per amount type, used where no rule decides.
    pub defaults: BTreeMap<AccountRole, BTreeMap<String, String>>,
    /// Rules, most specific match wins per segment; ties go to the earlier rule.
    pub rules: Vec<RuleConfig>,
}

impl MappingConfig {
    /// Whether a rule matches on the payment gateway, so each order's transactions must be
    /// read to know the gateway of its sale.
    pub fn needs_gateway(&self) -> bool {
        self.rules
            .iter()
            .any(|r| !r.when.payment_provider.is_empty())
    }

    /// Whether a rule names this gateway or refund provider (case-insensitive).
    pub fn names_gateway(&self, provider: &str) -> bool {
        self.rules.iter().any(|r| {
            r.when
                .payment_provider
                .as_slice()
                .iter()
                .any(|p| p.eq_ignore_ascii_case(provider.trim()))
        })
    }
}

/// One mapping rule.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Shown in the audit and in previews as the reason for an account.
    pub name: String,
    /// Amount types the rule can set; revenue only when absent.
    #[serde(default = "default_applies_to")]
    pub applies_to: Vec<AccountRole>,
    /// Conditions, all of which must hold; none means "always".
    #[serde(default)]
    pub when: Conditions,
    /// Segment values to set.
    pub set: BTreeMap<String, String>,
}

fn default_applies_to() -> Vec<AccountRole> {
    vec![AccountRole::Revenue]
}

/// A rule's conditions. Each takes one value or a list (any of them matches).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    /// Store ids (from `stores[].id`).
    #[serde(default, skip_serializing_if = "OneOrMany::is_empty")]
    pub store: OneOrMany<String>,
    /// Channel (storefront) ids.
    #[serde(default, skip_serializing_if = "OneOrMany::is_empty")]
    pub channel: OneOrMany<u64>,
    /// Category ids; a product in a sub-category matches its ancestors too.
    #[serde(default, skip_serializing_if = "OneOrMany::is_empty")]
    pub category: OneOrMany<u64>,
    /// Catalog product ids.
    #[serde(default, skip_serializing_if = "OneOrMany::is_empty")]
    pub product: OneOrMany<u64>,
    /// SKUs, exactly as sold.
    #[serde(default, skip_serializing_if = "OneOrMany::is_empty")]
    pub sku: OneOrMany<String>,
    /// Order (transactional) currencies.
    #[serde(default, skip_serializing_if = "OneOrMany::is_empty")]
    pub currency: OneOrMany<Currency>,
    /// Payment method labels (`Credit Card`, `PayPal`…), case-insensitive.
    #[serde(default, skip_serializing_if = "OneOrMany::is_empty")]
    pub payment_method: OneOrMany<String>,
    /// Payment gateways, case-insensitive: the gateway of the order's transactions for the sale
    /// (`braintree`, `stripe`…; the connector reads them, one more call per order, only when a
    /// rule has this condition), and a refund payment's `provider_id` (`storecredit`,
    /// `stripev3`…) for the refund. Not the order's `payment_provider_id`: that is a
    /// transaction id.
    #[serde(default, skip_serializing_if = "OneOrMany::is_empty")]
    pub payment_provider: OneOrMany<String>,
}

/// A condition value: `"us"` and `["us", "ca"]` are both accepted.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    /// A single value.
    One(T),
    /// Any of several.
    Many(Vec<T>),
}

impl<T> Default for OneOrMany<T> {
    fn default() -> Self {
        OneOrMany::Many(Vec::new())
    }
}

impl<T> OneOrMany<T> {
    /// The values as a slice.
    pub fn as_slice(&self) -> &[T] {
        match self {
            OneOrMany::One(v) => std::slice::from_ref(v),
            OneOrMany::Many(v) => v,
        }
    }

    /// No values: the condition is not set.
    pub fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }
}

/// One problem in a connector document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// JSON path of the field, e.g. `stores[1].ledger`.
    pub path: String,
    /// What is wrong and what is expected.
    pub message: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// A connector document that cannot be used, with every problem found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// Where the document came from (file path, secret name).
    pub origin: String,
    /// The problems, in document order.
    pub issues: Vec<ConfigIssue>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.issues.len();
        write!(
            f,
            "{}: invalid connector document ({n} problem{}):",
            self.origin,
            if n == 1 { "" } else { "s" }
        )?;
        for issue in &self.issues {
            write!(f, "\n  {issue}")?;
        }
        Ok(())
    }
}

impl ConnectorConfig {
    /// Loads and validates a document. `origin` names it in the error (a path, a secret id).
    pub fn from_json(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let mut issues = Vec::new();
        let parts = load::parse(text, &mut issues);
        validate::check(&parts, &mut issues);
        if issues.is_empty() {
            if let Some(config) = parts.assemble() {
                return Ok(config);
            }
            issues.push(ConfigIssue {
                path: "(document)".into(),
                message: "incomplete document".into(),
            });
        }
        Err(ConfigError {
            origin: origin.to_string(),
            issues,
        })
    }

    /// Reads and validates a document file.
    pub fn load_file(path: &std::path::Path) -> Result<Self, ConfigError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            origin: origin.clone(),
            issues: vec![ConfigIssue {
                path: "(file)".into(),
                message: format!("cannot read: {e}"),
            }],
        })?;
        Self::from_json(&text, &origin)
    }

    /// The store with this id.
    pub fn store(&self, id: &str) -> Option<&StoreConfig> {
        self.stores.iter().find(|s| s.id == id)
    }

    /// The store entry an order belongs to: the entry of its store hash that lists its channel,
    /// else that hash's catch-all entry (no channels listed).
    pub fn route(&self, store_hash: &str, channel_id: u64) -> Option<&StoreConfig> {
        let same_hash = || {
            self.stores
                .iter()
                .filter(move |s| s.store_hash == store_hash)
        };
        same_hash()
            .find(|s| s.channels.contains(&channel_id))
            .or_else(|| same_hash().find(|s| s.channels.is_empty()))
    }

    /// The ledger with this name.
    pub fn ledger(&self, name: &str) -> Option<&LedgerConfig> {
        self.oracle.ledgers.iter().find(|l| l.name == name)
    }
}
