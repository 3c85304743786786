//! No principal of company B can read, list, change or delete company A's objects. The walk covers every
//! tenant-scoped operation in the generated OpenAPI document, so a new route is covered as soon as it exists.

use std::collections::HashMap;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, Session, TestApp, backend_tests};

backend_tests!(another_companys_objects_are_invisible_on_every_route);

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
    let ids = HashMap::from([("user_id", viewer.user_id.clone()), ("api_key_id", key_id)]);
    let secrets =
        vec![owner.company_id.clone(), owner.user_id.clone(), viewer.user_id, owner.email.clone(), viewer.email, key];
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

async fn another_companys_objects_are_invisible_on_every_route(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let a = seed_company_a(&app).await;
    let b = app.signup("Company B").await;
    let spec: Value = serde_json::from_str(&vigil::openapi::spec_json().expect("spec")).expect("json");
    let mut walked = 0;

    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            let secured = operation.get("security").is_some_and(|s| s.as_array().is_some_and(|s| !s.is_empty()));
            if !secured {
                continue;
            }
            let mut concrete = path.clone();
            for param in operation["parameters"].as_array().into_iter().flatten().filter(|p| p["in"] == "path") {
                let name = param["name"].as_str().expect("name");
                let id = a
                    .ids
                    .get(name)
                    .unwrap_or_else(|| panic!("no company A fixture for path parameter {name} of {path}"));
                concrete = concrete.replace(&format!("{{{name}}}"), id);
            }
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let body = operation.get("requestBody").map(|_| example_body(&spec, operation));
            let response = app.request(method.clone(), &concrete, Some(&b.access_token), body).await;
            let status = response.status();
            let text = response.text().await.expect("body");
            walked += 1;

            if concrete != *path {
                assert_eq!(status, StatusCode::NOT_FOUND, "{method} {concrete} by company B: {text}");
            }
            for secret in &a.secrets {
                assert!(!text.contains(secret.as_str()), "{method} {concrete} leaked company A's {secret}: {text}");
            }
        }
    }

    assert!(walked >= 9, "walked only {walked} operations");
    let viewer: Value = app
        .get(&format!("/api/v1/users/{}", a.ids["user_id"]), &a.owner.access_token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        (viewer["role"].as_str(), viewer["active"].as_bool()),
        (Some("VIEWER"), Some(true)),
        "A's user unchanged"
    );
    let keys: Value = app.get("/api/v1/api-keys", &a.owner.access_token).await.json().await.expect("json");
    assert!(keys["data"][0]["revoked_at"].is_null(), "A's key not revoked");
}
