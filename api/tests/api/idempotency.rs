//! `Idempotency-Key` on writes: a retry gets the first answer and changes nothing, another request under the
//! same key is refused, a request still running is 409, a failure is not kept, and two instances that get the
//! same request at once run it once.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, Session, TestApp, backend_tests, problem};

backend_tests!(
    a_retry_with_the_same_key_gets_the_first_answer_and_changes_nothing,
    the_same_key_for_another_request_is_refused_and_keys_belong_to_their_caller,
    a_failure_is_not_kept_and_its_retry_runs_while_a_refusal_is_kept,
    a_key_still_in_use_is_409_until_its_claim_lapses_and_a_day_old_key_is_new_again,
    two_instances_that_get_the_same_request_at_once_run_it_once,
    malformed_keys_are_refused_and_agents_have_keys_of_their_own,
);

async fn send(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = app.client.request(method, app.url(path)).bearer_auth(token).header("Idempotency-Key", key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("request")
}

async fn employees(app: &TestApp, owner: &Session) -> i64 {
    let page: Value = app.get("/api/v1/employees", &owner.access_token).await.json().await.expect("json");
    page["total"].as_i64().expect("total")
}

fn replayed(response: &reqwest::Response) -> bool {
    response.headers().get("idempotent-replayed").is_some_and(|value| value == "true")
}

async fn a_retry_with_the_same_key_gets_the_first_answer_and_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Retry Inc").await;
    let body = json!({"email": "ada@retry.test", "name": "Ada"});
    let first = send(&app, &owner.access_token, Method::POST, "/api/v1/employees", "key-1", Some(body.clone())).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert!(!replayed(&first));
    let first: Value = first.json().await.expect("json");
    let again = send(&app, &owner.access_token, Method::POST, "/api/v1/employees", "key-1", Some(body)).await;
    assert_eq!(again.status(), StatusCode::CREATED, "the same status");
    assert!(replayed(&again), "marked as a replay");
    assert_eq!(again.json::<Value>().await.expect("json"), first, "the same body");
    assert_eq!(employees(&app, &owner).await, 1, "and one employee");
    let audit: Value =
        app.get("/api/v1/audit-logs?per_page=100", &owner.access_token).await.json().await.expect("json");
    let created =
        audit["data"].as_array().expect("entries").iter().filter(|e| e["action"] == "employee.created").count();
    assert_eq!(created, 1, "one change, audited once");

    // A DELETE, with no body, too.
    let path = format!("/api/v1/employees/{}", first["id"].as_str().expect("id"));
    let deleted = send(&app, &owner.access_token, Method::DELETE, &path, "key-2", None).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let deleted_again = send(&app, &owner.access_token, Method::DELETE, &path, "key-2", None).await;
    assert_eq!(deleted_again.status(), StatusCode::NO_CONTENT, "not a 404: the first answer again");
    assert!(replayed(&deleted_again));
}

