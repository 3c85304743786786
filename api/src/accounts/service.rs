//! Account rules: signup, login with throttling, refresh-token rotation with reuse detection, logout, and
//! user management with its role rules.

use chrono::{Duration, NaiveDateTime, Utc};
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::model::{
    Company, CompanyRow, CreateUserRequest, CreatedUser, LoginRequest, Me, Role, Session, SignupRequest,
    UpdateUserRequest, User, UserRow, normalize_email,
};
use super::store::{self, RefreshTokenRow};
use super::tokens::{self, AccessClaims};
use crate::audit::model::{ActorType, AuditActor, AuditEvent};
use crate::config::Secret;
use crate::db::{DbConn, write_transaction};
use crate::error::ApiError;
use crate::http::pagination::{Page, PageRequest};
use crate::http::principal::Actor;
use crate::ids::{CompanyId, UserId};

/// Failed logins counted over this window.
const THROTTLE_WINDOW_MINUTES: i64 = 15;
/// Failures for one email within the window before further attempts are refused.
const MAX_FAILURES_PER_EMAIL: i64 = 5;
/// Failures from one client address within the window (several people may share an address).
const MAX_FAILURES_PER_ADDRESS: i64 = 30;

/// A session just opened: what the client gets, plus the refresh token for the cookie.
pub struct OpenedSession {
    pub session: Session,
    pub refresh_token: String,
}

fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

fn email_taken() -> ApiError {
    ApiError::Conflict { code: "email_taken", detail: "An account with this email already exists.".to_owned() }
}

/// Maps a unique violation on `users.email` (a concurrent signup with the same email) to 409.
fn on_unique_email(error: DieselError) -> ApiError {
    match error {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => email_taken(),
        other => other.into(),
    }
}

/// Creates a company, its first user as OWNER and its FREE subscription, and opens a session.
pub fn signup(
    conn: &mut DbConn,
    secret: &Secret,
    origin: &AuditActor,
    request: &SignupRequest,
) -> Result<OpenedSession, ApiError> {
    let email = normalize_email(&request.email);
    let password_hash = super::password::hash(&request.password)?;
    let now = now();
    let company = CompanyRow {
        id: CompanyId::generate().to_string(),
        name: request.company_name.trim().to_owned(),
        billing_email: Some(email.clone()),
        created_at: now,
        updated_at: now,
    };
    let user = UserRow {
        id: UserId::generate().to_string(),
        company_id: company.id.clone(),
        email,
        name: request.name.trim().to_owned(),
        password_hash,
        role: Role::Owner.as_str().to_owned(),
        disabled_at: None,
        last_login_at: Some(now),
        created_at: now,
        updated_at: now,
    };
    write_transaction(conn, |conn| {
        if store::email_taken(conn, &user.email)? {
            return Err(email_taken());
        }
        store::insert_company(conn, &company)?;
        store::insert_user(conn, &user).map_err(on_unique_email)?;
        let company_id = CompanyId::from_db(company.id.clone());
        crate::billing::store::create_free_subscription(conn, &company_id, now)?;
        crate::policy::store::insert_default(conn, &company_id, now)?;
        let actor = origin.clone().in_company(&company_id).as_actor(ActorType::User, &user.id);
        crate::audit::record(
            conn,
            &actor,
            AuditEvent::new("company.signed_up")
                .target("company", &company.id)
                .details(serde_json::json!({"company_name": company.name, "email": user.email})),
        )?;
        open_session(conn, secret, &user, &company, None)
    })
}

