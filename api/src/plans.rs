//! The plans and their limits, as values: which tier, what it allows, and which limit a request can reach.
//!
//! These sit below every domain (and below `error`, whose `plan_limit_reached` problem names them), so that
//! nothing low has to import `billing` to speak of a tier. `billing::model` re-exports them; the tiers table
//! and its rows stay in billing.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

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

/// Storage limits are in decimal gigabytes, as storage is sold.
pub const BYTES_PER_GB: i64 = 1_000_000_000;

/// A limit of a tier that usage can reach. `of` gives the limit in the unit usage is counted in (bytes for
/// storage).
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
            Self::MaxStorageGb => tier.max_storage_gb.map(|gb| gb.saturating_mul(BYTES_PER_GB)),
        }
    }

    /// The limit's name, as in the API (`max_employees`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MaxEmployees => "max_employees",
            Self::MaxAgents => "max_agents",
            Self::MaxStorageGb => "max_storage_gb",
        }
    }

    pub fn noun(self) -> &'static str {
        match self {
            Self::MaxEmployees => "active employees",
            Self::MaxAgents => "agents",
            Self::MaxStorageGb => "storage",
        }
    }

    /// An amount of this kind as a person reads it: `5 active employees`, `1.2 GB of storage`.
    pub fn quantity(self, amount: i64) -> String {
        match self {
            #[expect(clippy::cast_precision_loss, reason = "shown with one decimal")]
            Self::MaxStorageGb => format!("{:.1} GB of storage", amount as f64 / BYTES_PER_GB as f64),
            _ => format!("{amount} {}", self.noun()),
        }
    }
}

impl LimitKind {
    /// An amount over this limit, as in "3 employees": a count for people and agents, GB for storage.
    pub fn excess_phrase(self, amount: i64) -> String {
        let plural = if amount == 1 { "" } else { "s" };
        match self {
            Self::MaxEmployees => format!("{amount} employee{plural}"),
            Self::MaxAgents => format!("{amount} agent{plural}"),
            Self::MaxStorageGb => self.quantity(amount),
        }
    }
}
