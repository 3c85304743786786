//! Who may act: the roles of users, the scopes of API keys, and the [`Actor`] behind a request.
//!
//! These sit below every domain so that the `Principal` extractor (`http::principal`) and the services
//! that authenticate (`accounts::service`, `api_keys::service`) can share them without importing each
//! other.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::{ApiKeyId, UserId};

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
