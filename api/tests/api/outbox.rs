//! The transactional outbox (`vigil::outbox`) on a real database of each kind: what a rolled-back change
//! enqueued is never there, the same work twice is one row, concurrent claimers never share a row, a lapsed
//! lease hands the row on (and the late outcome no longer counts), and the worker runs each row through its
//! topic's handler, again later or never again as the handler says.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::Duration;
use vigil::db::{self, DbConn, write_transaction};
use vigil::error::ApiError;
use vigil::ids::CompanyId;
use vigil::outbox::store::{self, Claimed, NewMessage, Outcome};
use vigil::outbox::worker::{HandlerFuture, Worker};

use crate::helpers::{Backend, TestApp, backend_tests};

backend_tests!(
    a_rolled_back_change_enqueues_nothing_and_the_same_work_twice_is_one_row,
    concurrent_claimers_never_share_a_row,
    a_claim_skips_a_row_another_transaction_holds_instead_of_waiting_for_it,
    a_lapsed_lease_hands_the_row_on_and_the_late_outcome_no_longer_counts,
    the_worker_runs_each_row_through_its_handler_and_retries_or_gives_up_as_told,
    one_companys_backlog_leaves_room_for_the_others,
);

fn message(company: &CompanyId, topic: &'static str, key: &str) -> NewMessage {
    NewMessage {
        company: company.clone(),
        topic,
        dedup_key: key.to_owned(),
        payload: serde_json::json!({"key": key}),
        available_at: db::now(),
    }
}

/// A company row of its own (ids are made by the server, so the test makes one the same way).
async fn company(app: &TestApp) -> CompanyId {
    let company = CompanyId::generate();
    app.execute_sql(&format!(
        "INSERT INTO companies (id, name, created_at, updated_at) VALUES ('{company}', 'Outbox Co', \
         '2026-12-03 00:00:00', '2026-12-03 00:00:00')"
    ))
    .await;
    company
}

async fn count(app: &TestApp, condition: &str) -> i64 {
    app.execute_sql_text(&format!("SELECT CAST(COUNT(*) AS TEXT) AS value FROM outbox_messages WHERE {condition}"))
        .await
        .parse()
        .expect("a count")
}

async fn run<T: Send + 'static>(
    app: &TestApp,
    work: impl FnOnce(&mut DbConn) -> Result<T, ApiError> + Send + 'static,
) -> T {
    db::run(&app.pool, work).await.expect("the database answers")
}

async fn a_rolled_back_change_enqueues_nothing_and_the_same_work_twice_is_one_row(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let company = company(&app).await;

    let (scoped, first) = (company.clone(), message(&company, "test.topic", "event-1"));
    let rolled_back = run(&app, move |conn| {
        let outcome: Result<(), ApiError> = write_transaction(conn, |conn| {
            store::enqueue(conn, &first)?;
            Err(ApiError::NotFound("the change failed"))
        });
        Ok(outcome.is_err())
    })
    .await;
    let again = message(&scoped, "test.topic", "event-1");
    let (new, repeated) = run(&app, move |conn| {
        let new = store::enqueue(conn, &again)?;
        Ok((new, store::enqueue(conn, &again)?))
    })
    .await;

    assert!(rolled_back);
    assert_eq!((new, repeated), (true, false), "the second enqueue of the same work is a no-op");
    assert_eq!(count(&app, "dedup_key = 'event-1'").await, 1, "the rolled-back one left nothing");
}

async fn concurrent_claimers_never_share_a_row(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let company = company(&app).await;
    let messages: Vec<NewMessage> = (0..40).map(|n| message(&company, "test.topic", &format!("m{n}"))).collect();
    run(&app, move |conn| {
        for m in &messages {
            store::enqueue(conn, m)?;
        }
        Ok(())
    })
    .await;

    let claims = (0..8).map(|claimer| {
        let pool = app.pool.clone();
        async move {
            db::run(&pool, move |conn| {
                let now = db::now();
                Ok(store::claim(
                    conn,
                    &format!("instance-{claimer}"),
                    &["test.topic"],
                    7,
                    now,
                    now + Duration::minutes(1),
                )?)
            })
            .await
            .expect("claims")
        }
    });
    let claimed: Vec<Claimed> = futures_util::future::join_all(claims).await.into_iter().flatten().collect();

    let mut ids: Vec<&str> = claimed.iter().map(|row| row.id.as_str()).collect();
    ids.sort();
    let total = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), total, "no row went to two claimers");
    assert_eq!(total, 40, "eight claimers of seven took all forty");
    assert!(claimed.iter().all(|row| row.attempts == 1));
    assert_eq!(count(&app, "claimed_by IS NOT NULL").await, 40);
}

