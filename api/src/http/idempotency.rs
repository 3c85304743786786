//! `Idempotency-Key` on every write under `/api/v1` (draft-ietf-httpapi-idempotency-key-header, as Stripe
//! does it): the first answer to a key is kept for 24 hours and given again, unchanged, to a retry of the
//! same request, which then changes nothing.
//!
//! - The key belongs to the caller as it stands: a user with their role, an API key with its scope, or an
//!   agent, each checked against the database first. A replay never reaches a colleague with other rights,
//!   a disabled user, a revoked key or a demoted admin.
//! - The same key with another method, path, body or precondition is 422 `idempotency_key_reused`.
//! - A retry while the first request still runs is 409 `idempotency_key_in_use`.
//! - Only answers of a handler that ran are kept: not a 5xx (nothing was written, and trying again is the
//!   point), not a refusal at the door (401, 403, 413, 415, 429), not an answer that sets a cookie.
//! - Kept answers are sealed (ChaCha20-Poly1305 under a key derived from the server secret): the answer that
//!   created an API key holds its secret, which Vigil otherwise keeps only as a hash.
//!
//! The key is claimed with one insert that only one instance can win, so two instances that receive the same
//! request at once run it once; every later write of the row checks the claim's token, so a claim taken over
//! after its lease cannot be overwritten or released by the instance that lost it. The request runs in a
//! task of its own: a client that goes away does not leave a half-recorded claim behind.

use actix_web::body::{BodySize, BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError, web};
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text, Timestamp};

use crate::auth::Actor;
use crate::config::Config;
use crate::crypto::Sealer;
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
/// How long a claim holds while its request runs: longer than any request (a plan change makes several
/// Stripe calls, each retried); after it, the claim of an instance that died is taken over.
const LEASE_SECS: i64 = 300;
/// The largest answer kept (the JSON body limit); a larger one is passed on and its key let go.
const MAX_BODY: u64 = 1024 * 1024;
/// Answer headers a replay gives again.
const REPLAYED_HEADERS: [HeaderName; 4] = [header::CONTENT_TYPE, header::ETAG, header::LOCATION, header::RETRY_AFTER];
/// Request headers that make two requests different: the body's type and its preconditions.
const FINGERPRINTED_HEADERS: [HeaderName; 3] = [header::CONTENT_TYPE, header::IF_MATCH, header::IF_NONE_MATCH];

#[derive(QueryableByName)]
struct Kept {
    #[diesel(sql_type = Text)]
    fingerprint: String,
    #[diesel(sql_type = Nullable<diesel::sql_types::Integer>)]
    status_code: Option<i32>,
    #[diesel(sql_type = Nullable<Text>)]
    response: Option<String>,
    #[diesel(sql_type = Text)]
    claim_token: String,
    #[diesel(sql_type = Timestamp)]
    locked_until: NaiveDateTime,
    #[diesel(sql_type = Timestamp)]
    created_at: NaiveDateTime,
}

/// An answer as kept: status, the headers worth giving again, the body.
#[derive(serde::Serialize, serde::Deserialize)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

/// How a claim of a key came out.
enum Claim {
    /// Ours, under this token: run the request and keep its answer.
    Mine(String),
    /// A kept answer to the same request, sealed.
    Replay(String),
    /// The same key with another request.
    Reused,
    /// The first request with this key still runs.
    InUse,
}

/// A key claimed for a request.
#[derive(Clone)]
struct Claimed {
    scope: String,
    key: String,
    token: String,
}

fn passed(response: ServiceResponse<impl MessageBody + 'static>) -> ServiceResponse<EitherBody<BoxBody>> {
    response.map_into_boxed_body().map_into_left_body()
}

