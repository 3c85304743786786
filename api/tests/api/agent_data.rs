//! What agents upload: activity batches stored once, policy-disabled fields never stored, screenshots
//! through the object store and signed links, the storage limit and USAGE_HIGH, and retention.

use chrono::{Duration, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, EnrolledAgent, Session, TestApp, backend_tests, problem};

backend_tests!(
    a_resent_batch_is_stored_once_and_counted_once,
    urls_are_never_stored_while_website_tracking_is_off,
    a_policy_without_activity_tracking_refuses_the_batch,
    insane_times_are_refused_field_by_field_and_nothing_is_stored,
    the_day_timeline_clips_spans_and_totals_active_time,
    a_screenshot_round_trips_through_the_store_and_a_signed_link,
    screenshots_need_the_plan_the_policy_and_a_real_image,
    the_storage_limit_refuses_uploads_and_eighty_percent_raises_usage_high,
    retention_deletes_old_rows_and_blobs_and_releases_their_bytes,
    a_downgrade_applies_the_shorter_retention_after_the_hold,
    another_company_sees_none_of_the_uploads,
    a_deleted_screenshot_takes_its_image_and_bytes_with_it,
);

/// A PNG's signature and a little more; the server checks the content, not the label.
pub(crate) const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

/// A company with one employee and that employee's enrolled agent.
pub(crate) struct Tenant {
    pub(crate) owner: Session,
    pub(crate) employee_id: String,
    pub(crate) agent: EnrolledAgent,
}

pub(crate) async fn tenant(app: &TestApp, name: &str) -> Tenant {
    let owner = app.signup(name).await;
    let email = format!("worker@{}.test", name.to_lowercase().replace(' ', "-"));
    let employee_id = app.add_employee(&owner, &email).await;
    let agent = app.add_agent(&owner, Some(&email)).await;
    Tenant { owner, employee_id, agent }
}

/// Puts the company on PRO (as a completed Checkout would) and sets policy switches.
async fn on_pro_with(app: &TestApp, tenant: &Tenant, settings: Value) {
    app.execute_sql(&format!(
        "UPDATE subscriptions SET tier_code = 'PRO', status = 'ACTIVE' WHERE company_id = '{}'",
        tenant.owner.company_id
    ))
    .await;
    set_policy(app, tenant, settings).await;
}

async fn set_policy(app: &TestApp, tenant: &Tenant, changes: Value) {
    let mut policy: Value = app.get("/api/v1/policy", &tenant.owner.access_token).await.json().await.expect("json");
    for (key, value) in changes.as_object().expect("object") {
        policy["settings"][key] = value.clone();
    }
    let response = app
        .request(Method::PUT, "/api/v1/policy", Some(&tenant.owner.access_token), Some(policy["settings"].clone()))
        .await;
    assert_eq!(response.status(), StatusCode::OK, "policy change");
}

pub(crate) fn record(id: &str, minutes_ago: i64, minutes: i64, application: &str, url: Option<&str>) -> Value {
    let start = Utc::now() - Duration::minutes(minutes_ago);
    json!({
        "id": id,
        "state": "ACTIVE",
        "application": application,
        "window_title": format!("{application} window"),
        "url": url,
        "started_at": start.to_rfc3339(),
        "ended_at": (start + Duration::minutes(minutes)).to_rfc3339(),
    })
}

pub(crate) async fn upload(app: &TestApp, agent: &EnrolledAgent, records: Vec<Value>) -> reqwest::Response {
    app.request(Method::POST, "/api/v1/agent/activity", Some(&agent.secret), Some(json!({"records": records}))).await
}

pub(crate) async fn stored_bytes(app: &TestApp, session: &Session) -> i64 {
    let billing: Value = app.get("/api/v1/billing", &session.access_token).await.json().await.expect("json");
    billing["usage"]["storage_bytes"]["used"].as_i64().expect("storage_bytes.used")
}

pub(crate) async fn count(app: &TestApp, sql: &str) -> i64 {
    app.execute_sql_text(&format!("SELECT CAST(COUNT(*) AS TEXT) AS value FROM {sql}")).await.parse().expect("count")
}

