//! Alerts: every type's trigger and recipients, read/unread/resolve, filters, dedup, the live stream, and
//! two instances on one PostgreSQL.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, Session, TestApp, backend_tests, problem, skip_postgres};

backend_tests!(
    a_policy_change_alerts_owners_admins_and_managers_but_not_viewers,
    high_usage_is_raised_at_80_percent_and_resolved_below,
    a_silent_agent_is_alerted_once_and_resolved_when_it_returns,
    a_failed_payment_alerts_owners_and_admins_once_and_its_recovery_resolves_it,
    a_failed_payment_is_alerted_once_when_its_payment_intent_names_no_invoice,
    a_payment_failure_that_arrives_after_the_invoice_was_paid_raises_nothing,
    a_failure_redelivered_after_a_later_event_of_its_invoice_still_alerts_once,
    a_voided_invoice_closes_its_failure_alert_and_its_late_failures_raise_nothing,
    a_cancelled_subscription_and_an_expiring_one_are_alerted,
    alerts_are_read_per_person_filtered_and_resolved_for_everyone,
    the_stream_pushes_new_alerts_and_resumes_after_the_last_event,
    a_burst_of_a_thousand_alerts_reaches_every_open_stream_once_and_in_order,
    the_unread_page_and_count_read_only_the_unread_index,
);

async fn alerts_of(app: &TestApp, session: &Session, query: &str) -> Value {
    app.get(&format!("/api/v1/alerts{query}"), &session.access_token).await.json().await.expect("json")
}

async fn types_of(app: &TestApp, session: &Session) -> Vec<String> {
    let page = alerts_of(app, session, "?per_page=100").await;
    page["data"].as_array().expect("data").iter().map(|a| a["type"].as_str().unwrap_or_default().to_owned()).collect()
}

async fn change_policy(app: &TestApp, session: &Session, idle: u32) {
    let mut policy: Value = app.get("/api/v1/policy", &session.access_token).await.json().await.expect("json");
    policy["settings"]["idle_threshold_secs"] = json!(idle);
    let response =
        app.request(Method::PUT, "/api/v1/policy", Some(&session.access_token), Some(policy["settings"].clone())).await;
    assert_eq!(response.status(), StatusCode::OK);
}

async fn a_policy_change_alerts_owners_admins_and_managers_but_not_viewers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let admin = app.add_user(&owner, "ADMIN").await;
    let manager = app.add_user(&owner, "MANAGER").await;
    let viewer = app.add_user(&owner, "VIEWER").await;

    change_policy(&app, &owner, 240).await;

    for session in [&owner, &admin, &manager] {
        let page = alerts_of(&app, session, "").await;
        assert_eq!(page["data"][0]["type"], "POLICY_CHANGED", "{}", session.email);
        assert_eq!(page["data"][0]["severity"], "info");
        assert_eq!(page["data"][0]["related_data"]["version"], 2);
    }
    assert_eq!(alerts_of(&app, &viewer, "").await["total"], 0);
}

async fn high_usage_is_raised_at_80_percent_and_resolved_below(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let manager = app.add_user(&owner, "MANAGER").await;
    let mut ids = Vec::new();
    for n in 0..4 {
        ids.push(app.add_employee(&owner, &format!("e{n}@acme.test")).await);
    }

    let raised = alerts_of(&app, &manager, "?type=USAGE_HIGH").await;
    app.add_employee(&owner, "e4@acme.test").await;
    let still_one = alerts_of(&app, &manager, "?type=USAGE_HIGH").await;
    for id in &ids[..2] {
        app.post(&format!("/api/v1/employees/{id}/deactivate"), &owner.access_token, json!({})).await;
    }
    let after = alerts_of(&app, &manager, "?type=USAGE_HIGH").await;

    assert_eq!(raised["total"], 1);
    assert_eq!(raised["data"][0]["severity"], "warning");
    assert_eq!(
        raised["data"][0]["related_data"],
        json!({"limit": "max_employees", "used": 4, "max": 5, "percent": 80, "tier": "FREE"})
    );
    assert_eq!(still_one["total"], 1, "no second alert while the first is open");
    assert_eq!(after["data"][0]["resolved"], true, "usage fell below 80%: {after}");
}

