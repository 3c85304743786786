//! The one place where a request becomes a principal of a company, and where each route declares who may
//! call it.
//!
//! A handler that touches tenant data takes `Auth<SomePolicy>`: it cannot get at a company id any other way,
//! every store function needs that id, and the policy in its signature is the route's role requirement.

use std::future::Future;
use std::marker::PhantomData;
use std::ops::Deref;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};

use crate::auth::tokens::{self, AccessClaims};
use crate::auth::{API_KEY_PREFIX, Actor, ActorType, ApiKeyScope, AuditActor, Role};
use crate::config::Config;
use crate::db::{DbConn, DbPool};
use crate::error::ApiError;
use crate::http::observe::RequestId;
use crate::ids::{CompanyId, UserId};

/// How a credential becomes a company and an actor. The domains that own the credentials supply these
/// (`app.rs` registers them as app data), so that this extractor, which every domain's routes use, imports
/// none of those domains back.
#[derive(Clone, Copy)]
pub struct Authenticators {
    /// An API key's secret, as presented.
    pub api_key: fn(&mut DbConn, &str) -> Authenticated,
    /// A user, from the claims of an access token whose signature was checked.
    pub user: fn(&mut DbConn, &AccessClaims) -> Authenticated,
    /// A live (not revoked) agent's company and id, from its secret (`None`: no such agent).
    pub agent: fn(&mut DbConn, &str) -> Result<Option<LiveAgent>, ApiError>,
}

/// A live agent: its company and id.
pub type LiveAgent = (CompanyId, crate::ids::AgentId);

/// Who a credential turned out to be: its company and actor, or why it was refused.
pub type Authenticated = Result<(CompanyId, Actor), ApiError>;

/// An authenticated caller and the company it acts for.
#[derive(Debug, Clone)]
pub struct Principal {
    company_id: CompanyId,
    pub actor: Actor,
    client_ip: Option<String>,
    request_id: Option<String>,
}

impl Principal {
    /// The caller's company: the only company whose data this request may touch.
    pub fn company_id(&self) -> &CompanyId {
        &self.company_id
    }

    /// The user behind the request, when it is a user rather than an API key.
    pub fn user_id(&self) -> Option<&UserId> {
        match &self.actor {
            Actor::User { id, .. } => Some(id),
            Actor::ApiKey { .. } => None,
        }
    }

    /// The acting user and their role, for routes whose policy admits only users.
    pub fn acting_user(&self) -> Result<(UserId, Role), ApiError> {
        match &self.actor {
            Actor::User { id, role } => Ok((id.clone(), *role)),
            Actor::ApiKey { .. } => Err(forbidden("This endpoint is for signed-in users, not API keys.")),
        }
    }

    /// How audit entries written for this request name their actor.
    pub fn audit_actor(&self) -> AuditActor {
        let (actor_type, actor_id) = match &self.actor {
            Actor::User { id, .. } => (ActorType::User, id.to_string()),
            Actor::ApiKey { id, .. } => (ActorType::ApiKey, id.to_string()),
        };
        AuditActor {
            company_id: Some(self.company_id.clone()),
            actor_type,
            actor_id: Some(actor_id),
            client_ip: self.client_ip.clone(),
            request_id: self.request_id.clone(),
        }
    }
}

/// A route's access rule: which principals may call it.
pub trait Access {
    /// Checks the principal; `Err` is the 403 the caller sees.
    fn check(principal: &Principal) -> Result<(), ApiError>;
}

/// Any user of the company, and API keys of either scope: read access.
pub struct Member;
/// Owners, admins and managers, and `read_write` API keys: changes to the workforce.
pub struct Manager;
/// Owners, admins and managers, and API keys of either scope: what employees did (activity, screenshots),
/// which viewers may not see.
pub struct Supervisor;
/// Owners and admins, and `read_write` API keys: company-wide settings such as billing.
pub struct Admin;
/// Owners and admins, and API keys of either scope: company-wide records such as the audit log, which an
/// integrator may export.
pub struct AdminReader;
/// Owners and admins signed in as users: people, API keys and billing. API keys never reach this.
pub struct AdminUser;
/// Any signed-in user (not an API key): their own account.
pub struct SignedInUser;

fn forbidden(message: &str) -> ApiError {
    ApiError::Forbidden(message.to_owned())
}

impl Access for Member {
    fn check(_: &Principal) -> Result<(), ApiError> {
        Ok(())
    }
}

impl Access for Supervisor {
    fn check(principal: &Principal) -> Result<(), ApiError> {
        match &principal.actor {
            Actor::User { role: Role::Owner | Role::Admin | Role::Manager, .. } | Actor::ApiKey { .. } => Ok(()),
            Actor::User { .. } => Err(forbidden("Employees' activity is shown to the OWNER, ADMIN and MANAGER roles.")),
        }
    }
}

