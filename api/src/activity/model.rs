//! Activity records: what agents send, what is stored, and an employee's day as admins read it.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::db::schema::activity_records;
use crate::http::bounds::Day;
use crate::ids::{AgentId, EmployeeId};

/// The most records one batch may carry.
pub const MAX_BATCH_RECORDS: usize = 500;

/// Whether the person was working the machine during a span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ActivityState {
    Active,
    /// No input for longer than the policy's idle threshold.
    Idle,
}

impl ActivityState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Idle => "IDLE",
        }
    }

    fn parse(text: &str) -> Self {
        if text == "IDLE" { Self::Idle } else { Self::Active }
    }
}

/// `POST /api/v1/agent/activity`: spans ordered by `started_at`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"records": [{"id": "0193a5b2-7c4e-7d2a-9f1b-3c5d7e9f1a2b", "state": "ACTIVE",
    "application": "Firefox", "window_title": "Quarterly report - Docs", "url": "https://docs.example.com/q3",
    "started_at": "2026-11-25T09:00:00Z", "ended_at": "2026-11-25T09:12:30Z"}]}))]
pub struct ActivityBatch {
    #[validate(length(min = 1, max = 500, message = "must hold between 1 and 500 records"), nested)]
    #[schema(min_items = 1, max_items = 500)]
    pub records: Vec<ActivityRecordInput>,
}

/// One span of activity as the agent recorded it.
#[derive(Debug, Serialize, Deserialize, Validate, ToSchema)]
pub struct ActivityRecordInput {
    /// The agent's own id for the record (a UUID, say), unique per agent: a record sent again is stored once.
    #[validate(length(min = 1, max = 64, message = "must be 1 to 64 characters"), custom(function = "client_id"))]
    #[schema(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9_.:-]+$")]
    pub id: String,
    pub state: ActivityState,
    /// The application in the foreground.
    #[validate(
        custom(function = "crate::http::validation::not_blank"),
        length(max = 256, message = "must be at most 256 characters long")
    )]
    #[schema(min_length = 1, max_length = 256)]
    pub application: String,
    #[validate(length(max = 1024, message = "must be at most 1024 characters long"))]
    #[schema(max_length = 1024)]
    pub window_title: Option<String>,
    /// The page in the foreground browser tab. Stored only when website tracking is on (policy and plan);
    /// otherwise dropped.
    #[validate(length(max = 2048, message = "must be at most 2048 characters long"), url(message = "must be a URL"))]
    #[schema(max_length = 2048)]
    pub url: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub started_at: DateTime<Utc>,
    /// Not before `started_at`; a span lasts at most 24 hours.
    #[schema(value_type = String, format = DateTime)]
    pub ended_at: DateTime<Utc>,
}

fn client_id(value: &str) -> Result<(), validator::ValidationError> {
    if value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-')) {
        return Ok(());
    }
    Err(validator::ValidationError::new("client_id").with_message("may hold only letters, digits and _ . : -".into()))
}

/// What became of a batch.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ActivityReceipt {
    /// Records stored now.
    pub stored: usize,
    /// Records stored before (the batch was sent again), left as they were.
    pub duplicates: usize,
    /// URLs dropped because website tracking is off for the company.
    pub urls_dropped: usize,
    /// The policy version, so an agent with an older copy knows to fetch it with its next heartbeat.
    pub policy_version: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = activity_records)]
pub struct ActivityRow {
    pub id: String,
    pub company_id: String,
    pub agent_id: String,
    pub employee_id: Option<String>,
    pub client_id: String,
    pub state: String,
    pub application: String,
    pub window_title: Option<String>,
    pub url: Option<String>,
    pub started_at: NaiveDateTime,
    pub ended_at: NaiveDateTime,
    pub size_bytes: i64,
    pub received_at: NaiveDateTime,
}

/// `GET /api/v1/employees/{id}/activity?date=2026-11-25&utc_offset_minutes=60`.
#[derive(Debug, Deserialize, IntoParams, Validate)]
#[into_params(parameter_in = Query)]
pub struct DayQuery {
    /// The day, in the employee's local calendar (default: today there); 1970-01-01 to 9999-12-31.
    #[param(value_type = Option<String>, format = Date, max_length = 10, example = "2026-11-25")]
    pub date: Option<Day>,
    /// The employee's offset from UTC in minutes (default 0, i.e. a UTC day).
    #[param(minimum = -840, maximum = 840, example = 60)]
    #[validate(range(min = -840, max = 840, message = "must be between -840 and 840"))]
    pub utc_offset_minutes: Option<i32>,
}

/// Time spent in one application or on one site.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TimeShare {
    /// The application, or the site's host name.
    pub name: String,
    pub active_secs: i64,
}

/// One span of an employee's day, clipped to the day.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ActivitySpan {
    pub state: ActivityState,
    pub application: String,
    pub window_title: Option<String>,
    pub url: Option<String>,
    pub agent_id: AgentId,
    #[schema(value_type = String, format = DateTime)]
    pub started_at: DateTime<Utc>,
    #[schema(value_type = String, format = DateTime)]
    pub ended_at: DateTime<Utc>,
}

/// An employee's day: the timeline and its totals.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DayActivity {
    pub employee_id: EmployeeId,
    #[schema(value_type = String, format = Date)]
    pub date: NaiveDate,
    /// The day's bounds in UTC.
    #[schema(value_type = String, format = DateTime)]
    pub from: DateTime<Utc>,
    #[schema(value_type = String, format = DateTime)]
    pub to: DateTime<Utc>,
    pub active_secs: i64,
    pub idle_secs: i64,
    /// The ten applications with the most active time, most first.
    pub top_applications: Vec<TimeShare>,
    /// The ten sites with the most active time, most first (empty when website tracking is off).
    pub top_sites: Vec<TimeShare>,
    /// The spans in order, at most 2000; `truncated` says when there were more (the totals count all).
    pub records: Vec<ActivitySpan>,
    pub truncated: bool,
}

impl ActivityRow {
    pub fn span(&self, from: NaiveDateTime, to: NaiveDateTime) -> ActivitySpan {
        ActivitySpan {
            state: ActivityState::parse(&self.state),
            application: self.application.clone(),
            window_title: self.window_title.clone(),
            url: self.url.clone(),
            agent_id: AgentId::from_db(self.agent_id.clone()),
            started_at: self.started_at.max(from).and_utc(),
            ended_at: self.ended_at.min(to).and_utc(),
        }
    }

    pub fn state(&self) -> ActivityState {
        ActivityState::parse(&self.state)
    }
}
