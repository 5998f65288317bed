//! BigCommerce: the resources the connector reads, the order bundle built from them, the REST
//! client, and webhook verification.

pub mod api;
pub mod bundle;
pub mod client;
pub mod models;
pub mod webhook;

pub use bundle::{BundleError, CategoryTree, OrderBundle};
pub use client::{BcError, BigCommerceClient, ClientSettings};
pub use models::{
    Order, OrderFee, OrderProduct, Refund, RefundItem, RefundItemType, RefundPayment, TenderKind,
    Transaction,
};
