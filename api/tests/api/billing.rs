//! Billing: the mirror kept true against localstripe (customers, subscriptions, invoices, plan changes,
//! cancellation, resync), Checkout and portal sessions against an HTTP double that checks Stripe's request
//! shapes, Stripe failures, limits after downgrades and cancellations, roles, and the no-keys mode.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{Backend, Session, TestApp, backend_tests, problem};
use crate::stripe_fake::{GOOD_CARD, PRICE_ENTERPRISE, PRICE_PRO, localstripe};

backend_tests!(
    a_company_starts_on_free_and_sees_its_usage_against_the_limits,
    the_dashboard_shows_the_five_newest_invoices,
    without_stripe_keys_billing_changes_answer_503_naming_the_variables,
    resync_links_the_customer_and_mirrors_subscription_and_invoices,
    a_plan_change_prorates_at_stripe_and_updates_the_mirror,
    cancel_and_resume_switch_auto_renewal_at_stripe,
    when_a_cancellation_takes_effect_free_limits_apply,
    a_downgrade_that_usage_exceeds_is_refused_and_changes_nothing,
    after_a_downgrade_the_lower_limits_apply,
    checkout_is_refused_while_a_paid_subscription_is_live,
    the_billing_email_and_tax_id_are_synced_to_stripe,
    only_owners_and_admins_change_billing,
    past_due_keeps_the_tier_for_the_grace_period_then_free_applies,
    checkout_sends_stripe_the_fields_its_api_requires,
    the_portal_session_returns_to_the_billing_settings,
    no_client_input_steers_where_stripe_sends_the_browser_back,
    a_declined_card_is_a_402_with_stripes_message,
    stripe_down_is_a_503_and_nothing_changes,
    a_transient_stripe_failure_is_retried_with_the_same_idempotency_key,
    invoices_filter_by_status_with_totals_over_the_filter,
    the_first_billing_action_creates_the_stripe_customer_once,
);

fn checkout(tier: &str) -> Value {
    json!({"tier": tier})
}

/// A company whose owner paid for `price` at Stripe, mirrored through a resync.
async fn paid_company(app: &TestApp, price: &str) -> (Session, String) {
    let owner = app.signup("Paying Co").await;
    let stripe = localstripe();
    let customer = stripe.customer_with_card(&owner.email, &owner.company_id, GOOD_CARD).await;
    let subscription = stripe.subscribe(&customer, price).await;
    app.resync(&owner.company_id).await;
    (owner, subscription["id"].as_str().expect("subscription id").to_owned())
}

async fn billing(app: &TestApp, session: &Session) -> Value {
    app.get("/api/v1/billing", &session.access_token).await.json().await.expect("json")
}

/// Adds `count` active employees directly, to reach a plan's limits quickly.
async fn add_employees_directly(app: &TestApp, company_id: &str, count: usize) {
    for n in 0..count {
        app.execute_sql(&format!(
            "INSERT INTO employees (id, company_id, email, name, status, created_at, updated_at) VALUES \
             ('{}', '{company_id}', 'bulk{n}@example.test', 'Bulk {n}', 'ACTIVE', '2026-11-01 00:00:00', '2026-11-01 00:00:00')",
            uuid::Uuid::now_v7()
        ))
        .await;
    }
}

async fn a_company_starts_on_free_and_sees_its_usage_against_the_limits(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    app.add_employee(&owner, "a@acme.test").await;
    app.add_employee(&owner, "b@acme.test").await;
    app.add_agent(&owner, None).await;

    let dashboard = billing(&app, &owner).await;
    let tiers: Value = app.request(Method::GET, "/api/v1/tiers", None, None).await.json().await.expect("json");

    assert_eq!(dashboard["tier"]["code"], "FREE");
    assert_eq!(dashboard["subscription"]["status"], "ACTIVE");
    assert_eq!(dashboard["usage"]["active_employees"], json!({"used": 2, "limit": 5, "percent": 40}));
    assert_eq!(dashboard["usage"]["agents"], json!({"used": 1, "limit": 5, "percent": 20}));
    assert_eq!(dashboard["price_minor"], 0);
    assert_eq!(dashboard["billing_configured"], false);
    assert_eq!(dashboard["recent_invoices"], json!([]));
    let codes: Vec<&str> = tiers.as_array().expect("tiers").iter().filter_map(|t| t["code"].as_str()).collect();
    assert_eq!(codes, ["FREE", "PRO", "ENTERPRISE"]);
    assert_eq!((tiers[1]["monthly_price_minor"].as_i64(), tiers[1]["max_employees"].as_i64()), (Some(2900), Some(50)));
    assert_eq!(tiers[2]["max_employees"], Value::Null, "Enterprise is unlimited");
}

