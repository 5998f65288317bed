//! Mapping rules: which GL segment values each amount of an order lands on.
//!
//! Every amount has an [`AccountRole`] (revenue, tax, shipping, receivable…). Its segments are
//! decided one by one: for each segment, among the rules that apply to the role, match the
//! amount's context and set that segment, the most specific wins (product or SKU beats category;
//! a deeper category beats its ancestor; then the number of store/channel/currency/payment
//! conditions), and ties go to the rule listed first. A segment no rule sets takes the role's
//! default, then the chart of accounts' default. Config validation guarantees that chain always
//! ends in a value, so an unmapped product, category or payment method never blocks an order;
//! each segment remembers what decided it, for the audit.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::bigcommerce::CategoryTree;
use crate::config::{ChartOfAccounts, MappingConfig, RuleConfig};
use crate::money::Currency;

/// What an amount is, for the ledger. Also the key of `mapping.defaults`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum AccountRole {
    /// Sales of goods and services.
    Revenue,
    /// Contra-revenue for discounts and coupons (when shown separately).
    Discount,
    /// Shipping charged to the customer.
    Shipping,
    /// Handling charged to the customer.
    Handling,
    /// Gift wrapping charged to the customer.
    Wrapping,
    /// Custom order fees charged to the customer.
    Fee,
    /// Tax payable.
    Tax,
    /// Gift certificate liability: sold (credit) or redeemed as a tender (debit).
    GiftCertificate,
    /// Store credit liability: redeemed as a tender, or granted by a refund.
    StoreCredit,
    /// What the customer or the payment provider owes: receivable or clearing account.
    Receivable,
    /// Sales returns and refunds of goods (contra-revenue). Optional: where the document names
    /// no returns account, a refunded line reverses the revenue account its sale credited.
    Refund,
    /// What a cancelled order still owes the shopper (money taken and not yet given back): a
    /// liability the cancellation credits and each refund after it clears.
    RefundDue,
    /// Where differences that cannot be explained wait for review.
    Suspense,
    /// Where rounding differences within the tolerance go.
    Rounding,
}

impl AccountRole {
    /// Every role, in the order they are listed in documents and messages.
    pub const ALL: [AccountRole; 14] = [
        AccountRole::Revenue,
        AccountRole::Discount,
        AccountRole::Shipping,
        AccountRole::Handling,
        AccountRole::Wrapping,
        AccountRole::Fee,
        AccountRole::Tax,
        AccountRole::GiftCertificate,
        AccountRole::StoreCredit,
        AccountRole::Receivable,
        AccountRole::Refund,
        AccountRole::RefundDue,
        AccountRole::Suspense,
        AccountRole::Rounding,
    ];

    /// The name used in documents and output.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountRole::Revenue => "revenue",
            AccountRole::Discount => "discount",
            AccountRole::Shipping => "shipping",
            AccountRole::Handling => "handling",
            AccountRole::Wrapping => "wrapping",
            AccountRole::Fee => "fee",
            AccountRole::Tax => "tax",
            AccountRole::GiftCertificate => "gift_certificate",
            AccountRole::StoreCredit => "store_credit",
            AccountRole::Receivable => "receivable",
            AccountRole::Refund => "refund",
            AccountRole::RefundDue => "refund_due",
            AccountRole::Suspense => "suspense",
            AccountRole::Rounding => "rounding",
        }
    }

    /// Whether the document must give this role a complete default account. Only sales returns
    /// may go without: a refunded line then reverses the revenue account its sale credited.
    pub fn needs_default(self) -> bool {
        self != AccountRole::Refund
    }

    /// Whether amounts of this role can belong to one product. Rules on category, product or
    /// SKU can only ever match these.
    pub fn can_be_per_product(self) -> bool {
        matches!(
            self,
            AccountRole::Revenue
                | AccountRole::Discount
                | AccountRole::Refund
                | AccountRole::GiftCertificate
        )
    }
}

impl fmt::Display for AccountRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The product an amount belongs to, when it belongs to one.
#[derive(Debug, Clone, Copy)]
pub struct ProductRef<'a> {
    /// Catalog product id (0 for custom products).
    pub product_id: u64,
    /// SKU as sold.
    pub sku: &'a str,
    /// The product's categories.
    pub categories: &'a [u64],
    /// The store's category tree, to match ancestors.
    pub tree: &'a CategoryTree,
}

