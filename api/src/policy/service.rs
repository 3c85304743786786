//! Policy rules: validated settings, only features the tier includes, a new version per change.

use super::model::{Policy, PolicySettings};
use super::store;
use crate::audit::model::{AuditActor, AuditEvent};
use crate::billing::model::TierFeatures;
use crate::db::{DbConn, lock_company, write_transaction};
use crate::error::{ApiError, FieldErrors};
use crate::http::precondition::{ETag, IfMatch, Tagged};
use crate::ids::CompanyId;

/// The tag of a policy: its version, which every change increments.
fn tagged(company: &CompanyId, policy: Policy) -> Tagged<Policy> {
    let etag = tag(company, policy.version);
    Tagged::new(policy, etag)
}

fn tag(company: &CompanyId, version: i64) -> ETag {
    ETag::of_company(company.as_str(), &[&format!("v{version}")])
}

pub fn get(conn: &mut DbConn, company: &CompanyId) -> Result<Tagged<Policy>, ApiError> {
    Ok(tagged(company, store::find(conn, company)?))
}

/// A policy setting that needs a tier feature: its field name, whether it is on, whether a tier has it.
type GatedSetting = (&'static str, bool, fn(&TierFeatures) -> bool);

/// The settings turned on that the tier's features do not include, each with its message.
fn features_missing(
    conn: &mut DbConn,
    settings: &PolicySettings,
    tier_name: &str,
    features: &TierFeatures,
) -> Result<FieldErrors, ApiError> {
    let mut missing = FieldErrors::new();
    let gated: [GatedSetting; 2] = [
        ("screenshots_enabled", settings.screenshots_enabled, |f| f.screenshots),
        ("website_tracking_enabled", settings.website_tracking_enabled, |f| f.website_tracking),
    ];
    for (field, wanted, included) in gated {
        if wanted && !included(features) {
            let upgrade = crate::billing::service::cheapest_tier_with(conn, |tier| included(&tier.features))?;
            let hint = upgrade.map(|tier| format!("; upgrade to {}", tier.as_str())).unwrap_or_default();
            missing.insert(field.to_owned(), vec![format!("is not included in the {tier_name} plan{hint}")]);
        }
    }
    Ok(missing)
}

/// Replaces the settings, refusing features the tier lacks; an identical policy is not a change.
/// `if_match` is compared with the version read under the company's lock.
pub fn update(
    conn: &mut DbConn,
    actor: &AuditActor,
    company: &CompanyId,
    settings: &PolicySettings,
    if_match: &IfMatch,
) -> Result<Tagged<Policy>, ApiError> {
    write_transaction(conn, |conn| {
        lock_company(conn, company)?;
        let current = store::find(conn, company)?;
        if_match.check(&tag(company, current.version))?;
        if current.settings == *settings {
            return Ok(tagged(company, current));
        }
        let tier = crate::billing::service::effective_tier(conn, company)?;
        let missing = features_missing(conn, settings, &tier.name, &tier.features)?;
        if !missing.is_empty() {
            return Err(ApiError::FeatureNotInPlan {
                detail: format!("The {} plan does not include every setting requested.", tier.name),
                errors: missing,
            });
        }
        let updated = store::replace(conn, company, settings, crate::db::now())?;
        crate::audit::record(
            conn,
            actor,
            AuditEvent::new("policy.updated").target("policy", company).details(serde_json::json!({
                "version": updated.version,
                "from": current.settings,
                "to": updated.settings,
            })),
        )?;
        crate::alerts::service::raise(
            conn,
            company,
            crate::alerts::model::NewAlert {
                kind: crate::alerts::model::AlertType::PolicyChanged,
                title: format!("The agent policy changed (version {})", updated.version),
                message: "Agents pick up the new policy with their next heartbeat.".to_owned(),
                employee: None,
                data: serde_json::json!({"version": updated.version, "changed_by": actor.actor_id}),
                dedup_key: format!("policy_changed:{}", updated.version),
            },
        )?;
        Ok(tagged(company, updated))
    })
}
