//! The built web app served on the API's own origin: its pages, its assets, and the API beside it.

use reqwest::StatusCode;

use crate::helpers::{Backend, TestApp, problem};

/// A built app the way Vite lays it out: `index.html` and content-hashed assets.
fn built_app() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("index.html"), "<!doctype html><div id=root></div>").expect("index");
    std::fs::create_dir(dir.path().join("assets")).expect("assets");
    std::fs::write(dir.path().join("assets/index-3f2a1b.js"), "console.log('vigil')").expect("asset");
    std::fs::write(dir.path().join(".env"), "SECRET=1").expect("dotfile");
    dir
}

#[tokio::test]
async fn every_page_of_the_app_loads_index_html_under_a_strict_policy() {
    let web = built_app();
    let app = TestApp::spawn_with(Backend::Sqlite, &[("WEB_DIR", &web.path().display().to_string())]).await;

    for page in ["/", "/billing", "/billing/settings", "/alerts?unread=true"] {
        let response = app.client.get(app.url(page)).send().await.expect("page");
        assert_eq!(response.status(), StatusCode::OK, "{page}");
        assert!(response.headers()["content-type"].to_str().unwrap_or("").starts_with("text/html"), "{page}");
        assert_eq!(response.headers()["cache-control"], "no-cache", "{page}");
        let policy = response.headers()["content-security-policy"].to_str().unwrap_or("").to_owned();
        assert!(policy.contains("script-src 'self';") && policy.contains("frame-ancestors 'none'"), "{policy}");
        assert!(response.text().await.expect("body").contains("<div id=root>"), "{page}");
    }
}

#[tokio::test]
async fn hashed_assets_are_cached_for_good_and_nothing_outside_the_app_is_served() {
    let web = built_app();
    let app = TestApp::spawn_with(Backend::Sqlite, &[("WEB_DIR", &web.path().display().to_string())]).await;

    let asset = app.client.get(app.url("/assets/index-3f2a1b.js")).send().await.expect("asset");
    assert_eq!(asset.status(), StatusCode::OK);
    assert!(asset.headers()["content-type"].to_str().unwrap_or("").contains("javascript"));
    assert!(asset.headers()["cache-control"].to_str().unwrap_or("").contains("immutable"));
    assert_eq!(asset.text().await.expect("body"), "console.log('vigil')");

    for sneaky in ["/.env", "/assets/../.env", "/%2e%2e/Cargo.toml", "/..%2f..%2fCargo.toml"] {
        let response = app.client.get(app.url(sneaky)).send().await.expect("request");
        let body = response.text().await.expect("body");
        assert!(!body.contains("SECRET") && !body.contains("[package]"), "{sneaky} leaked a file");
    }
}

#[tokio::test]
async fn the_api_beside_the_app_still_answers_problems() {
    let web = built_app();
    let app = TestApp::spawn_with(Backend::Sqlite, &[("WEB_DIR", &web.path().display().to_string())]).await;

    let unknown = app.client.get(app.url("/api/v1/no-such-route")).send().await.expect("request");
    assert_eq!(problem(unknown, StatusCode::NOT_FOUND).await["code"], "route_not_found");
    let post = app.client.post(app.url("/billing")).send().await.expect("request");
    assert_eq!(problem(post, StatusCode::NOT_FOUND).await["code"], "route_not_found");
    let health = app.client.get(app.url("/healthz")).send().await.expect("request");
    assert_eq!(health.status(), StatusCode::OK);
}

#[tokio::test]
async fn without_a_built_app_the_root_is_a_problem_404() {
    let empty = tempfile::tempdir().expect("temp dir");
    let app = TestApp::spawn_with(Backend::Sqlite, &[("WEB_DIR", &empty.path().display().to_string())]).await;

    let root = app.client.get(app.url("/billing")).send().await.expect("request");
    assert_eq!(problem(root, StatusCode::NOT_FOUND).await["code"], "route_not_found");
}
