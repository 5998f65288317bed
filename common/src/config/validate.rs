//! Checks that a readable document is also usable: references resolve, names are unique, every
//! amount type can always be mapped to a complete account, values fit Oracle.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::format::{Item, StrftimeItems};

use super::load::{MappingParts, OracleParts, Parts, issue};
use super::{
    ChartOfAccounts, ConfigIssue, ImportSettings, LedgerConfig, OracleAuth, PostingSettings,
    SCHEMA_VERSION, Secret, StoreConfig,
};
use crate::bigcommerce::webhook::{WebhookError, WebhookVerifier};
use crate::mapping::AccountRole;

/// Longest journal source or category name GL_INTERFACE holds (VARCHAR2(25)).
const MAX_JOURNAL_NAME_LEN: usize = 25;
/// Highest BigCommerce order status id (14 Partially Refunded).
const MAX_STATUS_ID: u32 = 14;
/// Store ids become part of Oracle batch names, which must stay short.
const MAX_STORE_ID_LEN: usize = 12;

pub(super) fn check(parts: &Parts, issues: &mut Vec<ConfigIssue>) {
    if let Some(v) = parts.schema_version
        && v != SCHEMA_VERSION
    {
        issues.push(issue(
            "schema_version",
            format!("unsupported version {v}; this build reads version {SCHEMA_VERSION}"),
        ));
    }
    // References are only checked against complete lists: a ledger that failed to parse must
    // not make every store that uses it look wrong as well.
    let ledger_names: Option<Vec<&str>> = parts.oracle.as_ref().and_then(|o| {
        o.ledgers
            .iter()
            .map(|l| l.as_ref().map(|l| l.name.as_str()))
            .collect()
    });
    if let Some(oracle) = &parts.oracle {
        check_oracle(oracle, issues);
    }
    if let Some(stores) = &parts.stores {
        check_stores(stores, ledger_names.as_deref(), issues);
    }
    if let Some(posting) = &parts.posting {
        check_posting(posting, issues);
    }
    let coa = parts
        .oracle
        .as_ref()
        .and_then(|o| o.chart_of_accounts.as_ref());
    if let (Some(mapping), Some(coa)) = (&parts.mapping, coa) {
        let store_ids: Option<Vec<&str>> = parts
            .stores
            .as_ref()
            .and_then(|s| {
                s.iter()
                    .map(|s| s.as_ref().map(|s| s.id.as_str()))
                    .collect::<Option<Vec<&str>>>()
            })
            .filter(|ids| {
                let unique: std::collections::BTreeSet<&&str> = ids.iter().collect();
                unique.len() == ids.len()
            });
        check_mapping(mapping, coa, store_ids.as_deref(), issues);
    }
}

/// Whether the connector may talk to `url`: https to any host, plain http only to this machine
/// (the sandboxes in tests). The URL is parsed, not compared by prefix: `http://localhost@host`
/// goes to `host`, and `http://localhost.evil…` is not this machine.
fn check_url(path: &str, url: &str, issues: &mut Vec<ConfigIssue>) {
    let parsed = match reqwest::Url::parse(url) {
        Ok(u) if u.host().is_some() => u,
        _ => {
            issues.push(issue(
                path,
                format!("\"{url}\" is not a URL; give one such as https://host.example.com"),
            ));
            return;
        }
    };
    // A user name or password would travel into every error and log line naming the URL (and
    // this message must not quote it either).
    if !parsed.username().is_empty() || parsed.password().is_some() {
        issues.push(issue(
            path,
            "must not carry a user name or password; credentials belong in credentials or oracle.auth",
        ));
        return;
    }
    let ok = match parsed.scheme() {
        "https" => true,
        "http" => is_loopback(&parsed),
        _ => false,
    };
    if !ok {
        issues.push(issue(
            path,
            format!(
                "\"{url}\" must be an https:// URL (plain http only for this machine: localhost, 127.0.0.0/8, [::1])"
            ),
        ));
    }
}

/// The host is this machine: `localhost` exactly, 127.0.0.0/8 or `::1`.
/// (The parser has already normalised the host: `127.1` reads as `127.0.0.1`, and an IPv6
/// host comes in brackets.)
fn is_loopback(url: &reqwest::Url) -> bool {
    url.host_str().is_some_and(|host| {
        host.eq_ignore_ascii_case("localhost")
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    })
}

fn check_not_blank(path: &str, value: &str, what: &str, issues: &mut Vec<ConfigIssue>) {
    if value.trim().is_empty() {
        issues.push(issue(path, format!("must not be empty: {what}")));
    }
}

