//! `erpintegrations`: the Journal Import (`importBulkData`), its ESS job's status
//! (`ESSJobStatusRF`) and its log (`ESSJobExecutionDetailsRF`, a base64 zip).

use std::io::Read;

use base64::Engine;
use serde_json::json;

use super::FusionClient;
use super::answers::{ImportAnswer, JobDetailsItem, JobStatusItem, Page};
use crate::journal::Journal;
use crate::oracle::error::OracleError;
use crate::oracle::fbdi;
use crate::oracle::models::{JobStatus, Submission};

/// Sends journals (one ledger) as one Journal Import in group `group_id`.
pub(super) async fn submit(
    client: &FusionClient,
    journals: &[Journal],
    group_id: u64,
) -> Result<Submission, OracleError> {
    let first = journals
        .iter()
        .find(|j| !j.is_empty())
        .ok_or_else(|| OracleError::Invalid("nothing to import: no journal has lines".into()))?;
    if let Some(other) = journals.iter().find(|j| j.ledger_id != first.ledger_id) {
        return Err(OracleError::Invalid(format!(
            "one import takes one ledger: {} is for ledger {}, {} for {}",
            first.batch_name, first.ledger_id, other.batch_name, other.ledger_id
        )));
    }
    let file = fbdi::build_import(journals, group_id, chrono::Utc::now().date_naive())
        .map_err(|e| OracleError::Invalid(e.to_string()))?;
    let import = &client.import;
    let yn = |b: bool| if b { "Y" } else { "N" };
    let das = client
        .ledger(first.ledger_id)
        .and_then(|l| l.data_access_set_id)
        .map_or_else(|| "#NULL".to_string(), |d| d.to_string());
    let source = import
        .journal_source_id
        .map_or_else(|| first.source.clone(), |id| id.to_string());
    let parameters = format!(
        "{das},{source},{},{group_id},{},{},{}",
        first.ledger_id,
        yn(import.errors_to_suspense),
        yn(import.summary_journals),
        yn(import.import_descriptive_flexfields)
    );
    let body = json!({
        "OperationName": "importBulkData",
        "DocumentContent": file.base64(),
        "ContentType": "zip",
        "FileName": file.zip_name(),
        "DocumentAccount": client.document_account,
        "JobName": import.job_name,
        "ParameterList": parameters,
        "JobOptions": import.job_options,
        "CallbackURL": "#NULL",
        "NotificationCode": import.notification_code,
    });
    let answer: ImportAnswer = client.transport.post_import(&body).await?;
    match answer.request_id {
        -1 => Err(OracleError::ImportRefused),
        id => match u64::try_from(id) {
            Ok(request_id) if request_id > 0 => Ok(Submission {
                request_id,
                group_id,
                batches: file.batches,
            }),
            // Fusion answered, but with no job to follow: the import may or may not exist.
            _ => Err(OracleError::OutcomeUnknown {
                call: "POST erpintegrations (importBulkData)".into(),
                message: format!("ReqstId {id} is not a request id"),
            }),
        },
    }
}

/// The state of an import's job; a job Fusion does not list reads as still running.
pub(super) async fn status(
    client: &FusionClient,
    request_id: u64,
) -> Result<JobStatus, OracleError> {
    let page: Page<JobStatusItem> = client
        .transport
        .get(
            "erpintegrations",
            &[
                ("finder", format!("ESSJobStatusRF;requestId={request_id}")),
                ("onlyData", "true".into()),
            ],
        )
        .await?;
    Ok(JobStatus::parse(
        page.items.first().map_or("", |i| i.status.as_str()),
    ))
}

/// The job's log (every file of its zip, concatenated); empty while there is none.
pub(super) async fn log(client: &FusionClient, request_id: u64) -> Result<String, OracleError> {
    let call = format!("GET erpintegrations (log of {request_id})");
    let page: Page<JobDetailsItem> = client
        .transport
        .get(
            "erpintegrations",
            &[
                (
                    "finder",
                    format!("ESSJobExecutionDetailsRF;requestId={request_id},fileType=log"),
                ),
                ("onlyData", "true".into()),
            ],
        )
        .await?;
    let Some(content) = page.items.into_iter().next().and_then(|i| i.content) else {
        return Ok(String::new());
    };
    let decode_err = |message: String| OracleError::Decode {
        call: call.clone(),
        path: "items[0].DocumentContent".into(),
        message,
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(content.trim())
        .map_err(|e| decode_err(format!("not base64: {e}")))?;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| decode_err(format!("not a zip: {e}")))?;
    let mut out = String::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|e| decode_err(e.to_string()))?;
        entry
            .read_to_string(&mut out)
            .map_err(|e| decode_err(e.to_string()))?;
    }
    Ok(out)
}
