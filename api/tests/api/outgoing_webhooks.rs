//! Outgoing webhooks through the real server, to a real receiver that verifies every signature with the
//! `standardwebhooks` package from PyPI: what is sent, that it is sent once per message even across a
//! killed receiver and two instances, that a rolled-back change sends nothing, how failures are retried,
//! what disables an endpoint, and where deliveries may not go.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, Session, TestApp, backend_tests, problem, skip_postgres};
use crate::receiver::{Receiver, free_port};

backend_tests!(
    signed_events_reach_the_endpoint_and_an_independent_library_verifies_them,
    an_endpoint_gets_only_the_event_types_it_wants,
    a_rolled_back_change_sends_nothing,
    a_receiver_killed_mid_run_gets_every_message_once_it_is_back,
    a_redirect_fails_and_a_retry_after_is_honoured,
    a_410_or_five_days_of_failures_disable_the_endpoint_and_alert_the_owners,
    endpoints_must_be_public_https_urls_and_deliveries_never_reach_inside,
    a_rotated_secret_signs_beside_the_old_one_for_a_day,
    a_message_can_be_sent_again_and_what_failed_recovered,
    the_events_api_lists_what_the_webhooks_send_newest_first_in_slices,
    read_keys_may_look_and_only_admins_and_read_write_keys_change_endpoints,
    the_documented_verifiers_accept_a_real_delivery_and_refuse_a_tampered_one,
    a_slow_endpoint_holds_up_no_other_companys_deliveries,
    an_answer_with_a_nul_byte_is_logged_and_not_sent_again,
    events_attempts_and_finished_deliveries_are_forgotten_after_30_days,
    an_invoice_paid_however_it_became_paid_is_one_event,
    a_subscription_event_is_sent_only_when_what_it_shows_changed,
    someone_who_joins_an_open_condition_is_no_news,
);

/// Deliveries allowed to loopback over http, looked for every 100 ms, retried every second.
const SETTINGS: [(&str, &str); 4] = [
    ("WEBHOOKS_ALLOW_HTTP", "1"),
    ("WEBHOOKS_ALLOW_PRIVATE", "1"),
    ("OUTBOX_POLL_MS", "100"),
    ("WEBHOOK_RETRY_SCHEDULE_SECS", "1,1,1,1,1,1,1"),
];

const WAIT: Duration = Duration::from_secs(30);

async fn spawn(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, &SETTINGS).await
}

/// Creates an endpoint; returns its id and secret.
async fn create_endpoint(app: &TestApp, owner: &Session, url: &str, types: Value) -> (String, String) {
    let response =
        app.post("/api/v1/webhook-endpoints", &owner.access_token, json!({"url": url, "event_types": types})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.expect("json");
    (body["id"].as_str().expect("id").to_owned(), body["secret"].as_str().expect("secret").to_owned())
}

/// An owner, an endpoint for every event type, and its receiver.
async fn company_with_receiver(app: &TestApp) -> (Session, String, Receiver) {
    let owner = app.signup("Hooks Inc").await;
    let port = free_port();
    let (endpoint, secret) = create_endpoint(app, &owner, &format!("http://127.0.0.1:{port}/hook"), json!([])).await;
    (owner, endpoint, Receiver::start(port, &[&secret]))
}

fn of_type<'a>(deliveries: &'a [Value], kind: &str) -> Vec<&'a Value> {
    deliveries.iter().filter(|d| d["type"] == kind).collect()
}

fn body(delivery: &Value) -> Value {
    serde_json::from_str(delivery["body"].as_str().expect("body")).expect("a JSON body")
}

async fn attempts(app: &TestApp, owner: &Session, endpoint: &str) -> Vec<Value> {
    let page: Value = app
        .get(&format!("/api/v1/webhook-endpoints/{endpoint}/attempts?limit=100"), &owner.access_token)
        .await
        .json()
        .await
        .expect("json");
    page["data"].as_array().unwrap_or_else(|| panic!("attempts: {page}")).clone()
}

async fn endpoint(app: &TestApp, owner: &Session, endpoint: &str) -> Value {
    app.get(&format!("/api/v1/webhook-endpoints/{endpoint}"), &owner.access_token).await.json().await.expect("json")
}