async fn a_silent_agent_is_alerted_once_and_resolved_when_it_returns(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let employee = app.add_employee(&owner, "ada@acme.test").await;
    let agent = app.add_agent(&owner, Some("ada@acme.test")).await;
    app.execute_sql(&format!("UPDATE agents SET last_seen_at = '2000-01-01 00:00:00' WHERE id = '{}'", agent.id)).await;

    let first = vigil::sweeps::alerts::sweep(&app.pool).await.expect("sweep");
    let second = vigil::sweeps::alerts::sweep(&app.pool).await.expect("sweep");
    let raised = alerts_of(&app, &owner, "?type=AGENT_OFFLINE").await;
    let beat = app.heartbeat(&agent, json!({"policy_version": 1})).await;
    let after = alerts_of(&app, &owner, "?type=AGENT_OFFLINE").await;

    assert_eq!((first.agents_offline, second.agents_offline), (1, 0));
    assert_eq!(raised["total"], 1);
    assert_eq!(raised["data"][0]["related_employee_id"], employee.as_str());
    assert_eq!(raised["data"][0]["related_data"]["agent_id"], agent.id.as_str());
    assert_eq!(beat.status(), StatusCode::OK);
    assert_eq!(after["data"][0]["resolved"], true, "{after}");
    let listed: Value =
        app.get(&format!("/api/v1/agents/{}", agent.id), &owner.access_token).await.json().await.expect("json");
    assert_eq!(listed["status"], "ONLINE");
}

/// A server with a webhook secret, and a company linked to a Stripe customer.
async fn billed_company(backend: Backend) -> (TestApp, Session, String) {
    let app = TestApp::spawn_with(backend, &[("STRIPE_WEBHOOK_SECRET", "whsec_alerts")]).await;
    let owner = app.signup("Billed Co").await;
    let customer = format!("cus_{}", uuid::Uuid::new_v4().simple());
    app.execute_sql(&format!(
        "UPDATE companies SET stripe_customer_id = '{customer}' WHERE id = '{}'",
        owner.company_id
    ))
    .await;
    (app, owner, customer)
}

async fn deliver(app: &TestApp, kind: &str, created: i64, object: Value) {
    let body = json!({"id": format!("evt_{}", uuid::Uuid::new_v4().simple()), "type": kind, "created": created, "data": {"object": object}}).to_string();
    let header = vigil::stripe::signature::sign(body.as_bytes(), "whsec_alerts", chrono::Utc::now().timestamp());
    let response = app
        .client
        .post(app.url("/api/v1/stripe/webhook"))
        .header("stripe-signature", header)
        .body(body)
        .send()
        .await
        .expect("delivery");
    assert_eq!(response.status(), StatusCode::OK, "{kind}");
}

async fn a_failed_payment_alerts_owners_and_admins_once_and_its_recovery_resolves_it(backend: Backend) {
    let (app, owner, customer) = billed_company(backend).await;
    let manager = app.add_user(&owner, "MANAGER").await;
    let invoice = |status: &str, paid: i64| {
        json!({"id": "in_alerts_1", "object": "invoice", "customer": customer, "status": status,
        "amount_due": 2900, "amount_paid": paid, "currency": "usd", "created": 1_790_000_000})
    };

    deliver(&app, "invoice.payment_failed", 1_790_000_100, invoice("open", 0)).await;
    deliver(
        &app,
        "payment_intent.payment_failed",
        1_790_000_101,
        json!({"id": "pi_1", "object": "payment_intent", "customer": customer,
        "invoice": "in_alerts_1", "amount": 2900, "currency": "usd"}),
    )
    .await;
    let failed = alerts_of(&app, &owner, "?type=PAYMENT_FAILED").await;
    deliver(&app, "invoice.paid", 1_790_000_200, invoice("paid", 2900)).await;

    assert_eq!(failed["total"], 1, "the payment intent's failure is the same condition");
    assert_eq!(
        (failed["data"][0]["severity"].as_str(), failed["data"][0]["resolved"].as_bool()),
        (Some("critical"), Some(false))
    );
    assert!(failed["data"][0]["message"].as_str().unwrap_or("").contains("29.00 USD"), "{failed}");
    assert!(types_of(&app, &manager).await.is_empty(), "billing alerts are for owners and admins");
    assert_eq!(alerts_of(&app, &owner, "?type=PAYMENT_FAILED").await["data"][0]["resolved"], true);
    let recovered = alerts_of(&app, &owner, "?type=PAYMENT_RECOVERED").await;
    assert_eq!((recovered["total"].as_i64(), recovered["data"][0]["severity"].as_str()), (Some(1), Some("info")));
}

