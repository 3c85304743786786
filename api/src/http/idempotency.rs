//! `Idempotency-Key` on every write under `/api/v1` (draft-ietf-httpapi-idempotency-key-header, as Stripe
//! does it): the first answer to a key is kept for 24 hours and given again, unchanged, to a retry with the
//! same request, which then changes nothing.
//!
//! - The key belongs to the company of the caller (a user or an API key), or to the agent.
//! - The same key with another method, path or body is 422 `idempotency_key_reused`.
//! - A retry while the first request still runs is 409 `idempotency_key_in_use`.
//! - A 5xx is not kept (nothing was written, and trying again is the point); neither is a request that
//!   never reached its handler for want of credentials.
//!
//! The key is claimed with one insert that only one instance can win, so two instances that receive the same
//! request at once run it once. A claim whose instance died is taken over after its lease.

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError, web};
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text, Timestamp};

use crate::config::Config;
use crate::db::{self, DbConn, DbPool};
use crate::error::ApiError;
use crate::http::principal::{Authenticators, bearer_token};

/// The request header.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// The answer header of a replay.
pub const REPLAYED: &str = "idempotent-replayed";
/// The longest key accepted.
pub const MAX_KEY_LEN: usize = 255;
/// How long a first answer is kept.
const KEPT_HOURS: i64 = 24;
/// How long a claim holds while its request runs; after it, the claim of an instance that died is taken over.
const LEASE_SECS: i64 = 60;
/// The largest body a kept answer or a fingerprinted request may have (the JSON body limit).
const MAX_BODY: usize = 1024 * 1024;

/// What a kept answer holds.
#[derive(QueryableByName)]
struct Kept {
    #[diesel(sql_type = Text)]
    fingerprint: String,
    #[diesel(sql_type = Nullable<diesel::sql_types::Integer>)]
    status_code: Option<i32>,
    #[diesel(sql_type = Nullable<Text>)]
    content_type: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    response_body: Option<String>,
    #[diesel(sql_type = Timestamp)]
    locked_until: NaiveDateTime,
    #[diesel(sql_type = Timestamp)]
    created_at: NaiveDateTime,
}

/// How a claim of a key came out.
enum Claim {
    /// Ours: run the request and keep its answer.
    Mine,
    /// A kept answer to the same request.
    Replay { status: u16, content_type: Option<String>, body: String },
    /// The same key with another request.
    Reused,
    /// The first request with this key still runs.
    InUse,
}

/// The middleware: passes through everything that is not a write under `/api/v1` carrying the header.
pub async fn idempotency(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<BoxBody>>, actix_web::Error> {
    let write = !matches!(req.method().as_str(), "GET" | "HEAD" | "OPTIONS");
    let key = req.headers().get(IDEMPOTENCY_KEY).cloned();
    let (Some(key), true, true) = (key, write, req.path().starts_with("/api/v1/")) else {
        return Ok(next.call(req).await?.map_into_boxed_body().map_into_left_body());
    };
    let key = match checked_key(&key) {
        Ok(key) => key,
        Err(error) => return Ok(refuse(req, &error)),
    };
    // Multipart uploads (screenshots) are larger than what is kept, and carry a client id of their own.
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("multipart/"));
    let Some(pool) = req.app_data::<web::Data<DbPool>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body().map_into_left_body());
    };
    let Some(scope) = scope_of(&req, &pool).await else {
        // No credentials the key could belong to: the route refuses the request (or, for a sign-up or a
        // sign-in, the key is ignored).
        return Ok(next.call(req).await?.map_into_boxed_body().map_into_left_body());
    };
    if multipart {
        return Ok(next.call(req).await?.map_into_boxed_body().map_into_left_body());
    }
    let body = match req.extract::<web::Bytes>().await {
        Ok(body) => body,
        Err(error) => return Ok(req.error_response(error).map_into_right_body()),
    };
    let fingerprint = fingerprint(req.method().as_str(), req.uri().path(), req.uri().query(), &body);
    req.set_payload(actix_web::dev::Payload::from(body));

    let claimed = {
        let (scope, key, fingerprint) = (scope.clone(), key.clone(), fingerprint.clone());
        db::run(&pool, move |conn| claim(conn, &scope, &key, &fingerprint, db::now())).await
    };
    match claimed {
        Err(error) => Ok(refuse(req, &error)),
        Ok(Claim::Reused) => Ok(refuse(
            req,
            &ApiError::Unprocessable {
                code: "idempotency_key_reused",
                detail: "This Idempotency-Key was used with another request; use a new key for a new request."
                    .to_owned(),
            },
        )),
        Ok(Claim::InUse) => Ok(refuse(
            req,
            &ApiError::Conflict {
                code: "idempotency_key_in_use",
                detail: "A request with this Idempotency-Key is still running; retry after it ends.".to_owned(),
            },
        )),
        Ok(Claim::Replay { status, content_type, body }) => {
            let mut response = HttpResponse::build(
                actix_web::http::StatusCode::from_u16(status).unwrap_or(actix_web::http::StatusCode::OK),
            );
            if let Some(content_type) = content_type {
                response.insert_header((header::CONTENT_TYPE, content_type));
            }
            response.insert_header((HeaderName::from_static(REPLAYED), HeaderValue::from_static("true")));
            Ok(req.into_response(response.body(body)).map_into_right_body())
        }
        Ok(Claim::Mine) => {
            let response = next.call(req).await;
            let response = match response {
                Ok(response) => response,
                Err(error) => {
                    release(&pool, scope, key).await;
                    return Err(error);
                }
            };
            keep(&pool, scope, key, response).await
        }
    }
}

