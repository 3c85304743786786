//! What a change of the plan that applies does, whatever caused it (the API, Stripe's Billing Portal, a
//! webhook, the end of a grace period): retention only shortens after a hold, and limits keep holding.

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::Value;

use crate::agent_data::{count, record, stored_bytes, upload};
use crate::helpers::{Backend, EnrolledAgent, Session, TestApp, backend_tests, problem};
use crate::stripe_fake::{PRICE_ENTERPRISE, PRICE_PRO};
use crate::webhooks::{customer_company, delivered, event, invoice, spawn, subscription, unique};

backend_tests!(
    a_payment_lapse_past_its_grace_period_holds_the_paid_for_history_and_paying_keeps_it,
    a_cancellation_deletes_older_data_only_after_the_hold_and_a_warning,
    a_second_drop_within_a_hold_never_moves_the_longest_retentions_deadline,
    paying_a_plan_changes_invoice_does_not_end_a_past_due_grace_period,
    a_cancellation_over_the_free_limits_suspends_the_agents_enrolled_last_until_the_company_is_within_them,
    the_end_of_a_grace_period_suspends_agents_and_alerts_and_paying_lifts_it,
);

/// A company on PRO through Stripe's webhook, with one agent.
struct OnPro {
    owner: Session,
    customer: String,
    subscription: String,
    agent: crate::helpers::EnrolledAgent,
    /// Stripe's clock: each event is a second after the last.
    clock: i64,
}

async fn on_pro(app: &TestApp) -> OnPro {
    let (owner, customer) = customer_company(app).await;
    let sub = unique("sub");
    let clock = Utc::now().timestamp();
    let created = event(
        &unique("evt"),
        "customer.subscription.created",
        clock,
        subscription(&sub, &customer, PRICE_PRO, "active", false),
    );
    assert_eq!(delivered(app, &created).await, "processed");
    let agent = app.add_agent(&owner, None).await;
    OnPro { owner, customer, subscription: sub, agent, clock }
}

impl OnPro {
    async fn send(&mut self, app: &TestApp, kind: &str, object: Value) {
        self.clock += 1;
        assert_eq!(delivered(app, &event(&unique("evt"), kind, self.clock, object)).await, "processed", "{kind}");
    }
}

fn sql_time(time: chrono::DateTime<Utc>) -> String {
    time.naive_utc().format("'%Y-%m-%d %H:%M:%S'").to_string()
}

/// One activity record, aged 90 days: kept by PRO (180 days), not by FREE (30).
async fn ninety_days_of_history(app: &TestApp, company: &OnPro) {
    let uploaded = upload(app, &company.agent, vec![record("h-1", 30, 5, "Editor", None)]).await;
    assert_eq!(uploaded.status(), StatusCode::OK);
    let aged = sql_time(Utc::now() - Duration::days(90));
    app.execute_sql(&format!("UPDATE activity_records SET started_at = {aged}, ended_at = {aged}")).await;
}

async fn sweep(app: &TestApp) {
    let blobs = vigil::storage::blobs::BlobStore::open(&app.config.object_store_url).expect("store");
    vigil::sweeps::retention::sweep(&app.pool, &blobs, app.config.retention_hold_days).await.expect("sweep");
}

async fn billing(app: &TestApp, owner: &Session) -> Value {
    app.get("/api/v1/billing", &owner.access_token).await.json().await.expect("json")
}

async fn alerts(app: &TestApp, owner: &Session, kind: &str) -> Value {
    app.get(&format!("/api/v1/alerts?type={kind}&resolved=false"), &owner.access_token)
        .await
        .json()
        .await
        .expect("json")
}

/// Days from now until an RFC 3339 time.
fn days_until(time: &Value) -> i64 {
    let time = chrono::DateTime::parse_from_rfc3339(time.as_str().unwrap_or_else(|| panic!("a time: {time}")))
        .expect("rfc3339");
    (time.with_timezone(&Utc) - Utc::now()).num_hours().div_euclid(24)
}

