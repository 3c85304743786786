//! A downgrade takes effect at the period's end, unless the operator configures otherwise
//! (`BILLING_DOWNGRADE=immediately`): the paid-for plan is used in full, and Stripe's subscription schedule
//! renews the subscription on the lower price. Against localstripe, whose launcher implements schedules.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, Session, TestApp, backend_tests};
use crate::stripe_fake::{FaultyStripe, GOOD_CARD, PRICE_ENTERPRISE, PRICE_PRO, localstripe};
use crate::webhooks::{register_webhook, spawn};

backend_tests!(
    a_downgrade_keeps_the_paid_for_plan_until_the_period_ends_then_renews_on_the_lower_price,
    choosing_the_current_plan_again_or_cancelling_drops_a_scheduled_downgrade,
    with_downgrades_set_to_apply_at_once_a_downgrade_applies_and_is_credited_at_once,
    a_scheduled_downgrade_keeps_the_quantity_and_tax_rates_the_subscription_is_billed_with,
    cancelling_with_a_downgrade_scheduled_is_one_call_that_cannot_leave_the_higher_plan_renewing,
    cancelling_under_a_longer_dashboard_schedule_ends_with_the_period,
    a_schedule_set_to_cancel_after_its_lower_phase_still_shows_the_downgrade,
);

/// A server on localstripe whose operator set downgrades to apply at once.
pub(crate) async fn spawn_downgrading_at_once(backend: Backend) -> TestApp {
    let mut settings = localstripe().settings();
    settings.push(("BILLING_DOWNGRADE", "immediately".to_owned()));
    let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    TestApp::spawn_with(backend, &pairs).await
}

/// A company paying for ENTERPRISE, ten days into its period; returns the owner and the subscription.
async fn on_enterprise(app: &TestApp) -> (Session, String) {
    let owner = app.signup("Downgrading Co").await;
    let customer = localstripe().customer_with_card(&owner.email, &owner.company_id, GOOD_CARD).await;
    let subscription = localstripe().subscribe_since(&customer, PRICE_ENTERPRISE, 10).await;
    app.resync(&owner.company_id).await;
    (owner, subscription["id"].as_str().expect("subscription id").to_owned())
}

async fn billing(app: &TestApp, owner: &Session) -> Value {
    app.get("/api/v1/billing", &owner.access_token).await.json().await.expect("json")
}

async fn change_plan(app: &TestApp, owner: &Session, tier: &str) -> Value {
    let response = app
        .request(Method::PUT, "/api/v1/billing/subscription", Some(&owner.access_token), Some(json!({"tier": tier})))
        .await;
    let status = response.status();
    let body: Value = response.json().await.expect("json");
    assert_eq!(status, StatusCode::OK, "change to {tier}: {body}");
    body
}

async fn at_stripe(subscription: &str) -> Value {
    localstripe().get(&format!("/subscriptions/{subscription}")).await
}

async fn latest_invoice(subscription: &str) -> Value {
    let id = at_stripe(subscription).await["latest_invoice"].as_str().expect("latest invoice").to_owned();
    localstripe().get(&format!("/invoices/{id}")).await
}

