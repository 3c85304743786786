//! Detectors that run on a timer in every instance: agents gone silent, subscriptions about to end. Safe
//! when several instances sweep one database at the same moment: each condition is claimed by a
//! conditional update (or the alerts' partial unique index), never by a read-then-write.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::alerts::model::{AlertType, NewAlert};
use crate::alerts::service;
use crate::billing::model::SubscriptionStatus;
use crate::db::schema::{agents, subscriptions};
use crate::db::{self, DbConn, DbPool, write_transaction};
use crate::error::ApiError;
use crate::ids::CompanyId;

/// A subscription that ends without renewing is announced this long before.
const EXPIRING_NOTICE_DAYS: i64 = 30;

/// What one sweep raised.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub agents_offline: usize,
    pub subscriptions_expiring: usize,
    pub grace_periods_ended: usize,
}

/// Runs every detector once.
pub async fn sweep(pool: &DbPool) -> Result<SweepReport, ApiError> {
    db::run(pool, |conn| {
        let now = crate::db::now();
        Ok(SweepReport {
            agents_offline: agents_offline(conn, now)?,
            subscriptions_expiring: subscriptions_expiring(conn, now)?,
            grace_periods_ended: grace_periods_ended(conn, now)?,
        })
    })
    .await
}

/// Sweeps forever, every `interval`; started by each instance.
pub async fn run_forever(pool: DbPool, interval: std::time::Duration) {
    let mut ticker = tokio::time::interval(interval);
    loop {
        ticker.tick().await;
        if let Err(error) = sweep(&pool).await {
            log::warn!("alert sweep failed: {error}");
        }
    }
}

/// Companies with agents that are live and not yet alerted about.
fn companies_with_quiet_agents(conn: &mut DbConn, older_than: NaiveDateTime) -> QueryResult<Vec<String>> {
    agents::table
        .filter(agents::revoked_at.is_null())
        .filter(agents::offline_alerted.eq(false))
        .filter(agents::last_seen_at.lt(older_than))
        .select(agents::company_id)
        .distinct()
        .load(conn)
}

/// Raises AGENT_OFFLINE for agents silent past their company's threshold. The agent's `offline_alerted`
/// flag is claimed with a conditional update, so of several instances only one raises each alert.
pub fn agents_offline(conn: &mut DbConn, now: NaiveDateTime) -> Result<usize, ApiError> {
    // No policy allows a threshold under two minutes, so nothing younger can be offline.
    let mut raised = 0;
    for company in companies_with_quiet_agents(conn, now - Duration::seconds(120))? {
        let company = CompanyId::from_db(company);
        let threshold = i64::from(crate::policy::store::find(conn, &company)?.settings.offline_threshold_secs);
        let cutoff = now - Duration::seconds(threshold);
        let quiet: Vec<(String, String, Option<String>, NaiveDateTime)> = agents::table
            .filter(agents::company_id.eq(company.as_str()))
            .filter(agents::revoked_at.is_null())
            .filter(agents::offline_alerted.eq(false))
            .filter(agents::last_seen_at.lt(cutoff))
            .select((agents::id, agents::hostname, agents::employee_id, agents::last_seen_at))
            .load(conn)?;
        for (agent, hostname, employee, last_seen) in quiet {
            raised += write_transaction(conn, |conn| {
                let claimed = diesel::update(
                    agents::table
                        .filter(agents::id.eq(&agent))
                        .filter(agents::offline_alerted.eq(false))
                        .filter(agents::last_seen_at.lt(cutoff)),
                )
                .set(agents::offline_alerted.eq(true))
                .execute(conn)?;
                if claimed == 0 {
                    return Ok::<_, ApiError>(0);
                }
                let offline = serde_json::json!({"agent": {
                    "id": agent, "hostname": hostname, "employee_id": employee, "last_seen_at": last_seen.and_utc(),
                }});
                crate::events::service::emit(conn, &company, crate::events::model::EventType::AgentOffline, offline)?;
                service::raise(
                    conn,
                    &company,
                    NewAlert {
                        kind: AlertType::AgentOffline,
                        title: format!("Agent {hostname} is offline"),
                        message: format!(
                            "{hostname} has not been heard from since {} UTC.",
                            last_seen.format("%Y-%m-%d %H:%M")
                        ),
                        employee: employee.clone(),
                        data: serde_json::json!({"agent_id": agent, "hostname": hostname, "last_seen_at": last_seen.and_utc()}),
                        dedup_key: format!("agent_offline:{agent}"),
                    },
                )?;
                Ok(1)
            })?;
        }
    }
    Ok(raised)
}

