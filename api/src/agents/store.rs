//! Queries on agents and enrollment tokens. Company-facing functions take the `CompanyId`; the agent-facing
//! ones find the company from the presented secret or token.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::{AgentFilter, AgentRow, AgentStatus, EnrollmentTokenRow};
use crate::db::DbConn;
use crate::db::schema::{agents, enrollment_tokens, subscriptions, tiers};
use crate::http::pagination::Slice;
use crate::ids::{AgentId, CompanyId, EnrollmentTokenId, UserId};
use crate::plans::TierCode;

pub fn insert_agent(conn: &mut DbConn, row: &AgentRow) -> QueryResult<()> {
    diesel::insert_into(agents::table).values(row).execute(conn).map(drop)
}

/// A live agent as its own calls find it: `(agent, company, enrolled at)`.
pub type LiveAgent = (String, String, NaiveDateTime);

/// The heartbeat's one statement: records the contact of a live agent that is not marked offline, and says
/// whose it is.
pub fn touch_agent(
    conn: &mut DbConn,
    secret_hash: &str,
    now: NaiveDateTime,
    agent_version: Option<&str>,
) -> QueryResult<Option<LiveAgent>> {
    let live = agents::table
        .filter(agents::secret_hash.eq(secret_hash))
        .filter(agents::revoked_at.is_null())
        .filter(agents::offline_alerted.eq(false));
    let returning = (agents::id, agents::company_id, agents::enrolled_at);
    match agent_version {
        Some(version) => diesel::update(live)
            .set((agents::last_seen_at.eq(now), agents::agent_version.eq(version)))
            .returning(returning)
            .get_result(conn),
        None => diesel::update(live).set(agents::last_seen_at.eq(now)).returning(returning).get_result(conn),
    }
    .optional()
}

/// Records the contact of a live agent that was marked offline, clearing the mark.
pub fn touch_returning_agent(
    conn: &mut DbConn,
    secret_hash: &str,
    now: NaiveDateTime,
    agent_version: Option<&str>,
) -> QueryResult<Option<LiveAgent>> {
    let returning = agents::table
        .filter(agents::secret_hash.eq(secret_hash))
        .filter(agents::revoked_at.is_null())
        .filter(agents::offline_alerted.eq(true));
    let (agent, company, enrolled_at): LiveAgent = match diesel::update(returning)
        .set((agents::last_seen_at.eq(now), agents::offline_alerted.eq(false)))
        .returning((agents::id, agents::company_id, agents::enrolled_at))
        .get_result(conn)
        .optional()?
    {
        Some(found) => found,
        None => return Ok(None),
    };
    if let Some(version) = agent_version {
        diesel::update(agents::table.filter(agents::id.eq(&agent)))
            .set(agents::agent_version.eq(version))
            .execute(conn)?;
    }
    Ok(Some((agent, company, enrolled_at)))
}

pub fn find_agent(conn: &mut DbConn, company: &CompanyId, id: &AgentId) -> QueryResult<Option<AgentRow>> {
    agents::table
        .filter(agents::company_id.eq(company.as_str()))
        .filter(agents::id.eq(id.as_str()))
        .select(AgentRow::as_select())
        .first(conn)
        .optional()
}

/// Agents of a company; ONLINE means seen at or after `online_since`.
pub fn list_agents(
    conn: &mut DbConn,
    company: &CompanyId,
    filter: &AgentFilter,
    online_since: NaiveDateTime,
    slice: &Slice,
) -> QueryResult<(Vec<AgentRow>, Option<i64>)> {
    let query = || {
        let mut query = agents::table.filter(agents::company_id.eq(company.as_str())).into_boxed();
        query = match filter.status {
            None => query,
            Some(AgentStatus::Revoked) => query.filter(agents::revoked_at.is_not_null()),
            Some(AgentStatus::Online) => {
                query.filter(agents::revoked_at.is_null()).filter(agents::last_seen_at.ge(online_since))
            }
            Some(AgentStatus::Offline) => {
                query.filter(agents::revoked_at.is_null()).filter(agents::last_seen_at.lt(online_since))
            }
        };
        if let Some(employee) = &filter.employee_id {
            query = query.filter(agents::employee_id.eq(employee.to_string()));
        }
        query
    };
    let total = if slice.is_numbered() { Some(query().count().get_result(conn)?) } else { None };
    let rows = crate::load_slice!(conn, query, slice,
        order: (agents::hostname.asc(), agents::id.asc()),
        keyset: (agents::enrolled_at, agents::id),
        select: AgentRow::as_select())?;
    Ok((rows, total))
}

