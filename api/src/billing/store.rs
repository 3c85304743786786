//! Queries on subscriptions.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::subscriptions;
use crate::ids::CompanyId;

/// Every company starts on FREE, with an ACTIVE subscription row that the billing flow later upgrades.
pub fn create_free_subscription(conn: &mut DbConn, company: &CompanyId, now: NaiveDateTime) -> QueryResult<()> {
    diesel::insert_into(subscriptions::table)
        .values((
            subscriptions::id.eq(uuid::Uuid::now_v7().to_string()),
            subscriptions::company_id.eq(company.as_str()),
            subscriptions::tier_code.eq("FREE"),
            subscriptions::status.eq("ACTIVE"),
            subscriptions::created_at.eq(now),
            subscriptions::updated_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}
