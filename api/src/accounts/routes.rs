//! Sign-up, sessions, the current user, users and API keys.

use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};

use super::model::{
    ChangePasswordRequest, CreateUserRequest, CreatedUser, LoginRequest, Me, RefreshRequest, Session, SignupRequest,
    UpdateUserRequest, User,
};
use super::service::{self, OpenedSession};
use crate::auth::tokens::REFRESH_TOKEN_TTL_DAYS;
use crate::config::{Config, Environment};
use crate::db::{self, DbPool};
use crate::error::ApiError;
use crate::http::extract::{OptionalJson, ValidatedJson};
use crate::http::pagination::{CursorQuery, ListRequest, Page, PageQuery};
use crate::http::precondition::{IfMatch, IfMatchParam, Tagged};
use crate::http::principal::{AdminUser, Auth, RequestOrigin, SignedInUser};
use crate::ids::UserId;

/// The refresh cookie: HttpOnly so scripts cannot read it, scoped to the auth endpoints.
const REFRESH_COOKIE: &str = "vigil_refresh";
const REFRESH_COOKIE_PATH: &str = "/api/v1/auth";

fn refresh_cookie(config: &Config, value: &str, max_age: time::Duration) -> Cookie<'static> {
    Cookie::build(REFRESH_COOKIE, value.to_owned())
        .path(REFRESH_COOKIE_PATH)
        .http_only(true)
        .secure(config.environment == Environment::Production || config.public_url.starts_with("https://"))
        .same_site(SameSite::Strict)
        .max_age(max_age)
        .finish()
}

fn session_response(
    config: &Config,
    opened: OpenedSession,
    in_body: bool,
    status: actix_web::http::StatusCode,
) -> HttpResponse {
    let mut session = opened.session;
    if in_body {
        session.refresh_token = Some(opened.refresh_token.clone());
    }
    HttpResponse::build(status)
        .cookie(refresh_cookie(config, &opened.refresh_token, time::Duration::days(REFRESH_TOKEN_TTL_DAYS)))
        .json(session)
}

