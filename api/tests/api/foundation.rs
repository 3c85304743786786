//! Health, readiness, the error model, request ids and metrics.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, backend_tests, problem};

backend_tests!(
    health_and_readiness_answer_ok,
    an_unknown_route_is_a_problem_404,
    a_wrong_method_on_a_known_path_is_a_405_with_allow,
    malformed_json_is_a_problem_400,
    a_body_that_fails_validation_is_a_422_with_field_messages,
    a_missing_field_is_a_422_naming_the_field,
    a_body_over_one_mebibyte_is_a_problem_413,
    a_body_that_is_not_json_is_a_problem_415,
    an_exhausted_pool_is_a_503_with_retry_after,
    the_request_id_is_propagated_or_generated,
    metrics_count_requests_per_route,
    the_docs_page_is_served_without_a_cdn,
    every_response_carries_the_security_headers,
);

async fn every_response_carries_the_security_headers(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    for path in ["/healthz", "/api/v1/no-such-route", "/api/docs/"] {
        let response = app.client.get(app.url(path)).send().await.expect("request");
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert!(headers["content-security-policy"].to_str().unwrap_or("").contains("frame-ancestors 'none'"), "{path}");
        assert!(headers.get("strict-transport-security").is_none(), "no HSTS over plain HTTP");
    }
}

async fn health_and_readiness_answer_ok(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let health = app.client.get(app.url("/healthz")).send().await.expect("healthz");
    let ready = app.client.get(app.url("/readyz")).send().await.expect("readyz");

    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(ready.json::<Value>().await.expect("json"), json!({"status": "ok"}));
}

async fn an_unknown_route_is_a_problem_404(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let response = app.client.get(app.url("/api/v1/no-such-thing")).send().await.expect("request");

    let body = problem(response, StatusCode::NOT_FOUND).await;
    assert_eq!(body["code"], "route_not_found");
}

async fn a_wrong_method_on_a_known_path_is_a_405_with_allow(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let response = app.client.get(app.url("/api/v1/auth/signup")).send().await.expect("request");
    let with_id =
        app.client.put(app.url(&format!("/api/v1/users/{}", uuid::Uuid::now_v7()))).send().await.expect("request");

    assert_eq!(response.headers()["allow"], "POST");
    assert_eq!(problem(response, StatusCode::METHOD_NOT_ALLOWED).await["code"], "method_not_allowed");
    assert_eq!(with_id.headers()["allow"], "GET, PATCH, DELETE");
}

async fn malformed_json_is_a_problem_400(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let response = app
        .client
        .post(app.url("/api/v1/auth/signup"))
        .header("content-type", "application/json")
        .body(r#"{"company_name": "Acme", "#)
        .send()
        .await
        .expect("request");

    let body = problem(response, StatusCode::BAD_REQUEST).await;
    assert_eq!(body["code"], "malformed_json");
}

async fn a_body_that_fails_validation_is_a_422_with_field_messages(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let response = app
        .request(
            Method::POST,
            "/api/v1/auth/signup",
            None,
            Some(json!({"company_name": "", "name": "Ada", "email": "not-an-email", "password": "short"})),
        )
        .await;

    let body = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(body["code"], "validation_failed");
    assert_eq!(body["errors"]["email"], json!(["must be a valid email address"]));
    assert_eq!(body["errors"]["password"], json!(["must be between 10 and 256 characters long"]));
    assert!(body["errors"]["company_name"].is_array());
    assert!(body["errors"].get("name").is_none(), "valid fields carry no message");
}

async fn a_missing_field_is_a_422_naming_the_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let response = app
        .request(Method::POST, "/api/v1/auth/signup", None, Some(json!({"company_name": "Acme", "name": "Ada"})))
        .await;

    let body = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(body["errors"]["email"], json!(["is required"]));
}

