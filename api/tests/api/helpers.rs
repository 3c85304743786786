//! The test harness: a real server on a random port over a fresh database of either backend.

use std::collections::HashMap;
use std::sync::OnceLock;

use diesel::{Connection, RunQueryDsl};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use vigil::db::DbPool;
use vigil::{Application, Config};

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The `host:port` of the PostgreSQL server the tests use.
pub fn postgres_address() -> String {
    let url = admin_url();
    let after_scheme = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
    let authority = after_scheme.split('/').next().unwrap_or(after_scheme);
    authority.rsplit_once('@').map_or(authority, |(_, host)| host).to_owned()
}

/// Where PostgreSQL tests create their databases.
fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Set `VIGIL_SKIP_POSTGRES=1` to run only the SQLite half on a laptop without PostgreSQL. CI never sets it.
pub fn skip_postgres() -> bool {
    static WARNED: OnceLock<bool> = OnceLock::new();
    let skip = std::env::var("VIGIL_SKIP_POSTGRES").is_ok_and(|v| v == "1");
    if skip {
        WARNED.get_or_init(|| {
            eprintln!(
                "\n!!!!! VIGIL_SKIP_POSTGRES=1: the PostgreSQL half of the tests is SKIPPED. CI never skips it. !!!!!\n"
            );
            true
        });
    }
    skip
}

/// A database that exists for one test and is dropped afterwards.
pub enum TestDatabase {
    /// Kept so the folder (and the database file in it) lives as long as the test.
    Sqlite {
        _dir: tempfile::TempDir,
    },
    Postgres {
        name: String,
    },
}

impl TestDatabase {
    pub fn create(backend: Backend) -> (Self, String) {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("vigil.db").display());
                (Self::Sqlite { _dir: dir }, url)
            }
            Backend::Postgres => {
                let name = format!("vigil_test_{}", uuid::Uuid::new_v4().simple());
                let mut admin = diesel::PgConnection::establish(&admin_url()).unwrap_or_else(|error| {
                    panic!(
                        "PostgreSQL is not reachable at {} ({error}). Start it (on this machine: \
                         `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`, or \
                         `docker compose up -d postgres`), point TEST_DATABASE_URL at one, or set \
                         VIGIL_SKIP_POSTGRES=1 to skip the PostgreSQL half locally.",
                        admin_url()
                    )
                });
                diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut admin).expect("create test database");
                let base = admin_url();
                let url = match base.rsplit_once('/') {
                    Some((server, _)) => format!("{server}/{name}"),
                    None => panic!("TEST_DATABASE_URL needs a database path"),
                };
                (Self::Postgres { name }, url)
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Self::Postgres { name } = self
            && let Ok(mut admin) = diesel::PgConnection::establish(&admin_url())
        {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin);
        }
    }
}

/// A running Vigil on a fresh database.
pub struct TestApp {
    pub address: String,
    pub config: Config,
    pub client: reqwest::Client,
    pub pool: DbPool,
    handle: actix_web::dev::ServerHandle,
    // Dropped last: the server must stop using the database first.
    database: TestDatabase,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        drop(handle.stop(false));
    }
}

/// Settings every test server uses; tests add or override some.
fn base_settings(database_url: &str, data_dir: &str) -> HashMap<String, String> {
    HashMap::from([
        ("DATABASE_URL".to_owned(), database_url.to_owned()),
        ("BIND".to_owned(), "127.0.0.1:0".to_owned()),
        ("DATA_DIR".to_owned(), data_dir.to_owned()),
        ("JWT_SECRET".to_owned(), TEST_JWT_SECRET.to_owned()),
        ("WORKERS".to_owned(), "2".to_owned()),
        ("ALERT_SWEEP_INTERVAL_SECS".to_owned(), "0".to_owned()),
        ("DB_POOL_SIZE".to_owned(), "4".to_owned()),
        // Off, so that tests are not throttled; the rate limit's own tests turn it on.
        ("RATE_LIMIT_PER_MINUTE".to_owned(), "0".to_owned()),
    ])
}

/// The Python of the test tools (tools/.venv, which `make tools` installs), or `VIGIL_TOOLS_PYTHON`.
pub fn tools_python() -> std::path::PathBuf {
    std::env::var("VIGIL_TOOLS_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tools/.venv/bin/python"))
}

