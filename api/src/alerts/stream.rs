//! The live alert stream of one browser tab: Server-Sent Events, woken by the hub, resuming after
//! `Last-Event-ID`, with keep-alive comments so proxies keep it open.

use std::time::Duration;

use actix_web_lab::sse;
use tokio::sync::mpsc;

use super::hub::{AlertHub, EVERYONE};
use super::model::Alert;
use super::store;
use crate::db::{self, DbPool};
use crate::ids::{CompanyId, UserId};

/// How often an idle stream sends a keep-alive comment.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Alerts sent per wake-up at most; the rest follow on the next round.
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
    tokio::spawn(pump(pool, hub, company, user, last_event_id, sender));
    sse::Sse::from_infallible_receiver(receiver).with_keep_alive(KEEP_ALIVE).with_retry_duration(Duration::from_secs(3))
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
    let mut last = match last_event_id {
        Some(id) => id,
        None => {
            let (company, user) = (company.clone(), user.clone());
            match db::run(&pool, move |conn| Ok(store::newest_id(conn, &company, &user)?)).await {
                Ok(newest) => newest.unwrap_or_default(),
                Err(_) => return,
            }
        }
    };
    if sender.send(sse::Event::Comment("connected".into())).await.is_err() {
        return;
    }
    loop {
        // Send whatever is newer than the last event sent.
        loop {
            let (company, user, after) = (company.clone(), user.clone(), last.clone());
            let Ok(rows) =
                db::run(&pool, move |conn| Ok(store::newer_than(conn, &company, &user, &after, BATCH)?)).await
            else {
                break;
            };
            let full = rows.len() as i64 == BATCH;
            for row in rows {
                last = row.id.clone();
                let alert = Alert::from(row);
                let Ok(data) = sse::Data::new_json(&alert) else { continue };
                if sender.send(sse::Event::Data(data.id(last.clone()).event("alert"))).await.is_err() {
                    return;
                }
            }
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
