//! Oracle Fusion Cloud ERP: how journals get in. Journals go through FBDI Journal Import
//! (`journalBatches` has no create); the token provider, REST client and ESS job tracking land
//! here with their issue.

pub mod fbdi;
