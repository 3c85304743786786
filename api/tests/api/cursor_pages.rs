//! Every list pages by cursor as well as by number: `limit` with `starting_after` or `ending_before` gives
//! slices newest first with `has_more`, `next_cursor`, `prev_cursor` and a `Link` header that keeps the
//! filters; walking the slices gives exactly the items the numbered pages hold; numbered pages say
//! `has_more` and link their neighbours; mixing the two ways, or a cursor from elsewhere, is refused.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, Session, TestApp, backend_tests, problem};

backend_tests!(
    walking_every_list_by_cursor_gives_the_numbered_pages_items_newest_first,
    cursor_slices_go_both_ways_and_their_links_keep_the_filters,
    numbered_pages_say_has_more_and_link_their_neighbours,
    mixing_the_two_ways_or_a_cursor_from_elsewhere_is_refused,
);

/// The `rel` link of a `Link` header, as a path and query.
fn link(response: &reqwest::Response, rel: &str) -> Option<String> {
    let header = response.headers().get("link")?.to_str().ok()?.to_owned();
    header.split(", ").find(|part| part.ends_with(&format!("rel=\"{rel}\""))).map(|part| {
        let start = part.find('<').expect("<") + 1;
        let end = part.find('>').expect(">");
        part[start..end].to_owned()
    })
}

fn ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|item| item["id"].as_str().or(item["event_id"].as_str()).expect("an id").to_owned())
        .collect()
}

async fn get(app: &TestApp, session: &Session, path: &str) -> reqwest::Response {
    let response = app.get(path, &session.access_token).await;
    assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    response
}

/// Follows `next` links from `first`, returning every id in order.
async fn walk(app: &TestApp, session: &Session, first: &str) -> Vec<String> {
    let (mut seen, mut path) = (Vec::new(), Some(first.to_owned()));
    while let Some(current) = path {
        let response = get(app, session, &current).await;
        let next = link(&response, "next");
        let page: Value = response.json().await.expect("json");
        assert!(page.get("total").is_none(), "a slice counts nothing: {page}");
        assert_eq!(page["has_more"].as_bool(), Some(next.is_some()), "has_more and the next link agree: {page}");
        assert_eq!(page["next_cursor"].is_string(), next.is_some(), "{page}");
        seen.extend(ids(&page));
        assert!(seen.len() < 500, "the walk ends");
        path = next;
    }
    seen
}