/// The middleware: passes through everything that is not a write under `/api/v1` carrying the header.
pub async fn idempotency(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<BoxBody>>, actix_web::Error> {
    let write = !matches!(req.method().as_str(), "GET" | "HEAD" | "OPTIONS");
    let key = req.headers().get(IDEMPOTENCY_KEY).cloned();
    // Sign-up, sign-in and sessions take no key: their answers set cookies and carry fresh credentials.
    // The path as the router decodes it (`/%61pi/v1/…` routes to `/api/v1/…`).
    let path = req.match_info().as_str();
    let covered = path.starts_with("/api/v1/") && !path.starts_with("/api/v1/auth/");
    let (Some(key), true, true) = (key, write, covered) else {
        return Ok(passed(next.call(req).await?));
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
        .is_some_and(|value| value.get(..10).is_some_and(|start| start.eq_ignore_ascii_case("multipart/")));
    let (Some(pool), Some(sealer), false) =
        (req.app_data::<web::Data<DbPool>>().cloned(), req.app_data::<web::Data<Sealer>>().cloned(), multipart)
    else {
        return Ok(passed(next.call(req).await?));
    };
    let scope = match scope_of(&req, &pool).await {
        Ok(Some(scope)) => scope,
        // No credential that holds: the route refuses the request itself.
        Ok(None) => return Ok(passed(next.call(req).await?)),
        Err(error) => return Ok(refuse(req, &error)),
    };
    let body = match req.extract::<web::Bytes>().await {
        Ok(body) => body,
        Err(error) => return Ok(req.error_response(error).map_into_right_body()),
    };
    let fingerprint = fingerprint(&req, &body);
    req.set_payload(actix_web::dev::Payload::from(body));
    // The extractor decoded a compressed body; the route must not decode it again.
    req.headers_mut().remove(header::CONTENT_ENCODING);

    let claimed = {
        let (scope, key, fingerprint) = (scope.clone(), key.clone(), fingerprint.clone());
        db::run(&pool, move |conn| claim(conn, &scope, &key, &fingerprint, db::now())).await
    };
    let in_use = || ApiError::Conflict {
        code: "idempotency_key_in_use",
        detail: "A request with this Idempotency-Key is still running; retry after it ends.".to_owned(),
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
        Ok(Claim::InUse) => Ok(refuse(req, &in_use())),
        Ok(Claim::Replay(sealed)) => {
            let answer = sealer
                .open(&associated(&scope, &key), &sealed)
                .and_then(|plain| serde_json::from_slice::<Answer>(&plain).ok());
            match answer {
                Some(answer) => Ok(req.into_response(replay(answer)).map_into_right_body()),
                // Sealed under a server secret since changed: the answer is lost, and running the request
                // again could do it twice.
                None => Ok(refuse(
                    req,
                    &ApiError::Unprocessable {
                        code: "idempotency_answer_unavailable",
                        detail: "The first answer to this Idempotency-Key can no longer be read; check the \
                                 outcome with a read, and use a new key for a new request."
                            .to_owned(),
                    },
                )),
            }
        }
        Ok(Claim::Mine(token)) => {
            let claimed = Claimed { scope, key, token };
            // In a task of its own: if the client goes away (or the server stops waiting for it), the
            // request still runs to its end and its answer is kept or its key let go. The request id goes
            // along, for the logs and the problem bodies.
            let request_id = crate::request_id::current().unwrap_or_default();
            let task = actix_web::rt::spawn(crate::request_id::scope(request_id, async move {
                let response = next.call(req).await;
                match response {
                    Ok(response) => keep(&pool, &sealer, claimed, response).await,
                    Err(error) => {
                        release(&pool, claimed).await;
                        Err(error)
                    }
                }
            }));
            task.await.map_err(|_| {
                actix_web::Error::from(ApiError::Internal(anyhow::anyhow!(
                    "the request with an Idempotency-Key did not end"
                )))
            })?
        }
    }
}

fn refuse(req: ServiceRequest, error: &ApiError) -> ServiceResponse<EitherBody<BoxBody>> {
    req.into_response(error.error_response()).map_into_right_body()
}

fn replay(answer: Answer) -> HttpResponse {
    let mut response = HttpResponse::build(StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK));
    for (name, value) in answer.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            response.insert_header((name, value));
        }
    }
    response.insert_header((HeaderName::from_static(REPLAYED), HeaderValue::from_static("true")));
    response.body(answer.body)
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

/// Whose key it is: the caller as it stands now, checked against the database as the route will check it
/// (a user with their current role, an API key with its scope, a live agent). `Ok(None)` without a
/// credential that holds; an error when the database cannot say, since going on without the key could run
/// a retry twice.
async fn scope_of(req: &ServiceRequest, pool: &DbPool) -> Result<Option<String>, ApiError> {
    let Some(token) = bearer_token(req.request()) else { return Ok(None) };
    let Some(authenticators) = req.app_data::<web::Data<Authenticators>>().map(|data| *data.get_ref()) else {
        return Ok(None);
    };
    let is_agent = token.starts_with(crate::auth::AGENT_SECRET_PREFIX);
    let claims = if is_agent || token.starts_with(crate::auth::API_KEY_PREFIX) {
        None
    } else {
        let Some(config) = req.app_data::<web::Data<Config>>() else { return Ok(None) };
        match crate::auth::tokens::verify_access_token(&config.jwt_secret, &token) {
            Some(claims) => Some(claims),
            None => return Ok(None),
        }
    };
    db::run(pool, move |conn| {
        // A refused credential is no one's: the route answers it. Anything else is the database failing.
        let known = |outcome: Result<_, ApiError>| match outcome {
            Ok(caller) => Ok(Some(caller)),
            Err(ApiError::DatabaseUnavailable(error)) => Err(ApiError::DatabaseUnavailable(error)),
            Err(ApiError::Internal(error)) => Err(ApiError::Internal(error)),
            Err(_) => Ok(None),
        };
        Ok(match &claims {
            Some(claims) => known((authenticators.user)(conn, claims))?.map(scope_name),
            None if is_agent => {
                (authenticators.agent)(conn, &token)?.map(|(company, agent)| format!("company:{company}:agent:{agent}"))
            }
            None => known((authenticators.api_key)(conn, &token))?.map(scope_name),
        })
    })
    .await
}