/// Under API version 2025-03-31 (Basil) a PaymentIntent no longer names its invoice. One failed invoice
/// payment sends both events, in either order; it is one failed payment, and one alert.
async fn a_failed_payment_is_alerted_once_when_its_payment_intent_names_no_invoice(backend: Backend) {
    let (app, owner, customer) = billed_company(backend).await;
    let intent = json!({"id": "pi_basil_1", "object": "payment_intent", "customer": customer, "amount": 2900,
        "currency": "usd", "status": "requires_payment_method",
        "last_payment_error": {"message": "Your card was declined."}});
    let invoice = json!({"id": "in_basil_1", "object": "invoice", "customer": customer, "status": "open",
        "amount_due": 2900, "amount_paid": 0, "currency": "usd", "created": 1_790_000_000});

    deliver(&app, "payment_intent.payment_failed", 1_790_000_100, intent).await;
    deliver(&app, "invoice.payment_failed", 1_790_000_101, invoice).await;

    let failed = alerts_of(&app, &owner, "?type=PAYMENT_FAILED").await;
    assert_eq!(failed["total"], 1, "one failed payment, one alert: {failed}");
    assert_eq!(failed["data"][0]["related_data"]["reference"], "in_basil_1", "the alert names the invoice to pay");
}

/// Stripe does not deliver in order: the failure of an attempt can arrive after the invoice was paid by a
/// later one. It raises nothing, whichever event carries it.
async fn a_payment_failure_that_arrives_after_the_invoice_was_paid_raises_nothing(backend: Backend) {
    let (app, owner, customer) = billed_company(backend).await;
    let paid = json!({"id": "in_late_1", "object": "invoice", "customer": customer, "status": "paid",
        "amount_due": 2900, "amount_paid": 2900, "currency": "usd", "created": 1_790_000_000});
    deliver(&app, "invoice.paid", 1_790_000_300, paid).await;

    deliver(
        &app,
        "payment_intent.payment_failed",
        1_790_000_100,
        json!({"id": "pi_late_1", "object": "payment_intent", "customer": customer, "invoice": "in_late_1",
        "amount": 2900, "currency": "usd"}),
    )
    .await;
    deliver(
        &app,
        "invoice.payment_failed",
        1_790_000_100,
        json!({"id": "in_late_1", "object": "invoice", "customer": customer, "status": "open",
        "amount_due": 2900, "amount_paid": 0, "currency": "usd", "created": 1_790_000_000}),
    )
    .await;

    let failed = alerts_of(&app, &owner, "?type=PAYMENT_FAILED").await;
    assert_eq!(failed["total"], 0, "a paid invoice's late failures alarm no one: {failed}");
}

/// Vigil answered 5xx to `invoice.payment_failed` (a deploy, a pool timeout) and accepted the invoice's next
/// event; Stripe's retry of the failure is then older than the mirrored invoice. The owners are still told,
/// once, and the Basil PaymentIntent failure (naming no invoice) adds nothing.
async fn a_failure_redelivered_after_a_later_event_of_its_invoice_still_alerts_once(backend: Backend) {
    let (app, owner, customer) = billed_company(backend).await;
    let invoice = json!({"id": "in_retry_1", "object": "invoice", "customer": customer, "status": "open",
        "amount_due": 2900, "amount_paid": 0, "currency": "usd", "created": 1_790_000_000, "attempt_count": 1});

    deliver(&app, "invoice.updated", 1_790_000_300, invoice.clone()).await;
    deliver(&app, "invoice.payment_failed", 1_790_000_200, invoice.clone()).await;
    deliver(
        &app,
        "payment_intent.payment_failed",
        1_790_000_200,
        json!({"id": "pi_retry_1", "object": "payment_intent", "customer": customer, "amount": 2900,
        "currency": "usd"}),
    )
    .await;
    deliver(&app, "invoice.payment_failed", 1_790_000_200, invoice).await;

    let failed = alerts_of(&app, &owner, "?type=PAYMENT_FAILED").await;
    assert_eq!(failed["total"], 1, "the failure is told once: {failed}");
    assert_eq!(failed["data"][0]["related_data"]["reference"], "in_retry_1");
}

