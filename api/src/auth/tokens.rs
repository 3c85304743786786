//! Access tokens (JWT, HS256, about 15 minutes) and opaque refresh tokens.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};

use super::Role;
use crate::config::Secret;
use crate::ids::{CompanyId, UserId};

/// Who issues and who accepts our tokens; checked on every verification.
pub const ISSUER: &str = "vigil";
pub const AUDIENCE: &str = "vigil-api";
/// Lifetime of an access token.
pub const ACCESS_TOKEN_TTL_SECS: i64 = 15 * 60;
/// Lifetime of a refresh token (each use rotates it).
pub const REFRESH_TOKEN_TTL_DAYS: i64 = 30;
/// Length of a refresh token: 64 alphanumerics, about 380 bits.
const REFRESH_TOKEN_LEN: usize = 64;

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    /// The user's company.
    pub cid: String,
    pub role: Role,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
}

/// The verified content of an access token.
#[derive(Debug, Clone)]
pub struct AccessClaims {
    pub user_id: UserId,
    pub company_id: CompanyId,
}

/// Signs an access token for a user.
pub fn issue_access_token(secret: &Secret, user: &UserId, company: &CompanyId, role: Role) -> anyhow::Result<String> {
    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        sub: user.to_string(),
        cid: company.to_string(),
        role,
        iss: ISSUER.to_owned(),
        aud: AUDIENCE.to_owned(),
        iat: now,
        exp: now + ACCESS_TOKEN_TTL_SECS,
    };
    Ok(encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(secret.expose().as_bytes()))?)
}

/// Verifies an access token: HS256 only (so `alg: none` and algorithm confusion fail), signature, `exp`,
/// `iss` and `aud` all required.
pub fn verify_access_token(secret: &Secret, token: &str) -> Option<AccessClaims> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = 5;
    let data = decode::<Claims>(token, &DecodingKey::from_secret(secret.expose().as_bytes()), &validation).ok()?;
    Some(AccessClaims { user_id: UserId::parse(&data.claims.sub)?, company_id: CompanyId::parse(&data.claims.cid)? })
}

/// A new opaque refresh token. Only its SHA-256 is stored.
pub fn new_refresh_token() -> String {
    crate::crypto::random_token(REFRESH_TOKEN_LEN)
}
