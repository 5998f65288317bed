//! Advice on a valid document: things that work as written but probably not as meant.
//!
//! Validation refuses what cannot work; advice names what works differently from what the
//! author likely expects, so `mlc config check` can say so before an order posts to the wrong
//! account. Nothing here stops a document from loading.

use super::{ConfigIssue, ConnectorConfig, OneOrMany};

/// The gateways BigCommerce's transactions name (`Transaction.gateway` in the V3 orders spec),
/// with the store-credit and gift-certificate tenders; refund payments use the same ids or
/// their own spelling (`stripev3`, `checkout_paypalexpress`).
const GATEWAYS: &[&str] = &[
    "2checkout",
    "adyen",
    "amazon",
    "authorizenet",
    "bankdeposit",
    "braintree",
    "cheque",
    "cod",
    "custom",
    "firstdatagge4",
    "giftcertificate",
    "hps",
    "instore",
    "klarna",
    "migs",
    "moneyorder",
    "nmi",
    "paypalexpress",
    "paypalpaymentsprous",
    "paypalpaymentsprouk",
    "plugnpay",
    "qbmsv2",
    "securenet",
    "square",
    "storecredit",
    "stripe",
    "testgateway",
    "usaepay",
];

/// A value that looks like a payment or transaction id rather than a gateway name: digits in
/// a long token, or a Stripe-style `pi_`/`ch_` prefix.
fn looks_like_transaction_id(value: &str) -> bool {
    let v = value.trim();
    let digits = v.chars().filter(char::is_ascii_digit).count();
    v.chars().all(|c| c.is_ascii_digit())
        || ["pi_", "ch_", "txn_", "tx-"]
            .iter()
            .any(|p| v.starts_with(p))
        || (v.len() >= 12 && digits >= 3)
}

impl ConnectorConfig {
    /// What works as written but probably not as meant, each with the field and the fix.
    pub fn advice(&self) -> Vec<ConfigIssue> {
        let mut out = Vec::new();
        for (i, rule) in self.mapping.rules.iter().enumerate() {
            let values = rule.when.payment_provider.as_slice();
            if values.is_empty() {
                continue;
            }
            let path = |j: usize| match &rule.when.payment_provider {
                OneOrMany::One(_) => format!("mapping.rules[{i}].when.payment_provider"),
                OneOrMany::Many(_) => format!("mapping.rules[{i}].when.payment_provider[{j}]"),
            };
            for (j, v) in values.iter().enumerate() {
                if looks_like_transaction_id(v) {
                    out.push(ConfigIssue {
                        path: path(j),
                        message: format!(
                            "\"{v}\" looks like a transaction id; payment_provider matches gateway names (braintree, stripe…), never the order's payment_provider_id, which BigCommerce defines as the gateway's transaction id"
                        ),
                    });
                } else if v.contains(' ') {
                    out.push(ConfigIssue {
                        path: path(j),
                        message: format!(
                            "\"{v}\" looks like a payment method label; payment_provider matches gateway names (braintree, stripe…): match labels with when.payment_method"
                        ),
                    });
                }
            }
            let is_gateway = |v: &String| GATEWAYS.iter().any(|g| g.eq_ignore_ascii_case(v.trim()));
            if !values.iter().any(is_gateway) {
                out.push(ConfigIssue {
                    path: format!("mapping.rules[{i}].when.payment_provider"),
                    message: format!(
                        "rule \"{}\" names no gateway BigCommerce's transactions name ({}): it can match a refund payment's provider_id (stripev3, checkout_paypalexpress…), never a sale; add the gateway as the transactions spell it",
                        rule.name,
                        GATEWAYS.join(", ")
                    ),
                });
            }
            out.push(ConfigIssue {
                path: format!("mapping.rules[{i}].when.payment_provider"),
                message: format!(
                    "rule \"{}\" matches the sale by the gateway of the order's transactions: the connector reads them for every order, one more BigCommerce call per order (GET /v3/orders/{{id}}/transactions); refunds go back through the account their sale was debited on, offline refunds by their provider_id",
                    rule.name
                ),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::looks_like_transaction_id;

    #[test]
    fn transaction_ids_are_told_from_gateway_names() {
        for id in [
            "pi_3QJ7bK2eZvKYlo2C1f0aXy9Q",
            "8KX12345AB678901C",
            "123456",
            "tx-71",
        ] {
            assert!(looks_like_transaction_id(id), "{id}");
        }
        for gateway in [
            "braintree",
            "stripe",
            "stripev3",
            "checkout_paypalexpress",
            "2checkout",
        ] {
            assert!(!looks_like_transaction_id(gateway), "{gateway}");
        }
    }
}
