//! Building the application: the pool, migrations, middleware, and every route. Every route of the
//! product is registered in [`routes`], which is also what the OpenAPI document is collected from.

use std::net::TcpListener;

use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::middleware::{ErrorHandlers, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use utoipa_actix_web::AppExt;
use utoipa_actix_web::service_config::ServiceConfig;
use utoipa_swagger_ui::SwaggerUi;

use crate::config::Config;
use crate::db::{self, DbPool};
use crate::http::{extract, metrics::Metrics, observe};
use crate::ops;

/// Registers every documented route. Registering a route here is what puts it in the OpenAPI document.
pub fn routes(cfg: &mut ServiceConfig) {
    use crate::{
        accounts, activity, agents, alerts, api_keys, audit, billing, employees, events, policy, screenshots,
        stripe_webhooks, webhooks,
    };
    cfg.service(ops::routes::healthz).service(ops::routes::readyz).service(ops::routes::metrics);
    cfg.service(stripe_webhooks::routes::receive_stripe_webhook_legacy);
    cfg.service(
        utoipa_actix_web::scope("/api/v1")
            .service(accounts::routes::signup)
            .service(accounts::routes::login)
            .service(accounts::routes::refresh)
            .service(accounts::routes::logout)
            .service(accounts::routes::me)
            .service(accounts::routes::change_password)
            .service(accounts::routes::list_users)
            .service(accounts::routes::create_user)
            .service(accounts::routes::get_user)
            .service(accounts::routes::update_user)
            .service(accounts::routes::delete_user)
            .service(api_keys::routes::list_api_keys)
            .service(api_keys::routes::create_api_key)
            .service(api_keys::routes::revoke_api_key)
            .service(audit::routes::list_audit_logs)
            .service(billing::routes::list_tiers)
            .service(billing::routes::get_billing)
            .service(billing::routes::get_subscription)
            .service(billing::routes::list_invoices)
            .service(billing::routes::get_invoice)
            .service(billing::routes::create_checkout_session)
            .service(billing::routes::create_portal_session)
            .service(billing::routes::change_plan)
            .service(billing::routes::preview_plan_change)
            .service(billing::routes::cancel_subscription)
            .service(billing::routes::resume_subscription)
            .service(billing::routes::get_billing_settings)
            .service(billing::routes::update_billing_settings)
            .service(billing::routes::set_tax_id)
            .service(billing::routes::remove_tax_id)
            .service(stripe_webhooks::routes::receive_stripe_webhook)
            .service(stripe_webhooks::routes::list_stripe_events)
            .service(stripe_webhooks::routes::replay_stripe_event)
            .service(webhooks::routes::list_webhook_endpoints)
            .service(webhooks::routes::create_webhook_endpoint)
            .service(webhooks::routes::get_webhook_endpoint)
            .service(webhooks::routes::update_webhook_endpoint)
            .service(webhooks::routes::delete_webhook_endpoint)
            .service(webhooks::routes::rotate_webhook_endpoint_secret)
            .service(webhooks::routes::test_webhook_endpoint)
            .service(webhooks::routes::list_webhook_attempts)
            .service(webhooks::routes::retry_webhook_message)
            .service(webhooks::routes::recover_webhook_endpoint)
            .service(events::routes::list_events)
            .service(alerts::routes::list_alerts)
            .service(alerts::routes::unread_count)
            .service(alerts::routes::mark_all_read)
            .service(alerts::routes::create_stream_ticket)
            .service(alerts::routes::stream_alerts)
            .service(alerts::routes::mark_read)
            .service(alerts::routes::resolve)
            .service(employees::routes::list_employees)
            .service(employees::routes::create_employee)
            .service(employees::routes::get_employee)
            .service(employees::routes::update_employee)
            .service(employees::routes::deactivate_employee)
            .service(employees::routes::reactivate_employee)
            .service(employees::routes::delete_employee)
            .service(agents::routes::list_agents)
            .service(agents::routes::get_agent)
            .service(agents::routes::revoke_agent)
            .service(agents::routes::list_enrollment_tokens)
            .service(agents::routes::create_enrollment_token)
            .service(agents::routes::revoke_enrollment_token)
            .service(agents::routes::enroll_agent)
            .service(agents::routes::agent_heartbeat)
            .service(activity::routes::upload_activity)
            .service(activity::routes::get_employee_activity)
            .service(screenshots::routes::upload_screenshot)
            .service(screenshots::routes::list_employee_screenshots)
            .service(screenshots::routes::get_screenshot)
            .service(screenshots::routes::delete_screenshot)
            .service(screenshots::routes::get_screenshot_content)
            .service(policy::routes::get_policy)
            .service(policy::routes::update_policy),
    );
}

/// A bound, migrated, ready-to-run server.
pub struct Application {
    server: Server,
    port: u16,
    pool: DbPool,
    blobs: crate::storage::blobs::BlobStore,
    shutdown: tokio::sync::watch::Sender<bool>,
    /// The outbox worker, which finishes what it is sending once shutdown starts.
    worker: Option<tokio::task::JoinHandle<()>>,
    shutdown_timeout: std::time::Duration,
}

impl Application {
    /// Connects to the database, applies pending migrations and binds the listening socket.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let metrics = Metrics::new()?;
        let pool = db::build_pool(
            &config.database_url,
            config.db_pool_size,
            config.db_acquire_timeout,
            Some(metrics.statement_counter()),
        )?;
        let applied = migrate(&pool, &config).await?;
        for name in applied {
            log::info!("applied migration {name}");
        }
        let stripe = crate::stripe::StripeSetup::from_config(&config)?;
        if !config.alert_sweep_interval.is_zero() {
            tokio::spawn(crate::sweeps::alerts::run_forever(pool.clone(), config.alert_sweep_interval));
            // Stripe customers whose email or tax id change did not reach Stripe, retried on the same interval.
            if let Ok(gateway) = stripe.gateway() {
                let (pool, gateway) = (pool.clone(), gateway.clone());
                tokio::spawn(crate::billing::customer_sync::run_forever(pool, gateway, config.alert_sweep_interval));
            }
        }
        let (shutdown, shutting_down) = tokio::sync::watch::channel(false);
        let worker = match config.webhooks.outbox_poll.is_zero() {
            true => None,
            false => Some(tokio::spawn(outbox_worker(&config)?.run_forever(
                pool.clone(),
                config.webhooks.outbox_poll,
                shutting_down.clone(),
            ))),
        };
        let blobs = crate::storage::blobs::BlobStore::open(&config.object_store_url)?;
        if !config.retention_sweep_interval.is_zero() {
            let interval = config.retention_sweep_interval;
            tokio::spawn(crate::sweeps::retention::run_forever(
                pool.clone(),
                blobs.clone(),
                interval,
                config.retention_hold_days,
            ));
        }
        let listener =
            TcpListener::bind(config.bind).with_context(|| format!("Failed to bind {} (BIND)", config.bind))?;
        let port = listener.local_addr()?.port();
        let shutdown_timeout = config.shutdown_timeout;
        let server = serve(listener, pool.clone(), metrics, blobs.clone(), stripe, config, shutting_down)?;
        Ok(Self { server, port, pool, blobs, shutdown, worker, shutdown_timeout })
    }

    /// The port the server listens on (useful when bound to port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the server gracefully.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// The database pool the server uses.
    pub fn pool(&self) -> &DbPool {
        &self.pool
    }

    /// The object store the server keeps blobs in.
    pub fn blobs(&self) -> &crate::storage::blobs::BlobStore {
        &self.blobs
    }

    /// Serves until stopped through [`Application::handle`] (what the tests do).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        // Held while serving: the alert streams take a dropped sender for a shutdown.
        let _shutdown = self.shutdown;
        self.server.await
    }

    /// Serves until SIGINT/SIGTERM, then stops accepting, ends the live alert streams and lets in-flight
    /// requests finish (for up to `SHUTDOWN_TIMEOUT_SECS`). What `vigil serve` runs.
    pub async fn run_until_signalled(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let shutdown = self.shutdown;
        let (signalled, signalled_at) = tokio::sync::oneshot::channel();
        let signals = tokio::spawn(async move {
            if let Err(error) = termination_signal().await {
                log::error!("cannot listen for termination signals: {error}");
                // Held, not dropped: a dropped sender would read as a shutdown to the streams and the worker.
                let _shutdown = shutdown;
                std::future::pending::<()>().await;
                return;
            }
            log::info!("shutting down: no new connections; ending alert streams, finishing requests in flight");
            let _ = signalled.send(tokio::time::Instant::now());
            shutdown.send_replace(true);
            handle.stop(true).await;
        });
        let outcome = self.server.await;
        signals.abort();
        // Deliveries in flight end and are recorded, rather than being cut off and sent again after their
        // lease by another instance; within the one SHUTDOWN_TIMEOUT_SECS counted from the signal.
        let deadline = signalled_at.await.unwrap_or_else(|_| tokio::time::Instant::now()) + self.shutdown_timeout;
        if let Some(worker) = self.worker
            && tokio::time::timeout_at(deadline, worker).await.is_err()
        {
            log::warn!("the outbox worker did not finish within SHUTDOWN_TIMEOUT_SECS; its rows are retried");
        }
        outcome
    }
}

