//! Tiers and what each allows.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::schema::tiers;

/// The three plans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TierCode {
    Free,
    Pro,
    Enterprise,
}

impl TierCode {
    pub const ALL: [Self; 3] = [Self::Free, Self::Pro, Self::Enterprise];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Free => "FREE",
            Self::Pro => "PRO",
            Self::Enterprise => "ENTERPRISE",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|tier| tier.as_str() == text)
    }
}

/// What a tier switches on. Unknown keys in the stored JSON are ignored; missing ones are off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct TierFeatures {
    pub screenshots: bool,
    pub website_tracking: bool,
    pub activity_tracking: bool,
    pub api_access: bool,
    pub priority_support: bool,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tiers)]
pub struct TierRow {
    pub code: String,
    pub name: String,
    pub max_employees: Option<i32>,
    pub max_agents: Option<i32>,
    pub max_storage_gb: Option<i32>,
    pub retention_days: i32,
    pub features: String,
    pub display_order: i32,
    pub monthly_price_minor: i64,
    pub currency: String,
}

/// A tier with its limits. `None` limits are unlimited.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"code": "PRO", "name": "Pro", "max_employees": 50, "max_agents": 100, "max_storage_gb": 50,
    "retention_days": 180, "features": {"screenshots": true, "website_tracking": true, "activity_tracking": true,
    "api_access": true, "priority_support": false}, "display_order": 2, "monthly_price_minor": 2900, "currency": "usd"}))]
pub struct Tier {
    pub code: TierCode,
    pub name: String,
    pub max_employees: Option<i64>,
    pub max_agents: Option<i64>,
    pub max_storage_gb: Option<i64>,
    /// Days recorded activity and screenshots are kept.
    pub retention_days: i64,
    pub features: TierFeatures,
    pub display_order: i64,
    /// Price per month in minor units of `currency` (2900 = $29.00).
    pub monthly_price_minor: i64,
    pub currency: String,
}

impl From<TierRow> for Tier {
    fn from(row: TierRow) -> Self {
        Self {
            code: TierCode::parse(&row.code).unwrap_or(TierCode::Free),
            name: row.name,
            max_employees: row.max_employees.map(i64::from),
            max_agents: row.max_agents.map(i64::from),
            max_storage_gb: row.max_storage_gb.map(i64::from),
            retention_days: i64::from(row.retention_days),
            features: serde_json::from_str(&row.features).unwrap_or_default(),
            display_order: i64::from(row.display_order),
            monthly_price_minor: row.monthly_price_minor,
            currency: row.currency,
        }
    }
}

/// A limit of a tier that usage can reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    MaxEmployees,
    MaxAgents,
    MaxStorageGb,
}

impl LimitKind {
    pub fn of(self, tier: &Tier) -> Option<i64> {
        match self {
            Self::MaxEmployees => tier.max_employees,
            Self::MaxAgents => tier.max_agents,
            Self::MaxStorageGb => tier.max_storage_gb,
        }
    }

    pub fn noun(self) -> &'static str {
        match self {
            Self::MaxEmployees => "active employees",
            Self::MaxAgents => "agents",
            Self::MaxStorageGb => "GB of storage",
        }
    }
}
