//! The totals the web app shows on every page (the payment history's summary, the alert counts and the
//! unread badge) are running totals kept in the transaction of each write. After a random history of writes
//! through Stripe's webhooks, the API and plain SQL (a path no service code knows of), they equal what the
//! rows say, on both databases.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Backend, Session, TestApp, backend_tests};
use crate::webhooks::{customer_company, delivered, event, invoice, spawn, unique};

backend_tests!(running_totals_equal_the_rows_after_a_random_history_of_writes);

/// A small seeded generator, so that a failing history can be replayed with `RUNNING_TOTALS_SEED`.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() { None } else { items.get(self.below(items.len() as u64) as usize) }
    }
}

const STATUSES: [&str; 5] = ["DRAFT", "OPEN", "PAID", "VOID", "UNCOLLECTIBLE"];

async fn json(app: &TestApp, path: &str, session: &Session) -> Value {
    let response = app.get(path, &session.access_token).await;
    assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    response.json().await.expect("json")
}

async fn alert_ids(app: &TestApp, session: &Session, unread: bool) -> Vec<String> {
    let path = if unread { "/api/v1/alerts?unread=true&per_page=100" } else { "/api/v1/alerts?per_page=100" };
    let page = json(app, path, session).await;
    page["data"].as_array().expect("alerts").iter().map(|a| a["id"].as_str().expect("id").to_owned()).collect()
}

/// One random write: an invoice event from Stripe, a read, a read-all, a resolve, or SQL behind the app's
/// back (an alert inserted or deleted, an invoice deleted or its amount changed).
async fn random_write(app: &TestApp, rng: &mut Lcg, people: &[Session], customer: &str, invoices: &[String], at: i64) {
    let person = rng.pick(people).expect("people");
    match rng.below(12) {
        0..=5 => {
            let id = rng.pick(invoices).expect("invoices");
            let (kind, status) = *rng
                .pick(&[
                    ("invoice.created", "draft"),
                    ("invoice.finalized", "open"),
                    ("invoice.paid", "paid"),
                    ("invoice.voided", "void"),
                    ("invoice.marked_uncollectible", "uncollectible"),
                    ("invoice.payment_failed", "open"),
                ])
                .expect("kinds");
            let due = 100 * (1 + rng.below(50) as i64);
            let mut object = invoice(id, customer, "sub_totals", status, if status == "paid" { due } else { 0 });
            object["amount_due"] = due.into();
            delivered(app, &event(&unique("evt"), kind, at, object)).await;
        }
        6 => {
            if let Some(alert) = rng.pick(&alert_ids(app, person, true).await) {
                let response = app
                    .post(&format!("/api/v1/alerts/{alert}/read"), &person.access_token, serde_json::json!({}))
                    .await;
                assert_eq!(response.status(), StatusCode::OK);
            }
        }
        7 => {
            let response = app.post("/api/v1/alerts/read-all", &person.access_token, serde_json::json!({})).await;
            assert_eq!(response.status(), StatusCode::OK);
        }
        8 => {
            if let Some(alert) = rng.pick(&alert_ids(app, person, false).await) {
                let response = app
                    .post(&format!("/api/v1/alerts/{alert}/resolve"), &person.access_token, serde_json::json!({}))
                    .await;
                assert!(response.status().is_success(), "resolve: {}", response.status());
            }
        }
        9 => {
            let read = if rng.below(2) == 0 { "NULL" } else { "'2026-12-01 10:00:00'" };
            app.execute_sql(&format!(
                "INSERT INTO alerts (id, company_id, recipient_user_id, alert_type, severity, title, message, \
                 related_data, dedup_key, read_at, created_at) VALUES ('{}', '{}', '{}', 'USAGE_HIGH', 'warning', \
                 'Usage', 'Usage is high', '{{}}', '{}', {read}, '2026-12-01 09:00:00')",
                uuid::Uuid::now_v7(),
                person.company_id,
                person.user_id,
                unique("sql")
            ))
            .await;
        }
        10 => {
            if let Some(alert) = rng.pick(&alert_ids(app, person, false).await) {
                app.execute_sql(&format!("DELETE FROM alerts WHERE id = '{alert}'")).await;
            }
        }
        _ => {
            let stripe_id = rng.pick(invoices).expect("invoices");
            if rng.below(2) == 0 {
                app.execute_sql(&format!("DELETE FROM invoices WHERE stripe_invoice_id = '{stripe_id}'")).await;
            } else {
                app.execute_sql(&format!(
                    "UPDATE invoices SET amount_paid = amount_paid + 7 WHERE stripe_invoice_id = '{stripe_id}'"
                ))
                .await;
            }
        }
    }
}