async fn a_downgrade_keeps_the_paid_for_plan_until_the_period_ends_then_renews_on_the_lower_price(backend: Backend) {
    let app = spawn(backend).await;
    let (owner, subscription) = on_enterprise(&app).await;
    register_webhook(&app).await;
    let period_end = billing(&app, &owner).await["subscription"]["current_period_end"].clone();
    let preview: Value =
        app.get("/api/v1/billing/subscription/preview?tier=PRO", &owner.access_token).await.json().await.expect("json");

    let changed = change_plan(&app, &owner, "PRO").await;

    assert_eq!((preview["amount_due"].as_i64(), preview["lines"].clone()), (Some(0), json!([])), "{preview}");
    assert_eq!(preview["takes_effect_at"], period_end, "{preview}");
    assert_eq!(changed["tier"], "ENTERPRISE", "the paid-for plan holds: {changed}");
    assert_eq!(changed["scheduled_change"], json!({"tier": "PRO", "at": period_end}), "{changed}");
    let dashboard = billing(&app, &owner).await;
    assert_eq!(dashboard["tier"]["code"], "ENTERPRISE");
    assert_eq!(dashboard["usage"]["active_employees"]["limit"], Value::Null, "ENTERPRISE's limits still apply");
    let stripe_side = at_stripe(&subscription).await;
    assert_eq!(stripe_side["items"]["data"][0]["plan"]["id"], PRICE_ENTERPRISE);
    let schedule_id = stripe_side["schedule"].as_str().unwrap_or_else(|| panic!("no schedule: {stripe_side}"));
    let schedule = localstripe().get(&format!("/subscription_schedules/{schedule_id}")).await;
    let phases: Vec<(&str, &Value)> = schedule["phases"]
        .as_array()
        .expect("phases")
        .iter()
        .map(|phase| (phase["items"][0]["price"].as_str().unwrap_or_default(), &phase["start_date"]))
        .collect();
    assert_eq!(phases.iter().map(|(price, _)| *price).collect::<Vec<_>>(), [PRICE_ENTERPRISE, PRICE_PRO]);
    assert_eq!(schedule["phases"][0]["end_date"], stripe_side["current_period_end"], "{schedule}");
    assert_eq!(schedule["end_behavior"], "release");
    assert_eq!(latest_invoice(&subscription).await["billing_reason"], "subscription_create", "no credit, no charge");

    // The period ends: Stripe moves the subscription to PRO and bills the renewal at PRO's price.
    localstripe().end_phase(schedule_id).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let mut dashboard = billing(&app, &owner).await;
    while dashboard["tier"]["code"] != "PRO" && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        dashboard = billing(&app, &owner).await;
    }
    assert_eq!(dashboard["tier"]["code"], "PRO", "{dashboard}");
    assert_eq!(dashboard["subscription"]["scheduled_change"], Value::Null, "{dashboard}");
    assert_eq!(dashboard["usage"]["active_employees"]["limit"], 50);
    let renewal = latest_invoice(&subscription).await;
    assert_eq!(
        (renewal["billing_reason"].as_str(), renewal["amount_paid"].as_i64()),
        (Some("subscription_cycle"), Some(2900))
    );
}

async fn choosing_the_current_plan_again_or_cancelling_drops_a_scheduled_downgrade(backend: Backend) {
    let app = TestApp::spawn_with_stripe(backend).await;
    let (owner, subscription) = on_enterprise(&app).await;
    change_plan(&app, &owner, "PRO").await;
    let first = at_stripe(&subscription).await["schedule"].as_str().expect("a schedule").to_owned();
    // Resuming what renews already changes nothing: the downgrade stays scheduled.
    let resumed = app.post("/api/v1/billing/subscription/resume", &owner.access_token, json!({})).await;
    let resumed: Value = resumed.json().await.expect("json");
    assert_eq!(resumed["scheduled_change"]["tier"], "PRO", "{resumed}");
    assert_eq!(at_stripe(&subscription).await["schedule"].as_str(), Some(first.as_str()));

    let kept = change_plan(&app, &owner, "ENTERPRISE").await;

    assert_eq!((kept["tier"].as_str(), kept["scheduled_change"].clone()), (Some("ENTERPRISE"), Value::Null), "{kept}");
    assert_eq!(at_stripe(&subscription).await["schedule"], Value::Null);
    let released = localstripe().get(&format!("/subscription_schedules/{first}")).await;
    assert_eq!(released["status"], "released", "{released}");

    change_plan(&app, &owner, "PRO").await;
    let cancelled = app.post("/api/v1/billing/subscription/cancel", &owner.access_token, json!({})).await;
    assert_eq!(cancelled.status(), StatusCode::OK);
    let cancelled: Value = cancelled.json().await.expect("json");
    assert_eq!((cancelled["auto_renew"].as_bool(), cancelled["scheduled_change"].clone()), (Some(false), Value::Null));
    // Ended through the schedule: its one phase left is the current one, and it cancels when that ends.
    let stripe_side = at_stripe(&subscription).await;
    let schedule = stripe_side["schedule"].as_str().expect("the schedule ends it").to_owned();
    let ending = localstripe().get(&format!("/subscription_schedules/{schedule}")).await;
    assert_eq!(ending["end_behavior"], "cancel", "{ending}");
    assert_eq!(ending["phases"].as_array().map(Vec::len), Some(1), "the downgrade's phase is gone: {ending}");
    assert_eq!(ending["phases"][0]["items"][0]["price"], PRICE_ENTERPRISE, "{ending}");
    assert_eq!(stripe_side["cancel_at"], ending["phases"][0]["end_date"], "{stripe_side}");
    assert_eq!(billing(&app, &owner).await["tier"]["code"], "ENTERPRISE", "the paid-for plan holds until the end");

    // A downgrade of what ends anyway would renew, on a schedule, what the customer cancelled.
    let refused = app
        .request(Method::PUT, "/api/v1/billing/subscription", Some(&owner.access_token), Some(json!({"tier": "PRO"})))
        .await;
    let problem = crate::helpers::problem(refused, StatusCode::CONFLICT).await;
    assert_eq!(problem["code"], "subscription_ending", "{problem}");
    let unchanged = localstripe().get(&format!("/subscription_schedules/{schedule}")).await;
    assert_eq!(unchanged["phases"].as_array().map(Vec::len), Some(1), "no downgrade was scheduled: {unchanged}");

    // Resumed: the schedule lets go and the subscription renews as it is.
    let resumed = app.post("/api/v1/billing/subscription/resume", &owner.access_token, json!({})).await;
    assert_eq!(resumed.status(), StatusCode::OK);
    let resumed: Value = resumed.json().await.expect("json");
    assert_eq!(resumed["auto_renew"], true, "{resumed}");
    let stripe_side = at_stripe(&subscription).await;
    assert_eq!(
        (
            stripe_side["schedule"].clone(),
            stripe_side["cancel_at"].clone(),
            stripe_side["cancel_at_period_end"].clone()
        ),
        (Value::Null, Value::Null, json!(false)),
        "{stripe_side}"
    );
}

