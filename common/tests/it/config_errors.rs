//! The connector document: broken documents are refused with every problem, each naming the
//! JSON path of the field and what is expected; nothing half-valid is ever returned.

use crate::support::{document_without_returns_account, example_config, example_document};
use common::config::{ConnectorConfig, REDACTED};
use serde_json::{Value, json};

fn issues(doc: &Value) -> Vec<String> {
    issues_of_text(&doc.to_string())
}

fn issues_of_text(text: &str) -> Vec<String> {
    match ConnectorConfig::from_json(text, "test") {
        Ok(_) => panic!("document was accepted"),
        Err(e) => e.issues.iter().map(ToString::to_string).collect(),
    }
}

fn broken(change: impl FnOnce(&mut Value)) -> Vec<String> {
    let mut doc = example_document();
    change(&mut doc);
    issues(&doc)
}

#[test]
fn the_example_document_is_valid() {
    let config = example_config();
    assert_eq!(config.stores.len(), 2);
    assert_eq!(config.oracle.ledgers.len(), 2);
    assert_eq!(config.route("nw4x7k2p", 2).unwrap().id, "eu");
    assert_eq!(config.route("nw4x7k2p", 1).unwrap().id, "us");
    assert!(config.route("nw4x7k2p", 3).is_none(), "no catch-all entry");
    assert!(config.route("other", 1).is_none());
}

