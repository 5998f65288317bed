//! Authentication to Fusion: OAuth2 client credentials against the identity domain (tokens
//! cached until shortly before they expire, one refresh at a time however many callers wait),
//! or HTTP Basic as an integration user. Tokens and secrets never appear in errors or logs.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use serde::Deserialize;
use tokio::sync::Mutex;

use super::error::OracleError;
use crate::redact::upstream_text;

/// A bearer token. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(String);

impl AccessToken {
    fn header(&self) -> String {
        format!("Bearer {}", self.0)
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(«redacted»)")
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct TokenError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

struct Cached {
    token: AccessToken,
    refresh_at: Instant,
}

/// OAuth2 client credentials with a cache.
pub struct TokenProvider {
    http: reqwest::Client,
    token_url: String,
    client_id: String,
    client_secret: String,
    scope: String,
    cached: Mutex<Option<Cached>>,
    fetched: AtomicU64,
}

impl fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenProvider")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Refresh this long before expiry (or a fifth of a short lifetime), so a token never expires
/// in flight.
const MARGIN: Duration = Duration::from_secs(60);

impl TokenProvider {
    /// A provider for one confidential application.
    pub fn new(
        http: reqwest::Client,
        token_url: &str,
        client_id: &str,
        client_secret: String,
        scope: &str,
    ) -> Self {
        Self {
            http,
            token_url: token_url.to_string(),
            client_id: client_id.to_string(),
            client_secret,
            scope: scope.to_string(),
            cached: Mutex::new(None),
            fetched: AtomicU64::new(0),
        }
    }

    /// Tokens fetched from the identity domain so far.
    pub fn fetched(&self) -> u64 {
        self.fetched.load(Ordering::Relaxed)
    }

    async fn fetch(&self) -> Result<Cached, OracleError> {
        self.fetched.fetch_add(1, Ordering::Relaxed);
        let err = |status: Option<u16>, message: String| OracleError::Token {
            url: self.token_url.clone(),
            status,
            message,
        };
        let basic = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", self.client_id, self.client_secret));
        let body = serde_urlencoded::to_string([
            ("grant_type", "client_credentials"),
            ("scope", self.scope.as_str()),
        ])
        .expect("form encodes");
        let response = self
            .http
            .post(&self.token_url)
            .header("Authorization", format!("Basic {basic}"))
            .header(
                "Content-Type",
                "application/x-www-form-urlencoded;charset=UTF-8",
            )
            .header("Accept", "application/json")
            .body(body)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| err(None, e.without_url().to_string()))?;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| err(Some(status), e.to_string()))?;
        // An identity domain (or a proxy) that echoes the request must not put the secret or
        // the Basic header into errors and logs.
        let known = [self.client_secret.as_str(), basic.as_str()];
        if !(200..300).contains(&status) {
            let detail = serde_json::from_slice::<TokenError>(&bytes)
                .map(|e| format!("{}: {}", e.error, e.error_description))
                .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
            let detail = upstream_text(&detail, &known);
            return Err(err(Some(status), format!("HTTP {status} {detail}")));
        }
        let answer: TokenAnswer = serde_json::from_slice(&bytes).map_err(|e| {
            let why = upstream_text(&crate::json_path::without_value(&e.to_string()), &known);
            err(Some(status), format!("the answer is not a token: {why}"))
        })?;
        let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(3600));
        let margin = MARGIN.min(lifetime / 5);
        Ok(Cached {
            token: AccessToken(answer.access_token),
            refresh_at: Instant::now() + lifetime - margin,
        })
    }

    /// A valid token: the cached one, or a new one. Concurrent callers wait for one fetch.
    pub async fn token(&self) -> Result<AccessToken, OracleError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref()
            && Instant::now() < c.refresh_at
        {
            return Ok(c.token.clone());
        }
        let fresh = self.fetch().await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    /// A new token after Fusion refused `rejected` with 401. When another caller already
    /// replaced it, that token is used instead of fetching again.
    pub async fn refresh(&self, rejected: &AccessToken) -> Result<AccessToken, OracleError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref()
            && c.token != *rejected
            && Instant::now() < c.refresh_at
        {
            return Ok(c.token.clone());
        }
        let fresh = self.fetch().await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }
}

/// How the client proves who it is.
#[derive(Debug)]
pub enum Credentials {
    /// OAuth2 bearer tokens.
    OAuth(TokenProvider),
    /// HTTP Basic.
    Basic {
        /// The `Authorization` header value.
        header: BasicHeader,
    },
}

/// A precomputed Basic header, redacted in `Debug`. It keeps the password too, to redact it
/// from an answer that echoes it.
pub struct BasicHeader(String, String);

impl fmt::Debug for BasicHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BasicHeader(«redacted»)")
    }
}

impl BasicHeader {
    /// `Basic base64(user:password)`.
    pub fn new(user: &str, password: &str) -> Self {
        Self(
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            ),
            password.to_string(),
        )
    }
}

/// What a request was sent with, so a 401 can refresh exactly that.
pub(crate) enum Used {
    Bearer(AccessToken),
    Basic,
}

impl Credentials {
    /// The secrets behind these credentials (the client secret, the password), so that an
    /// answer echoing one can be redacted.
    pub(crate) fn secrets(&self) -> Vec<&str> {
        match self {
            Credentials::OAuth(p) => vec![p.client_secret.as_str()],
            Credentials::Basic { header } => vec![header.1.as_str()],
        }
    }

    /// The `Authorization` header for the next request.
    pub(crate) async fn authorization(&self) -> Result<(String, Used), OracleError> {
        match self {
            Credentials::OAuth(p) => {
                let t = p.token().await?;
                Ok((t.header(), Used::Bearer(t)))
            }
            Credentials::Basic { header } => Ok((header.0.clone(), Used::Basic)),
        }
    }

    /// After a 401: a header worth one more try, or `None` (Basic credentials cannot improve).
    pub(crate) async fn after_unauthorized(
        &self,
        used: &Used,
    ) -> Result<Option<(String, Used)>, OracleError> {
        match (self, used) {
            (Credentials::OAuth(p), Used::Bearer(t)) => {
                let fresh = p.refresh(t).await?;
                Ok(Some((fresh.header(), Used::Bearer(fresh))))
            }
            _ => Ok(None),
        }
    }
}
