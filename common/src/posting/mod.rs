//! Application services: what the entry points call. Each works only through the ports, so the
//! same code runs in the Lambdas and in the local `mlc` process. (Intake, poster, poller,
//! tracker, replay and reconcile land here with their issues.)

pub mod decide;
pub mod hooks;
pub mod preview;
pub mod submit;
