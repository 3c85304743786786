//! One live subscription per company (one open Checkout at a time; of two live subscriptions the newest is
//! kept and the older cancelled with credit), reads from Stripe versioned by when they were read, and
//! Stripe's `cancel_at`. Stripe is a small stateful double (subscriptions, Checkout sessions) that can hold
//! one read until the test lets it answer, which makes "an event arrives while a read is in flight"
//! deterministic.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::helpers::{Backend, Session, TestApp, backend_tests};
use crate::stripe_fake::{DECLINED_CARD, GOOD_CARD, PRICE_ENTERPRISE, PRICE_PRO, localstripe};

backend_tests!(
    a_second_checkout_for_another_tier_expires_the_open_one_at_stripe,
    a_second_checkout_for_the_same_tier_hands_out_the_open_one,
    of_two_live_subscriptions_the_newest_is_kept_and_the_older_cancelled_with_credit,
    resync_cancels_the_older_of_two_live_subscriptions,
    an_unpaid_duplicate_is_cancelled_without_credit,
    a_checkout_is_refused_while_a_paid_subscription_is_live_at_stripe_but_not_yet_mirrored,
    a_newer_subscription_that_is_not_a_plan_is_neither_mirrored_nor_cancels_the_plan,
    an_event_applied_while_a_resync_reads_stripe_is_not_overwritten_by_the_read,
    an_event_applied_while_a_subscription_is_read_again_is_not_overwritten_by_the_read,
    a_cancellation_date_set_in_the_portal_ends_auto_renewal_and_is_announced,
    cancelling_a_duplicate_leaves_stripe_collecting_the_kept_subscriptions_invoices,
);

const SECRET: &str = "whsec_one_subscription";

/// A read the double holds until the test releases it.
struct Gate {
    path: String,
    arrived: mpsc::Sender<()>,
    release: mpsc::Receiver<()>,
}

#[derive(Default)]
struct State {
    subscriptions: Vec<Value>,
    invoices: Vec<Value>,
    sessions: Vec<Value>,
    gate: Option<Gate>,
}

/// Stripe's subscriptions and Checkout sessions (and the customer's email and tax ids), as far as Vigil uses
/// them.
#[derive(Clone, Default)]
struct FakeStripe {
    state: Arc<Mutex<State>>,
}

fn not_found() -> ResponseTemplate {
    ResponseTemplate::new(404).set_body_json(
        json!({"error": {"type": "invalid_request_error", "code": "resource_missing", "message": "No such object"}}),
    )
}

fn list(data: Vec<Value>) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"object": "list", "data": data, "has_more": false}))
}

fn form(request: &Request) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> =
        request.url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    fields.extend(serde_urlencoded::from_bytes::<Vec<(String, String)>>(&request.body).unwrap_or_default());
    fields
}

impl Respond for FakeStripe {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let path = request.url.path().to_owned();
        let gate = {
            let mut state = self.state.lock().expect("state");
            match &state.gate {
                Some(gate) if gate.path == path && request.method.as_str() == "GET" => state.gate.take(),
                _ => None,
            }
        };
        if let Some(gate) = gate {
            // What Stripe had when the read reached it, answered only once the test says so.
            let answer = self.answer(request, &path);
            gate.arrived.send(()).expect("test waits");
            gate.release.recv().expect("test releases");
            return answer;
        }
        self.answer(request, &path)
    }
}

