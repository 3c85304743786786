//! Upgrades are paid before they are granted: a plan change is invoiced at once (`always_invoice`) and
//! applied only when that invoice is paid (`pending_if_incomplete`); the prorated amount can be previewed
//! first, and the upgrade then invoices exactly that. Against localstripe, whose launcher implements
//! Stripe's pending updates and invoice previews.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, Session, TestApp, backend_tests, problem};
use crate::stripe_fake::{DECLINED_CARD, GOOD_CARD, PRICE_ENTERPRISE, PRICE_PRO, localstripe};
use crate::webhooks::{delivered, event, invoice, register_webhook, spawn, unique};

backend_tests!(
    an_upgrade_whose_payment_fails_answers_402_with_the_invoice_link_and_keeps_the_old_plan,
    paying_the_pending_invoice_grants_the_upgrade,
    asking_again_for_an_upgrade_that_waits_for_payment_bills_nothing_twice,
    a_successful_upgrade_is_invoiced_at_once,
    the_preview_shows_the_prorated_amount_that_the_upgrade_then_invoices,
    the_preview_refuses_an_unknown_tier_free_the_current_tier_and_a_company_without_subscription,
    a_failed_payment_of_a_plan_change_does_not_make_the_subscription_past_due,
    the_change_and_its_preview_send_stripe_the_parameters_of_its_api_reference,
    staying_on_the_plan_or_cancelling_gives_up_an_upgrade_that_waits_for_payment,
    a_proration_date_is_taken_only_with_the_quote_of_its_preview,
);

/// A company paying for PRO at localstripe with `card`, ten days into its period, mirrored by a resync.
struct OnPro {
    owner: Session,
    customer: String,
    subscription: String,
}

async fn on_pro(app: &TestApp) -> OnPro {
    let owner = app.signup("Upgrading Co").await;
    let stripe = localstripe();
    let customer = stripe.customer_with_card(&owner.email, &owner.company_id, GOOD_CARD).await;
    let subscription = stripe.subscribe_since(&customer, PRICE_PRO, 10).await;
    app.resync(&owner.company_id).await;
    OnPro { owner, customer, subscription: subscription["id"].as_str().expect("subscription id").to_owned() }
}

async fn billing(app: &TestApp, owner: &Session) -> Value {
    app.get("/api/v1/billing", &owner.access_token).await.json().await.expect("json")
}

async fn change_plan(app: &TestApp, owner: &Session, body: Value) -> reqwest::Response {
    app.request(Method::PUT, "/api/v1/billing/subscription", Some(&owner.access_token), Some(body)).await
}

async fn preview(app: &TestApp, owner: &Session, query: &str) -> reqwest::Response {
    app.get(&format!("/api/v1/billing/subscription/preview?{query}"), &owner.access_token).await
}

/// The subscription's newest invoice at Stripe.
async fn latest_invoice(subscription: &str) -> Value {
    let at_stripe = localstripe().get(&format!("/subscriptions/{subscription}")).await;
    let id = at_stripe["latest_invoice"].as_str().unwrap_or_else(|| panic!("no latest invoice: {at_stripe}"));
    localstripe().get(&format!("/invoices/{id}")).await
}

async fn plan_change_reserved(app: &TestApp, owner: &Session) -> String {
    app.execute_sql_text(&format!(
        "SELECT COALESCE(plan_change_tier, 'none') AS value FROM companies WHERE id = '{}'",
        owner.company_id
    ))
    .await
}