async fn a_payment_lapse_past_its_grace_period_holds_the_paid_for_history_and_paying_keeps_it(backend: Backend) {
    let app = spawn(backend).await;
    let mut company = on_pro(&app).await;
    ninety_days_of_history(&app, &company).await;
    sweep(&app).await;
    assert_eq!(count(&app, "activity_records").await, 1, "PRO keeps 180 days");

    let failed = invoice(&unique("in"), &company.customer, &company.subscription, "open", 0);
    company.send(&app, "invoice.payment_failed", failed).await;
    sweep(&app).await;
    assert_eq!(count(&app, "activity_records").await, 1, "PAST_DUE within its grace period keeps PRO's retention");
    assert!(billing(&app, &company.owner).await["retention"]["deletion_scheduled_at"].is_null());

    // The grace period ends without a payment: FREE's limits apply, but what PRO kept is held.
    app.execute_sql(&format!(
        "UPDATE subscriptions SET grace_period_ends_at = {} WHERE company_id = '{}'",
        sql_time(Utc::now() - Duration::hours(1)),
        company.owner.company_id
    ))
    .await;
    sweep(&app).await;

    assert_eq!(count(&app, "activity_records").await, 1, "the lapse deleted nothing yet");
    let dashboard = billing(&app, &company.owner).await;
    assert_eq!(dashboard["tier"]["code"], "FREE", "{dashboard}");
    assert_eq!(dashboard["retention"]["plan_days"], 30, "{dashboard}");
    assert_eq!(dashboard["retention"]["kept_days"], 180, "{dashboard}");
    let deletion = &dashboard["retention"]["deletion_scheduled_at"];
    assert!((29..=30).contains(&days_until(deletion)), "deleted in RETENTION_HOLD_DAYS (30): {dashboard}");

    // The card works again within the hold: nothing will be deleted.
    let paid = invoice(&unique("in"), &company.customer, &company.subscription, "paid", 2900);
    company.send(&app, "invoice.paid", paid).await;
    let dashboard = billing(&app, &company.owner).await;
    assert_eq!(dashboard["tier"]["code"], "PRO", "{dashboard}");
    assert!(dashboard["retention"]["deletion_scheduled_at"].is_null(), "{dashboard}");
    sweep(&app).await;
    assert_eq!(count(&app, "activity_records").await, 1, "the recovered company has all of its history");
}

async fn a_cancellation_deletes_older_data_only_after_the_hold_and_a_warning(backend: Backend) {
    let app = spawn(backend).await;
    let mut company = on_pro(&app).await;
    ninety_days_of_history(&app, &company).await;
    sweep(&app).await;

    let ended = subscription(&company.subscription, &company.customer, PRICE_PRO, "canceled", false);
    company.send(&app, "customer.subscription.deleted", ended).await;
    sweep(&app).await;

    assert_eq!(count(&app, "activity_records").await, 1, "held after the cancellation");
    let dashboard = billing(&app, &company.owner).await;
    let deletion = dashboard["retention"]["deletion_scheduled_at"].clone();
    assert!((29..=30).contains(&days_until(&deletion)), "{dashboard}");
    assert_eq!(alerts(&app, &company.owner, "DATA_DELETION_SCHEDULED").await["total"], 0, "no warning a month ahead");

    // Three days before the deletion: the owners are told the date.
    let soon = Utc::now() + Duration::days(3);
    app.execute_sql(&format!(
        "UPDATE companies SET retention_hold_until = {} WHERE id = '{}'",
        sql_time(soon),
        company.owner.company_id
    ))
    .await;
    sweep(&app).await;
    let warned = alerts(&app, &company.owner, "DATA_DELETION_SCHEDULED").await;
    assert_eq!(warned["total"], 1, "{warned}");
    let title = warned["data"][0]["title"].as_str().unwrap_or_default();
    assert!(title.contains(&soon.format("%Y-%m-%d").to_string()), "the alert names the date: {warned}");
    assert_eq!(count(&app, "activity_records").await, 1, "still held");

    // The hold ends: what FREE does not keep is deleted, and the warning is resolved.
    app.execute_sql(&format!(
        "UPDATE companies SET retention_hold_until = {} WHERE id = '{}'",
        sql_time(Utc::now() - Duration::minutes(1)),
        company.owner.company_id
    ))
    .await;
    sweep(&app).await;
    assert_eq!(count(&app, "activity_records").await, 0, "deleted after the hold");
    assert_eq!(stored_bytes(&app, &company.owner).await, 0);
    assert_eq!(alerts(&app, &company.owner, "DATA_DELETION_SCHEDULED").await["total"], 0);
    assert!(billing(&app, &company.owner).await["retention"]["deletion_scheduled_at"].is_null());
}

