//! The outermost middleware: assigns the request id, writes the access log line and records metrics; and
//! the fallback that turns any error response not already in problem+json into one.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{ErrorHandlerResponse, Next};
use actix_web::{HttpMessage, ResponseError, web};

use super::metrics::Metrics;
use super::request_id;
use crate::error::{ApiError, PROBLEM_JSON};

/// The request id of a request, stored in its extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Request id, access log and metrics around every request.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = request_id::accept_or_generate(req.headers().get(request_id::HEADER).and_then(|v| v.to_str().ok()));
    req.extensions_mut().insert(RequestId(id.clone()));
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let method = req.method().to_string();
    let path = req.path().to_owned();
    let started = Instant::now();

    request_id::scope(id.clone(), async move {
        let outcome = next.call(req).await;
        let elapsed = started.elapsed();
        let (status, route) = match &outcome {
            Ok(response) => (
                response.status().as_u16(),
                response.request().match_pattern().unwrap_or_else(|| "unmatched".to_owned()),
            ),
            Err(error) => (error.as_response_error().status_code().as_u16(), "unmatched".to_owned()),
        };
        log::info!(target: "vigil::access", "{method} {path} {status} {:.1}ms", elapsed.as_secs_f64() * 1000.0);
        if let Some(metrics) = metrics {
            metrics.observe(&method, &route, status, elapsed.as_secs_f64());
        }
        outcome.map(|mut response| {
            if let Ok(value) = HeaderValue::from_str(&id) {
                response.headers_mut().insert(header::HeaderName::from_static(request_id::HEADER), value);
            }
            response
        })
    })
    .await
}

/// Rewrites error responses that did not come from [`ApiError`] (actix's own 404/405, a panic's 500, …)
/// into problem+json, so no client ever sees an HTML or empty error body.
pub fn problem_fallback<B: MessageBody + 'static>(
    response: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if is_problem {
        return Ok(ErrorHandlerResponse::Response(response.map_into_left_body()));
    }
    let status = response.status();
    let error = match status.as_u16() {
        404 => ApiError::RouteNotFound,
        405 => ApiError::MethodNotAllowed,
        413 => ApiError::PayloadTooLarge { limit_bytes: crate::http::extract::BODY_LIMIT_BYTES },
        503 => ApiError::DatabaseUnavailable(anyhow::anyhow!("service unavailable")),
        _ if status.is_server_error() => ApiError::Internal(anyhow::anyhow!("unhandled {status} response")),
        _ => ApiError::BadRequest(format!("{}.", status.canonical_reason().unwrap_or("Bad request"))),
    };
    let mut replacement = error.error_response();
    *replacement.status_mut() = status;
    let (request, _) = response.into_parts();
    Ok(ErrorHandlerResponse::Response(ServiceResponse::new(request, replacement).map_into_right_body()))
}
