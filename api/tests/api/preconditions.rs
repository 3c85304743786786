//! Lost updates: a PATCH writes only the fields it was given, under the company's lock, and the resources a
//! client edits send an `ETag` and honour `If-Match` (412 `precondition_failed` when stale).

use std::time::Duration;

use diesel::RunQueryDsl;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, Session, TestApp, backend_tests, problem};

backend_tests!(
    a_rename_racing_a_deactivation_does_not_reactivate_the_employee,
    an_employee_sends_its_etag_and_a_stale_if_match_changes_nothing,
    a_deactivation_makes_the_etag_read_before_it_stale,
    a_user_sends_its_etag_and_a_stale_if_match_changes_nothing,
    the_policy_sends_its_etag_and_a_stale_if_match_changes_nothing,
    the_billing_settings_send_their_etag_and_a_stale_if_match_changes_nothing,
    a_malformed_if_match_is_a_bad_request,
);

/// Sends a JSON write with an optional `If-Match`.
async fn write(
    app: &TestApp,
    method: Method,
    path: &str,
    session: &Session,
    if_match: Option<&str>,
    body: Value,
) -> reqwest::Response {
    let mut request = app.client.request(method, app.url(path)).bearer_auth(&session.access_token).json(&body);
    if let Some(tag) = if_match {
        request = request.header("If-Match", tag);
    }
    request.send().await.expect("request sent")
}

fn etag(response: &reqwest::Response) -> String {
    response.headers().get("etag").and_then(|v| v.to_str().ok()).expect("an ETag header").to_owned()
}

/// A GET's body and its ETag.
async fn read(app: &TestApp, path: &str, session: &Session) -> (Value, String) {
    let response = app.get(path, &session.access_token).await;
    assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    let tag = etag(&response);
    assert!(tag.starts_with('"') && tag.ends_with('"'), "a strong tag, quoted: {tag}");
    (response.json().await.expect("json"), tag)
}

/// The same, in general, for every resource: the read's tag lets a write through and comes back new; the
/// old tag is then stale and refused with nothing changed; `*` matches any version.
async fn check_if_match(
    app: &TestApp,
    session: &Session,
    (read_path, write_method, write_path): (&str, Method, &str),
    first: Value,
    second: Value,
    shows: impl Fn(&Value) -> Value,
) {
    let (before, tag) = read(app, read_path, session).await;

    let written = write(app, write_method.clone(), write_path, session, Some(&tag), first.clone()).await;
    assert_eq!(written.status(), StatusCode::OK, "the current tag matches");
    let new_tag = etag(&written);
    assert_ne!(new_tag, tag, "a write changes the tag");
    let (after, read_tag) = read(app, read_path, session).await;
    assert_eq!(read_tag, new_tag, "the write answered the tag a read now sends");
    assert_ne!(shows(&after), shows(&before), "the write applied");

    let stale = write(app, write_method.clone(), write_path, session, Some(&tag), second.clone()).await;
    assert_eq!(problem(stale, StatusCode::PRECONDITION_FAILED).await["code"], "precondition_failed");
    let (unchanged, unchanged_tag) = read(app, read_path, session).await;
    assert_eq!((shows(&unchanged), unchanged_tag), (shows(&after), new_tag.clone()), "nothing changed");

    let listed =
        write(app, write_method.clone(), write_path, session, Some(&format!("\"x\", {new_tag}")), second).await;
    assert_eq!(listed.status(), StatusCode::OK, "a list matches when one of its tags does");
    let any = write(app, write_method, write_path, session, Some("*"), first).await;
    assert_eq!(any.status(), StatusCode::OK, "`*` matches any version");
    let (_, last_tag) = read(app, read_path, session).await;
    assert_eq!(last_tag, etag(&any));
}

async fn a_rename_racing_a_deactivation_does_not_reactivate_the_employee(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let id = app.add_employee(&owner, "grace@acme.test").await;
    let path = format!("/api/v1/employees/{id}");
    let send = |method: Method, path: String, body: Option<Value>| {
        let mut request = app.client.request(method, app.url(&path)).bearer_auth(&owner.access_token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        tokio::spawn(async move { request.send().await.expect("request sent") })
    };

    let (deactivated, renamed) = match backend {
        Backend::Postgres => {
            // Another transaction holds the employee's row, so that the deactivation reaches its write and
            // waits there, and the rename is sent while the deactivation is in flight. The rename must not
            // write back the status it read before the deactivation committed.
            let mut holder = app.pool.get().expect("connection");
            let statement = |conn: &mut vigil::db::DbConn, sql: &str| {
                tokio::task::block_in_place(|| diesel::sql_query(sql).execute(conn).expect("statement"))
            };
            statement(&mut holder, "BEGIN");
            statement(&mut holder, &format!("SELECT id FROM employees WHERE id = '{id}' FOR UPDATE"));
            let deactivation = send(Method::POST, format!("{path}/deactivate"), None);
            wait_for_blocked_requests(&app, 1).await;
            let rename = send(Method::PATCH, path.clone(), Some(json!({"name": "Grace Hopper"})));
            wait_for_blocked_requests(&app, 2).await;
            statement(&mut holder, "COMMIT");
            (deactivation.await.expect("join"), rename.await.expect("join"))
        }
        // SQLite runs one write transaction at a time (BEGIN IMMEDIATE), so the two can only run in turn.
        Backend::Sqlite => {
            let deactivated = send(Method::POST, format!("{path}/deactivate"), None).await.expect("join");
            (deactivated, send(Method::PATCH, path.clone(), Some(json!({"name": "Grace Hopper"}))).await.expect("join"))
        }
    };
    assert_eq!(deactivated.status(), StatusCode::OK);
    assert_eq!(renamed.status(), StatusCode::OK);

    let employee: Value = app.get(&path, &owner.access_token).await.json().await.expect("json");
    assert_eq!((employee["name"].as_str(), employee["status"].as_str()), (Some("Grace Hopper"), Some("INACTIVE")));
    let active: Value =
        app.get("/api/v1/employees?status=ACTIVE", &owner.access_token).await.json().await.expect("json");
    assert_eq!(active["data"].as_array().map(Vec::len), Some(0), "nobody counts against the plan");
    let audit: Value =
        app.get("/api/v1/audit-logs?per_page=100", &owner.access_token).await.json().await.expect("json");
    let actions: Vec<&str> =
        audit["data"].as_array().expect("data").iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"employee.deactivated"), "{actions:?}");
    assert!(!actions.contains(&"employee.reactivated"), "{actions:?}");
}

