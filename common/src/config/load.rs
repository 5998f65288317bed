//! Reading the document's shape, one piece at a time, so that a bad store does not hide a bad
//! rule: each section, store, ledger and rule is deserialized on its own and every failure is
//! recorded with its JSON path.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::{
    ChartOfAccounts, ConfigIssue, ConnectorConfig, DEFAULT_DOCUMENT_ACCOUNT,
    DEFAULT_REST_FRAMEWORK_VERSION, ImportSettings, LedgerConfig, MappingConfig, OracleAuth,
    OracleConfig, PostingSettings, RuleConfig, StoreConfig,
};
use crate::mapping::AccountRole;

/// The document's top-level fields. `$schema` names the JSON Schema for editors
/// (`mlc config schema`) and is otherwise ignored.
pub(super) const TOP_LEVEL: &[&str] = &[
    "$schema",
    "schema_version",
    "description",
    "stores",
    "oracle",
    "posting",
    "mapping",
];

/// What could be read; `None` (or a `None` item) where reading failed and an issue was noted.
pub(super) struct Parts {
    pub schema_version: Option<u32>,
    pub stores: Option<Vec<Option<StoreConfig>>>,
    pub oracle: Option<OracleParts>,
    pub posting: Option<PostingSettings>,
    pub mapping: Option<MappingParts>,
}

pub(super) struct OracleParts {
    pub base_url: String,
    pub auth: Option<OracleAuth>,
    pub ledgers: Vec<Option<LedgerConfig>>,
    pub journal_source: String,
    pub journal_category: String,
    pub document_account: String,
    pub chart_of_accounts: Option<ChartOfAccounts>,
    pub rest_framework_version: String,
    pub import: Option<ImportSettings>,
}

pub(super) struct MappingParts {
    pub defaults: Option<BTreeMap<AccountRole, BTreeMap<String, String>>>,
    pub rules: Vec<Option<RuleConfig>>,
}

/// `oracle` as read: its parts are read one by one (each with its own path in errors); the
/// schema gives them their types.
#[derive(Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(super) struct RawOracle {
    /// Pod URL, e.g. `https://acme.fa.us2.oraclecloud.com`.
    base_url: String,
    /// How to authenticate.
    #[cfg_attr(feature = "schema", schemars(with = "OracleAuth"))]
    auth: Value,
    /// The ledgers stores post to.
    #[cfg_attr(feature = "schema", schemars(with = "Vec<LedgerConfig>"))]
    ledgers: Vec<Value>,
    /// Journal source name (`USER_JE_SOURCE_NAME`), registered in Fusion for this connector.
    journal_source: String,
    /// Journal category name (`USER_JE_CATEGORY_NAME`).
    journal_category: String,
    /// UCM account the import file is uploaded to (`fin$/generalLedger$/import$` when absent).
    #[serde(default)]
    document_account: Option<String>,
    /// Segment order of the chart of accounts (GL_INTERFACE SEGMENT1…SEGMENT30).
    #[cfg_attr(feature = "schema", schemars(with = "ChartOfAccounts"))]
    chart_of_accounts: Value,
    /// `REST-Framework-Version` sent on every call (9 when absent).
    #[serde(default)]
    rest_framework_version: Option<String>,
    /// How the Import Journals job is submitted.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<ImportSettings>"))]
    import: Option<Value>,
}

/// `mapping` as read.
#[derive(Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(super) struct RawMapping {
    /// Segment values per amount type, used where no rule decides.
    #[cfg_attr(
        feature = "schema",
        schemars(with = "BTreeMap<AccountRole, BTreeMap<String, String>>")
    )]
    defaults: Value,
    /// Rules, most specific match wins per segment; ties go to the earlier rule.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<RuleConfig>"))]
    rules: Vec<Value>,
}

pub(super) fn issue(path: impl Into<String>, message: impl Into<String>) -> ConfigIssue {
    ConfigIssue {
        path: path.into(),
        message: message.into(),
    }
}

fn serde_issue(prefix: &str, err: serde_path_to_error::Error<serde_json::Error>) -> ConfigIssue {
    let (path, message) = crate::json_path::describe(prefix, &err);
    issue(path, message)
}

fn section<T: DeserializeOwned>(
    value: &Value,
    path: &str,
    issues: &mut Vec<ConfigIssue>,
) -> Option<T> {
    serde_path_to_error::deserialize(value)
        .map_err(|e| issues.push(serde_issue(path, e)))
        .ok()
}

fn list<T: DeserializeOwned>(
    values: &[Value],
    path: &str,
    issues: &mut Vec<ConfigIssue>,
) -> Vec<Option<T>> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| section(v, &format!("{path}[{i}]"), issues))
        .collect()
}

