//! The connector document from Secrets Manager (on moto server) and from a file: read, cached,
//! refreshed after the cache time, and clear errors naming the secret when it is missing or bad.

use std::time::Duration;

use common::adapters::secrets::{FileSource, SecretsManagerSource};
use common::ports::{SecretSource, SourceError};
use serde_json::json;

async fn client() -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(
        &common::adapters::aws::local(&crate::support::aws_endpoint()).await,
    )
}

#[tokio::test]
async fn the_document_is_read_from_secrets_manager_and_cached() {
    let client = client().await;
    let name = crate::support::unique("ml-connector/connector-document");
    let doc = crate::support::example_document();
    client
        .create_secret()
        .name(&name)
        .secret_string(doc.to_string())
        .send()
        .await
        .unwrap();
    let source = SecretsManagerSource::new(client.clone(), &name, Duration::from_millis(400));
    let first = source.connector_document().await.unwrap();
    assert_eq!(*first, crate::support::example_config());
    source.connector_document().await.unwrap();
    assert_eq!(source.reads(), 1, "cached");
    // A change is picked up once the cache time has passed.
    let mut changed = doc.clone();
    changed["posting"]["batch_size"] = json!(40);
    client
        .put_secret_value()
        .secret_id(&name)
        .secret_string(changed.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        source
            .connector_document()
            .await
            .unwrap()
            .posting
            .batch_size,
        100,
        "still cached"
    );
    crate::support::eventually(
        "the changed document once the cache time has passed",
        Duration::from_secs(10),
        async || {
            source
                .connector_document()
                .await
                .unwrap()
                .posting
                .batch_size
                == 40
        },
    )
    .await;
    assert_eq!(source.reads(), 2, "read again once, not on every call");
}

#[tokio::test]
async fn a_missing_or_malformed_secret_is_a_clear_error_naming_it() {
    let client = client().await;
    let missing = crate::support::unique("nowhere");
    let err = SecretsManagerSource::new(client.clone(), &missing, Duration::from_secs(60))
        .connector_document()
        .await
        .unwrap_err();
    assert_eq!(
        err,
        SourceError::NotFound {
            source_name: format!("secret {missing}")
        }
    );
    assert_eq!(err.to_string(), format!("secret {missing}: not found"));

    let garbled = crate::support::unique("garbled");
    client
        .create_secret()
        .name(&garbled)
        .secret_string("{\"schema_version\": 1,")
        .send()
        .await
        .unwrap();
    let err = SecretsManagerSource::new(client.clone(), &garbled, Duration::from_secs(60))
        .connector_document()
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "secret {garbled}: invalid connector document (1 problem):\n  (document): not valid JSON: EOF while parsing a value at line 1 column 21"
        )
    );

    let wrong = crate::support::unique("wrong");
    let mut doc = crate::support::example_document();
    doc["stores"][0]["ledger"] = json!("US-LEDGR");
    client
        .create_secret()
        .name(&wrong)
        .secret_string(doc.to_string())
        .send()
        .await
        .unwrap();
    let err = SecretsManagerSource::new(client.clone(), &wrong, Duration::from_secs(60))
        .connector_document()
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with(&format!("secret {wrong}: invalid connector document (1 problem):\n  stores[0].ledger: unknown ledger \"US-LEDGR\"")), "{err}");

    let binary = crate::support::unique("binary");
    client
        .create_secret()
        .name(&binary)
        .secret_binary(aws_sdk_secretsmanager::primitives::Blob::new(vec![1, 2, 3]))
        .send()
        .await
        .unwrap();
    let err = SecretsManagerSource::new(client, &binary, Duration::from_secs(60))
        .connector_document()
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("secret {binary}: it has no SecretString; store the connector document as text")
    );
}

#[tokio::test]
async fn the_document_is_read_from_a_file_locally() {
    let source = FileSource::new(crate::support::repo_root().join("infra/examples/connector.json"));
    assert_eq!(
        *source.connector_document().await.unwrap(),
        crate::support::example_config()
    );
    let err = FileSource::new("/nonexistent/connector.json")
        .connector_document()
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "/nonexistent/connector.json: not found");
}

#[tokio::test]
async fn a_file_is_parsed_again_only_when_it_changes() {
    let dir = std::env::temp_dir().join(crate::support::unique("mlc-file-source"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("connector.json");
    let mut doc = crate::support::example_document();
    std::fs::write(&path, doc.to_string()).unwrap();
    let source = FileSource::new(&path);
    let first = source.connector_document().await.unwrap();
    let again = source.connector_document().await.unwrap();
    assert!(
        std::sync::Arc::ptr_eq(&first, &again),
        "unchanged: the same document"
    );
    doc["posting"]["batch_size"] = serde_json::json!(7);
    // The source knows a change by the file's modification time: the edit is written until
    // the filesystem's clock shows it as a new one.
    let before = std::fs::metadata(&path).unwrap().modified().unwrap();
    crate::support::eventually(
        "the edit to show a new modification time",
        std::time::Duration::from_secs(10),
        async || {
            std::fs::write(&path, doc.to_string()).unwrap();
            std::fs::metadata(&path).unwrap().modified().unwrap() != before
        },
    )
    .await;
    let changed = source.connector_document().await.unwrap();
    assert_eq!(changed.posting.batch_size, 7);
    // A broken edit is reported with the file's name, and nothing is kept from it.
    std::fs::write(&path, "{").unwrap();
    let err = source.connector_document().await.unwrap_err();
    assert!(err.to_string().contains("connector.json"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
