//! The r2d2 pool over [`DbConn`], choosing the backend from the URL and preparing every SQLite connection.

use std::time::Duration;

use anyhow::Context;
use diesel::connection::InstrumentationEvent;
use diesel::pg::PgConnection;
use diesel::r2d2::{Pool, PooledConnection, R2D2Connection};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};
use prometheus::IntCounterVec;

use super::{DatabaseUrl, DbConn};

/// The shared connection pool. Cheap to clone.
pub type DbPool = Pool<Manager>;
/// A connection borrowed from the pool.
pub type PooledConn = PooledConnection<Manager>;

/// How long SQLite waits on a lock held by another connection before answering "busy".
const SQLITE_BUSY_TIMEOUT_MS: u32 = 5000;

/// Opens connections of the backend that the URL names.
pub struct Manager {
    url: DatabaseUrl,
    statements: Option<IntCounterVec>,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager").field("url", &self.url).finish_non_exhaustive()
    }
}

/// The kind of a statement from its first keyword: `ping` for the pool's liveness check, `write` for
/// INSERT/UPDATE/DELETE, `read` otherwise.
fn statement_kind(sql: &str) -> &'static str {
    let head = sql.trim_start();
    let keyword = head.split(|c: char| !c.is_ascii_alphabetic()).next().unwrap_or("");
    if head.eq_ignore_ascii_case("SELECT 1") || head.starts_with("SELECT 1 --") {
        "ping"
    } else if ["INSERT", "UPDATE", "DELETE"].iter().any(|w| keyword.eq_ignore_ascii_case(w)) {
        "write"
    } else {
        "read"
    }
}

/// Collects the first characters of a statement's text and then stops the formatter, so that classifying
/// a statement does not render all of it.
struct Head(String);

impl std::fmt::Write for Head {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        let room = 24usize.saturating_sub(self.0.len());
        self.0.extend(text.chars().take(room));
        if self.0.len() >= 24 { Err(std::fmt::Error) } else { Ok(()) }
    }
}

fn count_statements(conn: &mut impl Connection, counter: IntCounterVec) {
    conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            let mut head = Head(String::with_capacity(24));
            let _ = std::fmt::write(&mut head, format_args!("{query}"));
            counter.with_label_values(&[statement_kind(&head.0)]).inc();
        }
    });
}

impl diesel::r2d2::ManageConnection for Manager {
    type Connection = DbConn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConn, Self::Error> {
        match &self.url {
            DatabaseUrl::Postgres(url) => {
                let mut conn = PgConnection::establish(url).map_err(diesel::r2d2::Error::ConnectionError)?;
                if let Some(counter) = &self.statements {
                    count_statements(&mut conn, counter.clone());
                }
                Ok(DbConn::Pg(conn))
            }
            DatabaseUrl::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(&path.to_string_lossy())
                    .map_err(diesel::r2d2::Error::ConnectionError)?;
                prepare_sqlite(&mut conn).map_err(diesel::r2d2::Error::QueryError)?;
                if let Some(counter) = &self.statements {
                    count_statements(&mut conn, counter.clone());
                }
                Ok(DbConn::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), Self::Error> {
        conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        conn.is_broken()
    }
}

/// Per-connection SQLite settings. Each pragma is its own statement: SQLite runs only the first of a batch
/// through this API.
fn prepare_sqlite(conn: &mut SqliteConnection) -> diesel::QueryResult<()> {
    for pragma in [
        format!("PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}"),
        "PRAGMA journal_mode = WAL".to_owned(),
        "PRAGMA synchronous = NORMAL".to_owned(),
        "PRAGMA foreign_keys = ON".to_owned(),
    ] {
        diesel::sql_query(pragma).execute(conn)?;
    }
    Ok(())
}

/// Builds the pool without connecting: the first checkout connects, so a database that is down at start
/// is reported by the migration step with a clear message.
///
/// With `statements`, every statement is counted by kind (exported as `vigil_db_statements_total`).
pub fn build_pool(
    url: &DatabaseUrl,
    max_size: u32,
    acquire_timeout: Duration,
    statements: Option<IntCounterVec>,
) -> anyhow::Result<DbPool> {
    if let DatabaseUrl::Sqlite(path) = url
        && let Some(folder) = path.parent().filter(|folder| !folder.as_os_str().is_empty())
    {
        std::fs::create_dir_all(folder)
            .with_context(|| format!("Failed to create the database folder {}", folder.display()))?;
    }
    // Validating on checkout costs one round trip, and is what lets the API recover by itself after the
    // database restarts: a dead connection is dropped instead of failing the request that drew it.
    Ok(Pool::builder()
        .max_size(max_size)
        .min_idle(Some(0))
        .connection_timeout(acquire_timeout)
        .test_on_check_out(true)
        .build_unchecked(Manager { url: url.clone(), statements }))
}

#[cfg(test)]
mod tests {
    use super::statement_kind;

    #[test]
    fn statements_are_classified_by_their_first_keyword() {
        assert_eq!(statement_kind("UPDATE \"agents\" SET"), "write");
        assert_eq!(statement_kind("  insert into x"), "write");
        assert_eq!(statement_kind("DELETE FROM"), "write");
        assert_eq!(statement_kind("SELECT \"policies\".\"version\""), "read");
        assert_eq!(statement_kind("SELECT 1"), "ping");
    }
}
