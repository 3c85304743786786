//! Audit entries: who did what to which object.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::db::schema::audit_logs;

pub use crate::auth::{ActorType, AuditActor};

/// One thing that happened: an action on a target, with details.
#[derive(Debug, Clone)]
pub struct AuditEvent<'a> {
    pub action: &'a str,
    pub target_type: Option<&'a str>,
    pub target_id: Option<String>,
    pub details: serde_json::Value,
}

impl<'a> AuditEvent<'a> {
    pub fn new(action: &'a str) -> Self {
        Self { action, target_type: None, target_id: None, details: serde_json::Value::Object(Default::default()) }
    }

    pub fn target(mut self, target_type: &'a str, target_id: impl ToString) -> Self {
        self.target_type = Some(target_type);
        self.target_id = Some(target_id.to_string());
        self
    }

    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_logs)]
pub struct AuditRow {
    pub id: String,
    pub company_id: Option<String>,
    pub actor_type: String,
    pub actor_id: Option<String>,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub details: String,
    pub client_ip: Option<String>,
    pub request_id: Option<String>,
    pub created_at: NaiveDateTime,
}

/// An audit entry as the API shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "0193a5b2-7c4e-7d2a-9f1b-3c5d7e9f1a2b", "actor_type": "user", "actor_id": "0193a5b2-7c4e-7d2a-9f1b-3c5d7e9f1a2c", "action": "user.role_changed", "target_type": "user", "target_id": "0193a5b2-7c4e-7d2a-9f1b-3c5d7e9f1a2d", "details": {"from": "VIEWER", "to": "ADMIN"}, "client_ip": "203.0.113.7", "request_id": "0b9c3f1e-5d1c-4f7e-9f3a-7f5d8e2c1a00", "created_at": "2026-11-25T12:00:00Z"}))]
pub struct AuditLogEntry {
    pub id: String,
    pub actor_type: ActorType,
    pub actor_id: Option<String>,
    /// Dotted name of what happened, e.g. `auth.login_failed`, `user.created`, `api_key.revoked`.
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub details: serde_json::Value,
    pub client_ip: Option<String>,
    pub request_id: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl crate::http::pagination::Listed for AuditLogEntry {
    fn list_id(&self) -> &str {
        &self.id
    }
}

impl From<AuditRow> for AuditLogEntry {
    fn from(row: AuditRow) -> Self {
        Self {
            id: row.id,
            actor_type: ActorType::parse(&row.actor_type),
            actor_id: row.actor_id,
            action: row.action,
            target_type: row.target_type,
            target_id: row.target_id,
            details: serde_json::from_str(&row.details).unwrap_or(serde_json::Value::Null),
            client_ip: row.client_ip,
            request_id: row.request_id,
            created_at: row.created_at.and_utc(),
        }
    }
}

/// Filters of `GET /api/v1/audit-logs`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams, validator::Validate)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    /// Only this action, e.g. `user.created`.
    #[param(max_length = 100)]
    #[validate(length(max = 100, message = "must be at most 100 characters long"))]
    pub action: Option<String>,
    /// Only this kind of actor.
    pub actor_type: Option<ActorType>,
    /// Only this actor (a user or API key id).
    #[param(max_length = 100)]
    #[validate(length(max = 100, message = "must be at most 100 characters long"))]
    pub actor_id: Option<String>,
    /// Entries at or after this time (RFC 3339).
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// Entries before this time (RFC 3339).
    pub to: Option<chrono::DateTime<chrono::Utc>>,
}

impl AuditFilter {
    /// Refuses overlong values and a time range that ends before it starts.
    pub fn check(&self) -> Result<(), crate::error::ApiError> {
        validator::Validate::validate(self)?;
        for (field, time) in [("from", self.from), ("to", self.to)] {
            if let Some(time) = time {
                crate::http::bounds::instant(field, time)?;
            }
        }
        match (self.from, self.to) {
            (Some(from), Some(to)) if from > to => {
                Err(crate::error::ApiError::invalid_field("from", "must not be after `to`"))
            }
            _ => Ok(()),
        }
    }
}
