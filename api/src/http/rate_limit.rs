//! The general per-client rate limit (besides the login and sign-up throttles): `RATE_LIMIT_PER_MINUTE`
//! requests per client, with bursts up to that many, answered with 429 `rate_limited` and `Retry-After`
//! beyond it. Probes, metrics and Stripe's webhooks are never limited.
//!
//! Who a client is. Only a verified identity gets a budget of its own; everything else is counted by its
//! address (honouring `TRUSTED_PROXIES`), so a made-up token buys nothing:
//! - a valid access token (its signature checked here, which costs no database work) is its user;
//! - an API key or agent secret is its own client only once it has been *verified*: the `Auth` extractor
//!   and the agent endpoints, which look the credential up anyway, mark the request with
//!   [`CredentialVerified`]; after the response the limiter remembers the credential's hash, and from its
//!   next request on charges it to a budget of its own: an agent's own, and for API keys one budget per
//!   company, so that minting keys buys no more requests. Until then (its first request, or a token nobody
//!   issued) it is charged to its address; a remembered credential that stops verifying (revoked) is
//!   forgotten on its first refusal. The limiter adds no query of its own.
//!
//! Memory is bounded: budgets that are whole again are forgotten every minute; the remembered credentials
//! expire and have a cap of their own; and the table of budgets has a hard cap ([`MAX_CLIENTS`]). Should it
//! fill with live budgets anyway (more distinct clients within a minute than the cap), addresses it has no
//! budget for share one overflow budget, rather than grow or start afresh (which would hand every address
//! of a flood a whole budget again). Addresses it already counts keep their own budget (each still limited
//! as usual) until the once-a-minute prune, which forgets the budgets that are whole again and so makes
//! room: a client counted before the flood (a user between the sign-in page and the submit) keeps its
//! budget until that prune, at most a minute; a new one, or one that comes back after the prune, shares the
//! overflow until the flood ends. The cap is exceeded by at most
//! one entry per worker (the check and the insert are not one step). `vigil_rate_limit_clients` shows the
//! size, and a warning (at most once a minute) says the table is full.
//!
//! A `304 Not Modified` (see `conditional`) costs nothing: the request is charged as it arrives, like any
//! other (an empty budget refuses it, and a tag that does not match stays charged), and what it cost is
//! given back once the answer is a 304. The server still did the read, so the refunds have a budget of
//! their own, [`REVALIDATIONS_PER_REQUEST`] times the limit: polling an unchanged resource is free, but
//! revalidating without end is not a way around the limit; `If-None-Match: *` is never refunded.
//!
//! Every limited response carries the `RateLimit-Policy` and `RateLimit` fields of
//! draft-ietf-httpapi-ratelimit-headers-12 (November 2026; the syntax is unchanged since -08):
//! `RateLimit-Policy: "default";q=600;w=60` (the quota per window of seconds) and
//! `RateLimit: "default";r=42;t=18` (what is left, and the seconds until the budget is whole again).

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError, web};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::nanos::Nanos;
use governor::state::StateStore;
use governor::state::keyed::{DashMapStateStore, ShrinkableKeyedStateStore};
use governor::{Quota, RateLimiter};
use prometheus::IntGauge;

use crate::config::Config;
use crate::error::ApiError;
use crate::http::principal::{CredentialVerified, RequestOrigin, bearer_token};

/// Paths that are never limited: what load balancers, Prometheus and Stripe call.
const EXEMPT: [&str; 5] = ["/healthz", "/readyz", "/metrics", "/api/v1/stripe/webhook", "/api/stripe/webhook/"];

/// The most budgets kept at once (about 100 bytes each).
pub const MAX_CLIENTS: usize = 100_000;
/// The most verified credentials remembered at once, and for how long.
const MAX_CREDENTIALS: usize = 10_000;
const CREDENTIAL_TTL: Duration = Duration::from_secs(15 * 60);
/// The name of the one quota policy, as the RateLimit fields show it.
const POLICY: &str = "default";
/// The window the quota is stated over, in seconds.
const WINDOW_SECS: u64 = 60;
/// How many refunded 304s a client may have per request of its budget.
pub const REVALIDATIONS_PER_REQUEST: u32 = 10;

/// Whether requests to `path` are never limited: the paths above, and the web app's own files (static,
/// cached by the browser, and a dozen of them on a first load).
pub fn is_exempt(path: &str) -> bool {
    EXEMPT.contains(&path) || crate::web_app::is_app_path(path)
}