impl Access for Manager {
    fn check(principal: &Principal) -> Result<(), ApiError> {
        match &principal.actor {
            Actor::User { role: Role::Owner | Role::Admin | Role::Manager, .. } => Ok(()),
            Actor::ApiKey { scope: ApiKeyScope::ReadWrite, .. } => Ok(()),
            Actor::User { .. } => Err(forbidden("This action needs the OWNER, ADMIN or MANAGER role.")),
            Actor::ApiKey { .. } => Err(forbidden("This API key has the read scope; this action needs read_write.")),
        }
    }
}

impl Access for Admin {
    fn check(principal: &Principal) -> Result<(), ApiError> {
        match &principal.actor {
            Actor::User { role, .. } if role.is_admin() => Ok(()),
            Actor::ApiKey { scope: ApiKeyScope::ReadWrite, .. } => Ok(()),
            Actor::User { .. } => Err(forbidden("This action needs the OWNER or ADMIN role.")),
            Actor::ApiKey { .. } => Err(forbidden("This API key has the read scope; this action needs read_write.")),
        }
    }
}

impl Access for AdminReader {
    fn check(principal: &Principal) -> Result<(), ApiError> {
        match &principal.actor {
            Actor::User { role, .. } if role.is_admin() => Ok(()),
            Actor::ApiKey { .. } => Ok(()),
            Actor::User { .. } => Err(forbidden("This needs the OWNER or ADMIN role.")),
        }
    }
}

impl Access for AdminUser {
    fn check(principal: &Principal) -> Result<(), ApiError> {
        match &principal.actor {
            Actor::User { role, .. } if role.is_admin() => Ok(()),
            Actor::User { .. } => Err(forbidden("This action needs the OWNER or ADMIN role.")),
            Actor::ApiKey { .. } => {
                Err(forbidden("API keys cannot manage users or API keys; sign in as an owner or admin."))
            }
        }
    }
}

impl Access for SignedInUser {
    fn check(principal: &Principal) -> Result<(), ApiError> {
        match &principal.actor {
            Actor::User { .. } => Ok(()),
            Actor::ApiKey { .. } => Err(forbidden("This endpoint is for signed-in users, not API keys.")),
        }
    }
}

/// Put in a request's extensions by whoever verified its API key or agent secret against the database;
/// `shared_by` is the company whose keys share one budget (API keys), `None` for a credential that gets
/// one of its own (an agent).
#[derive(Debug, Clone)]
pub struct CredentialVerified {
    pub shared_by: Option<CompanyId>,
}

/// Marks the request's agent secret as verified (see `http::rate_limit`: a verified credential gets a
/// budget of its own).
pub fn credential_verified(req: &HttpRequest) {
    req.extensions_mut().insert(CredentialVerified { shared_by: None });
}

/// An access rule's check.
#[cfg(test)]
type Rule = fn(&Principal) -> Result<(), ApiError>;

/// Every access rule, for questions asked of all of them at once.
#[cfg(test)]
const ALL_RULES: [Rule; 7] = [
    Member::check,
    Supervisor::check,
    Manager::check,
    Admin::check,
    AdminReader::check,
    AdminUser::check,
    SignedInUser::check,
];

/// Whether a user with `role` may do everything a key of `scope` may, derived from the rules themselves:
/// every rule that admits such a key also admits the user. The tests hold `Role::covers_scope` (which the
/// key services use, below `http`) to it, so a changed rule cannot silently leave keys reaching further
/// than their creators.
#[cfg(test)]
fn role_covers_scope(role: Role, scope: ApiKeyScope) -> bool {
    let probe = |actor| Principal { company_id: CompanyId::generate(), actor, client_ip: None, request_id: None };
    let user = probe(Actor::User { id: UserId::generate(), role });
    let key = probe(Actor::ApiKey { id: crate::ids::ApiKeyId::generate(), scope });
    ALL_RULES.iter().all(|rule| rule(&key).is_err() || rule(&user).is_ok())
}

/// An authenticated principal that passed the route's access rule `A`.
pub struct Auth<A: Access> {
    principal: Principal,
    policy: PhantomData<A>,
}

impl<A: Access> Deref for Auth<A> {
    type Target = Principal;
    fn deref(&self) -> &Principal {
        &self.principal
    }
}

impl<A: Access> Auth<A> {
    pub fn into_principal(self) -> Principal {
        self.principal
    }
}

/// The client's address and the request id, for audit entries of unauthenticated requests.
#[derive(Debug, Clone)]
pub struct RequestOrigin {
    pub client_ip: Option<String>,
    pub request_id: Option<String>,
}

