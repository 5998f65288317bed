//! `mlc ping`: before the first order, is every system the document names reachable, with the
//! rights the connector needs, and does it say what the document says? Each answer names the
//! document field or the system setting to change. Setting up an integration fails most often
//! here (a token without the orders scope, a ledger id copied from the wrong environment, a
//! journal source nobody registered), and an order should not be the first to find out.
//!
//! Read-only: it lists, it never creates or changes anything.

use chrono::{Duration, NaiveDate};
use serde::Serialize;

use crate::bigcommerce::BcError;
use crate::bigcommerce::api::TimeWindow;
use crate::config::{LedgerConfig, StoreConfig};
use crate::oracle::{LedgerRecord, OracleError, PeriodState};
use crate::ports::BigCommerceApi;
use crate::posting::hooks::HookSpec;
use crate::posting::services::Services;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// As needed.
    Ok,
    /// Works, but something will need a person soon (a closed period, no webhooks yet).
    Warn,
    /// Posting cannot work until this is fixed.
    Fail,
}

/// One check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// `BigCommerce` or `Oracle`.
    pub system: String,
    /// What was checked: a store, a ledger, the token.
    pub subject: String,
    /// How it came out.
    pub outcome: Outcome,
    /// What was found.
    pub detail: String,
    /// What to change, when it is not ok.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

fn check(system: &str, subject: String, outcome: Outcome, detail: String) -> Check {
    Check {
        system: system.to_string(),
        subject,
        outcome,
        detail,
        fix: None,
    }
}

impl Check {
    fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

/// What to change for a BigCommerce failure.
fn bc_fix(index: usize, e: &BcError) -> String {
    match e {
        BcError::Unauthorized { .. } => format!(
            "stores[{index}].credentials.access_token was refused: create a store API account with Orders (read-only), Products (read-only), Channel listings (read-only) and Information & settings (read-only) scopes, and use its access token"
        ),
        BcError::NotFound { .. } => format!(
            "stores[{index}].store_hash: no such store at this address; copy the hash from the API path /stores/{{hash}}/"
        ),
        _ => format!(
            "stores[{index}]: BigCommerce could not be reached now; check stores[{index}].api_base_url and try again"
        ),
    }
}

/// What to change for an Oracle failure.
fn oracle_fix(e: &OracleError) -> String {
    if matches!(
        e,
        OracleError::Token { .. } | OracleError::Unauthorized { .. }
    ) {
        "oracle.auth: the token endpoint or the pod refused the credentials; check the client id, secret, scope and token URL (or the user for basic auth)".into()
    } else {
        "oracle.base_url: the pod could not be read now; check the URL and try again".into()
    }
}

/// Runs every check; `today` is the date whose period must be open for posting.
pub async fn ping(svc: &Services, today: NaiveDate) -> Vec<Check> {
    let mut checks = check_stores(svc).await;
    // Oracle: the token and the ledgers (one read shows both), then each ledger's period.
    let Some(ledgers) = check_token(svc, &mut checks).await else {
        return checks;
    };
    for (index, ledger) in svc.config.oracle.ledgers.iter().enumerate() {
        checks.extend(check_ledger(svc, index, ledger, &ledgers, today).await);
    }
    checks
}

/// BigCommerce: each store hash read once (entries for several channels share one), with its
/// webhooks; then each entry's channels.
async fn check_stores(svc: &Services) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    let mut unreachable: Vec<&str> = Vec::new();
    for (index, entry) in svc.config.stores.iter().enumerate() {
        let hash = entry.store_hash.as_str();
        let subject = format!("store {} ({hash})", entry.id);
        if unreachable.contains(&hash) {
            // Already failed for an entry before: one failure per store, not per entry.
            continue;
        }
        let Some(bc) = svc.bigcommerce(hash) else {
            checks.push(check(
                "BigCommerce",
                subject,
                Outcome::Fail,
                "no client was built".into(),
            ));
            continue;
        };
        if !seen.contains(&hash) {
            seen.push(hash);
            let orders = check_orders(svc, bc.as_ref(), index, &subject).await;
            let readable = orders.outcome == Outcome::Ok;
            checks.push(orders);
            if !readable {
                unreachable.push(hash);
                continue;
            }
            checks.push(check_hooks(svc, bc.as_ref(), index, hash, &subject).await);
        }
        if !entry.channels.is_empty() {
            checks.push(check_channels(bc.as_ref(), index, entry, subject).await);
        }
    }
    checks
}