async fn an_upgrade_whose_payment_fails_answers_402_with_the_invoice_link_and_keeps_the_old_plan(backend: Backend) {
    let app = TestApp::spawn_with_stripe(backend).await;
    let company = on_pro(&app).await;
    localstripe().switch_card(&company.customer, DECLINED_CARD).await;

    let response = change_plan(&app, &company.owner, json!({"tier": "ENTERPRISE"})).await;

    let body = problem(response, StatusCode::PAYMENT_REQUIRED).await;
    assert_eq!(body["code"], "payment_required", "{body}");
    let invoice = latest_invoice(&company.subscription).await;
    assert_eq!(invoice["status"], "open", "{invoice}");
    assert_eq!(body["hosted_invoice_url"], invoice["hosted_invoice_url"], "{body}");
    assert!(body["hosted_invoice_url"].as_str().is_some_and(|url| url.starts_with("https://")), "{body}");
    let at_stripe = localstripe().get(&format!("/subscriptions/{}", company.subscription)).await;
    assert_eq!(at_stripe["items"]["data"][0]["plan"]["id"], PRICE_PRO, "Stripe kept the old price");
    assert!(at_stripe["pending_update"].is_object(), "{at_stripe}");
    let dashboard = billing(&app, &company.owner).await;
    assert_eq!(dashboard["tier"]["code"], "PRO", "{dashboard}");
    assert_eq!(dashboard["subscription"]["status"], "ACTIVE", "{dashboard}");
    assert_eq!(dashboard["usage"]["active_employees"]["limit"], 50, "PRO's limits still apply: {dashboard}");
    assert_eq!(plan_change_reserved(&app, &company.owner).await, "none", "the reservation is cleared");
}

/// The customer clicks "Upgrade" again (or the client retries) while the first try waits for its payment:
/// the same invoice is handed back, and Stripe gets no second change and no second invoice to collect.
async fn asking_again_for_an_upgrade_that_waits_for_payment_bills_nothing_twice(backend: Backend) {
    let app = TestApp::spawn_with_stripe(backend).await;
    let company = on_pro(&app).await;
    localstripe().switch_card(&company.customer, DECLINED_CARD).await;
    let first =
        problem(change_plan(&app, &company.owner, json!({"tier": "ENTERPRISE"})).await, StatusCode::PAYMENT_REQUIRED)
            .await;
    let pending = latest_invoice(&company.subscription).await;

    let again =
        problem(change_plan(&app, &company.owner, json!({"tier": "ENTERPRISE"})).await, StatusCode::PAYMENT_REQUIRED)
            .await;

    assert_eq!(again["code"], "payment_required", "{again}");
    assert_eq!(again["hosted_invoice_url"], first["hosted_invoice_url"], "the same invoice to pay: {again}");
    assert_eq!(latest_invoice(&company.subscription).await["id"], pending["id"], "no second invoice at Stripe");
}

async fn paying_the_pending_invoice_grants_the_upgrade(backend: Backend) {
    let app = spawn(backend).await;
    let company = on_pro(&app).await;
    register_webhook(&app).await;
    localstripe().switch_card(&company.customer, DECLINED_CARD).await;
    let refused = change_plan(&app, &company.owner, json!({"tier": "ENTERPRISE"})).await;
    assert_eq!(refused.status(), StatusCode::PAYMENT_REQUIRED);

    // The customer opens the hosted invoice page, enters a card that works and pays.
    localstripe().switch_card(&company.customer, GOOD_CARD).await;
    let pending = latest_invoice(&company.subscription).await;
    let paid = localstripe().pay_invoice(pending["id"].as_str().expect("invoice id")).await;
    assert_eq!(paid["status"], "paid", "{paid}");

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let mut dashboard = billing(&app, &company.owner).await;
    while dashboard["tier"]["code"] != "ENTERPRISE" && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        dashboard = billing(&app, &company.owner).await;
    }
    assert_eq!(
        dashboard["tier"]["code"], "ENTERPRISE",
        "Stripe's customer.subscription.updated grants it: {dashboard}"
    );
    assert_eq!(dashboard["usage"]["active_employees"]["limit"], Value::Null, "{dashboard}");
    assert_eq!(dashboard["subscription"]["status"], "ACTIVE", "{dashboard}");
}