/// ENTERPRISE (730 days) to PRO (180) starts a hold on what only ENTERPRISE kept; PRO cancelled 25 days
/// later holds what PRO kept for a hold of its own, but ENTERPRISE's data keeps its own deadline. Moving it
/// out on every drop would let a company that keeps changing plans keep 730 days for good.
async fn a_second_drop_within_a_hold_never_moves_the_longest_retentions_deadline(backend: Backend) {
    let app = spawn(backend).await;
    let mut company = on_pro(&app).await;
    let (sub, customer) = (company.subscription.clone(), company.customer.clone());
    company
        .send(&app, "customer.subscription.updated", subscription(&sub, &customer, PRICE_ENTERPRISE, "active", false))
        .await;
    company
        .send(&app, "customer.subscription.updated", subscription(&sub, &customer, PRICE_PRO, "active", false))
        .await;
    // Twenty-five days later: ENTERPRISE's hold has five days left.
    let enterprise_deadline = Utc::now() + Duration::days(5);
    app.execute_sql(&format!(
        "UPDATE companies SET retention_hold_until = {} WHERE id = '{}'",
        sql_time(enterprise_deadline),
        company.owner.company_id
    ))
    .await;

    company
        .send(&app, "customer.subscription.deleted", subscription(&sub, &customer, PRICE_PRO, "canceled", false))
        .await;

    let dashboard = billing(&app, &company.owner).await;
    assert_eq!(
        (dashboard["retention"]["plan_days"].as_i64(), dashboard["retention"]["kept_days"].as_i64()),
        (Some(30), Some(730)),
        "{dashboard}"
    );
    let next = days_until(&dashboard["retention"]["deletion_scheduled_at"]);
    assert!((4..=5).contains(&next), "what only ENTERPRISE kept is still deleted in 5 days, not {next}: {dashboard}");

    // ENTERPRISE's hold ends: PRO's 180 days are kept for the rest of their own hold.
    app.execute_sql(&format!(
        "UPDATE companies SET retention_hold_until = {} WHERE id = '{}'",
        sql_time(Utc::now() - Duration::minutes(1)),
        company.owner.company_id
    ))
    .await;
    sweep(&app).await;
    let dashboard = billing(&app, &company.owner).await;
    assert_eq!(dashboard["retention"]["kept_days"], 180, "{dashboard}");
    assert!((29..=30).contains(&days_until(&dashboard["retention"]["deletion_scheduled_at"])), "{dashboard}");
}

/// A PAST_DUE company pays the small invoice of a plan change; the renewal it owes is still unpaid, so it
/// stays PAST_DUE with the grace period it had (paying it again and again must not restart the grace).
async fn paying_a_plan_changes_invoice_does_not_end_a_past_due_grace_period(backend: Backend) {
    let app = spawn(backend).await;
    let mut company = on_pro(&app).await;
    let mut renewal = invoice(&unique("in"), &company.customer, &company.subscription, "open", 0);
    renewal["billing_reason"] = serde_json::json!("subscription_cycle");
    company.send(&app, "invoice.payment_failed", renewal).await;
    let before = billing(&app, &company.owner).await;

    let mut change = invoice(&unique("in"), &company.customer, &company.subscription, "paid", 1200);
    change["billing_reason"] = serde_json::json!("subscription_update");
    company.send(&app, "invoice.paid", change).await;

    let after = billing(&app, &company.owner).await;
    assert_eq!(before["subscription"]["status"], "PAST_DUE", "{before}");
    assert_eq!(after["subscription"]["status"], "PAST_DUE", "the renewal is still owed: {after}");
    // `days_left` counts down with the clock between the two reads; the end itself must not move.
    assert_eq!(after["grace_period"]["ends_at"], before["grace_period"]["ends_at"], "and its grace period runs on");
}

/// Enrols `n` more agents, in order.
async fn agents(app: &TestApp, owner: &Session, n: usize) -> Vec<EnrolledAgent> {
    let mut enrolled = Vec::new();
    for _ in 0..n {
        enrolled.push(app.add_agent(owner, None).await);
    }
    enrolled
}

async fn heartbeat_status(app: &TestApp, agent: &EnrolledAgent) -> StatusCode {
    app.heartbeat(agent, serde_json::json!({})).await.status()
}