fn check_stores(
    stores: &[Option<StoreConfig>],
    ledger_names: Option<&[&str]>,
    issues: &mut Vec<ConfigIssue>,
) {
    if stores.is_empty() {
        issues.push(issue("stores", "at least one store is required"));
    }
    let mut ids: BTreeMap<&str, usize> = BTreeMap::new();
    // (store hash, channel or None for the catch-all) → first entry claiming it.
    let mut claims: BTreeMap<(&str, Option<u64>), usize> = BTreeMap::new();
    for (i, store) in stores.iter().enumerate() {
        let Some(s) = store else { continue };
        let p = |field: &str| format!("stores[{i}].{field}");
        let id_ok = !s.id.is_empty()
            && s.id.len() <= MAX_STORE_ID_LEN
            && s.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !id_ok {
            issues.push(issue(
                p("id"),
                format!(
                    "\"{}\" is not a usable store id: use 1 to {MAX_STORE_ID_LEN} letters, digits or _ (it becomes part of Oracle batch names)",
                    s.id
                ),
            ));
        } else if let Some(first) = ids.insert(&s.id, i) {
            ids.insert(&s.id, first);
            issues.push(issue(
                p("id"),
                format!(
                    "duplicate store id \"{}\" (already used by stores[{first}])",
                    s.id
                ),
            ));
        }
        if s.store_hash.is_empty() || !s.store_hash.chars().all(|c| c.is_ascii_alphanumeric()) {
            issues.push(issue(
                p("store_hash"),
                format!(
                    "\"{}\" is not a store hash: copy it from the API path /stores/{{hash}}/",
                    s.store_hash
                ),
            ));
        }
        if let Some(url) = &s.api_base_url {
            check_url(&p("api_base_url"), url, issues);
        }
        check_store_credentials(s, &p, issues);
        claim_channels(i, s, &mut claims, issues);
        if let Some(known) = ledger_names
            && !known.contains(&s.ledger.as_str())
        {
            issues.push(issue(
                p("ledger"),
                format!(
                    "unknown ledger \"{}\"; known: {}",
                    s.ledger,
                    known.join(", ")
                ),
            ));
        }
        if chrono_tz::Tz::from_str(&s.timezone).is_err() {
            issues.push(issue(
                p("timezone"),
                format!(
                    "unknown time zone \"{}\"; use an IANA name such as \"America/New_York\"",
                    s.timezone
                ),
            ));
        }
    }
}

/// The store's token and webhook key are present, and an inline webhook key decodes.
fn check_store_credentials(
    s: &StoreConfig,
    p: &dyn Fn(&str) -> String,
    issues: &mut Vec<ConfigIssue>,
) {
    for (field, secret) in [
        ("credentials.access_token", &s.credentials.access_token),
        ("credentials.client_secret", &s.credentials.client_secret),
    ] {
        if let Some(problem) = secret.problem() {
            issues.push(issue(p(field), problem));
        }
    }
    // The webhook key, when written inline, is checked now: a `whsec_` value that cannot
    // be decoded would otherwise pass here and refuse every delivery of the store.
    if let Secret::Inline(value) = &s.credentials.client_secret
        && s.credentials.client_secret.problem().is_none()
        && let Err(WebhookError::BadSecret(why)) = WebhookVerifier::new(value)
    {
        issues.push(issue(p("credentials.client_secret"), why));
    }
}

/// Each (store hash, channel) belongs to one entry, and one catch-all entry per store hash.
fn claim_channels<'a>(
    i: usize,
    s: &'a StoreConfig,
    claims: &mut BTreeMap<(&'a str, Option<u64>), usize>,
    issues: &mut Vec<ConfigIssue>,
) {
    if s.channels.is_empty() {
        if let Some(first) = claims.get(&(s.store_hash.as_str(), None)) {
            issues.push(issue(
                format!("stores[{i}].channels"),
                format!(
                    "stores[{first}] already covers every other channel of store \"{}\"; list the channels this entry covers",
                    s.store_hash
                ),
            ));
        } else {
            claims.insert((&s.store_hash, None), i);
        }
    }
    for (j, ch) in s.channels.iter().enumerate() {
        match claims.get(&(s.store_hash.as_str(), Some(*ch))) {
            Some(first) => issues.push(issue(
                format!("stores[{i}].channels[{j}]"),
                format!("channel {ch} is already claimed by stores[{first}] (same store hash)"),
            )),
            None => {
                claims.insert((&s.store_hash, Some(*ch)), i);
            }
        }
    }
}

