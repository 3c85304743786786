//! Typed configuration read from the environment. Every problem names the variable at fault, and secrets
//! never appear in `Debug` output or logs.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;

use crate::db::DatabaseUrl;

/// A configuration variable with a wrong value.
#[derive(Debug, thiserror::Error)]
#[error("configuration variable {var} {problem}")]
pub struct ConfigError {
    pub var: &'static str,
    pub problem: String,
}

fn invalid(var: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError { var, problem: problem.into() }
}

/// A secret value: usable by the code, printed as `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Development runs with conveniences (generated JWT secret, non-Secure cookies); production insists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

/// Stripe settings; all optional, so billing reports "not configured" rather than failing.
#[derive(Debug, Clone)]
pub struct StripeConfig {
    pub secret_key: Option<Secret>,
    pub publishable_key: Option<String>,
    /// Several secrets are accepted at once while one is being rolled.
    pub webhook_secrets: Vec<Secret>,
    pub price_pro: Option<String>,
    pub price_enterprise: Option<String>,
    pub api_base: Option<String>,
    /// Seconds a webhook signature's timestamp may be off.
    pub webhook_tolerance_secs: i64,
    /// Whether a downgrade through the API waits for the end of the paid-for period (`BILLING_DOWNGRADE`:
    /// `period_end`, the default) or applies at once with a credit for the unused time (`immediately`).
    pub downgrade_at_period_end: bool,
}

/// Outgoing webhooks: where deliveries may go, how long one may take, and when failed ones are tried again.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// `WEBHOOKS_ALLOW_HTTP=1` lets endpoints use `http` (tests, local development); otherwise `https` only.
    pub allow_http: bool,
    /// `WEBHOOKS_ALLOW_PRIVATE=1` lets deliveries reach loopback and private addresses (tests only).
    pub allow_private: bool,
    /// `WEBHOOK_TIMEOUT_SECS` (default 15, at most 30, well inside the outbox lease of 60 s): an attempt
    /// without an answer by then has failed.
    pub timeout: Duration,
    /// The waits before each retry after a failed attempt (`WEBHOOK_RETRY_SCHEDULE_SECS`, comma-separated;
    /// default Svix's: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h). The first attempt is immediate.
    pub retry_schedule: Vec<Duration>,
    /// How often an idle instance looks for work in the outbox (`OUTBOX_POLL_MS`, default 500; 0: never,
    /// for an instance that only serves requests).
    pub outbox_poll: Duration,
}

/// Svix's retry schedule, after the first, immediate attempt.
const DEFAULT_RETRY_SCHEDULE_SECS: [u64; 7] = [5, 300, 1800, 7200, 18_000, 36_000, 36_000];

fn webhook_config(source: &impl Source) -> Result<WebhookConfig, ConfigError> {
    let retry_schedule = match source.get("WEBHOOK_RETRY_SCHEDULE_SECS") {
        None => DEFAULT_RETRY_SCHEDULE_SECS.iter().map(|secs| Duration::from_secs(*secs)).collect(),
        Some(text) => list(Some(text.clone()))
            .iter()
            .map(|step| step.parse::<u64>().ok().filter(|secs| *secs <= 7 * 86_400).map(Duration::from_secs))
            .collect::<Option<Vec<_>>>()
            .filter(|steps| steps.len() <= 15)
            .ok_or_else(|| {
                invalid(
                    "WEBHOOK_RETRY_SCHEDULE_SECS",
                    format!("must be up to 15 comma-separated seconds, not {text:?}"),
                )
            })?,
    };
    Ok(WebhookConfig {
        allow_http: flag(source, "WEBHOOKS_ALLOW_HTTP")?,
        allow_private: flag(source, "WEBHOOKS_ALLOW_PRIVATE")?,
        timeout: Duration::from_secs(number(source, "WEBHOOK_TIMEOUT_SECS", 15, 1..=30)?),
        retry_schedule,
        outbox_poll: Duration::from_millis(number(source, "OUTBOX_POLL_MS", 500, 0..=60_000)?),
    })
}

