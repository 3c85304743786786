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
            let kept_days = crate::billing::retention::reconcile(conn, company, hold_days, now)?;
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

/// Deletes the blobs of deleted screenshots; one that fails stays queued for the next sweep.
async fn delete_queued_blobs(pool: &DbPool, blobs: &BlobStore) -> Result<usize, ApiError> {
    let mut deleted = 0;
    loop {
        let keys = db::run(pool, |conn| Ok(crate::screenshots::store::queued_blob_deletions(conn, 500)?)).await?;
        let batch = keys.len();
        for key in keys {
            match blobs.delete(&key).await {
                Ok(()) => {
                    let forgotten = key.clone();
                    db::run(pool, move |conn| Ok(crate::screenshots::store::forget_blob_deletion(conn, &forgotten)?))
                        .await?;
                    deleted += 1;
                }
                Err(error) => {
                    log::warn!("could not delete blob {key}: {error:#}; it stays queued");
                    return Ok(deleted);
                }
            }
        }
        if batch < 500 {
            return Ok(deleted);
        }
    }
}