async fn the_same_key_for_another_request_is_refused_and_keys_belong_to_their_caller(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Keys Inc").await;
    let (_, api_key) = app.api_key(&owner, "read_write").await;
    let body = json!({"email": "grace@keys.test", "name": "Grace"});
    let first = send(&app, &owner.access_token, Method::POST, "/api/v1/employees", "shared", Some(body.clone())).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let other = json!({"email": "other@keys.test", "name": "Other"});
    let reused = send(&app, &owner.access_token, Method::POST, "/api/v1/employees", "shared", Some(other)).await;
    assert_eq!(problem(reused, StatusCode::UNPROCESSABLE_ENTITY).await["code"], "idempotency_key_reused");
    let elsewhere = send(
        &app,
        &owner.access_token,
        Method::POST,
        "/api/v1/api-keys",
        "shared",
        Some(json!({"name": "x", "scope": "read"})),
    )
    .await;
    assert_eq!(problem(elsewhere, StatusCode::UNPROCESSABLE_ENTITY).await["code"], "idempotency_key_reused");
    // Another caller of the same company does not get the owner's answers: an API key's own request runs.
    let by_key = send(&app, &api_key, Method::POST, "/api/v1/employees", "shared", Some(body.clone())).await;
    assert!(!replayed(&by_key));
    assert_eq!(problem(by_key, StatusCode::CONFLICT).await["code"], "employee_email_taken");
    assert_eq!(employees(&app, &owner).await, 1);

    // Least of all one with a lesser role: the answer that created an API key holds its secret.
    let created = send(
        &app,
        &owner.access_token,
        Method::POST,
        "/api/v1/api-keys",
        "new-key",
        Some(json!({"name": "ci", "scope": "read"})),
    )
    .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let secret = created.json::<Value>().await.expect("json")["key"].as_str().expect("key").to_owned();
    let viewer = app.add_user(&owner, "VIEWER").await;
    let tried = send(
        &app,
        &viewer.access_token,
        Method::POST,
        "/api/v1/api-keys",
        "new-key",
        Some(json!({"name": "ci", "scope": "read"})),
    )
    .await;
    assert!(!replayed(&tried));
    let tried = problem(tried, StatusCode::FORBIDDEN).await;
    assert!(!tried.to_string().contains(&secret), "{tried}");
    let stored =
        app.execute_sql_text("SELECT response AS value FROM idempotency_keys WHERE idempotency_key = 'new-key'").await;
    assert!(!stored.contains(&secret) && !stored.contains("vigil_sk_"), "the kept answer is sealed: {stored}");
    // Nor the owner once disabled.
    let admin = app.add_user(&owner, "ADMIN").await;
    let made = send(
        &app,
        &admin.access_token,
        Method::POST,
        "/api/v1/employees",
        "admin-key",
        Some(json!({"email": "b@keys.test", "name": "B"})),
    )
    .await;
    assert_eq!(made.status(), StatusCode::CREATED);
    let disabled =
        app.patch(&format!("/api/v1/users/{}", admin.user_id), &owner.access_token, json!({"active": false})).await;
    assert_eq!(disabled.status(), StatusCode::OK, "disable the admin");
    let replay = send(
        &app,
        &admin.access_token,
        Method::POST,
        "/api/v1/employees",
        "admin-key",
        Some(json!({"email": "b@keys.test", "name": "B"})),
    )
    .await;
    assert!(!replayed(&replay));
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);

    // Another company's key of the same name is its own.
    let stranger = app.signup("Strangers Inc").await;
    let theirs = send(&app, &stranger.access_token, Method::POST, "/api/v1/employees", "shared", Some(body)).await;
    assert_eq!(theirs.status(), StatusCode::CREATED);
    assert!(!replayed(&theirs));
    assert_eq!(employees(&app, &stranger).await, 1);
}

async fn a_failure_is_not_kept_and_its_retry_runs_while_a_refusal_is_kept(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Failing Inc").await;
    // The database refuses the insert for a while: a 500, nothing written.
    match backend {
        Backend::Sqlite => {
            app.execute_sql("CREATE TRIGGER refuse BEFORE INSERT ON employees BEGIN SELECT RAISE(ABORT, 'down'); END")
                .await;
        }
        Backend::Postgres => {
            app.execute_sql(
                "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'down'; END $$ LANGUAGE plpgsql",
            )
            .await;
            app.execute_sql("CREATE TRIGGER refuse BEFORE INSERT ON employees FOR EACH ROW EXECUTE FUNCTION refuse()")
                .await;
        }
    }
    let body = json!({"email": "later@failing.test", "name": "Later"});
    let failed = send(&app, &owner.access_token, Method::POST, "/api/v1/employees", "flaky", Some(body.clone())).await;
    assert_eq!(failed.status(), StatusCode::INTERNAL_SERVER_ERROR);
    match backend {
        Backend::Sqlite => app.execute_sql("DROP TRIGGER refuse").await,
        Backend::Postgres => app.execute_sql("DROP TRIGGER refuse ON employees").await,
    };
    let retried = send(&app, &owner.access_token, Method::POST, "/api/v1/employees", "flaky", Some(body)).await;
    assert_eq!(retried.status(), StatusCode::CREATED, "the retry runs");
    assert!(!replayed(&retried));

    // A refusal is an answer: kept, and given again.
    let invalid = json!({"email": "not an email", "name": ""});
    let refused =
        send(&app, &owner.access_token, Method::POST, "/api/v1/employees", "bad", Some(invalid.clone())).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let again = send(&app, &owner.access_token, Method::POST, "/api/v1/employees", "bad", Some(invalid)).await;
    assert_eq!(again.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(replayed(&again));
    assert_eq!(again.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("application/problem+json"));
}

async fn a_key_still_in_use_is_409_until_its_claim_lapses_and_a_day_old_key_is_new_again(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Busy Inc").await;
    let body = json!({"email": "busy@busy.test", "name": "Busy"});
    // The fingerprint of this very request: method, path, query, body.
    let fingerprint = {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        // Then the body's type and the two preconditions (none), each on a line.
        hash.update(b"POST\n/api/v1/employees?\napplication/json\n\n\n");
        hash.update(serde_json::to_vec(&body).expect("json"));
        hex::encode(hash.finalize())
    };
    // Another instance claimed the key and is still running it.
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(60)).naive_utc().format("'%Y-%m-%d %H:%M:%S'");
    let now = chrono::Utc::now().naive_utc().format("'%Y-%m-%d %H:%M:%S'");
    app.execute_sql(&format!(
        "INSERT INTO idempotency_keys (scope, idempotency_key, fingerprint, claim_token, locked_until, created_at) \
         VALUES ('company:{}:user:{}:OWNER', 'busy', '{fingerprint}', 'theirs', {soon}, {now})",
        owner.company_id, owner.user_id
    ))
    .await;
    let busy = send(&app, &owner.access_token, Method::POST, "/api/v1/employees", "busy", Some(body.clone())).await;
    let busy = problem(busy, StatusCode::CONFLICT).await;
    assert_eq!(busy["code"], "idempotency_key_in_use");
    assert_eq!(employees(&app, &owner).await, 0);

    // That instance died: once its claim lapses, the request runs.
    app.execute_sql("UPDATE idempotency_keys SET locked_until = '2000-01-01 00:00:00' WHERE idempotency_key = 'busy'")
        .await;
    let taken_over = send(&app, &owner.access_token, Method::POST, "/api/v1/employees", "busy", Some(body)).await;
    assert_eq!(taken_over.status(), StatusCode::CREATED);

    // A day later the key is free for a new request.
    app.execute_sql("UPDATE idempotency_keys SET created_at = '2000-01-01 00:00:00' WHERE idempotency_key = 'busy'")
        .await;
    let next_day = json!({"email": "tomorrow@busy.test", "name": "Tomorrow"});
    let fresh = send(&app, &owner.access_token, Method::POST, "/api/v1/employees", "busy", Some(next_day)).await;
    assert_eq!(fresh.status(), StatusCode::CREATED);
    assert!(!replayed(&fresh));
    assert_eq!(employees(&app, &owner).await, 2);
}

