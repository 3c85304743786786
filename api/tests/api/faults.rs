//! Faults from issue #17: what a user can send that used to panic or answer 500, the object store going
//! away, and the blob deletion queue.

use chrono::{Duration, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, backend_tests, problem};

backend_tests!(
    a_day_outside_1970_to_9999_is_a_422_naming_the_parameter,
    times_before_1970_are_refused_field_by_field,
    an_unreachable_object_store_is_a_503_with_retry_after_on_upload_and_on_image_read,
    one_undeletable_blob_does_not_hold_up_the_others_and_is_parked_after_ten_failures,
    a_deletion_queued_for_an_upload_in_doubt_keeps_a_committed_image_and_removes_an_orphan,
);

use crate::agent_data::{PNG, Tenant, tenant, upload_screenshot};

/// Puts the company on PRO (as a completed Checkout would) with screenshots on.
async fn with_screenshots(app: &TestApp, tenant: &Tenant) {
    app.execute_sql(&format!(
        "UPDATE subscriptions SET tier_code = 'PRO', status = 'ACTIVE' WHERE company_id = '{}'",
        tenant.owner.company_id
    ))
    .await;
    let mut policy: Value = app.get("/api/v1/policy", &tenant.owner.access_token).await.json().await.expect("json");
    policy["settings"]["screenshots_enabled"] = json!(true);
    let response = app
        .request(Method::PUT, "/api/v1/policy", Some(&tenant.owner.access_token), Some(policy["settings"].clone()))
        .await;
    assert_eq!(response.status(), StatusCode::OK, "policy change");
}

fn screenshot_form(id: &str, taken_at: &str) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new().text("id", id.to_owned()).text("taken_at", taken_at.to_owned()).part(
        "file",
        reqwest::multipart::Part::bytes(PNG.to_vec()).file_name("shot.png").mime_str("image/png").expect("mime"),
    )
}

/// The field messages of a 422.
async fn field_errors(response: reqwest::Response) -> Value {
    let body = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(body["code"], "validation_failed");
    body["errors"].clone()
}

async fn a_day_outside_1970_to_9999_is_a_422_naming_the_parameter(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t = tenant(&app, "Calendar").await;
    let activity = format!("/api/v1/employees/{}/activity", t.employee_id);
    let screenshots = format!("/api/v1/employees/{}/screenshots", t.employee_id);

    // The last day chrono knows: the day after it used to overflow and panic (a 500).
    for path in [&activity, &screenshots] {
        for day in ["%2B262142-12-31", "-262143-01-01", "1969-12-31", "%2B02026-11-25"] {
            let errors = field_errors(app.get(&format!("{path}?date={day}"), &t.owner.access_token).await).await;
            let message = errors["date"][0].as_str().unwrap_or_default();
            assert!(message.contains("1970-01-01 to 9999-12-31"), "{path}?date={day}: {errors}");
        }
        let fine = app.get(&format!("{path}?date=9999-12-31"), &t.owner.access_token).await;
        assert_eq!(fine.status(), StatusCode::OK, "{path}: the last day allowed works");
    }
    let errors =
        field_errors(app.get(&format!("{activity}?utc_offset_minutes=99999999999"), &t.owner.access_token).await).await;
    assert!(errors["utc_offset_minutes"].is_array(), "{errors}");
    let errors = field_errors(
        app.get(&format!("{activity}?date=1970-01-01&utc_offset_minutes=841"), &t.owner.access_token).await,
    )
    .await;
    assert_eq!(errors["utc_offset_minutes"][0], "must be between -840 and 840", "{errors}");
    let earliest = app.get(&format!("{activity}?date=1970-01-01&utc_offset_minutes=840"), &t.owner.access_token).await;
    assert_eq!(earliest.status(), StatusCode::OK, "the first day, east of UTC, still works");
}

