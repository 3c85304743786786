//! Property: whatever order Stripe delivers an event history in, with duplicates, the mirror ends where
//! in-order delivery leaves it.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

use crate::helpers::{Backend, Session, TestApp, skip_postgres};
use crate::stripe_fake::{PRICE_ENTERPRISE, PRICE_PRO, localstripe};

const SECRET: &str = "whsec_order_test";

/// One company's history: a subscription that starts incomplete, a first invoice that fails and is then
/// paid, and an upgrade with cancellation at period end. Each event a second apart.
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
    [
        ("customer.subscription.created", subscription(PRICE_PRO, "incomplete", false)),
        ("invoice.created", invoice("draft", 0)),
        ("invoice.finalized", invoice("open", 0)),
        ("invoice.payment_failed", invoice("open", 0)),
        ("invoice.paid", invoice("paid", 2900)),
        ("customer.subscription.updated", subscription(PRICE_PRO, "active", false)),
        ("customer.subscription.updated", subscription(PRICE_ENTERPRISE, "active", true)),
    ]
    .into_iter()
    .enumerate()
    .map(|(n, (kind, object))| {
        json!({"id": format!("evt_{}", uuid::Uuid::new_v4().simple()), "object": "event", "type": kind,
            "created": 1_790_000_100 + n as i64, "data": {"object": object}})
    })
    .collect()
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
        "in_grace": billing["grace_period"].is_object(),
        "invoices": invoices["data"].as_array().expect("data").iter().map(|i| json!([i["status"], i["amount_paid"]])).collect::<Vec<_>>(),
    })
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
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let mut settings = localstripe().settings();
    settings.push(("STRIPE_WEBHOOK_SECRET", SECRET.to_owned()));
    settings.push(("SIGNUPS_PER_ADDRESS_PER_HOUR", "1000".to_owned()));
    let app = runtime.block_on(async {
        let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
        TestApp::spawn_with(backend, &pairs).await
    });
    let expected = runtime.block_on(async {
        let (owner, customer) = company(&app).await;
        for event in history(&customer) {
            deliver(&app, &event).await;
        }
        mirror(&app, &owner).await
    });
    assert_eq!(expected["tier"], "ENTERPRISE", "{expected}");

    let events = 7usize;
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