impl FakeStripe {
    fn answer(&self, request: &Request, path: &str) -> ResponseTemplate {
        let mut state = self.state.lock().expect("state");
        let method = request.method.as_str();
        let segments: Vec<&str> = path.trim_start_matches("/v1/").split('/').collect();
        match (method, segments.as_slice()) {
            ("GET", ["subscriptions"]) => {
                let customer = form(request).into_iter().find(|(k, _)| k == "customer").map(|(_, v)| v);
                list(
                    state
                        .subscriptions
                        .iter()
                        .filter(|s| s["customer"].as_str() == customer.as_deref())
                        .cloned()
                        .collect(),
                )
            }
            ("GET", ["invoices"]) => {
                let customer = form(request).into_iter().find(|(k, _)| k == "customer").map(|(_, v)| v);
                list(state.invoices.iter().filter(|i| i["customer"].as_str() == customer.as_deref()).cloned().collect())
            }
            ("POST", ["invoices", id, "void"]) => match state.invoices.iter_mut().find(|i| i["id"] == *id) {
                Some(found) if found["status"] == "open" => {
                    found["status"] = json!("void");
                    ResponseTemplate::new(200).set_body_json(found.clone())
                }
                Some(_) => ResponseTemplate::new(400).set_body_json(json!({"error": {"type": "invalid_request_error",
                    "message": "You can only pass in open or uncollectible invoices."}})),
                None => not_found(),
            },
            // The customer, as resync brings it to what Vigil stores: its email, and no tax id here.
            ("POST", ["customers", id]) => {
                let email = form(request).into_iter().find(|(k, _)| k == "email").map(|(_, v)| v);
                ResponseTemplate::new(200).set_body_json(json!({"id": id, "object": "customer", "email": email}))
            }
            ("GET", ["customers", _, "tax_ids"]) => list(Vec::new()),
            ("GET", ["customers", id]) => ResponseTemplate::new(200).set_body_json(json!({"id": id,
                "object": "customer", "invoice_settings": {"default_payment_method": null}, "default_source": null})),
            ("GET", ["subscriptions", id]) => match state.subscriptions.iter().find(|s| s["id"] == *id) {
                Some(found) => ResponseTemplate::new(200).set_body_json(found),
                None => not_found(),
            },
            ("DELETE", ["subscriptions", id]) => match state.subscriptions.iter_mut().find(|s| s["id"] == *id) {
                Some(found) => {
                    found["status"] = json!("canceled");
                    found["canceled_at"] = json!(chrono::Utc::now().timestamp());
                    ResponseTemplate::new(200).set_body_json(found.clone())
                }
                None => not_found(),
            },
            ("POST", ["checkout", "sessions"]) => {
                let fields = form(request);
                let price = fields.iter().find(|(k, _)| k == "line_items[0][price]").map(|(_, v)| v.clone());
                let id = format!("cs_test_{}", state.sessions.len() + 1);
                let session = json!({"id": id, "object": "checkout.session", "status": "open", "price": price,
                    "url": format!("https://checkout.stripe.com/c/pay/{id}"),
                    "expires_at": chrono::Utc::now().timestamp() + 86_400});
                state.sessions.push(session.clone());
                ResponseTemplate::new(200).set_body_json(session)
            }
            ("POST", ["checkout", "sessions", id, "expire"]) => {
                match state.sessions.iter_mut().find(|s| s["id"] == *id) {
                    Some(found) if found["status"] == "open" => {
                        found["status"] = json!("expired");
                        ResponseTemplate::new(200).set_body_json(found.clone())
                    }
                    Some(_) => ResponseTemplate::new(400)
                        .set_body_json(json!({"error": {"type": "invalid_request_error",
                        "message": "Only Checkout Sessions with a status of `open` can be expired."}})),
                    None => not_found(),
                }
            }
            _ => not_found(),
        }
    }

    fn add_subscription(&self, subscription: Value) {
        self.state.lock().expect("state").subscriptions.push(subscription);
    }

    fn add_invoice(&self, invoice: Value) {
        self.state.lock().expect("state").invoices.push(invoice);
    }

    fn invoice_status(&self, id: &str) -> Option<String> {
        let state = self.state.lock().expect("state");
        state.invoices.iter().find(|i| i["id"] == id).and_then(|i| i["status"].as_str().map(str::to_owned))
    }