fn flag(source: &impl Source, var: &'static str) -> Result<bool, ConfigError> {
    match source.get(var).as_deref().map(str::trim) {
        None | Some("0" | "false") => Ok(false),
        Some("1" | "true") => Ok(true),
        Some(other) => Err(invalid(var, format!("must be 1 or 0, not {other:?}"))),
    }
}

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    pub environment: Environment,
    pub database_url: DatabaseUrl,
    pub bind: SocketAddr,
    pub data_dir: PathBuf,
    /// The built web app (`web/dist`), served at `/` when it holds an `index.html`.
    pub web_dir: PathBuf,
    /// Where screenshots are kept: `file:///…` (default: the `objects` folder in `DATA_DIR`) or `s3://…`.
    pub object_store_url: url::Url,
    /// The largest screenshot accepted.
    pub screenshot_max_bytes: usize,
    /// How often the retention sweep runs; zero turns it off.
    pub retention_sweep_interval: Duration,
    pub jwt_secret: Secret,
    pub public_url: String,
    pub cors_origins: Vec<String>,
    /// Load balancers whose `X-Forwarded-For` is believed; everyone else's is ignored.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    pub stripe: StripeConfig,
    pub webhooks: WebhookConfig,
    pub db_pool_size: u32,
    pub db_acquire_timeout: Duration,
    pub shutdown_timeout: Duration,
    /// How often this instance sweeps for offline agents and expiring subscriptions (zero: never).
    pub alert_sweep_interval: Duration,
    /// Sign-ups allowed from one client address per hour.
    pub signups_per_address_per_hour: i64,
    /// Requests one client (user, API key, agent or address) may make per minute; zero: no limit.
    pub rate_limit_per_minute: u32,
    /// Days a PAST_DUE company keeps its tier before FREE limits apply.
    pub billing_grace_days: i64,
    /// Days data beyond a shortened retention is kept before it is deleted (`RETENTION_HOLD_DAYS`).
    pub retention_hold_days: i64,
    pub workers: Option<usize>,
}

/// Where configuration values come from: the process environment, or a map in tests.
pub trait Source {
    fn get(&self, var: &str) -> Option<String>;
}

/// The process environment (after `.env` has been loaded by the binary).
pub struct ProcessEnv;

impl Source for ProcessEnv {
    fn get(&self, var: &str) -> Option<String> {
        std::env::var(var).ok().filter(|value| !value.trim().is_empty())
    }
}

impl<S: std::hash::BuildHasher> Source for std::collections::HashMap<String, String, S> {
    fn get(&self, var: &str) -> Option<String> {
        self.get(var).cloned()
    }
}

impl<const N: usize> Source for [(&str, &str); N] {
    fn get(&self, var: &str) -> Option<String> {
        self.iter().find(|(name, _)| *name == var).map(|(_, value)| (*value).to_owned())
    }
}

