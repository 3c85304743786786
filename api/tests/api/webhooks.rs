//! Stripe webhooks: verified, idempotent (also under concurrency), order-safe, version-tolerant, every
//! handler, failures recorded and replayed, and real signed deliveries from localstripe.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, Session, TestApp, backend_tests, problem};
use crate::stripe_fake::{GOOD_CARD, PRICE_ENTERPRISE, PRICE_PRO, localstripe};

backend_tests!(
    bad_missing_and_stale_signatures_are_refused_and_nothing_is_written,
    any_of_the_rolled_secrets_verifies,
    a_redelivered_event_is_applied_once,
    concurrent_deliveries_of_one_event_apply_it_once,
    subscription_events_drive_the_mirror,
    invoice_events_mirror_invoices_and_payment_failures_start_the_grace_period,
    checkout_completion_links_the_customer_and_payment_intents_are_recorded,
    an_unknown_event_type_is_acknowledged_and_logged,
    a_payload_of_the_newest_api_version_is_read,
    an_older_event_never_overwrites_newer_state,
    a_processing_failure_answers_5xx_is_recorded_and_replays_after_the_fix,
    the_legacy_path_and_the_event_log_work,
    localstripe_deliveries_keep_the_mirror_true,
    catch_up_processes_the_events_that_were_never_delivered,
    events_of_the_same_second_are_ordered_by_kind_or_read_again_from_stripe,
    late_news_of_an_ended_subscription_does_not_replace_the_new_one,
    a_late_failure_of_a_paid_invoice_raises_no_alert,
    a_completed_checkout_links_its_subscription,
    a_failed_event_shows_in_its_companys_log_with_the_reason_and_an_admin_can_replay_it,
);

async fn a_completed_checkout_links_its_subscription(backend: Backend) {
    let app = spawn(backend).await;
    let owner = app.signup("Checked Out Co").await;
    let customer = customer_with_card(&app, &owner).await;
    let subscription = localstripe().subscribe(&customer, PRICE_PRO).await;
    let session = json!({"id": unique("cs"), "object": "checkout.session", "mode": "subscription", "customer": customer,
        "client_reference_id": owner.company_id, "subscription": subscription["id"], "status": "complete"});

    assert_eq!(
        delivered(&app, &event(&unique("evt"), "checkout.session.completed", chrono::Utc::now().timestamp(), session))
            .await,
        "processed"
    );

    let dashboard = eventually(&app, &owner, |d| d["tier"]["code"] == "PRO").await;
    assert_eq!(dashboard["subscription"]["stripe_subscription_id"], subscription["id"], "{dashboard}");
}

async fn late_news_of_an_ended_subscription_does_not_replace_the_new_one(backend: Backend) {
    let app = spawn(backend).await;
    let (owner, customer) = customer_company(&app).await;
    let (old, new) = (unique("sub"), unique("sub"));
    // The old subscription was created (by Stripe's `created`) before the new one.
    let old_subscription = |status: &str| {
        let mut object = subscription(&old, &customer, PRICE_PRO, status, false);
        object["created"] = json!(1_789_000_000);
        object
    };

    delivered(
        &app,
        &event(&unique("evt"), "customer.subscription.deleted", 1_790_000_150, old_subscription("canceled")),
    )
    .await;
    delivered(
        &app,
        &event(
            &unique("evt"),
            "customer.subscription.created",
            1_790_000_200,
            subscription(&new, &customer, PRICE_ENTERPRISE, "active", false),
        ),
    )
    .await;
    let late = delivered(
        &app,
        &event(&unique("evt"), "customer.subscription.updated", 1_790_000_100, old_subscription("active")),
    )
    .await;

    assert_eq!(late, "ignored");
    let dashboard = billing(&app, &owner).await;
    assert_eq!(dashboard["subscription"]["stripe_subscription_id"], new.as_str());
    assert_eq!(dashboard["tier"]["code"], "ENTERPRISE");
}

async fn a_late_failure_of_a_paid_invoice_raises_no_alert(backend: Backend) {
    let app = spawn(backend).await;
    let (owner, customer) = customer_company(&app).await;
    let inv = unique("in");

    delivered(
        &app,
        &event(&unique("evt"), "invoice.paid", 1_790_000_200, invoice(&inv, &customer, "sub_late", "paid", 2900)),
    )
    .await;
    let late = delivered(
        &app,
        &event(
            &unique("evt"),
            "invoice.payment_failed",
            1_790_000_100,
            invoice(&inv, &customer, "sub_late", "open", 0),
        ),
    )
    .await;

    assert_eq!(late, "ignored");
    let alerts: Value =
        app.get("/api/v1/alerts?type=PAYMENT_FAILED", &owner.access_token).await.json().await.expect("json");
    assert_eq!(alerts["total"], 0);
}

