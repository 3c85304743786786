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
use actix_web::{ResponseError, web};
use futures_util::FutureExt;

use crate::error::ApiError;
use crate::http::metrics::Metrics;

/// Catches a panic of the inner service and answers 500 `internal_error` in its place.
pub async fn catch_panic(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let request = req.request().clone();
    match AssertUnwindSafe(next.call(req)).catch_unwind().await {
        Ok(outcome) => outcome.map(ServiceResponse::map_into_left_body),
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|text| (*text).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_owned());
            if let Some(metrics) = request.app_data::<web::Data<Metrics>>() {
                metrics.panic_caught();
            }
            let error = ApiError::Internal(anyhow::anyhow!(
                "the handler of {} {} panicked: {message}",
                request.method(),
                request.path()
            ));
            let response = error.error_response();
            Ok(ServiceResponse::new(request, response).map_into_right_body())
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

        let panicked = crate::http::request_id::scope("req-42".to_owned(), async {
            test::call_service(&app, test::TestRequest::get().uri("/boom").to_request()).await
        })
        .await;
        assert_eq!(panicked.status().as_u16(), 500);
        let content_type = panicked.headers().get("content-type").and_then(|value| value.to_str().ok());
        assert_eq!(content_type, Some("application/problem+json"));
        let body: serde_json::Value = test::read_body_json(panicked).await;
        assert_eq!(body["code"], "internal_error");
        assert_eq!(body["request_id"], "req-42");
        assert!(!body["detail"].as_str().unwrap_or_default().contains("told to panic"), "{body}");

        let after = test::call_service(&app, test::TestRequest::get().uri("/calm").to_request()).await;
        assert_eq!(after.status().as_u16(), 200);
    }
}