async fn a_body_over_one_mebibyte_is_a_problem_413(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let huge = json!({"company_name": "x".repeat(1024 * 1024 + 10), "name": "a", "email": "a@b.test", "password": "0123456789"});

    let response = app.request(Method::POST, "/api/v1/auth/signup", None, Some(huge)).await;

    let body = problem(response, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_eq!(body["code"], "payload_too_large");
}

async fn a_body_that_is_not_json_is_a_problem_415(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "text/plain")
        .body("email=a@b.test")
        .send()
        .await
        .expect("request");

    let body = problem(response, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    assert_eq!(body["code"], "unsupported_media_type");
}

async fn an_exhausted_pool_is_a_503_with_retry_after(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("DB_POOL_SIZE", "1"), ("DB_ACQUIRE_TIMEOUT_MS", "300")]).await;
    let owner = app.signup("Busy").await;
    let pool = app.pool.clone();
    // Hold the only connection, as a stuck query or a burst of traffic would.
    let held = tokio::task::spawn_blocking(move || pool.get().expect("the only connection")).await.expect("join");

    let response = app.get("/api/v1/me", &owner.access_token).await;
    let ready = app.client.get(app.url("/readyz")).send().await.expect("readyz");

    assert_eq!(response.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("2"));
    let body = problem(response, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(body["code"], "database_unavailable");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(app.client.get(app.url("/healthz")).send().await.expect("healthz").status(), StatusCode::OK);
    drop(held);
    assert_eq!(app.get("/api/v1/me", &owner.access_token).await.status(), StatusCode::OK);
}

async fn the_request_id_is_propagated_or_generated(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let propagated =
        app.client.get(app.url("/nope")).header("x-request-id", "trace-abc-123").send().await.expect("req");
    let generated = app.client.get(app.url("/healthz")).send().await.expect("req");
    let hostile = app.client.get(app.url("/healthz")).header("x-request-id", "a b\tc").send().await.expect("req");

    assert_eq!(propagated.headers()["x-request-id"], "trace-abc-123");
    let body = problem(propagated, StatusCode::NOT_FOUND).await;
    assert_eq!(body["request_id"], "trace-abc-123");
    let generated_id = generated.headers()["x-request-id"].to_str().expect("ascii").to_owned();
    assert!(uuid::Uuid::parse_str(&generated_id).is_ok(), "{generated_id}");
    assert_ne!(hostile.headers()["x-request-id"], "a b\tc");
}