/// Signs in with email and password. Unknown email, wrong password and disabled account all give the same
/// answer in about the same time; repeated failures per email or per address are throttled.
pub fn login(
    conn: &mut DbConn,
    secret: &Secret,
    origin: &AuditActor,
    request: &LoginRequest,
) -> Result<OpenedSession, ApiError> {
    let email = normalize_email(&request.email);
    let email_subject = format!("email:{email}");
    let address_subject = format!("ip:{}", origin.client_ip.as_deref().unwrap_or("unknown"));
    let now = now();
    let window_start = now - Duration::minutes(THROTTLE_WINDOW_MINUTES);
    for (subject, limit) in [(&email_subject, MAX_FAILURES_PER_EMAIL), (&address_subject, MAX_FAILURES_PER_ADDRESS)] {
        let (failures, oldest) = store::recent_login_failures(conn, subject, window_start)?;
        if failures >= limit {
            let frees_at = oldest.unwrap_or(now) + Duration::minutes(THROTTLE_WINDOW_MINUTES);
            let retry_after_secs = u64::try_from((frees_at - now).num_seconds().max(1)).unwrap_or(1);
            return Err(ApiError::TooManyRequests { retry_after_secs });
        }
    }

    let user = store::find_user_by_email_for_login(conn, &email)?;
    let password_ok = match &user {
        Some(user) => super::password::verify(&request.password, &user.password_hash),
        None => {
            // Same work as for a real account, so timing does not reveal whether the email exists.
            let _ = super::password::verify(&request.password, super::password::decoy_hash());
            false
        }
    };
    let user = match user {
        Some(user) if password_ok && user.disabled_at.is_none() => user,
        known => {
            write_transaction(conn, |conn| {
                store::record_login_failure(conn, &email_subject, now, window_start)?;
                store::record_login_failure(conn, &address_subject, now, window_start)?;
                let mut actor = origin.clone();
                if let Some(user) = &known {
                    actor = actor.in_company(&CompanyId::from_db(user.company_id.clone()));
                }
                crate::audit::record(
                    conn,
                    &actor,
                    AuditEvent::new("auth.login_failed").details(serde_json::json!({"email": email})),
                )?;
                Ok::<_, ApiError>(())
            })?;
            return Err(ApiError::InvalidCredentials);
        }
    };

    write_transaction(conn, |conn| {
        store::clear_login_failures(conn, &email_subject)?;
        store::touch_last_login(conn, &UserId::from_db(user.id.clone()), now)?;
        let company = store::find_company(conn, &CompanyId::from_db(user.company_id.clone()))?;
        let actor =
            origin.clone().in_company(&CompanyId::from_db(company.id.clone())).as_actor(ActorType::User, &user.id);
        crate::audit::record(conn, &actor, AuditEvent::new("auth.login").target("user", &user.id))?;
        open_session(conn, secret, &user, &company, None)
    })
}

/// Issues an access token and a refresh token in `family` (a new family for a new sign-in).
fn open_session(
    conn: &mut DbConn,
    secret: &Secret,
    user: &UserRow,
    company: &CompanyRow,
    family: Option<String>,
) -> Result<OpenedSession, ApiError> {
    let refresh_token = tokens::new_refresh_token();
    let now = now();
    store::insert_refresh_token(
        conn,
        &RefreshTokenRow {
            id: uuid::Uuid::now_v7().to_string(),
            family_id: family.unwrap_or_else(|| uuid::Uuid::now_v7().to_string()),
            user_id: user.id.clone(),
            company_id: company.id.clone(),
            token_hash: crate::crypto::sha256_hex(&refresh_token),
            created_at: now,
            expires_at: now + Duration::days(tokens::REFRESH_TOKEN_TTL_DAYS),
            used_at: None,
            revoked_at: None,
        },
    )?;
    let user_view = User::from(user.clone());
    let access_token =
        tokens::issue_access_token(secret, &user_view.id, &CompanyId::from_db(company.id.clone()), user_view.role)?;
    Ok(OpenedSession {
        session: Session {
            access_token,
            token_type: "Bearer".to_owned(),
            expires_in: tokens::ACCESS_TOKEN_TTL_SECS,
            refresh_token: None,
            user: user_view,
            company: company.clone().into(),
        },
        refresh_token,
    })
}

fn session_expired() -> ApiError {
    ApiError::Unauthenticated("The session has ended; sign in again.".to_owned())
}

