//! Secrets inside the connector document.
//!
//! The document is the Secrets Manager secret value in AWS, so secrets may sit in it inline; a
//! local file more often points at an environment variable. Either way the value never reaches
//! a log line: `Debug`, `Display` and `Serialize` all print a placeholder.

use std::fmt;

use serde::{Deserialize, Serialize, Serializer};

/// What is printed instead of a secret.
pub const REDACTED: &str = "«redacted»";

/// A credential: written inline, or named by an environment variable.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(untagged)]
pub enum Secret {
    /// The value itself (fine inside Secrets Manager; avoid in files under version control).
    Inline(String),
    /// `{"env": "NAME"}`: read from the environment when first needed.
    Env {
        /// The variable's name.
        env: String,
    },
}

/// A secret could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The variable the document names is not set (or not valid UTF-8).
    #[error("environment variable {0} is not set")]
    MissingEnv(String),
}

impl Secret {
    /// The secret's value. Callers hand it straight to the HTTP client and drop it.
    pub fn reveal(&self) -> Result<String, SecretError> {
        match self {
            Secret::Inline(v) => Ok(v.clone()),
            Secret::Env { env } => {
                std::env::var(env).map_err(|_| SecretError::MissingEnv(env.clone()))
            }
        }
    }

    /// Why this reference cannot work, judged without reading it (for config validation).
    pub(crate) fn problem(&self) -> Option<&'static str> {
        match self {
            Secret::Inline(v) if v.trim().is_empty() => {
                Some("is empty; give the value, or {\"env\": \"VARIABLE\"}")
            }
            Secret::Env { env } if env.trim().is_empty() => {
                Some("names no environment variable; use {\"env\": \"VARIABLE\"}")
            }
            _ => None,
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secret::Inline(_) => f.write_str(REDACTED),
            Secret::Env { env } => write!(f, "env:{env}"),
        }
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Secret::Inline(_) => s.serialize_str(REDACTED),
            Secret::Env { env } => {
                use serde::ser::SerializeMap;
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("env", env)?;
                m.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_the_value() {
        let s: Secret = serde_json::from_str("\"hunter2-very-secret\"").unwrap();
        assert_eq!(format!("{s}"), REDACTED);
        assert_eq!(format!("{s:?}"), REDACTED);
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            format!("\"{REDACTED}\"")
        );
        assert_eq!(s.reveal().unwrap(), "hunter2-very-secret");
    }

    #[test]
    fn env_reference_names_the_missing_variable() {
        let s: Secret = serde_json::from_str(r#"{"env": "MLC_TEST_SURELY_UNSET_VAR"}"#).unwrap();
        assert_eq!(
            s.reveal().unwrap_err().to_string(),
            "environment variable MLC_TEST_SURELY_UNSET_VAR is not set"
        );
        assert_eq!(format!("{s:?}"), "env:MLC_TEST_SURELY_UNSET_VAR");
    }
}
