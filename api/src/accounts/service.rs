//! Account rules: sign-up, login with throttling, refresh-token rotation with reuse detection, logout,
//! password changes, and user management with its role rules.
//!
//! Sign-up, login and password changes are async: the argon2 work runs on the blocking pool between two
//! short database steps, so no connection is held while a password is hashed.

use chrono::{Duration, NaiveDateTime};
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::model::{
    ChangePasswordRequest, Company, CompanyRow, CreateUserRequest, CreatedUser, LoginRequest, Me, Role, Session,
    SignupRequest, UpdateUserRequest, User, UserChanges, UserRow, normalize_email,
};
use super::password::{hash_off_thread, verify_off_thread};
use super::store::{self, RefreshTokenRow};
use super::throttle::{self, Rule};
use crate::api_keys::model::Person;
use crate::api_keys::service::CreatorChange;
use crate::audit::model::{AuditActor, AuditEvent};
use crate::auth::Actor;
use crate::auth::tokens::{self, AccessClaims};
use crate::config::Secret;
use crate::db::{self, DbConn, DbPool, write_transaction};
use crate::error::ApiError;
use crate::http::pagination::{ListRequest, Page};
use crate::http::precondition::{IfMatch, Tagged};
use crate::ids::{CompanyId, UserId};

/// Failed logins for one email: 5 per 15 minutes.
const LOGIN_PER_EMAIL: Rule = Rule { limit: 5, window: Duration::minutes(15) };
/// Login attempts from one client address (several people may share one): 30 per 15 minutes.
const LOGIN_PER_ADDRESS: Rule = Rule { limit: 30, window: Duration::minutes(15) };
/// A refresh token presented again this soon after its rotation is a client race (two tabs, a retry),
/// not theft: it is refused without revoking the session.
const REFRESH_RACE_GRACE_SECS: i64 = 10;

/// A session just opened: what the client gets, plus the refresh token for the cookie.
pub struct OpenedSession {
    pub session: Session,
    pub refresh_token: String,
}

fn now() -> NaiveDateTime {
    crate::db::now()
}

fn email_taken() -> ApiError {
    ApiError::Conflict { code: "email_taken", detail: "An account with this email already exists.".to_owned() }
}

/// Maps a unique violation on `users.email` (a concurrent sign-up with the same email) to 409.
fn on_unique_email(error: DieselError) -> ApiError {
    match error {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => email_taken(),
        other => other.into(),
    }
}

fn not_found_as(what: &'static str, error: DieselError) -> ApiError {
    match error {
        DieselError::NotFound => ApiError::NotFound(what),
        other => other.into(),
    }
}

/// Creates a company, its first user as OWNER, its FREE subscription and default policy, and opens a
/// session. Sign-ups per client address are limited (`signups_per_hour`), which also bounds probing for
/// existing accounts through `email_taken`.
pub async fn signup(
    pool: &DbPool,
    secret: Secret,
    signups_per_hour: i64,
    origin: AuditActor,
    request: SignupRequest,
) -> Result<OpenedSession, ApiError> {
    let subject = throttle::address_subject("signup", origin.client_ip.as_deref());
    let rule = Rule { limit: signups_per_hour, window: Duration::hours(1) };
    db::run(pool, move |conn| throttle::admit(conn, &subject, rule, now()).map(drop)).await?;
    let password_hash = hash_off_thread(request.password.clone()).await?;
    db::run(pool, move |conn| create_company(conn, &secret, &origin, &request, password_hash)).await
}

fn create_company(
    conn: &mut DbConn,
    secret: &Secret,
    origin: &AuditActor,
    request: &SignupRequest,
    password_hash: String,
) -> Result<OpenedSession, ApiError> {
    let email = normalize_email(&request.email);
    let now = now();
    let company = CompanyRow {
        id: CompanyId::generate().to_string(),
        name: request.company_name.trim().to_owned(),
        billing_email: Some(email.clone()),
        created_at: now,
        updated_at: now,
        stripe_customer_id: None,
        tax_id_type: None,
        tax_id_value: None,
        stripe_tax_id: None,
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
        version: 1,
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
        crate::audit::record(
            conn,
            &origin.for_user(&company_id, &user.id),
            AuditEvent::new("company.signed_up")
                .target("company", &company.id)
                .details(serde_json::json!({"company_name": company.name, "email": user.email})),
        )?;
        open_session(conn, secret, &user, &company, None)
    })
}