async fn the_dashboard_shows_the_five_newest_invoices(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    let rows: Vec<String> = (1..=7)
        .map(|day| {
            format!(
                "('inv-{day}', '{}', 'in_{day}', 'PAID', 2900, 2900, 'usd', '2026-01-0{day} 00:00:00', 0, \
                 '2026-01-0{day} 00:00:00', '2026-01-0{day} 00:00:00')",
                owner.company_id
            )
        })
        .collect();
    app.execute_sql(&format!(
        "INSERT INTO invoices (id, company_id, stripe_invoice_id, status, amount_due, amount_paid, currency, \
         issued_at, stripe_updated_at, created_at, updated_at) VALUES {}",
        rows.join(", ")
    ))
    .await;

    let dashboard = billing(&app, &owner).await;

    let shown: Vec<&str> = dashboard["recent_invoices"]
        .as_array()
        .expect("recent_invoices")
        .iter()
        .filter_map(|invoice| invoice["stripe_invoice_id"].as_str())
        .collect();
    assert_eq!(shown, ["in_7", "in_6", "in_5", "in_4", "in_3"]);
}

async fn without_stripe_keys_billing_changes_answer_503_naming_the_variables(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;

    for (verb, path, body) in [
        (Method::POST, "/api/v1/billing/checkout-session", Some(checkout("PRO"))),
        (Method::POST, "/api/v1/billing/portal-session", None),
        (Method::PUT, "/api/v1/billing/subscription", Some(checkout("PRO"))),
        (Method::POST, "/api/v1/billing/subscription/cancel", None),
    ] {
        let response = app.request(verb, path, Some(&owner.access_token), body).await;
        let body = problem(response, StatusCode::SERVICE_UNAVAILABLE).await;
        assert_eq!(body["code"], "billing_not_configured", "{path}");
        assert!(body["detail"].as_str().unwrap_or("").contains("STRIPE_SECRET_KEY"), "{body}");
    }
    assert_eq!(app.get("/api/v1/billing", &owner.access_token).await.status(), StatusCode::OK, "FREE still works");
}

