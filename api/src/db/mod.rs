//! The database: one connection type over SQLite and PostgreSQL, the pool, migrations, and the few places
//! where the two backends must be told apart. No other module matches on the backend.

pub mod listen;
mod migrations;
pub mod notify;
mod pool;
pub mod schema;
mod url;

use diesel::Connection;
use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;

pub use migrations::{has_pending_migrations, run_migrations};
pub use pool::{DbPool, PooledConn, build_pool};
pub use url::{Backend, DatabaseUrl};

use crate::error::ApiError;

diesel::define_sql_function! {
    /// SQL `lower(text)`, for case-insensitive search on both backends.
    fn lower(text: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// A `LIKE` pattern that finds `needle` anywhere, with `%`, `_` and `\\` in it matched literally (use with
/// `.escape('\\')`).
pub fn contains_pattern(needle: &str) -> String {
    let escaped = needle.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

/// The current time as stored: UTC, to the microsecond, which both backends keep exactly (SQLite would
/// keep nanoseconds, PostgreSQL cannot), so that the API shows the same times on either.
pub fn now() -> chrono::NaiveDateTime {
    truncate_micros(chrono::Utc::now().naive_utc())
}

/// A time as both backends store it: whole microseconds.
pub fn truncate_micros(time: chrono::NaiveDateTime) -> chrono::NaiveDateTime {
    use chrono::Timelike;
    time.with_nanosecond(time.nanosecond() / 1000 * 1000).unwrap_or(time)
}

/// A connection to either backend. Queries written against it run unchanged on both.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Pg(PgConnection),
    // SQLite accepts any string as a path, so it stays last; the pool picks the variant from the URL.
    Sqlite(SqliteConnection),
}

impl DbConn {
    /// Which backend this connection talks to.
    pub fn backend(&self) -> Backend {
        match self {
            Self::Pg(_) => Backend::Postgres,
            Self::Sqlite(_) => Backend::Sqlite,
        }
    }
}

/// Runs `work` on a pooled connection on the blocking thread pool, never on an actix worker thread.
///
/// A pool that cannot hand out a connection in time (database down, pool exhausted) becomes
/// [`ApiError::DatabaseUnavailable`], i.e. 503 with `Retry-After`.
pub async fn run<T, F>(pool: &DbPool, work: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut DbConn) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    let request_id = crate::request_id::current();
    actix_web::web::block(move || {
        crate::request_id::with_thread_request_id(request_id, || {
            let mut conn = pool.get().map_err(|error| ApiError::DatabaseUnavailable(error.into()))?;
            work(&mut conn)
        })
    })
    .await
    .map_err(|error| ApiError::Internal(anyhow::anyhow!("blocking task failed: {error}")))?
}

/// Runs `work` in a write transaction: rolled back when it returns an error, so nothing is half-written.
///
/// On SQLite the transaction starts with `BEGIN IMMEDIATE`: a deferred transaction that reads first and
/// writes later can fail with SQLITE_BUSY when another writer got there in between, and the busy timeout
/// cannot help with that case.
pub fn write_transaction<T, E, F>(conn: &mut DbConn, work: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    let DbConn::Sqlite(sqlite) = conn else {
        return conn.transaction(work);
    };
    let nested =
        AnsiTransactionManager::transaction_manager_status_mut(sqlite).transaction_depth().map_err(E::from)?.is_some();
    if nested {
        return conn.transaction(work);
    }
    AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
    notify::discard_pending();
    let outcome = work(conn);
    let DbConn::Sqlite(sqlite) = conn else {
        unreachable!("the connection cannot change its backend during a transaction")
    };
    match outcome {
        Ok(value) => {
            AnsiTransactionManager::commit_transaction(sqlite)?;
            notify::send_pending();
            Ok(value)
        }
        Err(error) => {
            notify::discard_pending();
            AnsiTransactionManager::rollback_transaction(sqlite)?;
            Err(error)
        }
    }
}

/// Checks that the database answers and that every migration has been applied, for `/readyz`.
pub fn check_ready(conn: &mut DbConn) -> Result<(), String> {
    use diesel::RunQueryDsl;
    if let Err(error) = diesel::sql_query("SELECT 1").execute(conn) {
        log::warn!("readiness: the database did not answer: {error}");
        return Err("The database did not answer.".to_owned());
    }
    match has_pending_migrations(conn) {
        Ok(false) => Ok(()),
        Ok(true) => Err("Database migrations are pending; run `vigil migrate` or restart.".to_owned()),
        Err(error) => {
            log::warn!("readiness: cannot read the migration state: {error}");
            Err("The migration state cannot be read.".to_owned())
        }
    }
}

/// Takes the company's row lock for the rest of the transaction, serialising changes that must respect a
/// per-company invariant (the last owner, plan limits). An UPDATE locks the row on PostgreSQL; on SQLite the
/// immediate transaction already holds the write lock.
pub fn lock_company(conn: &mut DbConn, company: &crate::ids::CompanyId) -> diesel::QueryResult<()> {
    use diesel::{ExpressionMethods, QueryDsl, RunQueryDsl};
    use schema::companies;
    let locked = diesel::update(companies::table.filter(companies::id.eq(company.as_str())))
        .set(companies::updated_at.eq(companies::updated_at))
        .execute(conn)?;
    if locked == 0 {
        return Err(diesel::result::Error::NotFound);
    }
    Ok(())
}

/// Writes a consistent copy of a SQLite database to `target` while the server keeps running (SQLite's
/// `VACUUM INTO`). PostgreSQL is backed up with its own tools (`pg_dump`).
pub fn backup(conn: &mut DbConn, target: &std::path::Path) -> anyhow::Result<()> {
    use diesel::RunQueryDsl;
    let DbConn::Sqlite(sqlite) = conn else {
        anyhow::bail!("`vigil backup` copies SQLite databases; back up PostgreSQL with pg_dump");
    };
    if target.exists() {
        anyhow::bail!("{} exists already; choose a new file", target.display());
    }
    let path = target.to_str().ok_or_else(|| anyhow::anyhow!("the backup path must be valid UTF-8"))?;
    diesel::sql_query(format!("VACUUM INTO '{}'", path.replace('\'', "''"))).execute(sqlite)?;
    Ok(())
}
