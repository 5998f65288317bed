//! The BigCommerce REST client behind [`BigCommerceApi`].
//!
//! Built to spend as few calls as possible: an order, its line items and its fees are one call
//! (`include=consignments.line_items,fees`), product categories come 250 products per call and are
//! cached across orders (a small catalog is read whole on the first miss), the category tree is
//! cached, and refunds are only fetched when the order shows any. Lists are paged to the end,
//! 250 at a time, with every loop bounded and a check that pages move forward.

mod catalog;
mod error;
mod transport;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::SecondsFormat;
use reqwest::Method;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use error::BcError;
pub use transport::{RetryPolicy, USER_AGENT};

use super::api::{CatalogProduct, Channel, Hook, HookUpdate, NewHook, RefundPolicy, TimeWindow};
use super::bundle::RawCategory;
use super::{CategoryTree, Order, OrderBundle, OrderProduct, Refund, Transaction};
use crate::config::StoreConfig;
use crate::ports::BigCommerceApi;
use catalog::CatalogCache;
use transport::{Transport, decode};

/// Page size for every list (BigCommerce's maximum).
pub const PAGE_SIZE: usize = 250;
/// Longest list the client will page through before refusing (250 × 4,000 = one million).
const MAX_PAGES: u32 = 4_000;
/// What an order is read with: its line items in its consignments, and its custom fees (without
/// `fees` the order carries a link instead, and a fee, which its totals include, would be missing
/// from the journal). The spec's `include` is a comma-separated list (`explode: false`).
const ORDER_INCLUDES: &str = "consignments.line_items,fees";

/// Tuning of a client.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// Retries, timeouts, rate-limit reserve.
    pub retry: RetryPolicy,
    /// How long product categories and the category tree stay cached.
    pub catalog_ttl: Duration,
    /// A catalog of at most this many pages (of 250) is read whole on the first cache miss.
    pub warm_catalog_max_pages: u32,
}

impl Default for ClientSettings {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            catalog_ttl: Duration::from_secs(3600),
            warm_catalog_max_pages: 4,
        }
    }
}

/// A client for one store.
pub struct BigCommerceClient {
    store_hash: String,
    transport: Transport,
    settings: ClientSettings,
    catalog: Mutex<CatalogCache>,
    tree: Mutex<Option<(Instant, CategoryTree)>>,
}

#[derive(Deserialize)]
struct V3Page {
    #[serde(default)]
    data: Vec<Value>,
    #[serde(default)]
    meta: Option<Value>,
}

/// How a list endpoint pages.
#[derive(Debug, Clone, Copy)]
enum ListShape {
    /// A bare JSON array (`/v2/…`).
    V2,
    /// `{data, meta: {pagination}}` (`/v3/…`).
    V3,
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum V3One<T> {
    Wrapped { data: T },
    Bare(T),
}

impl<T> V3One<T> {
    fn into_inner(self) -> T {
        match self {
            V3One::Wrapped { data } | V3One::Bare(data) => data,
        }
    }
}

fn item<T: DeserializeOwned>(call: &str, index: usize, value: Value) -> Result<T, BcError> {
    serde_path_to_error::deserialize(value).map_err(|e| BcError::Decode {
        call: call.to_string(),
        path: format!("[{index}].{}", e.path()),
        message: transport::decode_message(&e.inner().to_string()),
    })
}

fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

impl BigCommerceClient {
    /// A client for the store `store_hash`, at `https://api.bigcommerce.com/stores/{hash}` or
    /// at `api_base_url` (sandboxes, tests).
    pub fn new(
        store_hash: &str,
        api_base_url: Option<&str>,
        access_token: String,
        settings: ClientSettings,
    ) -> Result<Self, BcError> {
        let base = api_base_url.map_or_else(
            || format!("https://api.bigcommerce.com/stores/{store_hash}"),
            str::to_string,
        );
        let transport =
            Transport::new(base, access_token, settings.retry.clone()).map_err(|message| {
                BcError::Setup {
                    store: store_hash.to_string(),
                    message,
                }
            })?;
        Ok(Self {
            store_hash: store_hash.to_string(),
            transport,
            catalog: Mutex::new(CatalogCache::new(settings.catalog_ttl)),
            tree: Mutex::new(None),
            settings,
        })
    }

    /// A client for a store of the connector document (reads its access token).
    pub fn for_store(store: &StoreConfig, settings: ClientSettings) -> Result<Self, BcError> {
        let token = store
            .credentials
            .access_token
            .reveal()
            .map_err(|e| BcError::Setup {
                store: store.id.clone(),
                message: format!("credentials.access_token: {e}"),
            })?;
        Self::new(
            &store.store_hash,
            store.api_base_url.as_deref(),
            token,
            settings,
        )
    }

