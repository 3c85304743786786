//! Employee rows, domain types and API bodies.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::db::schema::employees;
use crate::ids::EmployeeId;

/// Whether an employee counts against the plan and may have agents reporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EmployeeStatus {
    Active,
    Inactive,
}

impl EmployeeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Inactive => "INACTIVE",
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = employees)]
pub struct EmployeeRow {
    pub id: String,
    pub company_id: String,
    pub email: String,
    pub name: String,
    pub department: Option<String>,
    pub job_title: Option<String>,
    pub status: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Incremented by every write; the employee's `ETag`.
    pub version: i64,
}

impl EmployeeRow {
    /// The tag of this version of the employee.
    pub fn etag(&self) -> crate::http::precondition::ETag {
        crate::http::precondition::ETag::from_version(self.version)
    }
}

/// The columns one write changes; `None` leaves a column as it is, so that a write never puts back a value
/// it read (a concurrent deactivation stays). The version goes up by one with every change.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = employees)]
pub struct EmployeeChanges {
    pub email: Option<String>,
    pub name: Option<String>,
    pub department: Option<Option<String>>,
    pub job_title: Option<Option<String>>,
    pub status: Option<String>,
}

/// An employee as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Employee {
    pub id: EmployeeId,
    pub email: String,
    pub name: String,
    pub department: Option<String>,
    pub job_title: Option<String>,
    pub status: EmployeeStatus,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: chrono::DateTime<chrono::Utc>,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl crate::http::pagination::Listed for Employee {
    fn list_id(&self) -> &str {
        self.id.as_str()
    }
}

impl From<EmployeeRow> for Employee {
    fn from(row: EmployeeRow) -> Self {
        Self {
            id: EmployeeId::from_db(row.id),
            email: row.email,
            name: row.name,
            department: row.department,
            job_title: row.job_title,
            status: if row.status == "ACTIVE" { EmployeeStatus::Active } else { EmployeeStatus::Inactive },
            created_at: row.created_at.and_utc(),
            updated_at: row.updated_at.and_utc(),
        }
    }
}

/// `POST /api/v1/employees`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"email": "grace@acme.test", "name": "Grace Hopper", "department": "Engineering", "job_title": "Rear Admiral"}))]
pub struct CreateEmployeeRequest {
    #[validate(email(message = "must be a valid email address"), length(max = 254))]
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    #[validate(
        custom(function = "crate::http::validation::not_blank"),
        length(max = 200, message = "must be at most 200 characters long")
    )]
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub name: String,
    #[validate(length(max = 100, message = "must be at most 100 characters long"))]
    #[schema(max_length = 100)]
    pub department: Option<String>,
    #[validate(length(max = 100, message = "must be at most 100 characters long"))]
    #[schema(max_length = 100)]
    pub job_title: Option<String>,
}

/// `PATCH /api/v1/employees/{id}`: only the fields sent change; `null` clears department or job title.
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"department": "Research"}))]
pub struct UpdateEmployeeRequest {
    #[validate(email(message = "must be a valid email address"), length(max = 254))]
    #[schema(format = Email, max_length = 254)]
    pub email: Option<String>,
    #[validate(
        custom(function = "crate::http::validation::not_blank"),
        length(max = 200, message = "must be at most 200 characters long")
    )]
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "crate::http::extract::present")]
    #[schema(value_type = Option<String>, max_length = 100)]
    #[validate(length(max = 100, message = "must be at most 100 characters long"))]
    pub department: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::http::extract::present")]
    #[schema(value_type = Option<String>, max_length = 100)]
    #[validate(length(max = 100, message = "must be at most 100 characters long"))]
    pub job_title: Option<Option<String>>,
}

/// Filters of `GET /api/v1/employees`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams, Validate)]
#[into_params(parameter_in = Query)]
pub struct EmployeeFilter {
    pub status: Option<EmployeeStatus>,
    /// Exact department name.
    #[param(max_length = 100)]
    #[validate(length(max = 100, message = "must be at most 100 characters long"))]
    pub department: Option<String>,
    /// Part of the name or email, case-insensitive.
    #[param(max_length = 200)]
    #[validate(length(max = 200, message = "must be at most 200 characters long"))]
    pub q: Option<String>,
}
