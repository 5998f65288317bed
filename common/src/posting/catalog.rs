//! Catalog alignment: does the store's structure still match the mapping to the ledger's cost
//! centers? Merchandisers add categories, open storefronts and retire products without telling
//! finance; the connector then posts that revenue to the default account, or a rule silently
//! stops matching. This reads the store as it is now and says, per category, which account
//! combination its revenue gets and which rule decided it, and names every rule that points at
//! a category, channel or product the store no longer has.
//!
//! Read-only: it changes neither the store nor the document.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::bigcommerce::{BcError, CategoryTree};
use crate::config::{RuleConfig, StoreConfig};
use crate::mapping::{AccountRole, Mapper, MappingContext, ProductRef, SegmentSource};
use crate::money::Currency;
use crate::posting::services::Services;

/// Why the alignment could not be read; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The store id is not in the connector document.
    #[error("store {0:?} is not in the connector document; known: {1}")]
    UnknownStore(String, String),
    /// The services were built without a client for this store (a document read before the
    /// store was added).
    #[error("no BigCommerce client for store {0}")]
    NoClient(String),
    /// The store could not be read.
    #[error("store {store}: {source}")]
    Store {
        /// Store id.
        store: String,
        /// Why.
        source: BcError,
    },
}

/// Where one category's revenue goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CategoryLine {
    /// Store id.
    pub store: String,
    /// Category id.
    pub category_id: u64,
    /// Its path from the top (`Apparel › Shirts`).
    pub path: String,
    /// The revenue account combination, segments joined by `-`.
    pub account: String,
    /// What decided the segments (`rule:apparel, default:revenue`).
    pub decided_by: String,
    /// No rule decided any segment: the revenue goes to the defaults.
    pub only_defaults: bool,
}

/// A rule that points at something the store does not have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "missing", rename_all = "snake_case")]
pub enum StaleRule {
    /// `when.category` names a category of no store the rule applies to.
    Category {
        /// The rule.
        rule: String,
        /// The category id.
        id: u64,
    },
    /// `when.channel` names a channel of no store the rule applies to.
    Channel {
        /// The rule.
        rule: String,
        /// The channel id.
        id: u64,
    },
    /// `when.product` names a product of no store the rule applies to.
    Product {
        /// The rule.
        rule: String,
        /// The product id.
        id: u64,
    },
}

/// The alignment of the stores' catalogs with the mapping.
#[derive(Debug, Clone, Serialize)]
pub struct CatalogReport {
    /// Stores read.
    pub stores: Vec<String>,
    /// Every category of every store, by store then path.
    pub categories: Vec<CategoryLine>,
    /// Rules pointing at what the stores do not have.
    pub stale: Vec<StaleRule>,
}

impl CatalogReport {
    /// Categories whose revenue only the defaults decide.
    pub fn only_defaults(&self) -> usize {
        self.categories.iter().filter(|c| c.only_defaults).count()
    }

    /// Whether nothing needs a look: every category has a rule, no rule is stale.
    pub fn is_aligned(&self) -> bool {
        self.stale.is_empty() && self.only_defaults() == 0
    }
}

fn path(tree: &CategoryTree, names: &BTreeMap<u64, String>, id: u64) -> String {
    let mut lineage = tree.lineage(id);
    lineage.reverse();
    lineage
        .iter()
        .map(|c| names.get(c).cloned().unwrap_or_else(|| format!("#{c}")))
        .collect::<Vec<_>>()
        .join(" › ")
}

/// What one store has, as far as rules can name it.
struct StoreCatalog {
    id: String,
    categories: BTreeSet<u64>,
    channels: BTreeSet<u64>,
    products: BTreeSet<u64>,
}

/// Reads the catalogs of `store` (or every store) and checks them against the mapping.
pub async fn catalog_alignment(
    svc: &Services,
    store: Option<&str>,
) -> Result<CatalogReport, CatalogError> {
    let config = &svc.config;
    let entries: Vec<_> = config
        .stores
        .iter()
        .filter(|s| store.is_none_or(|id| s.id == id))
        .collect();
    if let Some(id) = store
        && entries.is_empty()
    {
        let known: Vec<&str> = config.stores.iter().map(|s| s.id.as_str()).collect();
        return Err(CatalogError::UnknownStore(id.to_string(), known.join(", ")));
    }
    let mapper = Mapper::new(&config.oracle.chart_of_accounts, &config.mapping);
    // Every product a rule names, asked once per store.
    let named_products: Vec<u64> = config
        .mapping
        .rules
        .iter()
        .flat_map(|r| r.when.product.as_slice().iter().copied())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut report = CatalogReport {
        stores: entries.iter().map(|s| s.id.clone()).collect(),
        categories: Vec::new(),
        stale: Vec::new(),
    };
    let mut catalogs = Vec::new();
    for entry in &entries {
        let (lines, catalog) = read_store(svc, entry, &mapper, &named_products).await?;
        report.categories.extend(lines);
        catalogs.push(catalog);
    }
    report.stale = stale_rules(&config.mapping.rules, &catalogs);
    Ok(report)
}

