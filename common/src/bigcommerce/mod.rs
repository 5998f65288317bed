//! BigCommerce: the resources the connector reads, and the order bundle built from them.
//! (The API client, webhook verification and hook keeper land here with their issue.)

pub mod bundle;
pub mod models;

pub use bundle::{BundleError, CategoryTree, OrderBundle};
pub use models::{
    Order, OrderFee, OrderProduct, Refund, RefundItem, RefundItemType, RefundPayment,
};