/// The JWT secret of test servers, so tests can forge tokens on purpose.
pub const TEST_JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123456789";

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, &[]).await
    }

    /// Starts a server with extra settings (`("DB_POOL_SIZE", "1")`, …).
    pub async fn spawn_with(backend: Backend, settings: &[(&str, &str)]) -> Self {
        Self::spawn_reaching_database(backend, settings, |url| url.to_owned()).await
    }

    /// Starts a server that reaches its fresh database through the URL `route` makes of the real one (a
    /// PostgreSQL URL pointing at a proxy, say); the test harness itself uses the real URL.
    pub async fn spawn_reaching_database(
        backend: Backend,
        settings: &[(&str, &str)],
        route: impl FnOnce(&str) -> String,
    ) -> Self {
        let (database, database_url) =
            tokio::task::spawn_blocking(move || TestDatabase::create(backend)).await.expect("join");
        let mut settings = settings.to_vec();
        let routed = route(&database_url);
        settings.push(("DATABASE_URL", &routed));
        let running = start(&database_url, &settings).await;
        Self {
            address: running.address,
            config: running.config,
            client: running.client,
            pool: running.pool,
            handle: running.handle,
            database,
        }
    }

    /// Another server over the same database, as a second instance behind a load balancer would be.
    pub async fn sibling(&self) -> Sibling {
        self.sibling_with(&[]).await
    }

    /// Another server over the same database, with extra settings.
    pub async fn sibling_with(&self, settings: &[(&str, &str)]) -> Sibling {
        let url = self.config.database_url.clone();
        let url = match url {
            vigil::db::DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
            vigil::db::DatabaseUrl::Postgres(url) => url,
        };
        let running = start(&url, settings).await;
        Sibling { address: running.address, client: running.client, handle: running.handle }
    }

    /// A server over any database URL (a backup copy, say).
    pub async fn serve_database(url: &str) -> Sibling {
        let running = start(url, &[]).await;
        Sibling { address: running.address, client: running.client, handle: running.handle }
    }

    /// A server whose Stripe is the shared localstripe.
    pub async fn spawn_with_stripe(backend: Backend) -> Self {
        let settings = crate::stripe_fake::localstripe().settings();
        let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Self::spawn_with(backend, &pairs).await
    }

    /// Runs `vigil stripe resync` for one company against this server's database and Stripe.
    pub async fn resync(&self, company_id: &str) -> vigil::billing::resync::ResyncReport {
        let setup = vigil::stripe::StripeSetup::from_config(&self.config).expect("stripe setup");
        vigil::billing::resync::resync_command(&self.pool, &setup, Some(company_id)).await.expect("resync")
    }

    /// The name of the PostgreSQL database this app runs on, if it runs on PostgreSQL.
    pub fn postgres_database(&self) -> Option<&str> {
        match &self.database {
            TestDatabase::Postgres { name } => Some(name),
            TestDatabase::Sqlite { .. } => None,
        }
    }

    /// Runs SQL as the PostgreSQL superuser (to refuse connections, terminate sessions, …).
    pub fn postgres_admin(sql: &str) {
        let mut admin = diesel::PgConnection::establish(&admin_url()).expect("admin connection");
        diesel::sql_query(sql).execute(&mut admin).expect("admin statement");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Sends a request with an optional bearer token and JSON body.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("request sent")
    }

    pub async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.request(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> reqwest::Response {
        self.request(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> reqwest::Response {
        self.request(Method::PATCH, path, Some(token), Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> reqwest::Response {
        self.request(Method::DELETE, path, Some(token), None).await
    }

    /// Signs up a new company and returns its owner's session.
    pub async fn signup(&self, company: &str) -> Session {
        let email =
            format!("owner-{}@{}.test", uuid::Uuid::new_v4().simple(), company.to_lowercase().replace(' ', "-"));
        let response = self
            .request(
                Method::POST,
                "/api/v1/auth/signup",
                None,
                Some(json!({"company_name": company, "name": "Owner", "email": email, "password": PASSWORD, "return_refresh_token": true})),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED, "signup failed");
        Session::from_body(email, response.json().await.expect("session json"))
    }

    /// Creates a user with `role` in the session's company and signs them in.
    pub async fn add_user(&self, owner: &Session, role: &str) -> Session {
        let email = format!("{}-{}@example.test", role.to_lowercase(), uuid::Uuid::new_v4().simple());
        let response = self
            .post(
                "/api/v1/users",
                &owner.access_token,
                json!({"email": email, "name": role, "role": role, "password": PASSWORD}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED, "creating a {role}");
        self.login(&email).await
    }

    pub async fn login(&self, email: &str) -> Session {
        let response = self
            .request(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"email": email, "password": PASSWORD, "return_refresh_token": true})),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK, "login of {email}");
        Session::from_body(email.to_owned(), response.json().await.expect("session json"))
    }

    /// Creates an API key with `scope` for the session's company and returns the secret.
    pub async fn api_key(&self, owner: &Session, scope: &str) -> (String, String) {
        let response =
            self.post("/api/v1/api-keys", &owner.access_token, json!({"name": "test key", "scope": scope})).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.expect("json");
        (body["id"].as_str().expect("id").to_owned(), body["key"].as_str().expect("key").to_owned())
    }
}

/// A started server.
struct Running {
    address: String,
    config: Config,
    client: reqwest::Client,
    pool: DbPool,
    handle: actix_web::dev::ServerHandle,
}

async fn start(database_url: &str, settings: &[(&str, &str)]) -> Running {
    let data_dir = std::env::temp_dir().join(format!("vigil-test-{}", uuid::Uuid::new_v4().simple()));
    let mut vars = base_settings(database_url, &data_dir.to_string_lossy());
    for (key, value) in settings {
        vars.insert((*key).to_owned(), (*value).to_owned());
    }
    let config = Config::from_source(&vars).expect("test configuration");
    let application = Application::build(config.clone()).await.expect("application starts");
    let address = format!("http://127.0.0.1:{}", application.port());
    let pool = application.pool().clone();
    let handle = application.handle();
    tokio::spawn(application.run_until_stopped());
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    Running { address, config, client, pool, handle }
}

/// An enrolled desktop agent.
#[derive(Debug, Clone)]
pub struct EnrolledAgent {
    pub id: String,
    pub secret: String,
}

impl TestApp {
    /// Adds an employee and returns its id.
    pub async fn add_employee(&self, session: &Session, email: &str) -> String {
        let response =
            self.post("/api/v1/employees", &session.access_token, json!({"email": email, "name": email})).await;
        assert_eq!(response.status(), StatusCode::CREATED, "adding employee {email}");
        response.json::<Value>().await.expect("json")["id"].as_str().expect("id").to_owned()
    }

    /// Creates an enrollment token with `max_uses` and returns (id, token).
    pub async fn enrollment_token(&self, session: &Session, max_uses: u32) -> (String, String) {
        let response =
            self.post("/api/v1/enrollment-tokens", &session.access_token, json!({"max_uses": max_uses})).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.expect("json");
        (body["id"].as_str().expect("id").to_owned(), body["token"].as_str().expect("token").to_owned())
    }

    /// Enrolls an agent with a token, optionally for an employee's email.
    pub async fn enroll(&self, token: &str, employee_email: Option<&str>) -> reqwest::Response {
        let mut body =
            json!({"enrollment_token": token, "hostname": "laptop-1", "os": "Linux", "agent_version": "1.0.0"});
        if let Some(email) = employee_email {
            body["employee_email"] = json!(email);
        }
        self.request(Method::POST, "/api/v1/agent/enroll", None, Some(body)).await
    }

    /// Enrolls a new agent in the session's company.
    pub async fn add_agent(&self, session: &Session, employee_email: Option<&str>) -> EnrolledAgent {
        let (_, token) = self.enrollment_token(session, 1).await;
        let response = self.enroll(&token, employee_email).await;
        assert_eq!(response.status(), StatusCode::CREATED, "enrolling an agent");
        let body: Value = response.json().await.expect("json");
        EnrolledAgent {
            id: body["agent_id"].as_str().expect("agent_id").to_owned(),
            secret: body["agent_secret"].as_str().expect("agent_secret").to_owned(),
        }
    }

    /// Runs a statement on the app's database, to arrange a state the API cannot reach quickly (an expired
    /// token, an agent silent for an hour, a paid tier).
    pub async fn execute_sql(&self, sql: &str) -> usize {
        let (pool, sql) = (self.pool.clone(), sql.to_owned());
        tokio::task::spawn_blocking(move || diesel::sql_query(sql).execute(&mut pool.get().expect("connection")))
            .await
            .expect("join")
            .expect("statement")
    }

    /// One text value (a column named `value`) from the app's database.
    pub async fn execute_sql_text(&self, sql: &str) -> String {
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            value: String,
        }
        let (pool, sql) = (self.pool.clone(), sql.to_owned());
        tokio::task::spawn_blocking(move || {
            diesel::sql_query(sql).get_result::<Row>(&mut pool.get().expect("connection"))
        })
        .await
        .expect("join")
        .expect("query")
        .value
    }

    /// The database's plan for a query, as text (PostgreSQL's `EXPLAIN`, SQLite's `EXPLAIN QUERY PLAN`), to
    /// check that a hot query reads the index meant for it.
    pub async fn query_plan(&self, sql: &str) -> String {
        #[derive(diesel::QueryableByName)]
        struct PgLine {
            #[diesel(sql_type = diesel::sql_types::Text, column_name = "QUERY PLAN")]
            line: String,
        }
        #[derive(diesel::QueryableByName)]
        struct SqliteLine {
            #[diesel(sql_type = diesel::sql_types::Text)]
            detail: String,
        }
        let (pool, sql) = (self.pool.clone(), sql.to_owned());
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().expect("connection");
            match &mut *conn {
                vigil::db::DbConn::Pg(pg) => diesel::sql_query(format!("EXPLAIN {sql}"))
                    .load::<PgLine>(pg)
                    .map(|lines| lines.into_iter().map(|l| l.line).collect::<Vec<_>>().join("\n")),
                vigil::db::DbConn::Sqlite(sqlite) => diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
                    .load::<SqliteLine>(sqlite)
                    .map(|lines| lines.into_iter().map(|l| l.detail).collect::<Vec<_>>().join("\n")),
            }
        })
        .await
        .expect("join")
        .expect("plan")
    }

    /// The value of one Prometheus sample line, e.g. `vigil_db_statements_total{kind="write"}`.
    pub async fn metric(&self, series: &str) -> f64 {
        let text = self.client.get(self.url("/metrics")).send().await.expect("metrics").text().await.expect("text");
        text.lines().find_map(|line| line.strip_prefix(series).and_then(|rest| rest.trim().parse().ok())).unwrap_or(0.0)
    }

    pub async fn heartbeat(&self, agent: &EnrolledAgent, body: Value) -> reqwest::Response {
        self.request(Method::POST, "/api/v1/agent/heartbeat", Some(&agent.secret), Some(body)).await
    }
}

