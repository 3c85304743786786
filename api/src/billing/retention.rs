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

/// Data kept beyond the plan's retention: `days` of it, until `until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hold {
    pub days: i32,
    pub until: NaiveDateTime,
}

/// What is stored per company: the retention last seen in force, and the holds, longest retention first
/// (whose deadline is the earliest: a longer retention is only ever held for less long).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stored {
    pub in_force: Option<i32>,
    pub holds: Vec<Hold>,
}

/// Holds kept per company (two columns): with three tiers, a company can drop twice within a hold.
const STORED_HOLDS: usize = 2;

impl Stored {
    /// The next state, given the retention of the plan that applies at `now`:
    /// - a hold whose deadline passed ends, and so does one the plan keeps as long anyway (an upgrade, a
    ///   recovered payment);
    /// - a drop holds what the dropped plan kept (`in_force`) until `now + hold_days`: a first drop starts
    ///   the hold; a further drop within one (ENTERPRISE to PRO, then PRO cancelled) gives the data PRO kept
    ///   a hold of its own, while the data only ENTERPRISE kept keeps its own, earlier, deadline. Moving
    ///   that deadline out instead would let a company that keeps changing plans keep the longest retention
    ///   for good.
    pub fn next(&self, plan_days: i32, now: NaiveDateTime, hold_days: i64) -> Self {
        let mut holds: Vec<Hold> =
            self.holds.iter().copied().filter(|hold| hold.until > now && hold.days > plan_days).collect();
        let dropped_from = self.in_force.filter(|in_force| *in_force > plan_days);
        if let (Some(days), true) = (dropped_from, hold_days > 0) {
            let until = now + Duration::days(hold_days);
            match holds.iter_mut().find(|hold| hold.days == days) {
                Some(hold) => hold.until = hold.until.max(until),
                None => holds.push(Hold { days, until }),
            }
        }
        holds.sort_by_key(|hold| std::cmp::Reverse(hold.days));
        // A shorter retention held no longer than a longer one adds nothing: its data is kept anyway.
        let mut kept: Vec<Hold> = Vec::new();
        for hold in holds {
            if kept.iter().all(|longer| longer.until < hold.until) {
                kept.push(hold);
            }
        }
        // More drops than columns (only with more tiers than three): the two shortest merge into one that
        // keeps the longer retention until the later deadline, which deletes nothing early.
        while kept.len() > STORED_HOLDS {
            let (Some(last), Some(before)) = (kept.pop(), kept.pop()) else { break };
            kept.push(Hold { days: before.days, until: before.until.max(last.until) });
        }
        Self { in_force: Some(plan_days), holds: kept }
    }

    /// Days data is kept while this state holds: the plan's, or the longest retention held.
    pub fn kept_days(&self, plan_days: i32) -> i32 {
        self.holds.iter().map(|hold| hold.days).fold(plan_days, i32::max)
    }

    /// The next deletion: its date, and the days kept after it (the next hold's, or the plan's).
    pub fn next_deletion(&self, plan_days: i32) -> Option<(NaiveDateTime, i32)> {
        let first = self.holds.first()?;
        let after = self.holds.get(1).map_or(plan_days, |next| next.days.max(plan_days));
        Some((first.until, after))
    }
}

fn load(conn: &mut DbConn, company: &CompanyId) -> Result<Stored, ApiError> {
    let (in_force, columns) = store::find_retention(conn, company)?;
    let holds = columns.into_iter().filter_map(|(days, until)| Some(Hold { days: days?, until: until? })).collect();
    Ok(Stored { in_force, holds })
}

fn save(conn: &mut DbConn, company: &CompanyId, state: &Stored) -> Result<(), ApiError> {
    let column = |n: usize| state.holds.get(n).map_or((None, None), |hold| (Some(hold.days), Some(hold.until)));
    Ok(store::save_retention(conn, company, (state.in_force, [column(0), column(1)]))?)
}

fn plan_days(tier: &Tier) -> i32 {
    i32::try_from(tier.retention_days).unwrap_or(i32::MAX)
}

fn view(state: &Stored, plan_days: i32) -> Retention {
    Retention {
        plan_days: i64::from(plan_days),
        kept_days: i64::from(state.kept_days(plan_days)),
        deletion_scheduled_at: state.next_deletion(plan_days).map(|(until, _)| until.and_utc()),
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
    Ok(view(&load(conn, company)?.next(plan, now, hold_days), plan))
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
        save(conn, company, &after)?;
        if after.next_deletion(plan) != before.next_deletion(plan) {
            // A notice of another deadline, or of another plan's days, no longer tells the truth.
            crate::alerts::service::resolve_all_of(conn, company, AlertType::DataDeletionScheduled)?;
        }
    }
    match after.next_deletion(plan) {
        Some((until, kept_after)) if until - Duration::days(NOTICE_DAYS) <= now => {
            deletion_notice(conn, company, until, after.kept_days(plan), kept_after, plan)?;
        }
        Some(_) => {}
        None => {
            crate::alerts::service::resolve_all_of(conn, company, AlertType::DataDeletionScheduled)?;
        }
    }
    Ok(i64::from(after.kept_days(plan)))
}