/// When an agent of the company enrolled: where a cursor naming it stands in the list.
pub fn enrolled_at_of(conn: &mut DbConn, company: &CompanyId, id: &str) -> QueryResult<Option<NaiveDateTime>> {
    agents::table
        .filter(agents::company_id.eq(company.as_str()))
        .filter(agents::id.eq(id))
        .select(agents::enrolled_at)
        .first(conn)
        .optional()
}

/// What decides whether a live agent may record, in one statement: the subscription's status and grace
/// period, the agent limit of the subscribed tier and of FREE, and how many live agents of the company were
/// enrolled before this one (`agents_company_enrolled_idx`).
pub struct RecordingStanding {
    pub status: String,
    pub grace_period_ends_at: Option<NaiveDateTime>,
    pub subscribed_max_agents: Option<i32>,
    pub free_max_agents: Option<i32>,
    pub enrolled_before: i64,
}

pub fn recording_standing(
    conn: &mut DbConn,
    company: &CompanyId,
    agent: &str,
    enrolled_at: NaiveDateTime,
) -> QueryResult<RecordingStanding> {
    let free = diesel::alias!(tiers as free_tier);
    let before = agents::table
        .filter(agents::company_id.eq(company.as_str()))
        .filter(agents::revoked_at.is_null())
        .filter(agents::enrolled_at.lt(enrolled_at).or(agents::enrolled_at.eq(enrolled_at).and(agents::id.lt(agent))))
        .select(diesel::dsl::count_star())
        .single_value();
    let (status, grace_period_ends_at, subscribed_max_agents, free_max_agents, enrolled_before) = subscriptions::table
        .inner_join(tiers::table.on(tiers::code.eq(subscriptions::tier_code)))
        .inner_join(free.on(free.field(tiers::code).eq(TierCode::Free.as_str())))
        .filter(subscriptions::company_id.eq(company.as_str()))
        .select((
            subscriptions::status,
            subscriptions::grace_period_ends_at,
            tiers::max_agents,
            free.field(tiers::max_agents),
            before,
        ))
        .first::<(String, Option<NaiveDateTime>, Option<i32>, Option<i32>, Option<i64>)>(conn)?;
    Ok(RecordingStanding {
        status,
        grace_period_ends_at,
        subscribed_max_agents,
        free_max_agents,
        enrolled_before: enrolled_before.unwrap_or(0),
    })
}

/// The first live agent past the first `limit` by enrolment, `(enrolled at, id)`: it and every live agent
/// enrolled after it are suspended. `None` when the company has `limit` live agents or fewer.
pub fn first_suspended(
    conn: &mut DbConn,
    company: &CompanyId,
    limit: i64,
) -> QueryResult<Option<(NaiveDateTime, String)>> {
    agents::table
        .filter(agents::company_id.eq(company.as_str()))
        .filter(agents::revoked_at.is_null())
        .order((agents::enrolled_at.asc(), agents::id.asc()))
        .offset(limit)
        .select((agents::enrolled_at, agents::id))
        .first(conn)
        .optional()
}

pub fn revoke_agent(conn: &mut DbConn, company: &CompanyId, id: &AgentId, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        agents::table
            .filter(agents::company_id.eq(company.as_str()))
            .filter(agents::id.eq(id.as_str()))
            .filter(agents::revoked_at.is_null()),
    )
    .set(agents::revoked_at.eq(now))
    .execute(conn)
}

pub fn insert_token(conn: &mut DbConn, row: &EnrollmentTokenRow) -> QueryResult<()> {
    diesel::insert_into(enrollment_tokens::table).values(row).execute(conn).map(drop)
}

pub fn find_token_by_hash(conn: &mut DbConn, token_hash: &str) -> QueryResult<Option<EnrollmentTokenRow>> {
    enrollment_tokens::table
        .filter(enrollment_tokens::token_hash.eq(token_hash))
        .select(EnrollmentTokenRow::as_select())
        .first(conn)
        .optional()
}

/// Uses the token once if it is still live. False when it ran out in the meantime.
pub fn consume_token(conn: &mut DbConn, id: &str, now: NaiveDateTime) -> QueryResult<bool> {
    let updated = diesel::update(
        enrollment_tokens::table
            .filter(enrollment_tokens::id.eq(id))
            .filter(enrollment_tokens::revoked_at.is_null())
            .filter(enrollment_tokens::expires_at.gt(now))
            .filter(enrollment_tokens::uses.lt(enrollment_tokens::max_uses)),
    )
    .set(enrollment_tokens::uses.eq(enrollment_tokens::uses + 1))
    .execute(conn)?;
    Ok(updated == 1)
}