async fn two_instances_that_get_the_same_request_at_once_run_it_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let second = app.sibling().await;
    let owner = app.signup("Twins Inc").await;
    let body = json!({"email": "once@twins.test", "name": "Once"});
    let requests = (0..10).map(|n| {
        let address = if n % 2 == 0 { app.address.clone() } else { second.address.clone() };
        let (client, token, body) = (app.client.clone(), owner.access_token.clone(), body.clone());
        async move {
            let response = client
                .post(format!("{address}/api/v1/employees"))
                .bearer_auth(token)
                .header("Idempotency-Key", "twins")
                .json(&body)
                .send()
                .await
                .expect("request");
            (response.status(), replayed(&response))
        }
    });
    let answers = futures_util::future::join_all(requests).await;
    let first_runs = answers.iter().filter(|(status, replay)| *status == StatusCode::CREATED && !replay).count();
    assert_eq!(first_runs, 1, "one request ran: {answers:?}");
    assert!(
        answers
            .iter()
            .all(|(status, replay)| *status == StatusCode::CREATED || (*status == StatusCode::CONFLICT && !replay)),
        "the others were replays or told it was in use: {answers:?}"
    );
    assert_eq!(employees(&app, &owner).await, 1);
}

async fn malformed_keys_are_refused_and_agents_have_keys_of_their_own(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Agents Inc").await;
    for key in ["", &"k".repeat(256), "has space"] {
        let response = send(
            &app,
            &owner.access_token,
            Method::POST,
            "/api/v1/employees",
            key,
            Some(json!({"email": "a@a.test", "name": "A"})),
        )
        .await;
        assert_eq!(problem(response, StatusCode::BAD_REQUEST).await["code"], "bad_request", "{key:?}");
    }
    assert_eq!(employees(&app, &owner).await, 0);

    let agent = app.add_agent(&owner, None).await;
    let beat = json!({"policy_version": 0});
    let first = send(&app, &agent.secret, Method::POST, "/api/v1/agent/heartbeat", "beat-1", Some(beat.clone())).await;
    assert_eq!(first.status(), StatusCode::OK);
    let again = send(&app, &agent.secret, Method::POST, "/api/v1/agent/heartbeat", "beat-1", Some(beat)).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert!(replayed(&again));
    // Reads ignore the header.
    let read = send(&app, &owner.access_token, Method::GET, "/api/v1/employees", "beat-1", None).await;
    assert_eq!(read.status(), StatusCode::OK);
    assert!(!replayed(&read));
}