/// A voided (or written-off) invoice is owed no more: its open failure alert is closed without a "payment
/// recovered", and a late failure of one of its attempts raises nothing.
async fn a_voided_invoice_closes_its_failure_alert_and_its_late_failures_raise_nothing(backend: Backend) {
    let (app, owner, customer) = billed_company(backend).await;
    let invoice = |status: &str| {
        json!({"id": "in_void_1", "object": "invoice", "customer": customer, "status": status,
        "amount_due": 2900, "amount_paid": 0, "currency": "usd", "created": 1_790_000_000})
    };
    deliver(&app, "invoice.payment_failed", 1_790_000_100, invoice("open")).await;
    let raised = alerts_of(&app, &owner, "?type=PAYMENT_FAILED").await;

    deliver(&app, "invoice.voided", 1_790_000_200, invoice("void")).await;
    deliver(
        &app,
        "payment_intent.payment_failed",
        1_790_000_150,
        json!({"id": "pi_void_1", "object": "payment_intent", "customer": customer, "invoice": "in_void_1",
        "amount": 2900, "currency": "usd"}),
    )
    .await;

    assert_eq!(raised["total"], 1, "the failure was told: {raised}");
    let after = alerts_of(&app, &owner, "?type=PAYMENT_FAILED").await;
    assert_eq!(after["total"], 1, "no second alert: {after}");
    assert_eq!(after["data"][0]["resolved"], true, "the voided invoice's alert is closed: {after}");
    assert_eq!(alerts_of(&app, &owner, "?type=PAYMENT_RECOVERED").await["total"], 0, "nothing was recovered");
}

async fn a_cancelled_subscription_and_an_expiring_one_are_alerted(backend: Backend) {
    let (app, owner, customer) = billed_company(backend).await;
    let subscription = |status: &str| {
        json!({"id": "sub_alerts", "object": "subscription", "customer": customer, "status": status,
        "cancel_at_period_end": true, "metadata": {"company_id": owner.company_id},
        "items": {"data": [{"id": "si_1", "price": {"id": "price_unknown"}}]}})
    };
    deliver(&app, "customer.subscription.updated", 1_790_000_000, subscription("active")).await;
    let in_ten_days = (chrono::Utc::now() + chrono::Duration::days(10)).format("%Y-%m-%d %H:%M:%S").to_string();
    app.execute_sql(&format!(
        "UPDATE subscriptions SET current_period_end = '{in_ten_days}' WHERE company_id = '{}'",
        owner.company_id
    ))
    .await;

    let swept = vigil::sweeps::alerts::sweep(&app.pool).await.expect("sweep");
    let again = vigil::sweeps::alerts::sweep(&app.pool).await.expect("sweep");
    deliver(&app, "customer.subscription.deleted", 1_790_000_100, subscription("canceled")).await;

    assert_eq!((swept.subscriptions_expiring, again.subscriptions_expiring), (1, 0));
    let id =
        alerts_of(&app, &owner, "?type=SUBSCRIPTION_EXPIRING").await["data"][0]["id"].as_str().expect("id").to_owned();
    app.post(&format!("/api/v1/alerts/{id}/resolve"), &owner.access_token, json!({})).await;
    let after_resolving = vigil::sweeps::alerts::sweep(&app.pool).await.expect("sweep");
    assert_eq!(
        after_resolving.subscriptions_expiring, 0,
        "a resolved expiry notice is not raised again for the same period"
    );
    let expiring = alerts_of(&app, &owner, "?type=SUBSCRIPTION_EXPIRING").await;
    assert!(
        expiring["data"][0]["title"].as_str().unwrap_or("").contains("ends in 9 days")
            || expiring["data"][0]["title"].as_str().unwrap_or("").contains("ends in 10 days"),
        "{expiring}"
    );
    let cancelled = alerts_of(&app, &owner, "?type=SUBSCRIPTION_CANCELLED").await;
    assert_eq!((cancelled["total"].as_i64(), cancelled["data"][0]["severity"].as_str()), (Some(1), Some("critical")));
}

