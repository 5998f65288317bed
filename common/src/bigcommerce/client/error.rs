//! What can go wrong talking to BigCommerce, each naming the call (`GET /v2/orders/218`), never
//! the token.

/// A failed BigCommerce call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BcError {
    /// The resource does not exist (deleted order, unknown hook).
    #[error("{call}: not found (HTTP 404): {message}")]
    NotFound {
        /// Method and path.
        call: String,
        /// BigCommerce's message.
        message: String,
    },
    /// The API account was refused: wrong token or missing OAuth scope. Retrying cannot help.
    #[error(
        "{call}: HTTP {status}: {message}; check the store's access_token and the API account's scopes"
    )]
    Unauthorized {
        /// Method and path.
        call: String,
        /// 401 or 403.
        status: u16,
        /// BigCommerce's message.
        message: String,
    },
    /// Any other error status.
    #[error("{call}: HTTP {status}: {message}")]
    Status {
        /// Method and path.
        call: String,
        /// HTTP status.
        status: u16,
        /// BigCommerce's message.
        message: String,
    },
    /// Still answered 429 after every wait.
    #[error("{call}: still rate limited (HTTP 429) after {attempts} attempts")]
    RateLimited {
        /// Method and path.
        call: String,
        /// Attempts made.
        attempts: u32,
    },
    /// No usable answer: connection refused, timeout, broken body.
    #[error("{call}: {message} (after {attempts} attempts)")]
    Transport {
        /// Method and path.
        call: String,
        /// Attempts made.
        attempts: u32,
        /// What happened.
        message: String,
    },
    /// The answer did not have the expected shape.
    #[error("{call}: unexpected response at {path}: {message}")]
    Decode {
        /// Method and path.
        call: String,
        /// JSON path of the bad field.
        path: String,
        /// What was wrong.
        message: String,
    },
    /// Pagination did not move forward; stopped rather than loop.
    #[error("{call}: page {page} returned the same items as the page before; stopped")]
    Pagination {
        /// Method and path.
        call: String,
        /// The page that repeated.
        page: u32,
    },
    /// The list is longer than the client will page through.
    #[error("{call}: more than {pages} pages of 250; narrow the request")]
    TooManyPages {
        /// Method and path.
        call: String,
        /// Pages read.
        pages: u32,
    },
    /// The answer is about another order or another store than the one asked for: never
    /// posted, retried by the queue (a misrouted or cached answer may right itself; if not, the
    /// message reaches the dead-letter queue with this reason).
    #[error("{call}: {message}")]
    WrongOrder {
        /// Method and path.
        call: String,
        /// Which order or store answered instead.
        message: String,
    },
    /// The client could not be set up (bad base URL, unreadable token).
    #[error("BigCommerce client for store {store}: {message}")]
    Setup {
        /// Store id or hash.
        store: String,
        /// What is wrong.
        message: String,
    },
}

impl BcError {
    /// Worth trying again later (the queue redelivers): throttling, outages, timeouts.
    pub fn is_transient(&self) -> bool {
        match self {
            BcError::RateLimited { .. }
            | BcError::Transport { .. }
            | BcError::WrongOrder { .. } => true,
            BcError::Status { status, .. } => *status >= 500,
            _ => false,
        }
    }
}
