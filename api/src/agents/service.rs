//! Agent rules: enrollment within the plan's agent limit and the token's uses, a heartbeat of one write,
//! and revocation that takes effect with the next call.

use chrono::{Duration, NaiveDateTime};

use super::model::{
    AGENT_SECRET_PREFIX, Agent, AgentFilter, AgentRow, CreateEnrollmentTokenRequest, CreatedEnrollmentToken,
    ENROLLMENT_TOKEN_PREFIX, EnrollRequest, Enrollment, EnrollmentToken, EnrollmentTokenRow, HeartbeatRequest,
    HeartbeatResponse,
};
use super::store;
use crate::audit::model::{ActorType, AuditActor, AuditEvent};
use crate::crypto::{random_token, sha256_hex};
use crate::db::{DbConn, lock_company, write_transaction};
use crate::error::ApiError;
use crate::http::pagination::{ListRequest, Page};
use crate::ids::normalize_email;
use crate::ids::{AgentId, CompanyId, EnrollmentTokenId, UserId};
use crate::plans::LimitKind;

/// Random characters of an agent secret (about 285 bits) and of an enrollment token (about 238 bits).
const AGENT_SECRET_LEN: usize = 48;
const ENROLLMENT_TOKEN_LEN: usize = 40;
/// Characters of a token kept in clear for lists.
const DISPLAY_PREFIX_LEN: usize = ENROLLMENT_TOKEN_PREFIX.len() + 6;

fn now() -> NaiveDateTime {
    crate::db::now()
}

/// Agents seen since this moment are ONLINE under the company's policy.
fn online_since(conn: &mut DbConn, company: &CompanyId, now: NaiveDateTime) -> Result<NaiveDateTime, ApiError> {
    let policy = crate::policy::store::find(conn, company)?;
    Ok(now - Duration::seconds(i64::from(policy.settings.offline_threshold_secs)))
}

/// Where suspension starts: the first live agent past the agent limit of the plan that applies.
fn first_suspended(conn: &mut DbConn, company: &CompanyId) -> Result<Option<(NaiveDateTime, String)>, ApiError> {
    match crate::billing::service::effective_tier(conn, company)?.max_agents {
        Some(max) => Ok(store::first_suspended(conn, company, max)?),
        None => Ok(None),
    }
}

pub fn list_agents(
    conn: &mut DbConn,
    company: &CompanyId,
    filter: &AgentFilter,
    list: &ListRequest,
) -> Result<Page<Agent>, ApiError> {
    let slice = list.slice(|id| Ok(store::enrolled_at_of(conn, company, id)?))?;
    let since = online_since(conn, company, now())?;
    let suspended_from = first_suspended(conn, company)?;
    let (rows, total) = store::list_agents(conn, company, filter, since, &slice)?;
    Ok(list.page(rows.into_iter().map(|row| Agent::from_row(row, since, suspended_from.as_ref())).collect(), total))
}

pub fn get_agent(conn: &mut DbConn, company: &CompanyId, id: &AgentId) -> Result<Agent, ApiError> {
    let since = online_since(conn, company, now())?;
    let suspended_from = first_suspended(conn, company)?;
    let row = store::find_agent(conn, company, id)?.ok_or(ApiError::NotFound("agent"))?;
    Ok(Agent::from_row(row, since, suspended_from.as_ref()))
}

/// Revokes an agent: its secret stops working with its next call. Revoking twice is harmless.
pub fn revoke_agent(
    conn: &mut DbConn,
    actor: &AuditActor,
    company: &CompanyId,
    id: &AgentId,
) -> Result<Agent, ApiError> {
    write_transaction(conn, |conn| {
        let row = store::find_agent(conn, company, id)?.ok_or(ApiError::NotFound("agent"))?;
        if store::revoke_agent(conn, company, id, now())? == 1 {
            crate::audit::record(
                conn,
                actor,
                AuditEvent::new("agent.revoked")
                    .target("agent", id)
                    .details(serde_json::json!({"hostname": row.hostname})),
            )?;
            let tier = crate::billing::service::effective_tier(conn, company)?;
            crate::billing::usage::check_current_usage(conn, company, &tier)?;
            crate::alerts::service::agent_back(conn, company, id.as_str())?;
        }
        get_agent(conn, company, id)
    })
}

