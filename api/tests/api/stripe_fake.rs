//! localstripe, the stateful Stripe fake, started once per test run on a free port (through
//! tools/localstripe_launcher.py, which patches its gaps), and the calls tests make to it directly: what a
//! customer does at Stripe (pay with a card, get subscribed) rather than what Vigil does.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The price ids the test servers are configured with; localstripe has them as plans.
pub const PRICE_PRO: &str = "price_pro_test";
pub const PRICE_ENTERPRISE: &str = "price_enterprise_test";
/// A card that pays.
pub const GOOD_CARD: &str = "4242424242424242";
/// A card that can be attached but whose charges are declined (Stripe's test card of that behaviour).
pub const DECLINED_CARD: &str = "4000000000000341";
const SECRET_KEY: &str = "sk_test_vigil";

pub struct Localstripe {
    pub base: String,
    client: reqwest::Client,
    /// Held for the whole run; the launcher exits by itself when the test process ends.
    _process: std::sync::Mutex<std::process::Child>,
}

fn repository_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn start() -> Localstripe {
    let root = repository_root();
    let python = crate::helpers::tools_python();
    assert!(
        python.exists(),
        "{} is missing: run `make tools` (make test does) to install localstripe",
        python.display()
    );
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
    let process = Command::new(&python)
        .arg(root.join("tools/localstripe_launcher.py"))
        .args(["--port", &port.to_string(), "--plans", &format!("{PRICE_PRO}:2900,{PRICE_ENTERPRISE}:9900")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start localstripe");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "localstripe did not start on port {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
    Localstripe {
        base: format!("http://127.0.0.1:{port}/"),
        // No kept-alive connections: aiohttp may close an idle one just as the next request is sent on it.
        client: reqwest::Client::builder().pool_max_idle_per_host(0).build().expect("client"),
        _process: std::sync::Mutex::new(process),
    }
}

/// The shared localstripe of this test run.
pub fn localstripe() -> &'static Localstripe {
    static INSTANCE: OnceLock<Localstripe> = OnceLock::new();
    INSTANCE.get_or_init(start)
}

impl Localstripe {
    /// The settings that point a test server at this fake.
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        vec![
            ("STRIPE_SECRET_KEY", SECRET_KEY.to_owned()),
            ("STRIPE_API_BASE", self.base.clone()),
            ("STRIPE_PRICE_PRO", PRICE_PRO.to_owned()),
            ("STRIPE_PRICE_ENTERPRISE", PRICE_ENTERPRISE.to_owned()),
        ]
    }

    async fn call(&self, method: reqwest::Method, path: &str, form: &[(&str, &str)]) -> Value {
        let response = self
            .client
            .request(method, format!("{}v1{path}", self.base))
            .basic_auth(SECRET_KEY, Some(""))
            .form(form)
            .send()
            .await
            .expect("localstripe answers");
        let status = response.status();
        let body: Value = response.json().await.expect("json");
        assert!(status.is_success(), "localstripe {path}: {status} {body}");
        body
    }

    pub async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, &[]).await
    }

    /// A change made at Stripe directly, as the Dashboard makes it.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Value {
        self.call(reqwest::Method::POST, path, form).await
    }

    /// A customer who entered `card` at Checkout, linked to the company as Vigil's customers are.
    pub async fn customer_with_card(&self, email: &str, company_id: &str, card: &str) -> String {
        let token = self
            .call(
                reqwest::Method::POST,
                "/tokens",
                &[("card[number]", card), ("card[exp_month]", "12"), ("card[exp_year]", "2030"), ("card[cvc]", "123")],
            )
            .await;
        let token = token["id"].as_str().expect("token id");
        let customer = self
            .call(
                reqwest::Method::POST,
                "/customers",
                &[("email", email), ("metadata[company_id]", company_id), ("source", token)],
            )
            .await;
        customer["id"].as_str().expect("customer id").to_owned()
    }

    /// Adds a card to an existing customer, as entering it at Checkout does.
    pub async fn add_card(&self, customer: &str, card: &str) {
        let token = self
            .call(
                reqwest::Method::POST,
                "/tokens",
                &[("card[number]", card), ("card[exp_month]", "12"), ("card[exp_year]", "2030"), ("card[cvc]", "123")],
            )
            .await;
        let token = token["id"].as_str().expect("token id");
        self.call(reqwest::Method::POST, &format!("/customers/{customer}/sources"), &[("source", token)]).await;
    }

    /// Makes a new card the customer's default, as updating the card in the Billing Portal does.
    pub async fn switch_card(&self, customer: &str, card: &str) {
        let token = self
            .call(
                reqwest::Method::POST,
                "/tokens",
                &[("card[number]", card), ("card[exp_month]", "12"), ("card[exp_year]", "2030"), ("card[cvc]", "123")],
            )
            .await;
        let token = token["id"].as_str().expect("token id");
        let source =
            self.call(reqwest::Method::POST, &format!("/customers/{customer}/sources"), &[("source", token)]).await;
        let source = source["id"].as_str().expect("card id");
        self.call(reqwest::Method::POST, &format!("/customers/{customer}"), &[("default_source", source)]).await;
    }

    /// Pays an open invoice with the customer's default card, as the hosted invoice page does.
    pub async fn pay_invoice(&self, invoice: &str) -> Value {
        self.call(reqwest::Method::POST, &format!("/invoices/{invoice}/pay"), &[]).await
    }

    /// Subscribes a customer to a price with a period that started `days_ago`, so that a change now is
    /// prorated over what is left of it; returns the subscription.
    pub async fn subscribe_since(&self, customer: &str, price: &str, days_ago: i64) -> Value {
        let start = (chrono::Utc::now() - chrono::Duration::days(days_ago)).timestamp().to_string();
        self.call(
            reqwest::Method::POST,
            "/subscriptions",
            &[("customer", customer), ("items[0][price]", price), ("backdate_start_date", &start)],
        )
        .await
    }

    /// Ends the current phase of a subscription schedule, as the end of the period does at Stripe (the
    /// launcher's stand-in for Stripe's test clocks).
    pub async fn end_phase(&self, schedule: &str) {
        let response = self
            .client
            .post(format!("{}_config/subscription_schedules/{schedule}/advance", self.base))
            .send()
            .await
            .expect("localstripe answers");
        assert!(response.status().is_success(), "advance {schedule}: {}", response.status());
    }

    /// A card payment method attached to the customer and made its invoice default, as the Billing Portal
    /// does when a card is replaced; returns the payment method.
    pub async fn default_payment_method(&self, customer: &str, card: &str) -> Value {
        let method = self
            .call(
                reqwest::Method::POST,
                "/payment_methods",
                &[
                    ("type", "card"),
                    ("card[number]", card),
                    ("card[exp_month]", "7"),
                    ("card[exp_year]", "2031"),
                    ("card[cvc]", "123"),
                ],
            )
            .await;
        let id = method["id"].as_str().expect("payment method id");
        let attached =
            self.call(reqwest::Method::POST, &format!("/payment_methods/{id}/attach"), &[("customer", customer)]).await;
        self.call(
            reqwest::Method::POST,
            &format!("/customers/{customer}"),
            &[("invoice_settings[default_payment_method]", id)],
        )
        .await;
        attached
    }

    /// Detaches a payment method from its customer; returns it as Stripe does (naming no customer).
    pub async fn detach(&self, payment_method: &str) -> Value {
        self.call(reqwest::Method::POST, &format!("/payment_methods/{payment_method}/detach"), &[]).await
    }

    /// Adds a tax id to a customer directly, as the Dashboard does (or as a call whose local save failed left).
    pub async fn add_tax_id(&self, customer: &str, kind: &str, value: &str) -> Value {
        self.call(reqwest::Method::POST, &format!("/customers/{customer}/tax_ids"), &[("type", kind), ("value", value)])
            .await
    }

    /// The values of a customer's tax ids at Stripe.
    pub async fn tax_id_values(&self, customer: &str) -> Vec<String> {
        let listed = self.get(&format!("/customers/{customer}/tax_ids")).await;
        let mut values: Vec<String> = listed["data"]
            .as_array()
            .expect("tax ids")
            .iter()
            .filter_map(|tax_id| tax_id["value"].as_str().map(str::to_owned))
            .collect();
        values.sort();
        values
    }

    /// Subscribes a customer to a price, as a completed Checkout does; returns the subscription.
    pub async fn subscribe(&self, customer: &str, price: &str) -> Value {
        self.call(reqwest::Method::POST, "/subscriptions", &[("customer", customer), ("items[0][price]", price)]).await
    }

    /// Ends a subscription at once, as Stripe does when the period ends after a cancellation.
    pub async fn end_subscription(&self, subscription: &str) -> Value {
        self.call(reqwest::Method::DELETE, &format!("/subscriptions/{subscription}"), &[]).await
    }
}

