//! Taking activity batches from agents and reading an employee's day.

use std::collections::{HashMap, HashSet};

use chrono::{Duration, NaiveDateTime, Utc};

use super::model::{
    ActivityBatch, ActivityReceipt, ActivityRecordInput, ActivityRow, ActivityState, DayActivity, DayQuery, TimeShare,
};
use super::store;
use crate::agents::service::AgentIdentity;
use crate::billing::model::Tier;
use crate::db::{DbConn, now, write_transaction};
use crate::error::{ApiError, FieldErrors};
use crate::ids::{CompanyId, EmployeeId};

/// Clock skew tolerated on agents' timestamps.
const MAX_CLOCK_SKEW: Duration = Duration::minutes(5);
/// The longest span a record may describe.
const MAX_SPAN: Duration = Duration::hours(24);
/// What a record costs in storage besides its text: ids, times, and index entries.
const RECORD_OVERHEAD_BYTES: i64 = 160;
/// The most spans a day's timeline lists.
const MAX_TIMELINE_SPANS: usize = 2000;
const TOP_ENTRIES: usize = 10;

/// Stores a batch in one transaction: records seen before are skipped, URLs are dropped when website
/// tracking is off, and the new bytes are counted against the plan's storage (all or nothing).
pub fn ingest(conn: &mut DbConn, agent: &AgentIdentity, batch: &ActivityBatch) -> Result<ActivityReceipt, ApiError> {
    write_transaction(conn, |conn| {
        let tier = crate::billing::service::effective_tier(conn, &agent.company)?;
        let policy = crate::policy::store::find(conn, &agent.company)?;
        if !policy.settings.activity_tracking_enabled {
            return Err(ApiError::Refused {
                code: "activity_tracking_disabled",
                detail: "The company's policy has activity tracking turned off; nothing was stored.".to_owned(),
            });
        }
        check_times(&batch.records, &tier, Utc::now())?;
        let keep_urls = policy.settings.website_tracking_enabled && tier.features.website_tracking;
        let received_at = now();
        let rows: Vec<ActivityRow> =
            batch.records.iter().map(|record| row(agent, record, keep_urls, received_at)).collect();
        let stored_sizes = store::insert_new(conn, &rows)?;
        crate::storage::meter::reserve(conn, &agent.company, &tier, stored_sizes.iter().sum())?;
        Ok(ActivityReceipt {
            stored: stored_sizes.len(),
            duplicates: rows.len() - stored_sizes.len(),
            urls_dropped: if keep_urls { 0 } else { batch.records.iter().filter(|r| r.url.is_some()).count() },
            policy_version: policy.version,
        })
    })
}

fn row(agent: &AgentIdentity, record: &ActivityRecordInput, keep_url: bool, received_at: NaiveDateTime) -> ActivityRow {
    let url = record.url.clone().filter(|_| keep_url);
    let text_bytes = record.application.len()
        + record.window_title.as_ref().map_or(0, String::len)
        + url.as_ref().map_or(0, String::len)
        + record.id.len();
    ActivityRow {
        id: uuid::Uuid::now_v7().to_string(),
        company_id: agent.company.to_string(),
        agent_id: agent.agent.to_string(),
        employee_id: agent.employee.as_ref().map(ToString::to_string),
        client_id: record.id.clone(),
        state: record.state.as_str().to_owned(),
        application: record.application.clone(),
        window_title: record.window_title.clone(),
        url,
        started_at: crate::db::truncate_micros(record.started_at.naive_utc()),
        ended_at: crate::db::truncate_micros(record.ended_at.naive_utc()),
        size_bytes: RECORD_OVERHEAD_BYTES + i64::try_from(text_bytes).unwrap_or(i64::MAX / 2),
        received_at,
    }
}

