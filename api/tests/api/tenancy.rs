//! No principal of company B can read, list, change or delete company A's objects. The walk covers every
//! operation of the generated OpenAPI document, so a new route is covered as soon as it exists.

use std::collections::HashMap;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, Session, TestApp, backend_tests};

backend_tests!(every_route_needs_credentials_and_hides_other_companies);

/// Operations anyone may call: they create or find their own company, or take another credential (a
/// signed link, in the case of screenshot content; its own tests refuse tampered and foreign links).
const PUBLIC: [&str; 8] = [
    "signup",
    "login",
    "refresh_session",
    "logout",
    "list_tiers",
    "enroll_agent",
    "receive_stripe_webhook",
    "get_screenshot_content",
];

/// Company A's objects, one per kind of path parameter. A new kind of parameter fails the test until a
/// fixture is added here, so no tenant route escapes the walk.
struct CompanyA {
    owner: Session,
    ids: HashMap<&'static str, String>,
    secrets: Vec<String>,
}

async fn seed_company_a(app: &TestApp) -> CompanyA {
    let owner = app.signup("Company A").await;
    let viewer = app.add_user(&owner, "VIEWER").await;
    let (key_id, key) = app.api_key(&owner, "read").await;
    let employee_email = "a-employee@company-a.test";
    let employee_id = app.add_employee(&owner, employee_email).await;
    let (token_id, token) = app.enrollment_token(&owner, 5).await;
    let agent = app.add_agent(&owner, Some(employee_email)).await;
    let invoice_id = uuid::Uuid::now_v7().to_string();
    // Invoices arrive from Stripe; company A's is put in place directly.
    app.execute_sql(&format!(
        "INSERT INTO invoices (id, company_id, stripe_invoice_id, status, amount_due, amount_paid, currency, issued_at, \
         stripe_updated_at, created_at, updated_at) VALUES ('{invoice_id}', '{}', 'in_company_a', 'PAID', 2900, 2900, 'usd', \
         '2026-11-01 00:00:00', 1, '2026-11-01 00:00:00', '2026-11-01 00:00:00')",
        owner.company_id
    ))
    .await;
    // Screenshots arrive from agents on paid plans; company A's is put in place directly.
    let screenshot_id = uuid::Uuid::now_v7().to_string();
    app.execute_sql(&format!(
        "INSERT INTO screenshots (id, company_id, agent_id, employee_id, client_id, taken_at, content_type, size_bytes, \
         object_key, received_at) VALUES ('{screenshot_id}', '{}', '{}', '{employee_id}', 'shot-a', '2026-11-01 00:00:00', \
         'image/png', 10, 'screenshots/a/{screenshot_id}', '2026-11-01 00:00:00')",
        owner.company_id, agent.id
    ))
    .await;
    // A Stripe event that failed for company A, as an admin would replay it.
    app.execute_sql(&format!(
        "INSERT INTO stripe_events (id, event_id, event_type, stripe_created, received_at, outcome, error, attempts, \
         payload, company_id) VALUES ('{}', 'evt_company_a', 'invoice.paid', 1790000000, '2026-11-01 00:00:00', \
         'failed', 'internal_error', 1, '{{}}', '{}')",
        uuid::Uuid::now_v7(),
        owner.company_id
    ))
    .await;
    let mut policy: Value = app.get("/api/v1/policy", &owner.access_token).await.json().await.expect("json");
    policy["settings"]["idle_threshold_secs"] = json!(240);
    let changed =
        app.request(Method::PUT, "/api/v1/policy", Some(&owner.access_token), Some(policy["settings"].clone())).await;
    assert_eq!(changed.status(), StatusCode::OK);
    let hook = app
        .post("/api/v1/webhook-endpoints", &owner.access_token, json!({"url": "https://hooks.company-a.example/in"}))
        .await;
    assert_eq!(hook.status(), StatusCode::CREATED);
    let hook: Value = hook.json().await.expect("json");
    let events: Value = app.get("/api/v1/events", &owner.access_token).await.json().await.expect("json");
    let message_id = events["data"][0]["id"].as_str().expect("an event of company A").to_owned();
    let alerts: Value = app.get("/api/v1/alerts", &owner.access_token).await.json().await.expect("json");
    let alert_id = alerts["data"][0]["id"].as_str().expect("a POLICY_CHANGED alert").to_owned();
    let ids = HashMap::from([
        ("alert_id", alert_id.clone()),
        ("invoice_id", invoice_id.clone()),
        ("user_id", viewer.user_id.clone()),
        ("api_key_id", key_id),
        ("employee_id", employee_id.clone()),
        ("enrollment_token_id", token_id.clone()),
        ("agent_id", agent.id.clone()),
        ("screenshot_id", screenshot_id.clone()),
        ("event_id", "evt_company_a".to_owned()),
        ("endpoint_id", hook["id"].as_str().expect("endpoint id").to_owned()),
        ("message_id", message_id.clone()),
    ]);
    let secrets = vec![
        owner.company_id.clone(),
        owner.user_id.clone(),
        viewer.user_id,
        owner.email.clone(),
        viewer.email,
        key,
        employee_id,
        employee_email.to_owned(),
        token_id,
        token,
        agent.id,
        agent.secret,
        invoice_id,
        "in_company_a".to_owned(),
        "evt_company_a".to_owned(),
        alert_id,
        screenshot_id,
        hook["secret"].as_str().expect("secret").to_owned(),
        "hooks.company-a.example".to_owned(),
        message_id,
    ];
    CompanyA { owner, ids, secrets }
}