/// Creates an enrollment token; the token itself is returned only here.
pub fn create_token(
    conn: &mut DbConn,
    actor: &AuditActor,
    company: &CompanyId,
    created_by: Option<&UserId>,
    request: &CreateEnrollmentTokenRequest,
) -> Result<CreatedEnrollmentToken, ApiError> {
    let token = format!("{ENROLLMENT_TOKEN_PREFIX}{}", random_token(ENROLLMENT_TOKEN_LEN));
    let now = now();
    let row = EnrollmentTokenRow {
        id: EnrollmentTokenId::generate().to_string(),
        company_id: company.to_string(),
        token_hash: sha256_hex(&token),
        prefix: token.chars().take(DISPLAY_PREFIX_LEN).collect(),
        max_uses: i32::try_from(request.max_uses.unwrap_or(1)).unwrap_or(1),
        uses: 0,
        expires_at: now + Duration::hours(i64::from(request.expires_in_hours.unwrap_or(72))),
        created_by_user_id: created_by.map(ToString::to_string),
        created_at: now,
        revoked_at: None,
    };
    write_transaction(conn, |conn| {
        store::insert_token(conn, &row)?;
        crate::audit::record(
            conn,
            actor,
            AuditEvent::new("enrollment_token.created")
                .target("enrollment_token", &row.id)
                .details(serde_json::json!({"max_uses": row.max_uses, "expires_at": row.expires_at.and_utc()})),
        )?;
        Ok::<_, ApiError>(())
    })?;
    Ok(CreatedEnrollmentToken { enrollment_token: row.into(), token })
}

pub fn list_tokens(
    conn: &mut DbConn,
    company: &CompanyId,
    list: &ListRequest,
) -> Result<Page<EnrollmentToken>, ApiError> {
    let slice = list.slice(|id| Ok(store::token_created_at_of(conn, company, id)?))?;
    let (rows, total) = store::list_tokens(conn, company, &slice)?;
    Ok(list.page(rows.into_iter().map(Into::into).collect(), total))
}

pub fn revoke_token(
    conn: &mut DbConn,
    actor: &AuditActor,
    company: &CompanyId,
    id: &EnrollmentTokenId,
) -> Result<(), ApiError> {
    write_transaction(conn, |conn| {
        store::find_token(conn, company, id)?.ok_or(ApiError::NotFound("enrollment token"))?;
        if store::revoke_token(conn, company, id, now())? == 1 {
            crate::audit::record(
                conn,
                actor,
                AuditEvent::new("enrollment_token.revoked").target("enrollment_token", id),
            )?;
        }
        Ok(())
    })
}

fn rejected(code: &'static str, detail: &str) -> ApiError {
    ApiError::CredentialRejected { code, detail: detail.to_owned() }
}

