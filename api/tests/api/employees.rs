//! Employees: CRUD, search, and the plan's limit on active employees, also under concurrency.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, backend_tests, problem};

backend_tests!(
    an_employee_is_created_read_updated_and_deleted,
    employees_filter_by_status_and_department_and_search_by_name_or_email,
    an_employee_email_is_unique_within_a_company,
    the_sixth_active_employee_on_free_is_refused_with_the_limit_and_an_upgrade,
    reactivating_past_the_limit_is_refused,
    simultaneous_creates_at_the_limit_cannot_both_succeed,
    viewers_and_read_keys_read_but_only_managers_and_read_write_keys_change,
    invalid_employee_input_gets_field_messages,
    overlong_search_terms_are_refused_by_name,
);

async fn an_employee_is_created_read_updated_and_deleted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;

    let created = app
        .post(
            "/api/v1/employees",
            &owner.access_token,
            json!({"email": "Grace@Acme.test", "name": " Grace ", "department": "Eng"}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let employee: Value = created.json().await.expect("json");
    let path = format!("/api/v1/employees/{}", employee["id"].as_str().expect("id"));
    assert_eq!((employee["email"].as_str(), employee["name"].as_str()), (Some("grace@acme.test"), Some("Grace")));
    assert_eq!(employee["status"], "ACTIVE");

    let updated: Value = app
        .patch(&path, &owner.access_token, json!({"department": null, "job_title": "CTO"}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!((updated["department"].clone(), updated["job_title"].clone()), (Value::Null, json!("CTO")));
    assert_eq!(updated["name"], "Grace", "fields not sent are unchanged");
    let fetched: Value = app.get(&path, &owner.access_token).await.json().await.expect("json");
    assert_eq!(fetched["job_title"], "CTO");

    assert_eq!(app.delete(&path, &owner.access_token).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(problem(app.get(&path, &owner.access_token).await, StatusCode::NOT_FOUND).await["code"], "not_found");
    let audit: Value =
        app.get("/api/v1/audit-logs?per_page=100", &owner.access_token).await.json().await.expect("json");
    let actions: Vec<&str> =
        audit["data"].as_array().expect("data").iter().filter_map(|e| e["action"].as_str()).collect();
    for action in ["employee.created", "employee.updated", "employee.deleted"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
}

async fn employees_filter_by_status_and_department_and_search_by_name_or_email(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    for (email, name, department) in [
        ("ada@acme.test", "Ada Lovelace", "Research"),
        ("alan@acme.test", "Alan Turing", "Research"),
        ("grace@acme.test", "Grace Hopper", "Navy"),
    ] {
        app.post(
            "/api/v1/employees",
            &owner.access_token,
            json!({"email": email, "name": name, "department": department}),
        )
        .await;
    }
    let list = |query: &'static str| {
        let (app, token) = (&app, owner.access_token.clone());
        async move {
            let page: Value = app.get(&format!("/api/v1/employees?{query}"), &token).await.json().await.expect("json");
            page["data"]
                .as_array()
                .expect("data")
                .iter()
                .map(|e| e["name"].as_str().unwrap_or("").to_owned())
                .collect::<Vec<_>>()
        }
    };
    let alan = app.get("/api/v1/employees?q=alan", &owner.access_token).await.json::<Value>().await.expect("json");
    app.post(
        &format!("/api/v1/employees/{}/deactivate", alan["data"][0]["id"].as_str().expect("id")),
        &owner.access_token,
        json!({}),
    )
    .await;

    assert_eq!(list("department=Research").await, vec!["Ada Lovelace", "Alan Turing"]);
    assert_eq!(list("q=LOVE").await, vec!["Ada Lovelace"], "search ignores case");
    assert_eq!(list("q=grace%40acme").await, vec!["Grace Hopper"], "search covers emails");
    assert_eq!(list("q=%25").await, Vec::<String>::new(), "% is matched literally");
    assert_eq!(list("status=INACTIVE").await, vec!["Alan Turing"]);
    assert_eq!(list("status=ACTIVE&department=Research").await, vec!["Ada Lovelace"]);
    let bad = app.get("/api/v1/employees?status=RETIRED", &owner.access_token).await;
    assert_eq!(problem(bad, StatusCode::UNPROCESSABLE_ENTITY).await["code"], "validation_failed");
}

async fn an_employee_email_is_unique_within_a_company(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.signup("Acme").await;
    let other = app.signup("Other").await;
    app.add_employee(&acme, "sam@shared.test").await;

    let duplicate =
        app.post("/api/v1/employees", &acme.access_token, json!({"email": "SAM@shared.test", "name": "Sam"})).await;
    let elsewhere =
        app.post("/api/v1/employees", &other.access_token, json!({"email": "sam@shared.test", "name": "Sam"})).await;

    assert_eq!(problem(duplicate, StatusCode::CONFLICT).await["code"], "employee_email_taken");
    assert_eq!(elsewhere.status(), StatusCode::CREATED, "another company may have the same person");
}

async fn the_sixth_active_employee_on_free_is_refused_with_the_limit_and_an_upgrade(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(app.add_employee(&owner, &format!("e{n}@acme.test")).await);
    }

    let refused =
        app.post("/api/v1/employees", &owner.access_token, json!({"email": "e5@acme.test", "name": "Six"})).await;

    let body = problem(refused, StatusCode::FORBIDDEN).await;
    assert_eq!(body["code"], "plan_limit_reached");
    assert_eq!(
        body["plan_limit"],
        json!({"limit": "max_employees", "max": 5, "current_usage": 5, "tier": "FREE", "upgrade_tier": "PRO"})
    );
    assert!(body["detail"].as_str().unwrap_or("").contains("Upgrade to PRO"), "{body}");
    app.post(&format!("/api/v1/employees/{}/deactivate", ids[0]), &owner.access_token, json!({})).await;
    let after =
        app.post("/api/v1/employees", &owner.access_token, json!({"email": "e5@acme.test", "name": "Six"})).await;
    assert_eq!(after.status(), StatusCode::CREATED, "an inactive employee frees a seat");
}

async fn reactivating_past_the_limit_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let first = app.add_employee(&owner, "e0@acme.test").await;
    app.post(&format!("/api/v1/employees/{first}/deactivate"), &owner.access_token, json!({})).await;
    for n in 1..6 {
        app.add_employee(&owner, &format!("e{n}@acme.test")).await;
    }

    let refused = app.post(&format!("/api/v1/employees/{first}/reactivate"), &owner.access_token, json!({})).await;

    assert_eq!(problem(refused, StatusCode::FORBIDDEN).await["code"], "plan_limit_reached");
    let still: Value =
        app.get(&format!("/api/v1/employees/{first}"), &owner.access_token).await.json().await.expect("json");
    assert_eq!(still["status"], "INACTIVE");
}

async fn simultaneous_creates_at_the_limit_cannot_both_succeed(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("DB_POOL_SIZE", "8")]).await;
    let owner = app.signup("Acme").await;
    for n in 0..4 {
        app.add_employee(&owner, &format!("e{n}@acme.test")).await;
    }

    let attempts = (0..8).map(|n| {
        app.post(
            "/api/v1/employees",
            &owner.access_token,
            json!({"email": format!("race{n}@acme.test"), "name": "Racer"}),
        )
    });
    let statuses: Vec<StatusCode> = futures_util::future::join_all(attempts).await.iter().map(|r| r.status()).collect();

    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == StatusCode::CREATED || *s == StatusCode::FORBIDDEN), "{statuses:?}");
    let page: Value = app.get("/api/v1/employees?status=ACTIVE", &owner.access_token).await.json().await.expect("json");
    assert_eq!(page["total"], 5);
}