async fn times_before_1970_are_refused_field_by_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t = tenant(&app, "Epoch").await;
    with_screenshots(&app, &t).await;

    let errors =
        field_errors(app.get("/api/v1/audit-logs?from=0001-01-01T00:00:00Z", &t.owner.access_token).await).await;
    assert!(errors["from"].is_array(), "{errors}");
    let shot = upload_screenshot(&app, &t.agent, screenshot_form("e-1", "0001-01-01T00:00:00Z")).await;
    assert!(field_errors(shot).await["taken_at"][0].as_str().unwrap_or_default().contains("1970"));

    let recent = (Utc::now() - Duration::minutes(1)).to_rfc3339();
    let stored = upload_screenshot(&app, &t.agent, screenshot_form("e-2", &recent)).await;
    assert_eq!(stored.status(), StatusCode::CREATED);
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    app.execute_sql_text(&format!("SELECT CAST(COUNT(*) AS TEXT) AS value FROM {sql}")).await.parse().expect("count")
}

fn blob_store(app: &TestApp) -> vigil::storage::blobs::BlobStore {
    vigil::storage::blobs::BlobStore::open(&app.config.object_store_url).expect("store")
}

fn recently() -> String {
    (Utc::now() - Duration::minutes(1)).to_rfc3339()
}

async fn an_unreachable_object_store_is_a_503_with_retry_after_on_upload_and_on_image_read(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t = tenant(&app, "Outage").await;
    with_screenshots(&app, &t).await;
    assert_eq!(upload_screenshot(&app, &t.agent, screenshot_form("o-1", &recently())).await.status(), 201);
    let list: Value = app
        .get(&format!("/api/v1/employees/{}/screenshots", t.employee_id), &t.owner.access_token)
        .await
        .json()
        .await
        .expect("json");
    let link = list["data"][0]["url"].as_str().expect("url").to_owned();

    // The store's folder is replaced by a file: every read and write of the store now fails.
    let folder: std::path::PathBuf = app.config.object_store_url.to_file_path().expect("folder").components().collect();
    std::fs::remove_dir_all(&folder).expect("remove the store");
    std::fs::write(&folder, b"not a folder").expect("block the store");

    let refused = upload_screenshot(&app, &t.agent, screenshot_form("o-2", &recently())).await;
    assert_eq!(refused.headers().get("retry-after").map(|v| v.as_bytes().to_vec()), Some(b"2".to_vec()));
    assert_eq!(problem(refused, StatusCode::SERVICE_UNAVAILABLE).await["code"], "object_store_unavailable");
    assert_eq!(count(&app, "screenshots").await, 1, "no row without its image");
    let image = app.client.get(app.url(&link)).send().await.expect("image");
    assert!(image.headers().contains_key("retry-after"));
    assert_eq!(problem(image, StatusCode::SERVICE_UNAVAILABLE).await["code"], "object_store_unavailable");
}

/// Queues a key for deletion as if its row had gone at `queued_at`.
async fn queue_deletion(app: &TestApp, key: &str, queued_at: &str, only_if_unreferenced: bool) {
    let flag = if only_if_unreferenced { "TRUE" } else { "FALSE" };
    app.execute_sql(&format!(
        "INSERT INTO blob_deletions (object_key, queued_at, only_if_unreferenced) VALUES ('{key}', '{queued_at}', {flag})"
    ))
    .await;
}

