//! Who has to act on a failure, decided once per error type: the caller who gave something
//! unusable (fix the flag, the document, the file, and run again), or nobody the caller can
//! name right now (a system that failed or refused, work that needs a person). The `mlc`
//! binary turns the class into its exit code in one place, so every command answers the same
//! failure with the same code, and a script can tell "fix my input" from "try again later or
//! look at the report" without parsing messages.
//!
//! The rule for a system's answer: a 4xx about what the caller named (an order that does not
//! exist, a request too wide) is the caller's input; a transport failure, a 5xx, a 429 that
//! outlasted every wait, a refused API account or an answer of the wrong shape is a failure of
//! the work, which the same input may get past later.
//!
//! The impls live together here, not beside each type, so the whole table reads in one place;
//! each matches every variant, so a new variant cannot compile without its class.

use crate::adapters::aws::MissingVariable;
use crate::bigcommerce::{BcError, BundleError};
use crate::config::ConfigError;
use crate::config::SecretError;
use crate::journal::JournalError;
use crate::oracle::OracleError;
use crate::oracle::fbdi::FbdiError;
use crate::ports::{QueueError, SourceError, VersionError};
use crate::posting::catalog::CatalogError;
use crate::posting::reconcile::ReconcileError;
use crate::posting::replay::ReplayError;
use crate::posting::services::SetupError;
use crate::state::StoreError;

/// The class of a failure. Success has no class (exit code 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitClass {
    /// The work could not be done, or was done and needs a person's action (a held order, a
    /// reconciliation finding, a system that failed): exit code 1.
    Failed,
    /// The caller gave something unusable (an argument, the connector document, an order
    /// file, a record named that does not exist); nothing was changed: exit code 2.
    BadInput,
}

impl ExitClass {
    /// The process exit code: 1 for [`ExitClass::Failed`], 2 for [`ExitClass::BadInput`].
    pub fn code(self) -> u8 {
        match self {
            ExitClass::Failed => 1,
            ExitClass::BadInput => 2,
        }
    }
}

/// An error that knows who has to act on it.
pub trait Classify {
    /// This error's class.
    fn exit_class(&self) -> ExitClass;
}

use ExitClass::{BadInput, Failed};

impl Classify for ConfigError {
    /// The document does not validate: the caller's to fix.
    fn exit_class(&self) -> ExitClass {
        BadInput
    }
}

impl Classify for SecretError {
    /// A variable the document names is not set in the caller's environment.
    fn exit_class(&self) -> ExitClass {
        BadInput
    }
}

impl Classify for MissingVariable {
    /// The stack's variables (MLC_TABLE…) are the caller's environment.
    fn exit_class(&self) -> ExitClass {
        BadInput
    }
}

impl Classify for BundleError {
    /// An order file that does not read.
    fn exit_class(&self) -> ExitClass {
        BadInput
    }
}

impl Classify for SourceError {
    fn exit_class(&self) -> ExitClass {
        match self {
            // The file or secret the caller named is not there, or is not a valid document.
            SourceError::NotFound { .. } | SourceError::Invalid(_) => BadInput,
            // Secrets Manager (or the disk) did not answer.
            SourceError::Unreadable { .. } => Failed,
        }
    }
}

impl Classify for VersionError {
    fn exit_class(&self) -> ExitClass {
        match self {
            // Secrets Manager refused or did not answer: the same push may pass later.
            VersionError::Call { .. } => Failed,
            // Someone else wrote in between: nothing was written, and the push must be run
            // again to see the change it would make; the work was not done.
            VersionError::Changed { .. } => Failed,
        }
    }
}

impl Classify for BcError {
    fn exit_class(&self) -> ExitClass {
        match self {
            // What the caller named or configured: an order that does not exist, a request
            // too wide to page through, a store entry whose URL or token cannot be used.
            BcError::NotFound { .. } | BcError::TooManyPages { .. } | BcError::Setup { .. } => {
                BadInput
            }
            BcError::Status { status, .. } if (400..500).contains(status) && *status != 429 => {
                BadInput
            }
            // BigCommerce failed, refused the API account (its scopes are changed in
            // BigCommerce, not on this command line; `mlc ping` names the fix), or answered
            // wrongly; the same request may work later.
            BcError::Unauthorized { .. }
            | BcError::Status { .. }
            | BcError::RateLimited { .. }
            | BcError::Transport { .. }
            | BcError::Decode { .. }
            | BcError::Pagination { .. }
            | BcError::WrongOrder { .. } => Failed,
        }
    }
}

