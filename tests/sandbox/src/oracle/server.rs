//! The pod's HTTP face: the token endpoint, Fusion's REST resources, faults, errors in ADF's
//! shape (or plain text when the client does not ask for it).

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};

use super::journal_import::{Outcome, Rules, import, parse_csv, parse_parameters};
use super::state::{GENERAL_LEDGER, Pod};
use super::{JobEnd, PodFault, REST_PREFIX, Shared};

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(dispatch).with_state(shared)
}

fn json_response(status: u16, body: Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Fusion's error: ADF JSON when the client accepts it, plain text otherwise.
fn adf_error(headers: &HeaderMap, status: u16, code: &str, detail: &str) -> Response {
    let wants_adf = headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/vnd.oracle.adf.error+json"));
    let code_status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    if wants_adf {
        let body = json!({"title": code_status.canonical_reason().unwrap_or("Error"), "status": status.to_string(),
            "o:errorDetails": [{"detail": detail, "o:errorCode": code}]});
        (
            code_status,
            [("content-type", "application/vnd.oracle.adf.error+json")],
            body.to_string(),
        )
            .into_response()
    } else {
        (
            code_status,
            [("content-type", "text/plain")],
            detail.to_string(),
        )
            .into_response()
    }
}

fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    serde_urlencoded::from_str(uri.query().unwrap_or("")).unwrap_or_default()
}

fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

async fn dispatch(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let response = route(&shared, &method, &uri, &headers, body).await;
    let line = format!(
        "{method} {path}{} {}",
        uri.query().map(|q| format!("?{q}")).unwrap_or_default(),
        response.status().as_u16()
    );
    shared.pod.lock().expect("pod state").log.push(line);
    response
}

