//! Throttling by subject (an email, a client address) across every instance, through one table.
//!
//! An attempt is recorded (and committed) before it is counted. Whoever counts k-th therefore sees at least
//! k attempts, so no more than `limit` concurrent attempts get through, on any backend and any number of
//! instances; a read-then-write check would let a burst through.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::throttle_events;
use crate::error::ApiError;

/// A rule: at most `limit` attempts per subject within `window`.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub limit: i64,
    pub window: Duration,
}

/// An admitted attempt, to be forgotten when it turns out harmless (a successful login).
#[derive(Debug, Clone)]
pub struct Attempt {
    id: String,
}

/// Records an attempt for `subject` and admits it if no more than `rule.limit` attempts, this one included,
/// fall within the window. A refused attempt is not kept, so hammering does not extend the wait.
pub fn admit(conn: &mut DbConn, subject: &str, rule: Rule, now: NaiveDateTime) -> Result<Attempt, ApiError> {
    let window_start = now - rule.window;
    diesel::delete(
        throttle_events::table
            .filter(throttle_events::subject.eq(subject))
            .filter(throttle_events::occurred_at.lt(window_start)),
    )
    .execute(conn)?;
    let id = uuid::Uuid::now_v7().to_string();
    diesel::insert_into(throttle_events::table)
        .values((
            throttle_events::id.eq(&id),
            throttle_events::subject.eq(subject),
            throttle_events::occurred_at.eq(now),
        ))
        .execute(conn)?;
    let (count, oldest): (i64, Option<NaiveDateTime>) = throttle_events::table
        .filter(throttle_events::subject.eq(subject))
        .filter(throttle_events::occurred_at.ge(window_start))
        .select((diesel::dsl::count_star(), diesel::dsl::min(throttle_events::occurred_at)))
        .first(conn)?;
    if count <= rule.limit {
        return Ok(Attempt { id });
    }
    forget(conn, &Attempt { id })?;
    let frees_at = oldest.unwrap_or(now) + rule.window;
    let retry_after_secs = u64::try_from((frees_at - now).num_seconds().max(1)).unwrap_or(1);
    Err(ApiError::TooManyRequests { retry_after_secs })
}

/// Drops one attempt from the count.
pub fn forget(conn: &mut DbConn, attempt: &Attempt) -> QueryResult<()> {
    diesel::delete(throttle_events::table.filter(throttle_events::id.eq(&attempt.id))).execute(conn).map(drop)
}

/// Drops every attempt of a subject (a successful login clears the email's failures).
pub fn clear(conn: &mut DbConn, subject: &str) -> QueryResult<()> {
    diesel::delete(throttle_events::table.filter(throttle_events::subject.eq(subject))).execute(conn).map(drop)
}

/// The throttling subject of a client address: IPv6 clients are counted per /64, since one host commonly
/// holds a whole /64.
pub fn address_subject(kind: &str, client_ip: Option<&str>) -> String {
    let bucket = match client_ip.and_then(|ip| ip.parse::<std::net::IpAddr>().ok()) {
        Some(std::net::IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Some(ip) => ip.to_string(),
        None => "unknown".to_owned(),
    };
    format!("{kind}:ip:{bucket}")
}

#[cfg(test)]
mod tests {
    use super::address_subject;

    #[test]
    fn ipv6_clients_are_counted_per_64() {
        assert_eq!(address_subject("login", Some("2001:db8:1:2:aaaa::1")), "login:ip:2001:db8:1:2::/64");
        assert_eq!(address_subject("login", Some("2001:db8:1:2:bbbb::9")), "login:ip:2001:db8:1:2::/64");
        assert_eq!(address_subject("signup", Some("203.0.113.9")), "signup:ip:203.0.113.9");
    }
}
