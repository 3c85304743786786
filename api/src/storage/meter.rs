//! Each company's stored bytes, kept in `companies.storage_bytes` by the same transactions that add or
//! remove data, so the limit check is one conditional update and the dashboard reads one row.

use diesel::{ExpressionMethods, OptionalExtension, QueryDsl, RunQueryDsl};

use crate::billing::model::{LimitKind, Tier};
use crate::billing::usage;
use crate::db::DbConn;
use crate::db::schema::companies;
use crate::error::ApiError;
use crate::ids::CompanyId;

/// Counts `bytes` more against the company's storage, or refuses with `storage_limit_reached` (changing
/// nothing) when that would pass the limit of `tier`. Call inside the transaction that stores the data:
/// the conditional update holds the company's row until commit, so concurrent uploads cannot both slip
/// under the limit. Crossing 80% raises USAGE_HIGH.
pub fn reserve(conn: &mut DbConn, company: &CompanyId, tier: &Tier, bytes: i64) -> Result<(), ApiError> {
    if bytes == 0 {
        return Ok(());
    }
    let limit = LimitKind::MaxStorageGb.of(tier);
    let row = companies::table.filter(companies::id.eq(company.as_str()));
    let grow = companies::storage_bytes.eq(companies::storage_bytes + bytes);
    let after: Option<i64> = match limit {
        Some(limit) => diesel::update(row.filter((companies::storage_bytes + bytes).le(limit)))
            .set(grow)
            .returning(companies::storage_bytes)
            .get_result(conn)
            .optional()?,
        None => Some(diesel::update(row).set(grow).returning(companies::storage_bytes).get_result(conn)?),
    };
    let Some(after) = after else {
        let used = usage::stored_bytes(conn, company)?;
        usage::check_limit(conn, tier, LimitKind::MaxStorageGb, used, bytes)?;
        // The limit moved between the two statements (a plan change committed); ask the client to retry.
        return Err(ApiError::Conflict {
            code: "storage_changed",
            detail: "The company's storage changed while this upload was counted; send it again.".to_owned(),
        });
    };
    if crosses_usage_threshold(after - bytes, after, limit) {
        usage::check_current_usage(conn, company, tier)?;
    }
    Ok(())
}

/// Counts `bytes` less (data deleted); falling back under 80% resolves USAGE_HIGH.
pub fn release(conn: &mut DbConn, company: &CompanyId, tier: &Tier, bytes: i64) -> Result<(), ApiError> {
    if bytes == 0 {
        return Ok(());
    }
    let after: i64 = diesel::update(companies::table.filter(companies::id.eq(company.as_str())))
        .set(companies::storage_bytes.eq(companies::storage_bytes - bytes))
        .returning(companies::storage_bytes)
        .get_result(conn)?;
    if crosses_usage_threshold(after, after + bytes, LimitKind::MaxStorageGb.of(tier)) {
        usage::check_current_usage(conn, company, tier)?;
    }
    Ok(())
}

/// Whether going from `low` to `high` bytes passes the USAGE_HIGH threshold of `limit`, so the alert
/// check runs only when its answer can change, not on every upload.
fn crosses_usage_threshold(low: i64, high: i64, limit: Option<i64>) -> bool {
    let Some(limit) = limit.filter(|limit| *limit > 0) else { return false };
    let percent = |bytes: i64| bytes.saturating_mul(100) / limit;
    let threshold = usage::USAGE_HIGH_PERCENT;
    percent(low) < threshold && percent(high) >= threshold
}

#[cfg(test)]
mod tests {
    use super::crosses_usage_threshold;

    #[test]
    fn the_alert_check_runs_only_when_eighty_percent_is_crossed() {
        assert!(crosses_usage_threshold(79, 80, Some(100)));
        assert!(crosses_usage_threshold(0, 100, Some(100)));
        assert!(!crosses_usage_threshold(80, 95, Some(100)));
        assert!(!crosses_usage_threshold(10, 79, Some(100)));
        assert!(!crosses_usage_threshold(0, 1_000, None));
    }
}