async fn a_successful_upgrade_is_invoiced_at_once(backend: Backend) {
    let app = TestApp::spawn_with_stripe(backend).await;
    let company = on_pro(&app).await;

    let response = change_plan(&app, &company.owner, json!({"tier": "ENTERPRISE"})).await;

    assert_eq!(response.status(), StatusCode::OK);
    let changed: Value = response.json().await.expect("json");
    assert_eq!(changed["tier"], "ENTERPRISE", "{changed}");
    let invoice = latest_invoice(&company.subscription).await;
    assert_eq!(invoice["billing_reason"], "subscription_update", "the change has an invoice of its own: {invoice}");
    assert_eq!(invoice["status"], "paid", "{invoice}");
    // Twenty days of a thirty-day (or so) month are left: the difference of the prices for that time.
    let amount = invoice["amount_paid"].as_i64().expect("amount_paid");
    assert!((4_000..=5_000).contains(&amount), "prorated, not the whole difference of 7000: {invoice}");
    let pending: Value = localstripe().get(&format!("/invoiceitems?customer={}", company.customer)).await;
    assert_eq!(pending["data"], json!([]), "nothing waits for the next renewal: {pending}");
    assert_eq!(billing(&app, &company.owner).await["tier"]["code"], "ENTERPRISE");
}

async fn the_preview_shows_the_prorated_amount_that_the_upgrade_then_invoices(backend: Backend) {
    let app = TestApp::spawn_with_stripe(backend).await;
    let company = on_pro(&app).await;

    let response = preview(&app, &company.owner, "tier=ENTERPRISE").await;

    assert_eq!(response.status(), StatusCode::OK);
    let shown: Value = response.json().await.expect("json");
    assert_eq!((shown["tier"].as_str(), shown["currency"].as_str()), (Some("ENTERPRISE"), Some("usd")), "{shown}");
    let lines = shown["lines"].as_array().unwrap_or_else(|| panic!("lines: {shown}"));
    assert_eq!(lines.len(), 2, "the credit for PRO's unused time and the charge for ENTERPRISE's: {shown}");
    assert!(lines[0]["amount"].as_i64().is_some_and(|a| a < 0), "{shown}");
    assert!(lines.iter().all(|line| line["description"].as_str().is_some_and(|d| !d.is_empty())), "{shown}");
    let total: i64 = lines.iter().filter_map(|line| line["amount"].as_i64()).sum();
    assert_eq!(shown["amount_due"], total, "{shown}");
    assert!(shown["period_start"].is_string() && shown["period_end"].is_string(), "{shown}");
    assert_eq!(billing(&app, &company.owner).await["tier"]["code"], "PRO", "a preview changes nothing");

    let upgraded = change_plan(
        &app,
        &company.owner,
        json!({"tier": "ENTERPRISE", "proration_date": shown["proration_date"], "quote": shown["quote"]}),
    )
    .await;

    assert_eq!(upgraded.status(), StatusCode::OK);
    let invoice = latest_invoice(&company.subscription).await;
    assert_eq!(invoice["amount_paid"], shown["amount_due"], "the upgrade invoiced what the preview showed");
}

async fn the_preview_refuses_an_unknown_tier_free_the_current_tier_and_a_company_without_subscription(
    backend: Backend,
) {
    let app = TestApp::spawn_with_stripe(backend).await;
    let company = on_pro(&app).await;
    let newcomer = app.signup("Free Co").await;

    let unknown = problem(preview(&app, &company.owner, "tier=GOLD").await, StatusCode::UNPROCESSABLE_ENTITY).await;
    let missing = problem(preview(&app, &company.owner, "").await, StatusCode::UNPROCESSABLE_ENTITY).await;
    let free = problem(preview(&app, &company.owner, "tier=FREE").await, StatusCode::UNPROCESSABLE_ENTITY).await;
    let same = problem(preview(&app, &company.owner, "tier=PRO").await, StatusCode::CONFLICT).await;
    let none = problem(preview(&app, &newcomer, "tier=PRO").await, StatusCode::CONFLICT).await;

    assert!(unknown["errors"]["tier"].is_array(), "{unknown}");
    assert_eq!(missing["code"], "validation_failed", "{missing}");
    assert_eq!(free["errors"]["tier"], json!(["choose a paid tier: PRO or ENTERPRISE"]), "{free}");
    assert_eq!(same["code"], "plan_unchanged", "{same}");
    assert_eq!(none["code"], "no_subscription", "{none}");
    let stale =
        change_plan(&app, &company.owner, json!({"tier": "ENTERPRISE", "proration_date": "2020-01-01T00:00:00Z"}))
            .await;
    assert!(problem(stale, StatusCode::UNPROCESSABLE_ENTITY).await["errors"]["proration_date"].is_array());
    assert_eq!(billing(&app, &company.owner).await["tier"]["code"], "PRO");
}

