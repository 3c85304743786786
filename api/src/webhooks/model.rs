//! Webhook endpoints and their delivery attempts: rows and API bodies.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::db::schema::{webhook_attempts, webhook_endpoints};
use crate::events::model::EventType;
use crate::ids::{EventId, WebhookEndpointId};

#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_endpoints)]
pub struct EndpointRow {
    pub id: String,
    pub company_id: String,
    pub url: String,
    pub description: String,
    pub event_types: String,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<NaiveDateTime>,
    pub failing_since: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Never the secrets, in logs or panics.
impl std::fmt::Debug for EndpointRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointRow")
            .field("id", &self.id)
            .field("company_id", &self.company_id)
            .field("url", &self.url)
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

impl EndpointRow {
    /// The secrets deliveries are signed with now: the current one, and the previous one during the
    /// overlap of a rotation.
    pub fn signing_secrets(&self, now: NaiveDateTime) -> Vec<&str> {
        let previous = match (&self.previous_secret, self.previous_secret_expires_at) {
            (Some(secret), Some(until)) if until > now => Some(secret.as_str()),
            _ => None,
        };
        std::iter::once(self.secret.as_str()).chain(previous).collect()
    }

    /// Whether events of `kind` go to this endpoint: a ping, or a type it subscribes to (its list empty:
    /// every type). An unreadable list wants nothing.
    pub fn wants(&self, kind: EventType) -> bool {
        kind == EventType::Ping || crate::events::service::wants(&self.event_types, kind)
    }

    /// Whether `event` is for this endpoint: a type it subscribes to now, or a ping made for it.
    pub fn is_meant(&self, event: &crate::events::model::EventRow) -> bool {
        match EventType::parse(&event.event_type) {
            Some(EventType::Ping) => serde_json::from_str::<serde_json::Value>(&event.payload)
                .is_ok_and(|envelope| envelope["data"]["endpoint_id"] == self.id.as_str()),
            Some(kind) => self.wants(kind),
            None => false,
        }
    }

    pub fn wanted_types(&self) -> Vec<EventType> {
        let names: Vec<String> = serde_json::from_str(&self.event_types).unwrap_or_default();
        names.iter().filter_map(|name| EventType::parse(name)).collect()
    }
}

/// The condition of the alert that says Vigil disabled the endpoint.
pub fn disabled_condition(endpoint: &str) -> String {
    format!("webhook_endpoint_disabled:{endpoint}")
}

/// An endpoint as shown: never its secret.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WebhookEndpoint {
    pub id: WebhookEndpointId,
    pub url: String,
    pub description: String,
    /// The event types sent to it; empty: every type.
    pub event_types: Vec<EventType>,
    pub enabled: bool,
    /// Why Vigil disabled it (it answered 410 Gone, or failed everything for 5 days); `null` otherwise.
    pub disabled_reason: Option<String>,
    /// Since when every delivery has failed; `null` while they succeed.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub failing_since: Option<chrono::DateTime<chrono::Utc>>,
    /// Until when deliveries also carry the signature of the secret before the last rotation.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub previous_secret_expires_at: Option<chrono::DateTime<chrono::Utc>>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: chrono::DateTime<chrono::Utc>,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl crate::http::pagination::Listed for WebhookEndpoint {
    fn list_id(&self) -> &str {
        self.id.as_str()
    }
}

impl From<EndpointRow> for WebhookEndpoint {
    fn from(row: EndpointRow) -> Self {
        let now = crate::db::now();
        Self {
            event_types: row.wanted_types(),
            id: WebhookEndpointId::from_db(row.id),
            url: row.url,
            description: row.description,
            enabled: row.enabled,
            disabled_reason: row.disabled_reason,
            failing_since: row.failing_since.map(|t| t.and_utc()),
            previous_secret_expires_at: row
                .previous_secret_expires_at
                .filter(|until| *until > now)
                .map(|t| t.and_utc()),
            created_at: row.created_at.and_utc(),
            updated_at: row.updated_at.and_utc(),
        }
    }
}

