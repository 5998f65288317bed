//! The connector document's JSON Schema, derived from the types the loader reads, so an
//! editor completes and checks the document as the connector will read it (`mlc config
//! schema`; the example document names the copy kept in the repository). The schema checks
//! shape and types; the loader's validation (ledgers named, accounts complete) still decides.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde_json::Value;

use super::diff::{SecretPaths, Seg};
use super::load::{RawMapping, RawOracle, TOP_LEVEL};
use super::{PostingSettings, StoreConfig};
use crate::money::Currency;

/// Where the repository keeps the generated schema, relative to its root.
pub const SCHEMA_FILE: &str = "infra/examples/connector.schema.json";

/// The document's top level, as `load::parse` reads it field by field.
#[derive(JsonSchema)]
#[schemars(
    title = "ml-connector connector document",
    description = "The one configuration of ml-connector: the Secrets Manager secret's value in AWS, a file locally. Validate with `mlc config check`.",
    deny_unknown_fields
)]
#[allow(
    dead_code,
    reason = "only its schema is used; the loader reads the fields one by one"
)]
struct Document {
    /// The JSON Schema of this document, for editors; ignored by the connector.
    #[serde(rename = "$schema", default)]
    schema: Option<String>,
    /// Always 1.
    #[schemars(extend("const" = 1))]
    schema_version: u32,
    /// Free text for people.
    #[serde(default)]
    description: Option<String>,
    /// BigCommerce storefronts, each posting to one ledger.
    stores: Vec<StoreConfig>,
    /// The Oracle Fusion pod and its ledgers.
    oracle: RawOracle,
    /// When and how orders become journals (defaults when absent).
    #[serde(default)]
    posting: Option<PostingSettings>,
    /// Which GL segments each amount lands on.
    mapping: RawMapping,
}

impl JsonSchema for Currency {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Currency".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^[A-Za-z]{3}$",
            "description": "An ISO 4217 currency code (USD, EUR, JPY…)."
        })
    }
}

/// The schema, as `mlc config schema` prints it and [`SCHEMA_FILE`] keeps it.
pub fn json_schema() -> Value {
    let schema = schemars::generate::SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<Document>();
    let mut value = schema.to_value();
    // Field order is the derive's, stable across runs; the definitions are sorted by name.
    debug_assert!(
        value["properties"]
            .as_object()
            .is_some_and(|p| p.len() == TOP_LEVEL.len())
    );
    // `mapping.defaults` is keyed by amount type (the loader reads the keys as `AccountRole`).
    if let Some(defaults) = value.pointer_mut("/$defs/RawMapping/properties/defaults") {
        defaults["propertyNames"] = serde_json::json!({"$ref": "#/$defs/AccountRole"});
    }
    if let Some(defs) = value.get_mut("$defs").and_then(Value::as_object_mut) {
        let mut sorted: Vec<(String, Value)> = std::mem::take(defs).into_iter().collect::<Vec<_>>();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        defs.extend(sorted);
    }
    value
}

/// Where the document holds secrets: every place its schema puts a `Secret`, so a field
/// added with that type is redacted in `mlc config push`'s diff without another list to keep.
pub fn secret_paths() -> SecretPaths {
    let schema = json_schema();
    let mut found = Vec::new();
    walk(&schema, &schema, &mut Vec::new(), &mut found, 0);
    SecretPaths::new(found)
}

/// Follows properties, items, maps and alternatives from `node`, noting the path of every
/// reference to the `Secret` definition.
fn walk(root: &Value, node: &Value, path: &mut Vec<Seg>, found: &mut Vec<Vec<Seg>>, depth: usize) {
    // The document's types are not recursive; the bound only keeps a mistake finite.
    if depth > 32 {
        return;
    }
    if let Some(target) = node.get("$ref").and_then(Value::as_str) {
        if target == "#/$defs/Secret" {
            found.push(path.clone());
            return;
        }
        if let Some(def) = target
            .strip_prefix("#/$defs/")
            .and_then(|name| root["$defs"].get(name))
        {
            walk(root, def, path, found, depth + 1);
        }
    }
    if let Some(props) = node.get("properties").and_then(Value::as_object) {
        for (key, sub) in props {
            path.push(Seg::Key(key.clone()));
            walk(root, sub, path, found, depth + 1);
            path.pop();
        }
    }
    if let Some(items) = node.get("items").filter(|v| v.is_object()) {
        path.push(Seg::AnyIndex);
        walk(root, items, path, found, depth + 1);
        path.pop();
    }
    if let Some(values) = node.get("additionalProperties").filter(|v| v.is_object()) {
        path.push(Seg::AnyKey);
        walk(root, values, path, found, depth + 1);
        path.pop();
    }
    for alternatives in ["anyOf", "oneOf", "allOf"] {
        for sub in node
            .get(alternatives)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            walk(root, sub, path, found, depth + 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_top_level_is_the_loaders() {
        let schema = json_schema();
        let mut props: Vec<&str> = schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut top = TOP_LEVEL.to_vec();
        props.sort_unstable();
        top.sort_unstable();
        assert_eq!(props, top);
        assert_eq!(schema["additionalProperties"], false);
    }

    #[test]
    fn every_secret_of_the_document_is_found() {
        let mut shown = secret_paths().describe();
        shown.sort();
        assert_eq!(
            shown,
            [
                "oracle.auth.client_secret",
                "oracle.auth.password",
                "stores[*].credentials.access_token",
                "stores[*].credentials.client_secret",
            ]
        );
    }
}