async fn a_lapsed_lease_hands_the_row_on_and_the_late_outcome_no_longer_counts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let company = company(&app).await;
    let queued = message(&company, "test.topic", "lease");
    run(&app, move |conn| Ok(store::enqueue(conn, &queued)?)).await;
    let now = db::now();
    let first =
        run(&app, move |conn| Ok(store::claim(conn, "first", &["test.topic"], 10, now, now + Duration::seconds(30))?))
            .await;
    let while_held = run(&app, move |conn| {
        Ok(store::claim(conn, "second", &["test.topic"], 10, now + Duration::seconds(10), now + Duration::seconds(40))?)
    })
    .await;

    // The first instance died: its lease lapses and the second takes the row.
    let second = run(&app, move |conn| {
        Ok(store::claim(conn, "second", &["test.topic"], 10, now + Duration::seconds(31), now + Duration::seconds(60))?)
    })
    .await;
    let (late, stale) = (first[0].clone(), first[0].clone());
    let late_counted = run(&app, move |conn| Ok(store::finish(conn, "first", &late, &Outcome::Done)?)).await;
    let current = second[0].clone();
    let counted = run(&app, move |conn| Ok(store::finish(conn, "second", &current, &Outcome::Done)?)).await;

    assert_eq!(first.len(), 1);
    assert!(while_held.is_empty(), "a live lease keeps the row from others");
    assert_eq!((second.len(), second[0].attempts, stale.attempts), (1, 2, 1));
    assert!(!late_counted, "the lapsed attempt's outcome does not count");
    let second_row = message(&company, "test.topic", "lease-2");
    let reclaimed = run(&app, move |conn| {
        let queued = second_row;
        store::enqueue(conn, &queued)?;
        let now = db::now();
        let first = store::claim(conn, "same", &["test.topic"], 1, now, now + Duration::seconds(30))?;
        let again =
            store::claim(conn, "same", &["test.topic"], 1, now + Duration::seconds(31), now + Duration::seconds(60))?;
        Ok((
            store::finish(conn, "same", &first[0], &Outcome::Done)?,
            store::finish(conn, "same", &again[0], &Outcome::Done)?,
        ))
    })
    .await;
    assert_eq!(reclaimed, (false, true), "the same instance's lapsed attempt is void too; its newer one counts");
    assert!(counted);
    assert_eq!(count(&app, "done_at IS NOT NULL AND claimed_by IS NULL").await, 2, "each row done once");
}

/// Done for `ok`, again in an hour for `later`, a panic for `panics`, never again for `bad`; counts its runs.
fn handler(calls: Arc<AtomicUsize>) -> impl Fn(vigil::db::DbPool, Claimed) -> HandlerFuture {
    move |_pool, row| {
        let calls = calls.clone();
        Box::pin(async move {
            calls.fetch_add(1, Ordering::SeqCst);
            match row.dedup_key.as_str() {
                "ok" => Outcome::Done,
                "later" => Outcome::RetryAt(db::now() + Duration::hours(1), "the receiver answered 503".to_owned()),
                "panics" => panic!("a handler bug"),
                _ => Outcome::GiveUp("the receiver answered 410".to_owned()),
            }
        })
    }
}

async fn the_worker_runs_each_row_through_its_handler_and_retries_or_gives_up_as_told(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let company = company(&app).await;
    let rows = [
        message(&company, "test.handled", "ok"),
        message(&company, "test.handled", "later"),
        message(&company, "test.handled", "bad"),
        message(&company, "test.handled", "panics"),
        message(&company, "test.other", "not-mine"),
    ];
    run(&app, move |conn| {
        for row in &rows {
            store::enqueue(conn, row)?;
        }
        Ok(())
    })
    .await;
    let calls = Arc::new(AtomicUsize::new(0));
    // All four rows are one company's: no cap on a company here (that is the next test's).
    let worker = Worker::new(std::time::Duration::from_secs(60), 10)
        .per_company(10)
        .handle("test.handled", handler(calls.clone()));

    let ran = worker.run_once(&app.pool).await.expect("runs");
    let again = worker.run_once(&app.pool).await.expect("runs");

    assert_eq!((ran, again), (4, 0), "the retried rows wait for their time; the other topic is not this worker's");
    assert_eq!(calls.load(Ordering::SeqCst), 4, "each row ran once");
    assert_eq!(
        count(&app, "dedup_key = 'panics' AND done_at IS NULL AND failed_at IS NULL AND last_error LIKE '%panicked%'")
            .await,
        1,
        "a panic is a retry, and the worker goes on"
    );
    assert_eq!(count(&app, "dedup_key = 'ok' AND done_at IS NOT NULL").await, 1);
    assert_eq!(
        count(&app, "dedup_key = 'later' AND done_at IS NULL AND failed_at IS NULL AND last_error LIKE '%503%'").await,
        1
    );
    assert_eq!(count(&app, "dedup_key = 'bad' AND failed_at IS NOT NULL AND last_error LIKE '%410%'").await, 1);
    assert_eq!(count(&app, "dedup_key = 'not-mine' AND attempts = 0").await, 1);
    assert_eq!(count(&app, "claimed_by IS NOT NULL").await, 0, "every lease is released");
}

