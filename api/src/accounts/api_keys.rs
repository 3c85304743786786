//! API keys for integrators: named, scoped, shown once, stored as a hash, revocable.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use crate::audit::model::{AuditActor, AuditEvent};
use crate::db::schema::api_keys;
use crate::db::{DbConn, write_transaction};
use crate::error::ApiError;
use crate::http::pagination::{Page, PageRequest};
use crate::http::principal::Actor;
use crate::ids::{ApiKeyId, CompanyId, UserId};

/// Every key starts with this, so a leaked key is recognisable (and secret scanners can find it).
pub const API_KEY_PREFIX: &str = "vigil_sk_";
/// Random characters after the prefix: 40 alphanumerics, about 238 bits.
const SECRET_LEN: usize = 40;
/// How much of the key is kept in clear to tell keys apart in lists.
const DISPLAY_PREFIX_LEN: usize = API_KEY_PREFIX.len() + 6;
/// `last_used_at` is written at most this often per key, so that a busy integration does not turn every
/// read into a write.
const LAST_USED_GRANULARITY_SECS: i64 = 60;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApiKeyScope {
    /// Read every tenant resource.
    Read,
    /// Read and change tenant resources (never users or keys).
    ReadWrite,
}

impl ApiKeyScope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::ReadWrite => "read_write",
        }
    }

    fn parse(text: &str) -> Self {
        if text == "read_write" { Self::ReadWrite } else { Self::Read }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_keys)]
pub struct ApiKeyRow {
    pub id: String,
    pub company_id: String,
    pub name: String,
    pub prefix: String,
    pub key_hash: String,
    pub scope: String,
    pub created_by_user_id: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

/// A key as listed: never the secret.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub name: String,
    /// The first characters of the key, to recognise it.
    #[schema(example = "vigil_sk_Ab3dE9")]
    pub prefix: String,
    pub scope: ApiKeyScope,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: chrono::DateTime<chrono::Utc>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<ApiKeyRow> for ApiKey {
    fn from(row: ApiKeyRow) -> Self {
        Self {
            id: ApiKeyId::from_db(row.id),
            name: row.name,
            prefix: row.prefix,
            scope: ApiKeyScope::parse(&row.scope),
            created_at: row.created_at.and_utc(),
            last_used_at: row.last_used_at.map(|t| t.and_utc()),
            revoked_at: row.revoked_at.map(|t| t.and_utc()),
        }
    }
}

/// `POST /api/v1/api-keys`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"name": "Payroll sync", "scope": "read"}))]
pub struct CreateApiKeyRequest {
    #[validate(length(min = 1, max = 100, message = "must be between 1 and 100 characters long"))]
    pub name: String,
    pub scope: ApiKeyScope,
}

/// A new key: the only time its secret is shown.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub api_key: ApiKey,
    /// The secret. Store it now: it cannot be shown again.
    #[schema(example = "vigil_sk_Ab3dE9…")]
    pub key: String,
}

/// Creates a key for the company.
pub fn create(
    conn: &mut DbConn,
    actor: &AuditActor,
    company: &CompanyId,
    created_by: &UserId,
    request: &CreateApiKeyRequest,
) -> Result<CreatedApiKey, ApiError> {
    let secret = format!("{API_KEY_PREFIX}{}", crate::crypto::random_token(SECRET_LEN));
    let row = ApiKeyRow {
        id: ApiKeyId::generate().to_string(),
        company_id: company.to_string(),
        name: request.name.trim().to_owned(),
        prefix: secret.chars().take(DISPLAY_PREFIX_LEN).collect(),
        key_hash: crate::crypto::sha256_hex(&secret),
        scope: request.scope.as_str().to_owned(),
        created_by_user_id: created_by.to_string(),
        created_at: chrono::Utc::now().naive_utc(),
        last_used_at: None,
        revoked_at: None,
    };
    write_transaction(conn, |conn| {
        diesel::insert_into(api_keys::table).values(&row).execute(conn)?;
        crate::audit::record(
            conn,
            actor,
            AuditEvent::new("api_key.created")
                .target("api_key", &row.id)
                .details(serde_json::json!({"name": row.name, "scope": row.scope, "prefix": row.prefix})),
        )?;
        Ok::<_, ApiError>(())
    })?;
    Ok(CreatedApiKey { api_key: row.into(), key: secret })
}

/// One page of the company's keys, newest first, revoked ones included.
pub fn list(conn: &mut DbConn, company: &CompanyId, page: PageRequest) -> Result<Page<ApiKey>, ApiError> {
    let scoped = || api_keys::table.filter(api_keys::company_id.eq(company.as_str()));
    let total = scoped().count().get_result(conn)?;
    let rows: Vec<ApiKeyRow> = scoped()
        .order((api_keys::created_at.desc(), api_keys::id.desc()))
        .limit(page.limit())
        .offset(page.offset())
        .select(ApiKeyRow::as_select())
        .load(conn)?;
    Ok(Page::new(rows.into_iter().map(Into::into).collect(), page, total))
}

/// Revokes a key; it stops working with the next request. Revoking twice is harmless.
pub fn revoke(conn: &mut DbConn, actor: &AuditActor, company: &CompanyId, key: &ApiKeyId) -> Result<(), ApiError> {
    write_transaction(conn, |conn| {
        let row: ApiKeyRow = api_keys::table
            .filter(api_keys::company_id.eq(company.as_str()))
            .filter(api_keys::id.eq(key.as_str()))
            .select(ApiKeyRow::as_select())
            .first(conn)
            .optional()?
            .ok_or(ApiError::NotFound("API key"))?;
        if row.revoked_at.is_some() {
            return Ok(());
        }
        diesel::update(api_keys::table.filter(api_keys::id.eq(&row.id)))
            .set(api_keys::revoked_at.eq(chrono::Utc::now().naive_utc()))
            .execute(conn)?;
        crate::audit::record(
            conn,
            actor,
            AuditEvent::new("api_key.revoked")
                .target("api_key", &row.id)
                .details(serde_json::json!({"name": row.name})),
        )?;
        Ok(())
    })
}

/// Resolves a presented key to its company and actor, recording its use.
pub fn authenticate(conn: &mut DbConn, presented: &str) -> Result<(CompanyId, Actor), ApiError> {
    let invalid = || ApiError::Unauthenticated("The API key is invalid or has been revoked.".to_owned());
    let row: ApiKeyRow = api_keys::table
        .filter(api_keys::key_hash.eq(crate::crypto::sha256_hex(presented)))
        .filter(api_keys::revoked_at.is_null())
        .select(ApiKeyRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(invalid)?;
    let now = chrono::Utc::now().naive_utc();
    let stale = row.last_used_at.is_none_or(|used| (now - used).num_seconds() >= LAST_USED_GRANULARITY_SECS);
    if stale {
        diesel::update(api_keys::table.filter(api_keys::id.eq(&row.id)))
            .set(api_keys::last_used_at.eq(now))
            .execute(conn)?;
    }
    Ok((
        CompanyId::from_db(row.company_id),
        Actor::ApiKey { id: ApiKeyId::from_db(row.id), scope: ApiKeyScope::parse(&row.scope) },
    ))
}