/// The example body of an operation's request, resolved through `$ref`, or `{}`.
fn example_body(spec: &Value, operation: &Value) -> Value {
    let content = &operation["requestBody"]["content"]["application/json"];
    if let Some(example) = content.get("example") {
        return example.clone();
    }
    let schema = &content["schema"];
    let resolved = match schema["$ref"].as_str() {
        Some(reference) => &spec["components"]["schemas"][reference.rsplit('/').next().unwrap_or_default()],
        None => schema,
    };
    resolved.get("example").or_else(|| resolved["examples"].get(0)).cloned().unwrap_or_else(|| json!({}))
}

struct Operation {
    id: String,
    method: Method,
    template: String,
    path: String,
    body: Option<Value>,
}

fn operations(spec: &Value, a: &CompanyA) -> Vec<Operation> {
    let mut found = Vec::new();
    for (template, item) in spec["paths"].as_object().expect("paths") {
        if !template.starts_with("/api/v1/") || template == "/api/v1/openapi.json" {
            continue;
        }
        for (method, operation) in item.as_object().expect("path item") {
            let id = operation["operationId"].as_str().expect("operationId").to_owned();
            if PUBLIC.contains(&id.as_str()) {
                continue;
            }
            let mut path = template.clone();
            for param in operation["parameters"].as_array().into_iter().flatten().filter(|p| p["in"] == "path") {
                let name = param["name"].as_str().expect("name");
                let value = a
                    .ids
                    .get(name)
                    .unwrap_or_else(|| panic!("no company A fixture for path parameter {name} of {template}"));
                path = path.replace(&format!("{{{name}}}"), value);
            }
            assert!(!path.contains('{'), "{template}: a path parameter is not declared in the spec");
            let body = operation.get("requestBody").map(|_| example_body(spec, operation));
            found.push(Operation {
                id,
                method: Method::from_bytes(method.to_uppercase().as_bytes()).expect("method"),
                template: template.clone(),
                path,
                body,
            });
        }
    }
    found
}

async fn every_route_needs_credentials_and_hides_other_companies(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let a = seed_company_a(&app).await;
    let b = app.signup("Company B").await;
    let (_, b_key) = app.api_key(&b, "read_write").await;
    let policy_before: Value = app.get("/api/v1/policy", &a.owner.access_token).await.json().await.expect("json");
    let spec: Value =
        serde_json::from_str(&vigil::openapi::spec_json(vigil::app::routes).expect("spec")).expect("json");
    let walked = operations(&spec, &a);

    for op in &walked {
        let anonymous = app.request(op.method.clone(), &op.path, None, op.body.clone()).await;
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED, "{} without credentials", op.id);

        for (who, token) in [("B's owner", b.access_token.as_str()), ("B's read_write key", b_key.as_str())] {
            let response = app.request(op.method.clone(), &op.path, Some(token), op.body.clone()).await;
            let status = response.status();
            let text = response.text().await.expect("body");
            if op.template.contains('{') {
                let allowed: &[StatusCode] = if who == "B's owner" {
                    &[StatusCode::NOT_FOUND]
                } else {
                    &[StatusCode::NOT_FOUND, StatusCode::FORBIDDEN]
                };
                assert!(allowed.contains(&status), "{} {} by {who} answered {status}: {text}", op.method, op.path);
            }
            for secret in &a.secrets {
                assert!(!text.contains(secret.as_str()), "{} by {who} leaked company A's {secret}: {text}", op.id);
            }
        }
    }

    assert!(walked.len() >= 25, "walked only {} operations", walked.len());
    let get = |path: String| {
        let token = a.owner.access_token.clone();
        let app = &app;
        async move { app.get(&path, &token).await.json::<Value>().await.expect("json") }
    };
    let viewer = get(format!("/api/v1/users/{}", a.ids["user_id"])).await;
    assert_eq!(
        (viewer["role"].as_str(), viewer["active"].as_bool()),
        (Some("VIEWER"), Some(true)),
        "A's user unchanged"
    );
    let keys = get("/api/v1/api-keys".to_owned()).await;
    assert!(keys["data"][0]["revoked_at"].is_null(), "A's key not revoked");
    let employee = get(format!("/api/v1/employees/{}", a.ids["employee_id"])).await;
    assert_eq!(
        (employee["status"].as_str(), employee["name"].as_str()),
        (Some("ACTIVE"), Some("a-employee@company-a.test"))
    );
    let agent = get(format!("/api/v1/agents/{}", a.ids["agent_id"])).await;
    assert_eq!(agent["status"], "ONLINE", "A's agent not revoked");
    let tokens = get("/api/v1/enrollment-tokens".to_owned()).await;
    assert!(
        tokens["data"].as_array().expect("tokens").iter().all(|t| t["revoked_at"].is_null()),
        "A's tokens not revoked"
    );
    let alerts = get("/api/v1/alerts".to_owned()).await;
    assert_eq!(
        (alerts["data"][0]["read"].as_bool(), alerts["data"][0]["resolved"].as_bool()),
        (Some(false), Some(false)),
        "A's alert untouched"
    );
    let policy_after = get("/api/v1/policy".to_owned()).await;
    assert_eq!(policy_after["version"], policy_before["version"], "A's policy unchanged");
}