/// (count, due, paid, outstanding) of the company's invoices, counted from the rows.
async fn invoice_sums(app: &TestApp, company: &str, status: Option<&str>) -> (i64, i64, i64, i64) {
    let only = status.map(|s| format!(" AND status = '{s}'")).unwrap_or_default();
    let text = app
        .execute_sql_text(&format!(
            "SELECT CAST(COUNT(*) AS TEXT) || ',' || CAST(COALESCE(SUM(amount_due), 0) AS TEXT) || ',' || \
             CAST(COALESCE(SUM(amount_paid), 0) AS TEXT) || ',' || CAST(COALESCE(SUM(CASE WHEN status IN \
             ('OPEN', 'UNCOLLECTIBLE') THEN amount_due - amount_paid ELSE 0 END), 0) AS TEXT) AS value \
             FROM invoices WHERE company_id = '{company}'{only}"
        ))
        .await;
    let parts: Vec<i64> = text.split(',').map(|part| part.parse().expect("a number")).collect();
    (parts[0], parts[1], parts[2], parts[3])
}

async fn alert_rows(app: &TestApp, person: &Session, unread_only: bool) -> i64 {
    let only = if unread_only { " AND read_at IS NULL" } else { "" };
    app.execute_sql_text(&format!(
        "SELECT CAST(COUNT(*) AS TEXT) AS value FROM alerts WHERE company_id = '{}' AND recipient_user_id = '{}'{only}",
        person.company_id, person.user_id
    ))
    .await
    .parse()
    .expect("a count")
}

async fn assert_totals_equal_the_rows(app: &TestApp, owner: &Session, people: &[Session], step: usize) {
    for status in std::iter::once(None).chain(STATUSES.iter().map(|s| Some(*s))) {
        let path = match status {
            Some(status) => format!("/api/v1/billing/invoices?status={status}&per_page=1"),
            None => "/api/v1/billing/invoices?per_page=1".to_owned(),
        };
        let page = json(app, &path, owner).await;
        let summary = &page["summary"];
        let shown = (
            page["total"].as_i64().expect("total"),
            summary["total"].as_i64().expect("due"),
            summary["paid"].as_i64().expect("paid"),
            summary["outstanding"].as_i64().expect("outstanding"),
        );
        assert_eq!(shown, invoice_sums(app, &owner.company_id, status).await, "invoices {status:?} after step {step}");
        let per_status: i64 = summary["by_status"]
            .as_array()
            .expect("by_status")
            .iter()
            .map(|s| s["count"].as_i64().expect("count"))
            .sum();
        assert_eq!(per_status, shown.0, "the statuses add up, after step {step}");
    }
    for person in people {
        let all = json(app, "/api/v1/alerts?per_page=1", person).await["total"].as_i64().expect("total");
        let unread = json(app, "/api/v1/alerts?unread=true&per_page=1", person).await["total"].as_i64().expect("total");
        let badge = json(app, "/api/v1/alerts/unread-count", person).await["unread"].as_i64().expect("unread");
        let (rows, unread_rows) = (alert_rows(app, person, false).await, alert_rows(app, person, true).await);
        assert_eq!(
            (all, unread, badge),
            (rows, unread_rows, unread_rows),
            "alerts of {} after step {step}",
            person.email
        );
    }
}

async fn running_totals_equal_the_rows_after_a_random_history_of_writes(backend: Backend) {
    let app = spawn(backend).await;
    let (owner, customer) = customer_company(&app).await;
    let admin = app.add_user(&owner, "ADMIN").await;
    let people = [owner.clone(), admin];
    let seed = std::env::var("RUNNING_TOTALS_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed_7a11);
    let mut rng = Lcg(seed);
    let invoices: Vec<String> = (0..6).map(|_| unique("in")).collect();
    for step in 0..80 {
        random_write(&app, &mut rng, &people, &customer, &invoices, 1_790_000_000 + 10 * step as i64).await;
        if step % 20 == 19 {
            assert_totals_equal_the_rows(&app, &owner, &people, step).await;
        }
    }
    // A user removed takes their alerts along; a company's totals go with it.
    let removed = &people[1];
    let response = app.delete(&format!("/api/v1/users/{}", removed.user_id), &owner.access_token).await;
    assert!(response.status().is_success(), "remove the admin: {}", response.status());
    assert_totals_equal_the_rows(&app, &owner, &people[..1], 80).await;
    let stray = app
        .execute_sql_text(&format!(
            "SELECT CAST(COALESCE(SUM(unread_count), 0) AS TEXT) AS value FROM alert_counts WHERE recipient_user_id = '{}'",
            removed.user_id
        ))
        .await;
    let left = alert_rows(&app, removed, true).await;
    assert_eq!(stray, left.to_string(), "the removed user's unread count follows their rows");
}