/// Everything a rule can match on.
#[derive(Debug, Clone, Copy)]
pub struct MappingContext<'a> {
    /// Store id (`stores[].id`).
    pub store: &'a str,
    /// Channel the order came from.
    pub channel: u64,
    /// Order (transactional) currency.
    pub currency: Currency,
    /// Payment method label of the order (V2 `payment_method`: "The payment method for this
    /// order. For example, `Manual`, `Credit Card`, `cash`, `Test Payment Gateway`").
    pub payment_method: &'a str,
    /// The gateway the money went through: for the sale, the gateway of the order's
    /// transactions (read only when a rule needs it, empty otherwise); for a refund payment,
    /// its `provider_id`. Never the order's `payment_provider_id`, which the spec defines as
    /// "the external Transaction ID/Payment ID within this order's payment provider".
    pub payment_provider: &'a str,
    /// The product, for per-product amounts.
    pub product: Option<ProductRef<'a>>,
}

/// What decided one segment value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SegmentSource {
    /// A mapping rule, by name.
    Rule(String),
    /// `mapping.defaults.<role>`.
    Default(AccountRole),
    /// The chart of accounts' default for the segment.
    ChartDefault,
}

impl fmt::Display for SegmentSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SegmentSource::Rule(name) => write!(f, "rule:{name}"),
            SegmentSource::Default(role) => write!(f, "default:{role}"),
            SegmentSource::ChartDefault => f.write_str("chart_of_accounts"),
        }
    }
}

/// The segment values for one amount, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// Values in chart-of-accounts order.
    pub segments: Vec<String>,
    /// What decided each value, position by position.
    pub sources: Vec<SegmentSource>,
}

impl Resolution {
    /// One line for people: the distinct deciders, in segment order (`rule:apparel,
    /// default:revenue`).
    pub fn explain(&self) -> String {
        let mut seen: Vec<String> = Vec::new();
        for s in &self.sources {
            let s = s.to_string();
            if !seen.contains(&s) {
                seen.push(s);
            }
        }
        seen.join(", ")
    }
}

/// A segment had no value at all. Validation prevents it; this keeps the failure typed if a
/// document skipped validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "no value for segment \"{segment}\" of a {role} amount: no rule, no mapping.defaults.{role}.{segment}, no chart-of-accounts default"
)]
pub struct MappingError {
    /// The amount's role.
    pub role: AccountRole,
    /// The segment without a value.
    pub segment: String,
}

/// How specific a matching rule is; greater wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Specificity {
    product: bool,
    category_depth: u32,
    others: u8,
}

/// Resolves segments with a validated chart of accounts and mapping.
#[derive(Debug, Clone, Copy)]
pub struct Mapper<'c> {
    coa: &'c ChartOfAccounts,
    mapping: &'c MappingConfig,
}

impl<'c> Mapper<'c> {
    /// A mapper over a loaded document's chart of accounts and rules.
    pub fn new(coa: &'c ChartOfAccounts, mapping: &'c MappingConfig) -> Self {
        Self { coa, mapping }
    }

    /// The segment values for an amount of `role` in context `ctx`.
    pub fn resolve(
        &self,
        role: AccountRole,
        ctx: &MappingContext<'_>,
    ) -> Result<Resolution, MappingError> {
        let candidates: Vec<(usize, Specificity, &RuleConfig)> = self
            .mapping
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.applies_to.contains(&role))
            .filter_map(|(i, r)| specificity(r, ctx).map(|s| (i, s, r)))
            .collect();
        let defaults = self.mapping.defaults.get(&role);
        let mut segments = Vec::with_capacity(self.coa.segments.len());
        let mut sources = Vec::with_capacity(self.coa.segments.len());
        for seg in &self.coa.segments {
            // Highest specificity; among equals the lowest index (earliest rule).
            let best = candidates
                .iter()
                .filter(|(_, _, r)| r.set.contains_key(&seg.name))
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)));
            let (value, source) = if let Some((_, _, rule)) = best {
                (
                    rule.set[&seg.name].clone(),
                    SegmentSource::Rule(rule.name.clone()),
                )
            } else if let Some(v) = defaults.and_then(|d| d.get(&seg.name)) {
                (v.clone(), SegmentSource::Default(role))
            } else if let Some(v) = &seg.default {
                (v.clone(), SegmentSource::ChartDefault)
            } else {
                return Err(MappingError {
                    role,
                    segment: seg.name.clone(),
                });
            };
            segments.push(value);
            sources.push(source);
        }
        Ok(Resolution { segments, sources })
    }

    /// The returns account for a refunded amount: the natural-account value the document gives
    /// sales returns in this context (a rule on `refund`, or `mapping.defaults.refund`), with
    /// what decided it. `None` when the document names none, or the chart has no natural
    /// account: the refund then reverses the account its sale credited.
    pub fn returns_account(
        &self,
        ctx: &MappingContext<'_>,
    ) -> Option<(usize, String, SegmentSource)> {
        let index = self.coa.natural_index()?;
        let resolved = self.resolve(AccountRole::Refund, ctx).ok()?;
        let source = resolved.sources[index].clone();
        match source {
            SegmentSource::Rule(_) | SegmentSource::Default(AccountRole::Refund) => {
                Some((index, resolved.segments[index].clone(), source))
            }
            _ => None,
        }
    }
}

