//! The live alert stream of one browser tab: Server-Sent Events, woken by the hub, resuming after
//! `Last-Event-ID`, with keep-alive comments so proxies keep it open.

use std::collections::BTreeSet;
use std::time::Duration;

use actix_web_lab::sse;
use tokio::sync::mpsc;

use super::hub::{AlertHub, EVERYONE};
use super::model::{Alert, AlertRow};
use super::store;
use crate::db::{self, DbPool};
use crate::error::ApiError;
use crate::ids::{CompanyId, UserId};

/// How often an idle stream sends a keep-alive comment.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Alerts read per query; a wake-up reads the look-back window page by page.
const BATCH: i64 = 100;

/// Opens the stream for a user, starting after `last_event_id` (a reconnecting browser) or after the newest
/// alert (a new one).
pub fn open(
    pool: DbPool,
    hub: AlertHub,
    company: CompanyId,
    user: UserId,
    last_event_id: Option<String>,
) -> impl actix_web::Responder {
    let (sender, receiver) = mpsc::channel(16);
    tokio::spawn(async move {
        // Ending the pump drops the sender, which ends the response: the browser sees the stream close and
        // reconnects (to another instance) after the retry duration.
        tokio::select! {
            () = pump(pool, hub.clone(), company, user, last_event_id, sender) => {}
            () = hub.shutting_down() => {}
        }
    });
    sse::Sse::from_infallible_receiver(receiver).with_keep_alive(KEEP_ALIVE).with_retry_duration(Duration::from_secs(3))
}

/// How far behind the newest alert sent the stream looks again: an alert's id is made when it is inserted,
/// not when it commits, so one from a longer transaction (or another instance's clock) can appear behind it.
const LOOK_BACK_MS: u64 = 10_000;

/// The smallest UUIDv7 of `look_back` milliseconds before the one given (ids sort by their time).
fn look_back_from(id: &str) -> String {
    let hex: String = id.chars().filter(|c| *c != '-').take(12).collect();
    let Ok(millis) = u64::from_str_radix(&hex, 16) else { return String::new() };
    let floor = format!("{:012x}", millis.saturating_sub(LOOK_BACK_MS));
    format!("{}-{}-0000-0000-000000000000", &floor[..8], &floor[8..])
}

/// One page of the user's alerts after `cursor`, oldest first.
async fn page_after(
    pool: &DbPool,
    company: &CompanyId,
    user: &UserId,
    cursor: &str,
) -> Result<Vec<AlertRow>, ApiError> {
    let (company, user, cursor) = (company.clone(), user.clone(), cursor.to_owned());
    db::run(pool, move |conn| Ok(store::newer_than(conn, &company, &user, &cursor, BATCH)?)).await
}

async fn pump(
    pool: DbPool,
    hub: AlertHub,
    company: CompanyId,
    user: UserId,
    last_event_id: Option<String>,
    sender: mpsc::Sender<sse::Event>,
) {
    let mut wakes = hub.subscribe();
    let starting_point = match last_event_id {
        Some(id) => id,
        None => {
            let (company, user) = (company.clone(), user.clone());
            match db::run(&pool, move |conn| Ok(store::newest_id(conn, &company, &user)?)).await {
                Ok(newest) => newest.unwrap_or_default(),
                Err(_) => return,
            }
        }
    };
    // What the client already has (up to its starting point) counts as sent. Only ids inside the look-back
    // window are remembered: older ones can never be read again.
    let mut sent: BTreeSet<String> = BTreeSet::new();
    let mut last = starting_point.clone();
    if !starting_point.is_empty() {
        let mut cursor = look_back_from(&starting_point);
        'seed: while let Ok(rows) = page_after(&pool, &company, &user, &cursor).await {
            let full = rows.len() as i64 == BATCH;
            for row in rows {
                if row.id > starting_point {
                    break 'seed;
                }
                cursor.clone_from(&row.id);
                sent.insert(row.id);
            }
            if !full {
                break;
            }
        }
    }
    if sender.send(sse::Event::Comment("connected".into())).await.is_err() {
        return;
    }
    loop {
        // One round reads the look-back window once, page by page. The cursor moves past every row read,
        // sent before or not, so a window holding more than a page of sent alerts cannot make it spin.
        let mut cursor = look_back_from(&last);
        loop {
            if sender.is_closed() {
                return;
            }
            let rows = match page_after(&pool, &company, &user, &cursor).await {
                Ok(rows) => rows,
                Err(_) => {
                    // The database is busy or away: try again shortly rather than wait for the next wake-up.
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            let full = rows.len() as i64 == BATCH;
            for row in rows {
                cursor.clone_from(&row.id);
                if sent.contains(&row.id) {
                    continue;
                }
                let id = row.id.clone();
                let Ok(data) = sse::Data::new_json(Alert::from(row)) else { continue };
                if sender.send(sse::Event::Data(data.id(id.clone()).event("alert"))).await.is_err() {
                    return;
                }
                if id > last {
                    last.clone_from(&id);
                }
                sent.insert(id);
            }
            // Ids behind the window cannot be read again: forgetting them page by page keeps the memory of
            // a stream replaying a long history to one window's worth.
            sent = sent.split_off(&look_back_from(&last));
            if !full {
                break;
            }
        }
        // Wait for news of this company (or for everyone), or notice the browser left.
        loop {
            tokio::select! {
                wake = wakes.recv() => match wake {
                    Ok(payload) if payload == company.as_str() || payload == EVERYONE => break,
                    Ok(_) => {}
                    // Missed some wake-ups: look anyway.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => break,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                },
                () = sender.closed() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn looking_back_moves_an_id_ten_seconds_earlier() {
        let id = "01a213f2-5699-7680-b0a3-2e9943a22d67";
        let back = super::look_back_from(id);
        assert_eq!(back, "01a213f2-2f89-0000-0000-000000000000");
        assert!(back.as_str() < id);
        assert_eq!(super::look_back_from(""), "");
    }
}