async fn route(
    shared: &Arc<Shared>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path();
    if path == "/oauth2/v1/token" && method == Method::POST {
        return token(shared, headers, &body);
    }
    let rest = path
        .strip_prefix(REST_PREFIX)
        .or_else(|| path.strip_prefix("/fscmRestApi/resources/latest"));
    let Some(rest) = rest else {
        return (StatusCode::NOT_FOUND, "Not Found").into_response();
    };
    // Authentication first: a bad token is a 401 with no body worth parsing.
    let authorized = {
        let pod = shared.pod.lock().expect("pod state");
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        match (auth.strip_prefix("Bearer "), auth.strip_prefix("Basic ")) {
            (Some(token), _) => pod.token_valid(token.trim()),
            (_, Some(b64)) => shared.options.basic_user.as_ref().is_some_and(|(u, p)| {
                base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .ok()
                    == Some(format!("{u}:{p}").into_bytes())
            }),
            _ => false,
        }
    };
    if !authorized {
        return (StatusCode::UNAUTHORIZED, [("www-authenticate", "Bearer")]).into_response();
    }
    let is_import = method == Method::POST && rest == "/erpintegrations";
    let fault = shared
        .pod
        .lock()
        .expect("pod state")
        .take_fault(path, is_import);
    match fault {
        Some(PodFault::Status { status, .. }) => {
            return adf_error(
                headers,
                status,
                "SERVICE",
                "The service is temporarily unavailable",
            );
        }
        Some(PodFault::Throttle { retry_after, .. }) => {
            let mut r = adf_error(headers, 429, "THROTTLED", "Too many requests");
            r.headers_mut().insert(
                "retry-after",
                retry_after.to_string().parse().expect("header value"),
            );
            return r;
        }
        Some(PodFault::Delay { millis, .. }) => {
            tokio::time::sleep(Duration::from_millis(millis)).await
        }
        _ => {}
    }
    let lose_response = matches!(fault, Some(PodFault::LoseImportResponse { .. }));
    let malform = match &fault {
        Some(PodFault::Malform { field, value, .. }) => Some((field.as_str(), value.as_ref())),
        _ => None,
    };
    let job_end = match fault {
        Some(PodFault::EndJob { status, .. }) => Some(status),
        _ => None,
    };
    let version: u8 = headers
        .get("rest-framework-version")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(1);
    let q = query_pairs(uri);
    let segments: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    let phase = shared.options.job_phase;
    let cap = shared.options.page_cap;
    let mut pod = shared.pod.lock().expect("pod state");
    pod.advance(phase);
    match (method.as_str(), segments.as_slice()) {
        ("POST", ["erpintegrations"]) => {
            let answer = import_bulk_data(&mut pod, shared, &body, job_end);
            if lose_response {
                return (
                    StatusCode::GATEWAY_TIMEOUT,
                    [("content-type", "text/html")],
                    "<html><body>504 Gateway Time-out</body></html>",
                )
                    .into_response();
            }
            answer
        }
        ("GET", ["erpintegrations"]) => erp_finder(&pod, headers, &q, phase),
        ("GET", ["journalBatches"]) => {
            let conditions = match conditions(param(&q, "q").unwrap_or(""), version) {
                Ok(c) => c,
                Err(e) => return adf_error(headers, 400, "JBO-25002", &e),
            };
            for (field, _, _) in &conditions {
                if ![
                    "BatchName",
                    "Status",
                    "DefaultPeriodName",
                    "JeBatchId",
                    "UserJeSourceName",
                ]
                .contains(&field.as_str())
                {
                    return adf_error(
                        headers,
                        400,
                        "JBO-27024",
                        &format!("{field} is not an attribute of journalBatches"),
                    );
                }
            }
            let items: Vec<Value> = pod
                .batches
                .iter()
                .map(|b| pod.batch_json(b))
                .filter(|item| conditions.iter().all(|c| matches(item, c)))
                .collect();
            collection(items, &q, cap, uri.path(), malform)
        }
        ("GET", ["journalBatches", id, "child", "journalHeaders"]) => {
            let Some(b) = id
                .parse::<u64>()
                .ok()
                .and_then(|id| pod.batches.iter().find(|b| b.id == id))
            else {
                return adf_error(
                    headers,
                    404,
                    "JBO-25020",
                    "The requested journal batch does not exist",
                );
            };
            let conditions = match conditions(param(&q, "q").unwrap_or(""), version) {
                Ok(c) => c,
                Err(e) => return adf_error(headers, 400, "JBO-25002", &e),
            };
            for (field, _, _) in &conditions {
                if ![
                    "JournalName",
                    "LedgerName",
                    "LedgerCurrencyCode",
                    "CurrencyCode",
                    "PeriodName",
                    "UserJeCategoryName",
                    "ExternalReference",
                ]
                .contains(&field.as_str())
                {
                    return adf_error(
                        headers,
                        400,
                        "JBO-27024",
                        &format!("{field} is not an attribute of journalHeaders"),
                    );
                }
            }
            // Each header names the ledger its journal is in (a batch's journals may be in
            // several ledgers in Fusion; here each import is one ledger's).
            let ledger = pod.ledgers.get(&b.ledger_id);
            let base = uri.path().to_string();
            let items: Vec<Value> = b
                .headers
                .iter()
                .map(|h| {
                    let mut item = Pod::header_json(h, ledger);
                    item["links"] = json!([{"rel": "self", "href": format!("{base}/{}", h.id), "name": "journalHeaders", "kind": "item"}]);
                    item
                })
                .filter(|item| conditions.iter().all(|c| matches(item, c)))
                .collect();
            collection(items, &q, cap, uri.path(), malform)
        }
        (
            "GET",
            [
                "journalBatches",
                id,
                "child",
                "journalHeaders",
                hid,
                "child",
                "journalLines",
            ],
        ) => {
            let header = id
                .parse::<u64>()
                .ok()
                .and_then(|id| pod.batches.iter().find(|b| b.id == id))
                .and_then(|b| b.headers.iter().find(|h| h.id == *hid));
            let Some(h) = header else {
                return adf_error(
                    headers,
                    404,
                    "JBO-25020",
                    "The requested journal header does not exist",
                );
            };
            let items: Vec<Value> = h.lines.iter().map(Pod::line_json).collect();
            collection(items, &q, cap, uri.path(), malform)
        }
        ("GET", ["accountingPeriodStatusLOV"]) => {
            let conditions = match conditions(param(&q, "q").unwrap_or(""), version) {
                Ok(c) => c,
                Err(e) => return adf_error(headers, 400, "JBO-25002", &e),
            };
            for (field, _, _) in &conditions {
                if ![
                    "LedgerId",
                    "PeriodNameId",
                    "ApplicationId",
                    "ClosingStatus",
                    "StartDate",
                    "EndDate",
                ]
                .contains(&field.as_str())
                {
                    return adf_error(
                        headers,
                        400,
                        "JBO-27024",
                        &format!(
                            "{field} is not an attribute of accountingPeriodStatusLOV; the period is PeriodNameId"
                        ),
                    );
                }
            }
            // One row per ledger, period and application: another application's rows (set by a
            // test) come before General Ledger's, so a client that forgets ApplicationId=101
            // reads the wrong module's status.
            let mut rows: Vec<Value> = Vec::new();
            for l in pod.ledgers.values() {
                for (name, start, end, status) in &l.periods {
                    let row = |app: u32, status: char| {
                        json!({"PeriodNameId": name, "ApplicationId": app, "LedgerId": l.id, "ClosingStatus": status.to_string(),
                            "StartDate": start.to_string(), "EndDate": end.to_string()})
                    };
                    for (_, _, app, other) in pod
                        .app_periods
                        .iter()
                        .filter(|(ledger, period, _, _)| *ledger == l.id && period == name)
                    {
                        rows.push(row(*app, *other));
                    }
                    rows.push(row(GENERAL_LEDGER, *status));
                }
            }
            let mut items: Vec<Value> = rows
                .into_iter()
                .filter(|item| conditions.iter().all(|c| matches(item, c)))
                .collect();
            if param(&q, "orderBy") == Some("StartDate:asc") {
                items.sort_by(|a, b| a["StartDate"].as_str().cmp(&b["StartDate"].as_str()));
            }
            collection(items, &q, cap, uri.path(), malform)
        }
        ("GET", ["ledgersLOV"]) => {
            let items: Vec<Value> = pod
                .ledgers
                .values()
                .map(|l| json!({"LedgerId": l.id, "Name": l.name, "Description": l.name, "CurrencyCode": l.currency,
                    "ChartOfAccountsId": 101, "PeriodSetName": "Accounting", "AccountedPeriodType": "Month"}))
                .collect();
            collection(items, &q, cap, uri.path(), malform)
        }
        _ => adf_error(
            headers,
            404,
            "JBO-25058",
            &format!("Resource {rest} not found"),
        ),
    }
}