async fn resync_links_the_customer_and_mirrors_subscription_and_invoices(backend: Backend) {
    let app = TestApp::spawn_with_stripe(backend).await;

    let (owner, subscription) = paid_company(&app, PRICE_PRO).await;

    let dashboard = billing(&app, &owner).await;
    assert_eq!(
        (dashboard["tier"]["code"].as_str(), dashboard["subscription"]["status"].as_str()),
        (Some("PRO"), Some("ACTIVE"))
    );
    assert_eq!(dashboard["subscription"]["stripe_subscription_id"], subscription.as_str());
    assert_eq!(dashboard["price_minor"], 2900);
    assert!(dashboard["renews_at"].is_string(), "{dashboard}");
    assert_eq!(dashboard["usage"]["active_employees"]["limit"], 50);
    let invoices: Value = app.get("/api/v1/billing/invoices", &owner.access_token).await.json().await.expect("json");
    assert_eq!(invoices["data"][0]["status"], "PAID");
    assert_eq!(invoices["data"][0]["amount_paid"], 2900);
    assert_eq!(invoices["summary"]["paid"], 2900);
    let invoice_id = invoices["data"][0]["id"].as_str().expect("id");
    let one: Value = app
        .get(&format!("/api/v1/billing/invoices/{invoice_id}"), &owner.access_token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(one["stripe_invoice_id"], invoices["data"][0]["stripe_invoice_id"]);
    let audit: Value = app
        .get("/api/v1/audit-logs?action=billing.resync_repaired", &owner.access_token)
        .await
        .json()
        .await
        .expect("json");
    assert!(audit["total"].as_i64().unwrap_or(0) >= 3, "link, subscription and invoice repairs: {audit}");
    assert_eq!(audit["data"][0]["actor_type"], "system");
    assert!(app.resync(&owner.company_id).await.repairs.is_empty(), "a second resync finds nothing to repair");
}

async fn a_plan_change_prorates_at_stripe_and_updates_the_mirror(backend: Backend) {
    let app = TestApp::spawn_with_stripe(backend).await;
    let (owner, subscription) = paid_company(&app, PRICE_PRO).await;

    let response = app
        .request(Method::PUT, "/api/v1/billing/subscription", Some(&owner.access_token), Some(checkout("ENTERPRISE")))
        .await;

    assert_eq!(response.status(), StatusCode::OK);
    let changed: Value = response.json().await.expect("json");
    assert_eq!(
        (changed["tier"].as_str(), changed["effective_tier"].as_str()),
        (Some("ENTERPRISE"), Some("ENTERPRISE"))
    );
    let at_stripe = localstripe().get(&format!("/subscriptions/{subscription}")).await;
    assert_eq!(at_stripe["items"]["data"][0]["plan"]["id"], PRICE_ENTERPRISE);
    assert_eq!(billing(&app, &owner).await["usage"]["active_employees"]["limit"], Value::Null);
    let audit: Value = app
        .get("/api/v1/audit-logs?action=billing.plan_changed", &owner.access_token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(audit["data"][0]["details"], json!({"from": "PRO", "to": "ENTERPRISE"}));
}

async fn cancel_and_resume_switch_auto_renewal_at_stripe(backend: Backend) {
    let app = TestApp::spawn_with_stripe(backend).await;
    let (owner, subscription) = paid_company(&app, PRICE_PRO).await;

    let cancelled: Value = app
        .post("/api/v1/billing/subscription/cancel", &owner.access_token, json!({}))
        .await
        .json()
        .await
        .expect("json");
    let at_stripe = localstripe().get(&format!("/subscriptions/{subscription}")).await;
    let dashboard = billing(&app, &owner).await;

    assert_eq!((cancelled["auto_renew"].as_bool(), cancelled["status"].as_str()), (Some(false), Some("ACTIVE")));
    assert_eq!(at_stripe["cancel_at_period_end"], true);
    assert!(dashboard["ends_at"].is_string() && dashboard["renews_at"].is_null(), "{dashboard}");
    assert_eq!(dashboard["tier"]["code"], "PRO", "the tier holds until the period ends");
    let resumed: Value = app
        .post("/api/v1/billing/subscription/resume", &owner.access_token, json!({}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(resumed["auto_renew"], true);
    assert_eq!(localstripe().get(&format!("/subscriptions/{subscription}")).await["cancel_at_period_end"], false);
    let off: Value = app
        .patch("/api/v1/billing/settings", &owner.access_token, json!({"auto_renewal": false}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(off["subscription"]["auto_renew"], false);
}

async fn when_a_cancellation_takes_effect_free_limits_apply(backend: Backend) {
    let app = TestApp::spawn_with_stripe(backend).await;
    let (owner, subscription) = paid_company(&app, PRICE_PRO).await;
    for n in 0..6 {
        app.add_employee(&owner, &format!("e{n}@paying.test")).await;
    }

    localstripe().end_subscription(&subscription).await;
    app.resync(&owner.company_id).await;

    let dashboard = billing(&app, &owner).await;
    assert_eq!(
        (dashboard["subscription"]["status"].as_str(), dashboard["tier"]["code"].as_str()),
        (Some("CANCELLED"), Some("FREE"))
    );
    assert_eq!(dashboard["usage"]["active_employees"]["percent"], 120);
    let refused = app
        .post("/api/v1/employees", &owner.access_token, json!({"email": "seventh@paying.test", "name": "Seven"}))
        .await;
    let body = problem(refused, StatusCode::FORBIDDEN).await;
    assert_eq!(
        (body["plan_limit"]["tier"].as_str(), body["plan_limit"]["current_usage"].as_i64()),
        (Some("FREE"), Some(6))
    );
    let again = app.post("/api/v1/billing/checkout-session", &owner.access_token, checkout("PRO")).await;
    assert_ne!(again.status(), StatusCode::CONFLICT, "a cancelled company may subscribe again");
}

async fn a_downgrade_that_usage_exceeds_is_refused_and_changes_nothing(backend: Backend) {
    let app = TestApp::spawn_with_stripe(backend).await;
    let (owner, subscription) = paid_company(&app, PRICE_ENTERPRISE).await;
    add_employees_directly(&app, &owner.company_id, 51).await;

    let refused = app
        .request(Method::PUT, "/api/v1/billing/subscription", Some(&owner.access_token), Some(checkout("PRO")))
        .await;

    let body = problem(refused, StatusCode::CONFLICT).await;
    assert_eq!(body["code"], "downgrade_exceeds_limits");
    assert!(
        body["detail"].as_str().unwrap_or("").contains("51 active employees (the Pro plan allows 50 active employees)"),
        "{body}"
    );
    let at_stripe = localstripe().get(&format!("/subscriptions/{subscription}")).await;
    assert_eq!(at_stripe["items"]["data"][0]["plan"]["id"], PRICE_ENTERPRISE);
    assert_eq!(billing(&app, &owner).await["tier"]["code"], "ENTERPRISE");
}

async fn after_a_downgrade_the_lower_limits_apply(backend: Backend) {
    let app = crate::downgrades::spawn_downgrading_at_once(backend).await;
    let (owner, _) = paid_company(&app, PRICE_ENTERPRISE).await;
    add_employees_directly(&app, &owner.company_id, 50).await;

    let downgraded = app
        .request(Method::PUT, "/api/v1/billing/subscription", Some(&owner.access_token), Some(checkout("PRO")))
        .await;
    let refused = app
        .post("/api/v1/employees", &owner.access_token, json!({"email": "fiftyfirst@paying.test", "name": "51"}))
        .await;

    assert_eq!(downgraded.status(), StatusCode::OK);
    let body = problem(refused, StatusCode::FORBIDDEN).await;
    assert_eq!(
        body["plan_limit"],
        json!({"limit": "max_employees", "max": 50, "current_usage": 50, "tier": "PRO", "upgrade_tier": "ENTERPRISE"})
    );
}

async fn checkout_is_refused_while_a_paid_subscription_is_live(backend: Backend) {
    let app = TestApp::spawn_with_stripe(backend).await;
    let (owner, _) = paid_company(&app, PRICE_PRO).await;

    let refused = app.post("/api/v1/billing/checkout-session", &owner.access_token, checkout("ENTERPRISE")).await;
    let free = app.post("/api/v1/billing/checkout-session", &owner.access_token, checkout("FREE")).await;

    assert_eq!(problem(refused, StatusCode::CONFLICT).await["code"], "subscription_exists");
    assert_eq!(
        problem(free, StatusCode::UNPROCESSABLE_ENTITY).await["errors"]["tier"],
        json!(["choose a paid tier: PRO or ENTERPRISE"])
    );
}

async fn the_billing_email_and_tax_id_are_synced_to_stripe(backend: Backend) {
    let app = TestApp::spawn_with_stripe(backend).await;
    let (owner, _) = paid_company(&app, PRICE_PRO).await;
    let settings = app
        .patch("/api/v1/billing/settings", &owner.access_token, json!({"billing_email": "Billing@Paying.test"}))
        .await;
    let tax = app
        .request(
            Method::PUT,
            "/api/v1/billing/tax-id",
            Some(&owner.access_token),
            Some(json!({"type": "eu_vat", "value": "DE123456789"})),
        )
        .await;

    assert_eq!(settings.status(), StatusCode::OK);
    assert_eq!(tax.status(), StatusCode::OK);
    let dashboard = billing(&app, &owner).await;
    assert_eq!(dashboard["billing_email"], "billing@paying.test");
    assert_eq!(dashboard["tax_id"], json!({"type": "eu_vat", "value": "DE123456789"}));
    let customer_id = app
        .execute_sql_text(&format!(
            "SELECT stripe_customer_id AS value FROM companies WHERE id = '{}'",
            owner.company_id
        ))
        .await;
    let at_stripe = localstripe().get(&format!("/customers/{customer_id}")).await;
    assert_eq!(at_stripe["email"], "billing@paying.test");
    let tax_ids = localstripe().get(&format!("/customers/{customer_id}/tax_ids")).await;
    assert_eq!(tax_ids["data"][0]["value"], "DE123456789");
    assert_eq!(app.delete("/api/v1/billing/tax-id", &owner.access_token).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(billing(&app, &owner).await["tax_id"], Value::Null);
    assert_eq!(localstripe().get(&format!("/customers/{customer_id}/tax_ids")).await["data"], json!([]));
}

async fn only_owners_and_admins_change_billing(backend: Backend) {
    let app = TestApp::spawn_with_stripe(backend).await;
    let owner = app.signup("Acme").await;
    let manager = app.add_user(&owner, "MANAGER").await;
    let (_, read_key) = app.api_key(&owner, "read").await;
    let (_, write_key) = app.api_key(&owner, "read_write").await;

    for token in [manager.access_token.as_str(), write_key.as_str()] {
        let response = app.post("/api/v1/billing/checkout-session", token, checkout("PRO")).await;
        assert_eq!(problem(response, StatusCode::FORBIDDEN).await["code"], "forbidden");
        assert_eq!(
            app.post("/api/v1/billing/subscription/cancel", token, json!({})).await.status(),
            StatusCode::FORBIDDEN
        );
    }
    assert_eq!(app.get("/api/v1/billing", &manager.access_token).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.get("/api/v1/billing/subscription", &read_key).await.status(),
        StatusCode::OK,
        "integrators read the mirror"
    );
}

async fn past_due_keeps_the_tier_for_the_grace_period_then_free_applies(backend: Backend) {
    let app = TestApp::spawn_with_stripe(backend).await;
    let (owner, _) = paid_company(&app, PRICE_PRO).await;
    add_employees_directly(&app, &owner.company_id, 5).await;
    let in_days =
        |days: i64| (chrono::Utc::now() + chrono::Duration::days(days)).format("%Y-%m-%d %H:%M:%S").to_string();
    app.execute_sql(&format!(
        "UPDATE subscriptions SET status = 'PAST_DUE', grace_period_ends_at = '{}' WHERE company_id = '{}'",
        in_days(3),
        owner.company_id
    ))
    .await;

    let during = billing(&app, &owner).await;
    let allowed =
        app.post("/api/v1/employees", &owner.access_token, json!({"email": "sixth@paying.test", "name": "Six"})).await;
    app.execute_sql(&format!(
        "UPDATE subscriptions SET grace_period_ends_at = '{}' WHERE company_id = '{}'",
        in_days(-1),
        owner.company_id
    ))
    .await;
    let after = billing(&app, &owner).await;
    let refused = app
        .post("/api/v1/employees", &owner.access_token, json!({"email": "seventh@paying.test", "name": "Seven"}))
        .await;

    assert_eq!(
        (during["tier"]["code"].as_str(), during["subscription"]["status"].as_str()),
        (Some("PRO"), Some("PAST_DUE"))
    );
    assert_eq!(during["grace_period"]["days_left"], 2, "{during}");
    assert_eq!(allowed.status(), StatusCode::CREATED);
    assert_eq!(after["tier"]["code"], "FREE");
    assert_eq!(problem(refused, StatusCode::FORBIDDEN).await["plan_limit"]["tier"], "FREE");
}

/// A server whose Stripe is a wiremock double; `company` is linked to the customer `cus_mock`.
async fn with_stripe_double(backend: Backend) -> (TestApp, MockServer, Session) {
    let double = MockServer::start().await;
    let base = format!("{}/", double.uri());
    let app = TestApp::spawn_with(
        backend,
        &[
            ("STRIPE_SECRET_KEY", "sk_test_double"),
            ("STRIPE_API_BASE", base.as_str()),
            ("STRIPE_PRICE_PRO", PRICE_PRO),
            ("STRIPE_PRICE_ENTERPRISE", PRICE_ENTERPRISE),
            ("PUBLIC_URL", "https://app.vigil.test"),
        ],
    )
    .await;
    let owner = app.signup("Doubled").await;
    app.execute_sql(&format!("UPDATE companies SET stripe_customer_id = 'cus_mock' WHERE id = '{}'", owner.company_id))
        .await;
    // The customer has no subscription at Stripe yet (Checkout asks before it opens a payment page).
    Mock::given(method("GET"))
        .and(path("/v1/subscriptions"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"object": "list", "data": [], "has_more": false})),
        )
        .mount(&double)
        .await;
    (app, double, owner)
}

fn form(request: &wiremock::Request) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(&request.body).expect("form body")
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
}

async fn checkout_sends_stripe_the_fields_its_api_requires(backend: Backend) {
    let (app, double, owner) = with_stripe_double(backend).await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "cs_test_1", "object": "checkout.session", "url": "https://checkout.stripe.com/c/pay/cs_test_1"})))
        .expect(1)
        .mount(&double)
        .await;

    let response = app.post("/api/v1/billing/checkout-session", &owner.access_token, checkout("PRO")).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.expect("json")["url"], "https://checkout.stripe.com/c/pay/cs_test_1");
    let requests = double.received_requests().await.expect("recorded");
    let sent = requests.iter().find(|r| r.url.path() == "/v1/checkout/sessions").expect("checkout request");
    let fields = form(sent);
    assert_eq!(field(&fields, "mode"), Some("subscription"));
    assert_eq!(field(&fields, "customer"), Some("cus_mock"));
    assert_eq!(field(&fields, "line_items[0][price]"), Some(PRICE_PRO));
    assert_eq!(field(&fields, "line_items[0][quantity]"), Some("1"));
    assert_eq!(field(&fields, "client_reference_id"), Some(owner.company_id.as_str()));
    assert_eq!(field(&fields, "metadata[company_id]"), Some(owner.company_id.as_str()));
    assert_eq!(field(&fields, "subscription_data[metadata][company_id]"), Some(owner.company_id.as_str()));
    assert_eq!(
        field(&fields, "success_url"),
        Some("https://app.vigil.test/billing/success?session_id={CHECKOUT_SESSION_ID}")
    );
    assert_eq!(field(&fields, "cancel_url"), Some("https://app.vigil.test/billing/upgrade?checkout=cancelled"));
    assert!(sent.headers.get("idempotency-key").is_some(), "every change carries an Idempotency-Key");
    assert_eq!(sent.headers.get("authorization").and_then(|v| v.to_str().ok()), Some("Bearer sk_test_double"));
}