    fn session_statuses(&self) -> Vec<(String, String)> {
        let state = self.state.lock().expect("state");
        state
            .sessions
            .iter()
            .map(|s| (s["price"].as_str().unwrap_or("").to_owned(), s["status"].as_str().unwrap_or("").to_owned()))
            .collect()
    }

    /// Holds the next GET of `path`; returns (arrived, release).
    fn hold(&self, path: &str) -> (mpsc::Receiver<()>, mpsc::Sender<()>) {
        let (arrived_tx, arrived_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel();
        self.state.lock().expect("state").gate =
            Some(Gate { path: path.to_owned(), arrived: arrived_tx, release: release_rx });
        (arrived_rx, release_tx)
    }
}

async fn with_fake_stripe(backend: Backend) -> (TestApp, MockServer, FakeStripe) {
    let double = MockServer::start().await;
    let fake = FakeStripe::default();
    Mock::given(any()).respond_with(fake.clone()).mount(&double).await;
    let base = format!("{}/", double.uri());
    let app = TestApp::spawn_with(
        backend,
        &[
            ("STRIPE_SECRET_KEY", "sk_test_double"),
            ("STRIPE_API_BASE", base.as_str()),
            ("STRIPE_PRICE_PRO", PRICE_PRO),
            ("STRIPE_PRICE_ENTERPRISE", PRICE_ENTERPRISE),
            ("STRIPE_WEBHOOK_SECRET", SECRET),
            ("PUBLIC_URL", "https://app.vigil.test"),
        ],
    )
    .await;
    (app, double, fake)
}

/// A company linked to a Stripe customer of its own; returns the owner and the customer.
async fn company(app: &TestApp, name: &str) -> (Session, String) {
    let owner = app.signup(name).await;
    let customer = unique("cus");
    app.execute_sql(&format!(
        "UPDATE companies SET stripe_customer_id = '{customer}' WHERE id = '{}'",
        owner.company_id
    ))
    .await;
    (owner, customer)
}

fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

fn subscription(id: &str, customer: &str, price: &str, status: &str, created: i64) -> Value {
    json!({"id": id, "object": "subscription", "customer": customer, "status": status, "cancel_at_period_end": false,
        "cancel_at": null, "created": created, "current_period_start": created, "current_period_end": created + 2_592_000,
        "items": {"object": "list", "data": [{"id": format!("si_{id}"), "price": {"id": price}}]}})
}

async fn deliver(app: &TestApp, kind: &str, created: i64, object: &Value) -> String {
    let event = json!({"id": unique("evt"), "object": "event", "type": kind, "api_version": "2024-06-20",
        "created": created, "data": {"object": object}});
    let body = event.to_string();
    let header = vigil::stripe::signature::sign(body.as_bytes(), SECRET, chrono::Utc::now().timestamp());
    let response = app
        .client
        .post(app.url("/api/v1/stripe/webhook"))
        .header("content-type", "application/json")
        .header("stripe-signature", header)
        .body(body)
        .send()
        .await
        .expect("delivery");
    assert_eq!(response.status(), StatusCode::OK, "delivery of {kind}");
    response.json::<Value>().await.expect("json")["outcome"].as_str().unwrap_or_default().to_owned()
}

async fn billing(app: &TestApp, owner: &Session) -> Value {
    app.get("/api/v1/billing", &owner.access_token).await.json().await.expect("json")
}

async fn listed(app: &TestApp, owner: &Session, path: &str) -> Value {
    app.get(path, &owner.access_token).await.json().await.expect("json")
}

async fn checkout(app: &TestApp, owner: &Session, tier: &str) -> Value {
    let response = app.post("/api/v1/billing/checkout-session", &owner.access_token, json!({"tier": tier})).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

async fn a_second_checkout_for_another_tier_expires_the_open_one_at_stripe(backend: Backend) {
    let (app, _double, fake) = with_fake_stripe(backend).await;
    let (owner, _) = company(&app, "Two Tabs Co").await;

    let pro = checkout(&app, &owner, "PRO").await;
    let enterprise = checkout(&app, &owner, "ENTERPRISE").await;

    assert_ne!(pro["url"], enterprise["url"]);
    assert_eq!(
        fake.session_statuses(),
        [(PRICE_PRO.to_owned(), "expired".to_owned()), (PRICE_ENTERPRISE.to_owned(), "open".to_owned())],
        "only the newest Checkout can still be paid"
    );
}

async fn a_second_checkout_for_the_same_tier_hands_out_the_open_one(backend: Backend) {
    let (app, _double, fake) = with_fake_stripe(backend).await;
    let (owner, _) = company(&app, "Double Click Co").await;

    let first = checkout(&app, &owner, "PRO").await;
    let second = checkout(&app, &owner, "PRO").await;

    assert_eq!(first["url"], second["url"]);
    assert_eq!(fake.session_statuses(), [(PRICE_PRO.to_owned(), "open".to_owned())], "one session at Stripe");
}

fn deletes_of(requests: &[Request], subscription: &str) -> Vec<Vec<(String, String)>> {
    requests
        .iter()
        .filter(|r| r.method.as_str() == "DELETE" && r.url.path() == format!("/v1/subscriptions/{subscription}"))
        .map(form)
        .collect()
}

fn has(fields: &[(String, String)], name: &str, value: &str) -> bool {
    fields.iter().any(|(k, v)| k == name && v == value)
}

/// Two Checkouts completed: PRO first, ENTERPRISE a minute later. Whichever order their events arrive in,
/// the newest is kept, the older is cancelled at Stripe with credit, once, and its later news changes nothing.
async fn of_two_live_subscriptions_the_newest_is_kept_and_the_older_cancelled_with_credit(backend: Backend) {
    let (app, double, fake) = with_fake_stripe(backend).await;
    for newest_first in [false, true] {
        let (owner, customer) = company(&app, "Twice Paid Co").await;
        let (older, newer) = (unique("sub"), unique("sub"));
        let older_sub = subscription(&older, &customer, PRICE_PRO, "active", 1_790_000_000);
        let newer_sub = subscription(&newer, &customer, PRICE_ENTERPRISE, "active", 1_790_000_060);
        fake.add_subscription(older_sub.clone());
        fake.add_subscription(newer_sub.clone());
        let mut arrivals = [(&older_sub, 1_790_000_100), (&newer_sub, 1_790_000_200)];
        if newest_first {
            arrivals.reverse();
        }

        for (object, at) in arrivals {
            deliver(&app, "customer.subscription.created", at, object).await;
        }
        let kept = billing(&app, &owner).await;
        let mut late = older_sub.clone();
        late["metadata"] = json!({"note": "changed in the Dashboard"});
        deliver(&app, "customer.subscription.updated", 1_790_000_300, &late).await;
        let mut ended = older_sub.clone();
        ended["status"] = json!("canceled");
        deliver(&app, "customer.subscription.deleted", 1_790_000_400, &ended).await;

        let order = if newest_first { "newest first" } else { "oldest first" };
        let requests = double.received_requests().await.expect("recorded");
        let deletes = deletes_of(&requests, &older);
        assert_eq!(deletes.len(), 1, "{order}: the older subscription is cancelled once");
        assert!(has(&deletes[0], "prorate", "true") && has(&deletes[0], "invoice_now", "true"), "{order}: {deletes:?}");
        assert!(deletes_of(&requests, &newer).is_empty(), "{order}: the newest is kept");
        let after = billing(&app, &owner).await;
        for dashboard in [&kept, &after] {
            assert_eq!(
                (
                    dashboard["tier"]["code"].as_str(),
                    dashboard["subscription"]["status"].as_str(),
                    dashboard["subscription"]["stripe_subscription_id"].as_str()
                ),
                (Some("ENTERPRISE"), Some("ACTIVE"), Some(newer.as_str())),
                "{order}: {dashboard}"
            );
        }
        let alerts = listed(&app, &owner, "/api/v1/alerts?type=DUPLICATE_SUBSCRIPTION_CANCELLED").await;
        assert_eq!(alerts["total"], 1, "{order}: {alerts}");
        assert_eq!(alerts["data"][0]["related_data"]["cancelled_subscription_id"], older.as_str());
        assert_eq!(alerts["data"][0]["related_data"]["kept_subscription_id"], newer.as_str());
        let audit = listed(&app, &owner, "/api/v1/audit-logs?action=billing.duplicate_subscription_cancelled").await;
        assert_eq!(audit["total"], 1, "{order}: {audit}");
    }
}

/// The first tab's Checkout completed, but its events have not arrived (or their processing failed): the
/// mirror still says FREE. A second Checkout would bill twice; Stripe is asked, and it is refused.
async fn a_checkout_is_refused_while_a_paid_subscription_is_live_at_stripe_but_not_yet_mirrored(backend: Backend) {
    let (app, _double, fake) = with_fake_stripe(backend).await;
    let (owner, customer) = company(&app, "Quick Tabs Co").await;
    fake.add_subscription(subscription(&unique("sub"), &customer, PRICE_PRO, "active", 1_790_000_000));

    let response =
        app.post("/api/v1/billing/checkout-session", &owner.access_token, json!({"tier": "ENTERPRISE"})).await;

    let body = crate::helpers::problem(response, StatusCode::CONFLICT).await;
    assert_eq!(body["code"], "subscription_exists", "{body}");
    assert!(fake.session_statuses().is_empty(), "no second payment page was opened");
    let dashboard = billing(&app, &owner).await;
    assert_eq!(dashboard["subscription"]["tier"], "PRO", "the plan is mirrored, so changing it works: {dashboard}");
}

/// The older of two subscriptions whose payment failed (PAST_DUE) was never paid for its period: it is
/// cancelled at once without crediting the unused time, which would hand the customer money never paid, and
/// its open invoice is voided.
async fn an_unpaid_duplicate_is_cancelled_without_credit(backend: Backend) {
    let (app, double, fake) = with_fake_stripe(backend).await;
    let (owner, customer) = company(&app, "Unpaid Twice Co").await;
    let (older, newer) = (unique("sub"), unique("sub"));
    let older_sub = subscription(&older, &customer, PRICE_PRO, "past_due", 1_790_000_000);
    let newer_sub = subscription(&newer, &customer, PRICE_ENTERPRISE, "active", 1_790_000_060);
    fake.add_subscription(older_sub.clone());
    fake.add_subscription(newer_sub.clone());
    let unpaid = unique("in");
    fake.add_invoice(json!({"id": unpaid, "object": "invoice", "customer": customer, "subscription": older,
        "status": "open", "amount_due": 2900, "amount_paid": 0, "currency": "usd", "created": 1_790_000_000}));

    deliver(&app, "customer.subscription.created", 1_790_000_100, &older_sub).await;
    deliver(&app, "customer.subscription.created", 1_790_000_200, &newer_sub).await;

    assert_eq!(
        fake.invoice_status(&unpaid).as_deref(),
        Some("void"),
        "the duplicate's unpaid invoice is owed no more, and can no longer be paid"
    );

    let requests = double.received_requests().await.expect("recorded");
    let deletes = deletes_of(&requests, &older);
    assert_eq!(deletes.len(), 1, "the unpaid duplicate is cancelled");
    assert!(
        has(&deletes[0], "prorate", "false") && has(&deletes[0], "invoice_now", "false"),
        "with no credit for a period never paid: {deletes:?}"
    );
    let audit = listed(&app, &owner, "/api/v1/audit-logs?action=billing.duplicate_subscription_cancelled").await;
    assert_eq!(audit["data"][0]["details"]["prorated"], false, "{audit}");
}

async fn resync_cancels_the_older_of_two_live_subscriptions(backend: Backend) {
    let (app, double, fake) = with_fake_stripe(backend).await;
    let (owner, customer) = company(&app, "Missed Twice Co").await;
    let (older, newer) = (unique("sub"), unique("sub"));
    // The same second: the id decides, as it does for every instance and every run.
    let (older, newer) = if older < newer { (older, newer) } else { (newer, older) };
    fake.add_subscription(subscription(&older, &customer, PRICE_ENTERPRISE, "active", 1_790_000_000));
    fake.add_subscription(subscription(&newer, &customer, PRICE_PRO, "active", 1_790_000_000));

    let report = app.resync(&owner.company_id).await;

    let requests = double.received_requests().await.expect("recorded");
    assert_eq!(deletes_of(&requests, &older).len(), 1);
    assert!(deletes_of(&requests, &newer).is_empty());
    assert!(
        report.repairs.iter().any(|line| line.contains(&older) && line.contains("duplicate")),
        "{:?}",
        report.repairs
    );
    let dashboard = billing(&app, &owner).await;
    assert_eq!(
        (dashboard["tier"]["code"].as_str(), dashboard["subscription"]["stripe_subscription_id"].as_str()),
        (Some("PRO"), Some(newer.as_str())),
        "{dashboard}"
    );
    let alerts = listed(&app, &owner, "/api/v1/alerts?type=DUPLICATE_SUBSCRIPTION_CANCELLED").await;
    assert_eq!(alerts["total"], 1, "{alerts}");
}

/// Sales adds a support add-on (a price that is none of Vigil's tiers) to a paying customer in the
/// Dashboard. It is newer than the plan, but it is not a plan: the PRO subscription is neither cancelled nor
/// replaced in the mirror, by the webhook or by a resync.
async fn a_newer_subscription_that_is_not_a_plan_is_neither_mirrored_nor_cancels_the_plan(backend: Backend) {
    let (app, double, fake) = with_fake_stripe(backend).await;
    let (owner, customer) = company(&app, "Add-on Co").await;
    let (plan, addon) = (unique("sub"), unique("sub"));
    let plan_sub = subscription(&plan, &customer, PRICE_PRO, "active", 1_790_000_000);
    let addon_sub = subscription(&addon, &customer, "price_premium_support", "active", 1_790_000_060);
    fake.add_subscription(plan_sub.clone());
    fake.add_subscription(addon_sub.clone());

    deliver(&app, "customer.subscription.created", 1_790_000_100, &plan_sub).await;
    deliver(&app, "customer.subscription.created", 1_790_000_200, &addon_sub).await;
    let after_webhook = billing(&app, &owner).await;
    let report = app.resync(&owner.company_id).await;
    let after_resync = billing(&app, &owner).await;

    let requests = double.received_requests().await.expect("recorded");
    assert!(deletes_of(&requests, &plan).is_empty(), "the plan is not cancelled");
    assert!(deletes_of(&requests, &addon).is_empty(), "nor is the add-on");
    for (when, dashboard) in [("after the webhook", &after_webhook), ("after the resync", &after_resync)] {
        assert_eq!(
            (dashboard["tier"]["code"].as_str(), dashboard["subscription"]["stripe_subscription_id"].as_str()),
            (Some("PRO"), Some(plan.as_str())),
            "{when}: {dashboard}"
        );
    }
    assert!(report.repairs.iter().all(|line| !line.contains("duplicate")), "{:?}", report.repairs);
    let alerts = listed(&app, &owner, "/api/v1/alerts?type=DUPLICATE_SUBSCRIPTION_CANCELLED").await;
    assert_eq!(alerts["total"], 0, "{alerts}");
}

/// Waits (without a fixed delay) until the wall clock has passed `second`, so that a write made now is
/// stamped later than an event of that second would be.
async fn until_after(second: i64) {
    while chrono::Utc::now().timestamp() <= second {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn wait(arrived: mpsc::Receiver<()>) {
    tokio::task::spawn_blocking(move || arrived.recv()).await.expect("join").expect("the read reached Stripe");
}

/// A renewing PRO subscription in the mirror, and the same at the double; returns its id and its object.
async fn renewing(app: &TestApp, fake: &FakeStripe, customer: &str) -> (String, Value) {
    let id = unique("sub");
    let object = subscription(&id, customer, PRICE_PRO, "active", 1_790_000_000);
    fake.add_subscription(object.clone());
    deliver(app, "customer.subscription.created", 1_790_000_010, &object).await;
    (id, object)
}

/// Cancelled in the portal while a resync's read of the subscription is in flight: the read is older than the
/// cancellation and must not undo it.
async fn an_event_applied_while_a_resync_reads_stripe_is_not_overwritten_by_the_read(backend: Backend) {
    let (app, _double, fake) = with_fake_stripe(backend).await;
    let (owner, customer) = company(&app, "Racing Resync Co").await;
    let (_, object) = renewing(&app, &fake, &customer).await;
    let (arrived, release) = fake.hold("/v1/subscriptions");

    let resync = {
        let setup = vigil::stripe::StripeSetup::from_config(&app.config).expect("setup");
        let (pool, company) = (app.pool.clone(), owner.company_id.clone());
        tokio::spawn(async move { vigil::billing::resync::resync_command(&pool, &setup, Some(&company)).await })
    };
    wait(arrived).await;
    let cancelled_at = chrono::Utc::now().timestamp() + 1;
    let mut cancelled = object.clone();
    cancelled["cancel_at_period_end"] = json!(true);
    assert_eq!(deliver(&app, "customer.subscription.updated", cancelled_at, &cancelled).await, "processed");
    until_after(cancelled_at).await;
    release.send(()).expect("release");
    resync.await.expect("join").expect("resync");

    let dashboard = billing(&app, &owner).await;
    assert_eq!(dashboard["subscription"]["auto_renew"], false, "the cancellation survives the older read: {dashboard}");
}

/// The same race with the read Vigil makes after a completed Checkout.
async fn an_event_applied_while_a_subscription_is_read_again_is_not_overwritten_by_the_read(backend: Backend) {
    let (app, _double, fake) = with_fake_stripe(backend).await;
    let (owner, customer) = company(&app, "Racing Read Co").await;
    let (id, object) = renewing(&app, &fake, &customer).await;
    let (arrived, release) = fake.hold(&format!("/v1/subscriptions/{id}"));
    let session = json!({"id": unique("cs"), "object": "checkout.session", "mode": "subscription", "customer": customer,
        "client_reference_id": owner.company_id, "subscription": id, "status": "complete"});

    let completed = {
        let app_url = app.url("/api/v1/stripe/webhook");
        let event = json!({"id": unique("evt"), "object": "event", "type": "checkout.session.completed",
            "created": 1_790_000_020, "data": {"object": session}});
        let body = event.to_string();
        let header = vigil::stripe::signature::sign(body.as_bytes(), SECRET, chrono::Utc::now().timestamp());
        let client = app.client.clone();
        tokio::spawn(async move {
            client.post(app_url).header("stripe-signature", header).body(body).send().await.expect("delivery").status()
        })
    };
    wait(arrived).await;
    let cancelled_at = chrono::Utc::now().timestamp() + 1;
    let mut cancelled = object.clone();
    cancelled["cancel_at_period_end"] = json!(true);
    assert_eq!(deliver(&app, "customer.subscription.updated", cancelled_at, &cancelled).await, "processed");
    until_after(cancelled_at).await;
    release.send(()).expect("release");
    assert_eq!(completed.await.expect("join"), StatusCode::OK);

    let dashboard = billing(&app, &owner).await;
    assert_eq!(dashboard["subscription"]["auto_renew"], false, "the cancellation survives the older read: {dashboard}");
}

/// A date set in the portal (`cancel_at`, with `cancel_at_period_end` false) ends the subscription as surely
/// as a cancellation at period end: no renewal is shown, the end date is, and owners are told ahead.
async fn a_cancellation_date_set_in_the_portal_ends_auto_renewal_and_is_announced(backend: Backend) {
    let (app, _double, _fake) = with_fake_stripe(backend).await;
    let (owner, customer) = company(&app, "Ending Co").await;
    let now = chrono::Utc::now().timestamp();
    let ends = now + 10 * 86_400;
    let mut object = subscription(&unique("sub"), &customer, PRICE_PRO, "active", now - 86_400);
    object["current_period_end"] = json!(now + 20 * 86_400);
    object["cancel_at"] = json!(ends);

    deliver(&app, "customer.subscription.updated", now, &object).await;
    let swept = vigil::sweeps::alerts::sweep(&app.pool).await.expect("sweep");

    let dashboard = billing(&app, &owner).await;
    let ends_at =
        chrono::DateTime::from_timestamp(ends, 0).expect("time").to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert_eq!(dashboard["subscription"]["auto_renew"], false, "{dashboard}");
    assert_eq!(dashboard["subscription"]["cancel_at"], ends_at.as_str(), "{dashboard}");
    assert_eq!(
        (dashboard["renews_at"].clone(), dashboard["ends_at"].clone()),
        (Value::Null, json!(ends_at)),
        "{dashboard}"
    );
    assert_eq!(swept.subscriptions_expiring, 1);
    let expiring = listed(&app, &owner, "/api/v1/alerts?type=SUBSCRIPTION_EXPIRING").await;
    assert_eq!(expiring["total"], 1, "{expiring}");
    let title = expiring["data"][0]["title"].as_str().unwrap_or("");
    assert!(title.contains("ends in 9 days") || title.contains("ends in 10 days"), "{title}");
}

/// Against localstripe. The kept subscription has an open invoice (an upgrade whose card was declined);
/// cancelling the duplicate makes Stripe stop collecting every open invoice of the customer, by default.
/// Vigil turns collection back on for the kept one's, so Stripe's retries go on.
async fn cancelling_a_duplicate_leaves_stripe_collecting_the_kept_subscriptions_invoices(backend: Backend) {
    let app = TestApp::spawn_with_stripe(backend).await;
    let owner = app.signup("Collected Co").await;
    let stripe = localstripe();
    let customer = stripe.customer_with_card(&owner.email, &owner.company_id, GOOD_CARD).await;
    let older = stripe.subscribe(&customer, PRICE_PRO).await;
    until_after(older["created"].as_i64().expect("created")).await;
    let newer = stripe.subscribe(&customer, PRICE_PRO).await;
    let (older, newer) = (older["id"].as_str().expect("id"), newer["id"].as_str().expect("id"));
    stripe.switch_card(&customer, DECLINED_CARD).await;
    let item = stripe.get(&format!("/subscriptions/{newer}")).await["items"]["data"][0]["id"].clone();
    let waiting = stripe
        .post(
            &format!("/subscriptions/{newer}"),
            &[
                ("items[0][id]", item.as_str().expect("item id")),
                ("items[0][price]", PRICE_ENTERPRISE),
                ("proration_behavior", "always_invoice"),
                ("payment_behavior", "pending_if_incomplete"),
            ],
        )
        .await;
    let invoice = waiting["latest_invoice"].as_str().expect("the upgrade's invoice").to_owned();
    assert_eq!(stripe.get(&format!("/invoices/{invoice}")).await["auto_advance"], true);

    app.resync(&owner.company_id).await;

    assert_eq!(stripe.get(&format!("/subscriptions/{older}")).await["status"], "canceled");
    let kept = stripe.get(&format!("/invoices/{invoice}")).await;
    assert_eq!((kept["status"].as_str(), kept["auto_advance"].as_bool()), (Some("open"), Some(true)), "{kept}");
}
