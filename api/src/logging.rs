//! Log setup: env_logger with the request id on every line written while a request is served.

use std::io::Write;

/// Initialises logging once; `RUST_LOG` overrides the default level (`info`).
pub fn init() {
    let _ = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info,actix_server=warn"))
        .format(|buf, record| {
            let request_id = crate::request_id::current().unwrap_or_else(|| "-".to_owned());
            writeln!(
                buf,
                "{} {:<5} {} request_id={} {}",
                chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ"),
                record.level(),
                record.target(),
                request_id,
                record.args()
            )
        })
        .try_init();
}