/// The token reads orders: the last five minutes' are listed.
async fn check_orders(
    svc: &Services,
    bc: &dyn BigCommerceApi,
    index: usize,
    subject: &str,
) -> Check {
    let now = svc.clock.now();
    let window = TimeWindow {
        from: now - Duration::minutes(5),
        to: now,
    };
    match bc.orders_modified(window).await {
        Ok(orders) => check(
            "BigCommerce",
            subject.to_string(),
            Outcome::Ok,
            format!(
                "orders readable ({} modified in the last 5 minutes)",
                orders.len()
            ),
        ),
        Err(e) => check(
            "BigCommerce",
            subject.to_string(),
            Outcome::Fail,
            e.to_string(),
        )
        .fix(bc_fix(index, &e)),
    }
}

/// The connector's webhooks on the store: there, active, pointed at the connector, every
/// order scope.
async fn check_hooks(
    svc: &Services,
    bc: &dyn BigCommerceApi,
    index: usize,
    hash: &str,
    subject: &str,
) -> Check {
    let hooks = match bc.hooks().await {
        Ok(hooks) => hooks,
        Err(e) => {
            return check(
                "BigCommerce",
                subject.to_string(),
                Outcome::Fail,
                format!("webhooks cannot be listed: {e}"),
            )
            .fix(format!(
                "stores[{index}].credentials.access_token: the API account needs the Orders scope to manage webhooks"
            ));
        }
    };
    // The connector's hooks, by the keeper's own rule: at its URL, or carrying its marker.
    // Without a URL only the marker can tell.
    let target = svc.settings.webhook_url.as_deref();
    let spec = HookSpec::orders(target.unwrap_or_default(), hash);
    let ours: Vec<_> = hooks.iter().filter(|h| spec.is_ours(h)).collect();
    let active = ours.iter().filter(|h| h.is_active).count();
    let elsewhere = ours
        .iter()
        .filter(|h| target.is_some() && h.destination != spec.destination)
        .count();
    let missing_scopes = spec
        .scopes
        .iter()
        .filter(|s| !ours.iter().any(|h| &h.scope == *s))
        .count();
    let (outcome, fix) = if ours.is_empty() {
        (
            Outcome::Warn,
            Some(
                "no webhooks yet: the poller registers them on its first run (it needs MLC_WEBHOOK_URL); orders are still found by its sweep",
            ),
        )
    } else if active < ours.len() || elsewhere > 0 || missing_scopes > 0 {
        (
            Outcome::Warn,
            Some("the poller re-activates and redirects its webhooks on its next run"),
        )
    } else {
        (Outcome::Ok, None)
    };
    let mut c = check(
        "BigCommerce",
        subject.to_string(),
        outcome,
        format!(
            "webhooks: {} of the connector's, {active} active, {elsewhere} pointing elsewhere, {missing_scopes} of {} order scopes missing",
            ours.len(),
            spec.scopes.len()
        ),
    );
    c.fix = fix.map(str::to_string);
    c
}

/// The entry's channels exist in the store.
async fn check_channels(
    bc: &dyn BigCommerceApi,
    index: usize,
    entry: &StoreConfig,
    subject: String,
) -> Check {
    let channels = match bc.channels().await {
        Ok(channels) => channels,
        Err(e) => {
            return check(
                "BigCommerce",
                subject,
                Outcome::Fail,
                format!("channels cannot be listed: {e}"),
            )
            .fix(bc_fix(index, &e));
        }
    };
    let missing: Vec<u64> = entry
        .channels
        .iter()
        .copied()
        .filter(|id| !channels.iter().any(|c| c.id == *id))
        .collect();
    if missing.is_empty() {
        return check(
            "BigCommerce",
            subject,
            Outcome::Ok,
            format!("channels {:?} exist", entry.channels),
        );
    }
    check(
        "BigCommerce",
        subject,
        Outcome::Fail,
        format!("channels {missing:?} do not exist in the store"),
    )
    .fix(format!(
        "stores[{index}].channels: use the ids of GET /v3/channels: {:?}",
        channels.iter().map(|c| c.id).collect::<Vec<_>>()
    ))
}

