//! The r2d2 pool over [`DbConn`], choosing the backend from the URL and preparing every SQLite connection.

use std::time::Duration;

use anyhow::Context;
use diesel::pg::PgConnection;
use diesel::r2d2::{Pool, PooledConnection, R2D2Connection};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};

use super::{DatabaseUrl, DbConn};

/// The shared connection pool. Cheap to clone.
pub type DbPool = Pool<Manager>;
/// A connection borrowed from the pool.
pub type PooledConn = PooledConnection<Manager>;

/// How long SQLite waits on a lock held by another connection before answering "busy".
const SQLITE_BUSY_TIMEOUT_MS: u32 = 5000;

/// Opens connections of the backend that the URL names.
#[derive(Debug)]
pub struct Manager {
    url: DatabaseUrl,
}

impl diesel::r2d2::ManageConnection for Manager {
    type Connection = DbConn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConn, Self::Error> {
        match &self.url {
            DatabaseUrl::Postgres(url) => {
                PgConnection::establish(url).map(DbConn::Pg).map_err(diesel::r2d2::Error::ConnectionError)
            }
            DatabaseUrl::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(&path.to_string_lossy())
                    .map_err(diesel::r2d2::Error::ConnectionError)?;
                prepare_sqlite(&mut conn).map_err(diesel::r2d2::Error::QueryError)?;
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
pub fn build_pool(url: &DatabaseUrl, max_size: u32, acquire_timeout: Duration) -> anyhow::Result<DbPool> {
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
        .build_unchecked(Manager { url: url.clone() }))
}
