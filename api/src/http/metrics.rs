//! Prometheus metrics: request counts and latency histograms per route pattern, statements sent to the
//! database, open alert streams and the rate limiter's table.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

/// The metrics of one application instance (a registry of its own, so test servers do not share one).
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    statements: IntCounterVec,
    panics: IntCounter,
    parked_deletions: IntGauge,
    streams_open: IntGauge,
    rate_limit_clients: IntGauge,
}

const LABELS: [&str; 3] = ["method", "route", "status"];

impl Metrics {
    pub fn new() -> anyhow::Result<Self> {
        let registry = Registry::new_custom(Some("vigil".to_owned()), None)?;
        let requests = IntCounterVec::new(Opts::new("http_requests_total", "HTTP requests served"), &LABELS)?;
        let latency = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "Time to produce the response head")
                .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
            &LABELS,
        )?;
        let statements = IntCounterVec::new(
            Opts::new("db_statements_total", "SQL statements sent to the database, by kind (read, write, ping)"),
            &["kind"],
        )?;
        let streams_open = IntGauge::new("alert_streams_open", "Live alert streams whose task is running")?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        let panics = IntCounter::new("http_handler_panics_total", "Handler panics answered with a 500")?;
        registry.register(Box::new(statements.clone()))?;
        let parked_deletions = IntGauge::new(
            "blob_deletions_parked",
            "Blob deletions given up on after repeated failures; each needs an operator",
        )?;
        let rate_limit_clients =
            IntGauge::new("rate_limit_clients", "Clients the general rate limit keeps a budget for")?;
        registry.register(Box::new(panics.clone()))?;
        registry.register(Box::new(parked_deletions.clone()))?;
        registry.register(Box::new(streams_open.clone()))?;
        registry.register(Box::new(rate_limit_clients.clone()))?;
        Ok(Self { registry, requests, latency, statements, panics, parked_deletions, streams_open, rate_limit_clients })
    }

    /// Records one request. `route` is the matched pattern (e.g. `/api/v1/users/{id}`), never the raw path,
    /// so ids in paths cannot blow up the number of series.
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let status = status.to_string();
        let labels = [method, route, status.as_str()];
        self.requests.with_label_values(&labels).inc();
        self.latency.with_label_values(&labels).observe(seconds);
    }

    /// Counts one panic that [`crate::http::catch_panic`] turned into a 500.
    pub fn panic_caught(&self) {
        self.panics.inc();
    }

    /// How many blob deletions are parked, as of the latest look at the queue.
    pub fn set_parked_blob_deletions(&self, parked: i64) {
        self.parked_deletions.set(parked);
    }

    /// The counter the connection pool feeds, one increment per statement.
    pub fn statement_counter(&self) -> IntCounterVec {
        self.statements.clone()
    }

    /// The gauge of open alert streams, raised and lowered by each stream's task.
    pub fn alert_streams_open(&self) -> IntGauge {
        self.streams_open.clone()
    }

    /// The gauge of budgets the general rate limit keeps, set by the limiter.
    pub fn rate_limit_clients(&self) -> IntGauge {
        self.rate_limit_clients.clone()
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> anyhow::Result<String> {
        let mut buffer = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buffer)?;
        Ok(String::from_utf8(buffer)?)
    }
}
