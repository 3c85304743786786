//! The committed OpenAPI document matches the code, and the served one is the same document.

use std::path::PathBuf;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Backend, TestApp};

fn committed_spec() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../openapi/openapi.json")
}

#[test]
fn the_committed_openapi_document_is_up_to_date() {
    if let Err(error) = vigil::openapi::check_snapshot(&committed_spec()) {
        panic!("{error}");
    }
}

#[test]
fn the_drift_check_fails_on_a_stale_document() {
    let dir = tempfile::tempdir().expect("temp dir");
    let stale = dir.path().join("openapi.json");
    let current = vigil::openapi::spec_json().expect("spec");
    std::fs::write(&stale, current.replace("\"list_users\"", "\"list_people\"")).expect("write");

    let error = vigil::openapi::check_snapshot(&stale).err().map(|e| e.to_string()).unwrap_or_default();

    assert!(error.contains("stale") && error.contains("make openapi"), "{error}");
}

#[test]
fn every_operation_documents_its_errors_and_has_an_id() {
    let spec: Value = serde_json::from_str(&vigil::openapi::spec_json().expect("spec")).expect("json");
    assert_eq!(spec["openapi"], "3.1.0");
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("item") {
            let id = operation["operationId"].as_str().unwrap_or_default();
            assert!(!id.is_empty(), "{method} {path} has no operationId");
            let responses = operation["responses"].as_object().expect("responses");
            if path.starts_with("/api/v1/") {
                assert!(responses.contains_key("503") && responses.contains_key("500"), "{id} lacks 500/503");
            }
            if operation.get("requestBody").is_some() {
                for status in ["400", "413", "415", "422"] {
                    assert!(responses.contains_key(status), "{id} lacks {status}");
                }
            }
            if operation.get("security").is_some() {
                assert!(responses.contains_key("401") && responses.contains_key("403"), "{id} lacks 401/403");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_document_is_the_generated_one() {
    let app = TestApp::spawn(Backend::Sqlite).await;

    let response = app.client.get(app.url("/api/v1/openapi.json")).send().await.expect("spec");

    assert_eq!(response.status(), StatusCode::OK);
    let served: Value = response.json().await.expect("json");
    let generated: Value = serde_json::from_str(&vigil::openapi::spec_json().expect("spec")).expect("json");
    assert_eq!(served, generated);
}
