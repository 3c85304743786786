//! Property: whatever order Stripe delivers an event history in, with duplicates, the mirror ends where
//! in-order delivery leaves it, and so do the alerts that still ask for attention. With a second
//! subscription in the history, at most one is live at Stripe and in the mirror, whatever the order.
//!
//! The alerts compared are the open ones other than PAYMENT_RECOVERED: a payment that failed and was then
//! paid is told as a failure and its recovery when the failure arrives first, and not at all when the
//! payment arrives first (a late failure of a paid invoice raises nothing, as it must); either way nothing
//! is left open.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

use crate::helpers::{Backend, Session, TestApp, skip_postgres};
use crate::stripe_fake::{GOOD_CARD, PRICE_ENTERPRISE, PRICE_PRO, localstripe};

const SECRET: &str = "whsec_order_test";

/// One company's history: a subscription that starts incomplete, a first invoice that fails (its
/// PaymentIntent, under API version 2025-03-31, naming no invoice) and is then paid, an upgrade with
/// cancellation at period end, and a cancellation date set in the portal. Each event a second apart.
fn history(customer: &str) -> Vec<Value> {
    let sub = format!("sub_{}", uuid::Uuid::new_v4().simple());
    let inv = format!("in_{}", uuid::Uuid::new_v4().simple());
    let subscription = |price: &str, status: &str, cancel: bool| {
        json!({"id": sub, "object": "subscription", "customer": customer, "status": status, "cancel_at_period_end": cancel,
            "current_period_start": 1_790_000_000, "current_period_end": 1_792_600_000,
            "items": {"data": [{"id": "si_1", "price": {"id": price}}]}})
    };
    let invoice = |status: &str, paid: i64| {
        json!({"id": inv, "object": "invoice", "customer": customer, "subscription": sub, "status": status,
            "amount_due": 2900, "amount_paid": paid, "currency": "usd", "created": 1_790_000_000})
    };
    let intent = |status: &str| {
        json!({"id": format!("pi_{inv}"), "object": "payment_intent", "customer": customer, "amount": 2900,
            "currency": "usd", "status": status, "last_payment_error": {"message": "Your card was declined."}})
    };
    let mut cancelling = subscription(PRICE_ENTERPRISE, "active", false);
    cancelling["cancel_at"] = json!(1_791_000_000);
    [
        ("customer.subscription.created", subscription(PRICE_PRO, "incomplete", false)),
        ("invoice.created", invoice("draft", 0)),
        ("invoice.finalized", invoice("open", 0)),
        ("invoice.payment_failed", invoice("open", 0)),
        ("payment_intent.payment_failed", intent("requires_payment_method")),
        ("invoice.paid", invoice("paid", 2900)),
        ("payment_intent.succeeded", intent("succeeded")),
        ("customer.subscription.updated", subscription(PRICE_PRO, "active", false)),
        ("customer.subscription.updated", subscription(PRICE_ENTERPRISE, "active", true)),
        ("customer.subscription.updated", cancelling),
    ]
    .into_iter()
    .enumerate()
    .map(|(n, (kind, object))| {
        json!({"id": format!("evt_{}", uuid::Uuid::new_v4().simple()), "object": "event", "type": kind,
            "created": 1_790_000_100 + n as i64, "data": {"object": object}})
    })
    .collect()
}

/// A runtime of its own (the properties drive it case by case) and a server on localstripe that takes this
/// file's webhooks and many sign-ups from one address.
fn runtime_and_app(backend: Backend) -> (tokio::runtime::Runtime, TestApp) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let mut settings = localstripe().settings();
    settings.push(("STRIPE_WEBHOOK_SECRET", SECRET.to_owned()));
    settings.push(("SIGNUPS_PER_ADDRESS_PER_HOUR", "1000".to_owned()));
    let app = runtime.block_on(async {
        let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
        TestApp::spawn_with(backend, &pairs).await
    });
    (runtime, app)
}

