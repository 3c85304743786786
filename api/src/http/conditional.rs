//! Conditional reads (RFC 9110 §8.8.3, §13.1.2): every JSON answer of a GET under `/api/v1` carries a strong
//! `ETag`, and a GET whose `If-None-Match` names the current tag is answered `304 Not Modified` with no
//! body. A client that polls a resource then pays no transfer for what it already has, and no rate limit:
//! the limiter gives back what a 304 cost (see `rate_limit`), while a tag that does not match is charged as
//! any read.
//!
//! Where the tags come from:
//! - resources that are edited with `If-Match` (employees, users, the policy, the billing settings) set
//!   their own tag from the row's version, so the tag a client reads is the one its write sends back;
//! - every other answer is tagged with a digest of its bytes, strong by construction: the same bytes, the
//!   same tag, and any change of a byte a new one.
//!
//! Streams and files (the alert stream, screenshot contents) are not JSON and pass untouched, unbuffered.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, EntityTag, Header, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError};

use crate::error::ApiError;

/// The headers a 304 repeats from the 200 it stands for (RFC 9110 §15.4.5), besides `ETag`.
const KEPT_ON_304: [header::HeaderName; 4] =
    [header::CACHE_CONTROL, header::CONTENT_LOCATION, header::EXPIRES, header::VARY];

/// The strong tag of a body: a digest of its bytes.
fn digest_tag(body: &[u8]) -> EntityTag {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(body);
    EntityTag::new_strong(format!("d{}", hex::encode(&digest[..16])))
}

fn is_json(response: &ServiceResponse<BoxBody>) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"))
}

/// Whether `If-None-Match` holds for the current tag, by the weak comparison the RFC asks for here.
fn not_modified(condition: Option<&header::IfNoneMatch>, current: &EntityTag) -> bool {
    match condition {
        Some(header::IfNoneMatch::Any) => true,
        Some(header::IfNoneMatch::Items(tags)) => tags.iter().any(|tag| tag.weak_eq(current)),
        None => false,
    }
}

/// Tags JSON answers of `GET /api/v1/…` and answers 304 when the client already has the current one.
pub async fn conditional_get(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if req.method() != Method::GET || !req.match_info().as_str().starts_with("/api/v1/") {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    // A malformed If-None-Match is no condition: the client gets the resource, as without one.
    let condition = req
        .headers()
        .contains_key(header::IF_NONE_MATCH)
        .then(|| header::IfNoneMatch::parse(req.request()).ok())
        .flatten();
    let response = next.call(req).await?.map_into_boxed_body();
    if response.status() != StatusCode::OK || !is_json(&response) {
        return Ok(response);
    }
    let (request, response) = response.into_parts();
    let (mut response, body) = response.into_parts();
    let Ok(bytes) = actix_web::body::to_bytes(body).await else {
        let failed = ApiError::Internal(anyhow::anyhow!("the answer's body could not be read")).error_response();
        return Ok(ServiceResponse::new(request, failed));
    };
    let own_tag = response
        .headers()
        .get(header::ETAG)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<EntityTag>().ok())
        .filter(|tag| !tag.weak);
    let tag = own_tag.unwrap_or_else(|| digest_tag(&bytes));
    // An answer for one signed-in caller: no shared cache may keep it, and a browser revalidates its copy
    // (with the caller's own credentials) before it uses it.
    if !response.headers().contains_key(header::CACHE_CONTROL) {
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
    }
    response.headers_mut().insert(header::VARY, HeaderValue::from_static("Authorization, Cookie"));
    if not_modified(condition.as_ref(), &tag) {
        let mut unchanged = HttpResponse::NotModified();
        unchanged.insert_header(header::ETag(tag));
        for name in KEPT_ON_304 {
            if let Some(value) = response.headers().get(&name) {
                unchanged.insert_header((name, value.clone()));
            }
        }
        return Ok(ServiceResponse::new(request, unchanged.finish()));
    }
    if let Ok(value) = HeaderValue::from_str(&tag.to_string()) {
        response.headers_mut().insert(header::ETAG, value);
    }
    Ok(ServiceResponse::new(request, response.set_body(BoxBody::new(bytes))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_tag_is_strong_and_follows_every_byte() {
        let tag = digest_tag(br#"{"a":1}"#);
        assert!(!tag.weak);
        assert_eq!(tag, digest_tag(br#"{"a":1}"#));
        assert_ne!(tag, digest_tag(br#"{"a":2}"#));
    }

    #[test]
    fn if_none_match_compares_weakly_and_star_matches_anything() {
        let current = EntityTag::new_strong("v3".to_owned());
        let items = |tags: Vec<EntityTag>| header::IfNoneMatch::Items(tags);
        assert!(not_modified(Some(&items(vec![EntityTag::new_weak("v3".to_owned())])), &current));
        assert!(not_modified(Some(&items(vec![EntityTag::new_strong("v1".to_owned()), current.clone()])), &current));
        assert!(not_modified(Some(&header::IfNoneMatch::Any), &current));
        assert!(!not_modified(Some(&items(vec![EntityTag::new_strong("v2".to_owned())])), &current));
        assert!(!not_modified(None, &current));
    }
}