    /// The store hash.
    pub fn store_hash(&self) -> &str {
        &self.store_hash
    }

    /// HTTP requests sent so far, retries included (for metrics and benchmarks).
    pub fn calls(&self) -> u64 {
        self.transport.calls()
    }

    /// Every page of a list, 250 at a time. V2 lists are bare arrays that end with a short page
    /// or a `204 No Content`; V3 lists are `{data, meta}` and end where `meta.pagination` says,
    /// or, where `meta` has no pagination (the all-refunds list), with a short page. Bounded,
    /// and stopped if a page repeats the one before (a store stuck on one page must not loop).
    async fn all_pages<T: DeserializeOwned>(
        &self,
        shape: ListShape,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<T>, BcError> {
        let call = format!("GET {path}");
        let mut out = Vec::new();
        let mut previous_first: Option<Value> = None;
        for page in 1..=MAX_PAGES {
            let mut q = query.to_vec();
            q.push(("page", page.to_string()));
            q.push(("limit", PAGE_SIZE.to_string()));
            let Some(body) = self.transport.get_json::<Value>(path, &q).await? else {
                return Ok(out);
            };
            let (items, total_pages) = match (shape, body) {
                (ListShape::V2, Value::Array(items)) => (items, None),
                (ListShape::V3, mut envelope) => {
                    let pagination = &envelope["meta"]["pagination"];
                    let pages = pagination["current_page"]
                        .as_u64()
                        .zip(pagination["total_pages"].as_u64());
                    match envelope.get_mut("data").map(Value::take) {
                        Some(Value::Array(items)) => (items, pages),
                        _ => (Vec::new(), pages),
                    }
                }
                (ListShape::V2, other) => {
                    return Err(BcError::Decode {
                        call,
                        path: "(body)".into(),
                        message: format!("expected a list, got {}", kind_of(&other)),
                    });
                }
            };
            let count = items.len();
            if page > 1 && count > 0 && items.first() == previous_first.as_ref() {
                return Err(BcError::Pagination { call, page });
            }
            previous_first = items.first().cloned();
            for (i, v) in items.into_iter().enumerate() {
                out.push(item(&call, i, v)?);
            }
            let more = match total_pages {
                Some((current, total)) => current < total,
                None => count == PAGE_SIZE,
            };
            if !more {
                return Ok(out);
            }
        }
        Err(BcError::TooManyPages {
            call,
            pages: MAX_PAGES,
        })
    }

    async fn order(&self, order_id: u64) -> Result<Order, BcError> {
        let path = format!("/v2/orders/{order_id}");
        let q = [
            ("include", ORDER_INCLUDES.to_string()),
            ("consignment_structure", "object".to_string()),
        ];
        self.transport
            .get_json::<Order>(&path, &q)
            .await?
            .ok_or_else(|| BcError::NotFound {
                call: format!("GET {path}"),
                message: "no content".into(),
            })
    }

    async fn order_products(&self, order_id: u64) -> Result<Vec<OrderProduct>, BcError> {
        self.all_pages(
            ListShape::V2,
            &format!("/v2/orders/{order_id}/products"),
            &[],
        )
        .await
    }

    async fn catalog_page(
        &self,
        query: Vec<(&str, String)>,
    ) -> Result<(Vec<CatalogProduct>, Option<u64>), BcError> {
        let path = "/v3/catalog/products";
        let Some(page) = self.transport.get_json::<V3Page>(path, &query).await? else {
            return Ok((Vec::new(), Some(0)));
        };
        let total_pages = page
            .meta
            .as_ref()
            .and_then(|m| m.get("pagination")?.get("total_pages")?.as_u64());
        let call = format!("GET {path}");
        let products = page
            .data
            .into_iter()
            .enumerate()
            .map(|(i, v)| item(&call, i, v))
            .collect::<Result<Vec<CatalogProduct>, _>>()?;
        Ok((products, total_pages))
    }

    /// Reads the whole catalog when it is small (first page tells), so later orders cost no
    /// catalog call at all. Returns whether the cache now holds the whole catalog.
    async fn warm_catalog(&self) -> Result<bool, BcError> {
        let query = |page: u64| {
            vec![
                ("include_fields", "categories".to_string()),
                ("page", page.to_string()),
                ("limit", PAGE_SIZE.to_string()),
            ]
        };
        let (first, total_pages) = self.catalog_page(query(1)).await?;
        let total_pages = total_pages.unwrap_or(if first.len() < PAGE_SIZE { 1 } else { u64::MAX });
        let mut all = first;
        if total_pages > u64::from(self.settings.warm_catalog_max_pages) {
            self.catalog.lock().expect("catalog cache").insert_all(all);
            return Ok(false);
        }
        for page in 2..=total_pages {
            let (more, _) = self.catalog_page(query(page)).await?;
            all.extend(more);
        }
        self.catalog.lock().expect("catalog cache").insert_all(all);
        Ok(true)
    }
}

#[async_trait]
impl BigCommerceApi for BigCommerceClient {
    fn calls(&self) -> u64 {
        BigCommerceClient::calls(self)
    }