async fn a_resent_batch_is_stored_once_and_counted_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t = tenant(&app, "Resend").await;
    let batch = vec![
        record("r-1", 50, 10, "Editor", None),
        record("r-2", 40, 10, "Terminal", None),
        record("r-3", 30, 10, "Editor", None),
    ];

    let first = upload(&app, &t.agent, batch.clone()).await;
    assert_eq!(first.status(), StatusCode::OK);
    let first: Value = first.json().await.expect("json");
    assert_eq!((first["stored"].as_i64(), first["duplicates"].as_i64()), (Some(3), Some(0)));
    let bytes_after_first = stored_bytes(&app, &t.owner).await;
    assert!(bytes_after_first > 0, "stored bytes are metered");

    // The agent timed out and sends the same batch again, plus one new record.
    let mut again = batch;
    again.push(record("r-4", 20, 5, "Browser", None));
    let second: Value = upload(&app, &t.agent, again).await.json().await.expect("json");
    assert_eq!((second["stored"].as_i64(), second["duplicates"].as_i64()), (Some(1), Some(3)));

    assert_eq!(count(&app, "activity_records").await, 4);
    let bytes_after_second = stored_bytes(&app, &t.owner).await;
    assert!(bytes_after_second > bytes_after_first && bytes_after_second < bytes_after_first * 2, "only r-4 added");
}

async fn urls_are_never_stored_while_website_tracking_is_off(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t = tenant(&app, "Private").await;

    // FREE has no website tracking: the URL is dropped, the rest kept.
    let receipt: Value = upload(&app, &t.agent, vec![record("u-1", 30, 5, "Browser", Some("https://news.example/a"))])
        .await
        .json()
        .await
        .expect("json");
    assert_eq!((receipt["stored"].as_i64(), receipt["urls_dropped"].as_i64()), (Some(1), Some(1)));
    assert_eq!(count(&app, "activity_records WHERE url IS NOT NULL").await, 0);

    // PRO with the policy still off: still dropped.
    on_pro_with(&app, &t, json!({"website_tracking_enabled": false})).await;
    upload(&app, &t.agent, vec![record("u-2", 20, 5, "Browser", Some("https://news.example/b"))]).await;
    assert_eq!(count(&app, "activity_records WHERE url IS NOT NULL").await, 0);

    // Plan and policy both on: kept, and the day shows the site.
    set_policy(&app, &t, json!({"website_tracking_enabled": true})).await;
    let receipt: Value = upload(&app, &t.agent, vec![record("u-3", 10, 5, "Browser", Some("https://docs.example/c"))])
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(receipt["urls_dropped"], 0);
    assert_eq!(count(&app, "activity_records WHERE url IS NOT NULL").await, 1);
    let day = day_of(&app, &t, Utc::now().date_naive().to_string()).await;
    let sites: Vec<&str> =
        day["top_sites"].as_array().expect("sites").iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(sites, ["docs.example"]);
}

async fn a_policy_without_activity_tracking_refuses_the_batch(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t = tenant(&app, "Quiet").await;
    set_policy(&app, &t, json!({"activity_tracking_enabled": false})).await;

    let refused = upload(&app, &t.agent, vec![record("q-1", 30, 5, "Editor", None)]).await;

    assert_eq!(problem(refused, StatusCode::FORBIDDEN).await["code"], "activity_tracking_disabled");
    assert_eq!(count(&app, "activity_records").await, 0);
    assert_eq!(stored_bytes(&app, &t.owner).await, 0);
}