/// Resolves on the first SIGTERM or SIGINT.
#[cfg(unix)]
async fn termination_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let (mut term, mut int) = (signal(SignalKind::terminate())?, signal(SignalKind::interrupt())?);
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}

#[cfg(not(unix))]
async fn termination_signal() -> std::io::Result<()> {
    tokio::signal::ctrl_c().await
}

/// Applies pending migrations on a blocking thread; the error says which database could not be reached.
pub async fn migrate(pool: &DbPool, config: &Config) -> anyhow::Result<Vec<String>> {
    let pool = pool.clone();
    let url = config.database_url.to_string();
    tokio::task::spawn_blocking(move || {
        let mut conn =
            pool.get().with_context(|| format!("Failed to connect to the database at {url} (DATABASE_URL)"))?;
        db::run_migrations(&mut conn).context("Failed to apply migrations")
    })
    .await?
}

/// The outbox worker of this instance, with the handler of every topic: what it sends, it sends from here.
fn outbox_worker(config: &Config) -> anyhow::Result<crate::outbox::worker::Worker> {
    let deliverer = crate::webhooks::delivery::Deliverer::new(config.webhooks.clone())
        .context("Failed to build the HTTP client of outgoing webhooks")?;
    let worker = crate::outbox::worker::Worker::new(std::time::Duration::from_secs(60), 16).handle(
        crate::events::model::DELIVERY_TOPIC,
        move |pool, claimed| {
            let deliverer = deliverer.clone();
            Box::pin(async move { deliverer.deliver(pool, claimed).await })
        },
    );
    Ok(worker)
}