impl Classify for OracleError {
    /// Fusion refused or failed: the work could not be done. Even a refusal of the document's
    /// credentials is only known once Fusion answers, and `mlc ping` is where it is named.
    fn exit_class(&self) -> ExitClass {
        Failed
    }
}

impl Classify for StoreError {
    fn exit_class(&self) -> ExitClass {
        match self {
            // A record named on the command line (a posting, an order) that does not exist.
            StoreError::NotFound(_) => BadInput,
            StoreError::Conflict { .. }
            | StoreError::IllegalTransition { .. }
            | StoreError::Corrupt { .. }
            | StoreError::Backend(_) => Failed,
        }
    }
}

impl Classify for QueueError {
    /// The queue did not answer.
    fn exit_class(&self) -> ExitClass {
        Failed
    }
}

impl Classify for JournalError {
    /// An order the builders cannot read is bad input; one that reads but cannot post as it
    /// is (a totals mismatch held) is a failure of the work.
    fn exit_class(&self) -> ExitClass {
        if self.is_bad_input() {
            BadInput
        } else {
            Failed
        }
    }
}

impl Classify for FbdiError {
    /// Journals the import file refuses (unbalanced, too many segments): not the caller's.
    fn exit_class(&self) -> ExitClass {
        Failed
    }
}

impl Classify for SetupError {
    fn exit_class(&self) -> ExitClass {
        match self {
            SetupError::Source(e) => e.exit_class(),
            // A client that cannot be made from the document: its URLs or credentials.
            SetupError::BigCommerce(_) | SetupError::Oracle(_) => BadInput,
        }
    }
}

impl Classify for ReplayError {
    fn exit_class(&self) -> ExitClass {
        match self {
            // The caller named a posting that is not recorded.
            ReplayError::Unknown(_) => BadInput,
            // It exists, but is not held or rejected: there is nothing a replay can do.
            ReplayError::NotReplayable { .. } | ReplayError::Failed { .. } => Failed,
        }
    }
}

impl Classify for ReconcileError {
    fn exit_class(&self) -> ExitClass {
        match self {
            ReconcileError::UnknownStore(..) | ReconcileError::EmptyPeriod { .. } => BadInput,
            ReconcileError::NoClient(_) => Failed,
            ReconcileError::Listing { source, .. } => source.exit_class(),
            ReconcileError::Audit(e) => e.exit_class(),
        }
    }
}

impl Classify for CatalogError {
    fn exit_class(&self) -> ExitClass {
        match self {
            CatalogError::UnknownStore(..) => BadInput,
            CatalogError::NoClient(_) => Failed,
            CatalogError::Store { source, .. } => source.exit_class(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16) -> BcError {
        BcError::Status {
            call: "GET /v2/orders".into(),
            status,
            message: String::new(),
        }
    }

    #[test]
    fn a_bigcommerce_outage_is_a_failure_and_a_refusal_of_the_caller_is_bad_input() {
        assert_eq!(status(503).exit_class(), Failed);
        assert_eq!(status(500).exit_class(), Failed);
        assert_eq!(status(429).exit_class(), Failed);
        assert_eq!(status(422).exit_class(), BadInput);
        let transport = BcError::Transport {
            call: "GET /v2/orders".into(),
            attempts: 3,
            message: "connection refused".into(),
        };
        assert_eq!(transport.exit_class(), Failed);
        let listing = ReconcileError::Listing {
            store: "abc".into(),
            source: status(502),
        };
        assert_eq!(listing.exit_class(), Failed);
        let missing = BcError::NotFound {
            call: "GET /v2/orders/9".into(),
            message: String::new(),
        };
        assert_eq!(missing.exit_class(), BadInput);
    }

    #[test]
    fn a_record_named_that_does_not_exist_is_bad_input_and_a_backend_failure_is_not() {
        assert_eq!(
            StoreError::NotFound("posting".into()).exit_class(),
            BadInput
        );
        assert_eq!(StoreError::Backend("throttled".into()).exit_class(), Failed);
        let key = crate::state::PostingKey {
            store: "us".into(),
            order_id: 1,
            posting: crate::journal::PostingKind::Sale,
        };
        assert_eq!(ReplayError::Unknown(key.clone()).exit_class(), BadInput);
        let failed = ReplayError::Failed {
            key,
            message: "BigCommerce down".into(),
        };
        assert_eq!(failed.exit_class(), Failed);
    }

    #[test]
    fn the_codes_are_one_and_two() {
        assert_eq!(Failed.code(), 1);
        assert_eq!(BadInput.code(), 2);
    }
}
