//! Queries on employees. Every function takes the company whose employees it touches.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::{EmployeeChanges, EmployeeFilter, EmployeeRow};
use crate::db::schema::employees;
use crate::db::{DbConn, contains_pattern, lower};
use crate::http::pagination::Slice;
use crate::ids::{CompanyId, EmployeeId};

pub fn insert(conn: &mut DbConn, row: &EmployeeRow) -> QueryResult<()> {
    diesel::insert_into(employees::table).values(row).execute(conn).map(drop)
}

pub fn find(conn: &mut DbConn, company: &CompanyId, id: &EmployeeId) -> QueryResult<Option<EmployeeRow>> {
    employees::table
        .filter(employees::company_id.eq(company.as_str()))
        .filter(employees::id.eq(id.as_str()))
        .select(EmployeeRow::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_email(conn: &mut DbConn, company: &CompanyId, email: &str) -> QueryResult<Option<EmployeeRow>> {
    employees::table
        .filter(employees::company_id.eq(company.as_str()))
        .filter(employees::email.eq(email))
        .select(EmployeeRow::as_select())
        .first(conn)
        .optional()
}

pub fn list(
    conn: &mut DbConn,
    company: &CompanyId,
    filter: &EmployeeFilter,
    slice: &Slice,
) -> QueryResult<(Vec<EmployeeRow>, Option<i64>)> {
    let query = || {
        let mut query = employees::table.filter(employees::company_id.eq(company.as_str())).into_boxed();
        if let Some(status) = filter.status {
            query = query.filter(employees::status.eq(status.as_str()));
        }
        if let Some(department) = &filter.department {
            query = query.filter(employees::department.eq(department.clone()));
        }
        if let Some(needle) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            let pattern = contains_pattern(needle);
            query = query.filter(
                lower(employees::name)
                    .like(pattern.clone())
                    .escape('\\')
                    .or(employees::email.like(pattern).escape('\\')),
            );
        }
        query
    };
    let total = if slice.is_numbered() { Some(query().count().get_result(conn)?) } else { None };
    let rows = crate::load_slice!(conn, query, slice,
        order: (employees::name.asc(), employees::id.asc()),
        keyset: (employees::created_at, employees::id),
        select: EmployeeRow::as_select())?;
    Ok((rows, total))
}

/// When an employee of the company was added: where a cursor naming them stands in the list.
pub fn created_at_of(conn: &mut DbConn, company: &CompanyId, id: &str) -> QueryResult<Option<NaiveDateTime>> {
    employees::table
        .filter(employees::company_id.eq(company.as_str()))
        .filter(employees::id.eq(id))
        .select(employees::created_at)
        .first(conn)
        .optional()
}

/// Applies `changes` (and only those columns), increments the version and returns the row as written.
pub fn update(
    conn: &mut DbConn,
    company: &CompanyId,
    id: &EmployeeId,
    changes: &EmployeeChanges,
    now: NaiveDateTime,
) -> QueryResult<EmployeeRow> {
    diesel::update(
        employees::table.filter(employees::company_id.eq(company.as_str())).filter(employees::id.eq(id.as_str())),
    )
    .set((changes, employees::version.eq(employees::version + 1), employees::updated_at.eq(now)))
    .execute(conn)?;
    find(conn, company, id)?.ok_or(diesel::result::Error::NotFound)
}

pub fn delete(conn: &mut DbConn, company: &CompanyId, id: &EmployeeId) -> QueryResult<usize> {
    diesel::delete(
        employees::table.filter(employees::company_id.eq(company.as_str())).filter(employees::id.eq(id.as_str())),
    )
    .execute(conn)
}
