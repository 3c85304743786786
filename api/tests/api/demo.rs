//! `vigil demo`: a newcomer who signs in as the demo owner finds every page filled.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Backend, TestApp, backend_tests};

backend_tests!(the_demo_company_fills_every_page_and_is_seeded_once);

async fn the_demo_company_fills_every_page_and_is_seeded_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let first = vigil::demo::seed(&app.pool, &app.config).await.expect("demo seeds");
    let again = vigil::demo::seed(&app.pool, &app.config).await.expect("demo runs again");
    assert!(first.created && !again.created);
    assert_eq!(first.company, again.company);

    let signed_in = app
        .request(
            reqwest::Method::POST,
            "/api/v1/auth/login",
            None,
            Some(serde_json::json!({"email": vigil::demo::DEMO_EMAIL, "password": vigil::demo::DEMO_PASSWORD})),
        )
        .await;
    assert_eq!(signed_in.status(), StatusCode::OK, "the printed sign-in works");
    let token = signed_in.json::<Value>().await.expect("json")["access_token"].as_str().expect("token").to_owned();
    let get = |path: &'static str| {
        let (app, token) = (&app, token.clone());
        async move {
            let response = app.get(path, &token).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            response.json::<Value>().await.expect("json")
        }
    };
    let billing = get("/api/v1/billing").await;
    assert_eq!(billing["subscription"]["tier"], "PRO");
    assert_eq!(billing["usage"]["active_employees"]["used"], 42);
    assert!(billing["usage"]["storage_bytes"]["used"].as_i64().unwrap_or(0) > 0);

    let agents = get("/api/v1/agents?per_page=100").await;
    let states: BTreeSet<&str> =
        agents["data"].as_array().expect("agents").iter().filter_map(|a| a["status"].as_str()).collect();
    assert_eq!(states, BTreeSet::from(["OFFLINE", "ONLINE"]));

    let invoices = get("/api/v1/billing/invoices?per_page=100").await;
    let statuses: BTreeSet<&str> =
        invoices["data"].as_array().expect("invoices").iter().filter_map(|i| i["status"].as_str()).collect();
    assert_eq!(statuses, BTreeSet::from(["DRAFT", "OPEN", "PAID", "UNCOLLECTIBLE", "VOID"]));

    let alerts = get("/api/v1/alerts?per_page=100").await;
    let kinds: BTreeSet<&str> =
        alerts["data"].as_array().expect("alerts").iter().filter_map(|a| a["type"].as_str()).collect();
    assert_eq!(
        kinds,
        BTreeSet::from([
            "AGENT_OFFLINE",
            "PAYMENT_FAILED",
            "PAYMENT_RECOVERED",
            "POLICY_CHANGED",
            "SUBSCRIPTION_CANCELLED",
            "SUBSCRIPTION_EXPIRING",
            "USAGE_HIGH"
        ])
    );
    let users = get("/api/v1/users").await;
    assert_eq!(users["total"], 4);

    let employee = agents["data"][0]["employee_id"].as_str().expect("an agent's employee").to_owned();
    let day: Value =
        app.get(&format!("/api/v1/employees/{employee}/activity"), &token).await.json().await.expect("json");
    let screenshots: Value =
        app.get(&format!("/api/v1/employees/{employee}/screenshots"), &token).await.json().await.expect("json");
    assert!(day["active_secs"].as_i64().unwrap_or(0) > 0 || screenshots["total"].as_i64().unwrap_or(0) > 0, "{day}");
    let image =
        app.client.get(app.url(screenshots["data"][0]["url"].as_str().expect("url"))).send().await.expect("image");
    assert_eq!(image.headers()["content-type"], "image/png");
}
