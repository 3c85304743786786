//! Security headers on every response.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;

/// The API answers JSON and is never framed; the docs page loads only its own scripts and styles.
const API_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";
/// The web app: its own scripts only; Mantine sets inline `style` attributes; the API is on the same origin.
const APP_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                          img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; \
                          frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'";
const DOCS_POLICY: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
                           script-src 'self' 'unsafe-inline'; frame-ancestors 'none'";

/// Adds `X-Content-Type-Options`, `Referrer-Policy`, `X-Frame-Options`, a Content-Security-Policy and, when
/// the product is served over HTTPS, `Strict-Transport-Security`.
pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let policy = match req.path() {
        path if path.starts_with("/api/docs") => DOCS_POLICY,
        path if crate::web_app::is_app_path(path) => APP_POLICY,
        _ => API_POLICY,
    };
    let https = req
        .app_data::<actix_web::web::Data<crate::config::Config>>()
        .is_some_and(|c| c.public_url.starts_with("https://"));
    let mut response = next.call(req).await?;
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(policy));
    if https {
        headers.insert(
            HeaderName::from_static("strict-transport-security"),
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    Ok(response)
}