/// Rotates a refresh token: the presented one is used up and a new one of the same family issued. A token
/// presented a second time means it was copied: the whole family is revoked.
pub fn refresh(
    conn: &mut DbConn,
    secret: &Secret,
    origin: &AuditActor,
    presented: &str,
) -> Result<OpenedSession, ApiError> {
    let now = now();
    let outcome = write_transaction(conn, |conn| {
        let Some(token) = store::find_refresh_token(conn, &crate::crypto::sha256_hex(presented))? else {
            return Ok(Err(session_expired()));
        };
        let reused = token.used_at.is_some() && token.revoked_at.is_none();
        if reused || !store::consume_refresh_token(conn, &token.id, now)? {
            if reused || token.revoked_at.is_none() && token.expires_at > now {
                // Used before, or used concurrently by someone else a moment ago: theft is the safe reading.
                store::revoke_refresh_family(conn, &token.family_id, now)?;
                let actor = origin
                    .clone()
                    .in_company(&CompanyId::from_db(token.company_id.clone()))
                    .as_actor(ActorType::User, &token.user_id);
                crate::audit::record(
                    conn,
                    &actor,
                    AuditEvent::new("auth.refresh_token_reused").target("user", &token.user_id),
                )?;
            }
            return Ok(Err(session_expired()));
        }
        let company_id = CompanyId::from_db(token.company_id.clone());
        let user = store::find_user(conn, &company_id, &UserId::from_db(token.user_id.clone()))?;
        if user.disabled_at.is_some() {
            return Ok(Err(session_expired()));
        }
        let company = store::find_company(conn, &company_id)?;
        open_session(conn, secret, &user, &company, Some(token.family_id)).map(Ok)
    })?;
    // The revocation above must commit even though the caller gets an error, hence the nested Result.
    outcome
}

/// Ends the session the refresh token belongs to. Unknown tokens are ignored: logging out is idempotent.
pub fn logout(conn: &mut DbConn, origin: &AuditActor, presented: &str) -> Result<(), ApiError> {
    write_transaction(conn, |conn| {
        if let Some(token) = store::find_refresh_token(conn, &crate::crypto::sha256_hex(presented))? {
            store::revoke_refresh_family(conn, &token.family_id, now())?;
            let actor = origin
                .clone()
                .in_company(&CompanyId::from_db(token.company_id.clone()))
                .as_actor(ActorType::User, &token.user_id);
            crate::audit::record(conn, &actor, AuditEvent::new("auth.logout").target("user", &token.user_id))?;
        }
        Ok(())
    })
}

/// Resolves a verified access token to an active user and their current role.
pub fn authenticate_user(conn: &mut DbConn, claims: &AccessClaims) -> Result<(CompanyId, Actor), ApiError> {
    let user = store::find_user(conn, &claims.company_id, &claims.user_id)
        .map_err(|_| ApiError::Unauthenticated("The access token is invalid or has expired.".to_owned()))?;
    if user.disabled_at.is_some() {
        return Err(ApiError::Unauthenticated("This account has been disabled.".to_owned()));
    }
    let role = Role::parse(&user.role).unwrap_or(Role::Viewer);
    Ok((claims.company_id.clone(), Actor::User { id: claims.user_id.clone(), role }))
}

pub fn me(conn: &mut DbConn, company: &CompanyId, user: &UserId) -> Result<Me, ApiError> {
    let user = store::find_user(conn, company, user)?;
    let company = store::find_company(conn, company)?;
    Ok(Me { user: user.into(), company: Company::from(company) })
}

pub fn list_users(conn: &mut DbConn, company: &CompanyId, page: PageRequest) -> Result<Page<User>, ApiError> {
    let (rows, total) = store::list_users(conn, company, page)?;
    Ok(Page::new(rows.into_iter().map(Into::into).collect(), page, total))
}

pub fn get_user(conn: &mut DbConn, company: &CompanyId, user: &UserId) -> Result<User, ApiError> {
    store::find_user(conn, company, user).map(Into::into).map_err(|e| not_found_as("user", e))
}

fn not_found_as(what: &'static str, error: DieselError) -> ApiError {
    match error {
        DieselError::NotFound => ApiError::NotFound(what),
        other => other.into(),
    }
}