/// `POST /api/v1/webhook-endpoints`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"url": "https://example.com/vigil/webhooks", "description": "Payroll sync", "event_types": ["employee.created"]}))]
pub struct CreateWebhookEndpointRequest {
    /// An `https` URL (`http` only where the operator allows it), on a public address.
    #[validate(length(min = 1, max = 2048, message = "must be 1 to 2048 characters long"))]
    #[schema(min_length = 1, max_length = 2048)]
    pub url: String,
    #[validate(length(max = 200, message = "must be at most 200 characters long"))]
    #[schema(max_length = 200)]
    #[serde(default)]
    pub description: String,
    /// The event types to send; empty or absent: every type.
    #[serde(default)]
    pub event_types: Vec<EventType>,
    /// Default true.
    pub enabled: Option<bool>,
}

/// `PATCH /api/v1/webhook-endpoints/{id}`: the fields given change.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"enabled": false}))]
pub struct UpdateWebhookEndpointRequest {
    #[validate(length(min = 1, max = 2048, message = "must be 1 to 2048 characters long"))]
    #[schema(min_length = 1, max_length = 2048)]
    pub url: Option<String>,
    #[validate(length(max = 200, message = "must be at most 200 characters long"))]
    #[schema(max_length = 200)]
    pub description: Option<String>,
    pub event_types: Option<Vec<EventType>>,
    /// Enabling an endpoint Vigil disabled clears the reason and its record of failures.
    pub enabled: Option<bool>,
}

/// A new endpoint: the only time its secret is shown.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedWebhookEndpoint {
    #[serde(flatten)]
    pub endpoint: WebhookEndpoint,
    /// The signing secret (`whsec_` + base64). Store it now: it cannot be shown again.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
}

/// A rotated secret: the new one, shown once, and until when the old one still signs.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RotatedSecret {
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
    #[schema(value_type = String, format = DateTime)]
    pub previous_secret_expires_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_attempts)]
pub struct AttemptRow {
    pub id: String,
    pub company_id: String,
    pub endpoint_id: String,
    pub event_id: String,
    pub attempted_at: NaiveDateTime,
    pub status_code: Option<i32>,
    pub latency_ms: i32,
    pub succeeded: bool,
    pub response_body: Option<String>,
    pub error: Option<String>,
}

/// One delivery attempt, as the delivery log shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WebhookAttempt {
    pub id: String,
    /// The event sent: its `webhook-id`.
    pub event_id: EventId,
    #[schema(value_type = String, format = DateTime)]
    pub attempted_at: chrono::DateTime<chrono::Utc>,
    /// The HTTP status; `null` when no answer came (refused, timed out, a disallowed address).
    pub status_code: Option<i32>,
    pub latency_ms: i32,
    pub succeeded: bool,
    /// The first KiB of the answer.
    pub response_body: Option<String>,
    /// Why the attempt failed, when it did without an answer, or what its answer meant.
    pub error: Option<String>,
}

impl crate::http::pagination::Listed for WebhookAttempt {
    fn list_id(&self) -> &str {
        self.id.as_str()
    }
}

impl From<AttemptRow> for WebhookAttempt {
    fn from(row: AttemptRow) -> Self {
        Self {
            id: row.id,
            event_id: EventId::from_db(row.event_id),
            attempted_at: row.attempted_at.and_utc(),
            status_code: row.status_code,
            latency_ms: row.latency_ms,
            succeeded: row.succeeded,
            response_body: row.response_body,
            error: row.error,
        }
    }
}

/// `POST …/recover?since=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecoverQuery {
    /// Send again every event since this time (RFC 3339) that the endpoint did not receive; default: the
    /// last 24 hours.
    #[param(value_type = Option<String>, format = DateTime)]
    pub since: Option<chrono::DateTime<chrono::Utc>>,
}

/// How many deliveries were queued.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeliveriesQueued {
    pub queued: i64,
    /// A recovery queues at most 1,000 at once: true when more are left, for another call.
    pub has_more: bool,
}

/// A test event queued for an endpoint.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TestEventQueued {
    /// The `ping` event's id: the `webhook-id` the endpoint will receive.
    pub event_id: EventId,
}
