//! Reading an order for posting: the bundle, and the payment gateway when the document needs it.

use crate::bigcommerce::api::RefundPolicy;
use crate::bigcommerce::{BcError, OrderBundle};
use crate::config::MappingConfig;
use crate::ports::BigCommerceApi;

/// The order as the journal builders need it under `mapping`: the bundle (one call, more for
/// refunds and old orders), plus the order's transactions when a mapping rule matches on the
/// payment gateway (one more call, spent only then). The poster, replay and reconciliation all
/// read orders through here, so a rule sees the same gateway whoever asks.
pub async fn fetch_order(
    mapping: &MappingConfig,
    bc: &dyn BigCommerceApi,
    order_id: u64,
    refunds: RefundPolicy,
) -> Result<OrderBundle, BcError> {
    let mut bundle = bc.fetch_bundle(order_id, refunds).await?;
    if mapping.needs_gateway() {
        bundle.transactions = Some(bc.order_transactions(order_id).await?);
    }
    Ok(bundle)
}
