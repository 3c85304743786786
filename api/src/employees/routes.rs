//! `/api/v1/employees`.

use actix_web::{HttpResponse, delete, get, patch, post, web};

use super::model::{CreateEmployeeRequest, Employee, EmployeeFilter, EmployeeStatus, UpdateEmployeeRequest};
use super::service;
use crate::db::{self, DbPool};
use crate::error::ApiError;
use crate::http::extract::ValidatedJson;
use crate::http::pagination::{CursorQuery, ListRequest, Page, PageQuery};
use crate::http::precondition::{IfMatch, IfMatchParam, Tagged};
use crate::http::principal::{Auth, Manager, Member};
use crate::ids::EmployeeId;

/// The company's employees, filtered by status and department, searched by name or email.
#[utoipa::path(
    tag = "employees",
    operation_id = "list_employees",
    params(EmployeeFilter, PageQuery, CursorQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "One page of employees", body = Page<Employee>, headers(("Link" = String, description = "The `next` and `prev` pages, as RFC 8288 links that keep the filters")))),
)]
#[get("/employees")]
pub async fn list_employees(
    auth: Auth<Member>,
    filter: web::Query<EmployeeFilter>,
    page: web::Query<PageQuery>,
    cursor: web::Query<CursorQuery>,
    pool: web::Data<DbPool>,
) -> Result<Page<Employee>, ApiError> {
    let page = ListRequest::choose(page.into_inner(), cursor.into_inner())?;
    let (company, filter) = (auth.company_id().clone(), filter.into_inner());
    validator::Validate::validate(&filter)?;
    db::run(&pool, move |conn| service::list(conn, &company, &filter, &page)).await
}

/// Adds an employee, within the plan's limit on active employees.
#[utoipa::path(
    tag = "employees",
    operation_id = "create_employee",
    request_body = CreateEmployeeRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The new employee", body = Employee),
        (status = 403, description = "The role or key scope does not allow this (`forbidden`), or the plan's employee limit is reached (`plan_limit_reached`, details in `plan_limit`)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Another employee has this email (`employee_email_taken`)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/employees")]
pub async fn create_employee(
    auth: Auth<Manager>,
    body: ValidatedJson<CreateEmployeeRequest>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, ApiError> {
    let (principal, request) = (auth.into_principal(), body.into_inner());
    let employee =
        db::run(&pool, move |conn| service::create(conn, &principal.audit_actor(), principal.company_id(), &request))
            .await?;
    Ok(HttpResponse::Created().json(employee))
}

/// One employee.
#[utoipa::path(
    tag = "employees",
    operation_id = "get_employee",
    security(("bearer" = [])),
    responses((status = 200, description = "The employee", body = Employee, headers(("ETag" = String, description = "The employee's version; send it back in `If-Match` to update it")))),
)]
#[get("/employees/{employee_id}")]
pub async fn get_employee(
    auth: Auth<Member>,
    employee_id: web::Path<EmployeeId>,
    pool: web::Data<DbPool>,
) -> Result<Tagged<Employee>, ApiError> {
    let (company, id) = (auth.company_id().clone(), employee_id.into_inner());
    db::run(&pool, move |conn| service::get(conn, &company, &id)).await
}

/// Changes an employee's details: only the fields sent. With `If-Match`, only if the employee is still the
/// version read.
#[utoipa::path(
    tag = "employees",
    operation_id = "update_employee",
    request_body = UpdateEmployeeRequest,
    params(IfMatchParam),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The updated employee", body = Employee, headers(("ETag" = String, description = "The employee's new version"))),
        (status = 409, description = "Another employee has this email (`employee_email_taken`)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 412, description = "The employee changed since the `If-Match` version was read (`precondition_failed`); nothing changed", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[patch("/employees/{employee_id}")]
pub async fn update_employee(
    auth: Auth<Manager>,
    employee_id: web::Path<EmployeeId>,
    if_match: IfMatch,
    body: ValidatedJson<UpdateEmployeeRequest>,
    pool: web::Data<DbPool>,
) -> Result<Tagged<Employee>, ApiError> {
    let (principal, id, request) = (auth.into_principal(), employee_id.into_inner(), body.into_inner());
    db::run(&pool, move |conn| {
        service::update(conn, &principal.audit_actor(), principal.company_id(), &id, &request, &if_match)
    })
    .await
}

async fn set_status(
    auth: Auth<Manager>,
    id: EmployeeId,
    pool: &DbPool,
    status: EmployeeStatus,
) -> Result<Tagged<Employee>, ApiError> {
    let principal = auth.into_principal();
    db::run(pool, move |conn| service::set_status(conn, &principal.audit_actor(), principal.company_id(), &id, status))
        .await
}

/// Deactivates an employee: they stop counting against the plan.
#[utoipa::path(
    tag = "employees",
    operation_id = "deactivate_employee",
    security(("bearer" = [])),
    responses((status = 200, description = "The employee, now INACTIVE", body = Employee)),
)]
#[post("/employees/{employee_id}/deactivate")]
pub async fn deactivate_employee(
    auth: Auth<Manager>,
    employee_id: web::Path<EmployeeId>,
    pool: web::Data<DbPool>,
) -> Result<Tagged<Employee>, ApiError> {
    set_status(auth, employee_id.into_inner(), &pool, EmployeeStatus::Inactive).await
}

/// Reactivates an employee, within the plan's limit on active employees.
#[utoipa::path(
    tag = "employees",
    operation_id = "reactivate_employee",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The employee, now ACTIVE", body = Employee),
        (status = 403, description = "The role or key scope does not allow this (`forbidden`), or the plan's employee limit is reached (`plan_limit_reached`, details in `plan_limit`)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/employees/{employee_id}/reactivate")]
pub async fn reactivate_employee(
    auth: Auth<Manager>,
    employee_id: web::Path<EmployeeId>,
    pool: web::Data<DbPool>,
) -> Result<Tagged<Employee>, ApiError> {
    set_status(auth, employee_id.into_inner(), &pool, EmployeeStatus::Active).await
}

/// Deletes an employee. Their agents stay enrolled without an employee.
#[utoipa::path(
    tag = "employees",
    operation_id = "delete_employee",
    security(("bearer" = [])),
    responses((status = 204, description = "Deleted")),
)]
#[delete("/employees/{employee_id}")]
pub async fn delete_employee(
    auth: Auth<Manager>,
    employee_id: web::Path<EmployeeId>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, ApiError> {
    let (principal, id) = (auth.into_principal(), employee_id.into_inner());
    db::run(&pool, move |conn| service::delete(conn, &principal.audit_actor(), principal.company_id(), &id)).await?;
    Ok(HttpResponse::NoContent().finish())
}