async fn alerts_are_read_per_person_filtered_and_resolved_for_everyone(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let admin = app.add_user(&owner, "ADMIN").await;
    change_policy(&app, &owner, 240).await;
    change_policy(&app, &owner, 250).await;
    change_policy(&app, &owner, 260).await;
    let first = alerts_of(&app, &owner, "").await["data"][0]["id"].as_str().expect("id").to_owned();

    let read: Value = app
        .post(&format!("/api/v1/alerts/{first}/read"), &owner.access_token, json!({}))
        .await
        .json()
        .await
        .expect("json");
    let count: Value = app.get("/api/v1/alerts/unread-count", &owner.access_token).await.json().await.expect("json");
    let admin_count: Value =
        app.get("/api/v1/alerts/unread-count", &admin.access_token).await.json().await.expect("json");
    let unread = alerts_of(&app, &owner, "?unread=true").await;
    let critical = alerts_of(&app, &owner, "?severity=critical").await;
    let resolved: Value = app
        .post(&format!("/api/v1/alerts/{first}/resolve"), &owner.access_token, json!({}))
        .await
        .json()
        .await
        .expect("json");
    let admin_resolved = alerts_of(&app, &admin, "?resolved=true").await;
    let all_read: Value =
        app.post("/api/v1/alerts/read-all", &owner.access_token, json!({})).await.json().await.expect("json");
    let others = app.post(&format!("/api/v1/alerts/{first}/read"), &admin.access_token, json!({})).await;

    assert_eq!(
        (read["read"].as_bool(), count["unread"].as_i64(), admin_count["unread"].as_i64()),
        (Some(true), Some(2), Some(3))
    );
    assert_eq!(unread["total"], 2);
    assert_eq!(critical["total"], 0);
    assert_eq!(resolved["resolved"], true);
    assert_eq!(admin_resolved["total"], 1, "a condition resolves for everyone");
    assert_eq!(all_read["marked"], 2);
    assert_eq!(problem(others, StatusCode::NOT_FOUND).await["code"], "not_found", "alerts are per recipient");
    let bad = app.get("/api/v1/alerts?type=NOT_A_TYPE", &owner.access_token).await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

/// Reads the stream until an `event: alert` arrives, returning its id and data, or gives up.
async fn next_alert(
    stream: &mut (impl futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
    buffer: &mut String,
    wait: Duration,
) -> Option<(String, Value)> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        if let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let field = |name: &str| block.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_owned());
            if field("event:").as_deref() == Some("alert") {
                let data = serde_json::from_str(&field("data:").unwrap_or_default()).unwrap_or(Value::Null);
                return Some((field("id:").unwrap_or_default(), data));
            }
            continue;
        }
        let chunk = tokio::time::timeout_at(deadline, stream.next()).await.ok()??.ok()?;
        buffer.push_str(&String::from_utf8_lossy(&chunk));
    }
}

async fn open_stream(
    address: &str,
    client: &reqwest::Client,
    ticket_owner: &Session,
    app: &TestApp,
    last_event_id: Option<&str>,
) -> reqwest::Response {
    let ticket: Value = app
        .post("/api/v1/alerts/stream-tickets", &ticket_owner.access_token, json!({}))
        .await
        .json()
        .await
        .expect("json");
    let mut request =
        client.get(format!("{address}/api/v1/alerts/stream?ticket={}", ticket["ticket"].as_str().expect("ticket")));
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    let response = request.send().await.expect("stream");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    response
}

