//! What Vigil stores about the company's Stripe customer (the billing email, the tax id) is what Stripe has:
//! however changes race, and whatever a failed save left behind at Stripe, Vigil brings the customer to the
//! stored state and resync repairs it.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Backend, Session, TestApp, backend_tests};
use crate::stripe_fake::{FaultyStripe, GOOD_CARD, localstripe};

backend_tests!(
    tax_ids_set_at_once_leave_exactly_the_stored_one_at_stripe,
    resync_removes_a_tax_id_at_stripe_that_vigil_does_not_hold,
    billing_emails_set_at_once_leave_the_stored_one_at_stripe,
    an_email_change_stripe_fails_is_audited_as_made_and_then_undone,
);

/// A company whose Stripe customer saved the test Visa at Checkout (its default source); returns the owner
/// and the customer id.
pub(crate) async fn company_with_customer(app: &TestApp) -> (Session, String) {
    let owner = app.signup("Tax Co").await;
    let customer = localstripe().customer_with_card(&owner.email, &owner.company_id, GOOD_CARD).await;
    app.execute_sql(&format!(
        "UPDATE companies SET stripe_customer_id = '{customer}' WHERE id = '{}'",
        owner.company_id
    ))
    .await;
    (owner, customer)
}

async fn stored_tax_id(app: &TestApp, owner: &Session) -> Option<String> {
    let billing: serde_json::Value = app.get("/api/v1/billing", &owner.access_token).await.json().await.expect("json");
    billing["tax_id"]["value"].as_str().map(str::to_owned)
}

async fn tax_ids_set_at_once_leave_exactly_the_stored_one_at_stripe(backend: Backend) {
    let app = TestApp::spawn_with_stripe(backend).await;
    let (owner, customer) = company_with_customer(&app).await;
    let values = ["DE111111111", "DE222222222", "DE333333333", "DE444444444"];

    let answers = futures_util::future::join_all(values.iter().map(|value| {
        app.request(
            Method::PUT,
            "/api/v1/billing/tax-id",
            Some(&owner.access_token),
            Some(json!({"type": "eu_vat", "value": value})),
        )
    }))
    .await;

    assert!(answers.iter().all(|answer| answer.status() == StatusCode::OK), "every change is accepted");
    let stored = stored_tax_id(&app, &owner).await.expect("a tax id is stored");
    assert_eq!(
        localstripe().tax_id_values(&customer).await,
        std::slice::from_ref(&stored),
        "Stripe prints exactly the tax id Vigil shows ({stored}) on invoices"
    );
}

async fn resync_removes_a_tax_id_at_stripe_that_vigil_does_not_hold(backend: Backend) {
    let app = TestApp::spawn_with_stripe(backend).await;
    let (owner, customer) = company_with_customer(&app).await;
    let set = app
        .request(
            Method::PUT,
            "/api/v1/billing/tax-id",
            Some(&owner.access_token),
            Some(json!({"type": "eu_vat", "value": "DE123456789"})),
        )
        .await;
    assert_eq!(set.status(), StatusCode::OK);
    // What a change whose local save failed leaves at Stripe: a tax id Vigil never stored.
    localstripe().add_tax_id(&customer, "eu_vat", "DE999999999").await;

    let report = app.resync(&owner.company_id).await;

    assert_eq!(localstripe().tax_id_values(&customer).await, ["DE123456789"], "the orphan is removed");
    assert!(report.repairs.iter().any(|line| line.contains("tax id")), "the repair is reported: {:?}", report.repairs);
    assert_eq!(stored_tax_id(&app, &owner).await.as_deref(), Some("DE123456789"));
}

async fn billing_emails_set_at_once_leave_the_stored_one_at_stripe(backend: Backend) {
    let app = TestApp::spawn_with_stripe(backend).await;
    let (owner, customer) = company_with_customer(&app).await;
    let emails = ["one@tax.test", "two@tax.test", "three@tax.test", "four@tax.test"];

    let answers = futures_util::future::join_all(
        emails
            .iter()
            .map(|email| app.patch("/api/v1/billing/settings", &owner.access_token, json!({"billing_email": email}))),
    )
    .await;

    assert!(answers.iter().all(|answer| answer.status() == StatusCode::OK), "every change is accepted");
    let billing: serde_json::Value = app.get("/api/v1/billing", &owner.access_token).await.json().await.expect("json");
    let stored = billing["billing_email"].as_str().expect("an email is stored").to_owned();
    let at_stripe = localstripe().get(&format!("/customers/{customer}")).await;
    assert_eq!(at_stripe["email"], stored.as_str(), "Stripe bills the address Vigil shows");
    // The changes are audited as they were recorded: the newest entry names the address that stands.
    let trail = audit(&app, &owner, "billing.email_changed").await;
    assert_eq!(trail["total"], 4, "{trail}");
    assert_eq!(trail["data"][0]["details"]["billing_email"], stored.as_str(), "{trail}");
}

async fn audit(app: &TestApp, owner: &Session, action: &str) -> serde_json::Value {
    app.get(&format!("/api/v1/audit-logs?action={action}"), &owner.access_token).await.json().await.expect("json")
}

/// Stripe fails every update of the customer: the change is undone, and the audit log says both that it
/// was made and that it was undone, with the address that stands again.
async fn an_email_change_stripe_fails_is_audited_as_made_and_then_undone(backend: Backend) {
    let faulty = FaultyStripe::start("POST", r"^/v1/customers/cus_[A-Za-z0-9]+$").await;
    let settings = faulty.settings();
    let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = TestApp::spawn_with(backend, &pairs).await;
    let (owner, _) = company_with_customer(&app).await;
    let before: serde_json::Value = app.get("/api/v1/billing", &owner.access_token).await.json().await.expect("json");

    let refused =
        app.patch("/api/v1/billing/settings", &owner.access_token, json!({"billing_email": "new@tax.test"})).await;

    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    let after: serde_json::Value = app.get("/api/v1/billing", &owner.access_token).await.json().await.expect("json");
    assert_eq!(after["billing_email"], before["billing_email"], "the change is undone");
    let made = audit(&app, &owner, "billing.email_changed").await;
    assert_eq!(made["data"][0]["details"]["billing_email"], "new@tax.test", "{made}");
    let undone = audit(&app, &owner, "billing.email_change_undone").await;
    assert_eq!(undone["data"][0]["details"]["billing_email"], before["billing_email"], "{undone}");
}
