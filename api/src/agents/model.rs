//! Agents and enrollment tokens: rows, domain types and API bodies.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::db::schema::{agents, enrollment_tokens};
use crate::ids::{AgentId, EmployeeId, EnrollmentTokenId};
use crate::policy::model::PolicySettings;

pub use crate::auth::AGENT_SECRET_PREFIX;
/// Every enrollment token starts with this.
pub const ENROLLMENT_TOKEN_PREFIX: &str = "vigil_enr_";

/// Whether an agent is reporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AgentStatus {
    /// Heard from within the policy's offline threshold.
    Online,
    /// Silent for longer than the policy's offline threshold.
    Offline,
    /// Revoked by an admin; its secret no longer works.
    Revoked,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = agents)]
pub struct AgentRow {
    pub id: String,
    pub company_id: String,
    pub employee_id: Option<String>,
    pub hostname: String,
    pub os: String,
    pub agent_version: String,
    pub secret_hash: String,
    pub enrolled_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
    pub offline_alerted: bool,
}

/// An agent as admins see it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Agent {
    pub id: AgentId,
    pub employee_id: Option<EmployeeId>,
    pub hostname: String,
    pub os: String,
    pub agent_version: String,
    pub status: AgentStatus,
    #[schema(value_type = String, format = DateTime)]
    pub last_seen_at: chrono::DateTime<chrono::Utc>,
    #[schema(value_type = String, format = DateTime)]
    pub enrolled_at: chrono::DateTime<chrono::Utc>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
    /// True while the company is over its plan's agent limit and this agent is past it (the agents enrolled
    /// first keep recording): its heartbeats and uploads are refused with `plan_limit_reached`.
    pub suspended: bool,
}

impl crate::http::pagination::Listed for Agent {
    fn list_id(&self) -> &str {
        self.id.as_str()
    }
}

impl Agent {
    /// The agent with its status as of `online_since` (agents seen since then are ONLINE); live agents
    /// enrolled at or after `suspended_from` (`(enrolled at, id)`) are suspended.
    pub fn from_row(
        row: AgentRow,
        online_since: NaiveDateTime,
        suspended_from: Option<&(NaiveDateTime, String)>,
    ) -> Self {
        let suspended = row.revoked_at.is_none()
            && suspended_from.is_some_and(|(at, id)| (row.enrolled_at, row.id.as_str()) >= (*at, id.as_str()));
        let status = match (row.revoked_at, row.last_seen_at >= online_since) {
            (Some(_), _) => AgentStatus::Revoked,
            (None, true) => AgentStatus::Online,
            (None, false) => AgentStatus::Offline,
        };
        Self {
            id: AgentId::from_db(row.id),
            employee_id: row.employee_id.map(EmployeeId::from_db),
            hostname: row.hostname,
            os: row.os,
            agent_version: row.agent_version,
            status,
            last_seen_at: row.last_seen_at.and_utc(),
            enrolled_at: row.enrolled_at.and_utc(),
            revoked_at: row.revoked_at.map(|t| t.and_utc()),
            suspended,
        }
    }
}

/// Filters of `GET /api/v1/agents`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AgentFilter {
    pub status: Option<AgentStatus>,
    pub employee_id: Option<EmployeeId>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = enrollment_tokens)]
pub struct EnrollmentTokenRow {
    pub id: String,
    pub company_id: String,
    pub token_hash: String,
    pub prefix: String,
    pub max_uses: i32,
    pub uses: i32,
    pub expires_at: NaiveDateTime,
    pub created_by_user_id: Option<String>,
    pub created_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
}

/// An enrollment token as listed: never the token itself.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EnrollmentToken {
    pub id: EnrollmentTokenId,
    #[schema(example = "vigil_enr_Ab3dE9")]
    pub prefix: String,
    pub max_uses: i64,
    pub uses: i64,
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: chrono::DateTime<chrono::Utc>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: chrono::DateTime<chrono::Utc>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl crate::http::pagination::Listed for EnrollmentToken {
    fn list_id(&self) -> &str {
        self.id.as_str()
    }
}

