//! Both migration sets produce the same tables and columns.

use std::collections::BTreeMap;

use diesel::sql_types::{Integer, Text};
use diesel::{QueryableByName, RunQueryDsl};
use vigil::db::DbConn;

use crate::helpers::{Backend, TestApp, skip_postgres};

#[derive(QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Integer)]
    nullable: i32,
}

/// table → column → nullable, with diesel's own bookkeeping table left out.
type Shape = BTreeMap<String, BTreeMap<String, bool>>;

fn shape(conn: &mut DbConn) -> Shape {
    let query = match conn {
        DbConn::Sqlite(_) => {
            "SELECT m.name AS table_name, p.name AS column_name, CASE WHEN p.\"notnull\" = 1 OR p.pk > 0 THEN 0 ELSE 1 END AS nullable \
             FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '__diesel_schema_migrations'"
        }
        DbConn::Pg(_) => {
            "SELECT table_name::text AS table_name, column_name::text AS column_name, \
             CASE WHEN is_nullable = 'YES' THEN 1 ELSE 0 END AS nullable \
             FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'"
        }
    };
    let columns: Vec<Column> = diesel::sql_query(query).load(conn).expect("schema query");
    let mut shape = Shape::new();
    for column in columns {
        shape.entry(column.table_name).or_default().insert(column.column_name, column.nullable == 1);
    }
    shape
}

async fn shape_of(backend: Backend) -> Shape {
    let app = TestApp::spawn(backend).await;
    let pool = app.pool.clone();
    tokio::task::spawn_blocking(move || shape(&mut pool.get().expect("connection"))).await.expect("join")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_backends_have_the_same_tables_and_columns() {
    if skip_postgres() {
        return;
    }
    let sqlite = shape_of(Backend::Sqlite).await;
    let postgres = shape_of(Backend::Postgres).await;

    assert!(sqlite.contains_key("companies") && sqlite.contains_key("audit_logs"), "{sqlite:?}");
    assert_eq!(sqlite, postgres);
}