/// `POST /oauth2/v1/token`: client credentials, Basic client authentication.
fn token(shared: &Arc<Shared>, headers: &HeaderMap, body: &Bytes) -> Response {
    let options = &shared.options;
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let client_ok = auth
        .strip_prefix("Basic ")
        .and_then(|b64| {
            base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .ok()
        })
        .is_some_and(|raw| {
            raw == format!("{}:{}", options.client_id, options.client_secret).into_bytes()
        });
    if !client_ok {
        return json_response(
            401,
            json!({"error": "invalid_client", "error_description": "Client authentication failed."}),
        );
    }
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    if !form
        .iter()
        .any(|(k, v)| k == "grant_type" && v == "client_credentials")
    {
        return json_response(
            400,
            json!({"error": "unsupported_grant_type", "error_description": "Only client_credentials is allowed here."}),
        );
    }
    if !form.iter().any(|(k, v)| k == "scope" && !v.is_empty()) {
        return json_response(
            400,
            json!({"error": "invalid_scope", "error_description": "A scope is required."}),
        );
    }
    let token = shared
        .pod
        .lock()
        .expect("pod state")
        .issue_token(options.token_lifetime);
    json_response(
        200,
        json!({"access_token": token, "token_type": "Bearer", "expires_in": options.token_lifetime.as_secs()}),
    )
}