impl From<EnrollmentTokenRow> for EnrollmentToken {
    fn from(row: EnrollmentTokenRow) -> Self {
        Self {
            id: EnrollmentTokenId::from_db(row.id),
            prefix: row.prefix,
            max_uses: i64::from(row.max_uses),
            uses: i64::from(row.uses),
            expires_at: row.expires_at.and_utc(),
            created_at: row.created_at.and_utc(),
            revoked_at: row.revoked_at.map(|t| t.and_utc()),
        }
    }
}

/// `POST /api/v1/enrollment-tokens`.
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"expires_in_hours": 72, "max_uses": 25}))]
pub struct CreateEnrollmentTokenRequest {
    /// Hours until the token expires (default 72).
    #[validate(range(min = 1, max = 720, message = "must be between 1 and 720 hours"))]
    #[schema(minimum = 1, maximum = 720)]
    pub expires_in_hours: Option<u32>,
    /// How many agents may enroll with it (default 1).
    #[validate(range(min = 1, max = 10000, message = "must be between 1 and 10000"))]
    #[schema(minimum = 1, maximum = 10000)]
    pub max_uses: Option<u32>,
}

/// A new enrollment token: the only time the token is shown.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedEnrollmentToken {
    #[serde(flatten)]
    pub enrollment_token: EnrollmentToken,
    /// Give it to the agent installer. It cannot be shown again.
    pub token: String,
}

/// `POST /api/v1/agent/enroll`: what a desktop agent sends on first start.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"enrollment_token": "vigil_enr_…", "hostname": "ada-laptop", "os": "macOS 15.1", "agent_version": "2.4.0", "employee_email": "ada@acme.test"}))]
pub struct EnrollRequest {
    #[validate(length(min = 1, max = 200, message = "is required"))]
    #[schema(min_length = 1, max_length = 200)]
    pub enrollment_token: String,
    #[validate(
        custom(function = "crate::http::validation::not_blank"),
        length(max = 255, message = "must be at most 255 characters long")
    )]
    #[schema(min_length = 1, max_length = 255, pattern = "\\S")]
    pub hostname: String,
    #[validate(
        custom(function = "crate::http::validation::not_blank"),
        length(max = 100, message = "must be at most 100 characters long")
    )]
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub os: String,
    #[validate(
        custom(function = "crate::http::validation::not_blank"),
        length(max = 50, message = "must be at most 50 characters long")
    )]
    #[schema(min_length = 1, max_length = 50, pattern = "\\S")]
    pub agent_version: String,
    /// Links the agent to this employee of the company.
    #[validate(email(message = "must be a valid email address"), length(max = 254))]
    #[schema(format = Email, max_length = 254)]
    pub employee_email: Option<String>,
}

/// The agent's identity and credentials: store the secret; it cannot be shown again.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Enrollment {
    pub agent_id: AgentId,
    /// Send as `Authorization: Bearer <agent_secret>` on every agent call.
    pub agent_secret: String,
    pub policy_version: i64,
    pub policy: PolicySettings,
}

/// `POST /api/v1/agent/heartbeat`: all optional.
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"policy_version": 3, "agent_version": "2.4.1"}))]
pub struct HeartbeatRequest {
    /// The policy version the agent has; when current, the answer omits the policy.
    pub policy_version: Option<i64>,
    /// Reported when the agent updated itself.
    #[validate(length(min = 1, max = 50, message = "must be between 1 and 50 characters long"))]
    #[schema(min_length = 1, max_length = 50)]
    pub agent_version: Option<String>,
}

/// The heartbeat answer: the current policy version, and the policy itself only when it changed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"policy_version": 3, "policy_changed": false}))]
pub struct HeartbeatResponse {
    pub policy_version: i64,
    pub policy_changed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicySettings>,
}
