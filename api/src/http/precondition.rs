//! Optimistic concurrency for the resources a client edits: each read sends the resource's `ETag`, each
//! write may send it back in `If-Match` and is refused with 412 `precondition_failed` when the resource has
//! changed since (RFC 9110 §8.8.3, §13.1.1).
//!
//! The tags are strong and come from a version that every write of the row increments (not `updated_at`,
//! which two writes in the same microsecond, or a clock stepping back, would leave unchanged). `If-Match`
//! is optional: without it a write applies as before, as RFC 9110 allows. The comparison belongs inside the
//! write's transaction, under the lock that serialises the writes of that resource; comparing before it
//! would itself be a lost-update race.

use std::future::{Ready, ready};

use actix_web::http::header::{self, EntityTag, Header};
use actix_web::{FromRequest, HttpRequest, HttpResponse, Responder};
use serde::Serialize;

use crate::error::ApiError;

/// A strong entity tag, e.g. `"v7"` on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ETag(String);

impl ETag {
    /// The tag of a row at `version`.
    pub fn from_version(version: i64) -> Self {
        Self(format!("v{version}"))
    }

    /// A tag made of several parts, for a resource that is read from more than one row.
    pub fn from_parts(parts: &[&str]) -> Self {
        Self(parts.join("-"))
    }

    /// The tag of a company's one resource at a URL every company shares (`/policy`): versions alone would
    /// be equal across companies, and a browser's copy of one company's answer would then be "not
    /// modified" for another company signed in after it.
    pub fn of_company(company: &str, parts: &[&str]) -> Self {
        let mut tag = crate::crypto::sha256_hex(company);
        tag.truncate(12);
        for part in parts {
            tag.push('-');
            tag.push_str(part);
        }
        Self(tag)
    }

    fn entity_tag(&self) -> EntityTag {
        EntityTag::new_strong(self.0.clone())
    }
}

/// The `If-Match` precondition of a write: absent (no condition), `*`, or a list of tags.
#[derive(Debug, Clone, Default)]
pub struct IfMatch(Option<header::IfMatch>);

impl IfMatch {
    /// No precondition: the write applies whatever the current version (for callers other than HTTP).
    pub fn none() -> Self {
        Self(None)
    }

    /// Refuses the write unless the resource, whose current tag is `current`, is what the client read.
    /// `*` matches any existing resource; tags are compared strongly, so a weak tag never matches.
    pub fn check(&self, current: &ETag) -> Result<(), ApiError> {
        let matches = match &self.0 {
            None | Some(header::IfMatch::Any) => true,
            Some(header::IfMatch::Items(tags)) => tags.iter().any(|tag| tag.strong_eq(&current.entity_tag())),
        };
        if matches { Ok(()) } else { Err(ApiError::PreconditionFailed) }
    }
}

impl FromRequest for IfMatch {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        if !req.headers().contains_key(header::IF_MATCH) {
            return ready(Ok(Self(None)));
        }
        ready(match header::IfMatch::parse(req) {
            Ok(header::IfMatch::Items(tags)) if tags.is_empty() => Err(malformed()),
            Ok(parsed) => Ok(Self(Some(parsed))),
            Err(_) => Err(malformed()),
        })
    }
}

fn malformed() -> ApiError {
    ApiError::BadRequest(
        "If-Match must be `*` or a list of quoted entity tags, as sent in the resource's ETag.".to_owned(),
    )
}

/// The `If-Match` request header of the writes that honour it, for the OpenAPI document.
#[derive(utoipa::IntoParams)]
#[into_params(names("If-Match"), parameter_in = Header)]
#[allow(dead_code, reason = "only its shape is read, by utoipa, for the document")]
pub struct IfMatchParam(
    /// The `ETag` of the version you read, e.g. `"v3"` (quotes included); `*` matches any version. Optional:
    /// without it the write applies to whatever the current version is. A stale tag is refused with 412
    /// `precondition_failed` and nothing changes.
    Option<String>,
);

/// A resource as the API shows it, with its current tag; answers 200 with an `ETag` header.
#[derive(Debug)]
pub struct Tagged<T> {
    pub body: T,
    pub etag: ETag,
}

impl<T> Tagged<T> {
    pub fn new(body: T, etag: ETag) -> Self {
        Self { body, etag }
    }

    /// The same tag on another body (e.g. a write that answers with a wider view).
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Tagged<U> {
        Tagged { body: f(self.body), etag: self.etag }
    }
}

impl<T: Serialize> Responder for Tagged<T> {
    type Body = actix_web::body::BoxBody;

    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        HttpResponse::Ok().insert_header(header::ETag(self.etag.entity_tag())).json(self.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(value: &str) -> IfMatch {
        let req = actix_web::test::TestRequest::default().insert_header((header::IF_MATCH, value)).to_http_request();
        IfMatch::from_request(&req, &mut actix_web::dev::Payload::None).into_inner().expect("parses")
    }

    #[test]
    fn a_matching_tag_in_a_list_or_a_star_passes_and_anything_else_is_refused() {
        let current = ETag::from_version(3);
        assert!(parsed("\"v3\"").check(&current).is_ok());
        assert!(parsed("\"v1\", \"v3\"").check(&current).is_ok());
        assert!(parsed("*").check(&current).is_ok());
        assert!(IfMatch::none().check(&current).is_ok());
        assert!(matches!(parsed("\"v2\"").check(&current), Err(ApiError::PreconditionFailed)));
        assert!(matches!(parsed("W/\"v3\"").check(&current), Err(ApiError::PreconditionFailed)));
    }
}