async fn signed_events_reach_the_endpoint_and_an_independent_library_verifies_them(backend: Backend) {
    let app = spawn(backend).await;
    let owner = app.signup("Hooks Inc").await;
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let response =
        app.post("/api/v1/webhook-endpoints", &owner.access_token, json!({"url": url, "description": "Payroll"})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.expect("json");
    let secret = created["secret"].as_str().expect("the secret, shown once");
    assert!(secret.starts_with("whsec_"), "{created}");
    assert_eq!(created["enabled"], true);
    let id = created["id"].as_str().expect("id");
    let shown = endpoint(&app, &owner, id).await;
    assert_eq!(shown["url"], url);
    assert!(shown.get("secret").is_none(), "the secret is never shown again: {shown}");
    let receiver = Receiver::start(port, &[secret]);

    app.add_employee(&owner, "ada@hooks.test").await;
    let deliveries = receiver.wait_for(WAIT, "employee.created", |d| !of_type(d, "employee.created").is_empty()).await;
    assert!(deliveries.iter().all(|d| d["verified"] == true), "every delivery verifies: {deliveries:#?}");
    let delivery = of_type(&deliveries, "employee.created")[0];
    let event = body(delivery);
    assert_eq!(delivery["webhook_id"], event["id"], "the webhook-id is the event's id");
    assert_eq!(event["data"]["employee"]["email"], "ada@hooks.test");
    assert!(event["api_version"].is_string() && event["created_at"].is_string(), "{event}");

    let listed: Value =
        app.get("/api/v1/events?type=employee.created", &owner.access_token).await.json().await.expect("json");
    assert_eq!(listed["data"][0], event, "the events API lists the payload the webhook carried");

    let response = app.post(&format!("/api/v1/webhook-endpoints/{id}/test"), &owner.access_token, json!({})).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let ping: Value = response.json().await.expect("json");
    let deliveries = receiver.wait_for(WAIT, "the ping", |d| !of_type(d, "ping").is_empty()).await;
    assert_eq!(of_type(&deliveries, "ping")[0]["webhook_id"], ping["event_id"]);

    let log = attempts(&app, &owner, id).await;
    let first = log.iter().find(|a| a["event_id"] == event["id"]).unwrap_or_else(|| panic!("logged: {log:#?}"));
    assert_eq!(first["succeeded"], true);
    assert_eq!(first["status_code"], 200);
    assert!(first["response_body"].as_str().is_some_and(|b| b.contains("received")), "{first}");
}

async fn an_endpoint_gets_only_the_event_types_it_wants(backend: Backend) {
    let app = spawn(backend).await;
    let owner = app.signup("Picky Inc").await;
    let (all_port, agents_port) = (free_port(), free_port());
    let (_, all_secret) = create_endpoint(&app, &owner, &format!("http://127.0.0.1:{all_port}/"), json!([])).await;
    let (_, agents_secret) =
        create_endpoint(&app, &owner, &format!("http://127.0.0.1:{agents_port}/"), json!(["agent.enrolled"])).await;
    let (everything, agents_only) =
        (Receiver::start(all_port, &[&all_secret]), Receiver::start(agents_port, &[&agents_secret]));

    app.add_employee(&owner, "grace@picky.test").await;
    app.add_agent(&owner, None).await;
    everything.wait_for(WAIT, "both events", |d| !of_type(d, "agent.enrolled").is_empty()).await;
    let got = agents_only.wait_for(WAIT, "agent.enrolled", |d| !of_type(d, "agent.enrolled").is_empty()).await;
    assert!(
        !of_type(&everything.deliveries(), "employee.created").is_empty(),
        "an endpoint of every type gets the employee too"
    );
    assert!(got.iter().all(|d| d["type"] == "agent.enrolled"), "the agents endpoint gets nothing else: {got:#?}");
    let employee_event = of_type(&everything.deliveries(), "employee.created")[0]["webhook_id"].clone();
    let listed: Value = app.get("/api/v1/webhook-endpoints", &owner.access_token).await.json().await.expect("json");
    let agents_id = listed["data"]
        .as_array()
        .expect("endpoints")
        .iter()
        .find(|e| e["event_types"] == json!(["agent.enrolled"]))
        .and_then(|e| e["id"].as_str())
        .expect("the agents endpoint")
        .to_owned();
    let response = app
        .post(
            &format!("/api/v1/webhook-endpoints/{agents_id}/messages/{}/retry", employee_event.as_str().expect("id")),
            &owner.access_token,
            json!({}),
        )
        .await;
    assert_eq!(problem(response, StatusCode::CONFLICT).await["code"], "event_not_subscribed");
}

/// A real database failure in the middle of a change that has already emitted its event: the alert the
/// change raises cannot be written.
async fn break_alert_writes(app: &TestApp, backend: Backend) {
    match backend {
        Backend::Sqlite => {
            app.execute_sql(
                "CREATE TRIGGER break_alerts BEFORE INSERT ON alerts BEGIN SELECT RAISE(ABORT, 'injected'); END",
            )
            .await;
        }
        Backend::Postgres => {
            app.execute_sql(
                "CREATE FUNCTION break_alerts() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected'; END $$ \
                 LANGUAGE plpgsql",
            )
            .await;
            app.execute_sql(
                "CREATE TRIGGER break_alerts BEFORE INSERT ON alerts FOR EACH ROW EXECUTE FUNCTION break_alerts()",
            )
            .await;
        }
    }
}

async fn a_rolled_back_change_sends_nothing(backend: Backend) {
    let app = spawn(backend).await;
    let (owner, _, receiver) = company_with_receiver(&app).await;
    for n in 0..3 {
        app.add_employee(&owner, &format!("e{n}@rollback.test")).await;
    }
    receiver.wait_for(WAIT, "the first three", |d| of_type(d, "employee.created").len() == 3).await;
    // The fourth of FREE's five employees raises USAGE_HIGH in the same transaction, after the event.
    break_alert_writes(&app, backend).await;
    let response = app
        .post("/api/v1/employees", &owner.access_token, json!({"email": "doomed@rollback.test", "name": "Doomed"}))
        .await;
    assert!(response.status().is_server_error(), "the change fails: {}", response.status());
    match backend {
        Backend::Sqlite => app.execute_sql("DROP TRIGGER break_alerts").await,
        Backend::Postgres => app.execute_sql("DROP TRIGGER break_alerts ON alerts").await,
    };
    app.add_employee(&owner, "after@rollback.test").await;

    let deliveries = receiver
        .wait_for(WAIT, "the change after", |d| d.iter().any(|d| d["body"].as_str().unwrap_or("").contains("after@")))
        .await;
    assert!(
        !deliveries.iter().any(|d| d["body"].as_str().unwrap_or("").contains("doomed@")),
        "nothing of the rolled-back change was sent: {deliveries:#?}"
    );
    let listed: Value = app.get("/api/v1/events?limit=100", &owner.access_token).await.json().await.expect("json");
    assert!(!listed.to_string().contains("doomed@"), "nor is it listed: {listed}");
}

/// Each message was accepted exactly once, whatever else was tried.
fn accepted_once_each(receiver: &Receiver) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for delivery in receiver.accepted() {
        *counts.entry(delivery["webhook_id"].as_str().expect("webhook-id").to_owned()).or_insert(0) += 1;
    }
    counts
}

