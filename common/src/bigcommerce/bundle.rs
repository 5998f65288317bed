//! The order bundle: one order with everything needed to account for it.
//!
//! The journal builders never call BigCommerce; they take a bundle. The API client assembles one
//! from live calls, `mlc preview` reads one from a file, and tests build them by hand. The file
//! form is `{"order": <GET /v2/orders/{id}>, "products": <GET /v2/orders/{id}/products>,
//! "categories": {"<product id>": [<category ids>]}, "category_tree": [{id, parent_id, name}],
//! "refunds": [<V3 refund>], "transactions": [<V3 transaction>]}`; everything but `order` is
//! optional, and line items may instead sit inside `order.consignments` when the order was
//! fetched with `include=consignments.line_items`. Transactions are only read when a mapping
//! rule needs the payment gateway.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::models::{Order, OrderProduct, Refund, Transaction};

/// Why a bundle could not be read. Every variant names the field to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    /// Not JSON at all.
    #[error("order bundle is not valid JSON: {0}")]
    Syntax(String),
    /// JSON, but a field is missing or has the wrong type or value.
    #[error("{path}: {message}")]
    Invalid {
        /// JSON path of the bad field, e.g. `order.date_created`.
        path: String,
        /// What is wrong and what is expected.
        message: String,
    },
}

/// An order with its line items, product categories, category tree and refunds.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderBundle {
    /// The V2 order.
    pub order: Order,
    /// Its line items (from `products`, or from the consignments), in id order.
    pub lines: Vec<OrderProduct>,
    /// Category ids of each catalog product on the order.
    pub product_categories: BTreeMap<u64, Vec<u64>>,
    /// The store's category tree, so rules can match a category's ancestors.
    pub category_tree: CategoryTree,
    /// The order's refunds, oldest first.
    pub refunds: Vec<Refund>,
    /// The order's payment transactions, when a rule needs the gateway (`None`: not read).
    pub transactions: Option<Vec<Transaction>>,
}

#[derive(Deserialize)]
struct RawBundle {
    order: Order,
    #[serde(default)]
    products: Option<Vec<OrderProduct>>,
    #[serde(default)]
    categories: BTreeMap<String, Vec<u64>>,
    #[serde(default)]
    category_tree: Vec<RawCategory>,
    #[serde(default)]
    refunds: Option<RawRefunds>,
    #[serde(default)]
    transactions: Option<RawTransactions>,
}

/// Transactions as a bare array, or as the V3 envelope.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawTransactions {
    List(Vec<Transaction>),
    Envelope { data: Vec<Transaction> },
}

/// Refunds as a bare array, or as the V3 envelope `{"data": [...], "meta": {...}}`.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawRefunds {
    List(Vec<Refund>),
    Envelope { data: Vec<Refund> },
}

/// A category as either category endpoint returns it (`id` in the old one, `category_id` in
/// the trees one).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct RawCategory {
    /// Category id.
    #[serde(alias = "category_id")]
    pub id: u64,
    /// Parent id; 0 at the top of a tree.
    #[serde(default)]
    pub parent_id: u64,
    /// Display name.
    #[serde(default)]
    pub name: String,
}