async fn insane_times_are_refused_field_by_field_and_nothing_is_stored(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t = tenant(&app, "Clocks").await;
    let mut backwards = record("t-2", 30, 5, "Editor", None);
    backwards["ended_at"] = json!((Utc::now() - Duration::minutes(40)).to_rfc3339());
    let mut future = record("t-3", 20, 5, "Editor", None);
    future["ended_at"] = json!((Utc::now() + Duration::hours(2)).to_rfc3339());
    let ancient = record("t-4", 60 * 24 * 45, 5, "Editor", None);
    let batch =
        vec![record("t-1", 10, 5, "Editor", None), backwards, future, ancient, record("t-1", 5, 1, "Editor", None)];

    let refused = upload(&app, &t.agent, batch).await;

    let body = problem(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
    let errors = &body["errors"];
    assert!(errors["records[1].ended_at"][0].as_str().unwrap_or("").contains("before started_at"), "{body}");
    assert!(errors["records[1].started_at"][0].as_str().unwrap_or("").contains("ordered"), "{body}");
    assert!(errors["records[2].ended_at"][0].as_str().unwrap_or("").contains("future"), "{body}");
    assert!(errors["records[3].started_at"].to_string().contains("30 days"), "{body}");
    assert!(errors["records[4].id"][0].as_str().unwrap_or("").contains("repeated"), "{body}");
    assert_eq!(count(&app, "activity_records").await, 0, "nothing half-written");

    let too_many: Vec<Value> = (0..501).map(|i| record(&format!("m-{i}"), 30, 0, "Editor", None)).collect();
    let body = problem(upload(&app, &t.agent, too_many).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(body["errors"]["records"].is_array(), "{body}");
    let blank =
        problem(upload(&app, &t.agent, vec![record("b-1", 5, 1, "  ", None)]).await, StatusCode::UNPROCESSABLE_ENTITY)
            .await;
    assert!(blank["errors"]["records[0].application"].is_array(), "{blank}");
    let unknown = app
        .request(
            Method::POST,
            "/api/v1/agent/activity",
            Some("vigil_ag_not-a-real-secret"),
            Some(json!({"records": [record("x", 5, 1, "E", None)]})),
        )
        .await;
    assert_eq!(problem(unknown, StatusCode::UNAUTHORIZED).await["code"], "unauthenticated");
}

async fn day_of(app: &TestApp, t: &Tenant, date: String) -> Value {
    let response =
        app.get(&format!("/api/v1/employees/{}/activity?date={date}", t.employee_id), &t.owner.access_token).await;
    assert_eq!(response.status(), StatusCode::OK, "day of activity");
    response.json().await.expect("json")
}

async fn the_day_timeline_clips_spans_and_totals_active_time(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t = tenant(&app, "Timeline").await;
    let today = Utc::now().date_naive();
    let midnight = today.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
    let span = |id: &str, state: &str, app_name: &str, start: chrono::DateTime<Utc>, minutes: i64| {
        json!({"id": id, "state": state, "application": app_name, "started_at": start.to_rfc3339(),
               "ended_at": (start + Duration::minutes(minutes)).to_rfc3339()})
    };
    // Across midnight: 20 minutes yesterday, 10 today. The test runs at least 40 minutes after midnight
    // in the usual case; before that, the later spans would be in the future, so shift everything back.
    let base = if Utc::now() - midnight > Duration::minutes(45) { midnight } else { midnight - Duration::days(1) };
    let day = base.date_naive();
    let batch = vec![
        span("d-1", "ACTIVE", "Editor", base - Duration::minutes(20), 30),
        span("d-2", "IDLE", "Editor", base + Duration::minutes(10), 5),
        span("d-3", "ACTIVE", "Terminal", base + Duration::minutes(15), 20),
    ];
    let stored = upload(&app, &t.agent, batch).await;
    assert_eq!(stored.status(), StatusCode::OK, "{}", stored.text().await.unwrap_or_default());

    let timeline = day_of(&app, &t, day.to_string()).await;

    assert_eq!(timeline["active_secs"], (10 + 20) * 60, "{timeline}");
    assert_eq!(timeline["idle_secs"], 5 * 60);
    assert_eq!(timeline["records"].as_array().map(Vec::len), Some(3));
    assert_eq!(timeline["records"][0]["started_at"], base.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
    assert_eq!(timeline["top_applications"][0], json!({"name": "Terminal", "active_secs": 1200}));
    assert_eq!(timeline["top_applications"][1], json!({"name": "Editor", "active_secs": 600}));
    assert_eq!(timeline["truncated"], false);

    let bad =
        app.get(&format!("/api/v1/employees/{}/activity?date=yesterday", t.employee_id), &t.owner.access_token).await;
    assert!(bad.status().is_client_error());
    let viewer = app.add_user(&t.owner, "VIEWER").await;
    let hidden =
        app.get(&format!("/api/v1/employees/{}/activity?date={day}", t.employee_id), &viewer.access_token).await;
    assert_eq!(problem(hidden, StatusCode::FORBIDDEN).await["code"], "forbidden");
}

/// A link signed the documented way (HMAC-SHA256 under a key derived from the server secret), computed here
/// without the server's code, so the test also pins the scheme down.
fn independently_signed(app: &TestApp, object: &str, company: &str, expires: i64) -> String {
    use hmac::{Hmac, Mac};
    let mut derive = Hmac::<sha2::Sha256>::new_from_slice(app.config.jwt_secret.expose().as_bytes()).expect("key");
    derive.update(b"vigil signed blob links v1");
    let key = derive.finalize().into_bytes();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).expect("key");
    mac.update(format!("{object}\n{company}\n{expires}").as_bytes());
    format!("company={company}&expires={expires}&signature={}", hex::encode(mac.finalize().into_bytes()))
}

fn screenshot_form(id: &str, image: &[u8]) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new()
        .text("id", id.to_owned())
        .text("taken_at", (Utc::now() - Duration::minutes(1)).to_rfc3339())
        .part(
            "file",
            reqwest::multipart::Part::bytes(image.to_vec()).file_name("shot.png").mime_str("image/png").expect("mime"),
        )
}

pub(crate) async fn upload_screenshot(
    app: &TestApp,
    agent: &EnrolledAgent,
    form: reqwest::multipart::Form,
) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/agent/screenshots"))
        .bearer_auth(&agent.secret)
        .multipart(form)
        .send()
        .await
        .expect("upload")
}