/// Enrolls a desktop agent with an enrollment token: checks the token, the plan's agent limit and the
/// optional employee, then issues the agent's id and secret. All or nothing.
pub fn enroll(conn: &mut DbConn, origin: &AuditActor, request: &EnrollRequest) -> Result<Enrollment, ApiError> {
    let secret = format!("{AGENT_SECRET_PREFIX}{}", random_token(AGENT_SECRET_LEN));
    let now = now();
    write_transaction(conn, |conn| {
        let token = store::find_token_by_hash(conn, &sha256_hex(&request.enrollment_token))?
            .filter(|token| token.revoked_at.is_none())
            .ok_or_else(|| {
                rejected("invalid_enrollment_token", "The enrollment token is unknown or has been revoked.")
            })?;
        if token.expires_at <= now {
            return Err(rejected(
                "enrollment_token_expired",
                "The enrollment token has expired; ask an admin for a new one.",
            ));
        }
        let company = CompanyId::from_db(token.company_id.clone());
        lock_company(conn, &company)?;
        if !store::consume_token(conn, &token.id, now)? {
            return Err(rejected(
                "enrollment_token_used_up",
                "The enrollment token has been used as many times as allowed.",
            ));
        }
        let tier = crate::billing::service::limiting_tier(conn, &company)?;
        let live = crate::billing::usage::live_agents(conn, &company)?;
        crate::billing::usage::check_limit(conn, &tier, LimitKind::MaxAgents, live, 1)?;
        let employee_id = match &request.employee_email {
            Some(email) => Some(
                crate::employees::store::find_by_email(conn, &company, &normalize_email(email))?
                    .ok_or_else(|| {
                        ApiError::invalid_field("employee_email", "no employee of this company has this email")
                    })?
                    .id,
            ),
            None => None,
        };
        let row = AgentRow {
            id: AgentId::generate().to_string(),
            company_id: company.to_string(),
            employee_id,
            hostname: request.hostname.trim().to_owned(),
            os: request.os.trim().to_owned(),
            agent_version: request.agent_version.trim().to_owned(),
            secret_hash: sha256_hex(&secret),
            enrolled_at: now,
            last_seen_at: now,
            revoked_at: None,
            offline_alerted: false,
        };
        store::insert_agent(conn, &row)?;
        let actor = origin.clone().in_company(&company).as_actor(ActorType::Agent, &row.id);
        crate::audit::record(
            conn,
            &actor,
            AuditEvent::new("agent.enrolled").target("agent", &row.id).details(serde_json::json!({
                "hostname": row.hostname,
                "os": row.os,
                "agent_version": row.agent_version,
                "employee_id": row.employee_id,
                "enrollment_token_id": token.id,
            })),
        )?;
        let agent = serde_json::json!({"agent": {
            "id": row.id, "hostname": row.hostname, "os": row.os, "agent_version": row.agent_version,
            "employee_id": row.employee_id, "enrolled_at": row.enrolled_at.and_utc(),
        }});
        crate::events::service::emit(conn, &company, crate::events::model::EventType::AgentEnrolled, agent)?;
        let tier = crate::billing::service::effective_tier(conn, &company)?;
        crate::billing::usage::check_current_usage(conn, &company, &tier)?;
        let policy = crate::policy::store::find(conn, &company)?;
        Ok(Enrollment {
            agent_id: AgentId::from_db(row.id),
            agent_secret: secret.clone(),
            policy_version: policy.version,
            policy: policy.settings,
        })
    })
}

/// Records an agent's contact and answers with the policy version (and the policy when the agent's copy
/// is stale), or 403 `plan_limit_reached` when the agent is suspended. One indexed write that also
/// authenticates, one indexed read for the suspension, then one read of the policy: no transaction, no
/// hashing beyond one SHA-256, nothing per employee or alert.
pub fn heartbeat(conn: &mut DbConn, secret: &str, request: &HeartbeatRequest) -> Result<HeartbeatResponse, ApiError> {
    let hash = sha256_hex(secret);
    let now = now();
    let (agent, company, enrolled_at) = match store::touch_agent(conn, &hash, now, request.agent_version.as_deref())? {
        Some(found) => found,
        // Not a live agent that is online: either one coming back after an offline alert (rare, so the
        // extra writes are fine here), or no agent at all.
        None => write_transaction(conn, |conn| {
            let found =
                store::touch_returning_agent(conn, &hash, now, request.agent_version.as_deref())?.ok_or_else(|| {
                    ApiError::Unauthenticated("The agent secret is invalid or the agent has been revoked.".to_owned())
                })?;
            crate::alerts::service::agent_back(conn, &CompanyId::from_db(found.1.clone()), &found.0)?;
            Ok::<_, ApiError>(found)
        })?,
    };
    let company = CompanyId::from_db(company);
    ensure_recording(conn, &company, &agent, enrolled_at)?;
    if let Some(known) = request.policy_version {
        let current = crate::policy::store::find_version(conn, &company)?;
        if known == current {
            return Ok(HeartbeatResponse { policy_version: current, policy_changed: false, policy: None });
        }
    }
    let policy = crate::policy::store::find(conn, &company)?;
    Ok(HeartbeatResponse { policy_version: policy.version, policy_changed: true, policy: Some(policy.settings) })
}

