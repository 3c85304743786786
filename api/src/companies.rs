//! The company itself, the tenant every other row belongs to: its one row, read by sign-up, settings and
//! billing alike. It sits below them all, so that billing can read the company without importing accounts.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::companies;
use crate::ids::CompanyId;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = companies)]
pub struct CompanyRow {
    pub id: String,
    pub name: String,
    pub billing_email: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub stripe_customer_id: Option<String>,
    pub tax_id_type: Option<String>,
    pub tax_id_value: Option<String>,
    pub stripe_tax_id: Option<String>,
}

pub fn find_company(conn: &mut DbConn, company: &CompanyId) -> QueryResult<CompanyRow> {
    companies::table.find(company.as_str()).select(CompanyRow::as_select()).first(conn)
}