/// A subscription billed for 3 seats with a tax rate: a schedule phase is what it is sent, so a phase sent
/// with its price alone would renew on 1 seat and no tax. Both phases carry what Stripe's own phase had.
async fn a_scheduled_downgrade_keeps_the_quantity_and_tax_rates_the_subscription_is_billed_with(backend: Backend) {
    let app = TestApp::spawn_with_stripe(backend).await;
    let owner = app.signup("Taxed Co").await;
    let stripe = localstripe();
    let customer = stripe.customer_with_card(&owner.email, &owner.company_id, GOOD_CARD).await;
    let vat = stripe.post("/tax_rates", &[("display_name", "VAT"), ("percentage", "20"), ("inclusive", "false")]).await;
    let vat = vat["id"].as_str().expect("tax rate id").to_owned();
    let start = (chrono::Utc::now() - chrono::Duration::days(10)).timestamp().to_string();
    let subscription = stripe
        .post(
            "/subscriptions",
            &[
                ("customer", customer.as_str()),
                ("items[0][price]", PRICE_ENTERPRISE),
                ("items[0][quantity]", "3"),
                ("default_tax_rates[0]", vat.as_str()),
                ("backdate_start_date", start.as_str()),
            ],
        )
        .await;
    let subscription = subscription["id"].as_str().expect("subscription id").to_owned();
    app.resync(&owner.company_id).await;

    change_plan(&app, &owner, "PRO").await;

    let schedule_id = at_stripe(&subscription).await["schedule"].as_str().expect("a schedule").to_owned();
    let schedule = localstripe().get(&format!("/subscription_schedules/{schedule_id}")).await;
    let phases = schedule["phases"].as_array().expect("phases");
    let billed: Vec<(&Value, &Value, &Value)> = phases
        .iter()
        .map(|phase| (&phase["items"][0]["price"], &phase["items"][0]["quantity"], &phase["default_tax_rates"]))
        .collect();
    assert_eq!(
        billed,
        vec![(&json!(PRICE_ENTERPRISE), &json!(3), &json!([vat])), (&json!(PRICE_PRO), &json!(3), &json!([vat]))],
        "{schedule}"
    );
    localstripe().end_phase(&schedule_id).await;
    let renewed = at_stripe(&subscription).await;
    assert_eq!(renewed["items"]["data"][0]["plan"]["id"], PRICE_PRO, "{renewed}");
    assert_eq!(renewed["items"]["data"][0]["quantity"], 3, "{renewed}");
    assert_eq!(renewed["default_tax_rates"][0]["id"], json!(vat), "{renewed}");
}

/// Stripe fails every update of the subscription itself (a 500, three times over): cancelling while a
/// downgrade is scheduled must not release the schedule and then fail, which left the subscription
/// renewing on ENTERPRISE with the downgrade gone. Ending it through the schedule is one call.
async fn cancelling_with_a_downgrade_scheduled_is_one_call_that_cannot_leave_the_higher_plan_renewing(
    backend: Backend,
) {
    let faulty = FaultyStripe::start("POST", r"^/v1/subscriptions/sub_[A-Za-z0-9]+$").await;
    let settings = faulty.settings();
    let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = TestApp::spawn_with(backend, &pairs).await;
    let (owner, subscription) = on_enterprise(&app).await;
    change_plan(&app, &owner, "PRO").await;

    let cancelled = app.post("/api/v1/billing/subscription/cancel", &owner.access_token, json!({})).await;

    assert_eq!(cancelled.status(), StatusCode::OK);
    let cancelled: Value = cancelled.json().await.expect("json");
    assert_eq!((cancelled["auto_renew"].as_bool(), cancelled["scheduled_change"].clone()), (Some(false), Value::Null));
    let stripe_side = at_stripe(&subscription).await;
    assert!(stripe_side["cancel_at"].is_i64(), "Stripe ends it at the period's end: {stripe_side}");
    let dashboard = billing(&app, &owner).await;
    assert_eq!(dashboard["tier"]["code"], "ENTERPRISE", "{dashboard}");
    assert_eq!(dashboard["subscription"]["auto_renew"], false, "{dashboard}");
}