/// Times must be sane: spans end after they start, last at most a day, are not in the future, are no older
/// than the plan keeps data, and come in order; ids are not repeated within the batch.
fn check_times(records: &[ActivityRecordInput], tier: &Tier, now: chrono::DateTime<Utc>) -> Result<(), ApiError> {
    let oldest = now - Duration::days(tier.retention_days);
    let mut errors = FieldErrors::new();
    let mut seen = HashSet::new();
    let mut add = |index: usize, field: &str, message: String| {
        errors.entry(format!("records[{index}].{field}")).or_default().push(message);
    };
    for (index, record) in records.iter().enumerate() {
        if !seen.insert(record.id.as_str()) {
            add(index, "id", "is repeated in this batch".to_owned());
        }
        if record.ended_at < record.started_at {
            add(index, "ended_at", "must not be before started_at".to_owned());
        } else if record.ended_at - record.started_at > MAX_SPAN {
            add(index, "ended_at", "a span must not last more than 24 hours".to_owned());
        }
        if record.ended_at > now + MAX_CLOCK_SKEW {
            add(index, "ended_at", "must not be in the future".to_owned());
        }
        if record.started_at < oldest {
            add(index, "started_at", format!("is older than the {} days the plan keeps data", tier.retention_days));
        }
        if index > 0 && record.started_at < records[index - 1].started_at {
            add(index, "started_at", "records must be ordered by started_at".to_owned());
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(ApiError::Validation(errors)) }
}

/// An employee's day: spans clipped to the day, active and idle totals, and where the active time went.
pub fn day(
    conn: &mut DbConn,
    company: &CompanyId,
    employee: &EmployeeId,
    query: &DayQuery,
) -> Result<DayActivity, ApiError> {
    crate::employees::service::get(conn, company, employee)?;
    // The extractor has bounded the offset to ±14 h and the day to 1970–9999, so this arithmetic cannot
    // overflow.
    let offset = Duration::minutes(i64::from(query.utc_offset_minutes.unwrap_or(0)));
    let date = query.date.map_or_else(|| (Utc::now() + offset).date_naive(), crate::http::bounds::Day::date);
    let from = date.and_hms_opt(0, 0, 0).unwrap_or_default() - offset;
    let to = from + Duration::days(1);
    let rows = store::overlapping(conn, company, employee, from, to)?;
    let mut active_secs = 0;
    let mut idle_secs = 0;
    let mut applications: HashMap<&str, i64> = HashMap::new();
    let mut sites: HashMap<String, i64> = HashMap::new();
    for row in &rows {
        let secs = (row.ended_at.min(to) - row.started_at.max(from)).num_seconds().max(0);
        match row.state() {
            ActivityState::Idle => idle_secs += secs,
            ActivityState::Active => {
                active_secs += secs;
                *applications.entry(&row.application).or_default() += secs;
                if let Some(host) =
                    row.url.as_deref().and_then(|url| url::Url::parse(url).ok()?.host_str().map(str::to_owned))
                {
                    *sites.entry(host).or_default() += secs;
                }
            }
        }
    }
    Ok(DayActivity {
        employee_id: employee.clone(),
        date,
        from: from.and_utc(),
        to: to.and_utc(),
        active_secs,
        idle_secs,
        top_applications: top(applications.into_iter().map(|(name, secs)| (name.to_owned(), secs))),
        top_sites: top(sites.into_iter()),
        truncated: rows.len() > MAX_TIMELINE_SPANS,
        records: rows.iter().take(MAX_TIMELINE_SPANS).map(|row| row.span(from, to)).collect(),
    })
}

fn top(shares: impl Iterator<Item = (String, i64)>) -> Vec<TimeShare> {
    let mut shares: Vec<TimeShare> = shares.map(|(name, active_secs)| TimeShare { name, active_secs }).collect();
    shares.sort_by(|a, b| b.active_secs.cmp(&a.active_secs).then_with(|| a.name.cmp(&b.name)));
    shares.truncate(TOP_ENTRIES);
    shares
}
