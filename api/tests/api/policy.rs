//! The agent policy: versioned, validated, audited, and gated by the tier's features.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, backend_tests, problem};

backend_tests!(
    a_policy_change_bumps_the_version_and_is_audited,
    screenshots_need_a_plan_that_includes_them,
    out_of_range_settings_get_field_messages,
    only_owners_admins_and_read_write_keys_change_the_policy,
);

fn settings_with(changes: Value) -> Value {
    let mut settings = json!({"screenshots_enabled": false, "screenshot_interval_secs": 300, "website_tracking_enabled": false,
        "activity_tracking_enabled": true, "idle_threshold_secs": 300, "offline_threshold_secs": 600, "heartbeat_interval_secs": 60});
    for (key, value) in changes.as_object().expect("object") {
        settings[key] = value.clone();
    }
    settings
}

async fn put_policy(app: &TestApp, token: &str, settings: Value) -> reqwest::Response {
    app.request(Method::PUT, "/api/v1/policy", Some(token), Some(settings)).await
}

async fn a_policy_change_bumps_the_version_and_is_audited(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let initial: Value = app.get("/api/v1/policy", &owner.access_token).await.json().await.expect("json");

    let changed: Value = put_policy(&app, &owner.access_token, settings_with(json!({"offline_threshold_secs": 900})))
        .await
        .json()
        .await
        .expect("json");
    let same: Value = put_policy(&app, &owner.access_token, settings_with(json!({"offline_threshold_secs": 900})))
        .await
        .json()
        .await
        .expect("json");

    assert_eq!(initial["version"], 1);
    assert_eq!(
        (changed["version"].as_i64(), changed["settings"]["offline_threshold_secs"].as_i64()),
        (Some(2), Some(900))
    );
    assert_eq!(same["version"], 2, "the same settings are not a new version");
    let audit: Value =
        app.get("/api/v1/audit-logs?action=policy.updated", &owner.access_token).await.json().await.expect("json");
    assert_eq!(audit["total"], 1);
    assert_eq!(audit["data"][0]["details"]["to"]["offline_threshold_secs"], 900);
}

async fn screenshots_need_a_plan_that_includes_them(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;

    let refused = put_policy(
        &app,
        &owner.access_token,
        settings_with(json!({"screenshots_enabled": true, "website_tracking_enabled": true})),
    )
    .await;

    let body = problem(refused, StatusCode::FORBIDDEN).await;
    assert_eq!(body["code"], "feature_not_in_plan");
    assert_eq!(body["errors"]["screenshots_enabled"], json!(["is not included in the Free plan; upgrade to PRO"]));
    assert!(body["errors"]["website_tracking_enabled"].is_array());
    let unchanged: Value = app.get("/api/v1/policy", &owner.access_token).await.json().await.expect("json");
    assert_eq!(unchanged["version"], 1);
    app.execute_sql(&format!("UPDATE subscriptions SET tier_code = 'PRO' WHERE company_id = '{}'", owner.company_id))
        .await;
    let allowed = put_policy(&app, &owner.access_token, settings_with(json!({"screenshots_enabled": true}))).await;
    assert_eq!(allowed.status(), StatusCode::OK, "PRO includes screenshots");
}

async fn out_of_range_settings_get_field_messages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;

    let response = put_policy(
        &app,
        &owner.access_token,
        settings_with(json!({"heartbeat_interval_secs": 1, "idle_threshold_secs": 99999})),
    )
    .await;

    let body = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(body["errors"]["heartbeat_interval_secs"], json!(["must be between 15 and 600 seconds"]));
    assert!(body["errors"]["idle_threshold_secs"].is_array());
}

async fn only_owners_admins_and_read_write_keys_change_the_policy(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let manager = app.add_user(&owner, "MANAGER").await;
    let (_, read_key) = app.api_key(&owner, "read").await;
    let (_, write_key) = app.api_key(&owner, "read_write").await;

    assert_eq!(app.get("/api/v1/policy", &manager.access_token).await.status(), StatusCode::OK);
    assert_eq!(put_policy(&app, &manager.access_token, settings_with(json!({}))).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        put_policy(&app, &read_key, settings_with(json!({"idle_threshold_secs": 200}))).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        put_policy(&app, &write_key, settings_with(json!({"idle_threshold_secs": 200}))).await.status(),
        StatusCode::OK
    );
}