async fn a_screenshot_round_trips_through_the_store_and_a_signed_link(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t = tenant(&app, "Shots").await;
    on_pro_with(&app, &t, json!({"screenshots_enabled": true})).await;

    let created = upload_screenshot(&app, &t.agent, screenshot_form("s-1", PNG)).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let receipt: Value = created.json().await.expect("json");
    let resent = upload_screenshot(&app, &t.agent, screenshot_form("s-1", PNG)).await;
    assert_eq!(resent.status(), StatusCode::OK);
    let resent: Value = resent.json().await.expect("json");
    assert_eq!((resent["id"].clone(), resent["duplicate"].clone()), (receipt["id"].clone(), json!(true)));
    assert_eq!(count(&app, "screenshots").await, 1);
    assert_eq!(stored_bytes(&app, &t.owner).await, i64::try_from(PNG.len()).expect("len"));

    let list: Value = app
        .get(&format!("/api/v1/employees/{}/screenshots", t.employee_id), &t.owner.access_token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(list["total"], 1);
    let shot = &list["data"][0];
    assert_eq!((shot["id"].clone(), shot["content_type"].clone()), (receipt["id"].clone(), json!("image/png")));
    let link = shot["url"].as_str().expect("url");

    // The link needs no Authorization header and serves the bytes as uploaded.
    let image = app.client.get(app.url(link)).send().await.expect("image");
    assert_eq!(image.status(), StatusCode::OK);
    assert_eq!(image.headers()["content-type"], "image/png");
    assert_eq!(image.bytes().await.expect("bytes").as_ref(), PNG);

    // The blob is in the filesystem store under the data folder, not under a guessable name.
    let key = app.execute_sql_text("SELECT object_key AS value FROM screenshots").await;
    let blobs = vigil::storage::blobs::BlobStore::open(&app.config.object_store_url).expect("store");
    assert!(blobs.exists(&key).await.expect("exists"));
    assert!(app.config.object_store_url.to_file_path().expect("folder").join(&key).is_file());

    // Tampered and expired links are refused.
    let tampered = link.replace("signature=", "signature=00");
    let response = app.client.get(app.url(&tampered)).send().await.expect("tampered");
    assert_eq!(problem(response, StatusCode::FORBIDDEN).await["code"], "invalid_link");
    let other_id = link.replace(receipt["id"].as_str().expect("id"), &uuid::Uuid::now_v7().to_string());
    let response = app.client.get(app.url(&other_id)).send().await.expect("other");
    assert_eq!(problem(response, StatusCode::FORBIDDEN).await["code"], "invalid_link");
    let expired_query = independently_signed(
        &app,
        receipt["id"].as_str().expect("id"),
        &t.owner.company_id,
        Utc::now().timestamp() - 1,
    );
    let expired = format!("/api/v1/screenshots/{}/content?{expired_query}", receipt["id"].as_str().expect("id"));
    let response = app.client.get(app.url(&expired)).send().await.expect("expired");
    assert_eq!(problem(response, StatusCode::FORBIDDEN).await["code"], "link_expired");
}

async fn screenshots_need_the_plan_the_policy_and_a_real_image(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("SCREENSHOT_MAX_BYTES", "2048")]).await;
    let t = tenant(&app, "Gates").await;

    let free = upload_screenshot(&app, &t.agent, screenshot_form("g-1", PNG)).await;
    let body = problem(free, StatusCode::FORBIDDEN).await;
    assert_eq!(body["code"], "feature_not_in_plan");
    assert!(body["detail"].as_str().unwrap_or("").contains("Upgrade to PRO"), "{body}");

    on_pro_with(&app, &t, json!({"screenshots_enabled": false})).await;
    let off = upload_screenshot(&app, &t.agent, screenshot_form("g-2", PNG)).await;
    assert_eq!(problem(off, StatusCode::FORBIDDEN).await["code"], "screenshots_disabled");

    set_policy(&app, &t, json!({"screenshots_enabled": true})).await;
    let html = upload_screenshot(&app, &t.agent, screenshot_form("g-3", b"<html><script>alert(1)</script>")).await;
    assert_eq!(problem(html, StatusCode::UNSUPPORTED_MEDIA_TYPE).await["code"], "unsupported_media_type");
    let mut big = PNG.to_vec();
    big.resize(4096, 0);
    let too_big = upload_screenshot(&app, &t.agent, screenshot_form("g-4", &big)).await;
    assert_eq!(problem(too_big, StatusCode::PAYLOAD_TOO_LARGE).await["code"], "payload_too_large");
    let json_body =
        app.request(Method::POST, "/api/v1/agent/screenshots", Some(&t.agent.secret), Some(json!({}))).await;
    assert_eq!(problem(json_body, StatusCode::UNSUPPORTED_MEDIA_TYPE).await["code"], "unsupported_media_type");
    let no_id = reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(PNG.to_vec()));
    let body = problem(upload_screenshot(&app, &t.agent, no_id).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(body["errors"]["id"].is_array() && body["errors"]["taken_at"].is_array(), "{body}");

    assert_eq!(count(&app, "screenshots").await, 0);
    assert_eq!(stored_bytes(&app, &t.owner).await, 0);
    let folder = app.config.object_store_url.to_file_path().expect("folder");
    let blobs = walk(&folder);
    assert!(blobs.is_empty(), "refused uploads leave no blob: {blobs:?}");
}