/// Adds a user to the company. Only an owner may create another owner.
pub fn create_user(
    conn: &mut DbConn,
    actor: &AuditActor,
    acting_role: Role,
    company: &CompanyId,
    request: &CreateUserRequest,
) -> Result<CreatedUser, ApiError> {
    if request.role == Role::Owner && acting_role != Role::Owner {
        return Err(ApiError::Forbidden("Only an owner can make another user an owner.".to_owned()));
    }
    let temporary_password = request.password.is_none().then(|| crate::crypto::random_token(16));
    let password = request.password.as_deref().or(temporary_password.as_deref()).unwrap_or_default();
    let now = now();
    let row = UserRow {
        id: UserId::generate().to_string(),
        company_id: company.to_string(),
        email: normalize_email(&request.email),
        name: request.name.trim().to_owned(),
        password_hash: super::password::hash(password)?,
        role: request.role.as_str().to_owned(),
        disabled_at: None,
        last_login_at: None,
        created_at: now,
        updated_at: now,
    };
    write_transaction(conn, |conn| {
        if store::email_taken(conn, &row.email)? {
            return Err(email_taken());
        }
        store::insert_user(conn, &row).map_err(on_unique_email)?;
        crate::audit::record(
            conn,
            actor,
            AuditEvent::new("user.created")
                .target("user", &row.id)
                .details(serde_json::json!({"email": row.email, "role": row.role})),
        )?;
        Ok(())
    })?;
    Ok(CreatedUser { user: row.into(), temporary_password })
}

/// Changes a user's role, name or active state, keeping the company's role rules: only owners touch owners
/// or make new ones, the last active owner stays an active owner, and nobody disables themselves.
pub fn update_user(
    conn: &mut DbConn,
    actor: &AuditActor,
    acting_user: &UserId,
    acting_role: Role,
    company: &CompanyId,
    target: &UserId,
    request: &UpdateUserRequest,
) -> Result<User, ApiError> {
    let now = now();
    write_transaction(conn, |conn| {
        // Serialises concurrent role changes in this company, so two owners demoting each other at the same
        // moment cannot both pass the last-owner check.
        crate::db::lock_company(conn, company)?;
        let current = store::find_user(conn, company, target).map_err(|e| not_found_as("user", e))?;
        let current_role = Role::parse(&current.role).unwrap_or(Role::Viewer);
        let new_role = request.role.unwrap_or(current_role);
        let was_active = current.disabled_at.is_none();
        let active = request.active.unwrap_or(was_active);
        let touches_owner = current_role == Role::Owner || new_role == Role::Owner;
        if touches_owner && (new_role != current_role || active != was_active) && acting_role != Role::Owner {
            return Err(ApiError::Forbidden("Only an owner can change an owner or make someone an owner.".to_owned()));
        }
        if !active && was_active && target == acting_user {
            return Err(ApiError::Conflict {
                code: "cannot_disable_self",
                detail: "You cannot disable your own account.".to_owned(),
            });
        }
        let loses_owner = current_role == Role::Owner && was_active && (new_role != Role::Owner || !active);
        if loses_owner && store::count_active_owners(conn, company)? <= 1 {
            return Err(ApiError::Conflict {
                code: "last_owner",
                detail: "A company needs at least one active owner; make someone else an owner first.".to_owned(),
            });
        }
        let name = request.name.as_deref().map(str::trim).unwrap_or(&current.name).to_owned();
        let disabled_at = if active { None } else { current.disabled_at.or(Some(now)) };
        store::update_user(conn, company, target, new_role, &name, disabled_at, now)?;
        if new_role != current_role {
            crate::audit::record(
                conn,
                actor,
                AuditEvent::new("user.role_changed")
                    .target("user", target)
                    .details(serde_json::json!({"from": current_role, "to": new_role})),
            )?;
        }
        if active != was_active {
            if !active {
                store::revoke_user_refresh_tokens(conn, target, now)?;
            }
            let action = if active { "user.enabled" } else { "user.disabled" };
            crate::audit::record(conn, actor, AuditEvent::new(action).target("user", target))?;
        }
        if name != current.name {
            crate::audit::record(
                conn,
                actor,
                AuditEvent::new("user.renamed")
                    .target("user", target)
                    .details(serde_json::json!({"from": current.name, "to": name})),
            )?;
        }
        Ok(store::find_user(conn, company, target)?.into())
    })
}