fn unzip_csv(zip_bytes: &[u8]) -> Result<String, String> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes))
        .map_err(|e| format!("the document is not a zip: {e}"))?;
    let mut file = archive
        .by_name("GlInterface.csv")
        .map_err(|_| "the zip has no GlInterface.csv".to_string())?;
    let mut text = String::new();
    file.read_to_string(&mut text)
        .map_err(|e| format!("GlInterface.csv is not UTF-8 text: {e}"))?;
    Ok(text)
}

/// `importBulkData`: `ReqstId` `-1` for what Fusion refuses outright, otherwise a job whose
/// outcome is Journal Import's verdict on the file.
fn import_bulk_data(
    pod: &mut Pod,
    shared: &Arc<Shared>,
    body: &Bytes,
    end: Option<JobEnd>,
) -> Response {
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return json_response(400, json!({"title": "Bad Request", "status": "400"}));
    };
    let mut echo = req.clone();
    echo["DocumentContent"] = Value::Null;
    let refuse = |mut echo: Value| {
        echo["ReqstId"] = json!("-1");
        json_response(200, echo)
    };
    if req["OperationName"] != "importBulkData" {
        return refuse(echo);
    }
    let account = req["DocumentAccount"].as_str().unwrap_or("");
    if req["JobName"] != shared.options.job_name.as_str()
        || !pod.privileged
        || !["fin$/generalLedger$/import$", "fin$/journal$/import$"].contains(&account)
    {
        return refuse(echo);
    }
    let params = parse_parameters(req["ParameterList"].as_str().unwrap_or(""));
    let outcome = (|| {
        let params = params.as_ref().map_err(Clone::clone)?;
        let zip_bytes = base64::engine::general_purpose::STANDARD
            .decode(req["DocumentContent"].as_str().unwrap_or(""))
            .map_err(|_| "DocumentContent is not base64".to_string())?;
        let rows = parse_csv(&unzip_csv(&zip_bytes)?)?;
        let ledger = pod
            .ledgers
            .get(&params.ledger_id)
            .ok_or_else(|| format!("ledger {} does not exist", params.ledger_id))?;
        if params.data_access_set != "#NULL" && params.data_access_set.parse::<u64>().is_err() {
            return Err(format!(
                "ParameterList argument 1 {:?} is neither a data access set id nor #NULL",
                params.data_access_set
            ));
        }
        let rules = Rules {
            ledger,
            segments: &pod.segments,
            sources: &pod.sources,
            categories: &pod.categories,
            rates: &pod.rates,
        };
        Ok::<Outcome, String>(import(&rows, params, &rules))
    })();
    let ledger_id = params.as_ref().ok().map(|p| p.ledger_id);
    let group = params.map(|p| p.group_id).unwrap_or_default();
    let id = pod.submit(group, ledger_id, outcome, end);
    echo["ReqstId"] = json!(id.to_string());
    json_response(201, echo)
}