fn deletion_notice(
    conn: &mut DbConn,
    company: &CompanyId,
    until: NaiveDateTime,
    kept_now: i32,
    kept_after: i32,
    plan: i32,
) -> Result<(), ApiError> {
    let date = until.and_utc();
    crate::alerts::service::raise(
        conn,
        company,
        NewAlert {
            kind: AlertType::DataDeletionScheduled,
            title: format!("Data older than {kept_after} days will be deleted on {}", date.format("%Y-%m-%d")),
            message: format!(
                "The plan that applies now keeps {plan} days of activity and screenshots; the {kept_now} days kept \
                 so far are held until {}, when data older than {kept_after} days is deleted. Upgrade or settle \
                 the payment before then to keep it.",
                date.format("%Y-%m-%d %H:%M UTC")
            ),
            employee: None,
            data: serde_json::json!({"deletion_scheduled_at": date, "plan_days": plan, "kept_days": kept_now,
                "kept_after_days": kept_after}),
            dedup_key: format!("data_deletion_scheduled:{}:{kept_after}", until.and_utc().timestamp()),
        },
    )
    .map(drop)
}

#[cfg(test)]
mod tests {
    use super::{Hold, Stored};

    fn at(day: i64) -> chrono::NaiveDateTime {
        chrono::DateTime::from_timestamp(day * 86_400, 0).unwrap_or_default().naive_utc()
    }

    fn state(in_force: i32, holds: &[(i32, i64)]) -> Stored {
        Stored {
            in_force: Some(in_force),
            holds: holds.iter().map(|(days, until)| Hold { days: *days, until: at(*until) }).collect(),
        }
    }

    #[test]
    fn a_drop_holds_the_longer_retention_until_the_hold_ends() {
        let pro = Stored::default().next(180, at(0), 30);
        assert_eq!(pro, state(180, &[]));
        let free = pro.next(30, at(1), 30);
        assert_eq!(free, state(30, &[(180, 31)]));
        assert_eq!(free.kept_days(30), 180);
        assert_eq!(free.next(30, at(10), 30), free, "the deadline does not move");
        let ended = free.next(30, at(31), 30);
        assert_eq!(ended, state(30, &[]));
        assert_eq!(ended.kept_days(30), 30);
    }

    #[test]
    fn an_upgrade_within_the_hold_cancels_it_and_a_partial_one_keeps_it() {
        let held = state(30, &[(365, 31)]);
        assert_eq!(held.next(365, at(5), 30).holds, []);
        let partial = held.next(180, at(5), 30);
        assert_eq!((partial.next_deletion(180), partial.kept_days(180)), (Some((at(31), 180)), 365));
    }

    /// ENTERPRISE (365) to PRO (180) on day 0, PRO cancelled to FREE (30) on day 25: what PRO kept gets a
    /// hold of its own until day 55, while what only ENTERPRISE kept is still deleted on day 30.
    #[test]
    fn a_further_drop_within_a_hold_holds_what_the_dropped_plan_kept_in_a_second_step() {
        let pro = state(365, &[]).next(180, at(0), 30);
        assert_eq!(pro, state(180, &[(365, 30)]));
        let free = pro.next(30, at(25), 30);
        assert_eq!(free, state(30, &[(365, 30), (180, 55)]));
        assert_eq!((free.kept_days(30), free.next_deletion(30)), (365, Some((at(30), 180))));
        let later = free.next(30, at(40), 30);
        assert_eq!(later, state(30, &[(180, 55)]), "ENTERPRISE's step ended on its own deadline");
        assert_eq!((later.kept_days(30), later.next_deletion(30)), (180, Some((at(55), 30))));
        let shorter = state(180, &[(365, 30)]).next(30, at(1), 10);
        assert_eq!(shorter, state(30, &[(365, 30)]), "a shorter hold inside a longer one adds nothing");
    }

    /// The loophole the second step closes: cycling PRO and FREE within ENTERPRISE's hold moved its
    /// deadline out on every drop, keeping 365 days on a plan that keeps 180.
    #[test]
    fn changing_plans_again_and_again_never_extends_the_longest_retention() {
        let mut company = state(365, &[]).next(180, at(0), 30);
        for day in [5, 10, 15, 20, 25] {
            company = company.next(30, at(day), 30).next(180, at(day + 1), 30);
        }
        assert_eq!(company.next_deletion(180), Some((at(30), 180)), "{company:?}");
        assert_eq!(company.next(180, at(30), 30).kept_days(180), 180);
    }

    #[test]
    fn no_hold_days_means_no_hold() {
        let pro = Stored::default().next(180, at(0), 0);
        assert_eq!(pro.next(30, at(1), 0).holds, []);
    }
}