async fn the_stream_pushes_new_alerts_and_resumes_after_the_last_event(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let response = open_stream(&app.address, &app.client, &owner, &app, None).await;
    let mut stream = response.bytes_stream();
    let mut buffer = String::new();
    // Let the stream settle on its starting point before anything is raised.
    tokio::time::sleep(Duration::from_millis(200)).await;

    change_policy(&app, &owner, 240).await;
    let (first_id, first) =
        next_alert(&mut stream, &mut buffer, Duration::from_secs(1)).await.expect("pushed within a second");
    change_policy(&app, &owner, 250).await;
    let (_, second) = next_alert(&mut stream, &mut buffer, Duration::from_secs(1)).await.expect("the next one too");
    drop(stream);
    let resumed = open_stream(&app.address, &app.client, &owner, &app, Some(&first_id)).await;
    let (_, replayed) =
        next_alert(&mut resumed.bytes_stream(), &mut String::new(), Duration::from_secs(1)).await.expect("resumed");

    assert_eq!((first["type"].as_str(), first["id"].as_str()), (Some("POLICY_CHANGED"), Some(first_id.as_str())));
    assert_eq!(second["related_data"]["version"], 3);
    assert_eq!(replayed["id"], second["id"], "Last-Event-ID resumes after the last alert seen");
    let ticket: Value =
        app.post("/api/v1/alerts/stream-tickets", &owner.access_token, json!({})).await.json().await.expect("json");
    let url = app.url(&format!("/api/v1/alerts/stream?ticket={}", ticket["ticket"].as_str().expect("ticket")));
    let used_once = app.client.get(&url).send().await.expect("stream");
    drop(used_once);
    let reused = app.client.get(&url).send().await.expect("stream");
    assert_eq!(problem(reused, StatusCode::UNAUTHORIZED).await["code"], "unauthenticated", "a ticket works once");
    let without = app.client.get(app.url("/api/v1/alerts/stream")).send().await.expect("stream");
    assert_eq!(without.status(), StatusCode::UNAUTHORIZED);
}

/// Two instances on one PostgreSQL: sweeping at the same moment raises one alert per condition, and a
/// browser on instance B hears an alert raised through instance A.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_share_alerts_through_postgres() {
    if skip_postgres() {
        return;
    }
    let app = TestApp::spawn(Backend::Postgres).await;
    let other = app.sibling().await;
    let owner = app.signup("Twin Co").await;
    let mut agents = Vec::new();
    for _ in 0..3 {
        agents.push(app.add_agent(&owner, None).await);
    }
    app.execute_sql("UPDATE agents SET last_seen_at = '2000-01-01 00:00:00'").await;
    // A second pool on the same database plays the second instance's sweeper.
    let second_pool = vigil::db::build_pool(&app.config.database_url, 4, Duration::from_secs(2), None).expect("pool");

    let (a, b) = tokio::join!(vigil::sweeps::alerts::sweep(&app.pool), vigil::sweeps::alerts::sweep(&second_pool));

    assert_eq!(a.expect("sweep").agents_offline + b.expect("sweep").agents_offline, 3, "one alert per agent in all");
    assert_eq!(alerts_of(&app, &owner, "?type=AGENT_OFFLINE").await["total"], 3);

    let response = open_stream(&other.address, &other.client, &owner, &app, None).await;
    let mut stream = response.bytes_stream();
    let mut buffer = String::new();
    tokio::time::sleep(Duration::from_millis(300)).await;
    change_policy(&app, &owner, 240).await;
    let pushed = next_alert(&mut stream, &mut buffer, Duration::from_secs(1)).await;
    assert_eq!(
        pushed.map(|(_, alert)| alert["type"].clone()),
        Some(json!("POLICY_CHANGED")),
        "instance B heard instance A within a second"
    );
}

/// Each instance sweeps by itself on its interval: an agent gone silent is alerted without anyone asking.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_sweep_alerts_about_a_silent_agent() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("ALERT_SWEEP_INTERVAL_SECS", "1")]).await;
    let owner = app.signup("Swept Co").await;
    let agent = app.add_agent(&owner, None).await;
    app.execute_sql(&format!("UPDATE agents SET last_seen_at = '2000-01-01 00:00:00' WHERE id = '{}'", agent.id)).await;

    let mut total = Value::Null;
    for _ in 0..50 {
        total = alerts_of(&app, &owner, "?type=AGENT_OFFLINE").await["total"].clone();
        if total == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    assert_eq!(total, 1);
}

