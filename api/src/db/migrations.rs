//! Embedded migrations, one set per backend with the same names.

use anyhow::anyhow;
use diesel::RunQueryDsl;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::DbConn;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/postgres");

/// An arbitrary constant that every Vigil instance uses to take turns migrating one PostgreSQL database.
const MIGRATION_LOCK_KEY: i64 = 0x5649_4749_4c4d_4947;

/// Applies every pending migration and returns the names of those applied.
///
/// On PostgreSQL an advisory lock serialises instances that start at the same moment.
pub fn run_migrations(conn: &mut DbConn) -> anyhow::Result<Vec<String>> {
    match conn {
        DbConn::Sqlite(sqlite) => names(sqlite.run_pending_migrations(SQLITE_MIGRATIONS)),
        DbConn::Pg(pg) => {
            diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})")).execute(pg)?;
            let outcome = names(pg.run_pending_migrations(POSTGRES_MIGRATIONS));
            diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})")).execute(pg)?;
            outcome
        }
    }
}

fn names<V: ToString, E: Into<Box<dyn std::error::Error + Send + Sync>>>(
    outcome: Result<Vec<V>, E>,
) -> anyhow::Result<Vec<String>> {
    outcome.map(|versions| versions.iter().map(ToString::to_string).collect()).map_err(|e| anyhow!(e.into()))
}

/// Whether some embedded migration has not been applied yet.
pub fn has_pending_migrations(conn: &mut DbConn) -> anyhow::Result<bool> {
    match conn {
        DbConn::Sqlite(sqlite) => sqlite.has_pending_migration(SQLITE_MIGRATIONS),
        DbConn::Pg(pg) => pg.has_pending_migration(POSTGRES_MIGRATIONS),
    }
    .map_err(|e| anyhow!(e))
}
