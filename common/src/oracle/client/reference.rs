//! Reference data: General Ledger's periods of a ledger (`accountingPeriodStatusLOV`, cached a
//! while: every journal asks) and the ledgers the integration user sees (`ledgersLOV`).

use std::time::{Duration, Instant};

use chrono::NaiveDate;

use super::answers::{LedgerItem, PeriodItem};
use super::{FusionClient, q_value};
use crate::oracle::error::OracleError;
use crate::oracle::models::{LedgerRecord, Period, PeriodState};

/// How long a period lookup stays cached.
const PERIOD_TTL: Duration = Duration::from_secs(600);
/// The resource of General Ledger's period statuses.
const PERIODS: &str = "accountingPeriodStatusLOV";

/// A period lookup and when it was made.
pub(super) type CachedPeriod = (Instant, Option<Period>);

impl From<PeriodItem> for Period {
    fn from(item: PeriodItem) -> Self {
        Period {
            name: item.name,
            state: PeriodState::parse(&item.closing_status),
            start: item.start,
            end: item.end,
        }
    }
}

/// The ledger's period containing `date`: by name when the ledger has a naming pattern (the key
/// is `PeriodNameId`; `PeriodName` is rejected), otherwise by dates.
pub(super) async fn period_for_date(
    client: &FusionClient,
    ledger_id: u64,
    date: NaiveDate,
) -> Result<Option<Period>, OracleError> {
    let name = client
        .ledger(ledger_id)
        .and_then(|l| l.period_name_format.as_ref())
        .map(|f| date.format(f).to_string());
    let key = (ledger_id, name.clone().unwrap_or_else(|| date.to_string()));
    if let Some((at, p)) = client.periods.lock().expect("period cache").get(&key)
        && at.elapsed() < PERIOD_TTL
    {
        return Ok(p.clone());
    }
    let q = match &name {
        Some(n) => format!(
            "LedgerId={ledger_id};PeriodNameId={};ApplicationId=101",
            q_value(n)?
        ),
        None => {
            format!("LedgerId={ledger_id};ApplicationId=101;StartDate<='{date}';EndDate>='{date}'")
        }
    };
    let items: Vec<PeriodItem> = client
        .transport
        .get_all(PERIODS, &[("q", q), ("onlyData", "true".into())])
        .await?;
    let period = items
        .into_iter()
        .map(Period::from)
        .find(|p| p.start <= date && date <= p.end);
    client
        .periods
        .lock()
        .expect("period cache")
        .insert(key, (Instant::now(), period.clone()));
    Ok(period)
}

/// The first open period starting after `after`.
pub(super) async fn next_open_period(
    client: &FusionClient,
    ledger_id: u64,
    after: NaiveDate,
) -> Result<Option<Period>, OracleError> {
    let q = format!("LedgerId={ledger_id};ApplicationId=101;ClosingStatus='O';StartDate>'{after}'");
    let items: Vec<PeriodItem> = client
        .transport
        .get_all(
            PERIODS,
            &[
                ("q", q),
                ("orderBy", "StartDate:asc".into()),
                ("onlyData", "true".into()),
            ],
        )
        .await?;
    Ok(items
        .into_iter()
        .map(Period::from)
        .filter(|p| p.state == PeriodState::Open && p.start > after)
        .min_by_key(|p| p.start))
}

/// The ledgers the integration user can see.
pub(super) async fn ledgers(client: &FusionClient) -> Result<Vec<LedgerRecord>, OracleError> {
    let items: Vec<LedgerItem> = client
        .transport
        .get_all("ledgersLOV", &[("onlyData", "true".into())])
        .await?;
    Ok(items
        .into_iter()
        .map(|l| LedgerRecord {
            id: l.id,
            name: l.name,
            currency: l.currency,
        })
        .collect())
}
