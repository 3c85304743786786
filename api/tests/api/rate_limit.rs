//! The general rate limit: who counts as a client, what it keeps in memory, and the RateLimit fields.

use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Backend, TestApp, backend_tests, problem};

backend_tests!(
    made_up_credentials_share_their_address_budget_and_the_limiter_stays_small,
    a_verified_api_key_has_a_budget_of_its_own,
    limited_responses_and_their_429_carry_the_ratelimit_fields,
    a_percent_encoded_api_path_is_limited_like_the_plain_one,
    a_client_cannot_pick_its_address_around_a_proxy_hop_it_cannot_read,
    a_revoked_key_loses_its_budget_of_its_own,
    a_companys_api_keys_share_one_budget,
);

/// 20,000 requests with made-up `vigil_sk_…` and `vigil_ag_…` tokens from one address, to the endpoints they
/// would reach (including refresh and enroll): the address's budget applies to all of them, and the limiter
/// keeps one budget, not one per token.
async fn made_up_credentials_share_their_address_budget_and_the_limiter_stays_small(backend: Backend) {
    // A budget of one request a minute, so that what refills while the test runs stays small.
    let app = TestApp::spawn_with(backend, &[("RATE_LIMIT_PER_MINUTE", "1")]).await;
    let targets = [
        (Method::GET, "/api/v1/employees", "vigil_sk_"),
        (Method::POST, "/api/v1/agent/heartbeat", "vigil_ag_"),
        (Method::POST, "/api/v1/auth/refresh", "vigil_sk_"),
        (Method::POST, "/api/v1/agent/enroll", "vigil_ag_"),
    ];

    let statuses: Vec<StatusCode> = futures_util::stream::iter(0..20_000)
        .map(|n| {
            let (method, path, prefix) = &targets[n % targets.len()];
            let token = format!("{prefix}{}", uuid::Uuid::new_v4().simple());
            let request = app.client.request(method.clone(), app.url(path)).bearer_auth(token).json(&json!({}));
            async move { request.send().await.expect("request").status() }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let admitted = statuses.iter().filter(|status| **status != StatusCode::TOO_MANY_REQUESTS).count();
    let clients = app.metric("vigil_rate_limit_clients").await;

    // The budget of one address (one), and one more for every minute the test runs.
    assert!((1..=20).contains(&admitted), "{admitted} of 20000 requests with made-up tokens got through");
    assert!(clients <= 2.0, "the limiter keeps {clients} budgets after 20000 made-up tokens");
}

/// A key the server has verified is a client of its own: once its first request proves it, an address that
/// is out of budget does not stop it, and its own budget applies.
async fn a_verified_api_key_has_a_budget_of_its_own(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("RATE_LIMIT_PER_MINUTE", "5")]).await;
    let owner = app.signup("Keyed").await;
    let (_, key) = app.api_key(&owner, "read").await;
    let anonymous = || app.client.get(app.url("/api/v1/tiers")).send();

    let first = app.get("/api/v1/employees", &key).await.status();
    let mut spent = false;
    for _ in 0..10 {
        if anonymous().await.expect("tiers").status() == StatusCode::TOO_MANY_REQUESTS {
            spent = true;
            break;
        }
    }
    let mut with_the_key = Vec::new();
    for _ in 0..6 {
        with_the_key.push(app.get("/api/v1/employees", &key).await);
    }
    let still_spent = anonymous().await.expect("tiers").status();

    assert_eq!(first, StatusCode::OK, "the key's first request is charged to its address");
    assert!(spent, "the address's budget runs out");
    let statuses: Vec<StatusCode> = with_the_key.iter().map(reqwest::Response::status).collect();
    assert_eq!(statuses[..5], [StatusCode::OK; 5], "the verified key is counted on a whole budget of its own");
    assert_eq!(still_spent, StatusCode::TOO_MANY_REQUESTS, "and not on the address's");
    let over = with_the_key.pop().expect("six");
    assert_eq!(problem(over, StatusCode::TOO_MANY_REQUESTS).await["code"], "rate_limited", "its own budget applies");
}

