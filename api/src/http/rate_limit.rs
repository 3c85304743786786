//! The general per-client rate limit (besides the login and sign-up throttles): `RATE_LIMIT_PER_MINUTE`
//! requests per client, with bursts up to that many, answered with 429 `rate_limited` and `Retry-After`
//! beyond it. Probes, metrics and Stripe's webhooks are never limited.
//!
//! A client is its user (a valid access token), its API key or agent secret (by hash), or else its address
//! (honouring `TRUSTED_PROXIES`), so many users behind one office address do not share a budget. An
//! unverified key only costs its sender a failed lookup; anonymous traffic is limited by address.

use std::num::NonZeroU32;
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{ResponseError, web};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::Config;
use crate::error::ApiError;
use crate::http::principal::{RequestOrigin, bearer_token};

/// Paths that are never limited: what load balancers, Prometheus and Stripe call.
const EXEMPT: [&str; 5] = ["/healthz", "/readyz", "/metrics", "/api/v1/stripe/webhook", "/api/stripe/webhook/"];

/// Whether requests to `path` are never limited: the paths above, and the web app's own files (static,
/// cached by the browser, and a dozen of them on a first load).
pub fn is_exempt(path: &str) -> bool {
    EXEMPT.contains(&path) || crate::web_app::is_app_path(path)
}

/// The limiter shared by the workers of one instance.
pub struct RateLimit {
    limiter: DefaultKeyedRateLimiter<String>,
}

impl RateLimit {
    /// A limit of `per_minute` requests per client, or none when zero.
    pub fn new(per_minute: u32) -> Option<Self> {
        let per_minute = NonZeroU32::new(per_minute)?;
        Some(Self { limiter: RateLimiter::keyed(Quota::per_minute(per_minute)) })
    }

    /// `Err(seconds to wait)` when `client` is over its budget.
    fn check(&self, client: &String) -> Result<(), u64> {
        self.limiter.check_key(client).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }

    /// Forgets clients whose budget is full again, so the table does not grow without bound.
    pub fn forget_idle_clients(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// Starts pruning the limiter's table once a minute.
pub fn prune_forever(limit: web::Data<RateLimit>) {
    tokio::spawn(async move {
        let mut every_minute = tokio::time::interval(Duration::from_secs(60));
        loop {
            every_minute.tick().await;
            limit.forget_idle_clients();
        }
    });
}

/// Who is asking, for the limit.
fn client_key(req: &ServiceRequest) -> String {
    let http = req.request();
    if let Some(token) = bearer_token(http) {
        let verified_user = req
            .app_data::<web::Data<Config>>()
            .and_then(|config| crate::accounts::tokens::verify_access_token(&config.jwt_secret, &token));
        if let Some(claims) = verified_user {
            return format!("user:{}", claims.user_id);
        }
        let is_credential = [crate::api_keys::model::API_KEY_PREFIX, crate::agents::model::AGENT_SECRET_PREFIX]
            .iter()
            .any(|prefix| token.starts_with(prefix));
        if is_credential && token.len() <= 200 {
            return format!("key:{}", crate::crypto::sha256_hex(&token));
        }
    }
    format!("addr:{}", RequestOrigin::of(http).client_ip.unwrap_or_default())
}

/// Refuses a request over its client's budget with 429 `rate_limited` and `Retry-After`.
pub async fn rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let limit = req.app_data::<web::Data<RateLimit>>().cloned();
    if let Some(limit) = limit
        && !is_exempt(req.path())
        && let Err(retry_after_secs) = limit.check(&client_key(&req))
    {
        let refused = ApiError::TooManyRequests { retry_after_secs: retry_after_secs.max(1) };
        return Ok(req.into_response(refused.error_response()).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}