/// Stripe keeps a subscription whose pending update's invoice failed `active`: the failure of that invoice
/// (`billing_reason: subscription_update`) is no missed renewal and starts no grace period.
async fn a_failed_payment_of_a_plan_change_does_not_make_the_subscription_past_due(backend: Backend) {
    let app = spawn(backend).await;
    let owner = app.signup("Pending Co").await;
    let customer = unique("cus");
    app.execute_sql(&format!(
        "UPDATE companies SET stripe_customer_id = '{customer}' WHERE id = '{}'",
        owner.company_id
    ))
    .await;
    let sub = unique("sub");
    let now = chrono::Utc::now().timestamp();
    let created = crate::webhooks::subscription(&sub, &customer, PRICE_PRO, "active", false);
    assert_eq!(
        delivered(&app, &event(&unique("evt"), "customer.subscription.created", now, created)).await,
        "processed"
    );
    let mut failed = invoice(&unique("in"), &customer, &sub, "open", 0);
    failed["billing_reason"] = json!("subscription_update");

    assert_eq!(delivered(&app, &event(&unique("evt"), "invoice.payment_failed", now + 1, failed)).await, "processed");

    let dashboard = billing(&app, &owner).await;
    assert_eq!(dashboard["subscription"]["status"], "ACTIVE", "{dashboard}");
    assert!(dashboard["grace_period"].is_null(), "{dashboard}");
    assert_eq!(dashboard["tier"]["code"], "PRO");
    let alerts: Value =
        app.get("/api/v1/alerts?type=PAYMENT_FAILED", &owner.access_token).await.json().await.expect("json");
    let message = alerts["data"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("change of plan") && message.contains("the plan is unchanged"), "{alerts}");
}