    async fn fetch_bundle(
        &self,
        order_id: u64,
        refunds: RefundPolicy,
    ) -> Result<OrderBundle, BcError> {
        let order = self.order(order_id).await?;
        let call = format!("GET /v2/orders/{order_id}");
        let decode_err = |e: super::BundleError| BcError::Decode {
            call: call.clone(),
            path: String::new(),
            message: e.to_string(),
        };
        let partial = OrderBundle::assemble(
            order.clone(),
            Vec::new(),
            BTreeMap::new(),
            CategoryTree::default(),
            Vec::new(),
        )
        .map_err(decode_err)?;
        let carried: u64 = partial.lines.iter().map(|l| l.quantity).sum();
        // Consignments leave out lines on old orders and some digital ones: then ask the
        // products endpoint, which has them all.
        let products = if partial.lines.is_empty() || carried < order.items_total {
            self.order_products(order_id).await?
        } else {
            Vec::new()
        };
        let wants_refunds = match refunds {
            RefundPolicy::Always => true,
            RefundPolicy::IfRefunded => order.looks_refunded(),
            RefundPolicy::Never => false,
        };
        let mut bundle = OrderBundle::assemble(
            order,
            products,
            BTreeMap::new(),
            CategoryTree::default(),
            Vec::new(),
        )
        .map_err(decode_err)?;
        let product_ids: Vec<u64> = bundle
            .lines
            .iter()
            .map(|l| l.product_id)
            .filter(|p| *p != 0)
            .collect();
        if !product_ids.is_empty() {
            bundle.product_categories = self.product_categories(&product_ids).await?;
            bundle.category_tree = self.category_tree().await?;
        }
        if wants_refunds {
            bundle.refunds = self.refunds_of(order_id).await?;
        }
        Ok(bundle)
    }

    async fn orders_modified(&self, window: TimeWindow) -> Result<Vec<Order>, BcError> {
        self.all_pages(
            ListShape::V2,
            "/v2/orders",
            &[
                ("min_date_modified", rfc3339(window.from)),
                ("max_date_modified", rfc3339(window.to)),
                ("sort", "date_modified:asc".to_string()),
                ("include", ORDER_INCLUDES.to_string()),
                ("consignment_structure", "object".to_string()),
            ],
        )
        .await
    }

    async fn refunds_of(&self, order_id: u64) -> Result<Vec<Refund>, BcError> {
        // This endpoint takes no page or limit: it answers every refund of the order at once.
        let path = format!("/v3/orders/{order_id}/payment_actions/refunds");
        let call = format!("GET {path}");
        let page = self.transport.get_json::<V3Page>(&path, &[]).await?;
        let mut refunds = page
            .map(|p| p.data)
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, v)| item::<Refund>(&call, i, v))
            .collect::<Result<Vec<_>, _>>()?;
        refunds.sort_by_key(|r| r.id);
        Ok(refunds)
    }