async fn company_with_lists(app: &TestApp) -> Session {
    let owner = app.signup("Cursor Co").await;
    for n in 0..4 {
        app.add_employee(&owner, &format!("e{n}@cursor.test")).await;
    }
    for role in ["ADMIN", "MANAGER"] {
        app.add_user(&owner, role).await;
    }
    for name in ["one", "two", "three"] {
        let response = app.post("/api/v1/api-keys", &owner.access_token, json!({"name": name, "scope": "read"})).await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    for _ in 0..3 {
        app.add_agent(&owner, None).await;
    }
    for n in 0..3 {
        app.execute_sql(&format!(
            "INSERT INTO alerts (id, company_id, recipient_user_id, alert_type, severity, title, message, \
             related_data, dedup_key, created_at) VALUES ('al_cursor_{n}_{}', '{}', '{}', 'USAGE_HIGH', 'warning', \
             'Usage', 'Usage is high', '{{}}', 'cursor:{n}', '2026-12-0{} 09:00:00')",
            owner.company_id,
            owner.company_id,
            owner.user_id,
            n + 1
        ))
        .await;
        app.execute_sql(&format!(
            "INSERT INTO invoices (id, company_id, stripe_invoice_id, status, amount_due, amount_paid, currency, \
             issued_at, stripe_updated_at, created_at, updated_at) VALUES ('inv_cursor_{n}_{}', '{}', \
             'in_cursor_{n}_{}', 'PAID', 2900, 2900, 'usd', '2026-11-0{} 09:00:00', 0, '2026-11-01 09:00:00', \
             '2026-11-01 09:00:00')",
            owner.company_id,
            owner.company_id,
            owner.company_id,
            n + 1
        ))
        .await;
    }
    owner
}

async fn walking_every_list_by_cursor_gives_the_numbered_pages_items_newest_first(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = company_with_lists(&app).await;
    let lists = [
        "/api/v1/employees",
        "/api/v1/users",
        "/api/v1/api-keys",
        "/api/v1/agents",
        "/api/v1/enrollment-tokens",
        "/api/v1/audit-logs",
        "/api/v1/alerts",
        "/api/v1/billing/invoices",
        "/api/v1/stripe/events",
        "/api/v1/webhook-endpoints",
        "/api/v1/events",
    ];
    for list in lists {
        let numbered: Value = get(&app, &owner, &format!("{list}?per_page=100")).await.json().await.expect("json");
        let expected: HashSet<String> = ids(&numbered).into_iter().collect();
        let walked = walk(&app, &owner, &format!("{list}?limit=2")).await;
        assert_eq!(walked.len(), expected.len(), "{list}: each item once");
        assert_eq!(walked.iter().cloned().collect::<HashSet<_>>(), expected, "{list}: the same items");
        if list != "/api/v1/stripe/events" && list != "/api/v1/webhook-endpoints" && list != "/api/v1/events" {
            assert!(expected.len() >= 3, "{list} has items to page through");
        }
    }
    // Newest first, whatever the numbered order (employees are listed by name there).
    let employees = walk(&app, &owner, "/api/v1/employees?limit=3").await;
    let page: Value = get(&app, &owner, "/api/v1/employees?per_page=100").await.json().await.expect("json");
    let mut by_creation: Vec<(String, String)> = page["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|e| (e["created_at"].as_str().expect("created_at").to_owned(), e["id"].as_str().expect("id").to_owned()))
        .collect();
    by_creation.sort();
    by_creation.reverse();
    assert_eq!(employees, by_creation.into_iter().map(|(_, id)| id).collect::<Vec<_>>());
    let invoices = walk(&app, &owner, "/api/v1/billing/invoices?limit=1&status=PAID").await;
    assert_eq!(
        invoices,
        (0..3).rev().map(|n| format!("inv_cursor_{n}_{}", owner.company_id)).collect::<Vec<_>>(),
        "invoices newest issued first"
    );
}

async fn cursor_slices_go_both_ways_and_their_links_keep_the_filters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = company_with_lists(&app).await;
    let all = walk(&app, &owner, "/api/v1/employees?status=ACTIVE&limit=10").await;
    assert_eq!(all.len(), 4);

    let first = get(&app, &owner, "/api/v1/employees?status=ACTIVE&limit=2").await;
    let next = link(&first, "next").expect("a next link");
    assert!(next.starts_with("/api/v1/employees?"), "{next}");
    assert!(next.contains("status=ACTIVE") && next.contains("limit=2"), "the filters are kept: {next}");
    assert!(link(&first, "prev").is_none(), "the first slice has nothing newer");
    let first: Value = first.json().await.expect("json");
    assert_eq!(ids(&first), all[..2]);
    assert!(first.get("prev_cursor").is_none());

    let second = get(&app, &owner, &next).await;
    let prev = link(&second, "prev").expect("a prev link");
    assert!(prev.contains(&format!("ending_before={}", all[2])), "{prev}");
    let second: Value = second.json().await.expect("json");
    assert_eq!(ids(&second), all[2..]);
    assert_eq!(second["has_more"], false);
    assert_eq!(second["prev_cursor"].as_str(), Some(all[2].as_str()));

    // Back from the last item: the newer ones, newest first, and has_more says whether more are newer still.
    let back: Value = get(&app, &owner, &format!("/api/v1/employees?limit=2&ending_before={}", all[3]))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(ids(&back), all[1..3]);
    assert_eq!(back["has_more"], true, "one newer still");
    assert_eq!(back["next_cursor"].as_str(), Some(all[2].as_str()));
    let top: Value = get(&app, &owner, &format!("/api/v1/employees?limit=2&ending_before={}", all[1]))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(ids(&top), all[..1]);
    assert_eq!(top["has_more"], false);
}

async fn numbered_pages_say_has_more_and_link_their_neighbours(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = company_with_lists(&app).await;
    let first = get(&app, &owner, "/api/v1/employees?per_page=3&status=ACTIVE").await;
    assert_eq!(link(&first, "next").as_deref(), Some("/api/v1/employees?status=ACTIVE&page=2&per_page=3"));
    assert!(link(&first, "prev").is_none());
    let first: Value = first.json().await.expect("json");
    assert_eq!(
        (first["page"].as_i64(), first["total"].as_i64(), first["has_more"].as_bool()),
        (Some(1), Some(4), Some(true))
    );
    assert!(first.get("next_cursor").is_none(), "numbered pages have no cursors");

    let last = get(&app, &owner, "/api/v1/employees?per_page=3&page=2&status=ACTIVE").await;
    assert!(link(&last, "next").is_none());
    assert_eq!(link(&last, "prev").as_deref(), Some("/api/v1/employees?status=ACTIVE&page=1&per_page=3"));
    let last: Value = last.json().await.expect("json");
    assert_eq!((last["has_more"].as_bool(), ids(&last).len()), (Some(false), 1));
}

async fn mixing_the_two_ways_or_a_cursor_from_elsewhere_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = company_with_lists(&app).await;
    let other = app.signup("Elsewhere Co").await;
    let theirs = app.add_employee(&other, "them@elsewhere.test").await;
    let cases = [
        ("page=1&limit=2", "page"),
        ("per_page=5&starting_after=x", "page"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("starting_after=a&ending_before=b", "ending_before"),
        ("starting_after=not%20an%20id", "starting_after"),
        (&format!("starting_after={theirs}") as &str, "starting_after"),
    ];
    for (query, field) in cases {
        let response = app.get(&format!("/api/v1/employees?{query}"), &owner.access_token).await;
        let body = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(body["code"], "validation_failed", "{query}");
        assert!(body["errors"][field].is_array(), "{query}: the error names {field}: {body}");
    }
}
