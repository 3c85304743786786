//! Screenshot rows and their API shapes.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::db::schema::screenshots;
use crate::ids::{AgentId, EmployeeId, ScreenshotId};

/// The image types accepted, recognised by their first bytes (whatever the upload claims).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageType {
    Png,
    Jpeg,
    Webp,
}

impl ImageType {
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Self::Png)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(Self::Webp)
        } else {
            None
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Webp => "image/webp",
        }
    }
}

/// `POST /api/v1/agent/screenshots` as `multipart/form-data`.
#[derive(Debug, ToSchema)]
#[allow(dead_code, reason = "documents the multipart form; the handler reads the parts as they stream in")]
pub struct ScreenshotUpload {
    /// The agent's own id for the screenshot, unique per agent: an upload sent again is stored once.
    #[schema(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9_.:-]+$")]
    pub id: String,
    /// When it was taken.
    #[schema(value_type = String, format = DateTime)]
    pub taken_at: String,
    /// The image: PNG, JPEG or WebP, at most `SCREENSHOT_MAX_BYTES` (5 MiB unless configured; never over 64 MiB).
    #[schema(value_type = String, format = Binary, content_media_type = "image/png", max_length = 67108864)]
    pub file: Vec<u8>,
}

/// What became of an upload.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ScreenshotReceipt {
    pub id: ScreenshotId,
    /// True when this screenshot had been stored before (the upload was sent again).
    pub duplicate: bool,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = screenshots)]
pub struct ScreenshotRow {
    pub id: String,
    pub company_id: String,
    pub agent_id: String,
    pub employee_id: Option<String>,
    pub client_id: String,
    pub taken_at: NaiveDateTime,
    pub content_type: String,
    pub size_bytes: i64,
    pub object_key: String,
    pub received_at: NaiveDateTime,
}

/// A screenshot as supervisors see it, with a link to the image that works for a few minutes.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Screenshot {
    pub id: ScreenshotId,
    pub employee_id: Option<EmployeeId>,
    pub agent_id: AgentId,
    #[schema(value_type = String, format = DateTime)]
    pub taken_at: DateTime<Utc>,
    pub content_type: String,
    pub size_bytes: i64,
    /// The image, relative to the API's origin; signed, so it needs no Authorization header.
    pub url: String,
    #[schema(value_type = String, format = DateTime)]
    pub url_expires_at: DateTime<Utc>,
}

impl crate::http::pagination::Listed for Screenshot {
    fn list_id(&self) -> &str {
        self.id.as_str()
    }
}

/// Which screenshots to list.
#[derive(Debug, Default, Deserialize, IntoParams, validator::Validate)]
#[into_params(parameter_in = Query)]
pub struct ScreenshotFilter {
    /// Only this UTC day (1970-01-01 to 9999-12-31).
    #[param(value_type = Option<String>, format = Date, max_length = 10, example = "2026-11-25")]
    pub date: Option<crate::http::bounds::Day>,
}
