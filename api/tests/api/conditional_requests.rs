//! Conditional reads: every single-resource GET carries a strong `ETag`; `If-None-Match` with it answers
//! 304 with no body (weak comparison, `*` included), a changed resource answers 200 with a new tag, and a 304
//! costs no rate limit while a tag that does not match is charged like any read.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, Session, TestApp, backend_tests};

backend_tests!(
    every_single_resource_read_is_tagged_and_if_none_match_answers_304,
    a_change_gives_a_new_tag_and_the_old_one_gets_the_resource,
    a_304_costs_no_rate_limit_and_a_tag_that_does_not_match_is_charged,
    the_tag_of_a_url_every_company_shares_is_never_another_companys,
);

async fn conditional(app: &TestApp, session: &Session, path: &str, tag: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(&session.access_token)
        .header("if-none-match", tag)
        .send()
        .await
        .expect("request")
}

async fn tag_of(app: &TestApp, session: &Session, path: &str) -> String {
    let response = app.get(path, &session.access_token).await;
    assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    response.headers().get("etag").unwrap_or_else(|| panic!("{path} has an ETag")).to_str().expect("ascii").to_owned()
}

async fn every_single_resource_read_is_tagged_and_if_none_match_answers_304(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Tagged Co").await;
    let employee = app.add_employee(&owner, "ada@tagged.test").await;
    let agent = app.add_agent(&owner, Some("ada@tagged.test")).await;
    let endpoint = app
        .post(
            "/api/v1/webhook-endpoints",
            &owner.access_token,
            json!({"url": "https://hooks.example.com/vigil", "description": "ours"}),
        )
        .await;
    assert_eq!(endpoint.status(), StatusCode::CREATED);
    let endpoint = endpoint.json::<serde_json::Value>().await.expect("json")["id"].as_str().expect("id").to_owned();
    let paths = [
        "/api/v1/me".to_owned(),
        format!("/api/v1/users/{}", owner.user_id),
        format!("/api/v1/employees/{employee}"),
        format!("/api/v1/agents/{}", agent.id),
        format!("/api/v1/webhook-endpoints/{endpoint}"),
        "/api/v1/policy".to_owned(),
        "/api/v1/billing".to_owned(),
        "/api/v1/billing/subscription".to_owned(),
        "/api/v1/billing/settings".to_owned(),
        "/api/v1/alerts/unread-count".to_owned(),
        "/api/v1/tiers".to_owned(),
    ];
    for path in &paths {
        let tag = tag_of(&app, &owner, path).await;
        assert!(tag.starts_with('"') && tag.ends_with('"'), "{path}: a strong tag, not a weak one: {tag}");
        assert_eq!(tag_of(&app, &owner, path).await, tag, "{path}: the same resource, the same tag");
        for condition in [tag.clone(), format!("W/{tag}"), format!("\"other\", {tag}"), "*".to_owned()] {
            let response = conditional(&app, &owner, path, &condition).await;
            assert_eq!(response.status(), StatusCode::NOT_MODIFIED, "{path} with If-None-Match: {condition}");
            assert_eq!(response.headers().get("etag").map(|v| v.to_str().expect("ascii")), Some(tag.as_str()));
            assert!(response.bytes().await.expect("body").is_empty(), "{path}: a 304 has no body");
        }
        let response = conditional(&app, &owner, path, "\"not-the-tag\"").await;
        assert_eq!(response.status(), StatusCode::OK, "{path}: another tag gets the resource");
        // A malformed condition is no condition.
        let response = conditional(&app, &owner, path, "not quoted").await;
        assert_eq!(response.status(), StatusCode::OK, "{path}: a malformed If-None-Match is ignored");
    }
}

async fn a_change_gives_a_new_tag_and_the_old_one_gets_the_resource(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Changing Co").await;
    let employee = app.add_employee(&owner, "bo@changing.test").await;
    let path = format!("/api/v1/employees/{employee}");
    let before = tag_of(&app, &owner, &path).await;
    let dashboard = tag_of(&app, &owner, "/api/v1/billing").await;
    let patched = app.patch(&path, &owner.access_token, json!({"job_title": "Pilot"})).await;
    assert_eq!(patched.status(), StatusCode::OK);
    let response = conditional(&app, &owner, &path, &before).await;
    assert_eq!(response.status(), StatusCode::OK, "the client's copy is stale");
    let after = response.headers().get("etag").expect("etag").to_str().expect("ascii").to_owned();
    assert_ne!(after, before);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["job_title"], "Pilot");
    // A digest-tagged resource follows its content too: one more employee changes the dashboard's usage.
    app.add_employee(&owner, "cy@changing.test").await;
    let response = conditional(&app, &owner, "/api/v1/billing", &dashboard).await;
    assert_eq!(response.status(), StatusCode::OK, "the dashboard changed");
    assert_ne!(response.headers().get("etag").expect("etag").to_str().expect("ascii"), dashboard);
}

async fn a_304_costs_no_rate_limit_and_a_tag_that_does_not_match_is_charged(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("RATE_LIMIT_PER_MINUTE", "5")]).await;
    let owner = app.signup("Polling Co").await;
    let tag = tag_of(&app, &owner, "/api/v1/me").await;
    for n in 0..20 {
        let response = conditional(&app, &owner, "/api/v1/me", &tag).await;
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED, "poll {n} is a 304, never a 429");
        let left = response.headers().get("ratelimit").expect("RateLimit").to_str().expect("ascii").to_owned();
        assert!(left.contains("r=4"), "the budget stays where the first read left it: {left}");
    }
    let statuses: Vec<StatusCode> = {
        let mut statuses = Vec::new();
        for _ in 0..5 {
            statuses.push(conditional(&app, &owner, "/api/v1/me", "\"stale\"").await.status());
        }
        statuses
    };
    assert_eq!(statuses[..4], [StatusCode::OK; 4], "a tag that does not match is a read");
    assert_eq!(statuses[4], StatusCode::TOO_MANY_REQUESTS, "and is charged as one");
    let response = conditional(&app, &owner, "/api/v1/me", &tag).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS, "an empty budget refuses even a conditional read");

    // `*` matches whatever exists, so its 304 proves nothing was cached: it is charged.
    let other = app.signup("Starry Co").await;
    let statuses: Vec<StatusCode> = {
        let mut statuses = Vec::new();
        for _ in 0..6 {
            statuses.push(conditional(&app, &other, "/api/v1/me", "*").await.status());
        }
        statuses
    };
    assert_eq!(statuses[..5], [StatusCode::NOT_MODIFIED; 5]);
    assert_eq!(statuses[5], StatusCode::TOO_MANY_REQUESTS, "If-None-Match: * is not refunded");
}

/// `/policy` and `/billing/settings` are one URL for every company, and new companies start at the same
/// version: a browser's copy of one company's answer must not be "not modified" for another's session.
async fn the_tag_of_a_url_every_company_shares_is_never_another_companys(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let first = app.signup("First Co").await;
    let second = app.signup("Second Co").await;
    for path in ["/api/v1/policy", "/api/v1/billing/settings"] {
        let theirs = tag_of(&app, &first, path).await;
        assert_ne!(tag_of(&app, &second, path).await, theirs, "{path}: each company's own tag");
        let response = conditional(&app, &second, path, &theirs).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}: another company's copy is not current");
        assert_eq!(
            response.headers().get("cache-control").map(|v| v.to_str().expect("ascii")),
            Some("private, no-cache")
        );
    }
}
