//! How a command failed, by who has to act, and the exit code that says so. The class comes
//! from the library's error types (`common::exit::Classify`), converted by `?`; the command
//! line only classes what it judges itself (a flag's syntax, a report that needs action).

use std::fmt::Display;
use std::process::ExitCode;

use common::exit::{Classify, ExitClass};

/// Failures, by who has to act.
#[derive(Debug)]
pub enum Failure {
    /// The caller gave something unusable: exit code 2.
    BadInput(anyhow::Error),
    /// The input is fine but the work cannot be done (the order cannot be posted as it is,
    /// a system refused or failed), or it was done and something needs action: exit code 1.
    Failed(anyhow::Error),
}

/// The caller's input is unusable (a flag the command line judges itself).
pub fn bad(e: impl Into<anyhow::Error>) -> Failure {
    Failure::BadInput(e.into())
}

impl<E> From<E> for Failure
where
    E: Classify + std::error::Error + Send + Sync + 'static,
{
    fn from(e: E) -> Self {
        match e.exit_class() {
            ExitClass::BadInput => Failure::BadInput(e.into()),
            ExitClass::Failed => Failure::Failed(e.into()),
        }
    }
}

impl Failure {
    /// The same failure, with what was being done in front of its message.
    pub fn context(self, what: impl Display + Send + Sync + 'static) -> Self {
        match self {
            Failure::BadInput(e) => Failure::BadInput(e.context(what)),
            Failure::Failed(e) => Failure::Failed(e.context(what)),
        }
    }

    /// Writes the failure to standard error and gives the exit code: the one place a failure
    /// becomes a code.
    pub fn report(self) -> ExitCode {
        let (class, e) = match self {
            Failure::BadInput(e) => (ExitClass::BadInput, e),
            Failure::Failed(e) => (ExitClass::Failed, e),
        };
        match class {
            ExitClass::BadInput => eprintln!("error: {e:#}"),
            ExitClass::Failed => eprintln!("{e:#}"),
        }
        ExitCode::from(class.code())
    }
}