fn cors(config: &Config) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::HeaderName::from_static("x-request-id"),
            header::HeaderName::from_static(crate::http::idempotency::IDEMPOTENCY_KEY),
            header::IF_MATCH,
            header::IF_NONE_MATCH,
        ])
        .expose_headers([
            header::RETRY_AFTER,
            header::HeaderName::from_static("x-request-id"),
            header::HeaderName::from_static("ratelimit"),
            header::HeaderName::from_static("ratelimit-policy"),
            header::HeaderName::from_static(crate::http::idempotency::REPLAYED),
            header::ETAG,
            header::LINK,
        ])
        .supports_credentials()
        .max_age(3600);
    for origin in &config.cors_origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}

fn serve(
    listener: TcpListener,
    pool: DbPool,
    metrics: Metrics,
    blobs: crate::storage::blobs::BlobStore,
    stripe: crate::stripe::StripeSetup,
    config: Config,
    shutting_down: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<Server> {
    let spec = crate::openapi::spec(routes);
    let known_routes = web::Data::new(crate::http::routes_table::KnownRoutes::from_spec(&spec));
    let metrics = web::Data::new(metrics);
    let stripe = web::Data::new(stripe);
    let hub = web::Data::new(crate::alerts::hub::AlertHub::start(&config.database_url, shutting_down));
    let pool = web::Data::new(pool);
    let blobs = web::Data::new(blobs);
    let signer = web::Data::new(crate::storage::links::LinkSigner::new(&config.jwt_secret));
    let quotes = web::Data::new(crate::billing::quote::Quotes::new(&config.jwt_secret));
    let webhook_config = web::Data::new(config.webhooks.clone());
    let authenticators = web::Data::new(crate::http::principal::Authenticators {
        api_key: crate::api_keys::service::authenticate,
        user: crate::accounts::service::authenticate_user,
        agent: crate::agents::service::live_agent,
    });
    let sealer = web::Data::new(crate::crypto::Sealer::new(config.jwt_secret.expose(), "idempotency-answers"));
    let web_app = crate::web_app::WebApp::find(&config.web_dir).map(web::Data::new);
    match &web_app {
        Some(_) => log::info!("serving the web app from {}", config.web_dir.display()),
        None => log::info!(
            "no web app at {} (WEB_DIR): serving the API only; `make web` builds it",
            config.web_dir.display()
        ),
    }
    let rate_limit =
        crate::http::rate_limit::RateLimit::new(config.rate_limit_per_minute, metrics.rate_limit_clients())
            .map(web::Data::new);
    if let Some(limit) = &rate_limit {
        crate::http::rate_limit::prune_forever(limit.clone());
    }
    let shutdown_timeout = config.shutdown_timeout.as_secs();
    let workers = config.workers;
    let config = web::Data::new(config);
    let mut server = HttpServer::new(move || {
        let mut app = App::new();
        if let Some(web_app) = &web_app {
            app = app.app_data(web_app.clone());
        }
        let app = app
            // Before the /api/v1 scope, which would otherwise claim /api/v1/openapi.json.
            .service(SwaggerUi::new("/api/docs/{_:.*}").url("/api/v1/openapi.json", spec.clone()))
            .service(web::redirect("/api/docs", "/api/docs/"))
            .into_utoipa_app()
            .app_data(pool.clone())
            .app_data(metrics.clone())
            .app_data(stripe.clone())
            .app_data(hub.clone())
            .app_data(blobs.clone())
            .app_data(signer.clone())
            .app_data(quotes.clone())
            .app_data(webhook_config.clone())
            .app_data(sealer.clone())
            .app_data(authenticators.clone())
            .app_data(known_routes.clone())
            .app_data(config.clone())
            .app_data(extract::json_config())
            .app_data(extract::payload_config())
            .app_data(extract::path_config())
            .app_data(extract::query_config())
            .configure(routes)
            .into_app()
            .default_service(web::to(crate::http::routes_table::no_route));
        let app = match &rate_limit {
            Some(limit) => app.app_data(limit.clone()),
            None => app,
        };
        // Innermost, so the 500 it makes of a handler's panic still passes CORS, the security headers and
        // the access log.
        app.wrap(from_fn(crate::http::catch_panic::catch_panic))
            // Inside the limit, which gives back what a 304 cost.
            .wrap(from_fn(crate::http::conditional::conditional_get))
            // Outside the panic guard, so that the 500 of a panic lets the key go for a retry.
            .wrap(from_fn(crate::http::idempotency::idempotency))
            // The limit sits inside CORS so that a browser can read its 429.
            .wrap(from_fn(crate::http::rate_limit::rate_limit))
            // Outside CORS, so that its refusals become problem+json like every other error.
            .wrap(cors(&config))
            .wrap(ErrorHandlers::new().default_handler(observe::problem_fallback))
            .wrap(from_fn(crate::http::headers::security_headers))
            .wrap(from_fn(observe::observe))
    })
    .shutdown_timeout(shutdown_timeout)
    // Signals are handled in `run_until_signalled`, which also ends the alert streams.
    .disable_signals()
    .listen(listener)?;
    if let Some(workers) = workers {
        server = server.workers(workers);
    }
    Ok(server.run())
}

#[cfg(test)]
mod tests {
    use crate::http::routes_table::KnownRoutes;

    #[test]
    fn templates_match_paths_with_ids() {
        let routes = KnownRoutes::from_spec(&crate::openapi::spec(super::routes));
        assert_eq!(
            routes.methods_for("/api/v1/users/0193a5b2-7c4e-7d2a-9f1b-3c5d7e9f1a2b"),
            Some(&["GET", "PATCH", "DELETE"][..])
        );
        assert_eq!(routes.methods_for("/api/v1/auth/signup"), Some(&["POST"][..]));
        assert_eq!(routes.methods_for("/api/v1/nothing"), None);
    }
}