impl OrderBundle {
    /// Reads a bundle file. Errors carry the JSON path of the bad field.
    pub fn from_json(text: &str) -> Result<Self, BundleError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| BundleError::Syntax(e.to_string()))?;
        Self::from_value(value)
    }

    /// Reads a bundle already parsed as JSON.
    pub fn from_value(value: Value) -> Result<Self, BundleError> {
        let raw: RawBundle = serde_path_to_error::deserialize(&value).map_err(|e| {
            let (path, message) = crate::json_path::describe("", &e);
            BundleError::Invalid { path, message }
        })?;
        let mut product_categories = BTreeMap::new();
        for (key, cats) in raw.categories {
            let id: u64 = key.trim().parse().map_err(|_| BundleError::Invalid {
                path: format!("categories.{key}"),
                message: "keys must be catalog product ids (digits)".into(),
            })?;
            product_categories.insert(id, cats);
        }
        let refunds = match raw.refunds {
            None => Vec::new(),
            Some(RawRefunds::List(r)) | Some(RawRefunds::Envelope { data: r }) => r,
        };
        let mut bundle = Self::assemble(
            raw.order,
            raw.products.unwrap_or_default(),
            product_categories,
            CategoryTree::new(raw.category_tree),
            refunds,
        )?;
        bundle.transactions = raw.transactions.map(|t| match t {
            RawTransactions::List(t) | RawTransactions::Envelope { data: t } => t,
        });
        Ok(bundle)
    }

    /// Puts a bundle together from its parts, the way the API client and the file reader both
    /// do: line items from `products` and from the order's consignments (products win), in id
    /// order; refunds oldest first, each checked to belong to the order.
    pub fn assemble(
        order: Order,
        products: Vec<OrderProduct>,
        product_categories: BTreeMap<u64, Vec<u64>>,
        category_tree: CategoryTree,
        mut refunds: Vec<Refund>,
    ) -> Result<Self, BundleError> {
        let mut lines = products;
        if let Some(consignments) = &order.consignments {
            merge_lines(&mut lines, consignment_lines(consignments)?);
        }
        lines.sort_by_key(|l| l.id);
        refunds.sort_by_key(|r| r.id);
        if let Some(bad) = lines
            .iter()
            .position(|l| l.order_id.is_some_and(|id| id != order.id))
        {
            return Err(BundleError::Invalid {
                path: format!("products[{bad}].order_id"),
                message: format!(
                    "line {} belongs to order {}, not to order {}",
                    lines[bad].id,
                    lines[bad].order_id.unwrap_or_default(),
                    order.id
                ),
            });
        }
        if let Some(bad) = refunds.iter().position(|r| r.order_id != order.id) {
            return Err(BundleError::Invalid {
                path: format!("refunds[{bad}].order_id"),
                message: format!(
                    "refund {} belongs to order {}, not to order {}",
                    refunds[bad].id, refunds[bad].order_id, order.id
                ),
            });
        }
        Ok(Self {
            order,
            lines,
            product_categories,
            category_tree,
            refunds,
            transactions: None,
        })
    }

    /// Whether this is the order that was asked for, of the store that was asked: BigCommerce's
    /// answer must name `order_id` and, where it carries its resource links, `store_hash`.
    /// A bundle of another order would otherwise be booked under the asked order's key (the
    /// posting key comes from the message, the batch name from the answer).
    pub fn check_identity(&self, store_hash: &str, order_id: u64) -> Result<(), String> {
        if self.order.id != order_id {
            return Err(format!(
                "BigCommerce answered with order {} when asked for order {order_id}; nothing is posted from that answer",
                self.order.id
            ));
        }
        match &self.order.answered_by_store {
            Some(answered) if answered != store_hash => Err(format!(
                "order {order_id} was asked of store {store_hash} but the answer comes from store {answered} (its products link); check the store's api_base in the connector document"
            )),
            _ => Ok(()),
        }
    }

    /// The bundle in its file form (what `mlc preview --order-file` reads and `mlc fetch`
    /// writes): line items under `products`, so the consignments are not repeated.
    pub fn to_file_value(&self) -> Value {
        let mut order = self.order.clone();
        order.consignments = None;
        let mut file = serde_json::json!({
            "order": order,
            "products": self.lines,
            "categories": self
                .product_categories
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect::<BTreeMap<String, Vec<u64>>>(),
            "category_tree": self.category_tree.to_records(),
            "refunds": self.refunds,
        });
        if let Some(t) = &self.transactions {
            file["transactions"] = serde_json::json!(t);
        }
        file
    }

    /// The gateway the sale's money went through: the first purchase, authorization or capture
    /// of the order's transactions that went through a gateway. Empty when the transactions were
    /// not read (no rule needs them) or show no gateway payment (paid with store credit or
    /// gift certificates only, or a manual order).
    pub fn payment_gateway(&self) -> &str {
        self.transactions
            .iter()
            .flatten()
            .find(|t| t.is_gateway_payment())
            .map_or("", |t| t.gateway.as_str())
    }

    /// A bundle with only the order and its lines (no categories, no refunds).
    pub fn new(order: Order, lines: Vec<OrderProduct>) -> Self {
        Self {
            order,
            lines,
            product_categories: BTreeMap::new(),
            category_tree: CategoryTree::default(),
            refunds: Vec::new(),
            transactions: None,
        }
    }

    /// The line with this order-product id.
    pub fn line(&self, order_product_id: u64) -> Option<&OrderProduct> {
        self.lines.iter().find(|l| l.id == order_product_id)
    }

    /// Category ids of a catalog product (empty for custom products or unknown ones).
    pub fn categories_of(&self, product_id: u64) -> &[u64] {
        self.product_categories
            .get(&product_id)
            .map_or(&[], Vec::as_slice)
    }
}