fn check_oracle(o: &OracleParts, issues: &mut Vec<ConfigIssue>) {
    check_url("oracle.base_url", &o.base_url, issues);
    check_oracle_auth(o.auth.as_ref(), issues);
    check_journal_names(o, issues);
    check_not_blank(
        "oracle.document_account",
        &o.document_account,
        "the UCM account, e.g. fin$/generalLedger$/import$",
        issues,
    );
    if !o
        .rest_framework_version
        .parse::<u8>()
        .is_ok_and(|v| (2..=9).contains(&v))
    {
        issues.push(issue(
            "oracle.rest_framework_version",
            format!(
                "\"{}\" is not usable: give a version from 2 to 9 (1 has no q expressions)",
                o.rest_framework_version
            ),
        ));
    }
    if let Some(import) = &o.import {
        check_import(import, issues);
    }
    check_ledgers(&o.ledgers, issues);
    if let Some(coa) = &o.chart_of_accounts {
        check_chart(coa, issues);
    }
}

/// The credentials the chosen grant needs are present and not placeholders.
fn check_oracle_auth(auth: Option<&OracleAuth>, issues: &mut Vec<ConfigIssue>) {
    match auth {
        Some(OracleAuth::Oauth2ClientCredentials {
            token_url,
            scope,
            client_id,
            client_secret,
        }) => {
            check_url("oracle.auth.token_url", token_url, issues);
            check_not_blank(
                "oracle.auth.scope",
                scope,
                "the Fusion resource scope",
                issues,
            );
            check_not_blank(
                "oracle.auth.client_id",
                client_id,
                "the application's client id",
                issues,
            );
            if let Some(problem) = client_secret.problem() {
                issues.push(issue("oracle.auth.client_secret", problem));
            }
        }
        Some(OracleAuth::Basic { username, password }) => {
            check_not_blank(
                "oracle.auth.username",
                username,
                "the integration user",
                issues,
            );
            if let Some(problem) = password.problem() {
                issues.push(issue("oracle.auth.password", problem));
            }
        }
        None => {}
    }
}

/// The journal source and category are named and fit GL_INTERFACE.
fn check_journal_names(o: &OracleParts, issues: &mut Vec<ConfigIssue>) {
    check_not_blank(
        "oracle.journal_source",
        &o.journal_source,
        "the journal source registered for this connector",
        issues,
    );
    check_not_blank(
        "oracle.journal_category",
        &o.journal_category,
        "a journal category such as \"Sales\"",
        issues,
    );
    // GL_INTERFACE's USER_JE_SOURCE_NAME and USER_JE_CATEGORY_NAME are VARCHAR2(25): a longer
    // name would fail every import.
    for (path, value) in [
        ("oracle.journal_source", &o.journal_source),
        ("oracle.journal_category", &o.journal_category),
    ] {
        let length = value.chars().count();
        if length > MAX_JOURNAL_NAME_LEN {
            issues.push(issue(
                path,
                format!(
                    "{length} characters; Journal Import takes at most {MAX_JOURNAL_NAME_LEN} (the name as Fusion shows it)"
                ),
            ));
        }
    }
}

/// The ESS job is <package>,<job definition> and the notification code is two digits.
fn check_import(import: &ImportSettings, issues: &mut Vec<ConfigIssue>) {
    if import
        .job_name
        .split_once(',')
        .is_none_or(|(p, d)| p.is_empty() || d.is_empty())
    {
        issues.push(issue(
            "oracle.import.job_name",
            format!("\"{}\" is not <package>,<job definition>", import.job_name),
        ));
    }
    let code = &import.notification_code;
    if code.len() != 2 || !code.chars().all(|c| c.is_ascii_digit()) {
        issues.push(issue(
            "oracle.import.notification_code",
            format!("\"{code}\" is not two digits (e.g. \"10\": e-mail, always)"),
        ));
    }
}

/// At least one ledger; each has a unique name, a real id, a usable period format.
fn check_ledgers(ledgers: &[Option<LedgerConfig>], issues: &mut Vec<ConfigIssue>) {
    if ledgers.is_empty() {
        issues.push(issue("oracle.ledgers", "at least one ledger is required"));
    }
    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, ledger) in ledgers.iter().enumerate() {
        let Some(l) = ledger else { continue };
        let p = |field: &str| format!("oracle.ledgers[{i}].{field}");
        if l.name.trim().is_empty() {
            issues.push(issue(
                p("name"),
                "must not be empty: the ledger name as in Fusion",
            ));
        } else if let Some(first) = names.get(l.name.as_str()) {
            issues.push(issue(
                p("name"),
                format!(
                    "duplicate ledger \"{}\" (already oracle.ledgers[{first}])",
                    l.name
                ),
            ));
        } else {
            names.insert(&l.name, i);
        }
        if l.id == 0 {
            issues.push(issue(
                p("id"),
                "must be the ledger's LedgerId from ledgersLOV, not 0",
            ));
        }
        if let Some(fmt) = &l.period_name_format
            && (fmt.is_empty() || StrftimeItems::new(fmt).any(|it| matches!(it, Item::Error)))
        {
            issues.push(issue(
                p("period_name_format"),
                format!("\"{fmt}\" is not a strftime pattern; Fusion's usual period names are \"%b-%y\" (Mar-26)"),
            ));
        }
        check_not_blank(
            &p("conversion.conversion_type"),
            &l.conversion.conversion_type,
            "a Fusion conversion type such as \"Corporate\"",
            issues,
        );
    }
}