async fn a_receiver_killed_mid_run_gets_every_message_once_it_is_back(backend: Backend) {
    let app = spawn(backend).await;
    let (owner, endpoint_id, mut receiver) = company_with_receiver(&app).await;
    app.add_employee(&owner, "before@kill.test").await;
    receiver.wait_for(WAIT, "the first", |d| of_type(d, "employee.created").len() == 1).await;
    // Slow answers, so that the kill lands with deliveries in flight.
    receiver.answer(json!({"delay_secs": 0.3})).await;
    let writes = (0..4).map(|n| {
        let (app, owner) = (&app, &owner);
        async move {
            let body = json!({"email": format!("during{n}@kill.test"), "name": "During"});
            app.post("/api/v1/employees", &owner.access_token, body).await.status()
        }
    });
    let statuses = futures_util::future::join_all(writes).await;
    assert!(statuses.iter().all(|s| *s == StatusCode::CREATED), "{statuses:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    receiver.kill();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let failed = attempts(&app, &owner, &endpoint_id).await;
    assert!(failed.iter().any(|a| a["succeeded"] == false), "attempts failed while it was down: {failed:#?}");
    receiver.restart();

    let events: Value = app.get("/api/v1/events?limit=100", &owner.access_token).await.json().await.expect("json");
    let ids: Vec<String> =
        events["data"].as_array().expect("events").iter().map(|e| e["id"].as_str().expect("id").to_owned()).collect();
    receiver
        .wait_for(WAIT, "every message", |_| {
            let accepted = accepted_once_each(&receiver);
            ids.iter().all(|id| accepted.contains_key(id))
        })
        .await;
    let accepted = accepted_once_each(&receiver);
    assert!(accepted.values().all(|n| *n == 1), "each message accepted once: {accepted:?}");
    assert!(receiver.deliveries().iter().all(|d| d["verified"] == true));
}

async fn a_redirect_fails_and_a_retry_after_is_honoured(backend: Backend) {
    let app = spawn(backend).await;
    let (owner, endpoint_id, receiver) = company_with_receiver(&app).await;
    receiver.answer(json!({"status": 302})).await;
    app.add_employee(&owner, "moved@redirect.test").await;
    receiver.wait_for(WAIT, "the redirect", |d| d.iter().any(|d| d["status"] == 302)).await;
    receiver.answer(json!({"status": 503, "retry_after": "3"})).await;
    let deliveries =
        receiver.wait_for(WAIT, "two refusals", |d| d.iter().filter(|d| d["status"] == 503).count() >= 2).await;
    receiver.answer(json!({"status": 200})).await;
    receiver.wait_for(WAIT, "the success", |d| d.iter().any(|d| d["status"] == 200)).await;

    let log = attempts(&app, &owner, &endpoint_id).await;
    let redirect = log.iter().find(|a| a["status_code"] == 302).unwrap_or_else(|| panic!("{log:#?}"));
    assert_eq!(redirect["succeeded"], false, "a 3xx is a failure");
    assert!(redirect["error"].as_str().is_some_and(|e| e.contains("redirect")), "{redirect}");
    let refusals: Vec<i64> = deliveries
        .iter()
        .filter(|d| d["status"] == 503)
        .map(|d| d["webhook_timestamp"].as_str().and_then(|t| t.parse().ok()).expect("timestamp"))
        .collect();
    assert!(
        refusals[1] - refusals[0] >= 3,
        "the retry waited the 3 s it was asked to, not the 1 s schedule: {refusals:?}"
    );
    let ids: Vec<&Value> = deliveries.iter().map(|d| &d["webhook_id"]).collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "every retry carries the same webhook-id: {ids:?}");
}

async fn alerts_of(app: &TestApp, owner: &Session, kind: &str) -> Vec<Value> {
    let page: Value =
        app.get(&format!("/api/v1/alerts?type={kind}"), &owner.access_token).await.json().await.expect("json");
    page["data"].as_array().expect("alerts").clone()
}

