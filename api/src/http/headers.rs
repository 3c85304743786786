//! Security headers on every response.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;

/// The API answers JSON and is never framed; the docs page loads only its own scripts and styles.
const API_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";
const DOCS_POLICY: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
                           script-src 'self' 'unsafe-inline'; frame-ancestors 'none'";

/// Adds `X-Content-Type-Options`, `Referrer-Policy`, `X-Frame-Options`, a Content-Security-Policy and, when
/// the product is served over HTTPS, `Strict-Transport-Security`.
pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let docs = req.path().starts_with("/api/docs");
    let https = req
        .app_data::<actix_web::web::Data<crate::config::Config>>()
        .is_some_and(|c| c.public_url.starts_with("https://"));
    let mut response = next.call(req).await?;
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers
        .insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(if docs { DOCS_POLICY } else { API_POLICY }));
    if https {
        headers.insert(
            HeaderName::from_static("strict-transport-security"),
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    Ok(response)
}