fn scope_name((company, actor): (crate::ids::CompanyId, Actor)) -> String {
    match actor {
        Actor::User { id, role } => format!("company:{company}:user:{id}:{}", role.as_str()),
        Actor::ApiKey { id, scope } => format!("company:{company}:api_key:{id}:{}", scope.as_str()),
    }
}

/// What makes two requests the same: method, path, query, the body's type and preconditions, and the body.
fn fingerprint(req: &ServiceRequest, body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update(req.method().as_str().as_bytes());
    hash.update(b"\n");
    hash.update(req.uri().path().as_bytes());
    hash.update(b"?");
    hash.update(req.uri().query().unwrap_or_default().as_bytes());
    for name in &FINGERPRINTED_HEADERS {
        hash.update(b"\n");
        hash.update(req.headers().get(name).map(HeaderValue::as_bytes).unwrap_or_default());
    }
    hash.update(b"\n");
    hash.update(body);
    hex::encode(hash.finalize())
}

/// What a sealed answer is bound to: it opens only for its own scope and key.
fn associated(scope: &str, key: &str) -> String {
    format!("{scope}\n{key}")
}

/// Claims `key` for this request, or says what became of an earlier one.
fn claim(conn: &mut DbConn, scope: &str, key: &str, fingerprint: &str, now: NaiveDateTime) -> Result<Claim, ApiError> {
    let lease = now + Duration::seconds(LEASE_SECS);
    let token = uuid::Uuid::new_v4().to_string();
    let inserted = diesel::sql_query(
        "INSERT INTO idempotency_keys (scope, idempotency_key, fingerprint, claim_token, locked_until, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (scope, idempotency_key) DO NOTHING",
    )
    .bind::<Text, _>(scope)
    .bind::<Text, _>(key)
    .bind::<Text, _>(fingerprint)
    .bind::<Text, _>(&token)
    .bind::<Timestamp, _>(lease)
    .bind::<Timestamp, _>(now)
    .execute(conn)?;
    if inserted == 1 {
        return Ok(Claim::Mine(token));
    }
    let kept: Option<Kept> = diesel::sql_query(
        "SELECT fingerprint, status_code, response, claim_token, locked_until, created_at \
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
    if !expired && kept.fingerprint != fingerprint {
        return Ok(Claim::Reused);
    }
    let abandoned = kept.status_code.is_none() && kept.locked_until < now;
    if expired || abandoned {
        // A key past its 24 hours is new again; the claim of an instance that died is taken over. One
        // taker wins: the token it replaces must still be there.
        let taken = diesel::sql_query(
            "UPDATE idempotency_keys SET fingerprint = $1, status_code = NULL, response = NULL, claim_token = $2, \
             locked_until = $3, created_at = $4 WHERE scope = $5 AND idempotency_key = $6 AND claim_token = $7",
        )
        .bind::<Text, _>(fingerprint)
        .bind::<Text, _>(&token)
        .bind::<Timestamp, _>(lease)
        .bind::<Timestamp, _>(now)
        .bind::<Text, _>(scope)
        .bind::<Text, _>(key)
        .bind::<Text, _>(&kept.claim_token)
        .execute(conn)?;
        return Ok(if taken == 1 { Claim::Mine(token) } else { Claim::InUse });
    }
    Ok(match (kept.status_code, kept.response) {
        (Some(_), Some(sealed)) => Claim::Replay(sealed),
        _ => Claim::InUse,
    })
}

/// Whether an answer is one to keep: the handler ran and answered for good.
fn keepable(response: &ServiceResponse<impl MessageBody>) -> bool {
    let status = response.status();
    let refused_at_the_door = matches!(
        status,
        StatusCode::UNAUTHORIZED
            | StatusCode::FORBIDDEN
            | StatusCode::REQUEST_TIMEOUT
            | StatusCode::PAYLOAD_TOO_LARGE
            | StatusCode::UNSUPPORTED_MEDIA_TYPE
            | StatusCode::TOO_MANY_REQUESTS
    );
    let sized = matches!(response.response().body().size(), BodySize::Sized(n) if n <= MAX_BODY)
        || matches!(response.response().body().size(), BodySize::None);
    !status.is_server_error() && !refused_at_the_door && sized && !response.headers().contains_key(header::SET_COOKIE)
}

/// Keeps the answer to a claimed key (sealed), or lets the key go when it is not one to keep.
async fn keep(
    pool: &DbPool,
    sealer: &Sealer,
    claimed: Claimed,
    response: ServiceResponse<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<BoxBody>>, actix_web::Error> {
    if !keepable(&response) {
        release(pool, claimed).await;
        return Ok(passed(response));
    }
    let status = response.status().as_u16();
    let headers: Vec<(String, String)> = REPLAYED_HEADERS
        .iter()
        .filter_map(|name| Some((name.as_str().to_owned(), response.headers().get(name)?.to_str().ok()?.to_owned())))
        .collect();
    let (request, response) = response.into_parts();
    let (head, body) = response.into_parts();
    let bytes = actix_web::body::to_bytes(body).await.map_err(|_| {
        actix_web::Error::from(ApiError::Internal(anyhow::anyhow!(
            "the answer to a request with an Idempotency-Key failed"
        )))
    });
    let bytes = match bytes {
        Ok(bytes) => bytes,
        Err(error) => {
            release(pool, claimed).await;
            return Err(error);
        }
    };
    let answer = String::from_utf8(bytes.to_vec()).ok().map(|body| Answer { status, headers, body });
    let sealed = answer
        .and_then(|answer| serde_json::to_vec(&answer).ok())
        .and_then(|plain| sealer.seal(&associated(&claimed.scope, &claimed.key), &plain));
    match sealed {
        Some(sealed) => {
            let code = i32::from(status);
            let record = claimed.clone();
            // Once more on failure: without it the change stands but its retry would run again.
            let mut kept: Result<usize, ApiError> = Err(ApiError::NotReady(String::new()));
            for _ in 0..2 {
                let (record, sealed) = (record.clone(), sealed.clone());
                kept = db::run(pool, move |conn| {
                    Ok(diesel::sql_query(
                        "UPDATE idempotency_keys SET status_code = $1, response = $2 \
                         WHERE scope = $3 AND idempotency_key = $4 AND claim_token = $5",
                    )
                    .bind::<diesel::sql_types::Integer, _>(code)
                    .bind::<Text, _>(sealed)
                    .bind::<Text, _>(record.scope)
                    .bind::<Text, _>(record.key)
                    .bind::<Text, _>(record.token)
                    .execute(conn)?)
                })
                .await;
                match &kept {
                    Ok(0) => log::warn!("an idempotency claim was taken over before its answer was kept"),
                    Ok(_) => {}
                    Err(_) => continue,
                }
                break;
            }
            if let Err(error) = kept {
                log::warn!("could not keep the answer to an idempotent request: {error}");
            }
        }
        None => release(pool, claimed).await,
    }
    Ok(ServiceResponse::new(request, head.set_body(bytes).map_into_boxed_body()).map_into_left_body())
}

/// Lets a claimed key go, so that a retry runs the request again; only the claim's own holder can.
async fn release(pool: &DbPool, claimed: Claimed) {
    let released = db::run(pool, move |conn| {
        diesel::sql_query(
            "DELETE FROM idempotency_keys WHERE scope = $1 AND idempotency_key = $2 AND claim_token = $3 \
             AND status_code IS NULL",
        )
        .bind::<Text, _>(claimed.scope)
        .bind::<Text, _>(claimed.key)
        .bind::<Text, _>(claimed.token)
        .execute(conn)?;
        Ok(())
    })
    .await;
    if let Err(error) = released {
        log::warn!("could not release an idempotency key (it lapses in {LEASE_SECS} s): {error}");
    }
}

/// Forgets keys past their 24 hours, `limit` per statement until none is left (the retention sweep calls
/// it). The age is checked again by the delete itself, so a key renewed meanwhile stays.
pub fn forget_expired(conn: &mut DbConn, limit: i64) -> Result<usize, ApiError> {
    let before = db::now() - Duration::hours(KEPT_HOURS);
    let mut forgotten = 0;
    loop {
        let deleted = diesel::sql_query(format!(
            "DELETE FROM idempotency_keys WHERE created_at < $1 AND (scope, idempotency_key) IN \
             (SELECT scope, idempotency_key FROM idempotency_keys WHERE created_at < $2 LIMIT {limit})"
        ))
        .bind::<Timestamp, _>(before)
        .bind::<Timestamp, _>(before)
        .execute(conn)?;
        forgotten += deleted;
        if i64::try_from(deleted).unwrap_or(limit) < limit {
            return Ok(forgotten);
        }
    }
}
