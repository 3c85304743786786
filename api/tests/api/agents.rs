//! Agent enrollment, heartbeats, status and revocation.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, backend_tests, problem};

backend_tests!(
    an_agent_enrolls_with_a_token_and_is_listed_online_for_its_employee,
    an_unknown_expired_used_up_or_revoked_token_is_refused,
    an_unknown_employee_email_is_a_field_error,
    the_sixth_agent_on_free_is_refused_and_the_token_use_is_not_spent,
    a_heartbeat_answers_unchanged_until_the_policy_changes,
    a_heartbeat_is_one_write,
    a_revoked_agent_secret_stops_working_at_once,
    an_agent_silent_past_the_threshold_is_offline,
);

async fn an_agent_enrolls_with_a_token_and_is_listed_online_for_its_employee(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let employee = app.add_employee(&owner, "ada@acme.test").await;
    let (_, token) = app.enrollment_token(&owner, 2).await;

    let response = app.enroll(&token, Some("ADA@acme.test")).await;

    assert_eq!(response.status(), StatusCode::CREATED);
    let enrollment: Value = response.json().await.expect("json");
    assert!(enrollment["agent_secret"].as_str().is_some_and(|s| s.starts_with("vigil_ag_")));
    assert_eq!(enrollment["policy_version"], 1);
    assert_eq!(enrollment["policy"]["heartbeat_interval_secs"], 60);
    let agents: Value = app.get("/api/v1/agents", &owner.access_token).await.json().await.expect("json");
    let agent = &agents["data"][0];
    assert_eq!(agent["id"], enrollment["agent_id"]);
    assert_eq!((agent["status"].as_str(), agent["employee_id"].as_str()), (Some("ONLINE"), Some(employee.as_str())));
    assert_eq!((agent["hostname"].as_str(), agent["agent_version"].as_str()), (Some("laptop-1"), Some("1.0.0")));
    let tokens: Value = app.get("/api/v1/enrollment-tokens", &owner.access_token).await.json().await.expect("json");
    assert_eq!((tokens["data"][0]["uses"].as_i64(), tokens["data"][0]["max_uses"].as_i64()), (Some(1), Some(2)));
    assert!(!tokens.to_string().contains(&token), "the token itself is never listed");
}

async fn an_unknown_expired_used_up_or_revoked_token_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let (_, single_use) = app.enrollment_token(&owner, 1).await;
    assert_eq!(app.enroll(&single_use, None).await.status(), StatusCode::CREATED);
    let (expired_id, expired) = app.enrollment_token(&owner, 5).await;
    app.execute_sql(&format!(
        "UPDATE enrollment_tokens SET expires_at = '2000-01-01 00:00:00' WHERE id = '{expired_id}'"
    ))
    .await;
    let (revoked_id, revoked) = app.enrollment_token(&owner, 5).await;
    assert_eq!(
        app.delete(&format!("/api/v1/enrollment-tokens/{revoked_id}"), &owner.access_token).await.status(),
        StatusCode::NO_CONTENT
    );

    for (token, code) in [
        (single_use.as_str(), "enrollment_token_used_up"),
        (expired.as_str(), "enrollment_token_expired"),
        (revoked.as_str(), "invalid_enrollment_token"),
        ("vigil_enr_nonsense", "invalid_enrollment_token"),
    ] {
        assert_eq!(problem(app.enroll(token, None).await, StatusCode::UNAUTHORIZED).await["code"], code);
    }
    let agents: Value = app.get("/api/v1/agents", &owner.access_token).await.json().await.expect("json");
    assert_eq!(agents["total"], 1, "no agent was enrolled by a refused token");
}

async fn an_unknown_employee_email_is_a_field_error(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let (_, token) = app.enrollment_token(&owner, 1).await;

    let body = problem(app.enroll(&token, Some("ghost@acme.test")).await, StatusCode::UNPROCESSABLE_ENTITY).await;

    assert!(body["errors"]["employee_email"].is_array(), "{body}");
    assert_eq!(
        app.enroll(&token, None).await.status(),
        StatusCode::CREATED,
        "the refused attempt did not use the token"
    );
}

async fn the_sixth_agent_on_free_is_refused_and_the_token_use_is_not_spent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let (token_id, token) = app.enrollment_token(&owner, 10).await;
    for _ in 0..5 {
        assert_eq!(app.enroll(&token, None).await.status(), StatusCode::CREATED);
    }

    let refused = app.enroll(&token, None).await;

    let body = problem(refused, StatusCode::FORBIDDEN).await;
    assert_eq!(body["code"], "plan_limit_reached");
    assert_eq!(body["plan_limit"]["limit"], "max_agents");
    assert_eq!(body["plan_limit"]["current_usage"], 5);
    let tokens: Value = app.get("/api/v1/enrollment-tokens", &owner.access_token).await.json().await.expect("json");
    let listed = tokens["data"].as_array().expect("data").iter().find(|t| t["id"] == token_id.as_str()).cloned();
    assert_eq!(listed.map(|t| t["uses"].clone()), Some(json!(5)));
}