/// Adds lines not already present (by order-product id); `products` wins over consignments.
fn merge_lines(lines: &mut Vec<OrderProduct>, more: Vec<OrderProduct>) {
    let known: HashSet<u64> = lines.iter().map(|l| l.id).collect();
    lines.extend(more.into_iter().filter(|l| !known.contains(&l.id)));
}

/// Collects full line-item objects from consignments (object form with
/// `consignment_structure=object`, or the older array of such objects). Link objects
/// (`{url, resource}`) carry no amounts and are skipped.
fn consignment_lines(consignments: &Value) -> Result<Vec<OrderProduct>, BundleError> {
    let mut out = Vec::new();
    let groups: Vec<(String, &Value)> = match consignments {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("order.consignments[{i}]"), v))
            .collect(),
        Value::Object(_) => vec![("order.consignments".to_string(), consignments)],
        _ => Vec::new(),
    };
    for (base, group) in groups {
        for kind in ["pickups", "shipping", "downloads"] {
            if let Some(Value::Array(list)) = group.get(kind) {
                for (i, consignment) in list.iter().enumerate() {
                    collect_items(
                        consignment.get("line_items"),
                        &format!("{base}.{kind}[{i}].line_items"),
                        &mut out,
                    )?;
                }
            }
        }
        if let Some(Value::Array(list)) =
            group.get("email").and_then(|e| e.get("gift_certificates"))
        {
            for (i, consignment) in list.iter().enumerate() {
                collect_items(
                    consignment.get("line_items"),
                    &format!("{base}.email.gift_certificates[{i}].line_items"),
                    &mut out,
                )?;
            }
        }
    }
    Ok(out)
}

fn collect_items(
    items: Option<&Value>,
    path: &str,
    out: &mut Vec<OrderProduct>,
) -> Result<(), BundleError> {
    let Some(Value::Array(items)) = items else {
        return Ok(());
    };
    for (i, item) in items.iter().enumerate() {
        let is_full_line = item.get("id").is_some() && item.get("total_inc_tax").is_some();
        if !is_full_line {
            continue;
        }
        let line: OrderProduct = serde_path_to_error::deserialize(item).map_err(|e| {
            let (path, message) = crate::json_path::describe(&format!("{path}[{i}]"), &e);
            BundleError::Invalid { path, message }
        })?;
        out.push(line);
    }
    Ok(())
}

/// A store's category tree, for matching a product's categories and their ancestors.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CategoryTree {
    nodes: HashMap<u64, (u64, String)>,
}

/// Deeper trees than this are treated as cut (and a cycle cannot loop forever).
const MAX_DEPTH: usize = 64;

impl CategoryTree {
    /// Builds the tree from category records.
    pub fn new(categories: impl IntoIterator<Item = RawCategory>) -> Self {
        Self {
            nodes: categories
                .into_iter()
                .map(|c| (c.id, (c.parent_id, c.name)))
                .collect(),
        }
    }

    /// The category and its ancestors, nearest first. Unknown categories are their own root.
    pub fn lineage(&self, id: u64) -> Vec<u64> {
        let mut out = vec![id];
        let mut current = id;
        while let Some((parent, _)) = self.nodes.get(&current) {
            if *parent == 0 || out.contains(parent) || out.len() >= MAX_DEPTH {
                break;
            }
            out.push(*parent);
            current = *parent;
        }
        out
    }

    /// Depth from the top of the tree (a top-level category is 1): deeper means more specific.
    pub fn depth(&self, id: u64) -> u32 {
        self.lineage(id).len() as u32
    }

