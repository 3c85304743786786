//! Alert types, rows and API bodies.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Role;
use crate::db::schema::alerts;
use crate::ids::{AlertId, EmployeeId};

/// The kinds of alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlertType {
    AgentOffline,
    PaymentFailed,
    PaymentRecovered,
    SubscriptionExpiring,
    SubscriptionCancelled,
    UsageHigh,
    PolicyChanged,
    /// Usage is above the limits of the plan that applies now; the agents past the limit are suspended.
    OverPlanLimit,
    /// Data kept past a shortened retention will be deleted soon (7 days ahead).
    DataDeletionScheduled,
    /// A user was disabled, removed or demoted, which revoked API keys they had created.
    ApiKeysRevoked,
    DuplicateSubscriptionCancelled,
    /// Vigil stopped sending events to a webhook endpoint: it answered 410 Gone, or failed for 5 days.
    WebhookEndpointDisabled,
}

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Critical,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::Warning => "warning",
            Self::Info => "info",
        }
    }
}

impl AlertType {
    pub const ALL: [Self; 12] = [
        Self::AgentOffline,
        Self::PaymentFailed,
        Self::PaymentRecovered,
        Self::SubscriptionExpiring,
        Self::SubscriptionCancelled,
        Self::UsageHigh,
        Self::PolicyChanged,
        Self::OverPlanLimit,
        Self::DataDeletionScheduled,
        Self::ApiKeysRevoked,
        Self::DuplicateSubscriptionCancelled,
        Self::WebhookEndpointDisabled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AgentOffline => "AGENT_OFFLINE",
            Self::PaymentFailed => "PAYMENT_FAILED",
            Self::PaymentRecovered => "PAYMENT_RECOVERED",
            Self::SubscriptionExpiring => "SUBSCRIPTION_EXPIRING",
            Self::SubscriptionCancelled => "SUBSCRIPTION_CANCELLED",
            Self::UsageHigh => "USAGE_HIGH",
            Self::PolicyChanged => "POLICY_CHANGED",
            Self::OverPlanLimit => "OVER_PLAN_LIMIT",
            Self::DataDeletionScheduled => "DATA_DELETION_SCHEDULED",
            Self::ApiKeysRevoked => "API_KEYS_REVOKED",
            Self::DuplicateSubscriptionCancelled => "DUPLICATE_SUBSCRIPTION_CANCELLED",
            Self::WebhookEndpointDisabled => "WEBHOOK_ENDPOINT_DISABLED",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// Each type's fixed severity.
    pub fn severity(self) -> Severity {
        match self {
            Self::PaymentFailed | Self::SubscriptionCancelled | Self::OverPlanLimit | Self::DataDeletionScheduled => {
                Severity::Critical
            }
            Self::AgentOffline
            | Self::SubscriptionExpiring
            | Self::UsageHigh
            | Self::ApiKeysRevoked
            | Self::DuplicateSubscriptionCancelled
            | Self::WebhookEndpointDisabled => Severity::Warning,
            Self::PaymentRecovered | Self::PolicyChanged => Severity::Info,
        }
    }

    /// Who is told: revoked keys go to the owners (an admin's keys may be the ones revoked); billing alerts to
    /// owners and admins; agent, usage and policy alerts to managers as well.
    pub fn recipients(self) -> &'static [Role] {
        match self {
            Self::ApiKeysRevoked => &[Role::Owner],
            // Owners and admins are who manage endpoints.
            Self::WebhookEndpointDisabled => &[Role::Owner, Role::Admin],
            kind if kind.is_billing() => &[Role::Owner, Role::Admin],
            _ => &[Role::Owner, Role::Admin, Role::Manager],
        }
    }

    fn is_billing(self) -> bool {
        matches!(
            self,
            Self::PaymentFailed
                | Self::PaymentRecovered
                | Self::SubscriptionExpiring
                | Self::SubscriptionCancelled
                | Self::OverPlanLimit
                | Self::DataDeletionScheduled
                | Self::DuplicateSubscriptionCancelled
        )
    }
}

