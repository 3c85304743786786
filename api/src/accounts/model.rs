//! Companies, users, roles and sessions: rows, domain types and API bodies.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use crate::db::schema::users;
use crate::ids::{CompanyId, UserId};

pub use crate::auth::Role;

pub use crate::companies::CompanyRow;
pub use crate::ids::normalize_email;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: String,
    pub company_id: String,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub role: String,
    pub disabled_at: Option<NaiveDateTime>,
    pub last_login_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Incremented by every write; the user's `ETag`.
    pub version: i64,
}

impl UserRow {
    /// The tag of this version of the user.
    pub fn etag(&self) -> crate::http::precondition::ETag {
        crate::http::precondition::ETag::from_version(self.version)
    }
}

/// The columns one change of a user writes; `None` leaves a column as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserChanges {
    pub role: Option<String>,
    pub name: Option<String>,
    pub disabled_at: Option<Option<NaiveDateTime>>,
}

/// A user as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// False once an owner or admin has disabled the account.
    pub active: bool,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_login_at: Option<chrono::DateTime<chrono::Utc>>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl crate::http::pagination::Listed for User {
    fn list_id(&self) -> &str {
        self.id.as_str()
    }
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        Self {
            id: UserId::from_db(row.id),
            email: row.email,
            name: row.name,
            role: Role::parse(&row.role).unwrap_or(Role::Viewer),
            active: row.disabled_at.is_none(),
            last_login_at: row.last_login_at.map(|t| t.and_utc()),
            created_at: row.created_at.and_utc(),
        }
    }
}

/// A company as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Company {
    pub id: CompanyId,
    pub name: String,
    pub billing_email: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl From<CompanyRow> for Company {
    fn from(row: CompanyRow) -> Self {
        Self {
            id: CompanyId::from_db(row.id),
            name: row.name,
            billing_email: row.billing_email,
            created_at: row.created_at.and_utc(),
        }
    }
}

/// Shortest and longest password accepted.
pub const PASSWORD_MIN_LEN: u64 = 10;
pub const PASSWORD_MAX_LEN: u64 = 256;

/// `POST /api/v1/auth/signup`: a new company with its first user as owner.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"company_name": "Acme Inc", "name": "Ada Lovelace", "email": "ada@acme.test", "password": "correct horse battery"}))]
pub struct SignupRequest {
    #[validate(
        custom(function = "crate::http::validation::not_blank"),
        length(max = 200, message = "must be at most 200 characters long")
    )]
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub company_name: String,
    #[validate(
        custom(function = "crate::http::validation::not_blank"),
        length(max = 200, message = "must be at most 200 characters long")
    )]
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub name: String,
    #[validate(email(message = "must be a valid email address"), length(max = 254))]
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    #[validate(length(min = PASSWORD_MIN_LEN, max = PASSWORD_MAX_LEN, message = "must be between 10 and 256 characters long"))]
    #[schema(min_length = 10, max_length = 256)]
    pub password: String,
    /// Also return the refresh token in the body (for integrators); browsers use the cookie.
    #[serde(default)]
    pub return_refresh_token: bool,
}

/// `POST /api/v1/auth/login`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"email": "ada@acme.test", "password": "correct horse battery"}))]
pub struct LoginRequest {
    #[validate(length(min = 1, max = 254, message = "is required"))]
    #[schema(min_length = 1, max_length = 254)]
    pub email: String,
    #[validate(length(min = 1, max = PASSWORD_MAX_LEN, message = "is required"))]
    #[schema(min_length = 1, max_length = 256)]
    pub password: String,
    /// Also return the refresh token in the body (for integrators); browsers use the cookie.
    #[serde(default)]
    pub return_refresh_token: bool,
}

/// `POST /api/v1/auth/refresh` and `/logout`: the refresh token comes from the cookie or, for integrators,
/// from this body.
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
pub struct RefreshRequest {
    #[validate(length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    pub refresh_token: Option<String>,
    /// Also return the new refresh token in the body.
    #[serde(default)]
    pub return_refresh_token: bool,
}

/// A new session: a short-lived access token, and the refresh token when asked for in the body.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"access_token": "eyJhbGciOiJIUzI1NiJ9…", "token_type": "Bearer", "expires_in": 900}))]
pub struct Session {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Present only when `return_refresh_token` was set; browsers get it as an HttpOnly cookie.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub user: User,
    pub company: Company,
}

/// `GET /api/v1/me`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub user: User,
    pub company: Company,
}

/// `POST /api/v1/users`: add a user to the caller's company.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"email": "grace@acme.test", "name": "Grace Hopper", "role": "MANAGER"}))]
pub struct CreateUserRequest {
    #[validate(email(message = "must be a valid email address"), length(max = 254))]
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    #[validate(
        custom(function = "crate::http::validation::not_blank"),
        length(max = 200, message = "must be at most 200 characters long")
    )]
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub name: String,
    pub role: Role,
    /// The initial password; when omitted a temporary one is generated and returned once.
    #[validate(length(min = PASSWORD_MIN_LEN, max = PASSWORD_MAX_LEN, message = "must be between 10 and 256 characters long"))]
    #[schema(min_length = 10, max_length = 256)]
    pub password: Option<String>,
}

/// The created user, with the generated temporary password when none was given.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedUser {
    pub user: User,
    /// Shown once; hand it to the user, who should change it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temporary_password: Option<String>,
}

/// `POST /api/v1/me/password`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"current_password": "correct horse battery", "new_password": "a much longer passphrase"}))]
pub struct ChangePasswordRequest {
    #[validate(length(min = 1, max = PASSWORD_MAX_LEN, message = "is required"))]
    #[schema(min_length = 1, max_length = 256)]
    pub current_password: String,
    #[validate(length(min = PASSWORD_MIN_LEN, max = PASSWORD_MAX_LEN, message = "must be between 10 and 256 characters long"))]
    #[schema(min_length = 10, max_length = 256)]
    pub new_password: String,
}

/// `PATCH /api/v1/users/{id}`: change a role or disable/enable an account.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"role": "ADMIN"}))]
pub struct UpdateUserRequest {
    pub role: Option<Role>,
    /// `false` disables the account (its sessions end at once); `true` enables it again.
    pub active: Option<bool>,
    #[validate(
        custom(function = "crate::http::validation::not_blank"),
        length(max = 200, message = "must be at most 200 characters long")
    )]
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub name: Option<String>,
}