/// PostgreSQL: another transaction holds one due row locked (an instance mid-claim). A claim neither waits
/// for it nor takes it: it answers at once with the others. (SQLite has one writer; the claim there waits
/// for `BEGIN IMMEDIATE`, which the other tests cover.)
async fn a_claim_skips_a_row_another_transaction_holds_instead_of_waiting_for_it(backend: Backend) {
    if backend != Backend::Postgres {
        return;
    }
    let app = TestApp::spawn(backend).await;
    let company = company(&app).await;
    let rows: Vec<NewMessage> =
        ["held", "free-1", "free-2"].iter().map(|key| message(&company, "test.topic", key)).collect();
    run(&app, move |conn| {
        for row in &rows {
            store::enqueue(conn, row)?;
        }
        Ok(())
    })
    .await;
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let pool = app.pool.clone();
    let holder = std::thread::spawn(move || {
        use diesel::RunQueryDsl;
        use diesel::connection::Connection;
        let mut conn = pool.get().expect("a connection");
        conn.transaction::<_, diesel::result::Error, _>(|conn| {
            diesel::sql_query("SELECT id FROM outbox_messages WHERE dedup_key = 'held' FOR UPDATE").execute(conn)?;
            locked_tx.send(()).expect("the test waits");
            release_rx.recv().ok();
            Ok(())
        })
        .expect("the lock is held and released");
    });
    locked_rx.recv().expect("the row is locked");

    let claimed = run(&app, move |conn| {
        use diesel::RunQueryDsl;
        diesel::sql_query("SET lock_timeout = '2s'").execute(conn)?;
        let now = db::now();
        let claimed = store::claim(conn, "claimer", &["test.topic"], 10, now, now + Duration::minutes(1));
        diesel::sql_query("SET lock_timeout = 0").execute(conn)?;
        Ok(claimed?)
    })
    .await;
    release_tx.send(()).expect("the holder waits");
    holder.join().expect("the holder ends");

    let mut keys: Vec<&str> = claimed.iter().map(|row| row.dedup_key.as_str()).collect();
    keys.sort();
    assert_eq!(keys, ["free-1", "free-2"], "the held row is skipped, not waited for");
}

/// A company with a backlog gets at most its share of what is in flight; another company's row is claimed
/// beside it, even when the backlog fills every candidate the first claim looked at.
async fn one_companys_backlog_leaves_room_for_the_others(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("OUTBOX_POLL_MS", "0")]).await;
    let (busy, quiet) = (company(&app).await, company(&app).await);
    let mut rows: Vec<NewMessage> = (0..20).map(|n| message(&busy, "test.handled", &format!("busy-{n}"))).collect();
    rows.push(message(&quiet, "test.handled", "quiet"));
    run(&app, move |conn| {
        for row in &rows {
            store::enqueue(conn, row)?;
        }
        Ok(())
    })
    .await;
    let now = db::now();
    let claim = || {
        run(&app, move |conn| {
            Ok(store::claim_fairly(conn, "fair", &["test.handled"], 4, Some(2), now, now + Duration::minutes(1))?)
        })
    };
    let first = claim().await;
    let of =
        |rows: &[Claimed], company: &CompanyId| rows.iter().filter(|row| row.company_id == company.as_str()).count();
    assert_eq!(
        (of(&first, &busy), of(&first, &quiet)),
        (2, 0),
        "the busy company's share; the quiet row was past the candidates"
    );
    let second = claim().await;
    assert_eq!(
        (of(&second, &busy), of(&second, &quiet)),
        (0, 1),
        "while the busy company is at its share, the others come first"
    );
    assert!(claim().await.is_empty(), "nothing more: the busy company is still at its share");
}