/// An alert to raise: one condition, identified by its dedup key.
#[derive(Debug, Clone)]
pub struct NewAlert {
    pub kind: AlertType,
    pub title: String,
    pub message: String,
    pub employee: Option<String>,
    pub data: serde_json::Value,
    /// Names the condition: while an alert with this key is unresolved, no second one is raised.
    pub dedup_key: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = alerts)]
pub struct AlertRow {
    pub id: String,
    pub company_id: String,
    pub recipient_user_id: String,
    pub alert_type: String,
    pub severity: String,
    pub title: String,
    pub message: String,
    pub related_employee_id: Option<String>,
    pub related_data: String,
    pub dedup_key: String,
    pub read_at: Option<NaiveDateTime>,
    pub resolved_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

/// Where an alert stands in the order the live stream sends alerts in: `(created_at, id)`, the keyset the
/// stream's cursor moves along. The derived order compares `created_at` first.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AlertKey {
    pub created_at: NaiveDateTime,
    pub id: String,
}

impl AlertKey {
    /// The first position at `created_at`: before every alert created at that instant or later.
    pub fn at(created_at: NaiveDateTime) -> Self {
        Self { created_at, id: String::new() }
    }

    pub fn of(row: &AlertRow) -> Self {
        Self { created_at: row.created_at, id: row.id.clone() }
    }
}

/// An alert as its recipient sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"id": "0193a5b2-7c4e-7d2a-9f1b-3c5d7e9f1a2b", "type": "PAYMENT_FAILED", "severity": "critical",
    "title": "A payment failed", "message": "Invoice VIG-0001 for 29.00 USD could not be paid.", "related_employee_id": null,
    "related_data": {"invoice_id": "in_1Q2w3E4r", "amount_due": 2900, "currency": "usd"}, "read": false, "read_at": null,
    "resolved": false, "resolved_at": null, "created_at": "2026-11-25T12:00:00Z"}))]
pub struct Alert {
    pub id: AlertId,
    #[serde(rename = "type")]
    pub kind: AlertType,
    pub severity: Severity,
    pub title: String,
    pub message: String,
    pub related_employee_id: Option<EmployeeId>,
    /// What the alert is about: agent, invoice, amounts, limits…
    pub related_data: serde_json::Value,
    pub read: bool,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub read_at: Option<chrono::DateTime<chrono::Utc>>,
    pub resolved: bool,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resolved_at: Option<chrono::DateTime<chrono::Utc>>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl crate::http::pagination::Listed for Alert {
    fn list_id(&self) -> &str {
        self.id.as_str()
    }
}

impl From<AlertRow> for Alert {
    fn from(row: AlertRow) -> Self {
        let kind = AlertType::parse(&row.alert_type).unwrap_or(AlertType::PolicyChanged);
        Self {
            id: AlertId::from_db(row.id),
            kind,
            severity: kind.severity(),
            title: row.title,
            message: row.message,
            related_employee_id: row.related_employee_id.map(EmployeeId::from_db),
            related_data: serde_json::from_str(&row.related_data).unwrap_or(serde_json::Value::Null),
            read: row.read_at.is_some(),
            read_at: row.read_at.map(|t| t.and_utc()),
            resolved: row.resolved_at.is_some(),
            resolved_at: row.resolved_at.map(|t| t.and_utc()),
            created_at: row.created_at.and_utc(),
        }
    }
}

/// Filters of `GET /api/v1/alerts`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertFilter {
    /// Only unread alerts.
    pub unread: Option<bool>,
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<AlertType>,
    pub severity: Option<Severity>,
    /// Only resolved (`true`) or unresolved (`false`) alerts.
    pub resolved: Option<bool>,
}

/// `GET /api/v1/alerts/unread-count`.
#[derive(Debug, Serialize, ToSchema)]
pub struct UnreadCount {
    pub unread: i64,
}

/// `POST /api/v1/alerts/read-all`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MarkedRead {
    /// How many alerts were marked read.
    pub marked: i64,
}

/// A ticket for opening the alert stream with `EventSource`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"ticket": "vigil_st_…", "expires_in": 30}))]
pub struct StreamTicket {
    /// Pass as `?ticket=` to `GET /api/v1/alerts/stream`; it works once, within `expires_in` seconds.
    pub ticket: String,
    pub expires_in: i64,
}
