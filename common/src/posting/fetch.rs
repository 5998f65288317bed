//! Reading an order for posting: the bundle, and the payment gateway when the document needs it.

use crate::bigcommerce::api::RefundPolicy;
use crate::bigcommerce::{BcError, OrderBundle};
use crate::config::MappingConfig;
use crate::ports::BigCommerceApi;

/// The order as the journal builders need it under `mapping`: the bundle (one call, more for
/// refunds and old orders), plus the order's transactions when a mapping rule matches on the
/// payment gateway (one more call, spent only then). The poster, replay and reconciliation all
/// read orders through here, so a rule sees the same gateway whoever asks, and none of them
/// ever books an answer about another order or store than `store_hash`'s `order_id`.
pub async fn fetch_order(
    mapping: &MappingConfig,
    bc: &dyn BigCommerceApi,
    store_hash: &str,
    order_id: u64,
    refunds: RefundPolicy,
) -> Result<OrderBundle, BcError> {
    let mut bundle = bc.fetch_bundle(order_id, refunds).await?;
    bundle
        .check_identity(store_hash, order_id)
        .map_err(|message| BcError::WrongOrder {
            call: format!("GET /v2/orders/{order_id}"),
            message,
        })?;
    if mapping.needs_gateway() {
        bundle.transactions = Some(bc.order_transactions(order_id).await?);
    }
    Ok(bundle)
}
