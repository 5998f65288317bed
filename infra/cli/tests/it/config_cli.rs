//! `mlc config push | pull | schema` as an operator runs them, on moto's Secrets Manager:
//! an invalid document never reaches the secret (exit code 2, naming the path), a valid change
//! is shown path by path with the secrets redacted and written as a new version, an unchanged
//! document writes nothing, nothing is written without a terminal to confirm on unless --yes,
//! and a pull writes the current version readable by its owner only. The schema kept in the
//! repository is the one the types give, and the example document validates against it.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

use crate::support::{example_config, example_document, root, scratch, text, write};

/// Secrets Manager on moto, through boto3 in the test venv (MLC_PYTHON): the test's own view
/// of the secret, independent of the adapter under test.
fn secrets(endpoint: &str, args: &[&str]) -> Value {
    const SCRIPT: &str = r#"
import json, sys, boto3
sm = boto3.client("secretsmanager", endpoint_url=sys.argv[1], region_name="us-east-1",
                  aws_access_key_id="test", aws_secret_access_key="test")
action, name = sys.argv[2], sys.argv[3]
if action == "create":
    sm.create_secret(Name=name, SecretString=open(sys.argv[4]).read())
    print("{}")
else:
    v = sm.get_secret_value(SecretId=name)
    versions = sm.list_secret_version_ids(SecretId=name)["Versions"]
    print(json.dumps({"version": v["VersionId"], "text": v["SecretString"], "versions": len(versions)}))
"#;
    let python = std::env::var("MLC_PYTHON").unwrap_or_else(|_| {
        panic!("MLC_PYTHON is not set: run ./infra/test.sh (or /work/mlc-test.sh), which sets it with boto3 beside moto")
    });
    let out = Command::new(python)
        .arg("-c")
        .arg(SCRIPT)
        .arg(endpoint)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `mlc` on the moto stack's secret, with no terminal on standard input.
fn mlc_aws(endpoint: &str, secret: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mlc"))
        .args(args)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("MLC_CONFIG_SECRET", secret)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn push_validates_shows_a_redacted_diff_and_writes_a_version_pull_writes_0600() {
    let endpoint = std::env::var("MLC_AWS_ENDPOINT").unwrap_or_else(|_| {
        panic!("MLC_AWS_ENDPOINT is not set: run ./infra/test.sh, which starts moto server")
    });
    let dir = scratch("config-push");
    let secret = format!("mlc-config-{}", std::process::id());
    // The deployed document: the example with an inline client secret.
    let mut deployed = example_document();
    deployed["stores"][0]["credentials"]["client_secret"] = json!("old-client-secret-1234567890");
    let first = write(&dir, "deployed.json", &deployed);
    secrets(&endpoint, &["create", &secret, first.to_str().unwrap()]);
    let before = secrets(&endpoint, &["get", &secret]);
    let push = |file: &Path, extra: &[&str]| {
        let mut args = vec![
            "config",
            "push",
            "--aws",
            "--config",
            file.to_str().unwrap(),
        ];
        args.extend(extra);
        mlc_aws(&endpoint, &secret, &args)
    };

    // An invalid document: exit 2 naming the path, and the secret is as it was.
    let mut invalid = deployed.clone();
    invalid["stores"][0]["ledger"] = json!("NW Nowhere");
    let out = push(&write(&dir, "invalid.json", &invalid), &["--yes"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(stderr.contains("stores[0].ledger"), "{stderr}");
    assert_eq!(secrets(&endpoint, &["get", &secret]), before);

    // A valid change: the diff names each path, the secrets only as redacted.
    let mut changed = deployed.clone();
    changed["stores"][0]["credentials"]["client_secret"] = json!("new-client-secret-0987654321");
    changed["posting"]["batch_size"] = json!(50);
    let changed_file = write(&dir, "changed.json", &changed);
    // Without a terminal and without --yes, nothing is written.
    let out = push(&changed_file, &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(stderr.contains("--yes"), "{stderr}");
    assert_eq!(secrets(&endpoint, &["get", &secret]), before);
    let out = push(&changed_file, &["--yes"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("~ stores[0].credentials.client_secret: «redacted» -> «redacted»"),
        "{stdout}"
    );
    assert!(stdout.contains("posting.batch_size"), "{stdout}");
    assert!(stdout.contains("-> 50"), "{stdout}");
    for leaked in ["old-client-secret", "new-client-secret"] {
        assert!(
            !stdout.contains(leaked) && !stderr.contains(leaked),
            "{stdout}\n{stderr}"
        );
    }
    let after = secrets(&endpoint, &["get", &secret]);
    assert_ne!(after["version"], before["version"]);
    assert_eq!(
        after["text"].as_str().unwrap(),
        std::fs::read_to_string(&changed_file).unwrap()
    );
    assert!(stdout.contains(&format!(
        "wrote version {}",
        after["version"].as_str().unwrap()
    )));

    // The same document again: no change, no new version.
    let out = push(&changed_file, &["--yes"]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout.contains("no change"), "{stdout}");
    assert_eq!(secrets(&endpoint, &["get", &secret]), after);

    // Pull: the current version, readable by its owner only (also over an existing file).
    let pulled = dir.join("pulled.json");
    std::fs::write(&pulled, "old").unwrap();
    std::fs::set_permissions(&pulled, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = mlc_aws(
        &endpoint,
        &secret,
        &["config", "pull", "--aws", "--out", pulled.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    assert_eq!(
        std::fs::read_to_string(&pulled).unwrap(),
        after["text"].as_str().unwrap()
    );
    let mode = std::fs::metadata(&pulled).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{mode:o}");
}

#[test]
fn the_schema_in_the_repository_is_the_one_the_types_give() {
    let out = crate::support::mlc(&["config", "schema"]);
    assert_eq!(out.status.code(), Some(0));
    let generated = text(&out).0;
    let kept = std::fs::read_to_string(root().join(common::config::SCHEMA_FILE)).unwrap();
    assert!(
        generated == kept,
        "{} is stale: regenerate it with `cargo run -p mlc -- config schema > {}`",
        common::config::SCHEMA_FILE,
        common::config::SCHEMA_FILE
    );
    // The example names it, and the loader takes the document with its `$schema`.
    let example = example_document();
    assert_eq!(example["$schema"], "./connector.schema.json");
    let check = crate::support::mlc(&[
        "config",
        "check",
        "--config",
        example_config().to_str().unwrap(),
    ]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check).1);
}

#[test]
fn the_example_document_validates_against_the_schema_and_a_broken_one_does_not() {
    const SCRIPT: &str = r#"
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
doc = json.load(open(sys.argv[2]))
errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(doc), key=lambda e: list(e.path))
print(json.dumps(["/".join(map(str, e.path)) + ": " + e.message for e in errors]))
"#;
    let python = std::env::var("MLC_PYTHON").unwrap_or_else(|_| {
        panic!(
            "MLC_PYTHON is not set: run ./infra/test.sh, which sets it (the venv has jsonschema)"
        )
    });
    let schema = root().join(common::config::SCHEMA_FILE);
    let validate = |doc: &Path| -> Vec<String> {
        let out = Command::new(&python)
            .arg("-c")
            .arg(SCRIPT)
            .arg(&schema)
            .arg(doc)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out).1);
        serde_json::from_slice(&out.stdout).unwrap()
    };
    assert_eq!(validate(&example_config()), Vec::<String>::new());
    let dir = scratch("config-schema");
    let mut broken = example_document();
    broken["stores"][0]["timezon"] = json!("UTC");
    broken["posting"]["discounts"] = json!("hidden");
    broken["mapping"]["defaults"]["revenu"] = json!({});
    let errors = validate(&write(&dir, "broken.json", &broken));
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("stores/0: ") && e.contains("timezon")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("posting: ") && e.contains("'hidden'")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("mapping/defaults: ") && e.contains("revenu")),
        "{errors:?}"
    );
}
