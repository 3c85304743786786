//! Who may act: the roles of users, the scopes of API keys, the [`Actor`] behind a request and how audit
//! entries name it, the access tokens users carry, and the prefixes that tell a key from an agent secret.
//!
//! These sit below every domain so that the `Principal` extractor (`http::principal`), the rate limit and
//! the services that authenticate (`accounts::service`, `api_keys::service`) can share them without
//! importing each other.

pub mod tokens;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::{ApiKeyId, CompanyId, UserId};

/// Every API key starts with this, so a leaked key is recognisable (and secret scanners can find it).
pub const API_KEY_PREFIX: &str = "vigil_sk_";
/// How an agent's secret starts, so that a leaked one is recognisable (and secret scanners can find it).
pub const AGENT_SECRET_PREFIX: &str = "vigil_ag_";

/// What a user may do in their company, from most to least powerful.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    Owner,
    Admin,
    Manager,
    Viewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "OWNER",
            Self::Admin => "ADMIN",
            Self::Manager => "MANAGER",
            Self::Viewer => "VIEWER",
        }
    }

    /// Parses the stored form; the CHECK constraint guarantees one of the four.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Owner, Self::Admin, Self::Manager, Self::Viewer].into_iter().find(|role| role.as_str() == text)
    }

    /// Owners and admins manage users, keys and billing.
    pub fn is_admin(self) -> bool {
        matches!(self, Self::Owner | Self::Admin)
    }

    /// Whether a user with this role may do everything a key of `scope` may. A key must never reach
    /// further than its creator still does, so a key whose creator's role stops covering its scope is
    /// revoked. Both scopes need OWNER or ADMIN: a `read` key reads the audit log and a `read_write` key
    /// changes billing, neither of which a MANAGER may. `http::principal`'s tests derive the same answer
    /// from the access rules themselves.
    pub fn covers_scope(self, scope: ApiKeyScope) -> bool {
        match scope {
            ApiKeyScope::Read | ApiKeyScope::ReadWrite => self.is_admin(),
        }
    }
}

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApiKeyScope {
    /// Read every tenant resource.
    Read,
    /// Read and change tenant resources (never users or keys).
    ReadWrite,
}

impl ApiKeyScope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::ReadWrite => "read_write",
        }
    }

    pub fn parse(text: &str) -> Self {
        if text == "read_write" { Self::ReadWrite } else { Self::Read }
    }
}

/// Who is acting.
#[derive(Debug, Clone)]
pub enum Actor {
    User { id: UserId, role: Role },
    ApiKey { id: ApiKeyId, scope: ApiKeyScope },
}

/// The kind of actor behind an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActorType {
    User,
    ApiKey,
    Agent,
    Stripe,
    System,
    Anonymous,
}

impl ActorType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::ApiKey => "api_key",
            Self::Agent => "agent",
            Self::Stripe => "stripe",
            Self::System => "system",
            Self::Anonymous => "anonymous",
        }
    }

    /// The kind a stored entry names; an unknown one reads as anonymous.
    pub fn parse(text: &str) -> Self {
        [Self::User, Self::ApiKey, Self::Agent, Self::Stripe, Self::System]
            .into_iter()
            .find(|actor| actor.as_str() == text)
            .unwrap_or(Self::Anonymous)
    }
}

/// Who acts, for which company, from where.
#[derive(Debug, Clone)]
pub struct AuditActor {
    pub company_id: Option<CompanyId>,
    pub actor_type: ActorType,
    pub actor_id: Option<String>,
    pub client_ip: Option<String>,
    pub request_id: Option<String>,
}

impl AuditActor {
    /// Vigil itself acting on a company (a repair, a retention sweep), named by the job.
    pub fn system(company: &CompanyId, job: &str) -> Self {
        Self {
            company_id: Some(company.clone()),
            actor_type: ActorType::System,
            actor_id: Some(job.to_owned()),
            client_ip: None,
            request_id: None,
        }
    }

    /// The same origin, now known to belong to a company (e.g. after a login identified it).
    pub fn in_company(mut self, company_id: &CompanyId) -> Self {
        self.company_id = Some(company_id.clone());
        self
    }

    /// The same origin, now known to be a user of a company.
    pub fn for_user(&self, company: &CompanyId, user: impl ToString) -> Self {
        self.clone().in_company(company).as_actor(ActorType::User, user)
    }

    /// The same origin, acting as a given actor.
    pub fn as_actor(mut self, actor_type: ActorType, actor_id: impl ToString) -> Self {
        self.actor_type = actor_type;
        self.actor_id = Some(actor_id.to_string());
        self
    }
}
