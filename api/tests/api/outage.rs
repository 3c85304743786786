//! A database outage under load: the API reaches PostgreSQL through a TCP proxy the test controls. While
//! the proxy is cut, requests that need the database answer 503 quickly and write nothing; afterwards the
//! same process serves again, and a webhook refused during the outage is processed when Stripe redelivers.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::helpers::{Backend, Session, TestApp, postgres_address, problem};
use crate::stripe_fake::{PRICE_PRO, localstripe};

/// A TCP proxy in front of PostgreSQL. `cut` closes every proxied connection and resets new ones, as a
/// database restart or a failover does; `restore` lets connections through again.
struct DatabaseProxy {
    port: u16,
    open: watch::Sender<bool>,
}

impl DatabaseProxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy listens");
        let port = listener.local_addr().expect("address").port();
        let (open, _) = watch::channel(true);
        let state = open.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let mut cut = state.subscribe();
                if !*cut.borrow_and_update() {
                    drop(client);
                    continue;
                }
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&upstream).await else { return };
                    let mut client = client;
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.wait_for(|open| !*open) => {}
                    }
                });
            }
        });
        Self { port, open }
    }

    fn cut(&self) {
        self.open.send_replace(false);
    }

    fn restore(&self) {
        self.open.send_replace(true);
    }

    /// `url` with its host and port replaced by the proxy's.
    fn route(&self, url: &str) -> String {
        url.replacen(&postgres_address(), &format!("127.0.0.1:{}", self.port), 1)
    }
}

/// What one request of the steady load saw.
#[derive(Debug)]
struct Outcome {
    what: String,
    status: Option<StatusCode>,
    elapsed: Duration,
    retry_after: bool,
    body: Value,
}

async fn timed(what: String, request: reqwest::RequestBuilder) -> Outcome {
    let started = Instant::now();
    // A request that hangs past this counts as a failure below (status None).
    let response = request.timeout(Duration::from_secs(8)).send().await;
    let elapsed = started.elapsed();
    match response {
        Ok(response) => {
            let status = response.status();
            let retry_after = response.headers().contains_key("retry-after");
            let body = response.json().await.unwrap_or(Value::Null);
            Outcome { what, status: Some(status), elapsed, retry_after, body }
        }
        Err(error) => Outcome { what, status: None, elapsed, retry_after: false, body: json!(error.to_string()) },
    }
}