async fn metrics_count_requests_per_route(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Metered").await;
    for _ in 0..3 {
        app.client.get(app.url("/healthz")).send().await.expect("healthz");
    }
    app.get(&format!("/api/v1/users/{}", owner.user_id), &owner.access_token).await;
    app.client.get(app.url("/api/v1/nothing-here/123")).send().await.expect("404");

    let response = app.client.get(app.url("/metrics")).send().await.expect("metrics");

    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap_or("").starts_with("text/plain"));
    let text = response.text().await.expect("text");
    assert!(text.contains(r#"vigil_http_requests_total{method="GET",route="/healthz",status="200"} 3"#), "{text}");
    assert!(text.contains(r#"route="/api/v1/users/{user_id}",status="200""#), "ids are not labels: {text}");
    assert!(text.contains(r#"vigil_http_requests_total{method="GET",route="unmatched",status="404"} 1"#), "{text}");
    assert!(text.contains("vigil_http_request_duration_seconds_bucket"), "{text}");
    let odd = app.client.request(Method::from_bytes(b"FROBNICATE").expect("method"), app.url("/healthz")).send().await;
    assert!(odd.is_ok());
    let text = app.client.get(app.url("/metrics")).send().await.expect("metrics").text().await.expect("text");
    assert!(text.contains(r#"method="OTHER""#) && !text.contains("FROBNICATE"), "client methods never become labels");
}

async fn the_docs_page_is_served_without_a_cdn(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let page = app.client.get(app.url("/api/docs/")).send().await.expect("docs");
    let redirect = app.client.get(app.url("/api/docs")).send().await.expect("docs redirect");

    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("html");
    assert!(!html.contains("https://"), "the docs page loads nothing from the internet");
    let asset = app.client.get(app.url("/api/docs/swagger-ui-bundle.js")).send().await.expect("asset");
    assert_eq!(asset.status(), StatusCode::OK);
    assert!(redirect.status().is_redirection());
}

/// PostgreSQL refuses connections for a while (a restart, a failover): requests answer 503 quickly, the
/// process stays alive, and service resumes by itself afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_outage_is_a_503_and_service_resumes_without_a_restart() {
    if crate::helpers::skip_postgres() {
        return;
    }
    let app = TestApp::spawn_with(Backend::Postgres, &[("DB_ACQUIRE_TIMEOUT_MS", "500")]).await;
    let owner = app.signup("Outage").await;
    let name = app.postgres_database().expect("postgres").to_owned();
    let cut = format!(
        "ALTER DATABASE {name} ALLOW_CONNECTIONS false; \
         SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    );
    tokio::task::spawn_blocking(move || {
        for statement in cut.split("; ") {
            TestApp::postgres_admin(statement);
        }
    })
    .await
    .expect("join");

    let started = std::time::Instant::now();
    let during = app.get("/api/v1/me", &owner.access_token).await;
    let elapsed = started.elapsed();
    let ready = app.client.get(app.url("/readyz")).send().await.expect("readyz");
    let health = app.client.get(app.url("/healthz")).send().await.expect("healthz");

    assert!(elapsed < std::time::Duration::from_secs(5), "answered in {elapsed:?}, not hanging");
    assert!(during.headers().contains_key("retry-after"));
    assert_eq!(problem(during, StatusCode::SERVICE_UNAVAILABLE).await["code"], "database_unavailable");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(health.status(), StatusCode::OK);

    let restore = format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true");
    tokio::task::spawn_blocking(move || TestApp::postgres_admin(&restore)).await.expect("join");
    let mut status = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..20 {
        status = app.get("/api/v1/me", &owner.access_token).await.status();
        if status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert_eq!(status, StatusCode::OK, "service resumes after the database comes back");
}

/// The SPA may be served from a configured origin; browsers on any other origin get no CORS grant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_configured_origins_may_call_the_api_from_a_browser() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("CORS_ORIGINS", "http://localhost:5173")]).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(Method::OPTIONS, app.url("/api/v1/auth/login"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };

    let allowed = preflight("http://localhost:5173").await.expect("preflight");
    let refused = preflight("https://evil.example").await.expect("preflight");

    assert_eq!(allowed.headers()["access-control-allow-origin"], "http://localhost:5173");
    assert_eq!(allowed.headers()["access-control-allow-credentials"], "true");
    assert!(refused.headers().get("access-control-allow-origin").is_none());
    if !refused.status().is_success() {
        assert_eq!(refused.headers()["content-type"], "application/problem+json", "a refusal is a problem too");
    }
}

/// Past `RATE_LIMIT_PER_MINUTE`, a client gets 429 `rate_limited` with `Retry-After`; clients are users (by
/// token) or addresses (through trusted proxies), so one client's burst does not throttle another, and
/// probes and Stripe's webhooks are never limited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_over_the_general_rate_limit_gets_429_with_retry_after() {
    let app =
        TestApp::spawn_with(Backend::Sqlite, &[("RATE_LIMIT_PER_MINUTE", "5"), ("TRUSTED_PROXIES", "127.0.0.1")]).await;
    let ada = app.signup("Limited").await;
    let bob = app.signup("Other").await;
    let anonymous =
        |address: &'static str| app.client.get(app.url("/api/v1/tiers")).header("x-forwarded-for", address).send();

    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(app.get("/api/v1/me", &ada.access_token).await.status());
    }
    let over = app.get("/api/v1/me", &ada.access_token).await;
    let other_user = app.get("/api/v1/me", &bob.access_token).await;
    let mut from_one_address = Vec::new();
    for _ in 0..6 {
        from_one_address.push(anonymous("203.0.113.9").await.expect("tiers").status());
    }
    let other_address = anonymous("198.51.100.4").await.expect("tiers");
    let mut exempt = Vec::new();
    for path in ["/healthz", "/readyz", "/metrics"].repeat(3) {
        exempt.push(app.client.get(app.url(path)).send().await.expect("probe").status());
    }
    for _ in 0..6 {
        let hook = app.client.post(app.url("/api/v1/stripe/webhook")).body("{}").send().await.expect("hook");
        exempt.push(hook.status());
    }

    assert_eq!(statuses[..5], [StatusCode::OK; 5]);
    assert_eq!(statuses[5], StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = over.headers()["retry-after"].to_str().expect("ascii").parse().expect("seconds");
    assert!((1..=12).contains(&retry_after), "one request's share of a minute: {retry_after}");
    assert_eq!(problem(over, StatusCode::TOO_MANY_REQUESTS).await["code"], "rate_limited");
    assert_eq!(other_user.status(), StatusCode::OK, "another user has a budget of their own");
    assert_eq!(from_one_address[..5], [StatusCode::OK; 5]);
    assert_eq!(from_one_address[5], StatusCode::TOO_MANY_REQUESTS, "anonymous clients are limited by address");
    assert_eq!(other_address.status(), StatusCode::OK, "another address behind the proxy has its own budget");
    assert!(!exempt.contains(&StatusCode::TOO_MANY_REQUESTS), "probes and webhooks are never limited: {exempt:?}");
}