async fn one_undeletable_blob_does_not_hold_up_the_others_and_is_parked_after_ten_failures(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let blobs = blob_store(&app);
    // The oldest key cannot be deleted: a folder stands where its file would be.
    let folder = app.config.object_store_url.to_file_path().expect("folder");
    std::fs::create_dir_all(folder.join("screenshots/stuck/key/inside")).expect("a folder in the way");
    blobs.put("screenshots/fine/key", bytes::Bytes::from_static(PNG)).await.expect("put");
    queue_deletion(&app, "screenshots/stuck/key", "2026-01-01 00:00:00", false).await;
    queue_deletion(&app, "screenshots/fine/key", "2026-01-02 00:00:00", false).await;
    let sweep = || vigil::sweeps::retention::sweep(&app.pool, &blobs, app.config.retention_hold_days);

    let report = sweep().await.expect("sweep");

    assert_eq!(report.blobs_deleted, 1);
    assert!(!blobs.exists("screenshots/fine/key").await.expect("exists"), "the key behind the stuck one went");
    assert_eq!(count(&app, "blob_deletions WHERE attempts = 1 AND next_attempt_at IS NOT NULL").await, 1);
    // Backing off: the next sweep leaves it alone.
    sweep().await.expect("sweep");
    assert_eq!(count(&app, "blob_deletions WHERE attempts = 1").await, 1);
    assert_eq!(app.metric("vigil_blob_deletions_parked").await, 0.0);

    // Its retry times come round (moved forward here) until it is given up on.
    for _ in 0..9 {
        app.execute_sql("UPDATE blob_deletions SET next_attempt_at = NULL").await;
        sweep().await.expect("sweep");
    }
    assert_eq!(count(&app, "blob_deletions WHERE attempts = 10 AND parked_at IS NOT NULL").await, 1);
    assert_eq!(app.metric("vigil_blob_deletions_parked").await, 1.0);
    app.execute_sql("UPDATE blob_deletions SET next_attempt_at = NULL").await;
    sweep().await.expect("sweep");
    assert_eq!(count(&app, "blob_deletions WHERE attempts = 10").await, 1, "a parked key is not retried");
    let error = app.execute_sql_text("SELECT last_error AS value FROM blob_deletions").await;
    assert!(error.contains("screenshots/stuck/key"), "{error}");
}

async fn a_deletion_queued_for_an_upload_in_doubt_keeps_a_committed_image_and_removes_an_orphan(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t = tenant(&app, "Doubt").await;
    with_screenshots(&app, &t).await;
    assert_eq!(upload_screenshot(&app, &t.agent, screenshot_form("d-1", &recently())).await.status(), 201);
    let committed = app.execute_sql_text("SELECT object_key AS value FROM screenshots").await;
    let blobs = blob_store(&app);
    let orphan = format!("screenshots/{}/never-committed", t.owner.company_id);
    blobs.put(&orphan, bytes::Bytes::from_static(PNG)).await.expect("put");
    // Both uploads lost their connection around COMMIT: one row made it, the other did not.
    queue_deletion(&app, &committed, "2026-01-01 00:00:00", true).await;
    queue_deletion(&app, &orphan, "2026-01-01 00:00:00", true).await;

    let report =
        vigil::sweeps::retention::sweep(&app.pool, &blobs, app.config.retention_hold_days).await.expect("sweep");

    assert_eq!(report.blobs_deleted, 1);
    assert!(blobs.exists(&committed).await.expect("exists"), "the committed screenshot keeps its image");
    assert!(!blobs.exists(&orphan).await.expect("exists"), "the orphan is gone");
    assert_eq!(count(&app, "blob_deletions").await, 0);
    let list: Value = app
        .get(&format!("/api/v1/employees/{}/screenshots", t.employee_id), &t.owner.access_token)
        .await
        .json()
        .await
        .expect("json");
    let image = app.client.get(app.url(list["data"][0]["url"].as_str().expect("url"))).send().await.expect("image");
    assert_eq!(image.status(), StatusCode::OK);
}

/// The alert listener's own connection (not the pool's) with each `sslmode`, against the test server, which
/// has TLS on with a self-signed certificate.
#[tokio::test]
async fn the_alert_listener_connects_over_tls_whenever_the_url_requires_it() {
    if crate::helpers::skip_postgres() {
        return;
    }
    let base =
        std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let with = |mode: &str| format!("{base}{}sslmode={mode}", if base.contains('?') { '&' } else { '?' });
    let encrypted = |url: String| async move {
        let (client, connection) = vigil::db::listen::connect(&url).await?;
        tokio::spawn(connection);
        let row = client.query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[]).await?;
        anyhow::Ok(row.get::<_, bool>(0))
    };

    assert!(encrypted(with("require")).await.expect("require connects"), "require is encrypted");
    assert!(!encrypted(with("disable")).await.expect("disable connects"), "disable is plain");
    assert!(encrypted(with("prefer")).await.expect("prefer connects"), "prefer takes TLS when offered");
    // A self-signed certificate is not one the Mozilla roots vouch for: refused, never plain instead.
    let refused = vigil::db::listen::connect(&with("verify-full")).await.err().map(|e| format!("{e:#}"));
    assert!(refused.as_deref().is_some_and(|e| e.contains("TLS")), "{refused:?}");
}