async fn a_410_or_five_days_of_failures_disable_the_endpoint_and_alert_the_owners(backend: Backend) {
    let app = spawn(backend).await;
    let (owner, gone, receiver) = company_with_receiver(&app).await;
    receiver.answer(json!({"status": 410})).await;
    app.add_employee(&owner, "gone@disable.test").await;
    receiver.wait_for(WAIT, "the 410", |d| d.iter().any(|d| d["status"] == 410)).await;
    let disabled = wait_until_disabled(&app, &owner, &gone).await;
    assert!(disabled["disabled_reason"].as_str().is_some_and(|r| r.contains("410")), "{disabled}");
    let alerts = alerts_of(&app, &owner, "WEBHOOK_ENDPOINT_DISABLED").await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(receiver.deliveries().len(), 1, "a 410 is not retried");

    // A second endpoint has failed everything for six days; its next failure disables it.
    let port = free_port();
    let (failing, secret) = create_endpoint(&app, &owner, &format!("http://127.0.0.1:{port}/"), json!([])).await;
    let broken = Receiver::start(port, &[&secret]);
    broken.answer(json!({"status": 500})).await;
    let six_days_ago = (chrono::Utc::now() - chrono::Duration::days(6)).naive_utc().format("%Y-%m-%d %H:%M:%S");
    app.execute_sql(&format!("UPDATE webhook_endpoints SET failing_since = '{six_days_ago}' WHERE id = '{failing}'"))
        .await;
    app.add_employee(&owner, "broken@disable.test").await;
    let disabled = wait_until_disabled(&app, &owner, &failing).await;
    assert!(disabled["disabled_reason"].as_str().is_some_and(|r| r.contains("5 days")), "{disabled}");
    assert_eq!(alerts_of(&app, &owner, "WEBHOOK_ENDPOINT_DISABLED").await.len(), 2);
    let response = app.post(&format!("/api/v1/webhook-endpoints/{failing}/test"), &owner.access_token, json!({})).await;
    assert_eq!(problem(response, StatusCode::CONFLICT).await["code"], "webhook_endpoint_disabled");

    // Enabling it again is a fresh start.
    let response =
        app.patch(&format!("/api/v1/webhook-endpoints/{failing}"), &owner.access_token, json!({"enabled": true})).await;
    let enabled: Value = response.json().await.expect("json");
    assert_eq!(enabled["enabled"], true);
    assert!(enabled["disabled_reason"].is_null() && enabled["failing_since"].is_null(), "{enabled}");
    let open: Value = app
        .get("/api/v1/alerts?type=WEBHOOK_ENDPOINT_DISABLED&resolved=false", &owner.access_token)
        .await
        .json()
        .await
        .expect("json");
    let open = open["data"].as_array().expect("alerts");
    assert_eq!(open.len(), 1, "enabling it resolves its alert, so a later disable alerts again: {open:#?}");
    assert_eq!(open[0]["related_data"]["endpoint_id"], gone.as_str());
}

