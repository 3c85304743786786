//! Deleting what the plan no longer keeps: activity and screenshots older than the retention in force (the
//! effective tier's, or the longer one held after it shortened: `billing::retention`), blobs included, with the metered bytes updated in the same transaction. Safe when several
//! instances sweep at once: each row is deleted by one `DELETE … RETURNING`, so its bytes are released once;
//! a blob is deleted after the row's transaction commits, from a queue, so a crash leaves a blob to retry
//! and never a row that points at nothing.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::audit::model::{AuditActor, AuditEvent};
use crate::db::schema::companies;
use crate::db::{self, DbConn, DbPool, write_transaction};
use crate::error::ApiError;
use crate::ids::CompanyId;
use crate::screenshots::store;
use crate::storage::blobs::BlobStore;

/// Rows deleted per transaction, so a sweep never holds a company's row for long.
const BATCH: i64 = 1000;

/// What one sweep deleted.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RetentionReport {
    pub activity_records: usize,
    pub screenshots: usize,
    pub bytes: i64,
    pub blobs_deleted: usize,
    /// Events, delivery attempts and finished outbox rows past the 30 days they are kept, and idempotency
    /// keys past their 24 hours.
    pub integration_records: usize,
}

/// Runs the sweep once over every company; `hold_days` is how long a shortened retention is held off.
pub async fn sweep(pool: &DbPool, blobs: &BlobStore, hold_days: i64) -> Result<RetentionReport, ApiError> {
    let mut report = db::run(pool, move |conn| {
        let companies: Vec<String> = companies::table.select(companies::id).load(conn)?;
        let mut report = RetentionReport::default();
        for company in companies {
            purge_company(conn, &CompanyId::from_db(company), hold_days, crate::db::now(), &mut report)?;
        }
        Ok(report)
    })
    .await?;
    report.blobs_deleted = delete_queued_blobs(pool, blobs).await?;
    report.integration_records = db::run(pool, |conn| {
        Ok(crate::webhooks::service::forget_old(conn, BATCH)? + crate::http::idempotency::forget_expired(conn, BATCH)?)
    })
    .await?;
    Ok(report)
}

/// Sweeps forever, every `interval`; started by each instance.
pub async fn run_forever(pool: DbPool, blobs: BlobStore, interval: std::time::Duration, hold_days: i64) {
    let mut ticker = tokio::time::interval(interval);
    loop {
        ticker.tick().await;
        match sweep(&pool, &blobs, hold_days).await {
            Ok(report) if report != RetentionReport::default() => log::info!("retention sweep: {report:?}"),
            Ok(_) => {}
            Err(error) => log::warn!("retention sweep failed: {error}"),
        }
    }
}

/// Deletes one company's expired data in batches, each batch one transaction that also releases its bytes.
fn purge_company(
    conn: &mut DbConn,
    company: &CompanyId,
    hold_days: i64,
    now: NaiveDateTime,
    report: &mut RetentionReport,
) -> Result<(), ApiError> {
    loop {
        let (activity, screenshots) = write_transaction(conn, |conn| {
            crate::db::lock_company(conn, company)?;
            let tier = crate::billing::service::effective_tier(conn, company)?;
            let kept_days = crate::billing::retention::reconcile(conn, company, &tier, hold_days, now)?;
            let cutoff = now - Duration::days(kept_days);
            let (activity, activity_bytes) = crate::activity::store::delete_older_than(conn, company, cutoff, BATCH)?;
            let (screenshots, screenshot_bytes) =
                crate::screenshots::store::delete_older_than(conn, company, cutoff, BATCH, now)?;
            let bytes = activity_bytes + screenshot_bytes;
            if activity + screenshots > 0 {
                crate::storage::meter::release(conn, company, &tier, bytes)?;
                crate::audit::record(
                    conn,
                    &AuditActor::system(company, "retention"),
                    AuditEvent::new("data.retention_purged").details(serde_json::json!({
                        "activity_records": activity,
                        "screenshots": screenshots,
                        "bytes": bytes,
                        "retention_days": kept_days,
                        "older_than": cutoff.and_utc(),
                    })),
                )?;
                report.bytes += bytes;
            }
            Ok::<_, ApiError>((activity, screenshots))
        })?;
        report.activity_records += activity;
        report.screenshots += screenshots;
        if i64::try_from(activity.max(screenshots)).unwrap_or(BATCH) < BATCH {
            return Ok(());
        }
    }
}

/// Failures after which a blob deletion is parked for an operator instead of retried.
pub const MAX_DELETION_ATTEMPTS: i32 = 10;
/// Keys fetched per round of the deletion queue.
const DELETION_BATCH: i64 = 500;

/// Deletes the blobs of deleted screenshots, each key on its own schedule: a key that fails is retried
/// later with a growing backoff and parked after [`MAX_DELETION_ATTEMPTS`] failures, so one undeletable
/// key never holds up the keys queued after it.
async fn delete_queued_blobs(pool: &DbPool, blobs: &BlobStore) -> Result<usize, ApiError> {
    let mut deleted = 0;
    loop {
        let now = db::now();
        let due = db::run(pool, move |conn| Ok(store::due_blob_deletions(conn, now, DELETION_BATCH)?)).await?;
        let batch = due.len();
        for entry in due {
            let outcome = if entry.only_if_unreferenced && is_referenced(pool, &entry.object_key).await? {
                // The row was committed after all: the blob is in use and stays.
                Ok(false)
            } else {
                blobs.delete(&entry.object_key).await.map(|()| true)
            };
            let key = entry.object_key.clone();
            match outcome {
                Ok(removed) => {
                    db::run(pool, move |conn| Ok(store::forget_blob_deletion(conn, &key)?)).await?;
                    deleted += usize::from(removed);
                }
                Err(error) => {
                    let attempts = entry.attempts + 1;
                    let message = format!("{error:#}");
                    if attempts >= MAX_DELETION_ATTEMPTS {
                        log::error!(
                            "blob {key} could not be deleted in {attempts} attempts; parked \
                             (vigil_blob_deletions_parked): {message}"
                        );
                    } else {
                        log::warn!("could not delete blob {key} (attempt {attempts}); retrying later: {message}");
                    }
                    let failure = store::DeletionFailure {
                        attempts,
                        next_attempt_at: now + retry_delay(attempts),
                        parked_at: (attempts >= MAX_DELETION_ATTEMPTS).then_some(now),
                        error: message,
                    };
                    db::run(pool, move |conn| Ok(store::record_blob_deletion_failure(conn, &key, &failure)?)).await?;
                }
            }
        }
        if i64::try_from(batch).unwrap_or(DELETION_BATCH) < DELETION_BATCH {
            return Ok(deleted);
        }
    }
}

async fn is_referenced(pool: &DbPool, key: &str) -> Result<bool, ApiError> {
    let key = key.to_owned();
    db::run(pool, move |conn| Ok(store::blob_is_referenced(conn, &key)?)).await
}

/// One minute after the first failure, doubling up to a day: ten failures span about seventeen hours.
fn retry_delay(attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.clamp(1, 11) - 1).unwrap_or(0);
    Duration::minutes(2_i64.pow(exponent)).min(Duration::days(1))
}

/// How many blob deletions are parked, for the `vigil_blob_deletions_parked` gauge.
pub fn parked_deletions(conn: &mut DbConn) -> Result<i64, ApiError> {
    Ok(store::parked_blob_deletions(conn)?)
}
