//! What can go wrong talking to Oracle Fusion. Errors name the call and never carry a token
//! or a secret.

/// A failed Fusion or identity-domain call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OracleError {
    /// The token endpoint refused or failed.
    #[error("OAuth token from {url}: {message}")]
    Token {
        /// Token URL.
        url: String,
        /// HTTP status, when there was an answer.
        status: Option<u16>,
        /// Status and OAuth error, e.g. `HTTP 401 invalid_client: Client authentication failed.`
        message: String,
    },
    /// Still 401 after a fresh token: the integration user lacks access.
    #[error(
        "{call}: HTTP 401 even with a fresh token; check the integration user's roles and the OAuth scope"
    )]
    Unauthorized {
        /// Method and resource.
        call: String,
    },
    /// An error status, with Fusion's code and detail when the body had them.
    #[error("{call}: HTTP {status}{}: {message}", code.as_ref().map(|c| format!(" {c}")).unwrap_or_default())]
    Status {
        /// Method and resource.
        call: String,
        /// HTTP status.
        status: u16,
        /// `o:errorCode`, e.g. `JBO-27024`.
        code: Option<String>,
        /// `detail`, or the plain-text body.
        message: String,
    },
    /// `importBulkData` answered `ReqstId: -1`: the job name, the UCM account or the user's
    /// privileges are wrong. Nothing was imported.
    #[error(
        "import refused (ReqstId -1): check oracle.import.job_name, oracle.document_account and the integration user's import privileges"
    )]
    ImportRefused,
    /// The import was sent but its answer was lost: it may or may not have been accepted.
    /// Never resend it blindly; look the batches up by name.
    #[error(
        "{call}: the outcome of the import is unknown ({message}); its batches must be looked up by name before anything is resent"
    )]
    OutcomeUnknown {
        /// Method and resource.
        call: String,
        /// What happened.
        message: String,
    },
    /// No usable answer after the retries.
    #[error("{call}: {message} (after {attempts} attempts)")]
    Transport {
        /// Method and resource.
        call: String,
        /// Attempts made.
        attempts: u32,
        /// What happened.
        message: String,
    },
    /// An answer of the wrong shape: a field missing, of the wrong type, or an amount that is
    /// not a decimal. Never read as a default: a malformed amount read as zero would make a
    /// reconciliation compare against a total Fusion never said.
    #[error("{call}: unexpected answer at {path}: {message}")]
    Decode {
        /// Method and resource.
        call: String,
        /// JSON path of the bad field, e.g. `items[3].RunningTotalDr`; `(answer)` for the body.
        path: String,
        /// What was wrong, e.g. `invalid decimal "12.3x"`.
        message: String,
    },
    /// The request cannot be made as asked.
    #[error("{0}")]
    Invalid(String),
}

impl OracleError {
    /// Worth trying again later.
    pub fn is_transient(&self) -> bool {
        match self {
            OracleError::Transport { .. } => true,
            OracleError::Token { status, .. } => status.is_none_or(|s| s == 429 || s >= 500),
            OracleError::Status { status, .. } => matches!(status, 429 | 500..=599),
            _ => false,
        }
    }
}