fn refuse(req: ServiceRequest, error: &ApiError) -> ServiceResponse<EitherBody<BoxBody>> {
    req.into_response(error.error_response()).map_into_right_body()
}

fn checked_key(value: &HeaderValue) -> Result<String, ApiError> {
    let text = value.to_str().ok().map(str::trim).unwrap_or_default();
    if text.is_empty() || text.len() > MAX_KEY_LEN || !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::BadRequest(format!(
            "The Idempotency-Key header must be 1 to {MAX_KEY_LEN} visible ASCII characters (a UUID is a good one)."
        )));
    }
    Ok(text.to_owned())
}

/// Whose key it is: the company of a user's access token or of an API key, or the agent of an agent
/// secret. `None` without a credential that resolves.
async fn scope_of(req: &ServiceRequest, pool: &DbPool) -> Option<String> {
    let token = bearer_token(req.request())?;
    if token.starts_with(crate::auth::AGENT_SECRET_PREFIX) {
        return Some(format!("agent:{}", crate::crypto::sha256_hex(&token)));
    }
    if token.starts_with(crate::auth::API_KEY_PREFIX) {
        let authenticate = req.app_data::<web::Data<Authenticators>>()?.api_key;
        let company = db::run(pool, move |conn| Ok(authenticate(conn, &token).ok().map(|(company, _)| company)))
            .await
            .ok()
            .flatten()?;
        return Some(format!("company:{company}"));
    }
    let config = req.app_data::<web::Data<Config>>()?;
    let claims = crate::auth::tokens::verify_access_token(&config.jwt_secret, &token)?;
    Some(format!("company:{}", claims.company_id))
}

/// What makes two requests the same: method, path, query and body.
fn fingerprint(method: &str, path: &str, query: Option<&str>, body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update(method.as_bytes());
    hash.update(b"\n");
    hash.update(path.as_bytes());
    hash.update(b"?");
    hash.update(query.unwrap_or_default().as_bytes());
    hash.update(b"\n");
    hash.update(body);
    hex::encode(hash.finalize())
}

/// Claims `key` for this request, or says what became of an earlier one.
fn claim(conn: &mut DbConn, scope: &str, key: &str, fingerprint: &str, now: NaiveDateTime) -> Result<Claim, ApiError> {
    let lease = now + Duration::seconds(LEASE_SECS);
    let inserted = diesel::sql_query(
        "INSERT INTO idempotency_keys (scope, idempotency_key, fingerprint, locked_until, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (scope, idempotency_key) DO NOTHING",
    )
    .bind::<Text, _>(scope)
    .bind::<Text, _>(key)
    .bind::<Text, _>(fingerprint)
    .bind::<Timestamp, _>(lease)
    .bind::<Timestamp, _>(now)
    .execute(conn)?;
    if inserted == 1 {
        return Ok(Claim::Mine);
    }
    let kept: Option<Kept> = diesel::sql_query(
        "SELECT fingerprint, status_code, content_type, response_body, locked_until, created_at \
         FROM idempotency_keys WHERE scope = $1 AND idempotency_key = $2",
    )
    .bind::<Text, _>(scope)
    .bind::<Text, _>(key)
    .get_result(conn)
    .optional()?;
    let Some(kept) = kept else {
        // Forgotten between the two statements: claim it afresh.
        return claim(conn, scope, key, fingerprint, now);
    };
    let expired = kept.created_at < now - Duration::hours(KEPT_HOURS);
    let abandoned = kept.status_code.is_none() && kept.locked_until < now;
    if expired || abandoned {
        // A key past its 24 hours is new again; a claim whose instance died is taken over. One taker wins.
        let taken = diesel::sql_query(
            "UPDATE idempotency_keys SET fingerprint = $1, status_code = NULL, content_type = NULL, \
             response_body = NULL, locked_until = $2, created_at = $3 \
             WHERE scope = $4 AND idempotency_key = $5 AND created_at = $6 AND locked_until = $7",
        )
        .bind::<Text, _>(fingerprint)
        .bind::<Timestamp, _>(lease)
        .bind::<Timestamp, _>(now)
        .bind::<Text, _>(scope)
        .bind::<Text, _>(key)
        .bind::<Timestamp, _>(kept.created_at)
        .bind::<Timestamp, _>(kept.locked_until)
        .execute(conn)?;
        return Ok(if taken == 1 { Claim::Mine } else { Claim::InUse });
    }
    if kept.fingerprint != fingerprint {
        return Ok(Claim::Reused);
    }
    Ok(match (kept.status_code, kept.response_body) {
        (Some(status), Some(body)) => {
            Claim::Replay { status: u16::try_from(status).unwrap_or(200), content_type: kept.content_type, body }
        }
        _ => Claim::InUse,
    })
}