/// Inserts `read` read alerts and then `unread` unread ones (newer) for the session's user, in one statement.
fn seed_alerts_sql(backend: Backend, session: &Session, read: u32, unread: u32) -> String {
    let (company, user, total) = (&session.company_id, &session.user_id, read + unread);
    let columns = "id, company_id, recipient_user_id, alert_type, severity, title, message, related_data, dedup_key, \
                   read_at, created_at";
    match backend {
        Backend::Postgres => format!(
            "INSERT INTO alerts ({columns}) SELECT 'seed-' || i, '{company}', '{user}', 'POLICY_CHANGED', 'info', \
             'Seeded', 'Seeded', '{{}}', 'seed:' || i, CASE WHEN i <= {read} THEN TIMESTAMP '2026-01-02 00:00:00' END, \
             TIMESTAMP '2026-01-01 00:00:00' + i * INTERVAL '1 second' FROM generate_series(1, {total}) AS i"
        ),
        Backend::Sqlite => format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {total}) \
             INSERT INTO alerts ({columns}) SELECT 'seed-' || i, '{company}', '{user}', 'POLICY_CHANGED', 'info', \
             'Seeded', 'Seeded', '{{}}', 'seed:' || i, CASE WHEN i <= {read} THEN '2026-01-02 00:00:00' END, \
             datetime('2026-01-01 00:00:00', '+' || i || ' seconds') FROM n"
        ),
    }
}

/// The alerts page with `unread=true` and the badge count are the hottest reads of a busy admin, whose read
/// alerts pile up: both must read the partial index of unread alerts, not every alert of the recipient.
async fn the_unread_page_and_count_read_only_the_unread_index(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    app.execute_sql(&seed_alerts_sql(backend, &owner, 2000, 3)).await;
    app.execute_sql("ANALYZE").await;

    let page = alerts_of(&app, &owner, "?unread=true").await;
    let badge: Value = app.get("/api/v1/alerts/unread-count", &owner.access_token).await.json().await.expect("json");

    assert_eq!(page["total"], 3, "{page}");
    let ids: Vec<&str> = page["data"].as_array().expect("data").iter().filter_map(|a| a["id"].as_str()).collect();
    assert_eq!(ids, ["seed-2003", "seed-2002", "seed-2001"]);
    assert_eq!(badge["unread"], 3);
    let scope = format!(
        "FROM alerts WHERE company_id = '{}' AND recipient_user_id = '{}' AND read_at IS NULL",
        owner.company_id, owner.user_id
    );
    for query in
        [format!("SELECT COUNT(*) {scope}"), format!("SELECT * {scope} ORDER BY created_at DESC, id DESC LIMIT 20")]
    {
        let plan = app.query_plan(&query).await;
        assert!(plan.contains("alerts_unread_idx"), "{query}\n{plan}");
        assert!(!plan.contains("TEMP B-TREE") && !plan.contains("Sort"), "no sort for the page: {plan}");
    }
}