/// Reads and writes (API keys, each with its audit entry) from four clients in a loop until `stop` is set.
fn steady_load(app: &TestApp, owner: &Session, stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<Vec<Outcome>> {
    let (client, base, token) = (app.client.clone(), app.address.clone(), owner.access_token.clone());
    tokio::spawn(async move {
        let outcomes = Arc::new(Mutex::new(Vec::new()));
        let workers = (0..4).map(|worker| {
            let (client, base, token, stop, outcomes) =
                (client.clone(), base.clone(), token.clone(), stop.clone(), outcomes.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while !*stop.borrow() {
                    n += 1;
                    let outcome = if n % 2 == 0 {
                        timed("read".to_owned(), client.get(format!("{base}/api/v1/me")).bearer_auth(&token)).await
                    } else {
                        let name = format!("load-{worker}-{n}");
                        let body = json!({"name": name, "scope": "read"});
                        timed(name, client.post(format!("{base}/api/v1/api-keys")).bearer_auth(&token).json(&body))
                            .await
                    };
                    outcomes.lock().expect("lock").push(outcome);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        });
        for worker in workers.collect::<Vec<_>>() {
            worker.await.expect("load worker");
        }
        std::mem::take(&mut *outcomes.lock().expect("lock"))
    })
}

/// An event that moves the company to PRO, signed as Stripe would.
async fn deliver(app: &TestApp, event: &Value) -> reqwest::Response {
    let body = event.to_string();
    let signature =
        vigil::stripe::signature::sign(body.as_bytes(), "whsec_outage_test", chrono::Utc::now().timestamp());
    app.client
        .post(app.url("/api/v1/stripe/webhook"))
        .header("content-type", "application/json")
        .header("stripe-signature", signature)
        .body(body)
        .timeout(Duration::from_secs(8))
        .send()
        .await
        .expect("delivery")
}

async fn wait_until_serving(app: &TestApp, owner: &Session) -> Duration {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(15) {
        if app.get("/api/v1/me", &owner.access_token).await.status() == StatusCode::OK {
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the API did not serve again within 15 s of the database coming back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_outage_under_load_is_503_quickly_writes_nothing_and_heals_without_a_restart() {
    if crate::helpers::skip_postgres() {
        return;
    }
    let proxy = DatabaseProxy::start(postgres_address()).await;
    let mut settings = localstripe().settings();
    settings.push(("STRIPE_WEBHOOK_SECRET", "whsec_outage_test".to_owned()));
    settings.push(("DB_ACQUIRE_TIMEOUT_MS", "1000".to_owned()));
    let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = TestApp::spawn_reaching_database(Backend::Postgres, &pairs, |url| proxy.route(url)).await;
    let owner = app.signup("Outage Co").await;
    let customer = format!("cus_{}", uuid::Uuid::new_v4().simple());
    app.execute_sql(&format!(
        "UPDATE companies SET stripe_customer_id = '{customer}' WHERE id = '{}'",
        owner.company_id
    ))
    .await;
    let event = json!({"id": format!("evt_{}", uuid::Uuid::new_v4().simple()), "object": "event",
        "type": "customer.subscription.created", "api_version": "2024-06-20", "created": chrono::Utc::now().timestamp(),
        "livemode": false, "data": {"object": {"id": "sub_outage", "object": "subscription", "customer": customer,
        "status": "active", "cancel_at_period_end": false, "current_period_start": 1_790_000_000,
        "current_period_end": 1_792_600_000, "created": 1_790_000_000,
        "items": {"object": "list", "data": [{"id": "si_outage", "price": {"id": PRICE_PRO}}]}}}});
    let (stop, stopped) = watch::channel(false);
    let load = steady_load(&app, &owner, stopped);
    tokio::time::sleep(Duration::from_secs(1)).await;

    proxy.cut();
    let cut_at = Instant::now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let during = app.get("/api/v1/me", &owner.access_token).await;
    let answered_in = started.elapsed();
    let ready = app.client.get(app.url("/readyz")).send().await.expect("readyz");
    let health = app.client.get(app.url("/healthz")).send().await.expect("healthz");
    let refused_webhook = deliver(&app, &event).await;
    let refused_status = refused_webhook.status();
    let remaining = Duration::from_secs(4).saturating_sub(cut_at.elapsed());
    tokio::time::sleep(remaining).await;
    proxy.restore();
    let healed_in = wait_until_serving(&app, &owner).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.send_replace(true);
    let outcomes = load.await.expect("load");
    let redelivered = deliver(&app, &event).await;

    assert!(answered_in < Duration::from_millis(2500), "a request during the outage took {answered_in:?}");
    assert!(during.headers().contains_key("retry-after"));
    assert_eq!(problem(during, StatusCode::SERVICE_UNAVAILABLE).await["code"], "database_unavailable");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(health.status(), StatusCode::OK);
    assert!(healed_in < Duration::from_secs(5), "serving again took {healed_in:?}");

    let refused: Vec<&Outcome> = outcomes.iter().filter(|o| o.status != Some(StatusCode::OK)).collect();
    assert!(
        refused.iter().any(|o| o.status == Some(StatusCode::SERVICE_UNAVAILABLE)),
        "the load met the outage: {outcomes:?}"
    );
    for outcome in &outcomes {
        match outcome.status {
            Some(StatusCode::OK | StatusCode::CREATED) => {}
            Some(StatusCode::SERVICE_UNAVAILABLE) => {
                assert_eq!(outcome.body["code"], "database_unavailable", "{outcome:?}");
                assert!(outcome.retry_after, "503 without Retry-After: {outcome:?}");
            }
            _ => panic!("only 2xx and 503 during an outage: {outcome:?}"),
        }
        assert!(outcome.elapsed < Duration::from_millis(2500), "a request hung: {outcome:?}");
    }

    // Every key the API confirmed exists. A refused write left nothing, or, when the connection broke after
    // PostgreSQL received the COMMIT but before its answer came back, all of it: never a key without its
    // audit entry or an entry without its key.
    let created: Vec<&str> =
        outcomes.iter().filter(|o| o.status == Some(StatusCode::CREATED)).map(|o| o.what.as_str()).collect();
    let refused_writes =
        outcomes.iter().filter(|o| o.what != "read" && o.status == Some(StatusCode::SERVICE_UNAVAILABLE)).count();
    assert!(refused_writes > 0, "some writes met the outage");
    let company = &owner.company_id;
    let stored = app
        .execute_sql_text(&format!(
            "SELECT COALESCE(string_agg(name, ','), '') AS value FROM api_keys WHERE company_id = '{company}'"
        ))
        .await;
    let stored: Vec<&str> = stored.split(',').collect();
    for name in &created {
        assert!(stored.contains(name), "confirmed key {name} is missing");
    }
    let half_written = app
        .execute_sql_text(&format!(
            "SELECT CAST(COUNT(*) AS TEXT) AS value FROM api_keys k FULL JOIN \
             (SELECT target_id FROM audit_logs WHERE action = 'api_key.created' AND company_id = '{company}') a \
             ON a.target_id = k.id WHERE (k.company_id = '{company}' OR k.id IS NULL) AND (a.target_id IS NULL OR k.id IS NULL)"
        ))
        .await;
    assert_eq!(half_written, "0", "a key without its audit entry, or an entry without its key");

    assert!(refused_status.is_server_error(), "the webhook was refused with 5xx during the outage: {refused_status}");
    assert_eq!(redelivered.status(), StatusCode::OK, "the redelivered webhook is processed");
    let billing: Value = app.get("/api/v1/billing", &owner.access_token).await.json().await.expect("billing");
    assert_eq!(billing["tier"]["code"], "PRO", "{billing}");
}