fn required<'a>(
    map: &'a Map<String, Value>,
    key: &str,
    issues: &mut Vec<ConfigIssue>,
) -> Option<&'a Value> {
    let found = map.get(key);
    if found.is_none() {
        issues.push(issue(key, "required field is missing"));
    }
    found
}

/// `oracle.auth`, which holds a secret. serde also reads an internally tagged enum from an
/// array, taking its first element for the `type`, and quotes a `type` it does not know: a
/// secret pasted as `"auth": ["…"]` would come back in the error. An array is refused by its
/// kind, as serde refuses a string or a number there.
fn auth_section(value: &Value, issues: &mut Vec<ConfigIssue>) -> Option<OracleAuth> {
    if value.is_array() {
        issues.push(issue(
            "oracle.auth",
            "invalid type: sequence, expected internally tagged enum OracleAuth",
        ));
        return None;
    }
    section(value, "oracle.auth", issues)
}

pub(super) fn parse(text: &str, issues: &mut Vec<ConfigIssue>) -> Parts {
    let mut parts = Parts {
        schema_version: None,
        stores: None,
        oracle: None,
        posting: None,
        mapping: None,
    };
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            issues.push(issue("(document)", format!("not valid JSON: {e}")));
            return parts;
        }
    };
    let Value::Object(map) = value else {
        issues.push(issue("(document)", "must be a JSON object"));
        return parts;
    };
    for key in map.keys() {
        if !TOP_LEVEL.contains(&key.as_str()) {
            issues.push(issue(
                key.as_str(),
                format!("unknown field; expected one of {}", TOP_LEVEL.join(", ")),
            ));
        }
    }
    if let Some(v) = required(&map, "schema_version", issues) {
        parts.schema_version = section(v, "schema_version", issues);
    }
    if let Some(v) = required(&map, "stores", issues) {
        parts.stores = match v {
            Value::Array(items) => Some(list(items, "stores", issues)),
            _ => {
                issues.push(issue("stores", "must be a list of stores"));
                None
            }
        };
    }
    if let Some(v) = required(&map, "oracle", issues) {
        parts.oracle = section::<RawOracle>(v, "oracle", issues).map(|raw| OracleParts {
            auth: auth_section(&raw.auth, issues),
            ledgers: list(&raw.ledgers, "oracle.ledgers", issues),
            chart_of_accounts: section(&raw.chart_of_accounts, "oracle.chart_of_accounts", issues),
            base_url: raw.base_url,
            journal_source: raw.journal_source,
            journal_category: raw.journal_category,
            document_account: raw
                .document_account
                .unwrap_or_else(|| DEFAULT_DOCUMENT_ACCOUNT.to_string()),
            rest_framework_version: raw
                .rest_framework_version
                .unwrap_or_else(|| DEFAULT_REST_FRAMEWORK_VERSION.to_string()),
            import: match &raw.import {
                None => Some(ImportSettings::default()),
                Some(v) => section(v, "oracle.import", issues),
            },
        });
    }
    parts.posting = match map.get("posting") {
        None => Some(PostingSettings::default()),
        Some(v) => section(v, "posting", issues),
    };
    if let Some(v) = required(&map, "mapping", issues) {
        parts.mapping = section::<RawMapping>(v, "mapping", issues).map(|raw| MappingParts {
            defaults: section(&raw.defaults, "mapping.defaults", issues),
            rules: list(&raw.rules, "mapping.rules", issues),
        });
    }
    parts
}

impl Parts {
    /// The finished document, when every piece was read.
    pub(super) fn assemble(self) -> Option<ConnectorConfig> {
        let oracle = self.oracle?;
        let mapping = self.mapping?;
        Some(ConnectorConfig {
            schema_version: self.schema_version?,
            stores: self.stores?.into_iter().collect::<Option<_>>()?,
            oracle: OracleConfig {
                base_url: oracle.base_url,
                auth: oracle.auth?,
                ledgers: oracle.ledgers.into_iter().collect::<Option<_>>()?,
                journal_source: oracle.journal_source,
                journal_category: oracle.journal_category,
                document_account: oracle.document_account,
                chart_of_accounts: oracle.chart_of_accounts?,
                rest_framework_version: oracle.rest_framework_version,
                import: oracle.import?,
            },
            posting: self.posting?,
            mapping: MappingConfig {
                defaults: mapping.defaults?,
                rules: mapping.rules.into_iter().collect::<Option<_>>()?,
            },
        })
    }
}