async fn the_portal_session_returns_to_the_billing_settings(backend: Backend) {
    let (app, double, owner) = with_stripe_double(backend).await;
    Mock::given(method("POST"))
        .and(path("/v1/billing_portal/sessions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "bps_1", "object": "billing_portal.session", "url": "https://billing.stripe.com/p/session/bps_1"})))
        .expect(1)
        .mount(&double)
        .await;

    let response = app.post("/api/v1/billing/portal-session", &owner.access_token, json!({})).await;

    assert_eq!(response.json::<Value>().await.expect("json")["url"], "https://billing.stripe.com/p/session/bps_1");
    let requests = double.received_requests().await.expect("recorded");
    let fields = form(&requests[0]);
    assert_eq!(field(&fields, "customer"), Some("cus_mock"));
    assert_eq!(field(&fields, "return_url"), Some("https://app.vigil.test/billing/settings"));
}

/// Return URLs come from `PUBLIC_URL` alone: a client's body fields, `Host`, `Origin`, `Referer` or
/// forwarding headers never reach Stripe, so a link cannot send a customer back to another site.
async fn no_client_input_steers_where_stripe_sends_the_browser_back(backend: Backend) {
    let (app, double, owner) = with_stripe_double(backend).await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "cs_test_2", "object": "checkout.session", "url": "https://checkout.stripe.com/c/pay/cs_test_2"})))
        .mount(&double)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/billing_portal/sessions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "bps_2", "object": "billing_portal.session", "url": "https://billing.stripe.com/p/session/bps_2"})))
        .mount(&double)
        .await;
    let hostile = |path: &str, body: Value| {
        app.client
            .post(app.url(path))
            .bearer_auth(&owner.access_token)
            .header("host", "evil.example")
            .header("origin", "https://evil.example")
            .header("referer", "https://evil.example/phish")
            .header("x-forwarded-host", "evil.example")
            .header("x-forwarded-proto", "http")
            .json(&body)
            .send()
    };
    let steering = json!({"success_url": "https://evil.example/s", "cancel_url": "https://evil.example/c",
        "return_url": "https://evil.example/r", "public_url": "https://evil.example"});
    let mut checkout_body = steering.clone();
    checkout_body["tier"] = json!("PRO");

    let checkout = hostile("/api/v1/billing/checkout-session", checkout_body).await.expect("checkout");
    let portal = hostile("/api/v1/billing/portal-session", steering).await.expect("portal");

    assert_eq!(checkout.status(), StatusCode::OK);
    assert_eq!(portal.status(), StatusCode::OK);
    let requests: Vec<wiremock::Request> = double
        .received_requests()
        .await
        .expect("recorded")
        .into_iter()
        .filter(|r| r.method.as_str() == "POST")
        .collect();
    assert_eq!(requests.len(), 2, "one checkout and one portal session");
    for request in &requests {
        let fields = form(request);
        let urls: Vec<&str> =
            fields.iter().filter(|(key, _)| key.ends_with("_url")).map(|(_, value)| value.as_str()).collect();
        assert!(!urls.is_empty(), "{fields:?}");
        for url in urls {
            assert!(url.starts_with("https://app.vigil.test/"), "a return URL left PUBLIC_URL: {url}");
        }
    }
}

