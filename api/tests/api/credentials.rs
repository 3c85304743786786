//! Credentials do not outlive the person who made them: disabling, removing or demoting a user revokes the
//! API keys they created (audited, and the owners are told), and their access tokens stop or change at once.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, Session, TestApp, backend_tests, problem};

backend_tests!(
    disabling_a_user_revokes_the_keys_they_created,
    removing_a_user_revokes_the_keys_they_created,
    a_demotion_revokes_only_the_keys_the_new_role_cannot_cover,
    revoked_keys_are_audited_and_the_owners_are_told_which,
    the_list_shows_who_made_a_key_and_when_it_was_last_used,
    a_disabled_users_access_token_is_refused_at_once,
    a_demoted_users_access_token_acts_with_the_new_role_at_once,
    a_user_cannot_remove_themselves_and_only_owners_remove_owners,
    enrollment_tokens_stop_with_the_admin_who_made_them,
    a_stream_ticket_taken_before_the_user_was_disabled_opens_no_stream,
    an_open_alert_stream_ends_when_its_user_is_disabled,
);

/// A key with a chosen name; returns (id, secret, prefix).
async fn named_key(app: &TestApp, creator: &Session, name: &str, scope: &str) -> (String, String, String) {
    let response = app.post("/api/v1/api-keys", &creator.access_token, json!({"name": name, "scope": scope})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.expect("json");
    let text = |field: &str| body[field].as_str().expect(field).to_owned();
    (text("id"), text("key"), text("prefix"))
}

/// What a key may still do: a read (the employees list) and, for read_write keys, nothing more is needed.
async fn status_with(app: &TestApp, key: &str) -> StatusCode {
    app.get("/api/v1/employees", key).await.status()
}

async fn refused(app: &TestApp, key: &str) -> Value {
    problem(app.get("/api/v1/employees", key).await, StatusCode::UNAUTHORIZED).await
}

async fn keys_listed(app: &TestApp, session: &Session) -> Vec<Value> {
    let listed: Value =
        app.get("/api/v1/api-keys?per_page=100", &session.access_token).await.json().await.expect("json");
    listed["data"].as_array().expect("data").clone()
}

async fn disabling_a_user_revokes_the_keys_they_created(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let admin = app.add_user(&owner, "ADMIN").await;
    let (_, admins_key, _) = named_key(&app, &admin, "Admin's sync", "read_write").await;
    let (_, owners_key, _) = named_key(&app, &owner, "Owner's sync", "read_write").await;
    assert_eq!(status_with(&app, &admins_key).await, StatusCode::OK);

    let disabled =
        app.patch(&format!("/api/v1/users/{}", admin.user_id), &owner.access_token, json!({"active": false})).await;

    assert_eq!(disabled.status(), StatusCode::OK);
    assert_eq!(refused(&app, &admins_key).await["code"], "unauthenticated");
    let write = app.post("/api/v1/employees", &admins_key, json!({"email": "e@acme.test", "name": "E"})).await;
    assert_eq!(write.status(), StatusCode::UNAUTHORIZED, "nor can it write");
    assert_eq!(status_with(&app, &owners_key).await, StatusCode::OK, "other people's keys keep working");
    let listed = keys_listed(&app, &owner).await;
    let admins = listed.iter().find(|k| k["name"] == "Admin's sync").expect("listed");
    assert!(admins["revoked_at"].is_string(), "{admins}");
}

async fn removing_a_user_revokes_the_keys_they_created(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let admin = app.add_user(&owner, "ADMIN").await;
    let (_, write_key, _) = named_key(&app, &admin, "Writer", "read_write").await;
    let (_, read_key, _) = named_key(&app, &admin, "Exporter", "read").await;
    assert_eq!(status_with(&app, &read_key).await, StatusCode::OK);

    let removed = app.delete(&format!("/api/v1/users/{}", admin.user_id), &owner.access_token).await;

    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    assert_eq!(refused(&app, &write_key).await["code"], "unauthenticated");
    assert_eq!(refused(&app, &read_key).await["code"], "unauthenticated");
    assert_eq!(app.get("/api/v1/me", &admin.access_token).await.status(), StatusCode::UNAUTHORIZED);
    let gone = app.get(&format!("/api/v1/users/{}", admin.user_id), &owner.access_token).await;
    assert_eq!(problem(gone, StatusCode::NOT_FOUND).await["code"], "not_found");
    let listed = keys_listed(&app, &owner).await;
    assert_eq!(listed.len(), 2);
    for key in &listed {
        assert!(key["revoked_at"].is_string(), "{key}");
        assert!(key["created_by"].is_null(), "a removed creator is unknown: {key}");
    }
    let again = app.delete(&format!("/api/v1/users/{}", admin.user_id), &owner.access_token).await;
    assert_eq!(problem(again, StatusCode::NOT_FOUND).await["code"], "not_found");
}

async fn a_demotion_revokes_only_the_keys_the_new_role_cannot_cover(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let admin = app.add_user(&owner, "ADMIN").await;
    let second_owner = app.add_user(&owner, "OWNER").await;
    let (_, admins_write, _) = named_key(&app, &admin, "Writer", "read_write").await;
    let (_, admins_read, _) = named_key(&app, &admin, "Exporter", "read").await;
    let (_, owners_write, _) = named_key(&app, &second_owner, "Owner writer", "read_write").await;
    let (_, owners_read, _) = named_key(&app, &second_owner, "Owner exporter", "read").await;

    // A manager may not read the audit log a read key exports, nor change billing as a read_write key may.
    let to_manager =
        app.patch(&format!("/api/v1/users/{}", admin.user_id), &owner.access_token, json!({"role": "MANAGER"})).await;
    // An admin may do all that any key may do.
    let to_admin = app
        .patch(&format!("/api/v1/users/{}", second_owner.user_id), &owner.access_token, json!({"role": "ADMIN"}))
        .await;

    assert_eq!(to_manager.status(), StatusCode::OK);
    assert_eq!(to_admin.status(), StatusCode::OK);
    assert_eq!(refused(&app, &admins_write).await["code"], "unauthenticated");
    assert_eq!(refused(&app, &admins_read).await["code"], "unauthenticated");
    assert_eq!(status_with(&app, &owners_write).await, StatusCode::OK);
    assert_eq!(app.get("/api/v1/audit-logs", &owners_read).await.status(), StatusCode::OK);
}

async fn revoked_keys_are_audited_and_the_owners_are_told_which(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let admin = app.add_user(&owner, "ADMIN").await;
    let other_admin = app.add_user(&owner, "ADMIN").await;
    let (payroll_id, _, payroll_prefix) = named_key(&app, &admin, "Payroll sync", "read_write").await;
    let (export_id, _, export_prefix) = named_key(&app, &admin, "Screenshot export", "read").await;

    let disabled =
        app.patch(&format!("/api/v1/users/{}", admin.user_id), &owner.access_token, json!({"active": false})).await;
    assert_eq!(disabled.status(), StatusCode::OK);

    let audit: Value = app
        .get("/api/v1/audit-logs?action=api_key.revoked&per_page=100", &owner.access_token)
        .await
        .json()
        .await
        .expect("json");
    let entries = audit["data"].as_array().expect("data");
    assert_eq!(entries.len(), 2, "{audit}");
    for (id, name, prefix) in
        [(&payroll_id, "Payroll sync", &payroll_prefix), (&export_id, "Screenshot export", &export_prefix)]
    {
        let entry = entries.iter().find(|e| e["target_id"] == id.as_str()).expect("an entry per key");
        assert_eq!(entry["actor_id"], owner.user_id.as_str(), "the owner's action caused it");
        assert_eq!(entry["details"]["name"], name);
        assert_eq!(entry["details"]["prefix"], prefix.as_str());
        assert_eq!(entry["details"]["reason"], "creator_disabled");
        assert_eq!(entry["details"]["created_by"], admin.user_id.as_str());
    }

    let alerts: Value =
        app.get("/api/v1/alerts?type=API_KEYS_REVOKED", &owner.access_token).await.json().await.expect("json");
    assert_eq!(alerts["total"], 1, "{alerts}");
    let alert = &alerts["data"][0];
    let message = alert["message"].as_str().expect("message");
    for needle in ["Payroll sync", payroll_prefix.as_str(), "Screenshot export", export_prefix.as_str(), &owner.email] {
        assert!(message.contains(needle), "{needle} in {message}");
    }
    assert!(message.contains(&admin.email), "whose keys they were: {message}");
    let named: Vec<&str> =
        alert["related_data"]["keys"].as_array().expect("keys").iter().filter_map(|k| k["prefix"].as_str()).collect();
    assert!(named.contains(&payroll_prefix.as_str()) && named.contains(&export_prefix.as_str()), "{alert}");
    assert_eq!(alert["related_data"]["actor"]["id"], owner.user_id.as_str());
    let admins_alerts: Value =
        app.get("/api/v1/alerts?type=API_KEYS_REVOKED", &other_admin.access_token).await.json().await.expect("json");
    assert_eq!(admins_alerts["total"], 0, "the owners are told: {admins_alerts}");
}

async fn the_list_shows_who_made_a_key_and_when_it_was_last_used(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let admin = app.add_user(&owner, "ADMIN").await;
    let (id, key, _) = named_key(&app, &admin, "Payroll sync", "read").await;
    let before = keys_listed(&app, &owner).await;
    assert!(before[0]["last_used_at"].is_null(), "{:?}", before[0]);

    assert_eq!(status_with(&app, &key).await, StatusCode::OK);

    let listed = keys_listed(&app, &owner).await;
    let entry = &listed[0];
    assert_eq!(entry["id"], id.as_str());
    assert_eq!(entry["created_by"]["id"], admin.user_id.as_str(), "{entry}");
    assert_eq!(entry["created_by"]["email"], admin.email.as_str(), "{entry}");
    assert_eq!(entry["created_by"]["name"], "ADMIN", "{entry}");
    let first_use = entry["last_used_at"].as_str().expect("last_used_at after a use").to_owned();

    // Used again within the minute: not written again. A minute later: written.
    app.execute_sql(&format!("UPDATE api_keys SET last_used_at = '2000-01-01 00:00:00' WHERE id = '{id}'")).await;
    assert_eq!(status_with(&app, &key).await, StatusCode::OK);
    let refreshed = keys_listed(&app, &owner).await[0]["last_used_at"].as_str().expect("used").to_owned();
    assert_ne!(refreshed, "2000-01-01T00:00:00Z");
    assert!(refreshed >= first_use, "{refreshed} after {first_use}");
    app.execute_sql(&format!(
        "UPDATE api_keys SET last_used_at = '{}' WHERE id = '{id}'",
        (chrono::Utc::now() - chrono::Duration::seconds(20)).format("%Y-%m-%d %H:%M:%S")
    ))
    .await;
    let recent = keys_listed(&app, &owner).await[0]["last_used_at"].as_str().expect("used").to_owned();
    assert_eq!(status_with(&app, &key).await, StatusCode::OK);
    let after = keys_listed(&app, &owner).await[0]["last_used_at"].as_str().expect("used").to_owned();
    assert_eq!(after, recent, "a use within the minute writes nothing");
}

async fn a_disabled_users_access_token_is_refused_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let admin = app.add_user(&owner, "ADMIN").await;
    assert_eq!(app.get("/api/v1/me", &admin.access_token).await.status(), StatusCode::OK);

    let disabled =
        app.patch(&format!("/api/v1/users/{}", admin.user_id), &owner.access_token, json!({"active": false})).await;

    assert_eq!(disabled.status(), StatusCode::OK);
    let me = problem(app.get("/api/v1/me", &admin.access_token).await, StatusCode::UNAUTHORIZED).await;
    assert_eq!(me["code"], "account_disabled", "{me}");
    let users = problem(app.get("/api/v1/users", &admin.access_token).await, StatusCode::UNAUTHORIZED).await;
    assert_eq!(users["code"], "account_disabled");
}