async fn deliver(app: &TestApp, event: &Value) {
    let body = event.to_string();
    let header = vigil::stripe::signature::sign(body.as_bytes(), SECRET, chrono::Utc::now().timestamp());
    let response = app
        .client
        .post(app.url("/api/v1/stripe/webhook"))
        .header("stripe-signature", header)
        .body(body)
        .send()
        .await
        .expect("delivery");
    assert!(response.status().is_success(), "{}", response.status());
}

/// What the mirror says about the company, leaving out times of our own making.
async fn mirror(app: &TestApp, owner: &Session) -> Value {
    let billing: Value = app.get("/api/v1/billing", &owner.access_token).await.json().await.expect("json");
    let invoices: Value = app.get("/api/v1/billing/invoices", &owner.access_token).await.json().await.expect("json");
    json!({
        "tier": billing["subscription"]["tier"],
        "status": billing["subscription"]["status"],
        "auto_renew": billing["subscription"]["auto_renew"],
        "period_end": billing["subscription"]["current_period_end"],
        "cancel_at": billing["subscription"]["cancel_at"],
        "in_grace": billing["grace_period"].is_object(),
        "invoices": invoices["data"].as_array().expect("data").iter().map(|i| json!([i["status"], i["amount_paid"]])).collect::<Vec<_>>(),
        "open_alerts": open_alerts(app, owner).await,
    })
}