/// Puts a live PRO subscription `sub_mock` with item `si_mock` in the mirror of the double's company.
async fn mirror_pro_subscription(app: &TestApp, owner: &Session) {
    app.execute_sql(&format!(
        "UPDATE subscriptions SET tier_code = 'PRO', status = 'ACTIVE', stripe_subscription_id = 'sub_mock', \
         stripe_item_id = 'si_mock', stripe_price_id = '{PRICE_PRO}' WHERE company_id = '{}'",
        owner.company_id
    ))
    .await;
}

async fn a_declined_card_is_a_402_with_stripes_message(backend: Backend) {
    let (app, double, owner) = with_stripe_double(backend).await;
    mirror_pro_subscription(&app, &owner).await;
    Mock::given(method("POST"))
        .and(path("/v1/subscriptions/sub_mock"))
        .respond_with(ResponseTemplate::new(402).set_body_json(
            json!({"error": {"type": "card_error", "code": "card_declined", "message": "Your card was declined."}}),
        ))
        .mount(&double)
        .await;

    let response = app
        .request(Method::PUT, "/api/v1/billing/subscription", Some(&owner.access_token), Some(checkout("ENTERPRISE")))
        .await;

    let body = problem(response, StatusCode::PAYMENT_REQUIRED).await;
    assert_eq!(
        (body["code"].as_str(), body["detail"].as_str()),
        (Some("payment_failed"), Some("Your card was declined."))
    );
    assert_eq!(billing(&app, &owner).await["tier"]["code"], "PRO", "nothing changed locally");
}