fn walk(folder: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(folder) else { return Vec::new() };
    entries
        .flatten()
        .flat_map(|entry| if entry.path().is_dir() { walk(&entry.path()) } else { vec![entry.path()] })
        .collect()
}

async fn the_storage_limit_refuses_uploads_and_eighty_percent_raises_usage_high(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t = tenant(&app, "Hoarder").await;
    // FREE allows 1 GB. Data stored earlier is stood in for by the meter itself.
    app.execute_sql(&format!("UPDATE companies SET storage_bytes = 799999900 WHERE id = '{}'", t.owner.company_id))
        .await;

    let crossing = upload(&app, &t.agent, vec![record("h-1", 10, 5, "Editor", None)]).await;
    assert_eq!(crossing.status(), StatusCode::OK);
    let alerts: Value =
        app.get("/api/v1/alerts?type=USAGE_HIGH", &t.owner.access_token).await.json().await.expect("json");
    let storage_alert =
        alerts["data"].as_array().expect("alerts").iter().find(|a| a["related_data"]["limit"] == "max_storage_gb");
    let storage_alert = storage_alert.unwrap_or_else(|| panic!("USAGE_HIGH for storage: {alerts}"));
    assert!(storage_alert["message"].as_str().unwrap_or("").contains("GB of storage"), "{storage_alert}");

    app.execute_sql(&format!("UPDATE companies SET storage_bytes = 999999990 WHERE id = '{}'", t.owner.company_id))
        .await;
    let refused =
        upload(&app, &t.agent, vec![record("h-2", 8, 1, "Editor", None), record("h-3", 6, 1, "Editor", None)]).await;

    let body = problem(refused, StatusCode::FORBIDDEN).await;
    assert_eq!(body["code"], "storage_limit_reached");
    assert_eq!(body["plan_limit"]["limit"], "max_storage_gb");
    assert_eq!(body["plan_limit"]["max"], 1_000_000_000_i64);
    assert_eq!(body["plan_limit"]["upgrade_tier"], "PRO");
    assert_eq!(count(&app, "activity_records").await, 1, "the refused batch left nothing");
    assert_eq!(stored_bytes(&app, &t.owner).await, 999_999_990);
    let billing: Value = app.get("/api/v1/billing", &t.owner.access_token).await.json().await.expect("json");
    assert_eq!(billing["usage"]["storage_bytes"]["percent"], 99);
}

