//! Operating Vigil as a binary: online backups, a full flow whose log holds no secret, and a clean exit on
//! SIGTERM.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, PASSWORD, TestApp};

fn vigil() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_online_backup_of_sqlite_starts_a_working_server() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let owner = app.signup("Backed Up Co").await;
    app.add_employee(&owner, "kept@backup.test").await;
    let dir = tempfile::tempdir().expect("dir");
    let copy = dir.path().join("copy.db");
    let url = match &app.config.database_url {
        vigil::db::DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
        vigil::db::DatabaseUrl::Postgres(_) => unreachable!("a SQLite app"),
    };

    let output = vigil()
        .arg("backup")
        .arg(&copy)
        .env("DATABASE_URL", &url)
        .env("JWT_SECRET", "x".repeat(40))
        .output()
        .expect("vigil backup");
    let again = vigil()
        .arg("backup")
        .arg(&copy)
        .env("DATABASE_URL", &url)
        .env("JWT_SECRET", "x".repeat(40))
        .output()
        .expect("vigil backup");

    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(!again.status.success(), "an existing file is never overwritten");
    let restored = TestApp::serve_database(&format!("sqlite://{}", copy.display())).await;
    let login = restored
        .client
        .post(format!("{}/api/v1/auth/login", restored.address))
        .json(&json!({"email": owner.email, "password": PASSWORD}))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), StatusCode::OK);
    let token = login.json::<Value>().await.expect("json")["access_token"].as_str().expect("token").to_owned();
    let employees: Value = restored
        .client
        .get(format!("{}/api/v1/employees", restored.address))
        .bearer_auth(token)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(employees["data"][0]["email"], "kept@backup.test");
}

/// Runs the real binary through sign-up, sessions, keys, agents and a webhook, then stops it with SIGTERM:
/// it exits 0, and nothing secret was ever written to its log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_flow_logs_no_secret_and_sigterm_exits_cleanly() {
    let dir = tempfile::tempdir().expect("dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
    let log_path = dir.path().join("vigil.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let jwt_secret = "jwt-secret-that-must-never-be-logged-0123456789";
    let (stripe_key, webhook_secret) = ("sk_test_never_logged_4242", "whsec_never_logged_4242");
    let mut server = vigil()
        .env("DATABASE_URL", format!("sqlite://{}", dir.path().join("v.db").display()))
        .env("BIND", format!("127.0.0.1:{port}"))
        .env("JWT_SECRET", jwt_secret)
        .env("STRIPE_SECRET_KEY", stripe_key)
        .env("STRIPE_WEBHOOK_SECRET", webhook_secret)
        .env("RUST_LOG", "debug")
        .stdout(Stdio::from(log.try_clone().expect("log")))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("vigil serve");
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if client.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let post = |path: &str, token: Option<&str>, body: Value| {
        let mut request = client.post(format!("{base}{path}")).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };

    let password = "a password nobody may read 123";
    let session: Value = post("/api/v1/auth/signup", None, json!({"company_name": "Logged Co", "name": "Ann", "email": "ann@logged.test", "password": password, "return_refresh_token": true})).await.expect("signup").json().await.expect("json");
    let access = session["access_token"].as_str().expect("access").to_owned();
    let refresh = session["refresh_token"].as_str().expect("refresh").to_owned();
    post("/api/v1/auth/login", None, json!({"email": "ann@logged.test", "password": "the wrong password 456"}))
        .await
        .expect("login");
    let refreshed: Value = post("/api/v1/auth/refresh", None, json!({"refresh_token": refresh}))
        .await
        .expect("refresh")
        .json()
        .await
        .expect("json");
    let key: Value = post("/api/v1/api-keys", Some(&access), json!({"name": "k", "scope": "read"}))
        .await
        .expect("key")
        .json()
        .await
        .expect("json");
    let api_key = key["key"].as_str().expect("api key").to_owned();
    client.get(format!("{base}/api/v1/audit-logs")).bearer_auth(&api_key).send().await.expect("use key");
    let token: Value =
        post("/api/v1/enrollment-tokens", Some(&access), json!({})).await.expect("token").json().await.expect("json");
    let enrollment_token = token["token"].as_str().expect("enrollment token").to_owned();
    let agent: Value = post(
        "/api/v1/agent/enroll",
        None,
        json!({"enrollment_token": enrollment_token, "hostname": "h", "os": "Linux", "agent_version": "1"}),
    )
    .await
    .expect("enroll")
    .json()
    .await
    .expect("json");
    let agent_secret = agent["agent_secret"].as_str().expect("agent secret").to_owned();
    post("/api/v1/agent/heartbeat", Some(&agent_secret), json!({})).await.expect("heartbeat");
    let ticket: Value = post("/api/v1/alerts/stream-tickets", Some(&access), json!({}))
        .await
        .expect("ticket")
        .json()
        .await
        .expect("json");
    let body = json!({"id": "evt_log", "type": "ping.test", "created": chrono::Utc::now().timestamp(), "data": {"object": {}}}).to_string();
    let signature = vigil::stripe::signature::sign(body.as_bytes(), webhook_secret, chrono::Utc::now().timestamp());
    client
        .post(format!("{base}/api/v1/stripe/webhook"))
        .header("stripe-signature", &signature)
        .body(body)
        .send()
        .await
        .expect("webhook");

    Command::new("kill").args(["-TERM", &server.id().to_string()]).status().expect("kill");
    let status = tokio::task::spawn_blocking(move || server.wait()).await.expect("join").expect("exit status");

    assert!(status.success(), "SIGTERM ends the server cleanly: {status:?}");
    let mut text = String::new();
    std::fs::File::open(&log_path).expect("log").read_to_string(&mut text).expect("read log");
    assert!(text.contains("POST /api/v1/auth/signup 201"), "the access log was captured: {text}");
    let secrets = [
        password,
        "the wrong password 456",
        jwt_secret,
        stripe_key,
        webhook_secret,
        &access,
        &refresh,
        refreshed["refresh_token"].as_str().unwrap_or("(none)"),
        &api_key,
        &enrollment_token,
        &agent_secret,
        ticket["ticket"].as_str().expect("ticket"),
        &signature,
    ];
    for secret in secrets {
        assert!(!text.contains(secret), "the log contains a secret: {secret}");
    }
}