/// Which of the company's agents the agents list shows as suspended, by id.
async fn suspended_ids(app: &TestApp, owner: &Session) -> Vec<String> {
    let list: Value = app.get("/api/v1/agents?per_page=100", &owner.access_token).await.json().await.expect("json");
    let mut ids: Vec<String> = list["data"]
        .as_array()
        .unwrap_or_else(|| panic!("agents: {list}"))
        .iter()
        .filter(|agent| agent["suspended"] == true)
        .map(|agent| agent["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    ids.sort();
    ids
}

fn sorted_ids(agents: &[&EnrolledAgent]) -> Vec<String> {
    let mut ids: Vec<String> = agents.iter().map(|agent| agent.id.clone()).collect();
    ids.sort();
    ids
}

async fn a_cancellation_over_the_free_limits_suspends_the_agents_enrolled_last_until_the_company_is_within_them(
    backend: Backend,
) {
    let app = spawn(backend).await;
    let mut company = on_pro(&app).await;
    // PRO allows far more than FREE's 5 employees and 5 agents: 6 employees and 7 agents (with `on_pro`'s).
    let mut employees = Vec::new();
    for n in 0..6 {
        employees.push(app.add_employee(&company.owner, &format!("e{n}@over.test")).await);
    }
    let later = agents(&app, &company.owner, 6).await;

    // The subscription ends (cancelled in the Billing Portal, or at the end of the period).
    let ended = subscription(&company.subscription, &company.customer, PRICE_PRO, "canceled", false);
    company.send(&app, "customer.subscription.deleted", ended).await;
    let all: Vec<&EnrolledAgent> = std::iter::once(&company.agent).chain(later.iter()).collect();

    let dashboard = billing(&app, &company.owner).await;
    assert_eq!(dashboard["tier"]["code"], "FREE", "{dashboard}");
    assert_eq!(
        dashboard["over_limit"]["summary"], "1 employee and 2 agents over the Free plan's limits",
        "{dashboard}"
    );
    assert_eq!(dashboard["over_limit"]["suspended_agents"], 2, "{dashboard}");
    let alerted = alerts(&app, &company.owner, "OVER_PLAN_LIMIT").await;
    assert_eq!(alerted["total"], 1, "{alerted}");

    // The five enrolled first keep recording; the two enrolled last are refused, and listed as suspended.
    for agent in &all[..5] {
        assert_eq!(heartbeat_status(&app, agent).await, StatusCode::OK);
    }
    for agent in &all[5..] {
        let refused = problem(app.heartbeat(agent, serde_json::json!({})).await, StatusCode::FORBIDDEN).await;
        assert_eq!(refused["code"], "plan_limit_reached", "{refused}");
    }
    let upload_refused = upload(&app, all[6], vec![record("s-1", 10, 1, "Editor", None)]).await;
    assert_eq!(problem(upload_refused, StatusCode::FORBIDDEN).await["code"], "plan_limit_reached");
    assert_eq!(upload(&app, all[0], vec![record("s-2", 10, 1, "Editor", None)]).await.status(), StatusCode::OK);
    assert_eq!(suspended_ids(&app, &company.owner).await, sorted_ids(&all[5..]));
    let added = app
        .post(
            "/api/v1/employees",
            &company.owner.access_token,
            serde_json::json!({"email": "more@over.test", "name": "More"}),
        )
        .await;
    assert_eq!(problem(added, StatusCode::FORBIDDEN).await["code"], "plan_limit_reached");

    // Revoking two agents lifts the suspension at once, whichever two.
    for agent in [all[0], all[6]] {
        let revoked = app
            .post(&format!("/api/v1/agents/{}/revoke", agent.id), &company.owner.access_token, serde_json::json!({}))
            .await;
        assert_eq!(revoked.status(), StatusCode::OK);
    }
    assert_eq!(heartbeat_status(&app, all[5]).await, StatusCode::OK, "the sixth agent is within the limit now");
    assert!(suspended_ids(&app, &company.owner).await.is_empty());
    assert_eq!(alerts(&app, &company.owner, "OVER_PLAN_LIMIT").await["total"], 1, "one alert per episode");

    // Removing the employee over the limit ends the episode.
    let removed = app.delete(&format!("/api/v1/employees/{}", employees[0]), &company.owner.access_token).await;
    assert!(removed.status().is_success(), "{}", removed.status());
    assert_eq!(alerts(&app, &company.owner, "OVER_PLAN_LIMIT").await["total"], 0);
    assert!(billing(&app, &company.owner).await["over_limit"].is_null());
}

async fn the_end_of_a_grace_period_suspends_agents_and_alerts_and_paying_lifts_it(backend: Backend) {
    let app = spawn(backend).await;
    let mut company = on_pro(&app).await;
    let later = agents(&app, &company.owner, 5).await;
    let last = &later[4];
    let failed = invoice(&unique("in"), &company.customer, &company.subscription, "open", 0);
    company.send(&app, "invoice.payment_failed", failed).await;
    assert_eq!(heartbeat_status(&app, last).await, StatusCode::OK, "PAST_DUE within its grace period keeps PRO");

    app.execute_sql(&format!(
        "UPDATE subscriptions SET grace_period_ends_at = {} WHERE company_id = '{}'",
        sql_time(Utc::now() - Duration::minutes(1)),
        company.owner.company_id
    ))
    .await;
    assert_eq!(heartbeat_status(&app, last).await, StatusCode::FORBIDDEN, "the sixth agent is past FREE's 5");
    vigil::sweeps::alerts::sweep(&app.pool).await.expect("alert sweep");
    let alerted = alerts(&app, &company.owner, "OVER_PLAN_LIMIT").await;
    assert_eq!(alerted["total"], 1, "{alerted}");
    assert!(
        alerted["data"][0]["title"].as_str().unwrap_or_default().contains("1 agent over the Free plan"),
        "{alerted}"
    );

    let paid = invoice(&unique("in"), &company.customer, &company.subscription, "paid", 2900);
    company.send(&app, "invoice.paid", paid).await;
    assert_eq!(heartbeat_status(&app, last).await, StatusCode::OK);
    assert_eq!(alerts(&app, &company.owner, "OVER_PLAN_LIMIT").await["total"], 0);
}