const DEFAULT_DATABASE_URL: &str = "sqlite://data/vigil.db";
const DEFAULT_BIND: &str = "127.0.0.1:8080";
const JWT_SECRET_FILE: &str = "jwt_secret";
const MIN_JWT_SECRET_LEN: usize = 32;

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_source(&ProcessEnv)
    }

    /// Reads and validates the configuration. In development a missing `JWT_SECRET` is generated once and
    /// kept in the data folder, so tokens survive restarts.
    pub fn from_source(source: &impl Source) -> anyhow::Result<Self> {
        let environment = match source.get("VIGIL_ENV").as_deref() {
            None | Some("development") => Environment::Development,
            Some("production") => Environment::Production,
            Some(other) => {
                return Err(invalid("VIGIL_ENV", format!("must be development or production, not {other:?}")).into());
            }
        };
        let database_url =
            DatabaseUrl::parse(&source.get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.into()))
                .map_err(|problem| invalid("DATABASE_URL", problem))?;
        let bind_text = source.get("BIND").unwrap_or_else(|| DEFAULT_BIND.into());
        let bind: SocketAddr = bind_text
            .parse()
            .map_err(|_| invalid("BIND", format!("must be an address like 127.0.0.1:8080, not {bind_text:?}")))?;
        let data_dir = PathBuf::from(source.get("DATA_DIR").unwrap_or_else(|| "data".into()));
        let web_dir = PathBuf::from(source.get("WEB_DIR").unwrap_or_else(|| "web/dist".into()));
        let object_store_url = match source.get("OBJECT_STORE_URL") {
            Some(text) => url::Url::parse(&text).map_err(|_| {
                invalid("OBJECT_STORE_URL", format!("must be a URL like s3://bucket/prefix, not {text:?}"))
            })?,
            None => {
                let folder = std::path::absolute(data_dir.join("objects"))
                    .map_err(|error| invalid("DATA_DIR", format!("cannot be resolved: {error}")))?;
                url::Url::from_directory_path(&folder)
                    .map_err(|()| invalid("DATA_DIR", format!("{} is not a usable folder", folder.display())))?
            }
        };
        let jwt_secret = match source.get("JWT_SECRET") {
            Some(secret) if secret.len() >= MIN_JWT_SECRET_LEN => Secret::new(secret),
            Some(_) => {
                return Err(
                    invalid("JWT_SECRET", format!("must be at least {MIN_JWT_SECRET_LEN} characters long")).into()
                );
            }
            None if environment == Environment::Production => {
                return Err(invalid("JWT_SECRET", "is required when VIGIL_ENV=production").into());
            }
            None => development_jwt_secret(&data_dir)?,
        };
        let public_url = source.get("PUBLIC_URL").unwrap_or_else(|| format!("http://{bind}"));
        validate_origin("PUBLIC_URL", &public_url)?;
        let public_url = public_url.trim_end_matches('/').to_owned();
        let cors_origins = list(source.get("CORS_ORIGINS"))
            .into_iter()
            .map(|origin| validate_origin("CORS_ORIGINS", &origin).map(|()| origin.trim_end_matches('/').to_owned()))
            .collect::<Result<Vec<_>, _>>()?;
        let trusted_proxies = list(source.get("TRUSTED_PROXIES"))
            .into_iter()
            .map(|ip| ip.parse().map_err(|_| invalid("TRUSTED_PROXIES", format!("must list IP addresses, not {ip:?}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let stripe = StripeConfig {
            secret_key: source.get("STRIPE_SECRET_KEY").map(Secret::new),
            publishable_key: source.get("STRIPE_PUBLISHABLE_KEY"),
            webhook_secrets: list(source.get("STRIPE_WEBHOOK_SECRET")).into_iter().map(Secret::new).collect(),
            price_pro: source.get("STRIPE_PRICE_PRO"),
            price_enterprise: source.get("STRIPE_PRICE_ENTERPRISE"),
            api_base: source.get("STRIPE_API_BASE"),
            webhook_tolerance_secs: number(source, "STRIPE_WEBHOOK_TOLERANCE_SECS", 300, 1..=86_400)?,
            downgrade_at_period_end: match source.get("BILLING_DOWNGRADE").as_deref().map(str::trim) {
                None | Some("period_end") => true,
                Some("immediately") => false,
                Some(other) => {
                    let problem = format!("must be period_end or immediately, not {other:?}");
                    return Err(invalid("BILLING_DOWNGRADE", problem).into());
                }
            },
        };
        if let Some(base) = &stripe.api_base {
            validate_origin("STRIPE_API_BASE", base)?;
        }
        let default_pool = if database_url.is_sqlite() { 8 } else { 10 };
        Ok(Self {
            environment,
            database_url,
            bind,
            data_dir,
            web_dir,
            object_store_url,
            jwt_secret,
            public_url,
            cors_origins,
            trusted_proxies,
            stripe,
            webhooks: webhook_config(source)?,
            db_pool_size: number(source, "DB_POOL_SIZE", default_pool, 1..=1000)?,
            db_acquire_timeout: Duration::from_millis(number(source, "DB_ACQUIRE_TIMEOUT_MS", 2000, 50..=60_000)?),
            shutdown_timeout: Duration::from_secs(number(source, "SHUTDOWN_TIMEOUT_SECS", 30, 1..=3600)?),
            billing_grace_days: number(source, "BILLING_GRACE_DAYS", 7, 0..=90)?,
            retention_hold_days: number(source, "RETENTION_HOLD_DAYS", 30, 0..=3650)?,
            alert_sweep_interval: Duration::from_secs(number(source, "ALERT_SWEEP_INTERVAL_SECS", 30, 0..=86_400)?),
            signups_per_address_per_hour: number(source, "SIGNUPS_PER_ADDRESS_PER_HOUR", 10, 1..=100_000)?,
            screenshot_max_bytes: number(source, "SCREENSHOT_MAX_BYTES", 5 * 1024 * 1024, 1024..=64 * 1024 * 1024)?,
            retention_sweep_interval: Duration::from_secs(number(
                source,
                "RETENTION_SWEEP_INTERVAL_SECS",
                3600,
                0..=7 * 86_400,
            )?),
            rate_limit_per_minute: number(source, "RATE_LIMIT_PER_MINUTE", 600, 0..=1_000_000)?,
            workers: source.get("WORKERS").map(|_| number(source, "WORKERS", 2, 1..=256)).transpose()?,
        })
    }
}

fn list(value: Option<String>) -> Vec<String> {
    value.unwrap_or_default().split(',').map(str::trim).filter(|item| !item.is_empty()).map(str::to_owned).collect()
}

fn number<T>(
    source: &impl Source,
    var: &'static str,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
{
    let Some(text) = source.get(var) else { return Ok(default) };
    let value: T = text.trim().parse().map_err(|_| invalid(var, format!("must be a whole number, not {text:?}")))?;
    if !range.contains(&value) {
        return Err(invalid(var, format!("must be between {} and {}", range.start(), range.end())));
    }
    Ok(value)
}

fn validate_origin(var: &'static str, url: &str) -> Result<(), ConfigError> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(())
    } else {
        Err(invalid(var, format!("must start with http:// or https://, not {url:?}")))
    }
}

/// Reads the development JWT secret from the data folder, generating it the first time.
fn development_jwt_secret(data_dir: &Path) -> anyhow::Result<Secret> {
    let path = data_dir.join(JWT_SECRET_FILE);
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim();
        if existing.len() >= MIN_JWT_SECRET_LEN {
            return Ok(Secret::new(existing));
        }
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("Failed to create the data folder {}", data_dir.display()))?;
    let secret = crate::crypto::random_token(48);
    write_private_file(&path, &secret).with_context(|| format!("Failed to write {}", path.display()))?;
    log::info!("generated a development JWT secret in {}", path.display());
    Ok(Secret::new(secret))
}