fn zip_text(name: &str, text: &str) -> String {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file(name, zip::write::SimpleFileOptions::default())
        .expect("zip entry");
    w.write_all(text.as_bytes()).expect("zip write");
    let bytes = w.finish().expect("zip finish").into_inner();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `GET erpintegrations?finder=…`: job status and job log.
fn erp_finder(pod: &Pod, headers: &HeaderMap, q: &[(String, String)], phase: Duration) -> Response {
    let finder = param(q, "finder").unwrap_or("");
    let (name, vars) = finder.split_once(';').unwrap_or((finder, ""));
    let var = |key: &str| {
        vars.split(',').find_map(|kv| {
            kv.split_once('=')
                .filter(|(k, _)| k.trim() == key)
                .map(|(_, v)| v.trim().to_string())
        })
    };
    let Some(request_id) = var("requestId").and_then(|r| r.parse::<u64>().ok()) else {
        return adf_error(
            headers,
            400,
            "JBO-27023",
            "The finder needs requestId=<number>",
        );
    };
    match name {
        "ESSJobStatusRF" => {
            let items = match pod.job_status(request_id, phase) {
                Some(status) => {
                    vec![json!({"ReqstId": request_id.to_string(), "RequestStatus": status})]
                }
                None => Vec::new(),
            };
            json_response(
                200,
                json!({"items": items, "count": items.len(), "hasMore": false, "limit": 25, "offset": 0}),
            )
        }
        "ESSJobExecutionDetailsRF" => {
            let Some(job) = pod.jobs.get(&request_id) else {
                return json_response(200, json!({"items": [], "count": 0, "hasMore": false}));
            };
            let log = if job.finished {
                job.log.clone()
            } else {
                format!("Request {request_id} is still running\n")
            };
            let item = json!({"ReqstId": request_id.to_string(), "FileType": var("fileType").unwrap_or_else(|| "log".into()),
                "DocumentContent": zip_text(&format!("{request_id}.log"), &log)});
            json_response(200, json!({"items": [item], "count": 1, "hasMore": false}))
        }
        other => adf_error(
            headers,
            400,
            "JBO-27023",
            &format!("Unknown finder {other}"),
        ),
    }
}

/// `(field, operator, value)` from `q`. Framework version 1 only knows `Field=value`
/// (query by example); expressions (`LIKE`, `<=`…) need version 2 or later.
fn conditions(q: &str, version: u8) -> Result<Vec<(String, String, String)>, String> {
    let mut out = Vec::new();
    for part in q
        .split(';')
        .flat_map(|p| p.split(" and "))
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let op = [" LIKE ", "<=", ">=", "!=", "=", "<", ">"]
            .into_iter()
            .find(|op| part.contains(op))
            .ok_or_else(|| format!("Cannot parse the condition {part:?}"))?;
        let (field, value) = part.split_once(op).expect("operator found");
        if version < 2 && op != "=" {
            return Err(format!(
                "The q expression {part:?} needs REST-Framework-Version 2 or later; version {version} supports Field=value only"
            ));
        }
        let value = value.trim().trim_matches('\'').to_string();
        out.push((field.trim().to_string(), op.trim().to_string(), value));
    }
    Ok(out)
}

fn matches(item: &Value, (field, op, value): &(String, String, String)) -> bool {
    let actual = match &item[field.as_str()] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    match op.as_str() {
        "=" => actual == *value,
        "!=" => actual != *value,
        "LIKE" => {
            let pattern = value.replace('%', "*");
            match pattern.split_once('*') {
                Some((prefix, "")) => actual.starts_with(prefix),
                _ => actual == *value,
            }
        }
        "<=" => actual.as_str() <= value.as_str(),
        ">=" => actual.as_str() >= value.as_str(),
        "<" => actual.as_str() < value.as_str(),
        ">" => actual.as_str() > value.as_str(),
        _ => false,
    }
}

/// A field to spoil in every item of an answer (`PodFault::Malform`): its new value, or none.
type Malformed<'f> = Option<(&'f str, Option<&'f Value>)>;

/// A Fusion collection page; the server caps `limit` at its own page size.
fn collection(
    items: Vec<Value>,
    q: &[(String, String)],
    cap: usize,
    path: &str,
    malform: Malformed<'_>,
) -> Response {
    let limit = param(q, "limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(25)
        .clamp(1, cap);
    let offset = param(q, "offset")
        .and_then(|o| o.parse::<usize>().ok())
        .unwrap_or(0);
    let only_data = param(q, "onlyData") == Some("true");
    let total = items.len();
    let page: Vec<Value> = items
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|mut item| {
            if only_data {
                if let Some(o) = item.as_object_mut() {
                    o.remove("links");
                }
            } else if item.get("links").is_none() {
                item["links"] = json!([{"rel": "self", "href": path}]);
            }
            if let (Some((field, value)), Some(o)) = (malform, item.as_object_mut()) {
                match value {
                    Some(v) => o.insert(field.to_string(), v.clone()),
                    None => o.remove(field),
                };
            }
            item
        })
        .collect();
    let count = page.len();
    let mut body = json!({"items": page, "count": count, "hasMore": offset + count < total, "limit": limit, "offset": offset});
    if param(q, "totalResults") == Some("true") {
        body["totalResults"] = json!(total);
    }
    json_response(200, body)
}
