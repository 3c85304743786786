//! Employee rules: unique email within the company, and the tier's limit on ACTIVE employees, which holds
//! under concurrency because the check and the insert run under the company's lock.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::model::{
    CreateEmployeeRequest, Employee, EmployeeChanges, EmployeeFilter, EmployeeRow, EmployeeStatus,
    UpdateEmployeeRequest,
};
use super::store;
use crate::audit::model::{AuditActor, AuditEvent};
use crate::db::{DbConn, lock_company, write_transaction};
use crate::error::ApiError;
use crate::events::model::EventType;
use crate::http::pagination::{ListRequest, Page};
use crate::http::precondition::{IfMatch, Tagged};
use crate::ids::normalize_email;
use crate::ids::{CompanyId, EmployeeId};
use crate::plans::LimitKind;

fn email_taken() -> ApiError {
    ApiError::Conflict {
        code: "employee_email_taken",
        detail: "Another employee of this company has this email.".to_owned(),
    }
}

fn on_unique_email(error: DieselError) -> ApiError {
    match error {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => email_taken(),
        other => other.into(),
    }
}

fn find(conn: &mut DbConn, company: &CompanyId, id: &EmployeeId) -> Result<EmployeeRow, ApiError> {
    store::find(conn, company, id)?.ok_or(ApiError::NotFound("employee"))
}

/// Refuses one more ACTIVE employee when the tier's limit is reached. Call under the company lock.
fn check_room_for_one_more(conn: &mut DbConn, company: &CompanyId) -> Result<(), ApiError> {
    let tier = crate::billing::service::limiting_tier(conn, company)?;
    let active = crate::billing::usage::active_employees(conn, company)?;
    crate::billing::usage::check_limit(conn, &tier, LimitKind::MaxEmployees, active, 1)
}

pub fn list(
    conn: &mut DbConn,
    company: &CompanyId,
    filter: &EmployeeFilter,
    list: &ListRequest,
) -> Result<Page<Employee>, ApiError> {
    let slice = list.slice(|id| Ok(store::created_at_of(conn, company, id)?))?;
    let (rows, total) = store::list(conn, company, filter, &slice)?;
    Ok(list.page(rows.into_iter().map(Into::into).collect(), total))
}

pub fn get(conn: &mut DbConn, company: &CompanyId, id: &EmployeeId) -> Result<Tagged<Employee>, ApiError> {
    let row = find(conn, company, id)?;
    let etag = row.etag();
    Ok(Tagged::new(row.into(), etag))
}

/// Adds an ACTIVE employee, within the tier's limit.
pub fn create(
    conn: &mut DbConn,
    actor: &AuditActor,
    company: &CompanyId,
    request: &CreateEmployeeRequest,
) -> Result<Employee, ApiError> {
    let now = crate::db::now();
    let row = EmployeeRow {
        id: EmployeeId::generate().to_string(),
        company_id: company.to_string(),
        email: normalize_email(&request.email),
        name: request.name.trim().to_owned(),
        department: request.department.as_deref().map(str::trim).filter(|d| !d.is_empty()).map(str::to_owned),
        job_title: request.job_title.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned),
        status: EmployeeStatus::Active.as_str().to_owned(),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    write_transaction(conn, |conn| {
        lock_company(conn, company)?;
        if store::find_by_email(conn, company, &row.email)?.is_some() {
            return Err(email_taken());
        }
        check_room_for_one_more(conn, company)?;
        store::insert(conn, &row).map_err(on_unique_email)?;
        crate::audit::record(
            conn,
            actor,
            AuditEvent::new("employee.created")
                .target("employee", &row.id)
                .details(serde_json::json!({"email": row.email, "name": row.name})),
        )?;
        announce(conn, company, EventType::EmployeeCreated, &row)?;
        let tier = crate::billing::service::effective_tier(conn, company)?;
        crate::billing::usage::check_current_usage(conn, company, &tier)?;
        Ok(row.into())
    })
}

/// Tells the company's webhooks about a change of an employee, as the employee is after it.
fn announce(conn: &mut DbConn, company: &CompanyId, kind: EventType, row: &EmployeeRow) -> Result<(), ApiError> {
    let employee =
        serde_json::to_value(Employee::from(row.clone())).map_err(|error| ApiError::Internal(error.into()))?;
    crate::events::service::emit(conn, company, kind, serde_json::json!({"employee": employee}))?;
    Ok(())
}