async fn viewers_and_read_keys_read_but_only_managers_and_read_write_keys_change(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let viewer = app.add_user(&owner, "VIEWER").await;
    let manager = app.add_user(&owner, "MANAGER").await;
    let (_, read_key) = app.api_key(&owner, "read").await;
    let (_, write_key) = app.api_key(&owner, "read_write").await;
    let body = |n: u32| json!({"email": format!("p{n}@acme.test"), "name": "P"});

    for token in [&viewer.access_token, &read_key] {
        assert_eq!(app.get("/api/v1/employees", token).await.status(), StatusCode::OK);
        let refused = app.post("/api/v1/employees", token, body(0)).await;
        assert_eq!(problem(refused, StatusCode::FORBIDDEN).await["code"], "forbidden");
    }
    assert_eq!(app.post("/api/v1/employees", &manager.access_token, body(1)).await.status(), StatusCode::CREATED);
    assert_eq!(app.post("/api/v1/employees", &write_key, body(2)).await.status(), StatusCode::CREATED);
    let audit: Value = app
        .get("/api/v1/audit-logs?action=employee.created&actor_type=api_key", &owner.access_token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(audit["total"], 1, "the key's change is audited as the key's");
}

async fn invalid_employee_input_gets_field_messages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;

    let response = app
        .post(
            "/api/v1/employees",
            &owner.access_token,
            json!({"email": "nope", "name": "", "department": "x".repeat(101)}),
        )
        .await;
    let bad_id = app.get("/api/v1/employees/not-a-uuid", &owner.access_token).await;

    let body = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    for field in ["email", "name", "department"] {
        assert!(body["errors"][field].is_array(), "{field}: {body}");
    }
    assert_eq!(problem(bad_id, StatusCode::BAD_REQUEST).await["code"], "bad_request");
}

async fn overlong_search_terms_are_refused_by_name(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;

    let search = app.get(&format!("/api/v1/employees?q={}", "a".repeat(201)), &owner.access_token).await;
    let department = app.get(&format!("/api/v1/employees?department={}", "d".repeat(101)), &owner.access_token).await;
    let action = app.get(&format!("/api/v1/audit-logs?action={}", "x".repeat(101)), &owner.access_token).await;
    let longest = app.get(&format!("/api/v1/employees?q={}", "a".repeat(200)), &owner.access_token).await;

    let body = problem(search, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(body["errors"]["q"], json!(["must be at most 200 characters long"]));
    let body = problem(department, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(body["errors"]["department"], json!(["must be at most 100 characters long"]));
    let body = problem(action, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(body["errors"]["action"], json!(["must be at most 100 characters long"]));
    assert_eq!(longest.status(), StatusCode::OK);
}
