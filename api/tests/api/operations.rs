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

/// SIGTERM during a slow upload and with a live alert stream open: the server stops accepting at once,
/// ends the stream cleanly, finishes the upload's request, and exits 0 well within its timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_requests_in_flight_ends_streams_and_exits_cleanly() {
    use futures_util::StreamExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let dir = tempfile::tempdir().expect("dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
    let server = vigil()
        .env("DATABASE_URL", format!("sqlite://{}", dir.path().join("v.db").display()))
        .env("BIND", format!("127.0.0.1:{port}"))
        .env("JWT_SECRET", "x".repeat(40))
        .env("SHUTDOWN_TIMEOUT_SECS", "20")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("vigil serve");
    let mut server = KillOnDrop(Some(server));
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if client.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let session: Value = client
        .post(format!("{base}/api/v1/auth/signup"))
        .json(&json!({"company_name": "Draining Co", "name": "Ann", "email": "ann@drain.test", "password": PASSWORD}))
        .send()
        .await
        .expect("signup")
        .json()
        .await
        .expect("json");
    let token = session["access_token"].as_str().expect("token").to_owned();
    let ticket: Value = client
        .post(format!("{base}/api/v1/alerts/stream-tickets"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("ticket")
        .json()
        .await
        .expect("json");
    let stream = client
        .get(format!("{base}/api/v1/alerts/stream?ticket={}", ticket["ticket"].as_str().expect("ticket")))
        .send()
        .await
        .expect("stream");
    assert_eq!(stream.status(), StatusCode::OK);
    let mut stream = stream.bytes_stream();
    let mut opening = String::new();
    while !opening.contains("connected") {
        let chunk = stream.next().await.expect("the stream opens").expect("bytes");
        opening.push_str(&String::from_utf8_lossy(&chunk));
    }
    // A client that sends its request body slowly: the head and half the body now, the rest after SIGTERM.
    let body = json!({"email": "slow@drain.test", "name": "Slow Upload"}).to_string();
    let (head, tail) = body.split_at(body.len() / 2);
    let mut slow = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
    let request = format!(
        "POST /api/v1/employees HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{head}",
        body.len()
    );
    slow.write_all(request.as_bytes()).await.expect("head");
    tokio::time::sleep(Duration::from_millis(300)).await;

    let signalled = std::time::Instant::now();
    Command::new("kill").args(["-TERM", &server.id().to_string()]).status().expect("kill");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let newcomer = tokio::net::TcpStream::connect(("127.0.0.1", port)).await;
    let stream_end = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(chunk) = stream.next().await {
            chunk?;
        }
        Ok::<_, reqwest::Error>(())
    })
    .await;
    slow.write_all(tail.as_bytes()).await.expect("the rest of the body");
    let mut answer = String::new();
    slow.read_to_string(&mut answer).await.expect("the answer");
    let mut child = server.0.take().expect("the server");
    let status = tokio::task::spawn_blocking(move || child.wait()).await.expect("join").expect("exit status");
    let took = signalled.elapsed();

    assert!(newcomer.is_err(), "new connections are refused once shutdown starts");
    assert!(matches!(stream_end, Ok(Ok(()))), "the alert stream ends cleanly, not cut: {stream_end:?}");
    assert!(answer.starts_with("HTTP/1.1 201"), "the request in flight completes: {answer}");
    assert!(status.success(), "exit status {status:?}");
    assert!(took < Duration::from_secs(10), "shutdown took {took:?}; streams must not hold it to the timeout");
}

/// A server process that is killed if the test fails before it is waited for.
struct KillOnDrop(Option<std::process::Child>);

impl KillOnDrop {
    fn id(&self) -> u32 {
        self.0.as_ref().map_or(0, std::process::Child::id)
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// SIGTERM while an outgoing webhook is being answered: the server waits for the delivery, records it, and
/// exits; started again, it does not send it a second time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_webhook_delivery_in_flight_end_and_records_it() {
    use crate::receiver::{Receiver, free_port};
    let dir = tempfile::tempdir().expect("dir");
    let port = free_port();
    let start = || {
        let server = vigil()
            .env("DATABASE_URL", format!("sqlite://{}", dir.path().join("v.db").display()))
            .env("BIND", format!("127.0.0.1:{port}"))
            .env("JWT_SECRET", "x".repeat(40))
            .env("SHUTDOWN_TIMEOUT_SECS", "20")
            .env("WEBHOOKS_ALLOW_HTTP", "1")
            .env("WEBHOOKS_ALLOW_PRIVATE", "1")
            .env("OUTBOX_POLL_MS", "100")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("vigil serve");
        KillOnDrop(Some(server))
    };
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let ready = || async {
        for _ in 0..100 {
            if client.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the server did not start");
    };
    let mut server = start();
    ready().await;
    let session: Value = client
        .post(format!("{base}/api/v1/auth/signup"))
        .json(&json!({"company_name": "Hooked Co", "name": "Ann", "email": "ann@hooked.test", "password": PASSWORD}))
        .send()
        .await
        .expect("signup")
        .json()
        .await
        .expect("json");
    let token = session["access_token"].as_str().expect("token").to_owned();
    let receiver_port = free_port();
    let endpoint: Value = client
        .post(format!("{base}/api/v1/webhook-endpoints"))
        .bearer_auth(&token)
        .json(&json!({"url": format!("http://127.0.0.1:{receiver_port}/"), "event_types": ["employee.created"]}))
        .send()
        .await
        .expect("endpoint")
        .json()
        .await
        .expect("json");
    let receiver = Receiver::start(receiver_port, &[endpoint["secret"].as_str().expect("secret")]);
    receiver.answer(json!({"delay_secs": 2})).await;
    let created = client
        .post(format!("{base}/api/v1/employees"))
        .bearer_auth(&token)
        .json(&json!({"email": "e@hooked.test", "name": "E"}))
        .send()
        .await
        .expect("employee");
    assert_eq!(created.status(), StatusCode::CREATED);
    // Signal only once the delivery is claimed and in flight (the receiver answers after 2 s).
    let database = dir.path().join("v.db").display().to_string();
    let claimed = move || {
        use diesel::{Connection, RunQueryDsl};
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = diesel::SqliteConnection::establish(&database).expect("the server's database");
        diesel::sql_query("SELECT COUNT(*) AS n FROM outbox_messages WHERE claimed_by IS NOT NULL")
            .get_result::<Count>(&mut conn)
            .map(|count| count.n)
            .unwrap_or(0)
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while tokio::task::spawn_blocking(claimed.clone()).await.expect("join") == 0 {
        assert!(std::time::Instant::now() < deadline, "the delivery was never claimed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    Command::new("kill").args(["-TERM", &server.id().to_string()]).status().expect("kill");
    let mut child = server.0.take().expect("the server");
    let status = tokio::task::spawn_blocking(move || child.wait()).await.expect("join").expect("exit status");
    assert!(status.success(), "exit status {status:?}");
    assert_eq!(receiver.accepted().len(), 1, "the delivery in flight was answered before the exit");

    let _again = start();
    ready().await;
    let attempts: Value = client
        .get(format!("{base}/api/v1/webhook-endpoints/{}/attempts", endpoint["id"].as_str().expect("id")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("attempts")
        .json()
        .await
        .expect("json");
    let attempts = attempts["data"].as_array().expect("attempts").clone();
    assert_eq!(attempts.len(), 1, "and recorded: {attempts:#?}");
    assert_eq!(attempts[0]["succeeded"], true);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.deliveries().len(), 1, "so it is not sent again");
}