async fn with_downgrades_set_to_apply_at_once_a_downgrade_applies_and_is_credited_at_once(backend: Backend) {
    let app = spawn_downgrading_at_once(backend).await;
    let (owner, subscription) = on_enterprise(&app).await;

    let changed = change_plan(&app, &owner, "PRO").await;

    assert_eq!((changed["tier"].as_str(), changed["scheduled_change"].clone()), (Some("PRO"), Value::Null));
    let credit = latest_invoice(&subscription).await;
    assert_eq!(credit["billing_reason"], "subscription_update", "{credit}");
    let lines: i64 =
        credit["lines"]["data"].as_array().expect("lines").iter().filter_map(|l| l["amount"].as_i64()).sum();
    assert!(lines < 0, "the unused time on ENTERPRISE is credited at once: {credit}");
    assert_eq!(at_stripe(&subscription).await["schedule"], Value::Null);
    assert_eq!(billing(&app, &owner).await["usage"]["active_employees"]["limit"], 50);
}

/// Sales put the subscription on a schedule in the Dashboard whose phase runs two months past the period
/// (a contract). A cancellation ends it with the period, as everywhere else, not when that phase ends.
async fn cancelling_under_a_longer_dashboard_schedule_ends_with_the_period(backend: Backend) {
    let app = TestApp::spawn_with_stripe(backend).await;
    let (owner, subscription) = on_enterprise(&app).await;
    let stripe = localstripe();
    let schedule = stripe.post("/subscription_schedules", &[("from_subscription", subscription.as_str())]).await;
    let id = schedule["id"].as_str().expect("schedule id").to_owned();
    let start = schedule["phases"][0]["start_date"].as_i64().expect("start").to_string();
    let period_end = at_stripe(&subscription).await["current_period_end"].as_i64().expect("period end");
    let contract_end = (period_end + 60 * 86_400).to_string();
    stripe
        .post(
            &format!("/subscription_schedules/{id}"),
            &[
                ("phases[0][items][0][price]", PRICE_ENTERPRISE),
                ("phases[0][start_date]", start.as_str()),
                ("phases[0][end_date]", contract_end.as_str()),
            ],
        )
        .await;
    app.resync(&owner.company_id).await;

    let cancelled = app.post("/api/v1/billing/subscription/cancel", &owner.access_token, json!({})).await;

    assert_eq!(cancelled.status(), StatusCode::OK);
    let ending = stripe.get(&format!("/subscription_schedules/{id}")).await;
    assert_eq!(
        (ending["end_behavior"].as_str(), ending["phases"][0]["end_date"].as_i64()),
        (Some("cancel"), Some(period_end)),
        "{ending}"
    );
    assert_eq!(at_stripe(&subscription).await["cancel_at"], period_end);
}

/// An operator sets Vigil's downgrade schedule to cancel when it ends, in the Dashboard: the subscription
/// still renews once on PRO and ends a period later. The downgrade is still coming, and is still shown.
async fn a_schedule_set_to_cancel_after_its_lower_phase_still_shows_the_downgrade(backend: Backend) {
    let app = spawn(backend).await;
    let (owner, subscription) = on_enterprise(&app).await;
    register_webhook(&app).await;
    let scheduled = change_plan(&app, &owner, "PRO").await["scheduled_change"].clone();
    let schedule = at_stripe(&subscription).await["schedule"].as_str().expect("a schedule").to_owned();

    localstripe().post(&format!("/subscription_schedules/{schedule}"), &[("end_behavior", "cancel")]).await;

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let mut shown = billing(&app, &owner).await;
    while shown["subscription"]["cancel_at"].is_null() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        shown = billing(&app, &owner).await;
    }
    assert!(shown["subscription"]["cancel_at"].is_string(), "the end is shown: {shown}");
    assert_eq!(shown["subscription"]["scheduled_change"], scheduled, "{shown}");
}
