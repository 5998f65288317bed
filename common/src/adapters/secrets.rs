//! The connector document from Secrets Manager (in AWS) or from a file (locally). The secret's
//! value is the document itself, the same JSON as the file; it is cached for a while so a busy
//! Lambda does not read it on every event, and re-read after that so a change takes effect
//! without a deployment.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::DisplayErrorContext;
use tokio::sync::Mutex;

use crate::config::ConnectorConfig;
use crate::ports::{DocumentVersion, DocumentVersions, SecretSource, SourceError, VersionError};

/// The document in a Secrets Manager secret.
pub struct SecretsManagerSource {
    client: Client,
    secret_id: String,
    ttl: Duration,
    cached: Mutex<Option<(Instant, Arc<ConnectorConfig>)>>,
    reads: AtomicU64,
}

impl SecretsManagerSource {
    /// Reads `secret_id` (name or ARN), keeping it for `ttl`.
    pub fn new(client: Client, secret_id: &str, ttl: Duration) -> Self {
        Self {
            client,
            secret_id: secret_id.to_string(),
            ttl,
            cached: Mutex::new(None),
            reads: AtomicU64::new(0),
        }
    }

    /// `secret_id` read afresh on every call, for an operator's command (`mlc config push`,
    /// `pull`) that must see the version as it is now.
    pub fn uncached(sdk: &aws_config::SdkConfig, secret_id: &str) -> Self {
        Self::new(Client::new(sdk), secret_id, Duration::ZERO)
    }

    /// Times the secret was read from Secrets Manager.
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    fn name(&self) -> String {
        format!("secret {}", self.secret_id)
    }
}

#[async_trait]
impl SecretSource for SecretsManagerSource {
    async fn connector_document(&self) -> Result<Arc<ConnectorConfig>, SourceError> {
        let mut cached = self.cached.lock().await;
        if let Some((at, doc)) = cached.as_ref()
            && at.elapsed() < self.ttl
        {
            return Ok(doc.clone());
        }
        self.reads.fetch_add(1, Ordering::Relaxed);
        let answer = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error()
                    .is_some_and(|se| se.is_resource_not_found_exception())
                {
                    SourceError::NotFound {
                        source_name: self.name(),
                    }
                } else {
                    SourceError::Unreadable {
                        source_name: self.name(),
                        message: DisplayErrorContext(e).to_string(),
                    }
                }
            })?;
        let text = answer
            .secret_string
            .ok_or_else(|| SourceError::Unreadable {
                source_name: self.name(),
                message: "it has no SecretString; store the connector document as text".into(),
            })?;
        let doc = Arc::new(
            ConnectorConfig::from_json(&text, &self.name()).map_err(SourceError::Invalid)?,
        );
        *cached = Some((Instant::now(), doc.clone()));
        Ok(doc)
    }
}

impl SecretsManagerSource {
    fn call_error(&self, e: impl std::fmt::Display) -> VersionError {
        VersionError::Call {
            source_name: self.name(),
            message: e.to_string(),
        }
    }
}

#[async_trait]
impl DocumentVersions for SecretsManagerSource {
    async fn current_version(&self) -> Result<Option<DocumentVersion>, VersionError> {
        let answer = match self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .send()
            .await
        {
            Ok(answer) => answer,
            // A secret created without a value answers so too; a missing secret is named by
            // the write that follows.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_resource_not_found_exception()) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(self.call_error(DisplayErrorContext(e))),
        };
        let text = answer.secret_string.ok_or_else(|| {
            self.call_error("it has no SecretString; store the connector document as text")
        })?;
        let version_id = answer
            .version_id
            .ok_or_else(|| self.call_error("Secrets Manager gave no VersionId"))?;
        Ok(Some(DocumentVersion { text, version_id }))
    }

    async fn put_version(&self, text: &str, read: Option<&str>) -> Result<String, VersionError> {
        // Secrets Manager has no conditional write: the version is read again just before,
        // which leaves a window of one call instead of the time a person took to confirm.
        let now = self.current_version().await?.map(|v| v.version_id);
        if now.as_deref() != read {
            return Err(VersionError::Changed {
                source_name: self.name(),
                read: read.unwrap_or("(none)").to_string(),
                found: now.unwrap_or_else(|| "(none)".into()),
            });
        }
        let answer = self
            .client
            .put_secret_value()
            .secret_id(&self.secret_id)
            .secret_string(text)
            .send()
            .await
            .map_err(|e| self.call_error(DisplayErrorContext(e)))?;
        *self.cached.lock().await = None;
        answer
            .version_id
            .ok_or_else(|| self.call_error("Secrets Manager gave no VersionId"))
    }
}

/// The document in a file (local runs).
pub struct FileSource {
    path: PathBuf,
    cached: tokio::sync::Mutex<Option<(std::time::SystemTime, Arc<ConnectorConfig>)>>,
}

impl FileSource {
    /// Reads `path`, again whenever the file changes (a local edit takes effect at once; an
    /// unchanged file is not parsed again, and callers can tell by the same `Arc`).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            cached: tokio::sync::Mutex::new(None),
        }
    }
}

#[async_trait]
impl SecretSource for FileSource {
    async fn connector_document(&self) -> Result<Arc<ConnectorConfig>, SourceError> {
        let name = self.path.display().to_string();
        let unreadable = |e: std::io::Error| {
            if e.kind() == std::io::ErrorKind::NotFound {
                SourceError::NotFound {
                    source_name: name.clone(),
                }
            } else {
                SourceError::Unreadable {
                    source_name: name.clone(),
                    message: e.to_string(),
                }
            }
        };
        let modified = tokio::fs::metadata(&self.path)
            .await
            .and_then(|m| m.modified())
            .map_err(unreadable)?;
        let mut cached = self.cached.lock().await;
        if let Some((at, config)) = cached.as_ref()
            && *at == modified
        {
            return Ok(config.clone());
        }
        let text = tokio::fs::read_to_string(&self.path)
            .await
            .map_err(unreadable)?;
        let config = ConnectorConfig::from_json(&text, &name)
            .map(Arc::new)
            .map_err(SourceError::Invalid)?;
        *cached = Some((modified, config.clone()));
        Ok(config)
    }
}