/// Signs in with email and password. Unknown email, wrong password and disabled account all give the same
/// answer in about the same time; attempts per email and per client address are throttled.
pub async fn login(
    pool: &DbPool,
    secret: Secret,
    origin: AuditActor,
    request: LoginRequest,
) -> Result<OpenedSession, ApiError> {
    let email = normalize_email(&request.email);
    let email_subject = format!("login:email:{email}");
    let address_subject = throttle::address_subject("login", origin.client_ip.as_deref());
    let (address_attempt, user) = {
        let (email, email_subject, address_subject) = (email.clone(), email_subject.clone(), address_subject.clone());
        db::run(pool, move |conn| {
            let now = now();
            let address_attempt = throttle::admit(conn, &address_subject, LOGIN_PER_ADDRESS, now)?;
            if let Err(throttled) = throttle::admit(conn, &email_subject, LOGIN_PER_EMAIL, now) {
                throttle::forget(conn, &address_attempt)?;
                return Err(throttled);
            }
            Ok((address_attempt, store::find_user_by_email_for_login(conn, &email)?))
        })
        .await?
    };
    let password_ok = verify_off_thread(request.password, user.as_ref().map(|u| u.password_hash.clone())).await?;
    db::run(pool, move |conn| match user {
        Some(user) if password_ok && user.disabled_at.is_none() => write_transaction(conn, |conn| {
            // A success clears the email's failures and does not count against the address.
            throttle::clear(conn, &email_subject)?;
            throttle::forget(conn, &address_attempt)?;
            let company_id = CompanyId::from_db(user.company_id.clone());
            store::touch_last_login(conn, &company_id, &UserId::from_db(user.id.clone()), now())?;
            let company = store::find_company(conn, &company_id)?;
            crate::audit::record(
                conn,
                &origin.for_user(&company_id, &user.id),
                AuditEvent::new("auth.login").target("user", &user.id),
            )?;
            open_session(conn, &secret, &user, &company, None)
        }),
        known => {
            let mut actor = origin.clone();
            if let Some(user) = &known {
                actor = actor.in_company(&CompanyId::from_db(user.company_id.clone()));
            }
            crate::audit::record(
                conn,
                &actor,
                AuditEvent::new("auth.login_failed").details(serde_json::json!({"email": email})),
            )?;
            Err(ApiError::InvalidCredentials)
        }
    })
    .await
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

/// A disabled user's still-unexpired access token: refused at once, with a code of its own so the client
/// can say why instead of trying to refresh.
fn account_disabled() -> ApiError {
    ApiError::CredentialRejected { code: "account_disabled", detail: "This account has been disabled.".to_owned() }
}

fn session_expired() -> ApiError {
    ApiError::Unauthenticated("The session has ended; sign in again.".to_owned())
}

/// What presenting a refresh token that cannot be rotated means.
enum Unusable {
    /// Unknown, expired or revoked: just refuse.
    Refuse,
    /// Used moments ago: a client race; refuse without consequences.
    Race,
    /// Used before: copied by someone; revoke its whole family.
    Reuse,
}

fn classify_unusable(token: &RefreshTokenRow, now: NaiveDateTime) -> Unusable {
    match token.used_at {
        _ if token.revoked_at.is_some() || token.expires_at <= now => Unusable::Refuse,
        Some(used) if (now - used).num_seconds() < REFRESH_RACE_GRACE_SECS => Unusable::Race,
        _ => Unusable::Reuse,
    }
}

/// Rotates a refresh token: the presented one is used up and a new one of the same family issued. A token
/// presented again later means it was copied: the whole family is revoked.
pub fn refresh(
    conn: &mut DbConn,
    secret: &Secret,
    origin: &AuditActor,
    presented: &str,
) -> Result<OpenedSession, ApiError> {
    let now = now();
    // The revocation must commit even though the caller gets an error, hence the nested Result.
    write_transaction(conn, |conn| {
        let Some(token) = store::find_refresh_token(conn, &crate::crypto::sha256_hex(presented))? else {
            return Ok(Err(session_expired()));
        };
        if !store::consume_refresh_token(conn, &token.id, now)? {
            // Re-read: a concurrent rotation may have used it between the read above and the update.
            let current = store::find_refresh_token(conn, &token.token_hash)?.unwrap_or(token);
            if let Unusable::Reuse = classify_unusable(&current, now) {
                store::revoke_refresh_family(conn, &current.family_id, now)?;
                let company = CompanyId::from_db(current.company_id.clone());
                crate::audit::record(
                    conn,
                    &origin.for_user(&company, &current.user_id),
                    AuditEvent::new("auth.refresh_token_reused").target("user", &current.user_id),
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
    })?
}

/// Ends the session the refresh token belongs to. Unknown tokens are ignored: logging out is idempotent.
pub fn logout(conn: &mut DbConn, origin: &AuditActor, presented: &str) -> Result<(), ApiError> {
    write_transaction(conn, |conn| {
        if let Some(token) = store::find_refresh_token(conn, &crate::crypto::sha256_hex(presented))? {
            store::revoke_refresh_family(conn, &token.family_id, now())?;
            let company = CompanyId::from_db(token.company_id.clone());
            crate::audit::record(
                conn,
                &origin.for_user(&company, &token.user_id),
                AuditEvent::new("auth.logout").target("user", &token.user_id),
            )?;
        }
        Ok(())
    })
}

/// Changes the signed-in user's password after checking the current one; every session of the user ends
/// and a fresh one is opened for the caller. Wrong current passwords count as failed logins.
pub async fn change_password(
    pool: &DbPool,
    secret: Secret,
    actor: AuditActor,
    company: CompanyId,
    user: UserId,
    request: ChangePasswordRequest,
) -> Result<OpenedSession, ApiError> {
    let (found, lookup) = (company.clone(), user.clone());
    let row =
        db::run(pool, move |conn| store::find_user(conn, &found, &lookup).map_err(|e| not_found_as("user", e))).await?;
    let email_subject = format!("login:email:{}", row.email);
    let admitted = {
        let subject = email_subject.clone();
        db::run(pool, move |conn| throttle::admit(conn, &subject, LOGIN_PER_EMAIL, now())).await?
    };
    if !verify_off_thread(request.current_password, Some(row.password_hash.clone())).await? {
        return Err(ApiError::invalid_field("current_password", "is not your current password"));
    }
    let new_hash = hash_off_thread(request.new_password).await?;
    db::run(pool, move |conn| {
        write_transaction(conn, |conn| {
            throttle::forget(conn, &admitted)?;
            let now = now();
            store::set_password_hash(conn, &company, &user, &new_hash, now)?;
            store::revoke_user_refresh_tokens(conn, &company, &user, now)?;
            crate::audit::record(conn, &actor, AuditEvent::new("user.password_changed").target("user", &user))?;
            let row = store::find_user(conn, &company, &user)?;
            let company_row = store::find_company(conn, &company)?;
            open_session(conn, &secret, &row, &company_row, None)
        })
    })
    .await
}

/// Resolves a verified access token to an active user and their current role.
pub fn authenticate_user(conn: &mut DbConn, claims: &AccessClaims) -> Result<(CompanyId, Actor), ApiError> {
    let user = match store::find_user(conn, &claims.company_id, &claims.user_id) {
        Ok(user) => user,
        Err(DieselError::NotFound) => {
            return Err(ApiError::Unauthenticated("The access token is invalid or has expired.".to_owned()));
        }
        Err(other) => return Err(other.into()),
    };
    if user.disabled_at.is_some() {
        return Err(account_disabled());
    }
    let role = Role::parse(&user.role).unwrap_or(Role::Viewer);
    Ok((claims.company_id.clone(), Actor::User { id: claims.user_id.clone(), role }))
}

pub fn me(conn: &mut DbConn, company: &CompanyId, user: &UserId) -> Result<Me, ApiError> {
    let user = store::find_user(conn, company, user)?;
    let company = store::find_company(conn, company)?;
    Ok(Me { user: user.into(), company: Company::from(company) })
}

pub fn list_users(conn: &mut DbConn, company: &CompanyId, list: &ListRequest) -> Result<Page<User>, ApiError> {
    let slice = list.slice(|id| Ok(store::user_created_at(conn, company, id)?))?;
    let (rows, total) = store::list_users(conn, company, &slice)?;
    Ok(list.page(rows.into_iter().map(Into::into).collect(), total))
}

pub fn get_user(conn: &mut DbConn, company: &CompanyId, user: &UserId) -> Result<Tagged<User>, ApiError> {
    let row = store::find_user(conn, company, user).map_err(|e| not_found_as("user", e))?;
    let etag = row.etag();
    Ok(Tagged::new(row.into(), etag))
}

/// Adds a user to the company. Only an owner may create another owner.
pub async fn create_user(
    pool: &DbPool,
    actor: AuditActor,
    acting_role: Role,
    company: CompanyId,
    request: CreateUserRequest,
) -> Result<CreatedUser, ApiError> {
    if request.role == Role::Owner && acting_role != Role::Owner {
        return Err(ApiError::Forbidden("Only an owner can make another user an owner.".to_owned()));
    }
    let temporary_password = request.password.is_none().then(|| crate::crypto::random_token(16));
    let password = request.password.clone().or_else(|| temporary_password.clone()).unwrap_or_default();
    let password_hash = hash_off_thread(password).await?;
    let now = now();
    let row = UserRow {
        id: UserId::generate().to_string(),
        company_id: company.to_string(),
        email: normalize_email(&request.email),
        name: request.name.trim().to_owned(),
        password_hash,
        role: request.role.as_str().to_owned(),
        disabled_at: None,
        last_login_at: None,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    db::run(pool, move |conn| {
        write_transaction(conn, |conn| {
            if store::email_taken(conn, &row.email)? {
                return Err(email_taken());
            }
            store::insert_user(conn, &row).map_err(on_unique_email)?;
            crate::audit::record(
                conn,
                &actor,
                AuditEvent::new("user.created")
                    .target("user", &row.id)
                    .details(serde_json::json!({"email": row.email, "role": row.role})),
            )?;
            Ok(CreatedUser { user: row.clone().into(), temporary_password })
        })
    })
    .await
}

/// Changes a user's role, name or active state, keeping the company's role rules: only owners touch owners
/// or make new ones, the last active owner stays an active owner, and nobody disables themselves. Only the
/// fields that change are written; `if_match` is compared under the company's lock.
#[expect(clippy::too_many_arguments, reason = "who acts, on what, with which precondition: each is needed")]
pub fn update_user(
    conn: &mut DbConn,
    actor: &AuditActor,
    acting_user: &UserId,
    acting_role: Role,
    company: &CompanyId,
    target: &UserId,
    request: &UpdateUserRequest,
    if_match: &IfMatch,
) -> Result<Tagged<User>, ApiError> {
    let now = now();
    write_transaction(conn, |conn| {
        // Serialises concurrent role changes in this company, so two owners demoting each other at the same
        // moment cannot both pass the last-owner check.
        crate::db::lock_company(conn, company)?;
        let current = store::find_user(conn, company, target).map_err(|e| not_found_as("user", e))?;
        if_match.check(&current.etag())?;
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
        let changes = UserChanges {
            role: (new_role != current_role).then(|| new_role.as_str().to_owned()),
            name: (name != current.name).then(|| name.clone()),
            disabled_at: (active != was_active).then_some(if active { None } else { Some(now) }),
        };
        if changes.role.is_none() && changes.name.is_none() && changes.disabled_at.is_none() {
            let etag = current.etag();
            return Ok(Tagged::new(current.into(), etag));
        }
        store::update_user(conn, company, target, &changes, now)?;
        // The keys they made must not reach further than they now may: all of them when disabled, those whose
        // scope the new role does not cover when the role changed.
        let key_change = match (was_active, active) {
            (true, false) => Some(CreatorChange::Disabled),
            (_, true) if new_role != current_role => Some(CreatorChange::Demoted(new_role)),
            _ => None,
        };
        if let Some(change) = key_change {
            let caused_by = store::find_user(conn, company, acting_user)?;
            crate::api_keys::service::revoke_for_creator(
                conn,
                actor,
                company,
                &person(&current),
                &person(&caused_by),
                change,
            )?;
        }
        // Enrollment tokens make agents that record under any employee: only an admin may hold live ones.
        if !active || (new_role != current_role && !new_role.is_admin()) {
            revoke_enrollment_tokens(conn, actor, company, target, now)?;
        }
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
                store::revoke_user_refresh_tokens(conn, company, target, now)?;
                // Their open alert streams look again, find them disabled and end.
                crate::db::notify::alerts_changed(conn, company.as_str())?;
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
        let after = store::find_user(conn, company, target)?;
        let etag = after.etag();
        Ok(Tagged::new(after.into(), etag))
    })
}

/// Removes a user from the company, keeping the role rules of [`update_user`]: only owners remove owners,
/// the last active owner stays, and nobody removes themselves. In one transaction the keys they created are
/// revoked (audited, owners alerted), they are forgotten as a creator and lose their sessions and alerts, and
/// the user row goes; the audit log keeps what they did under their id.
pub fn remove_user(
    conn: &mut DbConn,
    actor: &AuditActor,
    acting_user: &UserId,
    acting_role: Role,
    company: &CompanyId,
    target: &UserId,
) -> Result<(), ApiError> {
    write_transaction(conn, |conn| {
        crate::db::lock_company(conn, company)?;
        let current = store::find_user(conn, company, target).map_err(|e| not_found_as("user", e))?;
        let role = Role::parse(&current.role).unwrap_or(Role::Viewer);
        if target == acting_user {
            return Err(ApiError::Conflict {
                code: "cannot_remove_self",
                detail: "You cannot remove your own account.".to_owned(),
            });
        }
        if role == Role::Owner && acting_role != Role::Owner {
            return Err(ApiError::Forbidden("Only an owner can remove an owner.".to_owned()));
        }
        if role == Role::Owner && current.disabled_at.is_none() && store::count_active_owners(conn, company)? <= 1 {
            return Err(ApiError::Conflict {
                code: "last_owner",
                detail: "A company needs at least one active owner; make someone else an owner first.".to_owned(),
            });
        }
        let caused_by = store::find_user(conn, company, acting_user)?;
        let removed = person(&current);
        crate::api_keys::service::revoke_for_creator(
            conn,
            actor,
            company,
            &removed,
            &person(&caused_by),
            CreatorChange::Removed,
        )?;
        revoke_enrollment_tokens(conn, actor, company, target, crate::db::now())?;
        crate::api_keys::store::forget_creator(conn, company, target)?;
        crate::agents::store::forget_token_creator(conn, company, target)?;
        crate::alerts::store::forget_recipient(conn, company, target)?;
        store::delete_user(conn, company, target)?;
        crate::db::notify::alerts_changed(conn, company.as_str())?;
        crate::audit::record(
            conn,
            actor,
            AuditEvent::new("user.removed")
                .target("user", target)
                .details(serde_json::json!({"email": removed.email, "name": removed.name, "role": role})),
        )?;
        Ok(())
    })
}

/// Revokes the live enrollment tokens `user` created, audited when there were any.
fn revoke_enrollment_tokens(
    conn: &mut DbConn,
    actor: &AuditActor,
    company: &CompanyId,
    user: &UserId,
    now: NaiveDateTime,
) -> Result<(), ApiError> {
    let revoked = crate::agents::store::revoke_tokens_of_creator(conn, company, user, now)?;
    if revoked > 0 {
        crate::audit::record(
            conn,
            actor,
            AuditEvent::new("enrollment_token.revoked")
                .target("user", user)
                .details(serde_json::json!({"tokens": revoked, "reason": "creator_disabled_removed_or_demoted"})),
        )?;
    }
    Ok(())
}

/// A user as revocations and alerts name them.
fn person(user: &UserRow) -> Person {
    Person { id: UserId::from_db(user.id.clone()), name: user.name.clone(), email: user.email.clone() }
}