#[test]
fn unknown_ledger() {
    assert_eq!(
        broken(|d| d["stores"][1]["ledger"] = json!("EU-LEDGR")),
        vec![r#"stores[1].ledger: unknown ledger "EU-LEDGR"; known: NW US Primary, NW EU Primary"#]
    );
}

#[test]
fn unknown_time_zone() {
    assert_eq!(
        broken(|d| d["stores"][1]["timezone"] = json!("Europe/Berlinn")),
        vec![
            r#"stores[1].timezone: unknown time zone "Europe/Berlinn"; use an IANA name such as "America/New_York""#
        ]
    );
}

#[test]
fn duplicate_store_id() {
    assert_eq!(
        broken(|d| d["stores"][1]["id"] = json!("us")),
        vec![r#"stores[1].id: duplicate store id "us" (already used by stores[0])"#]
    );
}

#[test]
fn store_id_unfit_for_batch_names() {
    assert_eq!(
        broken(|d| d["stores"][0]["id"] = json!("us-east")),
        vec![
            r#"stores[0].id: "us-east" is not a usable store id: use 1 to 12 letters, digits or _ (it becomes part of Oracle batch names)"#
        ]
    );
}

#[test]
fn journal_source_and_category_fit_gl_interface() {
    assert_eq!(
        broken(|d| {
            d["oracle"]["journal_source"] = json!("BigCommerce Storefront Orders");
            d["oracle"]["journal_category"] = json!("Sales");
        }),
        vec![
            "oracle.journal_source: 29 characters; Journal Import takes at most 25 (the name as Fusion shows it)"
        ]
    );
    assert_eq!(
        broken(|d| d["oracle"]["journal_category"] = json!("Ventes en ligne à l'étranger")),
        vec![
            "oracle.journal_category: 28 characters; Journal Import takes at most 25 (the name as Fusion shows it)"
        ]
    );
}

#[test]
fn unsupported_schema_version() {
    assert_eq!(
        broken(|d| d["schema_version"] = json!(2)),
        vec!["schema_version: unsupported version 2; this build reads version 1"]
    );
}

#[test]
fn missing_required_field() {
    assert_eq!(
        broken(|d| {
            d["stores"][0].as_object_mut().unwrap().remove("store_hash");
        }),
        vec!["stores[0].store_hash: required field is missing"]
    );
}

#[test]
fn misspelt_field() {
    assert_eq!(
        broken(|d| {
            let oracle = d["oracle"].as_object_mut().unwrap();
            let ledgers = oracle.remove("ledgers").unwrap();
            oracle.insert("ledgres".into(), ledgers);
        }),
        vec![
            "oracle.ledgres: unknown field; expected one of `base_url`, `auth`, `ledgers`, `journal_source`, `journal_category`, `document_account`, `chart_of_accounts`, `rest_framework_version`, `import`"
        ]
    );
}

#[test]
fn wrong_type() {
    assert_eq!(
        broken(|d| d["oracle"]["ledgers"][0]["id"] = json!("three hundred")),
        // The kind of value found, never the value: it may be a secret in the wrong place.
        vec!["oracle.ledgers[0].id: invalid type: string, expected u64"]
    );
}

#[test]
fn bad_currency_does_not_cascade_into_unknown_ledgers() {
    assert_eq!(
        broken(|d| d["oracle"]["ledgers"][1]["currency"] = json!("EURO")),
        vec![
            r#"oracle.ledgers[1].currency: "EURO" is not an ISO 4217 currency code (expected three letters such as "USD")"#
        ]
    );
}

#[test]
fn unknown_auth_type() {
    assert_eq!(
        broken(|d| d["oracle"]["auth"]["type"] = json!("oauth")),
        vec![
            "oracle.auth.type: unknown variant `oauth`, expected `oauth2_client_credentials` or `basic`"
        ]
    );
}

#[test]
fn plain_http_outside_localhost() {
    assert_eq!(
        broken(|d| d["oracle"]["base_url"] = json!("http://northwind.example.com")),
        vec![
            r#"oracle.base_url: "http://northwind.example.com" must be an https:// URL (plain http only for this machine: localhost, 127.0.0.0/8, [::1])"#
        ]
    );
    // Local sandboxes are fine.
    let mut doc = example_document();
    doc["oracle"]["base_url"] = json!("http://127.0.0.1:9000");
    doc["stores"][0]["api_base_url"] = json!("http://localhost:9001/stores/nw4x7k2p");
    ConnectorConfig::from_json(&doc.to_string(), "test").unwrap();
}

#[test]
fn bad_period_name_pattern() {
    assert_eq!(
        broken(|d| d["oracle"]["ledgers"][0]["period_name_format"] = json!("%Q-%y")),
        vec![
            r#"oracle.ledgers[0].period_name_format: "%Q-%y" is not a strftime pattern; Fusion's usual period names are "%b-%y" (Mar-26)"#
        ]
    );
}

#[test]
fn rule_names_an_unknown_segment() {
    assert_eq!(
        broken(|d| d["mapping"]["rules"][2]["set"] = json!({"cost_centre": "310"})),
        vec![
            "mapping.rules[2].set.cost_centre: unknown segment; the chart of accounts has: company, cost_center, account, product_line, intercompany"
        ]
    );
}

#[test]
fn value_not_allowed_by_the_chart_of_accounts() {
    assert_eq!(
        broken(|d| d["mapping"]["rules"][0]["set"]["company"] = json!("301")),
        vec![
            r#"mapping.rules[0].set.company: "301" is not an allowed value of this segment; allowed: 101, 201"#
        ]
    );
}

#[test]
fn every_amount_type_needs_a_default_account() {
    assert_eq!(
        broken(|d| {
            d["mapping"]["defaults"]
                .as_object_mut()
                .unwrap()
                .remove("tax");
        }),
        vec![
            r#"mapping.defaults.tax.account: required: tax amounts have no "account" value when no rule sets one; set it here or give oracle.chart_of_accounts.segments[2] a default"#
        ]
    );
}

#[test]
fn a_cancelled_order_needs_a_refund_due_account_and_the_returns_account_is_optional() {
    // Refund due has no fallback: where money owed back to the shopper goes is finance's call.
    assert_eq!(
        broken(|d| {
            d["mapping"]["defaults"]
                .as_object_mut()
                .unwrap()
                .remove("refund_due");
        }),
        vec![
            r#"mapping.defaults.refund_due.account: required: refund_due amounts (a liability for what a cancelled order still owes the shopper, e.g. refunds payable) have no "account" value when no rule sets one; set it here or give oracle.chart_of_accounts.segments[2] a default"#
        ]
    );
    // Without a returns account, refunds reverse the revenue account their sale credited.
    let doc = document_without_returns_account();
    assert!(ConnectorConfig::from_json(&doc.to_string(), "test").is_ok());
}

#[test]
fn the_natural_account_must_be_a_segment() {
    assert_eq!(
        broken(|d| d["oracle"]["chart_of_accounts"]["natural_account"] = json!("gl_account")),
        vec![
            r#"oracle.chart_of_accounts.natural_account: "gl_account" is not a segment of the chart; name the segment that says what an amount is (one of company, cost_center, account, product_line, intercompany)"#
        ]
    );
}

#[test]
fn unknown_amount_type() {
    assert_eq!(
        broken(|d| {
            let defaults = d["mapping"]["defaults"].as_object_mut().unwrap();
            let revenue = defaults.remove("revenue").unwrap();
            defaults.insert("revenu".into(), revenue);
        }),
        vec![
            "mapping.defaults.revenu: unknown variant `revenu`, expected one of `revenue`, `discount`, `shipping`, `handling`, `wrapping`, `fee`, `tax`, `gift_certificate`, `store_credit`, `receivable`, `refund`, `refund_due`, `suspense`, `rounding`"
        ]
    );
}

#[test]
fn category_rule_on_an_order_level_amount() {
    assert_eq!(
        broken(|d| d["mapping"]["rules"][2]["applies_to"] = json!(["revenue", "tax"])),
        vec![
            "mapping.rules[2].when.category: can never match tax amounts, which belong to the whole order; limit applies_to to revenue, discount, refund, gift_certificate"
        ]
    );
}

#[test]
fn sale_and_reversal_status_overlap() {
    assert_eq!(
        broken(|d| d["posting"]["reversal_statuses"] = json!([5, 11])),
        vec![
            "posting.reversal_statuses[1]: status 11 is also a sale status; an order cannot be posted and reversed by the same status"
        ]
    );
}

#[test]
fn import_job_settings_are_checked() {
    assert_eq!(
        broken(|d| {
            d["oracle"]["rest_framework_version"] = json!("1");
            d["oracle"]["import"] =
                json!({"job_name": "JournalImportLauncher", "notification_code": "email"});
        }),
        vec![
            r#"oracle.rest_framework_version: "1" is not usable: give a version from 2 to 9 (1 has no q expressions)"#,
            r#"oracle.import.job_name: "JournalImportLauncher" is not <package>,<job definition>"#,
            r#"oracle.import.notification_code: "email" is not two digits (e.g. "10": e-mail, always)"#,
        ]
    );
}

#[test]
fn unknown_status_and_batch_size() {
    assert_eq!(
        broken(|d| {
            d["posting"]["sale_statuses"] = json!([11, 15]);
            d["posting"]["batch_size"] = json!(0);
        }),
        vec![
            "posting.sale_statuses[1]: 15 is not a BigCommerce order status id (0 to 14)",
            "posting.batch_size: 0 is out of range: 1 to 1000 journals per import",
        ]
    );
}

#[test]
fn two_entries_claim_the_same_channel() {
    assert_eq!(
        broken(|d| d["stores"][1]["channels"] = json!([2, 1])),
        vec!["stores[1].channels[1]: channel 1 is already claimed by stores[0] (same store hash)"]
    );
}

#[test]
fn empty_secret() {
    assert_eq!(
        broken(|d| d["stores"][0]["credentials"]["access_token"] = json!("")),
        vec![
            r#"stores[0].credentials.access_token: is empty; give the value, or {"env": "VARIABLE"}"#
        ]
    );
}

#[test]
fn not_json() {
    assert_eq!(
        issues_of_text(r#"{"schema_version": 1,"#),
        vec!["(document): not valid JSON: EOF while parsing a value at line 1 column 21"]
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let mut doc = example_document();
    doc["stores"][1]["ledger"] = json!("EU-LEDGR");
    doc["stores"][0]["timezone"] = json!("Mars/Olympus");
    doc["mapping"]["rules"][0]["when"]["store"] = json!("uk");
    doc["surprise"] = json!(true);
    let err = ConnectorConfig::from_json(&doc.to_string(), "connector.json").unwrap_err();
    assert_eq!(
        err.to_string(),
        [
            "connector.json: invalid connector document (4 problems):",
            "  surprise: unknown field; expected one of $schema, schema_version, description, stores, oracle, posting, mapping",
            r#"  stores[0].timezone: unknown time zone "Mars/Olympus"; use an IANA name such as "America/New_York""#,
            r#"  stores[1].ledger: unknown ledger "EU-LEDGR"; known: NW US Primary, NW EU Primary"#,
            r#"  mapping.rules[0].when.store: unknown store "uk"; known: us, eu"#,
        ]
        .join("\n")
    );
}

#[test]
fn secrets_never_appear_in_debug_output_or_errors() {
    let mut doc = example_document();
    doc["stores"][0]["credentials"]["access_token"] = json!("tok-4be1d7c0-secret");
    doc["oracle"]["auth"]["client_secret"] = json!("oracle-9f3e-secret");
    let config = crate::support::config_from(&doc);
    let debug = format!("{config:?}");
    let json = serde_json::to_string(&config).unwrap();
    for text in [&debug, &json] {
        assert!(!text.contains("tok-4be1d7c0-secret"));
        assert!(!text.contains("oracle-9f3e-secret"));
        assert!(text.contains(REDACTED));
    }
    // A broken document with a secret in it does not echo the secret either.
    doc["stores"][0]["ledger"] = json!(12);
    let err = ConnectorConfig::from_json(&doc.to_string(), "test").unwrap_err();
    assert!(!err.to_string().contains("tok-4be1d7c0-secret"), "{err}");
}