async fn retention_deletes_old_rows_and_blobs_and_releases_their_bytes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t = tenant(&app, "Old").await;
    on_pro_with(&app, &t, json!({"screenshots_enabled": true})).await;
    upload(&app, &t.agent, vec![record("o-1", 30, 5, "Editor", None), record("o-2", 20, 5, "Editor", None)]).await;
    assert_eq!(upload_screenshot(&app, &t.agent, screenshot_form("o-s", PNG)).await.status(), StatusCode::CREATED);
    let key = app.execute_sql_text("SELECT object_key AS value FROM screenshots").await;
    let before = stored_bytes(&app, &t.owner).await;
    // Age one record and the screenshot past PRO's 180 days, as if they had been kept that long.
    let aged = "'2020-01-01 00:00:00'";
    app.execute_sql(&format!(
        "UPDATE activity_records SET started_at = {aged}, ended_at = {aged} WHERE client_id = 'o-1'"
    ))
    .await;
    app.execute_sql(&format!("UPDATE screenshots SET taken_at = {aged}")).await;
    let blobs = vigil::storage::blobs::BlobStore::open(&app.config.object_store_url).expect("store");

    // Two instances sweep at the same moment: each row's bytes are released once.
    let (first, second) = tokio::join!(
        vigil::sweeps::retention::sweep(&app.pool, &blobs, app.config.retention_hold_days),
        vigil::sweeps::retention::sweep(&app.pool, &blobs, app.config.retention_hold_days)
    );
    let (first, second) = (first.expect("sweep"), second.expect("sweep"));

    assert_eq!(first.activity_records + second.activity_records, 1);
    assert_eq!(first.screenshots + second.screenshots, 1);
    assert_eq!(count(&app, "activity_records").await, 1);
    assert_eq!(count(&app, "screenshots").await, 0);
    assert!(!blobs.exists(&key).await.expect("exists"), "the blob went with its row");
    assert_eq!(count(&app, "blob_deletions").await, 0);
    let remaining: i64 = app
        .execute_sql_text("SELECT CAST(size_bytes AS TEXT) AS value FROM activity_records")
        .await
        .parse()
        .expect("size");
    assert_eq!(stored_bytes(&app, &t.owner).await, remaining);
    assert!(remaining < before);
    let audit: Value = app
        .get("/api/v1/audit-logs?action=data.retention_purged", &t.owner.access_token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(audit["data"][0]["details"]["screenshots"], 1, "{audit}");
}

async fn a_downgrade_applies_the_shorter_retention_after_the_hold(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t = tenant(&app, "Downgrade").await;
    on_pro_with(&app, &t, json!({})).await;
    upload(&app, &t.agent, vec![record("k-1", 30, 5, "Editor", None)]).await;
    let ninety_days_ago = (Utc::now() - Duration::days(90)).naive_utc().format("%Y-%m-%d %H:%M:%S").to_string();
    app.execute_sql(&format!(
        "UPDATE activity_records SET started_at = '{ninety_days_ago}', ended_at = '{ninety_days_ago}'"
    ))
    .await;
    let blobs = vigil::storage::blobs::BlobStore::open(&app.config.object_store_url).expect("store");

    vigil::sweeps::retention::sweep(&app.pool, &blobs, app.config.retention_hold_days).await.expect("sweep");
    assert_eq!(count(&app, "activity_records").await, 1, "PRO keeps 180 days");

    app.execute_sql(&format!(
        "UPDATE subscriptions SET tier_code = 'FREE' WHERE company_id = '{}'",
        t.owner.company_id
    ))
    .await;
    vigil::sweeps::retention::sweep(&app.pool, &blobs, app.config.retention_hold_days).await.expect("sweep");
    assert_eq!(count(&app, "activity_records").await, 1, "what PRO kept is held after the downgrade");

    app.execute_sql(&format!(
        "UPDATE companies SET retention_hold_until = '2020-01-01 00:00:00' WHERE id = '{}'",
        t.owner.company_id
    ))
    .await;
    vigil::sweeps::retention::sweep(&app.pool, &blobs, app.config.retention_hold_days).await.expect("sweep");
    assert_eq!(count(&app, "activity_records").await, 0, "FREE keeps 30 days once the hold ends");
    assert_eq!(stored_bytes(&app, &t.owner).await, 0);
}

