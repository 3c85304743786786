//! Both migration sets produce the same tables, columns, types, nullability and indexes.

use std::collections::{BTreeMap, BTreeSet};

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
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Integer)]
    nullable: i32,
}

#[derive(QueryableByName)]
struct Index {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Integer)]
    is_unique: i32,
    #[diesel(sql_type = Text)]
    columns: String,
}

/// What a schema is made of, with names that each backend makes up (index names) left out.
#[derive(Debug, PartialEq, Eq)]
struct Shape {
    /// table → column → (type, nullable)
    columns: BTreeMap<String, BTreeMap<String, (String, bool)>>,
    /// table → {(unique, columns)}
    indexes: BTreeMap<String, BTreeSet<(bool, String)>>,
}

/// The same word for the same type on both backends.
fn canonical_type(declared: &str) -> String {
    match declared.to_ascii_lowercase().as_str() {
        "timestamp without time zone" => "timestamp".to_owned(),
        other => other.to_owned(),
    }
}

fn shape(conn: &mut DbConn) -> Shape {
    let (columns_sql, indexes_sql) = match conn {
        DbConn::Sqlite(_) => (
            "SELECT m.name AS table_name, p.name AS column_name, p.type AS data_type, \
             CASE WHEN p.\"notnull\" = 1 OR p.pk > 0 THEN 0 ELSE 1 END AS nullable \
             FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '__diesel_schema_migrations'",
            "SELECT m.name AS table_name, il.\"unique\" AS is_unique, \
             (SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_index_info(il.name) ORDER BY seqno)) AS columns \
             FROM sqlite_master m JOIN pragma_index_list(m.name) il \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '__diesel_schema_migrations'",
        ),
        DbConn::Pg(_) => (
            "SELECT table_name::text AS table_name, column_name::text AS column_name, data_type::text AS data_type, \
             CASE WHEN is_nullable = 'YES' THEN 1 ELSE 0 END AS nullable \
             FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'",
            "SELECT t.relname::text AS table_name, CASE WHEN ix.indisunique THEN 1 ELSE 0 END AS is_unique, \
             string_agg(a.attname::text, ',' ORDER BY array_position(ix.indkey::int2[], a.attnum)) AS columns \
             FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid JOIN pg_class i ON i.oid = ix.indexrelid \
             JOIN pg_namespace n ON n.oid = t.relnamespace \
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY(ix.indkey) \
             WHERE n.nspname = 'public' AND t.relname <> '__diesel_schema_migrations' \
             GROUP BY t.relname, i.relname, ix.indisunique",
        ),
    };
    let mut shape = Shape { columns: BTreeMap::new(), indexes: BTreeMap::new() };
    for column in diesel::sql_query(columns_sql).load::<Column>(conn).expect("columns") {
        shape
            .columns
            .entry(column.table_name)
            .or_default()
            .insert(column.column_name, (canonical_type(&column.data_type), column.nullable == 1));
    }
    for index in diesel::sql_query(indexes_sql).load::<Index>(conn).expect("indexes") {
        shape.indexes.entry(index.table_name).or_default().insert((index.is_unique == 1, index.columns));
    }
    shape
}

async fn shape_of(backend: Backend) -> Shape {
    let app = TestApp::spawn(backend).await;
    let pool = app.pool.clone();
    tokio::task::spawn_blocking(move || shape(&mut pool.get().expect("connection"))).await.expect("join")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_backends_have_the_same_tables_columns_types_and_indexes() {
    if skip_postgres() {
        return;
    }
    let sqlite = shape_of(Backend::Sqlite).await;
    let postgres = shape_of(Backend::Postgres).await;

    assert!(sqlite.columns.contains_key("companies") && sqlite.columns.contains_key("agents"), "{sqlite:?}");
    assert!(sqlite.indexes["agents"].contains(&(true, "secret_hash".to_owned())), "{:?}", sqlite.indexes["agents"]);
    assert_eq!(sqlite.columns, postgres.columns);
    assert_eq!(sqlite.indexes, postgres.indexes);
}