async fn stripe_down_is_a_503_and_nothing_changes(backend: Backend) {
    let (app, double, owner) = with_stripe_double(backend).await;
    mirror_pro_subscription(&app, &owner).await;
    Mock::given(method("POST"))
        .and(path("/v1/subscriptions/sub_mock"))
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_json(json!({"error": {"type": "api_error", "message": "Something went wrong"}})),
        )
        .expect(3)
        .mount(&double)
        .await;

    let response = app.post("/api/v1/billing/subscription/cancel", &owner.access_token, json!({})).await;

    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(problem(response, StatusCode::SERVICE_UNAVAILABLE).await["code"], "stripe_unavailable");
    assert_eq!(billing(&app, &owner).await["subscription"]["auto_renew"], true, "nothing changed locally");
    let audit: Value = app
        .get("/api/v1/audit-logs?action=billing.subscription_cancelled", &owner.access_token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(audit["total"], 0);
}

async fn a_transient_stripe_failure_is_retried_with_the_same_idempotency_key(backend: Backend) {
    let (app, double, owner) = with_stripe_double(backend).await;
    mirror_pro_subscription(&app, &owner).await;
    Mock::given(method("POST"))
        .and(path("/v1/subscriptions/sub_mock"))
        .respond_with(ResponseTemplate::new(503).set_body_string("<html>bad gateway</html>"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&double)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/subscriptions/sub_mock"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "sub_mock", "object": "subscription", "customer": "cus_mock",
            "status": "active", "cancel_at_period_end": true, "items": {"data": [{"id": "si_mock", "price": {"id": PRICE_PRO},
            "current_period_start": 1_790_000_000, "current_period_end": 1_792_600_000}]}})))
        .with_priority(2)
        .mount(&double)
        .await;

    let response = app.post("/api/v1/billing/subscription/cancel", &owner.access_token, json!({})).await;

    assert_eq!(response.status(), StatusCode::OK);
    let requests = double.received_requests().await.expect("recorded");
    // (Before it, the subscription is read, for a plan change waiting for payment that a cancellation gives up.)
    let changes: Vec<_> = requests.iter().filter(|r| r.method.as_str() == "POST").collect();
    let keys: Vec<_> = changes.iter().filter_map(|r| r.headers.get("idempotency-key").cloned()).collect();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0], keys[1], "the retry is the same operation");
    let form_fields = form(changes[1]);
    assert_eq!(field(&form_fields, "cancel_at_period_end"), Some("true"));
    let dashboard = billing(&app, &owner).await;
    assert_eq!(dashboard["subscription"]["auto_renew"], false);
    assert_eq!(dashboard["subscription"]["current_period_end"], "2026-10-21T16:26:40Z");
}