/// Creates a company with its first user as owner, on the FREE plan, and signs that user in.
#[utoipa::path(
    tag = "auth",
    operation_id = "signup",
    request_body = SignupRequest,
    responses(
        (status = 201, description = "Company and owner created; the refresh token is set as an HttpOnly cookie", body = Session),
        (status = 409, description = "The email already has an account (`email_taken`)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many sign-ups from this address (`rate_limited`); see `Retry-After`", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/auth/signup")]
pub async fn signup(
    body: ValidatedJson<SignupRequest>,
    origin: RequestOrigin,
    pool: web::Data<DbPool>,
    config: web::Data<Config>,
) -> Result<HttpResponse, ApiError> {
    let request = body.into_inner();
    let in_body = request.return_refresh_token;
    let opened = service::signup(
        &pool,
        config.jwt_secret.clone(),
        config.signups_per_address_per_hour,
        origin.anonymous(),
        request,
    )
    .await?;
    Ok(session_response(&config, opened, in_body, actix_web::http::StatusCode::CREATED))
}

/// Signs in with email and password.
#[utoipa::path(
    tag = "auth",
    operation_id = "login",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in; the refresh token is set as an HttpOnly cookie", body = Session),
        (status = 401, description = "Wrong email or password (`invalid_credentials`); the answer never says which", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts for this email or address (`rate_limited`); see `Retry-After`", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/auth/login")]
pub async fn login(
    body: ValidatedJson<LoginRequest>,
    origin: RequestOrigin,
    pool: web::Data<DbPool>,
    config: web::Data<Config>,
) -> Result<HttpResponse, ApiError> {
    let request = body.into_inner();
    let in_body = request.return_refresh_token;
    let opened = service::login(&pool, config.jwt_secret.clone(), origin.anonymous(), request).await?;
    Ok(session_response(&config, opened, in_body, actix_web::http::StatusCode::OK))
}

/// The refresh token from the cookie, or from the body for integrators.
fn presented_refresh_token(req: &HttpRequest, body: &Option<RefreshRequest>) -> Option<String> {
    body.as_ref()
        .and_then(|body| body.refresh_token.clone())
        .or_else(|| req.cookie(REFRESH_COOKIE).map(|cookie| cookie.value().to_owned()))
        .filter(|token| !token.is_empty() && token.len() <= 200)
}

/// Exchanges a refresh token for a new access token and a new refresh token (rotation). A refresh token
/// that was already used revokes its whole session family.
#[utoipa::path(
    tag = "auth",
    operation_id = "refresh_session",
    request_body(content = Option<RefreshRequest>, description = "Optional: integrators send the refresh token here; browsers send the cookie"),
    responses(
        (status = 200, description = "A new session", body = Session),
        (status = 401, description = "Missing, expired, revoked or reused refresh token", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/auth/refresh")]
pub async fn refresh(
    req: HttpRequest,
    OptionalJson(body): OptionalJson<RefreshRequest>,
    pool: web::Data<DbPool>,
    config: web::Data<Config>,
) -> Result<HttpResponse, ApiError> {
    let in_body = body.as_ref().is_some_and(|b| b.return_refresh_token || b.refresh_token.is_some());
    let presented = presented_refresh_token(&req, &body)
        .ok_or_else(|| ApiError::Unauthenticated("No refresh token: sign in again.".to_owned()))?;
    let origin = RequestOrigin::of(&req);
    let secret = config.jwt_secret.clone();
    let opened = db::run(&pool, move |conn| service::refresh(conn, &secret, &origin.anonymous(), &presented)).await?;
    Ok(session_response(&config, opened, in_body, actix_web::http::StatusCode::OK))
}

/// Ends the session: the refresh token (and its family) is revoked and the cookie cleared.
#[utoipa::path(
    tag = "auth",
    operation_id = "logout",
    request_body(content = Option<RefreshRequest>, description = "Optional: integrators send the refresh token here"),
    responses((status = 204, description = "Signed out")),
)]
#[post("/auth/logout")]
pub async fn logout(
    req: HttpRequest,
    OptionalJson(body): OptionalJson<RefreshRequest>,
    pool: web::Data<DbPool>,
    config: web::Data<Config>,
) -> Result<HttpResponse, ApiError> {
    if let Some(presented) = presented_refresh_token(&req, &body) {
        let origin = RequestOrigin::of(&req);
        db::run(&pool, move |conn| service::logout(conn, &origin.anonymous(), &presented)).await?;
    }
    Ok(HttpResponse::NoContent().cookie(refresh_cookie(&config, "", time::Duration::ZERO)).finish())
}

/// The signed-in user, their role and company.
#[utoipa::path(
    tag = "auth",
    operation_id = "get_me",
    security(("bearer" = [])),
    responses((status = 200, description = "The current user and company", body = Me)),
)]
#[get("/me")]
pub async fn me(auth: Auth<SignedInUser>, pool: web::Data<DbPool>) -> Result<web::Json<Me>, ApiError> {
    let company = auth.company_id().clone();
    let (user, _) = auth.acting_user()?;
    Ok(web::Json(db::run(&pool, move |conn| service::me(conn, &company, &user)).await?))
}

/// Changes the signed-in user's password. Every session of the user ends; the response is a new session
/// for the caller.
#[utoipa::path(
    tag = "auth",
    operation_id = "change_password",
    request_body = ChangePasswordRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Password changed; a new session (other sessions have ended)", body = Session),
        (status = 429, description = "Too many wrong current passwords (`rate_limited`)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/me/password")]
pub async fn change_password(
    auth: Auth<SignedInUser>,
    body: ValidatedJson<ChangePasswordRequest>,
    pool: web::Data<DbPool>,
    config: web::Data<Config>,
) -> Result<HttpResponse, ApiError> {
    let (user, _) = auth.acting_user()?;
    let (actor, company) = (auth.audit_actor(), auth.company_id().clone());
    let opened =
        service::change_password(&pool, config.jwt_secret.clone(), actor, company, user, body.into_inner()).await?;
    Ok(session_response(&config, opened, false, actix_web::http::StatusCode::OK))
}