fn check_chart(coa: &ChartOfAccounts, issues: &mut Vec<ConfigIssue>) {
    let path = "oracle.chart_of_accounts.segments";
    if coa.segments.is_empty() || coa.segments.len() > 30 {
        issues.push(issue(
            path,
            format!(
                "has {} segments; GL_INTERFACE takes 1 to 30 (SEGMENT1…SEGMENT30)",
                coa.segments.len()
            ),
        ));
    }
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, seg) in coa.segments.iter().enumerate() {
        let ok = !seg.name.is_empty()
            && seg
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !ok {
            issues.push(issue(
                format!("{path}[{i}].name"),
                format!(
                    "\"{}\" is not a usable segment name: use lower-case letters, digits and _ (e.g. \"cost_center\")",
                    seg.name
                ),
            ));
        } else if let Some(first) = seen.insert(&seg.name, i) {
            seen.insert(&seg.name, first);
            issues.push(issue(
                format!("{path}[{i}].name"),
                format!(
                    "duplicate segment \"{}\" (already segments[{first}])",
                    seg.name
                ),
            ));
        }
        if let Some(default) = &seg.default {
            check_value(
                &format!("{path}[{i}].default"),
                default,
                seg.values.as_deref(),
                issues,
            );
        }
    }
    if let Some(name) = &coa.natural_account
        && coa.index_of(name).is_none()
    {
        issues.push(issue(
            "oracle.chart_of_accounts.natural_account",
            format!(
                "\"{name}\" is not a segment of the chart; name the segment that says what an amount is (one of {})",
                coa.names().join(", ")
            ),
        ));
    }
}

fn check_value(path: &str, value: &str, allowed: Option<&[String]>, issues: &mut Vec<ConfigIssue>) {
    if value.trim().is_empty() {
        issues.push(issue(path, "must not be empty: a segment value"));
    } else if let Some(allowed) = allowed
        && !allowed.iter().any(|a| a == value)
    {
        issues.push(issue(
            path,
            format!(
                "\"{value}\" is not an allowed value of this segment; allowed: {}",
                allowed.join(", ")
            ),
        ));
    }
}

fn check_posting(p: &PostingSettings, issues: &mut Vec<ConfigIssue>) {
    for (field, list) in [
        ("sale_statuses", &p.sale_statuses),
        ("reversal_statuses", &p.reversal_statuses),
    ] {
        for (i, s) in list.iter().enumerate() {
            if *s > MAX_STATUS_ID {
                issues.push(issue(
                    format!("posting.{field}[{i}]"),
                    format!("{s} is not a BigCommerce order status id (0 to {MAX_STATUS_ID})"),
                ));
            }
        }
    }
    if p.sale_statuses.is_empty() {
        issues.push(issue(
            "posting.sale_statuses",
            "must list at least one status, or no order would ever post",
        ));
    }
    for (i, s) in p.reversal_statuses.iter().enumerate() {
        if p.sale_statuses.contains(s) {
            issues.push(issue(
                format!("posting.reversal_statuses[{i}]"),
                format!("status {s} is also a sale status; an order cannot be posted and reversed by the same status"),
            ));
        }
    }
    if !(1..=1000).contains(&p.batch_size) {
        issues.push(issue(
            "posting.batch_size",
            format!(
                "{} is out of range: 1 to 1000 journals per import",
                p.batch_size
            ),
        ));
    }
    if p.import_poll_seconds == 0 || p.import_poll_seconds > 3600 {
        issues.push(issue(
            "posting.import_poll_seconds",
            format!(
                "{} is out of range: 1 to 3600 seconds",
                p.import_poll_seconds
            ),
        ));
    }
    if p.import_timeout_minutes == 0 {
        issues.push(issue(
            "posting.import_timeout_minutes",
            "must be at least 1 minute",
        ));
    }
    if p.rounding_tolerance > 1000 {
        issues.push(issue(
            "posting.rounding_tolerance",
            format!(
                "{} minor units is not a rounding difference; keep it at most 1000 (use suspense for real differences)",
                p.rounding_tolerance
            ),
        ));
    }
}