impl RequestOrigin {
    pub fn of(req: &HttpRequest) -> Self {
        let trusted =
            req.app_data::<web::Data<Config>>().map(|config| config.trusted_proxies.as_slice()).unwrap_or(&[]);
        Self {
            client_ip: client_address(req, trusted).map(|ip| ip.to_string()),
            request_id: req.extensions().get::<RequestId>().map(|id| id.0.clone()),
        }
    }

    /// An audit actor for an anonymous request.
    pub fn anonymous(&self) -> AuditActor {
        AuditActor {
            company_id: None,
            actor_type: ActorType::Anonymous,
            actor_id: None,
            client_ip: self.client_ip.clone(),
            request_id: self.request_id.clone(),
        }
    }
}

impl FromRequest for RequestOrigin {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Ok(Self::of(req)))
    }
}

/// The client's address: the peer, unless the peer is a configured proxy, in which case the nearest
/// address in `X-Forwarded-For` that is not itself a trusted proxy. A header any client can forge never
/// decides throttling or what the audit log records unless it came through our own proxy.
fn client_address(req: &HttpRequest, trusted: &[std::net::IpAddr]) -> Option<std::net::IpAddr> {
    let peer = req.peer_addr()?.ip();
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded =
        req.headers().get_all("x-forwarded-for").filter_map(|value| value.to_str().ok()).collect::<Vec<_>>().join(",");
    Some(nearest_untrusted_hop(&forwarded, peer, trusted))
}

/// Walks `X-Forwarded-For` from the right, past our own proxies, to the first hop they did not add. A hop
/// that cannot be read (`unknown`, an obfuscated name) ends the walk at the proxy that wrote it: looking
/// past it would hand the choice of address to whatever the client put further left.
fn nearest_untrusted_hop(forwarded: &str, peer: std::net::IpAddr, trusted: &[std::net::IpAddr]) -> std::net::IpAddr {
    let mut reported_by = peer;
    for hop in forwarded.rsplit(',').map(str::trim).filter(|hop| !hop.is_empty()) {
        let Some(address) = hop_address(hop) else { return reported_by };
        if !trusted.contains(&address) {
            return address;
        }
        reported_by = address;
    }
    reported_by
}

/// One hop as proxies write it: `203.0.113.9`, `203.0.113.9:5678`, `2001:db8::1` or `[2001:db8::1]:443`.
fn hop_address(hop: &str) -> Option<std::net::IpAddr> {
    let address = hop
        .parse::<std::net::IpAddr>()
        .or_else(|_| hop.parse::<std::net::SocketAddr>().map(|socket| socket.ip()))
        .or_else(|_| hop.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>())
        .ok()?;
    // An IPv4 client behind a dual-stack proxy arrives as `::ffff:a.b.c.d`; it is the same client.
    Some(match address {
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, std::net::IpAddr::V4),
        v4 => v4,
    })
}

/// The bearer token of a request, if any.
pub(crate) fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned()).filter(|t| !t.is_empty())
}

/// The secret a desktop agent presents as its bearer token. The agent endpoints resolve it themselves, in
/// the same statement that records the contact, and then mark the request with
/// [`credential_verified`].
pub struct AgentSecret(pub String);

impl FromRequest for AgentSecret {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(bearer_token(req).filter(|token| token.len() <= 200).map(Self).ok_or_else(|| {
            ApiError::Unauthenticated("Send the agent secret as `Authorization: Bearer <secret>`.".to_owned()).into()
        }))
    }
}

impl<A: Access + 'static> FromRequest for Auth<A> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = bearer_token(req);
        let origin = RequestOrigin::of(req);
        let pool = req.app_data::<web::Data<DbPool>>().cloned();
        let config = req.app_data::<web::Data<Config>>().cloned();
        let authenticators = req.app_data::<web::Data<Authenticators>>().map(|found| *found.get_ref());
        let req = req.clone();
        Box::pin(async move {
            let (Some(pool), Some(config), Some(authenticators)) = (pool, config, authenticators) else {
                let missing = "application state missing: the pool, the configuration or the Authenticators";
                return Err(ApiError::Internal(anyhow::anyhow!(missing)).into());
            };
            let token = token.ok_or_else(|| {
                ApiError::Unauthenticated(
                    "Send an access token or API key as `Authorization: Bearer <token>`.".to_owned(),
                )
            })?;
            let (company_id, actor) = authenticate(&pool, &config, authenticators, token).await?;
            if matches!(actor, Actor::ApiKey { .. }) {
                // A key found live: from now on the rate limit counts it on its company's keys' budget, so
                // minting more keys buys no more requests.
                req.extensions_mut().insert(CredentialVerified { shared_by: Some(company_id.clone()) });
            }
            let principal = Principal { company_id, actor, client_ip: origin.client_ip, request_id: origin.request_id };
            A::check(&principal)?;
            Ok(Self { principal, policy: PhantomData })
        })
    }
}