/// The alerts still open for the owner, other than PAYMENT_RECOVERED (see the module's doc), by type and
/// what they are about.
async fn open_alerts(app: &TestApp, owner: &Session) -> Vec<(String, String)> {
    let page: Value =
        app.get("/api/v1/alerts?resolved=false&per_page=100", &owner.access_token).await.json().await.expect("json");
    let mut open: Vec<(String, String)> = page["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter(|alert| alert["type"] != "PAYMENT_RECOVERED")
        .map(|alert| {
            let about = alert["related_data"]["reference"].as_str().unwrap_or_default().to_owned();
            (alert["type"].as_str().unwrap_or_default().to_owned(), about)
        })
        .collect();
    open.sort();
    open
}

async fn company(app: &TestApp) -> (Session, String) {
    let owner = app.signup("Ordered Co").await;
    let customer = format!("cus_{}", uuid::Uuid::new_v4().simple());
    app.execute_sql(&format!(
        "UPDATE companies SET stripe_customer_id = '{customer}' WHERE id = '{}'",
        owner.company_id
    ))
    .await;
    (owner, customer)
}

fn any_order_with_duplicates_ends_like_in_order(backend: Backend) {
    let (runtime, app) = runtime_and_app(backend);
    let expected = runtime.block_on(async {
        let (owner, customer) = company(&app).await;
        for event in history(&customer) {
            deliver(&app, &event).await;
        }
        mirror(&app, &owner).await
    });
    assert_eq!(expected["tier"], "ENTERPRISE", "{expected}");
    assert_eq!(
        (expected["auto_renew"].as_bool(), expected["cancel_at"].is_string()),
        (Some(false), true),
        "{expected}"
    );

    let events = 10usize;
    let orders = prop::collection::vec(0..events, 0..4).prop_flat_map(move |duplicates| {
        let mut deliveries: Vec<usize> = (0..events).collect();
        deliveries.extend(duplicates);
        Just(deliveries).prop_shuffle()
    });
    let mut runner = TestRunner::new(Config { cases: 24, failure_persistence: None, ..Config::default() });
    let outcome = runner.run(&orders, |order| {
        let actual = runtime.block_on(async {
            let (owner, customer) = company(&app).await;
            let history = history(&customer);
            for index in &order {
                deliver(&app, &history[*index]).await;
            }
            mirror(&app, &owner).await
        });
        prop_assert_eq!(&actual, &expected, "delivery order {:?}", order);
        Ok(())
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}

#[test]
fn on_sqlite_any_order_with_duplicates_ends_like_in_order() {
    any_order_with_duplicates_ends_like_in_order(Backend::Sqlite);
}

#[test]
fn on_postgres_any_order_with_duplicates_ends_like_in_order() {
    if skip_postgres() {
        return;
    }
    any_order_with_duplicates_ends_like_in_order(Backend::Postgres);
}

/// A company that paid twice (two tabs): subscription A, then B a second later, both live at Stripe, and
/// their events delivered in `order` (indexes into A created, A updated, B created, B updated).
async fn two_subscriptions_delivered(app: &TestApp, order: &[usize]) -> (Session, Value, Value) {
    let owner = app.signup("Twice Paid Co").await;
    let stripe = localstripe();
    let customer = stripe.customer_with_card(&owner.email, &owner.company_id, GOOD_CARD).await;
    app.execute_sql(&format!(
        "UPDATE companies SET stripe_customer_id = '{customer}' WHERE id = '{}'",
        owner.company_id
    ))
    .await;
    let older = stripe.subscribe(&customer, PRICE_PRO).await;
    // Stripe orders subscriptions by `created`, in seconds.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let newer = stripe.subscribe(&customer, PRICE_ENTERPRISE).await;
    let now = chrono::Utc::now().timestamp();
    let events: Vec<Value> = [
        ("customer.subscription.created", &older),
        ("customer.subscription.updated", &older),
        ("customer.subscription.created", &newer),
        ("customer.subscription.updated", &newer),
    ]
    .into_iter()
    .enumerate()
    .map(|(n, (kind, object))| {
        json!({"id": format!("evt_{}", uuid::Uuid::new_v4().simple()), "object": "event", "type": kind,
            "created": now + n as i64, "data": {"object": object}})
    })
    .collect();
    for index in order {
        deliver(app, &events[*index]).await;
    }
    (owner, older, newer)
}

fn two_live_subscriptions_in_any_order_leave_the_newest_alone(backend: Backend) {
    let (runtime, app) = runtime_and_app(backend);
    let orders = prop::collection::vec(0..4usize, 0..3).prop_flat_map(|duplicates| {
        let mut deliveries: Vec<usize> = (0..4).collect();
        deliveries.extend(duplicates);
        Just(deliveries).prop_shuffle()
    });
    let mut runner = TestRunner::new(Config { cases: 8, failure_persistence: None, ..Config::default() });
    let outcome = runner.run(&orders, |order| {
        let (live, mirrored, duplicates_told) = runtime.block_on(async {
            let (owner, older, newer) = two_subscriptions_delivered(&app, &order).await;
            let mut live = Vec::new();
            for subscription in [&older, &newer] {
                let id = subscription["id"].as_str().expect("id");
                let at_stripe = localstripe().get(&format!("/subscriptions/{id}")).await;
                if matches!(at_stripe["status"].as_str(), Some("active" | "trialing" | "past_due")) {
                    live.push(id.to_owned());
                }
            }
            let billing: Value = app.get("/api/v1/billing", &owner.access_token).await.json().await.expect("json");
            let told: Value = app
                .get("/api/v1/alerts?type=DUPLICATE_SUBSCRIPTION_CANCELLED", &owner.access_token)
                .await
                .json()
                .await
                .expect("json");
            let mirrored = (
                billing["subscription"]["stripe_subscription_id"].as_str() == newer["id"].as_str(),
                billing["subscription"]["tier"].clone(),
            );
            (live == [newer["id"].as_str().expect("id")], mirrored, told["total"].clone())
        });
        prop_assert!(live, "only the newer subscription is live at Stripe after {:?}", order);
        prop_assert_eq!(mirrored, (true, json!("ENTERPRISE")), "the mirror holds the newer one after {:?}", order);
        prop_assert_eq!(duplicates_told, json!(1), "the owners are told once after {:?}", order);
        Ok(())
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}

#[test]
fn on_sqlite_two_live_subscriptions_in_any_order_leave_the_newest_alone() {
    two_live_subscriptions_in_any_order_leave_the_newest_alone(Backend::Sqlite);
}

#[test]
fn on_postgres_two_live_subscriptions_in_any_order_leave_the_newest_alone() {
    if skip_postgres() {
        return;
    }
    two_live_subscriptions_in_any_order_leave_the_newest_alone(Backend::Postgres);
}