/// A second server on the same database; stops when dropped.
pub struct Sibling {
    pub address: String,
    pub client: reqwest::Client,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for Sibling {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

/// The password every test user has.
pub const PASSWORD: &str = "correct horse battery staple";

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct Session {
    pub email: String,
    pub access_token: String,
    pub refresh_token: String,
    pub user_id: String,
    pub company_id: String,
}

impl Session {
    fn from_body(email: String, body: Value) -> Self {
        Self {
            email,
            access_token: body["access_token"].as_str().expect("access_token").to_owned(),
            refresh_token: body["refresh_token"].as_str().unwrap_or_default().to_owned(),
            user_id: body["user"]["id"].as_str().expect("user id").to_owned(),
            company_id: body["company"]["id"].as_str().expect("company id").to_owned(),
        }
    }
}

/// Reads a problem+json answer, checking its media type and status.
pub async fn problem(response: reqwest::Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status, "unexpected status");
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    assert_eq!(content_type, "application/problem+json", "errors are problem+json");
    let body: Value = response.json().await.expect("problem json");
    assert_eq!(body["status"], status.as_u16());
    assert!(body["type"].as_str().is_some_and(|t| t.ends_with(body["code"].as_str().unwrap_or("?"))));
    body
}

/// Declares each listed `async fn name(backend: Backend)` as two tests: `sqlite::name` and `postgres::name`.
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if $crate::helpers::skip_postgres() {
                        return;
                    }
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            )*
        }
    };
}
pub(crate) use backend_tests;
