//! `mlc config push | pull | schema`: the deployed connector document in Secrets Manager,
//! changed without fear. A push validates the document as `config check` does (an invalid one
//! never reaches the secret), shows what changes against the current version path by path
//! with secrets redacted, asks, and only then writes a new version; an unchanged document
//! writes nothing. A pull writes the current version to a file only its owner can read.

use std::io::{BufRead, IsTerminal, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use common::adapters::secrets::SecretsManagerSource;
use common::config::{ConnectorConfig, diff, json_schema, secret_paths};
use common::ports::DocumentVersions;
use serde_json::Value;

use crate::{Failure, bad};

/// The subcommands of `mlc config` that work on the deployed document and its schema.
#[derive(clap::Subcommand)]
pub enum Action {
    /// Validate a document, show what it changes against the deployed secret's current
    /// version (secrets redacted), and write it as a new version once confirmed.
    Push {
        /// The new connector document.
        #[arg(long)]
        config: PathBuf,
        /// The deployed stack's secret (MLC_CONFIG_SECRET), with the AWS credentials of this
        /// shell; required: there is nothing to push to locally.
        #[arg(long, required = true)]
        aws: bool,
        /// Write without asking (scripts, CI); without it the change is confirmed on the
        /// terminal.
        #[arg(long)]
        yes: bool,
    },
    /// Write the deployed secret's current version to a file (mode 0600: it holds secrets).
    Pull {
        /// The deployed stack's secret (MLC_CONFIG_SECRET); required.
        #[arg(long, required = true)]
        aws: bool,
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the JSON Schema of the connector document (for editors: name it in the
    /// document's "$schema").
    Schema,
}

/// Runs one of them.
pub async fn run(action: Action) -> Result<(), Failure> {
    match action {
        Action::Push { config, yes, .. } => push(&config, yes).await,
        Action::Pull { out, .. } => pull(&out).await,
        Action::Schema => {
            let text = serde_json::to_string_pretty(&json_schema())
                .map_err(|e| Failure::Failed(e.into()))?;
            println!("{text}");
            Ok(())
        }
    }
}

/// The deployed document's secret, named by `MLC_CONFIG_SECRET`.
async fn deployed() -> Result<SecretsManagerSource, Failure> {
    let id = std::env::var("MLC_CONFIG_SECRET")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| {
            bad(anyhow!(
                "MLC_CONFIG_SECRET is not set: export the stack's ConfigSecret output (its name or ARN)"
            ))
        })?;
    let sdk = common::adapters::aws::from_environment().await;
    Ok(SecretsManagerSource::uncached(&sdk, &id))
}

async fn push(path: &Path, yes: bool) -> Result<(), Failure> {
    // Validation first, as `config check` does it: a document that fails never goes further.
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--config: cannot read {}", path.display()))
        .map_err(bad)?;
    ConnectorConfig::from_json(&text, &path.display().to_string())?;
    let new: Value = serde_json::from_str(&text).map_err(|e| bad(anyhow!(e)))?;
    let secret = deployed().await?;
    let current = secret.current_version().await?;
    let before = match &current {
        Some(v) => match serde_json::from_str::<Value>(&v.text) {
            Ok(doc) => Some(doc),
            Err(_) => {
                println!(
                    "the current version ({}) is not JSON; it is replaced whole",
                    v.version_id
                );
                None
            }
        },
        None => {
            println!("the secret holds no document yet; every field is added");
            None
        }
    };
    let changes = diff(before.as_ref(), &new, &secret_paths());
    let read = current.as_ref().map(|v| v.version_id.as_str());
    if changes.is_empty() && before.is_some() {
        println!(
            "no change: {} is what version {} holds; nothing written",
            path.display(),
            read.unwrap_or_default()
        );
        return Ok(());
    }
    println!(
        "{} change(s) against version {}:",
        changes.len(),
        read.unwrap_or("(none)")
    );
    for change in &changes {
        println!("  {change}");
    }
    if !yes && !confirmed()? {
        println!("nothing written");
        return Ok(());
    }
    let version = secret.put_version(&text, read).await?;
    println!(
        "wrote version {version}; the functions read it within {} s",
        common::adapters::aws::DOCUMENT_TTL.as_secs()
    );
    Ok(())
}

/// Asks on the terminal; refuses when there is none to ask on.
fn confirmed() -> Result<bool, Failure> {
    if !std::io::stdin().is_terminal() {
        return Err(bad(anyhow!(
            "--yes: no terminal to confirm the change on; pass --yes to write without asking"
        )));
    }
    eprint!("Write this as the new version? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Failure::Failed(e.into()))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

async fn pull(out: &Path) -> Result<(), Failure> {
    let secret = deployed().await?;
    let current = secret
        .current_version()
        .await?
        .ok_or_else(|| Failure::Failed(anyhow!("the secret holds no document yet")))?;
    write_private(out, &current.text)
        .with_context(|| format!("--out: cannot write {}", out.display()))
        .map_err(Failure::Failed)?;
    eprintln!(
        "wrote {} (version {}; mode 0600: it holds secrets)",
        out.display(),
        current.version_id
    );
    Ok(())
}

/// Writes `text` to `path` readable by its owner only, also when the file was there before.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(text.as_bytes())
}
