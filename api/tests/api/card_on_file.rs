//! The card on file: read from Stripe when the customer, a payment method or Checkout says it may have
//! changed, and by resync; shown on the billing dashboard (brand, last four digits, expiry).

use serde_json::{Value, json};

use crate::customer_sync::company_with_customer as company_with_card;
use crate::helpers::{Backend, Session, TestApp, backend_tests};
use crate::stripe_fake::localstripe;
use crate::webhooks::{delivered, event, spawn, unique};

backend_tests!(
    the_card_on_file_follows_the_customer_and_its_payment_methods,
    resync_reads_the_card_on_file,
    the_subscriptions_own_payment_method_comes_before_the_customers_defaults,
);

/// Stripe's test Mastercard.
const MASTERCARD: &str = "5555555555554444";

async fn deliver(app: &TestApp, kind: &str, object: Value, previous: Value) {
    let mut signed = event(&unique("evt"), kind, chrono::Utc::now().timestamp(), object);
    signed["data"]["previous_attributes"] = previous;
    delivered(app, &signed).await;
}

async fn card(app: &TestApp, owner: &Session) -> Value {
    let billing: Value = app.get("/api/v1/billing", &owner.access_token).await.json().await.expect("json");
    billing["card"].clone()
}

async fn the_card_on_file_follows_the_customer_and_its_payment_methods(backend: Backend) {
    let app = spawn(backend).await;
    let (owner, customer) = company_with_card(&app).await;
    let before = card(&app, &owner).await;

    let at_stripe = localstripe().get(&format!("/customers/{customer}")).await;
    deliver(&app, "customer.updated", at_stripe, json!({})).await;
    let saved = card(&app, &owner).await;

    let replacement = localstripe().default_payment_method(&customer, MASTERCARD).await;
    deliver(&app, "payment_method.attached", replacement.clone(), json!({})).await;
    let replaced = card(&app, &owner).await;

    let id = replacement["id"].as_str().expect("id");
    let detached = localstripe().detach(id).await;
    deliver(&app, "payment_method.detached", detached, json!({"customer": customer})).await;
    let fallen_back = card(&app, &owner).await;

    assert_eq!(before, Value::Null, "nothing is known before Stripe says so");
    assert_eq!(saved, json!({"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030}));
    // (localstripe names every payment method's brand `visa`; Stripe would say `mastercard`.)
    assert_eq!(
        (&replaced["last4"], &replaced["exp_month"], &replaced["exp_year"]),
        (&json!("4444"), &json!(7), &json!(2031)),
        "the new invoice default is the card on file: {replaced}"
    );
    assert_eq!(fallen_back["last4"], "4242", "without it, Stripe charges the default source again");
}

async fn resync_reads_the_card_on_file(backend: Backend) {
    let app = spawn(backend).await;
    let (owner, _) = company_with_card(&app).await;

    app.resync(&owner.company_id).await;

    assert_eq!(card(&app, &owner).await["last4"], "4242");
}

/// Stripe charges a subscription's own `default_payment_method` before the customer's invoice default and
/// default source: that card is the one on file. (Set in the Billing Portal or the Dashboard.)
async fn the_subscriptions_own_payment_method_comes_before_the_customers_defaults(backend: Backend) {
    let app = spawn(backend).await;
    let (owner, customer) = company_with_card(&app).await;
    let stripe = localstripe();
    stripe.default_payment_method(&customer, MASTERCARD).await;
    let subscription = stripe.subscribe(&customer, crate::stripe_fake::PRICE_PRO).await;
    let own = stripe
        .post(
            "/payment_methods",
            &[
                ("type", "card"),
                ("card[number]", "4000056655665556"),
                ("card[exp_month]", "3"),
                ("card[exp_year]", "2032"),
                ("card[cvc]", "123"),
            ],
        )
        .await;
    let own = own["id"].as_str().expect("payment method id");
    stripe.post(&format!("/payment_methods/{own}/attach"), &[("customer", customer.as_str())]).await;
    let id = subscription["id"].as_str().expect("subscription id");
    let updated = stripe.post(&format!("/subscriptions/{id}"), &[("default_payment_method", own)]).await;

    deliver(&app, "customer.subscription.updated", updated, json!({"default_payment_method": null})).await;

    let shown = card(&app, &owner).await;
    assert_eq!(
        (&shown["last4"], &shown["exp_month"], &shown["exp_year"]),
        (&json!("5556"), &json!(3), &json!(2032)),
        "{shown}"
    );
}