/// Resolves a bearer token to its company and actor. Users are re-read on every request, so a disabled
/// account or a changed role takes effect at once rather than when the access token expires.
async fn authenticate(
    pool: &DbPool,
    config: &Config,
    authenticators: Authenticators,
    token: String,
) -> Result<(CompanyId, Actor), ApiError> {
    if token.starts_with(API_KEY_PREFIX) {
        return crate::db::run(pool, move |conn| (authenticators.api_key)(conn, &token)).await;
    }
    let claims = tokens::verify_access_token(&config.jwt_secret, &token)
        .ok_or_else(|| ApiError::Unauthenticated("The access token is invalid or has expired.".to_owned()))?;
    crate::db::run(pool, move |conn| (authenticators.user)(conn, &claims)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(actor: Actor) -> Principal {
        Principal { company_id: CompanyId::generate(), actor, client_ip: None, request_id: None }
    }

    fn user(role: Role) -> Principal {
        principal(Actor::User { id: UserId::generate(), role })
    }

    fn key(scope: ApiKeyScope) -> Principal {
        principal(Actor::ApiKey { id: crate::ids::ApiKeyId::generate(), scope })
    }

    #[test]
    fn a_read_key_reads_but_never_writes() {
        let read = key(ApiKeyScope::Read);
        assert!(Member::check(&read).is_ok());
        assert!(AdminReader::check(&read).is_ok());
        assert!(Manager::check(&read).is_err());
        assert!(Admin::check(&read).is_err());
    }

    #[test]
    fn a_read_write_key_writes_but_never_manages_people_or_keys() {
        let read_write = key(ApiKeyScope::ReadWrite);
        assert!(Manager::check(&read_write).is_ok());
        assert!(Admin::check(&read_write).is_ok());
        assert!(AdminUser::check(&read_write).is_err());
        assert!(SignedInUser::check(&read_write).is_err());
    }

    #[test]
    fn both_scopes_need_an_owner_or_admin() {
        for scope in [ApiKeyScope::Read, ApiKeyScope::ReadWrite] {
            for role in [Role::Owner, Role::Admin, Role::Manager, Role::Viewer] {
                assert_eq!(role.covers_scope(scope), role_covers_scope(role, scope), "{role:?} {scope:?}");
            }
            assert!(role_covers_scope(Role::Owner, scope));
            assert!(role_covers_scope(Role::Admin, scope));
            assert!(!role_covers_scope(Role::Manager, scope), "{scope:?}");
            assert!(!role_covers_scope(Role::Viewer, scope), "{scope:?}");
        }
    }

    #[test]
    fn roles_map_to_policies() {
        assert!(Manager::check(&user(Role::Manager)).is_ok());
        assert!(Manager::check(&user(Role::Viewer)).is_err());
        assert!(Admin::check(&user(Role::Manager)).is_err());
        assert!(AdminUser::check(&user(Role::Admin)).is_ok());
        assert!(AdminReader::check(&user(Role::Viewer)).is_err());
        assert!(Member::check(&user(Role::Viewer)).is_ok());
    }
}

#[cfg(test)]
mod forwarded_tests {
    use super::nearest_untrusted_hop;

    fn ip(text: &str) -> std::net::IpAddr {
        text.parse().expect("ip")
    }

    #[test]
    fn the_client_is_the_first_hop_our_proxies_did_not_add() {
        let proxy = ip("10.0.0.1");
        let trusted = [proxy, ip("10.0.0.2")];
        let at = |header: &str| nearest_untrusted_hop(header, proxy, &trusted);
        assert_eq!(at("198.51.100.7, 203.0.113.9"), ip("203.0.113.9"), "a forged hop further left is ignored");
        assert_eq!(at("203.0.113.9:5678"), ip("203.0.113.9"), "a port is not part of the address");
        assert_eq!(at("[2001:db8::1]:443"), ip("2001:db8::1"));
        assert_eq!(at("::ffff:203.0.113.9"), ip("203.0.113.9"));
        assert_eq!(at("203.0.113.9, 10.0.0.2"), ip("203.0.113.9"), "past a second proxy of ours");
        assert_eq!(at("198.51.100.7, unknown"), proxy, "an unreadable hop ends at the proxy that wrote it");
        assert_eq!(at("198.51.100.7, unknown, 10.0.0.2"), ip("10.0.0.2"));
        assert_eq!(at(""), proxy);
    }
}
