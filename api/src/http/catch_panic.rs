//! The last line of defence: a panic while a handler (or an extractor, or a middleware inside this one)
//! computes its response becomes a logged problem+json 500 carrying the request id, instead of a dropped
//! connection. Only the request's own future unwinds; the worker goes on serving. A panic inside
//! `web::block` never gets here: `db::run` already turns it into a 500.
//!
//! What is not covered: a panic while a streamed body (the alert stream) is being sent, after the response
//! head has left. The profile must keep `panic = "unwind"` (the default) for any of this to work.

use std::panic::AssertUnwindSafe;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;
use futures_util::FutureExt;

use crate::error::ApiError;
use crate::http::metrics::Metrics;

/// Catches a panic of the inner service and fails the request with 500 `internal_error` in its place; the
/// outer `observe` middleware renders it as problem+json with the request id, like any middleware error.
pub async fn catch_panic(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    // Only what is cheap to hold: the request itself must stay unshared for the handlers.
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let route = format!("{} {}", req.method(), req.path());
    match AssertUnwindSafe(next.call(req)).catch_unwind().await {
        Ok(outcome) => outcome,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|text| (*text).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_owned());
            if let Some(metrics) = metrics {
                metrics.panic_caught();
            }
            log::error!("the handler of {route} panicked: {message}");
            Err(ApiError::Internal(anyhow::anyhow!("the handler of {route} panicked: {message}")).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use actix_web::middleware::from_fn;
    use actix_web::{App, HttpResponse, test, web};

    use super::catch_panic;

    async fn sometimes_panics(path: web::Path<String>) -> HttpResponse {
        assert!(path.as_str() != "boom", "the handler was told to panic");
        HttpResponse::Ok().body("fine")
    }

    #[actix_web::test]
    async fn a_panicking_handler_answers_a_problem_500_with_the_request_id_and_the_service_goes_on() {
        let app =
            test::init_service(App::new().wrap(from_fn(catch_panic)).route("/{what}", web::get().to(sometimes_panics)))
                .await;

        let panicked = crate::request_id::scope("req-42".to_owned(), async {
            let failed = test::try_call_service(&app, test::TestRequest::get().uri("/boom").to_request()).await;
            failed.err().map(|error| error.error_response())
        })
        .await;
        let Some(panicked) = panicked else { panic!("the panic became a response") };
        assert_eq!(panicked.status().as_u16(), 500);
        let content_type = panicked.headers().get("content-type").and_then(|value| value.to_str().ok());
        assert_eq!(content_type, Some("application/problem+json"));
        let body = actix_web::body::to_bytes(panicked.into_body()).await.unwrap_or_default();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        assert_eq!(body["code"], "internal_error");
        assert_eq!(body["request_id"], "req-42");
        assert!(!body["detail"].as_str().unwrap_or_default().contains("told to panic"), "{body}");

        let after = test::call_service(&app, test::TestRequest::get().uri("/calm").to_request()).await;
        assert_eq!(after.status().as_u16(), 200);
    }
}