pub const WEBHOOK_SECRET: &str = "whsec_test_vigil";

/// A server with Stripe on localstripe and a webhook secret.
pub(crate) async fn spawn(backend: Backend) -> TestApp {
    let mut settings = localstripe().settings();
    settings.push(("STRIPE_WEBHOOK_SECRET", format!("whsec_old_secret,{WEBHOOK_SECRET}")));
    let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    TestApp::spawn_with(backend, &pairs).await
}

/// Delivers `event` signed with `secret` at `signed_at`.
async fn deliver_signed(app: &TestApp, path: &str, event: &Value, secret: &str, signed_at: i64) -> reqwest::Response {
    let body = event.to_string();
    let header = vigil::stripe::signature::sign(body.as_bytes(), secret, signed_at);
    app.client
        .post(app.url(path))
        .header("content-type", "application/json")
        .header("stripe-signature", header)
        .body(body)
        .send()
        .await
        .expect("delivery")
}

async fn deliver(app: &TestApp, event: &Value) -> reqwest::Response {
    deliver_signed(app, "/api/v1/stripe/webhook", event, WEBHOOK_SECRET, chrono::Utc::now().timestamp()).await
}

pub(crate) async fn delivered(app: &TestApp, event: &Value) -> String {
    let response = deliver(app, event).await;
    assert_eq!(response.status(), StatusCode::OK, "delivery of {}", event["type"]);
    response.json::<Value>().await.expect("json")["outcome"].as_str().unwrap_or_default().to_owned()
}

pub(crate) fn event(id: &str, kind: &str, created: i64, object: Value) -> Value {
    json!({"id": id, "object": "event", "type": kind, "api_version": "2024-06-20", "created": created,
        "livemode": false, "data": {"object": object}})
}

pub(crate) fn subscription(id: &str, customer: &str, price: &str, status: &str, cancel_at_period_end: bool) -> Value {
    json!({"id": id, "object": "subscription", "customer": customer, "status": status, "cancel_at_period_end": cancel_at_period_end,
        "current_period_start": 1_790_000_000, "current_period_end": 1_792_600_000, "created": 1_790_000_000,
        "items": {"object": "list", "data": [{"id": format!("si_{id}"), "price": {"id": price}}]}})
}

pub(crate) fn invoice(id: &str, customer: &str, subscription: &str, status: &str, paid: i64) -> Value {
    json!({"id": id, "object": "invoice", "customer": customer, "subscription": subscription, "status": status,
        "amount_due": 2900, "amount_paid": paid, "currency": "usd", "created": 1_790_000_000, "number": "VIG-0001",
        "hosted_invoice_url": format!("https://invoice.stripe.com/i/{id}"), "invoice_pdf": format!("https://pay.stripe.com/invoice/{id}/pdf")})
}

pub(crate) fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// A company linked to a (made-up) Stripe customer.
pub(crate) async fn customer_company(app: &TestApp) -> (Session, String) {
    let owner = app.signup("Hooked Co").await;
    let customer = unique("cus");
    app.execute_sql(&format!(
        "UPDATE companies SET stripe_customer_id = '{customer}' WHERE id = '{}'",
        owner.company_id
    ))
    .await;
    (owner, customer)
}

async fn billing(app: &TestApp, owner: &Session) -> Value {
    app.get("/api/v1/billing", &owner.access_token).await.json().await.expect("json")
}

async fn count_events(app: &TestApp) -> String {
    app.execute_sql_text("SELECT CAST(COUNT(*) AS TEXT) AS value FROM stripe_events").await
}

async fn bad_missing_and_stale_signatures_are_refused_and_nothing_is_written(backend: Backend) {
    let app = spawn(backend).await;
    let (_, customer) = customer_company(&app).await;
    let sample = event(
        &unique("evt"),
        "customer.subscription.created",
        1_790_000_000,
        subscription("sub_x", &customer, PRICE_PRO, "active", false),
    );
    let now = chrono::Utc::now().timestamp();

    let wrong_secret = deliver_signed(&app, "/api/v1/stripe/webhook", &sample, "whsec_attacker", now).await;
    let stale = deliver_signed(&app, "/api/v1/stripe/webhook", &sample, WEBHOOK_SECRET, now - 301).await;
    let missing =
        app.client.post(app.url("/api/v1/stripe/webhook")).body(sample.to_string()).send().await.expect("post");
    let header = vigil::stripe::signature::sign(sample.to_string().as_bytes(), WEBHOOK_SECRET, now);
    let tampered = app
        .client
        .post(app.url("/api/v1/stripe/webhook"))
        .header("stripe-signature", header)
        .body(sample.to_string().replace("active", "canceled"))
        .send()
        .await
        .expect("post");

    for response in [wrong_secret, stale, missing, tampered] {
        assert_eq!(problem(response, StatusCode::BAD_REQUEST).await["code"], "invalid_signature");
    }
    assert_eq!(count_events(&app).await, "0", "nothing written");
}

