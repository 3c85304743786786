//! The retention in force: how long a company's activity and screenshots are kept. A plan's retention only
//! ever shortens after a hold: when the retention that applies drops (a downgrade, a cancellation, a payment
//! lapse past its grace period), data beyond the new retention is kept at the previous, longer retention
//! until the hold ends. Upgrading or paying within the hold cancels it. Owners are alerted a week before the
//! deletion. See docs/BILLING.md.

use chrono::{Duration, NaiveDateTime};

use super::model::{Retention, Tier};
use super::store;
use crate::alerts::model::{AlertType, NewAlert};
use crate::db::DbConn;
use crate::error::ApiError;
use crate::ids::CompanyId;

/// How long before the deletion owners are alerted.
const NOTICE_DAYS: i64 = 7;

/// What is stored per company: the retention last seen in force, and the hold (until when, at how many days).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    pub in_force: Option<i32>,
    pub hold_until: Option<NaiveDateTime>,
    pub held_days: Option<i32>,
}

impl Stored {
    /// The next state, given the retention of the plan that applies at `now`. A drop starts a hold at the
    /// retention kept until now; a further drop within a hold (ENTERPRISE to PRO, then PRO cancelled) gives
    /// the data the dropped plan kept a full hold of its own, so the deadline moves out to `now + hold_days`
    /// and never in; a retention at least as long as the held one (an upgrade, a recovered payment) ends the
    /// hold, and so does its deadline.
    pub fn next(self, plan_days: i32, now: NaiveDateTime, hold_days: i64) -> Self {
        let held = self.held_days.filter(|_| self.hold_until.is_some_and(|until| until > now));
        let kept = held.unwrap_or(0).max(self.in_force.unwrap_or(plan_days));
        if plan_days >= kept {
            return Self { in_force: Some(plan_days), hold_until: None, held_days: None };
        }
        match held {
            Some(held) => {
                let dropped_again = self.in_force.is_some_and(|in_force| plan_days < in_force) && hold_days > 0;
                let hold_until = match self.hold_until {
                    Some(until) if dropped_again => Some(until.max(now + Duration::days(hold_days))),
                    until => until,
                };
                Self { in_force: Some(plan_days), hold_until, held_days: Some(held) }
            }
            None if hold_days <= 0 => Self { in_force: Some(plan_days), hold_until: None, held_days: None },
            None => Self {
                in_force: Some(plan_days),
                hold_until: Some(now + Duration::days(hold_days)),
                held_days: Some(kept),
            },
        }
    }

    /// Days data is kept while this state holds: the plan's, or the held retention.
    pub fn kept_days(self, plan_days: i32) -> i32 {
        self.held_days.unwrap_or(0).max(plan_days)
    }
}

fn load(conn: &mut DbConn, company: &CompanyId) -> Result<Stored, ApiError> {
    let (in_force, hold_until, held_days) = store::find_retention(conn, company)?;
    Ok(Stored { in_force, hold_until, held_days })
}

fn plan_days(tier: &Tier) -> i32 {
    i32::try_from(tier.retention_days).unwrap_or(i32::MAX)
}

fn view(state: Stored, plan_days: i32) -> Retention {
    Retention {
        plan_days: i64::from(plan_days),
        kept_days: i64::from(state.kept_days(plan_days)),
        deletion_scheduled_at: state.hold_until.map(|until| until.and_utc()),
    }
}

/// The retention as it stands at `now` under `tier`, the tier that applies now, without recording anything
/// (the dashboard's read).
pub fn current(
    conn: &mut DbConn,
    company: &CompanyId,
    tier: &Tier,
    hold_days: i64,
    now: NaiveDateTime,
) -> Result<Retention, ApiError> {
    let plan = plan_days(tier);
    Ok(view(load(conn, company)?.next(plan, now, hold_days), plan))
}