#[cfg(unix)]
fn write_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    file.write_all(contents.as_bytes())
}

#[cfg(not(unix))]
fn write_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_variable_is_named_in_the_error() {
        let error = Config::from_source(&[("BIND", "localhost"), ("JWT_SECRET", &"x".repeat(40))])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("BIND"), "{error}");
    }

    #[test]
    fn production_requires_a_jwt_secret() {
        let error =
            Config::from_source(&[("VIGIL_ENV", "production")]).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("JWT_SECRET"), "{error}");
    }

    #[test]
    fn an_unknown_database_scheme_is_refused() {
        let error = Config::from_source(&[("DATABASE_URL", "mysql://x"), ("JWT_SECRET", &"x".repeat(40))])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("DATABASE_URL"), "{error}");
    }

    #[test]
    fn secrets_are_redacted_in_debug_output() {
        let secret = "s".repeat(40);
        let config = Config::from_source(&[
            ("JWT_SECRET", secret.as_str()),
            ("STRIPE_SECRET_KEY", "sk_test_123456"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_a, whsec_b"),
            ("DATABASE_URL", "postgres://user:hunter2@localhost/vigil"),
        ]);
        let printed = format!("{config:?}");
        for needle in [secret.as_str(), "sk_test_123456", "whsec_a", "hunter2"] {
            assert!(!printed.contains(needle), "{needle} leaked in {printed}");
        }
        assert!(matches!(config, Ok(c) if c.stripe.webhook_secrets.len() == 2));
    }
}