    /// The categories as records, ordered by id (for files and tests).
    pub fn to_records(&self) -> Vec<RawCategory> {
        let mut out: Vec<RawCategory> = self
            .nodes
            .iter()
            .map(|(id, (parent, name))| RawCategory {
                id: *id,
                parent_id: *parent,
                name: name.clone(),
            })
            .collect();
        out.sort_by_key(|c| c.id);
        out
    }

    /// Number of categories known.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// No categories known.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The category's name, when the tree has it.
    pub fn name(&self, id: u64) -> Option<&str> {
        self.nodes.get(&id).map(|(_, n)| n.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order_json() -> Value {
        serde_json::json!({
            "id": 218, "date_created": "Tue, 05 Mar 2019 21:40:11 +0000", "status_id": 11,
            "total_inc_tax": "10.0000", "default_currency_code": "USD"
        })
    }

    #[test]
    fn reads_lines_from_products_and_consignments_without_duplicates() {
        let mut order = order_json();
        order["consignments"] = serde_json::json!({
            "shipping": [{"line_items": [
                {"id": 1, "product_id": 5, "total_inc_tax": "5.00", "total_ex_tax": "5.00", "quantity": 1},
                {"id": 2, "product_id": 6, "total_inc_tax": "5.00", "total_ex_tax": "5.00", "quantity": 1}
            ]}],
            "downloads": [{"line_items": [{"url": "https://x/products/3", "resource": "/orders/218/products/3"}]}]
        });
        let bundle = OrderBundle::from_value(serde_json::json!({
            "order": order,
            "products": [{"id": 1, "product_id": 5, "name": "from products", "total_inc_tax": "5.00", "quantity": 1}]
        }))
        .unwrap();
        assert_eq!(bundle.lines.len(), 2);
        assert_eq!(bundle.lines[0].name, "from products");
    }

    #[test]
    fn names_the_bad_field() {
        let mut order = order_json();
        order["date_created"] = "yesterday".into();
        let err = OrderBundle::from_value(serde_json::json!({"order": order})).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("order.date_created: \"yesterday\" is not a date"),
            "{err}"
        );
        let err = OrderBundle::from_value(
            serde_json::json!({"order": order_json(), "products": [{"id": "x"}]}),
        )
        .unwrap_err();
        assert!(
            err.to_string().starts_with("products[0].id: invalid type"),
            "{err}"
        );
        let mut no_date = order_json();
        no_date.as_object_mut().unwrap().remove("date_created");
        let err = OrderBundle::from_value(serde_json::json!({"order": no_date})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "order.date_created: required field is missing"
        );
        let err = OrderBundle::from_value(serde_json::json!({"products": []})).unwrap_err();
        assert_eq!(err.to_string(), "order: required field is missing");
        let err = OrderBundle::from_value(
            serde_json::json!({"order": order_json(), "categories": {"abc": [1]}}),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "categories.abc: keys must be catalog product ids (digits)"
        );
    }

    #[test]
    fn refunds_of_another_order_are_refused() {
        let err = OrderBundle::from_value(serde_json::json!({
            "order": order_json(),
            "refunds": {"data": [{"id": 3, "order_id": 999, "total_amount": 1.5}], "meta": {}}
        }))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "refunds[0].order_id: refund 3 belongs to order 999, not to order 218"
        );
    }

    #[test]
    fn lineage_walks_to_the_top_and_survives_cycles() {
        let tree = CategoryTree::new([
            RawCategory {
                id: 1,
                parent_id: 0,
                name: "Apparel".into(),
            },
            RawCategory {
                id: 2,
                parent_id: 1,
                name: "Shirts".into(),
            },
            RawCategory {
                id: 3,
                parent_id: 2,
                name: "Linen".into(),
            },
            RawCategory {
                id: 8,
                parent_id: 9,
                name: "a".into(),
            },
            RawCategory {
                id: 9,
                parent_id: 8,
                name: "b".into(),
            },
        ]);
        assert_eq!(tree.lineage(3), vec![3, 2, 1]);
        assert_eq!(tree.depth(2), 2);
        assert_eq!(tree.lineage(77), vec![77]);
        assert_eq!(tree.lineage(8), vec![8, 9]);
    }
}
