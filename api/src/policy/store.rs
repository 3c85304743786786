//! Queries on policies.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::{Policy, PolicySettings};
use crate::db::DbConn;
use crate::db::schema::policies;
use crate::ids::CompanyId;

fn to_policy((version, settings, updated_at): (i64, String, NaiveDateTime)) -> Policy {
    Policy { version, settings: serde_json::from_str(&settings).unwrap_or_default(), updated_at: updated_at.and_utc() }
}

/// Every company gets the default policy at sign-up.
pub fn insert_default(conn: &mut DbConn, company: &CompanyId, now: NaiveDateTime) -> QueryResult<()> {
    let settings = serde_json::to_string(&PolicySettings::default()).unwrap_or_default();
    diesel::insert_into(policies::table)
        .values((
            policies::company_id.eq(company.as_str()),
            policies::version.eq(1_i64),
            policies::settings.eq(settings),
            policies::updated_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

pub fn find(conn: &mut DbConn, company: &CompanyId) -> QueryResult<Policy> {
    policies::table
        .find(company.as_str())
        .select((policies::version, policies::settings, policies::updated_at))
        .first(conn)
        .map(to_policy)
}

/// Only the version, for the heartbeat's "unchanged" answer.
pub fn find_version(conn: &mut DbConn, company: &CompanyId) -> QueryResult<i64> {
    policies::table.find(company.as_str()).select(policies::version).first(conn)
}

/// Stores new settings with the next version and returns it.
pub fn replace(
    conn: &mut DbConn,
    company: &CompanyId,
    settings: &PolicySettings,
    now: NaiveDateTime,
) -> QueryResult<Policy> {
    let json = serde_json::to_string(settings).unwrap_or_default();
    diesel::update(policies::table.find(company.as_str()))
        .set((policies::version.eq(policies::version + 1), policies::settings.eq(json), policies::updated_at.eq(now)))
        .execute(conn)?;
    find(conn, company)
}