/// Oracle takes the token: the ledgers it shows, or `None` (and the failure) when it does
/// not, since nothing else in Oracle can be read then.
async fn check_token(svc: &Services, checks: &mut Vec<Check>) -> Option<Vec<LedgerRecord>> {
    let base_url = svc.config.oracle.base_url.clone();
    match svc.oracle.ledgers().await {
        Ok(ledgers) => {
            checks.push(check(
                "Oracle",
                base_url,
                Outcome::Ok,
                format!("token accepted; {} ledgers visible", ledgers.len()),
            ));
            Some(ledgers)
        }
        Err(e) => {
            let fix = oracle_fix(&e);
            checks.push(check("Oracle", base_url, Outcome::Fail, e.to_string()).fix(fix));
            None
        }
    }
}

/// The document's ledger `index`: visible, named and in the currency as Oracle has it, and
/// today's period open.
async fn check_ledger(
    svc: &Services,
    index: usize,
    ledger: &LedgerConfig,
    visible: &[LedgerRecord],
    today: NaiveDate,
) -> Vec<Check> {
    let subject = format!("ledger {} ({})", ledger.name, ledger.id);
    let Some(found) = visible.iter().find(|l| l.id == ledger.id) else {
        return vec![
            check(
                "Oracle",
                subject,
                Outcome::Fail,
                "not visible to the integration user".into(),
            )
            .fix(format!(
                "oracle.ledgers[{index}].id: use a ledger id the user's data access set covers; visible: {}",
                visible
                    .iter()
                    .map(|l| format!("{} {}", l.id, l.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        ];
    };
    let mut checks = Vec::new();
    let mut differs = Vec::new();
    if found.name != ledger.name {
        differs.push(format!("name is {:?}", found.name));
    }
    if found.currency != ledger.currency.code() {
        differs.push(format!("currency is {}", found.currency));
    }
    if !differs.is_empty() {
        checks.push(
            check(
                "Oracle",
                subject.clone(),
                Outcome::Fail,
                format!("the ledger's {}", differs.join(" and ")),
            )
            .fix(format!(
                "oracle.ledgers[{index}]: name {:?}, currency {} (as Oracle has them)",
                found.name, found.currency
            )),
        );
    }
    checks.push(check_period(svc, ledger.id, subject, today).await);
    checks
}

/// The ledger's period for `today` is open: journals dated today post.
async fn check_period(svc: &Services, ledger_id: u64, subject: String, today: NaiveDate) -> Check {
    match svc.oracle.period_for_date(ledger_id, today).await {
        Ok(Some(period)) => {
            let (outcome, fix) = match period.state {
                PeriodState::Open => (Outcome::Ok, None),
                PeriodState::Future => (
                    Outcome::Warn,
                    Some("journals import but cannot be posted until the period is opened"),
                ),
                _ => (
                    Outcome::Warn,
                    Some(
                        "journals dated today follow posting.closed_period until the period is opened",
                    ),
                ),
            };
            let mut c = check(
                "Oracle",
                subject,
                outcome,
                format!("period {} for {today} is {:?}", period.name, period.state),
            );
            c.fix = fix.map(str::to_string);
            c
        }
        Ok(None) => check(
            "Oracle",
            subject,
            Outcome::Fail,
            format!("the calendar has no period for {today}"),
        )
        .fix("define the period in the ledger's accounting calendar"),
        Err(e) => {
            let fix = oracle_fix(&e);
            check(
                "Oracle",
                subject,
                Outcome::Fail,
                format!("periods cannot be read: {e}"),
            )
            .fix(fix)
        }
    }
}