async fn a_demoted_users_access_token_acts_with_the_new_role_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let admin = app.add_user(&owner, "ADMIN").await;
    assert_eq!(app.get("/api/v1/api-keys", &admin.access_token).await.status(), StatusCode::OK);

    let demoted =
        app.patch(&format!("/api/v1/users/{}", admin.user_id), &owner.access_token, json!({"role": "VIEWER"})).await;

    assert_eq!(demoted.status(), StatusCode::OK);
    let keys = problem(app.get("/api/v1/api-keys", &admin.access_token).await, StatusCode::FORBIDDEN).await;
    assert_eq!(keys["code"], "forbidden");
    let create = app.post("/api/v1/api-keys", &admin.access_token, json!({"name": "late", "scope": "read"})).await;
    assert_eq!(problem(create, StatusCode::FORBIDDEN).await["code"], "forbidden");
    let me: Value = app.get("/api/v1/me", &admin.access_token).await.json().await.expect("json");
    assert_eq!(me["user"]["role"], "VIEWER");
}

async fn a_user_cannot_remove_themselves_and_only_owners_remove_owners(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let admin = app.add_user(&owner, "ADMIN").await;

    let self_removal = app.delete(&format!("/api/v1/users/{}", owner.user_id), &owner.access_token).await;
    let admin_removes_owner = app.delete(&format!("/api/v1/users/{}", owner.user_id), &admin.access_token).await;
    let manager = app.add_user(&owner, "MANAGER").await;
    let manager_removes = app.delete(&format!("/api/v1/users/{}", admin.user_id), &manager.access_token).await;

    assert_eq!(problem(self_removal, StatusCode::CONFLICT).await["code"], "cannot_remove_self");
    assert_eq!(problem(admin_removes_owner, StatusCode::FORBIDDEN).await["code"], "forbidden");
    assert_eq!(problem(manager_removes, StatusCode::FORBIDDEN).await["code"], "forbidden");
    assert_eq!(app.get("/api/v1/me", &owner.access_token).await.status(), StatusCode::OK);
    assert_eq!(app.get("/api/v1/me", &admin.access_token).await.status(), StatusCode::OK);
}

