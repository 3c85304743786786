//! API key rules: shown once, stored as a hash, revocable, and resolved to their company on each request.

use super::model::{API_KEY_PREFIX, ApiKey, ApiKeyRow, ApiKeyScope, CreateApiKeyRequest, CreatedApiKey};
use super::store;
use crate::audit::model::{AuditActor, AuditEvent};
use crate::auth::Actor;
use crate::db::{DbConn, write_transaction};
use crate::error::ApiError;
use crate::http::pagination::{Page, PageRequest};
use crate::ids::{ApiKeyId, CompanyId, UserId};

/// Random characters after the prefix: 40 alphanumerics, about 238 bits.
const SECRET_LEN: usize = 40;
/// How much of the key is kept in clear to tell keys apart in lists.
const DISPLAY_PREFIX_LEN: usize = API_KEY_PREFIX.len() + 6;
/// `last_used_at` is written at most this often per key, so that a busy integration does not turn every
/// read into a write.
const LAST_USED_GRANULARITY_SECS: i64 = 60;

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
        created_at: crate::db::now(),
        last_used_at: None,
        revoked_at: None,
    };
    write_transaction(conn, |conn| {
        store::insert(conn, &row)?;
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
    let (rows, total) = store::list(conn, company, page)?;
    Ok(Page::new(rows.into_iter().map(Into::into).collect(), page, total))
}

/// Revokes a key; it stops working with the next request. Revoking twice is harmless.
pub fn revoke(conn: &mut DbConn, actor: &AuditActor, company: &CompanyId, key: &ApiKeyId) -> Result<(), ApiError> {
    write_transaction(conn, |conn| {
        let row = store::find(conn, company, key)?.ok_or(ApiError::NotFound("API key"))?;
        if store::revoke(conn, company, key, crate::db::now())? == 1 {
            crate::audit::record(
                conn,
                actor,
                AuditEvent::new("api_key.revoked")
                    .target("api_key", &row.id)
                    .details(serde_json::json!({"name": row.name})),
            )?;
        }
        Ok(())
    })
}

/// Resolves a presented key to its company and actor, recording its use.
pub fn authenticate(conn: &mut DbConn, presented: &str) -> Result<(CompanyId, Actor), ApiError> {
    let row = store::find_live_by_hash(conn, &crate::crypto::sha256_hex(presented))?
        .ok_or_else(|| ApiError::Unauthenticated("The API key is invalid or has been revoked.".to_owned()))?;
    let (company, id) = (CompanyId::from_db(row.company_id), ApiKeyId::from_db(row.id));
    let now = crate::db::now();
    if row.last_used_at.is_none_or(|used| (now - used).num_seconds() >= LAST_USED_GRANULARITY_SECS) {
        store::touch_last_used(conn, &company, &id, now)?;
    }
    Ok((company, Actor::ApiKey { id, scope: ApiKeyScope::parse(&row.scope) }))
}
