//! What a company uses against the limits of a tier: counting it, refusing what would pass a limit, and
//! raising or resolving USAGE_HIGH. Every caller passes the tier that applies, so billing (the dashboard,
//! plan changes), the storage meter and the services that add employees or agents all call down into this
//! one place, and this module calls only stores and the alert service.

use diesel::{QueryDsl, RunQueryDsl};

use super::model::{LimitKind, OverLimit, Tier, Usage, UsageItem};
use super::store;
use crate::alerts::model::{AlertType, NewAlert};
use crate::alerts::service as alerts;
use crate::db::DbConn;
use crate::db::schema::companies;
use crate::error::{ApiError, PlanLimit};
use crate::ids::CompanyId;

/// Share of a limit at which USAGE_HIGH is raised.
pub const USAGE_HIGH_PERCENT: i64 = 80;

/// The bytes the company stores now.
pub fn stored_bytes(conn: &mut DbConn, company: &CompanyId) -> Result<i64, ApiError> {
    Ok(companies::table.find(company.as_str()).select(companies::storage_bytes).first(conn)?)
}

/// The company's ACTIVE employees, the figure its tier limits.
pub fn active_employees(conn: &mut DbConn, company: &CompanyId) -> Result<i64, ApiError> {
    Ok(store::count_active_employees(conn, company)?)
}

/// The company's agents that count against its tier: every one not revoked.
pub fn live_agents(conn: &mut DbConn, company: &CompanyId) -> Result<i64, ApiError> {
    Ok(store::count_live_agents(conn, company)?)
}

/// What the company uses, against the limits of `tier`.
pub fn usage(conn: &mut DbConn, company: &CompanyId, tier: &Tier) -> Result<Usage, ApiError> {
    let employees = active_employees(conn, company)?;
    let agents = live_agents(conn, company)?;
    Ok(Usage {
        active_employees: UsageItem::new(employees, tier.max_employees),
        agents: UsageItem::new(agents, tier.max_agents),
        storage_bytes: UsageItem::new(stored_bytes(conn, company)?, LimitKind::MaxStorageGb.of(tier)),
    })
}

/// Refuses adding `adding` more to `usage` when that would pass the tier's limit, naming the smallest tier
/// that would allow it.
pub fn check_limit(conn: &mut DbConn, tier: &Tier, kind: LimitKind, usage: i64, adding: i64) -> Result<(), ApiError> {
    let Some(limit) = kind.of(tier) else { return Ok(()) };
    if usage + adding <= limit {
        return Ok(());
    }
    let upgrade = store::list_tiers(conn)?
        .into_iter()
        .map(Tier::from)
        .filter(|candidate| candidate.display_order > tier.display_order)
        .find(|candidate| kind.of(candidate).is_none_or(|max| usage + adding <= max))
        .map(|candidate| candidate.code);
    let reached = PlanLimit {
        limit: kind,
        max: limit,
        current_usage: usage,
        tier: tier.code,
        upgrade_tier: upgrade,
        detail: format!(
            "The {} plan allows {}; the company has {}.{}",
            tier.name,
            kind.quantity(limit),
            kind.quantity(usage),
            upgrade.map(|t| format!(" Upgrade to {} for more.", t.as_str())).unwrap_or_default()
        ),
    };
    Err(match kind {
        LimitKind::MaxStorageGb => ApiError::StorageLimitReached(reached),
        _ => ApiError::PlanLimitReached(reached),
    })
}

/// Raises USAGE_HIGH for each limit of the tier that applies now used at 80% or more, and resolves it for
/// the others; raises OVER_PLAN_LIMIT while usage exceeds a limit (once per episode: it stays open until
/// usage is within the limits again, which resolves it). `tier` is the tier that applies now
/// (`billing::service::effective_tier`). Call on every change of employees or agents and on every change of
/// the plan that applies, however it changed.
pub fn check_current_usage(conn: &mut DbConn, company: &CompanyId, tier: &Tier) -> Result<(), ApiError> {
    let usage = usage(conn, company, tier)?;
    match OverLimit::of(&usage, tier) {
        Some(over) => {
            alerts::raise(conn, company, over_plan_limit(&over))?;
        }
        None => {
            alerts::resolve(conn, company, OVER_PLAN_LIMIT_KEY)?;
        }
    }
    for (kind, item) in usage.items() {
        let key = format!("usage_high:{}", kind.as_str());
        match (item.limit, item.percent) {
            (Some(limit), Some(percent)) if percent >= USAGE_HIGH_PERCENT => {
                let news = !alerts::is_open(conn, company, &key)?;
                let raised = alerts::raise(
                    conn,
                    company,
                    NewAlert {
                        kind: AlertType::UsageHigh,
                        title: format!("{percent}% of the plan's {} used", kind.noun()),
                        message: format!(
                            "The company has {} of {} allowed on the {} plan.",
                            kind.quantity(item.used),
                            kind.quantity(limit),
                            tier.name
                        ),
                        employee: None,
                        data: serde_json::json!({"limit": kind, "used": item.used, "max": limit, "percent": percent, "tier": tier.code}),
                        dedup_key: key,
                    },
                )?;
                if news && raised > 0 {
                    let usage = serde_json::json!({"usage": {
                        "limit": kind, "used": item.used, "max": limit, "percent": percent, "tier": tier.code,
                    }});
                    crate::events::service::emit(conn, company, crate::events::model::EventType::UsageHigh, usage)?;
                }
            }
            _ => {
                alerts::resolve(conn, company, &key)?;
            }
        }
    }
    Ok(())
}

const OVER_PLAN_LIMIT_KEY: &str = "over_plan_limit";

fn over_plan_limit(over: &OverLimit) -> NewAlert {
    let suspended = match over.suspended_agents {
        0 => String::new(),
        1 => " Until then the agent enrolled last is suspended and records nothing.".to_owned(),
        n => format!(" Until then the {n} agents enrolled last are suspended and record nothing."),
    };
    NewAlert {
        kind: AlertType::OverPlanLimit,
        title: over.summary.clone(),
        message: format!(
            "The company has {}: remove them or upgrade the plan. Until then nothing more can be added.{suspended}",
            over.summary
        ),
        employee: None,
        data: serde_json::json!({"tier": over.tier, "excess": over.excess, "suspended_agents": over.suspended_agents}),
        dedup_key: OVER_PLAN_LIMIT_KEY.to_owned(),
    }
}
