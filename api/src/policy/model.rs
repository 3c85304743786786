//! Policy settings and their API shape.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

/// What agents do. Every field has a default, so a policy stored by an older version still reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(default)]
#[schema(example = json!({"screenshots_enabled": false, "screenshot_interval_secs": 300, "website_tracking_enabled": false,
    "activity_tracking_enabled": true, "idle_threshold_secs": 300, "offline_threshold_secs": 600, "heartbeat_interval_secs": 60}))]
pub struct PolicySettings {
    /// Take screenshots (PRO and above).
    pub screenshots_enabled: bool,
    #[validate(range(min = 60, max = 3600, message = "must be between 60 and 3600 seconds"))]
    #[schema(minimum = 60, maximum = 3600)]
    pub screenshot_interval_secs: u32,
    /// Record visited websites (PRO and above).
    pub website_tracking_enabled: bool,
    /// Record application activity.
    pub activity_tracking_enabled: bool,
    /// No input for this long counts as idle.
    #[validate(range(min = 60, max = 3600, message = "must be between 60 and 3600 seconds"))]
    #[schema(minimum = 60, maximum = 3600)]
    pub idle_threshold_secs: u32,
    /// An agent silent for this long is OFFLINE (and raises an alert).
    #[validate(range(min = 120, max = 86400, message = "must be between 120 and 86400 seconds"))]
    #[schema(minimum = 120, maximum = 86400)]
    pub offline_threshold_secs: u32,
    /// How often agents beat.
    #[validate(range(min = 15, max = 600, message = "must be between 15 and 600 seconds"))]
    #[schema(minimum = 15, maximum = 600)]
    pub heartbeat_interval_secs: u32,
}

impl Default for PolicySettings {
    fn default() -> Self {
        Self {
            screenshots_enabled: false,
            screenshot_interval_secs: 300,
            website_tracking_enabled: false,
            activity_tracking_enabled: true,
            idle_threshold_secs: 300,
            offline_threshold_secs: 600,
            heartbeat_interval_secs: 60,
        }
    }
}

/// A company's policy with its version; every change bumps the version.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Policy {
    pub version: i64,
    pub settings: PolicySettings,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: chrono::DateTime<chrono::Utc>,
}
