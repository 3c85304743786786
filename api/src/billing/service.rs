//! Which tier applies to a company, and the checks of its limits and features.

use super::model::{LimitKind, Tier, TierCode};
use super::store;
use crate::db::DbConn;
use crate::error::{ApiError, PlanLimit};
use crate::ids::CompanyId;

/// The tier whose limits apply now: the subscribed tier while the subscription is ACTIVE, FREE otherwise.
pub fn effective_tier(conn: &mut DbConn, company: &CompanyId) -> Result<Tier, ApiError> {
    let code = match store::subscription_tier(conn, company)? {
        Some((tier, status)) if status == "ACTIVE" => TierCode::parse(&tier).unwrap_or(TierCode::Free),
        _ => TierCode::Free,
    };
    Ok(store::find_tier(conn, code)?.into())
}

/// All tiers, cheapest first.
pub fn list_tiers(conn: &mut DbConn) -> Result<Vec<Tier>, ApiError> {
    Ok(store::list_tiers(conn)?.into_iter().map(Into::into).collect())
}

/// Refuses adding `adding` more to `usage` when that would pass the tier's limit, naming the smallest tier
/// that would allow it.
pub fn check_limit(conn: &mut DbConn, tier: &Tier, kind: LimitKind, usage: i64, adding: i64) -> Result<(), ApiError> {
    let Some(limit) = kind.of(tier) else { return Ok(()) };
    if usage + adding <= limit {
        return Ok(());
    }
    let upgrade = list_tiers(conn)?
        .into_iter()
        .filter(|candidate| candidate.display_order > tier.display_order)
        .find(|candidate| kind.of(candidate).is_none_or(|max| usage + adding <= max))
        .map(|candidate| candidate.code);
    Err(ApiError::PlanLimitReached(PlanLimit {
        limit: kind,
        max: limit,
        current_usage: usage,
        tier: tier.code,
        upgrade_tier: upgrade,
        detail: format!(
            "The {} plan allows {limit} {}; the company has {usage}.{}",
            tier.name,
            kind.noun(),
            upgrade.map(|t| format!(" Upgrade to {} to add more.", t.as_str())).unwrap_or_default()
        ),
    }))
}

/// The smallest tier whose features satisfy `wanted`, for upgrade hints.
pub fn cheapest_tier_with(conn: &mut DbConn, wanted: impl Fn(&Tier) -> bool) -> Result<Option<TierCode>, ApiError> {
    Ok(list_tiers(conn)?.into_iter().find(|tier| wanted(tier)).map(|tier| tier.code))
}