async fn wait_until_disabled(app: &TestApp, owner: &Session, id: &str) -> Value {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let shown = endpoint(app, owner, id).await;
        if shown["enabled"] == false {
            return shown;
        }
        assert!(std::time::Instant::now() < deadline, "the endpoint stayed enabled: {shown}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// This machine's own name: it resolves to one of its own (loopback or private) addresses.
fn own_host_name() -> String {
    let name = std::fs::read_to_string("/etc/hostname").expect("/etc/hostname").trim().to_owned();
    let inside = std::net::ToSocketAddrs::to_socket_addrs(&(name.as_str(), 80))
        .map(|mut addrs| {
            addrs
                .all(|addr| addr.ip().is_loopback() || matches!(addr.ip(), std::net::IpAddr::V4(v4) if v4.is_private()))
        })
        .unwrap_or(false);
    assert!(inside, "this test needs the host name {name} to resolve to this machine");
    name
}

async fn endpoints_must_be_public_https_urls_and_deliveries_never_reach_inside(backend: Backend) {
    let strict = TestApp::spawn_with(backend, &[("OUTBOX_POLL_MS", "100")]).await;
    let owner = strict.signup("Careful Inc").await;
    for (url, why) in [
        ("http://example.com/hook", "https"),
        ("https://127.0.0.1/hook", "private"),
        ("https://[::ffff:169.254.169.254]/latest", "private"),
        ("https://localhost/hook", "private"),
        ("https://user:pw@example.com/hook", "password"),
        ("not a url", "absolute"),
    ] {
        let response = strict.post("/api/v1/webhook-endpoints", &owner.access_token, json!({"url": url})).await;
        let refused = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(refused["code"], "validation_failed", "{url}");
        assert!(refused["errors"]["url"].to_string().contains(why), "{url}: {refused}");
    }
    let response = strict
        .post(
            "/api/v1/webhook-endpoints",
            &owner.access_token,
            json!({"url": "https://example.com/", "event_types": ["ping"]}),
        )
        .await;
    assert_eq!(problem(response, StatusCode::UNPROCESSABLE_ENTITY).await["code"], "validation_failed");

    // A name that resolves inside passes the URL check; the resolver refuses every address it has.
    let allow_http = TestApp::spawn_with(backend, &[("OUTBOX_POLL_MS", "100"), ("WEBHOOKS_ALLOW_HTTP", "1")]).await;
    let owner = allow_http.signup("Careful Inc").await;
    let port = free_port();
    let (id, secret) =
        create_endpoint(&allow_http, &owner, &format!("http://{}:{port}/hook", own_host_name()), json!([])).await;
    let receiver = Receiver::start(port, &[&secret]);
    allow_http.add_employee(&owner, "inside@careful.test").await;
    let deadline = std::time::Instant::now() + WAIT;
    let refused = loop {
        let log = attempts(&allow_http, &owner, &id).await;
        if let Some(first) = log.first() {
            break first.clone();
        }
        assert!(std::time::Instant::now() < deadline, "no attempt was logged");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(refused["succeeded"], false);
    assert!(refused["status_code"].is_null(), "{refused}");
    assert!(refused["error"].as_str().is_some_and(|e| e.contains("private")), "{refused}");
    assert!(receiver.deliveries().is_empty(), "nothing reached the receiver");
}

async fn a_rotated_secret_signs_beside_the_old_one_for_a_day(backend: Backend) {
    let app = spawn(backend).await;
    let owner = app.signup("Rotating Inc").await;
    let (old_port, new_port) = (free_port(), free_port());
    let (id, old_secret) = create_endpoint(&app, &owner, &format!("http://127.0.0.1:{old_port}/"), json!([])).await;
    let response =
        app.post(&format!("/api/v1/webhook-endpoints/{id}/rotate-secret"), &owner.access_token, json!({})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let rotated: Value = response.json().await.expect("json");
    let new_secret = rotated["secret"].as_str().expect("the new secret");
    assert_ne!(new_secret, old_secret);
    let overlap = chrono::DateTime::parse_from_rfc3339(rotated["previous_secret_expires_at"].as_str().expect("until"))
        .expect("rfc3339")
        .with_timezone(&chrono::Utc)
        - chrono::Utc::now();
    assert!((23..=24).contains(&overlap.num_hours()), "{rotated}");

    // A receiver that knows only the old secret, and then one that knows only the new one, both verify.
    let knows_old = Receiver::start(old_port, &[&old_secret]);
    app.add_employee(&owner, "first@rotate.test").await;
    let got = knows_old.wait_for(WAIT, "a delivery", |d| !d.is_empty()).await;
    assert_eq!(got[0]["verified"], true, "{got:#?}");
    assert_eq!(got[0]["signatures"].as_str().expect("signatures").split(' ').count(), 2, "both signatures");
    let response = app
        .patch(
            &format!("/api/v1/webhook-endpoints/{id}"),
            &owner.access_token,
            json!({"url": format!("http://127.0.0.1:{new_port}/")}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let knows_new = Receiver::start(new_port, &[new_secret]);
    app.add_employee(&owner, "second@rotate.test").await;
    let got = knows_new.wait_for(WAIT, "a delivery", |d| !d.is_empty()).await;
    assert_eq!(got[0]["verified"], true, "{got:#?}");

    // Once the overlap is over, only the new secret signs.
    app.execute_sql(&format!(
        "UPDATE webhook_endpoints SET previous_secret_expires_at = '2000-01-01 00:00:00' WHERE id = '{id}'"
    ))
    .await;
    app.add_employee(&owner, "third@rotate.test").await;
    let got = knows_new.wait_for(WAIT, "a delivery", |d| d.len() >= 2).await;
    assert_eq!(got[1]["signatures"].as_str().expect("signatures").split(' ').count(), 1, "{got:#?}");
    assert!(endpoint(&app, &owner, &id).await["previous_secret_expires_at"].is_null());
}

async fn a_message_can_be_sent_again_and_what_failed_recovered(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        &[
            ("WEBHOOKS_ALLOW_HTTP", "1"),
            ("WEBHOOKS_ALLOW_PRIVATE", "1"),
            ("OUTBOX_POLL_MS", "100"),
            ("WEBHOOK_RETRY_SCHEDULE_SECS", ""),
        ],
    )
    .await;
    let (owner, id, receiver) = company_with_receiver(&app).await;
    let since = chrono::Utc::now() - chrono::Duration::seconds(5);
    app.add_employee(&owner, "kept@recover.test").await;
    let first = receiver.wait_for(WAIT, "the first", |d| d.len() == 1).await;
    let kept = first[0]["webhook_id"].as_str().expect("id").to_owned();

    // Down for two changes: with no retries configured, each is given up after one attempt.
    receiver.answer(json!({"status": 500})).await;
    app.add_employee(&owner, "lost1@recover.test").await;
    app.add_employee(&owner, "lost2@recover.test").await;
    receiver.wait_for(WAIT, "the failures", |d| d.iter().filter(|d| d["status"] == 500).count() == 2).await;
    wait_for_given_up(&app, 2).await;
    receiver.answer(json!({"status": 200})).await;

    let response = app
        .post(&format!("/api/v1/webhook-endpoints/{id}/messages/{kept}/retry"), &owner.access_token, json!({}))
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    receiver.wait_for(WAIT, "the retried message", |_| accepted_once_each(&receiver).get(&kept) == Some(&2)).await;

    let since = since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let response = app
        .post(&format!("/api/v1/webhook-endpoints/{id}/recover?since={since}"), &owner.access_token, json!({}))
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let recovered: Value = response.json().await.expect("json");
    assert_eq!(recovered["queued"], 2, "the two that failed, not the one that arrived: {recovered}");
    receiver.wait_for(WAIT, "the recovered", |d| d.iter().filter(|d| d["status"] == 200).count() == 4).await;
    let response = app
        .post(&format!("/api/v1/webhook-endpoints/{id}/recover?since={since}"), &owner.access_token, json!({}))
        .await;
    let again: Value = response.json().await.expect("json");
    assert_eq!(again["queued"], 0, "nothing is left to recover: {again}");

    let unknown = uuid::Uuid::now_v7();
    let response = app
        .post(&format!("/api/v1/webhook-endpoints/{id}/messages/{unknown}/retry"), &owner.access_token, json!({}))
        .await;
    assert_eq!(problem(response, StatusCode::NOT_FOUND).await["code"], "not_found");
    let response = app
        .post(
            &format!("/api/v1/webhook-endpoints/{id}/recover?since=2000-01-01T00:00:00Z"),
            &owner.access_token,
            json!({}),
        )
        .await;
    assert_eq!(problem(response, StatusCode::UNPROCESSABLE_ENTITY).await["code"], "validation_failed");
}

/// Waits until `n` deliveries have been given up (their last attempt is recorded, and so is its end).
async fn wait_for_given_up(app: &TestApp, n: usize) {
    wait_for_deliveries(app, "failed_at IS NOT NULL", n, "given up").await;
}

/// Waits until `n` deliveries are done.
async fn wait_for_done(app: &TestApp, n: usize) {
    wait_for_deliveries(app, "done_at IS NOT NULL", n, "done").await;
}

async fn wait_for_deliveries(app: &TestApp, condition: &str, n: usize, what: &str) {
    let deadline = std::time::Instant::now() + WAIT;
    let sql = format!("SELECT CAST(COUNT(*) AS TEXT) AS value FROM outbox_messages WHERE {condition}");
    while app.execute_sql_text(&sql).await != n.to_string() {
        assert!(std::time::Instant::now() < deadline, "{n} deliveries were not {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn the_events_api_lists_what_the_webhooks_send_newest_first_in_slices(backend: Backend) {
    let app = spawn(backend).await;
    let owner = app.signup("Listing Inc").await;
    for n in 0..5 {
        app.add_employee(&owner, &format!("e{n}@list.test")).await;
    }
    let page = |query: String| {
        let (app, owner) = (&app, &owner);
        async move {
            let response = app.get(&format!("/api/v1/events?{query}"), &owner.access_token).await;
            assert_eq!(response.status(), StatusCode::OK, "{query}");
            response.json::<Value>().await.expect("json")
        }
    };
    let emails = |page: &Value| -> Vec<String> {
        page["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|e| e["data"]["employee"]["email"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    let first = page("type=employee.created&limit=2".to_owned()).await;
    assert_eq!(emails(&first), ["e4@list.test", "e3@list.test"], "newest first");
    assert_eq!(first["has_more"], true);
    let after = first["data"][1]["id"].as_str().expect("id");
    let second = page(format!("type=employee.created&limit=2&starting_after={after}")).await;
    assert_eq!(emails(&second), ["e2@list.test", "e1@list.test"]);
    let last =
        page(format!("type=employee.created&limit=2&starting_after={}", second["data"][1]["id"].as_str().expect("id")))
            .await;
    assert_eq!(emails(&last), ["e0@list.test"]);
    assert_eq!(last["has_more"], false);
    let before =
        page(format!("type=employee.created&limit=2&ending_before={}", last["data"][0]["id"].as_str().expect("id")))
            .await;
    assert_eq!(emails(&before), ["e2@list.test", "e1@list.test"], "ending_before pages back, still newest first");
    let usage = page("type=usage.high".to_owned()).await;
    assert_eq!(usage["data"].as_array().expect("data").len(), 1, "four of five employees is high usage once: {usage}");

    for query in ["limit=0", "limit=101", "starting_after=nope", "type=nothing.happened"] {
        let response = app.get(&format!("/api/v1/events?{query}"), &owner.access_token).await;
        assert!(response.status().is_client_error(), "{query}: {}", response.status());
    }
    let other = app.signup("Other Inc").await;
    let response = app.get(&format!("/api/v1/events?starting_after={after}"), &other.access_token).await;
    assert_eq!(
        problem(response, StatusCode::UNPROCESSABLE_ENTITY).await["code"],
        "validation_failed",
        "another company's event is no cursor"
    );
    let theirs = app.get("/api/v1/events", &other.access_token).await.json::<Value>().await.expect("json");
    assert!(!theirs.to_string().contains("@list.test"), "events stay in their company: {theirs}");
}

async fn read_keys_may_look_and_only_admins_and_read_write_keys_change_endpoints(backend: Backend) {
    let app = spawn(backend).await;
    let owner = app.signup("Roles Inc").await;
    let manager = app.add_user(&owner, "MANAGER").await;
    let (_, read_key) = app.api_key(&owner, "read").await;
    let (_, write_key) = app.api_key(&owner, "read_write").await;
    let body = json!({"url": "http://127.0.0.1:9/"});
    let response = app.post("/api/v1/webhook-endpoints", &manager.access_token, body.clone()).await;
    assert_eq!(problem(response, StatusCode::FORBIDDEN).await["code"], "forbidden");
    let response = app.post("/api/v1/webhook-endpoints", &read_key, body.clone()).await;
    assert_eq!(problem(response, StatusCode::FORBIDDEN).await["code"], "forbidden");
    let response = app.post("/api/v1/webhook-endpoints", &write_key, body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.expect("json");
    let id = created["id"].as_str().expect("id");
    let listed: Value = app.get("/api/v1/webhook-endpoints", &read_key).await.json().await.expect("json");
    assert_eq!(listed["data"][0]["id"], id);
    let response = app.get("/api/v1/events", &manager.access_token).await;
    assert_eq!(problem(response, StatusCode::FORBIDDEN).await["code"], "forbidden");

    let other = app.signup("Elsewhere Inc").await;
    let response = app.get(&format!("/api/v1/webhook-endpoints/{id}"), &other.access_token).await;
    assert_eq!(problem(response, StatusCode::NOT_FOUND).await["code"], "not_found");
    let response = app.delete(&format!("/api/v1/webhook-endpoints/{id}"), &other.access_token).await;
    assert_eq!(problem(response, StatusCode::NOT_FOUND).await["code"], "not_found");
    let response = app.delete(&format!("/api/v1/webhook-endpoints/{id}"), &owner.access_token).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let audit: Value =
        app.get("/api/v1/audit-logs?per_page=100", &owner.access_token).await.json().await.expect("json");
    for action in ["webhook_endpoint.created", "webhook_endpoint.deleted"] {
        assert!(audit.to_string().contains(action), "{action} is audited");
    }
}

/// Two instances over one PostgreSQL, both delivering: each message is accepted once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_two_instances_send_each_message_once() {
    if skip_postgres() {
        return;
    }
    let app = spawn(Backend::Postgres).await;
    let _second = app.sibling_with(&SETTINGS).await;
    let (owner, _, receiver) = company_with_receiver(&app).await;
    let writes = (0..4).map(|n| {
        let (app, owner) = (&app, &owner);
        async move { app.add_employee(owner, &format!("p{n}@pair.test")).await }
    });
    futures_util::future::join_all(writes).await;
    let events: Value = app.get("/api/v1/events?limit=100", &owner.access_token).await.json().await.expect("json");
    let ids: Vec<String> =
        events["data"].as_array().expect("events").iter().map(|e| e["id"].as_str().expect("id").to_owned()).collect();
    assert!(ids.len() >= 4, "{events}");
    receiver
        .wait_for(WAIT, "every message", |_| {
            let accepted = accepted_once_each(&receiver);
            ids.iter().all(|id| accepted.contains_key(id))
        })
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let accepted = accepted_once_each(&receiver);
    assert!(accepted.values().all(|n| *n == 1), "each message once across the two instances: {accepted:?}");
    assert_eq!(receiver.deliveries().len(), accepted.len(), "and no message was even attempted twice");
}

/// Runs one of the verifiers of docs/INTEGRATING.md on a delivery; returns whether it accepted it, and what it
/// printed.
fn run_verifier(program: &std::path::Path, script: &str, secret: &str, delivery: &Value, body: &str) -> (bool, String) {
    use std::io::Write;
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut child = std::process::Command::new(program)
        .arg(root.join("docs/examples").join(script))
        .env("VIGIL_WEBHOOK_SECRET", secret)
        .env("WEBHOOK_ID", delivery["webhook_id"].as_str().expect("id"))
        .env("WEBHOOK_TIMESTAMP", delivery["webhook_timestamp"].as_str().expect("timestamp"))
        .env("WEBHOOK_SIGNATURE", delivery["signatures"].as_str().expect("signature"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|error| panic!("run {}: {error}", program.display()));
    child.stdin.take().expect("stdin").write_all(body.as_bytes()).expect("write the body");
    let output = child.wait_with_output().expect("wait");
    (output.status.success(), String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

async fn the_documented_verifiers_accept_a_real_delivery_and_refuse_a_tampered_one(backend: Backend) {
    let app = spawn(backend).await;
    let owner = app.signup("Docs Inc").await;
    let port = free_port();
    let (_, secret) = create_endpoint(&app, &owner, &format!("http://127.0.0.1:{port}/"), json!([])).await;
    let receiver = Receiver::start(port, &[&secret]);
    app.add_employee(&owner, "doc@docs.test").await;
    let delivery = receiver.wait_for(WAIT, "a delivery", |d| !d.is_empty()).await.remove(0);
    let body = delivery["body"].as_str().expect("body").to_owned();
    for (program, script) in [
        (crate::helpers::tools_python(), "verify_webhook.py"),
        (std::path::PathBuf::from("node"), "verify_webhook.mjs"),
    ] {
        assert_eq!(
            run_verifier(&program, script, &secret, &delivery, &body),
            (true, "employee.created".to_owned()),
            "{script} accepts the delivery"
        );
        let tampered = body.replace("doc@docs.test", "eve@docs.test");
        assert!(!run_verifier(&program, script, &secret, &delivery, &tampered).0, "{script} refuses a changed body");
        let other = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        assert!(!run_verifier(&program, script, other, &delivery, &body).0, "{script} refuses another secret");
    }
}

async fn a_slow_endpoint_holds_up_no_other_companys_deliveries(backend: Backend) {
    let app = spawn(backend).await;
    let (slow_owner, _, slow) = company_with_receiver(&app).await;
    let (fast_owner, _, fast) = company_with_receiver(&app).await;
    // Long enough that even a loaded machine delivers the fast company's event before this one is answered.
    slow.answer(json!({"delay_secs": 8})).await;
    app.add_employee(&slow_owner, "slow@slow.test").await;
    // Let the slow delivery be claimed and in flight.
    tokio::time::sleep(Duration::from_millis(600)).await;
    app.add_employee(&fast_owner, "fast@fast.test").await;
    fast.wait_for(WAIT, "the fast company's event", |d| !of_type(d, "employee.created").is_empty()).await;
    assert!(slow.deliveries().is_empty(), "the fast one arrived while the slow one was still being answered");
    slow.wait_for(WAIT, "the slow one in the end", |d| !d.is_empty()).await;
}

async fn an_answer_with_a_nul_byte_is_logged_and_not_sent_again(backend: Backend) {
    let app = spawn(backend).await;
    let (owner, id, receiver) = company_with_receiver(&app).await;
    receiver.answer(json!({"body": "ok\u{0}done"})).await;
    app.add_employee(&owner, "nul@nul.test").await;
    receiver.wait_for(WAIT, "the delivery", |d| !d.is_empty()).await;
    let deadline = std::time::Instant::now() + WAIT;
    let logged = loop {
        if let Some(first) = attempts(&app, &owner, &id).await.first().cloned() {
            break first;
        }
        assert!(std::time::Instant::now() < deadline, "no attempt was logged");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(logged["succeeded"], true, "{logged}");
    assert_eq!(logged["response_body"], "ok\u{FFFD}done");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.deliveries().len(), 1, "a success is not sent again");
}

async fn events_attempts_and_finished_deliveries_are_forgotten_after_30_days(backend: Backend) {
    let app = spawn(backend).await;
    let (owner, id, receiver) = company_with_receiver(&app).await;
    app.add_employee(&owner, "old@forget.test").await;
    receiver.wait_for(WAIT, "the delivery", |d| !d.is_empty()).await;
    wait_for_done(&app, 1).await;
    app.add_employee(&owner, "new@forget.test").await;
    receiver.wait_for(WAIT, "the second", |d| d.len() == 2).await;
    wait_for_done(&app, 2).await;
    // The first change happened 31 days ago.
    let old = "'2000-01-01 00:00:00'";
    let first: Value = app
        .get("/api/v1/events?type=employee.created&limit=100", &owner.access_token)
        .await
        .json()
        .await
        .expect("json");
    let first_id = first["data"][1]["id"].as_str().expect("the older event").to_owned();
    app.execute_sql(&format!("UPDATE events SET created_at = {old} WHERE id = '{first_id}'")).await;
    app.execute_sql(&format!("UPDATE webhook_attempts SET attempted_at = {old} WHERE event_id = '{first_id}'")).await;
    app.execute_sql(&format!("UPDATE outbox_messages SET done_at = {old} WHERE dedup_key LIKE '{first_id}%'")).await;
    let blobs = vigil::storage::blobs::BlobStore::open(&app.config.object_store_url).expect("store");
    let report =
        vigil::sweeps::retention::sweep(&app.pool, &blobs, app.config.retention_hold_days).await.expect("sweep");
    assert_eq!(report.integration_records, 3, "{report:?}");
    let count = |table: &str| format!("SELECT CAST(COUNT(*) AS TEXT) AS value FROM {table}");
    assert_eq!(app.execute_sql_text(&count("outbox_messages")).await, "1", "the newer delivery is kept");
    let kept = attempts(&app, &owner, &id).await;
    assert_eq!(kept.len(), 1, "{kept:#?}");
    assert_ne!(kept[0]["event_id"], first_id.as_str());
    let listed: Value =
        app.get("/api/v1/events?type=employee.created", &owner.access_token).await.json().await.expect("json");
    assert_eq!(listed["data"].as_array().expect("events").len(), 1, "{listed}");
}

async fn events_of(app: &TestApp, owner: &Session, kind: &str) -> Vec<Value> {
    let page: Value = app
        .get(&format!("/api/v1/events?type={kind}&limit=100"), &owner.access_token)
        .await
        .json()
        .await
        .expect("json");
    page["data"].as_array().unwrap_or_else(|| panic!("events: {page}")).clone()
}

async fn an_invoice_paid_however_it_became_paid_is_one_event(backend: Backend) {
    use crate::webhooks::{customer_company, delivered, event, invoice, unique};
    let app = crate::webhooks::spawn(backend).await;
    let (owner, customer) = customer_company(&app).await;
    let (sub, id) = (unique("sub"), unique("in"));
    let paid = invoice(&id, &customer, &sub, "paid", 2900);
    let now = chrono::Utc::now().timestamp();
    // Stripe's `invoice.updated` of the payment can come first; `invoice.paid` and then
    // `invoice.payment_succeeded` say the same again.
    for (offset, kind) in [(0, "invoice.updated"), (1, "invoice.paid"), (2, "invoice.payment_succeeded")] {
        delivered(&app, &event(&unique("evt"), kind, now + offset, paid.clone())).await;
    }
    let sent = events_of(&app, &owner, "invoice.paid").await;
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(sent[0]["data"]["invoice"]["status"], "PAID");
    assert_eq!(sent[0]["data"]["invoice"]["amount_paid"], 2900);
}

async fn a_subscription_event_is_sent_only_when_what_it_shows_changed(backend: Backend) {
    use crate::stripe_fake::PRICE_PRO;
    use crate::webhooks::{customer_company, delivered, event, subscription, unique};
    let app = crate::webhooks::spawn(backend).await;
    let (owner, customer) = customer_company(&app).await;
    let sub = unique("sub");
    let now = chrono::Utc::now().timestamp();
    let live = subscription(&sub, &customer, PRICE_PRO, "active", false);
    delivered(&app, &event(&unique("evt"), "customer.subscription.created", now, live.clone())).await;
    delivered(&app, &event(&unique("evt"), "customer.subscription.updated", now + 1, live)).await;
    assert_eq!(events_of(&app, &owner, "subscription.updated").await.len(), 1, "the same state again is no news");
    let ending = subscription(&sub, &customer, PRICE_PRO, "active", true);
    delivered(&app, &event(&unique("evt"), "customer.subscription.updated", now + 2, ending)).await;
    let sent = events_of(&app, &owner, "subscription.updated").await;
    assert_eq!(sent.len(), 2, "{sent:#?}");
    assert_eq!(sent[0]["data"]["subscription"]["auto_renew"], false, "newest first, as the billing page shows it");
    assert_eq!(sent[0]["data"]["subscription"]["tier"], "PRO");
}

async fn someone_who_joins_an_open_condition_is_no_news(backend: Backend) {
    let app = spawn(backend).await;
    let owner = app.signup("Joiners Inc").await;
    for n in 0..4 {
        app.add_employee(&owner, &format!("e{n}@join.test")).await;
    }
    assert_eq!(events_of(&app, &owner, "usage.high").await.len(), 1);
    let admin = app.add_user(&owner, "ADMIN").await;
    app.add_employee(&owner, "e4@join.test").await;
    let alerts: Value =
        app.get("/api/v1/alerts?type=USAGE_HIGH", &admin.access_token).await.json().await.expect("json");
    assert_eq!(alerts["data"].as_array().expect("alerts").len(), 1, "the new admin sees the open condition: {alerts}");
    assert_eq!(events_of(&app, &owner, "usage.high").await.len(), 1, "but it is not sent again");
    let created = events_of(&app, &owner, "alert.created").await;
    let usage: Vec<&Value> = created.iter().filter(|e| e["data"]["alert"]["type"] == "USAGE_HIGH").collect();
    assert_eq!(usage.len(), 1, "{created:#?}");
}