/// Raises SUBSCRIPTION_EXPIRING for subscriptions set not to renew whose end is within 30 days: the date set
/// in the Dashboard or portal (`cancel_at`) when there is one, else the end of the period.
pub fn subscriptions_expiring(conn: &mut DbConn, now: NaiveDateTime) -> Result<usize, ApiError> {
    let notice = now + Duration::days(EXPIRING_NOTICE_DAYS);
    // (company, subscription, cancel_at, period end, tier)
    type Ending = (String, Option<String>, Option<NaiveDateTime>, Option<NaiveDateTime>, String);
    let ending: Vec<Ending> = subscriptions::table
        .filter(subscriptions::auto_renew.eq(false))
        .filter(subscriptions::status.eq(SubscriptionStatus::Active.as_str()))
        .filter(subscriptions::stripe_subscription_id.is_not_null())
        .filter(
            subscriptions::cancel_at.gt(now).and(subscriptions::cancel_at.le(notice)).or(subscriptions::cancel_at
                .is_null()
                .and(subscriptions::current_period_end.gt(now))
                .and(subscriptions::current_period_end.le(notice))),
        )
        .select((
            subscriptions::company_id,
            subscriptions::stripe_subscription_id,
            subscriptions::cancel_at,
            subscriptions::current_period_end,
            subscriptions::tier_code,
        ))
        .load(conn)?;
    let mut raised = 0;
    for (company, subscription, cancel_at, period_end, tier) in ending {
        let (Some(subscription), Some(ends)) = (subscription, cancel_at.or(period_end)) else { continue };
        let company = CompanyId::from_db(company);
        let days = (ends - now).num_days();
        let key = format!("subscription_expiring:{subscription}:{}", ends.and_utc().timestamp());
        // Once per period: an alert someone resolved is not raised again by the next sweep.
        if crate::alerts::store::condition_ever_raised(conn, &company, &key)? {
            continue;
        }
        raised += write_transaction(conn, |conn| {
            service::raise(
                conn,
                &company,
                NewAlert {
                    kind: AlertType::SubscriptionExpiring,
                    title: format!("The {tier} plan ends in {days} days"),
                    message: format!(
                        "The subscription will not renew and ends on {} UTC; turn auto-renewal back on to keep the plan.",
                        ends.format("%Y-%m-%d")
                    ),
                    employee: None,
                    data: serde_json::json!({"subscription_id": subscription, "ends_at": ends.and_utc(), "tier": tier}),
                    dedup_key: key.clone(),
                },
            )
        })?;
    }
    Ok(raised)
}

/// How long after a grace period ends the sweep still checks the company: no event marks the moment, so
/// the sweep does (usage changes check it too, at any time).
const GRACE_ENDED_WINDOW_HOURS: i64 = 24;

/// Checks usage (OVER_PLAN_LIMIT, USAGE_HIGH) of PAST_DUE companies whose grace period ended lately: FREE's
/// limits apply to them now. Raising is idempotent (an open alert is not raised twice), so several
/// instances may run this at once. Returns how many companies were checked.
pub fn grace_periods_ended(conn: &mut DbConn, now: NaiveDateTime) -> Result<usize, ApiError> {
    let lapsed: Vec<String> = subscriptions::table
        .filter(subscriptions::status.eq(SubscriptionStatus::PastDue.as_str()))
        .filter(subscriptions::grace_period_ends_at.le(now))
        .filter(subscriptions::grace_period_ends_at.gt(now - Duration::hours(GRACE_ENDED_WINDOW_HOURS)))
        .select(subscriptions::company_id)
        .load(conn)?;
    for company in &lapsed {
        let company = CompanyId::from_db(company.clone());
        write_transaction(conn, |conn| {
            let tier = crate::billing::service::effective_tier(conn, &company)?;
            crate::billing::usage::check_current_usage(conn, &company, &tier)
        })?;
    }
    Ok(lapsed.len())
}