async fn a_heartbeat_answers_unchanged_until_the_policy_changes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let agent = app.add_agent(&owner, None).await;

    let first: Value = app.heartbeat(&agent, json!({})).await.json().await.expect("json");
    let unchanged: Value = app.heartbeat(&agent, json!({"policy_version": 1})).await.json().await.expect("json");
    let mut settings = first["policy"].clone();
    settings["idle_threshold_secs"] = json!(120);
    assert_eq!(
        app.request(reqwest::Method::PUT, "/api/v1/policy", Some(&owner.access_token), Some(settings)).await.status(),
        StatusCode::OK
    );
    let changed: Value =
        app.heartbeat(&agent, json!({"policy_version": 1, "agent_version": "1.1.0"})).await.json().await.expect("json");
    let no_body = app.request(reqwest::Method::POST, "/api/v1/agent/heartbeat", Some(&agent.secret), None).await;

    assert_eq!((first["policy_changed"].as_bool(), first["policy_version"].as_i64()), (Some(true), Some(1)));
    assert_eq!(unchanged, json!({"policy_version": 1, "policy_changed": false}));
    assert_eq!(
        (changed["policy_version"].as_i64(), changed["policy"]["idle_threshold_secs"].as_i64()),
        (Some(2), Some(120))
    );
    assert_eq!(no_body.status(), StatusCode::OK);
    let listed: Value =
        app.get(&format!("/api/v1/agents/{}", agent.id), &owner.access_token).await.json().await.expect("json");
    assert_eq!(listed["agent_version"], "1.1.0");
}

async fn a_heartbeat_is_one_write(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let agent = app.add_agent(&owner, None).await;
    let writes = r#"vigil_db_statements_total{kind="write"}"#;
    let reads = r#"vigil_db_statements_total{kind="read"}"#;
    // A scrape of /metrics reads the database itself (the parked blob deletions): measure one scrape's
    // reads, and take off the two that follow the heartbeat.
    let per_scrape = -app.metric(reads).await + app.metric(reads).await;
    let (writes_before, reads_before) = (app.metric(writes).await, app.metric(reads).await);

    let response = app.heartbeat(&agent, json!({"policy_version": 1})).await;

    assert_eq!(response.status(), StatusCode::OK);
    let (writes_after, reads_after) = (app.metric(writes).await, app.metric(reads).await);
    assert_eq!(writes_after - writes_before, 1.0, "one write per heartbeat");
    assert_eq!(
        reads_after - reads_before - 2.0 * per_scrape,
        2.0,
        "and two reads: the agent's standing against the plan's agent limit, and the policy version"
    );
}

async fn a_revoked_agent_secret_stops_working_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let agent = app.add_agent(&owner, None).await;
    assert_eq!(app.heartbeat(&agent, json!({})).await.status(), StatusCode::OK);

    let revoked = app.post(&format!("/api/v1/agents/{}/revoke", agent.id), &owner.access_token, json!({})).await;

    assert_eq!(revoked.json::<Value>().await.expect("json")["status"], "REVOKED");
    assert_eq!(
        problem(app.heartbeat(&agent, json!({})).await, StatusCode::UNAUTHORIZED).await["code"],
        "unauthenticated"
    );
    let wrong = app.request(reqwest::Method::POST, "/api/v1/agent/heartbeat", Some("vigil_ag_guess"), None).await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let audit: Value =
        app.get("/api/v1/audit-logs?action=agent.revoked", &owner.access_token).await.json().await.expect("json");
    assert_eq!(audit["total"], 1);
}

async fn an_agent_silent_past_the_threshold_is_offline(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let quiet = app.add_agent(&owner, None).await;
    let busy = app.add_agent(&owner, None).await;
    app.execute_sql(&format!("UPDATE agents SET last_seen_at = '2000-01-01 00:00:00' WHERE id = '{}'", quiet.id)).await;

    let offline: Value =
        app.get("/api/v1/agents?status=OFFLINE", &owner.access_token).await.json().await.expect("json");
    let online: Value = app.get("/api/v1/agents?status=ONLINE", &owner.access_token).await.json().await.expect("json");

    assert_eq!(
        offline["data"].as_array().map(|d| d.iter().map(|a| a["id"].clone()).collect::<Vec<_>>()),
        Some(vec![json!(quiet.id)])
    );
    assert_eq!(
        online["data"].as_array().map(|d| d.iter().map(|a| a["id"].clone()).collect::<Vec<_>>()),
        Some(vec![json!(busy.id)])
    );
    assert_eq!(app.heartbeat(&quiet, json!({})).await.status(), StatusCode::OK);
    let back: Value =
        app.get(&format!("/api/v1/agents/{}", quiet.id), &owner.access_token).await.json().await.expect("json");
    assert_eq!(back["status"], "ONLINE", "a heartbeat brings it back");
}