/// The shapes Stripe's API reference gives, checked without localstripe: the update carries
/// `proration_behavior=always_invoice`, `payment_behavior=pending_if_incomplete` and expands `latest_invoice`;
/// the preview asks `create_preview` about the same item and price; and a preview in the newest API shape
/// (the proration flag under `parent.subscription_item_details`, a renewal line that is no proration) is read.
async fn the_change_and_its_preview_send_stripe_the_parameters_of_its_api_reference(backend: Backend) {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let double = MockServer::start().await;
    let base = format!("{}/", double.uri());
    let app = TestApp::spawn_with(
        backend,
        &[
            ("STRIPE_SECRET_KEY", "sk_test_double"),
            ("STRIPE_API_BASE", base.as_str()),
            ("STRIPE_PRICE_PRO", PRICE_PRO),
            ("STRIPE_PRICE_ENTERPRISE", PRICE_ENTERPRISE),
        ],
    )
    .await;
    let owner = app.signup("Doubled").await;
    app.execute_sql(&format!(
        "UPDATE subscriptions SET tier_code = 'PRO', status = 'ACTIVE', stripe_subscription_id = 'sub_mock', \
         stripe_item_id = 'si_mock', stripe_price_id = '{PRICE_PRO}' WHERE company_id = '{}'",
        owner.company_id
    ))
    .await;
    let line = |amount: i64, proration: bool, description: &str| {
        json!({"object": "line_item", "amount": amount, "currency": "usd", "description": description,
            "period": {"start": 1_796_000_000, "end": 1_798_000_000},
            "parent": {"type": "subscription_item_details", "subscription_item_details": {"proration": proration,
                "subscription": "sub_mock", "subscription_item": "si_mock"}}})
    };
    Mock::given(method("POST"))
        .and(path("/v1/invoices/create_preview"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"object": "invoice", "id": "upcoming_in_1",
            "amount_due": 4667, "currency": "usd", "lines": {"object": "list", "data": [
                line(-1933, true, "Unused time on Pro after 3 Dec 2026"),
                line(6600, true, "Remaining time on Enterprise after 3 Dec 2026"),
                line(9900, false, "1 × Enterprise (at $99.00 / month)")]}})))
        .mount(&double)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/subscriptions/sub_mock"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "sub_mock", "object": "subscription",
            "customer": "cus_mock", "status": "active", "pending_update": null,
            "items": {"data": [{"id": "si_mock", "price": {"id": PRICE_ENTERPRISE},
                "current_period_start": 1_796_000_000, "current_period_end": 1_798_000_000}]},
            "latest_invoice": {"id": "in_change", "object": "invoice", "customer": "cus_mock", "status": "paid",
                "billing_reason": "subscription_update", "amount_due": 4667, "amount_paid": 4667, "currency": "usd",
                "created": 1_796_300_000, "hosted_invoice_url": "https://invoice.stripe.com/i/acct_1/in_change"}})))
        .mount(&double)
        .await;

    let shown: Value = preview(&app, &owner, "tier=ENTERPRISE").await.json().await.expect("json");
    let changed = change_plan(
        &app,
        &owner,
        json!({"tier": "ENTERPRISE", "proration_date": shown["proration_date"], "quote": shown["quote"]}),
    )
    .await;

    assert_eq!(shown["amount_due"], 4667, "{shown}");
    assert_eq!(shown["lines"].as_array().map(Vec::len), Some(2), "the renewal line is no proration: {shown}");
    assert_eq!(changed.status(), StatusCode::OK);
    let requests = double.received_requests().await.expect("recorded");
    let fields = |path: &str| -> Vec<(String, String)> {
        let request = requests
            .iter()
            .find(|r| r.url.path() == path && r.method.as_str() == "POST")
            .unwrap_or_else(|| panic!("no POST {path}"));
        serde_urlencoded::from_bytes(&request.body).expect("form")
    };
    let field = |fields: &[(String, String)], name: &str| {
        fields.iter().find(|(key, _)| key == name).map(|(_, value)| value.clone())
    };
    let previewed = fields("/v1/invoices/create_preview");
    assert_eq!(field(&previewed, "subscription").as_deref(), Some("sub_mock"));
    assert_eq!(field(&previewed, "subscription_details[items][0][id]").as_deref(), Some("si_mock"));
    assert_eq!(field(&previewed, "subscription_details[items][0][price]").as_deref(), Some(PRICE_ENTERPRISE));
    assert_eq!(field(&previewed, "subscription_details[proration_behavior]").as_deref(), Some("always_invoice"));
    let quoted = field(&previewed, "subscription_details[proration_date]").expect("a proration date");
    let updated = fields("/v1/subscriptions/sub_mock");
    assert_eq!(field(&updated, "items[0][id]").as_deref(), Some("si_mock"));
    assert_eq!(field(&updated, "items[0][price]").as_deref(), Some(PRICE_ENTERPRISE));
    assert_eq!(field(&updated, "proration_behavior").as_deref(), Some("always_invoice"));
    assert_eq!(field(&updated, "payment_behavior").as_deref(), Some("pending_if_incomplete"));
    assert_eq!(field(&updated, "expand[0]").as_deref(), Some("latest_invoice"));
    assert_eq!(field(&updated, "proration_date"), Some(quoted), "prorated as of the preview");
    let dashboard = billing(&app, &owner).await;
    assert_eq!(dashboard["tier"]["code"], "ENTERPRISE", "{dashboard}");
    assert_eq!(dashboard["recent_invoices"][0]["stripe_invoice_id"], "in_change", "the change's invoice, at once");
}

