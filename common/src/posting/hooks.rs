//! The hook keeper: makes BigCommerce's hooks match what the connector needs.
//!
//! Hooks take up to a minute to start, are switched off after about 48 hours of failed
//! deliveries and after 90 idle days, and can be edited by people. The poller runs this on
//! every sweep: missing hooks are created, deactivated ones re-activated, hooks of ours that
//! point somewhere else are pointed back; hooks of other integrations are left alone. Ours are
//! recognised by a marker header the connector puts on every hook it creates (or by the
//! destination itself). Everything changed is returned for the audit.

use std::collections::BTreeMap;

use crate::bigcommerce::BcError;
use crate::bigcommerce::api::{Hook, HookUpdate, NewHook};
use crate::ports::BigCommerceApi;

/// The order scopes the connector listens to.
pub const ORDER_SCOPES: [&str; 4] = [
    "store/order/created",
    "store/order/updated",
    "store/order/statusUpdated",
    "store/order/refund/created",
];

/// Header the connector sets on its own hooks.
pub const MARKER_HEADER: &str = "x-mlc-connector";

/// The hooks one store should have.
#[derive(Debug, Clone)]
pub struct HookSpec {
    /// The webhook endpoint (HTTPS).
    pub destination: String,
    /// Scopes to subscribe.
    pub scopes: Vec<String>,
    /// Marker value, e.g. the store id; tells this installation's hooks from others'.
    pub marker: String,
}

impl HookSpec {
    /// The order scopes, delivered to `destination`, marked with `marker`.
    pub fn orders(destination: &str, marker: &str) -> Self {
        Self {
            destination: destination.to_string(),
            scopes: ORDER_SCOPES.iter().map(|s| s.to_string()).collect(),
            marker: marker.to_string(),
        }
    }

    fn headers(&self) -> BTreeMap<String, String> {
        BTreeMap::from([(MARKER_HEADER.to_string(), self.marker.clone())])
    }

    /// Whether `hook` is this installation's: at its destination, or carrying its marker
    /// (what the keeper repairs and `ping` reports on).
    pub fn is_ours(&self, hook: &Hook) -> bool {
        hook.destination == self.destination
            || hook
                .headers
                .as_ref()
                .and_then(|h| h.get(MARKER_HEADER))
                .is_some_and(|m| *m == self.marker)
    }
}

/// What the keeper did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HookChanges {
    /// Scopes that had no hook and got one (new hook ids).
    pub created: Vec<(String, u64)>,
    /// Hooks switched back on.
    pub reactivated: Vec<u64>,
    /// Hooks pointed back at the destination: (id, old destination).
    pub redirected: Vec<(u64, String)>,
    /// Ours and already right.
    pub unchanged: Vec<u64>,
    /// Not ours; untouched.
    pub foreign: Vec<u64>,
}

impl HookChanges {
    /// Whether anything was changed.
    pub fn changed_anything(&self) -> bool {
        !(self.created.is_empty() && self.reactivated.is_empty() && self.redirected.is_empty())
    }
}

/// Brings the store's hooks in line with `spec`.
#[tracing::instrument(name = "keep_hooks", skip_all, fields(store_hash = %spec.marker))]
pub async fn keep_hooks(api: &dyn BigCommerceApi, spec: &HookSpec) -> Result<HookChanges, BcError> {
    let hooks = api.hooks().await?;
    let mut changes = HookChanges::default();
    let (ours, foreign): (Vec<&Hook>, Vec<&Hook>) = hooks.iter().partition(|h| spec.is_ours(h));
    changes.foreign = foreign.iter().map(|h| h.id).collect();
    for scope in &spec.scopes {
        let mut candidates: Vec<&Hook> =
            ours.iter().copied().filter(|h| &h.scope == scope).collect();
        // Prefer a hook already at the right destination, then an active one.
        candidates.sort_by_key(|h| (h.destination != spec.destination, !h.is_active, h.id));
        match candidates.first() {
            None => {
                let hook = api
                    .create_hook(&NewHook {
                        scope: scope.clone(),
                        destination: spec.destination.clone(),
                        is_active: true,
                        headers: spec.headers(),
                    })
                    .await?;
                changes.created.push((scope.clone(), hook.id));
            }
            Some(hook) if hook.destination != spec.destination => {
                api.update_hook(
                    hook.id,
                    &HookUpdate {
                        destination: Some(spec.destination.clone()),
                        is_active: Some(true),
                        headers: Some(spec.headers()),
                    },
                )
                .await?;
                changes.redirected.push((hook.id, hook.destination.clone()));
            }
            Some(hook) if !hook.is_active => {
                api.update_hook(
                    hook.id,
                    &HookUpdate {
                        is_active: Some(true),
                        ..HookUpdate::default()
                    },
                )
                .await?;
                changes.reactivated.push(hook.id);
            }
            Some(hook) => changes.unchanged.push(hook.id),
        }
        // Further hooks of ours on the same scope are left as they are: deleting is a
        // person's decision, and BigCommerce allows only one per destination anyway.
    }
    Ok(changes)
}