/// One store entry's categories, each with the account its revenue gets (sorted by path),
/// and what the store has that rules can name.
async fn read_store(
    svc: &Services,
    entry: &StoreConfig,
    mapper: &Mapper<'_>,
    named_products: &[u64],
) -> Result<(Vec<CategoryLine>, StoreCatalog), CatalogError> {
    let failed = |source: BcError| CatalogError::Store {
        store: entry.id.clone(),
        source,
    };
    let bc = svc
        .bigcommerce(&entry.store_hash)
        .ok_or_else(|| CatalogError::NoClient(entry.id.clone()))?;
    let tree = bc.category_tree().await.map_err(failed)?;
    let channels = bc.channels().await.map_err(failed)?;
    let products = if named_products.is_empty() {
        BTreeMap::new()
    } else {
        bc.product_categories(named_products)
            .await
            .map_err(failed)?
    };
    let records = tree.to_records();
    let names: BTreeMap<u64, String> = records.iter().map(|c| (c.id, c.name.clone())).collect();
    // The ledger's currency stands for the orders' (validation makes the ledger exist).
    let currency = svc
        .config
        .oracle
        .ledgers
        .iter()
        .find(|l| l.name == entry.ledger)
        .map(|l| l.currency);
    let mut lines: Vec<CategoryLine> = records
        .iter()
        .map(|c| {
            let (account, decided_by, only_defaults) =
                revenue_account(mapper, entry, currency, &tree, c.id);
            CategoryLine {
                store: entry.id.clone(),
                category_id: c.id,
                path: path(&tree, &names, c.id),
                account,
                decided_by,
                only_defaults,
            }
        })
        .collect();
    lines.sort_by(|a, b| a.path.cmp(&b.path));
    let catalog = StoreCatalog {
        id: entry.id.clone(),
        categories: records.iter().map(|c| c.id).collect(),
        channels: channels.iter().map(|c| c.id).collect(),
        products: products
            .iter()
            .filter(|(_, cats)| !cats.is_empty())
            .map(|(id, _)| *id)
            .collect(),
    };
    Ok((lines, catalog))
}

/// Where revenue of a product in `category` goes, on the entry's first channel: the account
/// combination, what decided it, and whether only the defaults did (no rule).
fn revenue_account(
    mapper: &Mapper<'_>,
    entry: &StoreConfig,
    currency: Option<Currency>,
    tree: &CategoryTree,
    category: u64,
) -> (String, String, bool) {
    let Some(currency) = currency else {
        return (
            String::new(),
            format!("stores: ledger {:?} is unknown", entry.ledger),
            true,
        );
    };
    let categories = [category];
    let resolved = mapper.resolve(
        AccountRole::Revenue,
        &MappingContext {
            store: &entry.id,
            channel: entry.channels.first().copied().unwrap_or(1),
            currency,
            payment_method: "",
            payment_provider: "",
            product: Some(ProductRef {
                product_id: 0,
                sku: "",
                categories: &categories,
                tree,
            }),
        },
    );
    match resolved {
        Ok(r) => (
            r.segments.join("-"),
            r.explain(),
            !r.sources
                .iter()
                .any(|s| matches!(s, SegmentSource::Rule(_))),
        ),
        Err(e) => (String::new(), e.to_string(), true),
    }
}

/// A rule is stale when what it names is in no store it applies to. Rules for stores outside
/// `catalogs` are not judged.
fn stale_rules(rules: &[RuleConfig], catalogs: &[StoreCatalog]) -> Vec<StaleRule> {
    let mut stale = Vec::new();
    for rule in rules {
        let applies: Vec<&StoreCatalog> = catalogs
            .iter()
            .filter(|s| rule.when.store.is_empty() || rule.when.store.as_slice().contains(&s.id))
            .collect();
        if applies.is_empty() {
            continue;
        }
        for id in rule.when.category.as_slice() {
            if !applies.iter().any(|s| s.categories.contains(id)) {
                stale.push(StaleRule::Category {
                    rule: rule.name.clone(),
                    id: *id,
                });
            }
        }
        for id in rule.when.channel.as_slice() {
            if !applies.iter().any(|s| s.channels.contains(id)) {
                stale.push(StaleRule::Channel {
                    rule: rule.name.clone(),
                    id: *id,
                });
            }
        }
        for id in rule.when.product.as_slice() {
            if !applies.iter().any(|s| s.products.contains(id)) {
                stale.push(StaleRule::Product {
                    rule: rule.name.clone(),
                    id: *id,
                });
            }
        }
    }
    stale
}