pub fn list_tokens(
    conn: &mut DbConn,
    company: &CompanyId,
    slice: &Slice,
) -> QueryResult<(Vec<EnrollmentTokenRow>, Option<i64>)> {
    let scoped = || enrollment_tokens::table.filter(enrollment_tokens::company_id.eq(company.as_str())).into_boxed();
    let total = if slice.is_numbered() { Some(scoped().count().get_result(conn)?) } else { None };
    let rows = crate::load_slice!(conn, scoped, slice,
        order: (enrollment_tokens::created_at.desc(), enrollment_tokens::id.desc()),
        keyset: (enrollment_tokens::created_at, enrollment_tokens::id),
        select: EnrollmentTokenRow::as_select())?;
    Ok((rows, total))
}

/// When an enrollment token of the company was made: where a cursor naming it stands in the list.
pub fn token_created_at_of(conn: &mut DbConn, company: &CompanyId, id: &str) -> QueryResult<Option<NaiveDateTime>> {
    enrollment_tokens::table
        .filter(enrollment_tokens::company_id.eq(company.as_str()))
        .filter(enrollment_tokens::id.eq(id))
        .select(enrollment_tokens::created_at)
        .first(conn)
        .optional()
}

pub fn find_token(
    conn: &mut DbConn,
    company: &CompanyId,
    id: &EnrollmentTokenId,
) -> QueryResult<Option<EnrollmentTokenRow>> {
    enrollment_tokens::table
        .filter(enrollment_tokens::company_id.eq(company.as_str()))
        .filter(enrollment_tokens::id.eq(id.as_str()))
        .select(EnrollmentTokenRow::as_select())
        .first(conn)
        .optional()
}

pub fn revoke_token(
    conn: &mut DbConn,
    company: &CompanyId,
    id: &EnrollmentTokenId,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        enrollment_tokens::table
            .filter(enrollment_tokens::company_id.eq(company.as_str()))
            .filter(enrollment_tokens::id.eq(id.as_str()))
            .filter(enrollment_tokens::revoked_at.is_null()),
    )
    .set(enrollment_tokens::revoked_at.eq(now))
    .execute(conn)
}

/// A live agent as uploads see it: `(agent, company, employee, enrolled at)`.
pub type UploadingAgent = (String, String, Option<String>, NaiveDateTime);

/// The live agent a secret belongs to. Uploads authenticate with this one indexed read; only the heartbeat
/// records contact.
pub fn find_live_by_secret(conn: &mut DbConn, secret_hash: &str) -> QueryResult<Option<UploadingAgent>> {
    agents::table
        .filter(agents::secret_hash.eq(secret_hash))
        .filter(agents::revoked_at.is_null())
        .select((agents::id, agents::company_id, agents::employee_id, agents::enrolled_at))
        .first(conn)
        .optional()
}

/// Sets when an agent was last heard from (the demo's history; no request does this).
pub fn set_last_seen(conn: &mut DbConn, company: &CompanyId, id: &AgentId, when: NaiveDateTime) -> QueryResult<()> {
    diesel::update(agents::table.filter(agents::company_id.eq(company.as_str())).filter(agents::id.eq(id.as_str())))
        .set(agents::last_seen_at.eq(when))
        .execute(conn)
        .map(drop)
}

/// Forgets a user as the creator of enrollment tokens, before the user row is removed.
/// Revokes the live enrollment tokens `user` created (they were disabled, removed, or demoted below the
/// role that makes tokens); returns how many.
pub fn revoke_tokens_of_creator(
    conn: &mut DbConn,
    company: &CompanyId,
    user: &UserId,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        enrollment_tokens::table
            .filter(enrollment_tokens::company_id.eq(company.as_str()))
            .filter(enrollment_tokens::created_by_user_id.eq(user.as_str()))
            .filter(enrollment_tokens::revoked_at.is_null()),
    )
    .set(enrollment_tokens::revoked_at.eq(now))
    .execute(conn)
}

pub fn forget_token_creator(conn: &mut DbConn, company: &CompanyId, user: &UserId) -> QueryResult<usize> {
    diesel::update(
        enrollment_tokens::table
            .filter(enrollment_tokens::company_id.eq(company.as_str()))
            .filter(enrollment_tokens::created_by_user_id.eq(user.as_str())),
    )
    .set(enrollment_tokens::created_by_user_id.eq(None::<String>))
    .execute(conn)
}
