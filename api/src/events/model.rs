//! Event types, rows and the envelope sent to webhooks and listed by the events API.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::db::schema::events;
use crate::ids::EventId;

/// The outbox topic of one delivery of one event to one endpoint.
pub const DELIVERY_TOPIC: &str = "webhook.deliver";

/// The envelope's version: changes to an event's fields that could break a receiver get a new one.
pub const ENVELOPE_VERSION: &str = "2026-12-04";

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum EventType {
    #[serde(rename = "alert.created")]
    AlertCreated,
    #[serde(rename = "alert.resolved")]
    AlertResolved,
    #[serde(rename = "subscription.updated")]
    SubscriptionUpdated,
    #[serde(rename = "invoice.paid")]
    InvoicePaid,
    #[serde(rename = "invoice.payment_failed")]
    InvoicePaymentFailed,
    #[serde(rename = "employee.created")]
    EmployeeCreated,
    #[serde(rename = "employee.updated")]
    EmployeeUpdated,
    #[serde(rename = "employee.deactivated")]
    EmployeeDeactivated,
    #[serde(rename = "agent.enrolled")]
    AgentEnrolled,
    #[serde(rename = "agent.offline")]
    AgentOffline,
    #[serde(rename = "usage.high")]
    UsageHigh,
    /// Sent by "send test" to one endpoint; never to the others, and not listed by the events API.
    #[serde(rename = "ping")]
    Ping,
}

impl EventType {
    /// Every type an endpoint may subscribe to.
    pub const SUBSCRIBABLE: [Self; 11] = [
        Self::AlertCreated,
        Self::AlertResolved,
        Self::SubscriptionUpdated,
        Self::InvoicePaid,
        Self::InvoicePaymentFailed,
        Self::EmployeeCreated,
        Self::EmployeeUpdated,
        Self::EmployeeDeactivated,
        Self::AgentEnrolled,
        Self::AgentOffline,
        Self::UsageHigh,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AlertCreated => "alert.created",
            Self::AlertResolved => "alert.resolved",
            Self::SubscriptionUpdated => "subscription.updated",
            Self::InvoicePaid => "invoice.paid",
            Self::InvoicePaymentFailed => "invoice.payment_failed",
            Self::EmployeeCreated => "employee.created",
            Self::EmployeeUpdated => "employee.updated",
            Self::EmployeeDeactivated => "employee.deactivated",
            Self::AgentEnrolled => "agent.enrolled",
            Self::AgentOffline => "agent.offline",
            Self::UsageHigh => "usage.high",
            Self::Ping => "ping",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::SUBSCRIBABLE.into_iter().chain([Self::Ping]).find(|kind| kind.as_str() == text)
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = events)]
pub struct EventRow {
    pub id: String,
    pub company_id: String,
    pub event_type: String,
    pub payload: String,
    pub created_at: NaiveDateTime,
}

/// An event as webhooks send it and the events API lists it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a5b2-7c4e-7d2a-9f1b-3c5d7e9f1a2b",
    "type": "employee.created",
    "api_version": ENVELOPE_VERSION,
    "created_at": "2026-12-04T10:00:00Z",
    "data": {"employee": {"id": "0193a5b2-7c4e-7d2a-9f1b-3c5d7e9f1a2c", "name": "Ada Lovelace"}}
}))]
pub struct Event {
    /// Unique; also the `webhook-id` of every delivery of this event, the receiver's idempotency key.
    pub id: EventId,
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// The envelope's version.
    pub api_version: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// The event's object, as of the change.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

impl crate::http::pagination::Listed for Event {
    fn list_id(&self) -> &str {
        self.id.as_str()
    }
}

/// `GET /api/v1/events` filters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventFilter {
    /// Only events of this type.
    #[serde(rename = "type")]
    #[param(rename = "type", value_type = Option<EventType>)]
    pub event_type: Option<EventType>,
}