/// Who is uploading: the agent a secret belongs to, its company and its employee.
#[derive(Debug, Clone)]
pub struct AgentIdentity {
    pub agent: AgentId,
    pub company: CompanyId,
    pub employee: Option<crate::ids::EmployeeId>,
}

/// The live agent a secret belongs to, without the suspension check (what `Idempotency-Key` scopes by).
pub fn live_agent(conn: &mut DbConn, secret: &str) -> Result<Option<(CompanyId, AgentId)>, ApiError> {
    Ok(store::find_live_by_secret(conn, &sha256_hex(secret))?
        .map(|(agent, company, ..)| (CompanyId::from_db(company), AgentId::from_db(agent))))
}

/// Resolves an agent secret for the upload endpoints; a revoked or unknown secret is 401, a suspended agent
/// 403 `plan_limit_reached`.
pub fn authenticate(conn: &mut DbConn, secret: &str) -> Result<AgentIdentity, ApiError> {
    let (agent, company, employee, enrolled_at) =
        store::find_live_by_secret(conn, &sha256_hex(secret))?.ok_or_else(|| {
            ApiError::Unauthenticated("The agent secret is invalid or the agent has been revoked.".to_owned())
        })?;
    let company = CompanyId::from_db(company);
    ensure_recording(conn, &company, &agent, enrolled_at)?;
    Ok(AgentIdentity {
        agent: AgentId::from_db(agent),
        company,
        employee: employee.map(crate::ids::EmployeeId::from_db),
    })
}

/// Refuses an agent that is suspended: while the company is over the agent limit of the plan that applies,
/// the agents enrolled first (by enrolment time, then id) up to the limit keep recording and the rest get
/// 403 `plan_limit_reached`. Computed from the current state on every call, so revoking agents, removing
/// what is over or upgrading lifts a suspension at once, and nothing stored can go stale. One indexed read.
fn ensure_recording(
    conn: &mut DbConn,
    company: &CompanyId,
    agent: &str,
    enrolled_at: NaiveDateTime,
) -> Result<(), ApiError> {
    let standing = store::recording_standing(conn, company, agent, enrolled_at)?;
    let status = crate::billing::model::SubscriptionStatus::parse(&standing.status);
    let max = match crate::billing::service::keeps_subscribed_tier(status, standing.grace_period_ends_at, now()) {
        true => standing.subscribed_max_agents,
        false => standing.free_max_agents,
    };
    match max.map(i64::from) {
        Some(max) if standing.enrolled_before >= max => Err(suspended(conn, company)?),
        _ => Ok(()),
    }
}

/// The refusal of a suspended agent: the agent limit, the company's agents, and the tier that allows them.
fn suspended(conn: &mut DbConn, company: &CompanyId) -> Result<ApiError, ApiError> {
    let tier = crate::billing::service::effective_tier(conn, company)?;
    let live = crate::billing::usage::live_agents(conn, company)?;
    Ok(match crate::billing::usage::check_limit(conn, &tier, LimitKind::MaxAgents, live, 0) {
        Err(ApiError::PlanLimitReached(mut limit)) => {
            limit.detail =
                format!("This agent is suspended. {} Revoke agents or upgrade to resume recording.", limit.detail);
            ApiError::PlanLimitReached(limit)
        }
        Err(other) => other,
        // The limit moved since the check (a revocation or an upgrade committed): ask the agent to retry.
        Ok(()) => ApiError::Conflict {
            code: "plan_changed",
            detail: "The company's plan or agents changed while this call was checked; send it again.".to_owned(),
        },
    })
}