async fn another_company_sees_none_of_the_uploads(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let a = tenant(&app, "Alpha").await;
    let b = tenant(&app, "Beta").await;
    on_pro_with(&app, &a, json!({"screenshots_enabled": true})).await;
    upload(&app, &a.agent, vec![record("x-1", 30, 5, "Secret App", None)]).await;
    let shot: Value = upload_screenshot(&app, &a.agent, screenshot_form("x-s", PNG)).await.json().await.expect("json");
    let shot_id = shot["id"].as_str().expect("id");
    let today = Utc::now().date_naive();

    for path in [
        format!("/api/v1/employees/{}/activity?date={today}", a.employee_id),
        format!("/api/v1/employees/{}/screenshots", a.employee_id),
        format!("/api/v1/screenshots/{shot_id}"),
    ] {
        let response = app.get(&path, &b.owner.access_token).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    // B's own agent uploading under A's record id stores B's own record; A's stays A's.
    upload(&app, &b.agent, vec![record("x-1", 30, 5, "Beta App", None)]).await;
    let a_day = day_of(&app, &a, today.to_string()).await;
    assert_eq!(a_day["records"].as_array().map(Vec::len), Some(1));
    assert_eq!(a_day["records"][0]["application"], "Secret App");
    // A link signed for A's company does not open with B's company swapped in.
    let link: Value =
        app.get(&format!("/api/v1/screenshots/{shot_id}"), &a.owner.access_token).await.json().await.expect("json");
    let swapped = link["url"].as_str().expect("url").replace(&a.owner.company_id, &b.owner.company_id);
    let response = app.client.get(app.url(&swapped)).send().await.expect("swapped");
    assert_eq!(problem(response, StatusCode::FORBIDDEN).await["code"], "invalid_link");
}

async fn a_deleted_screenshot_takes_its_image_and_bytes_with_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t = tenant(&app, "Delete").await;
    on_pro_with(&app, &t, json!({"screenshots_enabled": true})).await;
    let shot: Value = upload_screenshot(&app, &t.agent, screenshot_form("d-s", PNG)).await.json().await.expect("json");
    let id = shot["id"].as_str().expect("id");
    let key = app.execute_sql_text("SELECT object_key AS value FROM screenshots").await;
    let link: Value =
        app.get(&format!("/api/v1/screenshots/{id}"), &t.owner.access_token).await.json().await.expect("json");
    let viewer = app.add_user(&t.owner, "VIEWER").await;

    let refused = app.delete(&format!("/api/v1/screenshots/{id}"), &viewer.access_token).await;
    assert_eq!(problem(refused, StatusCode::FORBIDDEN).await["code"], "forbidden");
    let deleted = app.delete(&format!("/api/v1/screenshots/{id}"), &t.owner.access_token).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);

    let blobs = vigil::storage::blobs::BlobStore::open(&app.config.object_store_url).expect("store");
    assert!(!blobs.exists(&key).await.expect("exists"), "the image is gone");
    assert_eq!(stored_bytes(&app, &t.owner).await, 0);
    let gone = app.get(&format!("/api/v1/screenshots/{id}"), &t.owner.access_token).await;
    assert_eq!(problem(gone, StatusCode::NOT_FOUND).await["code"], "not_found");
    let old_link = app.client.get(app.url(link["url"].as_str().expect("url"))).send().await.expect("link");
    assert_eq!(problem(old_link, StatusCode::NOT_FOUND).await["code"], "not_found");
    let again = app.delete(&format!("/api/v1/screenshots/{id}"), &t.owner.access_token).await;
    assert_eq!(problem(again, StatusCode::NOT_FOUND).await["code"], "not_found");
    let audit: Value = app
        .get("/api/v1/audit-logs?action=screenshot.deleted", &t.owner.access_token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(audit["total"], 1, "{audit}");
}