fn contains_ci(list: &[String], value: &str) -> bool {
    list.iter().any(|v| v.eq_ignore_ascii_case(value))
}

/// `None` when the rule does not match; otherwise how specific the match is.
fn specificity(rule: &RuleConfig, ctx: &MappingContext<'_>) -> Option<Specificity> {
    let w = &rule.when;
    let mut others = 0u8;
    let mut check = |set: bool, ok: bool| -> Option<()> {
        if set {
            others += 1;
            ok.then_some(())
        } else {
            Some(())
        }
    };
    check(
        !w.store.is_empty(),
        w.store.as_slice().iter().any(|s| s == ctx.store),
    )?;
    check(
        !w.channel.is_empty(),
        w.channel.as_slice().contains(&ctx.channel),
    )?;
    check(
        !w.currency.is_empty(),
        w.currency.as_slice().contains(&ctx.currency),
    )?;
    check(
        !w.payment_method.is_empty(),
        contains_ci(w.payment_method.as_slice(), ctx.payment_method),
    )?;
    check(
        !w.payment_provider.is_empty(),
        contains_ci(w.payment_provider.as_slice(), ctx.payment_provider),
    )?;

    let per_product = !w.product.is_empty() || !w.sku.is_empty() || !w.category.is_empty();
    if !per_product {
        return Some(Specificity {
            product: false,
            category_depth: 0,
            others,
        });
    }
    let product = ctx.product?;
    if !w.product.is_empty() && !w.product.as_slice().contains(&product.product_id) {
        return None;
    }
    if !w.sku.is_empty() && !w.sku.as_slice().iter().any(|s| s == product.sku) {
        return None;
    }
    let mut category_depth = 0;
    if !w.category.is_empty() {
        let wanted = w.category.as_slice();
        category_depth = product
            .categories
            .iter()
            .flat_map(|c| product.tree.lineage(*c))
            .filter(|c| wanted.contains(c))
            .map(|c| product.tree.depth(c))
            .max()?;
    }
    Some(Specificity {
        product: !w.product.is_empty() || !w.sku.is_empty(),
        category_depth,
        others,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bigcommerce::bundle::RawCategory;
    use crate::config::{Conditions, OneOrMany, SegmentConfig};
    use std::collections::BTreeMap;

    fn coa() -> ChartOfAccounts {
        let seg = |name: &str, default: Option<&str>| SegmentConfig {
            name: name.into(),
            default: default.map(Into::into),
            values: None,
        };
        ChartOfAccounts {
            segments: vec![
                seg("company", Some("101")),
                seg("cost_center", Some("000")),
                seg("account", None),
            ],
            natural_account: None,
        }
    }

    fn set(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn rule(
        name: &str,
        applies: &[AccountRole],
        when: Conditions,
        s: &[(&str, &str)],
    ) -> RuleConfig {
        RuleConfig {
            name: name.into(),
            applies_to: applies.to_vec(),
            when,
            set: set(s),
        }
    }

    fn mapping(rules: Vec<RuleConfig>) -> MappingConfig {
        let mut defaults = BTreeMap::new();
        defaults.insert(AccountRole::Revenue, set(&[("account", "4000")]));
        defaults.insert(AccountRole::Tax, set(&[("account", "2300")]));
        defaults.insert(AccountRole::Receivable, set(&[("account", "1200")]));
        MappingConfig { defaults, rules }
    }

    fn tree() -> CategoryTree {
        CategoryTree::new([
            RawCategory {
                id: 20,
                parent_id: 0,
                name: "Apparel".into(),
            },
            RawCategory {
                id: 21,
                parent_id: 20,
                name: "Shirts".into(),
            },
            RawCategory {
                id: 30,
                parent_id: 0,
                name: "Kitchen".into(),
            },
        ])
    }

    fn ctx<'a>(product: Option<ProductRef<'a>>) -> MappingContext<'a> {
        MappingContext {
            store: "us",
            channel: 1,
            currency: Currency::parse("USD").unwrap(),
            payment_method: "Credit Card",
            payment_provider: "braintree",
            product,
        }
    }

    const SHIRT_CATS: &[u64] = &[21];

    #[test]
    fn unmapped_amounts_take_the_role_default_then_the_chart_default() {
        let coa = coa();
        let m = mapping(vec![]);
        let r = Mapper::new(&coa, &m)
            .resolve(AccountRole::Tax, &ctx(None))
            .unwrap();
        assert_eq!(r.segments, vec!["101", "000", "2300"]);
        assert_eq!(r.explain(), "chart_of_accounts, default:tax");
    }

    #[test]
    fn a_category_rule_matches_products_in_sub_categories() {
        let coa = coa();
        let t = tree();
        let when = Conditions {
            category: OneOrMany::One(20),
            ..Default::default()
        };
        let m = mapping(vec![rule(
            "apparel",
            &[AccountRole::Revenue],
            when,
            &[("account", "4100")],
        )]);
        let shirt = ProductRef {
            product_id: 7,
            sku: "TS-1",
            categories: SHIRT_CATS,
            tree: &t,
        };
        let r = Mapper::new(&coa, &m)
            .resolve(AccountRole::Revenue, &ctx(Some(shirt)))
            .unwrap();
        assert_eq!(r.segments[2], "4100");
        assert_eq!(r.sources[2], SegmentSource::Rule("apparel".into()));
        // The same rule never touches tax, and a kitchen product falls back to the default.
        let r = Mapper::new(&coa, &m)
            .resolve(AccountRole::Tax, &ctx(Some(shirt)))
            .unwrap();
        assert_eq!(r.segments[2], "2300");
        let pan = ProductRef {
            product_id: 9,
            sku: "PAN",
            categories: &[30],
            tree: &t,
        };
        let r = Mapper::new(&coa, &m)
            .resolve(AccountRole::Revenue, &ctx(Some(pan)))
            .unwrap();
        assert_eq!(r.segments[2], "4000");
    }

    #[test]
    fn most_specific_wins_and_ties_go_to_the_first_rule() {
        let coa = coa();
        let t = tree();
        let cat = |c| Conditions {
            category: OneOrMany::One(c),
            ..Default::default()
        };
        let rules = vec![
            rule(
                "store-wide",
                &[AccountRole::Revenue],
                Conditions {
                    store: OneOrMany::One("us".into()),
                    ..Default::default()
                },
                &[("account", "4001")],
            ),
            rule(
                "apparel",
                &[AccountRole::Revenue],
                cat(20),
                &[("account", "4100")],
            ),
            rule(
                "shirts",
                &[AccountRole::Revenue],
                cat(21),
                &[("account", "4110")],
            ),
            rule(
                "shirts-again",
                &[AccountRole::Revenue],
                cat(21),
                &[("account", "4999")],
            ),
            rule(
                "sku",
                &[AccountRole::Revenue],
                Conditions {
                    sku: OneOrMany::One("TS-1".into()),
                    ..Default::default()
                },
                &[("cost_center", "777")],
            ),
        ];
        let m = mapping(rules);
        let shirt = ProductRef {
            product_id: 7,
            sku: "TS-1",
            categories: SHIRT_CATS,
            tree: &t,
        };
        let r = Mapper::new(&coa, &m)
            .resolve(AccountRole::Revenue, &ctx(Some(shirt)))
            .unwrap();
        assert_eq!(r.segments, vec!["101", "777", "4110"]);
        assert_eq!(r.explain(), "chart_of_accounts, rule:sku, rule:shirts");
        // An order-level amount only sees the store-wide rule.
        let r = Mapper::new(&coa, &m)
            .resolve(AccountRole::Revenue, &ctx(None))
            .unwrap();
        assert_eq!(r.segments[2], "4001");
    }

    #[test]
    fn segments_can_come_from_different_rules() {
        let coa = coa();
        let t = tree();
        let rules = vec![
            rule(
                "eu-company",
                &AccountRole::ALL,
                Conditions {
                    store: OneOrMany::One("us".into()),
                    ..Default::default()
                },
                &[("company", "201")],
            ),
            rule(
                "apparel",
                &[AccountRole::Revenue],
                Conditions {
                    category: OneOrMany::One(20),
                    ..Default::default()
                },
                &[("account", "4100")],
            ),
            rule(
                "paypal",
                &[AccountRole::Receivable],
                Conditions {
                    payment_method: OneOrMany::One("credit card".into()),
                    ..Default::default()
                },
                &[("account", "1220")],
            ),
        ];
        let m = mapping(rules);
        let shirt = ProductRef {
            product_id: 7,
            sku: "TS-1",
            categories: SHIRT_CATS,
            tree: &t,
        };
        let r = Mapper::new(&coa, &m)
            .resolve(AccountRole::Revenue, &ctx(Some(shirt)))
            .unwrap();
        assert_eq!(r.segments, vec!["201", "000", "4100"]);
        let r = Mapper::new(&coa, &m)
            .resolve(AccountRole::Receivable, &ctx(None))
            .unwrap();
        assert_eq!(r.segments, vec!["201", "000", "1220"]);
        assert_eq!(
            r.explain(),
            "rule:eu-company, chart_of_accounts, rule:paypal"
        );
    }

    #[test]
    fn a_missing_value_is_a_typed_error() {
        let coa = coa();
        let m = mapping(vec![]);
        let err = Mapper::new(&coa, &m)
            .resolve(AccountRole::Shipping, &ctx(None))
            .unwrap_err();
        assert_eq!(err.segment, "account");
    }
}