/// An upgrade waits for its payment; the customer then chooses to stay on PRO (one company) or to cancel
/// (another). Either way the waiting invoice is voided at Stripe: left open, Stripe's retries (or a late
/// payment on its page) would still charge for the upgrade, and apply it.
async fn staying_on_the_plan_or_cancelling_gives_up_an_upgrade_that_waits_for_payment(backend: Backend) {
    let app = TestApp::spawn_with_stripe(backend).await;
    let (staying, cancelling) = (on_pro(&app).await, on_pro(&app).await);
    for company in [&staying, &cancelling] {
        localstripe().switch_card(&company.customer, DECLINED_CARD).await;
        let waiting = change_plan(&app, &company.owner, json!({"tier": "ENTERPRISE"})).await;
        assert_eq!(waiting.status(), StatusCode::PAYMENT_REQUIRED);
    }
    let waiting = [latest_invoice(&staying.subscription).await, latest_invoice(&cancelling.subscription).await];

    let stayed = change_plan(&app, &staying.owner, json!({"tier": "PRO"})).await;
    let cancelled = app.post("/api/v1/billing/subscription/cancel", &cancelling.owner.access_token, json!({})).await;

    assert_eq!((stayed.status(), cancelled.status()), (StatusCode::OK, StatusCode::OK));
    for (company, invoice) in [&staying, &cancelling].into_iter().zip(&waiting) {
        let id = invoice["id"].as_str().expect("invoice id");
        let now = localstripe().get(&format!("/invoices/{id}")).await;
        assert_eq!(now["status"], "void", "the waiting invoice can no longer be paid: {now}");
        let at_stripe = localstripe().get(&format!("/subscriptions/{}", company.subscription)).await;
        assert_eq!(at_stripe["pending_update"], Value::Null, "the upgrade is given up: {at_stripe}");
        assert_eq!(at_stripe["items"]["data"][0]["plan"]["id"], PRICE_PRO);
        let dashboard = billing(&app, &company.owner).await;
        assert_eq!(dashboard["tier"]["code"], "PRO", "{dashboard}");
        let listed: Value =
            app.get("/api/v1/billing/invoices", &company.owner.access_token).await.json().await.expect("json");
        let mirrored = listed["data"].as_array().expect("invoices").iter().find(|i| i["stripe_invoice_id"] == id);
        assert_eq!(mirrored.map(|i| i["status"].clone()), Some(json!("VOID")), "nothing left to pay: {listed}");
    }
    let trail: Value = app
        .get("/api/v1/audit-logs?action=billing.plan_change_abandoned", &staying.owner.access_token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(trail["data"][0]["details"]["abandoned"], "ENTERPRISE", "{trail}");
}

/// A change prorated as of a moment the client picks would be a lever: with immediate downgrades, a date
/// an hour back credits an hour more of the higher plan. The server takes a `proration_date` only with the
/// `quote` it signed for it in the preview, for that company, subscription and tier.
async fn a_proration_date_is_taken_only_with_the_quote_of_its_preview(backend: Backend) {
    let app = crate::downgrades::spawn_downgrading_at_once(backend).await;
    let company = on_pro(&app).await;
    let shown: Value = preview(&app, &company.owner, "tier=ENTERPRISE").await.json().await.expect("json");
    let earlier = (chrono::Utc::now() - chrono::Duration::minutes(50)).to_rfc3339();

    let unquoted = change_plan(&app, &company.owner, json!({"tier": "ENTERPRISE", "proration_date": earlier})).await;
    let moved = change_plan(
        &app,
        &company.owner,
        json!({"tier": "ENTERPRISE", "proration_date": earlier, "quote": shown["quote"]}),
    )
    .await;
    let forged = change_plan(
        &app,
        &company.owner,
        json!({"tier": "ENTERPRISE", "proration_date": shown["proration_date"],
            "quote": "00".repeat(32)}),
    )
    .await;

    for refused in [unquoted, moved, forged] {
        let body = problem(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(body["errors"]["quote"].is_array(), "{body}");
    }
    assert_eq!(billing(&app, &company.owner).await["tier"]["code"], "PRO", "nothing changed");
    let quoted = change_plan(
        &app,
        &company.owner,
        json!({"tier": "ENTERPRISE", "proration_date": shown["proration_date"], "quote": shown["quote"]}),
    )
    .await;
    assert_eq!(quoted.status(), StatusCode::OK);
    let invoice = latest_invoice(&company.subscription).await;
    assert_eq!(invoice["amount_paid"], shown["amount_due"], "invoiced what the quote showed");
}