/// An enrollment token makes agents that record under any employee's name, so it stops with its creator:
/// disabling, removing or demoting below admin revokes the tokens they made, and no agent enrolls with them.
async fn enrollment_tokens_stop_with_the_admin_who_made_them(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let (owners_id, owners_token) = app.enrollment_token(&owner, 10).await;
    let mut stopped = Vec::new();
    for (how, change) in
        [("disabled", json!({"active": false})), ("demoted", json!({"role": "MANAGER"})), ("removed", json!(null))]
    {
        let admin = app.add_user(&owner, "ADMIN").await;
        let (token_id, token) = app.enrollment_token(&admin, 10).await;
        let path = format!("/api/v1/users/{}", admin.user_id);
        let changed = match change {
            Value::Null => app.delete(&path, &owner.access_token).await,
            change => app.patch(&path, &owner.access_token, change).await,
        };
        assert!(changed.status().is_success(), "{how}: {}", changed.status());

        let enroll = app.enroll(&token, None).await;

        assert_eq!(enroll.status(), StatusCode::UNAUTHORIZED, "{how}: a token of theirs enrolls no agent");
        stopped.push((how, token_id));
    }
    let tokens: Value = app.get("/api/v1/enrollment-tokens", &owner.access_token).await.json().await.expect("json");
    let listed = tokens["data"].as_array().expect("tokens");
    for (how, id) in &stopped {
        let token = listed.iter().find(|t| t["id"] == id.as_str()).expect("listed");
        assert!(token["revoked_at"].is_string(), "{how}: {token}");
    }
    let owners = listed.iter().find(|t| t["id"] == owners_id.as_str()).expect("listed");
    assert!(owners["revoked_at"].is_null(), "other people's tokens keep working: {owners}");
    assert_eq!(app.enroll(&owners_token, None).await.status(), StatusCode::CREATED);
    let audit: Value = app
        .get("/api/v1/audit-logs?action=enrollment_token.revoked", &owner.access_token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(audit["total"], 3, "{audit}");
}

async fn a_stream_ticket_taken_before_the_user_was_disabled_opens_no_stream(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let admin = app.add_user(&owner, "ADMIN").await;
    let ticket: Value =
        app.post("/api/v1/alerts/stream-tickets", &admin.access_token, json!({})).await.json().await.expect("json");
    let disabled =
        app.patch(&format!("/api/v1/users/{}", admin.user_id), &owner.access_token, json!({"active": false})).await;
    assert_eq!(disabled.status(), StatusCode::OK);

    let url = app.url(&format!("/api/v1/alerts/stream?ticket={}", ticket["ticket"].as_str().expect("ticket")));
    let stream = app.client.get(&url).send().await.expect("stream");

    assert_eq!(problem(stream, StatusCode::UNAUTHORIZED).await["code"], "unauthenticated");
}

/// A stream opened before its user was disabled ends (its task too), while the owner's stays open.
async fn an_open_alert_stream_ends_when_its_user_is_disabled(backend: Backend) {
    use futures_util::StreamExt;
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let admin = app.add_user(&owner, "ADMIN").await;
    let open = |session: Session| {
        let app = &app;
        async move {
            let ticket: Value = app
                .post("/api/v1/alerts/stream-tickets", &session.access_token, json!({}))
                .await
                .json()
                .await
                .expect("json");
            let url = app.url(&format!("/api/v1/alerts/stream?ticket={}", ticket["ticket"].as_str().expect("ticket")));
            let response = app.client.get(&url).send().await.expect("stream");
            assert_eq!(response.status(), StatusCode::OK);
            response.bytes_stream()
        }
    };
    let mut admins = open(admin.clone()).await;
    let _owners = open(owner.clone()).await;
    // The first event ("connected") shows the stream's task is running.
    admins.next().await.expect("connected").expect("bytes");

    let disabled =
        app.patch(&format!("/api/v1/users/{}", admin.user_id), &owner.access_token, json!({"active": false})).await;
    assert_eq!(disabled.status(), StatusCode::OK);

    let ended = tokio::time::timeout(std::time::Duration::from_secs(2), async {
        while let Some(chunk) = admins.next().await {
            if chunk.is_err() {
                break;
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the disabled user's stream is still open after 2 s");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
    while app.metric("vigil_alert_streams_open").await != 1.0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(app.metric("vigil_alert_streams_open").await, 1.0, "only the owner's stream is left");
}