/// An office outage raises hundreds of alerts per recipient at once. Every open tab gets each of them once,
/// in order, and the server keeps answering other requests meanwhile (the stream used to re-read the same
/// first 100 rows forever).
/// Reads the stream until its `connected` comment: its cursor is set, anything raised from now on reaches it.
async fn until_connected(
    stream: &mut (impl futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
    buffer: &mut String,
) {
    const CONNECTED: &str = ": connected\n\n";
    while !buffer.contains(CONNECTED) {
        let chunk = tokio::time::timeout(Duration::from_secs(5), stream.next()).await;
        let chunk = chunk.expect("connected in time").expect("open").expect("bytes");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
    }
    let end = buffer.find(CONNECTED).unwrap_or_default() + CONNECTED.len();
    buffer.drain(..end);
}

/// Polls `vigil_alert_streams_open` until it shows `expected`, for up to two seconds; returns what it showed.
async fn streams_open_becomes(app: &TestApp, expected: f64) -> f64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    loop {
        let open = app.metric("vigil_alert_streams_open").await;
        if open == expected || tokio::time::Instant::now() > deadline {
            return open;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn reads(app: &TestApp) -> f64 {
    app.metric("vigil_db_statements_total{kind=\"read\"}").await
}

async fn a_burst_of_a_thousand_alerts_reaches_every_open_stream_once_and_in_order(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let mut streams = Vec::new();
    for _ in 0..3 {
        let response = open_stream(&app.address, &app.client, &owner, &app, None).await;
        let (mut stream, mut buffer) = (response.bytes_stream(), String::new());
        until_connected(&mut stream, &mut buffer).await;
        streams.push((stream, buffer));
    }
    assert_eq!(streams_open_becomes(&app, 3.0).await, 3.0, "one task per open stream");

    let burst: Vec<String> = (0..1000).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    let values = burst.iter().map(|id| format!("('{id}')")).collect::<Vec<_>>().join(", ");
    app.execute_sql(&format!(
        "INSERT INTO alerts (id, company_id, recipient_user_id, alert_type, severity, title, message, \
         related_data, dedup_key, created_at) SELECT v.column1, '{company}', '{user}', 'AGENT_OFFLINE', 'warning', \
         'Agent offline', 'An agent went silent', '{{}}', v.column1, CURRENT_TIMESTAMP FROM (VALUES {values}) v",
        company = owner.company_id,
        user = owner.user_id,
    ))
    .await;
    // One more alert, raised through the API, wakes the streams the way the sweep's commit would.
    change_policy(&app, &owner, 240).await;

    let mut last_seen = String::new();
    for (stream, buffer) in &mut streams {
        let mut received = Vec::new();
        while let Some((id, _)) = next_alert(stream, buffer, Duration::from_secs(5)).await {
            received.push(id);
            if received.len() == burst.len() + 1 {
                break;
            }
        }
        assert_eq!(received.len(), burst.len() + 1, "every alert of the burst and the one after it");
        assert_eq!(&received[..burst.len()], &burst[..], "the burst in order, each once");
        last_seen = received.pop().unwrap_or_default();
        let others = app.get("/api/v1/alerts?limit=1", &owner.access_token).await;
        assert_eq!(others.status(), StatusCode::OK, "the pool serves other requests while streams catch up");
    }
    for (stream, buffer) in &mut streams {
        assert!(next_alert(stream, buffer, Duration::from_millis(300)).await.is_none(), "nothing is sent twice");
    }

    // The next wake-up costs each stream a count and a page, not another read of the burst it has sent.
    let before = reads(&app).await;
    change_policy(&app, &owner, 245).await;
    for (stream, buffer) in &mut streams {
        let (id, next) = next_alert(stream, buffer, Duration::from_secs(5)).await.expect("the next alert");
        assert_eq!(next["related_data"]["version"], 3);
        last_seen = id;
    }
    let with_streams = reads(&app).await - before;

    drop(streams);
    assert_eq!(streams_open_becomes(&app, 0.0).await, 0.0, "closed streams end their tasks, idle or not");
    let before = reads(&app).await;
    change_policy(&app, &owner, 246).await;
    let without_streams = reads(&app).await - before;
    assert!(
        with_streams - without_streams <= 3.0 * 2.0,
        "one wake-up of three streams read {} statements beyond the change itself",
        with_streams - without_streams
    );
    // A tab that reconnects right after the burst (a deploy) resumes after what it had: it is sent what was
    // raised while it was away and none of the burst again, however much of it lies in the late-commit window.
    let resumed = open_stream(&app.address, &app.client, &owner, &app, Some(&last_seen)).await;
    let (mut resumed, mut buffer) = (resumed.bytes_stream(), String::new());
    let (_, missed) = next_alert(&mut resumed, &mut buffer, Duration::from_secs(5)).await.expect("the missed alert");
    change_policy(&app, &owner, 250).await;
    let (_, next) = next_alert(&mut resumed, &mut buffer, Duration::from_secs(5)).await.expect("the new alert");
    assert_eq!(missed["type"], "POLICY_CHANGED", "the first alert after resuming is the missed one, not the burst");
    assert_eq!(
        (missed["related_data"]["version"].as_i64(), next["related_data"]["version"].as_i64()),
        (Some(4), Some(5))
    );
}