async fn invoices_filter_by_status_with_totals_over_the_filter(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signup("Acme").await;
    for (n, (status, due, paid)) in
        [("PAID", 2900, 2900), ("PAID", 2900, 2900), ("OPEN", 2900, 0), ("VOID", 2900, 0), ("UNCOLLECTIBLE", 9900, 0)]
            .iter()
            .enumerate()
    {
        app.execute_sql(&format!(
            "INSERT INTO invoices (id, company_id, stripe_invoice_id, status, amount_due, amount_paid, currency, issued_at, \
             stripe_updated_at, created_at, updated_at) VALUES ('{}', '{}', 'in_{n}_{}', '{status}', {due}, {paid}, 'usd', \
             '2026-1{}-01 00:00:00', 1, '2026-11-01 00:00:00', '2026-11-01 00:00:00')",
            uuid::Uuid::now_v7(),
            owner.company_id,
            uuid::Uuid::new_v4().simple(),
            n % 3
        ))
        .await;
    }

    let all: Value = app.get("/api/v1/billing/invoices", &owner.access_token).await.json().await.expect("json");
    let paid: Value =
        app.get("/api/v1/billing/invoices?status=PAID", &owner.access_token).await.json().await.expect("json");
    let paged: Value =
        app.get("/api/v1/billing/invoices?per_page=2&page=3", &owner.access_token).await.json().await.expect("json");

    assert_eq!((all["total"].as_i64(), all["per_page"].as_i64()), (Some(5), Some(10)), "10 a page by default");
    let by_status = |status: &str, count: i64, due: i64, paid: i64| json!({"status": status, "count": count, "amount_due": due, "amount_paid": paid});
    assert_eq!(
        all["summary"],
        json!({"total": 21500, "paid": 5800, "outstanding": 12800, "currency": "usd", "by_status": [
            by_status("OPEN", 1, 2900, 0), by_status("PAID", 2, 5800, 5800),
            by_status("UNCOLLECTIBLE", 1, 9900, 0), by_status("VOID", 1, 2900, 0)]})
    );
    assert_eq!(
        paid["summary"],
        json!({"total": 5800, "paid": 5800, "outstanding": 0, "currency": "usd",
            "by_status": [by_status("PAID", 2, 5800, 5800)]})
    );
    assert_eq!(paid["data"].as_array().map(Vec::len), Some(2));
    assert_eq!((paged["data"].as_array().map(Vec::len), paged["total"].as_i64()), (Some(1), Some(5)));
}