    async fn order_transactions(&self, order_id: u64) -> Result<Vec<Transaction>, BcError> {
        // An order has a handful of transactions; the endpoint takes no paging parameters.
        let path = format!("/v3/orders/{order_id}/transactions");
        let call = format!("GET {path}");
        let page = self.transport.get_json::<V3Page>(&path, &[]).await?;
        page.map(|p| p.data)
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, v)| item::<Transaction>(&call, i, v))
            .collect()
    }

    async fn refunds_created(&self, window: TimeWindow) -> Result<Vec<Refund>, BcError> {
        let mut refunds: Vec<Refund> = self
            .all_pages(
                ListShape::V3,
                "/v3/orders/payment_actions/refunds",
                &[
                    ("created:min", rfc3339(window.from)),
                    ("created:max", rfc3339(window.to)),
                ],
            )
            .await?;
        refunds.sort_by_key(|r| r.id);
        Ok(refunds)
    }

    async fn product_categories(
        &self,
        product_ids: &[u64],
    ) -> Result<BTreeMap<u64, Vec<u64>>, BcError> {
        let (mut missing, try_warm) = {
            let mut cache = self.catalog.lock().expect("catalog cache");
            (cache.missing(product_ids), cache.take_warm_attempt())
        };
        if !missing.is_empty() && try_warm && self.warm_catalog().await? {
            missing = self
                .catalog
                .lock()
                .expect("catalog cache")
                .missing(product_ids);
        }
        for chunk in missing.chunks(PAGE_SIZE) {
            let ids = chunk
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let (found, _) = self
                .catalog_page(vec![
                    ("id:in", ids),
                    ("include_fields", "categories".to_string()),
                    ("limit", PAGE_SIZE.to_string()),
                ])
                .await?;
            self.catalog
                .lock()
                .expect("catalog cache")
                .insert_batch(chunk, found);
        }
        Ok(self
            .catalog
            .lock()
            .expect("catalog cache")
            .lookup(product_ids))
    }

    async fn category_tree(&self) -> Result<CategoryTree, BcError> {
        if let Some((at, tree)) = self.tree.lock().expect("tree cache").as_ref()
            && at.elapsed() < self.settings.catalog_ttl
        {
            return Ok(tree.clone());
        }
        let records: Vec<RawCategory> = self
            .all_pages(ListShape::V3, "/v3/catalog/trees/categories", &[])
            .await?;
        let tree = CategoryTree::new(records);
        *self.tree.lock().expect("tree cache") = Some((Instant::now(), tree.clone()));
        Ok(tree)
    }

    async fn channels(&self) -> Result<Vec<Channel>, BcError> {
        self.all_pages(ListShape::V3, "/v3/channels", &[]).await
    }

    async fn hooks(&self) -> Result<Vec<Hook>, BcError> {
        self.all_pages(ListShape::V3, "/v3/hooks", &[]).await
    }

    async fn create_hook(&self, hook: &NewHook) -> Result<Hook, BcError> {
        let body = serde_json::to_value(hook).expect("hooks serialize");
        let answer = self
            .transport
            .send(Method::POST, "/v3/hooks", &[], Some(&body))
            .await?;
        decode::<V3One<Hook>>("POST /v3/hooks", &answer).map(V3One::into_inner)
    }

    async fn update_hook(&self, hook_id: u64, update: &HookUpdate) -> Result<Hook, BcError> {
        let path = format!("/v3/hooks/{hook_id}");
        let body = serde_json::to_value(update).expect("hook updates serialize");
        let answer = self
            .transport
            .send(Method::PUT, &path, &[], Some(&body))
            .await?;
        decode::<V3One<Hook>>(&format!("PUT {path}"), &answer).map(V3One::into_inner)
    }

    async fn put_order_metafield(
        &self,
        order_id: u64,
        namespace: &str,
        key: &str,
        value: &str,
    ) -> Result<(), BcError> {
        let path = format!("/v3/orders/{order_id}/metafields");
        // The same full body creates it and, on a conflict, replaces it (PUT takes the whole
        // metafield, not just the value).
        let body = serde_json::json!({
            "permission_set": "app_only", "namespace": namespace, "key": key, "value": value,
            "description": "Oracle Fusion GL journal posted by ml-connector",
        });
        match self
            .transport
            .send(Method::POST, &path, &[], Some(&body))
            .await
        {
            Ok(_) => Ok(()),
            // It exists already: find it and replace its value.
            Err(BcError::Status {
                status: 409 | 422, ..
            }) => {
                let existing: Vec<super::api::Metafield> = self
                    .all_pages(
                        ListShape::V3,
                        &path,
                        &[
                            ("namespace", namespace.to_string()),
                            ("key", key.to_string()),
                        ],
                    )
                    .await?;
                let Some(m) = existing
                    .iter()
                    .find(|m| m.namespace == namespace && m.key == key)
                else {
                    return Err(BcError::Status {
                        call: format!("POST {path}"),
                        status: 409,
                        message: format!(
                            "metafield {namespace}/{key} is reported as existing but cannot be found"
                        ),
                    });
                };
                let put = format!("{path}/{}", m.id);
                self.transport
                    .send(Method::PUT, &put, &[], Some(&body))
                    .await
                    .map(|_| ())
            }
            Err(e) => Err(e),
        }
    }
}