/// Keeps the answer to a claimed key, or lets the key go when the answer is not to be kept.
async fn keep(
    pool: &DbPool,
    scope: String,
    key: String,
    response: ServiceResponse<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<BoxBody>>, actix_web::Error> {
    let status = response.status();
    let content_type =
        response.headers().get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).map(str::to_owned);
    let (request, response) = response.into_parts();
    let (head, body) = response.into_parts();
    let bytes = match actix_web::body::to_bytes_limited(body, MAX_BODY).await {
        Ok(Ok(bytes)) => bytes,
        // An answer too large to keep, or that failed while streaming, is not kept.
        _ => {
            release(pool, scope, key).await;
            let failed = ApiError::Internal(anyhow::anyhow!("the answer to an idempotent request could not be read"));
            return Ok(ServiceResponse::new(request, failed.error_response()).map_into_right_body());
        }
    };
    let text = String::from_utf8(bytes.to_vec()).ok();
    let never_ran = status == actix_web::http::StatusCode::UNAUTHORIZED;
    match text {
        Some(text) if !status.is_server_error() && !never_ran => {
            let (scope, key, body) = (scope.clone(), key.clone(), text);
            let code = i32::from(status.as_u16());
            let kept = db::run(pool, move |conn| {
                diesel::sql_query(
                    "UPDATE idempotency_keys SET status_code = $1, content_type = $2, response_body = $3 \
                     WHERE scope = $4 AND idempotency_key = $5",
                )
                .bind::<diesel::sql_types::Integer, _>(code)
                .bind::<Nullable<Text>, _>(content_type)
                .bind::<Text, _>(body)
                .bind::<Text, _>(scope)
                .bind::<Text, _>(key)
                .execute(conn)?;
                Ok(())
            })
            .await;
            if let Err(error) = kept {
                // The change happened; only its replay is lost. The claim lapses and a retry runs again,
                // which the route's own checks (a taken email, say) answer.
                log::warn!("could not keep the answer to an idempotent request: {error}");
            }
        }
        _ => release(pool, scope, key).await,
    }
    Ok(ServiceResponse::new(request, head.set_body(bytes).map_into_boxed_body()).map_into_left_body())
}

/// Lets a claimed key go, so that a retry runs the request again.
async fn release(pool: &DbPool, scope: String, key: String) {
    let released = db::run(pool, move |conn| {
        diesel::sql_query(
            "DELETE FROM idempotency_keys WHERE scope = $1 AND idempotency_key = $2 AND status_code IS NULL",
        )
        .bind::<Text, _>(scope)
        .bind::<Text, _>(key)
        .execute(conn)?;
        Ok(())
    })
    .await;
    if let Err(error) = released {
        log::warn!("could not release an idempotency key (it lapses in {LEASE_SECS} s): {error}");
    }
}

/// Forgets keys past their 24 hours, up to `limit` (the retention sweep calls it).
pub fn forget_expired(conn: &mut DbConn, limit: i64) -> Result<usize, ApiError> {
    let before = db::now() - Duration::hours(KEPT_HOURS);
    #[derive(QueryableByName)]
    struct Key {
        #[diesel(sql_type = Text)]
        scope: String,
        #[diesel(sql_type = Text)]
        idempotency_key: String,
    }
    let old: Vec<Key> = diesel::sql_query(format!(
        "SELECT scope, idempotency_key FROM idempotency_keys WHERE created_at < $1 LIMIT {limit}"
    ))
    .bind::<Timestamp, _>(before)
    .load(conn)?;
    let mut forgotten = 0;
    for key in old {
        forgotten += diesel::sql_query("DELETE FROM idempotency_keys WHERE scope = $1 AND idempotency_key = $2")
            .bind::<Text, _>(key.scope)
            .bind::<Text, _>(key.idempotency_key)
            .execute(conn)?;
    }
    Ok(forgotten)
}