async fn the_first_billing_action_creates_the_stripe_customer_once(backend: Backend) {
    let app = TestApp::spawn_with_stripe(backend).await;
    let owner = app.signup("Fresh Co").await;
    let tax = |value: &'static str| {
        app.request(
            Method::PUT,
            "/api/v1/billing/tax-id",
            Some(&owner.access_token),
            Some(json!({"type": "eu_vat", "value": value})),
        )
    };

    assert_eq!(tax("DE111111111").await.status(), StatusCode::OK);
    assert_eq!(tax("DE222222222").await.status(), StatusCode::OK);

    let customers = localstripe().get(&format!("/customers?email={}", owner.email)).await;
    let customers = customers["data"].as_array().expect("customers");
    assert_eq!(customers.len(), 1, "one customer per company");
    assert_eq!(customers[0]["metadata"]["company_id"], owner.company_id.as_str());
    assert_eq!(customers[0]["name"], "Fresh Co");
    let tax_ids = localstripe().get(&format!("/customers/{}/tax_ids", customers[0]["id"].as_str().expect("id"))).await;
    let values: Vec<&str> =
        tax_ids["data"].as_array().expect("tax ids").iter().filter_map(|t| t["value"].as_str()).collect();
    assert_eq!(values, ["DE222222222"], "the replaced tax id is deleted at Stripe");
    let audit: Value = app
        .get("/api/v1/audit-logs?action=billing.customer_created", &owner.access_token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(audit["total"], 1);
}