/// Changes the fields sent, and only those, under the company's lock (the lock every write of an employee
/// takes, so a deactivation cannot land between this read and this write); the audit entry lists what
/// changed. `if_match` is compared with the version read under that lock.
pub fn update(
    conn: &mut DbConn,
    actor: &AuditActor,
    company: &CompanyId,
    id: &EmployeeId,
    request: &UpdateEmployeeRequest,
    if_match: &IfMatch,
) -> Result<Tagged<Employee>, ApiError> {
    write_transaction(conn, |conn| {
        lock_company(conn, company)?;
        let before = find(conn, company, id)?;
        if_match.check(&before.etag())?;
        let clean = |text: &Option<String>| text.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned);
        let changes = EmployeeChanges {
            email: request.email.as_deref().map(normalize_email).filter(|email| *email != before.email),
            name: request.name.as_deref().map(str::trim).filter(|name| *name != before.name).map(str::to_owned),
            department: request.department.as_ref().map(clean).filter(|d| *d != before.department),
            job_title: request.job_title.as_ref().map(clean).filter(|t| *t != before.job_title),
            status: None,
        };
        if let Some(email) = &changes.email
            && store::find_by_email(conn, company, email)?.is_some()
        {
            return Err(email_taken());
        }
        let mut audited = serde_json::Map::new();
        for (field, old, new) in [
            ("email", Some(&before.email), changes.email.as_ref().map(Some)),
            ("name", Some(&before.name), changes.name.as_ref().map(Some)),
            ("department", before.department.as_ref(), changes.department.as_ref().map(Option::as_ref)),
            ("job_title", before.job_title.as_ref(), changes.job_title.as_ref().map(Option::as_ref)),
        ] {
            if let Some(new) = new {
                audited.insert(field.to_owned(), serde_json::json!({"from": old, "to": new}));
            }
        }
        if audited.is_empty() {
            let etag = before.etag();
            return Ok(Tagged::new(before.into(), etag));
        }
        let after = store::update(conn, company, id, &changes, crate::db::now()).map_err(on_unique_email)?;
        crate::audit::record(
            conn,
            actor,
            AuditEvent::new("employee.updated").target("employee", id).details(serde_json::Value::Object(audited)),
        )?;
        announce(conn, company, EventType::EmployeeUpdated, &after)?;
        let etag = after.etag();
        Ok(Tagged::new(after.into(), etag))
    })
}

/// Deactivates or reactivates an employee. Reactivating counts against the tier's limit again.
pub fn set_status(
    conn: &mut DbConn,
    actor: &AuditActor,
    company: &CompanyId,
    id: &EmployeeId,
    status: EmployeeStatus,
) -> Result<Tagged<Employee>, ApiError> {
    write_transaction(conn, |conn| {
        lock_company(conn, company)?;
        let row = find(conn, company, id)?;
        if row.status == status.as_str() {
            let etag = row.etag();
            return Ok(Tagged::new(row.into(), etag));
        }
        if status == EmployeeStatus::Active {
            check_room_for_one_more(conn, company)?;
        }
        let changes = EmployeeChanges { status: Some(status.as_str().to_owned()), ..EmployeeChanges::default() };
        let row = store::update(conn, company, id, &changes, crate::db::now())?;
        let action = match status {
            EmployeeStatus::Active => "employee.reactivated",
            EmployeeStatus::Inactive => "employee.deactivated",
        };
        crate::audit::record(conn, actor, AuditEvent::new(action).target("employee", id))?;
        let kind = match status {
            EmployeeStatus::Active => EventType::EmployeeUpdated,
            EmployeeStatus::Inactive => EventType::EmployeeDeactivated,
        };
        announce(conn, company, kind, &row)?;
        let tier = crate::billing::service::effective_tier(conn, company)?;
        crate::billing::usage::check_current_usage(conn, company, &tier)?;
        let etag = row.etag();
        Ok(Tagged::new(row.into(), etag))
    })
}

/// Deletes an employee; their agents stay enrolled, no longer linked to anyone.
pub fn delete(conn: &mut DbConn, actor: &AuditActor, company: &CompanyId, id: &EmployeeId) -> Result<(), ApiError> {
    write_transaction(conn, |conn| {
        let row = find(conn, company, id)?;
        store::delete(conn, company, id)?;
        crate::audit::record(
            conn,
            actor,
            AuditEvent::new("employee.deleted")
                .target("employee", id)
                .details(serde_json::json!({"email": row.email, "name": row.name})),
        )?;
        let tier = crate::billing::service::effective_tier(conn, company)?;
        crate::billing::usage::check_current_usage(conn, company, &tier)?;
        Ok(())
    })
}