/// Stripe reached through a proxy that fails, with a 500, every request `fails` picks out, and hands every
/// other to localstripe: a Stripe that breaks down between two calls of one operation.
pub struct FaultyStripe {
    _server: wiremock::MockServer,
    pub base: String,
}

impl FaultyStripe {
    pub async fn start(fails_method: &str, fails_path: &str) -> Self {
        use wiremock::matchers::{method, path_regex};
        let server = wiremock::MockServer::start().await;
        wiremock::Mock::given(method(fails_method))
            .and(path_regex(fails_path))
            .respond_with(wiremock::ResponseTemplate::new(500).set_body_json(serde_json::json!({
                "error": {"type": "api_error", "message": "An unknown error occurred"}})))
            .with_priority(1)
            .mount(&server)
            .await;
        wiremock::Mock::given(wiremock::matchers::any()).respond_with(Forward).mount(&server).await;
        Self { base: format!("{}/", server.uri()), _server: server }
    }

    /// The settings of a server on this Stripe.
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        let mut settings = localstripe().settings();
        settings.retain(|(name, _)| *name != "STRIPE_API_BASE");
        settings.push(("STRIPE_API_BASE", self.base.clone()));
        settings
    }
}

/// Hands a request to localstripe as it came and its answer back (plain HTTP/1.1 over a fresh connection:
/// wiremock answers from synchronous code).
struct Forward;

impl wiremock::Respond for Forward {
    fn respond(&self, request: &wiremock::Request) -> wiremock::ResponseTemplate {
        use std::io::{Read, Write};
        let address = localstripe().base.trim_start_matches("http://").trim_end_matches('/').to_owned();
        let target = match request.url.query() {
            Some(query) => format!("{}?{query}", request.url.path()),
            None => request.url.path().to_owned(),
        };
        let mut head = format!("{} {target} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n", request.method);
        for name in ["authorization", "content-type", "idempotency-key", "stripe-version"] {
            if let Some(value) = request.headers.get(name).and_then(|v| v.to_str().ok()) {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", request.body.len()));
        let mut stream = std::net::TcpStream::connect(&address).expect("localstripe answers");
        stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(&request.body)).expect("forwarded");
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).expect("localstripe's answer");
        let split = answer.windows(4).position(|w| w == b"\r\n\r\n").expect("an HTTP answer");
        let status: u16 = String::from_utf8_lossy(&answer[..split])
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .expect("a status");
        wiremock::ResponseTemplate::new(status).set_body_raw(answer[split + 4..].to_vec(), "application/json")
    }
}
