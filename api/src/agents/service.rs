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
use crate::billing::model::LimitKind;
use crate::crypto::{random_token, sha256_hex};
use crate::db::{DbConn, lock_company, write_transaction};
use crate::error::ApiError;
use crate::http::pagination::{Page, PageRequest};
use crate::ids::normalize_email;
use crate::ids::{AgentId, CompanyId, EnrollmentTokenId, UserId};

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

pub fn list_agents(
    conn: &mut DbConn,
    company: &CompanyId,
    filter: &AgentFilter,
    page: PageRequest,
) -> Result<Page<Agent>, ApiError> {
    let since = online_since(conn, company, now())?;
    let (rows, total) = store::list_agents(conn, company, filter, since, page)?;
    Ok(Page::new(rows.into_iter().map(|row| Agent::from_row(row, since)).collect(), page, total))
}

pub fn get_agent(conn: &mut DbConn, company: &CompanyId, id: &AgentId) -> Result<Agent, ApiError> {
    let since = online_since(conn, company, now())?;
    let row = store::find_agent(conn, company, id)?.ok_or(ApiError::NotFound("agent"))?;
    Ok(Agent::from_row(row, since))
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
            crate::alerts::sweep::agent_back(conn, company, id.as_str())?;
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
    page: PageRequest,
) -> Result<Page<EnrollmentToken>, ApiError> {
    let (rows, total) = store::list_tokens(conn, company, page)?;
    Ok(Page::new(rows.into_iter().map(Into::into).collect(), page, total))
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
        let tier = crate::billing::service::effective_tier(conn, &company)?;
        let live = store::count_live_agents(conn, &company)?;
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
/// is stale). One indexed write that also authenticates, then one read: no transaction, no hashing beyond
/// one SHA-256, nothing per employee or alert.
pub fn heartbeat(conn: &mut DbConn, secret: &str, request: &HeartbeatRequest) -> Result<HeartbeatResponse, ApiError> {
    let hash = sha256_hex(secret);
    let now = now();
    let company = match store::touch_agent(conn, &hash, now, request.agent_version.as_deref())? {
        Some((_agent, company)) => CompanyId::from_db(company),
        // Not a live agent that is online: either one coming back after an offline alert (rare, so the
        // extra writes are fine here), or no agent at all.
        None => write_transaction(conn, |conn| {
            let (agent, company) = store::touch_returning_agent(conn, &hash, now, request.agent_version.as_deref())?
                .ok_or_else(|| {
                    ApiError::Unauthenticated("The agent secret is invalid or the agent has been revoked.".to_owned())
                })?;
            let company = CompanyId::from_db(company);
            crate::alerts::sweep::agent_back(conn, &company, &agent)?;
            Ok::<_, ApiError>(company)
        })?,
    };
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

/// Resolves an agent secret for the upload endpoints; a revoked or unknown secret is 401.
pub fn authenticate(conn: &mut DbConn, secret: &str) -> Result<AgentIdentity, ApiError> {
    let (agent, company, employee) = store::find_live_by_secret(conn, &sha256_hex(secret))?.ok_or_else(|| {
        ApiError::Unauthenticated("The agent secret is invalid or the agent has been revoked.".to_owned())
    })?;
    Ok(AgentIdentity {
        agent: AgentId::from_db(agent),
        company: CompanyId::from_db(company),
        employee: employee.map(crate::ids::EmployeeId::from_db),
    })
}
