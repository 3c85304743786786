//! The outermost middleware: assigns the request id, writes the access log line and records metrics; and
//! the fallback that turns any error response not already in problem+json into one.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::{ErrorHandlerResponse, Next};
use actix_web::{HttpMessage, HttpResponse, ResponseError, web};

use super::metrics::Metrics;
use crate::error::{ApiError, PROBLEM_JSON};
use crate::request_id;

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
    let method = metric_method(req.method());
    let path = req.path().to_owned();
    let started = Instant::now();

    request_id::scope(id.clone(), async move {
        // PostgreSQL cannot hold NUL in text while SQLite can: refuse it at the door so both behave alike.
        if req.query_string().to_ascii_lowercase().contains("%00") {
            let refused = ApiError::BadRequest("The query string must not contain NUL characters.".to_owned());
            let mut response = req.into_response(refused.error_response()).map_into_right_body();
            if let Ok(value) = HeaderValue::from_str(&id) {
                response.headers_mut().insert(header::HeaderName::from_static(request_id::HEADER), value);
            }
            return Ok(response);
        }
        let mut response = match next.call(req).await {
            Ok(response) => response.map_into_left_body(),
            Err(error) => {
                // Middleware errors (a CORS refusal, say) are rendered by the server without a request;
                // swap in one that renders as problem+json with the same status.
                let status = error.as_response_error().status_code();
                let detail = status.is_client_error().then(|| error.to_string());
                log::info!(target: "vigil::access", "{method} {path} {} (refused by middleware)", status.as_u16());
                return Err(StatusProblem { status, detail, request_id: id.clone() }.into());
            }
        };
        let elapsed = started.elapsed();
        let status = response.status().as_u16();
        let route = response.request().match_pattern().unwrap_or_else(|| "unmatched".to_owned());
        log::info!(target: "vigil::access", "{method} {path} {status} {:.1}ms", elapsed.as_secs_f64() * 1000.0);
        if let Some(metrics) = metrics {
            metrics.observe(method, &route, status, elapsed.as_secs_f64());
        }
        if let Ok(value) = HeaderValue::from_str(&id) {
            response.headers_mut().insert(header::HeaderName::from_static(request_id::HEADER), value);
        }
        Ok(response)
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
    let replacement = problem_for_status(response.status(), None);
    let (request, _) = response.into_parts();
    Ok(ErrorHandlerResponse::Response(ServiceResponse::new(request, replacement).map_into_right_body()))
}

/// A problem+json response for an error status that did not come from an [`ApiError`]. `detail` is used
/// for client errors, whose messages are meant for the client.
fn problem_for_status(status: StatusCode, detail: Option<String>) -> HttpResponse {
    let error = match status.as_u16() {
        404 => ApiError::RouteNotFound,
        405 => ApiError::MethodNotAllowed,
        413 => ApiError::PayloadTooLarge { limit_bytes: crate::http::extract::BODY_LIMIT_BYTES },
        503 => ApiError::DatabaseUnavailable(anyhow::anyhow!("service unavailable")),
        _ if status.is_server_error() => ApiError::Internal(anyhow::anyhow!("unhandled {status} response")),
        _ => ApiError::BadRequest(
            detail.unwrap_or_else(|| format!("{}.", status.canonical_reason().unwrap_or("Bad request"))),
        ),
    };
    let mut response = error.error_response();
    *response.status_mut() = status;
    response
}

/// An error raised by a middleware, re-rendered as problem+json with its status and the request id.
#[derive(Debug)]
struct StatusProblem {
    status: StatusCode,
    detail: Option<String>,
    request_id: String,
}

impl std::fmt::Display for StatusProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.status)
    }
}

impl ResponseError for StatusProblem {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = problem_for_status(self.status, self.detail.clone());
        if let Ok(value) = HeaderValue::from_str(&self.request_id) {
            response.headers_mut().insert(header::HeaderName::from_static(request_id::HEADER), value);
        }
        response
    }
}

/// The method as a metrics label: arbitrary methods from clients must not create new series.
fn metric_method(method: &Method) -> &'static str {
    const KNOWN: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
    KNOWN.into_iter().find(|known| method.as_str() == *known).unwrap_or("OTHER")
}