/// Every limited response says the policy and what is left (draft-ietf-httpapi-ratelimit-headers); the 429
/// says it too, with `Retry-After`. Probes are not limited and carry neither.
async fn limited_responses_and_their_429_carry_the_ratelimit_fields(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("RATE_LIMIT_PER_MINUTE", "5")]).await;
    let mut fields = Vec::new();
    for _ in 0..5 {
        let response = app.client.get(app.url("/api/v1/tiers")).send().await.expect("tiers");
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers();
        fields.push((headers["ratelimit-policy"].to_str().expect("ascii").to_owned(), headers["ratelimit"].clone()));
    }
    let refused = app.client.get(app.url("/api/v1/tiers")).send().await.expect("tiers");
    let probe = app.client.get(app.url("/healthz")).send().await.expect("probe");

    for (policy, _) in &fields {
        assert_eq!(policy, "\"default\";q=5;w=60");
    }
    let states: Vec<&str> = fields.iter().map(|(_, state)| state.to_str().expect("ascii")).collect();
    // One request's share of a minute is 12 s: the budget is whole again 12 s per request spent.
    assert_eq!(
        states,
        [
            "\"default\";r=4;t=12",
            "\"default\";r=3;t=24",
            "\"default\";r=2;t=36",
            "\"default\";r=1;t=48",
            "\"default\";r=0;t=60"
        ]
    );
    let headers = refused.headers().clone();
    assert_eq!(headers["ratelimit-policy"], "\"default\";q=5;w=60");
    let state = headers["ratelimit"].to_str().expect("ascii");
    let reset: u64 = state.strip_prefix("\"default\";r=0;t=").expect("r=0 on a 429").parse().expect("seconds");
    let retry_after: u64 = headers["retry-after"].to_str().expect("ascii").parse().expect("seconds");
    assert!((1..=12).contains(&retry_after), "Retry-After: {retry_after}");
    assert!((retry_after..=60).contains(&reset), "t={reset} lies between Retry-After and the window");
    assert_eq!(problem(refused, StatusCode::TOO_MANY_REQUESTS).await["code"], "rate_limited");
    assert!(probe.headers().get("ratelimit").is_none() && probe.headers().get("ratelimit-policy").is_none());
}

/// `/%61pi/v1/tiers` is routed to `/api/v1/tiers`; it must not pass the limiter as a web app file.
async fn a_percent_encoded_api_path_is_limited_like_the_plain_one(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("RATE_LIMIT_PER_MINUTE", "2")]).await;
    let encoded = format!("{}/%61pi/v1/tiers", app.address);
    let first = app.client.get(&encoded).send().await.expect("tiers");
    assert_eq!(first.status(), StatusCode::OK, "the encoded path reaches the API");
    assert!(first.headers().get("ratelimit").is_some(), "and is limited");

    let statuses: Vec<StatusCode> = futures_util::stream::iter(0..5)
        .then(|_| async { app.client.get(&encoded).send().await.expect("tiers").status() })
        .collect()
        .await;

    assert!(statuses.contains(&StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
}

/// Our proxy appends the client as `unknown` (or with a port). Whatever the client puts further left in
/// `X-Forwarded-For`, it does not get a fresh budget per request.
async fn a_client_cannot_pick_its_address_around_a_proxy_hop_it_cannot_read(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("RATE_LIMIT_PER_MINUTE", "2"), ("TRUSTED_PROXIES", "127.0.0.1")]).await;
    for appended in ["unknown", "203.0.113.9:5678"] {
        let mut statuses = Vec::new();
        for n in 0..6 {
            let forged = format!("198.51.100.{n}, {appended}");
            let response =
                app.client.get(app.url("/api/v1/tiers")).header("x-forwarded-for", forged).send().await.expect("tiers");
            statuses.push(response.status());
        }
        let admitted = statuses.iter().filter(|status| **status == StatusCode::OK).count();
        assert!(admitted <= 2, "{appended}: {admitted} of 6 forged addresses got through: {statuses:?}");
    }
}

/// Once a verified key is revoked, its first refused request ends its budget of its own: from then on it is
/// counted by its address, like any made-up token.
async fn a_revoked_key_loses_its_budget_of_its_own(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("RATE_LIMIT_PER_MINUTE", "5")]).await;
    let owner = app.signup("Revoked").await;
    let (key_id, key) = app.api_key(&owner, "read").await;
    assert_eq!(app.get("/api/v1/employees", &key).await.status(), StatusCode::OK, "verified");
    let revoked = app.delete(&format!("/api/v1/api-keys/{key_id}"), &owner.access_token).await;
    assert!(revoked.status().is_success(), "{}", revoked.status());
    for _ in 0..10 {
        if app.client.get(app.url("/api/v1/tiers")).send().await.expect("tiers").status()
            == StatusCode::TOO_MANY_REQUESTS
        {
            break;
        }
    }

    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(app.get("/api/v1/employees", &key).await.status());
    }

    assert_eq!(
        statuses,
        [StatusCode::UNAUTHORIZED, StatusCode::TOO_MANY_REQUESTS, StatusCode::TOO_MANY_REQUESTS],
        "after one refusal the revoked key shares its address's spent budget"
    );
}

/// Minting more keys buys no more requests: a company's verified keys are counted on one budget.
async fn a_companys_api_keys_share_one_budget(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("RATE_LIMIT_PER_MINUTE", "5")]).await;
    let owner = app.signup("Many Keys").await;
    let (_, first) = app.api_key(&owner, "read").await;
    let (_, second) = app.api_key(&owner, "read").await;
    // Each key's first request proves it (and is charged to the address).
    for key in [&first, &second] {
        assert_eq!(app.get("/api/v1/employees", key).await.status(), StatusCode::OK);
    }

    let mut statuses = Vec::new();
    for n in 0..6 {
        let key = if n % 2 == 0 { &first } else { &second };
        statuses.push(app.get("/api/v1/employees", key).await.status());
    }

    assert_eq!(statuses[..5], [StatusCode::OK; 5], "{statuses:?}");
    assert_eq!(statuses[5], StatusCode::TOO_MANY_REQUESTS, "two keys, one budget of five: {statuses:?}");
}
