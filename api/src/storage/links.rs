//! Short-lived signed links to blobs. A browser's `<img>` cannot send an Authorization header, and a
//! blob's path must never be guessable: the API hands out a link carrying an expiry and an HMAC over what it
//! opens, checked before anything is read.

use crate::config::Secret;
use crate::crypto::Signer;
use crate::error::ApiError;
use crate::ids::CompanyId;

/// How long a link works.
pub const LINK_LIFETIME_SECS: i64 = 300;

/// Signs and checks links with a key derived from the server's secret, so every instance that shares the
/// secret accepts the links of the others.
#[derive(Clone)]
pub struct LinkSigner {
    signer: Signer,
}

/// A link's query: `?company=…&expires=…&signature=…`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SignedQuery {
    /// The company the object belongs to.
    #[param(max_length = 64)]
    pub company: String,
    /// Unix time after which the link no longer works.
    pub expires: i64,
    /// Hex HMAC-SHA256 of the link.
    #[param(max_length = 128)]
    pub signature: String,
}

impl LinkSigner {
    pub fn new(server_secret: &Secret) -> Self {
        Self { signer: Signer::new(server_secret.expose(), "vigil signed blob links v1") }
    }

    /// The query string of a link to `object` of `company`, valid until `expires` (Unix seconds).
    pub fn sign(&self, object: &str, company: &CompanyId, expires: i64) -> String {
        let signature = self.signer.sign(&[object, company.as_str(), &expires.to_string()]);
        format!("company={company}&expires={expires}&signature={signature}")
    }

    /// The company a presented link opens `object` of, if the link is genuine and unexpired.
    pub fn verify(&self, object: &str, query: &SignedQuery, now: i64) -> Result<CompanyId, ApiError> {
        let genuine = self.signer.verify(&[object, &query.company, &query.expires.to_string()], &query.signature);
        if !genuine {
            return Err(ApiError::Refused {
                code: "invalid_link",
                detail: "This link is not valid. Ask the API for a new one.".to_owned(),
            });
        }
        if query.expires < now {
            return Err(ApiError::Refused {
                code: "link_expired",
                detail: "This link has expired. Ask the API for a new one.".to_owned(),
            });
        }
        CompanyId::parse(&query.company).ok_or(ApiError::NotFound("screenshot"))
    }
}

#[cfg(test)]
mod tests {
    use super::{LinkSigner, SignedQuery};
    use crate::config::Secret;
    use crate::ids::CompanyId;

    fn query(link: &str) -> SignedQuery {
        serde_urlencoded::from_str(link).unwrap_or_else(|error| panic!("{error}"))
    }

    #[test]
    fn a_link_opens_only_its_own_object_until_it_expires() {
        let signer = LinkSigner::new(&Secret::new("a-server-secret-that-is-long-enough-000".to_owned()));
        let company = CompanyId::generate();
        let link = signer.sign("shot-1", &company, 1_000);

        assert_eq!(signer.verify("shot-1", &query(&link), 999).ok(), Some(company.clone()));
        let expired = signer.verify("shot-1", &query(&link), 1_001).err().map(|e| e.code());
        assert_eq!(expired, Some("link_expired"));
        let other_object = signer.verify("shot-2", &query(&link), 999).err().map(|e| e.code());
        assert_eq!(other_object, Some("invalid_link"));
        let stretched = query(&link.replace("expires=1000", "expires=9000"));
        assert_eq!(signer.verify("shot-1", &stretched, 999).err().map(|e| e.code()), Some("invalid_link"));
    }
}