/// Waits until `count` sessions of this database wait for a lock: the requests have reached it. (Asked on a
/// connection of its own: a transaction sees one snapshot of `pg_stat_activity`.)
async fn wait_for_blocked_requests(app: &TestApp, count: i64) {
    #[derive(diesel::QueryableByName)]
    struct Waiting {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        waiting: i64,
    }
    let sql = "SELECT count(*) AS waiting FROM pg_stat_activity \
               WHERE datname = current_database() AND wait_event_type = 'Lock'";
    for _ in 0..1000 {
        let rows: Vec<Waiting> = tokio::task::block_in_place(|| {
            diesel::sql_query(sql).load(&mut app.pool.get().expect("connection")).expect("pg_stat_activity")
        });
        if rows.first().is_some_and(|row| row.waiting >= count) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{count} requests never reached the lock");
}

async fn an_employee_sends_its_etag_and_a_stale_if_match_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let path = format!("/api/v1/employees/{}", app.add_employee(&owner, "grace@acme.test").await);
    check_if_match(
        &app,
        &owner,
        (&path, Method::PATCH, &path),
        json!({"name": "Grace Hopper"}),
        json!({"name": "Someone Else", "department": "Sales"}),
        |employee| json!([employee["name"], employee["department"]]),
    )
    .await;
}

async fn a_deactivation_makes_the_etag_read_before_it_stale(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let path = format!("/api/v1/employees/{}", app.add_employee(&owner, "grace@acme.test").await);
    let (_, tag) = read(&app, &path, &owner).await;

    let deactivated = app.post(&format!("{path}/deactivate"), &owner.access_token, json!({})).await;
    assert_eq!(deactivated.status(), StatusCode::OK);
    assert_ne!(etag(&deactivated), tag);
    let stale = write(&app, Method::PATCH, &path, &owner, Some(&tag), json!({"name": "Grace Hopper"})).await;
    assert_eq!(problem(stale, StatusCode::PRECONDITION_FAILED).await["code"], "precondition_failed");

    let (employee, _) = read(&app, &path, &owner).await;
    assert_eq!((employee["name"].as_str(), employee["status"].as_str()), (Some("grace@acme.test"), Some("INACTIVE")));
}

async fn a_user_sends_its_etag_and_a_stale_if_match_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let admin = app.add_user(&owner, "ADMIN").await;
    let path = format!("/api/v1/users/{}", admin.user_id);
    check_if_match(
        &app,
        &owner,
        (&path, Method::PATCH, &path),
        json!({"name": "Ada"}),
        json!({"name": "Someone Else", "role": "VIEWER"}),
        |user| json!([user["name"], user["role"]]),
    )
    .await;
}

async fn the_policy_sends_its_etag_and_a_stale_if_match_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let (policy, _) = read(&app, "/api/v1/policy", &owner).await;
    let mut first = policy["settings"].clone();
    first["idle_threshold_secs"] = json!(600);
    let mut second = policy["settings"].clone();
    second["heartbeat_interval_secs"] = json!(30);
    check_if_match(&app, &owner, ("/api/v1/policy", Method::PUT, "/api/v1/policy"), first, second, |policy| {
        policy["settings"].clone()
    })
    .await;
}

async fn the_billing_settings_send_their_etag_and_a_stale_if_match_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    check_if_match(
        &app,
        &owner,
        ("/api/v1/billing/settings", Method::PATCH, "/api/v1/billing/settings"),
        json!({"billing_email": "billing@acme.test"}),
        json!({"billing_email": "someone.else@acme.test"}),
        |settings| settings["billing_email"].clone(),
    )
    .await;
}

async fn a_malformed_if_match_is_a_bad_request(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let path = format!("/api/v1/employees/{}", app.add_employee(&owner, "grace@acme.test").await);
    let malformed = write(&app, Method::PATCH, &path, &owner, Some("v1"), json!({"name": "Grace Hopper"})).await;
    assert_eq!(problem(malformed, StatusCode::BAD_REQUEST).await["code"], "bad_request");
    let (employee, _) = read(&app, &path, &owner).await;
    assert_eq!(employee["name"], "grace@acme.test");
}