/// governor's own keyed table, shared: the limiter measures through it, and [`RateLimit::charge`] asks it
/// whether a client is already counted, which governor's limiter itself cannot say.
#[derive(Clone, Default)]
struct Budgets(Arc<DashMapStateStore<String>>);

impl Budgets {
    fn holds(&self, client: &String) -> bool {
        self.0.contains_key(client)
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

impl StateStore for Budgets {
    type Key = String;

    fn measure_and_replace<T, F, E>(&self, key: &String, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        self.0.measure_and_replace(key, f)
    }
}

impl ShrinkableKeyedStateStore<String> for Budgets {
    fn retain_recent(&self, drop_below: Nanos) {
        self.0.retain_recent(drop_below);
    }

    fn shrink_to_fit(&self) {
        ShrinkableKeyedStateStore::shrink_to_fit(&*self.0);
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

type Limiter = RateLimiter<String, Budgets, DefaultClock, StateInformationMiddleware>;

/// The API key or agent secret a request presents, by hash, and whether it was remembered as verified.
struct Credential {
    hash: String,
    remembered: bool,
}

/// The one budget all addresses share while the table is full.
static OVERFLOW_CLIENT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| "addr:overflow".to_owned());

/// The limiter shared by the workers of one instance.
pub struct RateLimit {
    quota: Quota,
    per_minute: u32,
    max_clients: usize,
    limiter: Limiter,
    budgets: Budgets,
    /// The budget of refunds of 304s.
    revalidations: governor::DefaultKeyedRateLimiter<String>,
    /// Whether the table-full warning was logged since the last prune.
    warned_full: AtomicBool,
    /// Verified credentials by hash: since when, and the budget they are counted on.
    credentials: Mutex<HashMap<String, (Instant, String)>>,
    clients: IntGauge,
}

/// The outcome of charging one request.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Charge {
    /// The budget charged (the client's own, or the shared overflow one).
    budget: String,
    allowed: bool,
    /// Requests left in the budget.
    remaining: u32,
    /// Seconds until the budget is whole again.
    reset_secs: u64,
    /// Seconds until the next request would be allowed (0 when this one was).
    retry_after_secs: u64,
}

impl RateLimit {
    /// A limit of `per_minute` requests per client, or none when zero. `clients` is the gauge of budgets
    /// kept (`vigil_rate_limit_clients`).
    pub fn new(per_minute: u32, clients: IntGauge) -> Option<Self> {
        Self::with_capacity(per_minute, MAX_CLIENTS, clients)
    }

    fn with_capacity(per_minute: u32, max_clients: usize, clients: IntGauge) -> Option<Self> {
        let quota = Quota::per_minute(NonZeroU32::new(per_minute)?);
        let budgets = Budgets::default();
        let limiter =
            RateLimiter::<String, Budgets, DefaultClock>::new(quota, budgets.clone(), DefaultClock::default())
                .with_middleware::<StateInformationMiddleware>();
        let revalidations = RateLimiter::keyed(Quota::per_minute(NonZeroU32::new(
            per_minute.saturating_mul(REVALIDATIONS_PER_REQUEST),
        )?));
        Some(Self {
            revalidations,
            quota,
            per_minute,
            max_clients,
            limiter,
            budgets,
            warned_full: AtomicBool::new(false),
            credentials: Mutex::new(HashMap::new()),
            clients,
        })
    }

    fn len(&self) -> usize {
        self.budgets.len()
    }

    /// Charges one request to `client`. While the table is full of live budgets (a flood from more addresses
    /// than it holds), an address it has no budget for shares one overflow budget: starting afresh would
    /// hand each of them a whole budget again, the very thing the cap is for. Addresses already counted keep
    /// theirs, and so do signed-in users and verified credentials (there are only as many of them as real
    /// accounts and keys).
    fn charge(&self, client: &String) -> Charge {
        let mut client = client;
        if client.starts_with("addr:") && self.len() >= self.max_clients && !self.budgets.holds(client) {
            if !self.warned_full.swap(true, Ordering::Relaxed) {
                log::warn!("rate limit: {} live budgets, the cap; new addresses share one budget", self.len());
            }
            client = &OVERFLOW_CLIENT;
        }
        let replenish = self.quota.replenish_interval().as_secs_f64();
        let outcome = self.limiter.check_key(client);
        self.clients.set(i64::try_from(self.len()).unwrap_or(i64::MAX));
        match outcome {
            Ok(state) => {
                let remaining = state.remaining_burst_capacity().min(self.per_minute);
                let reset = f64::from(self.per_minute - remaining) * replenish;
                Charge {
                    budget: client.clone(),
                    allowed: true,
                    remaining,
                    reset_secs: reset.ceil() as u64,
                    retry_after_secs: 0,
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                let retry_after_secs = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
                let reset = wait.as_secs_f64() + f64::from(self.per_minute.saturating_sub(1)) * replenish;
                Charge {
                    budget: client.clone(),
                    allowed: false,
                    remaining: 0,
                    reset_secs: reset.ceil() as u64,
                    retry_after_secs,
                }
            }
        }
    }

    /// Gives back what a 304 cost, while the client's budget of refunds lasts.
    fn refund_revalidation(&self, charge: &mut Charge) {
        if self.revalidations.check_key(&charge.budget).is_ok() {
            self.refund(charge);
        }
    }

    /// Gives back what an allowed request cost, as if it had not been made.
    fn refund(&self, charge: &mut Charge) {
        let interval = Nanos::from(self.quota.replenish_interval());
        let _ = self.budgets.measure_and_replace(&charge.budget, |arrival| {
            Ok::<_, ()>(((), arrival.unwrap_or_default().saturating_sub(interval)))
        });
        charge.remaining = (charge.remaining + 1).min(self.per_minute);
        let replenish = self.quota.replenish_interval().as_secs_f64();
        charge.reset_secs = (f64::from(self.per_minute - charge.remaining) * replenish).ceil() as u64;
    }

    /// Whether a credential (by hash) was verified recently.
    fn verified_budget(&self, hash: &str) -> Option<String> {
        let credentials = self.credentials.lock().unwrap_or_else(PoisonError::into_inner);
        credentials.get(hash).filter(|(since, _)| since.elapsed() < CREDENTIAL_TTL).map(|(_, budget)| budget.clone())
    }

    /// Remembers a verified credential, unless the table is full of live ones (then it stays counted by its
    /// address, which is safe).
    fn remember(&self, hash: String, verified: &CredentialVerified) {
        let mut credentials = self.credentials.lock().unwrap_or_else(PoisonError::into_inner);
        if credentials.len() >= MAX_CREDENTIALS && !credentials.contains_key(&hash) {
            credentials.retain(|_, (since, _)| since.elapsed() < CREDENTIAL_TTL);
            if credentials.len() >= MAX_CREDENTIALS {
                return;
            }
        }
        let budget = match &verified.shared_by {
            Some(company) => format!("keys:{company}"),
            None => format!("key:{hash}"),
        };
        credentials.insert(hash, (Instant::now(), budget));
    }

    /// Forgets a credential that no longer verifies.
    fn forget(&self, hash: &str) {
        self.credentials.lock().unwrap_or_else(PoisonError::into_inner).remove(hash);
    }

    /// Forgets clients whose budget is whole again and credentials that expired.
    pub fn forget_idle_clients(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
        self.revalidations.retain_recent();
        self.revalidations.shrink_to_fit();
        if self.len() < self.max_clients {
            self.warned_full.store(false, Ordering::Relaxed);
        }
        self.clients.set(i64::try_from(self.len()).unwrap_or(i64::MAX));
        let mut credentials = self.credentials.lock().unwrap_or_else(PoisonError::into_inner);
        credentials.retain(|_, (since, _)| since.elapsed() < CREDENTIAL_TTL);
        credentials.shrink_to_fit();
    }

    /// Adds the RateLimit fields (and `Retry-After` on a refusal) to a response.
    fn describe(&self, charge: &Charge, headers: &mut HeaderMap) {
        let policy = format!("\"{POLICY}\";q={};w={WINDOW_SECS}", self.per_minute);
        let state = format!("\"{POLICY}\";r={};t={}", charge.remaining, charge.reset_secs);
        for (name, value) in [("ratelimit-policy", policy), ("ratelimit", state)] {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(HeaderName::from_static(name), value);
            }
        }
    }
}

/// Starts pruning the limiter's tables once a minute.
pub fn prune_forever(limit: web::Data<RateLimit>) {
    tokio::spawn(async move {
        let mut every_minute = tokio::time::interval(Duration::from_secs(60));
        loop {
            every_minute.tick().await;
            limit.forget_idle_clients();
        }
    });
}

/// Who is asking, for the limit, and the hash of the API key or agent secret presented: whether it is
/// already remembered as verified or not, the response decides whether it is (still) remembered.
fn client_key(req: &ServiceRequest, limit: &RateLimit) -> (String, Option<Credential>) {
    let http = req.request();
    let mut unverified = None;
    if let Some(token) = bearer_token(http) {
        let verified_user = req
            .app_data::<web::Data<Config>>()
            .and_then(|config| crate::auth::tokens::verify_access_token(&config.jwt_secret, &token));
        if let Some(claims) = verified_user {
            return (format!("user:{}", claims.user_id), None);
        }
        let is_credential = [crate::auth::API_KEY_PREFIX, crate::auth::AGENT_SECRET_PREFIX]
            .iter()
            .any(|prefix| token.starts_with(prefix));
        if is_credential && token.len() <= 200 {
            let hash = crate::crypto::sha256_hex(&token);
            if let Some(budget) = limit.verified_budget(&hash) {
                return (budget, Some(Credential { hash, remembered: true }));
            }
            unverified = Some(Credential { hash, remembered: false });
        }
    }
    (format!("addr:{}", address_key(RequestOrigin::of(http).client_ip.as_deref())), unverified)
}

/// An address as a client: IPv4 as it is, IPv6 by its /64 (what one subscriber is usually given, so that
/// rotating through one's own prefix does not buy new budgets).
fn address_key(address: Option<&str>) -> String {
    match address.and_then(|text| text.parse::<IpAddr>().ok()) {
        Some(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let segments = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", segments[0], segments[1], segments[2], segments[3])
        }
        Some(IpAddr::V6(v6)) => v6.to_ipv4_mapped().map(|v4| v4.to_string()).unwrap_or_default(),
        Some(IpAddr::V4(v4)) => v4.to_string(),
        None => address.unwrap_or_default().to_owned(),
    }
}

/// Charges the request to its client; refuses it over budget with 429 `rate_limited` and `Retry-After`.
/// Either way the response carries the RateLimit fields.
pub async fn rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let limit = req.app_data::<web::Data<RateLimit>>().cloned();
    // The path the router will match, percent-decoded (`/%61pi/v1/…` routes to `/api/v1/…`), never the
    // raw one: deciding on the raw path would let an encoded `/api` pass as a web app file.
    let Some(limit) = limit.filter(|_| !is_exempt(req.match_info().as_str())) else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let (client, credential) = client_key(&req, &limit);
    let mut charge = limit.charge(&client);
    // `*` matches whatever exists: a 304 to it proves nothing was cached, so it is not refunded.
    let names_tags = req
        .headers()
        .get(actix_web::http::header::IF_NONE_MATCH)
        .is_some_and(|value| value.as_bytes().trim_ascii() != b"*");
    if !charge.allowed {
        let refused = ApiError::TooManyRequests { retry_after_secs: charge.retry_after_secs };
        let mut response = req.into_response(refused.error_response());
        limit.describe(&charge, response.headers_mut());
        return Ok(response.map_into_right_body());
    }
    let mut response = next.call(req).await?;
    if let Some(credential) = credential {
        let verified = response.request().extensions().get::<CredentialVerified>().cloned();
        match (verified, credential.remembered) {
            (Some(verified), _) => limit.remember(credential.hash, &verified),
            // Refused as unknown (revoked, or its agent revoked) since it was remembered: from the next
            // request on it is counted by its address again. Any other failure (a 422 batch, a suspended
            // agent's 403) says nothing against the credential, which keeps its budget.
            (None, true) if response.status() == actix_web::http::StatusCode::UNAUTHORIZED => {
                limit.forget(&credential.hash);
            }
            (None, _) => {}
        }
    }
    if names_tags && response.status() == actix_web::http::StatusCode::NOT_MODIFIED {
        limit.refund_revalidation(&mut charge);
    }
    limit.describe(&charge, response.headers_mut());
    Ok(response.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gauge() -> IntGauge {
        IntGauge::new("clients", "test").expect("gauge")
    }

    #[test]
    fn the_table_of_budgets_never_grows_past_its_cap() {
        let limit = RateLimit::with_capacity(5, 10, gauge()).expect("a limit");
        for n in 0..1_000 {
            limit.charge(&format!("addr:{n}"));
            assert!(limit.len() <= 11, "{} budgets after {n}", limit.len());
        }
        assert!(limit.clients.get() <= 11, "the cap and the overflow budget");
    }

    /// A flood from more addresses than the table holds: once it is full, the new ones share one budget
    /// instead of each getting a whole one, and a signed-in user keeps theirs.
    #[test]
    fn a_full_table_fails_closed_for_new_addresses_and_keeps_verified_clients() {
        let limit = RateLimit::with_capacity(5, 10, gauge()).expect("a limit");
        for n in 0..10 {
            assert!(limit.charge(&format!("addr:10.0.0.{n}")).allowed);
        }

        let admitted = (0..1_000).filter(|n| limit.charge(&format!("addr:198.51.100.{n}")).allowed).count();

        assert_eq!(admitted, 5, "a thousand new addresses share one budget of five");
        assert!(limit.charge(&"user:ada".to_owned()).allowed, "a signed-in user is not in the overflow");
    }

    /// The overflow is for addresses the table has no room for; those it already holds keep their own
    /// budget while it is full, so a flood of new addresses cannot lock out the clients already counted
    /// (a user between the sign-in page and the submit).
    #[test]
    fn a_full_table_keeps_the_budgets_of_addresses_it_already_holds() {
        let limit = RateLimit::with_capacity(5, 10, gauge()).expect("a limit");
        for n in 0..10 {
            assert!(limit.charge(&format!("addr:10.0.0.{n}")).allowed);
        }

        let flood = (0..1_000).filter(|n| limit.charge(&format!("addr:198.51.100.{n}")).allowed).count();

        assert_eq!(flood, 5, "the new addresses share one budget");
        let known = (0..4).filter(|_| limit.charge(&"addr:10.0.0.3".to_owned()).allowed).count();
        assert_eq!(known, 4, "an address already counted keeps the four requests left in its own budget");
        assert!(!limit.charge(&"addr:10.0.0.3".to_owned()).allowed, "and no more");
    }

    #[test]
    fn a_charge_says_what_is_left_and_when_the_budget_is_whole_again() {
        let limit = RateLimit::with_capacity(6, 10, gauge()).expect("a limit");
        let client = "addr:192.0.2.1".to_owned();
        let first = limit.charge(&client);
        assert_eq!((first.allowed, first.remaining, first.reset_secs), (true, 5, 10));
        let charges: Vec<Charge> = (0..5).map(|_| limit.charge(&client)).collect();
        assert_eq!(charges.last().map(|c| (c.remaining, c.reset_secs)), Some((0, 60)));
        let refused = limit.charge(&client);
        assert!(!refused.allowed);
        assert_eq!(refused.remaining, 0);
        assert!((1..=10).contains(&refused.retry_after_secs), "{refused:?}");
        assert!(refused.reset_secs >= 50, "{refused:?}");
    }

    #[test]
    fn a_refund_gives_back_exactly_one_request() {
        let limit = RateLimit::with_capacity(3, 10, gauge()).expect("a limit");
        let client = "addr:192.0.2.2".to_owned();
        for _ in 0..50 {
            let mut charge = limit.charge(&client);
            assert!(charge.allowed, "refunded requests never use the budget up");
            limit.refund(&mut charge);
            assert_eq!(charge.remaining, 3);
        }
        let kept: Vec<bool> = (0..4).map(|_| limit.charge(&client).allowed).collect();
        assert_eq!(kept, [true, true, true, false], "requests that are not refunded are charged");
    }

    #[test]
    fn refunds_of_revalidations_have_a_budget_of_their_own() {
        let limit = RateLimit::with_capacity(3, 10, gauge()).expect("a limit");
        let client = "addr:192.0.2.3".to_owned();
        let mut allowed = 0;
        for _ in 0..100 {
            let mut charge = limit.charge(&client);
            if !charge.allowed {
                break;
            }
            allowed += 1;
            limit.refund_revalidation(&mut charge);
        }
        let most = 3 + 3 * REVALIDATIONS_PER_REQUEST;
        assert_eq!(allowed, most, "the budget plus its refunds, and no more");
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        assert_eq!(address_key(Some("2001:db8:1:2:aaaa::1")), "2001:db8:1:2::/64");
        assert_eq!(address_key(Some("2001:db8:1:2:bbbb::9")), "2001:db8:1:2::/64");
        assert_eq!(address_key(Some("::ffff:192.0.2.7")), "192.0.2.7");
        assert_eq!(address_key(Some("192.0.2.7")), "192.0.2.7");
    }
}
