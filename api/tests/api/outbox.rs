//! The transactional outbox (`vigil::outbox`) on a real database of each kind: what a rolled-back change
//! enqueued is never there, the same work twice is one row, concurrent claimers never share a row, a lapsed
//! lease hands the row on (and the late outcome no longer counts), and the worker runs each row through its
//! topic's handler, again later or never again as the handler says.

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
    a_lapsed_lease_hands_the_row_on_and_the_late_outcome_no_longer_counts,
    the_worker_runs_each_row_through_its_handler_and_retries_or_gives_up_as_told,
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
    assert!(counted);
    assert_eq!(count(&app, "done_at IS NOT NULL AND claimed_by IS NULL").await, 1);
}

static CALLS: AtomicUsize = AtomicUsize::new(0);

/// Done for `ok`, again in an hour for `later`, never again for `bad`.
fn handler(_pool: vigil::db::DbPool, row: Claimed) -> HandlerFuture {
    Box::pin(async move {
        CALLS.fetch_add(1, Ordering::SeqCst);
        match row.dedup_key.as_str() {
            "ok" => Outcome::Done,
            "later" => Outcome::RetryAt(db::now() + Duration::hours(1), "the receiver answered 503".to_owned()),
            _ => Outcome::GiveUp("the receiver answered 410".to_owned()),
        }
    })
}

async fn the_worker_runs_each_row_through_its_handler_and_retries_or_gives_up_as_told(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let company = company(&app).await;
    let rows = [
        message(&company, "test.handled", "ok"),
        message(&company, "test.handled", "later"),
        message(&company, "test.handled", "bad"),
        message(&company, "test.other", "not-mine"),
    ];
    run(&app, move |conn| {
        for row in &rows {
            store::enqueue(conn, row)?;
        }
        Ok(())
    })
    .await;
    let worker = Worker::new(std::time::Duration::from_secs(60), 10).handle("test.handled", handler);
    let before = CALLS.load(Ordering::SeqCst);

    let ran = worker.run_once(&app.pool).await.expect("runs");
    let again = worker.run_once(&app.pool).await.expect("runs");

    assert_eq!((ran, again), (3, 0), "the retried row waits for its time; the other topic is not this worker's");
    assert!(CALLS.load(Ordering::SeqCst) - before >= 3);
    assert_eq!(count(&app, "dedup_key = 'ok' AND done_at IS NOT NULL").await, 1);
    assert_eq!(
        count(&app, "dedup_key = 'later' AND done_at IS NULL AND failed_at IS NULL AND last_error LIKE '%503%'").await,
        1
    );
    assert_eq!(count(&app, "dedup_key = 'bad' AND failed_at IS NOT NULL AND last_error LIKE '%410%'").await, 1);
    assert_eq!(count(&app, "dedup_key = 'not-mine' AND attempts = 0").await, 1);
    assert_eq!(count(&app, "claimed_by IS NOT NULL").await, 0, "every lease is released");
}
