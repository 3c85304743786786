//! API keys: rows, domain types and API bodies.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use crate::db::schema::api_keys;
use crate::ids::{ApiKeyId, UserId};

pub use crate::auth::API_KEY_PREFIX;

pub use crate::auth::ApiKeyScope;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_keys)]
pub struct ApiKeyRow {
    pub id: String,
    pub company_id: String,
    pub name: String,
    pub prefix: String,
    pub key_hash: String,
    pub scope: String,
    /// NULL when the creator is unknown: the user was removed (which revoked the key).
    pub created_by_user_id: Option<String>,
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
    /// Who created the key; `null` when unknown (that user has been removed, which revoked the key).
    pub created_by: Option<Person>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// When the key last authenticated a request, to the minute: it is written at most once a minute.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl crate::http::pagination::Listed for ApiKey {
    fn list_id(&self) -> &str {
        self.id.as_str()
    }
}

/// A creator as the list query reads it: id, name, email.
pub type CreatorColumns = (String, String, String);

impl ApiKey {
    /// The listed form of a row and its creator (when still known).
    pub fn new(row: ApiKeyRow, creator: Option<CreatorColumns>) -> Self {
        Self {
            id: ApiKeyId::from_db(row.id),
            name: row.name,
            prefix: row.prefix,
            scope: ApiKeyScope::parse(&row.scope),
            created_by: creator.map(|(id, name, email)| Person { id: UserId::from_db(id), name, email }),
            created_at: row.created_at.and_utc(),
            last_used_at: row.last_used_at.map(|t| t.and_utc()),
            revoked_at: row.revoked_at.map(|t| t.and_utc()),
        }
    }
}

/// A user as keys name them: a key's creator in lists; the creator and whoever caused it in a revocation.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Person {
    pub id: UserId,
    pub name: String,
    pub email: String,
}

impl Person {
    pub(crate) fn described(&self) -> String {
        format!("{} <{}>", self.name, self.email)
    }
}

/// `POST /api/v1/api-keys`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"name": "Payroll sync", "scope": "read"}))]
pub struct CreateApiKeyRequest {
    #[validate(
        custom(function = "crate::http::validation::not_blank"),
        length(max = 100, message = "must be at most 100 characters long")
    )]
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
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
