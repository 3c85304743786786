//! API key rules: shown once, stored as a hash, revocable, resolved to their company on each request, and
//! never outliving the reach of the person who made them.

use super::model::{API_KEY_PREFIX, ApiKey, ApiKeyRow, ApiKeyScope, CreateApiKeyRequest, CreatedApiKey, Person};
use super::store;
use crate::alerts::model::{AlertType, NewAlert};
use crate::audit::model::{AuditActor, AuditEvent};
use crate::auth::Actor;
use crate::auth::Role;
use crate::db::{DbConn, write_transaction};
use crate::error::ApiError;
use crate::http::pagination::{ListRequest, Page};
use crate::ids::{ApiKeyId, CompanyId, UserId};

/// Random characters after the prefix: 40 alphanumerics, about 238 bits.
const SECRET_LEN: usize = 40;
/// How much of the key is kept in clear to tell keys apart in lists.
const DISPLAY_PREFIX_LEN: usize = API_KEY_PREFIX.len() + 6;
/// `last_used_at` is written at most this often per key, so that a busy integration does not turn every
/// read into a write: "when was this key last used" is a question about days and weeks, and a minute's
/// precision answers it at one write per key per minute, whatever the request rate.
const LAST_USED_GRANULARITY_SECS: i64 = 60;

/// Creates a key for the company. The creator is re-read under the company lock, so a key cannot be born
/// after a concurrent disable or demotion of its creator has revoked the others.
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
        created_by_user_id: Some(created_by.to_string()),
        created_at: crate::db::now(),
        last_used_at: None,
        revoked_at: None,
    };
    let creator = write_transaction(conn, |conn| {
        crate::db::lock_company(conn, company)?;
        let creator = store::active_user(conn, company, created_by)?
            .ok_or_else(|| ApiError::Unauthenticated("This account has been disabled.".to_owned()))?;
        if !Role::parse(&creator.1).is_some_and(|role| role.covers_scope(request.scope)) {
            return Err(ApiError::Forbidden(format!("Your role cannot hold a {} key.", request.scope.as_str())));
        }
        store::insert(conn, &row)?;
        crate::audit::record(
            conn,
            actor,
            AuditEvent::new("api_key.created")
                .target("api_key", &row.id)
                .details(serde_json::json!({"name": row.name, "scope": row.scope, "prefix": row.prefix})),
        )?;
        Ok::<_, ApiError>(creator)
    })?;
    let (id, _, name, email) = creator;
    Ok(CreatedApiKey { api_key: ApiKey::new(row, Some((id, name, email))), key: secret })
}

/// One page of the company's keys, newest first, revoked ones included, each with its creator.
pub fn list(conn: &mut DbConn, company: &CompanyId, list: &ListRequest) -> Result<Page<ApiKey>, ApiError> {
    let slice = list.slice(|id| Ok(store::created_at_of(conn, company, id)?))?;
    let (rows, total) = store::list(conn, company, &slice)?;
    Ok(list.page(rows.into_iter().map(|(row, creator)| ApiKey::new(row, creator)).collect(), total))
}

/// What happened to a key's creator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreatorChange {
    Disabled,
    Removed,
    /// Given a new role; keys whose scope it does not cover stop (see [`Role::covers_scope`]).
    Demoted(Role),
}

impl CreatorChange {
    fn revokes(self, scope: ApiKeyScope) -> bool {
        match self {
            Self::Disabled | Self::Removed => true,
            Self::Demoted(role) => !role.covers_scope(scope),
        }
    }

    fn reason(self) -> &'static str {
        match self {
            Self::Disabled => "creator_disabled",
            Self::Removed => "creator_removed",
            Self::Demoted(_) => "creator_demoted",
        }
    }

    fn described(self) -> String {
        match self {
            Self::Disabled => "disabled".to_owned(),
            Self::Removed => "removed".to_owned(),
            Self::Demoted(role) => format!("made {}", role.as_str()),
        }
    }
}

/// Revokes the live keys `creator` made that `change` leaves beyond their reach, in the caller's
/// transaction: one audit entry per key, and one API_KEYS_REVOKED alert to the owners naming the keys, the
/// creator and who caused it (`caused_by`). Returns how many keys stopped.
pub fn revoke_for_creator(
    conn: &mut DbConn,
    actor: &AuditActor,
    company: &CompanyId,
    creator: &Person,
    caused_by: &Person,
    change: CreatorChange,
) -> Result<usize, ApiError> {
    let now = crate::db::now();
    let mut revoked = Vec::new();
    for key in store::live_created_by(conn, company, &creator.id)? {
        let (id, scope) = (ApiKeyId::from_db(key.id.clone()), ApiKeyScope::parse(&key.scope));
        if !change.revokes(scope) || store::revoke(conn, company, &id, now)? == 0 {
            continue;
        }
        crate::audit::record(
            conn,
            actor,
            AuditEvent::new("api_key.revoked").target("api_key", &key.id).details(serde_json::json!({
                "name": key.name, "prefix": key.prefix, "scope": key.scope,
                "reason": change.reason(), "created_by": creator.id,
            })),
        )?;
        revoked.push(key);
    }
    if !revoked.is_empty() {
        crate::alerts::service::raise(conn, company, revoked_alert(&revoked, creator, caused_by, change))?;
    }
    Ok(revoked.len())
}

fn revoked_alert(keys: &[ApiKeyRow], creator: &Person, caused_by: &Person, change: CreatorChange) -> NewAlert {
    let named = keys.iter().map(|key| format!("{} ({})", key.name, key.prefix)).collect::<Vec<_>>().join(", ");
    let count = if keys.len() == 1 { "1 API key".to_owned() } else { format!("{} API keys", keys.len()) };
    NewAlert {
        kind: AlertType::ApiKeysRevoked,
        title: format!("{count} revoked"),
        message: format!(
            "{} {} {}, so the API keys they created stopped working: {named}. Create new keys for the \
             integrations that used them.",
            caused_by.described(),
            change.described(),
            creator.described(),
        ),
        employee: None,
        data: serde_json::json!({
            "keys": keys.iter().map(|key| serde_json::json!({
                "id": key.id, "name": key.name, "prefix": key.prefix, "scope": key.scope,
            })).collect::<Vec<_>>(),
            "creator": creator,
            "actor": caused_by,
            "reason": change.reason(),
        }),
        // Every revocation is its own event: an owner should hear of each.
        dedup_key: format!("api_keys_revoked:{}", uuid::Uuid::now_v7()),
    }
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
    // The row was read anyway, so a fresh `last_used_at` costs no statement at all; a stale one costs one
    // conditional UPDATE, which concurrent requests of the same key turn into a single write.
    let now = crate::db::now();
    let stale_before = now - chrono::Duration::seconds(LAST_USED_GRANULARITY_SECS);
    if row.last_used_at.is_none_or(|used| used < stale_before) {
        store::touch_last_used(conn, &company, &id, now, stale_before)?;
    }
    Ok((company, Actor::ApiKey { id, scope: ApiKeyScope::parse(&row.scope) }))
}
