//! The audit log: written for every change, filtered and paginated, and never changed.

use diesel::RunQueryDsl;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, backend_tests};

backend_tests!(
    every_account_change_is_audited_with_actor_and_origin,
    audit_entries_filter_by_action_actor_and_time,
    audit_entries_cannot_be_changed_through_the_api_or_sql,
);

/// Behind a configured load balancer the client's address comes from `X-Forwarded-For`; from anyone else
/// that header is ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_address_is_taken_from_trusted_proxies_only() {
    let direct = TestApp::spawn(Backend::Sqlite).await;
    let proxied = TestApp::spawn_with(Backend::Sqlite, &[("TRUSTED_PROXIES", "127.0.0.1")]).await;
    let mut seen = Vec::new();

    for app in [&direct, &proxied] {
        let owner = app.signup("Acme").await;
        app.client
            .post(app.url("/api/v1/auth/login"))
            .header("x-forwarded-for", "198.51.100.4, 203.0.113.9")
            .json(&json!({"email": owner.email, "password": "wrong password!"}))
            .send()
            .await
            .expect("login");
        let page: Value = app
            .get("/api/v1/audit-logs?action=auth.login_failed", &owner.access_token)
            .await
            .json()
            .await
            .expect("json");
        seen.push(page["data"][0]["client_ip"].clone());
    }

    assert_eq!(seen, vec![json!("127.0.0.1"), json!("203.0.113.9")]);
}

async fn actions(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let page: Value =
        app.get(&format!("/api/v1/audit-logs?per_page=100{query}"), token).await.json().await.expect("json");
    page["data"].as_array().expect("data").iter().map(|e| e["action"].as_str().unwrap_or_default().to_owned()).collect()
}

async fn every_account_change_is_audited_with_actor_and_origin(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let viewer = app.add_user(&owner, "VIEWER").await;
    app.patch(&format!("/api/v1/users/{}", viewer.user_id), &owner.access_token, json!({"role": "MANAGER"})).await;
    app.patch(&format!("/api/v1/users/{}", viewer.user_id), &owner.access_token, json!({"active": false})).await;
    app.request(
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({"email": owner.email, "password": "wrong password!"})),
    )
    .await;
    let (key_id, _) = app.api_key(&owner, "read").await;
    app.delete(&format!("/api/v1/api-keys/{key_id}"), &owner.access_token).await;

    let logged = actions(&app, &owner.access_token, "").await;

    for action in [
        "company.signed_up",
        "user.created",
        "auth.login",
        "user.role_changed",
        "user.disabled",
        "auth.login_failed",
        "api_key.created",
        "api_key.revoked",
    ] {
        assert!(logged.iter().any(|a| a == action), "{action} missing from {logged:?}");
    }
    let page: Value =
        app.get("/api/v1/audit-logs?action=user.role_changed", &owner.access_token).await.json().await.expect("json");
    let entry = &page["data"][0];
    assert_eq!(entry["actor_type"], "user");
    assert_eq!(entry["actor_id"], owner.user_id);
    assert_eq!(entry["target_id"], viewer.user_id);
    assert_eq!(entry["details"], json!({"from": "VIEWER", "to": "MANAGER"}));
    assert_eq!(entry["client_ip"], "127.0.0.1");
    assert!(entry["request_id"].is_string());
}

async fn audit_entries_filter_by_action_actor_and_time(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let admin = app.add_user(&owner, "ADMIN").await;
    app.add_user(&admin, "VIEWER").await;

    let by_admin =
        actions(&app, &owner.access_token, &format!("&actor_id={}&action=user.created", admin.user_id)).await;
    let future = actions(&app, &owner.access_token, "&from=2999-01-01T00:00:00Z").await;
    let past = actions(&app, &owner.access_token, "&to=2000-01-01T00:00:00Z").await;
    let paged: Value =
        app.get("/api/v1/audit-logs?per_page=2&page=2", &owner.access_token).await.json().await.expect("json");
    let inverted =
        app.get("/api/v1/audit-logs?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", &owner.access_token).await;
    let too_big = app.get("/api/v1/audit-logs?per_page=1000", &owner.access_token).await;

    assert_eq!(by_admin, vec!["user.created".to_owned()]);
    assert!(future.is_empty() && past.is_empty());
    assert_eq!(paged["page"], 2);
    assert_eq!(paged["data"].as_array().map(Vec::len), Some(2));
    assert!(paged["total"].as_i64().unwrap_or(0) >= 5);
    assert_eq!(inverted.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(too_big.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

async fn audit_entries_cannot_be_changed_through_the_api_or_sql(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let page: Value = app.get("/api/v1/audit-logs", &owner.access_token).await.json().await.expect("json");
    let id = page["data"][0]["id"].as_str().expect("an entry").to_owned();

    let deleted = app.delete(&format!("/api/v1/audit-logs/{id}"), &owner.access_token).await;
    let patched = app.patch(&format!("/api/v1/audit-logs/{id}"), &owner.access_token, json!({"action": "x"})).await;
    let pool = app.pool.clone();
    let (update, delete) = tokio::task::spawn_blocking(move || {
        let mut conn = pool.get().expect("connection");
        let update = diesel::sql_query("UPDATE audit_logs SET action = 'tampered'").execute(&mut conn);
        let delete = diesel::sql_query("DELETE FROM audit_logs").execute(&mut conn);
        (update, delete)
    })
    .await
    .expect("join");

    assert_eq!(deleted.status(), StatusCode::NOT_FOUND);
    assert_eq!(patched.status(), StatusCode::NOT_FOUND);
    assert!(update.is_err_and(|e| e.to_string().contains("append-only")));
    assert!(delete.is_err_and(|e| e.to_string().contains("append-only")));
    let after: Value = app.get("/api/v1/audit-logs", &owner.access_token).await.json().await.expect("json");
    assert_eq!(after["total"], page["total"]);
}