/// The company's users.
#[utoipa::path(
    tag = "users",
    operation_id = "list_users",
    params(PageQuery, CursorQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "One page of users", body = Page<User>, headers(("Link" = String, description = "The `next` and `prev` pages, as RFC 8288 links that keep the filters")))),
)]
#[get("/users")]
pub async fn list_users(
    auth: Auth<AdminUser>,
    page: web::Query<PageQuery>,
    cursor: web::Query<CursorQuery>,
    pool: web::Data<DbPool>,
) -> Result<Page<User>, ApiError> {
    let page = ListRequest::choose(page.into_inner(), cursor.into_inner())?;
    let company = auth.company_id().clone();
    db::run(&pool, move |conn| service::list_users(conn, &company, &page)).await
}

/// Adds a user to the company. Without a password, a temporary one is generated and returned once.
#[utoipa::path(
    tag = "users",
    operation_id = "create_user",
    request_body = CreateUserRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "User created", body = CreatedUser),
        (status = 409, description = "The email already has an account (`email_taken`)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/users")]
pub async fn create_user(
    auth: Auth<AdminUser>,
    body: ValidatedJson<CreateUserRequest>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, ApiError> {
    let (_, role) = auth.acting_user()?;
    let created =
        service::create_user(&pool, auth.audit_actor(), role, auth.company_id().clone(), body.into_inner()).await?;
    Ok(HttpResponse::Created().json(created))
}

/// One user of the company.
#[utoipa::path(
    tag = "users",
    operation_id = "get_user",
    security(("bearer" = [])),
    responses((status = 200, description = "The user", body = User, headers(("ETag" = String, description = "The user's version; send it back in `If-Match` to update them")))),
)]
#[get("/users/{user_id}")]
pub async fn get_user(
    auth: Auth<AdminUser>,
    user_id: web::Path<UserId>,
    pool: web::Data<DbPool>,
) -> Result<Tagged<User>, ApiError> {
    let company = auth.company_id().clone();
    let user_id = user_id.into_inner();
    db::run(&pool, move |conn| service::get_user(conn, &company, &user_id)).await
}

/// Changes a user's role, name, or disables/enables the account. Only owners change owners or make new
/// ones; the last active owner can be neither demoted nor disabled. Disabling a user revokes the API keys
/// they created; a new role revokes those whose scope it does not cover (both scopes need OWNER or ADMIN).
/// Only the fields sent change; with `If-Match`, only if the user is still the version read.
#[utoipa::path(
    tag = "users",
    operation_id = "update_user",
    request_body = UpdateUserRequest,
    params(IfMatchParam),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The updated user", body = User, headers(("ETag" = String, description = "The user's new version"))),
        (status = 409, description = "`last_owner` or `cannot_disable_self`", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 412, description = "The user changed since the `If-Match` version was read (`precondition_failed`); nothing changed", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[patch("/users/{user_id}")]
pub async fn update_user(
    auth: Auth<AdminUser>,
    user_id: web::Path<UserId>,
    if_match: IfMatch,
    body: ValidatedJson<UpdateUserRequest>,
    pool: web::Data<DbPool>,
) -> Result<Tagged<User>, ApiError> {
    let principal = auth.into_principal();
    let (acting_user, role) = principal.acting_user()?;
    let (target, request) = (user_id.into_inner(), body.into_inner());
    db::run(&pool, move |conn| {
        service::update_user(
            conn,
            &principal.audit_actor(),
            &acting_user,
            role,
            principal.company_id(),
            &target,
            &request,
            &if_match,
        )
    })
    .await
}

/// Removes a user: they can no longer sign in, their sessions end and the API keys they created are revoked
/// (the owners get an `API_KEYS_REVOKED` alert naming them). Only owners remove owners; the last active owner
/// stays; nobody removes themselves. The audit log keeps their entries.
#[utoipa::path(
    tag = "users",
    operation_id = "delete_user",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 409, description = "`last_owner` or `cannot_remove_self`", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[delete("/users/{user_id}")]
pub async fn delete_user(
    auth: Auth<AdminUser>,
    user_id: web::Path<UserId>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, ApiError> {
    let principal = auth.into_principal();
    let (acting_user, role) = principal.acting_user()?;
    let target = user_id.into_inner();
    db::run(&pool, move |conn| {
        service::remove_user(conn, &principal.audit_actor(), &acting_user, role, principal.company_id(), &target)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
