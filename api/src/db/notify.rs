//! "Something changed for company X", told to every instance once the change is committed: PostgreSQL's
//! `pg_notify` (delivered on commit, to every listening instance), or on SQLite (one process) an in-process
//! broadcast sent after the write transaction commits.

use std::cell::RefCell;
use std::sync::OnceLock;

use diesel::RunQueryDsl;
use diesel::sql_types::Text;
use tokio::sync::broadcast;

use super::DbConn;

/// The PostgreSQL channel alert notifications travel on.
pub const ALERTS_CHANNEL: &str = "vigil_alerts";

thread_local! {
    // A write transaction runs on one thread from BEGIN to COMMIT, so its notifications wait here.
    static PENDING: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// The in-process channel of SQLite deployments (and of tests on SQLite).
pub fn local_channel() -> &'static broadcast::Sender<String> {
    static CHANNEL: OnceLock<broadcast::Sender<String>> = OnceLock::new();
    CHANNEL.get_or_init(|| broadcast::channel(1024).0)
}

/// Announces that `company`'s alerts changed, effective when the current transaction commits.
pub fn alerts_changed(conn: &mut DbConn, company: &str) -> diesel::QueryResult<()> {
    match conn {
        DbConn::Pg(pg) => {
            diesel::sql_query("SELECT pg_notify($1, $2)")
                .bind::<Text, _>(ALERTS_CHANNEL)
                .bind::<Text, _>(company)
                .execute(pg)?;
        }
        DbConn::Sqlite(_) => PENDING.with(|pending| pending.borrow_mut().push(company.to_owned())),
    }
    Ok(())
}

pub(super) fn send_pending() {
    for company in PENDING.with(|pending| std::mem::take(&mut *pending.borrow_mut())) {
        // No receiver (no open stream) is fine.
        let _ = local_channel().send(company);
    }
}

pub(super) fn discard_pending() {
    PENDING.with(|pending| pending.borrow_mut().clear());
}