fn check_segments_map(
    path: &str,
    map: &BTreeMap<String, String>,
    coa: &ChartOfAccounts,
    issues: &mut Vec<ConfigIssue>,
) {
    for (name, value) in map {
        match coa.segments.iter().find(|s| &s.name == name) {
            None => issues.push(issue(
                format!("{path}.{name}"),
                format!(
                    "unknown segment; the chart of accounts has: {}",
                    coa.names().join(", ")
                ),
            )),
            Some(seg) => check_value(
                &format!("{path}.{name}"),
                value,
                seg.values.as_deref(),
                issues,
            ),
        }
    }
}

/// Each default is a valid segment map, and every amount type that needs one always resolves.
fn check_defaults(
    defaults: &BTreeMap<AccountRole, BTreeMap<String, String>>,
    coa: &ChartOfAccounts,
    issues: &mut Vec<ConfigIssue>,
) {
    for (role, map) in defaults {
        check_segments_map(&format!("mapping.defaults.{role}"), map, coa, issues);
    }
    // Every amount type must always resolve, whatever the rules: that is what lets an
    // unmapped product or payment method post instead of blocking the order.
    for role in AccountRole::ALL.into_iter().filter(|r| r.needs_default()) {
        let map = defaults.get(&role);
        for (i, seg) in coa.segments.iter().enumerate() {
            let has_value = map.is_some_and(|m| m.contains_key(&seg.name)) || seg.default.is_some();
            if !has_value {
                let what = if role == AccountRole::RefundDue {
                    " (a liability for what a cancelled order still owes the shopper, e.g. refunds payable)"
                } else {
                    ""
                };
                issues.push(issue(
                    format!("mapping.defaults.{role}.{}", seg.name),
                    format!(
                        "required: {role} amounts{what} have no \"{}\" value when no rule sets one; set it here or give oracle.chart_of_accounts.segments[{i}] a default",
                        seg.name
                    ),
                ));
            }
        }
    }
}

fn check_mapping(
    m: &MappingParts,
    coa: &ChartOfAccounts,
    store_ids: Option<&[&str]>,
    issues: &mut Vec<ConfigIssue>,
) {
    if let Some(defaults) = &m.defaults {
        check_defaults(defaults, coa, issues);
    }
    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, rule) in m.rules.iter().enumerate() {
        let Some(r) = rule else { continue };
        let p = |field: &str| format!("mapping.rules[{i}].{field}");
        if r.name.trim().is_empty() {
            issues.push(issue(
                p("name"),
                "must not be empty: the audit shows it as the reason for an account",
            ));
        } else if let Some(first) = names.get(r.name.as_str()) {
            issues.push(issue(
                p("name"),
                format!(
                    "duplicate rule name \"{}\" (already mapping.rules[{first}])",
                    r.name
                ),
            ));
        } else {
            names.insert(&r.name, i);
        }
        if r.applies_to.is_empty() {
            issues.push(issue(p("applies_to"), "must list at least one amount type"));
        }
        if r.set.is_empty() {
            issues.push(issue(p("set"), "must set at least one segment"));
        }
        check_segments_map(&p("set"), &r.set, coa, issues);
        if let Some(known) = store_ids {
            for (j, s) in r.when.store.as_slice().iter().enumerate() {
                if !known.contains(&s.as_str()) {
                    let path = if matches!(r.when.store, super::OneOrMany::One(_)) {
                        p("when.store")
                    } else {
                        format!("mapping.rules[{i}].when.store[{j}]")
                    };
                    issues.push(issue(
                        path,
                        format!("unknown store \"{s}\"; known: {}", known.join(", ")),
                    ));
                }
            }
        }
        let per_product = [
            ("category", r.when.category.is_empty()),
            ("product", r.when.product.is_empty()),
            ("sku", r.when.sku.is_empty()),
        ]
        .into_iter()
        .find(|(_, empty)| !empty)
        .map(|(name, _)| name);
        if let Some(cond) = per_product {
            let never: Vec<&str> = r
                .applies_to
                .iter()
                .filter(|role| !role.can_be_per_product())
                .map(|role| role.as_str())
                .collect();
            if !never.is_empty() {
                issues.push(issue(
                    p(&format!("when.{cond}")),
                    format!(
                        "can never match {} amounts, which belong to the whole order; limit applies_to to revenue, discount, refund, gift_certificate",
                        never.join(", ")
                    ),
                ));
            }
        }
    }
}
