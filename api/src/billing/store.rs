//! Queries on tiers and subscriptions.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::{TierCode, TierRow};
use crate::db::DbConn;
use crate::db::schema::{subscriptions, tiers};
use crate::ids::CompanyId;

/// Every company starts on FREE, with an ACTIVE subscription row that the billing flow later upgrades.
pub fn create_free_subscription(conn: &mut DbConn, company: &CompanyId, now: NaiveDateTime) -> QueryResult<()> {
    diesel::insert_into(subscriptions::table)
        .values((
            subscriptions::id.eq(uuid::Uuid::now_v7().to_string()),
            subscriptions::company_id.eq(company.as_str()),
            subscriptions::tier_code.eq(TierCode::Free.as_str()),
            subscriptions::status.eq("ACTIVE"),
            subscriptions::created_at.eq(now),
            subscriptions::updated_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

pub fn list_tiers(conn: &mut DbConn) -> QueryResult<Vec<TierRow>> {
    tiers::table.order(tiers::display_order.asc()).select(TierRow::as_select()).load(conn)
}

pub fn find_tier(conn: &mut DbConn, code: TierCode) -> QueryResult<TierRow> {
    tiers::table.find(code.as_str()).select(TierRow::as_select()).first(conn)
}

/// The company's subscribed tier and the subscription's status.
pub fn subscription_tier(conn: &mut DbConn, company: &CompanyId) -> QueryResult<Option<(String, String)>> {
    subscriptions::table
        .filter(subscriptions::company_id.eq(company.as_str()))
        .select((subscriptions::tier_code, subscriptions::status))
        .first(conn)
        .optional()
}
