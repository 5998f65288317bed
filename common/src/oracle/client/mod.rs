//! The Fusion REST client behind [`OracleApi`].
//!
//! Journals go in through FBDI Journal Import (`erpintegrations` `importBulkData`), are tracked
//! through the ESS job (`ESSJobStatusRF`, log via `ESSJobExecutionDetailsRF`) ([`imports`]),
//! and are read back from `journalBatches` by batch-name prefix ([`journals`]); periods and
//! ledgers are the reference data ([`reference`]). The [`transport`] authenticates, retries,
//! classifies errors and counts calls; every answer is decoded into a typed struct of
//! [`answers`], so an answer of the wrong shape (a malformed amount above all) is an error
//! naming its JSON path, never a silent zero.

mod answers;
mod imports;
mod journals;
mod reference;
mod transport;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDate;

use super::auth::{BasicHeader, Credentials, TokenProvider};
use super::error::OracleError;
use super::models::{BatchRecord, JobStatus, LedgerRecord, Period, Submission};
use crate::config::{ImportSettings, LedgerConfig, OracleAuth, OracleConfig};
use crate::journal::Journal;
use crate::ports::OracleApi;
use reference::CachedPeriod;
use transport::Transport;

pub use transport::REST_PATH;

/// Timeouts and retries.
#[derive(Debug, Clone)]
pub struct FusionSettings {
    /// Attempts for a read that meets 429, 503, 504 or a timeout.
    pub max_attempts: u32,
    /// First backoff (doubles, jittered) when there is no `Retry-After`.
    pub base_backoff: Duration,
    /// Longest wait between attempts.
    pub max_backoff: Duration,
    /// Timeout of a read.
    pub timeout: Duration,
    /// Timeout of an import POST (the zip can be large).
    pub import_timeout: Duration,
}

impl Default for FusionSettings {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            timeout: Duration::from_secs(60),
            import_timeout: Duration::from_secs(180),
        }
    }
}

/// A client for one pod.
pub struct FusionClient {
    transport: Transport,
    document_account: String,
    import: ImportSettings,
    ledgers: Vec<LedgerConfig>,
    periods: Mutex<HashMap<(u64, String), CachedPeriod>>,
}

/// Values put into a `q` filter: Fusion has no escaping, so quotes and separators are refused.
fn q_value(value: &str) -> Result<&str, OracleError> {
    if value.contains(['\'', ';', '%', '"']) {
        return Err(OracleError::Invalid(format!(
            "{value:?} cannot be used in a Fusion q filter (quotes, ; and % are not allowed)"
        )));
    }
    Ok(value)
}

impl FusionClient {
    /// A client for the pod of the connector document (reads its secrets).
    pub fn from_config(
        oracle: &OracleConfig,
        settings: FusionSettings,
    ) -> Result<Self, OracleError> {
        let http = reqwest::Client::builder()
            .user_agent(crate::bigcommerce::client::USER_AGENT)
            .build()
            .map_err(|e| OracleError::Invalid(format!("HTTP client: {e}")))?;
        let credentials = match &oracle.auth {
            OracleAuth::Oauth2ClientCredentials {
                token_url,
                scope,
                client_id,
                client_secret,
            } => {
                let secret = client_secret
                    .reveal()
                    .map_err(|e| OracleError::Invalid(format!("oracle.auth.client_secret: {e}")))?;
                Credentials::OAuth(TokenProvider::new(
                    http.clone(),
                    token_url,
                    client_id,
                    secret,
                    scope,
                ))
            }
            OracleAuth::Basic { username, password } => {
                let password = password
                    .reveal()
                    .map_err(|e| OracleError::Invalid(format!("oracle.auth.password: {e}")))?;
                Credentials::Basic {
                    header: BasicHeader::new(username, &password),
                }
            }
        };
        Ok(Self {
            transport: Transport::new(
                http,
                &oracle.base_url,
                credentials,
                &oracle.rest_framework_version,
                settings,
            ),
            document_account: oracle.document_account.clone(),
            import: oracle.import.clone(),
            ledgers: oracle.ledgers.clone(),
            periods: Mutex::new(HashMap::new()),
        })
    }

    /// HTTP requests sent to Fusion so far (token requests not counted).
    pub fn calls(&self) -> u64 {
        self.transport.calls()
    }

    /// Tokens fetched so far (OAuth only).
    pub fn tokens_fetched(&self) -> u64 {
        self.transport.tokens_fetched()
    }

    fn ledger(&self, id: u64) -> Option<&LedgerConfig> {
        self.ledgers.iter().find(|l| l.id == id)
    }
}

#[async_trait]
impl OracleApi for FusionClient {
    async fn submit_import(
        &self,
        journals: &[Journal],
        group_id: u64,
    ) -> Result<Submission, OracleError> {
        imports::submit(self, journals, group_id).await
    }

    async fn job_status(&self, request_id: u64) -> Result<JobStatus, OracleError> {
        imports::status(self, request_id).await
    }

    async fn job_log(&self, request_id: u64) -> Result<String, OracleError> {
        imports::log(self, request_id).await
    }

    async fn find_batches(
        &self,
        name_prefix: &str,
        with_lines: bool,
    ) -> Result<Vec<BatchRecord>, OracleError> {
        journals::find_batches(self, name_prefix, with_lines).await
    }

    async fn period_for_date(
        &self,
        ledger_id: u64,
        date: NaiveDate,
    ) -> Result<Option<Period>, OracleError> {
        reference::period_for_date(self, ledger_id, date).await
    }

    async fn next_open_period(
        &self,
        ledger_id: u64,
        after: NaiveDate,
    ) -> Result<Option<Period>, OracleError> {
        reference::next_open_period(self, ledger_id, after).await
    }

    async fn ledgers(&self) -> Result<Vec<LedgerRecord>, OracleError> {
        reference::ledgers(self).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q_values_cannot_break_out_of_the_filter() {
        assert!(q_value("BC-us-1-sale").is_ok());
        for bad in ["a'b", "a;b", "a%", "a\"b"] {
            assert!(q_value(bad).is_err(), "{bad}");
        }
    }
}
