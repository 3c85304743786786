//! API keys: shown once, stored as a hash, scoped, revocable at once.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, backend_tests, problem};

backend_tests!(
    a_key_is_shown_once_and_listed_by_its_prefix,
    a_key_authenticates_for_its_company_and_records_its_use,
    a_key_never_reaches_user_or_key_management,
    a_revoked_key_stops_working_at_once,
    only_owners_and_admins_manage_keys,
);

async fn a_key_is_shown_once_and_listed_by_its_prefix(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;

    let (id, key) = app.api_key(&owner, "read").await;
    let listed: Value = app.get("/api/v1/api-keys", &owner.access_token).await.json().await.expect("json");

    assert!(key.starts_with("vigil_sk_") && key.len() > 40, "{key}");
    assert_eq!(listed["total"], 1);
    let entry = &listed["data"][0];
    assert_eq!(entry["id"], id);
    assert_eq!(entry["scope"], "read");
    assert!(key.starts_with(entry["prefix"].as_str().expect("prefix")));
    assert!(!listed.to_string().contains(&key), "the secret is never listed");
}

async fn a_key_authenticates_for_its_company_and_records_its_use(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let (_, key) = app.api_key(&owner, "read").await;

    let audit = app.get("/api/v1/audit-logs", &key).await;

    assert_eq!(audit.status(), StatusCode::OK);
    let entries: Value = audit.json().await.expect("json");
    assert!(entries["total"].as_i64().unwrap_or(0) >= 2, "the company's own entries: {entries}");
    let listed: Value = app.get("/api/v1/api-keys", &owner.access_token).await.json().await.expect("json");
    assert!(listed["data"][0]["last_used_at"].is_string(), "{listed}");
}

async fn a_key_never_reaches_user_or_key_management(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let (_, key) = app.api_key(&owner, "read_write").await;

    let users = app.get("/api/v1/users", &key).await;
    let new_key = app.post("/api/v1/api-keys", &key, json!({"name": "escalate", "scope": "read_write"})).await;
    let me = app.get("/api/v1/me", &key).await;

    assert_eq!(problem(users, StatusCode::FORBIDDEN).await["code"], "forbidden");
    assert_eq!(new_key.status(), StatusCode::FORBIDDEN);
    assert_eq!(me.status(), StatusCode::FORBIDDEN);
}

async fn a_revoked_key_stops_working_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let (id, key) = app.api_key(&owner, "read").await;
    assert_eq!(app.get("/api/v1/audit-logs", &key).await.status(), StatusCode::OK);

    let revoked = app.delete(&format!("/api/v1/api-keys/{id}"), &owner.access_token).await;

    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        problem(app.get("/api/v1/audit-logs", &key).await, StatusCode::UNAUTHORIZED).await["code"],
        "unauthenticated"
    );
    let listed: Value = app.get("/api/v1/api-keys", &owner.access_token).await.json().await.expect("json");
    assert!(listed["data"][0]["revoked_at"].is_string());
    let again = app.delete(&format!("/api/v1/api-keys/{id}"), &owner.access_token).await;
    assert_eq!(again.status(), StatusCode::NO_CONTENT, "revoking twice is harmless");
}

async fn only_owners_and_admins_manage_keys(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let manager = app.add_user(&owner, "MANAGER").await;

    let created = app.post("/api/v1/api-keys", &manager.access_token, json!({"name": "mine", "scope": "read"})).await;
    let invalid = app.post("/api/v1/api-keys", &owner.access_token, json!({"name": "", "scope": "admin"})).await;

    assert_eq!(created.status(), StatusCode::FORBIDDEN);
    assert_eq!(problem(invalid, StatusCode::UNPROCESSABLE_ENTITY).await["code"], "validation_failed");
}