/// Records the retention in force at `now` (starting, keeping or ending a hold) and raises or resolves
/// DATA_DELETION_SCHEDULED. Call in the transaction of anything that can change the plan that applies, and
/// before every retention sweep; `tier` is the tier that applies now (`billing::service::effective_tier`).
/// Returns the days data is kept.
pub fn reconcile(
    conn: &mut DbConn,
    company: &CompanyId,
    tier: &Tier,
    hold_days: i64,
    now: NaiveDateTime,
) -> Result<i64, ApiError> {
    let plan = plan_days(tier);
    let before = load(conn, company)?;
    let after = before.next(plan, now, hold_days);
    if after != before {
        store::save_retention(conn, company, (after.in_force, after.hold_until, after.held_days))?;
        if after.hold_until != before.hold_until {
            // A notice of another deadline, or of another plan's days, no longer tells the truth.
            crate::alerts::service::resolve_all_of(conn, company, AlertType::DataDeletionScheduled)?;
        }
    }
    match (after.hold_until, after.held_days) {
        (Some(until), Some(held)) if until - Duration::days(NOTICE_DAYS) <= now => {
            deletion_notice(conn, company, until, held, plan)?;
        }
        (Some(_), Some(_)) => {}
        _ => {
            crate::alerts::service::resolve_all_of(conn, company, AlertType::DataDeletionScheduled)?;
        }
    }
    Ok(i64::from(after.kept_days(plan)))
}

fn deletion_notice(
    conn: &mut DbConn,
    company: &CompanyId,
    until: NaiveDateTime,
    held: i32,
    plan: i32,
) -> Result<(), ApiError> {
    let date = until.and_utc();
    crate::alerts::service::raise(
        conn,
        company,
        NewAlert {
            kind: AlertType::DataDeletionScheduled,
            title: format!("Data older than {plan} days will be deleted on {}", date.format("%Y-%m-%d")),
            message: format!(
                "The plan that applies now keeps {plan} days of activity and screenshots; the {held} days kept \
                 so far are held until {}. Upgrade or settle the payment before then to keep them.",
                date.format("%Y-%m-%d %H:%M UTC")
            ),
            employee: None,
            data: serde_json::json!({"deletion_scheduled_at": date, "plan_days": plan, "kept_days": held}),
            dedup_key: format!("data_deletion_scheduled:{}:{plan}", until.and_utc().timestamp()),
        },
    )
    .map(drop)
}

#[cfg(test)]
mod tests {
    use super::Stored;

    fn at(day: i64) -> chrono::NaiveDateTime {
        chrono::DateTime::from_timestamp(day * 86_400, 0).unwrap_or_default().naive_utc()
    }

    const NEW: Stored = Stored { in_force: None, hold_until: None, held_days: None };

    #[test]
    fn a_drop_holds_the_longer_retention_until_the_hold_ends() {
        let pro = NEW.next(180, at(0), 30);
        assert_eq!(pro, Stored { in_force: Some(180), hold_until: None, held_days: None });
        let free = pro.next(30, at(1), 30);
        assert_eq!(free, Stored { in_force: Some(30), hold_until: Some(at(31)), held_days: Some(180) });
        assert_eq!(free.kept_days(30), 180);
        assert_eq!(free.next(30, at(10), 30), free, "the deadline does not move");
        let ended = free.next(30, at(31), 30);
        assert_eq!(ended, Stored { in_force: Some(30), hold_until: None, held_days: None });
        assert_eq!(ended.kept_days(30), 30);
    }

    #[test]
    fn an_upgrade_within_the_hold_cancels_it_and_a_partial_one_keeps_it() {
        let held = Stored { in_force: Some(30), hold_until: Some(at(31)), held_days: Some(365) };
        assert_eq!(held.next(365, at(5), 30).hold_until, None);
        let partial = held.next(180, at(5), 30);
        assert_eq!((partial.hold_until, partial.kept_days(180)), (Some(at(31)), 365));
    }

    /// ENTERPRISE (365) to PRO (180) on day 0, PRO cancelled to FREE (30) on day 25: what PRO kept gets a
    /// hold of its own until day 55, instead of going with ENTERPRISE's at day 30.
    #[test]
    fn a_further_drop_within_a_hold_moves_the_deadline_out_never_in() {
        let enterprise = Stored { in_force: Some(365), hold_until: None, held_days: None };
        let pro = enterprise.next(180, at(0), 30);
        assert_eq!(pro, Stored { in_force: Some(180), hold_until: Some(at(30)), held_days: Some(365) });
        let free = pro.next(30, at(25), 30);
        assert_eq!(free, Stored { in_force: Some(30), hold_until: Some(at(55)), held_days: Some(365) });
        assert_eq!(free.next(30, at(40), 30), free, "no further drop: the deadline stays");
        let late = Stored { in_force: Some(180), hold_until: Some(at(30)), held_days: Some(365) };
        assert_eq!(late.next(30, at(1), 10).hold_until, Some(at(30)), "a shorter new hold never shortens the old");
    }

    #[test]
    fn no_hold_days_means_no_hold() {
        let pro = NEW.next(180, at(0), 0);
        assert_eq!(pro.next(30, at(1), 0).hold_until, None);
    }
}