async fn any_of_the_rolled_secrets_verifies(backend: Backend) {
    let app = spawn(backend).await;
    let now = chrono::Utc::now().timestamp();
    for secret in ["whsec_old_secret", WEBHOOK_SECRET] {
        let ping = event(&unique("evt"), "ping.test", now, json!({}));
        assert_eq!(
            deliver_signed(&app, "/api/v1/stripe/webhook", &ping, secret, now).await.status(),
            StatusCode::OK,
            "{secret}"
        );
    }
}

async fn a_redelivered_event_is_applied_once(backend: Backend) {
    let app = spawn(backend).await;
    let (owner, customer) = customer_company(&app).await;
    let paid =
        event(&unique("evt"), "invoice.paid", 1_790_000_100, invoice(&unique("in"), &customer, "sub_a", "paid", 2900));

    let first = delivered(&app, &paid).await;
    let second = delivered(&app, &paid).await;

    assert_eq!((first.as_str(), second.as_str()), ("processed", "duplicate"));
    let audit: Value = app
        .get("/api/v1/audit-logs?action=stripe.invoice_synced", &owner.access_token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(audit["total"], 1);
    assert_eq!(audit["data"][0]["actor_type"], "stripe");
    assert_eq!(audit["data"][0]["actor_id"], paid["id"]);
}

async fn concurrent_deliveries_of_one_event_apply_it_once(backend: Backend) {
    let app = spawn(backend).await;
    let (owner, customer) = customer_company(&app).await;
    let created = event(
        &unique("evt"),
        "customer.subscription.created",
        1_790_000_000,
        subscription(&unique("sub"), &customer, PRICE_PRO, "active", false),
    );

    let deliveries = (0..8).map(|_| delivered(&app, &created));
    let outcomes = futures_util::future::join_all(deliveries).await;

    assert_eq!(outcomes.iter().filter(|o| *o == "processed").count(), 1, "{outcomes:?}");
    assert_eq!(outcomes.iter().filter(|o| *o == "duplicate").count(), 7, "{outcomes:?}");
    let audit: Value = app
        .get("/api/v1/audit-logs?action=stripe.subscription_synced", &owner.access_token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(audit["total"], 1);
}

async fn subscription_events_drive_the_mirror(backend: Backend) {
    // The failure happens now, so its grace period is still running.
    let now = chrono::Utc::now().timestamp();
    let app = spawn(backend).await;
    let (owner, customer) = customer_company(&app).await;
    let sub = unique("sub");

    delivered(
        &app,
        &event(
            &unique("evt"),
            "customer.subscription.created",
            1_790_000_000,
            subscription(&sub, &customer, PRICE_PRO, "incomplete", false),
        ),
    )
    .await;
    let incomplete = billing(&app, &owner).await;
    delivered(
        &app,
        &event(
            &unique("evt"),
            "customer.subscription.updated",
            1_790_000_010,
            subscription(&sub, &customer, PRICE_PRO, "trialing", false),
        ),
    )
    .await;
    let trialing = billing(&app, &owner).await;
    delivered(
        &app,
        &event(
            &unique("evt"),
            "customer.subscription.updated",
            1_790_000_020,
            subscription(&sub, &customer, PRICE_ENTERPRISE, "active", true),
        ),
    )
    .await;
    let upgraded = billing(&app, &owner).await;
    delivered(
        &app,
        &event(
            &unique("evt"),
            "customer.subscription.updated",
            now,
            subscription(&sub, &customer, PRICE_ENTERPRISE, "unpaid", true),
        ),
    )
    .await;
    let unpaid = billing(&app, &owner).await;
    delivered(
        &app,
        &event(
            &unique("evt"),
            "customer.subscription.deleted",
            now + 1,
            subscription(&sub, &customer, PRICE_ENTERPRISE, "canceled", false),
        ),
    )
    .await;
    let cancelled = billing(&app, &owner).await;

    assert_eq!(
        (incomplete["subscription"]["status"].as_str(), incomplete["tier"]["code"].as_str()),
        (Some("INACTIVE"), Some("FREE"))
    );
    assert_eq!(
        (trialing["subscription"]["status"].as_str(), trialing["tier"]["code"].as_str()),
        (Some("ACTIVE"), Some("PRO"))
    );
    assert_eq!(trialing["subscription"]["current_period_end"], "2026-10-21T16:26:40Z");
    assert_eq!(
        (upgraded["tier"]["code"].as_str(), upgraded["subscription"]["auto_renew"].as_bool()),
        (Some("ENTERPRISE"), Some(false))
    );
    assert_eq!(unpaid["subscription"]["status"], "PAST_DUE");
    assert!(unpaid["grace_period"]["days_left"].as_i64().is_some_and(|d| d >= 6), "{unpaid}");
    assert_eq!(
        (cancelled["subscription"]["status"].as_str(), cancelled["tier"]["code"].as_str()),
        (Some("CANCELLED"), Some("FREE"))
    );
    assert!(cancelled["subscription"]["cancelled_at"].is_string());
}

async fn invoice_events_mirror_invoices_and_payment_failures_start_the_grace_period(backend: Backend) {
    let app = spawn(backend).await;
    let (owner, customer) = customer_company(&app).await;
    let sub = unique("sub");
    delivered(
        &app,
        &event(
            &unique("evt"),
            "customer.subscription.created",
            1_790_000_000,
            subscription(&sub, &customer, PRICE_PRO, "active", false),
        ),
    )
    .await;
    let (first, second, third, fourth) = (unique("in"), unique("in"), unique("in"), unique("in"));
    let steps = [
        ("invoice.created", &first, "draft", 0),
        ("invoice.finalized", &first, "open", 0),
        ("invoice.payment_failed", &first, "open", 0),
        ("invoice.paid", &second, "paid", 2900),
        ("invoice.voided", &third, "void", 0),
        ("invoice.marked_uncollectible", &fourth, "uncollectible", 0),
    ];
    let mut statuses = Vec::new();
    for (n, (kind, id, status, paid)) in steps.iter().enumerate() {
        delivered(
            &app,
            &event(&unique("evt"), kind, 1_790_000_100 + n as i64, invoice(id, &customer, &sub, status, *paid)),
        )
        .await;
        statuses.push(billing(&app, &owner).await["subscription"]["status"].as_str().unwrap_or_default().to_owned());
    }

    let invoices: Value = app.get("/api/v1/billing/invoices", &owner.access_token).await.json().await.expect("json");
    let by_id = |id: &str| {
        invoices["data"]
            .as_array()
            .expect("data")
            .iter()
            .find(|i| i["stripe_invoice_id"] == id)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(by_id(&first)["status"], "OPEN");
    assert_eq!((by_id(&second)["status"].as_str(), by_id(&second)["amount_paid"].as_i64()), (Some("PAID"), Some(2900)));
    assert_eq!(by_id(&third)["status"], "VOID");
    assert_eq!(by_id(&fourth)["status"], "UNCOLLECTIBLE");
    assert_eq!(by_id(&second)["hosted_invoice_url"], format!("https://invoice.stripe.com/i/{second}"));
    assert_eq!(
        statuses[1..4],
        ["ACTIVE".to_owned(), "PAST_DUE".to_owned(), "ACTIVE".to_owned()],
        "a failure starts the grace period, a payment ends it"
    );
    assert_eq!(invoices["summary"]["outstanding"], 2900 * 2, "the open and the uncollectible invoice");
}

async fn checkout_completion_links_the_customer_and_payment_intents_are_recorded(backend: Backend) {
    let app = spawn(backend).await;
    let owner = app.signup("Checkout Co").await;
    let customer = unique("cus");
    let session = json!({"id": unique("cs"), "object": "checkout.session", "mode": "subscription", "customer": customer,
        "client_reference_id": owner.company_id, "subscription": "sub_from_checkout", "status": "complete"});

    assert_eq!(
        delivered(&app, &event(&unique("evt"), "checkout.session.completed", 1_790_000_000, session)).await,
        "processed"
    );
    let linked = app
        .execute_sql_text(&format!(
            "SELECT stripe_customer_id AS value FROM companies WHERE id = '{}'",
            owner.company_id
        ))
        .await;
    let intent = |kind: &str, id: &str| {
        event(
            &unique("evt"),
            kind,
            1_790_000_100,
            json!({"id": id, "object": "payment_intent",
        "customer": customer, "amount": 2900, "currency": "usd", "invoice": "in_1", "last_payment_error": {"message": "Your card was declined."}}),
        )
    };
    assert_eq!(delivered(&app, &intent("payment_intent.payment_failed", "pi_1")).await, "processed");
    assert_eq!(delivered(&app, &intent("payment_intent.succeeded", "pi_2")).await, "processed");

    assert_eq!(linked, customer);
    let audit: Value = app
        .get("/api/v1/audit-logs?action=stripe.payment_failed", &owner.access_token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(audit["data"][0]["details"]["failure_message"], "Your card was declined.");
    let ok: Value = app
        .get("/api/v1/audit-logs?action=stripe.payment_succeeded", &owner.access_token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(ok["total"], 1);
    let foreign = json!({"id": unique("cs"), "object": "checkout.session", "customer": unique("cus"), "client_reference_id": "not-a-company"});
    assert_eq!(
        delivered(&app, &event(&unique("evt"), "checkout.session.completed", 1_790_000_000, foreign)).await,
        "ignored"
    );
}

async fn an_unknown_event_type_is_acknowledged_and_logged(backend: Backend) {
    let app = spawn(backend).await;
    let odd = event(
        &unique("evt"),
        "radar.early_fraud_warning.created",
        1_790_000_000,
        json!({"id": "issfr_1", "weird": [1, 2, {"x": null}]}),
    );

    assert_eq!(delivered(&app, &odd).await, "ignored");

    let outcome = app
        .execute_sql_text(&format!(
            "SELECT outcome AS value FROM stripe_events WHERE event_id = '{}'",
            odd["id"].as_str().unwrap_or_default()
        ))
        .await;
    assert_eq!(outcome, "ignored");
}

async fn a_payload_of_the_newest_api_version_is_read(backend: Backend) {
    let app = spawn(backend).await;
    let (owner, customer) = customer_company(&app).await;
    let sub = unique("sub");
    let basil = json!({"id": sub, "object": "subscription", "customer": {"id": customer, "object": "customer"}, "status": "active",
        "cancel_at_period_end": false, "billing_mode": {"type": "flexible"}, "created": 1_790_000_000,
        "items": {"object": "list", "data": [{"id": "si_1", "price": {"id": PRICE_PRO, "object": "price"},
            "current_period_start": 1_790_000_000, "current_period_end": 1_792_600_000}]}});
    let mut created = event(&unique("evt"), "customer.subscription.created", 1_790_000_000, basil);
    created["api_version"] = json!("2026-09-30.endive");
    let bill = json!({"id": unique("in"), "object": "invoice", "customer": customer, "status": "paid", "amount_due": 2900,
        "amount_paid": 2900, "currency": "usd", "created": 1_790_000_000,
        "parent": {"type": "subscription_details", "subscription_details": {"subscription": sub}}});

    assert_eq!(delivered(&app, &created).await, "processed");
    assert_eq!(delivered(&app, &event(&unique("evt"), "invoice.paid", 1_790_000_001, bill)).await, "processed");

    let dashboard = billing(&app, &owner).await;
    assert_eq!(dashboard["tier"]["code"], "PRO");
    assert_eq!(dashboard["subscription"]["current_period_end"], "2026-10-21T16:26:40Z", "period read from the item");
    let version = app
        .execute_sql_text(&format!(
            "SELECT api_version AS value FROM stripe_events WHERE event_id = '{}'",
            created["id"].as_str().unwrap_or_default()
        ))
        .await;
    assert_eq!(version, "2026-09-30.endive");
}

async fn an_older_event_never_overwrites_newer_state(backend: Backend) {
    let app = spawn(backend).await;
    let (owner, customer) = customer_company(&app).await;
    let sub = unique("sub");
    let inv = unique("in");

    delivered(
        &app,
        &event(
            &unique("evt"),
            "customer.subscription.updated",
            1_790_000_200,
            subscription(&sub, &customer, PRICE_ENTERPRISE, "active", false),
        ),
    )
    .await;
    let stale = delivered(
        &app,
        &event(
            &unique("evt"),
            "customer.subscription.created",
            1_790_000_100,
            subscription(&sub, &customer, PRICE_PRO, "incomplete", false),
        ),
    )
    .await;
    delivered(
        &app,
        &event(&unique("evt"), "invoice.paid", 1_790_000_300, invoice(&inv, &customer, &sub, "paid", 2900)),
    )
    .await;
    delivered(
        &app,
        &event(&unique("evt"), "invoice.finalized", 1_790_000_250, invoice(&inv, &customer, &sub, "open", 0)),
    )
    .await;

    assert_eq!(stale, "ignored");
    let dashboard = billing(&app, &owner).await;
    assert_eq!(
        (dashboard["tier"]["code"].as_str(), dashboard["subscription"]["status"].as_str()),
        (Some("ENTERPRISE"), Some("ACTIVE"))
    );
    assert_eq!(dashboard["recent_invoices"][0]["status"], "PAID");
}

/// A fault in the database for this one subscription, as a bug or a bad deploy would cause; returns the
/// statement that removes it.
async fn inject_subscription_fault(app: &TestApp, backend: Backend, sub: &str) -> String {
    let (create_fault, remove_fault) = match backend {
        Backend::Sqlite => (
            vec![format!(
                "CREATE TRIGGER fault BEFORE UPDATE ON subscriptions WHEN NEW.stripe_subscription_id = '{sub}' BEGIN SELECT RAISE(ABORT, 'injected fault'); END"
            )],
            "DROP TRIGGER fault".to_owned(),
        ),
        Backend::Postgres => (
            vec![
                format!(
                    "CREATE FUNCTION fault() RETURNS trigger AS $$ BEGIN IF NEW.stripe_subscription_id = '{sub}' THEN RAISE EXCEPTION 'injected fault'; END IF; RETURN NEW; END; $$ LANGUAGE plpgsql"
                ),
                "CREATE TRIGGER fault BEFORE UPDATE ON subscriptions FOR EACH ROW EXECUTE FUNCTION fault()".to_owned(),
            ],
            "DROP TRIGGER fault ON subscriptions".to_owned(),
        ),
    };
    for statement in &create_fault {
        app.execute_sql(statement).await;
    }
    remove_fault
}

async fn a_processing_failure_answers_5xx_is_recorded_and_replays_after_the_fix(backend: Backend) {
    let app = spawn(backend).await;
    let (owner, customer) = customer_company(&app).await;
    let sub = unique("sub");
    let remove_fault = inject_subscription_fault(&app, backend, &sub).await;
    let created = event(
        &unique("evt"),
        "customer.subscription.created",
        1_790_000_000,
        subscription(&sub, &customer, PRICE_PRO, "active", false),
    );

    let failed = deliver(&app, &created).await;

    assert!(failed.status().is_server_error(), "Stripe must retry: {}", failed.status());
    assert_eq!(failed.headers()["content-type"], "application/problem+json");
    let recorded = app
        .execute_sql_text(&format!(
            "SELECT outcome AS value FROM stripe_events WHERE event_id = '{}'",
            created["id"].as_str().unwrap_or_default()
        ))
        .await;
    assert_eq!(recorded, "failed");
    assert_eq!(billing(&app, &owner).await["tier"]["code"], "FREE", "nothing half-written");

    app.execute_sql(&remove_fault).await;
    let setup = vigil::stripe::StripeSetup::from_config(&app.config).expect("setup");
    let report =
        vigil::stripe_webhooks::service::replay(&app.pool, &setup, vigil::stripe_webhooks::service::Replay::Failed)
            .await
            .expect("replay");

    assert_eq!((report.processed, report.failed), (1, 0));
    assert_eq!(billing(&app, &owner).await["tier"]["code"], "PRO");
    assert_eq!(delivered(&app, &created).await, "duplicate", "a redelivery after the replay is not applied again");
}

async fn the_legacy_path_and_the_event_log_work(backend: Backend) {
    let app = spawn(backend).await;
    let (owner, customer) = customer_company(&app).await;
    let other = app.signup("Other Co").await;
    let created = event(
        &unique("evt"),
        "customer.subscription.created",
        1_790_000_000,
        subscription(&unique("sub"), &customer, PRICE_PRO, "active", false),
    );

    let response =
        deliver_signed(&app, "/api/stripe/webhook/", &created, WEBHOOK_SECRET, chrono::Utc::now().timestamp()).await;

    assert_eq!(response.status(), StatusCode::OK);
    let mine: Value = app.get("/api/v1/stripe/events", &owner.access_token).await.json().await.expect("json");
    assert_eq!(mine["data"][0]["event_id"], created["id"]);
    assert_eq!(mine["data"][0]["outcome"], "processed");
    let theirs: Value = app.get("/api/v1/stripe/events", &other.access_token).await.json().await.expect("json");
    assert_eq!(theirs["total"], 0);
}

/// Registers this server's webhook with localstripe, which then signs and delivers every event to it.
pub(crate) async fn register_webhook(app: &TestApp) {
    let url = app.url("/api/v1/stripe/webhook");
    let response = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client")
        .post(format!("{}_config/webhooks/{}", localstripe().base, uuid::Uuid::new_v4().simple()))
        .form(&[("url", url.as_str()), ("secret", WEBHOOK_SECRET)])
        .send()
        .await
        .expect("register");
    assert!(response.status().is_success());
}

/// A company whose Stripe customer Vigil created (through the first billing action) and who then paid
/// with a card, as Checkout would have it.
async fn customer_with_card(app: &TestApp, owner: &Session) -> String {
    let set = app
        .request(
            reqwest::Method::PUT,
            "/api/v1/billing/tax-id",
            Some(&owner.access_token),
            Some(json!({"type": "eu_vat", "value": "DE999999999"})),
        )
        .await;
    assert_eq!(set.status(), StatusCode::OK);
    let customer = app
        .execute_sql_text(&format!(
            "SELECT stripe_customer_id AS value FROM companies WHERE id = '{}'",
            owner.company_id
        ))
        .await;
    localstripe().add_card(&customer, GOOD_CARD).await;
    customer
}

async fn eventually(app: &TestApp, owner: &Session, wanted: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let dashboard = billing(app, owner).await;
        if wanted(&dashboard) || std::time::Instant::now() > deadline {
            return dashboard;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

async fn localstripe_deliveries_keep_the_mirror_true(backend: Backend) {
    let app = spawn(backend).await;
    register_webhook(&app).await;
    let owner = app.signup("Live Co").await;
    let customer = customer_with_card(&app, &owner).await;

    let subscription = localstripe().subscribe(&customer, PRICE_PRO).await;
    let subscribed =
        eventually(&app, &owner, |d| d["tier"]["code"] == "PRO" && d["recent_invoices"][0]["status"] == "PAID").await;
    localstripe().end_subscription(subscription["id"].as_str().expect("id")).await;
    let ended = eventually(&app, &owner, |d| d["subscription"]["status"] == "CANCELLED").await;

    assert_eq!(
        (subscribed["tier"]["code"].as_str(), subscribed["subscription"]["status"].as_str()),
        (Some("PRO"), Some("ACTIVE")),
        "{subscribed}"
    );
    assert_eq!(subscribed["recent_invoices"][0]["status"], "PAID", "{subscribed}");
    assert_eq!(
        (ended["subscription"]["status"].as_str(), ended["tier"]["code"].as_str()),
        (Some("CANCELLED"), Some("FREE")),
        "{ended}"
    );
}

async fn catch_up_processes_the_events_that_were_never_delivered(backend: Backend) {
    let app = spawn(backend).await;
    let owner = app.signup("Missed Co").await;
    let customer = customer_with_card(&app, &owner).await;
    localstripe().subscribe(&customer, PRICE_PRO).await;
    let setup = vigil::stripe::StripeSetup::from_config(&app.config).expect("setup");

    let first = vigil::stripe_webhooks::service::catch_up(&app.pool, &setup).await.expect("catch-up");
    let second = vigil::stripe_webhooks::service::catch_up(&app.pool, &setup).await.expect("catch-up");

    assert!(first.processed >= 2, "the subscription and its invoice: {first:?}");
    assert_eq!(first.failed, 0);
    assert_eq!((second.processed, second.failed), (0, 0), "{second:?}");
    let dashboard = billing(&app, &owner).await;
    assert_eq!(
        (dashboard["tier"]["code"].as_str(), dashboard["recent_invoices"][0]["status"].as_str()),
        (Some("PRO"), Some("PAID")),
        "{dashboard}"
    );
}

async fn events_of_the_same_second_are_ordered_by_kind_or_read_again_from_stripe(backend: Backend) {
    let app = spawn(backend).await;
    let owner = app.signup("Same Second Co").await;
    let customer = customer_with_card(&app, &owner).await;
    let real = localstripe().subscribe(&customer, PRICE_PRO).await;
    let sub = real["id"].as_str().expect("id").to_owned();
    let second = 1_790_000_500;
    let inv = unique("in");

    delivered(&app, &event(&unique("evt"), "invoice.paid", second, invoice(&inv, &customer, &sub, "paid", 2900))).await;
    let draft_later =
        delivered(&app, &event(&unique("evt"), "invoice.created", second, invoice(&inv, &customer, &sub, "draft", 0)))
            .await;
    delivered(
        &app,
        &event(
            &unique("evt"),
            "customer.subscription.updated",
            second,
            subscription(&sub, &customer, PRICE_ENTERPRISE, "active", false),
        ),
    )
    .await;
    let created_later = delivered(
        &app,
        &event(
            &unique("evt"),
            "customer.subscription.created",
            second,
            subscription(&sub, &customer, PRICE_PRO, "incomplete", false),
        ),
    )
    .await;
    // A second update of the same second that disagrees: only Stripe can say which is current.
    delivered(
        &app,
        &event(
            &unique("evt"),
            "customer.subscription.updated",
            second,
            subscription(&sub, &customer, PRICE_ENTERPRISE, "past_due", true),
        ),
    )
    .await;

    assert_eq!((draft_later.as_str(), created_later.as_str()), ("ignored", "ignored"));
    // The re-read happens just after the answer to Stripe.
    let dashboard =
        eventually(&app, &owner, |d| d["subscription"]["status"] == "ACTIVE" && d["tier"]["code"] == "PRO").await;
    let paid = dashboard["recent_invoices"]
        .as_array()
        .expect("invoices")
        .iter()
        .find(|i| i["stripe_invoice_id"] == inv.as_str())
        .cloned();
    assert_eq!(paid.map(|i| i["status"].clone()), Some(json!("PAID")));
    assert_eq!(
        (
            dashboard["tier"]["code"].as_str(),
            dashboard["subscription"]["status"].as_str(),
            dashboard["subscription"]["auto_renew"].as_bool()
        ),
        (Some("PRO"), Some("ACTIVE"), Some(true)),
        "read again from Stripe, where the subscription is PRO and active: {dashboard}"
    );
}

async fn a_failed_event_shows_in_its_companys_log_with_the_reason_and_an_admin_can_replay_it(backend: Backend) {
    let app = spawn(backend).await;
    let (owner, customer) = customer_company(&app).await;
    let other = app.signup("Other Co").await;
    let viewer = app.add_user(&owner, "VIEWER").await;
    let sub = unique("sub");
    let remove_fault = inject_subscription_fault(&app, backend, &sub).await;
    let created = event(
        &unique("evt"),
        "customer.subscription.created",
        1_790_000_000,
        subscription(&sub, &customer, PRICE_PRO, "active", false),
    );
    let event_id = created["id"].as_str().unwrap_or_default().to_owned();
    assert!(deliver(&app, &created).await.status().is_server_error());

    // The owner sees the failure and why; another company does not.
    let log: Value = app.get("/api/v1/stripe/events", &owner.access_token).await.json().await.expect("json");
    assert_eq!(log["data"][0]["event_id"], event_id.as_str(), "{log}");
    assert_eq!(log["data"][0]["outcome"], "failed");
    assert!(log["data"][0]["error"].as_str().is_some_and(|error| !error.is_empty()), "{log}");
    let theirs: Value = app.get("/api/v1/stripe/events", &other.access_token).await.json().await.expect("json");
    assert_eq!(theirs["data"].as_array().map(Vec::len), Some(0), "{theirs}");
    let replay = format!("/api/v1/stripe/events/{event_id}/replay");
    problem(app.post(&replay, &other.access_token, json!({})).await, StatusCode::NOT_FOUND).await;
    let refused = problem(app.post(&replay, &viewer.access_token, json!({})).await, StatusCode::FORBIDDEN).await;
    assert_eq!(refused["code"], "forbidden");

    // Replayed before the fix: failed again, and says so.
    let again = app.post(&replay, &owner.access_token, json!({})).await;
    assert_eq!(again.status(), StatusCode::OK);
    let again: Value = again.json().await.expect("json");
    assert_eq!((again["outcome"].as_str(), again["attempts"].as_i64()), (Some("failed"), Some(2)), "{again}");
    assert_eq!(billing(&app, &owner).await["tier"]["code"], "FREE");

    app.execute_sql(&remove_fault).await;
    let fixed = app.post(&replay, &owner.access_token, json!({})).await;
    assert_eq!(fixed.status(), StatusCode::OK);
    let fixed: Value = fixed.json().await.expect("json");
    assert_eq!(fixed["outcome"], "processed", "{fixed}");
    assert_eq!(billing(&app, &owner).await["tier"]["code"], "PRO");

    let done = problem(app.post(&replay, &owner.access_token, json!({})).await, StatusCode::CONFLICT).await;
    assert_eq!(done["code"], "event_not_failed");
    let audit: Value = app
        .get("/api/v1/audit-logs?action=stripe.event_replayed", &owner.access_token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(audit["data"].as_array().map(Vec::len), Some(2), "{audit}");
}
